//! Images in an object store, in two shapes:
//!
//! - **static registry** (an S3 bucket served by its web endpoint):
//!   `v2/<name>/blobs/sha256:<d>`, `v2/<name>/manifests/sha256:<d>`,
//!   `v2/<name>/manifests/<tag>` (a byte-identical copy of the index),
//!   `v2/<name>/tags/list`, and `v2/index.html` so that `GET /v2/` answers
//!   200. Manifests carry `Content-Type` = their media type; blobs never
//!   carry a `Content-Encoding`.
//! - **OCI image layout** (a directory): `oci-layout`, `blobs/sha256/<hex>`,
//!   and `index.json` naming each tag with `org.opencontainers.image.ref.name`.
//!
//! Blobs first, then manifests and the index by digest; tags in a separate,
//! last phase.

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use super::document::{Descriptor, INDEX_MEDIA_TYPE};
use super::{Blob, ContentPlan, Document, ImageSet, PushStats};
use crate::errors::Result;
use crate::objstore::{converge, Body, Derived, ObjectMeta, ObjectStore};

/// Blobs uploaded at once.
const PARALLEL_BLOBS: usize = 8;
const OCTET: &str = "application/octet-stream";
const JSON: &str = "application/json";

/// The two shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `v2/…`, for an S3 web endpoint.
    StaticRegistry,
    /// An OCI image layout directory.
    Layout,
}

impl Shape {
    fn blob_key(self, name: &str, d: &Descriptor) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/blobs/{}", d.digest),
            Shape::Layout => format!("blobs/sha256/{}", d.hex()),
        }
    }

    fn blob_prefix(self, name: &str) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/blobs/"),
            Shape::Layout => "blobs/sha256/".into(),
        }
    }

    fn manifest_key(self, name: &str, d: &Descriptor) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/manifests/{}", d.digest),
            Shape::Layout => self.blob_key(name, d),
        }
    }

    fn manifest_prefix(self, name: &str) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/manifests/"),
            Shape::Layout => "blobs/sha256/".into(),
        }
    }
}

/// The keys of `set`'s manifests, then its index, in `shape`.
pub fn manifest_keys(shape: Shape, name: &str, set: &ImageSet) -> Vec<String> {
    set.documents()
        .map(|doc| shape.manifest_key(name, &doc.descriptor))
        .collect()
}

/// The key of a blob of `set`.
pub fn blob_key(shape: Shape, name: &str, b: &Blob) -> String {
    shape.blob_key(name, &b.descriptor)
}

/// The marker object of the shape, written first: `v2/index.html` (so that
/// `GET /v2/` answers 200) or `oci-layout`.
pub fn marker(shape: Shape) -> (&'static str, &'static [u8], &'static str) {
    match shape {
        Shape::StaticRegistry => ("v2/index.html", b"{}\n", "text/html"),
        Shape::Layout => ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, JSON),
    }
}

/// Which blobs and manifests of `set` the store has (same key, same size):
/// two listings, nothing written.
pub async fn plan_content(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
    set: &ImageSet,
) -> Result<ContentPlan> {
    let blobs = sizes(&store.list(&shape.blob_prefix(name)).await?);
    let blob_there = set
        .blobs
        .iter()
        .map(|b| blobs.get(&blob_key(shape, name, b)) == Some(&b.descriptor.size))
        .collect();
    let manifests = sizes(&store.list(&shape.manifest_prefix(name)).await?);
    let docs = set.documents();
    let manifest_there = manifest_keys(shape, name, set)
        .iter()
        .zip(docs)
        .map(|(key, doc)| manifests.get(key) == Some(&doc.descriptor.size))
        .collect();
    let old = match set.referrers.is_empty() {
        true => None,
        false => {
            let source = super::fetch::Source::Store(store, shape, name);
            let tag = super::referrers::fallback_tag(&set.index.descriptor.digest);
            source.document(&tag).await?
        }
    };
    Ok(ContentPlan {
        blob_there,
        manifest_there,
        fallback: set.fallback(old.as_deref()),
    })
}

