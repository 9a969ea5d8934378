//! Static releases: what a destination holds, and removing releases from
//! it: the tag documents first (the releases vanish from every reader),
//! then the shared documents derived again, then the files.

use std::time::SystemTime;

use serde::Serialize;

use crate::errors::Result;
use crate::objstore::ObjectStore;
use crate::plan::{Action, Phase, PlannedObject};
use crate::publish::index::{releases, ListedRelease};
use crate::publish::layout::{Layout, SHA256SUMS};
use crate::publish::statics::converge_shared_documents;

/// One release, as `ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRow {
    /// Its tag.
    pub tag: String,
    /// `stable`, `extra` or `development`.
    pub class: &'static str,
    /// When its first file was written (RFC 3339).
    pub published: Option<String>,
    /// Its platforms.
    pub platforms: Vec<String>,
    /// Bytes of its files.
    pub size: u64,
    /// Its SHA256SUMS is there.
    pub checksums: bool,
    /// Its signed provenance is there.
    pub provenance: bool,
    /// Who its reproducibility statement says rebuilt it, and where (read,
    /// its signature not checked: `verify` checks it), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reproduced: Option<String>,
}

/// The releases of `name` at `store`, with their listing.
pub async fn listed(store: &ObjectStore, layout: Layout, name: &str) -> Result<Vec<ListedRelease>> {
    let listing = store.list(&layout.name_prefix(name)).await?;
    Ok(releases(layout, name, &listing))
}

/// Tags with objects but no tag document (df-dist-v1) whose newest object
/// is older than `grace`: what a removal stopped part-way, or a publish
/// that died before its tag document, left. A younger one may be a publish
/// at work, and is left alone.
pub async fn leftovers(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    grace: std::time::Duration,
) -> Result<Vec<String>> {
    if layout.tag_document_key(name, "x").is_none() {
        return Ok(Vec::new());
    }
    let prefix = layout.name_prefix(name);
    let listing = store.list(&prefix).await?;
    let mut documents = std::collections::HashSet::new();
    let mut newest: std::collections::BTreeMap<String, Option<SystemTime>> = Default::default();
    for o in &listing {
        let rest = &o.key[prefix.len()..];
        match rest.split_once('/') {
            None => {
                documents.insert(rest.to_string());
            }
            Some((tag, _)) => {
                let t = newest.entry(tag.to_string()).or_insert(o.modified);
                *t = (*t).max(o.modified);
            }
        }
    }
    let now = crate::clock::system_now();
    Ok(newest
        .into_iter()
        .filter(|(tag, t)| !documents.contains(tag) && t.is_some_and(|t| t + grace <= now))
        .map(|(tag, _)| tag)
        .collect())
}

/// When a release was published: its first file's time.
pub fn published(r: &ListedRelease) -> Option<SystemTime> {
    r.files.iter().filter_map(|f| f.modified).min()
}

/// `ls` rows of `releases`.
pub fn rows(releases: &[ListedRelease]) -> Vec<ReleaseRow> {
    releases
        .iter()
        .map(|r| {
            let mut platforms: Vec<String> =
                r.files.iter().map(|f| f.platform.to_string()).collect();
            platforms.sort();
            platforms.dedup();
            ReleaseRow {
                tag: r.tag.clone(),
                class: r.class.as_str(),
                published: published(r).map(crate::clock::rfc3339_of),
                platforms,
                size: r.files.iter().map(|f| f.size).sum(),
                checksums: r.checksums.is_some(),
                provenance: r.provenance.is_some(),
                reproduced: None,
            }
        })
        .collect()
}

/// Fills in each row's `reproduced` from the statements the releases
/// have (one bounded read each; a statement that cannot be read says so).
pub async fn read_reproduced(
    store: &ObjectStore,
    (layout, name): (Layout, &str),
    listed: &[ListedRelease],
    rows: &mut [ReleaseRow],
) -> Result<()> {
    for (r, row) in listed.iter().zip(rows.iter_mut()) {
        let file = crate::provenance::reproduced::file_name(name, &r.tag);
        let key = format!("{}{file}", layout.release_prefix(name, &r.tag));
        if !r.artifacts.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let bytes = match store.get_capped(&key, crate::bounds::DOCUMENT_CAP).await {
            Err(crate::errors::Error::Untrusted { .. }) | Ok(None) => None,
            other => other?,
        };
        row.reproduced = Some(
            match bytes.map(|b| crate::provenance::reproduced::read(&b, None)) {
                Some(Ok(st)) => format!(
                    "by {} on {}",
                    st.predicate.rebuilder.id, st.predicate.builder.store
                ),
                _ => "a statement that cannot be read".into(),
            },
        );
    }
    Ok(())
}

