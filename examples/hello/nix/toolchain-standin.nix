# Stand-in for the project's toolchain (nix/cross.nix's `toolchain` in the
# real template), as the flake's `toolchain` output: a derivation with a
# build-time dependency and a runtime dependency, so its closure with
# --include-outputs has some shape.
# Offline: it uses the host's /bin/sh.
let
  system = "x86_64-linux";
  runtimeLib = derivation {
    name = "hello-toolchain-runtime-lib";
    inherit system;
    builder = "/bin/sh";
    PATH = "/usr/bin:/bin";
    args = [ "-c" "mkdir -p $out/lib && echo 'stand-in runtime library' > $out/lib/libstandin.txt" ];
  };
  buildHelper = derivation {
    name = "hello-toolchain-build-helper";
    inherit system;
    builder = "/bin/sh";
    PATH = "/usr/bin:/bin";
    args = [ "-c" "mkdir -p $out/bin && printf '#!/bin/sh\\necho helper\\n' > $out/bin/helper && chmod +x $out/bin/helper" ];
  };
in
derivation {
  name = "hello-toolchain";
  inherit system;
  builder = "/bin/sh";
  PATH = "/usr/bin:/bin";
  inherit runtimeLib buildHelper;
  args = [ "-c" ''
    set -eu
    mkdir -p $out/bin
    $buildHelper/bin/helper > $out/built-with.txt
    printf '#!/bin/sh\n# stand-in compiler; runtime files in %s\necho stand-in-rustc\n' "$runtimeLib" > $out/bin/rustc
    chmod +x $out/bin/rustc
  '' ];
}
