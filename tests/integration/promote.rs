//! `promote` from a staging destination to production, against Garage:
//! verified first, copied in publish order (server-side between buckets,
//! streamed from a directory), invisible until whole, resumable after a kill.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::garage::Garage;
use crate::util::http_status;
use crate::util::{stock, wait_bounded, Fixture};

fn put(g: &Garage, bucket: &str, key: &str, bytes: &[u8]) {
    g.put(
        bucket,
        key,
        release_dist::objstore::Body::Bytes(bytes.to_vec()),
    );
}

#[test]
fn promote_copies_a_verified_release_whole_and_resumes_after_a_kill() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, pk) = f.release_keys();
    let pub_file = f.dir.join("keys/release.pub");
    std::fs::write(&pub_file, &pk).unwrap();
    let key = pub_file.to_str().unwrap().to_string();
    let staging = g.bucket("stage");
    let prod = g.bucket("prod");
    let (surl, purl) = (g.url(&staging, ""), g.url(&prod, ""));
    f.run(&[
        "-q",
        "publish",
        "static",
        "--static",
        &surl,
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
    ])
    .ok();
    let promote = |to: &str, extra: &[&str]| {
        let mut args = vec![
            "--message-format",
            "json",
            "promote",
            "hello:v1.0.0",
            "--from",
            &surl,
            "--to",
            to,
            "--key",
            &key,
        ];
        args.extend_from_slice(extra);
        f.run(&args)
    };

    // The dry run plans every object, and copies none.
    let plan: Value = serde_json::from_str(&promote(&purl, &["--dry-run"]).ok().stdout()).unwrap();
    let objects = plan["objects"].as_array().unwrap();
    assert_eq!(
        objects.len(),
        13,
        "binary, source and docs tarballs, install.sh, SBOM, five .sha256, SHA256SUMS, provenance, tag document: {plan}"
    );
    assert_eq!(objects.last().unwrap()["phase"], "tag-document");
    assert_eq!(g.object_count(&prod), 0);

    // Killed after two copies: production shows nothing of the release.
    let mut child = f
        .command(&[
            "--message-format",
            "json",
            "promote",
            "hello:v1.0.0",
            "--from",
            &surl,
            "--to",
            &purl,
            "--key",
            &key,
        ])
        .env("RELEASE_DIST_TEST_COPY_PAUSE_MS", "700")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut written = 0;
    while written < 2 {
        if lines
            .next()
            .unwrap()
            .unwrap()
            .starts_with(r#"{"event":"written""#)
        {
            written += 1;
        }
    }
    let _ = child.kill();
    let _ = wait_bounded(&mut child, Duration::from_secs(30));
    let web = g.web_url(&prod);
    assert_eq!(
        http_status(&format!("{web}/df-dist-v1/hello/v1.0.0")),
        "404",
        "no tag document"
    );
    assert_eq!(
        http_status(&format!("{web}/df-dist-v1/hello")),
        "404",
        "no name document"
    );

    // The re-run copies only what is missing, and production verifies.
    let done: Value = serde_json::from_str(&promote(&purl, &[]).ok().stdout()).unwrap();
    assert!(done[0]["skipped"].as_u64().unwrap() >= 2, "{done}");
    assert_eq!(
        done[0]["copied"].as_u64().unwrap() + done[0]["skipped"].as_u64().unwrap(),
        13
    );
    assert_eq!(done[0]["tags"], serde_json::json!(["v1.0.0"]));
    f.run(&[
        "verify",
        "--from",
        &purl,
        "-t",
        "hello:v1.0.0",
        "--key",
        &key,
    ])
    .ok();
    let index = stock("curl", &["-sf", &format!("{web}/_releases.json")]);
    assert!(index.contains("v1.0.0"));

    // Streamed: from a directory to a bucket.
    let dir = f.dir.join("out-static");
    let dir = dir.to_str().unwrap();
    f.run(&[
        "-q",
        "publish",
        "static",
        "--static",
        dir,
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
    ])
    .ok();
    let prod2 = g.bucket("prod2");
    let purl2 = g.url(&prod2, "");
    f.run(&[
        "-q",
        "promote",
        "hello:v1.0.0",
        "--from",
        dir,
        "--to",
        &purl2,
        "--key",
        &key,
    ])
    .ok();
    f.run(&[
        "verify",
        "--from",
        &purl2,
        "-t",
        "hello:v1.0.0",
        "--key",
        &key,
    ])
    .ok();

    // A destination holding the stable tag with other bytes: refused, then --force.
    put(
        &g,
        &prod,
        "df-dist-v1/hello/v1.0.0/SHA256SUMS",
        b"00  other\n",
    );
    promote(&purl, &[]).fails_with(2, &["v1.0.0", "--force"]);
    promote(&purl, &["--force"]).ok();
    f.run(&[
        "verify",
        "--from",
        &purl,
        "-t",
        "hello:v1.0.0",
        "--key",
        &key,
    ])
    .ok();

    // Bad input copies nothing: a tag the source lacks, and a tampered source.
    let prod3 = g.bucket("prod3");
    let purl3 = g.url(&prod3, "");
    f.run(&["promote", "hello:v9.9.9", "--from", &surl, "--to", &purl3])
        .fails_with(2, &["no release hello:v9.9.9"]);
    put(
        &g,
        &staging,
        "df-dist-v1/hello/v1.0.0/linux/amd64/hello",
        b"tampered",
    );
    promote(&purl3, &[]).fails_with(5, &["linux/amd64/hello", "altered"]);
    assert_eq!(g.object_count(&prod3), 0, "nothing was copied");
}

