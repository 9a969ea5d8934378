#!/bin/sh
# Installs @NAME@ @TAG@: the binary for this machine (Linux or macOS),
# checked against the release's SHA256SUMS before it is put in place, and
# SHA256SUMS against the release's signature when minisign or gpg is
# installed (--require-signature, or RELEASE_DIST_REQUIRE_SIGNATURE=1,
# refuses to install without one). POSIX sh (dash works), curl or wget.
# Written by cargo-release-dist.
#
#   curl -fsSL @SELF@ | sh
#   sh install.sh [--dir DIR] [--os linux|darwin] [--arch amd64|386|arm64|armv6|armv7|riscv64|ppc64le|s390x] [--base-url URL]
set -eu

name='@NAME@'
tag='@TAG@'
bin='@BIN@'
base_url='@BASE_URL@'
release_path='@RELEASE_PATH@'
# Each target this release has, and its file's path in the release.
files='@FILES@'
# The release's public keys (empty when it is not signed so).
minisign_key='@MINISIGN_KEY@'
openpgp_key='@OPENPGP_KEY@'
require_signature="${RELEASE_DIST_REQUIRE_SIGNATURE:-}"

dir="${HOME:-}/.local/bin"
os=''
arch=''

say() { printf '%s\n' "install.sh: $*" >&2; }
die() { say "$*"; exit 1; }
usage() {
  cat <<EOF
Installs $name $tag into DIR (default ~/.local/bin).
  --dir DIR        where to install $bin
  --os OS          linux or darwin (default: this machine's)
  --arch ARCH      amd64, 386, arm64, armv6, armv7, riscv64, ppc64le or s390x
                   (default: this machine's)
  --base-url URL   where the release is published (default: $base_url)
  --require-signature  refuse to install unless SHA256SUMS carries a good
                   signature (minisign or gpg must be installed)
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dir) [ $# -ge 2 ] || die "--dir needs a directory"; dir=$2; shift 2 ;;
    --dir=*) dir=${1#--dir=}; shift ;;
    --os) [ $# -ge 2 ] || die "--os needs an operating system"; os=$2; shift 2 ;;
    --os=*) os=${1#--os=}; shift ;;
    --arch) [ $# -ge 2 ] || die "--arch needs an architecture"; arch=$2; shift 2 ;;
    --arch=*) arch=${1#--arch=}; shift ;;
    --base-url) [ $# -ge 2 ] || die "--base-url needs a URL"; base_url=$2; shift 2 ;;
    --base-url=*) base_url=${1#--base-url=}; shift ;;
    --require-signature) require_signature=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

[ -n "$base_url" ] || die "this script does not know where $name $tag was published: give --base-url URL"
[ -n "$dir" ] || die "no directory to install into: give --dir DIR"

if [ -z "$os" ]; then
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) die "$name has builds for Linux and macOS, and this is $(uname -s)" ;;
  esac
fi
case "$os" in linux|darwin) ;; *) die "unknown operating system: $os (linux or darwin)" ;; esac
if [ -z "$arch" ]; then
  machine=$(uname -m)
  # An arm64 Mac running this shell under Rosetta says x86_64: ask it.
  if [ "$os" = darwin ] && [ "$machine" = x86_64 ] \
    && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
    machine=arm64
  fi
  case "$machine" in
    x86_64|amd64) arch=amd64 ;;
    i386|i486|i586|i686) arch=386 ;;
    aarch64|arm64|armv8*) arch=arm64 ;;
    armv6*) arch=armv6 ;;
    armv7*) arch=armv7 ;;
    riscv64) arch=riscv64 ;;
    ppc64le) arch=ppc64le ;;
    s390x) arch=s390x ;;
    *) die "no $name build for this machine ($machine)" ;;
  esac
fi

