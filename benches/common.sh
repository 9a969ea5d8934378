# Shared set-up of the bench scripts (sourced from the repository root):
# rclone's environment, a work directory, and a Garage node (the one named
# by RELEASE_DIST_GARAGE_CONFIG / _S3, or one of the bench's own on port
# $BENCH_GARAGE_BASE). Sets: work, gdir, s3, suffix, bin (the release binary, or $BENCH_BIN).
# Defines: now, elapsed, ratio, garage_cpu, cpu_of FILE CMD…; rclone's remote is `garage:`.

# rclone (and the AWS CLI) fail on some of the CA variables this environment sets.
unset AWS_CA_BUNDLE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE || true
export AWS_DEFAULT_REGION=garage AWS_EC2_METADATA_DISABLED=true
command -v rclone >/dev/null || { echo "rclone is needed (the upload anchor): apt-get install rclone" >&2; exit 3; }

work=$(mktemp -d /tmp/release-dist-bench.XXXXXX)
cleanup() {
  if [[ -n "${own_garage:-}" ]]; then scripts/garage.sh stop "$work/garage" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [[ -z "${RELEASE_DIST_GARAGE_CONFIG:-}" ]]; then
  own_garage=1
  eval "$(scripts/garage.sh start "$work/garage" "${BENCH_GARAGE_BASE:-39300}")"
fi
gdir=$(dirname "$RELEASE_DIST_GARAGE_CONFIG")
s3=$RELEASE_DIST_GARAGE_S3
suffix=$(date +%s)-$$

# rclone's remote `garage:` through the environment, so no secret is on a command line.
export RCLONE_CONFIG_GARAGE_TYPE=s3 RCLONE_CONFIG_GARAGE_PROVIDER=Other
export RCLONE_CONFIG_GARAGE_ENDPOINT="http://$s3" RCLONE_CONFIG_GARAGE_REGION=garage
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
