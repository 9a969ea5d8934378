# The toolchain whose closure `cargo release-dist cache-toolchain` pushes to
# the project's binary cache: the flake's own `toolchain.<system>` output
# (nix/cross.nix: the Rust toolchain with every target's standard library,
# and each target's static C toolchain and linker). It is taken from the
# flake, so nixpkgs and rust-overlay are the flake's pins (flake.lock) and
# nothing is fetched a second time. CI machines then substitute it instead
# of building it.
{ buildSystem ? "x86_64-linux" }:
(builtins.getFlake (toString ../.)).toolchain.${buildSystem}
