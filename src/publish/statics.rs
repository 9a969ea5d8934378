//! Publishing one release's static files to one object store, in an order
//! that makes the release appear whole or not at all: files (each followed
//! by its `.sha256`), then `SHA256SUMS`, then the provenance, then the tag
//! document, then the name document and the index.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::index::{index_html, index_json, releases, NixNote, Notes, INDEX_HTML, INDEX_JSON};
use super::layout::{
    content_type, name_document, parse_sha256sums, sidecar, tag_document, tags_of_name_document,
    Layout, ReleaseFile, SHA256SUMS,
};
use crate::errors::{Error, Result};
use crate::objstore::{converge, Body, Derived, ObjectMeta, ObjectStore};
use crate::plan::{Action, Payload, Phase, PlannedObject, Step};
use crate::provenance::CONTENT_TYPE_BUNDLE;
use crate::release::{Class, Release};

/// Files uploaded at once.
const FILES_IN_FLIGHT: usize = 8;

/// What one release needs, prepared once for every destination.
#[derive(Debug)]
pub struct StaticRelease<'a> {
    /// The artifact name.
    pub name: &'a str,
    /// The release.
    pub release: &'a Release,
    /// The layout.
    pub layout: Layout,
    /// The files.
    pub files: &'a [ReleaseFile],
    /// The text of SHA256SUMS.
    pub sha256sums: String,
    /// The bundle's file name and bytes (one DSSE envelope per line).
    pub provenance: (String, Vec<u8>),
    /// Replace a stable release that has other bytes.
    pub force: bool,
    /// The release's packages, for the repositories.
    pub packages: Option<&'a super::packages::PackageSet>,
    /// The detached signatures (sidecars of the files and of SHA256SUMS).
    pub signatures: &'a super::signatures::Signatures,
}

/// What happened at one destination.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticSummary {
    /// The store.
    pub store: String,
    /// True when the same release was already there, byte for byte.
    pub already_published: bool,
    /// Files uploaded.
    pub uploaded: usize,
    /// Files already there with the same bytes.
    pub skipped: usize,
    /// Bytes of files uploaded.
    pub uploaded_bytes: u64,
    /// Tags in the name document after this publish.
    pub tags: Vec<String>,
}

/// What publishing one release to one destination will do, decided from
/// what the destination holds ([`decide_static`]): the steps the executor
/// applies, of which the printed plan is the objects.
#[derive(Debug, Clone)]
pub struct StaticPlan {
    /// Every step, in phase order.
    pub steps: Vec<Step>,
    /// The same release is there, byte for byte.
    pub already_published: bool,
    /// The provenance bundle is there and kept.
    pub provenance_there: bool,
    /// Files to upload, and their bytes.
    pub uploads: (usize, u64),
}

impl StaticPlan {
    /// The plan document's objects.
    pub fn objects(&self) -> impl Iterator<Item = &PlannedObject> {
        self.steps.iter().map(|s| &s.object)
    }
}

/// What one destination holds of a release: read by [`observe_static`],
/// nothing written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticObserved {
    /// The destination, for messages.
    pub store: String,
    /// The release's `SHA256SUMS` there.
    pub sha256sums: Option<Vec<u8>>,
    /// Per file of the release: its `.sha256` says the same and the file is
    /// there (not looked at with `--force`).
    pub file_there: Vec<bool>,
    /// The provenance bundle is there (looked at only when `SHA256SUMS`
    /// is the release's).
    pub bundle_there: bool,
    /// The tag document there.
    pub tag_document: Option<Vec<u8>>,
    /// Every signature of `SHA256SUMS` this release makes is there, good
    /// for its `SHA256SUMS` and by its keys (looked at only when
    /// `SHA256SUMS` is the release's); the files' signatures were written
    /// before them.
    pub signatures_there: bool,
}

