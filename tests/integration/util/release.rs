//! Shared helpers for releases: publishing, and checking what a bucket holds.

#![allow(unused_imports)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::*;
use crate::garage::Garage;

/// Nothing visible points at a missing object: a tag document's files,
/// checksums and provenance exist; a registry tag's index, manifests and
/// blobs exist. Returns (finished static files, finished image blobs).
pub fn assert_consistent(g: &Garage, bucket: &str, tag: &str) -> (usize, usize) {
    let keys: HashSet<String> = keys(g, bucket);
    let release = format!("df-dist-v1/hello/{tag}");
    if let Some(doc) = get(g, bucket, &release) {
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        for fl in doc["flavors"].as_array().unwrap() {
            let p = &fl["platform"];
            let mut dir = format!(
                "{release}/{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                dir = format!("{dir}/{v}");
            }
            for r in fl["resources"].as_array().unwrap() {
                let key = format!("{dir}/{}", r["path"].as_str().unwrap());
                assert!(
                    keys.contains(&key),
                    "the tag document names {key}, which is missing"
                );
            }
        }
        for a in doc["artifacts"].as_array().into_iter().flatten() {
            let key = format!("{release}/{}", a["path"].as_str().unwrap());
            assert!(
                keys.contains(&key),
                "the tag document names {key}, which is missing"
            );
        }
        assert!(keys.contains(&format!("{release}/SHA256SUMS")));
        assert!(keys.contains(&format!("{release}/hello-{tag}.intoto.jsonl")));
    }
    let name_doc = get(g, bucket, "df-dist-v1/hello");
    if let Some(doc) = name_doc {
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        for t in doc["tags"].as_array().unwrap() {
            assert!(keys.contains(&format!("df-dist-v1/hello/{}", t.as_str().unwrap())));
        }
    }
    let manifests = "v2/hello/manifests/";
    for k in keys
        .iter()
        .filter(|k| k.starts_with(manifests) && !k.contains("sha256:"))
    {
        let index: Value = serde_json::from_slice(&get(g, bucket, k).unwrap()).unwrap();
        for m in index["manifests"].as_array().unwrap() {
            let d = m["digest"].as_str().unwrap();
            let mk = format!("{manifests}{d}");
            assert!(keys.contains(&mk), "tag {k} names {mk}, which is missing");
            let manifest: Value = serde_json::from_slice(&get(g, bucket, &mk).unwrap()).unwrap();
            let blobs =
                std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap());
            for b in blobs {
                let bk = format!("v2/hello/blobs/{}", b["digest"].as_str().unwrap());
                assert!(keys.contains(&bk), "{mk} names {bk}, which is missing");
            }
        }
    }
    // Finished static files: the file and its .sha256 (written after it).
    let files = keys
        .iter()
        .filter(|k| k.starts_with(&format!("{release}/")) && !k.ends_with(".sha256"))
        .filter(|k| keys.contains(&format!("{k}.sha256")))
        .count();
    let blobs = keys
        .iter()
        .filter(|k| k.starts_with("v2/hello/blobs/"))
        .count();
    (files, blobs)
}

/// `verify` of the release, and a full pull of its image with skopeo
/// through the bucket's website (an S3 static registry in the same bucket).
pub fn assert_release_whole(f: &Fixture, g: &Garage, bucket: &str, tag: &str, pk: &str) {
    let pub_file = f.dir.join("keys/release.pub");
    std::fs::write(&pub_file, pk).unwrap();
    let key = pub_file.to_str().unwrap();
    let url = g.url(bucket, "");
    f.run(&[
        "verify",
        "--from",
        &url,
        "-t",
        &format!("hello:{tag}"),
        "--key",
        key,
    ])
    .ok();
    let web = g.web_url(bucket);
    let host = web.trim_start_matches("http://");
    hosts_entry(host.split(':').next().unwrap());
    let pulled = tempfile::tempdir().unwrap();
    let reference = format!("docker://{host}/hello:{tag}");
    assert_eq!(skopeo_copy_all(&reference, None, pulled.path()), 4);
}

/// The one `publish` command line of the feature tests (without the global
/// options): `publish --static TO --signing-key SK --tag TAG EXTRA…`.
pub fn publish_args<'a>(to: &'a str, sk: &'a str, tag: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["publish", "--static", to, "--signing-key", sk, "--tag", tag];
    args.extend_from_slice(extra);
    args
}

/// Runs [`publish_args`] with `--message-format json` (the summary on
/// standard output, an event per object written on standard error).
pub fn publish(f: &Fixture, to: &str, sk: &str, tag: &str, extra: &[&str]) -> Run {
    let mut all = vec!["--message-format", "json"];
    all.extend(publish_args(to, sk, tag, extra));
    f.run(&all)
}

/// `publish` with these arguments, to success; its JSON summary.
pub fn publish_json(f: &Fixture, args: &[&str]) -> Value {
    let mut all = vec!["--message-format", "json"];
    all.extend(args);
    let run = f
        .run_with(&all, |c| {
            c.env("HOME", f.dir.join("home")).env_remove("DOCKER_AUTH");
        })
        .ok();
    serde_json::from_str(run.stdout().trim()).unwrap()
}

/// Every file under `dir`, with the sha256 of its contents (not only its
/// size: a refused command must not rewrite a file with other bytes of the
/// same length either).
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(snapshot(&p));
        } else {
            let bytes = std::fs::read(&p).unwrap();
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            out.push((p.clone(), digest));
        }
    }
    out.sort();
    out
}

/// Splits a shell command line into words (quotes, no expansion).
pub fn words(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quote, mut any) = (Vec::new(), String::new(), None, false);
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            (_, c) => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

pub fn get(g: &Garage, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let url = release_dist::objstore::StoreUrl::parse(&g.url(bucket, "")).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = release_dist::objstore::ObjectStore::open(&url.location)
            .await
            .unwrap();
        store.get(key).await.unwrap()
    })
}
