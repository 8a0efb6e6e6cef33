# kycgate container: a Debian bookworm-slim builder runs the same scripts as CI (scripts/setup.sh
# in its build-only mode, scripts/build.sh); the runtime stage holds only the runtime libraries and
# the stripped binary. Build with the Docker image format, or HEALTHCHECK is dropped:
#   docker build -t kycgate:0.1.0 .        (podman / buildah: add --format docker)
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN KYCGATE_SETUP_BUILD_ONLY=1 scripts/setup.sh
COPY . .
RUN KG_WERROR=ON scripts/build.sh -DKG_TESTS=OFF && strip --strip-unneeded build/kycgate

FROM debian:bookworm-slim
COPY scripts/setup.sh /tmp/setup.sh
# uid and gid 10001, as deploy/kubernetes.yaml's runAsUser, runAsGroup and fsGroup.
RUN KYCGATE_SETUP_RUNTIME_ONLY=1 /tmp/setup.sh \
 && rm -rf /var/lib/apt/lists/* /tmp/setup.sh \
 && groupadd --system --gid 10001 kycgate \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kycgate \
 && install -d -m 0700 -o 10001 -g 10001 /var/lib/kycgate
COPY --from=build /src/build/kycgate /usr/local/bin/kycgate
COPY conf/kycgate.yaml /etc/kycgate/kycgate.yaml
# Both the server and the HEALTHCHECK's probe read this file (set KYCGATE_CONFIG to use another).
ENV KYCGATE_CONFIG=/etc/kycgate/kycgate.yaml
# conf/dev.yaml listens on ${KYCGATE_LISTEN:-127.0.0.1:8080}: in a container, loopback is the
# container's own, so a mounted dev config listens on every interface (publish with -p).
ENV KYCGATE_LISTEN=0.0.0.0:8080
USER 10001:10001
# The store (store.sqlite.path, design §10): mount a volume here, or its contents (idempotency
# keys, later watches and events) are lost with the container; --read-only leaves it writable.
VOLUME /var/lib/kycgate
EXPOSE 8080
# `kycgate --probe` reads the config the server reads and GETs /healthz on its scheme, address and
# port; the probe gives up after 5 s, so the timeout is longer.
HEALTHCHECK --interval=10s --timeout=6s --retries=3 CMD ["kycgate", "--probe"]
ENTRYPOINT ["kycgate"]
# No arguments: the base image's CMD must not become kycgate's (the config is KYCGATE_CONFIG).
CMD []
