//! `build` on the example: the tree, build.json against nix, GC roots, failures.

use std::path::Path;

use serde_json::Value;

use crate::util::{build_json, nix_path_info, stock, Fixture};

/// The example's targets: the Rust triple each is compiled for (the
/// program prints it), its docker stem and OCI architecture.
const TARGETS: [(&str, &str, &str, &str); 4] = [
    (
        "linux/amd64",
        "x86_64-unknown-linux-gnu",
        "linux.amd64",
        "amd64",
    ),
    ("linux/386", "i686-unknown-linux-gnu", "linux.386", "386"),
    (
        "linux/arm64",
        "aarch64-unknown-linux-gnu",
        "linux.arm64",
        "arm64",
    ),
    (
        "linux/arm/v7",
        "armv7-unknown-linux-gnueabihf",
        "linux.arm.v7",
        "arm",
    ),
];

#[test]
fn builds_the_tree_of_four_targets_with_links_into_the_store() {
    let f = Fixture::example("hello");
    let run = f.run(&["build"]).ok();
    let dist = f.dist();
    for (platform, triple, stem, arch) in TARGETS {
        let bin = dist.join("static").join(platform).join("hello");
        let target = std::fs::read_link(&bin).unwrap();
        assert!(target.starts_with("/nix/store/"), "{bin:?} -> {target:?}");
        let bytes = std::fs::read(&bin).unwrap();
        assert!(
            bytes.windows(triple.len()).any(|w| w == triple.as_bytes()),
            "{platform}: the static file is not the {triple} build"
        );
        let image = dist.join("docker").join(format!("{stem}.tar.gz"));
        let target = std::fs::read_link(&image).unwrap();
        assert!(target.starts_with("/nix/store/"), "{image:?} -> {target:?}");
        // skopeo reads uncompressed archives only.
        let tar = f.dir.join(format!("{stem}.tar"));
        let bytes = crate::util::stock_bytes("gzip", &["-dc", image.to_str().unwrap()]);
        std::fs::write(&tar, bytes).unwrap();
        let inspect: Value = serde_json::from_str(&stock(
            "skopeo",
            &["inspect", &format!("docker-archive:{}", tar.display())],
        ))
        .unwrap();
        assert_eq!(inspect["Architecture"], arch, "{platform}");
        assert_eq!(inspect["Os"], "linux", "{platform}");
        assert!(
            run.stdout()
                .contains(&format!("{stem}.tar.gz -> /nix/store/")),
            "{}",
            run.stdout()
        );
    }
    let static_count = walk_files(&dist.join("static")).len();
    let docker_count = walk_files(&dist.join("docker")).len();
    assert_eq!((static_count, docker_count), (4, 4));
}

#[test]
fn build_json_agrees_with_nix_path_info_and_sha256sum() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q"]).ok();
    let manifest = build_json(&f);
    assert_eq!(manifest["schema"], "cargo-release-dist/build/v1");
    assert_eq!(manifest["tool"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(manifest["complete"], true);
    assert_eq!(
        manifest["source"]["commit"],
        f.git(&["rev-parse", "HEAD"]).as_str()
    );
    assert_eq!(manifest["source"]["dirty"], false);
    let artifacts = manifest["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 8);
    for a in artifacts {
        let store_path = a["storePath"].as_str().unwrap();
        let info = nix_path_info(store_path);
        assert_eq!(info["narHash"], a["narHash"], "{a}");
        assert_eq!(info["deriver"], a["drvPath"], "{a}");
        let link = f.dist().join(a["path"].as_str().unwrap());
        let sum = stock("sha256sum", &[link.to_str().unwrap()]);
        assert_eq!(sum.split_whitespace().next(), a["sha256"].as_str(), "{a}");
        assert_eq!(
            std::fs::metadata(&link).unwrap().len(),
            a["size"].as_u64().unwrap()
        );
    }
}

#[test]
fn the_links_are_gc_roots() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q"]).ok();
    let roots = stock("nix-store", &["--gc", "--print-roots"]);
    for file in walk_files(&f.dist())
        .iter()
        .filter(|p| !p.ends_with("build.json"))
        // An archive of a directory output is a file of its own, not a link.
        .filter(|p| !p.ends_with("extra/hello-docs.tar.gz"))
    {
        let canonical = std::fs::canonicalize(file.parent().unwrap())
            .unwrap()
            .join(file.file_name().unwrap());
        assert!(
            roots
                .lines()
                .any(|l| l.starts_with(&format!("{} -> ", canonical.display()))),
            "{} is not a GC root",
            canonical.display()
        );
    }
}

#[test]
fn tag_and_dirty_state_are_recorded() {
    let f = Fixture::example("hello");
    f.git(&["tag", "v0.1.0"]);
    std::fs::write(f.dir.join("untracked.txt"), "x").unwrap();
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let manifest = build_json(&f);
    assert_eq!(manifest["source"]["tag"], "v0.1.0");
    assert_eq!(manifest["source"]["dirty"], true);
    assert_eq!(manifest["artifacts"].as_array().unwrap().len(), 2);
}

#[test]
fn dry_run_prints_the_nix_command_and_the_tree_and_builds_nothing() {
    let f = Fixture::example("hello");
    let out = f.run(&["build", "--dry-run"]).ok().stdout();
    assert!(
        out.contains(
            "nix --extra-experimental-features 'nix-command flakes' build --dry-run --json \
             .#packages.x86_64-linux.hello .#packages.x86_64-linux.hello-docker"
        ),
        "{out}"
    );
    assert!(out.contains("build --json --no-link --keep-going"), "{out}");
    assert!(
        out.contains("linux.arm.v7.tar.gz -> .#packages.armv7l-linux.hello-docker"),
        "{out}"
    );
    assert!(
        out.contains("hello -> .#packages.i686-linux.hello"),
        "{out}"
    );
    assert!(
        !f.dist().exists(),
        "--dry-run created {}",
        f.dist().display()
    );
}

#[test]
fn json_message_format_prints_the_manifest() {
    let f = Fixture::example("hello");
    let out = f
        .run(&["build", "--message-format", "json", "-t", "linux/arm/v7"])
        .ok()
        .stdout();
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["artifacts"][0]["platform"], "linux/arm/v7");
    assert_eq!(v["artifacts"][0]["path"], "static/linux/arm/v7/hello");
    assert_eq!(
        v["artifacts"][0]["rust"]["target"],
        "armv7-unknown-linux-gnueabihf"
    );
    assert_eq!(v["artifacts"][1]["path"], "docker/linux.arm.v7.tar.gz");
}

