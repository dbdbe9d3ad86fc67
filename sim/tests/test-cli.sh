#!/usr/bin/env bash
# test-cli.sh MINIBIT_SIM VERSION — minibit-sim driven as a user drives it
# (TAP): --version; --out refused before any simulation (a file, a file
# among its parents, a folder it cannot write); --dry-run creates nothing;
# --no-expect's exit status; n/a, never nan; SIGINT and SIGTERM stop the
# run, exit 130, every CSV written and whole, stopped = interrupted (a
# second SIGINT changes nothing); the memory refusal (MINIBIT_MEM_AVAILABLE,
# a huge scenario) and --force; --memory-report (its rows, the walk within
# the heap in use, the same CSVs); tools/run plots the folder the run went to
# (--out, a scenario whose name is not its file's).  Every wait is bounded.
set -u
sim=$1
version=$2
root=${MINIBIT_SOURCE_ROOT:?}
small=$root/scenarios/small/flash-crowd.ini
tmp=$(mktemp -d)
bg=""   # the pid of a run in the background, if any
trap '[ -n "$bg" ] && kill -KILL "$bg" 2>/dev/null; rm -rf "$tmp"' EXIT

n=0
ok() { n=$((n+1)); echo "ok $n - $1"; }
not_ok() { n=$((n+1)); echo "not ok $n - $1"; shift; local l; for l in "$@"; do echo "# $l"; done; }
skip() { n=$((n+1)); echo "ok $n - $1 # SKIP $2"; }
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d" "failed: $*"; fi; }
has() { grep -q -- "$2" "$1"; }
lacks() { ! grep -q -- "$2" "$1"; }

# run NAME ARGS...: minibit-sim ARGS, stdout in $tmp/NAME.out, stderr in
# $tmp/NAME.err, exit status in $tmp/NAME.rc (bounded by timeout)
run() {
  local name=$1; shift
  local rc=0
  timeout 120 "$sim" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  echo "$rc" >"$tmp/$name.rc"
}
rc_is() { [ "$(cat "$tmp/$1.rc")" = "$2" ]; }

# csv_whole FILE: a header and rows with as many cells as the header
csv_whole() {
  [ -s "$1" ] && awk -F, 'NR==1{n=NF; next} NF!=n{bad=1} END{exit bad}' "$1"
}

# ---- --ranks ------------------------------------------------------------------
run ranks-zero "$small" --ranks 0 --out "$tmp/r0" --quiet
check "--ranks 0: exit 2" rc_is ranks-zero 2
check "--ranks 0: says what it takes" has "$tmp/ranks-zero.err" "--ranks 0: give 1 to 64 ranks"
run ranks-ring "$root/scenarios/small/ring-flash-crowd.ini" --ranks 2 --out "$tmp/rr" --quiet
check "--ranks 2 on a ring scenario: exit 2" rc_is ranks-ring 2
check "--ranks 2 on a ring scenario: names the ring" has "$tmp/ranks-ring.err" "uses the ring"
run ranks-nolat "$small" --ranks 2 --set network.latency=0 --out "$tmp/rl" --quiet
check "--ranks 2 with latency 0: exit 2" rc_is ranks-nolat 2
check "--ranks 2 with latency 0: says there is no lookahead" has "$tmp/ranks-nolat.err" "least latency of 0"
check "--ranks refusals: no simulation ran" lacks "$tmp/ranks-nolat.err" "^wall "

# ---- --version ---------------------------------------------------------------
run version --version
check "--version prints the project version" \
  [ "$(cat "$tmp/version.out")" = "minibit-sim $version" ]
check "--version exits 0" rc_is version 0

# ---- --help and the README agree; tools/plot --help names every plot -------
"$sim" --help >"$tmp/help.out" 2>&1
missing=""
for o in $(grep -o -- '--[a-z][a-z-]*' "$tmp/help.out" | sort -u); do
  case "$o" in --help|--help-all) continue ;; esac
  grep -q -- "\`$o" "$root/README.md" || missing+=" $o"
done
check "every minibit-sim option in --help is in README.md${missing:+ (missing:$missing)}" [ -z "$missing" ]
bash "$root/tools/plot" --help >"$tmp/plot-help.out" 2>&1
missing=""
for p in $(grep -o '\$out/[a-z][a-z-]*\.\$2' "$root/tools/plot" | sed 's|^\$out/||; s|\.\$2$||' | sort -u); do
  grep -qw -- "$p" "$tmp/plot-help.out" || missing+=" $p"
