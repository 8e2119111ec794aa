#!/usr/bin/env bash
# bench/footprint: gatherd beside collectd 5.12 (curl_json + csv), each polling its own fake
# xychatai upstream over plain HTTP on 127.0.0.1, first every 200 ms, then every 10 s. Prints CPU
# per poll, CPU per hour at the 10 s cadence, wake-ups per second, RSS, PSS, threads and the
# gatherd/collectd ratios. See README.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
fast_s="${FAST_SECONDS:-50}"    # measured time at the 200 ms cadence
slow_s="${SLOW_SECONDS:-120}"   # measured time at the 10 s cadence
warmup_s="${WARMUP_SECONDS:-5}"
work="$(mktemp -d /tmp/gatherd-bench-footprint-XXXXXX)"
chmod 700 "$work"

# shellcheck source=../../scripts/setup.sh
source "$repo/scripts/setup.sh"
ensure_packages collectd-core libyajl2 curl

echo "== building gatherd, its plugins and the fake upstream in $build"
cmake --build "$build" -j2 --target gatherd source_xychatai sink_sqlite sink_sse \
  xychatai-fake-upstream >/dev/null
fake="$(find "$build/plugins/sources/xychatai-codex" -maxdepth 2 -name xychatai-fake-upstream -type f | head -1)"
[[ -x "$fake" ]] || { echo "bench/footprint: no xychatai-fake-upstream under $build" >&2; exit 2; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A free loopback port (the kernel picks it; a race with another process is unlikely).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_fake NAME: one fake upstream with one new call per request (20 records per response,
# about 12 KB), port in ${NAME}_port.
start_fake() {
  local name="$1" port
  "$fake" --rolling 1 --print-port > "$work/$name-fake.port" 2>"$work/$name-fake.log" &
  pids+=("$!")
  for _ in $(seq 1 100); do [[ -s "$work/$name-fake.port" ]] && break; sleep 0.05; done
  port="$(head -1 "$work/$name-fake.port")"
  printf -v "${name}_port" '%s' "$port"
}
requests_of() { curl -sf "http://127.0.0.1:$1/__fake/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p'; }

# Whole process, every thread: on-CPU ns (schedstat), context switches, RSS/PSS kB, threads.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f", s}'; }
switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {printf "%.0f", s}'
}
rss_kb() { awk '/^VmRSS/ {print $2}' /proc/"$1"/status; }
pss_kb() { awk '/^Pss:/ {print $2}' /proc/"$1"/smaps_rollup; }
threads() { awk '/^Threads/ {print $2}' /proc/"$1"/status; }

write_collectd_conf() {
  local interval="$1"
  local dir="$work/collectd-$interval"
  mkdir -p "$dir/csv"
  cat > "$dir/collectd.conf" <<CONF
Hostname "bench"
FQDNLookup false
BaseDir "$dir"
PIDFile "$dir/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval $interval
LoadPlugin curl_json
LoadPlugin csv
<Plugin csv>
  DataDir "$dir/csv"
  StoreRates false
</Plugin>
<Plugin curl_json>
  <URL "http://127.0.0.1:$collectd_port/frontend-api/vibe-code/quota">
    Instance "xychatai"
    Header "Cookie: share-session=bench-cookie"
    <Key "data/codex/recentRecords/*/inputTokens">
      Type "gauge"
    </Key>
    <Key "data/codex/recentRecords/*/outputTokens">
      Type "gauge"
    </Key>
    <Key "data/codex/recentRecords/*/totalTokens">
      Type "gauge"
    </Key>
    <Key "data/codex/recentRecords/*/cost">
      Type "gauge"
    </Key>
    <Key "data/codex/recentRecords/*/responseTime">
      Type "gauge"
    </Key>
  </URL>
</Plugin>
CONF
  echo "$dir/collectd.conf"
}

write_gatherd_conf() {
  local interval="$1"
  local dir="$work/gatherd-$interval"
  mkdir -p "$dir/data"
  cat > "$dir/gatherd.ini" <<INI
[gatherd]
interval = $interval
plugin_dir = $build/plugins
data_dir = $dir/data
log_level = warn

[http]
bind = 127.0.0.1:$gatherd_http_port

[source.xychatai]
plugin = xychatai-codex
base_url = http://127.0.0.1:$gatherd_port
cookie = bench-cookie

[sink.db]
plugin = sqlite

[sink.events]
plugin = sse
INI
  echo "$dir/gatherd.ini"
}

# measure NAME PID FAKE_PORT SECONDS: prints "cpu_ns polls switches seconds rss pss threads".
measure() {
  local pid="$2" port="$3" seconds="$4"
  local cpu0 sw0 req0 t0 cpu1 sw1 req1 t1
  cpu0="$(cpu_ns "$pid")"; sw0="$(switches "$pid")"; req0="$(requests_of "$port")"
  t0="$(date +%s.%N)"
  sleep "$seconds"
  cpu1="$(cpu_ns "$pid")"; sw1="$(switches "$pid")"; req1="$(requests_of "$port")"
  t1="$(date +%s.%N)"
  echo "$((cpu1 - cpu0)) $((req1 - req0)) $((sw1 - sw0)) $(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}') $(rss_kb "$pid") $(pss_kb "$pid") $(threads "$pid")"
}

start_fake collectd
start_fake gatherd

declare -A figures
run_cadence() {
  local label="$1" collectd_interval="$2" gatherd_interval="$3" seconds="$4"
  gatherd_http_port="$(free_port)"
  local cconf gconf cpid gpid
  cconf="$(write_collectd_conf "$collectd_interval")"
  gconf="$(write_gatherd_conf "$gatherd_interval")"
  collectd -f -C "$cconf" > "$work/collectd-$label.log" 2>&1 &
  cpid=$!
  pids+=("$cpid")
  "$build/gatherd" --config "$gconf" > "$work/gatherd-$label.log" 2>&1 &
  gpid=$!
  pids+=("$gpid")
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$gatherd_http_port/ready" >/dev/null && break
    sleep 0.1
  done
  kill -0 "$cpid" 2>/dev/null || { cat "$work/collectd-$label.log"; exit 1; }
  kill -0 "$gpid" 2>/dev/null || { cat "$work/gatherd-$label.log"; exit 1; }
  echo "== $label: warm-up ${warmup_s}s, then ${seconds}s measured, both at once"
  sleep "$warmup_s"
  measure collectd "$cpid" "$collectd_port" "$seconds" > "$work/collectd-$label.figures" &
  local mpid=$!
  measure gatherd "$gpid" "$gatherd_port" "$seconds" > "$work/gatherd-$label.figures"
  wait "$mpid"
  figures[collectd-$label]="$(cat "$work/collectd-$label.figures")"
  figures[gatherd-$label]="$(cat "$work/gatherd-$label.figures")"
  kill "$cpid" "$gpid"
  wait "$cpid" "$gpid" 2>/dev/null || true
  if [[ "$(ls "$work/collectd-$collectd_interval/csv" | wc -l)" -eq 0 ]]; then
    echo "bench/footprint: collectd wrote no csv values:" >&2
    cat "$work/collectd-$label.log" >&2
    exit 1
  fi
}

run_cadence 200ms 0.2 200ms "$fast_s"
run_cadence 10s 10 10s "$slow_s"

echo
printf "%-10s %-7s %8s %12s %12s %11s %9s %9s %8s\n" \
  "who" "cadence" "polls" "CPU/poll ms" "CPU/hour s" "wakeups/s" "RSS MB" "PSS MB" "threads"
for label in 200ms 10s; do
  for who in collectd gatherd; do
    read -r cpu polls sw secs rss pss thr <<<"${figures[$who-$label]}"
    awk -v who="$who" -v label="$label" -v cpu="$cpu" -v polls="$polls" -v sw="$sw" -v secs="$secs" \
      -v rss="$rss" -v pss="$pss" -v thr="$thr" 'BEGIN {
        per_poll = polls > 0 ? cpu / polls / 1e6 : 0
        per_hour = label == "10s" ? sprintf("%.2f", cpu / 1e9 / secs * 3600) : "-"
        printf "%-10s %-7s %8d %12.3f %12s %11.1f %9.1f %9.1f %8d\n", who, label, polls, per_poll,
               per_hour, sw / secs, rss / 1024, pss / 1024, thr
      }'
  done
done
echo
# ratio LABEL FIELD MODE: gatherd's figure over collectd's; MODE poll divides by the polls,
# rate by the seconds, plain takes the figure as it is.
ratio() {
  local label="$1" field="$2" mode="$3"
  read -r -a c <<<"${figures[collectd-$label]}"
  read -r -a g <<<"${figures[gatherd-$label]}"
  awk -v cf="${c[$field]}" -v cp="${c[1]}" -v cs="${c[3]}" -v gf="${g[$field]}" -v gp="${g[1]}" \
    -v gs="${g[3]}" -v mode="$mode" 'BEGIN {
    if (mode == "poll") { c = cp > 0 ? cf / cp : 0; g = gp > 0 ? gf / gp : 0 }
    else if (mode == "rate") { c = cf / cs; g = gf / gs }
    else { c = cf; g = gf }
    printf "%.2f", (c > 0 ? g / c : 0) }'
}
echo "ratio gatherd/collectd (targets: CPU per poll <= 1.0, CPU per hour at 10 s <= 1.0;"
echo "gatherd also: RSS <= 15 MB, <= 10 threads, <= 1 wake-up per second when idle):"
echo "  CPU per poll at 200 ms: $(ratio 200ms 0 poll)   at 10 s: $(ratio 10s 0 poll)"
echo "  CPU per hour at 10 s:   $(ratio 10s 0 rate)"
echo "  wake-ups per second:    200 ms $(ratio 200ms 2 rate)   10 s $(ratio 10s 2 rate)"
echo "  RSS: $(ratio 10s 4 plain)   PSS: $(ratio 10s 5 plain)   threads: $(ratio 10s 6 plain)"
