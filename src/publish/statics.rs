//! Publishing one release's static files to one object store, in an order
//! that makes the release appear whole or not at all: files (each followed
//! by its `.sha256`), then `SHA256SUMS`, then the provenance, then the tag
//! document, then the name document and the index.

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::index::{index_html, index_json, releases, INDEX_HTML, INDEX_JSON};
use super::layout::{
    content_type, name_document, parse_sha256sums, sidecar, tag_document, tags_of_name_document,
    Layout, ReleaseFile, SHA256SUMS,
};
use crate::errors::{Error, Result};
use crate::objstore::{converge, Body, Derived, ObjectMeta, ObjectStore};
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

/// Publishes `rel` to `store`.
pub async fn publish_static(store: &ObjectStore, rel: &StaticRelease<'_>) -> Result<StaticSummary> {
    let prefix = rel.layout.release_prefix(rel.name, &rel.release.tag);
    let mut summary = StaticSummary {
        store: store.describe(),
        ..Default::default()
    };
    store.check_access().await?;

    let sums_key = format!("{prefix}{SHA256SUMS}");
    let existing = store.get(&sums_key).await?;
    if let Some(existing) = &existing {
        if existing == rel.sha256sums.as_bytes() {
            summary.already_published = true;
        } else if rel.release.class == Class::Stable && !rel.force {
            return Err(Error::StableTagExists {
                tag: rel.release.tag.clone(),
                store: store.describe(),
                changed: changed_files(&String::from_utf8_lossy(existing), &rel.sha256sums),
            });
        }
    }

    // 1. Files, each followed by its .sha256; a file whose .sha256 already
    //    says the same is not uploaded again (a re-run after a crash).
    let results: Vec<(bool, u64)> = futures::stream::iter(rel.files.iter().map(|f| {
        let key = format!("{prefix}{}", rel.layout.file_path(f.platform, &f.file));
        async move {
            let side_key = format!("{key}.sha256");
            let side = sidecar(&f.sha256, &f.file);
            // --force uploads every file again (repairs a tampered object).
            let same = !rel.force
                && store.get(&side_key).await?.as_deref() == Some(side.as_bytes())
                && store.exists(&key).await?;
            if same {
                return Ok::<_, Error>((false, 0));
            }
            store
                .put(&key, Body::File(f.local.clone()), content_type::BINARY)
                .await?;
            store
                .put(
                    &side_key,
                    Body::Bytes(side.into_bytes()),
                    content_type::TEXT,
                )
                .await?;
            Ok((true, f.size))
        }
    }))
    .buffer_unordered(FILES_IN_FLIGHT)
    .try_collect()
    .await?;
    for (uploaded, bytes) in results {
        if uploaded {
            summary.uploaded += 1;
            summary.uploaded_bytes += bytes;
        } else {
            summary.skipped += 1;
        }
    }

    // 2. The checksums, 3. the provenance (kept when the release is unchanged).
    if !summary.already_published {
        store
            .put(
                &sums_key,
                Body::Bytes(rel.sha256sums.clone().into_bytes()),
                content_type::TEXT,
            )
            .await?;
    }
    let bundle_key = format!("{prefix}{}", rel.provenance.0);
    if !summary.already_published || !store.exists(&bundle_key).await? {
        store
            .put(
                &bundle_key,
                Body::Bytes(rel.provenance.1.clone()),
                CONTENT_TYPE_BUNDLE,
            )
            .await?;
    }

    // 4. The tag document: from here on the release is visible.
    if let Some(key) = rel.layout.tag_document_key(rel.name, &rel.release.tag) {
        let doc = serde_json::to_vec(&tag_document(rel.files)).unwrap_or_default();
        if store.get(&key).await?.as_deref() != Some(doc.as_slice()) {
            store
                .put(&key, Body::Bytes(doc), content_type::JSON)
                .await?;
        }
    }

    // 5. The shared documents, derived from what the store holds.
    summary.tags = converge_shared_documents(store, rel.layout, rel.name).await?;
    Ok(summary)
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
    let relisted = converge(store, &layout.name_prefix(name), &|listing| {
        derive(layout, name, listing)
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

/// The shared documents a listing gives: (key, bytes, content type).
fn derive(layout: Layout, name: &str, listing: &[ObjectMeta]) -> Derived {
    let all = releases(layout, name, listing);
    let mut docs = Vec::new();
    if let Some(key) = layout.name_document_key(name) {
        // Tags are the tag documents: keys right under the name prefix.
        let prefix = layout.name_prefix(name);
        let tags: Vec<String> = listing
            .iter()
            .filter_map(|o| o.key.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect();
        let doc = serde_json::to_vec(&name_document(name, &tags)).unwrap_or_default();
        docs.push((key, doc, content_type::JSON));
    }
    let json = serde_json::to_vec_pretty(&index_json(layout, &all)).unwrap_or_default();
    docs.push((INDEX_JSON.to_string(), json, content_type::JSON));
    docs.push((
        INDEX_HTML.to_string(),
        index_html(name, &all).into_bytes(),
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