done
check "tools/plot --help names every plot it draws${missing:+ (missing:$missing)}" [ -z "$missing" ]

# ---- --out checked before the run --------------------------------------------
touch "$tmp/a-file"
run out-file "$small" --out "$tmp/a-file" --quiet
check "--out naming a file: exit 2" rc_is out-file 2
check "--out naming a file: says so" has "$tmp/out-file.err" "output folder $tmp/a-file: a file is there, not a folder"
check "--out naming a file: no simulation ran" lacks "$tmp/out-file.err" "^wall "

run out-under "$small" --out "$tmp/a-file/run" --quiet
check "--out under a file: exit 2" rc_is out-under 2
check "--out under a file: cannot create it" has "$tmp/out-under.err" "output folder $tmp/a-file/run: cannot create it"
check "--out under a file: no simulation ran" lacks "$tmp/out-under.err" "^wall "

if [ "$(id -u)" -ne 0 ]; then
  mkdir -m 555 "$tmp/locked"
  run out-locked "$small" --out "$tmp/locked" --quiet
  check "--out a folder it cannot write: exit 2" rc_is out-locked 2
  check "--out a folder it cannot write: says so" has "$tmp/out-locked.err" "cannot write in it"
  chmod 755 "$tmp/locked"
else
  skip "--out a folder it cannot write: exit 2" "root writes in a read-only folder"
  skip "--out a folder it cannot write: says so" "root writes in a read-only folder"
fi

# ---- --dry-run ---------------------------------------------------------------
run dry "$small" --out "$tmp/dry/x" --seed 4 --dry-run
check "--dry-run exits 0" rc_is dry 0
check "--dry-run names the folder" has "$tmp/dry.out" "^out: $tmp/dry/x\$"
check "--dry-run gives the memory estimate" has "$tmp/dry.out" "^memory: estimate .*, available "
check "--dry-run creates nothing" [ ! -e "$tmp/dry" ]
run dry-default "$small" --seed 4 --dry-run
check "--dry-run names the default folder" has "$tmp/dry-default.out" "^out: results/flash-crowd/seed-4\$"

