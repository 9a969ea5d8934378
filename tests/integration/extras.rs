//! Extra artifacts (`[[package.metadata.release-dist.artifacts]]`): built in
//! the same nix call, directory outputs archived deterministically, published
//! to Garage beside the binaries, and read back with stock tools (`tar`,
//! `unzip`, `sha256sum -c`, curl).

use serde_json::Value;

use crate::garage::Garage;
use crate::util::curl;
use crate::util::{build_json, stock, Fixture};

/// The example with three more artifacts: a man page per target (a file),
/// shell completions per target (a directory, zipped) and the licenses once
/// (a directory, tar.xz), beside the example's docs (tar.gz).
fn with_extras() -> Fixture {
    let f = Fixture::example("hello");
    f.edit("flake.nix", |t| {
        let per_target = r#""${name}-docker" = dockerFor system t bin;
          "${name}-man" = shell {
            name = "${name}-man-${t.arch}";
            args = [ "-c" "printf '.TH HELLO 1\n.SH NAME\nhello on ${t.arch}\n' > $out" ];
          };
          "${name}-completions" = shell {
            name = "${name}-completions-${t.arch}";
            args = [ "-c" "mkdir -p $out/bash $out/zsh; echo 'complete -W --version hello' > $out/bash/hello; echo '#compdef hello' > $out/zsh/_hello" ];
          };"#;
        let release = r#""${name}-docs" = docs;
          "${name}-licenses" = shell {
            name = "${name}-licenses";
            args = [ "-c" "mkdir -p $out; echo 'MIT License' > $out/LICENSE-MIT" ];
          };"#;
        t.replace(r#""${name}-docker" = dockerFor system t bin;"#, per_target)
            .replace(r#""${name}-docs" = docs;"#, release)
    });
    f.edit("Cargo.toml", |t| {
        t + r#"
[[package.metadata.release-dist.artifacts]]
name = "hello-man"
attribute = "packages.{system}.{name}-man"
per = "target"
file = "hello.1"

[[package.metadata.release-dist.artifacts]]
name = "hello-completions"
attribute = "packages.{system}.{name}-completions"
per = "target"
archive = "zip"

[[package.metadata.release-dist.artifacts]]
name = "hello-licenses"
attribute = "packages.x86_64-linux.{name}-licenses"
archive = "tar.xz"
"#
    });
    f.commit("extra artifacts");
    f
}

#[test]
fn extra_artifacts_are_archived_published_and_verified() {
    let g = Garage::from_env();
    let f = with_extras();
    let targets = ["-t", "linux/amd64", "-t", "linux/arm64"];
    f.run(&[&["build", "-q"][..], &targets].concat()).ok();
    let build = build_json(&f);
    let extras = build["extras"].as_array().unwrap();
    let paths: Vec<&str> = extras.iter().map(|e| e["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "extra/hello-docs.tar.gz",
            "extra/linux/amd64/hello.1",
            "extra/linux/arm64/hello.1",
            "extra/linux/amd64/hello-completions.zip",
            "extra/linux/arm64/hello-completions.zip",
            "extra/hello-licenses.tar.xz",
        ]
    );
    // Stock tools read each archive; every entry is under one directory.
    let dist = f.dist();
    let at = |p: &str| dist.join(p).display().to_string();
    let docs = stock("tar", &["-tzvf", &at("extra/hello-docs.tar.gz")]);
    assert!(
        docs.contains("hello-docs/html/index.html") && docs.contains("0/0"),
        "{docs}"
    );
    let licenses = stock("tar", &["-tJf", &at("extra/hello-licenses.tar.xz")]);
    assert_eq!(licenses, "hello-licenses/\nhello-licenses/LICENSE-MIT\n");
    let zip = stock(
        "unzip",
        &["-Z1", &at("extra/linux/arm64/hello-completions.zip")],
    );
    assert_eq!(
        zip,
        "hello-completions/\nhello-completions/bash/\nhello-completions/bash/hello\nhello-completions/zsh/\nhello-completions/zsh/_hello\n"
    );
    stock(
        "unzip",
        &["-tq", &at("extra/linux/arm64/hello-completions.zip")],
    );
    let man = std::fs::read_to_string(dist.join("extra/linux/arm64/hello.1")).unwrap();
    assert!(man.contains("hello on arm64"), "{man}");

    // The same commit builds the same archive bytes.
    let before = std::fs::read(dist.join("extra/hello-docs.tar.gz")).unwrap();
    f.run(&[&["build", "-q"][..], &targets].concat()).ok();
    assert_eq!(
        std::fs::read(dist.join("extra/hello-docs.tar.gz")).unwrap(),
        before
    );

    // An archive changed after the build is refused, and nothing is published.
    let (sk, _) = f.release_keys();
    let docs_path = dist.join("extra/hello-docs.tar.gz");
    std::fs::write(&docs_path, b"other bytes").unwrap();
    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().to_str().unwrap();
    f.run(&[
        "publish",
        "--static",
        out_s,
        "--signing-key",
        &sk,
        "--no-images",
    ])
    .fails_with(
        2,
        &["hello-docs.tar.gz changed since `build` wrote build.json"],
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
    std::fs::write(&docs_path, &before).unwrap();

    // Published to Garage: every file in SHA256SUMS, `sha256sum -c` passes.
    let bucket = g.bucket("extras");
    let url = g.url(&bucket, "");
    f.run(&[
        "publish",
        "--static",
        &url,
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
        "--no-images",
    ])
    .ok();
    let web = g.web_url(&bucket);
    let base = format!("{web}/df-dist-v1/hello/v1.0.0");
    let sums = String::from_utf8(curl(&format!("{base}/SHA256SUMS"))).unwrap();
    let dl = tempfile::tempdir().unwrap();
    std::fs::write(dl.path().join("SHA256SUMS"), &sums).unwrap();
    let listed: Vec<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    for path in &listed {
        let dest = dl.path().join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, curl(&format!("{base}/{path}"))).unwrap();
        curl(&format!("{base}/{path}.sha256"));
    }
    let ok = crate::util::sha256sum_c(dl.path(), "SHA256SUMS");
    assert_eq!(ok.matches(": OK").count(), 11, "{ok}");
    for expected in [
        "hello-docs.tar.gz",
        "hello-licenses.tar.xz",
        "hello-v1.0.0.tar.gz",
        "linux/amd64/hello.1",
        "linux/arm64/hello-completions.zip",
    ] {
        assert!(listed.contains(&expected), "{expected} not in {listed:?}");
    }
    // The downloaded archive is the one built.
    assert_eq!(
        std::fs::read(dl.path().join("hello-docs.tar.gz")).unwrap(),
        before
    );

    // The tag document: flavors hold only binaries (what df-dist readers
    // know); `artifacts` names the rest, with its target.
    let tag: Value = serde_json::from_slice(&curl(&base)).unwrap();
    for flavor in tag["flavors"].as_array().unwrap() {
        assert_eq!(flavor["resources"], serde_json::json!([{"path": "hello"}]));
    }
    let man_entry = tag["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "linux/arm64/hello.1")
        .cloned()
        .unwrap();
    assert_eq!(
        man_entry,
        serde_json::json!({"path": "linux/arm64/hello.1", "kind": "extra", "name": "hello-man", "platform": "linux/arm64"})
    );
    // The index lists them; the provenance has them as subjects; verify passes.
    let html = String::from_utf8(curl(&format!("{web}/_releases.html"))).unwrap();
    assert!(html.contains("hello-licenses.tar.xz") && html.contains("hello.1"));
    let bundle = curl(&format!("{base}/hello-v1.0.0.intoto.jsonl"));
    let envelope: Value =
        serde_json::from_slice(bundle.split(|b| *b == b'\n').next().unwrap()).unwrap();
    use base64::Engine;
    let statement: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    let subjects: Vec<&str> = statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        subjects.contains(&"linux/amd64/hello-completions.zip"),
        "{subjects:?}"
    );
    assert!(subjects.contains(&"hello-licenses.tar.xz"), "{subjects:?}");
    let key = f.dir.join("keys/cache.pub");
    f.run(&[
        "verify",
        "--from",
        &url,
        "-t",
        "hello:v1.0.0",
        "--key",
        key.to_str().unwrap(),
    ])
    .ok();
}

#[test]
fn extra_artifact_mistakes_are_named_with_their_config_key() {
    let f = Fixture::example("hello");
    let add = |f: &Fixture, entry: &str, message: &str| {
        f.edit("Cargo.toml", |t| {
            t + "\n[[package.metadata.release-dist.artifacts]]\n" + entry + "\n"
        });
        f.commit(message);
    };
    // An attribute the flake does not have: named, with the key, before any build.
    add(
        &f,
        "name = \"hello-book\"\nattribute = \"packages.x86_64-linux.book\"",
        "a missing attribute",
    );
    f.run(&["build", "-t", "linux/amd64"]).fails_with(
        2,
        &[
            "the extra artifact `hello-book`: the flake has no attribute `packages.x86_64-linux.book`",
            "package.metadata.release-dist.artifacts[1].attribute",
        ],
    );
    assert!(!f.dist().join("build.json").exists());

    // A directory output without an archive format fails that output.
    f.edit("Cargo.toml", |t| {
        t.replace(
            "packages.x86_64-linux.book",
            "packages.x86_64-linux.hello-docs",
        )
    });
    f.commit("a directory without archive");
    f.run(&["build", "-t", "linux/amd64"]).fails_with(
        1,
        &[
            "release extra hello-book",
            "is a directory; set `package.metadata.release-dist.artifacts[1].archive`",
            "1 of 4 outputs",
        ],
    );
    let failures = build_json(&f)["failures"].clone();
    assert_eq!(failures[0]["artifact"], "hello-book", "{failures}");

    // A file that would overwrite the binary is refused when the config is read.
    f.edit("Cargo.toml", |t| {
        t.replace(
            "name = \"hello-book\"\n",
            "name = \"hello-book\"\nfile = \"hello\"\nper = \"target\"\n",
        )
        .replace(
            "packages.x86_64-linux.hello-docs",
            "packages.{system}.{name}",
        )
    });
    f.commit("a clash");
    f.run(&["build", "-t", "linux/amd64"]).fails_with(
        2,
        &[
            "package.metadata.release-dist.artifacts[1].name",
            "the file `hello` would clash",
        ],
    );
}
