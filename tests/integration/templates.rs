//! The Nix templates of the repository parse, and offer the attribute shape
//! that the default configuration asks for.

use crate::util::{repo_root, stock};

#[test]
fn every_nix_file_parses() {
    let root = repo_root();
    for file in [
        "flake.nix",
        "nix/cross.nix",
        "nix/toolchain.nix",
        "examples/hello/flake.nix",
        "examples/hello/nix/toolchain.nix",
        "examples/hello/nix/toolchain-standin.nix",
        "tests/fixtures/hello-standin/flake.nix",
        "tests/fixtures/hello-standin/nix/toolchain-standin.nix",
    ] {
        let path = root.join(file);
        let parsed = stock("nix-instantiate", &["--parse", path.to_str().unwrap()]);
        assert!(!parsed.trim().is_empty(), "{file}");
    }
}

#[test]
fn the_example_reads_its_toolchain_from_its_flake_with_the_templates_own_file() {
    // So `cache-toolchain` runs the template's nix/toolchain.nix
    // (builtins.getFlake) for real in the cache tests, with Nix 2.8.
    let read = |p: &str| std::fs::read_to_string(repo_root().join(p)).unwrap();
    assert_eq!(
        read("nix/toolchain.nix"),
        read("examples/hello/nix/toolchain.nix")
    );
}

#[test]
fn the_template_offers_the_default_attribute_shape() {
    let cross = std::fs::read_to_string(repo_root().join("nix/cross.nix")).unwrap();
    // packages.<system>.<name> and packages.<system>.<name>-docker
    assert!(cross.contains("${name} = binary;"), "{cross}");
    assert!(cross.contains("\"${name}-docker\" = "), "{cross}");
    assert_eq!(
        release_dist::config::DEFAULT_STATIC_ATTR,
        "packages.{system}.{name}"
    );
    assert_eq!(
        release_dist::config::DEFAULT_DOCKER_ATTR,
        "packages.{system}.{name}-docker"
    );
    for system in [
        "x86_64-linux",
        "i686-linux",
        "aarch64-linux",
        "armv6l-linux",
    ] {
        assert!(
            cross.contains(&format!("\"{system}\"")),
            "{system} missing from nix/cross.nix"
        );
    }
}

/// The templates evaluated against nixpkgs' real `lib` and stubs of nixpkgs
/// and rust-overlay whose signatures are cited (tests/nix/stubs.nix), by
/// scripts/check-templates.sh. It needs a copy of nix-community/nixpkgs.lib
/// in `$NIXPKGS_LIB`, which the CI machines cannot fetch: run it with
/// `NIXPKGS_LIB=DIR cargo test --test integration templates -- --ignored`.
#[test]
#[ignore = "needs a nix-community/nixpkgs.lib copy in $NIXPKGS_LIB"]
fn the_templates_evaluate_against_nixpkgs_lib_and_the_stubs() {
    let lib = std::env::var("NIXPKGS_LIB").expect("set NIXPKGS_LIB to a nixpkgs.lib checkout");
    let script = repo_root().join("scripts/check-templates.sh");
    let out = stock("bash", &[script.to_str().unwrap(), &lib]);
    let summary: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    for part in ["crossNix", "initFlake"] {
        assert_eq!(
            summary[part]["armv6l-linux"]["target"]
                .as_str()
                .or(summary[part]["release"]["armv6l-linux"]["target"].as_str()),
            Some("arm-unknown-linux-musleabihf"),
            "{part}: {summary}"
        );
    }
}
