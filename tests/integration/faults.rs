//! Interrupted cache pushes: the tool or the S3 server killed part-way.
//! After each, the cache must stay closed (no narinfo without its NAR or its
//! references' narinfos), a re-run must finish the job without uploading
//! again what was done, and stock nix must substitute the result.

use crate::util::assert_closed;
use crate::util::assert_substitutes;
use crate::util::closure;
use crate::util::closure_size;
use crate::util::finish_and_substitute;
use crate::util::push_json;
use std::time::Duration;

use crate::garage::{Garage, OwnGarage};
use crate::util::key_pair;
use crate::util::{finish_and_substitute_with, push_until, stock, wait_bounded};

#[test]
fn a_push_killed_part_way_leaves_a_closed_cache_and_resumes() {
    let g = Garage::from_env();
    let root = closure();
    let keydir = tempfile::tempdir().unwrap();
    let (sk, pk) = key_pair(keydir.path());
    for after in [1, 40, 120] {
        // The last re-run finds what is there by listing, not by HEADs.
        let env: &[(&str, &str)] = if after == 120 {
            &[("RELEASE_DIST_TEST_LIST_FROM_PATHS", "1")]
        } else {
            &[]
        };
        let bucket = g.bucket(&format!("killtool{after}"));
        let url = g.url(&bucket, &format!("&secret-key={sk}"));
        let mut child = push_until(&url, &root, after);
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let written = assert_closed(&g, &bucket);
        assert!(
            written < closure_size(&root),
            "killed after {after}: nothing left to do"
        );
        let s = finish_and_substitute_with(&g, &bucket, &url, &root, &pk, env);
        if after == 120 {
            assert!(s["requests"]["list"].as_u64().unwrap() >= 64, "listed: {s}");
        }
    }
}

#[test]
fn garage_killed_during_a_push_fails_clearly_then_a_rerun_completes() {
    let own = OwnGarage::start(29420);
    let g = &own.garage;
    let root = closure();
    let keydir = tempfile::tempdir().unwrap();
    let (sk, pk) = key_pair(keydir.path());
    for after in [5, 80] {
        let bucket = g.bucket(&format!("killgarage{after}"));
        let url = g.url(&bucket, &format!("&secret-key={sk}"));
        let mut child = push_until(&url, &root, after);
        own.kill();
        let status = wait_bounded(&mut child, Duration::from_secs(120));
        assert_eq!(status.code(), Some(4), "a store failure exits 4");
        own.restart();
        assert_closed(g, &bucket);
        finish_and_substitute(g, &bucket, &url, &root, &pk);
    }
}

#[test]
fn two_overlapping_cache_pushes_at_once_both_succeed_and_the_cache_is_complete() {
    let g = Garage::from_env();
    let root = closure();
    // The second root is one of the first's references: its closure is part
    // of the first one's, so both pushes race on the same paths.
    let refs = stock("nix-store", &["-q", "--references", &root]);
    let other = refs
        .lines()
        .max_by_key(|p| closure_size(p))
        .unwrap()
        .to_string();
    let keydir = tempfile::tempdir().unwrap();
    let (sk, pk) = key_pair(keydir.path());
    let bucket = g.bucket("overlap");
    let url = g.url(&bucket, &format!("&secret-key={sk}"));
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| push_json(&url, &root));
        let b = s.spawn(|| push_json(&url, &other));
        (a.join().unwrap(), b.join().unwrap())
    });
    for out in [&a, &b] {
        assert!(
            out.status.success(),
            "a concurrent push failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(closure_size(&other) > 1 && closure_size(&other) < closure_size(&root));
    assert_eq!(assert_closed(&g, &bucket), closure_size(&root));
    assert_substitutes(&g, &bucket, &root, &pk);
}
