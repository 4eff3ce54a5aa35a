#!/usr/bin/env bash
# README command 2: install what is missing, build the ASan+UBSan configuration, and run every test
# tier (unit, integration, e2e, lint) with ctest, then a short run of each libFuzzer target.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/deps.sh --test
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGATTWAY_SANITIZE=ON >/dev/null
ninja -C build-asan
echo "test: build done after $(( $(date +%s) - start )) s"
(cd build-asan && ctest --output-on-failure -j2 --timeout 600)
echo "test: suite done after $(( $(date +%s) - start )) s"
# A short libFuzzer run of each target (clang, ASan+UBSan, build-fuzz/); longer runs: see the script.
scripts/fuzz.sh 15
echo "test: everything done after $(( $(date +%s) - start )) s"
