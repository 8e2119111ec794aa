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
# postgres sink (issue 14): its tests start a throwaway PostgreSQL 15 cluster (initdb + pg_ctl,
# as the postgres user under root) on 127.0.0.1; without the server package they are not built.
ensure_packages postgresql
cd "$GATHERD_ROOT"

echo "== house rules: no ';' in a Catch2 test name"
# catch_discover_tests splits a name at ';': both halves then match no test and "pass" unrun.
if find core plugins sdk tests -name '*.cpp' -print0 | xargs -0 perl -0ne \
  'while (/TEST_CASE\(\s*((?:"(?:[^"\\]|\\.)*"\s*)+)/g) { my $n = $1; print "$ARGV: $n\n" if $n =~ /;/ }' |
  grep .; then
  echo "test: a test name holds ';' (ctest would never run it)" >&2
  exit 1
fi

echo "== house rules: the C++ tree is clang-formatted (.clang-format)"
# Debian 12's clang-format 14; a file that deviates fails with the lines it would change.
ensure_packages clang-format
git ls-files -z -- '*.cpp' '*.hpp' '*.h' | xargs -0 clang-format --dry-run --Werror

echo "== house rules: a source file over 500 lines says why at its top"
# "// Over 500 lines: <reason>" (or "# Over 500 lines:" in scripts) within its first 6 lines.
long_files="$(git ls-files -- '*.cpp' '*.hpp' '*.ts' '*.vue' '*.mjs' '*.js' '*.sh' |
  while read -r file; do
    [ "$(wc -l < "$file")" -gt 500 ] || continue
    head -6 "$file" | grep -qE '^(//|#) Over 500 lines: .{20,}' || echo "$file"
  done)"
if [ -n "$long_files" ]; then
  echo "test: over 500 lines without a reason at the top (\"// Over 500 lines: why\"): $long_files" >&2
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

echo "== house rules: dependencies point one way (includes and the CMake link graph)"
bash scripts/check-deps.sh "$GATHERD_BUILD"

echo "== house rules: clang-tidy (.clang-tidy; every finding fails)"
# Over the sources of the core, lib/, the plugins and the sdk, through the build's
# compile_commands.json; their headers too (the filter is anchored at the checkout, so that no
# system header under a ".../core/" path is checked). Tests, benchmarks and fuzz targets are
# left out to keep the step short (about 5 min on 2 cores). -Wno-unknown-warning-option: the
# build passes GCC-only flags (-Wno-restrict) that clang does not know.
tidy_start=$SECONDS
ensure_packages clang-tidy
tidy_log="$(mktemp)"
tidy_status=0
git ls-files -z -- 'core/*.cpp' 'lib/*.cpp' 'plugins/*.cpp' 'sdk/*.cpp' | grep -zv '/tests/' |
  xargs -0 -n 4 -P "$(nproc)" clang-tidy -p "$GATHERD_BUILD" --quiet \
    --extra-arg=-Wno-unknown-warning-option --header-filter="^$GATHERD_ROOT/(core|lib|plugins|sdk)/" \
    >"$tidy_log" 2>&1 || tidy_status=$?
# Without the count of suppressed findings in third-party headers each file prints.
grep -vE '^[0-9]+ warnings? generated\.$' "$tidy_log" || true
rm -f "$tidy_log"
if [ "$tidy_status" -ne 0 ]; then
  echo "test: clang-tidy found something (above)" >&2
  exit 1
fi
echo "== clang-tidy step: $((SECONDS - tidy_start)) s"

echo "== web: lint, types, unit tests and the dashboard in Chromium against the real gatherd"
build_web
(cd web && npm run lint && npm run typecheck)
(cd web && npm test)
(cd web && GATHERD_BIN="$GATHERD_BUILD/gatherd" GATHERD_PLUGIN_DIR="$GATHERD_BUILD/plugins" \
  FAKE_UPSTREAM_BIN="$GATHERD_BUILD/plugins/sources/xychatai-codex/xychatai-fake-upstream" \
  SCREENSHOT_DIR="$GATHERD_BUILD/screenshots" npm run e2e)

# -- fault suite (issue 10): tests/runtime/fault_test.cpp, "runtime:fault: ..." in ctest, so it
# runs in both C++ runs below (plain and ASan+UBSan): kill -9 x30 at 200 ms polls, a 30 s
# exclusive lock, the data dir on a full tmpfs (mounted by the test; it warns SKIPPED where
# mount(2) is not allowed), a damaged spool file at start-up, SIGTERM with shutdown_grace = 0,
# the database damaged at runtime, and made immutable at runtime (chattr +i through an ioctl; it
# warns SKIPPED without CAP_LINUX_IMMUTABLE or on a file system without the flag).
# About 80 s per run on 2 cores; the lock test alone is 55 s of it.

