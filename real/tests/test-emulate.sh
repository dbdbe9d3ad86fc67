#!/usr/bin/env bash
# test-emulate.sh — tools/emulate and tools/compare (TAP; suite slow; root
# only: skipped with the reason otherwise).
#
#   1 tools/emulate scenarios/emulated/flash-crowd-small.ini (a tracker, a seed
#     and 6 leechers, each in a network namespace, links shaped with tbf):
#     exit 0 within 240 s
#   2 every leecher's fetch answered success and its file has the SHA-256 of
#     the stored one (fetches.csv, checked by tools/emulate from the files)
#   3 summary.csv, peers.csv, timeseries.csv, classes.csv and unchokes.csv
#     have exactly the header lines minibit-sim writes for the same scenario,
#     and the seed's unchoke tallies (unchokes.csv) count exactly the bytes it
#     handed over (peers.csv bytes_up)
#   4 nothing of the run is left: no namespace mbemu<PID>-*, no data folder
#     /tmp/mbemu<PID>-*, no process running from it
#   5 tools/plot draws the emulated run; tools/compare sets it beside the
#     simulator's (the table, compare.csv, the overlaid CDF as PNG and SVG)
#   6 a scenario with 20 ms of latency is refused (exit 2) naming sch_netem /
#     netem, nothing made; so are a MINIBIT_EMULATE_TBF_BURST that is not a
#     byte count, a MINIBIT_EMULATE_TBF_LATENCY that is not a time and a
#     MINIBIT_EMULATE_ACK_PRIO that is not 0 or 1, named
#   7 SIGINT during the fetches: exit 130 within 30 s, the CSVs of the run
#     so far written (summary.csv's stopped = interrupted), nothing left
#   8 [event.*]: a shutdown of one leecher at 2 s and a crash of two at 4 s
#     (duration 40 s): peers.csv has them left (graceful, crash) at their
#     times, nothing left after the run (whether the survivors finish is not
#     judged: README "Crashes")
#   9 tools/emulate scenarios/emulated/ring.ini (10 ring members store 100
#     files, 4 graceful leaves, 2 crashes, 100 fetches): exit 0 within 240 s,
#     4 graceful and 2 crash rows in leaves.csv, every fetch and the check
#     fetch of every file after the run with the right SHA-256, nothing lost
#     (manifests_lost = chunks_lost = 0), nothing left
#  10 the ring's CSVs (leaves.csv and departures.csv too) have minibit-sim's
#     header lines, and tools/compare --leave-tolerance 5 holds: the same
#     peers left in the same order, each moved the same manifests and chunks
#     as in the simulator, its bytes within 5%
#  11 SIGINT during the ring's first hand-off: exit 130 within 30 s, the run
#     so far written (stopped = interrupted), nothing left
#  12 MINIBIT_EMULATE_ACK_PRIO=1 (htb, ACKs first): flash-crowd-small exits 0,
#     6 of 6 leechers hold the right file, each upload link is an htb with the
#     ACK class, nothing left
#
# Every wait is bounded (timeout(1)); this test's folder is removed at exit.
# shellcheck source=emulate-common.sh
source "$(dirname "$0")/emulate-common.sh"
scen="$src/scenarios/emulated/flash-crowd-small.ini"
tmp=$(mktemp -d /tmp/minibit-emulate-test-XXXXXX)
bg=""
cleanup() {
  [ -n "$bg" ] && kill -KILL "$bg" 2>/dev/null
  case "$tmp" in /tmp/minibit-emulate-test-*) rm -r -- "$tmp" ;; esac
}
trap cleanup EXIT
echo "1..12"


# 1
t0=$SECONDS
timeout -k 10 240 "$src/tools/emulate" "$scen" --out "$tmp/real" >"$tmp/out" 2>"$tmp/err"
rc=$?
pid=$(grep -o 'namespaces mbemu[0-9]*-' "$tmp/err" | grep -o '[0-9]*' | head -1)
sed 's/^/# /' "$tmp/err"
if [ $rc = 0 ]; then ok "emulated flash-crowd-small in $((SECONDS - t0)) s"
else not_ok "tools/emulate exited $rc"; fi

