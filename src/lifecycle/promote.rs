//! What `promote NAME:TAG --from STAGING --to PROD` does at a release
//! store (the command, a loop over destinations, is `commands::promote`):
//! copies a published static release to another without rebuilding. The source is
//! verified first (signature and every digest, as `verify` does), and what
//! was verified is exactly what is copied: the provenance's subjects, each
//! hashed again as it streams through a temporary file and refused if its
//! bytes are not the verified ones; the `.sha256` sidecars, `SHA256SUMS`,
//! the provenance and the tag document as verified. Nothing else under the
//! tag's prefix is read. Objects go in publish order (files, each before
//! its `.sha256`, then `SHA256SUMS`, the provenance, the tag document),
//! and the shared documents at the destination are derived again. So
//! production shows nothing of the release until it is whole, and a re-run
//! after a kill copies only what is missing: an object already there counts
//! only when its bytes are the verified ones.

use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
use crate::errors::{Error, Result};
use std::collections::HashMap;

use crate::digest::Digest;
use crate::objstore::{Body, ObjectStore};
use crate::plan::{Action, Phase, PlannedObject};
use crate::publish::layout::{content_type, Layout, SHA256SUMS};
use crate::publish::verify::Verified;
use crate::release::Class;

/// `promote`'s options.
#[derive(Debug, Clone)]
pub struct PromoteOpts {
    /// `NAME:TAG`.
    pub release: String,
    /// The source destination.
    pub from: String,
    /// The destinations to copy to.
    pub to: Vec<String>,
    /// The public key the source's provenance must be signed with.
    pub key: Option<PathBuf>,
    /// Replace a stable release the destination has with other bytes.
    pub force: bool,
    /// The static layout.
    pub layout: Layout,
    /// Where the release's images are now (a registry, bucket or layout).
    pub images_from: Option<String>,
    /// Where they go: by digest, the index bytes unchanged, the tag last.
    pub images_to: Vec<String>,
    /// Extra tags for a stable release's images (`latest`, `major`).
    pub image_tags: Vec<String>,
    /// The packages' OpenPGP key file, if given.
    pub packages_key: Option<PathBuf>,
    /// The minisign public key the source's signatures must check with.
    pub minisign_pub: Option<PathBuf>,
    /// The OpenPGP public key the source's `SHA256SUMS.asc` must check with.
    pub openpgp_pub: Option<PathBuf>,
    /// Refuse a release without a reproducibility statement that checks
    /// and covers it.
    pub require_reproduced: bool,
    /// The public key of the reproducibility statement (default: `key`).
    pub reproduced_key: Option<PathBuf>,
}

/// What `promote` did at one destination.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Promoted {
    /// The destination.
    pub store: String,
    /// Objects copied.
    pub copied: usize,
    /// Objects already there (same key and size).
    pub skipped: usize,
    /// Tags the name document lists after.
    pub tags: Vec<String>,
}

/// One object promote writes: its key, phase and Content-Type, and what it
/// must hold.
#[derive(Debug, Clone)]
pub(crate) struct Copy {
    key: String,
    phase: Phase,
    content_type: &'static str,
    what: Content,
}

/// What an object must hold.
#[derive(Debug, Clone)]
enum Content {
    /// A release file: copied from the source, checked as it streams.
    File(Digest, u64),
    /// A small document whose bytes were verified (or derived).
    Bytes(Vec<u8>),
}

impl Content {
    fn size(&self) -> u64 {
        match self {
            Content::File(_, size) => *size,
            Content::Bytes(b) => b.len() as u64,
        }
    }
}

