//! `ls`, `rm` and `gc` of releases against Garage (read back over the web
//! endpoint with curl) and of image tags against docker-registry with
//! deletes on and Garage as a static registry (read back with skopeo).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::garage::Garage;
use crate::util::http_status;
use crate::util::skopeo_copy_all;
use crate::util::{publish, stock, wait_bounded, Fixture, Registry};

fn dev(i: usize) -> String {
    format!("{:040x}", i)
}

fn json(url: &str) -> Value {
    serde_json::from_str(&stock("curl", &["-sf", url])).unwrap()
}

/// The tags the name document lists, sorted.
fn name_document_tags(web: &str) -> Vec<String> {
    let mut tags: Vec<String> = json(&format!("{web}/df-dist-v1/hello"))["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    tags
}

/// Every version `_releases.json` lists, sorted; every file it lists must answer 200.
fn index_versions(web: &str) -> Vec<String> {
    let index = json(&format!("{web}/_releases.json"));
    let mut versions = Vec::new();
    for category in index.as_array().unwrap() {
        for build in category["builds"].as_array().unwrap() {
            versions.push(build["version"].as_str().unwrap().to_string());
            for file in build["builds"].as_array().unwrap() {
                let url = format!("{web}{}", file["url"].as_str().unwrap());
                assert_eq!(http_status(&url), "200", "the index lists {url}");
            }
        }
    }
    versions.sort();
    versions
}

fn ls_tags(f: &Fixture, url: &str) -> Vec<String> {
    let out = f
        .run(&["--message-format", "json", "ls", "--static", url])
        .ok()
        .stdout();
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut tags: Vec<String> = v["releases"][0][1]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag"].as_str().unwrap().to_string())
        .collect();
    tags.sort();
    tags
}

#[test]
fn gc_keeps_the_policy_and_rm_refuses_stable_releases() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, pk) = f.release_keys();
    let bucket = g.bucket("life");
    let url = g.url(&bucket, "");
    let web = g.web_url(&bucket);
    let mut all = Vec::new();
    for i in 1..=12 {
        all.push(dev(i));
    }
    all.extend([
        "nightly".to_string(),
        "rc-one".into(),
        "v1.0.0".into(),
        "v1.1.0".into(),
    ]);
    for tag in &all {
        publish(&f, &url, &sk, tag, &["static"]).ok();
    }
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(ls_tags(&f, &url), sorted);

    // Bad input changes nothing.
    let before = g.object_count(&bucket);
    f.run(&["rm", "--static", &url, "hello:v1.0.0"])
        .fails_with(2, &["stable release", "--force"]);
    f.run(&["rm", "--static", &url, "hello:nope"])
        .fails_with(2, &["no release hello:nope", "it has: "]);
    let plan: Value = serde_json::from_str(
        &f.run(&[
            "--message-format",
            "json",
            "--dry-run",
            "gc",
            "--static",
            &url,
        ])
        .ok()
        .stdout(),
    )
    .unwrap();
    let deletes: Vec<&str> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "delete")
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        deletes[0],
        format!("df-dist-v1/hello/{}", dev(2)),
        "tag documents first"
    );
    for old in [dev(1), dev(2)] {
        assert!(deletes.contains(&format!("df-dist-v1/hello/{old}/SHA256SUMS").as_str()));
    }
    assert!(!deletes.iter().any(|k| k.contains(&dev(3))), "{deletes:?}");
    assert_eq!(
        g.object_count(&bucket),
        before,
        "bad input and a dry run delete nothing"
    );

    let gone_file = format!("{web}/df-dist-v1/hello/{}/linux/amd64/hello", dev(1));
    assert_eq!(http_status(&gone_file), "200");
    f.run(&["-q", "gc", "--static", &url]).ok();
    let kept: Vec<String> = sorted
        .iter()
        .filter(|t| **t != dev(1) && **t != dev(2))
        .cloned()
        .collect();
    assert_eq!(name_document_tags(&web), kept);
    assert_eq!(index_versions(&web), kept);
    assert_eq!(ls_tags(&f, &url), kept);
    assert_eq!(http_status(&gone_file), "404");
    assert_eq!(
        http_status(&format!("{web}/df-dist-v1/hello/{}", dev(2))),
        "404"
    );
    let key = f.dir.join("keys/key.pub");
    std::fs::write(&key, &pk).unwrap();
    for tag in &kept {
        f.run(&[
            "verify",
            "--from",
            &url,
            "-t",
            &format!("hello:{tag}"),
            "--key",
            key.to_str().unwrap(),
        ])
        .ok();
    }

    // rm of a stable release with --force, and --keep for one class.
    f.run(&["-q", "rm", "--static", &url, "--force", "hello:v1.0.0"])
        .ok();
    f.run(&[
        "-q", "gc", "--static", &url, "--keep", "1", "--class", "extra",
    ])
    .ok();
    let left = name_document_tags(&web);
    assert!(!left.contains(&"v1.0.0".to_string()) && left.contains(&"v1.1.0".to_string()));
    assert!(left.contains(&"rc-one".to_string()) != left.contains(&"nightly".to_string()));
    assert_eq!(index_versions(&web), left);

    // A malformed retention table is named, and nothing is removed.
    f.edit("Cargo.toml", |t| {
        format!("{t}\n[package.metadata.release-dist.retention]\ndevelopment = \"ten\"\n")
    });
    let before = g.object_count(&bucket);
    f.run(&["gc", "--static", &url]).fails_with(
        2,
        &[
            "package.metadata.release-dist.retention.development",
            "whole number",
        ],
    );
    assert_eq!(g.object_count(&bucket), before);
}

