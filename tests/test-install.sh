#!/usr/bin/env bash
# tests/test-install.sh (TAP): `meson install` into a temporary DESTDIR made
# with mktemp (never / or /usr), then: every installed file is there, the
# installed programs run --help without LD_LIBRARY_PATH and without the build
# tree (no RUNPATH into it), minibit-plot works from the install location (a
# small minibit-sim run plotted, when gnuplot is installed), each man page
# renders (groff or man -l) without warnings, and `systemd-analyze verify`
# prints nothing about the units.  The DESTDIR is removed at the end.
set -uo pipefail
build=${MINIBIT_BUILD_ROOT:?run through meson test}
src=${MINIBIT_SOURCE_ROOT:?run through meson test}

n=0 failed=0
ok()   { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
diag() { sed 's/^/# /'; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

tmp=$(mktemp -d /tmp/minibit-install-test.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
cleanup() {
  # Only our own mktemp folder, never through a symbolic link.
  case "$tmp" in
    /tmp/minibit-install-test.??????) [ -d "$tmp" ] && [ ! -L "$tmp" ] && rm -r -- "$tmp" ;;
  esac
}
trap cleanup EXIT
dest="$tmp/dest"

opt() { # the value of a meson option of the build
  meson introspect --buildoptions "$build" | python3 -c '
import json, sys
for o in json.load(sys.stdin):
    if o["name"] == sys.argv[1]:
        print(o["value"])' "$1"
}
prefix=$(opt prefix); bindir=$(opt bindir); datadir=$(opt datadir); mandir=$(opt mandir)
abs() { case "$1" in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
bindir=$(abs "$bindir"); datadir=$(abs "$datadir"); mandir=$(abs "$mandir")
case "$prefix" in /*) ;; *) echo "Bail out! no prefix from meson introspect"; exit 1 ;; esac

if meson install -C "$build" --no-rebuild --destdir "$dest" --quiet >"$tmp/install.log" 2>&1; then
  ok "meson install --destdir $dest"
else
  notok "meson install --destdir $dest"; diag < "$tmp/install.log"
  echo "1..$n"; exit 1
fi
# Nothing may land outside the prefix but the systemd units.
unitfile=$(find "$dest" -name minibit-tracker.service -type f | head -n 1)
unitdir=${unitfile%/*}

# ---- the files ----
for p in minibit-sim minibit-tracker minibit-peer minibit-plot; do
  check "$bindir/$p installed, executable" test -x "$dest$bindir/$p" -a -f "$dest$bindir/$p"
  check "$mandir/man1/$p.1 installed" test -s "$dest$mandir/man1/$p.1"
done
missing=0
while IFS= read -r f; do
  [ -f "$dest$datadir/minibit/$f" ] || { echo "# missing: $datadir/minibit/$f"; missing=$((missing + 1)); }
done < <(cd "$src" && find scenarios -type f -name '*.ini' | sort)
total=$(cd "$src" && find scenarios -type f -name '*.ini' | wc -l)
check "all $total scenario files in $datadir/minibit/scenarios ($missing missing)" \
  test "$missing" -eq 0 -a "$total" -gt 10
for u in minibit-tracker.service minibit-peer@.service; do
  check "systemd unit $u installed (in ${unitdir#"$dest"})" test -s "$unitdir/$u"
done
for u in tracker peer; do
  check "minibit-$u unit runs $bindir/minibit-$u" \
    grep -q "^ExecStart=$bindir/minibit-$u " "$unitdir/minibit-$u$( [ $u = peer ] && echo @).service"
done

# ---- the installed programs, from elsewhere, without LD_LIBRARY_PATH ----
cd "$tmp" || exit 1
for p in minibit-sim minibit-tracker minibit-peer minibit-plot; do
  if env -u LD_LIBRARY_PATH "$dest$bindir/$p" --help >"$tmp/help.out" 2>&1 && grep -q '^Usage:' "$tmp/help.out"; then
    ok "installed $p --help"
  else
    notok "installed $p --help"; diag < "$tmp/help.out"
  fi
done
for p in minibit-sim minibit-tracker minibit-peer; do
  if readelf -d "$dest$bindir/$p" 2>/dev/null | grep -E 'R(UN)?PATH' | grep -qF "$build"; then
    notok "installed $p has no RUNPATH into the build tree"
  else
    ok "installed $p has no RUNPATH into the build tree"
  fi
done
if command -v gnuplot >/dev/null; then
  if env -u LD_LIBRARY_PATH "$dest$bindir/minibit-sim" "$dest$datadir/minibit/scenarios/small/flash-crowd.ini" \
       --out "$tmp/run" --quiet >"$tmp/sim.log" 2>&1 \
     && (cd / && "$dest$bindir/minibit-plot" "$tmp/run" >"$tmp/plot.log" 2>&1) \
     && [ -s "$tmp/run/plots/completion-cdf.png" ] && [ -s "$tmp/run/plots/completion-cdf.svg" ]; then
    ok "installed minibit-sim runs an installed scenario, installed minibit-plot plots it"
  else
    notok "installed minibit-sim runs an installed scenario, installed minibit-plot plots it"
    cat "$tmp/sim.log" "$tmp/plot.log" 2>/dev/null | diag
  fi
else
  skip "installed minibit-plot plots a run" "gnuplot is not installed"
fi

# ---- the man pages render ----
# Some machines' /etc is partly damaged: groff warns that /etc/groff/man.local
# is missing (a site macro file, unrelated to our pages); that line alone is
# ignored.
render() { # page -> rendered text in $tmp/man.out, warnings in $tmp/man.err
  if command -v groff >/dev/null; then
    groff -man -Tutf8 -ww "$1" >"$tmp/man.out" 2>"$tmp/man.err"
  else
    MANWIDTH=80 man -l "$1" >"$tmp/man.out" 2>"$tmp/man.err"
  fi
  local rc=$?
  # Debian's /etc/groff/man.local turns grotty's SGR off: bold is then "N^HN"
  # overstrikes; take them out before looking for words
  sed -i 's/.\x08//g' "$tmp/man.out"
  return $rc
}
if command -v groff >/dev/null || command -v man >/dev/null; then
  for p in minibit-sim minibit-tracker minibit-peer minibit-plot; do
    render "$dest$mandir/man1/$p.1"; rc=$?
    grep -v "can't find macro file 'man.local'" "$tmp/man.err" > "$tmp/man.warn"
    if [ $rc -eq 0 ] && [ ! -s "$tmp/man.warn" ] && grep -q 'NAME' "$tmp/man.out" \
       && grep -q 'SYNOPSIS' "$tmp/man.out" && grep -q -- '--help' "$tmp/man.out"; then
      ok "man page $p.1 renders without warnings"
    else
      notok "man page $p.1 renders without warnings"; diag < "$tmp/man.warn"
    fi
  done
else
  skip "man pages render" "neither groff nor man is installed"
fi

# ---- systemd-analyze verify ----
# The units name $bindir/minibit-*, which exist only under the DESTDIR: the
# copies verified here point into it (the lines checked above show the real
# ExecStart).  The template is verified as the instance minibit-peer@test.
# Documentation= is looked up with man only if man works here (this machine's
# /etc/manpath.config is missing, so man finds no page at all); otherwise
# --man=no, said below.  Any output at all fails.
sa=/usr/bin/systemd-analyze
if [ -x "$sa" ]; then
  mkdir -p "$tmp/verify"
  sed "s|$bindir/|$dest$bindir/|g" "$unitdir/minibit-tracker.service" > "$tmp/verify/minibit-tracker.service"
  sed "s|$bindir/|$dest$bindir/|g" "$unitdir/minibit-peer@.service" > "$tmp/verify/minibit-peer@test.service"
  man_opt=--man=no
  if MANPATH="$dest$mandir" man -w minibit-peer >/dev/null 2>&1; then
    man_opt=--man=yes
  else
    echo "# man cannot look pages up on this machine: systemd-analyze verify --man=no"
  fi
  (cd "$tmp/verify" && MANPATH="$dest$mandir" "$sa" verify "$man_opt" \
     ./minibit-tracker.service ./minibit-peer@test.service) >"$tmp/verify.out" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && [ ! -s "$tmp/verify.out" ]; then
    ok "systemd-analyze verify: no warning about the units"
  else
    notok "systemd-analyze verify: no warning about the units (status $rc)"; diag < "$tmp/verify.out"
  fi
  for u in minibit-tracker.service minibit-peer@test.service; do
    level=$(cd "$tmp/verify" && "$sa" security --offline=yes "./$u" 2>/dev/null \
              | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -n "$level" ] && awk -v l="$level" 'BEGIN { exit !(l <= 2.5) }'; then
      ok "systemd-analyze security: $u exposure $level (at most 2.5)"
    else
      notok "systemd-analyze security: $u exposure '${level}' (at most 2.5)"
    fi
  done
else
  skip "systemd-analyze verify" "$sa is not installed"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
