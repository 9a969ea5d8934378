# Shared set-up of the bench scripts (sourced from the repository root):
# the aws CLI's environment, a work directory, and a Garage node (the one named
# by RELEASE_DIST_GARAGE_CONFIG / _S3, or one of the bench's own on port
# $BENCH_GARAGE_BASE). Sets: work, gdir, s3, suffix, bin (the release binary).

# The aws CLI fails on some of the CA variables this environment sets.
unset AWS_CA_BUNDLE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE || true
export AWS_DEFAULT_REGION=garage AWS_EC2_METADATA_DISABLED=true
command -v aws >/dev/null || { echo "the aws CLI is needed: pip install awscli" >&2; exit 3; }

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

cargo build --release --locked --quiet
bin=$PWD/target/release/cargo-release-dist

now() { date +%s.%N; }
