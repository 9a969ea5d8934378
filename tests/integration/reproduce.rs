//! The reproducibility gate: `rebuild` on the loopback ssh builder (a
//! store of its own) and by a check build here; the statement published,
//! shown by `verify` and `ls`, checked by an independent Python reader,
//! required by `promote --require-reproduced`; a non-deterministic output
//! caught and named, with diffoscope's report; another key's statement and
//! a partial one refused.

use std::path::{Path, PathBuf};

use crate::util::builder::{nonce, Builder};
use crate::util::{publish, repo_root, sha256_prefixed, skopeo_raw, stock, Fixture, Run};

const TAG: &str = "v0.1.0-rc.1";

/// The statement's path in the release directory, as published.
fn statement_name() -> String {
    format!("hello-{TAG}.reproduced.intoto.jsonl")
}

fn release_dir(static_dir: &Path) -> PathBuf {
    static_dir.join(format!("df-dist-v1/hello/{TAG}"))
}

fn pub_key(f: &Fixture) -> String {
    f.dir.join("keys/cache.pub").display().to_string()
}

fn rebuild(f: &Fixture, b: Option<&Builder>, extra: &[&str]) -> Run {
    let sk = f.dir.join("keys/cache.sec").display().to_string();
    let release = format!("hello:{TAG}");
    let spec = b.map(Builder::spec);
    let mut args = vec!["rebuild", "-t", &release, "--signing-key", &sk];
    if let Some(spec) = &spec {
        args.extend(["--builders", spec]);
    }
    args.extend_from_slice(extra);
    f.run_with(&args, |c| {
        if let Some(b) = b {
            c.env("NIX_SSHOPTS", b.sshopts());
        }
    })
}

fn promote(f: &Fixture, from: &Path, to: &Path, extra: &[&str]) -> Run {
    let (from, to) = (from.display().to_string(), to.display().to_string());
    let release = format!("hello:{TAG}");
    let mut args = vec!["promote", &release, "--from", &from, "--to", &to];
    args.extend_from_slice(extra);
    f.run(&args)
}

fn verify(f: &Fixture, from: &Path, extra: &[&str]) -> Run {
    let from = from.display().to_string();
    let release = format!("hello:{TAG}");
    let mut args = vec!["verify", "--from", &from, "--release", &release];
    args.extend_from_slice(extra);
    f.run(&args)
}

/// `publish` of the release's files (no images) to the directory `to`.
fn publish_files(f: &Fixture, to: &Path, sk: &str) {
    publish(f, &to.display().to_string(), sk, TAG, &["--no-images"]).ok();
}

fn verify_image(f: &Fixture, layout: &str) -> Run {
    let release = format!("hello:{TAG}");
    f.run(&[
        "verify",
        "--image",
        layout,
        "--release",
        &release,
        "--key",
        &pub_key(f),
    ])
}

/// Files under `dir`, none when it does not exist.
fn files_under(dir: &Path) -> usize {
    match std::fs::read_dir(dir) {
        Err(_) => 0,
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .map(|p| if p.is_dir() { files_under(&p) } else { 1 })
            .sum(),
    }
}

