//! Bad input at `publish`, `verify` and `cache push`, one test per case.
//! Each checks three things: a message naming the problem with a hint for
//! the next step, the documented non-zero exit, and a target left exactly as
//! it was (nothing half-published). The build-side cases (no nix, not a
//! flake, a missing attribute, a failing target, an unknown target, a
//! malformed config key) are in `build.rs`; images in `images.rs`.

use crate::util::snapshot;
use std::path::PathBuf;

use crate::garage::Garage;
use crate::util::key_pair;
use crate::util::keys;
use crate::util::{free_port, Registry};
use crate::util::{Fixture, Run};

struct Case {
    f: Fixture,
    sk: String,
    pk_file: PathBuf,
    out: PathBuf,
}

/// The example built for one target, a key pair, and an empty local target.
fn case() -> Case {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, pk) = f.release_keys();
    let pk_file = f.dir.join("keys/release.pub");
    std::fs::write(&pk_file, pk).unwrap();
    let out = f.dir.join("out");
    Case {
        f,
        sk,
        pk_file,
        out,
    }
}

fn refused(run: Run, code: i32, needles: &[&str]) {
    let run = run.fails_with(code, needles);
    assert!(
        run.stderr().contains("hint:"),
        "no next step:\n{}",
        run.stderr()
    );
}

impl Case {
    fn publish(&self, tag: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "publish",
            "--static",
            self.out.to_str().unwrap(),
            "--tag",
            tag,
        ];
        args.extend_from_slice(extra);
        self.f.run_with(&args, |c| {
            c.env("HOME", self.f.dir.join("home"))
                .env_remove("DOCKER_AUTH");
        })
    }

    fn publish_signed(&self, tag: &str) -> Run {
        self.publish(tag, &["--signing-key", &self.sk, "--no-images"])
    }

    /// Runs `publish` that must fail, and checks the target did not change.
    fn refused_unchanged(&self, run: impl FnOnce(&Case) -> Run, code: i32, needles: &[&str]) {
        let before = snapshot(&self.out);
        refused(run(self), code, needles);
        assert_eq!(snapshot(&self.out), before, "the target changed");
    }
}

#[test]
fn publish_without_build_json() {
    let c = case();
    std::fs::remove_file(c.f.dist().join("build.json")).unwrap();
    c.refused_unchanged(
        |c| c.publish_signed("v1.0.0"),
        2,
        &[
            "there is no build to publish",
            "build.json is missing",
            "run `cargo release-dist build` first",
        ],
    );
}

#[test]
fn publish_with_an_invalid_tag() {
    let c = case();
    c.refused_unchanged(
        |c| c.publish_signed("v1.0.0/../x"),
        2,
        &[
            "`v1.0.0/../x` is not a valid release tag",
            "a tag is 1 to 128 of A-Z a-z 0-9 _ . -",
        ],
    );
}

#[test]
fn publish_without_a_signing_key() {
    let c = case();
    c.refused_unchanged(
        |c| {
            c.f.run_with(
                &[
                    "publish",
                    "--static",
                    c.out.to_str().unwrap(),
                    "--tag",
                    "v1.0.0",
                ],
                |cmd| {
                    cmd.env_remove("RELEASE_DIST_SIGNING_KEY");
                },
            )
        },
        2,
        &["signing key", "--signing-key"],
    );
}

#[test]
fn publish_with_a_malformed_signing_key() {
    let c = case();
    let bad = c.f.dir.join("keys/bad.sec");
    std::fs::write(&bad, "not-a-key").unwrap();
    c.refused_unchanged(
        |c| c.publish("v1.0.0", &["--signing-key", bad.to_str().unwrap()]),
        2,
        &["bad.sec"],
    );
}

#[test]
fn publish_a_stable_tag_again_with_other_bytes() {
    let c = case();
    c.publish_signed("v1.0.0").ok();
    c.f.edit("src/main.rs", |t| t.replace("usage: ", "Usage: "));
    c.f.commit("change the binary");
    c.f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    c.refused_unchanged(|c| c.publish_signed("v1.0.0"), 2, &["v1.0.0", "--force"]);
}

#[test]
fn publish_a_stable_tag_from_a_dirty_tree() {
    let c = case();
    std::fs::write(c.f.dir.join("src/extra.rs"), "// uncommitted\n").unwrap();
    c.refused_unchanged(
        |c| c.publish_signed("v1.0.0"),
        2,
        &["dirty", "src/extra.rs"],
    );
}

#[test]
fn publish_an_incomplete_build() {
    let c = case();
    let path = c.f.dist().join("build.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("\"complete\": true", "\"complete\": false"),
    )
    .unwrap();
    c.refused_unchanged(
        |c| c.publish_signed("v1.0.0"),
        2,
        &[
            "the build is incomplete",
            "a release is published whole or not at all",
        ],
    );
}

