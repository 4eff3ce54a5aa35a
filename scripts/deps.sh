#!/usr/bin/env bash
# Installs what gattway needs, idempotently: Debian 12 packages (apt-get only when something is
# missing) and, with --test, the npm tools the test suite uses (buf, a reflection-only gRPC client).
# Usage: scripts/deps.sh [--test]
set -euo pipefail
cd "$(dirname "$0")/.."

build_packages=(
  cmake ninja-build g++ pkg-config
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libsdbus-c++-dev libsdbus-c++-bin libsystemd-dev dbus-daemon
  libabsl-dev prometheus-cpp-dev libspdlog-dev libyaml-cpp-dev libssl-dev
  libgtest-dev libgmock-dev
)
test_packages=(
  python3 python3-grpcio python3-protobuf python3-pytest python3-bleak python3-yaml openssl
  prometheus
  clang libclang-rt-14-dev  # the libFuzzer targets (scripts/fuzz.sh)
  # The Go example (examples/go), built offline in GOPATH mode from /usr/share/gocode. Protobuf
  # APIv2 (protoc-gen-go 1.28) needs golang/protobuf 1.5, not the 1.3 that golang-goprotobuf-dev
  # (a transitional package) would pull in: gRPC's codec would panic on the generated messages.
  golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
  golang-google-genproto-dev protoc-gen-go protoc-gen-go-grpc
)
# The container image test needs these; it is skipped where they cannot be installed.
image_packages=(podman buildah debootstrap uidmap)
# The real-BlueZ VM tier (tests/vm) needs these on the host; it is skipped where they cannot be
# installed. Its kernel and busybox-static are downloaded (apt-get download), never installed.
vm_packages=(qemu-system-x86 debootstrap)

want=("${build_packages[@]}")
if [[ "${1:-}" == "--test" ]]; then
  want+=("${test_packages[@]}")
  command -v npm >/dev/null 2>&1 || want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ "${1:-}" == "--test" ]]; then
  # Optional tiers: install what is missing; where it cannot be installed, the tier is skipped.
  install_optional() {
    local tier=$1; shift
    local absent=()
    for p in "$@"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || absent+=("$p")
    done
    if ((${#absent[@]})); then
      apt-get install -y -qq --no-install-recommends "${absent[@]}" >/dev/null 2>&1 \
        || echo "deps: ${absent[*]} not installable here; $tier will be skipped"
    fi
  }
  install_optional "the container image test" "${image_packages[@]}"
  install_optional "the VM test (ctest -L vm)" "${vm_packages[@]}"

  # Install from the lock file, only when it changed since the last install. (`npm ci` refuses
  # this lock file: npm never records buf's optional per-platform packages for other platforms.)
  stamp=tests/npm/node_modules/.gattway-lock
  if ! cmp -s tests/npm/package-lock.json "$stamp" 2>/dev/null; then
    echo "deps: npm install (tests/npm)"
    (cd tests/npm && npm install --no-audit --no-fund --loglevel=error)
    cp tests/npm/package-lock.json "$stamp"
  fi
fi
