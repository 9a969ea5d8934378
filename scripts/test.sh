#!/usr/bin/env bash
# The whole test suite: installs what it needs (Debian packages, Garage 2.5.0
# through cargo), starts a Garage node on loopback, runs every test, stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh --tests
bash scripts/garage.sh install
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-binstall, which the signatures' binstall test installs the example
# with (cached like Garage: built once). 1.20.0: later ones need a newer rustc.
command -v cargo-binstall >/dev/null || cargo install --quiet --locked cargo-binstall --version 1.20.0
export NIX_CONFIG="${NIX_CONFIG:-substituters =}"

garage_dir=$(mktemp -d /tmp/release-dist-garage.XXXXXX)
log=$(mktemp)
cleanup() { bash scripts/garage.sh stop "$garage_dir" || true; rm -rf "$garage_dir" "$log"; }
trap cleanup EXIT
eval "$(bash scripts/garage.sh start "$garage_dir" "${RELEASE_DIST_GARAGE_PORT:-29100}")"

status=0
# The tests turn on the test hooks (src/test_hooks.rs); a release build has none.
cargo test --locked --features test-hooks --lib --bins --tests "$@" 2>&1 | tee "$log" || status=$?
# The binary built without the feature reads no RELEASE_DIST_TEST_* variable:
# the names are not in it.
bash scripts/check-no-test-hooks.sh 2>&1 | tee -a "$log" || status=1
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
