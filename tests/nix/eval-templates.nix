# What the templates give for each target, evaluated against the stubs
# (tests/nix/stubs.nix): the Rust target, static or not, the linker, the
# toolchain's targets, and the image's arguments. Run by
# scripts/check-templates.sh.
let
  stubs = import ./stubs.nix { libPath = builtins.getEnv "NIXPKGS_LIB"; };
  cross = import ../../nix/cross.nix {
    nixpkgs = ./stub-nixpkgs;
    rust-overlay = stubs.rust-overlay;
  };
  release = cross.release {
    name = "hello";
    version = "0.1.0";
    src = /tmp;
    bin = "hi";
    features = [ "cli" ];
    image = { cmd = [ "serve" ]; env = { RUST_LOG = "info"; }; };
  };
in
{
  toolchainTargets = cross.rust.targets;
  toolchainPaths = map (p: p.name) cross.toolchain.x86_64-linux.paths;
  targets = builtins.mapAttrs
    (system: outs: {
      target = outs.hello.target;
      isStatic = outs.hello.isStatic;
      linker = outs.hello.linker;
      features = outs.hello.args.buildFeatures;
      rustflags = outs.hello.args.RUSTFLAGS;
      architecture = outs.hello-docker.args.architecture;
      entrypoint = outs.hello-docker.args.config.Entrypoint;
      cmd = outs.hello-docker.args.config.Cmd;
      env = outs.hello-docker.args.config.Env;
    })
    release;
}