# 2
good=$(awk -F, 'NR>1 && $6=="success" && $7=="yes"' "$tmp/real/fetches.csv" 2>/dev/null | wc -l)
if [ "$good" = 6 ]; then ok "6 of 6 leechers hold the file with its SHA-256"
else not_ok "$good of 6 leechers hold the right file" "$(cat "$tmp/real/fetches.csv" 2>/dev/null)"; fi

# 3
"$build/sim/minibit-sim" "$scen" --out "$tmp/sim" --quiet 2>/dev/null
bad=""
for f in summary peers timeseries classes unchokes; do
  [ "$(head -n1 "$tmp/sim/$f.csv")" = "$(head -n1 "$tmp/real/$f.csv" 2>/dev/null)" ] || bad+="$f.csv "
done
# unchokes.csv: the seeds' tallies count what they handed over (peers.csv bytes_up)
tallied=$(awk -F, 'NR>1 && $1=="seed" {s+=$6+$7+$8} END {print s+0}' "$tmp/real/unchokes.csv" 2>/dev/null)
handed=$(awk -F, 'NR>1 && $2=="seed" {s+=$10} END {print s+0}' "$tmp/real/peers.csv" 2>/dev/null)
if [ -z "$bad" ] && [ "${tallied:-0}" -gt 0 ] && [ "$tallied" = "$handed" ]; then
  ok "the CSVs have minibit-sim's columns; the seeds' unchoke tallies count the $handed bytes they handed over"
else not_ok "columns differ from minibit-sim's in: $bad; or the seeds' tallies ($tallied bytes) are not what they handed over ($handed)"; fi

# 4
if [ -z "$pid" ]; then not_ok "no run PID in tools/emulate's output"
else
  left=$(leftovers "$pid")
  if [ -z "$left" ]; then ok "nothing left of run $pid"
  else not_ok "left of run $pid: $left"; fi
fi

# 5
plot_ok=0; "$src/tools/plot" "$tmp/real" >/dev/null 2>"$tmp/plot.err" && plot_ok=1
"$src/tools/compare" "$tmp/sim" "$tmp/real" --out "$tmp/cmp" >"$tmp/cmp.out" 2>&1
crc=$?
sed 's/^/# /' "$tmp/cmp.out"
if [ $plot_ok = 1 ] && [ $crc = 0 ] && [ -s "$tmp/real/plots/completion-cdf.png" ] \
   && [ -s "$tmp/cmp/compare.csv" ] && [ -s "$tmp/cmp/completion-cdf-compare.png" ] \
   && [ -s "$tmp/cmp/completion-cdf-compare.svg" ]; then
  ok "tools/plot and tools/compare on the emulated run"
else
  not_ok "tools/plot ($plot_ok) or tools/compare (exit $crc)" "$(cat "$tmp/plot.err")"
fi

# 6
sed 's/^latency = 0$/latency = 20ms/' "$scen" > "$tmp/latency.ini"
timeout -k 5 60 "$src/tools/emulate" "$tmp/latency.ini" --out "$tmp/lat" >/dev/null 2>"$tmp/lat.err"
rc=$?
lpid=$(grep -o 'namespaces mbemu[0-9]*-' "$tmp/lat.err" | grep -o '[0-9]*' | head -1)
# and a token bucket's burst or queue that is not a size or a time
MINIBIT_EMULATE_TBF_BURST=12abc timeout -k 5 60 "$src/tools/emulate" "$scen" \
    --out "$tmp/badburst" >/dev/null 2>"$tmp/burst.err"
brc=$?
MINIBIT_EMULATE_TBF_LATENCY='5ms; x' timeout -k 5 60 "$src/tools/emulate" "$scen" \
    --out "$tmp/badqueue" >/dev/null 2>"$tmp/queue.err"
qrc=$?
MINIBIT_EMULATE_ACK_PRIO=yes timeout -k 5 60 "$src/tools/emulate" "$scen" \
    --out "$tmp/badack" >/dev/null 2>"$tmp/ack.err"
