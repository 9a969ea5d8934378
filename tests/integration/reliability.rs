//! Faults during `publish`: the S3 server (a Garage node of the test's own)
//! and the registry are killed with SIGKILL part way through, restarted, and
//! the same command is run again. After each kill, nothing visible points at
//! a missing object; after each re-run, the release is whole and what had
//! finished before the kill was not uploaded again.

use crate::util::assert_consistent;
use crate::util::assert_release_whole;
use crate::util::publish_args;
use crate::util::publish_json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::garage::OwnGarage;
use crate::util::Registry;
use crate::util::{skopeo_copy_all, skopeo_raw};
use crate::util::{stock, wait_bounded, Fixture};

/// The example with 6 MiB of random bytes in each static binary and each
/// image layer, built for all four targets, committed, with a signing key.
fn heavy() -> (Fixture, String, String) {
    let f = Fixture::example("hello");
    f.edit("flake.nix", |t| {
        t.replace(
            "          chmod 555 $out/bin/${name}",
            "          head -c 6291456 /dev/urandom >> $out/bin/${name}\n          chmod 555 $out/bin/${name}",
        )
    });
    f.commit("heavy");
    f.run(&["build", "-q"]).ok();
    let (sk, pk) = f.release_keys();
    (f, sk, pk)
}

/// Starts `publish` and returns once `after` objects (or registry blobs)
/// have been written, as its events say (`--message-format json`: one
/// `{"event":"written",…}` line on stderr per object).
fn publish_until(f: &Fixture, args: &[&str], after: usize) -> Child {
    let mut cmd = crate::util::tool();
    cmd.args(["release-dist", "--message-format", "json"])
        .args(args)
        .current_dir(&f.dir)
        .env("HOME", f.dir.join("home"))
        .env_remove("DOCKER_AUTH")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut done = 0;
    let mut tail = Vec::new();
    while done < after {
        match lines.next() {
            Some(Ok(l)) if l.starts_with(r#"{"event":"written""#) => done += 1,
            Some(Ok(l)) => tail.push(l),
            _ => panic!(
                "publish ended before {after} objects were written:\n{}",
                tail[tail.len().saturating_sub(5)..].join("\n")
            ),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

#[test]
fn garage_killed_during_a_publish_then_a_rerun_completes_without_reuploading() {
    let own = OwnGarage::start(29440);
    let g = &own.garage;
    let (f, sk, pk) = heavy();
    // Images go first (v2/index.html, 10 blobs, 4 manifests, the index, the
    // attestation), then the static release: these points fall among blobs,
    // among static files, and among the static documents.
    for (i, after) in [3usize, 20, 27].into_iter().enumerate() {
        let bucket = g.bucket(&format!("killpub{after}"));
        let url = g.url(&bucket, "");
        let tag = format!("v1.{i}.0");
        let args = publish_args(&url, &sk, &tag, &["--images", &url]);
        let mut child = publish_until(&f, &args, after);
        own.kill();
        let code = wait_bounded(&mut child, Duration::from_secs(180)).code();
        assert_eq!(
            code,
            Some(4),
            "a store failure exits 4 (kill after {after})"
        );
        own.restart();
        let (files, blobs) = assert_consistent(g, &bucket, &tag);

        let s = publish_json(&f, &args);
        assert_eq!(s["destinations"][0]["skipped"], files, "after {after}: {s}");
        assert_eq!(s["destinations"][0]["uploaded"], 8 - files);
        assert_eq!(s["images"][0]["blobsSkipped"], blobs, "after {after}: {s}");
        assert_eq!(s["images"][0]["blobsUploaded"], 10 - blobs);
        let (files, blobs) = assert_consistent(g, &bucket, &tag);
        assert_eq!(
            (files, blobs),
            (8, 10),
            "4 binaries, the source and docs tarballs, install.sh, the SBOM; 4 configs, 4 layers, the attestation's 2 blobs"
        );

        assert_release_whole(&f, g, &bucket, &tag, &pk);
    }
}

/// Blobs the registry holds for a repository and serves: its layer links
/// that a HEAD finds. (A registry killed part-way through a blob can keep a
/// link to it that it then cannot serve: that blob is not there, and the
/// re-run uploads it again.)
fn registry_blobs(reg: &Registry, repo: &str) -> usize {
    let dir = reg.dir.path().join(format!(
        "data/docker/registry/v2/repositories/{repo}/_layers/sha256"
    ));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter(|e| {
            let hex = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            let url = format!("http://{}/v2/{repo}/blobs/sha256:{hex}", reg.addr);
            std::process::Command::new("curl")
                .args(["-sfI", "-o", "/dev/null", &url])
                .status()
                .unwrap()
                .success()
        })
        .count()
}

#[test]
fn registry_killed_during_a_push_leaves_no_tag_then_a_rerun_completes() {
    let mut reg = Registry::start(None);
    let (f, sk, _) = heavy();
    for (i, after) in [1usize, 5].into_iter().enumerate() {
        // A repository per round, so that the second starts with no blob.
        let repo = format!("hello{i}");
        let images = format!("docker://{}/{repo}", reg.addr);
        let tag = format!("v2.{i}.0");
        let static_dir = f.dir.join(format!("out-static/{i}"));
        let static_dir = static_dir.to_str().unwrap();
        let args = publish_args(static_dir, &sk, &tag, &["--images", &images]);
        let mut child = publish_until(&f, &args, after);
        reg.kill();
        let code = wait_bounded(&mut child, Duration::from_secs(180)).code();
        assert_eq!(
            code,
            Some(4),
            "a registry failure exits 4 (kill after {after})"
        );
        reg.restart();
        let reference = format!("docker://{}/{repo}:{tag}", reg.addr);
        assert!(
            skopeo_raw(&reference, None).is_none(),
            "no tag after a failed push"
        );
        assert!(
            !std::path::Path::new(static_dir)
                .join(format!("df-dist-v1/hello/{tag}"))
                .exists(),
            "no static release for images that did not push"
        );
        let before = registry_blobs(&reg, &repo);
        assert!(before >= after.min(10));

        let s = publish_json(&f, &args);
        assert_eq!(s["images"][0]["blobsSkipped"], before, "{s}");
        assert_eq!(s["images"][0]["blobsUploaded"], 10 - before);
        let pulled = tempfile::tempdir().unwrap();
        assert_eq!(skopeo_copy_all(&reference, None, pulled.path()), 4);
        stock("test", &["-d", static_dir]);
    }
}
