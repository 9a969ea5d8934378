//! Reading a published image back, byte for byte: the index a tag points
//! at, its manifests, and every blob (streamed into files), as an
//! [`ImageSet`] that the pushers take as they take a converted one. So a
//! promote pushes exactly the source's bytes: the index digest stays.

use std::path::Path;

use super::bucket::Shape;
use super::document::{Descriptor, INDEX_MEDIA_TYPE};
use super::registry::Registry;
use super::{Blob, Document, ImageSet};
use crate::errors::{Error, Result};
use crate::objstore::ObjectStore;
use crate::platform::Platform;

/// Where the source's documents and blobs are read from: a registry, or a
/// bucket or directory in its shape, holding image `name`.
pub enum Source<'a> {
    /// A registry.
    Registry(&'a Registry),
    /// A static registry or an OCI layout, and the image's name.
    Store(&'a ObjectStore, Shape, &'a str),
}

impl Source<'_> {
    /// The document at `reference` (a tag or a digest).
    pub(crate) async fn document(&self, reference: &str) -> Result<Option<Vec<u8>>> {
        match self {
            Source::Registry(r) => r.raw_document(reference).await,
            Source::Store(s, Shape::StaticRegistry, name) => {
                s.get(&format!("v2/{name}/manifests/{reference}")).await
            }
            Source::Store(s, Shape::Layout, _) => {
                let digest = if reference.starts_with("sha256:") {
                    reference.to_string()
                } else {
                    let index = s.get("index.json").await?.unwrap_or_default();
                    match super::remove::layout_refs(&index)
                        .into_iter()
                        .find(|(t, _)| t == reference)
                    {
                        Some((_, d)) => d,
                        None => return Ok(None),
                    }
                };
                s.get(&format!(
                    "blobs/sha256/{}",
                    digest.trim_start_matches("sha256:")
                ))
                .await
            }
        }
    }

    /// What refers to `subject`: the registry's referrers API (which falls
    /// back to the referrers tag), or the fallback tag of a bucket or layout.
    pub(crate) async fn referrers(&self, subject: &str) -> Result<Vec<Descriptor>> {
        match self {
            Source::Registry(r) => r.referrers(subject).await,
            Source::Store(..) => {
                let tag = super::referrers::fallback_tag(subject);
                let listed = self.document(&tag).await?.unwrap_or_default();
                Ok(super::referrers::referrers_of(&listed))
            }
        }
    }

    /// Streams blob `digest` into `to`.
    pub(crate) async fn blob(&self, digest: &str, to: &Path) -> Result<()> {
        let found = match self {
            Source::Registry(r) => r.pull_blob_to(digest, to).await?,
            Source::Store(s, Shape::StaticRegistry, name) => {
                s.download(&format!("v2/{name}/blobs/{digest}"), to).await?
            }
            Source::Store(s, Shape::Layout, _) => {
                s.download(
                    &format!("blobs/sha256/{}", digest.trim_start_matches("sha256:")),
                    to,
                )
                .await?
            }
        };
        if found {
            Ok(())
        } else {
            Err(Error::Store {
                store: self.describe(),
                op: "GET",
                key: format!("blobs/{digest}"),
                kind: crate::errors::StoreErrorKind::Other,
                message: "a manifest of the source names this blob, which is missing".into(),
            })
        }
    }

    /// For messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Source::Registry(r) => r.describe(),
            Source::Store(s, _, _) => s.describe(),
        }
    }
}

fn descriptors(doc: &serde_json::Value, field: &str) -> Vec<Descriptor> {
    doc.get(field)
        .and_then(|m| serde_json::from_value::<Vec<Descriptor>>(m.clone()).ok())
        .unwrap_or_default()
}

/// Reads `tag` from `source` into an [`ImageSet`], blobs streamed into
/// files under `dir`. `None` when the tag is not there.
pub async fn fetch_image(source: &Source<'_>, tag: &str, dir: &Path) -> Result<Option<ImageSet>> {
    let Some(index_bytes) = source.document(tag).await? else {
        return Ok(None);
    };
    let index: serde_json::Value = serde_json::from_slice(&index_bytes).unwrap_or_default();
    let mut set = ImageSet {
        blobs: Vec::new(),
        manifests: Vec::new(),
        index: Document {
            descriptor: Descriptor::of(INDEX_MEDIA_TYPE, &index_bytes),
            bytes: index_bytes.clone(),
        },
        referrers: Vec::new(),
    };
    std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
    for entry in descriptors(&index, "manifests") {
        let bytes = manifest_with_blobs(source, &entry.digest, dir, &mut set).await?;
        let platform = entry
            .platform
            .as_ref()
            .and_then(|p| {
                let text = match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                };
                Platform::parse_any(&text)
            })
            .ok_or_else(|| Error::Store {
                store: source.describe(),
                op: "read",
                key: format!("manifests/{tag}"),
                kind: crate::errors::StoreErrorKind::Other,
                message: format!(
                    "the index entry {} names no platform this tool knows",
                    entry.digest
                ),
            })?;
        let mut descriptor = Descriptor::of(&entry.media_type, &bytes);
        descriptor.platform = entry.platform.clone();
        set.manifests
            .push((platform, Document { descriptor, bytes }));
    }
    // What refers to the index (its attestation) travels with it.
    for entry in source.referrers(&set.index.descriptor.digest).await? {
        if entry.media_type != super::document::MANIFEST_MEDIA_TYPE {
            continue;
        }
        let bytes = manifest_with_blobs(source, &entry.digest, dir, &mut set).await?;
        let mut descriptor = entry.clone();
        descriptor.digest = super::document::digest_of(&bytes);
        descriptor.size = bytes.len() as u64;
        set.referrers.push(Document { descriptor, bytes });
    }
    Ok(Some(set))
}

/// Reads the manifest at `digest` and streams the blobs it names (that the
/// set has not yet) into `dir`, adding them to `set`. Returns its bytes.
async fn manifest_with_blobs(
    source: &Source<'_>,
    digest: &str,
    dir: &Path,
    set: &mut ImageSet,
) -> Result<Vec<u8>> {
    let bytes = source.document(digest).await?.unwrap_or_default();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let config = manifest
        .get("config")
        .and_then(|c| serde_json::from_value::<Descriptor>(c.clone()).ok());
    for d in config.into_iter().chain(descriptors(&manifest, "layers")) {
        if set.blobs.iter().any(|b| b.descriptor.digest == d.digest) {
            continue;
        }
        let path = dir.join(d.hex());
        source.blob(&d.digest, &path).await?;
        set.blobs.push(Blob {
            descriptor: d,
            path,
        });
    }
    Ok(bytes)
}
