#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages, npm packages) and builds gatherd, its plugins
# and the dashboard. Sourced by run.sh and test.sh; safe to run again (it only adds what lacks).
set -euo pipefail

GATHERD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATHERD_BUILD="${GATHERD_BUILD:-$GATHERD_ROOT/build}"
export GATHERD_ROOT GATHERD_BUILD

GATHERD_BUILD_PACKAGES=(build-essential cmake pkg-config libpoco-dev libboost-dev
  libboost-filesystem-dev libspdlog-dev catch2 libsqlite3-dev libssl-dev libsimdjson-dev sqlite3
  openssl curl ca-certificates)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# ensure_packages NAME...: apt-get installs the packages that are not installed yet.
ensure_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

# ensure_node: Node.js 20 or newer with npm (the dashboard's build needs it).
ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    ensure_packages nodejs npm
  fi
  local major
  major="$(node -p 'process.versions.node.split(".")[0]')"
  if [ "$major" -lt 20 ]; then
    # Debian 12's own nodejs is 18; Vite 8 needs 20.19 or newer (NodeSource or nvm provide it).
    echo "setup: Node.js $(node --version) is too old for the dashboard: install Node.js 20.19+" >&2
    exit 1
  fi
}

# build_native BUILD_DIR [CMAKE OPTIONS...]: configures and builds every C++ target.
build_native() {
  local dir="$1"
  shift
  local launcher=()
  # ccache, when a developer has it, makes rebuilds in several checkouts cheap (paths are taken
  # relative to the checkout, so two clones share the cache); CI works without it.
  if command -v ccache >/dev/null 2>&1; then
    export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$GATHERD_ROOT}"
    launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  cmake -S "$GATHERD_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

# build_web: installs the dashboard's npm packages from the lock file and builds web/dist.
build_web() {
  ensure_node
  (cd "$GATHERD_ROOT/web" && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run build)
}

ensure_packages "${GATHERD_BUILD_PACKAGES[@]}"
