# Multi-stage image: build gatherd and its plugins, then run them on a slim base.
# The dashboard needs Node.js 20+, which Debian 12 does not ship, so it is built on the host
# first (`bash scripts/run.sh` does it, or `cd web && npm ci && npm run build`) and copied in.
#   docker build -t gatherd .
#   docker run -p 127.0.0.1:8080:8080 -v gatherd-data:/var/lib/gatherd \
#     -e XY_SESSION_COOKIE_VALUE=... gatherd
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libpoco-dev libboost-dev libboost-filesystem-dev \
      libspdlog-dev libsqlite3-dev libssl-dev libsimdjson-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DGATHERD_BUILD_BENCH=OFF \
    && cmake --build /build -j"$(nproc)"
RUN test -f web/dist/index.html || { echo "build the dashboard first: cd web && npm ci && npm run build" >&2; exit 1; }

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpocofoundation80 libpoconet80 libpoconetssl80 libpococrypto80 libpocoutil80 \
      libpocoxml80 libpocojson80 libpocodata80 libpocodatasqlite80 libspdlog1.10 libfmt9 \
      libboost-filesystem1.74.0 libsqlite3-0 libssl3 libsimdjson14 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/gatherd gatherd \
    && install -d -o gatherd -g gatherd -m 0700 /var/lib/gatherd
COPY --from=build /build/gatherd /usr/bin/gatherd
COPY --from=build /build/plugins/ /usr/lib/gatherd/plugins/
COPY --from=build /src/web/dist/ /usr/share/gatherd/web/
COPY conf/gatherd.ini /etc/gatherd/gatherd.ini
ENV GATHERD_PLUGIN_DIR=/usr/lib/gatherd/plugins \
    GATHERD_DATA_DIR=/var/lib/gatherd \
    GATHERD_HTTP_BIND=0.0.0.0:8080 \
    GATHERD_WEB_ROOT=/usr/share/gatherd/web
USER gatherd
VOLUME /var/lib/gatherd
EXPOSE 8080
ENTRYPOINT ["/usr/bin/gatherd", "--config", "/etc/gatherd/gatherd.ini"]