arc=$?
if [ $rc = 2 ] && grep -q 'netem' "$tmp/lat.err" && [ -z "$(leftovers "${lpid:-none}")" ] \
   && [ $arc = 2 ] && grep -q 'MINIBIT_EMULATE_ACK_PRIO=' "$tmp/ack.err" && [ ! -e "$tmp/badack" ] \
   && [ $brc = 2 ] && grep -q 'MINIBIT_EMULATE_TBF_BURST=.12abc' "$tmp/burst.err" \
   && [ $qrc = 2 ] && grep -q 'MINIBIT_EMULATE_TBF_LATENCY=' "$tmp/queue.err" \
   && [ ! -e "$tmp/badburst" ] && [ ! -e "$tmp/badqueue" ]; then
  ok "20 ms of latency refused: $(grep -o 'latency reaches.*' "$tmp/lat.err" | head -1 | cut -c1-120); a bad burst and queue named"
else
  not_ok "latency 20ms: exit $rc; bad burst: exit $brc; bad queue: exit $qrc; bad ACK_PRIO: exit $arc" \
    "$(cat "$tmp/lat.err" "$tmp/burst.err" "$tmp/queue.err" "$tmp/ack.err")"
fi

# tools/emulate $1 --out $2 in the background, stderr to $3; SIGINT $5 s after
# $3 shows $4 (bounded waits); then the verdict "$6": exit 130, the run so
# far written (stopped = interrupted), nothing of it left.
interrupt_run() {
  timeout -k 10 120 "$src/tools/emulate" "$1" --out "$2" >/dev/null 2>"$3" &
  bg=$!
  for _ in $(seq 1 900); do grep -q "$4" "$3" && break; sleep 0.1; done
  ipid=$(grep -o 'namespaces mbemu[0-9]*-' "$3" | grep -o '[0-9]*' | head -1)
  sleep "$5"
  [ -n "$ipid" ] && kill -INT "$ipid"
  t1=$SECONDS
  irc=124
  for _ in $(seq 1 300); do
    if ! kill -0 "$bg" 2>/dev/null; then wait "$bg"; irc=$?; break; fi
    sleep 0.1
  done
  bg=""
  local left
  left=$(leftovers "${ipid:-none}")
  if [ -n "$ipid" ] && [ $irc = 130 ] && [ -z "$left" ] \
     && grep -q ',interrupted$' "$2/summary.csv" 2>/dev/null; then
    ok "$6: exit 130 after $((SECONDS - t1)) s, the run so far written (stopped = interrupted), nothing left"
  else
    not_ok "$6: run ${ipid:-?} exit $irc, left: $left" "$(tail -5 "$3")"
  fi
}

# 7
interrupt_run "$scen" "$tmp/int" "$tmp/int.err" 't = 0:' 2 "SIGINT during the fetches"

# 8
{ sed 's/^duration = .*/duration = 40s/' "$scen"
  printf '\n[event.leave]\nat = 2s\naction = shutdown\ncount = 1\nclass = leechers\n'
  printf '\n[event.outage]\nat = 4s\naction = crash\ncount = 2\nclass = leechers\n'; } > "$tmp/events.ini"
timeout -k 10 120 "$src/tools/emulate" "$tmp/events.ini" --out "$tmp/ev" >/dev/null 2>"$tmp/ev.err"
erc=$?
epid=$(grep -o 'namespaces mbemu[0-9]*-' "$tmp/ev.err" | grep -o '[0-9]*' | head -1)
graceful=$(awk -F, 'NR>1 && $8=="graceful" && $7>=2 && $7<3' "$tmp/ev/peers.csv" 2>/dev/null | wc -l)
crash=$(awk -F, 'NR>1 && $8=="crash" && $7>=4 && $7<5' "$tmp/ev/peers.csv" 2>/dev/null | wc -l)
left=$(leftovers "${epid:-none}")
if [ -n "$epid" ] && { [ $erc = 0 ] || [ $erc = 1 ]; } && [ "$graceful" = 1 ] && [ "$crash" = 2 ] \
   && [ -z "$left" ]; then
  ok "events: 1 graceful leave, 2 crashes at their times (exit $erc), nothing left"
else
  not_ok "events: exit $erc, graceful $graceful, crash $crash, left: $left" "$(tail -8 "$tmp/ev.err")"
fi

