#!/usr/bin/env bash
# test-emulate-shipped.sh — issue 14's two swarm comparison scenarios, the
# simulator against the real binaries (TAP; suite slow; root only: skipped
# with the reason otherwise; run alone, is_parallel false: the 31 real peers
# need the machine's cores).
#
#   for scenarios/emulated/flash-crowd.ini and three-classes.ini (seed 1):
#   1, 3 tools/emulate exits 0 within 300 s: every leecher holds the file
#        with its SHA-256; nothing of the run is left (namespaces, folders,
#        processes)
#   2, 4 tools/compare --tolerance 15 against minibit-sim at the same seed:
#        completion p50, p90 and max of the whole swarm and of every class
#        within 15% (the table is printed as comments)
#
# The classes' order in three-classes.ini is not checked: there the seed is
# the limit and the simulator's own order changes with the seed (README
# "Emulation", "Three classes that tit-for-tat tells apart").
# Every wait is bounded (timeout(1)); this test's folder is removed at exit.
# shellcheck source=emulate-common.sh
source "$(dirname "$0")/emulate-common.sh"
tmp=$(mktemp -d /tmp/minibit-emulate-shipped.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "1..4"


for name in flash-crowd three-classes; do
  scen="$src/scenarios/emulated/$name.ini"
  t0=$SECONDS
  timeout -k 10 300 "$src/tools/emulate" "$scen" --seed 1 --out "$tmp/$name-real" \
    >/dev/null 2>"$tmp/$name.err"
  rc=$?
  pid=$(grep -o 'namespaces mbemu[0-9]*-' "$tmp/$name.err" | grep -o '[0-9]*' | head -1)
  left=$(leftovers "${pid:-none}")
  grep -E 'peers used|finished|wall' "$tmp/$name.err" | sed 's/^/# /'
  if [ $rc = 0 ] && [ -n "$pid" ] && [ -z "$left" ]; then
    ok "$name emulated in $((SECONDS - t0)) s: every leecher holds the right file, nothing left"
  else
    not_ok "$name: tools/emulate exit $rc; left: $left" "$(tail -5 "$tmp/$name.err")"
  fi
  "$build/sim/minibit-sim" "$scen" --seed 1 --out "$tmp/$name-sim" --quiet >/dev/null 2>&1
  "$src/tools/compare" "$tmp/$name-sim" "$tmp/$name-real" --tolerance 15 \
    >"$tmp/$name.cmp" 2>&1
  crc=$?
  grep -E 'completion|largest' "$tmp/$name.cmp" | sed 's/^/# /'
  if [ $rc = 0 ] && [ $crc = 0 ]; then
    ok "$name: $(grep -o 'largest completion difference [0-9.]*%' "$tmp/$name.cmp") (tolerance 15%)"
  else
    not_ok "$name: tools/compare --tolerance 15 exit $crc" "$(tail -3 "$tmp/$name.cmp")"
  fi
done
