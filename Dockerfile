# parlor in a container: built with the same command and files CI proves
# (`cargo build --profile dist --locked`, config/parlor.toml as packaging/build-deb.sh adapts
# it), run as an unprivileged user with its data on a volume. CI does not build this image
# (no container engine runs there); see README, "Install".
#
#   docker build -t parlor .
#   docker run -p 8080:8080 -p 40000-40999:40000-40999/udp -v parlor-data:/var/lib/parlor \
#     -e PARLOR_HTTP__PUBLIC_URL=https://coach.example.org -e PARLOR_RTC__ANNOUNCED_IP=203.0.113.7 parlor

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --profile dist --locked \
 && sed -e 's|^# data_dir = "data"$|data_dir = "/var/lib/parlor"|' \
        -e 's|^# url = "sqlite://data/parlor.db"$|url = "sqlite:///var/lib/parlor/parlor.db"|' \
        config/parlor.toml > /parlor.toml

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/parlor --shell /usr/sbin/nologin parlor \
 && install -d -m 0750 -o parlor -g parlor /var/lib/parlor
COPY --from=build /src/target/dist/parlor /usr/bin/parlor
COPY --from=build /parlor.toml /etc/parlor/parlor.toml
COPY --from=build /src/LICENSE /src/NOTICE /src/docs/third-party-licenses.md /usr/share/doc/parlor/
USER parlor
WORKDIR /var/lib/parlor
VOLUME /var/lib/parlor
# Listen on all interfaces inside the container; media on a fixed UDP range to publish.
ENV PARLOR_HTTP__ADDR=0.0.0.0:8080 \
    PARLOR_RTC__UDP_PORTS=40000-40999
EXPOSE 8080 40000-40999/udp
# SIGTERM drains calls for shutdown.drain_secs (30 s): give `docker stop` longer (-t 45).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/bin/parlor", "--config", "/etc/parlor/parlor.toml"]
CMD ["serve"]