# 9
ring="$src/scenarios/emulated/ring.ini"
t0=$SECONDS
timeout -k 10 240 "$src/tools/emulate" "$ring" --out "$tmp/ring" >/dev/null 2>"$tmp/ring.err"
rrc=$?
rpid=$(grep -o 'namespaces mbemu[0-9]*-' "$tmp/ring.err" | grep -o '[0-9]*' | head -1)
sed 's/^/# /' "$tmp/ring.err" | grep -v " t = [0-9]* s: "
graceful=$(awk -F, 'NR>1 && $3=="graceful" && $5!=""' "$tmp/ring/leaves.csv" 2>/dev/null | wc -l)
crash=$(awk -F, 'NR>1 && $3=="crash"' "$tmp/ring/leaves.csv" 2>/dev/null | wc -l)
fetched=$(awk -F, '($1=="fetch" || $1=="check") && $9=="yes"' "$tmp/ring/fetches.csv" 2>/dev/null | wc -l)
lost=$(awk -F, 'NR==1{for(i=1;i<=NF;i++)c[$i]=i} NR==2{print $c["manifests_lost"] "/" $c["chunks_lost"]}' \
  "$tmp/ring/summary.csv" 2>/dev/null)
left=$(leftovers "${rpid:-none}")
if [ -n "$rpid" ] && [ $rrc = 0 ] && [ "$graceful" = 4 ] && [ "$crash" = 2 ] && [ "$fetched" = 200 ] \
   && [ "$lost" = "0/0" ] && [ -z "$left" ]; then
  ok "ring emulated in $((SECONDS - t0)) s: 4 hand-offs, 2 crashes, 200 of 200 fetches right, nothing lost or left"
else
  not_ok "ring: exit $rrc, graceful $graceful, crash $crash, fetched $fetched of 200, lost $lost, left: $left"
fi

# 10
"$build/sim/minibit-sim" "$ring" --out "$tmp/ringsim" --quiet >/dev/null 2>&1
bad=""
for f in summary peers timeseries classes leaves departures; do
  [ "$(head -n1 "$tmp/ringsim/$f.csv")" = "$(head -n1 "$tmp/ring/$f.csv" 2>/dev/null)" ] || bad+="$f.csv "
done
"$src/tools/compare" "$tmp/ringsim" "$tmp/ring" --out "$tmp/ringcmp" --leave-tolerance 5 \
  >"$tmp/ringcmp.out" 2>&1
crc=$?
sed 's/^/# /' "$tmp/ringcmp.out" | grep -E 'moved|match|differ'
if [ -z "$bad" ] && [ $crc = 0 ] && [ -s "$tmp/ringcmp/leaves-compare.png" ]; then
  ok "the ring's CSVs have minibit-sim's columns; its leaves match the simulator's"
else
  not_ok "ring: columns differ in: ${bad:-none}; tools/compare --leave-tolerance 5 exit $crc"
fi

# 11
interrupt_run "$ring" "$tmp/ringint" "$tmp/ringint.err" 'event.leaves: shutdown' 0 \
  "SIGINT during the ring's first hand-off"

# 12
t0=$SECONDS
MINIBIT_EMULATE_ACK_PRIO=1 timeout -k 10 240 "$src/tools/emulate" "$scen" --out "$tmp/ack" \
  >/dev/null 2>"$tmp/ack.err"
rc=$?
apid=$(grep -o 'namespaces mbemu[0-9]*-' "$tmp/ack.err" | grep -o '[0-9]*' | head -1)
good=$(awk -F, 'NR>1 && $6=="success" && $7=="yes"' "$tmp/ack/fetches.csv" 2>/dev/null | wc -l)
left=$(leftovers "${apid:-none}")
if [ $rc = 0 ] && [ "$good" = 6 ] && grep -q 'uploads: htb, small packets first' "$tmp/ack.err" \
   && [ -n "$apid" ] && [ -z "$left" ]; then
  ok "MINIBIT_EMULATE_ACK_PRIO=1: flash-crowd-small over htb uplinks in $((SECONDS - t0)) s, 6 of 6 right, nothing left"
else
  not_ok "ACK_PRIO=1: exit $rc, $good of 6 right, left: $left" "$(tail -5 "$tmp/ack.err")"
fi
