#!/usr/bin/env bash
# Evaluates the Nix templates where there is no nixpkgs: nix/cross.nix, the
# tool's flake.nix, and the flake `init` writes into a new cargo package,
# against nixpkgs' real `lib` (a copy of the small nix-community/nixpkgs.lib
# repository, not committed) and stubs of nixpkgs' and rust-overlay's
# functions whose signatures are read from their sources and cited
# (tests/nix/stubs.nix). Every template must also parse.
#
#   scripts/check-templates.sh NIXPKGS_LIB_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
lib_dir=$(realpath "${1:?give the path of a nix-community/nixpkgs.lib checkout}")
[ -f "$lib_dir/lib/default.nix" ] || { echo "$lib_dir has no lib/default.nix" >&2; exit 2; }
for f in flake.nix nix/cross.nix nix/toolchain.nix src/init/flake.nix; do
  nix-instantiate --parse "$f" >/dev/null
done
tool=${CARGO_RELEASE_DIST:-$PWD/target/debug/cargo-release-dist}
[ -n "${CARGO_RELEASE_DIST:-}" ] || cargo build --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# `init` in a new cargo package, once per CI it writes a pipeline for: each
# Nix file parses, and is byte for byte the one evaluated below.
for ci in github drone woodpecker gitlab; do
  (cd "$work" && cargo new --quiet --vcs git "greeter-$ci" && cd "greeter-$ci" &&
    "$tool" release-dist init --ci "$ci" >/dev/null)
  for f in flake.nix nix/cross.nix nix/toolchain.nix; do
    nix-instantiate --parse "$work/greeter-$ci/$f" >/dev/null
    sed "s/greeter-$ci/greeter/g" "$work/greeter-$ci/$f" |
      cmp -s - <(sed "s/greeter-github/greeter/g" "$work/greeter-github/$f") ||
      { echo "init --ci $ci wrote another $f than init --ci github" >&2; exit 1; }
  done
done
mv "$work/greeter-github" "$work/greeter"
NIXPKGS_LIB=$lib_dir INIT_FLAKE_DIR=$work/greeter \
  nix-instantiate --eval --strict --json tests/nix/eval-templates.nix
echo
echo "check-templates: every template parses and evaluates against nixpkgs.lib ($(git -C "$lib_dir" rev-parse --short HEAD 2>/dev/null || echo "a copy")) and the stubs"
