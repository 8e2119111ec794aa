# Shared by the benchmark scripts (source it): start the real gatherd and wait until it is ready.

# start_gatherd CONFIG PORT LOG: runs gatherd in the background, sets gatherd_pid, and returns
# once /ready answers (or prints the log and exits).
start_gatherd() {
  local config="$1" port="$2" log="$3"
  "$build/gatherd" --config "$config" > "$log" 2>&1 &
  gatherd_pid=$!
  # Opening a million-row database (with its integrity check) takes a while.
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/ready" >/dev/null && return 0
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$port/ready" >/dev/null || { cat "$log"; kill "$gatherd_pid"; exit 1; }
}
