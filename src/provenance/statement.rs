//! The in-toto Statement v1 with an SLSA Provenance v1 predicate that a
//! release carries. Pure: everything comes from build.json and the release.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::build_record::{BuildRecord, Kind};
use crate::release::Release;
use crate::source::FlakeInput;

/// The statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The predicate type.
pub use crate::kinds::SLSA_PROVENANCE_V1;
/// Our build type: a Nix flake built for several targets by this tool.
pub const BUILD_TYPE: &str = "urn:cargo-release-dist:build-type:nix-flake:v1";

/// A published object, named and digested.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Subject {
    /// The name inside the release (`linux/amd64/hello`), or an image reference.
    pub name: String,
    /// The sha256 of its bytes, hex.
    pub sha256: String,
}

/// The in-toto Statement v1, as written and as `verify` reads it. Fields
/// are declared in the order they serialize in (alphabetical, as the
/// statement has always been written, so that its bytes do not change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The SLSA provenance.
    pub predicate: Provenance,
    /// [`SLSA_PROVENANCE_V1`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// What the statement is about, sorted by name.
    pub subject: Vec<StatementSubject>,
}

/// One subject: a name and its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementSubject {
    /// The digests.
    pub digest: Sha256Digest,
    /// The name (a release path, or `image/<name>:<tag>[/<platform>]`).
    pub name: String,
}

/// A `{"sha256": hex}` digest set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sha256Digest {
    /// Hex.
    pub sha256: String,
}

/// The SLSA Provenance v1 predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// How the release was built.
    pub build_definition: BuildDefinition,
    /// Who built it, when, and what else came out.
    pub run_details: RunDetails,
}

/// `buildDefinition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// [`BUILD_TYPE`].
    pub build_type: String,
    /// Name, flake, tag, class, targets, attributes.
    pub external_parameters: Value,
    /// Nix version, CI, event.
    pub internal_parameters: Value,
    /// The commit and the flake inputs.
    pub resolved_dependencies: Vec<Value>,
}

/// `runDetails`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetails {
    /// The CI server and this tool's version.
    pub builder: Value,
    /// Every artifact build.json records, published or not.
    pub byproducts: Vec<Value>,
    /// Start and end times, the CI run.
    pub metadata: Value,
}

/// What the statement needs beyond build.json and the release.
#[derive(Debug, Clone)]
pub struct Run {
    /// RFC 3339 times of the publish.
    pub started_on: String,
    /// When the statement was made.
    pub finished_on: String,
}

/// Builds the statement. Subjects come out sorted by name.
pub fn statement(
    manifest: &BuildRecord,
    release: &Release,
    subjects: &[Subject],
    run: &Run,
) -> Statement {
    let mut subjects = subjects.to_vec();
    subjects.sort();
    let mut targets: Vec<String> = manifest
        .artifacts
        .iter()
        .map(|a| a.platform.to_string())
        .collect();
    targets.dedup();
    let attributes: Vec<Value> = manifest
        .artifacts
        .iter()
        .map(|a| json!({"platform": a.platform.to_string(), "kind": a.kind.as_str(), "attribute": a.attribute}))
        .collect();
    let repo = release
        .builder
        .repository
        .clone()
        .unwrap_or_else(|| format!("local:{}", manifest.name));
    let mut deps = vec![json!({
        "uri": format!("git+{repo}@{}", release.commit),
        "digest": {"gitCommit": release.commit},
        "annotations": {"dirty": manifest.source.dirty},
    })];
    deps.extend(manifest.source.flake_inputs.iter().map(flake_input));
    let byproducts: Vec<Value> = manifest.artifacts.iter().map(byproduct).collect();
    let mut metadata = json!({
        "startedOn": run.started_on,
        "finishedOn": run.finished_on,
    });
    if let Some(id) = &release.builder.invocation_id {
        metadata["invocationId"] = json!(id);
    }
    Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: subjects
            .iter()
            .map(|s| StatementSubject {
                name: s.name.clone(),
                digest: Sha256Digest {
                    sha256: s.sha256.clone(),
                },
            })
            .collect(),
        predicate_type: SLSA_PROVENANCE_V1.into(),
        predicate: Provenance {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE.into(),
                external_parameters: json!({
                    "name": manifest.name,
                    "flake": manifest.flake,
                    "tag": release.tag,
                    "class": release.class.as_str(),
                    "targets": targets,
                    "attributes": attributes,
                }),
                internal_parameters: json!({
                    "nixVersion": manifest.nix_version,
                    "ci": release.builder.system,
                    "event": release.builder.event,
                }),
                resolved_dependencies: deps,
            },
            run_details: RunDetails {
                builder: json!({
                    "id": release.builder.id,
                    "version": {manifest.tool.name.clone(): manifest.tool.version.clone()},
                }),
                metadata,
                byproducts,
            },
        },
    }
}

