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
{ nixpkgs, rust-overlay, buildSystem ? "x86_64-linux", rustVersion ? "1.94.1"
  # The Nix systems to build: Garage's four by default (the tool's default
  # targets); add "armv7l-linux" for linux/arm/v7.
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
  };
  targets = lib.getAttrs systems known;

  staticPkgs = t: pkgsBuild.pkgsCross.${t.cross}.pkgsStatic;
  rustTarget = t: (staticPkgs t).stdenv.hostPlatform.rust.rustcTarget;

  # One toolchain for every target: rustc and cargo for the build machine,
  # with each target's rust-std.
  rustBin = rust-overlay.lib.mkRustBin { } pkgsBuild;
  rust = rustBin.stable.${rustVersion}.minimal.override {
    targets = lib.mapAttrsToList (_: rustTarget) targets;
  };
  rustPlatformFor = t: (staticPkgs t).makeRustPlatform { rustc = rust; cargo = rust; };
in
{
  inherit targets rust;

  # What the builds use: the Rust toolchain with every target's std and
  # each target's static C toolchain (its linker). `cache-toolchain` pushes
  # it with its build-time closure.
  toolchain.${buildSystem} = pkgsBuild.symlinkJoin {
    name = "release-dist-toolchain";
    paths = [ rust pkgsBuild.git ] ++ lib.mapAttrsToList (_: t: (staticPkgs t).stdenv.cc) targets;
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
            # musl is static already in pkgsStatic; say so for every crate.
            RUSTFLAGS = "-C target-feature=+crt-static";
          } // extraArgs);
          path = image.path or "/bin/${bin}";
          root = pkgsBuild.runCommand "${name}-image-root" { } ''
            mkdir -p "$out${dirOf path}"
            cp ${binary}/bin/${bin} "$out${path}"
          '';
        in
        {
          ${name} = binary;
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
