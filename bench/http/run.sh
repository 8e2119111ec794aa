#!/usr/bin/env bash
# bench/http: requests/s and p99 of gatherd's /api/stats (16 and 256 keep-alive connections) and
# a filtered /api/invocations page over the million-row database of bench/store, and /health's
# p99 while 5,000 idle and 500 slow-header connections are held open, each against nginx serving
# a static file of the same size on the same machine in the same run (the ceiling). See README.md.
# Targets: /api/stats >= 0.9 of nginx's requests/s with p99 <= 2x nginx's; /health p99 <= 10 ms.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${BUILD_DIR:-$repo/build}" && pwd)"
work="${WORK_DIR:-/tmp/gatherd-bench-http}"
db="${BENCH_DB:-$work/store.db}"
rows="${ROWS:-1000000}"
duration="${DURATION:-10s}"
connection_counts="${CONNECTIONS:-16 256}"
threads="${THREADS:-2}"
idle="${IDLE:-5000}"
slow="${SLOW:-500}"
health_connections="${HEALTH_CONNECTIONS:-16}"
gatherd_port="${GATHERD_PORT:-18481}"
nginx_port="${NGINX_PORT:-18482}"

mkdir -p "$work"
chmod 700 "$work"
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench/http needs $tool (apt-get install $tool)" >&2; exit 2; }
done
max_wrk=0
for c in $connection_counts "$health_connections"; do (( c > max_wrk )) && max_wrk=$c; done
# Every held connection and every wrk connection is a descriptor in the server (and the clients).
sockets=$((idle + slow + max_wrk + 100))
ulimit -n "$(ulimit -Hn)"
if (( $(ulimit -n) < sockets + 64 )); then
  echo "open-file limit $(ulimit -n) is too low for $sockets connections" >&2
  exit 2
fi

echo "== building gatherd, the sqlite plugin, bench_store and bench_hold_connections in $build"
cmake --build "$build" --target gatherd sink_sqlite bench_store bench_hold_connections -j2 >/dev/null

if [[ ! -s "$db" ]]; then
  echo "== making the $rows-row database with bench_store (kept at $db)"
  "$build/bench/store/bench_store" --rows "$rows" --keep "$db" --no-raw --samples 5 | grep -E "ingest|sqlite sink:|kept" || true
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

cat > "$work/gatherd.ini" <<INI
[gatherd]
plugin_dir = $build/plugins
data_dir = $work/data
log_level = info

[http]
bind = 127.0.0.1:$gatherd_port
threads = 2
max_connections = $sockets

[sink.db]
plugin = sqlite
path = $db
INI
start_gatherd "$work/gatherd.ini" "$gatherd_port" "$work/gatherd.log"
pids+=("$gatherd_pid")
wait_for_integrity_check "$work/gatherd.log"

stats_path="/api/stats"
model="$(curl -sf "http://127.0.0.1:$gatherd_port/api/stats/models?range=30d" | sed -n 's/.*"model":"\([^"]*\)".*/\1/p' | head -1)"
invocations_path="/api/invocations?status=failure&model=${model// /%20}&limit=50"
health_path="/health"

