//! `publish --dry-run --message-format json` prints the plan; the real
//! publish then writes exactly the objects it listed, in phase order (as
//! its events say), and nothing else appears in the bucket.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::faults::keys;
use crate::garage::Garage;
use crate::images::Registry;
use crate::util::Fixture;

fn phase_rank(phase: &str) -> usize {
    const ORDER: [&str; 8] = [
        "blobs",
        "manifests",
        "files",
        "checksums",
        "provenance",
        "tag-document",
        "shared-documents",
        "tags",
    ];
    ORDER
        .iter()
        .position(|p| *p == phase)
        .unwrap_or_else(|| panic!("unknown phase {phase}"))
}

/// (destination, key) of every `written` event on stderr, in order.
fn written_events(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.starts_with(r#"{"event":"written""#))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["destination"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_dry_run_plan_lists_exactly_what_publish_then_writes_in_phase_order() {
    let g = Garage::from_env();
    let reg = Registry::start(None);
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let (sk, _pk) = f.release_keys();
    let bucket = g.bucket("plan");
    let url = g.url(&bucket, "");
    let images = format!("docker://{}/hello", reg.addr);
    let args = [
        "--message-format",
        "json",
        "publish",
        "--static",
        &url,
        "--images",
        &images,
        "--images",
        &url,
        "--signing-key",
        &sk,
        "--tag",
        "v0.1.0",
    ];
    let mut dry = vec!["--dry-run"];
    dry.extend(args);
    let plan: Value = serde_json::from_str(f.run(&dry).ok().stdout().trim()).unwrap();
    assert_eq!(plan["schema"], "cargo-release-dist/plan/v1");
    assert_eq!(plan["release"]["tag"], "v0.1.0");
    assert_eq!(plan["release"]["class"], "stable");
    assert!(keys(&g, &bucket).is_empty(), "the dry run wrote nothing");
    let objects = plan["objects"].as_array().unwrap();
    let phase_of: HashMap<(String, String), (String, String)> = objects
        .iter()
        .map(|o| {
            (
                (
                    o["destination"].as_str().unwrap().to_string(),
                    o["key"].as_str().unwrap().to_string(),
                ),
                (
                    o["phase"].as_str().unwrap().to_string(),
                    o["action"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    // Every phase is there: an image (blobs to tags) and a static release.
    let phases: BTreeSet<&str> = objects
        .iter()
        .map(|o| o["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases.len(), 8, "{phases:?}");
    // The plan is in phase order.
    let ranks: Vec<usize> = objects
        .iter()
        .map(|o| phase_rank(o["phase"].as_str().unwrap()))
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");

    let run = f.run(&args).ok();
    let written = written_events(&run.stderr());
    let written_set: BTreeSet<(String, String)> = written.iter().cloned().collect();
    let planned: BTreeSet<(String, String)> = phase_of
        .iter()
        .filter(|(_, (_, action))| action != "skip")
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(written_set, planned, "written against planned");
    // Each destination saw its objects in phase order, and no image tag moved
    // before the static release was whole.
    let mut last: HashMap<&str, usize> = HashMap::new();
    let last_static = written
        .iter()
        .rposition(|k| phase_rank(&phase_of[k].0) >= phase_rank("files") && phase_of[k].0 != "tags")
        .unwrap();
    for (i, key) in written.iter().enumerate() {
        let rank = phase_rank(&phase_of[key].0);
        let seen = last.entry(key.0.as_str()).or_insert(0);
        assert!(
            rank >= *seen,
            "{key:?} in {} after a later phase",
            phase_of[key].0
        );
        *seen = rank;
        if phase_of[key].0 == "tags" {
            assert!(
                i > last_static,
                "tag {key:?} moved before the static release was whole"
            );
        }
    }
    // The bucket holds what the plan listed for it, and nothing else.
    let described = plan["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .find(|d| d.starts_with(&format!("s3://{bucket}")))
        .unwrap();
    let in_bucket: BTreeSet<String> = keys(&g, &bucket).into_iter().collect();
    let planned_for_bucket: BTreeSet<String> = phase_of
        .keys()
        .filter(|(d, _)| *d == described)
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(in_bucket, planned_for_bucket);

    // A second dry run plans to skip every file, blob and stored manifest:
    // they are there. (Markers, registry manifests, tags and shared
    // documents are written again: a PUT costs what a check would.)
    let again: Value = serde_json::from_str(f.run(&dry).ok().stdout().trim()).unwrap();
    for o in again["objects"].as_array().unwrap() {
        let (phase, key) = (o["phase"].as_str().unwrap(), o["key"].as_str().unwrap());
        let rewritten = key.ends_with("index.html")
            || key.starts_with("manifests/")
            || ["tags", "shared-documents"].contains(&phase);
        if !rewritten {
            assert_eq!(o["action"], "skip", "{o}");
        }
    }
}