/// Reads what `store` holds of `rel`.
pub async fn observe_static(
    store: &ObjectStore,
    rel: &StaticRelease<'_>,
) -> Result<StaticObserved> {
    let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
    store.check_access().await?;
    let sha256sums = store.get(&format!("{prefix}{SHA256SUMS}")).await?;
    let file_there: Vec<bool> = futures::stream::iter(rel.files.iter().map(|f| {
        let key = format!("{prefix}{}", f.path_in(rel.layout));
        async move {
            let side = sidecar(&f.sha256, &f.file);
            let there = !rel.force
                && store.get(&format!("{key}.sha256")).await?.as_deref() == Some(side.as_bytes())
                && store.exists(&key).await?;
            Ok::<_, Error>(there)
        }
    }))
    .buffered(FILES_IN_FLIGHT)
    .try_collect()
    .await?;
    let same_sums = sha256sums.as_deref() == Some(rel.sha256sums.as_bytes());
    let bundle_there = same_sums
        && store
            .exists(&format!("{prefix}{}", rel.provenance.0))
            .await?;
    let tag_document = match rel.layout.tag_document_key(rel.name, &rel.release.tag) {
        Some(key) => store.get(&key).await?,
        None => None,
    };
    let mut signatures_there = same_sums;
    for (name, _) in rel.signatures.sums.iter().filter(|_| same_sums) {
        let held = store.get(&format!("{prefix}{name}")).await?;
        let sums = rel.sha256sums.as_bytes();
        signatures_there &=
            held.is_some_and(|sig| rel.signatures.check.signs_sums(name, &sig, sums));
    }
    Ok(StaticObserved {
        store: store.describe(),
        sha256sums,
        file_there,
        bundle_there,
        tag_document,
        signatures_there,
    })
}

/// One step of the static plan.
fn step(
    destination: &str,
    (phase, there): (Phase, bool),
    key: String,
    payload: Payload,
    (size, digest, content_type): (u64, String, &str),
) -> Step {
    Step {
        object: PlannedObject {
            destination: destination.to_string(),
            phase,
            action: if there { Action::Skip } else { Action::Write },
            key,
            size: Some(size),
            digest: Some(digest),
            content_type: Some(content_type.to_string()),
        },
        payload,
        chain: None,
    }
}

/// A step that writes `bytes` (a skip when `there`).
fn bytes_step(
    destination: &str,
    at: (Phase, bool),
    key: String,
    bytes: Vec<u8>,
    ctype: &str,
) -> Step {
    let facts = (
        bytes.len() as u64,
        format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        ctype,
    );
    step(destination, at, key, Payload::Bytes(bytes), facts)
}

/// Each file's steps, in the release's order (one chain per file): the
/// file, its `.sha256`, then its signatures; and how many files (and
/// bytes) go up.
fn file_steps(
    destination: &str,
    rel: &StaticRelease<'_>,
    seen: &StaticObserved,
    prefix: &str,
) -> (Vec<Step>, (usize, u64)) {
    let mut steps = Vec::new();
    let mut uploads = (0, 0);
    for (i, f) in rel.files.iter().enumerate() {
        let there = seen.file_there.get(i).copied().unwrap_or(false);
        if !there {
            uploads = (uploads.0 + 1, uploads.1 + f.size);
        }
        let key = format!("{prefix}{}", f.path_in(rel.layout));
        let facts = (f.size, format!("sha256:{}", f.sha256), content_type::BINARY);
        let file = Step {
            chain: Some(i),
            ..step(
                destination,
                (Phase::Files, there),
                key.clone(),
                Payload::File(f.local.clone()),
                facts,
            )
        };
        let side = sidecar(&f.sha256, &f.file).into_bytes();
        let side = Step {
            chain: Some(i),
            ..bytes_step(
                destination,
                (Phase::Files, there),
                format!("{key}.sha256"),
                side,
                content_type::TEXT,
            )
        };
        steps.extend([file, side]);
        // Its signatures: written again unless every signature of
        // SHA256SUMS (which come after all of them) is there and good.
        let signed = rel.signatures.per_file.get(i).into_iter().flatten();
        for (suffix, bytes) in signed {
            let at = (Phase::Files, seen.signatures_there);
            let sig = bytes_step(
                destination,
                at,
                format!("{key}{suffix}"),
                bytes.clone(),
                content_type::TEXT,
            );
            steps.push(Step {
                chain: Some(i),
                ..sig
            });
        }
    }
    (steps, uploads)
}

