#!/usr/bin/env bash
# Benchmark of the image push against `skopeo copy --all`, in one run, to the
# same docker-registry on loopback: four images (linux amd64, 386, arm64,
# arm/v6) of about 100 MiB each (half random, half text, as binaries are).
#
# - anchor: `skopeo copy --all oci:LAYOUT:TAG docker://REG/anchor:TAG`, where
#   LAYOUT is the OCI layout our own local publish wrote (the same blobs);
# - ours: `publish --images docker://REG/ours`, layers already converted (the
#   cache the local publish filled), so both push the same prepared bytes;
# - also printed: the cold conversion (gzip and none), and the no-op re-push.
#
# - and the S3 static registry: `publish --images s3://…` to Garage against
#   `rclone copy --transfers 8` of the same blobs to another bucket.
#
# Prints the ratio ours / skopeo (goal <= 0.7x), the no-op time (goal < 0.5 s)
# and the S3 throughput ratio ours / rclone (goal >= 1.0x).
set -euo pipefail
cd "$(dirname "$0")/.."
export NIX_CONFIG="substituters ="
command -v skopeo >/dev/null && command -v docker-registry >/dev/null ||
  { echo "skopeo and docker-registry are needed: scripts/setup-debian.sh --tests" >&2; exit 3; }
source benches/common.sh
reg_pid=
stop_registry() { [[ -z $reg_pid ]] || kill "$reg_pid" 2>/dev/null; }
extra_cleanup=stop_registry

port=${BENCH_REGISTRY_PORT:-39550}
cat > "$work/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$work/registry.yml" >/dev/null 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

# The example, with a 100 MiB payload in each image's layer (not in the
# static binaries, so that the static half of publish stays small).
cp -r examples/hello "$work/hello"
rm -rf "$work/hello/target"
sed -i 's|          cp ${bin}/bin/${name} $work/root/bin/${name}|          cp ${bin}/bin/${name} $work/root/bin/${name}\n          { head -c 52428800 /dev/urandom; yes "${t.triple} payload line of text" \| head -c 52428800; } > $work/root/bin/payload|' "$work/hello/flake.nix"
sed -i 's/| gzip -9n > $out/| gzip -1n > $out/' "$work/hello/flake.nix"
(cd "$work/hello" && git init -q -b main && git add -A && git -c user.name=b -c user.email=b@b commit -qm bench)
(cd "$work/hello" && "$bin" release-dist build -q >/dev/null)
nix-store --generate-binary-cache-key bench-1 "$work/key.sec" "$work/key.pub"
pub() { (cd "$work/hello" && "$bin" release-dist -q publish --tag bench --signing-key "$work/key.sec" \
  --static "$work/static" "$@" >/dev/null); }
dist=$work/hello/target/release-dist

# Cold conversions: each from an empty cache.
t0=$(now); pub --images "$work/layout-none" --image-compression none; t1=$(now)
rm -rf "$dist/oci"
t2=$(now); pub --images "$work/layout"; t3=$(now)
cold_none=$(echo "$t1 - $t0" | bc -l); cold_gzip=$(echo "$t3 - $t2" | bc -l)
bytes_none=$(du -sb "$work/layout-none/blobs" | cut -f1)
bytes_gzip=$(du -sb "$work/layout/blobs" | cut -f1)

# The anchor and ours, pushing the same prepared blobs to the same registry.
t4=$(now)
skopeo copy -q --all --dest-tls-verify=false "oci:$work/layout:bench" "docker://127.0.0.1:$port/anchor:bench" >/dev/null
t5=$(now)
pub --images "docker://127.0.0.1:$port/ours"
t6=$(now)
pub --images "docker://127.0.0.1:$port/ours"
t7=$(now)
(cd "$work/hello" && "$bin" release-dist -q publish --tag bench --signing-key "$work/key.sec" --static "$work/static" \
   --images "docker://127.0.0.1:$port/ours" --message-format json) > "$work/noop.json"
skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$port/ours:bench" | sha256sum | cut -c1-64 > "$work/ours.digest"
skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$port/anchor:bench" | sha256sum | cut -c1-64 > "$work/anchor.digest"

anchor=$(echo "$t5 - $t4" | bc -l); ours=$(echo "$t6 - $t5" | bc -l); noop=$(echo "$t7 - $t6" | bc -l)
mib() { echo "$1 / 1048576" | bc -l; }
printf 'images: 4 platforms; blobs %.0f MiB uncompressed, %.0f MiB gzip\n' "$(mib "$bytes_none")" "$(mib "$bytes_gzip")"
printf 'cold conversion + local layout, none: %6.2fs\n' "$cold_none"
printf 'cold conversion + local layout, gzip: %6.2fs\n' "$cold_gzip"
printf 'skopeo copy --all (anchor):           %6.2fs\n' "$anchor"
printf 'publish --images (ours):              %6.2fs\n' "$ours"
printf 'same index digest on both: %s\n' "$(cmp -s "$work/ours.digest" "$work/anchor.digest" && echo yes || echo NO)"
printf 'no-op re-push (whole publish command): %.2fs   (goal < 0.5 s); blobs uploaded: %s\n' "$noop" \
  "$(jq '.images[0].blobsUploaded' "$work/noop.json")"
printf 'time ratio ours / skopeo: %.2fx   (goal <= 0.70x)\n' "$(echo "$ours / $anchor" | bc -l)"

# The S3 static registry: the same prepared blobs, ours against rclone's upload of them.
blob_bytes=$(du -sb "$work/layout/blobs/sha256" | cut -f1)
s3_ours=() s3_anchor=()
for i in 1 2 3; do
  fresh_garage "benchimg-ours-$i-$suffix"
  t0=$(now)
  pub --images "s3://benchimg-ours-$i-$suffix?endpoint=$s3&region=garage&scheme=http"
  t1=$(now)
  fresh_garage "benchimg-anchor-$i-$suffix"
  t2=$(now)
  rclone copy -q "$work/layout/blobs/sha256" "garage:benchimg-anchor-$i-$suffix/v2/anchor/blobs" --transfers 8
  t3=$(now)
  s3_ours+=("$(elapsed "$t0" "$t1")"); s3_anchor+=("$(elapsed "$t2" "$t3")")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
s3_ours=$(median "${s3_ours[@]}"); s3_anchor=$(median "${s3_anchor[@]}")
printf 'S3 static registry, %.0f MiB of blobs, medians of 3: publish --images (ours, whole command) %.2fs, rclone copy --transfers 8 %.2fs\n' \
  "$(mib "$blob_bytes")" "$s3_ours" "$s3_anchor"
printf 'throughput ratio ours / rclone: %.2fx   (goal >= 1.00x)\n' "$(ratio "$s3_anchor" "$s3_ours")"