/// The verified set, in copy order: each file then its `.sha256`, then
/// `SHA256SUMS`, the provenance and the tag document.
pub(crate) fn copy_order(v: &Verified, layout: Layout, (name, tag): (&str, &str)) -> Vec<Copy> {
    let prefix = layout.release_prefix(name, tag);
    let mut files = v.files.clone();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let text = |key: String, phase, bytes: &[u8]| Copy {
        key,
        phase,
        content_type: content_type::TEXT,
        what: Content::Bytes(bytes.to_vec()),
    };
    let mut out = Vec::new();
    for (path, digest, size) in files {
        out.push(Copy {
            key: format!("{prefix}{path}"),
            phase: Phase::Files,
            content_type: content_type::BINARY,
            what: Content::File(digest, size),
        });
        // Its `.sha256`, then its `.minisig`, as verified.
        for (suffix, found) in [(".sha256", &v.sidecars), (".minisig", &v.file_signatures)] {
            let side = format!("{path}{suffix}");
            if let Some((_, bytes)) = found.iter().find(|(k, _)| *k == side) {
                out.push(text(format!("{prefix}{side}"), Phase::Files, bytes));
            }
        }
    }
    out.push(text(
        format!("{prefix}{SHA256SUMS}"),
        Phase::Checksums,
        &v.sums,
    ));
    for (name, bytes) in &v.signatures {
        out.push(text(format!("{prefix}{name}"), Phase::Checksums, bytes));
    }
    out.push(Copy {
        key: format!("{prefix}{}", v.bundle.0),
        phase: Phase::Provenance,
        content_type: crate::provenance::CONTENT_TYPE_BUNDLE,
        what: Content::Bytes(v.bundle.1.clone()),
    });
    if let (Some(key), Some(doc)) = (layout.tag_document_key(name, tag), &v.tag_document) {
        out.push(Copy {
            key,
            phase: Phase::TagDocument,
            content_type: content_type::JSON,
            what: Content::Bytes(doc.clone()),
        });
    }
    out
}

/// One destination's part: each object in copy order, and whether it is
/// there already with the verified bytes.
pub(crate) type DestinationPlan = Vec<(Copy, bool)>;

/// Whether `dest` holds `c` with the verified bytes: a file is hashed
/// (when its size matches), a document compared.
async fn holds(dest: &ObjectStore, c: &Copy, sizes: &HashMap<String, u64>) -> Result<bool> {
    if sizes.get(&c.key) != Some(&c.what.size()) {
        return Ok(false);
    }
    Ok(match &c.what {
        Content::File(digest, _) => dest
            .hash(&c.key)
            .await?
            .is_some_and(|f| f.digest == *digest),
        Content::Bytes(bytes) => dest.get(&c.key).await?.as_deref() == Some(bytes.as_slice()),
    })
}

/// Reads `dest` and plans its part; refuses a stable tag it holds with
/// other bytes (unless `--force`).
pub(crate) async fn plan_destination(
    dest: &ObjectStore,
    (force, layout): (bool, Layout),
    (name, tag): (&str, &str),
    order: &[Copy],
    sums: &[u8],
) -> Result<DestinationPlan> {
    let prefix = layout.release_prefix(name, tag);
    dest.check_access().await?;
    let existing = dest.get(&format!("{prefix}{SHA256SUMS}")).await?;
    if existing.as_ref().is_some_and(|e| e != sums) && Class::of(tag) == Class::Stable && !force {
        return Err(Error::StableTagExists {
            tag: tag.to_string(),
            store: dest.describe(),
            changed: "SHA256SUMS differs from the source's".into(),
        });
    }
    let sizes: HashMap<String, u64> = dest
        .list(&layout.name_prefix(name))
        .await?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    let mut plan = Vec::new();
    for c in order {
        let there = !force && holds(dest, c, &sizes).await?;
        plan.push((c.clone(), there));
    }
    Ok(plan)
}

/// Writes what `plan` says is missing, in its order (each file checked
/// against its verified digest as it streams), then derives the
/// destination's shared documents again.
pub(crate) async fn copy_to(
    dest: &ObjectStore,
    src: &ObjectStore,
    plan: &DestinationPlan,
    (layout, name, tmp): (Layout, &str, &std::path::Path),
) -> Result<Promoted> {
    let mut done = Promoted {
        store: dest.describe(),
        copied: 0,
        skipped: 0,
        tags: Vec::new(),
    };
    for (c, there) in plan {
        if *there {
            done.skipped += 1;
            continue;
        }
        // A test build may wait before each copy (crate::test_hooks), so
        // that a test can kill a promote part-way, or change the source
        // between its verification and its copy.
        crate::test_hooks::pause(crate::test_hooks::hooks().copy_pause).await;
        match &c.what {
            Content::File(digest, size) => {
                let copied = dest
                    .copy_checked(src, &c.key, (digest, Some(*size)), tmp, c.content_type)
                    .await?;
                if !copied {
                    return Err(Error::Store {
                        store: src.describe(),
                        op: "GET",
                        key: c.key.clone(),
                        kind: crate::errors::StoreErrorKind::Other,
                        message: "it went away during the promote".into(),
                    });
                }
            }
            Content::Bytes(bytes) => {
                dest.put(&c.key, Body::Bytes(bytes.clone()), c.content_type)
                    .await?
            }
        }
        done.copied += 1;
    }
    done.tags = crate::publish::statics::converge_shared_documents(dest, layout, name).await?;
    Ok(done)
}

