//! A three-node Garage cluster (replication factor 3) with nodes stopped.
//! When one node dies during a cache push, the push and a later publish
//! succeed, and stock nix substitutes from the cache. With two down, the
//! tool fails with a clear error after bounded retries and does not hang;
//! once the nodes are back, nothing visible points at a missing object, and
//! a re-run completes.

use std::time::Duration;

use crate::garage::OwnGarage;
use crate::util::built;
use crate::util::key_pair;
use crate::util::wait_bounded;
use crate::util::{
    assert_closed, assert_substitutes, closure, closure_size, finish_and_substitute, push_until,
};
use crate::util::{assert_consistent, assert_release_whole, publish_args, publish_json};
use crate::util::{repo_root, run_bounded, tool};

/// Longer than the tool's retries can take (5 attempts of about 1.5 s of
/// quorum wait each, plus backoff), far shorter than a hang.
const BOUND: Duration = Duration::from_secs(180);

#[test]
fn a_cluster_losing_one_node_takes_a_cache_push_and_a_publish() {
    let cluster = OwnGarage::cluster(29460);
    let g = &cluster.garage;
    let cache = g.bucket("onedown-cache");
    let release = g.bucket("onedown-release");

    // Node 3 dies part-way through a push: the push goes on to the end.
    let root = closure();
    let keydir = tempfile::tempdir().unwrap();
    let (cache_sk, cache_pk) = key_pair(keydir.path());
    let url = g.url(&cache, &format!("&secret-key={cache_sk}"));
    let mut push = push_until(&url, &root, 40);
    cluster.kill_node(3);
    let status = wait_bounded(&mut push, BOUND);
    assert!(
        status.success(),
        "the push failed when one node of three died"
    );
    let total = closure_size(&root);
    assert_eq!(assert_closed(g, &cache), total);
    assert_substitutes(g, &cache, &root, &cache_pk);

    // A publish while it is still down.
    let (f, sk, pk) = built(&[]);
    let rurl = g.url(&release, "");
    let tag = "v1.0.0";
    let s = publish_json(&f, &publish_args(&rurl, &sk, tag, &["--images", &rurl]));
    assert_eq!(s["destinations"][0]["uploaded"], 8, "{s}");
    // 4 configs, 4 layers, the attestation's empty config and envelope.
    assert_eq!(s["images"][0]["blobsUploaded"], 10, "{s}");
    assert_eq!(assert_consistent(g, &release, tag), (8, 10));
    assert_release_whole(&f, g, &release, tag, &pk);
}

#[test]
fn a_cluster_with_two_nodes_down_fails_clearly_within_bounds_then_recovers() {
    let cluster = OwnGarage::cluster(29490);
    let g = &cluster.garage;
    let cache = g.bucket("twodown-cache");
    let release = g.bucket("twodown-release");
    let root = closure();
    let keydir = tempfile::tempdir().unwrap();
    let (cache_sk, cache_pk) = key_pair(keydir.path());
    let url = g.url(&cache, &format!("&secret-key={cache_sk}"));
    let (f, sk, pk) = built(&[]);
    let rurl = g.url(&release, "");
    let tag = "v1.0.0";
    let args = publish_args(&rurl, &sk, tag, &["--images", &rurl]);
    cluster.kill_node(2);
    cluster.kill_node(3);

    // Both fail on the quorum, say so, and point at the re-run.
    let needles = ["after 5 attempts", "quorum", "re-run once it is healthy"];
    let mut push = tool();
    push.args(["release-dist", "cache", "push", "--to", &url, &root])
        .current_dir(repo_root());
    let (run, took) = run_bounded(push, BOUND);
    run.fails_with(4, &needles);
    eprintln!("cache push gave up after {took:?}");
    let mut publish = f.command(&args);
    publish
        .env("HOME", f.dir.join("home"))
        .env_remove("DOCKER_AUTH");
    let (run, took) = run_bounded(publish, BOUND);
    run.fails_with(4, &needles);
    eprintln!("publish gave up after {took:?}");

    // Back to three nodes: nothing half-published is visible, and the same
    // commands finish the job.
    cluster.restart();
    assert_closed(g, &cache);
    assert_consistent(g, &release, tag);
    finish_and_substitute(g, &cache, &url, &root, &cache_pk);
    let s = publish_json(&f, &args);
    assert_eq!(s["destinations"][0]["uploaded"], 8, "{s}");
    assert_release_whole(&f, g, &release, tag, &pk);
}
