#!/usr/bin/env bash
# Benchmark of `publish` (static files) against `rclone copy --transfers 8` of
# the same files to the same Garage, in one run: 4 binaries of 50 MiB (random,
# so incompressible). Each side is run RUNS times (default 3), alternating;
# prints the best and median of each and the throughput ratio of the medians
# (goal >= 1.0x rclone's). Ours includes everything a release has: checksums,
# provenance, documents and the index, and the process start.
#
# Each measured upload goes to a fresh Garage node (benches/common.sh says why).
set -euo pipefail
cd "$(dirname "$0")/.."
export NIX_CONFIG="substituters ="
source benches/common.sh
runs=${RUNS:-3}

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
mib=$(echo "$bytes / 1048576" | bc -l)

ours=() anchor=()
for i in $(seq 1 "$runs"); do
  fresh_garage "benchpub-ours-$i-$suffix"
  t0=$(now)
  (cd "$work/hello" && "$bin" release-dist -q publish --tag bench \
    --static "s3://benchpub-ours-$i-$suffix?endpoint=$s3&region=garage&scheme=http" \
    --signing-key "$work/key.sec" >/dev/null)
  t1=$(now)
  fresh_garage "benchpub-anchor-$i-$suffix"
  t2=$(now)
  rclone copy -q "$work/files" "garage:benchpub-anchor-$i-$suffix" --transfers 8
  t3=$(now)
  ours+=("$(elapsed "$t0" "$t1")"); anchor+=("$(elapsed "$t2" "$t3")")
done
stat() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f %.2f", v[1], v[int((NR + 1) / 2)] }'; }
read -r ours_best ours_med <<< "$(stat "${ours[@]}")"
read -r anchor_best anchor_med <<< "$(stat "${anchor[@]}")"
printf 'files: 4, %.0f MiB; %d runs each, alternating\n' "$mib" "$runs"
printf 'publish (ours: files, checksums, provenance, documents, index): best %5.2fs  median %5.2fs  %6.1f MiB/s\n' \
  "$ours_best" "$ours_med" "$(echo "$mib / $ours_med" | bc -l)"
printf 'rclone copy --transfers 8 (files only):                       best %5.2fs  median %5.2fs  %6.1f MiB/s\n' \
  "$anchor_best" "$anchor_med" "$(echo "$mib / $anchor_med" | bc -l)"
printf 'throughput ratio ours / rclone (medians): %.2fx   (goal >= 1.00x)\n' "$(ratio "$anchor_med" "$ours_med")"
