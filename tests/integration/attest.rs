//! The provenance attached to the image: an OCI 1.1 artifact whose subject
//! is the index, found through the referrers fallback tag by skopeo, by a
//! few lines of Python over plain registry HTTP (not our code), and by
//! `verify --image`, which refuses a replaced or missing attestation.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::garage::Garage;
use crate::util::{built_all, hosts_entry, publish_images, skopeo_raw, INDEX};
use crate::util::{stock, Fixture, Registry};

const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/attestation.py");

/// The fixture's public key, in a file.
fn public_key(f: &Fixture) -> String {
    let pk = std::fs::read_to_string(f.dir.join("keys/cache.pub")).unwrap();
    let path = f.dir.join("keys/release.pub");
    std::fs::write(&path, pk).unwrap();
    path.display().to_string()
}

/// `python3 attestation.py ARGS…` with Debian's Python (and its
/// python3-cryptography): stdout, or a panic with stderr.
fn python(args: &[&str]) -> String {
    let mut all = vec![SCRIPT];
    all.extend_from_slice(args);
    stock("/usr/bin/python3", &all).trim().to_string()
}

/// The referrers index skopeo reads at the fallback tag of `digest`.
fn fallback_by_skopeo(repo_reference: &str, digest: &str) -> Value {
    let tag = digest.replace(':', "-");
    let raw = skopeo_raw(&format!("{repo_reference}:{tag}"), None)
        .unwrap_or_else(|| panic!("skopeo inspect --raw {repo_reference}:{tag}"));
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["mediaType"], INDEX);
    assert_eq!(v["manifests"][0]["artifactType"], DSSE, "{v}");
    v
}

fn verify_image(f: &Fixture, args: &[&str], key: &str) -> crate::util::Run {
    let mut all = vec!["verify", "--key", key];
    all.extend_from_slice(args);
    f.run(&all)
}

#[test]
fn a_registry_image_carries_its_provenance_for_skopeo_python_and_verify() {
    let reg = Registry::start(None);
    let (f, sk) = built_all();
    let key = public_key(&f);
    let url = format!("docker://{}/hello", reg.addr);
    let run = publish_images(&f, &sk, "v1.4.0", &["--images", &url], &[]).ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let digest = summary["imageIndex"].as_str().unwrap().to_string();

    // skopeo reads the referrers fallback tag: one DSSE artifact.
    let listed = fallback_by_skopeo(&url, &digest);
    let attestation = listed["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let raw = skopeo_raw(&format!("{url}@{attestation}"), None).unwrap();
    let m: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(m["artifactType"], DSSE);
    assert_eq!(m["subject"]["digest"], digest.as_str());
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );

    // An independent check over plain HTTP: digests, subject, signature.
    let base = format!("http://{}", reg.addr);
    let out = python(&["check", &base, "hello", "v1.4.0", &key]);
    assert_eq!(
        out, "verified 5 subjects",
        "the index and 4 platform manifests"
    );

    // The envelope is the static release's provenance, byte for byte.
    let bundle = std::fs::read(
        f.dir
            .join("out-static/df-dist-v1/hello/v1.4.0/hello-v1.4.0.intoto.jsonl"),
    )
    .unwrap();
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let envelope =
        crate::util::stock_bytes("curl", &["-sf", &format!("{base}/v2/hello/blobs/{layer}")]);
    assert_eq!(envelope, bundle.strip_suffix(b"\n").unwrap());

    // verify --image passes.
    let image = format!("{url}:v1.4.0");
    let ok = verify_image(&f, &["--image", &image], &key).ok();
    assert!(
        ok.stdout().contains(&format!("attested by {attestation}")),
        "{}",
        ok.stdout()
    );

    // Publishing again attaches the same attestation, uploads nothing.
    let again = publish_images(&f, &sk, "v1.4.0", &["--images", &url], &[]).ok();
    let summary: Value = serde_json::from_str(again.stdout().trim()).unwrap();
    assert_eq!(summary["images"][0]["blobsUploaded"], 0, "{summary}");
    assert_eq!(fallback_by_skopeo(&url, &digest), listed);

    // A replaced attestation (same signature, altered statement) is refused,
    // by Python and by verify, which names it.
    let forged = python(&["replace", &base, "hello", "v1.4.0"]);
    let out = Command::new("/usr/bin/python3")
        .args([SCRIPT, "check", &base, "hello", "v1.4.0", &key])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the independent check refuses it too"
    );
    verify_image(&f, &["--image", &image], &key).fails_with(
        5,
        &[&format!("attestation {forged}"), "no signature verifies"],
    );

    // No attestation at all: named, and refused.
    let empty = format!(r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[]}}"#);
    let fallback = digest.replace(':', "-");
    crate::util::stock(
        "curl",
        &[
            "-sf",
            "-X",
            "PUT",
            "-H",
            &format!("Content-Type: {INDEX}"),
            "--data-binary",
            &empty,
            &format!("{base}/v2/hello/manifests/{fallback}"),
        ],
    );
    verify_image(&f, &["--image", &image], &key)
        .fails_with(5, &["no attestation refers to the index", &digest]);

    // Publishing again puts it back.
    publish_images(&f, &sk, "v1.4.0", &["--images", &url], &[]).ok();
    verify_image(&f, &["--image", &image], &key).ok();
}

