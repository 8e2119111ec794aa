#!/usr/bin/env bash
# Runs docker-compose.yml with docker-compose.prometheus.yml, as the README tells users to:
# gatherd healthy, Prometheus scraping its /metrics with the token from .env (target up, the
# build info and the demo source's ok windows in PromQL), the alerting rules loaded. Called by
# scripts/docker-test.sh with the image it built (dockerd running).
#
# No registry is reachable here: when prom/prometheus:v2.42.0 is missing, a stand-in of that
# name is built from debian:bookworm-slim and Debian's own prometheus package (the same
# 2.42.0), with the official image's layout (/bin/prometheus, /prometheus owned by nobody).
# A user's Docker pulls the real image.
set -euo pipefail
IMAGE="$1"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
docker() { /usr/bin/docker "$@"; }
PROJECT="gatherd-compose-test-$$"
TOKEN="compose-test-token-$$"
work="$(mktemp -d)"
compose() {
  docker-compose --project-name "$PROJECT" --project-directory "$work/src" \
    -f "$work/src/docker-compose.yml" -f "$work/src/docker-compose.prometheus.yml" \
    -f "$work/override.yml" "$@"
}
cleanup() {
  compose down -v --timeout 30 >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
started=$SECONDS
phase() { echo "compose-test: $* (at $((SECONDS - started)) s)"; }
fail() {
  echo "compose-test: FAILED: $*" >&2
  compose logs --tail 40 >&2 || true
  exit 1
}
for port in 8080 9090; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    fail "127.0.0.1:$port is taken (the compose files publish gatherd on 8080, Prometheus on 9090)"
  fi
done

prometheus_image=$(awk '/image: prom\/prometheus/ {print $2}' docker-compose.prometheus.yml)
if ! docker image inspect "$prometheus_image" >/dev/null 2>&1; then
  phase "building a stand-in $prometheus_image from Debian's prometheus package"
  mkdir -p "$work/prometheus-image"
  cat >"$work/prometheus-image/Dockerfile" <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      prometheus && rm -rf /var/lib/apt/lists/* && mkdir -p /prometheus && \
    chown nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
DOCKERFILE
  docker build -q -t "$prometheus_image" "$work/prometheus-image" >/dev/null ||
    fail "docker build of the Prometheus stand-in"
fi

# The committed files, an .env as the README says, and the image docker-test built (instead of
# `build: .`, which would build the same image again).
git ls-files -z | tar -cf - --null -T - | (mkdir -p "$work/src" && tar -xf - -C "$work/src")
printf 'GATHERD_HTTP_TOKEN=%s\nXY_SESSION_COOKIE_VALUE=\n' "$TOKEN" >"$work/src/.env"
cat >"$work/override.yml" <<YAML
services:
  gatherd:
    image: $IMAGE
YAML
phase "docker-compose up (gatherd + Prometheus)"
compose up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; fail "compose up"; }

query() {
  curl -fsS --max-time 5 -G "http://127.0.0.1:9090/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // empty'
}
up="" build_info="" windows=""
for _ in $(seq 120); do
  up=$(query 'up{job="gatherd"}' 2>/dev/null || true)
  build_info=$(query 'count(gatherd_build_info)' 2>/dev/null || true)
  windows=$(query 'sum(gatherd_windows_total{source="demo",outcome="ok"}) > 0' 2>/dev/null || true)
  [ "$up" = 1 ] && [ -n "$build_info" ] && [ -n "$windows" ] && break
  sleep 1
done
[ "$up" = 1 ] || fail "Prometheus does not scrape gatherd (up = '${up}')"
[ -n "$build_info" ] || fail "no gatherd_build_info in Prometheus"
[ -n "$windows" ] || fail "no ok windows of the demo source (gatherd_windows_total) in Prometheus"
phase "Prometheus scrapes gatherd: up 1, build info, $windows ok demo windows"
rules=$(curl -fsS --max-time 5 http://127.0.0.1:9090/api/v1/rules | jq '[.data.groups[].rules[]] | length')
[ "$rules" -gt 0 ] || fail "Prometheus loaded no alerting rules"
phase "$rules alerting rules loaded from conf/prometheus/gatherd-alerts.yml"
health=$(docker inspect -f '{{.State.Health.Status}}' "$(compose ps -q gatherd)")
phase "gatherd container health: $health"
compose down -v --timeout 30 >/dev/null 2>&1 || fail "compose down"
phase "passed"
