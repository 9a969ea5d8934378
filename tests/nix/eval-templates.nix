# What the templates give, evaluated against the stubs (tests/nix/stubs.nix,
# $NIXPKGS_LIB a copy of nix-community/nixpkgs.lib): for nix/cross.nix with
# every release argument, for the tool's own flake.nix, and for the flake
# `init` wrote into $INIT_FLAKE_DIR (when set). Each assertion names what it
# checks; the result is printed by scripts/check-templates.sh.
let
  stubs = import ./stubs.nix { libPath = builtins.getEnv "NIXPKGS_LIB"; };
  inherit (stubs) lib;
  nixpkgs = {
    outPath = ./stub-nixpkgs;
    legacyPackages.x86_64-linux = stubs.nixpkgs { system = "x86_64-linux"; };
  };
  rust-overlay = stubs.rust-overlay;

  # The targets as nixpkgs' lib gives their Rust triple (the platform
  # table's, but for arm/v6, which nixpkgs calls arm-…; the issue of the
  # targets table).
  expected = {
    "x86_64-linux" = { target = "x86_64-unknown-linux-musl"; arch = "amd64"; };
    "i686-linux" = { target = "i686-unknown-linux-musl"; arch = "386"; };
    "aarch64-linux" = { target = "aarch64-unknown-linux-musl"; arch = "arm64"; };
    "armv6l-linux" = { target = "arm-unknown-linux-musleabihf"; arch = "arm"; };
    "armv7l-linux" = { target = "armv7-unknown-linux-musleabihf"; arch = "arm"; };
  };

  check = what: cond: if cond then true else throw "template check failed: ${what}";

  describe = name: outs: builtins.mapAttrs
    (system: o:
      let
        bin = o.${name};
        image = o."${name}-docker";
        want = expected.${system};
      in
      assert check "${system}: the Rust target is ${want.target}" (bin.target == want.target);
      assert check "${system}: static" bin.isStatic;
      assert check "${system}: the linker is the static C toolchain's" (lib.hasSuffix "-linux-musl-cc" bin.linker || lib.hasSuffix "-linux-musleabihf-cc" bin.linker);
      assert check "${system}: +crt-static" (bin.args.RUSTFLAGS == "-C target-feature=+crt-static");
      assert check "${system}: the image architecture is ${want.arch}" (image.args.architecture == want.arch);
      {
        inherit (bin) target isStatic linker;
        features = bin.args.buildFeatures or [ ];
        architecture = image.args.architecture;
        inherit (image.args) config;
      })
    outs;

  # Every other OS and machine: what each builds with.
  everyOs = {
    "riscv64-linux" = { target = "riscv64gc-unknown-linux-musl"; arch = "riscv64"; };
    "powerpc64le-linux" = { target = "powerpc64le-unknown-linux-musl"; arch = "ppc64le"; };
    "s390x-linux" = { target = "s390x-unknown-linux-musl"; arch = "s390x"; };
    "x86_64-windows" = { target = "x86_64-pc-windows-gnu"; };
    "aarch64-windows" = { target = "aarch64-pc-windows-gnullvm"; };
    "aarch64-darwin" = { target = "aarch64-apple-darwin"; };
    "x86_64-darwin" = { target = "x86_64-apple-darwin"; };
  };
  crossEvery = import ../../nix/cross.nix {
    inherit nixpkgs rust-overlay;
    systems = builtins.attrNames everyOs;
  };
  describeEvery = builtins.mapAttrs
    (system: o:
      let
        bin = o.hello;
        want = everyOs.${system};
        os = lib.last (lib.splitString "-" system);
      in
      assert check "${system}: the Rust target is ${want.target}" (bin.target == want.target);
      assert check "${system}: an image only for Linux" ((o ? hello-docker) == (os == "linux"));
      assert check "${system}: a static (musl) set for Linux only" (bin.isStatic == (os == "linux"));
      assert check "${system}: +crt-static but on macOS" ((bin.args.RUSTFLAGS or "") == (if os == "darwin" then "" else "-C target-feature=+crt-static"));
      assert check "${system}: Windows links winpthreads" ((os == "windows") == (bin.args ? buildInputs));
      assert check "${system}: macOS points libiconv at the system's" ((os == "darwin") == lib.hasInfix "/usr/lib/libiconv.2.dylib" (bin.args.postFixup or ""));
      { inherit (bin) target isStatic linker; image = o ? hello-docker; })
    (crossEvery.release { name = "hello"; version = "0.1.0"; src = /tmp; });

  # The default systems (Garage's four), and all five with arm/v7.
  defaults = builtins.removeAttrs expected [ "armv7l-linux" ];
  cross = import ../../nix/cross.nix { inherit nixpkgs rust-overlay; };
  crossAll = import ../../nix/cross.nix {
    inherit nixpkgs rust-overlay;
    systems = builtins.attrNames expected;
  };
  release = cross.release {
    name = "hello";
    version = "0.1.0";
    src = /tmp;
    bin = "hi";
    features = [ "cli" ];
    image = { cmd = [ "serve" ]; env = { RUST_LOG = "info"; }; path = "/hi"; };
    cargoLock = { lockFile = /tmp/Cargo.lock; outputHashes = { }; };
  };

  toolFlake = (import ../../flake.nix).outputs {
    self = ../..;
    inherit nixpkgs rust-overlay;
  };

  initDir = builtins.getEnv "INIT_FLAKE_DIR";
  initFlake =
    if initDir == "" then null
    else (import (/. + initDir + "/flake.nix")).outputs {
      self = /. + initDir;
      inherit nixpkgs rust-overlay;
    };
