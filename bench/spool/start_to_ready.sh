#!/usr/bin/env bash
# Start-up to /ready on a big database: start_to_ready.sh DB [BUILD_DIR] [RUNS]
# Copies nothing: gatherd opens DB in place (sqlite sink only, no source), the script times
# from exec to the first 200 of /ready, stops gatherd, and repeats RUNS times (default 5).
set -euo pipefail
db="${1:?usage: start_to_ready.sh DB [BUILD_DIR] [RUNS]}"
build="${2:-$(cd "$(dirname "$0")/../.." && pwd)/build}"
runs="${3:-5}"
build="$(cd "$build" && pwd)"  # the config is read from a temp folder: relative paths break
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
cat > "$work/gatherd.ini" <<INI
[gatherd]
plugin_dir = $build/plugins
data_dir = $work/data
log_level = info
[http]
bind = 127.0.0.1:$port
web_root = $work/web
[sink.db]
plugin = sqlite
path = $db
INI
rows=$(sqlite3 "$db" "SELECT COUNT(*) FROM codex_invocations" 2>/dev/null || echo "?")
echo "start_to_ready: $db ($rows invocations, $(du -h "$db" | cut -f1)), load $(cut -d' ' -f1 /proc/loadavg)"
for run in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  "$build/gatherd" --config "$work/gatherd.ini" > "$work/log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/ready" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/log"; exit 1; }
    sleep 0.01
  done
  ready=$(date +%s%N)
  echo "run $run: /ready after $(( (ready - start) / 1000000 )) ms"
  # Let the background integrity check report, then stop.
  for _ in $(seq 1 300); do grep -q "integrity check" "$work/log" && break; sleep 0.1; done
  grep -o "integrity check.*" "$work/log" | head -1 || true
  kill -TERM "$pid"
  wait "$pid" || true
done
