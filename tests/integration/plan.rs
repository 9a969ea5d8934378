//! `publish --dry-run --message-format json` prints the plan; the real
//! publish then writes exactly the objects it listed, in phase order (as
//! its events say), and nothing else appears in the bucket.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::garage::Garage;
use crate::util::Fixture;
use crate::util::Registry;
use crate::util::{keys, written_events};

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

/// The `statement` inside a DSSE bundle line.
fn statement_of(bundle: &[u8]) -> Value {
    use base64::Engine;
    let line = String::from_utf8_lossy(bundle);
    let envelope: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    serde_json::from_slice(&payload).unwrap()
}

#[test]
fn publish_static_and_publish_images_run_apart_with_their_own_secrets() {
    let g = Garage::from_env();
    let password = "split-step-pw-0451";
    let reg = Registry::start(Some(password));
    let (f, sk) = crate::util::built_all();
    let bucket = g.bucket("split");
    let url = g.url(&bucket, "");
    let images = format!("docker://{}/team/hello", reg.addr);
    let home = f.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let common = [
        "--signing-key",
        sk.as_str(),
        "--tag",
        "split-1",
        "--static",
        &url,
        "--images",
        &images,
    ];

    // The static step: S3 credentials, no registry credentials at all.
    let mut args = vec!["--message-format", "json", "publish", "static"];
    args.extend(common);
    let run = f
        .run_with(&args, |c| {
            c.env_remove("DOCKER_AUTH").env("HOME", &home);
        })
        .ok();
    assert!(
        !run.stderr().contains(&reg.addr),
        "the static step never talks to the registry"
    );
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let index = summary["imageIndex"].as_str().unwrap().to_string();
    assert!(summary["images"].as_array().unwrap().is_empty());
    // Its provenance names the images it did not push.
    let web = g.web_url(&bucket);
    let base = format!("{web}/df-dist-v1/hello/split-1");
    let bundle = crate::util::stock(
        "curl",
        &["-sf", &format!("{base}/hello-split-1.intoto.jsonl")],
    );
    let statement = statement_of(bundle.as_bytes());
    let subjects = statement["subject"].as_array().unwrap();
    assert!(subjects.iter().any(|s| s["name"] == "image/hello:split-1"
        && format!("sha256:{}", s["digest"]["sha256"].as_str().unwrap()) == index));
    // `sha256sum -c` over what a user downloads.
    let dl = tempfile::tempdir().unwrap();
    let sums = crate::util::stock("curl", &["-sf", &format!("{base}/SHA256SUMS")]);
    std::fs::write(dl.path().join("SHA256SUMS"), &sums).unwrap();
    for line in sums.lines() {
        let path = line.split_once("  ").unwrap().1;
        let dest = dl.path().join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let out = std::process::Command::new("curl")
            .args([
                "-sf",
                "-o",
                dest.to_str().unwrap(),
                &format!("{base}/{path}"),
            ])
            .status()
            .unwrap();
        assert!(out.success());
    }
    crate::util::sha256sum_c(dl.path(), "SHA256SUMS");
    let objects_after_static = keys(&g, &bucket);

    // The images step: registry credentials, no S3 credentials at all.
    let mut args = vec!["--message-format", "json", "publish", "images"];
    args.extend(common);
    let auth = crate::util::docker_auth(&reg.addr, &format!("ci:{password}"));
    let run = f
        .run_with(&args, |c| {
            c.env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY")
                .env("HOME", &home)
                .env("DOCKER_AUTH", &auth);
        })
        .ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(
        summary["imageIndex"],
        index.as_str(),
        "both halves agree on the image"
    );
    assert!(summary["destinations"].as_array().unwrap().is_empty());
    assert!(written_events(&run.stderr())
        .iter()
        .all(|(d, _)| !d.starts_with("s3://")));
    assert_eq!(
        keys(&g, &bucket),
        objects_after_static,
        "the images step left the bucket alone"
    );
    let local = f.dist().join("provenance/hello-split-1.intoto.jsonl");
    let local_statement = statement_of(&std::fs::read(&local).unwrap());
    assert!(local_statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "image/hello:split-1"));
    // skopeo pulls every platform with the credentials.
    let pulled = tempfile::tempdir().unwrap();
    let reference = format!("docker://{}/team/hello:split-1", reg.addr);
    let creds = format!("ci:{password}");
    assert_eq!(
        crate::util::skopeo_copy_all(&reference, Some(&creds), pulled.path()),
        4
    );
    let raw = crate::util::skopeo_raw(&reference, Some(&creds)).unwrap();
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&raw))
        ),
        index
    );

    // The image published alone carries its provenance: the attestation's
    // envelope is the static step's provenance, byte for byte (both steps
    // sign the same statement of the same build).
    let fallback = format!(
        "docker://{}/team/hello:{}",
        reg.addr,
        index.replace(':', "-")
    );
    let listed: Value =
        serde_json::from_slice(&crate::util::skopeo_raw(&fallback, Some(&creds)).unwrap()).unwrap();
    let artifact = listed["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(
        &crate::util::skopeo_raw(
            &format!("docker://{}/team/hello@{artifact}", reg.addr),
            Some(&creds),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let envelope = crate::util::stock_bytes(
        "curl",
        &[
            "-sf",
            "-u",
            &creds,
            &format!("http://{}/v2/team/hello/blobs/{layer}", reg.addr),
        ],
    );
    assert_eq!(envelope, bundle.trim_end().as_bytes());
    assert_eq!(std::fs::read(&local).unwrap(), bundle.as_bytes());

    // Without its credentials, each step fails clearly.
    let mut args = vec!["publish", "images"];
    args.extend(common);
    f.run_with(&args, |c| {
        c.env_remove("DOCKER_AUTH").env("HOME", &home);
    })
    .fails_with(4, &["credentials"]);
}

#[test]
fn a_dry_run_writes_nothing_anywhere_and_needs_no_key() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let before = crate::util::snapshot(&f.dist());
    let out = f.dir.join("out");
    let run = f
        .run_with(
            &[
                "--message-format",
                "json",
                "--dry-run",
                "publish",
                "--static",
                out.to_str().unwrap(),
                "--tag",
                "v1.0.0",
            ],
            |c| {
                c.env_remove("RELEASE_DIST_SIGNING_KEY");
            },
        )
        .ok();
    let plan: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let objects = plan["objects"].as_array().unwrap();
    assert!(objects
        .iter()
        .any(|o| o["key"] == "df-dist-v1/hello/v1.0.0/hello-v1.0.0.tar.gz"));
    assert!(
        objects.iter().any(|o| o["phase"] == "blobs"),
        "the image is planned too"
    );
    assert!(
        run.stderr().contains("signed by a stand-in key"),
        "{}",
        run.stderr()
    );
    // Nothing beside the build (no tarball, SBOM or converted image), no
    // destination, no image layout.
    assert_eq!(crate::util::snapshot(&f.dist()), before);
    assert!(!out.exists());
    assert!(!f.dist().join("publish").exists());
}
