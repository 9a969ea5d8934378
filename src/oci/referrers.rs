//! The release's provenance as an OCI 1.1 artifact that refers to the image
//! index, and the referrers tag schema that finds it on registries without
//! the referrers API.
//!
//! Pure. The artifact is an image manifest whose `artifactType` and only
//! layer are a DSSE envelope (`application/vnd.dsse.envelope.v1+json`), whose
//! config is the empty descriptor, and whose `subject` is the index. The
//! fallback tag `sha256-<hex of the index>` holds an image index that lists
//! every referrer of the index, with its `artifactType` and annotations
//! (distribution-spec 1.1, "Referrers Tag Schema").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::document::{Descriptor, INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
use crate::digest::Digest;

/// The artifact type, and the layer's media type: a DSSE envelope.
pub const DSSE_ARTIFACT_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The empty config's media type (image-spec 1.1).
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The empty config's bytes.
pub const EMPTY_BYTES: &[u8] = b"{}";
/// The layer annotation naming the statement's predicate.
pub const PREDICATE_ANNOTATION: &str = "in-toto.io/predicate-type";
/// The manifest annotation that marks an attestation this tool made, with
/// the release it is for (`name:tag`).
pub const RELEASE_ANNOTATION: &str = "dev.release-dist.release";

/// The fallback tag of a subject: `sha256:<hex>` → `sha256-<hex>`.
pub fn fallback_tag(subject_digest: &Digest) -> String {
    format!("sha256-{}", subject_digest.hex())
}

/// Whether `tag` is a referrers fallback tag (`sha256-` and 64 hex digits).
pub fn is_fallback_tag(tag: &str) -> bool {
    tag.strip_prefix("sha256-")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The empty config descriptor.
pub fn empty_descriptor() -> Descriptor {
    Descriptor::of(EMPTY_MEDIA_TYPE, EMPTY_BYTES)
}

/// One attestation: its blobs (the empty config, then the envelope) and
/// the manifest's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    /// The empty config's descriptor.
    pub config: Descriptor,
    /// The envelope layer's descriptor.
    pub layer: Descriptor,
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// The manifest's descriptor, as the fallback index lists it: with its
    /// artifact type and annotations.
    pub descriptor: Descriptor,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest {
    schema_version: u32,
    media_type: String,
    artifact_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
    subject: Descriptor,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
}

/// The attestation of `subject` (the index, without platform) carrying
/// `envelope` (a DSSE envelope's JSON) for release `name:tag`, `created`
/// at an RFC 3339 time.
pub fn attestation(
    subject: &Descriptor,
    envelope: &[u8],
    predicate_type: &str,
    release: &str,
    created: &str,
) -> Attestation {
    let mut layer = Descriptor::of(DSSE_ARTIFACT_TYPE, envelope);
    layer.annotations = Some(BTreeMap::from([(
        PREDICATE_ANNOTATION.to_string(),
        predicate_type.to_string(),
    )]));
    let subject = Descriptor {
        media_type: subject.media_type.clone(),
        digest: subject.digest.clone(),
        size: subject.size,
        platform: None,
        annotations: None,
        artifact_type: None,
    };
    let mut annotations = BTreeMap::from([
        (
            "org.opencontainers.image.created".to_string(),
            created.to_string(),
        ),
        (RELEASE_ANNOTATION.to_string(), release.to_string()),
    ]);
    // The provenance's manifest has always been written without it; any
    // other statement says what it is, so that a reader (and the merge of
    // the fallback tag) tells them apart.
    if predicate_type != crate::kinds::SLSA_PROVENANCE_V1 {
        annotations.insert(PREDICATE_ANNOTATION.to_string(), predicate_type.to_string());
    }
    let doc = ArtifactManifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE.into(),
        artifact_type: DSSE_ARTIFACT_TYPE.into(),
        config: empty_descriptor(),
        layers: vec![layer.clone()],
        subject,
        annotations: annotations.clone(),
    };
    let manifest = serde_json::to_vec(&doc).unwrap_or_default();
    let mut descriptor = Descriptor::of(MANIFEST_MEDIA_TYPE, &manifest);
    descriptor.artifact_type = Some(DSSE_ARTIFACT_TYPE.into());
    descriptor.annotations = Some(annotations);
    Attestation {
        config: empty_descriptor(),
        layer,
        manifest,
        descriptor,
    }
}

/// What an attestation manifest says: its subject and its envelope layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAttestation {
    /// The subject's digest.
    pub subject: Digest,
    /// The envelope layer.
    pub layer: Descriptor,
}

/// Reads an attestation manifest; the error says what is not as it should be.
pub fn read_attestation(bytes: &[u8]) -> Result<ReadAttestation, String> {
    let doc: ArtifactManifest = serde_json::from_slice(bytes)
        .map_err(|e| format!("not an artifact manifest with a subject: {e}"))?;
    if doc.artifact_type != DSSE_ARTIFACT_TYPE {
        return Err(format!("its artifactType is `{}`", doc.artifact_type));
    }
    let layer = match doc.layers.as_slice() {
        [l] if l.media_type == DSSE_ARTIFACT_TYPE => l.clone(),
        _ => return Err("it has no single DSSE envelope layer".into()),
    };
    Ok(ReadAttestation {
        subject: doc.subject.digest,
        layer,
    })
}

