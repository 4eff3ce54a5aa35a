#!/usr/bin/env bash
# Builds the Go examples offline with Debian's Go packages (golang-go, golang-google-grpc-dev,
# golang-google-protobuf-dev, protoc-gen-go, protoc-gen-go-grpc): stubs are generated from
# proto/ into a scratch GOPATH, and Go resolves everything else from /usr/share/gocode.
# Usage: examples/go/build.sh OUTDIR   (binaries land in OUTDIR/bin)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:?usage: build.sh OUTDIR}" && cd "$1" && pwd)"
gopath="$out/gopath"
mkdir -p "$gopath/src" "$out/bin"

# go_package in the protos is gattway.dev/gattway/gen/go/gattway/v1: with the default
# paths=import the files land under that import path inside the scratch GOPATH.
protoc -I "$root/proto" --go_out="$gopath/src" --go-grpc_out="$gopath/src" \
  "$root"/proto/gattway/v1/*.proto

export GO111MODULE=off GOFLAGS= GOPROXY=off
export GOPATH="$gopath:/usr/share/gocode"
export GOCACHE="${GOCACHE:-${XDG_CACHE_HOME:-${HOME:-$out}/.cache}/go-build}"
for dir in "$here"/*/; do
  name="$(basename "$dir")"
  (cd "$dir" && go build -o "$out/bin/$name" .)
done
echo "built: $(ls "$out/bin")"
