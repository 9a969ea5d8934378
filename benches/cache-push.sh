#!/usr/bin/env bash
# Benchmark of the binary-cache push against rclone, measured in one run on
# this machine (see README, "Performance"):
#
#   1. `cache push` of a ~2,000-path, ~1.4 GiB closure (8 paths of 100 MiB) to Garage,
#      against `nix copy --to file://DIR?compression=zstd` + `rclone copy --transfers 8 DIR`
#      (goal <= 0.70x);
#   2. against `rclone copy --transfers 32` of the prepared DIR alone (goal <= 1.15x);
#   3. the no-op re-push (goal < 0.5 s);
#   4. peak RSS of the push and of pushing one 2 GiB path (goal < 64 MiB each).
#
# Also printed, to show where the time goes: the push's own phases (its JSON
# summary), the same push into a file:// cache (preparation alone), the tool's
# upload alone of nix's prepared DIR (benches/upload_dir.rs) against rclone's,
# the requests each sent, and the CPU seconds of the client and of Garage.
#
# Each measured upload goes to a fresh Garage node of the bench's own
# (benches/common.sh says why). Needs nix, garage, rclone, jq and bc.
set -euo pipefail
cd "$(dirname "$0")/.."
nixopts=(--option substituters '' --extra-experimental-features 'nix-command flakes')
source benches/common.sh
cargo bench --locked --quiet --bench upload-dir --no-run 2>/dev/null

echo "building the synthetic closure (cached after the first run)" >&2
closure=(benches/closure.nix --arg bigCount 8 --arg bigMiB 100)
root=$(nix-build "${closure[@]}" -A root --no-out-link "${nixopts[@]}" 2>/dev/null)
big=$(nix-build "${closure[@]}" -A big2g --no-out-link "${nixopts[@]}" 2>/dev/null)
paths=$(nix-store -qR "$root" | wc -l)
bytes=$(nix path-info -S "$root" "${nixopts[@]}" | awk '{print $2}')
nix-store --generate-binary-cache-key bench-1 "$work/key.sec" "$work/key.pub"
url() { echo "s3://bench-$1-$suffix?endpoint=$s3&region=garage&scheme=http&secret-key=$work/key.sec"; }
echo "closure: $paths paths, $((bytes / 1048576)) MiB (NAR size)" >&2
# Warm the page cache, so the first measured run does not pay for it alone.
nix-store --dump "$root" >/dev/null

# timed NAME CMD…: runs CMD, records NAME's wall seconds, client CPU, Garage CPU and peak RSS.
declare -A wall cpu gcpu rss
timed() {
  local name=$1; shift
  local g0 t0 t1
  g0=$(garage_cpu); t0=$(now)
  cpu_of "$work/$name.cpu" "$@"
  t1=$(now)
  wall[$name]=$(elapsed "$t0" "$t1")
  cpu[$name]=$(cat "$work/$name.cpu")
  gcpu[$name]=$(echo "$(garage_cpu) - $g0" | bc -l)
  rss[$name]=$(( $(awk '{print $3}' "$work/$name.cpu.time") / 1024 ))
}

echo "1/7 cache push (ours) to Garage" >&2
fresh_garage "bench-ours-$suffix"
timed push "$bin" release-dist cache push --to "$(url ours)" --message-format json "$root" > "$work/ours.json" 2> "$work/ours.log"

echo "2/7 no-op re-push (ours)" >&2
timed noop "$bin" release-dist cache push --to "$(url ours)" --message-format json "$root" > "$work/noop.json" 2> "$work/noop.log"
grep -q '"pushed":0' "$work/noop.json" || { echo "the re-push uploaded something:" >&2; cat "$work/noop.json" >&2; exit 1; }

echo "3/7 cache push (ours) to file:// (preparation alone)" >&2
timed file "$bin" release-dist cache push --to "file://$work/ours-file?secret-key=$work/key.sec" --message-format json "$root" > "$work/file.json" 2> "$work/file.log"

echo "4/7 nix copy --to file://…?compression=zstd (anchor, first half)" >&2
timed nixcopy nix copy --quiet --to "file://$work/anchor?compression=zstd" "$root" "${nixopts[@]}" 2> "$work/nixcopy.log"
files=$(find "$work/anchor" -type f | wc -l)

echo "5/7 rclone copy --transfers 8 of it (anchor, second half)" >&2
fresh_garage "bench-anchor8-$suffix"
timed rclone8 rclone copy -q "$work/anchor" "garage:bench-anchor8-$suffix" --transfers 8

echo "6/7 rclone copy --transfers 32 of it, and the tool's upload of the same files" >&2
fresh_garage "bench-anchor32-$suffix"
timed rclone32 rclone copy -q "$work/anchor" "garage:bench-anchor32-$suffix" --transfers 32
fresh_garage "bench-upload-$suffix"
timed upload cargo bench --locked --quiet --bench upload-dir -- "$work/anchor" "$(url upload)" 32 > "$work/upload.json" 2>/dev/null

echo "7/7 peak RSS pushing one 2 GiB path" >&2
fresh_garage "bench-ours-$suffix"
timed big "$bin" release-dist cache push --to "$(url ours)" "$big" 2> "$work/big.log"

ours=${wall[push]}
anchor=$(echo "${wall[nixcopy]} + ${wall[rclone8]}" | bc -l)
upload_s=$(jq -r .seconds "$work/upload.json")
line() { printf '%-52s %8.2fs %7.2fs %7.2fs %6d MiB\n' "$1" "${wall[$2]}" "${cpu[$2]}" "${gcpu[$2]}" "${rss[$2]}"; }
printf '\n%-52s %9s %8s %8s %10s\n' "run ($paths paths, $((bytes / 1048576)) MiB of NAR)" "wall" "cpu" "garage" "peak RSS"
line "cache push (ours) to Garage" push
line "no-op re-push (ours)" noop
line "cache push (ours) to file:// (preparation)" file
line "nix copy file://?compression=zstd" nixcopy
line "rclone copy --transfers 8 ($files files)" rclone8
line "rclone copy --transfers 32" rclone32
line "upload alone (ours, 32 at once; incl. cargo start)" upload
line "cache push (ours), one 2 GiB path" big
echo
echo "phases of the push (ms; busy times are sums over NARs): $(jq -c .phases "$work/ours.json")"
echo "requests: push $(jq -c .requests "$work/ours.json"), no-op $(jq -c .requests "$work/noop.json"), upload alone $(jq -c .requests "$work/upload.json")"
printf 'upload alone, same files: ours %.2fs against rclone --transfers 32 %.2fs: %.2fx\n' "$upload_s" "${wall[rclone32]}" "$(ratio "$upload_s" "${wall[rclone32]}")"
echo
printf 'ratio ours / (nix copy + rclone --transfers 8): %.2fx   (goal <= 0.70x)\n' "$(ratio "$ours" "$anchor")"
printf 'ratio ours / rclone --transfers 32 alone:       %.2fx   (goal <= 1.15x)\n' "$(ratio "$ours" "${wall[rclone32]}")"
printf 'no-op re-push:                                  %.2fs   (goal < 0.5s)\n' "${wall[noop]}"
printf 'peak RSS, the %d-path push:                   %d MiB (goal < 64 MiB)\n' "$paths" "${rss[push]}"
printf 'peak RSS, one 2 GiB path:                       %d MiB (goal < 64 MiB)\n' "${rss[big]}"
echo "summary (ours): $(cat "$work/ours.json")"
