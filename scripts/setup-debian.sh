#!/usr/bin/env bash
# Installs what cargo release-dist and its tests (--tests) or its benches
# (--benches: the tests' set, rclone, jq, bc) need on a fresh Debian machine,
# skipping whatever is already there. Safe to run again.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
# Installed without their recommends (wine64's would bring a desktop's worth).
lean=()
command -v nix >/dev/null || missing+=(nix-bin)
command -v git >/dev/null || missing+=(git)
# The example is a Rust program that cargo cross-builds inside Nix, offline:
# Debian's rustc and cargo (1.63; the flake names /usr/bin/rustc, not
# rustup's), each target's Rust standard library from Debian's multiarch
# packages, and Debian's cross gcc with the target's libc as its linker
# (static, +crt-static). Debian has no ARMv6 hard-float std, hence arm/v7.
foreign=()
for arch in arm64 i386 armhf; do
  dpkg --print-foreign-architectures | grep -qx "$arch" || foreign+=("$arch")
done
command -v /usr/bin/rustc >/dev/null || missing+=(rustc)
command -v /usr/bin/cargo >/dev/null || missing+=(cargo)
[ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] || missing+=(libstd-rust-dev:arm64)
[ -d /usr/lib/rustlib/i686-unknown-linux-gnu ] || missing+=(libstd-rust-dev:i386)
[ -d /usr/lib/rustlib/armv7-unknown-linux-gnueabihf ] || missing+=(libstd-rust-dev:armhf)
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v i686-linux-gnu-gcc >/dev/null || missing+=(gcc-i686-linux-gnu libc6-dev-i386-cross)
command -v arm-linux-gnueabihf-gcc >/dev/null || missing+=(gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)
# The tests' stand-in fixture (tests/fixtures/hello-standin, which keeps
# linux/arm/v6) assembles and links a few instructions per target with
# binutils: the host's, the cross ones that the gcc above bring, and those of
# riscv64, ppc64le and s390x (which the example does not build: Debian has no
# riscv64 std in bookworm).
command -v ld >/dev/null || missing+=(binutils)
command -v riscv64-linux-gnu-as >/dev/null || missing+=(binutils-riscv64-linux-gnu)
command -v powerpc64le-linux-gnu-as >/dev/null || missing+=(binutils-powerpc64le-linux-gnu)
command -v s390x-linux-gnu-as >/dev/null || missing+=(binutils-s390x-linux-gnu)
if [ "${1:-}" = "--tests" ] || [ "${1:-}" = "--benches" ]; then
  command -v skopeo >/dev/null || missing+=(skopeo)
  command -v umoci >/dev/null || missing+=(umoci)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v htpasswd >/dev/null || missing+=(apache2-utils)
  command -v chromium >/dev/null || missing+=(chromium)
  command -v curl >/dev/null || missing+=(curl)
  # The hostile-input tests bound each command's memory with GNU time.
  [ -x /usr/bin/time ] || missing+=(time)
  # Smoke runs of the other machines' binaries (arm64, arm/v7, the fixture's
  # arm/v6, riscv64, ppc64le, s390x).
  command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
  # The extra-artifact tests read the .zip and .tar.xz archives with stock tools.
  command -v unzip >/dev/null || missing+=(unzip)
  command -v xz >/dev/null || missing+=(xz-utils)
  # The package tests: gpg makes their OpenPGP keys; apt-get (Debian's own),
  # dpkg, lintian, rpm and dnf read what publish --packages writes.
  command -v gpg >/dev/null || missing+=(gnupg)
  command -v lintian >/dev/null || missing+=(lintian)
  command -v rpmkeys >/dev/null || missing+=(rpm)
  command -v dnf >/dev/null || missing+=(dnf)
  # The remote-builder test runs an sshd on loopback as a Nix builder.
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  # The SBOM test validates with Python's jsonschema against CycloneDX's schema.
  /usr/bin/python3 -c 'import jsonschema' 2>/dev/null || missing+=(python3-jsonschema)
  # The attestation check and the test token server (tests/scripts/) sign and
  # verify with python3-cryptography; openssl makes the token issuer's key.
  /usr/bin/python3 -c 'import cryptography' 2>/dev/null || missing+=(python3-cryptography)
  command -v openssl >/dev/null || missing+=(openssl)
  # Every OS (tests/integration/targets.rs, the example's windows/amd64):
  # Debian's Rust std for Windows and mingw-w64's gcc as its linker, Wine to
  # run the .exe, and clang with lld's ld64.lld to link the stand-in's
  # Mach-O files (and the vectors) against a text stub of libSystem.
  [ -d /usr/lib/rustlib/x86_64-pc-windows-gnu ] || lean+=(libstd-rust-dev-windows)
  command -v x86_64-w64-mingw32-gcc >/dev/null || lean+=(gcc-mingw-w64-x86-64)
  [ -x /usr/lib/wine/wine64 ] || command -v wine >/dev/null || lean+=(wine64)
  command -v clang >/dev/null || lean+=(clang)
  # The signatures test checks the release's .minisig files with minisign.
  command -v minisign >/dev/null || lean+=(minisign)
  # The reproducibility test keeps diffoscope's report of an output built
  # twice differently (the minimal package: no optional comparators).
  command -v diffoscope >/dev/null || lean+=(diffoscope-minimal)
  # The binstall test puts TLS in front of Garage's web endpoint with socat
  # (cargo-binstall downloads over https only).
  command -v socat >/dev/null || lean+=(socat)
  ls /usr/lib/llvm-*/bin/ld64.lld >/dev/null 2>&1 || lean+=(lld)
fi
if [ "${1:-}" = "--benches" ]; then
  # rclone is the benches' upload anchor; jq and bc read and divide their figures.
  command -v rclone >/dev/null || missing+=(rclone)
  command -v jq >/dev/null || missing+=(jq)
  command -v bc >/dev/null || missing+=(bc)
fi
for arch in "${foreign[@]}"; do
  echo "adding the $arch architecture (dpkg --add-architecture)"
  as_root dpkg --add-architecture "$arch"
done
if [ ${#missing[@]} -gt 0 ] || [ ${#lean[@]} -gt 0 ] || [ ${#foreign[@]} -gt 0 ]; then
  echo "installing: ${missing[*]} ${lean[*]}"
  # A mirror in the middle of a sync serves index files of the wrong size
  # ("Mirror sync in progress?"): three tries, a pause between them, then on
  # with the lists apt did get (the install below fails if a package it
  # needs is not in them).
  for try in 1 2 3; do
    as_root apt-get update -qq && break
    if [ "$try" = 3 ]; then
      echo "warning: apt-get update failed 3 times; going on with the index files it did fetch" >&2
    else
      echo "apt-get update failed (try $try of 3); again in $((try * 20)) s" >&2
      sleep $((try * 20))
    fi
  done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ${#lean[@]} -gt 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi
command -v cargo >/dev/null || { echo "cargo is missing: install Rust (https://rustup.rs)" >&2; exit 1; }
