//! The reproducibility statement: an in-toto Statement v1 saying that a
//! release's build outputs were built a second time, on another builder,
//! and came out bit for bit the same. `rebuild` signs it; `publish` puts it
//! beside the release as `<name>-<tag>.reproduced.intoto.jsonl`; `verify`
//! shows it; `promote --require-reproduced` requires it.
//!
//! Pure: what was rebuilt, where and when come in as values.

use serde::{Deserialize, Serialize};

use super::statement::{Sha256Digest, Statement, StatementSubject, STATEMENT_TYPE};

/// This project's predicate type (documented in the README, "Reproducibility").
pub const REPRODUCED_V1: &str = "https://release-dist.dev/reproduced/v1";

/// The statement file's name beside the release.
pub fn file_name(name: &str, tag: &str) -> String {
    format!("{name}-{tag}.reproduced.intoto.jsonl")
}

/// The statement, as written and as read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReproducedStatement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// What was rebuilt and how.
    pub predicate: Reproduced,
    /// [`REPRODUCED_V1`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The release files that are build outputs, sorted by name.
    pub subject: Vec<StatementSubject>,
}

/// The predicate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reproduced {
    /// Who rebuilt: the CI server or `local://<host>`, and this tool's version.
    pub rebuilder: Rebuilder,
    /// Where the outputs were built the second time.
    pub builder: RebuildPlace,
    /// The release the outputs are of.
    pub release: ReleaseRef,
    /// RFC 3339: when the rebuild began.
    pub started_on: String,
    /// RFC 3339: when the comparison ended.
    pub finished_on: String,
    /// Every output rebuilt, sorted by name.
    pub outputs: Vec<RebuiltOutput>,
}

/// Who rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rebuilder {
    /// The CI server, or `local://<host>`.
    pub id: String,
    /// `cargo-release-dist <version>`.
    pub tool: String,
}

/// Where the second build ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebuildPlace {
    /// The Nix store it ran in, without query or credentials
    /// (`ssh-ng://root@builder`), or `local` for a check build here.
    pub store: String,
    /// How independent it was.
    pub mode: RebuildMode,
}

/// How independent the second build was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebuildMode {
    /// Built in another store, which did not hold the outputs before.
    IndependentStore,
    /// `nix build --rebuild` in the store that built them first: the same
    /// machine, the same inputs as they are here.
    LocalCheck,
}

impl RebuildMode {
    /// How it reads in a sentence.
    pub fn describe(self) -> &'static str {
        match self {
            RebuildMode::IndependentStore => "an independent store",
            RebuildMode::LocalCheck => {
                "a check build in the same store (weaker: same machine, same inputs)"
            }
        }
    }
}

/// The release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRef {
    /// Its name.
    pub name: String,
    /// Its tag.
    pub tag: String,
    /// The commit it was built from.
    pub commit: String,
}

/// One output built again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuiltOutput {
    /// Its path in build.json (`static/linux/amd64/hello`).
    pub name: String,
    /// The derivation.
    pub drv_path: String,
    /// The output path.
    pub store_path: String,
    /// The NAR hash of the first build (build.json), SRI.
    pub nar_hash: String,
    /// The NAR hash of the second build, SRI.
    pub rebuilt_nar_hash: String,
    /// The NAR hash the binary cache's signed narinfo gives, SRI, when the
    /// release has a cache that was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_nar_hash: Option<String>,
}

/// What `rebuild` found, to be signed.
#[derive(Debug, Clone)]
pub struct Rebuild {
    /// Who, where, which release, when.
    pub predicate: Reproduced,
    /// The release files that are build outputs: (name in the release, sha256 hex).
    pub subjects: Vec<(String, String)>,
}

