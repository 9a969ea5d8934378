//! The destination seam, followed once: the `journal` kind (a test double
//! compiled with the `test-hooks` feature, written by following
//! docs/adding-a-destination.md) is published to in the same run as a
//! directory store and an OCI layout, in the seam's stage order, listed by
//! `ls`, removed by `rm` and `gc`, and left alone by `--dry-run`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use crate::util::{built, sha256_prefixed, written_events, Fixture};

/// The journal's lines: (tag, key, sha256).
fn journal_lines(path: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("tag"), s("key"), s("sha256"))
        })
        .collect()
}

fn json(run: crate::util::Run) -> Value {
    serde_json::from_str(run.stdout().trim()).unwrap()
}

fn ls_tags(f: &Fixture, url: &str) -> Vec<String> {
    let listing = json(
        f.run(&["--message-format", "json", "ls", "--static", url])
            .ok(),
    );
    let releases = listing["releases"].as_array().unwrap();
    assert_eq!(releases.len(), 1, "{listing}");
    assert_eq!(releases[0][0], url);
    let rows = releases[0][1].as_array().unwrap();
    rows.iter()
        .map(|r| r["tag"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_kind_added_through_the_seam_is_published_listed_removed_and_planned_like_the_others() {
    let (f, sk, _pk) = built(&["linux/amd64"]);
    let dir = f.dir.join("static");
    let journal = f.dir.join("journal.jsonl");
    let j = format!("journal:{}", journal.display());
    let layout = f.dir.join("images");
    let publish = |tag: &str, dry: bool| {
        let mut args = vec!["--message-format", "json", "publish"];
        if dry {
            args.push("--dry-run");
        }
        let (d, l) = (dir.to_str().unwrap(), layout.to_str().unwrap());
        args.extend(["--static", d, "--static", &j, "--images", l]);
        args.extend(["--signing-key", &sk, "--tag", tag]);
        f.run(&args).ok()
    };

    // The dry run plans the journal like any destination, and writes nothing.
    let plan = json(publish("v1.0.0-rc.1", true));
    assert!(
        !journal.exists() && !dir.exists(),
        "the dry run wrote nothing"
    );
    let destinations: Vec<&str> = plan["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(destinations.contains(&j.as_str()), "{destinations:?}");
    let objects = plan["objects"].as_array().unwrap();
    let phase_of: HashMap<(String, String), String> = objects
        .iter()
        .map(|o| {
            let s = |k: &str| o[k].as_str().unwrap().to_string();
            ((s("destination"), s("key")), s("phase"))
        })
        .collect();
    let planned_in_journal: Vec<String> = objects
        .iter()
        .filter(|o| o["destination"] == j.as_str())
        .map(|o| o["key"].as_str().unwrap().to_string())
        .collect();

    // The real run writes what was planned, in the seam's stage order: after
    // every image blob and manifest, before any image tag.
    let run = publish("v1.0.0-rc.1", false);
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let stores: Vec<&str> = summary["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["store"].as_str().unwrap())
        .collect();
    assert_eq!(stores.len(), 2, "{summary}");
    assert!(stores.contains(&j.as_str()), "{stores:?}");
    let written = written_events(&run.stderr());
    let in_journal: Vec<&(String, String)> = written.iter().filter(|(d, _)| *d == j).collect();
    let keys: Vec<String> = in_journal.iter().map(|(_, k)| k.clone()).collect();
    assert_eq!(keys, planned_in_journal, "written against planned");
    let position = |pred: &dyn Fn(&str) -> bool| -> Vec<usize> {
        let phase = |e: &(String, String)| phase_of[e].clone();
        (0..written.len())
            .filter(|i| pred(&phase(&written[*i])))
            .collect()
    };
    let journal_at = (0..written.len())
        .filter(|i| written[*i].0 == j)
        .collect::<Vec<_>>();
    let content = position(&|p| p == "blobs" || p == "manifests");
    let tags = position(&|p| p == "tags");
    assert!(
        !content.is_empty() && !tags.is_empty(),
        "an image was pushed"
    );
    assert!(
        content.iter().max() < journal_at.iter().min(),
        "the journal was written before the image content was everywhere"
    );
    assert!(
        journal_at.iter().max() < tags.iter().min(),
        "an image tag moved before the journal had the release"
    );

    // The journal holds the release the directory store holds: the same
    // files, SHA256SUMS and provenance, with the same bytes.
    let lines = journal_lines(&journal);
    let held: BTreeMap<&str, &str> = lines
        .iter()
        .map(|(_, k, s)| (k.as_str(), s.as_str()))
        .collect();
    for (key, sha) in &held {
        let bytes = std::fs::read(dir.join(key)).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(sha256_prefixed(&bytes), format!("sha256:{sha}"), "{key}");
    }
    assert!(held.keys().any(|k| k.ends_with("/SHA256SUMS")));
    assert!(held.keys().any(|k| k.ends_with(".intoto.jsonl")));
    assert!(held.len() >= 4, "{held:?}");

    // A re-run plans to skip all of it and appends nothing.
    let again = json(publish("v1.0.0-rc.1", true));
    for o in again["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["destination"] == j.as_str())
    {
        assert_eq!(o["action"], "skip", "{o}");
    }
    publish("v1.0.0-rc.1", false);
    assert_eq!(journal_lines(&journal), lines, "a re-run appended nothing");

    // ls lists it; gc and rm remove from it as from the directory store.
    publish("v1.0.0-rc.2", false);
    publish("v1.0.0-rc.3", false);
    assert_eq!(
        ls_tags(&f, &j),
        ["v1.0.0-rc.1", "v1.0.0-rc.2", "v1.0.0-rc.3"]
    );
    let gc = |dry: bool| {
        let mut args = vec!["--message-format", "json"];
        if dry {
            args.push("--dry-run");
        }
        args.extend(["gc", "--static", &j, "--keep", "2", "--class", "extra"]);
        f.run(&args).ok()
    };
    let gc_plan = json(gc(true));
    assert_eq!(
        journal_lines(&journal).len(),
        3 * lines.len(),
        "a dry gc deleted nothing"
    );
    let deletes = gc_plan["objects"].as_array().unwrap();
    assert_eq!(deletes.len(), lines.len(), "{gc_plan}");
    let rc1 = |o: &Value| o["key"].as_str().unwrap().contains("/v1.0.0-rc.1/");
    assert!(
        deletes.iter().all(|o| o["action"] == "delete" && rc1(o)),
        "{gc_plan}"
    );
    gc(false);
    assert_eq!(ls_tags(&f, &j), ["v1.0.0-rc.2", "v1.0.0-rc.3"]);
    let removed = json(
        f.run(&[
            "--message-format",
            "json",
            "rm",
            "--static",
            &j,
            "hello:v1.0.0-rc.2",
        ])
        .ok(),
    );
    assert_eq!(removed["tags"], serde_json::json!(["v1.0.0-rc.2"]));
    assert_eq!(removed["deleted"], lines.len());
    assert_eq!(ls_tags(&f, &j), ["v1.0.0-rc.3"]);
    // The directory store was not named: it keeps all three.
    assert_eq!(ls_tags(&f, dir.to_str().unwrap()).len(), 3);
    // A kind that cannot be read back says so when asked to verify.
    f.run(&["verify", "--from", &j, "--release", "hello:v1.0.0-rc.3"])
        .fails_with(
            2,
            &["cannot be read back to verify", "a command-line mistake"],
        );
    // Nor does it take a promoted release: refused before anything is copied.
    let d = dir.to_str().unwrap();
    f.run(&["promote", "hello:v1.0.0-rc.3", "--from", d, "--to", &j])
        .fails_with(
            2,
            &[
                "a release cannot be promoted to journal:",
                "a command-line mistake",
            ],
        );
    assert_eq!(ls_tags(&f, &j), ["v1.0.0-rc.3"]);
    f.run(&["rm", "--static", &j, "hello:v1.0.0-rc.2"])
        .fails_with(2, &["v1.0.0-rc.2"]);
}
