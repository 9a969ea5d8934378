# Stubs of nixpkgs and rust-overlay, to evaluate the templates (nix/cross.nix,
# nix/toolchain.nix, flake.nix, the flake `init` writes) where there is no
# nixpkgs. `lib` and every platform are nixpkgs' real ones: `libPath` is a copy
# of the nix-community/nixpkgs.lib repository (not committed). Every function
# below takes the arguments the real one takes, read from its source (cited
# with the commit read), and returns what it was given, so that a wrong or
# missing argument name fails the evaluation. A stub is only as good as its
# reading: these are the signatures at the commits cited, which may differ
# from the pinned channel's.
{ libPath }:
let
  lib = import (libPath + "/lib");

  # A function taking `required` and `allowed` arguments; `open` when the
  # real one's formal set ends with `...` (then only `required` is checked).
  takes = what: { required ? [ ], allowed ? [ ], open ? false }: args:
    let
      names = builtins.attrNames args;
      unknown = builtins.filter (n: !(builtins.elem n (required ++ allowed))) names;
      missing = builtins.filter (n: !(args ? ${n})) required;
    in
    if missing != [ ] then throw "${what}: missing argument(s) ${toString missing}"
    else if unknown != [ ] && !open then throw "${what}: unexpected argument(s) ${toString unknown}"
    else args;

  # pkgs/top-level/stage.nix (nixos-25.11): makeMuslParsedPlatform, the ABI
  # mapping that pkgsStatic and pkgsMusl apply, entry for entry.
  makeMuslParsedPlatform = parsed: parsed // {
    abi = {
      gnu = lib.systems.parse.abis.musl;
      gnueabi = lib.systems.parse.abis.musleabi;
      gnueabihf = lib.systems.parse.abis.musleabihf;
      gnuabin32 = lib.systems.parse.abis.muslabin32;
      gnuabi64 = lib.systems.parse.abis.muslabi64;
      gnuabielfv2 = lib.systems.parse.abis.musl;
      gnuabielfv1 = lib.systems.parse.abis.musl;
      musleabi = lib.systems.parse.abis.musleabi;
      musleabihf = lib.systems.parse.abis.musleabihf;
      muslabin32 = lib.systems.parse.abis.muslabin32;
      muslabi64 = lib.systems.parse.abis.muslabi64;
    }.${parsed.abi.name} or lib.systems.parse.abis.musl;
  };

  drv = name: attrs: attrs // {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
  };

  pkgsFor = { buildPlatform, hostPlatform }: rec {
    inherit lib;
    # pkgs/build-support/cc-wrapper/default.nix: targetPrefix =
    # optionalString (targetPlatform != hostPlatform) (targetPlatform.config + "-")
    # (the wrapper's target is this set's host; its host, the build machine).
    stdenv = {
      inherit buildPlatform hostPlatform;
      cc = drv "cc-wrapper" {
        targetPrefix = lib.optionalString (hostPlatform.config != buildPlatform.config) (hostPlatform.config + "-");
      };
    };
    # NixOS/nixpkgs pkgs/development/compilers/rust/make-rust-platform.nix
    # @05e40e79: `{ rustc, cargo, ... }`.
    makeRustPlatform = a0:
      let a = takes "makeRustPlatform" { required = [ "rustc" "cargo" ]; open = true; } a0; in
      builtins.seq a {
        # pkgs/build-support/rust/build-rust-package/default.nix @00ed845c:
        # named arguments then `...` (passed to mkDerivation), and
        # `assert cargoVendorDir == null && cargoLock == null -> … cargoHash …
        # "cargoHash, cargoVendorDir, or cargoLock must be set"`; the target is
        # stdenv.hostPlatform.rust.rustcTargetSpec.
        buildRustPackage = b0:
          let b = takes "buildRustPackage" { required = [ "version" "src" ]; open = true; } b0; in
          assert (b ? cargoLock || b ? cargoHash || b ? cargoVendorDir)
            || throw "buildRustPackage: cargoHash, cargoVendorDir, or cargoLock must be set";
          assert builtins.isList (b.buildFeatures or [ ]) || throw "buildRustPackage: buildFeatures is a list";
          drv "${b.pname}-${b.version}" {
            args = b;
            target = hostPlatform.rust.rustcTargetSpec;
            isStatic = hostPlatform.isStatic;
            linker = "${stdenv.cc.targetPrefix}cc";
            rust = a.rustc;
          };
      };
    # pkgs/build-support/docker/default.nix: buildLayeredImage passes its
    # arguments (less `compressor`) to streamLayeredImage, whose formal set has
    # no `...`; the names are those of the nixos-24.05 to 25.05 sources read
    # for the issue (name, tag, fromImage, contents, config, architecture,
    # created, mtime, uid, gid, uname, gname, maxLayers, extraCommands,
    # fakeRootCommands, enableFakechroot, includeStorePaths, includeNixDB,
    # passthru, meta). `architecture` is not in the older @34b7a306.
    dockerTools.buildLayeredImage = a0:
      let
        a = takes "buildLayeredImage" {
          required = [ "name" ];
          allowed = [ "tag" "fromImage" "contents" "config" "architecture" "created" "mtime" "uid" "gid"
            "uname" "gname" "maxLayers" "extraCommands" "fakeRootCommands" "enableFakechroot"
            "includeStorePaths" "includeNixDB" "passthru" "meta" "compressor" ];
        } a0;
      in
      drv "docker-image-${a.name}.tar.gz" { args = a; };
    # pkgs/build-support/trivial-builders: runCommand = name: env: buildCommand.
    runCommand = name: env: script: drv name { inherit env script; };
    # symlinkJoin = args@{ name, paths, preferLocalBuild ? true, … , ... }.
    symlinkJoin = a0:
      let a = takes "symlinkJoin" { required = [ "name" "paths" ]; open = true; } a0; in
      drv a.name { inherit (a) paths; };
    git = drv "git" { };
    # pkgs/os-specific/windows/default.nix: the `windows` scope of a mingw
    # set holds `pthreads` (mingw-w64's winpthreads), which Rust's
    # windows-gnu std links (rust-overlay's docs/cross_compilation.md builds
    # with `buildInputs = [ windows.pthreads ]`).
    windows.pthreads = drv "mingw-w64-pthreads" { };
    pkgsCross = lib.mapAttrs
      (_: example: pkgsFor { inherit buildPlatform; hostPlatform = lib.systems.elaborate example; } // {
        # pkgsStatic, as pkgs/top-level/stage.nix (nixpkgs 25.x) makes it:
        # crossSystem = { isStatic = true; config =
        # lib.systems.parse.tripleFromSystem (if isLinux then
        # makeMuslParsedPlatform hostPlatform.parsed else …); gcc = …; },
        # which swaps a gnu ABI for its musl one (gnueabihf -> musleabihf).
        pkgsStatic = pkgsFor {
          inherit buildPlatform;
          hostPlatform = lib.systems.elaborate {
            isStatic = true;
            config = lib.systems.parse.tripleFromSystem
              (makeMuslParsedPlatform (lib.systems.elaborate example).parsed);
          };
        };
      })
      lib.systems.examples;
  };
in
{
  inherit lib;
  # `import nixpkgs { system = …; }`.
  nixpkgs = { system, ... }:
    let p = lib.systems.elaborate system; in pkgsFor { buildPlatform = p; hostPlatform = p; };
  # oxalica/rust-overlay: `rust-overlay.lib.mkRustBin { } pkgs` (its
  # examples/cross-aarch64/flake.nix @538c183a), and each profile made by
  # lib/rust-bin.nix @06871d5c `mkProfile`: `makeOverridable ({ extensions,
  # targets, targetExtensions }: …) { extensions = []; targets = [];
  # targetExtensions = []; }` (no `...`: another name fails).
  rust-overlay.lib.mkRustBin = _: _pkgs: {
    stable = lib.genAttrs [ "1.94.1" ] (v: {
      minimal = drv "rust-minimal-${v}" {
        override = { extensions ? [ ], targets ? [ ], targetExtensions ? [ ] }:
          drv "rust-minimal-${v}" {
            inherit extensions targets targetExtensions;
            targetPlatforms = lib.platforms.all;
            badTargetPlatforms = [ ];
          };
      };
    });
  };
}