in
assert check "the toolchain holds every default target's std" (lib.sort (a: b: a < b) cross.rust.targets == lib.sort (a: b: a < b) (map (e: e.target) (lib.attrValues defaults)));
assert check "with arm/v7 asked for, its std too" (lib.sort (a: b: a < b) crossAll.rust.targets == lib.sort (a: b: a < b) (map (e: e.target) (lib.attrValues expected)));
assert check "the toolchain holds the Rust toolchain and each target's C toolchain" (builtins.length cross.toolchain.x86_64-linux.paths == 6);
assert check "the toolchain built here holds every std but the Darwin ones (built on a Mac)" (lib.sort (a: b: a < b) crossEvery.rust.targets == lib.sort (a: b: a < b) (lib.filter (t: !lib.hasSuffix "apple-darwin" t) (map (e: e.target) (lib.attrValues everyOs))));
assert check "the image's entrypoint is where the binary goes" (release.x86_64-linux.hello-docker.args.config.Entrypoint == [ "/hi" ]);
assert check "the image's Cmd and Env" (release.x86_64-linux.hello-docker.args.config.Cmd == [ "serve" ] && release.x86_64-linux.hello-docker.args.config.Env == [ "RUST_LOG=info" ]);
{
  crossNix = describe "hello" release;
  crossNixWithArmV7 = describe "hello" (crossAll.release { name = "hello"; version = "0.1.0"; src = /tmp; });
  crossNixEveryOs = describeEvery;
  toolFlake = {
    tool = toolFlake.packages.x86_64-linux.default.target;
    release = describe "cargo-release-dist" (builtins.removeAttrs toolFlake.packages [ "x86_64-linux" ] // {
      x86_64-linux = builtins.removeAttrs toolFlake.packages.x86_64-linux [ "default" ];
    });
    toolchain = toolFlake.toolchain.x86_64-linux.name;
  };
  initFlake = if initFlake == null then "not evaluated (INIT_FLAKE_DIR unset)" else {
    release = describe (lib.head (lib.attrNames initFlake.packages.x86_64-linux)) initFlake.packages;
    toolchain = initFlake.toolchain.x86_64-linux.name;
  };
}