# The target's file; an ARMv7 machine runs the ARMv6 build when there is no v7 one.
lookup() {
  for entry in $files; do
    case "$entry" in "$1="*) printf '%s\n' "${entry#*=}"; return 0 ;; esac
  done
  return 1
}
case "$arch" in
  amd64|x86_64|linux/amd64|darwin/amd64) path=$(lookup "$os/amd64") || path='' ;;
  386|i386|linux/386) path=$(lookup "$os/386") || path='' ;;
  arm64|aarch64|linux/arm64|darwin/arm64) path=$(lookup "$os/arm64") || path='' ;;
  armv6|armv6l|arm|linux/arm/v6) path=$(lookup "$os/arm/v6") || path='' ;;
  armv7|armv7l|linux/arm/v7) path=$(lookup "$os/arm/v7" || lookup "$os/arm/v6") || path='' ;;
  riscv64|linux/riscv64) path=$(lookup "$os/riscv64") || path='' ;;
  ppc64le|linux/ppc64le) path=$(lookup "$os/ppc64le") || path='' ;;
  s390x|linux/s390x) path=$(lookup "$os/s390x") || path='' ;;
  *) die "unknown architecture: $arch (amd64, 386, arm64, armv6, armv7, riscv64, ppc64le or s390x)" ;;
esac
[ -n "$path" ] || die "$name $tag has no build for $os/$arch"

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1" || die "cannot download $1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1" || die "cannot download $1"
  else
    die "neither curl nor wget is installed"
  fi
}
sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then
    shasum -a 256 "$1" | cut -d' ' -f1
  else
    die "neither sha256sum nor shasum is installed"
  fi
}

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t install)
trap 'rm -rf "$tmp"' EXIT INT TERM
base="${base_url%/}/$release_path"
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS"
# SHA256SUMS comes from where the binary does: check its signature when a
# verifier is here, and say which of three things happened.
signed=''
if [ -n "$minisign_key" ] && command -v minisign >/dev/null 2>&1; then
  fetch "$base/SHA256SUMS.minisig" "$tmp/SHA256SUMS.minisig"
  minisign -V -q -P "$minisign_key" -m "$tmp/SHA256SUMS" -x "$tmp/SHA256SUMS.minisig" >/dev/null 2>&1 \
    || die "SHA256SUMS of $name $tag does not carry a good minisign signature by the release's key: refused, nothing was installed"
  signed=minisign
elif [ -n "$openpgp_key" ] && command -v gpg >/dev/null 2>&1; then
  fetch "$base/SHA256SUMS.asc" "$tmp/SHA256SUMS.asc"
  mkdir -m 700 "$tmp/gnupg"
  printf '%s\n' "$openpgp_key" > "$tmp/release.asc"
  GNUPGHOME="$tmp/gnupg" gpg --batch --quiet --import "$tmp/release.asc" >/dev/null 2>&1 \
    || die "cannot import the release's OpenPGP key"
  GNUPGHOME="$tmp/gnupg" gpg --batch --verify "$tmp/SHA256SUMS.asc" "$tmp/SHA256SUMS" >"$tmp/gpg.log" 2>&1 \
    || die "SHA256SUMS of $name $tag does not carry a good OpenPGP signature by the release's key ($(tail -n 1 "$tmp/gpg.log")): refused, nothing was installed"
  signed=OpenPGP
fi
if [ -n "$signed" ]; then
  say "signature good: SHA256SUMS is signed by the release's $signed key"
elif [ -n "$require_signature" ]; then
  if [ -z "$minisign_key$openpgp_key" ]; then
    die "$name $tag is not signed, and a signature is required: refused, nothing was installed"
  fi
  die "no signature verifier (minisign or gpg) is installed, and a signature is required: refused, nothing was installed"
elif [ -n "$minisign_key$openpgp_key" ]; then
  say "no signature verifier (minisign or gpg) is installed: only the checksums were checked"
else
  say "$name $tag is not signed: only the checksums were checked"
fi
want=$(awk -v p="$path" '$2 == p || $2 == "*" p { print $1 }' "$tmp/SHA256SUMS")
[ -n "$want" ] || die "SHA256SUMS of $name $tag does not list $path"
fetch "$base/$path" "$tmp/$bin"
got=$(sha256 "$tmp/$bin")
[ "$got" = "$want" ] || die "the download of $path does not match SHA256SUMS (expected $want, got $got): nothing was installed"

mkdir -p "$dir" || die "cannot create $dir"
cp "$tmp/$bin" "$dir/.$bin.partial" && chmod 755 "$dir/.$bin.partial" && mv -f "$dir/.$bin.partial" "$dir/$bin" \
  || die "cannot install into $dir"
say "installed $name $tag ($path) as $dir/$bin"
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) say "$dir is not on your PATH; add it, or run $dir/$bin" ;;
esac
