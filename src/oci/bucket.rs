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

use std::collections::HashMap;

use serde_json::json;

use super::document::INDEX_MEDIA_TYPE;
use super::scheme::{self, Shape};
use super::{Blob, ContentPlan, Document, ImageSet};
use crate::errors::Result;
use crate::objstore::{converge, Body, Derived, ObjectMeta, ObjectStore};

/// Blobs uploaded at once.
pub const PARALLEL_BLOBS: usize = 8;
/// The Content-Type of blobs in a bucket or layout.
pub const OCTET: &str = "application/octet-stream";
const JSON: &str = "application/json";

/// The keys of `set`'s manifests, then its index, in `shape`.
pub fn manifest_keys(shape: Shape, name: &str, set: &ImageSet) -> Vec<String> {
    set.documents()
        .map(|doc| shape.manifest(name, &doc.descriptor.digest))
        .collect()
}

/// The key of a blob of `set`.
pub fn blob_key(shape: Shape, name: &str, b: &Blob) -> String {
    shape.blob(name, &b.descriptor.digest)
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
            shape.manifest(name, &doc.descriptor.digest),
            scheme::tag_key(name, tag),
        ],
        Shape::Layout => vec![shape.manifest(name, &doc.descriptor.digest)],
    }
}

/// The keys of a listing.
fn keys(listing: &[ObjectMeta]) -> impl Iterator<Item = &str> {
    listing.iter().map(|o| o.key.as_str())
}

fn sizes(listing: &[ObjectMeta]) -> HashMap<String, u64> {
    listing.iter().map(|o| (o.key.clone(), o.size)).collect()
}

/// The document that lists the tags, once the fallback tag and `tags` are
/// written: a static registry's `tags/list`, converged against concurrent
/// publishers, or a layout's `index.json` (the fallback tag and `tags` put
/// in, every other tag kept). Returns every release tag listed.
pub async fn converge_tags(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
    (set, plan): (&ImageSet, &ContentPlan),
    tags: &[String],
) -> Result<Vec<String>> {
    match shape {
        Shape::StaticRegistry => {
            let prefix = shape.manifest_prefix(name);
            let list_key = scheme::tags_list_key(name);
            let derive = |listing: &[ObjectMeta]| -> Derived {
                let doc = json!({"name": name, "tags": scheme::tags_of(&prefix, keys(listing))});
                vec![(
                    list_key.clone(),
                    serde_json::to_vec(&doc).unwrap_or_default(),
                    JSON,
                )]
            };
            let listing = converge(store, &prefix, &derive).await?;
            Ok(scheme::release_tags(scheme::tags_of(
                &prefix,
                keys(&listing),
            )))
        }
        Shape::Layout => {
            let mut old = store.get("index.json").await?;
            if let Some((tag, doc)) = &plan.fallback {
                old = Some(
                    scheme::layout_index(
                        old.as_deref(),
                        &doc.descriptor,
                        std::slice::from_ref(tag),
                    )
                    .0,
                );
            }
            let (bytes, all) = scheme::layout_index(old.as_deref(), &set.index.descriptor, tags);
            let all = scheme::release_tags(all);
            store
                .put("index.json", Body::Bytes(bytes), INDEX_MEDIA_TYPE)
                .await?;
            Ok(all)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::document::Descriptor;
    use super::*;

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
}