echo "== C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer"
build_native "$GATHERD_ROOT/build-asan" -DGATHERD_SANITIZE=ON -DGATHERD_BUILD_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$GATHERD_ROOT/build-asan" --output-on-failure -j2 --timeout 600

echo "== C++ tests"
ctest --test-dir "$GATHERD_BUILD" --output-on-failure -j2 --timeout 600

# --- ThreadSanitizer (issue 10) -----------------------------------------------------------------
# The C++ tests again, built with -fsanitize=thread in their own dir (benches off). Poco, spdlog
# and libstdc++ are not instrumented: scripts/tsan.supp silences only what that causes in their
# code, each entry with its reason. Tests that cannot run under TSan are excluded by name in
# GATHERD_TSAN_EXCLUDE, each with its reason beside it.
echo "== C++ tests under ThreadSanitizer"
tsan_start=$SECONDS
GATHERD_TSAN_EXCLUDE=()
build_native "$GATHERD_ROOT/build-tsan" -DGATHERD_TSAN=ON -DGATHERD_BUILD_BENCH=OFF
tsan_exclude_regex="$(IFS='|'; echo "${GATHERD_TSAN_EXCLUDE[*]:-^\$}")"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$GATHERD_ROOT/scripts/tsan.supp" \
  ctest --test-dir "$GATHERD_ROOT/build-tsan" --output-on-failure -j2 --timeout 600 \
  -E "$tsan_exclude_regex"
echo "== ThreadSanitizer step: $((SECONDS - tsan_start)) s"

# --- libFuzzer (issue 10) -----------------------------------------------------------------------
# Each fuzz target (fuzz/<target>/) is built with clang in build-fuzz and run for
# GATHERD_FUZZ_SECONDS (default 25) on a copy of its corpus in the repo (fuzz/<target>/corpus/),
# so CI never writes into the checkout. A crash, a sanitizer report or a leak fails CI; the
# crashing input is kept in build-fuzz/fuzz/artifacts/ and printed.
echo "== libFuzzer targets"
fuzz_start=$SECONDS
ensure_packages clang libclang-rt-14-dev
cmake -S "$GATHERD_ROOT" -B "$GATHERD_ROOT/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DGATHERD_FUZZ=ON -DGATHERD_WERROR=ON -DBUILD_TESTING=OFF \
  -DGATHERD_BUILD_BENCH=OFF $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
cmake --build "$GATHERD_ROOT/build-fuzz" -j"$(nproc)" --target fuzz
for target_dir in "$GATHERD_ROOT"/fuzz/*/; do
  target="$(basename "$target_dir")"
  [ -x "$GATHERD_ROOT/build-fuzz/fuzz/fuzz_$target" ] || continue
  work="$GATHERD_ROOT/build-fuzz/fuzz/run-$target"
  rm -rf "$work" && mkdir -p "$work/corpus" "$GATHERD_ROOT/build-fuzz/fuzz/artifacts"
  cp "$target_dir"corpus/* "$work/corpus/"
  echo "-- fuzz_$target for ${GATHERD_FUZZ_SECONDS:-25} s"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$GATHERD_ROOT/build-fuzz/fuzz/fuzz_$target" -max_total_time="${GATHERD_FUZZ_SECONDS:-25}" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$GATHERD_ROOT/build-fuzz/fuzz/artifacts/$target-" "$work/corpus" \
    >"$work/log" 2>&1 || { tail -60 "$work/log"; echo "test: fuzz_$target found a crash" >&2; exit 1; }
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec)" "$work/log" | tr '\n' ' '; echo
done
echo "== libFuzzer step: $((SECONDS - fuzz_start)) s"

# Packaging (issue 13): systemd-analyze verify of the unit; the Docker image built from a clean
# clone (Release, tests off) and run (healthy, records kept across a restart, exit 0 on stop,
# not root); where Docker cannot run this says so and builds Release on the host instead; the
# .deb through lintian and `dpkg -i` in a fresh mmdebstrap chroot; the web build in a chroot
# whose only Node.js is Debian's 18. The Docker image build dominates its time.
echo "== packaging: unit, Docker image, .deb"
packaging_start=$SECONDS
bash scripts/packaging-test.sh
echo "== packaging step: $((SECONDS - packaging_start)) s"
