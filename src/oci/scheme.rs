//! Where image objects live in a bucket or a directory: the key scheme of a
//! static registry (`v2/<name>/…`, served by an S3 web endpoint) and of an
//! OCI image layout (`blobs/sha256/…`, `index.json`). Pure: every module
//! that reads, writes or removes image objects in a store asks here.

use std::collections::BTreeMap;

use serde_json::json;

use super::document::{Descriptor, INDEX_MEDIA_TYPE};
use crate::digest::Digest;

/// The two shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `v2/…`, for an S3 web endpoint.
    StaticRegistry,
    /// An OCI image layout directory.
    Layout,
}

/// The tag annotation of an OCI layout's `index.json` entries.
const REF: &str = "org.opencontainers.image.ref.name";

impl Shape {
    /// The key of the blob `digest`.
    pub fn blob(self, name: &str, digest: &Digest) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/blobs/{digest}"),
            Shape::Layout => format!("blobs/sha256/{}", digest.hex()),
        }
    }

    /// The prefix every blob key starts with.
    pub fn blob_prefix(self, name: &str) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/blobs/"),
            Shape::Layout => "blobs/sha256/".into(),
        }
    }

    /// The key of the manifest or index `digest` (a blob, in a layout).
    pub fn manifest(self, name: &str, digest: &Digest) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/manifests/{digest}"),
            Shape::Layout => self.blob(name, digest),
        }
    }

    /// The prefix every manifest key starts with.
    pub fn manifest_prefix(self, name: &str) -> String {
        match self {
            Shape::StaticRegistry => format!("v2/{name}/manifests/"),
            Shape::Layout => "blobs/sha256/".into(),
        }
    }

    /// The marker file that says what the store is: its key, bytes and type.
    pub fn marker(self) -> (&'static str, &'static [u8], &'static str) {
        match self {
            Shape::StaticRegistry => ("v2/index.html", b"{}\n", "text/html"),
            Shape::Layout => (
                "oci-layout",
                br#"{"imageLayoutVersion":"1.0.0"}"#,
                "application/json",
            ),
        }
    }
}

/// A tag's key in a static registry (a layout keeps its tags in `index.json`).
pub fn tag_key(name: &str, tag: &str) -> String {
    format!("v2/{name}/manifests/{tag}")
}

/// A static registry's tag list document (`GET /v2/<name>/tags/list`).
pub fn tags_list_key(name: &str) -> String {
    format!("v2/{name}/tags/list")
}

/// Tags among `keys` under a static registry's `manifests/` prefix: every
/// key that is not a digest, sorted.
pub fn tags_of<'a>(prefix: &str, keys: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut tags: Vec<String> = keys
        .into_iter()
        .filter_map(|k| k.strip_prefix(prefix))
        .filter(|k| !k.contains(':') && !k.contains('/'))
        .map(str::to_string)
        .collect();
    tags.sort();
    tags
}

/// The tags people gave, without the referrers fallback tags.
pub fn release_tags(tags: Vec<String>) -> Vec<String> {
    tags.into_iter()
        .filter(|t| !super::referrers::is_fallback_tag(t))
        .collect()
}

/// `(tag, digest)` of each tagged entry in a layout's `index.json` whose
/// digest parses (the others name nothing).
pub fn layout_refs(index: &[u8]) -> Vec<(String, Digest)> {
    let v: serde_json::Value = serde_json::from_slice(index).unwrap_or_default();
    v.get("manifests")
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let tag = e["annotations"][REF].as_str()?;
                    let digest = Digest::parse(e["digest"].as_str()?).ok()?;
                    Some((tag.to_string(), digest))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The OCI layout's `index.json` with `tags` pointing at `index` and every
/// other tag kept. Returns its bytes and all tags.
pub fn layout_index(
    old: Option<&[u8]>,
    index: &Descriptor,
    tags: &[String],
) -> (Vec<u8>, Vec<String>) {
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
    fn tags_are_the_keys_that_are_not_digests() {
        let listing = [
            "v2/x/manifests/sha256:00",
            "v2/x/manifests/v1.0.0",
            "v2/x/manifests/latest",
        ];
        assert_eq!(tags_of("v2/x/manifests/", listing), ["latest", "v1.0.0"]);
    }

    #[test]
    fn keys_of_each_shape() {
        let d = Descriptor::of(INDEX_MEDIA_TYPE, b"a");
        assert_eq!(
            Shape::StaticRegistry.blob("x", &d.digest),
            format!("v2/x/blobs/{}", d.digest)
        );
        assert_eq!(
            Shape::Layout.manifest("x", &d.digest),
            format!("blobs/sha256/{}", d.hex())
        );
        assert_eq!(tag_key("x", "v1"), "v2/x/manifests/v1");
        let (index, _) = layout_index(None, &d, &["v1".into()]);
        assert_eq!(layout_refs(&index), [("v1".to_string(), d.digest.clone())]);
    }
}