#[test]
fn publish_with_an_unknown_store_url_parameter() {
    let c = case();
    c.refused_unchanged(
        |c| {
            c.f.run(&[
                "publish",
                "--static",
                "s3://x?endpoint=127.0.0.1:1&colour=blue",
                "--tag",
                "v1.0.0",
                "--signing-key",
                &c.sk,
            ])
        },
        2,
        &["colour"],
    );
}

#[test]
fn publish_with_a_bad_image_destination() {
    let c = case();
    c.refused_unchanged(
        |c| {
            c.publish(
                "v1.0.0",
                &[
                    "--signing-key",
                    &c.sk,
                    "--images",
                    "docker://host/Upper:tag",
                ],
            )
        },
        2,
        &["docker://host/Upper:tag"],
    );
}

fn garage_case(
    extra_url: &str,
    env: &[(&str, &str)],
    code: i32,
    needles: &[&str],
    make_bucket: bool,
) {
    let g = Garage::from_env();
    let c = case();
    let bucket = if make_bucket {
        g.bucket("badinput")
    } else {
        format!("missing-{}", std::process::id())
    };
    let url = g.url(&bucket, extra_url);
    let run = c.f.run_with(
        &[
            "publish",
            "--static",
            &url,
            "--tag",
            "v1.0.0",
            "--signing-key",
            &c.sk,
            "--no-images",
        ],
        |cmd| {
            for (k, v) in env {
                cmd.env(k, v);
            }
        },
    );
    refused(run, code, needles);
    if make_bucket {
        assert!(keys(&g, &bucket).is_empty(), "objects were written");
    }
}

#[test]
fn publish_with_wrong_s3_credentials() {
    garage_case(
        "",
        &[("AWS_SECRET_ACCESS_KEY", "wrong")],
        4,
        &["credentials"],
        true,
    );
}

#[test]
fn publish_to_a_missing_bucket() {
    garage_case("", &[], 4, &["bucket"], false);
}

#[test]
fn publish_to_an_unreachable_endpoint() {
    let c = case();
    let url = format!(
        "s3://b?endpoint=127.0.0.1:{}&region=garage&scheme=http",
        free_port()
    );
    refused(
        c.f.run(&[
            "publish",
            "--static",
            &url,
            "--tag",
            "v1.0.0",
            "--signing-key",
            &c.sk,
            "--no-images",
        ]),
        4,
        &["endpoint"],
    );
}

#[test]
fn publish_to_a_registry_that_refuses_auth() {
    let reg = Registry::start(Some("right-pw"));
    let c = case();
    let images = format!("docker://{}/hello", reg.addr);
    c.refused_unchanged(
        |c| c.publish("v1.0.0", &["--signing-key", &c.sk, "--images", &images]),
        4,
        &["credentials"],
    );
}

#[test]
fn verify_with_the_wrong_key() {
    let c = case();
    c.publish_signed("v1.0.0").ok();
    let other = c.f.dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    let (_, pk) = key_pair(&other);
    let other_pub = other.join("other.pub");
    std::fs::write(&other_pub, pk).unwrap();
    let before = snapshot(&c.out);
    let run = c.f.run(&[
        "verify",
        "--from",
        c.out.to_str().unwrap(),
        "-t",
        "hello:v1.0.0",
        "--key",
        other_pub.to_str().unwrap(),
    ]);
    refused(run, 5, &["signature"]);
    assert_eq!(snapshot(&c.out), before);
    // The right key still passes, so the failure was the key.
    c.f.run(&[
        "verify",
        "--from",
        c.out.to_str().unwrap(),
        "-t",
        "hello:v1.0.0",
        "--key",
        c.pk_file.to_str().unwrap(),
    ])
    .ok();
}

#[test]
fn cache_push_of_a_path_not_in_the_store() {
    let c = case();
    let cache = c.f.dir.join("out/cache");
    let url = format!("file://{}?secret-key={}", cache.display(), c.sk);
    let run = c.f.run(&[
        "cache",
        "push",
        "--to",
        &url,
        "/nix/store/00000000000000000000000000000000-not-there",
    ]);
    refused(run, 2, &["not a valid path in the local Nix store"]);
    assert!(snapshot(&cache).is_empty());
}

#[test]
fn a_command_line_mistake_is_a_usage_error_not_a_configuration_one() {
    let f = Fixture::example("hello");
    let run = f.run(&["rm", "hello"]).fails_with(
        2,
        &[
            "invalid argument `NAME:TAG`: `hello` names no tag: write NAME:TAG",
            "a command-line mistake: see `cargo release-dist rm --help`",
        ],
    );
    assert!(!run.stderr().contains("configuration"), "{}", run.stderr());
    f.run(&["promote", "hello", "--from", "a", "--to", "b"])
        .fails_with(2, &["invalid argument `NAME:TAG`", "promote --help"]);
    f.run(&["verify", "--image", "out"]).fails_with(
        2,
        &[
            "invalid argument `--image`: out: a bucket or directory needs --release NAME:TAG",
            "verify --help",
        ],
    );
}
