# A synthetic closure for benchmarks: about 2,000 store paths and 1.4 GiB,
# half random and half compressible data, a dependency graph (each path
# refers to i-1, i/2 and i/3), and a few big paths (random, text, mixed).
# Builds offline with /bin/sh (sandbox off); random bytes come from /dev/urandom.
#
#   nix-build benches/closure.nix -A root      the whole closure
#   nix-build benches/closure.nix -A big2g     one 2 GiB path (for peak RSS)
#   --arg n 150 --arg bigMiB 6                 the small variant the fault tests push
#   --arg bigCount 8 --arg bigMiB 100          the cache-push bench: eight paths of 100 MiB
#   --argstr salt X                            other store paths with the same shape
{ n ? 2000, bigMiB ? 120, bigCount ? 3, salt ? "", system ? builtins.currentSystem }:
let
  inherit (builtins) genList elemAt toString concatStringsSep;
  mod = a: b: a - (a / b) * b;
  mk = name: script: deps: derivation {
    inherit name system salt;
    builder = "/bin/sh";
    args = [ "-c" ''
      set -e
      mkdir -p $out
      echo "$deps" > $out/refs
      cd $out
      ${script}
    '' ];
    PATH = "/usr/bin:/bin";
    deps = concatStringsSep " " (map toString deps);
  };
  # Compressible text: a counting sequence, cut to N bytes.
  text = bytes: file: "seq 1 1000000000 | head -c ${toString bytes} > ${file} || true";
  random = bytes: file: "head -c ${toString bytes} /dev/urandom > ${file}";
  kib = 1024;
  mib = 1024 * 1024;
  depsOf = i: if i == 0 then [ ] else
    map (j: elemAt paths j) (if i < 3 then [ (i - 1) ] else [ (i - 1) (i / 2) (i / 3) ]);
  sizeOf = i: (mod (i * 37) 600 + 10) * kib;
  paths = genList (i: mk "bench-${toString i}"
    (if mod i 2 == 0 then random (sizeOf i) "data" else text (sizeOf i) "data")
    (depsOf i)) n;
  # Big paths cycle through random, text and mixed; the mixed ones refer to a small path.
  bigPath = i: let k = mod i 3; tag = toString i; in
    if k == 0 then mk "bench-big-random-${tag}" (random (bigMiB * mib) "data") [ ]
    else if k == 1 then mk "bench-big-text-${tag}" (text (bigMiB * mib) "data") [ ]
    else mk "bench-big-mixed-${tag}" "${random (bigMiB / 2 * mib) "a"}; ${text (bigMiB / 2 * mib) "b"}" [ (elemAt paths 10) ];
  big = genList bigPath bigCount;
in {
  root = mk "bench-root" "true" ([ (elemAt paths (n - 1)) ] ++ big);
  big2g = mk "bench-2g" "${random (1024 * mib) "a"}; ${text (1024 * mib) "b"}" [ ];
}
