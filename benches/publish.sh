#!/usr/bin/env bash
# Benchmark of `publish` (static files) against `aws s3 cp --recursive` of the
# same files to the same Garage, in one run: 4 binaries of 50 MiB (random, so
# incompressible). Prints the throughput ratio (goal >= 0.9x the AWS CLI's).
#
# Uses the Garage named by RELEASE_DIST_GARAGE_CONFIG / _S3, or starts one.
set -euo pipefail
cd "$(dirname "$0")/.."
export NIX_CONFIG="substituters ="
source benches/common.sh
for b in ours anchor; do scripts/garage.sh bucket "$gdir" "benchpub-$b-$suffix"; done


# The example, with 50 MiB of random bytes appended to each stand-in binary.
cp -r examples/hello "$work/hello"
rm -rf "$work/hello/target"
sed -i 's|          chmod 555 $out/bin/${name}|          head -c 52428800 /dev/urandom >> $out/bin/${name}\n          chmod 555 $out/bin/${name}|' "$work/hello/flake.nix"
(cd "$work/hello" && git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm bench)
(cd "$work/hello" && "$bin" release-dist build -q -t linux/amd64 -t linux/386 -t linux/arm64 -t linux/arm/v6 >/dev/null)
nix-store --generate-binary-cache-key bench-1 "$work/key.sec" "$work/key.pub"
mkdir -p "$work/files"
cp -rL "$work/hello/target/release-dist/static/." "$work/files/"
bytes=$(du -sb "$work/files" | cut -f1)

t0=$(now)
(cd "$work/hello" && "$bin" release-dist -q publish --tag bench \
  --static "s3://benchpub-ours-$suffix?endpoint=$s3&region=garage&scheme=http" \
  --signing-key "$work/key.sec" >/dev/null)
t1=$(now)
aws s3 cp --recursive --quiet --endpoint-url "http://$s3" "$work/files" "s3://benchpub-anchor-$suffix"
t2=$(now)
ours=$(echo "$t1 - $t0" | bc -l); anchor=$(echo "$t2 - $t1" | bc -l)
mib=$(echo "$bytes / 1048576" | bc -l)
printf 'files: 4, %.0f MiB\n' "$mib"
printf 'publish (ours, with checksums, provenance, documents, index): %6.2fs  %6.1f MiB/s\n' "$ours" "$(echo "$mib / $ours" | bc -l)"
printf 'aws s3 cp --recursive (files only):                          %6.2fs  %6.1f MiB/s\n' "$anchor" "$(echo "$mib / $anchor" | bc -l)"
printf 'throughput ratio ours / aws: %.2fx   (goal >= 0.90x)\n' "$(echo "$anchor / $ours" | bc -l)"
