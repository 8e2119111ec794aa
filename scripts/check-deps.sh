#!/usr/bin/env bash
# Dependencies point one way (CONTRIBUTING.md): sdk <- lib <- {core, plugins}; the core and the
# plugins never reach into each other. Checked twice: the #include lines of each tree, and the
# CMake link graph of a configured build (cmake --graphviz), so that a link the includes do not
# show (a test linking a plugin's library) fails too.
#   scripts/check-deps.sh BUILD_DIR
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:?usage: scripts/check-deps.sh BUILD_DIR}" && pwd)"
failed=0

# -- includes: what each tree may include with "..." (system and third-party headers use <...>).
check_includes() {
  local tree="$1" allowed="$2" what="$3" hits
  hits=$(grep -rnE '#include *"' "$root/$tree" --include='*.cpp' --include='*.hpp' |
    grep -vE "#include *\"($allowed)" || true)
  if [[ -n "$hits" ]]; then
    echo "$hits" | sed "s|$root/||" >&2
    echo "check-deps: $what" >&2
    failed=1
  fi
}
check_includes sdk/include 'gatherd/sdk/' "the sdk includes only its own headers"
check_includes sdk/testing 'gatherd/sdk/' "sdk/testing includes only the sdk"
check_includes lib 'gatherd/(sdk|lib)/' "lib/ includes only the sdk and lib/"
check_includes core 'gatherd/(sdk|lib)/|core/' "the core includes only the sdk, lib/ and core/"
# A plugin includes its own headers by plain name, the sdk and lib/; never core/.
if grep -rnE '#include *[<"](core/|gatherd/core/)' "$root/plugins"; then
  echo "check-deps: a plugin includes core headers" >&2
  failed=1
fi

# -- the link graph. Targets are classified by name (the names the CMake files give them):
#   sdk: gatherd_sdk*; lib: gatherd_lib_*; core: gatherd, gatherd_core*; core tests: core_*_tests
#   and their fixture_* plugins; a plugin: (sink|source)_<id>[_logic], its tests
#   (sink|source)_<id>_tests; third-party: names with '::' and system libraries. Everything else
#   (integration, runtime, bench, fuzz and shared test support) may link anything.
# A plugin's tests may link another plugin only where listed here, with the reason:
#   sink_sse_tests and sink_prometheus_tests read a real sqlite store (replay, totals at start).
readonly allowed_test_links=" sink_sse_tests->sink_sqlite_logic sink_prometheus_tests->sink_sqlite_logic "
graph_dir=$(mktemp -d)
trap 'rm -rf "$graph_dir"' EXIT
(cd "$graph_dir" && cmake --graphviz=deps.dot "$build" >/dev/null)
kind() {
  case "$1" in
    *::* | dl | pthread | rt | m) echo third ;;
    gatherd_sdk*) echo sdk ;;
    gatherd_lib_*) echo lib ;;
    gatherd | gatherd_core*) echo core ;;
    core_*_tests | fixture_*) echo core-test ;;
    sink_*_tests | source_*_tests) echo plugin-test ;;
    sink_* | source_*) echo plugin ;;
    *) echo free ;;
  esac
}
plugin_of() { local name="${1%_tests}"; echo "${name%_logic}"; }
edges=0
while read -r from to; do
  edges=$((edges + 1))
  from_kind=$(kind "$from") to_kind=$(kind "$to") ok=0
  case "$from_kind:$to_kind" in
    *:third | *:sdk) ok=1 ;;
    lib:lib | core:lib | core:core | plugin:lib | plugin-test:lib | core-test:lib) ok=1 ;;
    core-test:core | core-test:core-test | core-test:free | plugin-test:free | free:*) ok=1 ;;
    plugin:plugin | plugin-test:plugin | plugin-test:plugin-test)
      [[ "$(plugin_of "$from")" == "$(plugin_of "$to")" ]] && ok=1
      [[ "$allowed_test_links" == *" $from->$to "* ]] && ok=1
      ;;
  esac
  if ((ok == 0)); then
    echo "check-deps: $from ($from_kind) links $to ($to_kind)" >&2
    failed=1
  fi
done < <(sed -nE 's@.*// ([^ ]+) -> ([^ ]+)$@\1 \2@p' "$graph_dir/deps.dot")
if ((edges == 0)); then
  echo "check-deps: no link edges in the graph of $build (not a configured build?)" >&2
  failed=1
fi
if ((failed)); then
  echo "check-deps: dependencies point the wrong way (see CONTRIBUTING.md)" >&2
  exit 1
fi
echo "check-deps: includes and $edges link edges point one way"
