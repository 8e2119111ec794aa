#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: the dashboard's unit and
# browser tests, then all C++ tests (ctest), then the C++ tests again under AddressSanitizer and
# UndefinedBehaviorSanitizer. .ci/run runs exactly this.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# Chromium for the browser tests; the CJK font so that screenshots show the Chinese UI.
ensure_packages chromium fonts-wqy-microhei
# Prometheus (and promtool) for the prometheus sink's tests: see the Prometheus block below.
ensure_packages prometheus
cd "$GATHERD_ROOT"

echo "== house rules: plugins include only the sdk, never core/"
if grep -rnE '#include *[<"](core/|gatherd/core/)' plugins; then
  echo "test: a plugin includes core headers" >&2
  exit 1
fi

echo "== Prometheus: alerting rules, their unit tests, names the rules and dashboard use"
# The exposition itself is checked by promtool and by a real Prometheus scraping gatherd in the
# C++ tests (plugins/sinks/prometheus/tests, tests/runtime/prometheus_test.cpp).
promtool check rules conf/prometheus/gatherd-alerts.yml
promtool test rules conf/prometheus/gatherd-alerts.test.yml
prometheus_check="$(mktemp -d)"
cp conf/prometheus/*.yml "$prometheus_check/"
echo token > "$prometheus_check/token"  # the example's credentials_file is the user's
sed -i "s|credentials_file: .*|credentials_file: $prometheus_check/token|" "$prometheus_check/prometheus.yml"
promtool check config "$prometheus_check/prometheus.yml"
rm -rf "$prometheus_check"
undocumented="$(grep -ohE '\b(gatherd|process)_[a-z0-9_]+' conf/prometheus/*.yml conf/prometheus/*.json |
  sed -E 's/_(total|bucket|sum|count)$//' | sort -u |
  while read -r name; do grep -qE "\b${name}(_total|_bucket)?\b" docs/metrics.md || echo "$name"; done)"
if [ -n "$undocumented" ]; then
  echo "test: conf/prometheus uses metrics that docs/metrics.md does not list: $undocumented" >&2
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