# ---- --no-expect, n/a --------------------------------------------------------
# 20 s: nobody has the file yet, so completed = all fails and bound_ratio is undefined
short=(--set scenario.duration=20s)
run expect-fails "$small" "${short[@]}" --out "$tmp/short"
check "a failed [expect]: exit 1" rc_is expect-fails 1
check "an undefined metric in EXPECT FAILED reads n/a" has "$tmp/expect-fails.out" "^EXPECT FAILED: expect: bound_ratio <= 1.5: got n/a\$"
run no-expect "$small" "${short[@]}" --out "$tmp/short" --no-expect
check "--no-expect: exit 0" rc_is no-expect 0
check "--no-expect: says the checks were skipped" has "$tmp/no-expect.out" "^expectations: not checked (--no-expect)\$"
check "--no-expect: no EXPECT FAILED" lacks "$tmp/no-expect.out" "EXPECT FAILED"
check "the summary prints n/a" has "$tmp/no-expect.out" "ratio n/a"
nan=$(grep -ilw nan "$tmp/no-expect.out" "$tmp/expect-fails.out" "$tmp/short"/*.csv)
check "no nan on stdout or in a CSV" [ -z "$nan" ]
run no-expect-bad "$small" --set file.size=lots --out "$tmp/bad" --no-expect
check "--no-expect with bad input: exit 2" rc_is no-expect-bad 2
check "summary.csv ends with stopped" has "$tmp/short/summary.csv" ",stopped\$"
check "a run that reached its duration: stopped = duration" has "$tmp/short/summary.csv" ",duration\$"
check "departures.csv is written" csv_whole "$tmp/short/departures.csv"

# ---- an existing run folder is overwritten, other files kept ------------------
echo mine > "$tmp/short/notes.txt"
run again "$small" --set scenario.duration=10s --out "$tmp/short" --no-expect --quiet
check "a run into a previous run's folder: exit 0" rc_is again 0
check "... its CSVs replace the old ones" has "$tmp/short/summary.csv" ",10.000,"
check "... other files are left alone" [ "$(cat "$tmp/short/notes.txt")" = mine ]

# ---- SIGINT and SIGTERM ---------------------------------------------------------
# signal_run NAME SIGNAL [SECOND]: start the full flash crowd (minutes long),
# wait for its folder (made once the handlers are in), signal it a second
# later (and SECOND 50 ms after), wait at most 60 s for it to end
signal_run() {
  local name=$1 sig=$2 second=${3:-} out="$tmp/$1"
  "$sim" "$root/scenarios/flash-crowd.ini" --out "$out" --quiet >"$tmp/$name.out" 2>"$tmp/$name.err" &
  bg=$!
  local i
  for i in $(seq 200); do [ -d "$out" ] && break; sleep 0.1; done
  sleep 1
  kill -"$sig" "$bg"
  if [ -n "$second" ]; then sleep 0.05; kill -"$second" "$bg" 2>/dev/null; fi
  for i in $(seq 600); do kill -0 "$bg" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$bg" 2>/dev/null; then
    kill -KILL "$bg"
    echo "# $name: still running 60 s after SIG$sig; killed"
  fi
  local rc=0
  wait "$bg" || rc=$?
  bg=""
  echo "$rc" >"$tmp/$name.rc"
}
signal_checks() {
  local name=$1 sig=$2 out="$tmp/$1" f missing=""
  check "SIG$sig: exit 130" rc_is "$name" 130
  for f in summary peers classes timeseries leaves departures; do
    csv_whole "$out/$f.csv" || missing+=" $f.csv"
  done
  check "SIG$sig: every CSV written and whole" [ -z "$missing" ]
  check "SIG$sig: scenario.ini written" [ -s "$out/scenario.ini" ]
  check "SIG$sig: summary.csv says stopped = interrupted" has "$out/summary.csv" ",interrupted\$"
  check "SIG$sig: stderr says where the run so far is" has "$tmp/$name.err" "interrupted (signal"
  local t
  t=$(awk -F, 'NR==2{print $4}' "$out/summary.csv")
  check "SIG$sig: stopped early (sim_time_s $t < 420)" awk -v t="$t" 'BEGIN{exit !(t != "" && t < 420)}'
}
signal_run sigint INT INT
signal_checks sigint INT
signal_run sigterm TERM
signal_checks sigterm TERM
if command -v gnuplot >/dev/null; then
  rc=0
  bash "$root/tools/plot" "$tmp/sigint" >"$tmp/plot-sigint.out" 2>&1 || rc=$?
  check "tools/plot draws an interrupted run" [ "$rc" = 0 ]
  check "... its titles say interrupted" has "$tmp/sigint/plots/completed-over-time.svg" "seed 1, interrupted)"
else
  skip "tools/plot draws an interrupted run" "gnuplot is not installed"
  skip "... its titles say interrupted" "gnuplot is not installed"
fi

# ---- memory --------------------------------------------------------------------
MINIBIT_MEM_AVAILABLE=1MiB run mem-refused "$small" --out "$tmp/mem"
check "estimate above the memory available: exit 2" rc_is mem-refused 2
check "... says the estimate and what is available" has "$tmp/mem-refused.err" "needs about .* of memory (estimate), more than the 1.0 MiB available (MINIBIT_MEM_AVAILABLE)"
check "... before any simulation or folder" [ ! -e "$tmp/mem" ]
MINIBIT_MEM_AVAILABLE=1MiB run mem-forced "$small" --out "$tmp/mem" --force "${short[@]}" --no-expect --quiet
check "--force runs it anyway" rc_is mem-forced 0
check "--force: the run's CSVs" csv_whole "$tmp/mem/summary.csv"
MINIBIT_MEM_AVAILABLE=plenty run mem-bad "$small" --out "$tmp/mem-bad"
check "MINIBIT_MEM_AVAILABLE not a size: exit 2" rc_is mem-bad 2
check "... naming it" has "$tmp/mem-bad.err" "MINIBIT_MEM_AVAILABLE: "
run huge "$small" --set peers.leechers.count=100000000 --set file.size=1TiB --out "$tmp/huge"
check "a huge scenario is refused (exit 2)" rc_is huge 2
check "... with its estimate in PiB" has "$tmp/huge.err" "needs about [0-9.]* PiB of memory (estimate)"
check "... and nothing made" [ ! -e "$tmp/huge" ]

# ---- --memory-report ---------------------------------------------------------
run memrep "$small" --out "$tmp/memrep" --memory-report --no-expect --quiet
run memrep-off "$small" --out "$tmp/memrep-off" --no-expect --quiet
check "--memory-report: exit 0" rc_is memrep 0
check "... the table by structure, at the sample with the most heap" \
  has "$tmp/memrep.err" "^memory by structure at t = [0-9.]* s (of [0-9]* samples"
for row in connections bitfields "request lists" "picker and piece state" manifests stores \
           "messages in flight" scheduler "walked, total" "heap in use" "peak RSS .*bytes per peer"; do
  check "... a row for $row" has "$tmp/memrep.err" "^  $row"
done
# the walk counts no block twice and misses little: within the heap glibc
# says is in use, and at least 70% of it (the rest: tracker, metrics, GLib)
walked=$(awk '/^  walked, total/{print $(NF-1)}' "$tmp/memrep.err")
inuse=$(awk '/^  heap in use/{print $(NF-1)}' "$tmp/memrep.err")
if grep -q "^  heap in use (mallinfo2): unknown" "$tmp/memrep.err"; then
  # a sanitizer's allocator: glibc's figures are not there to compare with
  check "... walked ($walked B/peer), the heap in use unknown (not glibc's allocator)" \
    awk -v w="$walked" 'BEGIN{exit !(w > 0)}'
else
  check "... walked ($walked B/peer) within the heap in use ($inuse B/peer), and 70% of it" \
    awk -v w="$walked" -v u="$inuse" 'BEGIN{exit !(w > 0 && w <= u && w >= 0.7 * u)}'
fi
check "... the same CSVs as a run without it" diff -r "$tmp/memrep" "$tmp/memrep-off"
lacks_report() { ! grep -q "memory by structure" "$1"; }
check "... and no table without it" lacks_report "$tmp/memrep-off.err"

# ---- tools/run plots the run it made --------------------------------------------
if command -v gnuplot >/dev/null; then
  mkdir -p "$tmp/cwd"
  sed 's/^seed = 1$/name = renamed\nseed = 1/' "$small" >"$tmp/cwd/other.ini"
  rc=0
  (cd "$tmp/cwd" && MINIBIT_SIM=$sim timeout 120 bash "$root/tools/run" "$small" --out "$tmp/tr" \
     "${short[@]}" --no-expect --quiet) >"$tmp/tr.out" 2>&1 || rc=$?
  check "tools/run --out DIR: exit 0" [ "$rc" = 0 ]
  check "tools/run --out DIR: plots in DIR/plots" [ -s "$tmp/tr/plots/completion-cdf.png" ]
  check "tools/run --out DIR: says where" has "$tmp/tr.out" "^Plots: $tmp/tr/plots/\$"
  check "tools/run --out DIR: nothing in the current folder" [ ! -e "$tmp/cwd/results" ]
  rc=0
  (cd "$tmp/cwd" && MINIBIT_SIM=$sim timeout 120 bash "$root/tools/run" other.ini --seed 5 \
     "${short[@]}" --no-expect --quiet) >"$tmp/tr2.out" 2>&1 || rc=$?
  check "tools/run, a scenario named otherwise: exit 0" [ "$rc" = 0 ]
  check "tools/run, a scenario named otherwise: plots in results/<name>/seed-<N>" \
    [ -s "$tmp/cwd/results/renamed/seed-5/plots/completion-cdf.png" ]
  check "tools/run, a scenario named otherwise: nothing under the file's name" \
    [ ! -e "$tmp/cwd/results/other" ]
  rc=0
  MINIBIT_SIM=$sim bash "$root/tools/run" "$small" --out "$tmp/a-file" >"$tmp/tr3.out" 2>&1 || rc=$?
  check "tools/run with a bad --out: exit 2, nothing run" [ "$rc" = 2 ]
else
  for d in "tools/run --out DIR" "tools/run, a scenario named otherwise" "tools/run with a bad --out"; do
    skip "$d" "gnuplot is not installed"
  done
fi

echo "1..$n"
