#!/usr/bin/env bash
# test-mpi.sh MINIBIT_SIM MINIBIT_SIM_MPI|none — the ranks as MPI processes
# (TAP): `mpirun -np 2 --mca btl tcp,self minibit-sim-mpi` on a small flash
# crowd and on churn with crashes, graceful leaves and 1% loss writes the
# same CSV bytes (summary, peers, timeseries, classes, unchokes, departures,
# leaves) as one rank of minibit-sim; 3 processes on the churn too; the ring
# and --ranks other than the process count are refused (exit 2, naming
# why); the last line on stderr gives every process's peak RSS.  Skipped,
# saying why, when minibit-sim-mpi was not built (no MPI found by meson) or
# mpirun is missing.  Every run is bounded by timeout.
set -u
sim=$1
mpi=$2
root=${MINIBIT_SOURCE_ROOT:?}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

n=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
not_ok() { n=$((n+1)); echo "not ok $n - $1"; shift; local l; for l in "$@"; do echo "# $l"; done; }

if [ "$mpi" = none ] || [ ! -x "$mpi" ]; then
  echo "1..0 # SKIP minibit-sim-mpi was not built (meson found no MPI: apt-get install openmpi-bin libopenmpi-dev)"
  exit 0
fi
if ! command -v mpirun >/dev/null 2>&1; then
  echo "1..0 # SKIP mpirun is not installed (apt-get install openmpi-bin)"
  exit 0
fi
# As root Open MPI wants to be told; oversubscribe: 3 processes on 2 cores.
mpirun_args=(--oversubscribe --mca btl tcp,self)
# Under -Db_sanitize=address: what Open MPI keeps until exit is not ours
# (lsan-mpi.supp says what); minibit's own leaks are still reported.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$root/sim/tests/lsan-mpi.supp:fast_unwind_on_malloc=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1
[ "$(id -u)" = 0 ] && mpirun_args+=(--allow-run-as-root)
echo "1..11"

flash=(--set peers.leechers.count=40 --set file.size=4MiB)
churn=(--set churn.leave_graceful=0.5 --set network.loss=1% --set scenario.duration=3min)

# one NAME SCENARIO ARGS...: minibit-sim, one rank, into $tmp/NAME
one() {
  local name=$1 sc=$2; shift 2
  timeout 300 "$sim" "$root/scenarios/small/$sc" "$@" --quiet --no-expect --out "$tmp/$name" \
    2>"$tmp/$name.err"
}
# over K NAME SCENARIO ARGS...: minibit-sim-mpi over K processes into $tmp/NAME
over() {
  local k=$1 name=$2 sc=$3; shift 3
  timeout 600 mpirun "${mpirun_args[@]}" -np "$k" "$mpi" "$root/scenarios/small/$sc" "$@" \
    --quiet --no-expect --out "$tmp/$name" >"$tmp/$name.out" 2>"$tmp/$name.err"
  echo $? >"$tmp/$name.rc"
}
# same DESCRIPTION A B: every CSV of the run in A has the same bytes in B
same() {
  local d=$1 a=$2 b=$3 f bad=""
  for f in summary peers timeseries classes unchokes departures leaves; do
    cmp -s "$tmp/$a/$f.csv" "$tmp/$b/$f.csv" || bad="$bad $f.csv"
  done
  if [ "$(cat "$tmp/$b.rc")" != 0 ]; then
    not_ok "$d" "mpirun exited $(cat "$tmp/$b.rc")" "$(tail -5 "$tmp/$b.err")"
  elif [ -z "$bad" ]; then ok "$d"
  else not_ok "$d" "differ:$bad" "$(diff "$tmp/$a/summary.csv" "$tmp/$b/summary.csv" | head -4)"
  fi
}

one flash1 flash-crowd.ini "${flash[@]}"
over 2 flash2 flash-crowd.ini "${flash[@]}"
same "flash crowd: 2 MPI processes (btl tcp,self) write one rank's CSV bytes" flash1 flash2

