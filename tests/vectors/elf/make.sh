#!/bin/sh
# Remakes the ELF vectors with Debian's binutils (binutils, binutils-aarch64-linux-gnu,
# binutils-arm-linux-gnueabihf, binutils-riscv64-linux-gnu, binutils-powerpc64le-linux-gnu,
# binutils-s390x-linux-gnu): one tiny static program per target (riscv64, ppc64le and
# s390x were checked to run under qemu-<arch>-static), and the wrong ones
# the checks must refuse (ARMv7 and soft-float in the v6 slot, 32-bit ARMv8 in the v7
# slot, a dynamic binary).
set -eu
cd "$(dirname "$0")"
t=$(mktemp -d)
as --64 -o $t/x.o x86_64.s && ld -m elf_x86_64 -n --build-id=none -s -o x86_64 $t/x.o
as --32 -o $t/i.o i686.s && ld -m elf_i386 -n --build-id=none -s -o i686 $t/i.o
aarch64-linux-gnu-as -o $t/a.o aarch64.s && aarch64-linux-gnu-ld --build-id=none -s -o aarch64 $t/a.o
arm-linux-gnueabihf-as -march=armv6 -mfloat-abi=hard -mfpu=vfp -o $t/r.o armv6.s
arm-linux-gnueabihf-ld --build-id=none -s -o armv6 $t/r.o
arm-linux-gnueabihf-as -march=armv7-a -mfloat-abi=hard -mfpu=vfpv3 -o $t/r7.o armv6.s
arm-linux-gnueabihf-ld --build-id=none -s -o armv7 $t/r7.o
arm-linux-gnueabihf-as -march=armv8-a -mfloat-abi=hard -mfpu=vfpv3 -o $t/r8.o armv6.s
arm-linux-gnueabihf-ld --build-id=none -s -o armv8-a32 $t/r8.o
sed '/eabi_attribute 28/d' armv6.s > $t/soft.s
arm-linux-gnueabihf-as -march=armv6 -mfloat-abi=soft -o $t/s.o $t/soft.s
arm-linux-gnueabihf-ld --build-id=none -s -o armv6-soft $t/s.o
riscv64-linux-gnu-as -o $t/v.o riscv64.s && riscv64-linux-gnu-ld --build-id=none -s -o riscv64 $t/v.o
powerpc64le-linux-gnu-as -o $t/p.o ppc64le.s && powerpc64le-linux-gnu-ld --build-id=none -s -o ppc64le $t/p.o
s390x-linux-gnu-as -o $t/z.o s390x.s && s390x-linux-gnu-ld --build-id=none -s -o s390x $t/z.o
printf '.globl f\n.text\nf: ret\n' > $t/lib.s && as --64 -o $t/lib.o $t/lib.s
ld -m elf_x86_64 -shared --build-id=none -soname libstandin.so -o $t/libstandin.so $t/lib.o
ld -m elf_x86_64 --build-id=none -s -Bdynamic --dynamic-linker /lib64/ld-linux-x86-64.so.2 \
  -o dynamic $t/x.o $t/libstandin.so
rm -rf $t
