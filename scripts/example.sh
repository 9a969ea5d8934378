#!/usr/bin/env bash
# The main job on the bundled example: build every target of examples/hello
# with nix and print the platform tree. Needs no credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
# The example needs no binary cache; an empty substituter list keeps nix from
# waiting on one when the machine is offline.
export NIX_CONFIG="${NIX_CONFIG:-substituters =}"
cargo release-dist --manifest-path examples/hello/Cargo.toml build "$@"
