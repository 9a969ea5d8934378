//! `verify`: reads a published release back and checks the provenance
//! signature, every subject's digest, `SHA256SUMS` and each `.sha256`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::layout::{parse_sha256sums, Layout, SHA256SUMS};
use super::verify_image::{verify_image, ImageToVerify};
use crate::context::Context;
use crate::errors::{Error, Result};
use crate::nixcache::PublicKey;
use crate::objstore::{Location, ObjectStore, StoreUrl};
use crate::provenance::{self, Envelope};

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
}

/// What `verify` checks: the static release (where, name and tag) and the
/// images, from the options; refused when there is nothing to check.
type Targets<'a> = (Option<(Location, (&'a str, &'a str))>, Vec<ImageToVerify>);

fn targets(opts: &VerifyOpts) -> Result<Targets<'_>> {
    let release = match &opts.release {
        Some(r) => {
            let (name, tag) = r
                .split_once(':')
                .ok_or_else(|| Error::InvalidTag { tag: r.clone() })?;
            crate::release::validate_tag(tag)?;
            Some((name, tag))
        }
        None => None,
    };
    let images = opts
        .images
        .iter()
        .map(|i| ImageToVerify::parse(i, release))
        .collect::<Result<Vec<_>>>()?;
    let from = match (&opts.from, release) {
        (Some(f), Some(r)) => Some((StoreUrl::parse_location(f).map_err(Error::StoreUrl)?, r)),
        (Some(_), None) => {
            return Err(Error::config(
                "--release",
                "is needed with --from: NAME:TAG",
            ))
        }
        (None, _) if images.is_empty() => {
            return Err(Error::config(
                "verify",
                "give --from URL --release NAME:TAG, or --image IMAGE, or both",
            ))
        }
        (None, _) => None,
    };
    Ok((from, images))
}

