#!/usr/bin/env bash
# Builds the Docker image from a clean clone of HEAD (committed files only) and runs it:
# /ready healthy through the image's HEALTHCHECK (`gatherd health`), records of the demo source
# stored in the volume and still there after a container restart, a graceful stop with exit 0,
# and the process not root; then scripts/compose-test.sh runs the compose files with Prometheus
# on that image. Prints the image size and the wall time of each part.
#
# No registry is reachable here: when debian:bookworm-slim is missing it is made locally with
# mmdebstrap (like Docker's slim image: no docs, man pages or locales) and `docker import`.
# dockerd is started directly when it does not run (`service docker start` fails in CI).
# Exit codes: 0 passed, 1 failed, 77 this machine cannot run Docker (the caller says so).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
ensure_packages docker.io mmdebstrap git jq
cd "$GATHERD_ROOT"
# Debian's client (docker.io) does BuildKit itself; another `docker` earlier on PATH may not.
docker() { /usr/bin/docker "$@"; }

IMAGE="${GATHERD_DOCKER_IMAGE:-gatherd:test}"
NAME="gatherd-test-$$"
VOLUME="gatherd-test-data-$$"
TOKEN="docker-test-token-$$"
work="$(mktemp -d)"
cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  docker volume rm -f "$VOLUME" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
started=$SECONDS
phase() { echo "docker-test: $* (at $((SECONDS - started)) s)"; }
fail() {
  echo "docker-test: FAILED: $*" >&2
  docker logs "$NAME" 2>&1 | tail -40 >&2 || true
  exit 1
}

# -- dockerd
if ! docker info >/dev/null 2>&1; then
  phase "starting dockerd"
  (dockerd >"${TMPDIR:-/tmp}/gatherd-dockerd.log" 2>&1 &)
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  if ! docker info >/dev/null 2>&1; then
    echo "docker-test: dockerd does not start on this machine:" >&2
    tail -5 "${TMPDIR:-/tmp}/gatherd-dockerd.log" >&2 || true
    exit 77
  fi
fi
if ! docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  phase "building debian:bookworm-slim with mmdebstrap"
  mmdebstrap --quiet --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    bookworm "$work/bookworm-slim.tar"
  docker import "$work/bookworm-slim.tar" debian:bookworm-slim >/dev/null
  rm -f "$work/bookworm-slim.tar"
fi
# A container that cannot run at all (no cgroups, no overlay) means no Docker here.
if ! docker run --rm --network none debian:bookworm-slim true >/dev/null 2>&1; then
  echo "docker-test: docker cannot run a container on this machine" >&2
  exit 77
fi

# -- the image, from a clean clone
phase "building $IMAGE from a clean clone of $(git rev-parse --short HEAD)"
git clone --quiet --no-hardlinks "$GATHERD_ROOT" "$work/src"
# The build stages reach deb.debian.org and registry.npmjs.org through Docker's default bridge
# network (checked on this machine); no --network host is needed.
# The npm registry is reached through TLS that this host's CA bundle may be needed to trust
# (an inspecting egress proxy): it is handed to the web stage as a build secret.
build_args=()
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  build_args+=(--secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt)
fi
if ! DOCKER_BUILDKIT=1 docker build --progress=plain "${build_args[@]}" -t "$IMAGE" "$work/src" \
  >"$work/build.log" 2>&1; then
  tail -60 "$work/build.log" >&2
  fail "docker build"
fi
grep -E "web: built with Node.js v|-rw.* \/build/gatherd_.*\.deb$" "$work/build.log" | sed 's/^/docker-test:   /' || true
if [ -n "${GATHERD_DOCKER_DEB_OUT:-}" ]; then
  # The .deb of the build stage (cached now), for scripts/packaging-test.sh.
  DOCKER_BUILDKIT=1 docker build -q "${build_args[@]}" --target build -t "$IMAGE-build" \
    "$work/src" >/dev/null
  container=$(docker create "$IMAGE-build" true)
  mkdir -p "$GATHERD_DOCKER_DEB_OUT"
  deb=$(docker run --rm --entrypoint sh "$IMAGE-build" -c 'ls /build/gatherd_*.deb')
  docker cp "$container:$deb" "$GATHERD_DOCKER_DEB_OUT/" >/dev/null
  docker rm "$container" >/dev/null
fi
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
phase "image $IMAGE: $((size / 1000 / 1000)) MB"

# -- run it: the shipped config, with a busier demo source so that records come at once
docker run --rm --entrypoint cat "$IMAGE" /etc/gatherd/gatherd.ini |
  sed 's/^calls_per_minute = .*/calls_per_minute = 300/' >"$work/gatherd.ini"
chmod 0644 "$work/gatherd.ini"
docker volume create "$VOLUME" >/dev/null
docker run -d --name "$NAME" -p 127.0.0.1::8080 -v "$VOLUME:/var/lib/gatherd" \
  -v "$work/gatherd.ini:/etc/gatherd/gatherd.ini:ro" --ulimit nofile=8192:8192 \
  -e GATHERD_HTTP_TOKEN="$TOKEN" --health-interval=2s --health-start-period=60s \
  "$IMAGE" >/dev/null

wait_healthy() {
  for _ in $(seq 90); do
    state=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
    [ "$state" = healthy ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || fail "the container exited"
    sleep 1
  done
  fail "not healthy after 90 s (health: $state)"
}
api() {
  local port
  port=$(docker port "$NAME" 8080/tcp | head -1 | sed 's/.*://')
  curl -fsS --max-time 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$1"
}
demo_count() { api '/api/stats?source=demo' | jq '.allTime.count'; }

wait_healthy
phase "healthy (HEALTHCHECK: gatherd health -> /ready)"
uid=$(docker exec "$NAME" awk '/^Uid:/ {print $2}' /proc/1/status)
[ "$uid" != 0 ] || fail "gatherd runs as root"
phase "gatherd runs as uid $uid ($(docker exec "$NAME" id -un))"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
  "http://127.0.0.1:$(docker port "$NAME" 8080/tcp | head -1 | sed 's/.*://')/api/stats")
[ "$code" = 401 ] || fail "the API answered $code without the token (want 401)"

before=0
for _ in $(seq 60); do
  before=$(demo_count 2>/dev/null || echo 0)
  [ "$before" -ge 3 ] && break
  sleep 1
done
[ "$before" -ge 3 ] || fail "fewer than 3 demo records stored after 60 s ($before)"
phase "$before demo records stored"

docker stop -t 30 "$NAME" >/dev/null
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || fail "docker stop: exit code $exit_code (want 0)"
docker logs "$NAME" 2>&1 | grep -q "gatherd stopped" || fail "no 'gatherd stopped' in the log"
phase "graceful stop: exit 0"
docker run --rm -v "$VOLUME:/data" --entrypoint ls "$IMAGE" -l /data | sed 's/^/docker-test:   /'

docker start "$NAME" >/dev/null
wait_healthy
after=$(demo_count)
[ "$after" -ge "$before" ] || fail "after the restart only $after demo records (had $before)"
phase "after a restart: $after demo records (had $before before)"
docker stop -t 30 "$NAME" >/dev/null
exit_code=$(docker inspect -f '{{.State.ExitCode}}' "$NAME")
[ "$exit_code" = 0 ] || fail "second docker stop: exit code $exit_code (want 0)"
phase "the image passed"

# -- docker-compose.yml with docker-compose.prometheus.yml, as the README says, on this image
ensure_packages docker-compose
bash scripts/compose-test.sh "$IMAGE" || fail "scripts/compose-test.sh"
phase "passed"

