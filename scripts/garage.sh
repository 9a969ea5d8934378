#!/usr/bin/env bash
# Garage 2.5 on loopback for tests and local trials: one node, or a cluster of three.
#
#   scripts/garage.sh install              cargo install garage 2.5.0 when missing (about 9 min)
#   scripts/garage.sh start DIR [BASE]     start a single node with data in DIR, ports BASE..BASE+3
#                                          (default 3900), import the test key; prints `export` lines
#   scripts/garage.sh cluster DIR BASE     start three nodes (replication factor 3) in DIR/n1..n3,
#                                          node I on ports BASE+10*(I-1)..+3; starts only the nodes
#                                          that are not running, so it also restarts stopped ones;
#                                          prints `export` lines for node 1
#   scripts/garage.sh bucket DIR NAME      create bucket NAME, allow the test key, enable its website
#                                          (for a cluster, DIR is DIR/n1)
#   scripts/garage.sh stop DIR             stop the node (or every node of a cluster)
#
# The S3 API is on BASE, RPC on BASE+1, the website on BASE+2 (Host: NAME.web.garage.localhost),
# admin on BASE+3. The test key is fixed: it guards nothing but a loopback test node.
set -euo pipefail

KEY_ID=GK0123456789abcdef01234567
KEY_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RPC_SECRET=fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210

garage_bin() { command -v garage || echo "$HOME/.cargo/bin/garage"; }

# write_config DIR BASE REPLICATION
write_config() {
  local dir=$1 base=$2 rf=$3
  mkdir -p "$dir/meta" "$dir/data"
  cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = $rf
rpc_bind_addr = "127.0.0.1:$((base + 1))"
rpc_public_addr = "127.0.0.1:$((base + 1))"
rpc_secret = "$RPC_SECRET"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$base"
root_domain = ".s3.garage.localhost"

[s3_web]
bind_addr = "127.0.0.1:$((base + 2))"
root_domain = ".web.garage.localhost"
index = "index.html"

[admin]
api_bind_addr = "127.0.0.1:$((base + 3))"
TOML
}

running() { [[ -f $1/pid ]] && kill -0 "$(cat "$1/pid")" 2>/dev/null; }

# launch DIR BASE: start the server on DIR's config, wait for its RPC, S3 and web ports.
launch() {
  local dir=$1 base=$2
  local g="$(garage_bin) -c $dir/garage.toml"
  RUST_LOG=warn nohup $(garage_bin) -c "$dir/garage.toml" server > "$dir/server.log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 100); do $g status >/dev/null 2>&1 && break; sleep 0.1; done
  if ! running "$dir"; then
    echo "garage did not start (ports $base..$((base + 3)) in use?):" >&2; tail -5 "$dir/server.log" >&2; exit 1
  fi
  # The RPC answering is not enough: wait until the S3 and web ports accept connections.
  for port in "$base" "$((base + 2))"; do
    for _ in $(seq 1 100); do
      curl -s -o /dev/null "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
  done
}

node_id() { $(garage_bin) -c "$1/garage.toml" node id -q 2>/dev/null | cut -d@ -f1; }

import_key() {
  local g="$(garage_bin) -c $1/garage.toml"
  $g key info "$KEY_ID" >/dev/null 2>&1 || $g key import --yes -n test "$KEY_ID" "$KEY_SECRET" >/dev/null
}

print_env() {
  local dir=$1 base=$2
  cat <<ENV
export RELEASE_DIST_GARAGE_CONFIG=$dir/garage.toml
export RELEASE_DIST_GARAGE_S3=127.0.0.1:$base
export RELEASE_DIST_GARAGE_WEB=127.0.0.1:$((base + 2))
export AWS_ACCESS_KEY_ID=$KEY_ID
export AWS_SECRET_ACCESS_KEY=$KEY_SECRET
ENV
}

cmd=${1:-}; shift || true
case "$cmd" in
install)
  if ! "$(garage_bin)" --version 2>/dev/null | grep -q 'v2.5.0'; then
    echo "installing garage 2.5.0 with cargo (about 9 minutes on 2 cores)" >&2
    cargo install garage --locked --version 2.5.0 >&2
  fi
  ;;
start)
  dir=$(realpath -m "$1"); base=${2:-3900}
  write_config "$dir" "$base" 1
  launch "$dir" "$base"
  # A restarted node keeps its layout: apply it once per data directory.
  if [[ ! -f $dir/layout-applied ]]; then
    g="$(garage_bin) -c $dir/garage.toml"
    $g layout assign -z dc1 -c 1G "$(node_id "$dir")" >/dev/null
    $g layout apply --version 1 >/dev/null
    touch "$dir/layout-applied"
  fi
  import_key "$dir"
  print_env "$dir" "$base"
  ;;
cluster)
  dir=$(realpath -m "$1"); base=$2
  for i in 1 2 3; do
    nb=$((base + 10 * (i - 1)))
    [[ -f $dir/n$i/garage.toml ]] || write_config "$dir/n$i" "$nb" 3
    running "$dir/n$i" || launch "$dir/n$i" "$nb"
  done
  g="$(garage_bin) -c $dir/n1/garage.toml"
  if [[ ! -f $dir/layout-applied ]]; then
    for i in 2 3; do
      $g node connect "$(node_id "$dir/n$i")@127.0.0.1:$((base + 10 * (i - 1) + 1))" >/dev/null
    done
    for i in 1 2 3; do $g layout assign -z "dc$i" -c 1G "$(node_id "$dir/n$i")" >/dev/null; done
    $g layout apply --version 1 >/dev/null
    touch "$dir/layout-applied"
  fi
  # Wait until every node is up in node 1's view and a write reaches quorum.
  for _ in $(seq 1 150); do
    if [[ $($g status 2>/dev/null | grep -c 'NO ROLE\|DOWN\|FAILED' || true) == 0 ]] && import_key "$dir/n1" 2>/dev/null; then
      ok=1; break
    fi
    sleep 0.2
  done
  if [[ -z ${ok:-} ]]; then echo "the garage cluster in $dir did not become healthy:" >&2; $g status >&2 || true; exit 1; fi
  print_env "$dir/n1" "$base"
  ;;
bucket)
  dir=$(realpath -m "$1"); name=$2
  g="$(garage_bin) -c $dir/garage.toml"
  $g bucket info "$name" >/dev/null 2>&1 || $g bucket create "$name" >/dev/null
  $g bucket allow --read --write --owner "$name" --key "$KEY_ID" >/dev/null
  $g bucket website --allow "$name" >/dev/null
  ;;
stop)
  dir=$(realpath -m "$1")
  for d in "$dir" "$dir"/n1 "$dir"/n2 "$dir"/n3; do
    [ -f "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null || true
  done
  ;;
*)
  sed -n '2,16p' "$0"; exit 2 ;;
esac
