#!/usr/bin/env bash
# README command 1: install what is missing, build, and run gattwayd on the simulated BlueZ with
# its demo fleet. Extra arguments go to gattwayd.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATTWAY_BUILD_TESTS=OFF >/dev/null
ninja -C build gattwayd
exec build/cmd/gattwayd "$@"
