//! What a new user ran into (issue 13's friction list), one test each: the
//! nested docker shape found without configuration, a repository without a
//! `.gitignore` for `target/`, `cache push` outside a Cargo project, and
//! `verify` of a tag that was never published.

use crate::util::key_pair;
use crate::util::{build_json, stock, tool, Fixture};

/// The example without `docker-attr` in its Cargo.toml (the example spells
/// the default out), as a project that never configured it.
fn unconfigured_docker_fixture() -> Fixture {
    let f = Fixture::example("hello");
    f.edit("Cargo.toml", |t| {
        t.lines()
            .filter(|l| !l.starts_with("docker-attr"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    f
}

/// That, with its images at `packages.<system>.docker.<name>` (the alba
/// layout) instead of `packages.<system>.<name>-docker`.
fn nested_docker_fixture() -> Fixture {
    let f = unconfigured_docker_fixture();
    f.edit("flake.nix", |t| {
        t.replace(
            r#""${name}-docker" = dockerFor system t bin;"#,
            r#"docker = { ${name} = dockerFor system t bin; };"#,
        )
    });
    f.commit("images in the nested shape");
    f
}

#[test]
fn the_nested_docker_shape_is_found_without_configuration() {
    let f = nested_docker_fixture();
    let run = f.run(&["-v", "build", "-t", "linux/amd64"]).ok();
    assert!(
        run.stderr()
            .contains("docker outputs found at packages.{system}.docker.{name}"),
        "{}",
        run.stderr()
    );
    let manifest = build_json(&f);
    assert_eq!(manifest["dockerAttr"], "packages.{system}.docker.{name}");
    let docker = f.dist().join("docker/linux.amd64.tar.gz");
    let target = std::fs::canonicalize(&docker).unwrap();
    assert!(target.starts_with("/nix/store"), "{target:?}");
    // skopeo reads what the nested attribute built.
    let raw = stock(
        "sh",
        &[
            "-c",
            &format!(
                "gunzip -c {} > {}/img.tar",
                docker.display(),
                f.dir.display()
            ),
        ],
    );
    assert_eq!(raw, "");
    let inspect = stock(
        "skopeo",
        &[
            "inspect",
            &format!("docker-archive:{}/img.tar", f.dir.display()),
        ],
    );
    assert!(inspect.contains("\"Architecture\": \"amd64\""), "{inspect}");
}

#[test]
fn neither_docker_shape_names_both_and_the_way_out() {
    let f = unconfigured_docker_fixture();
    f.edit("flake.nix", |t| {
        t.replace(r#""${name}-docker" = dockerFor system t bin;"#, "")
    });
    f.commit("no images");
    f.run(&["build", "-t", "linux/amd64"]).fails_with(
        2,
        &[
            "packages.x86_64-linux.hello-docker",
            "packages.x86_64-linux.docker.hello",
            "docker-attr = false",
        ],
    );
    assert!(!f.dist().join("build.json").exists());
}

#[test]
fn a_stable_release_from_a_repository_without_a_gitignore_for_target() {
    // The default target directory, and one named by CARGO_TARGET_DIR inside the tree.
    for in_tree in [None, Some("build-out")] {
        let f = Fixture::example("hello");
        std::fs::remove_file(f.dir.join(".gitignore")).unwrap();
        f.commit("no .gitignore");
        let (sk, _pk) = f.release_keys();
        f.git(&["tag", "v0.1.0"]);
        let target = f.dir.join(in_tree.unwrap_or("target"));
        let env = |c: &mut std::process::Command| {
            if in_tree.is_some() {
                c.env("CARGO_TARGET_DIR", &target);
            }
        };
        f.run_with(&["build", "-q", "-t", "linux/amd64"], env).ok();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(target.join("release-dist/build.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["source"]["dirty"], false, "{in_tree:?}");
        let publish = [
            "publish",
            "--static",
            "out-static",
            "--signing-key",
            &sk,
            "--no-images",
        ];
        f.run_with(&publish, env).ok();
        assert!(f
            .dir
            .join("out-static/df-dist-v1/hello/v0.1.0/SHA256SUMS")
            .is_file());
        // Anything else uncommitted still refuses a stable release.
        std::fs::write(f.dir.join("notes.txt"), "x").unwrap();
        f.run_with(&publish, env).fails_with(2, &["notes.txt"]);
    }
}

#[test]
fn cache_push_and_cache_toolchain_run_outside_a_cargo_project() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let path = build_json(&f)["artifacts"][0]["storePath"]
        .as_str()
        .unwrap()
        .to_string();
    let outside = tempfile::tempdir().unwrap();
    let (sk, pk) = key_pair(outside.path());
    let cache = outside.path().join("cache");
    let url = format!("file://{}?secret-key={sk}", cache.display());
    let run = |args: &[&str]| {
        let out = tool()
            .arg("release-dist")
            .args(args)
            .current_dir(outside.path())
            .output()
            .unwrap();
        crate::util::Run(out)
    };
    run(&["cache", "push", "--to", &url, &path]).ok();
    // Stock nix reads the cache and accepts the signature.
    let info = stock(
        "nix",
        &[
            "--extra-experimental-features",
            "nix-command",
            "path-info",
            "--json",
            "--store",
            &format!("file://{}", cache.display()),
            "--option",
            "trusted-public-keys",
            pk.trim(),
            &path,
        ],
    );
    assert!(info.contains(&path), "{info}");
    let installable = format!("{}#packages.x86_64-linux.hello", f.dir.display());
    run(&["cache-toolchain", "--to", &url, "--toolchain", &installable]).ok();
    // Nothing was left behind in the current directory.
    let left: Vec<_> = std::fs::read_dir(outside.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["cache", "cache.pub", "cache.sec"]);
    // Without --to, the project is still needed, and the error says so.
    run(&["cache", "push", &path]).fails_with(2, &["Cargo.toml"]);
}

#[test]
fn verify_of_a_tag_never_published_says_so_and_lists_the_tags() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _pk) = f.release_keys();
    let out = f.dir.join("out");
    let out_s = out.to_str().unwrap();
    for tag in ["nightly-1", "nightly-2"] {
        f.run(&[
            "publish",
            "--static",
            out_s,
            "--signing-key",
            &sk,
            "--tag",
            tag,
            "--no-images",
        ])
        .ok();
    }
    f.run(&["verify", "--from", out_s, "-t", "hello:nope"])
        .fails_with(
            2,
            &[
                "no release hello:nope at",
                "it has: ",
                "nightly-1",
                "nightly-2",
            ],
        );
    let none = f.run(&["verify", "--from", out_s, "-t", "other:nope"]);
    let none = none.fails_with(2, &["no release other:nope", "nothing of that name"]);
    assert!(!none.stderr().contains("problem"), "{}", none.stderr());
    // A published tag still verifies.
    f.run(&["verify", "--from", out_s, "-t", "hello:nightly-2"])
        .ok();
}

#[test]
fn a_release_destination_refuses_binary_cache_parameters() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _pk) = f.release_keys();
    let out = f.dir.join("out");
    for dest in [
        format!("file://{}?secret-key={sk}", out.display()),
        format!("file://{}?compression=xz", out.display()),
    ] {
        let param = if dest.contains("secret-key") {
            "secret-key"
        } else {
            "compression"
        };
        f.run(&[
            "publish",
            "--static",
            &dest,
            "--signing-key",
            &sk,
            "--no-images",
        ])
        .fails_with(
            2,
            &[&format!("`{param}` is a binary-cache parameter"), "drop it"],
        );
        f.run(&["verify", "--from", &dest, "-t", "hello:x"])
            .fails_with(2, &["is a binary-cache parameter"]);
    }
    assert!(!out.exists(), "nothing was written");
}
