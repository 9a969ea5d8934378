//! OCI image manifests and the multi-arch image index, as bytes.
//!
//! Pure. Documents are serialized once, here, and those exact bytes are
//! hashed and pushed everywhere, so a digest is the same in every place.
//! Our own structs (not oci-spec's) so that annotations serialize in a fixed
//! order: oci-spec keeps them in a `HashMap`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::digest::Digest;
use crate::platform::Platform;

/// `application/vnd.oci.image.index.v1+json`.
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// `application/vnd.oci.image.manifest.v1+json`.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// `application/vnd.oci.image.config.v1+json`.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// An uncompressed layer.
pub const LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// A gzip layer.
pub const LAYER_TAR_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type.
    pub media_type: String,
    /// `sha256:<hex>`, checked when read.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// For index entries.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub platform: Option<OciPlatform>,
    /// Annotations.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub annotations: Option<BTreeMap<String, String>>,
    /// For a referrer listed in a referrers index: its artifact type.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub artifact_type: Option<String>,
}

impl Descriptor {
    /// A descriptor of `bytes`.
    pub fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: digest_of(bytes),
            size: bytes.len() as u64,
            platform: None,
            annotations: None,
            artifact_type: None,
        }
    }

    /// The hex part of the digest: safe as a file name.
    pub fn hex(&self) -> &str {
        self.digest.hex()
    }
}

/// An OCI platform object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciPlatform {
    /// GOARCH spelling.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v6` for arm/v6.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

impl OciPlatform {
    /// The platform of one of our targets: `386`, `arm` + `v6`, as
    /// containerd normalizes them.
    pub fn of(p: Platform) -> OciPlatform {
        OciPlatform {
            architecture: p.arch().into(),
            os: p.os().into(),
            variant: p.variant().map(str::to_string),
        }
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest_of(bytes: &[u8]) -> Digest {
    Digest::of(bytes)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: &'a Descriptor,
    layers: &'a [Descriptor],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexDoc<'a> {
    schema_version: u32,
    media_type: &'static str,
    manifests: &'a [Descriptor],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
}

/// An image manifest's bytes.
pub fn manifest_bytes(config: &Descriptor, layers: &[Descriptor]) -> Vec<u8> {
    serde_json::to_vec(&ManifestDoc {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config,
        layers,
    })
    .unwrap_or_default()
}

/// An image index's bytes. Entries keep the order given.
pub fn index_bytes(manifests: &[Descriptor], annotations: &BTreeMap<String, String>) -> Vec<u8> {
    serde_json::to_vec(&IndexDoc {
        schema_version: 2,
        media_type: INDEX_MEDIA_TYPE,
        manifests,
        annotations,
    })
    .unwrap_or_default()
}

/// What the index says about the release.
#[derive(Debug, Clone, Default)]
pub struct IndexAnnotations {
    /// The source repository URL.
    pub source: Option<String>,
    /// The git commit.
    pub revision: String,
    /// The release tag.
    pub version: String,
    /// RFC 3339.
    pub created: String,
}

impl IndexAnnotations {
    /// As `org.opencontainers.image.*` keys.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        use oci_spec::image::{
            ANNOTATION_CREATED, ANNOTATION_REVISION, ANNOTATION_SOURCE, ANNOTATION_VERSION,
        };
        let mut m = BTreeMap::new();
        if let Some(s) = &self.source {
            m.insert(ANNOTATION_SOURCE.to_string(), s.clone());
        }
        m.insert(ANNOTATION_REVISION.to_string(), self.revision.clone());
        m.insert(ANNOTATION_VERSION.to_string(), self.version.clone());
        m.insert(ANNOTATION_CREATED.to_string(), self.created.clone());
        m
    }
}

/// Whether `s` is a tag by the distribution spec's rule
/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`: safe in a URL path and as a key.
pub fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// The content types an OCI document is served with: its media type.
pub fn media_type_of(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
    }
    serde_json::from_slice::<Probe>(bytes).ok()?.media_type
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_the_distribution_spec() {
        for good in ["v1.0.0", "latest", "_x", "sha256-ab", &"a".repeat(128)] {
            assert!(is_tag(good), "{good}");
        }
        for bad in [
            "",
            "../../victim/manifests/latest",
            ".hidden",
            "-x",
            "a/b",
            "a:b",
            &"a".repeat(129),
        ] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn manifest_has_the_fields_in_spec_order() {
        let cfg = Descriptor::of(CONFIG_MEDIA_TYPE, b"{}");
        let layer = Descriptor::of(LAYER_TAR_GZIP, b"x");
        let bytes = manifest_bytes(&cfg, std::slice::from_ref(&layer));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"size\":2}"
        ), "{text}");
        assert_eq!(media_type_of(&bytes).as_deref(), Some(MANIFEST_MEDIA_TYPE));
        // Same input, same bytes.
        assert_eq!(bytes, manifest_bytes(&cfg, &[layer]));
    }

    #[test]
    fn index_has_platforms_variants_and_sorted_annotations() {
        let mut entries = Vec::new();
        for p in Platform::defaults() {
            let mut d = Descriptor::of(MANIFEST_MEDIA_TYPE, p.to_string().as_bytes());
            d.platform = Some(OciPlatform::of(p));
            entries.push(d);
        }
        let ann = IndexAnnotations {
            source: Some("https://git.example/x".into()),
            revision: "abc".into(),
            version: "v1.2.3".into(),
            created: "2026-01-01T00:00:00Z".into(),
        };
        let bytes = index_bytes(&entries, &ann.to_map());
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["mediaType"], INDEX_MEDIA_TYPE);
        assert_eq!(v["schemaVersion"], 2);
        let plats: Vec<String> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                let p = &m["platform"];
                format!(
                    "{}/{}{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap(),
                    p["variant"]
                        .as_str()
                        .map(|v| format!("/{v}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(
            plats,
            ["linux/amd64", "linux/386", "linux/arm64", "linux/arm/v6"]
        );
        let text = String::from_utf8(bytes).unwrap();
        let keys: Vec<usize> = [
            "image.created",
            "image.revision",
            "image.source",
            "image.version",
        ]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(
            v["annotations"]["org.opencontainers.image.version"],
            "v1.2.3"
        );
    }
}