/// The keys the referrers fallback document goes to, in write order: by
/// digest (so that what the tag reaches can be read), then the tag (static
/// registry; a layout names it in index.json).
pub fn fallback_keys(shape: Shape, name: &str, fallback: &(String, Document)) -> Vec<String> {
    let (tag, doc) = fallback;
    match shape {
        Shape::StaticRegistry => vec![
            shape.manifest_key(name, &doc.descriptor),
            format!("v2/{name}/manifests/{tag}"),
        ],
        Shape::Layout => vec![shape.manifest_key(name, &doc.descriptor)],
    }
}

/// Uploads what `plan` says is missing: the marker, blobs, then the
/// manifests and the index by digest.
pub async fn push_content(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
    set: &ImageSet,
    plan: &ContentPlan,
    stats: &mut PushStats,
) -> Result<()> {
    let (key, bytes, ctype) = marker(shape);
    store.put(key, Body::Bytes(bytes.to_vec()), ctype).await?;
    let missing = plan.missing(set);
    stats.blobs_skipped += set.blobs.len() - missing.len();
    let jobs: Vec<(String, &Blob)> = missing
        .iter()
        .map(|b| (blob_key(shape, name, b), *b))
        .collect();
    futures::stream::iter(jobs.iter())
        .map(|(key, b)| store.put(key, Body::File(b.path.clone()), OCTET))
        .buffer_unordered(PARALLEL_BLOBS)
        .try_collect::<Vec<()>>()
        .await?;
    stats.blobs_uploaded += missing.len();
    stats.bytes_uploaded += missing.iter().map(|b| b.descriptor.size).sum::<u64>();

    let docs = set.documents();
    for ((key, doc), there) in manifest_keys(shape, name, set)
        .iter()
        .zip(docs)
        .zip(&plan.manifest_there)
    {
        if !there {
            put_document(store, key, doc).await?;
        }
        stats.manifests += 1;
    }
    Ok(())
}

async fn put_document(store: &ObjectStore, key: &str, doc: &Document) -> Result<()> {
    store
        .put(
            key,
            Body::Bytes(doc.bytes.clone()),
            &doc.descriptor.media_type,
        )
        .await
}

fn sizes(listing: &[ObjectMeta]) -> HashMap<String, u64> {
    listing.iter().map(|o| (o.key.clone(), o.size)).collect()
}

/// Points the referrers fallback tag at what `plan` merged and `tags` at
/// the index, then updates the tag list (static registry: `tags/list`,
/// converged against concurrent publishers) or `index.json` (layout).
/// Returns every release tag the destination now lists.
pub async fn push_tags(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
    (set, plan): (&ImageSet, &ContentPlan),
    tags: &[String],
) -> Result<Vec<String>> {
    if let Some(fallback) = &plan.fallback {
        for key in fallback_keys(shape, name, fallback) {
            put_document(store, &key, &fallback.1).await?;
        }
    }
    match shape {
        Shape::StaticRegistry => {
            for t in tags {
                put_document(store, &format!("v2/{name}/manifests/{t}"), &set.index).await?;
            }
            let prefix = format!("v2/{name}/manifests/");
            let list_key = format!("v2/{name}/tags/list");
            let derive = |listing: &[ObjectMeta]| -> Derived {
                let doc = json!({"name": name, "tags": tags_of(&prefix, listing)});
                vec![(
                    list_key.clone(),
                    serde_json::to_vec(&doc).unwrap_or_default(),
                    JSON,
                )]
            };
            let listing = converge(store, &prefix, &derive).await?;
            Ok(release_tags(tags_of(&prefix, &listing)))
        }
        Shape::Layout => {
            let mut old = store.get("index.json").await?;
            if let Some((tag, doc)) = &plan.fallback {
                old = Some(
                    layout_index(old.as_deref(), &doc.descriptor, std::slice::from_ref(tag)).0,
                );
            }
            let (bytes, all) = layout_index(old.as_deref(), &set.index.descriptor, tags);
            let all = release_tags(all);
            store
                .put("index.json", Body::Bytes(bytes), INDEX_MEDIA_TYPE)
                .await?;
            Ok(all)
        }
    }
}

