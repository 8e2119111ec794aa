#!/usr/bin/env bash
# bench/soak: gatherd (xychatai-codex against the fake upstream over plain HTTP, sqlite, sse with
# one live SSE client) at a 100 ms interval for 10 minutes, about 6,000 windows. Prints RSS after
# the warm-up and at the end, and once a minute in between. Target: growth <= 1 MB. See README.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
seconds="${SOAK_SECONDS:-600}"
# At 100 ms the bounded caches fill in about three minutes (the sqlite page cache up to cache_mb,
# the writer's 1,024 remembered invocations); growth after that is what the target is about.
warmup_s="${WARMUP_SECONDS:-180}"
interval="${INTERVAL:-100ms}"
work="$(mktemp -d /tmp/gatherd-bench-soak-XXXXXX)"
chmod 700 "$work"

echo "== building gatherd, its plugins and the fake upstream in $build"
cmake --build "$build" -j2 --target gatherd source_xychatai sink_sqlite sink_sse \
  xychatai-fake-upstream >/dev/null
fake="$(find "$build/plugins/sources/xychatai-codex" -maxdepth 2 -name xychatai-fake-upstream -type f | head -1)"
[[ -x "$fake" ]] || { echo "bench/soak: no xychatai-fake-upstream under $build" >&2; exit 2; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$fake" --rolling 1 --print-port > "$work/fake.port" 2>"$work/fake.log" &
pids+=("$!")
for _ in $(seq 1 100); do [[ -s "$work/fake.port" ]] && break; sleep 0.05; done
fake_port="$(head -1 "$work/fake.port")"
http_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

mkdir -p "$work/data"
cat > "$work/gatherd.ini" <<INI
[gatherd]
interval = $interval
plugin_dir = $build/plugins
data_dir = $work/data
log_level = warn

[http]
bind = 127.0.0.1:$http_port

[source.xychatai]
plugin = xychatai-codex
base_url = http://127.0.0.1:$fake_port
cookie = soak-cookie

[sink.db]
plugin = sqlite

[sink.events]
plugin = sse
INI
"$build/gatherd" --config "$work/gatherd.ini" > "$work/gatherd.log" 2>&1 &
gatherd_pid=$!
pids+=("$gatherd_pid")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$http_port/ready" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$http_port/ready" >/dev/null || { cat "$work/gatherd.log"; exit 1; }
curl -sN "http://127.0.0.1:$http_port/events" > "$work/events.txt" 2>/dev/null &
pids+=("$!")

rss_kb() { awk '/^VmRSS/ {print $2}' /proc/"$gatherd_pid"/status; }
requests() { curl -sf "http://127.0.0.1:$fake_port/__fake/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'; }
rows() { sqlite3 "file:$work/data/gatherd.db?mode=ro" "SELECT count(*) FROM codex_invocations" 2>/dev/null || echo "?"; }

echo "== interval $interval, warm-up ${warmup_s}s, then ${seconds}s"
sleep "$warmup_s"
start_rss="$(rss_kb)"
start_requests="$(requests)"
echo "start: RSS $start_rss kB, $start_requests polls so far"
elapsed=0
while [[ "$elapsed" -lt "$seconds" ]]; do
  step=$((seconds - elapsed < 60 ? seconds - elapsed : 60))
  sleep "$step"
  elapsed=$((elapsed + step))
  kill -0 "$gatherd_pid" 2>/dev/null || { echo "gatherd exited:"; cat "$work/gatherd.log"; exit 1; }
  echo "  +${elapsed}s: RSS $(rss_kb) kB, $(($(requests) - start_requests)) polls, $(grep -c '^event:' "$work/events.txt" || true) SSE events"
done
end_rss="$(rss_kb)"
polls=$(($(requests) - start_requests))
echo "end: RSS $end_rss kB after $polls polls in ${seconds}s ($(rows) invocations stored)"
echo "growth: $((end_rss - start_rss)) kB (target <= 1024 kB)"
warnings="$(grep -c -iE 'warn|error' "$work/gatherd.log" || true)"
echo "log lines with warn/error: $warnings"