/// Starts `gc` with the JSON events on, and returns once `needle` was seen
/// on its standard error.
fn gc_until(f: &Fixture, url: &str, needle: &str, env: &[(&str, &str)]) -> std::process::Child {
    let mut cmd = f.command(&[
        "--message-format",
        "json",
        "gc",
        "--static",
        url,
        "--keep",
        "2",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains(needle) {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

#[test]
fn gc_racing_a_publish_and_killed_gcs_lose_no_kept_tag() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    for (round, delay) in ["0", "1200"].iter().enumerate() {
        let bucket = g.bucket(&format!("life-race{round}"));
        let url = g.url(&bucket, "");
        let web = g.web_url(&bucket);
        for i in 1..=4 {
            publish(&f, &url, &sk, &dev(i), &["static"]).ok();
        }
        // The collector removes dev 1 and 2 while dev 5 is published; the
        // publisher holds its shared documents for `delay` ms.
        let mut collector = gc_until(
            &f,
            &url,
            r#""event":"deleted""#,
            &[("RELEASE_DIST_TEST_DOC_DELAY_MS", "600")],
        );
        let new = dev(5);
        let publisher = f.run_with(
            &[
                "-q",
                "publish",
                "static",
                "--static",
                &url,
                "--signing-key",
                &sk,
                "--tag",
                &new,
            ],
            |c| {
                c.env("RELEASE_DIST_TEST_DOC_DELAY_MS", delay);
            },
        );
        publisher.ok();
        assert!(wait_bounded(&mut collector, Duration::from_secs(60)).success());
        let tags = name_document_tags(&web);
        assert!(tags.contains(&new), "the published tag was lost: {tags:?}");
        assert!(!tags.contains(&dev(1)), "{tags:?}");
        assert_eq!(index_versions(&web), tags);
        assert_eq!(ls_tags(&f, &url), tags);
    }

    // Killed after hiding, and after the shared documents: nothing the
    // documents list is missing, and a re-run finishes.
    for needle in [r#""event":"deleted""#, r#"_releases.html"#] {
        let bucket = g.bucket("life-kill");
        let url = g.url(&bucket, "");
        let web = g.web_url(&bucket);
        for i in 1..=4 {
            publish(&f, &url, &sk, &dev(i), &["static"]).ok();
        }
        let mut collector = gc_until(
            &f,
            &url,
            needle,
            &[("RELEASE_DIST_TEST_DELETE_PAUSE_MS", "1500")],
        );
        let _ = collector.kill();
        let _ = collector.wait();
        let tags = name_document_tags(&web);
        for t in &tags {
            assert_eq!(
                http_status(&format!("{web}/df-dist-v1/hello/{t}")),
                "200",
                "{t} is listed"
            );
        }
        index_versions(&web);
        f.run(&["-q", "gc", "--static", &url, "--keep", "2", "--grace", "0"])
            .ok();
        assert_eq!(name_document_tags(&web), [dev(3), dev(4)]);
        assert_eq!(index_versions(&web), [dev(3), dev(4)]);
        assert_eq!(
            http_status(&format!("{web}/df-dist-v1/hello/{}/SHA256SUMS", dev(1))),
            "404"
        );
    }
}

/// The release tags skopeo lists (not the referrers fallback tags
/// `sha256-…`, which the attest tests check).
fn skopeo_tags(reference: &str) -> Vec<String> {
    let out = stock("skopeo", &["list-tags", "--tls-verify=false", reference]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let mut tags: Vec<String> = v["Tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .filter(|t| !t.starts_with("sha256-"))
        .collect();
    tags.sort();
    tags
}

#[test]
fn rm_removes_image_tags_and_keeps_what_other_tags_share() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let (sk, _) = f.release_keys();
    let registry = Registry::start_with(None, true);
    let refusing = Registry::start_with(None, false);
    let bucket = g.bucket("life-img");
    let docker = format!("docker://{}/hello", registry.addr);
    let s3 = g.url(&bucket, "");
    let static_dir = f.dir.join("out-static");
    let static_dir = static_dir.to_str().unwrap();
    let layout = f.dir.join("out/layout");
    let layout = layout.to_str().unwrap();
    let images = ["--images", &docker, "--images", &s3, "--images", layout];
    for tag in [dev(1), dev(2), "v1.0.0".into()] {
        let mut args = images.to_vec();
        if tag == "v1.0.0" {
            args.extend(["--image-tag", "latest"]);
        }
        publish(&f, static_dir, &sk, &tag, &args).ok();
    }
    let refused = format!("docker://{}/hello", refusing.addr);
    publish(&f, static_dir, &sk, &dev(1), &["--images", &refused]).ok();
    let reference = format!("docker://{}/hello", registry.addr);
    let removed_digest = {
        let raw = crate::util::skopeo_raw(&format!("{reference}:{}", dev(1)), None).unwrap();
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&raw)))
    };

    // The registry that refuses deletes: a clear error, and the tag stays.
    f.run(&[
        "rm",
        "--static",
        static_dir,
        "--images",
        &format!("docker://{}/hello", refusing.addr),
        &format!("hello:{}", dev(1)),
    ])
    .fails_with(4, &["refuses to delete", "storage", "delete"]);
    assert_eq!(
        skopeo_tags(&format!("docker://{}/hello", refusing.addr)),
        [dev(1)]
    );

    let dry = f
        .run(&[
            "--message-format",
            "json",
            "--dry-run",
            "rm",
            "--images",
            &docker,
            "--images",
            &s3,
            "--static",
            static_dir,
            &format!("hello:{}", dev(1)),
        ])
        .ok()
        .stdout();
    let plan: Value = serde_json::from_str(&dry).unwrap();
    assert_eq!(plan["objects"][0]["phase"], "tags", "{plan}");
    assert_eq!(
        skopeo_tags(&reference).len(),
        4,
        "a dry run deletes nothing"
    );

    f.run(&[
        "-q",
        "rm",
        "--static",
        static_dir,
        "--images",
        &docker,
        "--images",
        &s3,
        "--images",
        layout,
        &format!("hello:{}", dev(1)),
    ])
    .ok();
    let web = g.web_url(&bucket);
    let mut expected = vec![dev(2), "latest".to_string(), "v1.0.0".to_string()];
    expected.sort();
    assert_eq!(skopeo_tags(&reference), expected);
    let list: Value = json(&format!("{web}/v2/hello/tags/list"));
    let mut s3_tags: Vec<String> = list["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .filter(|t| !t.starts_with("sha256-"))
        .collect();
    s3_tags.sort();
    assert_eq!(s3_tags, expected);
    // The removed tag's index is gone; the platform images it shared stay.
    assert!(crate::util::skopeo_raw(&format!("{reference}@{removed_digest}"), None).is_none());
    assert_eq!(
        http_status(&format!("{web}/v2/hello/manifests/{removed_digest}")),
        "404"
    );
    let host = web.trim_start_matches("http://");
    crate::util::hosts_entry(host.split(':').next().unwrap());
    let web_ref = format!("docker://{host}/hello");
    for tag in &expected {
        for source in [&reference, &web_ref] {
            let into = tempfile::tempdir().unwrap();
            assert_eq!(
                skopeo_copy_all(&format!("{source}:{tag}"), None, into.path()),
                2,
                "{source}:{tag}"
            );
        }
    }
    // The OCI layout: the tag is gone from index.json, the others copy.
    let index: Value =
        serde_json::from_slice(&std::fs::read(format!("{layout}/index.json")).unwrap()).unwrap();
    let mut refs: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|t| !t.starts_with("sha256-"))
        .collect();
    refs.sort();
    assert_eq!(refs, expected);
    assert!(
        !std::path::Path::new(&format!("{layout}/blobs/sha256/{}", &removed_digest[7..])).exists()
    );
    for tag in &expected {
        let into = tempfile::tempdir().unwrap();
        stock(
            "skopeo",
            &[
                "copy",
                "--all",
                &format!("oci:{layout}:{tag}"),
                &format!("oci:{}:x", into.path().display()),
            ],
        );
    }
    // ls shows the tags, their digests, and that each index is attested
    // (the fallback tags themselves are not listed).
    let listing: Value = serde_json::from_str(
        &f.run(&[
            "--message-format",
            "json",
            "ls",
            "--static",
            static_dir,
            "--images",
            &docker,
        ])
        .ok()
        .stdout(),
    )
    .unwrap();
    let rows = listing["images"][0][1].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r["digest"].as_str().unwrap().starts_with("sha256:") && r["attested"] == true));
}
