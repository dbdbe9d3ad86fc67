# tools/lib.sh — shared by tools/run and tools/test: check Debian packages,
# install the missing ones when root, configure and build build/.
# Sourced, not run.

MINIBIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MINIBIT_PACKAGES=(meson ninja-build pkg-config gcc libglib2.0-dev zlib1g-dev gnuplot-nox
                  libsoup-3.0-dev libjson-glib-dev libssl-dev curl python3)

mb_missing_packages() {
  local missing=() p
  for p in "${MINIBIT_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  echo "${missing[@]}"
}

# mb_ensure_packages [extra packages...]
mb_ensure_packages() {
  local missing
  missing=$(mb_missing_packages "$@")
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "minibit needs these Debian packages: $missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get install -y $missing" >&2
    exit 2
  fi
  echo "Installing Debian packages: $missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q $missing >&2; then
    apt-get update -q >&2 && apt-get install -y -q $missing >&2 || {
      echo "apt-get install failed for: $missing" >&2; exit 2; }
  fi
}

# mb_build BUILD_DIR [meson options...]: every target, or only those in
# $MB_BUILD_TARGETS (say sim/minibit-sim: a benchmark needs no tests)
mb_build() {
  local dir=$1; shift
  cd "$MINIBIT_ROOT"
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >&2 || { echo "meson setup $dir failed" >&2; exit 2; }
  fi
  # shellcheck disable=SC2086 # a list of targets
  ninja -C "$dir" ${MB_BUILD_TARGETS:-} >&2 || { echo "build failed in $dir" >&2; exit 2; }
}
