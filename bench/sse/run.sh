#!/usr/bin/env bash
# bench/sse: 10,000 concurrent SSE streams on loopback against the real gatherd (demo source,
# sqlite store, sse sink). Prints gatherd's peak RSS and thread count and the delivery latency of
# each invocation event to every client. Targets: RSS <= 64 MB, <= 32 threads, p99 <= 250 ms.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
work="${WORK_DIR:-/tmp/gatherd-bench-sse}"
clients="${CLIENTS:-10000}"
seconds="${SECONDS_MEASURED:-30}"
port="${GATHERD_PORT:-18491}"

rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
echo "== building gatherd, plugins and bench_sse_client in $build"
cmake --build "$build" --target gatherd sink_sqlite sink_sse source_demo bench_sse_client -j2 >/dev/null

cat > "$work/gatherd.ini" <<INI
[gatherd]
interval = 1s
plugin_dir = $build/plugins
data_dir = $work/data
log_level = warn

[http]
bind = 127.0.0.1:$port

[source.demo]
plugin = demo
calls_per_minute = 60
seed = 11

[sink.db]
plugin = sqlite

[sink.events]
plugin = sse
INI

# Each stream is a descriptor in both processes.
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < clients + 100 )); then
  echo "open-file limit $(ulimit -n) is too low for $clients clients" >&2
  exit 2
fi
start_gatherd "$work/gatherd.ini" "$port" "$work/gatherd.log"
sampler_pid=""
trap 'kill $gatherd_pid ${sampler_pid} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
idle_rss_kb="$(awk '/VmRSS/ {print $2}' /proc/$gatherd_pid/status)"
idle_threads="$(awk '/Threads/ {print $2}' /proc/$gatherd_pid/status)"

# Samples gatherd's RSS and threads while the clients run.
(
  max_rss=0; max_threads=0
  while kill -0 "$gatherd_pid" 2>/dev/null; do
    read -r rss threads < <(awk '/VmRSS/ {r=$2} /Threads/ {t=$2} END {print r, t}' /proc/$gatherd_pid/status)
    (( rss > max_rss )) && max_rss=$rss
    (( threads > max_threads )) && max_threads=$threads
    echo "$max_rss $max_threads" > "$work/peak"
    sleep 0.2
  done
) &
sampler_pid=$!

echo "== $clients clients, measuring $seconds s after all are connected ($(nproc) cores, shared with the clients)"
"$build/bench/sse/bench_sse_client" --port "$port" --clients "$clients" --seconds "$seconds" | tee "$work/client.txt"
read -r peak_rss_kb peak_threads < "$work/peak"
p99="$(sed -n 's/^RESULT clients=\([0-9]*\) p99_ms=\([0-9]*\)/\2/p' "$work/client.txt")"
open="$(sed -n 's/^RESULT clients=\([0-9]*\) p99_ms=\([0-9]*\)/\1/p' "$work/client.txt")"
echo
echo "gatherd idle: RSS $((idle_rss_kb / 1024)) MB, $idle_threads threads"
echo "gatherd with $open streams: peak RSS $((peak_rss_kb / 1024)) MB (target <= 64), peak threads $peak_threads (target <= 32)"
echo "event delivery p99: $p99 ms (target <= 250)"
verdict=ok
(( peak_rss_kb <= 64 * 1024 )) || verdict=missed
(( peak_threads <= 32 )) || verdict=missed
(( p99 <= 250 )) || verdict=missed
(( open >= clients )) || verdict=missed
echo "targets: $verdict"
