# Shared set-up of the bench scripts (sourced from the repository root):
# rclone's environment, a work directory, and a Garage node of the bench's own
# (ports from $BENCH_GARAGE_BASE, default 39300, up), restarted empty by
# `fresh_garage` before each measured upload. Sets: work, gdir, s3, suffix,
# bin (the release binary, or $BENCH_BIN).
# Defines: now, elapsed, ratio, garage_cpu, cpu_of FILE CMD…; rclone's remote is `garage:`.

# rclone (and the AWS CLI) fail on some of the CA variables this environment sets.
unset AWS_CA_BUNDLE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE || true
export AWS_DEFAULT_REGION=garage AWS_EC2_METADATA_DISABLED=true
command -v rclone >/dev/null || { echo "rclone is needed (the upload anchor): apt-get install rclone" >&2; exit 3; }

work=$(mktemp -d /tmp/release-dist-bench.XXXXXX)
# A bench that starts more services adds their stopping to `extra_cleanup`.
extra_cleanup=:
cleanup() {
  $extra_cleanup || true
  scripts/garage.sh stop "$work/garage" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# fresh_garage BUCKET…: a Garage node of the bench's own with empty data, and
# the buckets. Garage stores each block once (by its hash), so the second
# upload of the same bytes skips the disk writes the first paid for: every
# measured upload gets a fresh node, so that neither side profits from the
# other. Sets gdir, s3 and rclone's endpoint.
garage_base=${BENCH_GARAGE_BASE:-39300}
fresh_garage() {
  if [[ -f $work/garage/pid ]]; then
    local pid
    pid=$(cat "$work/garage/pid")
    scripts/garage.sh stop "$work/garage" >/dev/null 2>&1 || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -rf "$work/garage"
  garage_base=$((garage_base + 10))
  eval "$(scripts/garage.sh start "$work/garage" "$garage_base")"
  gdir=$work/garage
  s3=$RELEASE_DIST_GARAGE_S3
  export RCLONE_CONFIG_GARAGE_ENDPOINT="http://$s3"
  local b
  for b in "$@"; do scripts/garage.sh bucket "$gdir" "$b"; done
  sync
}
fresh_garage
suffix=$(date +%s)-$$

# rclone's remote `garage:` through the environment, so no secret is on a command line.
export RCLONE_CONFIG_GARAGE_TYPE=s3 RCLONE_CONFIG_GARAGE_PROVIDER=Other
export RCLONE_CONFIG_GARAGE_REGION=garage
export RCLONE_CONFIG_GARAGE_FORCE_PATH_STYLE=true RCLONE_CONFIG_GARAGE_ENV_AUTH=true

# BENCH_BIN measures another build (an older commit, say) with the same script.
if [[ -z "${BENCH_BIN:-}" ]]; then cargo build --release --locked --quiet; fi
bin=${BENCH_BIN:-$PWD/target/release/cargo-release-dist}

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }
ratio() { echo "$1 / $2" | bc -l; }

# CPU seconds (user + system) Garage has used so far.
garage_cpu() {
  local pid
  pid=$(cat "$gdir/pid")
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$pid/stat"
}

# cpu_of FILE CMD…: runs CMD, writes its CPU seconds (user + system, children included) to FILE.
cpu_of() { local out=$1; shift; /usr/bin/time -f '%U %S %M' -o "$out.time" "$@"; awk '{ printf "%.2f\n", $1 + $2 }' "$out.time" > "$out"; }
