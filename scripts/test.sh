#!/usr/bin/env bash
# The whole test suite: installs what it needs, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh --tests
export NIX_CONFIG="${NIX_CONFIG:-substituters =}"
cargo test --locked "$@"
