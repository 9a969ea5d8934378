//! Reading a published release back from a release store: the provenance
//! signature, every subject's digest, `SHA256SUMS` and each `.sha256`
//! (`verify`'s check of `--from`, and `promote`'s of its source).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::layout::{parse_sha256sums, Layout, SHA256SUMS};
use crate::digest::Digest;
use crate::errors::{Error, Result};
use crate::nixcache::PublicKey;
use crate::objstore::ObjectStore;
use crate::provenance;

/// `verify`'s options.
#[derive(Debug, Clone)]
pub struct VerifyOpts {
    /// Where the release's files are.
    pub from: Option<String>,
    /// `name:tag`.
    pub release: Option<String>,
    /// The public key file (Nix `name:base64` or SPKI PEM).
    pub key: Option<PathBuf>,
    /// The layout.
    pub layout: Layout,
    /// Image destinations whose attestation to check.
    pub images: Vec<String>,
    /// The minisign public key file of `SHA256SUMS.minisig`.
    pub minisign_pub: Option<PathBuf>,
    /// The OpenPGP public key file (armored) of `SHA256SUMS.asc`.
    pub openpgp_pub: Option<PathBuf>,
    /// Refuse a release without a signature the given keys check.
    pub require_signatures: bool,
    /// Refuse a release without a reproducibility statement that checks
    /// and covers it.
    pub require_reproduced: bool,
    /// The public key of the reproducibility statement (default: `key`).
    pub reproduced_key: Option<PathBuf>,
}

/// Reads a public key file (Nix `name:base64` or SPKI PEM), if given.
pub(crate) fn public_key(path: Option<&std::path::Path>) -> Result<Option<PublicKey>> {
    let Some(p) = path else {
        return Ok(None);
    };
    let text = crate::keys::read_key_file(p)?;
    Ok(Some(PublicKey::parse_any(&text).map_err(|e| {
        Error::Key {
            path: p.to_path_buf(),
            reason: e.to_string(),
        }
    })?))
}

/// What `verify` found good, which `promote` copies and nothing else:
/// each object's key inside the release and the bytes or digest it must
/// have. Keys are safe relative paths ([`super::layout::is_safe_path`]).
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// The release files the provenance signs, with their digest and size.
    pub files: Vec<(String, Digest, u64)>,
    /// Each file's `.sha256`, as its bytes must be.
    pub sidecars: Vec<(String, Vec<u8>)>,
    /// `SHA256SUMS`, as signed.
    pub sums: Vec<u8>,
    /// The provenance bundle, as read and checked.
    pub bundle: (String, Vec<u8>),
    /// The tag document (df-dist-v1), checked against the subjects.
    pub tag_document: Option<Vec<u8>>,
    /// The image subjects: (name, digest).
    pub images: Vec<(String, Digest)>,
    /// `SHA256SUMS.asc` and `SHA256SUMS.minisig`, when there, as read.
    pub signatures: Vec<(String, Vec<u8>)>,
    /// Each file's `.minisig`, when `SHA256SUMS.minisig` is there: (path
    /// in the release, bytes as read).
    pub file_signatures: Vec<(String, Vec<u8>)>,
    /// The reproducibility statement's bytes, when the provenance signs
    /// one (read once, with the digest the provenance gives).
    pub reproduced: Option<Vec<u8>>,
}

/// `verify` of one release at `store`: the problems found, how many
/// objects were checked, and (when there is no problem) what was verified;
/// [`Error::NoSuchRelease`] when it is not there.
pub(crate) async fn verify_release(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    tag: &str,
    key: Option<&PublicKey>,
) -> Result<(Vec<String>, usize, Verified)> {
    exists(store, layout, name, tag).await?;
    check(store, layout, name, tag, key).await
}

/// Fails with [`Error::NoSuchRelease`] (and the tags that do exist) when
/// nothing of `name:tag` is there: an unknown tag is not tampering.
async fn exists(store: &ObjectStore, layout: Layout, name: &str, tag: &str) -> Result<()> {
    let listing = store.list(&layout.name_prefix(name)).await?;
    let prefix = layout.release_prefix(name, tag);
    let tag_doc = layout.tag_document_key(name, tag);
    let found = listing
        .iter()
        .any(|o| o.key.starts_with(&prefix) || Some(&o.key) == tag_doc.as_ref());
    if found {
        return Ok(());
    }
    Err(Error::NoSuchRelease {
        release: format!("{name}:{tag}"),
        store: store.describe(),
        tags: super::index::releases(layout, name, &listing)
            .into_iter()
            .map(|r| r.tag)
            .collect(),
    })
}

