#!/usr/bin/env bash
# The long run of the property test over every parser of outside input
# (src/hostile_inputs.rs): the suite runs 10,000 inputs per parser; this runs
# ROUNDS (default 1,000,000) per parser, in a release build, from the same
# fixed seed, and prints how long it took.
#
#   scripts/fuzz-parsers.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-1000000}
start=$(date +%s)
RELEASE_DIST_FUZZ_ROUNDS=$rounds cargo test --locked --release --lib hostile_inputs -- --test-threads 2
echo "fuzz-parsers: $rounds inputs per parser, no panic, no parse past its memory bound, in $(( $(date +%s) - start )) s"