#[test]
fn the_example_rebuilt_on_an_independent_builder_is_published_shown_checked_and_promoted() {
    let b = Builder::start();
    let f = Fixture::example("hello");
    let (sk, _) = f.release_keys();
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    // What the builder builds now is registered after the second the
    // build finished in (whole seconds), so the re-run below takes it as
    // a second build, not the first's own.
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let run = rebuild(&f, Some(&b), &[]).ok();
    let out = run.stdout();
    assert!(out.contains("every NAR hash the same"), "{out}");
    assert!(
        out.contains("on ssh-ng://root@127.0.0.1 (an independent store)"),
        "{out}"
    );
    let err = run.stderr();
    assert!(
        err.contains("rebuilding 5 derivations on ssh-ng://root@127.0.0.1"),
        "{err}"
    );
    // Built there, from the derivations: each output is in its store.
    let built = crate::util::build_json(&f);
    for a in built["artifacts"].as_array().unwrap() {
        let path = a["storePath"].as_str().unwrap();
        assert!(
            b.store().join(path.trim_start_matches('/')).exists(),
            "{path} was not built on the builder"
        );
    }
    let statement = f.dist().join("rebuild").join(statement_name());
    assert!(statement.exists());

    // Again: the builder has them, built there; nothing is rebuilt and the
    // same outputs are attested.
    let again = rebuild(&f, Some(&b), &[]).ok();
    assert!(
        again
            .stderr()
            .contains("rebuilding 0 derivations on ssh-ng://root@127.0.0.1 (5 of 5 outputs it has built before)"),
        "{}",
        again.stderr()
    );

    let staging = f.dir.join("out-static");
    let staging_url = staging.display().to_string();
    let layout = f.dir.join("out-images");
    let layout_url = layout.display().to_string();
    publish(&f, &staging_url, &sk, TAG, &["--images", &layout_url]).ok();
    // The image carries it as a second referrer of its index: skopeo reads
    // both from the referrers tag.
    let index = skopeo_raw(&format!("oci:{}:{TAG}", layout.display()), None).unwrap();
    let fallback = format!("sha256-{}", &sha256_prefixed(&index)[7..]);
    let referrers: serde_json::Value = serde_json::from_slice(
        &skopeo_raw(&format!("oci:{}:{fallback}", layout.display()), None).unwrap(),
    )
    .unwrap();
    let kinds: Vec<&str> = referrers["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["in-toto.io/predicate-type"]
                .as_str()
                .unwrap_or("provenance")
        })
        .collect();
    assert_eq!(
        kinds,
        ["provenance", "https://release-dist.dev/reproduced/v1"],
        "{referrers}"
    );
    let image = verify_image(&f, &layout_url).ok().stdout();
    assert!(
        image.contains("attested by") && image.contains("reproduced by local://"),
        "{image}"
    );
    let dir = release_dir(&staging);
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap();
    assert!(sums.contains(&statement_name()), "{sums}");
    let tag_doc = std::fs::read_to_string(release_dir(&staging).join(".object")).unwrap();
    assert!(tag_doc.contains(&statement_name()), "{tag_doc}");

    // The independent reader: the envelope, the signature, every subject's bytes.
    let script = repo_root().join("tests/scripts/reproduced.py");
    let checked = stock(
        "/usr/bin/python3",
        &[
            script.to_str().unwrap(),
            dir.to_str().unwrap(),
            &statement_name(),
            &pub_key(&f),
        ],
    );
    assert!(
        checked.contains("verified 3 subjects, 5 outputs")
            && checked.contains("on ssh-ng://root@127.0.0.1"),
        "{checked}"
    );

    let shown = verify(&f, &staging, &["--key", &pub_key(&f)]).ok().stdout();
    assert!(
        shown.contains("reproduced by local://")
            && shown.contains("on ssh-ng://root@127.0.0.1 (an independent store)")
            && shown.contains("5 outputs, 3 files, signature good"),
        "{shown}"
    );
    let listed = f.run(&["ls", "--static", &staging_url]).ok().stdout();
    assert!(listed.contains("reproduced by local://"), "{listed}");

    let production = f.dir.join("out-production");
    let said = promote(
        &f,
        &staging,
        &production,
        &["--key", &pub_key(&f), "--require-reproduced"],
    )
    .ok()
    .stderr();
    assert!(said.contains("reproduced by"), "{said}");
    assert!(release_dir(&production).join(statement_name()).exists());
    verify(
        &f,
        &production,
        &["--key", &pub_key(&f), "--require-reproduced"],
    )
    .ok();

    // A release built on that builder (`build -- --builders`) cannot be
    // rebuilt there: its outputs there are the first build's own.
    let g = Fixture::example("hello");
    // A fresh source, so that its outputs are in no store yet (this
    // machine's store keeps earlier runs' outputs).
    let nonce = nonce();
    g.edit("src/main.rs", |t| {
        format!("{t}// built on the builder: {nonce}\n")
    });
    g.commit("built on the builder");
    g.release_keys();
    let spec = b.spec();
    g.run_with(
        &[
            "build",
            "-q",
            "-t",
            "linux/amd64",
            "--",
            "--max-jobs",
            "0",
            "--builders",
            &spec,
        ],
        |c| {
            c.env("NIX_SSHOPTS", b.sshopts());
        },
    )
    .ok();
    rebuild(&g, Some(&b), &[]).fails_with(
        2,
        &["it built them while the release's build ran (they may be that build's own outputs)"],
    );
}

/// The example with a manual whose build writes random bytes into it.
fn non_deterministic() -> Fixture {
    let f = Fixture::example("hello");
    f.edit("flake.nix", |t| {
        t.replacen(
            "mkdir -p $out/html\n",
            "mkdir -p $out/html\n          head -c 16 /dev/urandom | od -An -tx1 > $out/html/stamp\n",
            1,
        )
    });
    f.commit("a manual that is never built the same twice");
    f
}

