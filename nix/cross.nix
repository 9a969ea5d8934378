# Per-target static musl builds and dockerTools images, in the attribute shape
# that `cargo release-dist build` expects by default:
#
#   packages.<system>.<name>          the static binary ($out/bin/<name>)
#   packages.<system>.<name>-docker   a docker-archive (.tar.gz) holding it
#
# <system> is the *target* Nix system. Every build runs on `buildSystem` and
# cross-compiles with pkgsCross (…pkgsStatic for musl), the way Garage ships
# its four targets. Usage from a flake:
#
#   packages = (import ./nix/cross.nix { inherit nixpkgs; }).release {
#     name = "hello"; version = "0.1.0"; src = self;
#   };
# `nixpkgs` is a flake input or a plain path to a nixpkgs tree.
{ nixpkgs, buildSystem ? "x86_64-linux" }:
let
  pkgsBuild = import nixpkgs { system = buildSystem; };
  lib = pkgsBuild.lib;

  # Target Nix system -> the pkgsCross set and the OCI architecture.
  # dockerTools writes no variant; `publish` adds `v6` for armv6l.
  targets = {
    "x86_64-linux" = { cross = "musl64"; arch = "amd64"; };
    "i686-linux" = { cross = "musl32"; arch = "386"; };
    "aarch64-linux" = { cross = "aarch64-multiplatform-musl"; arch = "arm64"; };
    "armv6l-linux" = { cross = "muslpi"; arch = "arm"; };
  };

  staticPkgs = t: pkgsBuild.pkgsCross.${t.cross}.pkgsStatic;
in
{
  inherit targets;

  # The compilers every target needs, for nix/toolchain.nix.
  compilers = lib.mapAttrsToList (_: t: (staticPkgs t).stdenv.cc) targets;

  release = { name, version, src, cargoLock ? { lockFile = src + "/Cargo.lock"; }, extraArgs ? { } }:
    lib.mapAttrs
      (system: t:
        let
          pkgs = staticPkgs t;
          bin = pkgs.rustPlatform.buildRustPackage ({
            pname = name;
            inherit version src cargoLock;
            doCheck = false;
          } // extraArgs);
        in
        {
          ${name} = bin;
          "${name}-docker" = pkgsBuild.dockerTools.buildLayeredImage {
            inherit name;
            tag = version;
            architecture = t.arch;
            contents = [ bin ];
            config.Entrypoint = [ "${bin}/bin/${name}" ];
          };
        })
      targets;
}
