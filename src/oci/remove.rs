//! Removing image tags, and then what no remaining tag reaches.
//!
//! Order, at every kind of destination: the tag first (so no client finds a
//! half-removed image), then the tag list, then the manifests and blobs that
//! no remaining tag reaches (indexes before their manifests, manifests
//! before their blobs). The remaining tags are read again just before
//! anything but the tag is deleted.
//!
//! - **Registry.** docker-registry 2.8 cannot delete a tag (it answers 400
//!   to a DELETE by tag), and a DELETE by digest removes every tag on that
//!   digest. So a removed tag is first pointed at a placeholder (an empty
//!   index unique to this removal), and the placeholder is deleted by
//!   digest: only that tag goes. Before that, a DELETE of a digest that
//!   does not exist asks whether the registry deletes at all (405: it does
//!   not), so a refusing registry is found before anything changes.
//!   oci-client has no DELETE, so the few requests here are made with
//!   reqwest, with the same credentials (basic, or a bearer token obtained
//!   from the registry's challenge).
//! - **Static registry** (bucket) and **OCI layout** (directory): the same
//!   order over `v2/<name>/…` and `blobs/sha256/…`.

use http::StatusCode;

use super::document::INDEX_MEDIA_TYPE;
use super::pull::Scope;
use super::reach::{refs_of, Reach};
use super::registry::Registry;
use super::scheme::{self, layout_refs, tag_key, Shape};
use crate::digest::Digest;
use crate::errors::{Error, Result};
use crate::objstore::{Body, ObjectStore};

/// Media types accepted when reading a tag.
const ACCEPTED: &[&str] = &[
    INDEX_MEDIA_TYPE,
    super::document::MANIFEST_MEDIA_TYPE,
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// What one tag reaches, and the digest it points at.
#[derive(Debug, Clone)]
pub struct TagReach {
    /// The index (or manifest) the tag points at.
    pub digest: Digest,
    /// Everything it reaches.
    pub reach: Reach,
}

impl Registry {
    /// Every tag of the repository (at most [`super::pull::TAG_PAGES`] pages).
    pub async fn tags(&self) -> Result<Vec<String>> {
        self.list_tags_capped().await
    }

    /// The document at `reference` (a tag or a digest), capped, and its
    /// digest (computed from the bytes; a document read by digest must hash
    /// to it).
    async fn document(&self, reference: &str) -> Result<Option<(Vec<u8>, Digest)>> {
        if Digest::parse(reference).is_err() && !super::document::is_tag(reference) {
            return Err(Error::Untrusted {
                source_name: self.describe(),
                what: reference.chars().take(140).collect(),
                message: "neither a digest nor a tag (the OCI tag rules)".into(),
            });
        }
        let Some(bytes) = self
            .get_document(&format!("manifests/{reference}"), ACCEPTED)
            .await?
        else {
            return Ok(None);
        };
        let digest = Digest::of(&bytes);
        if reference.starts_with("sha256:") && digest != reference {
            return Err(Error::Untrusted {
                source_name: self.describe(),
                what: format!("manifests/{reference}"),
                message: format!("the registry sent a document hashing to {digest}"),
            });
        }
        Ok(Some((bytes, digest)))
    }

    /// The bytes of the document at `reference`: a digest, or a tag (of the
    /// tag rules, or a referrers fallback tag).
    pub(crate) async fn raw_document(&self, reference: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.document(reference).await?.map(|(bytes, _)| bytes))
    }

    /// Streams blob `digest` (of `size` bytes) into the file `to`, checked;
    /// false when it is missing.
    pub(crate) async fn pull_blob_to(
        &self,
        digest: &Digest,
        size: u64,
        to: &std::path::Path,
    ) -> Result<bool> {
        self.pull_blob_checked(digest, size, to).await
    }

    /// What `tag` reaches; `None` when the tag is not there.
    pub async fn reach_of(&self, tag: &str) -> Result<Option<TagReach>> {
        let Some((bytes, digest)) = self.document(tag).await? else {
            return Ok(None);
        };
        let mut out = TagReach {
            digest: digest.clone(),
            reach: Reach::default(),
        };
        let refs = refs_of(&bytes);
        out.reach.add(&digest, &refs);
        for m in &refs.manifests {
            if let Some((bytes, _)) = self.document(m).await? {
                out.reach.add(m, &refs_of(&bytes));
            }
        }
        Ok(Some(out))
    }

    /// One DELETE or PUT with the credentials; its status.
    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<StatusCode> {
        let op = if method == http::Method::PUT {
            "PUT"
        } else {
            "DELETE"
        };
        let body = body.map(|b| (b, INDEX_MEDIA_TYPE));
        let work = self.request(method, path, body, &[], Scope::Delete);
        let response = crate::bounds::within(super::pull::DOCUMENT_DEADLINE, work, |m| {
            self.raw_error(op, path, &m)
        })
        .await?;
        Ok(response.status())
    }

    /// Asks whether the registry deletes, without changing anything: a
    /// DELETE of a digest no one has.
    pub async fn probe_delete(&self) -> Result<()> {
        let nothing = format!("sha256:{}", "0".repeat(64));
        let status = self
            .send(http::Method::DELETE, &format!("manifests/{nothing}"), None)
            .await?;
        match status {
            StatusCode::NOT_FOUND | StatusCode::ACCEPTED | StatusCode::OK => Ok(()),
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => {
                Err(Error::DeleteRefused {
                    registry: self.describe(),
                    status: format!("HTTP {status} to DELETE"),
                })
            }
            other => Err(self.raw_error("DELETE", &nothing, &format!("HTTP {other}"))),
        }
    }

    /// Removes `tag` alone: points it at a placeholder made for this
    /// removal, then deletes the placeholder by digest.
    pub async fn untag(&self, tag: &str) -> Result<()> {
        let placeholder = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [],
            "annotations": {
                "org.opencontainers.image.description": "removed by cargo release-dist rm",
                "dev.release-dist.removed": format!("{tag} {}", crate::clock::now()),
                "dev.release-dist.nonce": format!("{}", std::process::id()),
            }
        }))
        .unwrap_or_default();
        let digest = super::document::digest_of(&placeholder);
        let put = self
            .send(
                http::Method::PUT,
                &format!("manifests/{tag}"),
                Some(placeholder),
            )
            .await?;
        if !put.is_success() {
            return Err(self.raw_error("PUT placeholder for", tag, &format!("HTTP {put}")));
        }
        self.delete_reference(&format!("manifests/{digest}"))
            .await?;
        crate::events::deleted(|| self.describe(), &format!("manifests/{tag}"));
        Ok(())
    }

    /// Deletes `manifests/<digest>` or `blobs/<digest>`; one that is gone
    /// counts as deleted.
    pub async fn delete_reference(&self, path: &str) -> Result<()> {
        let status = self.send(http::Method::DELETE, path, None).await?;
        match status {
            s if s.is_success() || s == StatusCode::NOT_FOUND => {
                crate::events::deleted(|| self.describe(), path);
                Ok(())
            }
            StatusCode::METHOD_NOT_ALLOWED => Err(Error::DeleteRefused {
                registry: self.describe(),
                status: format!("HTTP {status} to DELETE {path}"),
            }),
            other => Err(self.raw_error("DELETE", path, &format!("HTTP {other}"))),
        }
    }
}

