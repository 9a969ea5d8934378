//! Slow and flaky endpoints: the tool talks to Garage and to docker-registry
//! through [`FlakyProxy`], which drops, refuses (503), delays, cuts off or
//! loses the answer of the first attempt of many requests. The tool must
//! retry with backoff, and what it leaves must be complete, as stock nix,
//! `verify` and skopeo read it over direct connections.

use crate::garage::Garage;
use crate::proxy::{Counts, FlakyProxy};
use crate::util::key_pair;
use crate::util::skopeo_copy_all;
use crate::util::Fixture;
use crate::util::Registry;
use crate::util::{assert_closed, assert_substitutes, closure, closure_size, push_json, summary};
use crate::util::{assert_consistent, assert_release_whole, publish_json};

/// Every kind of fault was injected more than once.
fn assert_every_fault(c: &Counts, at_least: usize) {
    for (what, n) in [
        ("dropped", c.dropped),
        ("503", c.unavailable),
        ("slow", c.slow),
        ("lost answers", c.lost),
        ("cut bodies", c.cut),
    ] {
        assert!(n >= at_least, "only {n} {what} requests: {c:?}");
    }
}

#[test]
fn a_cache_push_through_a_flaky_endpoint_retries_and_the_cache_is_complete() {
    let g = Garage::from_env();
    let proxy = FlakyProxy::start(&g.s3);
    let root = closure();
    let keydir = tempfile::tempdir().unwrap();
    let (sk, pk) = key_pair(keydir.path());
    let bucket = g.bucket("flakycache");
    let url = format!(
        "s3://{bucket}?endpoint={}&region=garage&scheme=http&secret-key={sk}",
        proxy.addr
    );
    let out = push_json(&url, &root);
    let counts = proxy.counts();
    eprintln!("proxy: {counts:?}");
    assert!(
        out.status.success(),
        "the push gave up on a flaky endpoint ({counts:?}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_every_fault(&counts, 5);
    let total = closure_size(&root);
    assert_eq!(summary(&out)["total"].as_u64(), Some(total as u64));
    assert_eq!(assert_closed(&g, &bucket), total);
    assert_substitutes(&g, &bucket, &root, &pk);
}

#[test]
fn a_publish_through_flaky_endpoints_retries_and_the_release_is_whole() {
    let g = Garage::from_env();
    let reg = Registry::start(None);
    let s3 = FlakyProxy::start(&g.s3);
    let registry = FlakyProxy::start(&reg.addr);
    let f = Fixture::example("hello");
    f.run(&["build", "-q"]).ok();
    let (sk, pk) = f.release_keys();
    let bucket = g.bucket("flakypub");
    let url = format!(
        "s3://{bucket}?endpoint={}&region=garage&scheme=http",
        s3.addr
    );
    let images = format!("docker://{}/hello", registry.addr);
    let tag = "v1.0.0";
    let args = [
        "publish",
        "--static",
        &url,
        "--images",
        &url,
        "--images",
        &images,
        "--signing-key",
        &sk,
        "--tag",
        tag,
    ];
    let s = publish_json(&f, &args);
    let (s3c, regc) = (s3.counts(), registry.counts());
    eprintln!("s3 proxy: {s3c:?}\nregistry proxy: {regc:?}");
    assert!(s3c.failed() >= 6, "too few faults on S3: {s3c:?}");
    assert!(
        regc.failed() >= 4,
        "too few faults on the registry: {regc:?}"
    );
    assert_eq!(s["destinations"][0]["uploaded"], 8, "{s}");
    for i in 0..2 {
        // 4 configs, 4 layers, the attestation's empty config and envelope.
        assert_eq!(s["images"][i]["blobsUploaded"], 10, "{s}");
    }

    assert_eq!(assert_consistent(&g, &bucket, tag), (8, 10));
    assert_release_whole(&f, &g, &bucket, tag, &pk);

    // The readers retry too: verify and refresh-index through the proxy.
    let before = s3.counts().failed();
    let key = f.dir.join("keys/release.pub");
    let key = key.to_str().unwrap();
    f.run(&["verify", "--from", &url, "-t", "hello:v1.0.0", "--key", key])
        .ok();
    let run = f
        .run(&[
            "--message-format",
            "json",
            "refresh-index",
            "--static",
            &url,
        ])
        .ok();
    let out: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(out[0]["tags"], serde_json::json!([tag]));
    assert!(
        s3.counts().failed() > before,
        "no fault met: {:?}",
        s3.counts()
    );
    let pulled = tempfile::tempdir().unwrap();
    let direct = format!("docker://{}/hello:{tag}", reg.addr);
    assert_eq!(skopeo_copy_all(&direct, None, pulled.path()), 4);
}
