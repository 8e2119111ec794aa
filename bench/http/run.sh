#!/usr/bin/env bash
# bench/http: requests/s and p99 of gatherd's /api/stats and a filtered /api/invocations page over
# the million-row database of bench/store, against nginx serving static JSON files of the same
# sizes on the same machine in the same run (the ceiling). See README.md.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
work="${WORK_DIR:-/tmp/gatherd-bench-http}"
db="${BENCH_DB:-$work/store.db}"
rows="${ROWS:-1000000}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-16}"
threads="${THREADS:-2}"
gatherd_port="${GATHERD_PORT:-18481}"
nginx_port="${NGINX_PORT:-18482}"

mkdir -p "$work"
chmod 700 "$work"
for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "bench/http needs $tool (apt-get install $tool)" >&2; exit 2; }
done

echo "== building gatherd, the sqlite plugin and bench_store in $build"
cmake --build "$build" --target gatherd sink_sqlite bench_store -j2 >/dev/null

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
log_level = warn

[http]
bind = 127.0.0.1:$gatherd_port

[sink.db]
plugin = sqlite
path = $db
INI
start_gatherd "$work/gatherd.ini" "$gatherd_port" "$work/gatherd.log"
pids+=("$gatherd_pid")

stats_path="/api/stats"
model="$(curl -sf "http://127.0.0.1:$gatherd_port/api/stats/models?range=30d" | sed -n 's/.*"model":"\([^"]*\)".*/\1/p' | head -1)"
invocations_path="/api/invocations?status=failure&model=${model// /%20}&limit=50"

# Static files with the same bytes the routes return, for nginx (its workers run as nobody, so
# they live outside the private work folder).
www="$work-www"
mkdir -p "$www"
chmod 755 "$www"
curl -sf "http://127.0.0.1:$gatherd_port$stats_path" > "$www/stats.json"
curl -sf "http://127.0.0.1:$gatherd_port$invocations_path" > "$www/invocations.json"
chmod 644 "$www"/*.json
cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  types { application/json json; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $www;
  }
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
pids+=("$!")
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$nginx_port/stats.json" >/dev/null && break
  sleep 0.1
done

# Prints "<requests/s> <p99 ms>" for one wrk run.
measure() {
  local url="$1" out rps p99
  out="$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$url")"
  if grep -q "Non-2xx" <<<"$out"; then echo "wrk saw errors for $url:" >&2; echo "$out" >&2; exit 1; fi
  rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v=v*1000}; print v}' <<<"$out")"
  echo "$rps $p99"
}

echo "== wrk -t$threads -c$connections -d$duration, $(nproc) cores shared with the load generator"
printf "%-52s %12s %10s %8s\n" "target" "requests/s" "p99 ms" "bytes"
declare -A result
for name in stats invocations; do
  path_var="${name}_path"
  read -r g_rps g_p99 < <(measure "http://127.0.0.1:$gatherd_port${!path_var}")
  read -r n_rps n_p99 < <(measure "http://127.0.0.1:$nginx_port/$name.json")
  size="$(stat -c %s "$www/$name.json")"
  printf "%-52s %12.0f %10.2f %8s\n" "gatherd ${!path_var}" "$g_rps" "$g_p99" "$size"
  printf "%-52s %12.0f %10.2f %8s\n" "nginx /$name.json (static, same size)" "$n_rps" "$n_p99" "$size"
  result[$name]="$(awk -v g="$g_rps" -v n="$n_rps" 'BEGIN {printf "%.2f", g / n}')"
done
echo
echo "ratio gatherd/nginx: /api/stats ${result[stats]} (target >= 0.50), /api/invocations page ${result[invocations]}"
rss_kb="$(awk '/VmHWM/ {print $2}' /proc/$gatherd_pid/status)"
threads_now="$(awk '/Threads/ {print $2}' /proc/$gatherd_pid/status)"
echo "gatherd peak RSS $((rss_kb / 1024)) MB, $threads_now threads"
