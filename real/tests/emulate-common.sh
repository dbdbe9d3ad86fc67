# emulate-common.sh — sourced by the TAP scripts of tools/emulate
# (test-emulate.sh, test-emulate-shipped.sh): src and build from the
# environment, a SKIP plan and exit 0 unless root with ip, tc, gnuplot and
# python3; the real binaries of the build; ok / not_ok (numbered TAP lines);
# leftovers PID (what is left of emulate run PID: namespaces, folders,
# processes; empty if nothing).
set -uo pipefail
src=${MINIBIT_SOURCE_ROOT:?}
build=${MINIBIT_BUILD_ROOT:?}
if [ "$(id -u)" != 0 ]; then
  echo "1..0 # SKIP tools/emulate needs root (network namespaces, veth, tc)"
  exit 0
fi
for b in ip tc gnuplot python3; do
  if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ] && [ ! -x "/sbin/$b" ]; then
    echo "1..0 # SKIP $b is not installed"
    exit 0
  fi
done
export MINIBIT_BIN_DIR="$build/real"
n=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
leftovers() {
  local pid=$1 out=""
  out+=$(ip netns list 2>/dev/null | grep "^mbemu$pid-" | tr '\n' ' ')
  out+=$(ls -d /tmp/mbemu"$pid"-* 2>/dev/null | tr '\n' ' ')
  out+=$(pgrep -af "/tmp/mbemu$pid-" 2>/dev/null | tr '\n' ' ')
  echo "$out"
}