/// A flake.lock input as a resolved dependency: a git URI at its revision
/// when it has one, its narHash as an annotation (it hashes a NAR, not a file).
/// One built artifact as a byproduct: where it is in the store, its
/// digests, and what `build` found out about it.
fn byproduct(a: &crate::build_record::Artifact) -> Value {
    let mut v = json!({
        "name": a.path,
        "uri": format!("nix:{}", a.store_path),
        "digest": {"sha256": a.sha256},
        "annotations": {
            "platform": a.platform.to_string(),
            "kind": a.kind.as_str(),
            "drvPath": a.drv_path,
            "storePath": a.store_path,
            "narHash": a.nar_hash,
            "published": a.kind == Kind::Static,
        },
    });
    if let Some(r) = &a.rust {
        annotate_rust(&mut v["annotations"], r);
    }
    if let Some(b) = &a.binary {
        v["annotations"]["format"] = json!(b.format);
        if let Some(s) = &b.smoke {
            v["annotations"]["smoke"] = json!({
                "args": s.args, "runner": s.runner, "exitCode": s.exit_code, "result": s.result,
            });
        }
    }
    v
}

/// What a binary's derivation says it compiled, as byproduct annotations.
fn annotate_rust(annotations: &mut Value, r: &crate::build_record::RustBuild) {
    if let Some(target) = &r.target {
        annotations["rustTarget"] = json!(target);
    }
    if let Some(rustc) = &r.rustc {
        annotations["rustcVersion"] = json!(rustc);
    }
}

