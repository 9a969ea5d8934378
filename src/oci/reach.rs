//! What image documents refer to, and what removing tags frees. Pure.
//!
//! A document is input: only entries whose digest parses are counted, so
//! no key is ever made from an unchecked string. An entry that does not
//! parse names nothing (it is never deleted, and keeps nothing).

use std::collections::BTreeSet;

use crate::digest::Digest;

/// What one manifest or index names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// Manifests an index names (by digest).
    pub manifests: Vec<Digest>,
    /// Blobs a manifest names: its config, then its layers.
    pub blobs: Vec<Digest>,
}

/// Reads the digests a manifest or an index names (an OCI index, a Docker
/// manifest list, or an image manifest of either kind). Unreadable bytes
/// name nothing.
pub fn refs_of(bytes: &[u8]) -> Refs {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Refs::default();
    };
    let parse = |d: &serde_json::Value| Digest::parse(d.get("digest")?.as_str()?).ok();
    let digests = |field: &str| -> Vec<Digest> {
        v.get(field)
            .and_then(|m| m.as_array())
            .map(|a| a.iter().filter_map(parse).collect())
            .unwrap_or_default()
    };
    let mut blobs: Vec<Digest> = v.get("config").and_then(parse).into_iter().collect();
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
    pub manifests: BTreeSet<Digest>,
    /// Configs and layers.
    pub blobs: BTreeSet<Digest>,
}

impl Reach {
    /// Adds a document (its own digest and what it names).
    pub fn add(&mut self, digest: &Digest, refs: &Refs) {
        self.manifests.insert(digest.clone());
        self.manifests.extend(refs.manifests.iter().cloned());
        self.blobs.extend(refs.blobs.iter().cloned());
    }

    /// What `self` reaches that `kept` does not: (manifests, blobs), each
    /// sorted; the documents that name others come first (indexes before
    /// their manifests) when `order` lists them so.
    pub fn freed(&self, kept: &Reach, order: &[Digest]) -> (Vec<Digest>, Vec<Digest>) {
        let mut manifests: Vec<Digest> = order
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

    /// A digest named by a word, and its JSON.
    fn d(word: &str) -> Digest {
        Digest::of(word.as_bytes())
    }

    fn doc(text: &str) -> Vec<u8> {
        let mut out = text.to_string();
        for w in ["i1", "i2", "m1", "m2", "m3", "c1", "c3", "base", "app1"] {
            out = out.replace(&format!("@{w}@"), d(w).as_str());
        }
        out.into_bytes()
    }

    #[test]
    fn reads_indexes_and_manifests_and_frees_only_what_no_kept_tag_reaches() {
        let index = doc(r#"{"schemaVersion":2,"manifests":[{"digest":"@m1@"},{"digest":"@m2@"}]}"#);
        let m1 = doc(
            r#"{"config":{"digest":"@c1@"},"layers":[{"digest":"@base@"},{"digest":"@app1@"}]}"#,
        );
        let m3 = doc(r#"{"config":{"digest":"@c3@"},"layers":[{"digest":"@base@"}]}"#);
        assert_eq!(refs_of(&index).manifests, [d("m1"), d("m2")]);
        assert_eq!(refs_of(&m1).blobs, [d("c1"), d("base"), d("app1")]);
        assert_eq!(refs_of(b"not json"), Refs::default());
        // An entry whose digest is a path names nothing.
        let hostile = br#"{"layers":[{"digest":"sha256:../../../etc/passwd"},{"digest":"sha256:/home/ci/.ssh/authorized_keys"}]}"#;
        assert_eq!(refs_of(hostile), Refs::default());

        let mut removed = Reach::default();
        removed.add(&d("i1"), &refs_of(&index));
        removed.add(&d("m1"), &refs_of(&m1));
        let mut kept = Reach::default();
        kept.add(
            &d("i2"),
            &Refs {
                manifests: vec![d("m2")],
                blobs: vec![],
            },
        );
        kept.add(&d("m3"), &refs_of(&m3));
        let (manifests, blobs) = removed.freed(&kept, &[d("i1")]);
        let mut want = vec![d("i1"), d("m1")];
        want[1..].sort();
        assert_eq!(manifests, want, "m2 is shared");
        let mut want = vec![d("app1"), d("c1")];
        want.sort();
        assert_eq!(blobs, want, "the base layer is shared");
    }
}