/// The statement of a rebuild whose every output matched; `Err` names the
/// outputs that did not (a statement is never made for them).
pub fn statement(rebuild: &Rebuild) -> Result<ReproducedStatement, Vec<String>> {
    let differing: Vec<String> = rebuild
        .predicate
        .outputs
        .iter()
        .filter(|o| !o.matches())
        .map(|o| o.name.clone())
        .collect();
    if !differing.is_empty() || rebuild.predicate.outputs.is_empty() {
        return Err(differing);
    }
    let mut subject: Vec<StatementSubject> = rebuild
        .subjects
        .iter()
        .map(|(name, sha256)| StatementSubject {
            name: name.clone(),
            digest: Sha256Digest {
                sha256: sha256.clone(),
            },
        })
        .collect();
    subject.sort_by(|a, b| a.name.cmp(&b.name));
    let mut predicate = rebuild.predicate.clone();
    predicate.outputs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(ReproducedStatement {
        statement_type: STATEMENT_TYPE.into(),
        predicate,
        predicate_type: REPRODUCED_V1.into(),
        subject,
    })
}

impl RebuiltOutput {
    /// Whether the second build's NAR hash is the first's, and the cache's
    /// (when read) too.
    pub fn matches(&self) -> bool {
        same_nar_hash(&self.rebuilt_nar_hash, &self.nar_hash)
            && self
                .cache_nar_hash
                .as_deref()
                .is_none_or(|c| same_nar_hash(c, &self.nar_hash))
    }
}

/// Whether two NAR hashes, each in any of Nix's spellings (SRI,
/// `sha256:<nix32>`), are the same hash. Unreadable ones are never equal.
pub fn same_nar_hash(a: &str, b: &str) -> bool {
    match (
        crate::nixcache::parse_nar_hash(a),
        crate::nixcache::parse_nar_hash(b),
    ) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Reads a statement file (its first DSSE envelope), checked against `key`
/// when there is one; the error says what is wrong.
pub fn read(
    bytes: &[u8],
    key: Option<&crate::nixcache::PublicKey>,
) -> Result<ReproducedStatement, String> {
    let payload = super::envelope_payload(bytes, key)?;
    let st: ReproducedStatement = serde_json::from_slice(&payload)
        .map_err(|e| format!("the payload is not a reproducibility statement: {e}"))?;
    if st.predicate_type != REPRODUCED_V1 || st.statement_type != STATEMENT_TYPE {
        return Err(format!(
            "its predicate type is `{}`, not {REPRODUCED_V1}",
            st.predicate_type
        ));
    }
    Ok(st)
}

/// What of the release the statement leaves out, against the release's
/// signed provenance: every build output the provenance names (its
/// byproducts) must be among the rebuilt outputs with the same NAR hash,
/// rebuilt the same; every published file the provenance signs that is a
/// build output must be a subject with the same digest; and it must be
/// about this release. Empty when it covers everything.
pub fn uncovered(provenance: &Statement, reproduced: &ReproducedStatement) -> Vec<String> {
    let mut missing = Vec::new();
    let external = &provenance.predicate.build_definition.external_parameters;
    let release = &reproduced.predicate.release;
    if external["name"].as_str() != Some(release.name.as_str())
        || external["tag"].as_str() != Some(release.tag.as_str())
    {
        missing.push(format!(
            "it is about {}:{}, not this release",
            release.name, release.tag
        ));
    }
    let outputs = &reproduced.predicate.outputs;
    let mut published = Vec::new();
    for b in &provenance.predicate.run_details.byproducts {
        let a = &b["annotations"];
        let (Some(path), Some(nar)) = (a["storePath"].as_str(), a["narHash"].as_str()) else {
            continue;
        };
        let name = b["name"].as_str().unwrap_or(path);
        match outputs.iter().find(|o| o.store_path == path) {
            None => missing.push(format!("{name} ({path}) was not rebuilt")),
            Some(o) if !(same_nar_hash(&o.nar_hash, nar) && o.matches()) => missing.push(format!(
                "{name} ({path}) was rebuilt as {}, but the provenance records {nar}",
                o.rebuilt_nar_hash
            )),
            Some(_) => {}
        }
        if a["published"].as_bool() == Some(true) {
            if let Some(d) = b["digest"]["sha256"].as_str() {
                published.push(d.to_string());
            }
        }
    }
    for s in provenance
        .subject
        .iter()
        .filter(|s| published.contains(&s.digest.sha256))
    {
        let covered = reproduced
            .subject
            .iter()
            .any(|r| r.name == s.name && r.digest.sha256 == s.digest.sha256);
        if !covered {
            missing.push(format!("{} is not among its subjects", s.name));
        }
    }
    missing
}

/// What a published release's reproducibility statement says, checked:
/// read (and its signature checked when there is a key), and held against
/// the release's provenance.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    /// The statement, when it could be read.
    pub statement: Option<ReproducedStatement>,
    /// What is wrong with it: unreadable, another key's.
    pub problems: Vec<String>,
    /// What of the release it leaves out ([`uncovered`]).
    pub gaps: Vec<String>,
    /// Whether its signature was checked (a key was given).
    pub signature_checked: bool,
}

