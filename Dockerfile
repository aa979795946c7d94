# gochat server image: build in a Rust image, run in a slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p gochat-server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app gochat \
    && mkdir -p /app/certs /app/logs /config && chown -R gochat /app /config
COPY --from=build /src/target/release/gochat-server /usr/local/bin/gochat-server
COPY docker/server.json /app/server.example.json
COPY docker/entrypoint.sh /usr/local/bin/entrypoint.sh
USER gochat
WORKDIR /app
EXPOSE 9037/tcp 8037/tcp
VOLUME ["/config", "/app/logs", "/app/certs"]
ENTRYPOINT ["/usr/local/bin/entrypoint.sh"]
CMD ["gochat-server", "--config", "/config/server.json"]
