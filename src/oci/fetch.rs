//! Reading a published image back, byte for byte: the index a tag points
//! at, its manifests, and every blob (streamed into files), as an
//! [`ImageSet`] that the pushers take as they take a converted one. So a
//! promote pushes exactly the source's bytes: the index digest stays.

use std::path::Path;

use super::document::{Descriptor, INDEX_MEDIA_TYPE};
use super::registry::Registry;
use super::scheme::{self, Shape};
use super::{Blob, Document, ImageSet};
use crate::digest::Digest;
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
    /// The document at `reference`: a tag (of the OCI tag rules), or a
    /// digest, whose bytes must hash to it. At most
    /// [`super::pull::MANIFEST_CAP`] bytes.
    pub(crate) async fn document(&self, reference: &str) -> Result<Option<Vec<u8>>> {
        let by_digest = Digest::parse(reference).ok();
        if by_digest.is_none() && !super::document::is_tag(reference) {
            return Err(self.untrusted(
                reference.chars().take(140).collect(),
                "neither a digest nor a tag (the OCI tag rules)".into(),
            ));
        }
        let cap = super::pull::MANIFEST_CAP;
        let bytes = match self {
            Source::Registry(r) => return r.raw_document(reference).await,
            Source::Store(s, Shape::StaticRegistry, name) => {
                s.get_capped(&scheme::tag_key(name, reference), cap).await?
            }
            Source::Store(s, Shape::Layout, _) => {
                let digest: Digest = match by_digest.clone() {
                    Some(d) => d,
                    None => {
                        let index = s.get_capped("index.json", cap).await?.unwrap_or_default();
                        match scheme::layout_refs(&index)
                            .into_iter()
                            .find(|(t, _)| t == reference)
                        {
                            Some((_, d)) => d,
                            None => return Ok(None),
                        }
                    }
                };
                s.get_capped(&Shape::Layout.blob("", &digest), cap).await?
            }
        };
        if let (Some(want), Some(b)) = (&by_digest, &bytes) {
            let got = Digest::of(b);
            if got != *want {
                return Err(self.untrusted(
                    format!("manifests/{want}"),
                    format!("its bytes hash to {got}"),
                ));
            }
        }
        Ok(bytes)
    }

    /// What refers to `subject`: the registry's referrers API (which falls
    /// back to the referrers tag), or the fallback tag of a bucket or layout.
    pub(crate) async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>> {
        match self {
            Source::Registry(r) => r.referrers(subject).await,
            Source::Store(..) => {
                let tag = super::referrers::fallback_tag(subject);
                let listed = self.document(&tag).await?.unwrap_or_default();
                Ok(super::referrers::referrers_of(&listed))
            }
        }
    }

    /// Streams the blob `d` names into `to`: its size and digest checked,
    /// never more bytes than its descriptor says.
    pub(crate) async fn blob(&self, d: &Descriptor, to: &Path) -> Result<()> {
        let digest = &d.digest;
        let found = match self {
            Source::Registry(r) => r.pull_blob_to(digest, d.size, to).await?,
            Source::Store(s, shape, name) => {
                let key = shape.blob(name, digest);
                match s.download(&key, to, d.size).await? {
                    None => false,
                    Some(got) if got.digest == *digest && got.size == d.size => true,
                    Some(got) => {
                        return Err(self.untrusted(
                            format!("blobs/{digest}"),
                            format!(
                                "{} bytes hashing to {}, not {} bytes of {digest}",
                                got.size, got.digest, d.size
                            ),
                        ))
                    }
                }
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

    fn untrusted(&self, what: String, message: String) -> Error {
        Error::Untrusted {
            source_name: self.describe(),
            what,
            message,
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

/// The documents an image is made of, as read: only the fields used here.
#[derive(serde::Deserialize)]
struct IndexRead {
    manifests: Vec<Descriptor>,
}

#[derive(serde::Deserialize)]
struct ManifestRead {
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

fn parse<T: serde::de::DeserializeOwned>(
    source: &Source<'_>,
    what: &str,
    bytes: &[u8],
) -> Result<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| source.untrusted(what.to_string(), format!("cannot be read: {e}")))
}

/// Reads `tag` from `source` into an [`ImageSet`], blobs streamed into
/// files under `dir`. `None` when the tag is not there. Every document and
/// blob is checked against the digest that names it; a descriptor that
/// does not parse (a digest that is a path) fails the read.
pub async fn fetch_image(source: &Source<'_>, tag: &str, dir: &Path) -> Result<Option<ImageSet>> {
    let Some(index_bytes) = source.document(tag).await? else {
        return Ok(None);
    };
    let index: IndexRead = parse(source, &format!("manifests/{tag}"), &index_bytes)?;
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
    for entry in index.manifests {
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
            .ok_or_else(|| {
                source.untrusted(
                    format!("manifests/{tag}"),
                    format!(
                        "the index entry {} names no platform this tool knows",
                        entry.digest
                    ),
                )
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
    digest: &Digest,
    dir: &Path,
    set: &mut ImageSet,
) -> Result<Vec<u8>> {
    let what = format!("manifests/{digest}");
    let Some(bytes) = source.document(digest).await? else {
        return Err(source.untrusted(
            what,
            "the index names this manifest, which is missing".into(),
        ));
    };
    let manifest: ManifestRead = parse(source, &what, &bytes)?;
    for d in std::iter::once(manifest.config).chain(manifest.layers) {
        if set.blobs.iter().any(|b| b.descriptor.digest == d.digest) {
            continue;
        }
        // The digest parsed, so its hex is a safe file name.
        let path = dir.join(d.hex());
        source.blob(&d, &path).await?;
        set.blobs.push(Blob {
            descriptor: d,
            path,
        });
    }
    Ok(bytes)
}
