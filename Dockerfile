# gatherd in three stages, nothing built on the host first:
#   web:   the dashboard, built the way scripts/setup.sh builds it on a fresh Debian 12
#          (Debian's Node.js 18 is too old for Vite 8: setup.sh fetches Node.js 20 and npm
#          from the npm registry)
#   build: the binary and plugins (Release, no tests), packaged as the .deb (cpack)
#   final: debian:bookworm-slim with that .deb installed (its dependencies come from apt)
#
#   docker build -t gatherd .
#   docker run -p 127.0.0.1:8080:8080 -v gatherd-data:/var/lib/gatherd \
#     -e GATHERD_HTTP_TOKEN=... -e XY_SESSION_COOKIE_VALUE=... gatherd
# or `docker compose up -d` with docker-compose.yml and an .env file (see .env.example).
FROM debian:bookworm-slim AS web
WORKDIR /src
COPY scripts/setup.sh scripts/
COPY web/ web/
# A network that inspects TLS needs its CA for the npm registry: pass the host's bundle with
# `--secret id=ca_bundle,src=/etc/ssl/certs/ca-certificates.crt` (build time only; not kept).
RUN --mount=type=secret,id=ca_bundle bash -c 'set -e; export GATHERD_BUILD=/tmp/build; \
      if [ -s /run/secrets/ca_bundle ]; then \
        export CURL_CA_BUNDLE=/run/secrets/ca_bundle NODE_EXTRA_CA_CERTS=/run/secrets/ca_bundle; \
      fi; \
      source scripts/setup.sh --web-only; \
      build_web; echo "web: built with Node.js $(node --version) ($(command -v node))"; \
      test -f web/dist/index.html'

FROM debian:bookworm-slim AS build
WORKDIR /src
# The build packages first: this layer stays cached while the sources change.
COPY scripts/setup.sh scripts/
RUN bash -c 'source scripts/setup.sh'
COPY . .
COPY --from=web /src/web/dist/ web/dist/
RUN bash -c 'set -e; source scripts/setup.sh; \
      build_native /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
        -DGATHERD_BUILD_BENCH=OFF; \
      cd /build && cpack -G DEB >/dev/null && ls -l /build/gatherd_*.deb'

FROM debian:bookworm-slim
COPY --from=build /build/gatherd_*.deb /tmp/
# The .deb brings the `gatherd` system user, /var/lib/gatherd, /etc/gatherd/gatherd.ini (its
# defaults point at the installed plugins and dashboard) and its run-time libraries.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
      /tmp/gatherd_*.deb \
    && rm -rf /var/lib/apt/lists/* /tmp/gatherd_*.deb
# Beyond loopback: set GATHERD_HTTP_TOKEN (the API then wants `Authorization: Bearer <token>`).
ENV GATHERD_HTTP_BIND=0.0.0.0:8080
USER gatherd
WORKDIR /var/lib/gatherd
VOLUME /var/lib/gatherd
EXPOSE 8080
# SIGTERM drains: polls in flight get shutdown_grace (5 s), then sinks flush and the process
# exits 0, well inside Docker's default 10 s stop timeout (compose gives it 30 s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=90s --retries=3 \
  CMD ["/usr/bin/gatherd", "--config", "/etc/gatherd/gatherd.ini", "health"]
ENTRYPOINT ["/usr/bin/gatherd", "--config", "/etc/gatherd/gatherd.ini"]