fn flake_input(input: &FlakeInput) -> Value {
    let l = &input.locked;
    let s = |k: &str| l.get(k).and_then(Value::as_str);
    let rev = s("rev");
    let base = match s("type") {
        Some("github") => s("owner")
            .zip(s("repo"))
            .map(|(o, r)| format!("git+https://github.com/{o}/{r}")),
        Some("gitlab") => s("owner")
            .zip(s("repo"))
            .map(|(o, r)| format!("git+https://gitlab.com/{o}/{r}")),
        Some("git") => s("url").map(|u| format!("git+{u}")),
        _ => s("url").map(str::to_string),
    }
    .unwrap_or_else(|| format!("flake:{}", input.name));
    let mut v = json!({
        "name": input.name,
        "uri": match rev { Some(r) => format!("{base}@{r}"), None => base },
        "annotations": {"narHash": input.nar_hash, "locked": l},
    });
    if let Some(r) = rev {
        v["digest"] = json!({"gitCommit": r});
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build_record::{Artifact, Tool};
    use crate::platform::Platform;
    use crate::release::{Builder, Class};
    use crate::source::Source;

    fn manifest() -> BuildRecord {
        BuildRecord {
            schema: crate::build_record::SCHEMA.into(),
            tool: Tool::current(),
            name: "hello".into(),
            flake: ".".into(),
            nix_version: "2.8".into(),
            source: Source {
                commit: "c".repeat(40),
                dirty: false,
                tag: None,
                commit_time: None,
                flake_inputs: vec![FlakeInput {
                    name: "nixpkgs".into(),
                    nar_hash: Some("sha256-abc=".into()),
                    locked: json!({"type": "github", "owner": "NixOS", "repo": "nixpkgs", "rev": "deadbeef"}),
                }],
            },
            complete: true,
            artifacts: vec![Artifact {
                platform: "linux/arm/v6".parse::<Platform>().unwrap(),
                kind: Kind::Static,
                attribute: "packages.armv6l-linux.hello".into(),
                path: "static/linux/arm/v6/hello".into(),
                store_path: "/nix/store/x-hello".into(),
                store_file: Some("bin/hello".into()),
                drv_path: "/nix/store/y-hello.drv".into(),
                nar_hash: "sha256-zzz".into(),
                sha256: "ab".repeat(32),
                size: 3,
                binary: None,
                rust: None,
            }],
            failures: vec![],
            extras: vec![],
            docker_attr: None,
            cache: None,
            built: None,
        }
    }

    fn release() -> Release {
        Release {
            tag: "v1.0.0".into(),
            class: Class::Stable,
            commit: "c".repeat(40),
            builder: Builder {
                system: "drone".into(),
                id: "https://drone.example".into(),
                invocation_id: Some("https://drone.example/o/r/4".into()),
                event: Some("tag".into()),
                repository: Some("https://git.example/o/r".into()),
            },
        }
    }

    #[test]
    fn the_statement_carries_what_the_issue_asks() {
        let release = release();
        let subjects = [
            Subject {
                name: "linux/arm/v6/hello".into(),
                sha256: "ab".repeat(32),
            },
            Subject {
                name: "SHA256SUMS".into(),
                sha256: "cd".repeat(32),
            },
        ];
        let run = Run {
            started_on: "2026-11-21T00:00:00Z".into(),
            finished_on: "2026-11-21T00:01:00Z".into(),
        };
        let st = serde_json::to_value(statement(&manifest(), &release, &subjects, &run)).unwrap();
        assert_eq!(st["_type"], STATEMENT_TYPE);
        assert_eq!(st["predicateType"], SLSA_PROVENANCE_V1);
        assert_eq!(st["subject"][0]["name"], "SHA256SUMS", "sorted");
        assert_eq!(st["subject"][1]["digest"]["sha256"], "ab".repeat(32));
        let def = &st["predicate"]["buildDefinition"];
        assert_eq!(def["externalParameters"]["targets"][0], "linux/arm/v6");
        assert_eq!(
            def["externalParameters"]["attributes"][0]["attribute"],
            "packages.armv6l-linux.hello"
        );
        assert_eq!(def["externalParameters"]["tag"], "v1.0.0");
        assert_eq!(
            def["resolvedDependencies"][0]["uri"],
            format!("git+https://git.example/o/r@{}", "c".repeat(40))
        );
        assert_eq!(
            def["resolvedDependencies"][1]["uri"],
            "git+https://github.com/NixOS/nixpkgs@deadbeef"
        );
        assert_eq!(
            def["resolvedDependencies"][1]["annotations"]["narHash"],
            "sha256-abc="
        );
        let run = &st["predicate"]["runDetails"];
        assert_eq!(run["builder"]["id"], "https://drone.example");
        assert_eq!(
            run["metadata"]["invocationId"],
            "https://drone.example/o/r/4"
        );
        assert_eq!(
            run["byproducts"][0]["annotations"]["drvPath"],
            "/nix/store/y-hello.drv"
        );
        assert_eq!(run["byproducts"][0]["annotations"]["narHash"], "sha256-zzz");
    }

    #[test]
    fn the_typed_statement_keeps_the_key_order_it_was_always_written_in() {
        let st = statement(
            &manifest(),
            &release(),
            &[],
            &Run {
                started_on: "2026-12-01T21:02:36Z".into(),
                finished_on: "2026-12-01T21:02:37Z".into(),
            },
        );
        let text = serde_json::to_string(&st).unwrap();
        // Sorted keys, as serde_json's (unordered) maps wrote them before.
        let at = |k: &str| text.find(k).unwrap();
        assert!(text.starts_with(r#"{"_type":"https://in-toto.io/Statement/v1","predicate":{"buildDefinition":{"buildType":"#), "{text}");
        assert!(at(r#""predicateType""#) < at(r#""subject""#));
        assert!(
            at(r#""builder""#) < at(r#""byproducts""#)
                && at(r#""byproducts""#) < at(r#""metadata""#)
        );
        let back: Statement = serde_json::from_str(&text).unwrap();
        assert_eq!(back, st, "verify reads what the writer wrote");
    }
}
