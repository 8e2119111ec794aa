#!/usr/bin/env bash
# bench/metrics: scrape latency and CPU per scrape of GET /metrics with 10 sources x 50 models,
# and the window start lag with and without a 1 s scrape in the same run. See README.md.
set -euo pipefail
source "$(dirname "$0")/../common.sh"

repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${BUILD_DIR:-$repo/build}"
work="${WORK_DIR:-/tmp/gatherd-bench-metrics}"
port="${GATHERD_PORT:-18491}"
sources="${SOURCES:-10}"
models="${MODELS:-50}"
scrapes="${SCRAPES:-2000}"
phase_s="${PHASE_SECONDS:-60}"
phases="${PHASES:-4}"
interval="${INTERVAL:-1s}"

for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "bench/metrics needs $tool" >&2; exit 2; }
done
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
echo "== building gatherd and the demo, sqlite, stdout and prometheus plugins in $build"
cmake --build "$build" --target gatherd source_demo sink_sqlite sink_stdout sink_prometheus -j2 >/dev/null

model_list="$(seq -f "bench-model-%02g" 1 "$models" | paste -sd, -)"
{
  cat <<INI
[gatherd]
interval = $interval
timeout = 5s
; every source's window starts at the same wall-clock instant: a cap below the number of sources
; would record the rest skipped
max_parallel = $sources
plugin_dir = $build/plugins
data_dir = $work/data
log_level = warn

[http]
bind = 127.0.0.1:$port

[sink.db]
plugin = sqlite
path = $work/gatherd.db

[sink.windows]
plugin = stdout
path = $work/windows.jsonl
windows = true

[sink.metrics]
plugin = prometheus
max_models = $models
INI
  for i in $(seq 1 "$sources"); do
    printf '\n[source.demo-%02d]\nplugin = demo\ncalls_per_minute = 3000\nseed = %d\nmodels = %s\n' \
      "$i" "$i" "$model_list"
  done
} > "$work/gatherd.ini"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
start_gatherd "$work/gatherd.ini" "$port" "$work/gatherd.log"
pids+=("$gatherd_pid")
url="http://127.0.0.1:$port/metrics"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$gatherd_pid/stat"; }
hertz="$(getconf CLK_TCK)"

echo "== waiting until every source has every model ($sources x $models)"
for _ in $(seq 1 120); do
  series="$(curl -sf "$url" | grep -c '^gatherd_invocations_total{' || true)"
  [[ "$series" -ge $((sources * models * 2)) ]] && break
  sleep 1
done
curl -sf "$url" > "$work/metrics.txt"
echo "exposition: $(wc -c < "$work/metrics.txt") bytes, $(grep -vc '^#' "$work/metrics.txt") samples," \
  "$(grep -c '^gatherd_invocations_total{' "$work/metrics.txt") invocation series"

echo "== $scrapes scrapes over one kept-alive connection (curl, text format)"
urls=()
for _ in $(seq 1 "$scrapes"); do urls+=(-o /dev/null "$url"); done
idle_before="$(cpu_ticks)"; sleep 5; idle_after="$(cpu_ticks)"
before="$(cpu_ticks)"; start_ns="$(date +%s%N)"
curl -s -w '%{time_total}\n' "${urls[@]}" > "$work/scrape-times.txt"
end_ns="$(date +%s%N)"; after="$(cpu_ticks)"
python3 - "$work/scrape-times.txt" "$before" "$after" "$idle_before" "$idle_after" "$hertz" \
  "$start_ns" "$end_ns" <<'PY'
import sys
times = sorted(float(x) * 1000 for x in open(sys.argv[1]) if x.strip())
before, after, idle_before, idle_after, hz = map(float, sys.argv[2:7])
start_ns, end_ns = map(int, sys.argv[7:9])
wall_s = (end_ns - start_ns) / 1e9
idle_rate = (idle_after - idle_before) / hz / 5.0        # CPU s per s with no scrape
busy = (after - before) / hz - idle_rate * wall_s          # CPU s the scrapes added
pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"scrape latency: p50 {pick(0.5):.2f} ms, p90 {pick(0.9):.2f} ms, p99 {pick(0.99):.2f} ms, "
      f"max {times[-1]:.2f} ms over {len(times)} scrapes")
