#!/usr/bin/env bash
# Benchmark: `cache gc` of a 20,000-path cache, half of it unreachable, with
# five pins, on a Garage node of its own.
#
# The cache is made up (narinfos with References, and one-byte NARs): a base
# of 1,000 paths the closures use, five live closures of 1,900 paths
# (pinned, each pin listing its whole closure, as pushes write them) and five
# dead ones of the same shape. Each closure is 38 layers deep, each path
# refers to three paths of the layers below it. Two identical buckets are
# seeded. Then, in the same run:
#
#   1. `cache gc --grace 0` on the first: wall time, peak RSS, and the
#      requests it sent against the cost model
#      (live narinfos read + listing pages + objects deleted; goal <= 1.1x);
#   2. the anchor: `rclone delete --files-from` of exactly the keys the
#      collector deleted, on the second bucket (`--transfers 32`): deleting
#      with no marking, no ordering and no safety, the floor of the job.
#
# Needs garage, rclone (benches/common.sh checks for it), jq, bc and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh
cargo bench --locked --quiet --bench upload-dir --no-run 2>/dev/null
nix-store --generate-binary-cache-key bench-1 "$work/key.sec" "$work/key.pub"
url() { echo "s3://$1?endpoint=$s3&region=garage&scheme=http&secret-key=$work/key.sec"; }

a=bench-gc-a-$suffix
b=bench-gc-b-$suffix
fresh_garage "$a" "$b"
python3 - "$work/cache" "$work/dead.txt" <<'PY'
import os, random, sys
root, dead_list = sys.argv[1], sys.argv[2]
alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
rng = random.Random(11)
def h(n): return "".join(rng.choice(alphabet) for _ in range(n))
os.makedirs(f"{root}/nar"); os.makedirs(f"{root}/pins")
def closure(name, size, below):
    layers, paths = [], []
    per = size // 38
    for layer in range(38):
        row = []
        for i in range(per if layer < 37 else size - per * 37):
            pool = [p for l in layers[-5:] for p in l] or below
            refs = rng.sample(pool, min(3, len(pool))) if pool else []
            p = (h(32), f"{name}-{layer}-{i}", h(52), refs)
            row.append(p); paths.append(p)
        layers.append(row)
    return paths
def write(p):
    hh, name, f, refs = p
    with open(f"{root}/{hh}.narinfo", "w") as out:
        out.write(f"StorePath: /nix/store/{hh}-{name}\nURL: nar/{f}.nar.zst\nCompression: zstd\n"
                  f"References: {' '.join(r[0] + '-' + r[1] for r in refs)}\n")
    with open(f"{root}/nar/{f}.nar.zst", "w") as out:
        out.write("x")
def closed(paths):
    seen, todo = {}, list(paths)
    while todo:
        p = todo.pop()
        if p[0] in seen: continue
        seen[p[0]] = p; todo.extend(p[3])
    return seen.values()
base = closure("base", 1000, [])
for p in base: write(p)
top = base[-50:]
everything, live = list(base), {}
for k in range(10):
    c = closure(f"c{k}", 1900, top)
    everything.extend(c)
    for p in c: write(p)
    if k < 5:
        kept = list(closed(c))
        live.update((p[0], p) for p in kept)
        with open(f"{root}/pins/release-{k}", "w") as pin:
            pin.write("".join(f"/nix/store/{p[0]}-{p[1]}\n" for p in sorted(kept)))
with open(dead_list, "w") as dead:
    for p in everything:
        if p[0] not in live:
            dead.write(f"{p[0]}.narinfo\nnar/{p[2]}.nar.zst\n")
PY
echo "seeding both buckets with $(find "$work/cache" -type f | wc -l) objects" >&2
for bucket in "$a" "$b"; do
  cargo bench --locked --quiet --bench upload-dir -- "$work/cache" "$(url "$bucket")" 64 > "$work/seed.json" 2>/dev/null
done
narinfos=$(find "$work/cache" -maxdepth 1 -name '*.narinfo' | wc -l)
objects=$(find "$work/cache" -type f | wc -l)
dead=$(wc -l < "$work/dead.txt")

echo "1/2 cache gc" >&2
t0=$(now)
/usr/bin/time -f '%M' -o "$work/gc.rss" "$bin" release-dist --message-format json cache gc --grace 0 \
  --cache "$(url "$a")" > "$work/gc.json" 2> "$work/gc.log"
t1=$(now)
gc_secs=$(elapsed "$t0" "$t1")
deleted=$(( $(jq '.narinfosDeleted + .narsDeleted + .othersDeleted' "$work/gc.json") ))
[[ $deleted -eq $dead ]] || { echo "the collector deleted $deleted objects, not the $dead dead ones" >&2; cat "$work/gc.json" >&2; exit 1; }
live=$(( narinfos - $(jq .narinfosDeleted "$work/gc.json") ))
pages=$(( (objects + 999) / 1000 ))
model=$(( live + pages + deleted ))
requests=$(jq '.requests | .head + .get + .put + .list + .delete' "$work/gc.json")

echo "2/2 rclone delete of the same keys (the anchor)" >&2
t0=$(now)
rclone delete --transfers 32 --files-from "$work/dead.txt" "garage:$b" 2> "$work/rclone.log"
t1=$(now)
rclone_secs=$(elapsed "$t0" "$t1")

echo
printf 'cache: %d narinfos (%d objects), %d pins; %d objects unreachable\n' "$narinfos" "$objects" 5 "$dead"
printf 'cache gc:       %6.2fs   peak RSS %d MiB   requests %s\n' "$gc_secs" "$(( $(cat "$work/gc.rss") / 1024 ))" \
  "$(jq -c .requests "$work/gc.json")"
printf '   read and decide %s ms, delete %s ms\n' "$(jq .phases.readMs "$work/gc.json")" "$(jq .phases.deleteMs "$work/gc.json")"
printf 'rclone delete:  %6.2fs   (--transfers 32, the dead keys given, nothing marked)\n' "$rclone_secs"
printf 'requests / cost model (%d live narinfos + %d pages + %d deleted = %d): %.2fx   (goal <= 1.1x)\n' \
  "$live" "$pages" "$deleted" "$model" "$(ratio "$requests" "$model")"
printf 'time, cache gc / rclone delete: %.2fx\n' "$(ratio "$gc_secs" "$rclone_secs")"
printf 'peak RSS: %d MiB   (goal < 100 MiB)\n' "$(( $(cat "$work/gc.rss") / 1024 ))"
