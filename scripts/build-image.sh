#!/usr/bin/env bash
# Builds the gattway container image without a registry or a Docker engine, as the test command
# does: a Debian 12 base image made with debootstrap and imported into podman, the Dockerfile built
# with `podman build --isolation=chroot`, a smoke run of the image with `buildah run`, and its size.
#
# Usage: scripts/build-image.sh [--smoke-only]
#   GATTWAY_IMAGE_CACHE  where the base root filesystem is kept (default /var/cache/gattway-image)
#   GATTWAY_IMAGE        image name (default gattway:latest)
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${GATTWAY_IMAGE_CACHE:-/var/cache/gattway-image}
image=${GATTWAY_IMAGE:-gattway:latest}
base=localhost/gattway-debian:bookworm
start=$(date +%s)

for tool in podman buildah debootstrap; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is not installed" >&2; exit 2; }
done

# The mirror the machine's apt already uses (no other registry is reachable).
mirror=$(grep -rhoE '(URIs: |deb )https?://[^ ]+debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
           | grep -v security | head -1 | sed -E 's/^(URIs: |deb )//' || true)
mirror=${mirror:-http://deb.debian.org/debian}

# 1. A minimal Debian 12 base image, made once and kept while this script is unchanged.
stamp="$cache/base.stamp"
want="$(sha256sum "$0" | cut -d' ' -f1)"
if ! podman image exists "$base" || [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "build-image: debootstrap bookworm from $mirror"
  rm -rf "$cache/rootfs"
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$cache/rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # apt inside the image uses the same mirror.
  echo "deb $mirror bookworm main" >"$cache/rootfs/etc/apt/sources.list"
  tar -C "$cache/rootfs" -c . | podman import - "$base" >/dev/null
  echo "$want" >"$stamp"
fi
echo "build-image: base image ready after $(( $(date +%s) - start )) s"

# 2. The Dockerfile, both stages on the local base image.
if [[ "${1:-}" != "--smoke-only" ]]; then
  podman build --isolation=chroot --network=host \
    --build-arg BUILD_IMAGE="$base" --build-arg RUNTIME_IMAGE="$base" \
    -t "$image" -f Dockerfile . >"$cache/build.log" 2>&1 \
    || { tail -40 "$cache/build.log" >&2; exit 1; }
  echo "build-image: $image built after $(( $(date +%s) - start )) s"
fi

# 3. Smoke: the image runs as the non-root user, and its gateway starts and reports SERVING to the
# health probe. (The image runs the gateway without --simulate until the
# simulator lands; then this smoke runs the demo.)
ctr=$(buildah from "$image")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
user=$(buildah run --isolation chroot "$ctr" -- id -un)
[[ "$user" == "gattway" ]] || { echo "build-image: runs as $user, not gattway" >&2; exit 1; }
buildah run --isolation chroot "$ctr" -- sh -c '
  /usr/bin/gattwayd --grpc_address=127.0.0.1:50051 --metrics_address= \
    --state_dir=/tmp/gattway-state >/tmp/gattwayd.log 2>&1 & pid=$!
  for i in $(seq 1 50); do /usr/bin/gattway-health >/dev/null 2>&1 && break; sleep 0.2; done
  /usr/bin/gattway-health; rc=$?
  kill -TERM $pid; wait $pid
  [ $rc -eq 0 ] || cat /tmp/gattwayd.log
  exit $rc' || { echo "build-image: the demo did not become healthy in the image" >&2; exit 1; }

size=$(podman image inspect "$image" --format '{{.Size}}')
echo "build-image: $image is $(( size / 1024 / 1024 )) MiB; done after $(( $(date +%s) - start )) s"