#[test]
fn a_non_deterministic_output_is_named_with_its_file_and_nothing_claims_it_was_reproduced() {
    let b = Builder::start();
    let f = non_deterministic();
    let (sk, _) = f.release_keys();
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();

    // A store that holds an output it did not build (copied there) is no
    // independent builder: refused, naming it, before anything is built.
    let copied = tempfile::tempdir().unwrap();
    let copied_url = copied.path().display().to_string();
    let binary = crate::util::build_json(&f)["artifacts"][0]["storePath"]
        .as_str()
        .unwrap()
        .to_string();
    stock(
        "nix",
        &[
            "--extra-experimental-features",
            "nix-command",
            "copy",
            "--no-check-sigs",
            "--to",
            &copied_url,
            &binary,
        ],
    );
    rebuild(&f, None, &["--on", &copied_url]).fails_with(
        2,
        &[
            "cannot rebuild 1 output independently: it holds them without having built them",
            &binary,
            "a copy, or the release's own build, proves nothing",
        ],
    );

    // On the builder: named, with the file, diffoscope's report kept.
    let run = rebuild(&f, Some(&b), &[]).fails_with(
        6,
        &[
            "1 output of hello:v0.1.0-rc.1 did not build the same on ssh-ng://root@127.0.0.1",
            "extra/hello-docs.tar.gz",
            "first differing file: html/stamp (the bytes differ from offset",
            "nothing says this release was reproduced",
        ],
    );
    let rebuilt = f.dist().join("rebuild");
    assert!(!rebuilt.join(statement_name()).exists());
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rebuilt.join("report.json")).unwrap()).unwrap();
    let differing: Vec<&serde_json::Value> = report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["matches"] == false)
        .collect();
    assert_eq!(differing.len(), 1, "{report}");
    assert_eq!(differing[0]["firstDifference"]["path"], "html/stamp");
    let diffoscope = differing[0]["diffoscope"]
        .as_str()
        .unwrap_or_else(|| panic!("no diffoscope report: {}", run.stderr()));
    let text = std::fs::read_to_string(diffoscope).unwrap();
    assert!(text.contains("stamp"), "{text}");

    // Here, by a check build: the same, from nix's own comparison.
    rebuild(&f, None, &[]).fails_with(
        6,
        &[
            "did not build the same on this machine (`nix build --rebuild`)",
            "first differing file: html/stamp",
        ],
    );
    assert!(!rebuilt.join(statement_name()).exists());

    // Published without a statement; production requires one: refused,
    // nothing copied.
    let staging = f.dir.join("out-static");
    publish_files(&f, &staging, &sk);
    assert!(!release_dir(&staging).join(statement_name()).exists());
    let shown = verify(&f, &staging, &["--key", &pub_key(&f)]).ok().stdout();
    assert!(
        shown.contains("not reproduced: no reproducibility statement"),
        "{shown}"
    );
    let production = f.dir.join("out-production");
    promote(
        &f,
        &staging,
        &production,
        &["--key", &pub_key(&f), "--require-reproduced"],
    )
    .fails_with(
        5,
        &["is not shown to be reproduced: it has no reproducibility statement"],
    );
    assert_eq!(files_under(&production), 0);
}

