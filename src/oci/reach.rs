//! What image documents refer to, and what removing tags frees. Pure.

use std::collections::BTreeSet;

/// What one manifest or index names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// Manifests an index names (by digest).
    pub manifests: Vec<String>,
    /// Blobs a manifest names: its config, then its layers.
    pub blobs: Vec<String>,
}

/// Reads the digests a manifest or an index names (an OCI index, a Docker
/// manifest list, or an image manifest of either kind). Unreadable bytes
/// name nothing.
pub fn refs_of(bytes: &[u8]) -> Refs {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Refs::default();
    };
    let digests = |field: &str| -> Vec<String> {
        v.get(field)
            .and_then(|m| m.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.get("digest")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut blobs: Vec<String> = v
        .get("config")
        .and_then(|c| c.get("digest"))
        .and_then(|d| d.as_str())
        .map(str::to_string)
        .into_iter()
        .collect();
    blobs.extend(digests("layers"));
    Refs {
        manifests: digests("manifests"),
        blobs,
    }
}

/// What a set of tags reaches: manifest digests (indexes included) and blob
/// digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    /// Manifests and indexes.
    pub manifests: BTreeSet<String>,
    /// Configs and layers.
    pub blobs: BTreeSet<String>,
}

impl Reach {
    /// Adds a document (its own digest and what it names).
    pub fn add(&mut self, digest: &str, refs: &Refs) {
        self.manifests.insert(digest.to_string());
        self.manifests.extend(refs.manifests.iter().cloned());
        self.blobs.extend(refs.blobs.iter().cloned());
    }

    /// What `self` reaches that `kept` does not: (manifests, blobs), each
    /// sorted; the documents that name others come first (indexes before
    /// their manifests) when `order` lists them so.
    pub fn freed(&self, kept: &Reach, order: &[String]) -> (Vec<String>, Vec<String>) {
        let mut manifests: Vec<String> = order
            .iter()
            .filter(|d| self.manifests.contains(*d) && !kept.manifests.contains(*d))
            .cloned()
            .collect();
        for d in &self.manifests {
            if !kept.manifests.contains(d) && !manifests.contains(d) {
                manifests.push(d.clone());
            }
        }
        let blobs = self.blobs.difference(&kept.blobs).cloned().collect();
        (manifests, blobs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_indexes_and_manifests_and_frees_only_what_no_kept_tag_reaches() {
        let index =
            br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:m1"},{"digest":"sha256:m2"}]}"#;
        let m1 = br#"{"config":{"digest":"sha256:c1"},"layers":[{"digest":"sha256:base"},{"digest":"sha256:app1"}]}"#;
        let m3 = br#"{"config":{"digest":"sha256:c3"},"layers":[{"digest":"sha256:base"}]}"#;
        assert_eq!(refs_of(index).manifests, ["sha256:m1", "sha256:m2"]);
        assert_eq!(
            refs_of(m1).blobs,
            ["sha256:c1", "sha256:base", "sha256:app1"]
        );
        assert_eq!(refs_of(b"not json"), Refs::default());

        let mut removed = Reach::default();
        removed.add("sha256:i1", &refs_of(index));
        removed.add("sha256:m1", &refs_of(m1));
        let mut kept = Reach::default();
        kept.add(
            "sha256:i2",
            &Refs {
                manifests: vec!["sha256:m2".into()],
                blobs: vec![],
            },
        );
        kept.add("sha256:m3", &refs_of(m3));
        let (manifests, blobs) = removed.freed(&kept, &["sha256:i1".into()]);
        assert_eq!(manifests, ["sha256:i1", "sha256:m1"], "m2 is shared");
        assert_eq!(
            blobs,
            ["sha256:app1", "sha256:c1"],
            "the base layer is shared"
        );
    }
}
