# The example project's flake: the attribute shape `cargo release-dist build`
# expects, built offline.
#
# STAND-INS: no cross toolchain (and no nixpkgs) is reachable on the machines
# this example is tested on, so nothing here compiles src/main.rs. Each
# "static binary" is a small shell script that says which target it stands in
# for, and each image is a real docker-archive (manifest.json, a config whose
# architecture/os match the target, one layer.tar) wrapping that script.
# Every derivation uses the host's /bin/sh and tools from /usr/bin and /bin,
# which works with Debian's nix-bin because its sandbox is off.
#
# A real project gets the same attributes from ../../nix/cross.nix, which
# cross-compiles with pkgsCross and builds images with dockerTools.
{
  description = "cargo release-dist example (offline stand-ins)";

  outputs = { self }:
    let
      name = "hello";
      version = "0.1.0";
      # The machine that runs the builds. Flakes cannot ask which one that
      # is (builtins.currentSystem is impure), so it is named here.
      buildSystem = "x86_64-linux";

      # Nix system -> OCI architecture, as nixpkgs dockerTools writes it
      # (pkgs.go.GOARCH: no variant for arm).
      targets = {
        "x86_64-linux" = { arch = "amd64"; triple = "x86_64-unknown-linux-musl"; };
        "i686-linux" = { arch = "386"; triple = "i686-unknown-linux-musl"; };
        "aarch64-linux" = { arch = "arm64"; triple = "aarch64-unknown-linux-musl"; };
        "armv6l-linux" = { arch = "arm"; triple = "armv6l-unknown-linux-musleabihf"; };
      };

      shell = args: derivation ({
        system = buildSystem;
        builder = "/bin/sh";
        PATH = "/usr/bin:/bin";
      } // args);

      # Stand-in for a static musl build of the crate: $out/bin/hello.
      staticFor = system: t: shell {
        name = "${name}-${version}-${t.triple}";
        args = [ "-c" ''
          set -eu
          mkdir -p $out/bin
          printf '#!/bin/sh\n# stand-in for the %s build of %s %s\necho "hello from %s (stand-in)"\n' \
            "${t.triple}" "${name}" "${version}" "${t.triple}" > $out/bin/${name}
          chmod 555 $out/bin/${name}
        '' ];
      };

      # Stand-in for dockerTools.buildLayeredImage: a gzip'd docker-archive.
      dockerFor = system: t: bin: shell {
        name = "docker-image-${name}-linux.${t.arch}.tar.gz";
        args = [ "-c" ''
          set -eu
          work=$(mktemp -d)
          mkdir -p $work/root/bin $work/image
          cp ${bin}/bin/${name} $work/root/bin/${name}
          tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner \
            -cf $work/layer.tar -C $work/root bin
          layer=$(sha256sum $work/layer.tar | cut -d' ' -f1)
          mkdir $work/image/$layer
          mv $work/layer.tar $work/image/$layer/layer.tar
          printf '{"architecture":"%s","os":"linux","created":"1970-01-01T00:00:01Z","config":{"Entrypoint":["/bin/${name}"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:01Z","comment":"stand-in layer"}]}' \
            "${t.arch}" "$layer" > $work/config.json
          config=$(sha256sum $work/config.json | cut -d' ' -f1)
          mv $work/config.json $work/image/$config.json
          printf '[{"Config":"%s.json","RepoTags":["${name}:${version}"],"Layers":["%s/layer.tar"]}]' \
            "$config" "$layer" > $work/image/manifest.json
          tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner \
            -cf - -C $work/image manifest.json $config.json $layer | gzip -9n > $out
          rm -rf $work
        '' ];
      };

      perTarget = builtins.mapAttrs (system: t:
        let bin = staticFor system t; in {
          ${name} = bin;
          "${name}-docker" = dockerFor system t bin;
        }) targets;
    in {
      packages = perTarget;
    };
}
