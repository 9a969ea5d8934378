#!/usr/bin/env bash
# A Garage 2.5 node on loopback for tests and local trials.
#
#   scripts/garage.sh install            cargo install garage 2.5.0 when missing (about 9 min)
#   scripts/garage.sh start DIR [BASE]   start a single node with data in DIR, ports BASE..BASE+3
#                                        (default 3900), import the test key; prints `export` lines
#   scripts/garage.sh bucket DIR NAME    create bucket NAME, allow the test key, enable its website
#   scripts/garage.sh stop DIR           stop the node
#
# The S3 API is on BASE, RPC on BASE+1, the website on BASE+2 (Host: NAME.web.garage.localhost),
# admin on BASE+3. The test key is fixed: it guards nothing but a loopback test node.
set -euo pipefail

KEY_ID=GK0123456789abcdef01234567
KEY_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RPC_SECRET=fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210

garage_bin() { command -v garage || echo "$HOME/.cargo/bin/garage"; }

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
  mkdir -p "$dir/meta" "$dir/data"
  cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
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
  g="$(garage_bin) -c $dir/garage.toml"
  RUST_LOG=warn nohup $(garage_bin) -c "$dir/garage.toml" server > "$dir/server.log" 2>&1 &
  echo $! > "$dir/pid"
  for _ in $(seq 1 100); do $g status >/dev/null 2>&1 && break; sleep 0.1; done
  if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "garage did not start (ports $base..$((base + 3)) in use?):" >&2; tail -5 "$dir/server.log" >&2; exit 1
  fi
  # The RPC answering is not enough: wait until the S3 and web ports accept connections.
  for port in "$base" "$((base + 2))"; do
    for _ in $(seq 1 100); do
      curl -s -o /dev/null "http://127.0.0.1:$port/" && break
      sleep 0.1
    done
  done
  id=$($g node id -q 2>/dev/null | cut -d@ -f1)
  # A restarted node keeps its layout: apply it once per data directory.
  if [[ ! -f $dir/layout-applied ]]; then
    $g layout assign -z dc1 -c 1G "$id" >/dev/null
    $g layout apply --version 1 >/dev/null
    touch "$dir/layout-applied"
  fi
  $g key info "$KEY_ID" >/dev/null 2>&1 || $g key import --yes -n test "$KEY_ID" "$KEY_SECRET" >/dev/null
  cat <<ENV
export RELEASE_DIST_GARAGE_CONFIG=$dir/garage.toml
export RELEASE_DIST_GARAGE_S3=127.0.0.1:$base
export RELEASE_DIST_GARAGE_WEB=127.0.0.1:$((base + 2))
export AWS_ACCESS_KEY_ID=$KEY_ID
export AWS_SECRET_ACCESS_KEY=$KEY_SECRET
ENV
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
  [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
  ;;
*)
  sed -n '2,13p' "$0"; exit 2 ;;
esac
