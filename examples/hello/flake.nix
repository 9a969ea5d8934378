# The example project's flake: the attribute shape `cargo release-dist build`
# expects, built offline.
#
# STAND-INS: no Rust cross toolchain (and no nixpkgs) is reachable on the
# machines this example is tested on, so nothing here compiles src/main.rs.
# Each "static binary" is a real static ELF executable for its target's
# machine, a few instructions of assembly that print which target it is and
# exit 0, assembled and linked with Debian's binutils (`as`/`ld`, and
# binutils-aarch64-linux-gnu and binutils-arm-linux-gnueabihf for the arm
# targets; the arm/v6 one for ARMv6 with the hard-float ABI, as Raspberry Pi
# OS's armhf). Each image is a real docker-archive (manifest.json, a config
# whose architecture/os match the target, one layer.tar) holding that program
# as its entrypoint. Every derivation uses the host's /bin/sh and tools from
# /usr/bin and /bin, which works with Debian's nix-bin because its sandbox is off.
#
# A real project gets the same attributes from ../../nix/cross.nix, which
# cross-compiles with pkgsCross and builds images with dockerTools.
{
  description = "cargo release-dist example (offline stand-ins: real static ELF programs)";

  outputs = { self }:
    let
      name = "hello";
      version = "0.1.0";
      # The machine that runs the builds. Flakes cannot ask which one that
      # is (builtins.currentSystem is impure), so it is named here.
      buildSystem = "x86_64-linux";

      # Nix system -> OCI architecture, as nixpkgs dockerTools writes it
      # (pkgs.go.GOARCH: no variant for arm).
      targets = {
        "x86_64-linux" = { arch = "amd64"; triple = "x86_64-unknown-linux-musl"; };
        "i686-linux" = { arch = "386"; triple = "i686-unknown-linux-musl"; };
        "aarch64-linux" = { arch = "arm64"; triple = "aarch64-unknown-linux-musl"; };
        "armv6l-linux" = { arch = "arm"; triple = "armv6l-unknown-linux-musleabihf"; };
      };

      shell = args: derivation ({
        system = buildSystem;
        builder = "/bin/sh";
        PATH = "/usr/bin:/bin";
      } // args);

      # Each target's assembler, linker and program. The message goes in
      # msg.s, so the sources stay free of Nix interpolation.
      asm = {
        "x86_64-linux" = {
          as = "as --64"; ld = "ld -m elf_x86_64 -n";
          program = ''
            .globl _start
            .text
            _start: mov $1, %eax
                    mov $1, %edi
                    lea msg(%rip), %rsi
                    mov $len, %edx
                    syscall
                    mov $60, %eax
                    xor %edi, %edi
                    syscall
          '';
        };
        "i686-linux" = {
          as = "as --32"; ld = "ld -m elf_i386 -n";
          program = ''
            .globl _start
            .text
            _start: mov $4, %eax
                    mov $1, %ebx
                    mov $msg, %ecx
                    mov $len, %edx
                    int $0x80
                    mov $1, %eax
                    xor %ebx, %ebx
                    int $0x80
          '';
        };
        "aarch64-linux" = {
          as = "aarch64-linux-gnu-as"; ld = "aarch64-linux-gnu-ld";
          program = ''
            .globl _start
            .text
            _start: mov x0, #1
                    adr x1, msg
                    mov x2, #len
                    mov x8, #64
                    svc #0
                    mov x0, #0
                    mov x8, #93
                    svc #0
          '';
        };
        "armv6l-linux" = {
          as = "arm-linux-gnueabihf-as -march=armv6 -mfloat-abi=hard -mfpu=vfp";
          ld = "arm-linux-gnueabihf-ld";
          program = ''
            .syntax unified
            .arm
            .eabi_attribute 28, 1
            .globl _start
            .text
            _start: mov r0, #1
                    adr r1, msg
                    mov r2, #len
                    mov r7, #4
                    svc #0
                    mov r0, #0
                    mov r7, #1
                    svc #0
          '';
        };
      };

      # Stand-in for a static musl build of the crate: $out/bin/hello, a
      # static ELF executable for the target's machine.
      staticFor = system: t: let a = asm.${system}; in shell {
        name = "${name}-${version}-${t.triple}";
        inherit (a) program;
        args = [ "-c" ''
          set -eu
          work=$(mktemp -d)
          printf '%s\n' "$program" > $work/prog.s
          printf 'msg: .ascii "hello from %s (stand-in for %s %s)\\n"\nlen = . - msg\n' \
            "${t.triple}" "${name}" "${version}" > $work/msg.s
          cat $work/prog.s $work/msg.s > $work/all.s
          ${a.as} -o $work/all.o $work/all.s
          mkdir -p $out/bin
          ${a.ld} --build-id=none -s -o $out/bin/${name} $work/all.o
          chmod 555 $out/bin/${name}
          rm -rf $work
        '' ];
      };

      # Stand-in for dockerTools.buildLayeredImage: a gzip'd docker-archive.
      dockerFor = system: t: bin: shell {
        name = "docker-image-${name}-linux.${t.arch}.tar.gz";
        args = [ "-c" ''
          set -eu
          work=$(mktemp -d)
          mkdir -p $work/root/bin $work/image
          cp ${bin}/bin/${name} $work/root/bin/${name}
          tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner \
            -cf $work/layer.tar -C $work/root bin
          layer=$(sha256sum $work/layer.tar | cut -d' ' -f1)
          mkdir $work/image/$layer
          mv $work/layer.tar $work/image/$layer/layer.tar
          printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:01Z","config":{"Entrypoint":["/bin/${name}"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:01Z","comment":"stand-in layer"}]}' \
            "${t.arch}" "$layer" > $work/config.json
          config=$(sha256sum $work/config.json | cut -d' ' -f1)
          mv $work/config.json $work/image/$config.json
          printf '[{"Config":"%s.json","RepoTags":["${name}:${version}"],"Layers":["%s/layer.tar"]}]' \
            "$config" "$layer" > $work/image/manifest.json
          tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner \
            -cf - -C $work/image manifest.json $config.json $layer | gzip -9n > $out
          rm -rf $work
        '' ];
      };

      # The manual: a directory output (HTML and a plain-text page), which
      # `build` archives into one deterministic hello-docs.tar.gz (the
      # `artifacts` entry in Cargo.toml), published beside the binaries.
      docs = shell {
        name = "${name}-docs-${version}";
        args = [ "-c" ''
          set -eu
          mkdir -p $out/html
          printf '<!doctype html>\n<title>${name} ${version}</title>\n<h1>${name} ${version}</h1>\n<p>Run <code>${name}</code>; it says hello.</p>\n' > $out/html/index.html
          printf '${name} ${version}\n\nRun ${name}; it prints which target it was built for.\n' > $out/README
        '' ];
      };

      perTarget = builtins.mapAttrs (system: t:
        let bin = staticFor system t; in {
          ${name} = bin;
          "${name}-docker" = dockerFor system t bin;
        }) targets;
    in {
      packages = perTarget // {
        ${buildSystem} = perTarget.${buildSystem} // { "${name}-docs" = docs; };
      };
      # What the builds use, for `cache-toolchain` (nix/toolchain.nix reads
      # it from this flake, as the template does).
      toolchain.${buildSystem} = import ./nix/toolchain-standin.nix;
    };
}
