#!/usr/bin/env bash
# README command 1: install what is missing, build, and run gattwayd on the simulated BlueZ with
# its demo fleet (gattwayd --simulate: a private dbus-daemon and gattway-sim, stopped with it).
# Extra arguments go to gattwayd (e.g. --fleet=my-fleet.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATTWAY_BUILD_TESTS=OFF >/dev/null
ninja -C build gattwayd gattway-sim
exec build/cmd/gattwayd --simulate "$@"
