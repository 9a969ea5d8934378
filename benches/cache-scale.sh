#!/usr/bin/env bash
# Benchmark: a push costs what it pushes, not what the cache holds.
#
# Seeds a cache of 50,000 paths on a Garage node of its own: the 2,000-path
# closure of benches/closure.nix pushed for real, plus 48,000 made-up paths
# (a narinfo key and a NAR key each, so listings meet both kinds), uploaded
# with benches/upload_dir.rs. Then measures, and prints as ratios:
#
#   1. the no-op re-push of the 2,000-path closure into it (goal < 0.5 s), and
#      the same re-push once the root's narinfo is deleted, which makes the
#      push check every path (the listing, or HEADs, against the big cache);
#   2. a push of 50 new paths into it, against the same push into an empty
#      cache (goal <= 1.5x), three times each, alternating;
#   3. the requests each run sent (from the JSON summary).
#
# Needs nix, garage, rclone (benches/common.sh checks for it), jq and bc.
set -euo pipefail
cd "$(dirname "$0")/.."
nixopts=(--option substituters '' --extra-experimental-features 'nix-command flakes')
source benches/common.sh
seeded=${SEED_PATHS:-50000}
cargo bench --locked --quiet --bench upload-dir --no-run 2>/dev/null
nix-store --generate-binary-cache-key bench-1 "$work/key.sec" "$work/key.pub"
url() { echo "s3://$1?endpoint=$s3&region=garage&scheme=http&secret-key=$work/key.sec"; }

echo "building the closures (cached after the first run)" >&2
root=$(nix-build benches/closure.nix -A root --no-out-link "${nixopts[@]}" 2>/dev/null)
small=()
for i in 1 2 3; do
  small+=("$(nix-build benches/closure.nix -A root --arg n 50 --arg bigCount 0 --argstr salt "scale-$i" \
    --no-out-link "${nixopts[@]}" 2>/dev/null)")
done
paths=$(nix-store -qR "$root" | wc -l)
small_paths=$(nix-store -qR "${small[0]}" | wc -l)

big=bench-big-$suffix
fresh_garage "$big" bench-empty-{1,2,3}-"$suffix"
echo "seeding: the $paths-path closure, then $((seeded - paths)) made-up paths" >&2
"$bin" release-dist -q cache push --to "$(url "$big")" "$root" >/dev/null
python3 - "$work/fake" "$((seeded - paths))" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
rng = random.Random(7)
os.makedirs(f"{root}/nar")
for _ in range(n):
    h = "".join(rng.choice(alphabet) for _ in range(32))
    f = "".join(rng.choice(alphabet) for _ in range(52))
    with open(f"{root}/{h}.narinfo", "w") as out:
        out.write(f"StorePath: /nix/store/{h}-made-up\nURL: nar/{f}.nar.zst\n")
    with open(f"{root}/nar/{f}.nar.zst", "w") as out:
        out.write("x")
PY
t0=$(now)
cargo bench --locked --quiet --bench upload-dir -- "$work/fake" "$(url "$big")" 64 > "$work/seed.json" 2>/dev/null
t1=$(now)
objects=$(jq .files "$work/seed.json")
printf 'seeded %d objects in %.1fs\n' "$objects" "$(elapsed "$t0" "$t1")" >&2

# push NAME URL PATH: one measured push; its seconds and requests.
declare -A secs reqs
push() {
  local t0 t1
  t0=$(now)
  "$bin" release-dist cache push --to "$2" --message-format json "$3" > "$work/$1.json" 2> "$work/$1.log"
  t1=$(now)
  secs[$1]=$(elapsed "$t0" "$t1")
  reqs[$1]=$(jq -c .requests "$work/$1.json")
}

echo "1/2 no-op re-push of the $paths-path closure into the $seeded-path cache" >&2
push noop "$(url "$big")" "$root"
jq -e '.pushed == 0' "$work/noop.json" >/dev/null || { echo "the no-op re-push pushed something" >&2; exit 1; }

echo "   and with the root's narinfo deleted (a check of every path)" >&2
rclone deletefile "garage:$big/$(basename "$root" | cut -c1-32).narinfo"
push full "$(url "$big")" "$root"
jq -e '.pushed == 1' "$work/full.json" >/dev/null || { echo "the re-push did not push the root alone" >&2; exit 1; }

echo "2/2 $small_paths new paths, into the big cache and into an empty one (3 times, alternating)" >&2
for i in 1 2 3; do
  if (( i % 2 )); then
    push "big$i" "$(url "$big")" "${small[i-1]}"; push "empty$i" "$(url "bench-empty-$i-$suffix")" "${small[i-1]}"
  else
    push "empty$i" "$(url "bench-empty-$i-$suffix")" "${small[i-1]}"; push "big$i" "$(url "$big")" "${small[i-1]}"
  fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
big_med=$(median "${secs[big1]}" "${secs[big2]}" "${secs[big3]}")
empty_med=$(median "${secs[empty1]}" "${secs[empty2]}" "${secs[empty3]}")

echo
printf 'cache of %d paths (%d objects)\n' "$seeded" "$((objects + 2 * paths))"
printf 'no-op re-push, %d paths:             %5.2fs   requests %s\n' "$paths" "${secs[noop]}" "${reqs[noop]}"
printf 're-push, root missing (every path checked): %5.2fs   requests %s, check %s ms\n' "${secs[full]}" "${reqs[full]}" \
  "$(jq .phases.checkMs "$work/full.json")"
for i in 1 2 3; do
  printf 'push of %d new paths, run %d: big cache %5.2fs %s; empty cache %5.2fs %s\n' "$small_paths" "$i" \
    "${secs[big$i]}" "${reqs[big$i]}" "${secs[empty$i]}" "${reqs[empty$i]}"
done
echo
printf 'no-op re-push into the big cache:          %.2fs   (goal < 0.5s)\n' "${secs[noop]}"
printf 'ratio new paths, big cache / empty cache:  %.2fx   (medians; goal <= 1.5x)\n' "$(ratio "$big_med" "$empty_med")"
