# The flake `cargo release-dist build` builds: per-target static musl
# binaries and images in the attribute shape it expects, from nix/cross.nix.
{
  description = "@NAME@, released with cargo release-dist";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }: {
    packages = (import ./nix/cross.nix { inherit nixpkgs; }).release {
      name = "@NAME@";
      version = "@VERSION@";
      src = self;
    };
  };
}