/// Assesses the statement `bytes` (none: the release has none) against the
/// provenance `bundle`, with `key` when given.
pub fn assess(
    bundle: &[u8],
    bytes: Option<&[u8]>,
    key: Option<&crate::nixcache::PublicKey>,
) -> Assessment {
    let mut a = Assessment {
        signature_checked: key.is_some(),
        ..Assessment::default()
    };
    let Some(bytes) = bytes else {
        return a;
    };
    match read(bytes, key) {
        Err(e) => a
            .problems
            .push(format!("the reproducibility statement: {e}")),
        Ok(st) => {
            match super::read_statement(bundle, None) {
                Ok(provenance) => a.gaps = uncovered(&provenance, &st),
                Err(e) => a.gaps.push(format!("the provenance cannot be read: {e}")),
            }
            a.statement = Some(st);
        }
    }
    a
}

impl Assessment {
    /// One line for `verify` and `ls`.
    pub fn line(&self) -> String {
        if !self.problems.is_empty() {
            return format!(
                "reproducibility statement REFUSED: {}",
                self.problems.join("; ")
            );
        }
        let Some(st) = &self.statement else {
            return "not reproduced: no reproducibility statement".into();
        };
        let signature = match self.signature_checked {
            true => "signature good",
            false => "signature NOT checked",
        };
        match self.gaps.is_empty() {
            true => format!("{}, {signature}", summary(st)),
            false => format!(
                "{}, {signature}; it does NOT cover: {}",
                summary(st),
                self.gaps.join("; ")
            ),
        }
    }

    /// Why a release that must be reproduced is refused, if it is.
    pub fn refusal(&self) -> Option<String> {
        if !self.problems.is_empty() {
            return Some(self.problems.join("; "));
        }
        if self.statement.is_none() {
            return Some("it has no reproducibility statement (run `cargo release-dist rebuild` before `publish`)".into());
        }
        if !self.signature_checked {
            return Some("the reproducibility statement's signature was not checked: give the key it must be signed with".into());
        }
        if !self.gaps.is_empty() {
            return Some(format!(
                "the reproducibility statement does not cover: {}",
                self.gaps.join("; ")
            ));
        }
        None
    }
}

