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
    ] {
        let path = root.join(file);
        let parsed = stock("nix-instantiate", &["--parse", path.to_str().unwrap()]);
        assert!(!parsed.trim().is_empty(), "{file}");
    }
}

#[test]
fn the_template_offers_the_default_attribute_shape() {
    let cross = std::fs::read_to_string(repo_root().join("nix/cross.nix")).unwrap();
    // packages.<system>.<name> and packages.<system>.<name>-docker
    assert!(cross.contains("${name} = bin;"), "{cross}");
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
