# cargo release-dist, packaged with nixpkgs, and the template for projects
# that release with it: see nix/cross.nix and nix/toolchain.nix.
#
# This flake needs nixpkgs (the network or a mirror). The offline example
# in examples/hello has the same attribute shape without any input.
{
  description = "cargo release-dist: from nix build to a published release";

  # One nixpkgs pin for this flake, the template `init` writes and the docs.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";
  inputs.rust-overlay.url = "github:oxalica/rust-overlay";
  inputs.rust-overlay.inputs.nixpkgs.follows = "nixpkgs";

  outputs = { self, nixpkgs, rust-overlay }:
    let
      buildSystem = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${buildSystem};
      manifest = (builtins.fromTOML (builtins.readFile ./Cargo.toml)).package;
      # The Rust version is Cargo.toml's rust-version (the highest of the
      # locked dependencies', checked by the test suite), from rust-overlay.
      cross = import ./nix/cross.nix {
        inherit nixpkgs rust-overlay buildSystem;
        rustVersion = manifest.rust-version;
      };
      rustPlatform = pkgs.makeRustPlatform { rustc = cross.rust; cargo = cross.rust; };

      # The tool itself, for the build machine, with nix and git on its PATH.
      tool = rustPlatform.buildRustPackage {
        pname = manifest.name;
        version = manifest.version;
        src = pkgs.lib.cleanSource self;
        cargoLock.lockFile = ./Cargo.lock;
        doCheck = false; # the tests need a nix store and services
        nativeBuildInputs = [ pkgs.makeWrapper ];
        postInstall = ''
          wrapProgram $out/bin/cargo-release-dist \
            --suffix PATH : ${pkgs.lib.makeBinPath [ pkgs.nix pkgs.git ]}
        '';
      };

      # The tool's own release, in the shape `cargo release-dist build` expects.
      release = cross.release {
        name = manifest.name;
        version = manifest.version;
        src = pkgs.lib.cleanSource self;
      };
    in
    {
      packages = pkgs.lib.recursiveUpdate release {
        ${buildSystem}.default = tool;
      };
      inherit (cross) toolchain;
      devShells.${buildSystem}.default = pkgs.mkShell {
        packages = [ cross.rust pkgs.nix pkgs.skopeo pkgs.umoci ];
      };
    };
}