/// Runs `verify`: prints every problem, and fails when there is one.
pub fn run_verify(ctx: &Context, opts: &VerifyOpts) -> Result<()> {
    let (from, images) = targets(opts)?;
    let key = public_key(opts.key.as_deref())?;
    let runtime = crate::context::runtime()?;
    let mut problems = Vec::new();
    let mut lines = String::new();
    let signature = if key.is_some() {
        "signature good"
    } else {
        "signature NOT checked (no --key)"
    };
    let mut checked_files = None;
    if let Some((location, (name, tag))) = &from {
        let (found, checked) = runtime.block_on(async {
            let store = ObjectStore::open(location).await?;
            verify_release(&store, opts.layout, name, tag, key.as_ref()).await
        })?;
        problems.extend(found);
        checked_files = Some(checked);
        lines.push_str(&format!(
            "{name}:{tag}: {checked} objects verified, {signature}\n"
        ));
    }
    let mut verified = Vec::new();
    for image in &images {
        let (found, done) = runtime.block_on(verify_image(image, key.as_ref()))?;
        if found.is_empty() {
            lines.push_str(&format!(
                "{}: index {} and {} platform manifests attested by {}, {signature}\n",
                done.image,
                done.index,
                done.manifests,
                done.attestations.join(", ")
            ));
        }
        problems.extend(found);
        verified.push(done);
    }
    for p in &problems {
        eprintln!("problem: {p}");
    }
    if !problems.is_empty() {
        return Err(Error::VerifyFailed {
            release: opts.release.clone().unwrap_or_else(|| {
                images
                    .iter()
                    .map(ImageToVerify::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            }),
            count: problems.len(),
        });
    }
    ctx.print_result(
        &lines,
        &serde_json::json!({"release": opts.release, "verified": checked_files, "images": verified, "signatureChecked": key.is_some()}),
    );
    Ok(())
}

/// Reads a public key file (Nix `name:base64` or SPKI PEM), if given.
pub(crate) fn public_key(path: Option<&std::path::Path>) -> Result<Option<PublicKey>> {
    let Some(p) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(p).map_err(|e| Error::Key {
        path: p.to_path_buf(),
        reason: format!("cannot read it: {e}"),
    })?;
    Ok(Some(PublicKey::parse_any(&text).map_err(|e| {
        Error::Key {
            path: p.to_path_buf(),
            reason: e.to_string(),
        }
    })?))
}

/// `verify` of one release at `store`: the problems found, and how many
/// objects were checked; [`Error::NoSuchRelease`] when it is not there.
pub(crate) async fn verify_release(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    tag: &str,
    key: Option<&PublicKey>,
) -> Result<(Vec<String>, usize)> {
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

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The statement inside a bundle: its first DSSE envelope, checked against
/// `key` when there is one. The error says what is wrong with it.
pub(crate) fn read_statement(
    bytes: &[u8],
    key: Option<&PublicKey>,
) -> std::result::Result<provenance::Statement, String> {
    let line = String::from_utf8_lossy(bytes);
    let envelope: Envelope = line
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or("not a DSSE envelope")?;
    let payload = match key {
        Some(k) => provenance::dsse::verify(&envelope, k).map_err(|e| e.to_string())?,
        None => base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &envelope.payload,
        )
        .map_err(|e| format!("the payload is not base64: {e}"))?,
    };
    serde_json::from_slice(&payload).map_err(|e| format!("the payload is not a statement: {e}"))
}

/// Every problem found, and how many objects were checked.
async fn check(
    store: &ObjectStore,
    layout: Layout,
    name: &str,
    tag: &str,
    key: Option<&PublicKey>,
) -> Result<(Vec<String>, usize)> {
    let prefix = layout.release_prefix(name, tag);
    let mut problems = Vec::new();
    let mut digests: BTreeMap<String, Option<String>> = BTreeMap::new();
    let fetch = |path: String| {
        let key = format!("{prefix}{path}");
        async move {
            let bytes = store.get(&key).await?;
            Ok::<_, Error>((path, bytes))
        }
    };

    if let Some(doc) = layout.tag_document_key(name, tag) {
        if store.get(&doc).await?.is_none() {
            problems.push(format!("{doc}: the tag document is missing"));
        }
    }
    let bundle = provenance::bundle_name(name, tag);
    let (_, bundle_bytes) = fetch(bundle.clone()).await?;
    let statement = match bundle_bytes {
        None => {
            problems.push(format!("{prefix}{bundle}: the provenance is missing"));
            None
        }
        Some(bytes) => read_statement(&bytes, key)
            .map_err(|e| problems.push(format!("{prefix}{bundle}: {e}")))
            .ok(),
    };

    // Every subject must be there with its digest.
    let mut checked = 0;
    if let Some(st) = &statement {
        for s in &st.subject {
            let (path, want) = (s.name.as_str(), s.digest.sha256.as_str());
            // Image subjects (the index and per-platform manifests) live in
            // registries, not here: `skopeo inspect --raw` gives their bytes.
            if path.starts_with("image/") {
                continue;
            }
            let (path, bytes) = fetch(path.to_string()).await?;
            checked += 1;
            let got = bytes.as_deref().map(sha256_hex);
            match &got {
                None => problems.push(format!("{prefix}{path}: missing")),
                Some(g) if g != want => problems.push(format!(
                    "{prefix}{path}: altered (sha256 {g}, the provenance says {want})"
                )),
                _ => {}
            }
            digests.insert(path, got);
        }
    }

    // SHA256SUMS and each .sha256 must agree with the bytes.
    let (_, sums) = fetch(SHA256SUMS.into()).await?;
    match sums {
        None => problems.push(format!("{prefix}{SHA256SUMS}: missing")),
        Some(sums) => {
            for (path, want) in parse_sha256sums(&String::from_utf8_lossy(&sums)) {
                let got = match digests.get(&path) {
                    Some(g) => g.clone(),
                    None => {
                        checked += 1;
                        fetch(path.clone()).await?.1.as_deref().map(sha256_hex)
                    }
                };
                match got {
                    None => {
                        problems.push(format!("{prefix}{path}: missing (listed in SHA256SUMS)"))
                    }
                    Some(g) if g != want => problems.push(format!(
                        "{prefix}{path}: altered (sha256 {g}, SHA256SUMS says {want})"
                    )),
                    _ => {}
                }
                let file = path.rsplit('/').next().unwrap_or(&path);
                let (_, side) = fetch(format!("{path}.sha256")).await?;
                let expected = super::layout::sidecar(&want, file);
                if side.as_deref() != Some(expected.as_bytes()) {
                    problems.push(format!(
                        "{prefix}{path}.sha256: missing or disagrees with SHA256SUMS"
                    ));
                }
            }
        }
    }
    Ok((problems, checked))
}
