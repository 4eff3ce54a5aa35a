#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan, build-fuzz/) and runs each for a while.
#   scripts/fuzz.sh              each target 20 s (what the test command runs)
#   scripts/fuzz.sh 3600         each target an hour; findings land in build-fuzz/findings/
#   scripts/fuzz.sh 0 TARGET     build only, then run TARGET by hand:
#       build-fuzz/tests/fuzz/gattway_TARGET_fuzz tests/fuzz/corpus/TARGET
# Targets: address_uuid (address and UUID parsing), config (the configuration file),
# bluez_messages (BlueZ's signals and replies, advertisement data included, into the mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
only=${2:-}
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGATTWAY_BUILD_FUZZERS=ON -DGATTWAY_BUILD_TESTS=OFF >/dev/null
targets=(address_uuid config bluez_messages)
[[ -n "$only" ]] && targets=("$only")
if ! ninja -C build-fuzz $(printf 'gattway_%s_fuzz ' "${targets[@]}") >build-fuzz/ninja.log 2>&1; then
  grep -v '^\[[0-9]*/[0-9]*\] ' build-fuzz/ninja.log | tail -40 >&2
  exit 1
fi
[[ "$seconds" == 0 ]] && exit 0
mkdir -p build-fuzz/findings
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s"
  build-fuzz/tests/fuzz/gattway_${t}_fuzz -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=build-fuzz/findings/${t}- -max_len=4096 "$corpus" 2>&1 |
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE)|ERROR|SUMMARY|Test unit written" || true
  # libFuzzer exits non-zero on a finding; pipefail would hide which target, so check artifacts.
  if ls build-fuzz/findings/${t}-* >/dev/null 2>&1; then
    echo "fuzz: $t found a crash: $(ls build-fuzz/findings/${t}-*)" >&2
    exit 1
  fi
done
