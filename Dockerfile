# discguard container image: build with `docker build -t discguard .` or let
# `docker compose up` build it (docker-compose.yml). Multi-stage: the Rust
# toolchain stays in the build stage; the runtime image holds the binary,
# CA certificates and a non-root user.

# --- build -------------------------------------------------------------------
# rust:1-bookworm is the latest stable toolchain (the workspace needs 1.89+).
FROM rust:1-bookworm AS build
WORKDIR /src
# .dockerignore keeps target/, tests/js/node_modules and .git out of the context.
COPY . .
RUN cargo build --release --locked -p discguard \
 && install -m 0755 target/release/discguard /usr/local/bin/discguard

# --- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid/gid, owner of the datadir (node.key, view.json). A named
# volume mounted at /var/lib/discguard starts with this owner and mode 0700.
RUN groupadd --system --gid 10001 discguard \
 && useradd --system --uid 10001 --gid discguard --home-dir /var/lib/discguard \
      --no-create-home --shell /usr/sbin/nologin discguard \
 && install -d -o discguard -g discguard -m 0700 /var/lib/discguard
COPY --from=build /usr/local/bin/discguard /usr/local/bin/discguard
USER discguard:discguard
WORKDIR /var/lib/discguard
# The datadir default (same as --datadir /var/lib/discguard).
ENV DISCGUARD_DATADIR=/var/lib/discguard
VOLUME ["/var/lib/discguard"]
# discv5 (UDP), HTTP API, Prometheus /metrics. The HTTP API and metrics listen
# on 127.0.0.1 unless --http-address / --metrics-address say otherwise; in a
# container pass 0.0.0.0:9190 and 0.0.0.0:9191 (docker-compose.yml does) and
# publish them on the host's loopback only.
EXPOSE 9100/udp 9190 9191
ENTRYPOINT ["discguard"]