#[test]
fn promote_copies_images_by_digest_and_tags_them_last() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let (sk, pk) = f.release_keys();
    let pub_file = f.dir.join("keys/release.pub");
    std::fs::write(&pub_file, &pk).unwrap();
    let key = pub_file.to_str().unwrap().to_string();
    let (staging_reg, prod_reg) = (
        crate::util::Registry::start(None),
        crate::util::Registry::start(None),
    );
    let (sref, pref) = (
        format!("docker://{}/hello", staging_reg.addr),
        format!("docker://{}/hello", prod_reg.addr),
    );
    let (staging, prod) = (g.bucket("istage"), g.bucket("iprod"));
    let (surl, purl) = (g.url(&staging, ""), g.url(&prod, ""));
    f.run(&[
        "-q",
        "publish",
        "--static",
        &surl,
        "--images",
        &sref,
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
    ])
    .ok();
    let args = [
        "promote",
        "hello:v1.0.0",
        "--from",
        &surl,
        "--to",
        &purl,
        "--key",
        &key,
        "--images-from",
        &sref,
        "--images-to",
        &pref,
        "--image-tag",
        "latest",
        "--image-tag",
        "major",
    ];
    // Killed during the static copy: production has neither the tag document nor the image tag.
    let mut child = f
        .command(&args)
        .env("RELEASE_DIST_TEST_COPY_PAUSE_MS", "800")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    let _ = child.kill();
    let _ = wait_bounded(&mut child, Duration::from_secs(30));
    let prod_tag = format!("{pref}:v1.0.0");
    assert!(
        crate::util::skopeo_raw(&prod_tag, None).is_none(),
        "no image tag yet"
    );
    assert_eq!(
        http_status(&format!("{}/df-dist-v1/hello/v1.0.0", g.web_url(&prod))),
        "404"
    );

    f.run(&args).ok();
    let staged = crate::util::skopeo_raw(&format!("{sref}:v1.0.0"), None).unwrap();
    let promoted = crate::util::skopeo_raw(&prod_tag, None).expect("the tag is in production");
    assert_eq!(staged, promoted, "the same index bytes, so the same digest");
    // A stable release's extra tags point at the same index in production only.
    for extra in ["latest", "v1"] {
        let tagged = crate::util::skopeo_raw(&format!("{pref}:{extra}"), None);
        assert_eq!(tagged.as_ref(), Some(&staged), "{extra}");
        assert!(crate::util::skopeo_raw(&format!("{sref}:{extra}"), None).is_none());
    }
    let into = tempfile::tempdir().unwrap();
    assert_eq!(
        crate::util::skopeo_copy_all(&prod_tag, None, into.path()),
        2
    );
    f.run(&[
        "verify",
        "--from",
        &purl,
        "-t",
        "hello:v1.0.0",
        "--key",
        &key,
    ])
    .ok();
    // The image's attestation came along.
    f.run(&["verify", "--image", &prod_tag, "--key", &key]).ok();
}
