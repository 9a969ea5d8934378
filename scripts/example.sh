#!/usr/bin/env bash
# The main job on the bundled example: build every target of examples/hello
# with nix, push its closure to a local binary cache, publish the release
# (files, checksums, signed provenance, index, and one multi-arch OCI image)
# to local directories, and verify it. Needs no credentials.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
# The example needs no binary cache; an empty substituter list keeps nix from
# waiting on one when the machine is offline.
export NIX_CONFIG="${NIX_CONFIG:-substituters =}"
dist=examples/hello/target/release-dist
run() { cargo release-dist --manifest-path examples/hello/Cargo.toml "$@"; }

# A throwaway signing key for the local trial (a real release keeps its key secret).
mkdir -p "$dist/keys"
[[ -f $dist/keys/example.sec ]] ||
  nix-store --generate-binary-cache-key example-1 "$dist/keys/example.sec" "$dist/keys/example.pub"

# --smoke runs each target's binary once (natively, or through qemu-user-static when it
# is installed; skipped otherwise, and said so).
run build --smoke --version --push-cache "file://$PWD/$dist/cache?secret-key=$PWD/$dist/keys/example.sec" "$@"
tag=$(git rev-parse HEAD)
run publish --signing-key "$dist/keys/example.sec" --tag "$tag"
run verify --from "$dist/publish/static" -t "hello:$tag" --key "$dist/keys/example.pub" \
  --image "$dist/publish/images"   # the image's attestation too (its referrers tag sha256-<index>)
echo "release index: $dist/publish/static/_releases.html"
echo "image (OCI layout, all targets in one index): $dist/publish/images (skopeo inspect --raw oci:$dist/publish/images:$tag)"