print(f"gatherd CPU per scrape: {busy / len(times) * 1000:.2f} ms "
      f"(idle {idle_rate * 100:.1f}% of a core without scrapes; tick {1000 / hz:.0f} ms)")
print("target p99 <= 5 ms:", "met" if pick(0.99) <= 5 else "MISSED")
PY

echo "== window start lag: $phases phases of $phase_s s, alternating no scrape / a scrape every 1 s"
: > "$work/phases.txt"
for phase in $(seq 1 "$phases"); do
  mode=$(( phase % 2 == 1 ? 0 : 1 ))
  curl -sf "$url" > "$work/phase-$phase-begin.txt"
  begin_ms="$(date +%s%3N)"
  if [[ "$mode" == 1 ]]; then
    end=$(( $(date +%s) + phase_s ))
    while [[ "$(date +%s)" -lt "$end" ]]; do curl -sf -o /dev/null "$url"; sleep 1; done
  else
    sleep "$phase_s"
  fi
  end_ms="$(date +%s%3N)"
  curl -sf "$url" > "$work/phase-$phase-end.txt"
  echo "$phase $mode $begin_ms $end_ms" >> "$work/phases.txt"
done
python3 - "$work" <<'PY'
import json, re, sys
from datetime import datetime, timezone
work = sys.argv[1]
def ms(iso):
    return int(datetime.strptime(iso.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f" if "." in iso else "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() * 1000)
windows = []
for line in open(f"{work}/windows.jsonl"):
    if '"stream":"window"' not in line: continue
    w = json.loads(line)["window"]
    if w.get("startedAt"): windows.append((w["windowMs"], ms(w["startedAt"]) - w["windowMs"], w["outcome"]))
def histogram(path):
    buckets, total, count = {}, 0.0, 0.0
    for line in open(path):
        m = re.match(r'gatherd_window_start_lag_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)', line)
        if not m: continue
        kind, labels, value = m.group(1), m.group(2), float(m.group(3))
        if kind == "bucket":
            le = re.search(r'le="([^"]+)"', labels).group(1)
            buckets[le] = buckets.get(le, 0) + value
        elif kind == "sum": total += value
        else: count += value
    return buckets, total, count
results = {0: [], 1: []}
for line in open(f"{work}/phases.txt"):
    phase, mode, begin, end = map(int, line.split())
    lags = sorted(l for (w, l, o) in windows if begin <= w < end)
    b0, s0, c0 = histogram(f"{work}/phase-{phase}-begin.txt")
    b1, s1, c1 = histogram(f"{work}/phase-{phase}-end.txt")
    n = c1 - c0
    mean_us = (s1 - s0) / n * 1e6 if n else 0
    # p99 bucket from the histogram deltas (upper bound of the bucket holding the 99th percentile)
    p99_bucket = "+Inf"
    for le in sorted((k for k in b1 if k != "+Inf"), key=float) + ["+Inf"]:
        if n and (b1[le] - b0.get(le, 0)) >= 0.99 * n: p99_bucket = le; break
    results[mode].append(lags)
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] if lags else float("nan")
    print(f"phase {phase} ({'scrape every 1 s' if mode else 'no scrape'}): {len(lags)} windows, "
          f"lag (ledger, ms) p50 {pick(0.5)} p99 {pick(0.99)} max {lags[-1] if lags else 'n/a'}; "
          f"histogram: mean {mean_us:.0f} us, p99 <= {p99_bucket} s")
for mode in (0, 1):
    lags = sorted(x for phase in results[mode] for x in phase)
    if not lags: continue
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]
    print(f"{'with' if mode else 'without'} a 1 s scrape: {len(lags)} windows, lag p50 {pick(0.5)} ms, "
          f"p99 {pick(0.99)} ms, max {lags[-1]} ms, mean {sum(lags) / len(lags):.2f} ms")
PY
