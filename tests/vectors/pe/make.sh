#!/bin/sh
# Remakes the PE vectors with Debian's mingw-w64 gcc, clang and lld-link:
# hello-x86_64.exe (static, imports only KERNEL32.dll and msvcrt.dll; runs
# under wine64), imports-mingw-runtime.exe (links a DLL named like MinGW's
# runtime, libgcc_s_seh-1.dll, which a user's Windows does not have), and
# arm64.exe (an AArch64 console program with no imports).
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
x86_64-w64-mingw32-gcc -O2 -s -static -o hello-x86_64.exe hello.c
x86_64-w64-mingw32-gcc -shared -s -o $t/libgcc_s_seh-1.dll libgcc-stand-in.c \
  -Wl,--out-implib,$t/libgcc_s_seh-1.dll.a
x86_64-w64-mingw32-gcc -O2 -s -o imports-mingw-runtime.exe imports-mingw-runtime.c $t/libgcc_s_seh-1.dll.a
clang --target=aarch64-pc-windows-msvc -c arm64.c -o $t/arm64.obj
lld-link /entry:start /subsystem:console /nodefaultlib /out:arm64.exe $t/arm64.obj
rm -rf $t
