# Per-target static musl builds and dockerTools images, in the attribute shape
# that `cargo release-dist build` expects by default:
#
#   packages.<system>.<name>          the static binary ($out/bin/<bin>)
#   packages.<system>.<name>-docker   a docker-archive (.tar.gz) holding it
#   toolchain.<buildSystem>           what the builds use, for `cache-toolchain`
#
# <system> is the *target* Nix system. The established way (Garage since 2024,
# crane's examples/cross-musl): rustc and cargo come from ONE pinned
# rust-overlay toolchain that holds every target's standard library
# (downloaded, not rebuilt per target), and pkgsCross.<x>.pkgsStatic gives
# only the static C toolchain and the linker: its makeRustPlatform builds for
# its host platform (the static musl triple) with that stdenv's cc. The Rust
# version is `rustVersion`, whatever the nixpkgs channel ships.
#
# Usage from a flake with inputs nixpkgs and rust-overlay:
#
#   cross = import ./nix/cross.nix { inherit nixpkgs rust-overlay; };
#   packages = cross.release { name = "hello"; version = "0.1.0"; src = self; };
#   toolchain = cross.toolchain;
#
# release's arguments: `bin` (the binary's name, default `name`), `features`,
# `noDefaultFeatures`, `cargoLock` (for git dependencies give `outputHashes`,
# or `allowBuiltinFetchGit = true`), `image` ({ path ? "/bin/<bin>",
# cmd ? null (the arguments after the entrypoint), env ? { },
# contents ? [ ] }), and `extraArgs` for buildRustPackage.
#
# Beyond Linux (list them in `systems`): "x86_64-windows" and
# "aarch64-windows" cross-build with pkgsCross.mingw-ucrt-* (its compiler
# links, +crt-static, and windows.pthreads
# gives the pthread library Rust's windows-gnu std links), so the .exe
# imports only system DLLs; "aarch64-darwin" and "x86_64-darwin" build
# natively on a Darwin remote builder (`--builders 'ssh://mac
# aarch64-darwin'`) with rust-overlay's toolchain for that system, and the
# binary's reference to nixpkgs' libiconv is pointed at macOS's own
# (/usr/lib/libiconv.2.dylib), since a user's Mac has no /nix/store. The
# tool's Mach-O check refuses a binary that still names a store path.
# Images are made for Linux only.
{ nixpkgs, rust-overlay, buildSystem ? "x86_64-linux", rustVersion ? "1.94.1"
  # The Nix systems to build: Garage's four by default (the tool's default
  # targets); add "armv7l-linux" for linux/arm/v7, and the others below.
, systems ? [ "x86_64-linux" "i686-linux" "aarch64-linux" "armv6l-linux" ] }:
let
  pkgsBuild = import nixpkgs { system = buildSystem; };
  lib = pkgsBuild.lib;

  # Target Nix system -> its pkgsCross set, OCI architecture and variant.
  # dockerTools writes no variant; `publish` adds it to the config.
  known = {
    "x86_64-linux" = { cross = "musl64"; arch = "amd64"; };
    "i686-linux" = { cross = "musl32"; arch = "386"; };
    "aarch64-linux" = { cross = "aarch64-multiplatform-musl"; arch = "arm64"; };
    "armv6l-linux" = { cross = "muslpi"; arch = "arm"; variant = "v6"; };
    "armv7l-linux" = { cross = "armv7l-hf-multiplatform"; arch = "arm"; variant = "v7"; };
    "riscv64-linux" = { cross = "riscv64-musl"; arch = "riscv64"; };
    "powerpc64le-linux" = { cross = "musl-power"; arch = "ppc64le"; };
    "s390x-linux" = { cross = "s390x"; arch = "s390x"; };
    # The UCRT mingw sets (`mingwW64` is their back-compat alias, which
    # nixpkgs marks for removal after 26.11).
    "x86_64-windows" = { cross = "mingw-ucrt-x86_64"; os = "windows"; };
    "aarch64-windows" = { cross = "mingw-ucrt-aarch64"; os = "windows"; };
    "aarch64-darwin" = { os = "darwin"; };
    "x86_64-darwin" = { os = "darwin"; };
  };
  targets = lib.mapAttrs (system: t: t // { inherit system; }) (lib.getAttrs systems known);
  isLinux = t: (t.os or "linux") == "linux";
  isDarwin = t: (t.os or "linux") == "darwin";

  # The package set each target builds with: Linux's static musl cross
  # set, Windows' mingw cross set, or nixpkgs of the Darwin system itself
  # (built on a Darwin builder).
  pkgsOf = t:
    if isDarwin t then import nixpkgs { inherit (t) system; }
    else if isLinux t then pkgsBuild.pkgsCross.${t.cross}.pkgsStatic
    else pkgsBuild.pkgsCross.${t.cross};
  staticPkgs = pkgsOf;
  rustTarget = t: (pkgsOf t).stdenv.hostPlatform.rust.rustcTarget;
  crossTargets = lib.filterAttrs (_: t: !isDarwin t) targets;

  # One toolchain for every target built here: rustc and cargo for the
  # build machine, with each target's rust-std. A Darwin target gets the
  # same version for its own system.
  rustBin = rust-overlay.lib.mkRustBin { } pkgsBuild;
  rust = rustBin.stable.${rustVersion}.minimal.override {
    targets = lib.mapAttrsToList (_: rustTarget) crossTargets;
  };
  rustOf = t:
    if isDarwin t then (rust-overlay.lib.mkRustBin { } (pkgsOf t)).stable.${rustVersion}.minimal
    else rust;
  rustPlatformFor = t: (pkgsOf t).makeRustPlatform { rustc = rustOf t; cargo = rustOf t; };

  # What each OS's build adds to buildRustPackage's arguments.
  osArgs = t: bin:
    if isDarwin t then {
      # No static libSystem on macOS: link the system's, and point the
      # libiconv that nixpkgs' Rust links at macOS's own.
      postFixup = ''
        for lib in $(otool -L $out/bin/${bin} | awk '/\/nix\/store\/.*libiconv/ { print $1 }'); do
          install_name_tool -change "$lib" /usr/lib/libiconv.2.dylib $out/bin/${bin}
        done
      '';
    } else if isLinux t then {
      # musl is static already in pkgsStatic; say so for every crate.
      RUSTFLAGS = "-C target-feature=+crt-static";
    } else {
      RUSTFLAGS = "-C target-feature=+crt-static";
      buildInputs = [ (pkgsOf t).windows.pthreads ];
    };
in
{
  inherit targets rust;

  # What the builds use: the Rust toolchain with every target's std and
  # each target's static C toolchain (its linker). `cache-toolchain` pushes
  # it with its build-time closure.
  toolchain.${buildSystem} = pkgsBuild.symlinkJoin {
    name = "release-dist-toolchain";
    paths = [ rust pkgsBuild.git ] ++ lib.mapAttrsToList (_: t: (staticPkgs t).stdenv.cc) crossTargets;
  };

  release =
    { name
    , version
    , src
    , bin ? name
    , features ? [ ]
    , noDefaultFeatures ? false
    , cargoLock ? { lockFile = src + "/Cargo.lock"; }
    , image ? { }
    , extraArgs ? { }
    }:
    lib.mapAttrs
      (system: t:
        let
          binary = (rustPlatformFor t).buildRustPackage ({
            pname = name;
            inherit version src cargoLock;
            buildFeatures = features;
            buildNoDefaultFeatures = noDefaultFeatures;
            doCheck = false;
          } // osArgs t bin // extraArgs);
          path = image.path or "/bin/${bin}";
          root = pkgsBuild.runCommand "${name}-image-root" { } ''
            mkdir -p "$out${dirOf path}"
            cp ${binary}/bin/${bin} "$out${path}"
          '';
        in
        { ${name} = binary; }
        // lib.optionalAttrs (isLinux t) {
          "${name}-docker" = pkgsBuild.dockerTools.buildLayeredImage {
            inherit name;
            tag = version;
            architecture = t.arch;
            contents = [ root ] ++ (image.contents or [ ]);
            config = {
              Entrypoint = [ path ];
            } // lib.optionalAttrs (image ? cmd) {
              Cmd = image.cmd;
            } // lib.optionalAttrs (image ? env) {
              Env = lib.mapAttrsToList (k: v: "${k}=${v}") image.env;
            };
          };
        })
      targets;
}