/// The tags a bucket or layout holds: (tag, the digest it points at).
pub async fn store_tags(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
) -> Result<Vec<(String, Digest)>> {
    match shape {
        Shape::StaticRegistry => {
            let prefix = shape.manifest_prefix(name);
            let listing = store.list(&prefix).await?;
            let mut out = Vec::new();
            for tag in scheme::tags_of(&prefix, listing.iter().map(|o| o.key.as_str())) {
                let key = tag_key(name, &tag);
                if let Some(bytes) = store.get_capped(&key, super::pull::MANIFEST_CAP).await? {
                    out.push((tag, super::document::digest_of(&bytes)));
                }
            }
            Ok(out)
        }
        Shape::Layout => {
            let index = store
                .get_capped("index.json", super::pull::MANIFEST_CAP)
                .await?
                .unwrap_or_default();
            Ok(layout_refs(&index))
        }
    }
}

/// What the document at `digest` reaches in a bucket or layout.
pub async fn store_reach(
    store: &ObjectStore,
    shape: Shape,
    name: &str,
    digest: &Digest,
) -> Result<Reach> {
    let key = |d: &Digest| shape.manifest(name, d);
    let mut reach = Reach::default();
    let bytes = checked_document(store, &key(digest), digest).await?;
    let refs = refs_of(&bytes);
    reach.add(digest, &refs);
    for m in &refs.manifests {
        let bytes = checked_document(store, &key(m), m).await?;
        reach.add(m, &refs_of(&bytes));
    }
    Ok(reach)
}

/// The document at `key`, which must hash to `digest` (a missing one names
/// nothing). One that does not is refused: what it names cannot be known,
/// so nothing is removed on its account.
async fn checked_document(store: &ObjectStore, key: &str, digest: &Digest) -> Result<Vec<u8>> {
    let bytes = store
        .get_capped(key, super::pull::MANIFEST_CAP)
        .await?
        .unwrap_or_default();
    if !bytes.is_empty() && Digest::of(&bytes) != *digest {
        return Err(Error::Untrusted {
            source_name: store.describe(),
            what: key.to_string(),
            message: format!(
                "it hashes to {}, not to its digest: nothing is removed while it is there",
                Digest::of(&bytes)
            ),
        });
    }
    Ok(bytes)
}

/// Removes `tags` from a layout's index.json (the other tags stay).
pub async fn layout_untag(store: &ObjectStore, tags: &[String]) -> Result<()> {
    let old = store.get("index.json").await?.unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_slice(&old).unwrap_or_default();
    if let Some(entries) = v.get_mut("manifests").and_then(|m| m.as_array_mut()) {
        entries.retain(|e| {
            e["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .is_none_or(|t| !tags.iter().any(|r| r == t))
        });
    }
    let bytes = serde_json::to_vec_pretty(&v).unwrap_or_default();
    store
        .put("index.json", Body::Bytes(bytes), INDEX_MEDIA_TYPE)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_document_that_is_not_what_its_digest_says_blocks_a_removal() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&crate::objstore::Location::Local(dir.path().into()))
            .await
            .unwrap();
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        let digest = Digest::of(index);
        let key = format!("blobs/sha256/{}", digest.hex());
        store
            .put(&key, Body::Bytes(index.to_vec()), "x")
            .await
            .unwrap();
        let reach = store_reach(&store, Shape::Layout, "x", &digest)
            .await
            .unwrap();
        assert!(reach.manifests.contains(&digest));
        // The same key with other bytes: what it names cannot be known.
        let other = br#"{"schemaVersion":2,"manifests":[],"x":1}"#;
        store
            .put(&key, Body::Bytes(other.to_vec()), "x")
            .await
            .unwrap();
        let e = store_reach(&store, Shape::Layout, "x", &digest)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not to its digest"), "{e}");
    }
}
