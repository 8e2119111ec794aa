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

# wait_for_integrity_check LOG: waits (at most 5 minutes) until the sqlite sink's background
# quick_check has finished. On a million-row database it keeps a core busy for 5-30 s after
# /ready: measuring during it measures the check. Needs log_level = info (the line it waits for).
wait_for_integrity_check() {
  local log="$1"
  for _ in $(seq 1 3000); do
    grep -q "integrity check (quick_check)\|the database is corrupt" "$log" && return 0
    sleep 0.1
  done
  echo "bench: the sqlite sink's integrity check did not finish within 5 minutes" >&2
  exit 1
}

# start_nginx WORK ROOT PORT CONNECTIONS FILE: runs nginx in the background from a temp config in
# WORK (no service, no root directory) serving the static files in ROOT on 127.0.0.1:PORT with
# room for CONNECTIONS keep-alive connections, sets nginx_pid, and returns once /FILE answers.
# ROOT must be readable by nginx's workers (they run as nobody).
start_nginx() {
  local work="$1" root="$2" port="$3" connections="$4" file="$5"
  cat > "$work/nginx.conf" <<NGINX
worker_processes auto;
worker_rlimit_nofile $((connections + 64));
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon off;
events { worker_connections $((connections + 64)); }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  types { application/json json; text/plain txt; }
  server {
    listen 127.0.0.1:$port backlog=4096;
    root $root;
  }
}
NGINX
  nginx -c "$work/nginx.conf" -p "$work" &
  nginx_pid=$!
  for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/$file" >/dev/null && return 0
    sleep 0.1
  done
  echo "nginx did not answer on 127.0.0.1:$port:" >&2
  cat "$work/nginx-error.log" >&2
  exit 1
}