#[test]
fn another_keys_statement_or_a_partial_one_is_refused_by_promote_and_flagged_by_verify() {
    let f = Fixture::example("hello");
    let (sk, _) = f.release_keys();
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let pk = pub_key(&f);

    // A check build of amd64's outputs only: the statement leaves arm64 out.
    rebuild(&f, None, &["--target", "linux/amd64"]).ok();
    let partial = f.dir.join("out-partial");
    publish_files(&f, &partial, &sk);
    let shown = verify(&f, &partial, &["--key", &pk]).ok().stdout();
    assert!(
        shown.contains("a check build in the same store (weaker")
            && shown.contains("it does NOT cover: static/linux/arm64/hello")
            && shown.contains("linux/arm64/hello is not among its subjects"),
        "{shown}"
    );
    verify(&f, &partial, &["--key", &pk, "--require-reproduced"])
        .fails_with(5, &["does not cover: static/linux/arm64/hello"]);
    let production = f.dir.join("out-production");
    promote(
        &f,
        &partial,
        &production,
        &["--key", &pk, "--require-reproduced"],
    )
    .fails_with(
        5,
        &[
            "the reproducibility statement does not cover",
            "static/linux/arm64/hello",
        ],
    );
    assert_eq!(files_under(&production), 0);

    // A statement for another tag is not published (said so), so the
    // release under that tag claims nothing.
    let other_tag = f.dir.join("out-other-tag");
    let said = publish(
        &f,
        &other_tag.display().to_string(),
        &sk,
        "v0.1.0-rc.2",
        &["--no-images"],
    )
    .ok()
    .stderr();
    assert!(
        said.contains("is not published: it is for hello:v0.1.0-rc.1, not hello:v0.1.0-rc.2"),
        "{said}"
    );
    assert!(!other_tag
        .join("df-dist-v1/hello/v0.1.0-rc.2/hello-v0.1.0-rc.1.reproduced.intoto.jsonl")
        .exists());
    assert!(!other_tag
        .join("df-dist-v1/hello/v0.1.0-rc.2/hello-v0.1.0-rc.2.reproduced.intoto.jsonl")
        .exists());

    // The whole release, but signed by another key.
    let other = f.dir.join("keys/other");
    std::fs::create_dir_all(&other).unwrap();
    let (other_sk, _) = crate::util::key_pair(&other);
    let other_pk = other.join("cache.pub").display().to_string();
    f.run(&[
        "rebuild",
        "-t",
        &format!("hello:{TAG}"),
        "--signing-key",
        &other_sk,
    ])
    .ok();
    let staging = f.dir.join("out-static");
    publish_files(&f, &staging, &sk);
    verify(&f, &staging, &["--key", &pk]).fails_with(
        5,
        &["the reproducibility statement: no signature verifies with the given key"],
    );
    promote(
        &f,
        &staging,
        &production,
        &["--key", &pk, "--require-reproduced"],
    )
    .fails_with(5, &["no signature verifies with the given key"]);
    assert_eq!(files_under(&production), 0);
    // With the rebuilder's key named, it is good.
    promote(
        &f,
        &staging,
        &production,
        &[
            "--key",
            &pk,
            "--require-reproduced",
            "--reproduced-key",
            &other_pk,
        ],
    )
    .ok();
    assert!(release_dir(&production).join(statement_name()).exists());
}

#[test]
fn a_rebuild_compares_with_the_caches_signed_narinfo_and_refuses_a_forged_one() {
    let f = Fixture::example("hello");
    let cache = f.dir.join("out-cache");
    let cache_url = cache.display().to_string();
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]",
            &format!("[package.metadata.release-dist]\ncache = \"{cache_url}\""),
        )
    });
    f.commit("a binary cache");
    f.release_keys();
    let keys = tempfile::tempdir().unwrap();
    let (cache_sk, _) = crate::util::key_pair(keys.path());
    let cache_key = std::fs::read_to_string(&cache_sk).unwrap();
    f.run_with(
        &[
            "build",
            "-q",
            "-t",
            "linux/amd64",
            "--push-cache",
            &cache_url,
        ],
        |c| {
            c.env("RELEASE_DIST_CACHE_KEY", cache_key.trim());
        },
    )
    .ok();

    let out = rebuild(&f, None, &[]).ok().stdout();
    assert!(out.contains("as built first, and the cache's"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.dist().join("rebuild/report.json")).unwrap())
            .unwrap();
    // The pushed closures (the binary and the image) are compared; the
    // manual, an extra artifact, is not pushed.
    let compared: Vec<&serde_json::Value> = report["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["cacheNarHash"].is_string())
        .collect();
    assert_eq!(compared.len(), 2, "{report}");
    for o in compared {
        assert_eq!(o["cacheNarHash"], o["narHash"], "{report}");
    }

    // The cache's narinfo for the binary says other bytes (its signature
    // then fails): the cache would serve Nix users something else.
    let binary = crate::util::build_json(&f)["artifacts"][0]["storePath"]
        .as_str()
        .unwrap()
        .to_string();
    let hash = binary
        .trim_start_matches("/nix/store/")
        .split('-')
        .next()
        .unwrap()
        .to_string();
    let narinfo = cache.join(format!("{hash}.narinfo"));
    let text = std::fs::read_to_string(&narinfo).unwrap();
    let forged: String =
        text.lines()
            .map(|l| match l.strip_prefix("NarHash: ") {
                Some(_) => "NarHash: sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"
                    .to_string(),
                None => l.to_string(),
            })
            .map(|l| l + "\n")
            .collect();
    assert_ne!(forged, text);
    std::fs::write(&narinfo, forged).unwrap();
    rebuild(&f, None, &[]).fails_with(
        5,
        &[&format!("{hash}.narinfo"), "no signature on it checks with"],
    );
    assert!(!f.dist().join("rebuild").join(statement_name()).exists());
}