/// The plan's objects of copying `plan` to `destination`.
pub(crate) fn planned_objects(destination: &str, plan: &DestinationPlan) -> Vec<PlannedObject> {
    plan.iter()
        .map(|(c, there)| PlannedObject {
            destination: destination.to_string(),
            phase: c.phase,
            action: if *there { Action::Skip } else { Action::Write },
            key: c.key.clone(),
            size: Some(c.what.size()),
            digest: match &c.what {
                Content::File(d, _) => Some(d.hex().to_string()),
                Content::Bytes(b) => Some(Digest::of(b).hex().to_string()),
            },
            content_type: Some(c.content_type.to_string()),
        })
        .collect()
}

/// Refuses an image whose index or platform manifests are not the ones the
/// verified provenance names for `name:tag`.
pub(crate) fn check_image_subjects(
    set: &crate::oci::ImageSet,
    verified: &Verified,
    (name, tag): (&str, &str),
    source: &str,
) -> Result<()> {
    let index_name = format!("image/{name}:{tag}");
    let signed = |n: &str| verified.images.iter().find(|(s, _)| s == n).map(|(_, d)| d);
    let mut wrong = Vec::new();
    match signed(&index_name) {
        Some(d) if *d == set.index.descriptor.digest => {}
        Some(d) => wrong.push(format!(
            "its index is {}, the provenance signs {d}",
            set.index.descriptor.digest
        )),
        None => wrong.push("the provenance signs no image for this release".to_string()),
    }
    for (p, m) in &set.manifests {
        let n = format!("{index_name}/{}", p.tree_dir());
        if signed(&n) != Some(&m.descriptor.digest) {
            wrong.push(format!(
                "its {p} manifest {} is not the one the provenance signs",
                m.descriptor.digest
            ));
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Error::Untrusted {
        source_name: source.to_string(),
        what: format!("{name}:{tag}"),
        message: format!("{}: nothing was copied", wrong.join("; ")),
    })
}

/// The public URL production's repositories are written with (their
/// `.repo` file names it).
pub(crate) fn packages_url(ctx: &Context) -> Result<String> {
    let config = &ctx.project.config;
    config.packages.url.clone().or_else(|| config.public_url.clone()).ok_or_else(|| {
        Error::Keys(vec![crate::problems::KeyProblem::missing(
            format!("{}.url", crate::publish::packages::PREFIX),
            "is needed to promote a release with packages: production's public URL, which its .repo file names (or `public-url`)",
        )])
    })
}

/// The release's packages: (file name, digest) of each `.deb` and `.rpm`
/// the provenance signs.
pub(crate) fn packages_of(verified: &Verified) -> Vec<(String, Digest)> {
    verified
        .files
        .iter()
        .map(|(path, d, _)| (path.rsplit('/').next().unwrap_or("").to_string(), d.clone()))
        .filter(|(f, _)| crate::linuxpkg::Format::of_file(f).is_some())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_verified_files_before_their_sidecars_then_checksums_provenance_and_the_tag_document(
    ) {
        let d = |s: &str| Digest::of(s.as_bytes());
        let v = Verified {
            files: vec![
                ("linux/amd64/h".into(), d("h"), 1),
                ("h-v1.tar.gz".into(), d("src"), 3),
            ],
            sidecars: vec![
                ("linux/amd64/h.sha256".into(), b"x  h\n".to_vec()),
                ("h-v1.tar.gz.sha256".into(), b"y  h-v1.tar.gz\n".to_vec()),
                ("evil.sh.sha256".into(), b"z  evil.sh\n".to_vec()),
            ],
            sums: b"sums".to_vec(),
            bundle: ("h-v1.intoto.jsonl".into(), b"{}".to_vec()),
            tag_document: Some(b"{}".to_vec()),
            images: vec![],
            signatures: vec![],
            file_signatures: vec![],
            reproduced: None,
        };
        let p = "df-dist-v1/h/v1/";
        let keys: Vec<String> = copy_order(&v, Layout::DfDist, ("h", "v1"))
            .into_iter()
            .map(|c| c.key[p.len().min(c.key.len())..].to_string())
            .collect();
        assert_eq!(
            keys,
            [
                "h-v1.tar.gz",
                "h-v1.tar.gz.sha256",
                "linux/amd64/h",
                "linux/amd64/h.sha256",
                "SHA256SUMS",
                "h-v1.intoto.jsonl",
                ""
            ],
            "a sidecar of no verified file is not copied"
        );
    }
}
