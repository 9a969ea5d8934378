//! The release's CycloneDX SBOM, validated against the official CycloneDX
//! 1.5 JSON schema (kept under tests/vectors/cyclonedx/, from
//! CycloneDX/specification) by Python's jsonschema, not by this tool.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{build_json, repo_root, Fixture};

/// Validates `doc` with jsonschema; Err carries the validator's message.
fn validate(doc: &Path) -> Result<(), String> {
    let script = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
import jsonschema
base, doc = sys.argv[1], sys.argv[2]
schema = json.load(open(base + "/bom-1.5.schema.json"))
store = {}
for f in ["spdx.schema.json", "jsf-0.82.schema.json"]:
    s = json.load(open(base + "/" + f))
    store["http://cyclonedx.org/schema/" + f] = s
    if "$id" in s:
        store[s["$id"]] = s
resolver = jsonschema.RefResolver.from_schema(schema, store=store)
jsonschema.Draft7Validator(schema, resolver=resolver).validate(json.load(open(doc)))
"#;
    let out = Command::new("/usr/bin/python3")
        .args([
            "-c",
            script,
            repo_root()
                .join("tests/vectors/cyclonedx")
                .to_str()
                .unwrap(),
            doc.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_sbom_is_valid_cyclonedx_and_lists_the_crates_and_the_closures() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let out = f.dir.join("out");
    f.run(&[
        "publish",
        "--static",
        out.to_str().unwrap(),
        "--signing-key",
        &sk,
        "--no-images",
        "--tag",
        "v1.0.0",
    ])
    .ok();
    let release = out.join("df-dist-v1/hello/v1.0.0");
    let doc_path = release.join("hello-v1.0.0.cdx.json");
    validate(&doc_path).unwrap();

    let doc: Value = serde_json::from_slice(&std::fs::read(&doc_path).unwrap()).unwrap();
    assert_eq!(doc["specVersion"], "1.5");
    assert_eq!(doc["metadata"]["component"]["name"], "hello");
    let components = doc["components"].as_array().unwrap();
    assert!(
        components
            .iter()
            .any(|c| c["purl"] == "pkg:cargo/hello@0.1.0"),
        "{components:?}"
    );
    // The example's real crates.io dependency, with the checksum that
    // Cargo.lock (and crates.io) gives it, read here from the vendored
    // crate's own .cargo-checksum.json rather than from our Cargo.lock reader.
    let vendored: Value = serde_json::from_slice(
        &std::fs::read(f.dir.join("vendor/lexopt/.cargo-checksum.json")).unwrap(),
    )
    .unwrap();
    let lexopt = components
        .iter()
        .find(|c| c["name"] == "lexopt")
        .expect("lexopt, the example's dependency");
    assert_eq!(lexopt["purl"], "pkg:cargo/lexopt@0.3.2", "{lexopt}");
    assert_eq!(lexopt["hashes"][0]["alg"], "SHA-256", "{lexopt}");
    assert_eq!(
        lexopt["hashes"][0]["content"], vendored["package"],
        "{lexopt}"
    );
    let built = build_json(&f);
    let store_path = built["artifacts"][0]["storePath"].as_str().unwrap();
    let entry = components
        .iter()
        .find(|c| c["bom-ref"] == store_path)
        .expect("the artifact's store path");
    assert_eq!(entry["name"], "hello");
    assert!(
        entry["version"].as_str().unwrap().starts_with("0.1.0"),
        "{entry}"
    );

    // Listed in SHA256SUMS, and a provenance subject.
    let sums = std::fs::read_to_string(release.join("SHA256SUMS")).unwrap();
    assert!(
        sums.lines().any(|l| l.ends_with("  hello-v1.0.0.cdx.json")),
        "{sums}"
    );
    crate::util::sha256sum_c(&release, "SHA256SUMS");

    // The validator does validate: a document it must refuse.
    let mut bad = doc.clone();
    bad["components"][0]["type"] = Value::from("spaceship");
    let bad_path = f.dir.join("bad.cdx.json");
    std::fs::write(&bad_path, serde_json::to_vec(&bad).unwrap()).unwrap();
    let err = validate(&bad_path).unwrap_err();
    assert!(err.contains("spaceship"), "{err}");
}