/// The plan of publishing `rel` to a destination that holds `seen`
/// (`destination` names it in the plan). Pure. Refuses a stable tag that is
/// there with other bytes (unless `--force`); skips a file whose `.sha256`
/// says the same; keeps a provenance bundle that is there when the release
/// is unchanged (another run signed it); writes the tag document unless it
/// is there with the same bytes; and converges the shared documents.
pub fn decide_static(
    destination: &str,
    rel: &StaticRelease<'_>,
    seen: &StaticObserved,
) -> Result<StaticPlan> {
    let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
    let already_published = seen.sha256sums.as_deref() == Some(rel.sha256sums.as_bytes());
    if let Some(existing) = seen.sha256sums.as_deref().filter(|_| !already_published) {
        if rel.release.class == Class::Stable && !rel.force {
            return Err(Error::StableTagExists {
                tag: rel.release.tag.clone(),
                store: seen.store.clone(),
                changed: changed_files(&String::from_utf8_lossy(existing), &rel.sha256sums),
            });
        }
    }
    let (mut steps, uploads) = file_steps(destination, rel, seen, &prefix);
    steps.push(bytes_step(
        destination,
        (Phase::Checksums, already_published),
        format!("{prefix}{SHA256SUMS}"),
        rel.sha256sums.clone().into_bytes(),
        content_type::TEXT,
    ));
    for (name, bytes) in &rel.signatures.sums {
        let at = (Phase::Checksums, already_published && seen.signatures_there);
        let ctype = match name.ends_with(".asc") {
            true => "application/pgp-signature",
            false => content_type::TEXT,
        };
        steps.push(bytes_step(
            destination,
            at,
            format!("{prefix}{name}"),
            bytes.clone(),
            ctype,
        ));
    }
    // The keys, beside the name, for the release page (the latest's).
    if let Some(note) = &rel.signatures.note {
        let key = format!(
            "{}{}",
            rel.layout.name_prefix(rel.name),
            super::notes::SIGNING_NOTE
        );
        let at = (Phase::Checksums, already_published && seen.signatures_there);
        steps.push(bytes_step(
            destination,
            at,
            key,
            note.clone(),
            content_type::JSON,
        ));
    }
    let provenance_there = already_published && seen.bundle_there;
    let bundle_key = format!("{prefix}{}", rel.provenance.0);
    steps.push(if provenance_there {
        // A kept bundle keeps its own bytes: nothing is known of them here.
        let mut s = bytes_step(
            destination,
            (Phase::Provenance, true),
            bundle_key,
            Vec::new(),
            CONTENT_TYPE_BUNDLE,
        );
        (s.object.size, s.object.digest, s.payload) = (None, None, Payload::None);
        s.object.content_type = None;
        s
    } else {
        bytes_step(
            destination,
            (Phase::Provenance, false),
            bundle_key,
            rel.provenance.1.clone(),
            CONTENT_TYPE_BUNDLE,
        )
    });
    if let Some(key) = rel.layout.tag_document_key(rel.name, &rel.release.tag) {
        let doc = serde_json::to_vec(&tag_document(rel.files)).unwrap_or_default();
        let there = seen.tag_document.as_deref() == Some(doc.as_slice());
        steps.push(bytes_step(
            destination,
            (Phase::TagDocument, there),
            key,
            doc,
            content_type::JSON,
        ));
    }
    steps.extend(converge_steps(destination, rel));
    Ok(StaticPlan {
        steps,
        already_published,
        provenance_there,
        uploads,
    })
}

/// The shared documents, derived at write time; then the name-level copies
/// of the install manifest (their file as payload), written when the
/// release is the newest stable one.
fn converge_steps(destination: &str, rel: &StaticRelease<'_>) -> Vec<Step> {
    let shared = shared_document_keys(rel.layout, rel.name)
        .into_iter()
        .map(|(key, ctype)| (key, ctype, Payload::None));
    let manifests = name_level_manifests(rel)
        .into_iter()
        .map(|(key, f)| (key, content_type::TEXT, Payload::File(f.local.clone())));
    shared
        .chain(manifests)
        .map(|(key, ctype, payload)| Step {
            object: PlannedObject {
                destination: destination.to_string(),
                phase: Phase::SharedDocuments,
                action: Action::Converge,
                key,
                size: None,
                digest: None,
                content_type: Some(ctype.into()),
            },
            payload,
            chain: None,
        })
        .collect()
}