/// Replaces a file's bytes, keeping its name (the digest it claims).
fn overwrite(path: &Path, edit: impl FnOnce(Vec<u8>) -> Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, edit(bytes)).unwrap();
}

#[test]
fn static_registries_and_layouts_carry_it_and_rm_takes_it_away() {
    let g = Garage::from_env();
    let (f, sk) = built_all();
    let key = public_key(&f);
    let bucket = g.bucket("attest");
    let s3 = g.url(&bucket, "");
    let layout = f.dir.join("out/layout");
    let layout_s = layout.display().to_string();
    let run = publish_images(
        &f,
        &sk,
        "v2.0.0",
        &["--images", &s3, "--images", &layout_s],
        &[],
    )
    .ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let digest = summary["imageIndex"].as_str().unwrap().to_string();
    let listed_tags = &summary["images"][0]["listedTags"];
    assert_eq!(
        listed_tags,
        &serde_json::json!(["v2.0.0"]),
        "the fallback tag is not a release tag"
    );

    // skopeo reads the fallback tag through Garage's web endpoint and in the layout.
    let web = g.web_url(&bucket);
    let host = web.trim_start_matches("http://").to_string();
    hosts_entry(host.split(':').next().unwrap());
    let on_web = fallback_by_skopeo(&format!("docker://{host}/hello"), &digest);
    let in_layout = fallback_by_skopeo(&format!("oci:{layout_s}"), &digest);
    assert_eq!(on_web, in_layout);
    // And Python, over the web endpoint's plain HTTP.
    let out = python(&["check", &web, "hello", "v2.0.0", &key]);
    assert_eq!(out, "verified 5 subjects");

    for image in [&s3, &layout_s] {
        verify_image(&f, &["--image", image, "--release", "hello:v2.0.0"], &key).ok();
    }
    // Without --release, a bucket or layout names no image.
    verify_image(&f, &["--image", &layout_s], &key).fails_with(2, &["--release NAME:TAG"]);

    // An altered envelope in the layout: refused, named.
    let attestation = in_layout["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(
            layout
                .join("blobs/sha256")
                .join(attestation.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let envelope = layout
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let good = std::fs::read(&envelope).unwrap();
    overwrite(&envelope, |b| {
        String::from_utf8(b)
            .unwrap()
            .replacen("\"payload\":\"", "\"payload\":\"AAAA", 1)
            .into_bytes()
    });
    verify_image(
        &f,
        &["--image", &layout_s, "--release", "hello:v2.0.0"],
        &key,
    )
    .fails_with(5, &[&format!("attestation {attestation}"), "altered"]);
    std::fs::write(&envelope, good).unwrap();

    // A second release: its attestation shares the empty config blob.
    publish_images(
        &f,
        &sk,
        "v2.1.0",
        &["--images", &s3, "--images", &layout_s],
        &[],
    )
    .ok();

    // rm takes the attestation away with the last tag of its index: the
    // fallback tag, the artifact's manifest and its envelope; what the
    // other release's attestation uses stays.
    f.run(&[
        "rm",
        "--force",
        "--static",
        f.dir.join("out-static").to_str().unwrap(),
        "--images",
        &s3,
        "--images",
        &layout_s,
        "hello:v2.0.0",
    ])
    .ok();
    let fallback = digest.replace(':', "-");
    assert!(skopeo_raw(&format!("oci:{layout_s}:{fallback}"), None).is_none());
    assert!(!layout
        .join("blobs/sha256")
        .join(attestation.trim_start_matches("sha256:"))
        .exists());
    assert!(!envelope.exists());
    let listing = g.list(&bucket, "v2/hello/");
    assert!(
        !listing.iter().any(|k| k.ends_with(&fallback)),
        "{listing:?}"
    );
    assert!(!listing.iter().any(|k| k.ends_with(layer)), "{listing:?}");
    for image in [&s3, &layout_s] {
        verify_image(&f, &["--image", image, "--release", "hello:v2.1.0"], &key).ok();
    }
    // The empty config blob both attestations name stays, and skopeo still
    // copies the remaining attestation with every blob it names.
    let empty = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert!(layout.join("blobs/sha256").join(empty).exists());
    assert!(
        listing.contains(&format!("v2/hello/blobs/sha256:{empty}")),
        "{listing:?}"
    );
    let kept_index = skopeo_raw(&format!("oci:{layout_s}:v2.1.0"), None).unwrap();
    let kept = fallback_by_skopeo(
        &format!("oci:{layout_s}"),
        &crate::util::sha256_prefixed(&kept_index),
    );
    let artifact = kept["manifests"][0]["digest"].as_str().unwrap();
    let copy = tempfile::tempdir().unwrap();
    let kept_fallback = crate::util::sha256_prefixed(&kept_index).replace(':', "-");
    crate::util::stock(
        "skopeo",
        &[
            "copy",
            "--all",
            &format!("oci:{layout_s}:{kept_fallback}"),
            &format!("oci:{}:referrers", copy.path().display()),
        ],
    );
    let copied = copy.path().join("blobs/sha256");
    assert!(copied.join(artifact.trim_start_matches("sha256:")).exists());
    assert!(copied.join(empty).exists());
}
