# gattway container image: build stage on Debian 12 with the -dev packages, runtime stage on
# Debian 12 slim with the runtime libraries only, running as the non-root user `gattway` (10001).
#
#   docker build -t gattway .
#   docker run --rm -p 127.0.0.1:50051:50051 gattway                  # the simulated demo fleet
#   docker run --rm -v /run/dbus/system_bus_socket:/run/dbus/system_bus_socket \
#     -p 50051:50051 gattway --grpc_address=[::]:50051 --tls_cert=... # the host's BlueZ
#
# The base images are arguments so the image also builds where no registry is reachable, from
# local images (scripts/build-image.sh makes them with debootstrap).
ARG BUILD_IMAGE=debian:bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config binutils \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto \
      libsdbus-c++-dev libsystemd-dev libabsl-dev prometheus-cpp-dev libspdlog-dev \
      libyaml-cpp-dev libssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY proto/ proto/
COPY ble/ ble/
COPY server/ server/
COPY cmd/ cmd/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATTWAY_BUILD_TESTS=OFF \
 && ninja -C /build gattwayd gattway-sim gattway-health gattway \
 && mkdir -p /out \
 && strip --strip-debug -o /out/gattwayd /build/cmd/gattwayd \
 && strip --strip-debug -o /out/gattway-sim /build/cmd/gattway-sim \
 && strip --strip-debug -o /out/gattway-health /build/cmd/gattway-health \
 && strip --strip-debug -o /out/gattway /build/cmd/gattway

FROM ${RUNTIME_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libsdbus-c++1 libsystemd0 libabsl20220623 \
      libprometheus-cpp-pull1.0 libspdlog1.10 libyaml-cpp0.7 libssl3 dbus-daemon \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 gattway \
 && useradd --system --uid 10001 --gid gattway --home-dir /var/lib/gattway \
      --shell /usr/sbin/nologin gattway \
 && install -d -o gattway -g gattway -m 0700 /var/lib/gattway
COPY --from=build /out/ /usr/bin/
USER gattway
WORKDIR /var/lib/gattway
EXPOSE 50051 9469
HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD ["/usr/bin/gattway-health"]
ENTRYPOINT ["/usr/bin/gattwayd"]
# The demo: the simulated BlueZ, reachable from outside the container (hence --insecure).
CMD ["--simulate", "--grpc_address=[::]:50051", "--metrics_address=[::]:9469", "--insecure", \
     "--state_dir=/var/lib/gattway"]
