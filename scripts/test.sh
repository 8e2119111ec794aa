#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: the dashboard's unit and
# browser tests, then all C++ tests (ctest), then the C++ tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer. .ci/run runs exactly this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Chromium for the browser tests; the CJK font so that screenshots show the Chinese UI.
ensure_packages chromium fonts-wqy-microhei
cd "$GATHERD_ROOT"

echo "== house rules: plugins include only the sdk, never core/"
if grep -rnE '#include *[<"](core/|gatherd/core/)' plugins; then
  echo "test: a plugin includes core headers" >&2
  exit 1
fi

echo "== build (warnings are errors)"
build_native "$GATHERD_BUILD"

echo "== web: unit tests and the dashboard in Chromium against the real gatherd"
build_web
(cd web && npm test)
(cd web && GATHERD_BIN="$GATHERD_BUILD/gatherd" GATHERD_PLUGIN_DIR="$GATHERD_BUILD/plugins" \
  FAKE_UPSTREAM_BIN="$GATHERD_BUILD/plugins/sources/xychatai-codex/xychatai-fake-upstream" \
  SCREENSHOT_DIR="$GATHERD_BUILD/screenshots" npm run e2e)

echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer"
build_native "$GATHERD_ROOT/build-asan" -DGATHERD_SANITIZE=ON -DGATHERD_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$GATHERD_ROOT/build-asan" --output-on-failure -j2 --timeout 600

echo "== C++ tests"
ctest --test-dir "$GATHERD_BUILD" --output-on-failure -j2 --timeout 600