/// The tags people gave, without the referrers fallback tags.
pub fn release_tags(tags: Vec<String>) -> Vec<String> {
    tags.into_iter()
        .filter(|t| !super::referrers::is_fallback_tag(t))
        .collect()
}

/// Tags under a static registry's `manifests/` prefix: every key that is
/// not a digest.
pub fn tags_of(prefix: &str, listing: &[ObjectMeta]) -> Vec<String> {
    let mut tags: Vec<String> = listing
        .iter()
        .filter_map(|o| o.key.strip_prefix(prefix))
        .filter(|k| !k.contains(':') && !k.contains('/'))
        .map(str::to_string)
        .collect();
    tags.sort();
    tags
}

/// The OCI layout's `index.json` with `tags` pointing at `index` and every
/// other tag kept. Returns its bytes and all tags.
pub fn layout_index(
    old: Option<&[u8]>,
    index: &Descriptor,
    tags: &[String],
) -> (Vec<u8>, Vec<String>) {
    const REF: &str = "org.opencontainers.image.ref.name";
    let mut entries: Vec<serde_json::Value> = old
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v.get("manifests").and_then(|m| m.as_array()).cloned())
        .unwrap_or_default();
    entries.retain(|e| {
        e["annotations"][REF]
            .as_str()
            .is_none_or(|r| !tags.iter().any(|t| t == r))
    });
    for t in tags {
        let mut d = index.clone();
        d.annotations = Some(BTreeMap::from([(REF.to_string(), t.clone())]));
        entries.push(serde_json::to_value(&d).unwrap_or_default());
    }
    let all: Vec<String> = entries
        .iter()
        .filter_map(|e| e["annotations"][REF].as_str().map(str::to_string))
        .collect();
    let doc = json!({"schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE, "manifests": entries});
    (serde_json::to_vec_pretty(&doc).unwrap_or_default(), all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_index_replaces_only_the_same_tags() {
        let a = Descriptor::of(INDEX_MEDIA_TYPE, b"a");
        let b = Descriptor::of(INDEX_MEDIA_TYPE, b"b");
        let (one, _) = layout_index(None, &a, &["v1".into(), "latest".into()]);
        let (two, all) = layout_index(Some(&one), &b, &["latest".into()]);
        assert_eq!(all, ["v1", "latest"]);
        let v: serde_json::Value = serde_json::from_slice(&two).unwrap();
        assert_eq!(v["manifests"][0]["digest"], a.digest.as_str());
        assert_eq!(v["manifests"][1]["digest"], b.digest.as_str());
        assert_eq!(v["mediaType"], INDEX_MEDIA_TYPE);
    }

    #[test]
    fn the_fallback_document_is_written_by_digest_before_its_tag() {
        let bytes = br#"{"schemaVersion":2,"manifests":[]}"#.to_vec();
        let doc = Document {
            descriptor: Descriptor::of(INDEX_MEDIA_TYPE, &bytes),
            bytes,
        };
        let fallback = ("sha256-ab".to_string(), doc.clone());
        assert_eq!(
            fallback_keys(Shape::StaticRegistry, "x", &fallback),
            [
                format!("v2/x/manifests/{}", doc.descriptor.digest),
                "v2/x/manifests/sha256-ab".to_string()
            ],
            "what the tag reaches must be readable once the tag is"
        );
        assert_eq!(
            fallback_keys(Shape::Layout, "x", &fallback),
            [format!("blobs/sha256/{}", doc.descriptor.hex())]
        );
    }

    #[test]
    fn tags_are_the_keys_that_are_not_digests() {
        let meta = |k: &str| ObjectMeta {
            key: k.into(),
            size: 1,
            modified: None,
        };
        let listing = [
            meta("v2/x/manifests/sha256:00"),
            meta("v2/x/manifests/v1.0.0"),
            meta("v2/x/manifests/latest"),
        ];
        assert_eq!(tags_of("v2/x/manifests/", &listing), ["latest", "v1.0.0"]);
    }
}