one churn1 churn.ini "${churn[@]}"
over 2 churn2 churn.ini "${churn[@]}"
same "churn with crashes and loss: 2 MPI processes write one rank's CSV bytes" churn1 churn2
if grep -q ',crash,' "$tmp/churn1/departures.csv"; then ok "the churn run has crashes"
else not_ok "the churn run has crashes" "no crash in departures.csv"; fi
over 3 churn3 churn.ini "${churn[@]}"
same "churn with crashes and loss: 3 MPI processes write one rank's CSV bytes" churn1 churn3

# the last line on stderr: every process's peak RSS, and the total
if grep -Eq '^mpi: peak RSS by rank \(KiB\) [0-9]+ [0-9]+ [0-9]+; total [0-9]+$' "$tmp/churn3.err"
then ok "rank 0 prints the 3 processes' peak RSS and their total"
else not_ok "rank 0 prints the 3 processes' peak RSS and their total" "$(tail -3 "$tmp/churn3.err")"; fi
if grep -Eq '^mpi: 3 ranks, [0-9]+ windows, .* per window' "$tmp/churn3.err"
then ok "rank 0 prints the windows and what was exchanged per window"
else not_ok "rank 0 prints the windows and what was exchanged per window" "$(tail -3 "$tmp/churn3.err")"; fi
# only rank 0 prints the run's lines
if [ "$(grep -c '^wall ' "$tmp/churn3.err")" = 1 ]; then ok "one wall line (rank 0's)"
else not_ok "one wall line (rank 0's)" "$(grep '^wall ' "$tmp/churn3.err")"; fi

# refusals: exit 2 on every process, with the reason
timeout 120 mpirun "${mpirun_args[@]}" -np 2 "$mpi" "$root/scenarios/small/ring-flash-crowd.ini" \
  --quiet --out "$tmp/ring" >"$tmp/ring.out" 2>"$tmp/ring.err"
rc=$?
if [ "$rc" = 2 ] && grep -q "the ring" "$tmp/ring.err" && grep -q "minibit-sim" "$tmp/ring.err"
then ok "the ring is refused (exit 2, naming it)"
else not_ok "the ring is refused (exit 2, naming it)" "exit $rc" "$(tail -3 "$tmp/ring.err")"; fi
timeout 120 mpirun "${mpirun_args[@]}" -np 2 "$mpi" "$root/scenarios/small/flash-crowd.ini" \
  --ranks 4 --quiet --out "$tmp/k4" >"$tmp/k4.out" 2>"$tmp/k4.err"
rc=$?
if [ "$rc" = 2 ] && grep -q "the ranks are the 2 MPI processes" "$tmp/k4.err"
then ok "--ranks 4 over 2 processes is refused (exit 2)"
else not_ok "--ranks 4 over 2 processes is refused (exit 2)" "exit $rc" "$(tail -3 "$tmp/k4.err")"; fi
timeout 120 mpirun "${mpirun_args[@]}" -np 2 "$mpi" "$root/scenarios/small/flash-crowd.ini" \
  --set network.latency=0 --quiet --out "$tmp/l0" >"$tmp/l0.out" 2>"$tmp/l0.err"
rc=$?
if [ "$rc" = 2 ] && grep -q "least latency of 0" "$tmp/l0.err"
then ok "no lookahead (latency 0) is refused (exit 2)"
else not_ok "no lookahead (latency 0) is refused (exit 2)" "exit $rc" "$(tail -3 "$tmp/l0.err")"; fi
# the output folder is rank 0's to check: a file in its place stops every process
touch "$tmp/a-file"
timeout 120 mpirun "${mpirun_args[@]}" -np 2 "$mpi" "$root/scenarios/small/flash-crowd.ini" \
  --quiet --out "$tmp/a-file" >"$tmp/af.out" 2>"$tmp/af.err"
rc=$?
if [ "$rc" = 2 ]; then ok "an output folder rank 0 cannot make stops all (exit 2)"
else not_ok "an output folder rank 0 cannot make stops all (exit 2)" "exit $rc" "$(tail -3 "$tmp/af.err")"; fi
