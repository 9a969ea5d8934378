#!/bin/sh
# Remakes the Mach-O vectors with Debian's clang and lld (ld64.lld), no SDK:
# libSystem.tbd is a text stub naming /usr/lib/libSystem.B.dylib as macOS's
# own does; libiconv.tbd names a /nix/store dylib, as a Nix-built binary that
# was not made static would. file(1) reads each as a Mach-O 64-bit executable.
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
for a in arm64 x86_64; do
  clang -target $a-apple-macos11 -c hello.c -o $t/h-$a.o
  ld64.lld -arch $a -platform_version macos 11.0 11.0 -o hello-$a $t/h-$a.o -L. -lSystem
done
clang -target arm64-apple-macos11 -c links-store-path.c -o $t/bad.o
ld64.lld -arch arm64 -platform_version macos 11.0 11.0 -o links-store-path $t/bad.o -L. -lSystem -liconv
rm -rf $t