/// Reads `store` and plans the publish of `rel` there (`destination` names
/// it in the plan): [`observe_static`], then [`decide_static`].
pub async fn plan_static(
    store: &ObjectStore,
    destination: &str,
    rel: &StaticRelease<'_>,
) -> Result<StaticPlan> {
    let seen = observe_static(store, rel).await?;
    decide_static(destination, rel, &seen)
}

/// Publishes `rel` to `store` as `plan` says: [`crate::apply`] runs its
/// steps in phase order (files, each followed by its `.sha256`;
/// `SHA256SUMS`; the provenance; the tag document; the shared documents).
pub async fn execute_static(
    store: &ObjectStore,
    rel: &StaticRelease<'_>,
    plan: &StaticPlan,
) -> Result<StaticSummary> {
    let sink = StaticSink {
        store,
        rel,
        tags: std::sync::Mutex::new(Vec::new()),
    };
    crate::apply::apply(&sink, &plan.steps, FILES_IN_FLIGHT).await?;
    Ok(StaticSummary {
        store: store.describe(),
        already_published: plan.already_published,
        uploaded: plan.uploads.0,
        uploaded_bytes: plan.uploads.1,
        skipped: rel.files.len() - plan.uploads.0,
        tags: sink.tags.into_inner().unwrap_or_default(),
    })
}

/// Writes a step's payload to `store` at its key, as its content type.
pub(crate) async fn put_step(store: &ObjectStore, step: &Step) -> Result<()> {
    let body = match &step.payload {
        Payload::Bytes(b) => Body::Bytes(b.clone()),
        Payload::File(p) => Body::File(p.clone()),
        Payload::None => return Ok(()),
    };
    let ctype = step
        .object
        .content_type
        .as_deref()
        .unwrap_or("application/octet-stream");
    store.put(&step.object.key, body, ctype).await
}

/// A static release store, as the executor writes to it.
struct StaticSink<'a> {
    store: &'a ObjectStore,
    rel: &'a StaticRelease<'a>,
    /// The tags the name document lists, after the shared documents.
    tags: std::sync::Mutex<Vec<String>>,
}

impl crate::apply::Sink for StaticSink<'_> {
    async fn write(&self, step: &Step) -> Result<()> {
        put_step(self.store, step).await
    }

    /// The shared documents from what the store holds; then each name-level
    /// manifest, if this release is the newest stable one, and the page
    /// again (it names the manifest's cache).
    async fn converge(&self, _phase: Phase, steps: &[&Step]) -> Result<()> {
        let (store, rel) = (self.store, self.rel);
        let mut tags = converge_shared_documents(store, rel.layout, rel.name).await?;
        let newest = tags
            .iter()
            .filter_map(|t| crate::release::semver_of(t))
            .max();
        let mut wrote_manifest = false;
        if crate::release::semver_of(&rel.release.tag) >= newest {
            for s in steps {
                if let Payload::File(local) = &s.payload {
                    let ctype = if s.object.key.ends_with(".json") {
                        content_type::JSON
                    } else {
                        content_type::TEXT
                    };
                    store
                        .put(&s.object.key, Body::File(local.clone()), ctype)
                        .await?;
                    wrote_manifest = true;
                }
            }
        }
        if wrote_manifest {
            tags = converge_shared_documents(store, rel.layout, rel.name).await?;
        }
        *self.tags.lock().unwrap_or_else(|e| e.into_inner()) = tags;
        Ok(())
    }
}

/// The name-level copies of the install manifest a stable df-dist-v1
/// release carries: (key, the release's file).
fn name_level_manifests<'a>(rel: &'a StaticRelease<'_>) -> Vec<(String, &'a ReleaseFile)> {
    if rel.release.class != Class::Stable || rel.layout != Layout::DfDist {
        return Vec::new();
    }
    rel.files
        .iter()
        .filter(|f| f.platform.is_none() && super::layout::is_name_level_document(&f.file))
        .map(|f| (format!("{}{}", rel.layout.name_prefix(rel.name), f.file), f))
        .collect()
}

