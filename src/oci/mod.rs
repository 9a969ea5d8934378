//! Container images: docker archives → one multi-arch OCI image index,
//! pushed to registries, to buckets laid out as static registries, and to
//! local OCI layout directories.
//!
//! - [`archive`] reads the archives nixpkgs writes (pure over `Read`);
//! - [`convert`] turns one into an OCI image through a local blob cache;
//! - [`document`] serializes manifests and the index (pure);
//! - [`dest`] parses `--images` destinations;
//! - [`registry`] pushes through oci-client, [`auth`] finds its credentials;
//! - [`bucket`] writes the static-registry and OCI-layout shapes through the
//!   object-store seam.

pub mod auth;
pub mod bucket;
pub mod convert;
pub mod dest;
pub mod document;
pub mod fetch;
pub mod pull;
pub mod reach;
pub mod referrers;
pub mod registry;
pub mod remove;
pub mod scheme;
pub mod token;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::platform::Platform;
use document::{Descriptor, IndexAnnotations, OciPlatform, MANIFEST_MEDIA_TYPE};

/// A blob to push, and where its bytes are.
#[derive(Debug, Clone)]
pub struct Blob {
    /// Its descriptor.
    pub descriptor: Descriptor,
    /// Its file in the blob cache.
    pub path: PathBuf,
}

/// A serialized document (manifest or index): these exact bytes everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Its descriptor (with the platform, for a manifest).
    pub descriptor: Descriptor,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// One release's images: blobs, one manifest per platform, one index.
#[derive(Debug, Clone)]
pub struct ImageSet {
    /// Every config and layer, each once.
    pub blobs: Vec<Blob>,
    /// One manifest per platform, in target order.
    pub manifests: Vec<(Platform, Document)>,
    /// The multi-arch index.
    pub index: Document,
    /// Artifacts that refer to the index (the provenance attestation),
    /// listed by the referrers fallback tag.
    pub referrers: Vec<Document>,
}

impl ImageSet {
    /// Assembles the set from converted images (in target order).
    pub fn assemble(
        cache: &convert::BlobCache,
        images: &[(Platform, convert::Converted)],
        annotations: &IndexAnnotations,
    ) -> ImageSet {
        let mut blobs: BTreeMap<crate::digest::Digest, Blob> = BTreeMap::new();
        let mut manifests = Vec::new();
        for (platform, c) in images {
            for d in std::iter::once(&c.config).chain(&c.layers) {
                blobs.entry(d.digest.clone()).or_insert_with(|| Blob {
                    descriptor: d.clone(),
                    path: cache.blob_path(d),
                });
            }
            let bytes = document::manifest_bytes(&c.config, &c.layers);
            let mut descriptor = Descriptor::of(MANIFEST_MEDIA_TYPE, &bytes);
            descriptor.platform = Some(OciPlatform::of(*platform));
            manifests.push((*platform, Document { descriptor, bytes }));
        }
        let entries: Vec<Descriptor> = manifests
            .iter()
            .map(|(_, m)| m.descriptor.clone())
            .collect();
        let bytes = document::index_bytes(&entries, &annotations.to_map());
        let index = Document {
            descriptor: Descriptor::of(document::INDEX_MEDIA_TYPE, &bytes),
            bytes,
        };
        // Big blobs first, so that the longest uploads start first.
        let mut blobs: Vec<Blob> = blobs.into_values().collect();
        blobs.sort_by_key(|b| std::cmp::Reverse(b.descriptor.size));
        ImageSet {
            blobs,
            manifests,
            index,
            referrers: Vec::new(),
        }
    }

    /// Every document, in push order: the per-platform manifests, the
    /// index, then the referrers (whose subject must be there first).
    pub fn documents(&self) -> impl Iterator<Item = &Document> {
        self.manifests
            .iter()
            .map(|(_, m)| m)
            .chain([&self.index])
            .chain(&self.referrers)
    }

    /// Attaches an attestation of the index: its blobs go into `cache`
    /// (and the set), its manifest among the referrers.
    pub fn attach(
        &mut self,
        cache: &convert::BlobCache,
        attestation: &referrers::Attestation,
        envelope: &[u8],
    ) -> Result<(), convert::CacheError> {
        for (d, bytes) in [
            (&attestation.config, referrers::EMPTY_BYTES),
            (&attestation.layer, envelope),
        ] {
            let path = cache.put_bytes(d, bytes)?;
            if !self.blobs.iter().any(|b| b.descriptor.digest == d.digest) {
                self.blobs.push(Blob {
                    descriptor: d.clone(),
                    path,
                });
            }
        }
        self.referrers.push(Document {
            descriptor: attestation.descriptor.clone(),
            bytes: attestation.manifest.clone(),
        });
        Ok(())
    }

    /// The referrers fallback tag of the index, and its document: `old`
    /// (what the tag holds now) with this set's referrers merged in.
    /// `None` when the set has no referrers.
    pub fn fallback(&self, old: Option<&[u8]>) -> Option<(String, Document)> {
        if self.referrers.is_empty() {
            return None;
        }
        let mut bytes = old.map(<[u8]>::to_vec);
        for r in &self.referrers {
            bytes = Some(referrers::merged_referrers(bytes.as_deref(), &r.descriptor));
        }
        let bytes = bytes.unwrap_or_default();
        Some((
            referrers::fallback_tag(&self.index.descriptor.digest),
            Document {
                descriptor: Descriptor::of(document::INDEX_MEDIA_TYPE, &bytes),
                bytes,
            },
        ))
    }

    /// Total blob bytes.
    pub fn blob_bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.descriptor.size).sum()
    }
}

/// What a destination already has of an image set, found before anything
/// is pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentPlan {
    /// Per blob of the set: there already, with its size.
    pub blob_there: Vec<bool>,
    /// Per document of the set ([`ImageSet::documents`]): there already.
    pub manifest_there: Vec<bool>,
    /// The referrers fallback tag and the document it will hold: what it
    /// lists at the destination now, with the set's referrers merged in.
    pub fallback: Option<(String, Document)>,
}

impl ContentPlan {
    /// The blobs of `set` that the destination lacks.
    pub fn missing<'a>(&self, set: &'a ImageSet) -> Vec<&'a Blob> {
        set.blobs
            .iter()
            .zip(&self.blob_there)
            .filter(|(_, there)| !**there)
            .map(|(b, _)| b)
            .collect()
    }
}

/// What a push to one destination did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushStats {
    /// Blobs uploaded.
    pub blobs_uploaded: usize,
    /// Blobs that were there already.
    pub blobs_skipped: usize,
    /// Bytes of blobs uploaded.
    pub bytes_uploaded: u64,
    /// Manifests (per platform, then the index) written.
    pub manifests: usize,
    /// Tags that now point at the index.
    pub tags: Vec<String>,
}

/// The tags an image release gets: its own, then the extra ones a stable
/// release asked for. `major` stands for the major version (`v1` of
/// `v1.2.3`).
pub fn image_tags(tag: &str, extra: &[String]) -> (Vec<String>, Vec<String>) {
    let mut tags = vec![tag.to_string()];
    let mut ignored = Vec::new();
    for e in extra {
        if crate::release::Class::of(tag) != crate::release::Class::Stable {
            ignored.push(e.clone());
            continue;
        }
        let t = if e == "major" {
            match crate::release::semver_of(tag) {
                Some((major, _, _)) => format!("v{major}"),
                None => continue,
            }
        } else {
            e.clone()
        };
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    (tags, ignored)
}
