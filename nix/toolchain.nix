# The toolchain whose closure `cargo release-dist cache-toolchain` pushes to
# the project's binary cache: cargo and rustc for the build machine and the
# static cross compilers of every target. CI machines then substitute it
# instead of building it.
#
# It takes nixpkgs from flake.lock when there is one (the same pin the flake
# builds with), else from <nixpkgs>.
{ buildSystem ? "x86_64-linux" }:
let
  lockFile = ../flake.lock;
  nixpkgs =
    if builtins.pathExists lockFile then
      let
        lock = builtins.fromJSON (builtins.readFile lockFile);
        locked = lock.nodes.${lock.nodes.${lock.root}.inputs.nixpkgs}.locked;
      in
      builtins.fetchTarball {
        url = "https://github.com/${locked.owner}/${locked.repo}/archive/${locked.rev}.tar.gz";
        sha256 = locked.narHash;
      }
    else
      <nixpkgs>;
  pkgs = import nixpkgs { system = buildSystem; };
  cross = import ./cross.nix { inherit nixpkgs buildSystem; };
in
pkgs.symlinkJoin {
  name = "release-dist-toolchain";
  paths = [ pkgs.cargo pkgs.rustc pkgs.git ] ++ cross.compilers;
}
