#!/usr/bin/env bash
# ctest wrapper for scripts/build-image.sh: skipped (77) where podman/buildah/debootstrap are absent.
for tool in podman buildah debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || { echo "skipped: $tool is not installed"; exit 77; }
done
exec "$(dirname "$0")/../scripts/build-image.sh"
