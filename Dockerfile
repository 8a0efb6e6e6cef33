# kycgate container: a Debian bookworm-slim builder runs the same scripts as CI (scripts/setup.sh,
# scripts/build.sh); the runtime stage holds only the runtime libraries and the binary.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh
COPY . .
RUN KG_WERROR=ON scripts/build.sh -DKG_TESTS=OFF

FROM debian:bookworm-slim
COPY scripts/setup.sh /tmp/setup.sh
RUN KYCGATE_SETUP_RUNTIME_ONLY=1 /tmp/setup.sh \
 && rm -rf /var/lib/apt/lists/* /tmp/setup.sh \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin kycgate
COPY --from=build /src/build/kycgate /usr/local/bin/kycgate
COPY conf/kycgate.yaml /etc/kycgate/kycgate.yaml
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD ["kycgate", "--probe", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["kycgate"]
CMD ["--config", "/etc/kycgate/kycgate.yaml"]
