#!/usr/bin/env bash
# bench/sse: 10,000 concurrent SSE streams on loopback against the real gatherd (demo source,
# sqlite store, sse sink). Prints gatherd's peak RSS, its threads (by name) and the delivery
# latency of each invocation event to every client; then nginx holding the same number of
# keep-alive connections that each fetch a file of the event's size once a second, in the same
# run. Targets: p99 <= 100 ms, RSS <= 48 MB, the serving layer on <= 4 threads.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${BUILD_DIR:-$repo/build}" && pwd)"
work="${WORK_DIR:-/tmp/gatherd-bench-sse}"
clients="${CLIENTS:-10000}"
seconds="${SECONDS_MEASURED:-30}"
port="${GATHERD_PORT:-18491}"
nginx_port="${NGINX_PORT:-18492}"

rm -rf "$work" "$work-www"
mkdir -p "$work"
chmod 700 "$work"
command -v nginx >/dev/null || { echo "bench/sse needs nginx (apt-get install nginx)" >&2; exit 2; }
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
threads = 2
max_connections = $((clients + 100))

[source.demo]
plugin = demo
calls_per_minute = 60
seed = 11

[sink.db]
plugin = sqlite

[sink.events]
plugin = sse
max_clients = $((clients + 100))
INI

# Each stream is a descriptor in both processes.
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < clients + 200 )); then
  echo "open-file limit $(ulimit -n) is too low for $clients clients" >&2
  exit 2
fi
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "== $(date -u '+%F %H:%M UTC'), load average $(loadavg), $(nproc) cores shared with the clients"
start_gatherd "$work/gatherd.ini" "$port" "$work/gatherd.log"
sampler_pid=""
nginx_pid=""
trap 'kill $gatherd_pid ${sampler_pid} ${nginx_pid} 2>/dev/null || true; wait 2>/dev/null || true' EXIT
idle_rss_kb="$(awk '/VmRSS/ {print $2}' /proc/$gatherd_pid/status)"
idle_threads="$(awk '/Threads/ {print $2}' /proc/$gatherd_pid/status)"

# sample PID... > FILE: the peak summed VmRSS and thread count of the processes, every 200 ms,
# until the first one exits.
sample() {
  local out="${*: -1}" max_rss=0 max_threads=0 rss threads
  local procs=("${@:1:$#-1}")
  while kill -0 "${procs[0]}" 2>/dev/null; do
    read -r rss threads < <(for p in "${procs[@]}"; do cat "/proc/$p/status" 2>/dev/null; done |
      awk '/VmRSS/ {r+=$2} /Threads/ {t+=$2} END {print r+0, t+0}')
    (( rss > max_rss )) && max_rss=$rss
    (( threads > max_threads )) && max_threads=$threads
    echo "$max_rss $max_threads" > "$out"
    sleep 0.2
  done
}
# Thread names of PID with their counts ("2 http-io, 1 gatherd, ...").
thread_names() {
  cat /proc/"$1"/task/*/comm | sort | uniq -c | sort -rn | awk '{printf "%s%d %s", sep, $1, $2; sep=", "}'
}
sample "$gatherd_pid" "$work/peak" &
sampler_pid=$!

echo "== $clients SSE streams on /events, measuring $seconds s after all are connected"
"$build/bench/sse/bench_sse_client" --port "$port" --clients "$clients" --seconds "$seconds" | tee "$work/client.txt"
read -r peak_rss_kb peak_threads < "$work/peak"
hwm_kb="$(awk '/VmHWM/ {print $2}' /proc/$gatherd_pid/status)"
names="$(thread_names "$gatherd_pid")"
serving_threads="$(cat /proc/"$gatherd_pid"/task/*/comm | grep -c '^http-' || true)"
result="$(grep '^RESULT' "$work/client.txt")"
p99="$(sed -n 's/.* p99_ms=\([0-9]*\).*/\1/p' <<<"$result")"
open="$(sed -n 's/.*clients=\([0-9]*\).*/\1/p' <<<"$result")"
event_bytes="$(sed -n 's/.*event_bytes=\([0-9]*\).*/\1/p' <<<"$result")"
kill "$gatherd_pid" "$sampler_pid" 2>/dev/null || true
wait "$gatherd_pid" "$sampler_pid" 2>/dev/null || true

# nginx side by side: the same number of keep-alive connections, each fetching a static file of
# one invocation event's size once a second (a pull per client where gatherd pushes).
www="$work-www"
mkdir -p "$www"
chmod 755 "$www"
head -c "${event_bytes:-400}" /dev/zero | tr '\0' 'x' > "$www/event.txt"
chmod 644 "$www/event.txt"
start_nginx "$work" "$www" "$nginx_port" "$((clients + 100))" event.txt
nginx_procs=("$nginx_pid" $(pgrep -P "$nginx_pid"))
sample "${nginx_procs[@]}" "$work/nginx-peak" &
sampler_pid=$!
echo
echo "== nginx: $clients keep-alive connections, each GET /event.txt ($event_bytes bytes) once a second, $seconds s"
"$build/bench/sse/bench_sse_client" --port "$nginx_port" --clients "$clients" --seconds "$seconds" \
  --pull /event.txt | tee "$work/nginx-client.txt"
read -r nginx_rss_kb nginx_threads < "$work/nginx-peak"
nginx_p99="$(sed -n 's/^RESULT.* p99_ms=\([0-9]*\).*/\1/p' "$work/nginx-client.txt")"
nginx_open="$(sed -n 's/^RESULT clients=\([0-9]*\).*/\1/p' "$work/nginx-client.txt")"

met() { if (( $1 )); then echo met; else echo MISSED; fi; }
echo
echo "gatherd idle: RSS $((idle_rss_kb / 1024)) MB, $idle_threads threads"
echo "gatherd with $open streams: peak VmRSS $((peak_rss_kb / 1024)) MB, VmHWM $((hwm_kb / 1024)) MB (target <= 48: $(met "hwm_kb <= 48 * 1024")); peak $peak_threads threads"
echo "gatherd threads by name: $names"
echo "serving layer (http-* threads): $serving_threads (target <= 4: $(met "serving_threads > 0 && serving_threads <= 4"))"
echo "event delivery p99, store write -> client: $p99 ms (target <= 100: $(met "p99 <= 100")); streams open at the end $open of $clients"
echo "nginx with $nginx_open keep-alive connections: p99 $nginx_p99 ms from the round's start, peak RSS $((nginx_rss_kb / 1024)) MB (master + workers), $nginx_threads threads"
echo "load average at the end: $(loadavg)"
