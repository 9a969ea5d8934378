# The example project's flake: a real Rust program (src/main.rs, with one
# crates.io dependency vendored in vendor/) that cargo cross-builds inside a
# Nix derivation for four Linux targets and Windows (x86-64), offline, plus a
# docker image and a manual, in the attribute shape `cargo release-dist
# build` expects.
#
# OFFLINE, WITHOUT NIXPKGS: the machines this example is tested on have
# Debian's nix-bin with the sandbox off, no internet and no nixpkgs. So the
# compiler is Debian 12's: /usr/bin/rustc and /usr/bin/cargo, the targets'
# standard libraries from Debian's multiarch packages (libstd-rust-dev:arm64,
# :i386, :armhf) and Debian's cross gcc as each target's linker, statically
# linked (+crt-static, glibc). scripts/setup-debian.sh installs them. Every
# derivation runs the host's /bin/sh with PATH=/usr/bin:/bin, which works
# because the sandbox is off. A real project gets the same attributes from
# ../../nix/cross.nix (rust-overlay's toolchain, pkgsCross…pkgsStatic's
# linker, dockerTools), which is evaluated here but cannot be built here.
#
# The image stays a hand-made docker-archive (manifest.json, a config whose
# architecture/os match the target and, like dockerTools', no variant, one
# layer.tar) holding the real program as its entrypoint.
{
  description = "cargo release-dist example: a Rust program cross-built by cargo inside Nix, offline";

  outputs = { self }:
    let
      name = "hello";
      version = "0.1.0";
      # The machine that runs the builds. Flakes cannot ask which one that
      # is (builtins.currentSystem is impure), so it is named here.
      buildSystem = "x86_64-linux";
      # The compiler every build uses; each build checks that it is this one,
      # so the derivation's `rustcVersion` (recorded in build.json and the
      # provenance) is true.
      rustc = "/usr/bin/rustc";
      rustcVersion = "1.63.0";

      # Nix system -> OCI architecture (as dockerTools writes it: no variant
      # for arm), the Rust target triple Debian has a std for, and cargo's
      # linker variable for it with Debian's cross gcc.
      targets = {
        "x86_64-linux" = { arch = "amd64"; triple = "x86_64-unknown-linux-gnu"; linkerVar = "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER"; linker = "gcc"; };
        "i686-linux" = { arch = "386"; triple = "i686-unknown-linux-gnu"; linkerVar = "CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER"; linker = "i686-linux-gnu-gcc"; };
        "aarch64-linux" = { arch = "arm64"; triple = "aarch64-unknown-linux-gnu"; linkerVar = "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER"; linker = "aarch64-linux-gnu-gcc"; };
        "armv7l-linux" = { arch = "arm"; triple = "armv7-unknown-linux-gnueabihf"; linkerVar = "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER"; linker = "arm-linux-gnueabihf-gcc"; };
        # Windows: Debian's std for it (libstd-rust-dev-windows) and mingw-w64's
        # gcc as the linker; +crt-static, so it imports only system DLLs.
        "x86_64-windows" = { arch = "amd64"; triple = "x86_64-pc-windows-gnu"; linkerVar = "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER"; linker = "x86_64-w64-mingw32-gcc"; exe = ".exe"; };
      };
      isLinux = system: builtins.match ".*-linux" system != null;

      shell = args: derivation ({
        system = buildSystem;
        builder = "/bin/sh";
        PATH = "/usr/bin:/bin";
      } // args);

      # What cargo reads, and nothing else: editing the release
      # configuration in Cargo.toml rebuilds (Cargo.toml is read), but
      # target/, flake.nix and nix/ do not.
      root = toString ./.;
      src = builtins.path {
        name = "${name}-${version}-source";
        path = ./.;
        filter = path: type:
          let
            rel = builtins.substring (builtins.stringLength root + 1) (-1) (toString path);
            top = builtins.head (builtins.split "/" rel);
          in builtins.elem top [ "Cargo.toml" "Cargo.lock" "build.rs" "src" "vendor" ".cargo" ];
      };

      # The crate, built by cargo for one target: $out/bin/hello, a static
      # ELF executable. `rustTarget` and `rustcVersion` are derivation
      # attributes that build.json and the provenance record.
      staticFor = system: t: shell ({
        name = "${name}-${version}-${t.triple}";
        inherit src rustcVersion;
        rustTarget = t.triple;
        # Build scripts are compiled for the build machine: name its linker
        # too (Debian's `cc` is an /etc/alternatives link, which a remote
        # builder's chroot store does not see).
        CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER = "gcc";
        args = [ "-c" ''
          set -eu
          found=$(${rustc} --version)
          case "$found" in
            "rustc $rustcVersion"*) ;;
            *) echo "expected rustc $rustcVersion at ${rustc}, found: $found" >&2; exit 1 ;;
          esac
          work=$(mktemp -d)
          cp -r $src $work/src
          chmod -R u+w $work/src
          cd $work/src
          # Debian's rustc, not rustup's (which would come first on a PATH
          # with ~/.cargo/bin, and has only x86_64's std).
          export RUSTC=${rustc} HOME=$work CARGO_HOME=$work/cargo-home CARGO_TARGET_DIR=$work/target
          export RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols --remap-path-prefix=$work=/build"
          /usr/bin/cargo build --offline --locked --release --target $rustTarget
          mkdir -p $out/bin
          cp $work/target/$rustTarget/release/${name}${t.exe or ""} $out/bin/${name}${t.exe or ""}
          chmod 555 $out/bin/${name}${t.exe or ""}
          rm -rf $work
        '' ];
      } // { ${t.linkerVar} = t.linker; });

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
          printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:01Z","config":{"Entrypoint":["/bin/${name}"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:01Z","comment":"${name} ${version}"}]}' \
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
          printf '<!doctype html>\n<title>${name} ${version}</title>\n<h1>${name} ${version}</h1>\n<p>Run <code>${name} --name you</code>; it says hello and which target it was built for.</p>\n' > $out/html/index.html
          printf '${name} ${version}\n\nRun `${name} --name you`; it says hello and which target it was built for.\n`${name} --version` prints its version.\n' > $out/README
        '' ];
      };

      # Images are Linux's.
      perTarget = builtins.mapAttrs (system: t:
        let bin = staticFor system t; in
        { ${name} = bin; }
        // (if isLinux system then { "${name}-docker" = dockerFor system t bin; } else { })) targets;
    in {
      packages = perTarget // {
        ${buildSystem} = perTarget.${buildSystem} // { "${name}-docs" = docs; };
      };
      # What the builds use, for `cache-toolchain` (nix/toolchain.nix reads
      # it from this flake, as the template does). Here the compiler is
      # Debian's, outside the store, so this is a stand-in with some shape.
      toolchain.${buildSystem} = import ./nix/toolchain-standin.nix;
    };
}