# Static files with the same bytes the routes return, for nginx (its workers run as nobody, so
# they live outside the private work folder).
www="$work-www"
mkdir -p "$www"
chmod 755 "$www"
curl -sf "http://127.0.0.1:$gatherd_port$stats_path" > "$www/stats.json"
curl -sf "http://127.0.0.1:$gatherd_port$invocations_path" > "$www/invocations.json"
curl -sf "http://127.0.0.1:$gatherd_port$health_path" > "$www/health.json"
chmod 644 "$www"/*.json
start_nginx "$work" "$www" "$nginx_port" "$sockets" stats.json
pids+=("$nginx_pid")

# Prints "<requests/s> <p99 ms>" for one wrk run with $1 connections.
measure() {
  local connections="$1" url="$2" out rps p99
  out="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url")"
  if grep -q "Non-2xx" <<<"$out"; then echo "wrk saw errors for $url:" >&2; echo "$out" >&2; exit 1; fi
  if grep -q "Socket errors" <<<"$out"; then echo "wrk, $url: $(grep "Socket errors" <<<"$out")" >&2; fi
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")"
  echo "$rps $p99"
}
row() { printf "%-64s %5s %11.0f %9.2f %7s\n" "$@"; }
# verdict OK_EXPRESSION: "met" or "MISSED" (an awk condition over g, n, r).
verdict() { awk "BEGIN {print ($1) ? \"met\" : \"MISSED\"}"; }

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "== $(date -u '+%F %H:%M UTC'), load average $(loadavg), $(nproc) cores shared with the load generator"
echo "== wrk -t$threads -d$duration"
printf "%-64s %5s %11s %9s %7s\n" "target" "conns" "requests/s" "p99 ms" "bytes"
summary=()
first=1
for connections in $connection_counts; do
  names=(stats)
  (( first )) && names+=(invocations)
  first=0
  for name in "${names[@]}"; do
    path_var="${name}_path"
    read -r g_rps g_p99 < <(measure "$connections" "http://127.0.0.1:$gatherd_port${!path_var}")
    read -r n_rps n_p99 < <(measure "$connections" "http://127.0.0.1:$nginx_port/$name.json")
    size="$(stat -c %s "$www/$name.json")"
    row "gatherd ${!path_var}" "$connections" "$g_rps" "$g_p99" "$size"
    row "nginx /$name.json (static, same size)" "$connections" "$n_rps" "$n_p99" "$size"
    ratio="$(awk -v g="$g_rps" -v n="$n_rps" 'BEGIN {printf "%.2f", g / n}')"
    p99_ratio="$(awk -v g="$g_p99" -v n="$n_p99" 'BEGIN {printf "%.2f", g / n}')"
    if [[ "$name" == stats ]]; then
      summary+=("/api/stats, $connections connections: requests/s gatherd/nginx $ratio (target >= 0.90: $(verdict "$ratio >= 0.90")), p99 gatherd/nginx ${p99_ratio}x (target <= 2: $(verdict "$p99_ratio <= 2.0"))")
    else
      summary+=("/api/invocations page, $connections connections: requests/s gatherd/nginx $ratio, p99 ${p99_ratio}x (no target)")
    fi
  done
done

# /health while bench_hold_connections keeps $idle idle and $slow slow-header connections open
# (reopening those the server closes); prints "<requests/s> <p99 ms>" and keeps the holder's
# report in $work/hold-<name>.txt.
measure_held() {
  local name="$1" port="$2" path="$3" holder
  "$build/bench/http/bench_hold_connections" --port "$port" --idle "$idle" --slow "$slow" \
    --path "$path" > "$work/hold-$name.txt" 2>&1 &
  holder=$!
  for _ in $(seq 1 600); do
    grep -q '^ready' "$work/hold-$name.txt" && break
    kill -0 "$holder" 2>/dev/null || { cat "$work/hold-$name.txt" >&2; exit 1; }
    sleep 0.1
  done
  grep -q '^ready' "$work/hold-$name.txt" || { echo "$name: the held connections did not open:" >&2; cat "$work/hold-$name.txt" >&2; exit 1; }
  measure "$health_connections" "http://127.0.0.1:$port$path"
  kill -TERM "$holder"
  wait "$holder" || true
}
echo
echo "== /health while $idle idle and $slow slow-header connections (a request line, then a header byte a second) are open"
read -r g_rps g_p99 < <(measure_held gatherd "$gatherd_port" "$health_path")
g_threads="$(awk '/Threads/ {print $2}' /proc/$gatherd_pid/status)"
read -r n_rps n_p99 < <(measure_held nginx "$nginx_port" /health.json)
size="$(stat -c %s "$www/health.json")"
row "gatherd $health_path (held connections open)" "$health_connections" "$g_rps" "$g_p99" "$size"
row "nginx /health.json (static, same size; the same held)" "$health_connections" "$n_rps" "$n_p99" "$size"
for name in gatherd nginx; do
  echo "  $name, held connections: $(grep -v '^ready' "$work/hold-$name.txt" | head -1)"
  grep -v '^ready' "$work/hold-$name.txt" | tail -n +2 | sed 's/^ */    /'
done
summary+=("/health p99 with $idle idle + $slow slow-header connections open: $g_p99 ms (target <= 10: $(verdict "$g_p99 <= 10")); nginx $n_p99 ms")

echo
printf '%s\n' "${summary[@]}"
rss_kb="$(awk '/VmHWM/ {print $2}' /proc/$gatherd_pid/status)"
echo "gatherd peak RSS $((rss_kb / 1024)) MB, $g_threads threads while the connections were held ([http] threads = 2 + 2 handler threads)"
echo "load average at the end: $(loadavg)"
