//! Shared helpers for the binary cache: pushes, their closures, the bucket's state.

#![allow(unused_imports)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::*;
use crate::garage::Garage;

/// Every key in the bucket, read through the S3 API with the library's store.
pub fn keys(g: &Garage, bucket: &str) -> HashSet<String> {
    let url = release_dist::objstore::StoreUrl::parse(&g.url(bucket, "")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = release_dist::objstore::ObjectStore::open(&url.location)
            .await
            .unwrap();
        store
            .list("")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect()
    })
}

/// The cache invariant, checked over HTTP on what the bucket holds: each
/// narinfo's NAR exists, and so does each reference's narinfo.
pub fn assert_closed(g: &Garage, bucket: &str) -> usize {
    let keys = keys(g, bucket);
    let narinfos: Vec<&String> = keys.iter().filter(|k| k.ends_with(".narinfo")).collect();
    for k in &narinfos {
        let text = stock("curl", &["-sf", &format!("{}/{k}", g.web_url(bucket))]);
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let nar = field("URL:");
        assert!(keys.contains(&nar), "{k} names {nar}, which is missing");
        for r in field("References:").split_whitespace() {
            let hash = &r[..32];
            assert!(
                keys.contains(&format!("{hash}.narinfo")),
                "{k} refers to {r}, whose narinfo is missing"
            );
        }
    }
    narinfos.len()
}

/// Stock `nix copy --from` the bucket's web endpoint substitutes `root`'s
/// closure, trusting `pk`.
pub fn assert_substitutes(g: &Garage, bucket: &str, root: &str, pk: &str) {
    let store = tempfile::tempdir().unwrap();
    let copy = nix_copy_from(&g.web_url(bucket), store.path(), root, pk);
    assert!(
        copy.status.success(),
        "stock nix could not substitute:\n{}",
        String::from_utf8_lossy(&copy.stderr)
    );
}

/// 150 small paths and three of 6 MiB, in a graph (benches/closure.nix).
pub fn closure() -> String {
    stock(
        "nix-build",
        &[
            "--no-out-link",
            repo_root().join("benches/closure.nix").to_str().unwrap(),
            "-A",
            "root",
            "--arg",
            "n",
            "150",
            "--arg",
            "bigMiB",
            "6",
            "--option",
            "substituters",
            "",
        ],
    )
    .trim()
    .to_string()
}

pub fn closure_size(root: &str) -> usize {
    stock("nix-store", &["-qR", root]).lines().count()
}

pub fn push_json(url: &str, root: &str) -> std::process::Output {
    push_json_with(url, root, &[])
}

pub fn summary(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `nix copy --from CACHE --to STORE PATH` with `trusted-public-keys = PUBKEY`.
pub fn nix_copy_from(cache: &str, store: &Path, path: &str, pubkey: &str) -> std::process::Output {
    std::process::Command::new("nix")
        .args([
            "--extra-experimental-features",
            "nix-command",
            "copy",
            "--from",
            cache,
        ])
        .arg("--to")
        .arg(store)
        .arg(path)
        .args([
            "--option",
            "trusted-public-keys",
            pubkey.trim(),
            "--option",
            "substituters",
            "",
        ])
        .output()
        .unwrap()
}

/// Re-runs the push and checks it finishes without re-uploading NARs that
/// were already there, then that stock nix substitutes the whole closure.
pub fn finish_and_substitute(g: &Garage, bucket: &str, url: &str, root: &str, pk: &str) {
    finish_and_substitute_with(g, bucket, url, root, pk, &[]);
}

/// Starts `cache push -j 1` and returns once its events (`--message-format
/// json`) have reported `after` NARs written (so the push is surely
/// part-way), with the child running.
pub fn push_until(url: &str, root: &str, after: usize) -> Child {
    let mut child = tool()
        .args([
            "release-dist",
            "--message-format",
            "json",
            "cache",
            "push",
            "-j",
            "1",
            "--to",
            url,
            root,
        ])
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut done = 0;
    while done < after {
        match lines.next() {
            Some(Ok(line))
                if line.starts_with(r#"{"event":"written""#) && line.contains(r#""key":"nar/"#) =>
            {
                done += 1
            }
            Some(Ok(_)) => {}
            _ => panic!("the push ended before {after} NARs were done"),
        }
    }
    // Keep reading in the background, so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    child
}

/// [`push_json`] with more environment (the tool's test hooks).
pub fn push_json_with(url: &str, root: &str, env: &[(&str, &str)]) -> std::process::Output {
    tool()
        .envs(env.iter().copied())
        .args([
            "release-dist",
            "--message-format",
            "json",
            "cache",
            "push",
            "--to",
            url,
            root,
        ])
        .current_dir(repo_root())
        .output()
        .unwrap()
}

/// [`finish_and_substitute`], the re-run with more environment: with
/// `RELEASE_DIST_TEST_LIST_FROM_PATHS=1` it finds what the cache has by
/// listing (narinfos and NARs), as pushes of 256 paths or more do.
pub fn finish_and_substitute_with(
    g: &Garage,
    bucket: &str,
    url: &str,
    root: &str,
    pk: &str,
    env: &[(&str, &str)],
) -> Value {
    let before = keys(g, bucket);
    let nars_before = before.iter().filter(|k| k.starts_with("nar/")).count();
    let narinfos_before = before.iter().filter(|k| k.ends_with(".narinfo")).count();
    let out = push_json_with(url, root, env);
    assert!(
        out.status.success(),
        "the re-run failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    let total = closure_size(root) as u64;
    assert_eq!(s["total"].as_u64(), Some(total), "{s}");
    assert_eq!(s["skipped"].as_u64(), Some(narinfos_before as u64), "{s}");
    // NARs uploaded before the interruption are reused, not sent again.
    let reused = s["narsReused"].as_u64().unwrap();
    assert_eq!(
        reused as usize,
        nars_before - narinfos_before,
        "every NAR already there without its narinfo is reused: {s}"
    );
    assert_eq!(
        s["narsUploaded"].as_u64().unwrap() + reused + narinfos_before as u64,
        total,
        "{s}"
    );
    assert_eq!(assert_closed(g, bucket), total as usize);

    assert_substitutes(g, bucket, root, pk);
    s
}
