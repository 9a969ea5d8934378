# The flake `cargo release-dist build` builds: per-target static musl
# binaries and images in the attribute shape it expects, from nix/cross.nix
# (a pinned rust-overlay toolchain with every target's std, and pkgsCross
# for the static C toolchain and linker).
{
  description = "@NAME@, released with cargo release-dist";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
  inputs.rust-overlay.url = "github:oxalica/rust-overlay";
  inputs.rust-overlay.inputs.nixpkgs.follows = "nixpkgs";

  outputs = { self, nixpkgs, rust-overlay }:
    let
      cross = import ./nix/cross.nix { inherit nixpkgs rust-overlay; };
    in
    {
      packages = cross.release {
        name = "@NAME@";
        version = "@VERSION@";
        src = self;
      };
      inherit (cross) toolchain;
    };
}
