#!/usr/bin/env bash
# test-mpi-netns.sh MINIBIT_SIM MINIBIT_SIM_MPI|none — minibit-sim-mpi on
# two "hosts" (TAP; root only, suite slow): two network namespaces joined
# by a veth pair (10.77.201.1 and .2, names with a unique prefix) are the
# hosts; mpirun runs in the first with --host 10.77.201.1,10.77.201.2 and
# starts the second rank through tools/mpi-netns-agent (Open MPI's rsh
# launcher, --mca plm_rsh_agent), MPI's traffic (btl tcp and oob) on the
# veth only; the small flash crowd then writes one rank's CSV bytes.  Every
# namespace, link and process it made is removed on any exit; every wait is
# bounded.  Skips, saying why, when not root, or ip, mpirun or
# minibit-sim-mpi is missing.
set -u
sim=$1
mpi=$2
root=${MINIBIT_SOURCE_ROOT:?}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (ip netns)"
command -v ip >/dev/null 2>&1 || skip_all "ip (iproute2) is not installed"
{ [ "$mpi" != none ] && [ -x "$mpi" ]; } || skip_all "minibit-sim-mpi was not built (meson found no MPI)"
command -v mpirun >/dev/null 2>&1 || skip_all "mpirun is not installed (apt-get install openmpi-bin)"

tmp=$(mktemp -d)
pfx="mbmn$$"        # unique: this test's namespaces and links only
ns1=${pfx}a ns2=${pfx}b
cleanup() {
  local ns pid
  for ns in "$ns1" "$ns2"; do
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
      ip netns del "$ns" 2>/dev/null
    fi
  done
  ip link del "${pfx}x" 2>/dev/null # (gone with its namespace, unless it never moved)
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
echo "1..3"

ip netns add "$ns1" && ip netns add "$ns2" \
  && ip link add "${pfx}x" type veth peer name "${pfx}y" \
  && ip link set "${pfx}x" netns "$ns1" && ip link set "${pfx}y" netns "$ns2" \
  && ip -n "$ns1" addr add 10.77.201.1/24 dev "${pfx}x" \
  && ip -n "$ns2" addr add 10.77.201.2/24 dev "${pfx}y" \
  && ip -n "$ns1" link set lo up && ip -n "$ns2" link set lo up \
  && ip -n "$ns1" link set "${pfx}x" up && ip -n "$ns2" link set "${pfx}y" up
rc=$?
if [ "$rc" = 0 ]; then echo "ok 1 - two namespaces joined by a veth pair"
else echo "not ok 1 - two namespaces joined by a veth pair"; echo "ok 2 # SKIP no namespaces"; echo "ok 3 # SKIP no namespaces"; exit 0; fi
printf '10.77.201.1 %s\n10.77.201.2 %s\n' "$ns1" "$ns2" >"$tmp/hosts"

# Under -Db_sanitize=address: what Open MPI keeps until exit is not ours
# (lsan-mpi.supp says what); minibit's own leaks are still reported.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$root/sim/tests/lsan-mpi.supp:fast_unwind_on_malloc=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1
args=("$root/scenarios/small/flash-crowd.ini" --set peers.leechers.count=40 --set file.size=4MiB
      --quiet --no-expect)
timeout 300 "$sim" "${args[@]}" --out "$tmp/one" 2>"$tmp/one.err"
# As root Open MPI wants to be told, here and on the "remote" orted.
MINIBIT_NETNS_HOSTS=$tmp/hosts OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
  timeout 600 ip netns exec "$ns1" mpirun --allow-run-as-root --oversubscribe -np 2 \
    --host 10.77.201.1,10.77.201.2 --mca plm_rsh_agent "$root/tools/mpi-netns-agent" \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.201.0/24 \
    --mca oob_tcp_if_include 10.77.201.0/24 \
    "$mpi" "${args[@]}" --out "$tmp/two" >"$tmp/two.out" 2>"$tmp/two.err"
rc=$?
if [ "$rc" = 0 ] && grep -q '^mpi: peak RSS by rank (KiB) [0-9]* [0-9]*; total' "$tmp/two.err"; then
  echo "ok 2 - mpirun ran one rank in each namespace"
else
  echo "not ok 2 - mpirun ran one rank in each namespace"; echo "# exit $rc"
  tail -15 "$tmp/two.err" | sed 's/^/# /'
fi
bad=""
for f in summary peers timeseries classes unchokes departures leaves; do
  cmp -s "$tmp/one/$f.csv" "$tmp/two/$f.csv" || bad="$bad $f.csv"
done
if [ -z "$bad" ]; then echo "ok 3 - the two hosts write one rank's CSV bytes"
else echo "not ok 3 - the two hosts write one rank's CSV bytes"; echo "# differ:$bad"; fi
