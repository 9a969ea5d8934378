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
use crate::plan::{Action, Phase, PlannedObject};
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

/// What publishing one release to one destination will do, found by
/// reading it (nothing is written): the objects, and the decisions the
/// executor follows.
#[derive(Debug, Clone)]
pub struct StaticPlan {
    /// Every object, in phase order.
    pub objects: Vec<PlannedObject>,
    /// The same release is there, byte for byte.
    pub already_published: bool,
    /// Per file of the release: already there (with its `.sha256`).
    pub file_there: Vec<bool>,
    /// The provenance bundle is there and kept.
    pub provenance_there: bool,
    /// The tag document is there with the same bytes.
    pub tag_document_there: bool,
}

fn planned(
    destination: &str,
    phase: Phase,
    there: bool,
    key: String,
    bytes: Option<(&[u8], &str)>,
) -> PlannedObject {
    PlannedObject {
        destination: destination.to_string(),
        phase,
        action: if there { Action::Skip } else { Action::Write },
        key,
        size: bytes.map(|(b, _)| b.len() as u64),
        digest: bytes.map(|(b, _)| format!("sha256:{}", hex::encode(Sha256::digest(b)))),
        content_type: bytes.map(|(_, t)| t.to_string()),
    }
}

/// Reads `store` and plans the publish of `rel` there (`destination` names
/// it in the plan). Refuses a stable tag that is there with other bytes.
pub async fn plan_static(
    store: &ObjectStore,
    destination: &str,
    rel: &StaticRelease<'_>,
) -> Result<StaticPlan> {
    let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
    store.check_access().await?;
    let sums_key = format!("{prefix}{SHA256SUMS}");
    let mut already_published = false;
    if let Some(existing) = store.get(&sums_key).await? {
        if existing == rel.sha256sums.as_bytes() {
            already_published = true;
        } else if rel.release.class == Class::Stable && !rel.force {
            return Err(Error::StableTagExists {
                tag: rel.release.tag.clone(),
                store: store.describe(),
                changed: changed_files(&String::from_utf8_lossy(&existing), &rel.sha256sums),
            });
        }
    }
    let mut objects = Vec::new();
    // A file whose .sha256 already says the same is not uploaded again (a
    // re-run after a crash); --force uploads every file again.
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
    for (f, there) in rel.files.iter().zip(&file_there) {
        let key = format!("{prefix}{}", f.path_in(rel.layout));
        objects.push(PlannedObject {
            size: Some(f.size),
            digest: Some(format!("sha256:{}", f.sha256)),
            content_type: Some(content_type::BINARY.into()),
            ..planned(destination, Phase::Files, *there, key.clone(), None)
        });
        let side = sidecar(&f.sha256, &f.file);
        objects.push(planned(
            destination,
            Phase::Files,
            *there,
            format!("{key}.sha256"),
            Some((side.as_bytes(), content_type::TEXT)),
        ));
    }
    objects.push(planned(
        destination,
        Phase::Checksums,
        already_published,
        sums_key,
        Some((rel.sha256sums.as_bytes(), content_type::TEXT)),
    ));
    let bundle_key = format!("{prefix}{}", rel.provenance.0);
    let provenance_there = already_published && store.exists(&bundle_key).await?;
    objects.push(planned(
        destination,
        Phase::Provenance,
        provenance_there,
        bundle_key,
        // A kept bundle keeps its own bytes (another run signed it).
        (!provenance_there).then_some((rel.provenance.1.as_slice(), CONTENT_TYPE_BUNDLE)),
    ));
    let mut tag_document_there = true;
    if let Some(key) = rel.layout.tag_document_key(rel.name, &rel.release.tag) {
        let doc = serde_json::to_vec(&tag_document(rel.files)).unwrap_or_default();
        tag_document_there = store.get(&key).await?.as_deref() == Some(doc.as_slice());
        objects.push(planned(
            destination,
            Phase::TagDocument,
            tag_document_there,
            key,
            Some((&doc, content_type::JSON)),
        ));
    }
    let newest_manifests = name_level_manifests(rel)
        .into_iter()
        .map(|(k, _)| (k, content_type::TEXT));
    for (key, content_type) in shared_document_keys(rel.layout, rel.name)
        .into_iter()
        .chain(newest_manifests)
    {
        objects.push(PlannedObject {
            destination: destination.to_string(),
            phase: Phase::SharedDocuments,
            action: Action::Converge,
            key,
            size: None,
            digest: None,
            content_type: Some(content_type.into()),
        });
    }
    Ok(StaticPlan {
        objects,
        already_published,
        file_there,
        provenance_there,
        tag_document_there,
    })
}

