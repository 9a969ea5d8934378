#!/usr/bin/env bash
# Benchmark of the binary-cache push against its anchors, measured in one run
# on this machine (see README, "Performance"):
#
#   1. `cache push` of a ~2,000-path, ~1 GiB closure to Garage, against
#      `nix copy --to file://DIR?compression=zstd` followed by `aws s3 cp --recursive DIR`;
#   2. against the upload alone of the compressed DIR at high concurrency
#      (aws CLI, 64 requests at once: Garage's ingest limit here);
#   3. the no-op re-push;
#   4. peak RSS while pushing one 2 GiB path.
#
# Uses the Garage named by RELEASE_DIST_GARAGE_CONFIG / _S3 when set, or starts
# one of its own. Needs nix, garage and the aws CLI (pip install awscli).
set -euo pipefail
cd "$(dirname "$0")/.."
nixopts=(--option substituters '' --extra-experimental-features 'nix-command flakes')
source benches/common.sh
for b in ours anchor upload; do scripts/garage.sh bucket "$gdir" "bench-$b-$suffix"; done

echo "building the synthetic closure (cached after the first run)" >&2
root=$(nix-build benches/closure.nix -A root --no-out-link "${nixopts[@]}" 2>/dev/null)
big=$(nix-build benches/closure.nix -A big2g --no-out-link "${nixopts[@]}" 2>/dev/null)
paths=$(nix-store -qR "$root" | wc -l)
bytes=$(nix path-info -S "$root" "${nixopts[@]}" | awk '{print $2}')
nix-store --generate-binary-cache-key bench-1 "$work/key.sec" "$work/key.pub"

elapsed() { echo "$2 - $1" | bc -l; }
url() { echo "s3://bench-$1-$suffix?endpoint=$s3&region=garage&scheme=http&secret-key=$work/key.sec"; }

echo "closure: $paths paths, $((bytes / 1048576)) MiB (NAR size)" >&2

echo "1/5 cache push (ours)" >&2
t0=$(now); "$bin" release-dist cache push --to "$(url ours)" --message-format json "$root" \
  > "$work/ours.json" 2> "$work/ours.log"; t1=$(now)
ours=$(elapsed "$t0" "$t1")

echo "2/5 no-op re-push (ours)" >&2
t0=$(now); "$bin" release-dist cache push --to "$(url ours)" --message-format json "$root" \
  > "$work/noop.json" 2> "$work/noop.log"; t1=$(now)
noop=$(elapsed "$t0" "$t1")
grep -q '"pushed":0' "$work/noop.json" || { echo "the re-push uploaded something:" >&2; cat "$work/noop.json" >&2; exit 1; }

echo "3/5 nix copy --to file://…?compression=zstd, then aws s3 cp --recursive (anchor)" >&2
t0=$(now); nix copy --to "file://$work/anchor?compression=zstd" "$root" "${nixopts[@]}" 2> "$work/nixcopy.log"; t1=$(now)
aws s3 cp --recursive --quiet --endpoint-url "http://$s3" "$work/anchor" "s3://bench-anchor-$suffix"; t2=$(now)
nixcopy=$(elapsed "$t0" "$t1"); awscp=$(elapsed "$t1" "$t2"); anchor=$(elapsed "$t0" "$t2")

echo "4/5 upload alone of the compressed cache, 64 requests at once" >&2
cat > "$work/aws.cfg" <<CFG
[default]
s3 =
  max_concurrent_requests = 64
  max_queue_size = 10000
CFG
t0=$(now); AWS_CONFIG_FILE=$work/aws.cfg aws s3 cp --recursive --quiet --endpoint-url "http://$s3" \
  "$work/anchor" "s3://bench-upload-$suffix"; t1=$(now)
upload=$(elapsed "$t0" "$t1")

echo "5/5 peak RSS pushing one 2 GiB path" >&2
/usr/bin/time -f '%M' -o "$work/rss" "$bin" release-dist cache push --to "$(url ours)" "$big" 2> "$work/big.log"
rss_kib=$(tail -1 "$work/rss")

printf '\n%-58s %10s\n' "measure" "value"
printf '%-58s %9.2fs\n' "cache push (ours), $paths paths" "$ours"
printf '%-58s %9.2fs\n' "nix copy file://?compression=zstd" "$nixcopy"
printf '%-58s %9.2fs\n' "+ aws s3 cp --recursive (10 at once)" "$awscp"
printf '%-58s %9.2fs\n' "upload alone, aws s3 cp (64 at once)" "$upload"
printf '%-58s %9.2fs\n' "no-op re-push (ours)" "$noop"
printf '%-58s %7d MiB\n' "peak RSS, one 2 GiB path (ours)" "$((rss_kib / 1024))"
echo
printf 'ratio ours / (nix copy + upload):   %.2fx   (goal <= 0.70x)\n' "$(echo "$ours / $anchor" | bc -l)"
printf 'ratio ours / upload alone:          %.2fx   (goal <= 1.15x)\n' "$(echo "$ours / $upload" | bc -l)"
printf 'no-op re-push:                      %.2fs   (goal < 0.5s)\n' "$noop"
printf 'peak RSS, 2 GiB path:               %d MiB (goal < 100 MiB)\n' "$((rss_kib / 1024))"
echo "summary (ours): $(cat "$work/ours.json")"