/// Every problem found, how many objects were checked, and what was
/// verified.
async fn check(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    tag: &str,
    key: Option<&PublicKey>,
) -> Result<(Vec<String>, usize, Verified)> {
    let prefix = layout.release_prefix(name, tag);
    let mut problems = Vec::new();
    let mut verified = Verified::default();

    let bundle = provenance::bundle_name(name, tag);
    let statement = match store.get(&format!("{prefix}{bundle}")).await? {
        None => {
            problems.push(format!("{prefix}{bundle}: the provenance is missing"));
            None
        }
        Some(bytes) => {
            let read = provenance::read_statement(&bytes, key)
                .map_err(|e| problems.push(format!("{prefix}{bundle}: {e}")))
                .ok();
            verified.bundle = (bundle.clone(), bytes);
            read
        }
    };

    let mut checked = 0;
    let subjects = statement.as_ref().map_or(&[][..], |st| &st.subject[..]);
    let digests = check_subjects(
        store,
        (&prefix, &bundle),
        subjects,
        &mut problems,
        &mut verified,
    )
    .await?;
    checked += digests.len();
    verified.reproduced =
        read_reproduced(store, (&prefix, name, tag), subjects, &mut problems).await?;

    // SHA256SUMS and each .sha256 must agree with the bytes.
    match store.get(&format!("{prefix}{SHA256SUMS}")).await? {
        None => problems.push(format!("{prefix}{SHA256SUMS}: missing")),
        Some(sums) => {
            let lines = parse_sha256sums(&String::from_utf8_lossy(&sums));
            if lines.len() > crate::bounds::RELEASE_FILES_CAP {
                problems.push(format!(
                    "{prefix}{SHA256SUMS}: it lists {} files, more than a release has ({}): not checked further",
                    lines.len(),
                    crate::bounds::RELEASE_FILES_CAP
                ));
            }
            for (path, want) in lines.into_iter().take(crate::bounds::RELEASE_FILES_CAP) {
                checked += 1;
                check_listed(
                    store,
                    &prefix,
                    (&path, &want),
                    &digests,
                    &mut problems,
                    &mut verified,
                )
                .await?;
            }
            verified.sums = sums;
        }
    }
    // Its signatures, when it has them, as read (the keys that check them
    // are the caller's).
    for name in [format!("{SHA256SUMS}.asc"), format!("{SHA256SUMS}.minisig")] {
        if let Some(bytes) = store.get(&format!("{prefix}{name}")).await? {
            verified.signatures.push((name, bytes));
        }
    }
    if verified
        .signatures
        .iter()
        .any(|(n, _)| n.ends_with(".minisig"))
    {
        for (path, _, _) in &verified.files {
            let sig = format!("{path}.minisig");
            if let Some(bytes) = store.get(&format!("{prefix}{sig}")).await? {
                verified.file_signatures.push((sig, bytes));
            }
        }
    }

    if let Some(doc) = layout.tag_document_key(name, tag) {
        let signed = statement.as_ref().map(|st| &st.subject[..]);
        verified.tag_document = check_tag_document(store, &doc, signed, &mut problems).await?;
    }
    Ok((problems, checked, verified))
}

/// Every subject must be there with its digest; each is hashed as it
/// streams, never held whole. Returns the digest found for each path.
async fn check_subjects(
    store: &ObjectStore,
    (prefix, bundle): (&str, &str),
    subjects: &[provenance::StatementSubject],
    problems: &mut Vec<String>,
    verified: &mut Verified,
) -> Result<BTreeMap<String, Option<Digest>>> {
    let mut digests = BTreeMap::new();
    for s in subjects {
        let path = s.name.as_str();
        let Ok(want) = Digest::from_hex(&s.digest.sha256) else {
            problems.push(format!(
                "{prefix}{bundle}: the subject {path} has no sha256 digest"
            ));
            continue;
        };
        // Image subjects (the index and per-platform manifests) live in
        // registries, not here: `skopeo inspect --raw` gives their bytes.
        if path.starts_with("image/") {
            verified.images.push((path.to_string(), want));
            continue;
        }
        if !super::layout::is_safe_path(path) {
            problems.push(format!(
                "{prefix}{bundle}: the subject `{}` is not a path inside the release",
                path.escape_debug()
            ));
            continue;
        }
        let got = store.hash(&format!("{prefix}{path}")).await?;
        match &got {
            None => problems.push(format!("{prefix}{path}: missing")),
            Some(g) if g.digest != want => problems.push(format!(
                "{prefix}{path}: altered (sha256 {}, the provenance says {})",
                g.digest.hex(),
                want.hex()
            )),
            Some(g) if path != SHA256SUMS => verified.files.push((path.to_string(), want, g.size)),
            Some(_) => {}
        }
        digests.insert(path.to_string(), got.map(|g| g.digest));
    }
    Ok(digests)
}