/// The descriptors a referrers index lists: each entry that parses (its
/// digest a digest); the others are dropped, as a client would ignore them.
pub fn referrers_of(index: &[u8]) -> Vec<Descriptor> {
    #[derive(Deserialize)]
    struct Index {
        #[serde(default)]
        manifests: Vec<serde_json::Value>,
    }
    serde_json::from_slice::<Index>(index)
        .map(|i| {
            i.manifests
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a referrer descriptor is an attestation this tool made.
fn is_ours(d: &Descriptor) -> bool {
    d.artifact_type.as_deref() == Some(DSSE_ARTIFACT_TYPE)
        && d.annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(RELEASE_ANNOTATION))
}

/// The predicate type a referrer descriptor says its statement has (the
/// provenance's when it says none, as it has always been written).
pub fn predicate_of(d: &Descriptor) -> &str {
    d.annotations
        .as_ref()
        .and_then(|a| a.get(PREDICATE_ANNOTATION))
        .map_or(crate::kinds::SLSA_PROVENANCE_V1, String::as_str)
}

/// The fallback index after adding `ours`: every other tool's referrer
/// kept, this tool's earlier attestation of the same kind (provenance,
/// reproducibility statement) replaced. Unreadable old bytes count as no
/// referrers (as clients read them).
pub fn merged_referrers(old: Option<&[u8]>, ours: &Descriptor) -> Vec<u8> {
    let mut entries: Vec<Descriptor> = old.map(referrers_of).unwrap_or_default();
    let kind = predicate_of(ours).to_string();
    entries.retain(|d| !(is_ours(d) && predicate_of(d) == kind) && d.digest != ours.digest);
    entries.push(ours.clone());
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": INDEX_MEDIA_TYPE,
        "manifests": entries,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::document::digest_of;
    use super::*;

    fn index() -> Descriptor {
        let mut d = Descriptor::of(INDEX_MEDIA_TYPE, b"the index");
        d.annotations = Some(BTreeMap::from([("x".into(), "y".into())]));
        d
    }

    #[test]
    fn the_empty_descriptor_is_the_image_spec_one() {
        // image-spec 1.1 manifest.md, "Guidance for an Empty Descriptor".
        let d = empty_descriptor();
        assert_eq!(
            d.digest,
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!((d.size, d.media_type.as_str()), (2, EMPTY_MEDIA_TYPE));
    }

    #[test]
    fn fallback_tags_are_the_digest_with_a_dash() {
        let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
        let t = fallback_tag(&d);
        assert_eq!(t, format!("sha256-{}", "ab".repeat(32)));
        assert!(is_fallback_tag(&t));
        for no in [
            "v1.0.0",
            "latest",
            "sha256-abc",
            &format!("sha256-{}", "zz".repeat(32)),
        ] {
            assert!(!is_fallback_tag(no), "{no}");
        }
    }

    #[test]
    fn the_attestation_names_the_index_as_subject_and_reads_back() {
        let a = attestation(
            &index(),
            br#"{"payloadType":"x"}"#,
            "https://slsa.dev/provenance/v1",
            "hello:v1.0.0",
            "2026-01-01T00:00:00Z",
        );
        let v: serde_json::Value = serde_json::from_slice(&a.manifest).unwrap();
        assert_eq!(v["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(v["artifactType"], DSSE_ARTIFACT_TYPE);
        assert_eq!(v["config"]["mediaType"], EMPTY_MEDIA_TYPE);
        assert_eq!(v["subject"]["digest"], index().digest.as_str());
        assert!(v["subject"].get("annotations").is_none(), "{v}");
        assert_eq!(
            v["layers"][0]["annotations"][PREDICATE_ANNOTATION],
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(a.descriptor.digest, digest_of(&a.manifest));
        let read = read_attestation(&a.manifest).unwrap();
        assert_eq!(read.subject, index().digest);
        assert_eq!(read.layer, a.layer);
        assert!(read_attestation(br#"{"schemaVersion":2}"#).is_err());
    }

    #[test]
    fn merging_keeps_other_referrers_and_replaces_ours() {
        let first = attestation(&index(), b"{}", "p", "hello:v1", "t1");
        let second = attestation(&index(), b"{\"a\":1}", "p", "hello:v1", "t2");
        let mut foreign = Descriptor::of(MANIFEST_MEDIA_TYPE, b"a signature");
        foreign.artifact_type = Some("application/vnd.dev.cosign.artifact.sig.v1+json".into());
        let old = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": INDEX_MEDIA_TYPE,
            "manifests": [foreign, first.descriptor],
        }))
        .unwrap();
        let merged = merged_referrers(Some(&old), &second.descriptor);
        let digests: Vec<Digest> = referrers_of(&merged)
            .into_iter()
            .map(|d| d.digest)
            .collect();
        assert_eq!(
            digests,
            [foreign.digest.clone(), second.descriptor.digest.clone()]
        );
        let v: serde_json::Value = serde_json::from_slice(&merged).unwrap();
        assert_eq!(v["mediaType"], INDEX_MEDIA_TYPE);
        // An entry whose digest is a path is dropped, the others kept.
        let hostile = serde_json::to_vec(&serde_json::json!({
            "manifests": [
                {"mediaType": MANIFEST_MEDIA_TYPE, "digest": "sha256:/home/ci/.ssh/authorized_keys", "size": 1},
                second.descriptor,
            ],
        }))
        .unwrap();
        let kept: Vec<Digest> = referrers_of(&hostile)
            .into_iter()
            .map(|d| d.digest)
            .collect();
        assert_eq!(kept, std::slice::from_ref(&second.descriptor.digest));
        assert_eq!(v["manifests"][1]["artifactType"], DSSE_ARTIFACT_TYPE);
        // Again with the same: one entry, not two.
        let again = merged_referrers(Some(&merged), &second.descriptor);
        assert_eq!(referrers_of(&again).len(), 2);
        assert_eq!(
            referrers_of(&merged_referrers(Some(b"junk"), &second.descriptor)).len(),
            1
        );
    }
}