/// One line about it: who rebuilt, where, how, when.
pub fn summary(st: &ReproducedStatement) -> String {
    let p = &st.predicate;
    format!(
        "reproduced by {} on {} ({}), {}: {} outputs, {} files",
        p.rebuilder.id,
        p.builder.store,
        p.builder.mode.describe(),
        p.finished_on,
        p.outputs.len(),
        st.subject.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nixcache::SecretKey;
    use serde_json::json;

    const NAR_A: &str = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    /// The same hash as NAR_A, in Nix's `sha256:<nix32>` spelling.
    const NAR_A_NIX32: &str = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
    const NAR_B: &str = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

    fn output(name: &str, path: &str, rebuilt: &str) -> RebuiltOutput {
        RebuiltOutput {
            name: name.into(),
            drv_path: format!("{path}.drv"),
            store_path: path.into(),
            nar_hash: NAR_A.into(),
            rebuilt_nar_hash: rebuilt.into(),
            cache_nar_hash: None,
        }
    }

    fn rebuild(outputs: Vec<RebuiltOutput>) -> Rebuild {
        Rebuild {
            predicate: Reproduced {
                rebuilder: Rebuilder {
                    id: "local://ci".into(),
                    tool: "cargo-release-dist 0".into(),
                },
                builder: RebuildPlace {
                    store: "ssh-ng://root@builder".into(),
                    mode: RebuildMode::IndependentStore,
                },
                release: ReleaseRef {
                    name: "hello".into(),
                    tag: "v1.0.0".into(),
                    commit: "c".repeat(40),
                },
                started_on: "2026-12-05T00:00:00Z".into(),
                finished_on: "2026-12-05T00:01:00Z".into(),
                outputs,
            },
            subjects: vec![
                ("linux/arm64/hello".into(), "bb".repeat(32)),
                ("linux/amd64/hello".into(), "aa".repeat(32)),
            ],
        }
    }

    fn provenance(byproducts: Vec<serde_json::Value>, subjects: &[(&str, String)]) -> Statement {
        serde_json::from_value(json!({
            "_type": STATEMENT_TYPE,
            "predicateType": super::super::SLSA_PROVENANCE_V1,
            "subject": subjects.iter().map(|(n, d)| json!({"name": n, "digest": {"sha256": d}})).collect::<Vec<_>>(),
            "predicate": {
                "buildDefinition": {"buildType": "x", "externalParameters": {"name": "hello", "tag": "v1.0.0"},
                                    "internalParameters": {}, "resolvedDependencies": []},
                "runDetails": {"builder": {}, "metadata": {}, "byproducts": byproducts},
            },
        }))
        .unwrap()
    }

    fn byproduct(name: &str, path: &str, sha: String, published: bool) -> serde_json::Value {
        json!({"name": name, "digest": {"sha256": sha},
               "annotations": {"storePath": path, "narHash": NAR_A, "published": published}})
    }

    #[test]
    fn nar_hashes_compare_across_spellings_and_never_when_unreadable() {
        assert!(same_nar_hash(NAR_A, NAR_A_NIX32));
        assert!(!same_nar_hash(NAR_A, NAR_B));
        assert!(!same_nar_hash("garbage", "garbage"));
        assert!(!same_nar_hash("", ""));
    }

    #[test]
    fn a_statement_is_made_only_when_every_output_matched_the_first_build_and_the_cache() {
        let good = rebuild(vec![
            output(
                "static/linux/arm64/hello",
                "/nix/store/b-hello",
                NAR_A_NIX32,
            ),
            output("static/linux/amd64/hello", "/nix/store/a-hello", NAR_A),
        ]);
        let st = statement(&good).unwrap();
        assert_eq!(st.predicate_type, REPRODUCED_V1);
        assert_eq!(st.subject[0].name, "linux/amd64/hello", "sorted");
        assert_eq!(st.predicate.outputs[0].name, "static/linux/amd64/hello");

        let mut differs = good.clone();
        differs.predicate.outputs[0].rebuilt_nar_hash = NAR_B.into();
        assert_eq!(
            statement(&differs).unwrap_err(),
            ["static/linux/arm64/hello"]
        );
        let mut cache_differs = good.clone();
        cache_differs.predicate.outputs[1].cache_nar_hash = Some(NAR_B.into());
        assert_eq!(
            statement(&cache_differs).unwrap_err(),
            ["static/linux/amd64/hello"]
        );
        let mut unreadable = good.clone();
        unreadable.predicate.outputs[1].rebuilt_nar_hash = String::new();
        assert!(statement(&unreadable).is_err());
        assert!(statement(&rebuild(vec![])).is_err(), "nothing rebuilt");
    }

    #[test]
    fn it_reads_back_signed_and_refuses_another_key_or_another_predicate() {
        let st = statement(&rebuild(vec![output(
            "static/linux/amd64/hello",
            "/nix/store/a-hello",
            NAR_A,
        )]))
        .unwrap();
        let key = SecretKey::from_seed("rebuilder", [7; 32]);
        let other = SecretKey::from_seed("other", [8; 32]);
        let signed = |statement: &serde_json::Value| {
            let body = serde_json::to_vec(statement).unwrap();
            let envelope =
                super::super::dsse::sign(&key, super::super::IN_TOTO_PAYLOAD_TYPE, &body);
            serde_json::to_vec(&envelope).unwrap()
        };
        let line = signed(&serde_json::to_value(&st).unwrap());
        assert_eq!(read(&line, Some(&key.public())).unwrap(), st);
        assert_eq!(read(&line, None).unwrap(), st);
        let err = read(&line, Some(&other.public())).unwrap_err();
        assert!(
            err.contains("no signature verifies with the given key"),
            "{err}"
        );
        assert!(read(b"garbage", None).is_err());

        let mut provenance_like = serde_json::to_value(&st).unwrap();
        provenance_like["predicateType"] = json!("https://slsa.dev/provenance/v1");
        let line = signed(&provenance_like);
        assert!(read(&line, None).unwrap_err().contains("predicate type"));
    }

    #[test]
    fn coverage_names_each_output_and_file_left_out() {
        let amd = "aa".repeat(32);
        let arm = "bb".repeat(32);
        let prov = provenance(
            vec![
                byproduct(
                    "static/linux/amd64/hello",
                    "/nix/store/a-hello",
                    amd.clone(),
                    true,
                ),
                byproduct(
                    "static/linux/arm64/hello",
                    "/nix/store/b-hello",
                    arm.clone(),
                    true,
                ),
                byproduct(
                    "docker/linux.amd64.tar.gz",
                    "/nix/store/c-image",
                    "cc".repeat(32),
                    false,
                ),
            ],
            &[
                ("linux/amd64/hello", amd.clone()),
                ("linux/arm64/hello", arm.clone()),
                ("SHA256SUMS", "dd".repeat(32)),
            ],
        );
        let all = vec![
            output("static/linux/amd64/hello", "/nix/store/a-hello", NAR_A),
            output("static/linux/arm64/hello", "/nix/store/b-hello", NAR_A),
            output("docker/linux.amd64.tar.gz", "/nix/store/c-image", NAR_A),
        ];
        let whole = statement(&rebuild(all.clone())).unwrap();
        assert_eq!(uncovered(&prov, &whole), Vec::<String>::new());

        // One output not rebuilt, and its file not a subject.
        let mut partial = rebuild(all[..1].iter().chain(&all[2..]).cloned().collect());
        partial.subjects.retain(|(n, _)| n == "linux/amd64/hello");
        let gaps = uncovered(&prov, &statement(&partial).unwrap());
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert!(gaps[0].contains("static/linux/arm64/hello (/nix/store/b-hello) was not rebuilt"));
        assert!(gaps[1].contains("linux/arm64/hello is not among its subjects"));

        // A subject with other bytes than the provenance signs.
        let mut other_bytes = rebuild(all.clone());
        other_bytes.subjects[0].1 = "ee".repeat(32);
        let gaps = uncovered(&prov, &statement(&other_bytes).unwrap());
        assert_eq!(gaps, ["linux/arm64/hello is not among its subjects"]);

        // Another release's statement.
        let mut other_tag = rebuild(all);
        other_tag.predicate.release.tag = "v0.9.0".into();
        let gaps = uncovered(&prov, &statement(&other_tag).unwrap());
        assert_eq!(gaps, ["it is about hello:v0.9.0, not this release"]);
    }

    #[test]
    fn a_statement_whose_first_build_hash_is_not_the_provenances_does_not_cover() {
        let amd = "aa".repeat(32);
        let prov = provenance(
            vec![byproduct(
                "static/linux/amd64/hello",
                "/nix/store/a-hello",
                amd.clone(),
                true,
            )],
            &[("linux/amd64/hello", amd)],
        );
        let mut out = output("static/linux/amd64/hello", "/nix/store/a-hello", NAR_B);
        out.nar_hash = NAR_B.into();
        let st = statement(&rebuild(vec![out])).unwrap();
        let gaps = uncovered(&prov, &st);
        assert_eq!(gaps.len(), 1);
        assert!(gaps[0].contains("but the provenance records"), "{gaps:?}");
    }
}