#[test]
fn a_failing_target_is_named_with_its_log_and_the_others_are_kept() {
    let f = Fixture::example("hello");
    f.edit("flake.nix", |t| {
        t.replace(
            "chmod 555 $out/bin/${name}",
            "chmod 555 $out/bin/${name}\n          if [ ${t.arch} = arm ]; then echo 'error[E0425]: injected compile failure'; exit 1; fi",
        )
    });
    f.commit("break arm");
    let run = f.run(&["build"]).fails_with(
        1,
        &[
            "linux/arm/v7 static",
            "error[E0425]: injected compile failure",
            "2 of 9 outputs failed to build",
        ],
    );
    assert!(run.stderr().contains("last "), "{}", run.stderr());
    assert!(f.dist().join("static/linux/amd64/hello").exists());
    assert!(f.dist().join("docker/linux.arm64.tar.gz").exists());
    assert!(!f.dist().join("static/linux/arm/v7/hello").exists());
    let manifest = build_json(&f);
    assert_eq!(manifest["complete"], false);
    assert_eq!(manifest["artifacts"].as_array().unwrap().len(), 6);
    let failed: Vec<&str> = manifest["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["static", "docker"]);
}

#[test]
fn no_nix_on_path_says_how_to_install_it() {
    let f = Fixture::example("hello");
    let bin = tempfile::tempdir().unwrap();
    let git = which::which("git").unwrap();
    std::os::unix::fs::symlink(&git, bin.path().join("git")).unwrap();
    let cargo = std::env::var("CARGO")
        .unwrap_or_else(|_| which::which("cargo").unwrap().display().to_string());
    f.run_with(&["build"], |c| {
        c.env("PATH", bin.path()).env("CARGO", &cargo);
    })
    .fails_with(
        3,
        &["`nix` was not found on PATH", "apt-get install nix-bin"],
    );
    assert!(!f.dist().exists());
}

#[test]
fn not_a_flake() {
    let f = Fixture::example("hello");
    std::fs::remove_file(f.dir.join("flake.nix")).unwrap();
    f.commit("no flake");
    f.run(&["build"])
        .fails_with(2, &["is not a flake", "has no flake.nix", "hint:"]);
}

#[test]
fn untracked_flake_is_explained() {
    let f = Fixture::example("hello");
    f.git(&["rm", "-q", "--cached", "flake.nix"]);
    f.git(&["commit", "-q", "-m", "untrack"]);
    f.run(&["build"])
        .fails_with(2, &["not tracked by git", "git -C"]);
}

#[test]
fn missing_attribute_is_named() {
    let f = Fixture::example("hello");
    f.edit("Cargo.toml", |t| {
        t.replace("{name}-docker\"", "{name}-image\"")
    });
    f.commit("bad attr");
    f.run(&["build"]).fails_with(
        2,
        &[
            "target linux/amd64: the flake has no attribute `packages.x86_64-linux.hello-image` (docker output)",
            "docker-attr",
        ],
    );
    assert!(!f.dist().join("build.json").exists());
}

#[test]
fn not_a_git_repository() {
    let f = Fixture::example_without_git("hello");
    f.run(&["build"])
        .fails_with(2, &["is not inside a git repository", "git init"]);
}

#[test]
fn unknown_target_on_the_command_line_and_in_the_config() {
    let f = Fixture::example("hello");
    f.run(&["build", "--target", "linux/mips64le"]).fails_with(
        2,
        &[
            "unknown target `linux/mips64le` (in --target)",
            "linux/arm/v6, linux/arm/v7, linux/riscv64, linux/ppc64le, linux/s390x",
        ],
    );
    f.edit("Cargo.toml", |t| {
        t.replace("\"linux/arm64\"", "\"linux/arm64/v8\"")
    });
    f.run(&["build"]).fails_with(
        2,
        &["unknown target `linux/arm64/v8` (in package.metadata.release-dist.targets)"],
    );
}

#[test]
fn malformed_config_key_is_named() {
    let f = Fixture::example("hello");
    f.edit("Cargo.toml", |t| t.replace("flake = \".\"", "flake = 1"));
    f.run(&["build"]).fails_with(
        2,
        &[
            "invalid configuration key `package.metadata.release-dist.flake`",
            "must be a string",
        ],
    );
    f.edit("Cargo.toml", |t| t.replace("flake = 1", "flakes = \".\""));
    f.run(&["build"]).fails_with(2, &["unknown key `flakes`"]);
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}
