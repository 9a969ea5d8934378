# `import nixpkgs { … }` for the stubs (../stubs.nix); the nixpkgs.lib copy is
# $NIXPKGS_LIB.
args: (import ../stubs.nix { libPath = builtins.getEnv "NIXPKGS_LIB"; }).nixpkgs args
