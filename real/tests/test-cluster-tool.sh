#!/usr/bin/env bash
# test-cluster-tool.sh — tools/cluster (TAP; suite real; loopback only).
#
#   1 up 3 --port-base B: "cluster up", every peer answering /ping as itself
#     on B+i (wire B+1000+i); then down.
#   2 a port it needs already taken (a listener of this test on B+1002):
#     refused before anything starts, exit non-zero, the port named.
#   3 a peer that dies during start-up (--replication 99, which every peer
#     refuses): exit 1 within 10 s, naming the peer and showing its log's
#     last lines, nothing of the cluster left running.
#
# Every process started is killed at the end, also on failure (the trap);
# every wait is bounded.  Uses $MINIBIT_SOURCE_ROOT/tools/cluster and the
# binaries under $MINIBIT_BUILD_ROOT/real (MINIBIT_BIN_DIR: nothing built).
set -uo pipefail
src=${MINIBIT_SOURCE_ROOT:?}
export MINIBIT_BIN_DIR="${MINIBIT_BUILD_ROOT:?}/real"
cluster="$src/tools/cluster"
root=$(mktemp -d /tmp/minibit-cluster-test-XXXXXX)
listener=""
failed=0
n=0

cleanup() {
  local d f pid
  [ -n "$listener" ] && kill -KILL "$listener" 2>/dev/null
  for d in "$root"/c*; do
    [ -d "$d" ] || continue
    for f in "$d"/*.pid; do
      [ -f "$f" ] || continue
      pid=$(cat "$f")
      kill -KILL "$pid" 2>/dev/null
    done
  done
  # our own mktemp folder (rm does not follow symbolic links)
  case "$root" in /tmp/minibit-cluster-test-*) rm -r -- "$root" ;; esac
}
trap cleanup EXIT

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; local l; for l in "$@"; do echo "# $l"; done; }
show() { sed 's/^/# | /' "$1"; }

# A port base B with B+1..B+3, B+1001..B+1003, B+4000, B+4001 free.
base=$(python3 - <<'EOF'
import random, socket
for _ in range(200):
    b = random.randrange(20000, 40000)
    ports = [b + i for i in (1, 2, 3, 1001, 1002, 1003, 4000, 4001)]
    socks = []
    try:
        for p in ports:
            s = socket.socket(); socks.append(s); s.bind(("127.0.0.1", p))
        print(b); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
EOF
)
echo "1..3"
[ -n "$base" ] || { echo "Bail out! no free port base"; exit 1; }
echo "# port base $base"

# Runs tools/cluster with a cluster folder $1 (under $root), the rest as its
# arguments, at most 40 s; output to $root/out, status in $rc, time in $secs.
run() {
  local d="$root/$1"; shift
  local t0=$SECONDS
  MINIBIT_CLUSTER_DIR="$d" timeout -s KILL 40 "$cluster" "$@" >"$root/out" 2>&1
  rc=$?
  secs=$((SECONDS - t0))
}

# TRUE if nothing started in folder $1 still runs.
none_running() {
  local f
  for f in "$root/$1"/*.pid; do
    [ -f "$f" ] || continue
    kill -0 "$(cat "$f")" 2>/dev/null && return 1
  done
  return 0
}

# 1: up with a port base, each peer itself
run c1 up 3 --port-base "$base"
good=1
if [ $rc -ne 0 ] || ! grep -q "cluster up" "$root/out"; then good=0; fi
for i in 1 2 3; do
  body=$(curl -s -m 2 "http://127.0.0.1:$((base + i))/ping" || true)
  [[ "$body" == *"\"peer\":\"peer$i\""* && "$body" == *"\"addr\":\"127.0.0.1:$((base + 1000 + i))\""* ]] || good=0
done
if [ $good -eq 1 ]; then ok "up 3 --port-base $base"; else
  not_ok "up 3 --port-base $base" "status $rc; its output:"; show "$root/out"; fi
MINIBIT_CLUSTER_DIR="$root/c1" timeout -s KILL 60 "$cluster" down >/dev/null 2>&1

# 2: a port taken (SO_REUSEADDR: the port may still be in TIME-WAIT after case 1)
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
time.sleep(60)' $((base + 1002)) &
listener=$!
for _ in $(seq 1 50); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
    $((base + 1002)) 2>/dev/null && break
  sleep 0.1
done
run c2 up 3 --port-base "$base"
if [ $rc -ne 0 ] && grep -q "port $((base + 1002)) is already taken" "$root/out" \
   && [ ! -e "$root/c2/tracker.log" ] && [ ! -e "$root/c2/peer1.log" ] && none_running c2; then
  ok "a taken port is refused before anything starts"
  grep -q python3 "$root/out" || echo "# (ss did not name the holder)"
else
  not_ok "a taken port is refused before anything starts" "status $rc; its output:"
  show "$root/out"
fi
kill -KILL "$listener" 2>/dev/null; wait "$listener" 2>/dev/null; listener=""
# (a cluster that started anyway must not hold the ports of the next case)
[ -e "$root/c2/tracker.log" ] && MINIBIT_CLUSTER_DIR="$root/c2" timeout -s KILL 60 "$cluster" down >/dev/null 2>&1

# 3: a peer dies during start-up
run c3 up 3 --port-base "$base" --replication 99
if [ $rc -eq 1 ] && [ $secs -le 10 ] && grep -q "peer[123] (pid [0-9]*) exited during start-up" "$root/out" \
   && grep -q -- "--replication must be" "$root/out" && none_running c3; then
  ok "a peer dying at start fails the start loudly ($secs s)"
else
  not_ok "a peer dying at start fails the start loudly" "status $rc after $secs s; its output:"
  show "$root/out"
fi
exit $failed