/// What removing releases from one destination deletes.
#[derive(Debug, Clone, Default)]
pub struct StaticRemoval {
    /// What makes the releases visible: the tag documents (or, in Garage's
    /// layout, which has none, the binaries the index lists).
    pub hide: Vec<String>,
    /// Everything else under the releases' prefixes, provenance and
    /// checksums before the files they cover.
    pub content: Vec<String>,
    /// The plan's objects.
    pub objects: Vec<PlannedObject>,
}

/// Reads `store` and plans the removal of `tags` (those it has).
pub async fn plan_removal(
    store: &ObjectStore,
    destination: &str,
    layout: Layout,
    name: &str,
    tags: &[String],
) -> Result<StaticRemoval> {
    let mut out = StaticRemoval::default();
    let object = |phase, key: &str, size| PlannedObject {
        destination: destination.to_string(),
        phase,
        action: Action::Delete,
        key: key.to_string(),
        size: Some(size),
        digest: None,
        content_type: None,
    };
    for tag in tags {
        let prefix = layout.release_prefix(name, tag);
        let listing = store.list(&prefix).await?;
        if let Some(key) = layout.tag_document_key(name, tag) {
            if store.exists(&key).await? {
                out.objects.push(object(Phase::TagDocument, &key, 0));
                out.hide.push(key);
            }
        }
        let mut files = Vec::new();
        for o in &listing {
            let path = &o.key[prefix.len()..];
            let phase = if path == SHA256SUMS {
                Phase::Checksums
            } else if path.ends_with(".intoto.jsonl") {
                Phase::Provenance
            } else if layout == Layout::Garage
                && layout.platform_of(path).is_some()
                && !path.ends_with(".sha256")
            {
                // Garage's layout has no tag document: the binaries are what
                // makes a release visible in its index.
                out.hide.push(o.key.clone());
                out.objects.push(object(Phase::TagDocument, &o.key, o.size));
                continue;
            } else {
                Phase::Files
            };
            files.push((phase.deletion_rank(), o.key.clone(), o.size, phase));
        }
        files.sort_by_key(|(rank, ..)| *rank);
        for (_, key, size, phase) in files {
            out.objects.push(object(phase, &key, size));
            out.content.push(key);
        }
    }
    if !out.objects.is_empty() {
        for key in crate::publish::statics::shared_document_keys(layout, name) {
            out.objects.push(PlannedObject {
                destination: destination.to_string(),
                phase: Phase::SharedDocuments,
                action: Action::Converge,
                key: key.0,
                size: None,
                digest: None,
                content_type: Some(key.1.into()),
            });
        }
    }
    Ok(out)
}

/// Runs a removal in its order; returns the tags the name document lists after.
///
/// Before the tag documents go, the shared documents are written once
/// without the removed releases, so that a run stopped at any point leaves
/// no document naming a tag document that is gone.
pub async fn execute_removal(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    tags: &[String],
    removal: &StaticRemoval,
) -> Result<Vec<String>> {
    let prefixes: Vec<String> = tags
        .iter()
        .map(|t| layout.release_prefix(name, t))
        .collect();
    let listing: Vec<crate::objstore::ObjectMeta> = store
        .list(&layout.name_prefix(name))
        .await?
        .into_iter()
        .filter(|o| {
            !prefixes
                .iter()
                .any(|p| o.key.starts_with(p.as_str()) || o.key == p.trim_end_matches('/'))
        })
        .collect();
    let notes = crate::publish::statics::page_notes(store, layout, name).await?;
    for (key, bytes, ctype) in crate::publish::statics::derive(layout, name, &listing, &notes) {
        store
            .put(&key, crate::objstore::Body::Bytes(bytes), ctype)
            .await?;
    }
    store.delete_many(&removal.hide).await?;
    let tags = converge_shared_documents(store, layout, name).await?;
    store.delete_many(&removal.content).await?;
    Ok(tags)
}