/// The keys (and Content-Types) of the documents every release of a name
/// shares.
pub(crate) fn shared_document_keys(layout: Layout, name: &str) -> Vec<(String, &'static str)> {
    let mut keys: Vec<(String, &'static str)> = layout
        .name_document_key(name)
        .map(|k| (k, content_type::JSON))
        .into_iter()
        .collect();
    keys.push((INDEX_JSON.to_string(), content_type::JSON));
    keys.push((INDEX_HTML.to_string(), content_type::HTML));
    keys
}

/// Which paths differ between two SHA256SUMS texts.
fn changed_files(old: &str, new: &str) -> String {
    let old = parse_sha256sums(old);
    let new = parse_sha256sums(new);
    let mut changed: Vec<String> = new
        .iter()
        .filter(|n| !old.contains(n))
        .map(|(p, _)| p.clone())
        .chain(
            old.iter()
                .filter(|(p, _)| !new.iter().any(|(q, _)| q == p))
                .map(|(p, _)| format!("{p} (gone)")),
        )
        .collect();
    changed.sort();
    changed.dedup();
    changed.join(", ")
}

/// The documents every release of a name shares: the name document
/// (df-dist-v1) and the release index. They are a pure function of the
/// listing, so the write is repeated until what is stored equals what the
/// listing gives *after* the write.
///
/// Garage 2.5 ignores `If-Match`, so there is no compare-and-swap. This loop
/// is safe without it: a publisher writes its tag document before it lists,
/// so the last writer of a shared document either saw every tag, or some
/// other publisher wrote a tag after that listing and so writes (and checks)
/// after it. The last writer's check re-lists after its own write and sees
/// every tag, or it writes again.
pub async fn converge_shared_documents(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
) -> Result<Vec<String>> {
    let notes = page_notes(store, layout, name).await?;
    let relisted = converge(store, &layout.name_prefix(name), &|listing| {
        derive(layout, name, listing, &notes)
    })
    .await?;
    Ok(match layout.name_document_key(name) {
        Some(k) => store
            .get(&k)
            .await?
            .and_then(|b| tags_of_name_document(&b))
            .unwrap_or_default(),
        None => releases(layout, name, &relisted)
            .into_iter()
            .map(|r| r.tag)
            .collect(),
    })
}

/// What the release page says besides the releases: the name-level
/// manifest.json's cache and packages.json's repositories, when there.
pub(crate) async fn page_notes(store: &ObjectStore, layout: Layout, name: &str) -> Result<Notes> {
    let prefix = layout.name_prefix(name);
    let key = format!("{prefix}{}", super::layout::NIX_MANIFEST_JSON);
    let nix = store
        .get(&key)
        .await?
        .and_then(|bytes| NixNote::from_manifest(&key, &bytes));
    let packages = store
        .get(&format!("{prefix}{}", super::notes::PACKAGES_NOTE))
        .await?
        .and_then(|bytes| super::notes::PackagesNote::from_json(&bytes));
    let signing = store
        .get(&format!("{prefix}{}", super::notes::SIGNING_NOTE))
        .await?
        .and_then(|bytes| super::notes::SigningNote::from_json(&bytes));
    Ok(Notes {
        nix,
        packages,
        signing,
    })
}

/// The shared documents a listing gives: (key, bytes, content type).
pub(crate) fn derive(layout: Layout, name: &str, listing: &[ObjectMeta], notes: &Notes) -> Derived {
    let all = releases(layout, name, listing);
    let mut docs = Vec::new();
    if let Some(key) = layout.name_document_key(name) {
        // Tags are the tag documents: keys right under the name prefix.
        let prefix = layout.name_prefix(name);
        let tags: Vec<String> = listing
            .iter()
            .filter_map(|o| o.key.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/') && !super::layout::is_name_level_document(rest))
            .map(str::to_string)
            .collect();
        let doc = serde_json::to_vec(&name_document(name, &tags)).unwrap_or_default();
        docs.push((key, doc, content_type::JSON));
    }
    let json = serde_json::to_vec_pretty(&index_json(layout, &all)).unwrap_or_default();
    docs.push((INDEX_JSON.to_string(), json, content_type::JSON));
    docs.push((
        INDEX_HTML.to_string(),
        index_html(name, &all, notes).into_bytes(),
        content_type::HTML,
    ));
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(class: Class) -> Release {
        Release {
            tag: "v1.0.0".into(),
            class,
            commit: "0".repeat(40),
            builder: crate::release::Builder {
                system: "local".into(),
                id: "local://test".into(),
                invocation_id: None,
                event: None,
                repository: None,
            },
        }
    }

    fn files() -> Vec<ReleaseFile> {
        ["linux/amd64", "linux/arm64"]
            .iter()
            .map(|p| ReleaseFile {
                platform: Some(p.parse().unwrap()),
                file: "hello".into(),
                local: format!("/tmp/{p}/hello").into(),
                sha256: "ab".repeat(32),
                size: 10,
                role: super::super::layout::FileRole::Binary,
            })
            .collect()
    }

    fn rel<'a>(release: &'a Release, files: &'a [ReleaseFile], force: bool) -> StaticRelease<'a> {
        StaticRelease {
            name: "hello",
            release,
            layout: Layout::DfDist,
            files,
            sha256sums: "sums\n".into(),
            provenance: ("hello-v1.0.0.intoto.jsonl".into(), b"signed".to_vec()),
            force,
            packages: None,
            signatures: Box::leak(Box::new(super::super::signatures::Signatures::none(
                files.len(),
            ))),
        }
    }

    fn actions(plan: &StaticPlan) -> Vec<(Phase, Action, String)> {
        plan.objects()
            .map(|o| (o.phase, o.action, o.key.clone()))
            .collect()
    }

    #[test]
    fn an_empty_destination_gets_every_object_in_phase_order() {
        let (r, f) = (release(Class::Stable), files());
        let plan = decide_static("d", &rel(&r, &f, false), &StaticObserved::default()).unwrap();
        let got = actions(&plan);
        let p = "df-dist-v1/hello/v1.0.0/";
        assert_eq!(
            got[0],
            (Phase::Files, Action::Write, format!("{p}linux/amd64/hello"))
        );
        assert_eq!(
            got[1],
            (
                Phase::Files,
                Action::Write,
                format!("{p}linux/amd64/hello.sha256")
            )
        );
        assert_eq!(
            got[4],
            (Phase::Checksums, Action::Write, format!("{p}SHA256SUMS"))
        );
        assert_eq!(got[5].0, Phase::Provenance);
        assert_eq!(
            got[6],
            (
                Phase::TagDocument,
                Action::Write,
                "df-dist-v1/hello/v1.0.0".into()
            )
        );
        assert!(got[7..]
            .iter()
            .all(|(ph, a, _)| *ph == Phase::SharedDocuments && *a == Action::Converge));
        assert_eq!(plan.uploads, (2, 20));
        // Each file is followed by its .sha256 (one chain), and what a
        // step writes is what the plan says.
        assert_eq!(plan.steps[0].chain, plan.steps[1].chain);
        assert_ne!(plan.steps[0].chain, plan.steps[2].chain);
        assert_eq!(
            plan.steps[0].payload,
            Payload::File("/tmp/linux/amd64/hello".into())
        );
        assert_eq!(plan.steps[4].payload, Payload::Bytes(b"sums\n".to_vec()));
    }

    #[test]
    fn a_stable_tag_there_with_other_bytes_is_refused_unless_forced() {
        let (r, f) = (release(Class::Stable), files());
        let seen = StaticObserved {
            store: "s3://x".into(),
            sha256sums: Some(b"other\n".to_vec()),
            ..Default::default()
        };
        let err = decide_static("d", &rel(&r, &f, false), &seen).unwrap_err();
        assert!(matches!(err, Error::StableTagExists { .. }), "{err}");
        assert!(decide_static("d", &rel(&r, &f, true), &seen).is_ok());
        // A development release is replaced.
        let dev = release(Class::Development);
        assert!(decide_static("d", &rel(&dev, &f, false), &seen).is_ok());
    }

    #[test]
    fn signatures_follow_what_they_sign_and_are_kept_only_when_all_are_good() {
        let (r, f) = (release(Class::Stable), files());
        let signatures = super::super::signatures::Signatures {
            per_file: vec![
                vec![(".minisig", b"m0".to_vec())],
                vec![(".minisig", b"m1".to_vec())],
            ],
            sums: vec![
                ("SHA256SUMS.asc".into(), b"asc".to_vec()),
                ("SHA256SUMS.minisig".into(), b"ms".to_vec()),
            ],
            check: Default::default(),
            note: None,
        };
        let rel = StaticRelease {
            signatures: &signatures,
            ..rel(&r, &f, false)
        };
        let plan = decide_static("d", &rel, &StaticObserved::default()).unwrap();
        let got = actions(&plan);
        let p = "df-dist-v1/hello/v1.0.0/";
        let at = |key: &str| got.iter().position(|(_, _, k)| k == key).unwrap();
        assert_eq!(
            at(&format!("{p}linux/amd64/hello.minisig")),
            at(&format!("{p}linux/amd64/hello.sha256")) + 1
        );
        let sums = at(&format!("{p}SHA256SUMS"));
        assert_eq!(
            (
                at(&format!("{p}SHA256SUMS.asc")),
                at(&format!("{p}SHA256SUMS.minisig"))
            ),
            (sums + 1, sums + 2)
        );
        let written = got.iter().filter(|(_, a, _)| *a != Action::Converge);
        assert!(
            written.clone().all(|(_, a, _)| *a == Action::Write),
            "{got:?}"
        );
        // All there and good: nothing of them is written again; else all are.
        let seen = |good| StaticObserved {
            sha256sums: Some(b"sums\n".to_vec()),
            file_there: vec![true, true],
            signatures_there: good,
            ..StaticObserved::default()
        };
        let kept = decide_static("d", &rel, &seen(true)).unwrap();
        let again = decide_static("d", &rel, &seen(false)).unwrap();
        let signature_actions = |plan: &StaticPlan| -> Vec<Action> {
            actions(plan)
                .into_iter()
                .filter(|(_, _, k)| k.ends_with(".minisig") || k.ends_with(".asc"))
                .map(|(_, a, _)| a)
                .collect()
        };
        assert_eq!(signature_actions(&kept), [Action::Skip; 4]);
        assert_eq!(signature_actions(&again), [Action::Write; 4]);
    }

    #[test]
    fn what_is_there_is_skipped_and_a_kept_provenance_keeps_its_bytes() {
        let (r, f) = (release(Class::Stable), files());
        let tag_doc = serde_json::to_vec(&tag_document(&f)).unwrap();
        let seen = StaticObserved {
            store: "s3://x".into(),
            sha256sums: Some(b"sums\n".to_vec()),
            file_there: vec![true, false],
            bundle_there: true,
            tag_document: Some(tag_doc),
            signatures_there: true,
        };
        let plan = decide_static("d", &rel(&r, &f, false), &seen).unwrap();
        let got = actions(&plan);
        assert_eq!(
            (got[0].1, got[1].1, got[2].1),
            (Action::Skip, Action::Skip, Action::Write)
        );
        assert_eq!(got[4].1, Action::Skip, "SHA256SUMS is the same");
        assert_eq!(got[5].1, Action::Skip, "the bundle is kept");
        assert_eq!(plan.steps[5].payload, Payload::None);
        assert_eq!(got[6].1, Action::Skip, "the tag document is the same");
        assert!(plan.already_published && plan.provenance_there);
        assert_eq!(plan.uploads, (1, 10));
        // A bundle that is there but over other checksums is replaced.
        let other = StaticObserved {
            sha256sums: Some(b"other\n".to_vec()),
            ..seen
        };
        let plan =
            decide_static("d", &rel(&release(Class::Development), &f, false), &other).unwrap();
        assert_eq!(actions(&plan)[5].1, Action::Write);
    }

    #[test]
    fn changed_files_names_what_differs() {
        let old = "11  linux/amd64/hello\n22  linux/arm64/hello\n";
        let new = "11  linux/amd64/hello\n33  linux/arm64/hello\n";
        assert_eq!(changed_files(old, new), "linux/arm64/hello");
        assert_eq!(
            changed_files(old, "11  linux/amd64/hello\n"),
            "linux/arm64/hello (gone)"
        );
    }
}