/// The reproducibility statement, when the provenance signs one: its
/// bytes as read, which must have the signed digest.
async fn read_reproduced(
    store: &ObjectStore,
    (prefix, name, tag): (&str, &str, &str),
    subjects: &[provenance::StatementSubject],
    problems: &mut Vec<String>,
) -> Result<Option<Vec<u8>>> {
    let file = provenance::reproduced::file_name(name, tag);
    let Some(subject) = subjects.iter().find(|s| s.name == file) else {
        return Ok(None);
    };
    let bytes = match store
        .get_capped(&format!("{prefix}{file}"), crate::bounds::DOCUMENT_CAP)
        .await
    {
        Err(Error::Untrusted { message, .. }) => {
            problems.push(format!("{prefix}{file}: {message}"));
            return Ok(None);
        }
        other => other?,
    };
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if digest != subject.digest.sha256 {
        problems.push(format!(
            "{prefix}{file}: altered as read (sha256 {digest}, the provenance says {})",
            subject.digest.sha256
        ));
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// The tag document names only what the provenance signs (every path when
/// the provenance could not be read: that is a problem already). Returns
/// its bytes.
async fn check_tag_document(
    store: &ObjectStore,
    doc: &str,
    subjects: Option<&[provenance::StatementSubject]>,
    problems: &mut Vec<String>,
) -> Result<Option<Vec<u8>>> {
    let Some(bytes) = store.get(doc).await? else {
        problems.push(format!("{doc}: the tag document is missing"));
        return Ok(None);
    };
    match super::layout::tag_document_paths(&bytes) {
        Err(e) => problems.push(format!("{doc}: {e}")),
        Ok(paths) => {
            let signed = |p: &String| subjects.is_none_or(|subs| subs.iter().any(|s| s.name == *p));
            for p in paths.iter().filter(|p| !signed(p)) {
                problems.push(format!(
                    "{doc}: the tag document names {p}, which the provenance does not sign"
                ));
            }
        }
    }
    Ok(Some(bytes))
}

/// One `SHA256SUMS` line: the file's bytes (hashed already when it is a
/// subject) and its `.sha256`.
async fn check_listed(
    store: &ObjectStore,
    prefix: &str,
    (path, want): (&str, &str),
    digests: &BTreeMap<String, Option<Digest>>,
    problems: &mut Vec<String>,
    verified: &mut Verified,
) -> Result<()> {
    if !super::layout::is_safe_path(path) {
        problems.push(format!(
            "{prefix}{SHA256SUMS}: the line for `{}` names no path inside the release",
            path.escape_debug()
        ));
        return Ok(());
    }
    let Ok(want) = Digest::from_hex(want) else {
        problems.push(format!(
            "{prefix}{SHA256SUMS}: the line for {path} has no sha256"
        ));
        return Ok(());
    };
    let got = match digests.get(path) {
        Some(g) => g.clone(),
        None => store
            .hash(&format!("{prefix}{path}"))
            .await?
            .map(|f| f.digest),
    };
    match got {
        None => problems.push(format!("{prefix}{path}: missing (listed in SHA256SUMS)")),
        Some(g) if g != want => problems.push(format!(
            "{prefix}{path}: altered (sha256 {}, SHA256SUMS says {})",
            g.hex(),
            want.hex()
        )),
        _ => {}
    }
    let file = path.rsplit('/').next().unwrap_or(path);
    let side_key = format!("{path}.sha256");
    // A sidecar past 4 KiB disagrees; any other failure is the store's.
    let side = match store.get_capped(&format!("{prefix}{side_key}"), 4096).await {
        Err(Error::Untrusted { .. }) => None,
        other => other?,
    };
    let expected = super::layout::sidecar(want.hex(), file);
    if side.as_deref() != Some(expected.as_bytes()) {
        problems.push(format!(
            "{prefix}{path}.sha256: missing or disagrees with SHA256SUMS"
        ));
    }
    verified.sidecars.push((side_key, expected.into_bytes()));
    Ok(())
}