/// Publishes `rel` to `store` as `plan` says, phase by phase: files (each
/// followed by its `.sha256`), `SHA256SUMS`, the provenance, the tag
/// document, then the shared documents.
pub async fn execute_static(
    store: &ObjectStore,
    rel: &StaticRelease<'_>,
    plan: &StaticPlan,
) -> Result<StaticSummary> {
    let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
    let mut summary = StaticSummary {
        store: store.describe(),
        already_published: plan.already_published,
        ..Default::default()
    };
    // 1. Files, each followed by its .sha256.
    let to_upload: Vec<&ReleaseFile> = rel
        .files
        .iter()
        .zip(&plan.file_there)
        .filter(|(_, there)| !**there)
        .map(|(f, _)| f)
        .collect();
    futures::stream::iter(to_upload.iter().map(|f| {
        let key = format!("{prefix}{}", f.path_in(rel.layout));
        async move {
            store
                .put(&key, Body::File(f.local.clone()), content_type::BINARY)
                .await?;
            let side = sidecar(&f.sha256, &f.file);
            store
                .put(
                    &format!("{key}.sha256"),
                    Body::Bytes(side.into_bytes()),
                    content_type::TEXT,
                )
                .await
        }
    }))
    .buffer_unordered(FILES_IN_FLIGHT)
    .try_collect::<Vec<()>>()
    .await?;
    summary.uploaded = to_upload.len();
    summary.uploaded_bytes = to_upload.iter().map(|f| f.size).sum();
    summary.skipped = rel.files.len() - to_upload.len();

    // 2. The checksums, 3. the provenance (kept when the release is unchanged).
    if !plan.already_published {
        store
            .put(
                &format!("{prefix}{SHA256SUMS}"),
                Body::Bytes(rel.sha256sums.clone().into_bytes()),
                content_type::TEXT,
            )
            .await?;
    }
    if !plan.provenance_there {
        store
            .put(
                &format!("{prefix}{}", rel.provenance.0),
                Body::Bytes(rel.provenance.1.clone()),
                CONTENT_TYPE_BUNDLE,
            )
            .await?;
    }

    // 4. The tag document: from here on the release is visible.
    if let (Some(key), false) = (
        rel.layout.tag_document_key(rel.name, &rel.release.tag),
        plan.tag_document_there,
    ) {
        let doc = serde_json::to_vec(&tag_document(rel.files)).unwrap_or_default();
        store
            .put(&key, Body::Bytes(doc), content_type::JSON)
            .await?;
    }

    // 5. The shared documents, derived from what the store holds.
    summary.tags = converge_shared_documents(store, rel.layout, rel.name).await?;
    // 6. The newest stable release's install manifest, at the name level;
    // then the page again, which names its cache.
    let mut wrote_manifest = false;
    for (key, file) in name_level_manifests(rel) {
        let newest = summary
            .tags
            .iter()
            .filter_map(|t| crate::release::semver_of(t))
            .max();
        if crate::release::semver_of(&rel.release.tag) >= newest {
            let ctype = if key.ends_with(".json") {
                content_type::JSON
            } else {
                content_type::TEXT
            };
            store
                .put(&key, Body::File(file.local.clone()), ctype)
                .await?;
            wrote_manifest = true;
        }
    }
    if wrote_manifest {
        summary.tags = converge_shared_documents(store, rel.layout, rel.name).await?;
    }
    Ok(summary)
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
    Ok(Notes { nix, packages })
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
