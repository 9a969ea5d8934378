//! `publish`: the static release (files, checksums, signed provenance, tag
//! and name documents, release index) from what `build` recorded in
//! build.json, to every destination; and `verify`, which reads it back.

pub mod archives;
pub mod images;
pub mod index;
pub mod installer;
pub mod layout;
pub mod notes;
pub mod packages;
pub mod repos;
pub mod run;
pub mod signatures;
pub mod statics;
pub(crate) mod verify;
pub mod verify_image;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use layout::Layout;
pub use verify::VerifyOpts;

use crate::build_record::Artifact;
use crate::context::Context;
use crate::errors::{Error, Result};
use crate::nixcache::SecretKey;
use crate::objstore::{ObjectStore, StoreUrl};
use crate::release::Release;
use statics::StaticSummary;

/// The environment variable that may hold the provenance signing key's text.
pub const SIGNING_KEY_ENV: &str = "RELEASE_DIST_SIGNING_KEY";

/// `publish`'s options.
#[derive(Debug, Clone, Default)]
pub struct PublishOpts {
    /// Static destinations (store URLs or directories).
    pub static_urls: Vec<String>,
    /// The signing key file.
    pub signing_key: Option<PathBuf>,
    /// The release tag, overriding CI and git.
    pub tag: Option<String>,
    /// Replace a stable release that has other bytes.
    pub force: bool,
    /// The static layout, overriding the config.
    pub layout: Option<Layout>,
    /// Image destinations.
    pub image_urls: Vec<String>,
    /// Extra image tags of a stable release.
    pub image_tags: Vec<String>,
    /// Layer compression, overriding the config.
    pub image_compression: Option<crate::oci::convert::LayerCompression>,
    /// Publish no images.
    pub no_images: bool,
    /// One half only.
    pub part: Option<crate::kinds::PublishPart>,
    /// Package formats, overriding the config (`--packages deb,rpm`).
    pub packages: Option<Vec<String>>,
    /// The OpenPGP key file of the packages.
    pub packages_key: Option<PathBuf>,
    /// The OpenPGP key file of `SHA256SUMS.asc`.
    pub openpgp_key: Option<PathBuf>,
    /// The minisign key file of the `.minisig` files.
    pub minisign_key: Option<PathBuf>,
}

/// What `publish` did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishSummary {
    /// The release.
    pub release: Release,
    /// The layout.
    pub layout: &'static str,
    /// The provenance bundle's name.
    pub provenance: String,
    /// One entry per static destination.
    pub destinations: Vec<StaticSummary>,
    /// The image index digest, when the build made images.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_index: Option<String>,
    /// One entry per image destination.
    pub images: Vec<images::ImageSummary>,
    /// The package repositories, one entry per static destination.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repositories: Vec<repos::RepoSummary>,
}

/// Reads the signing key: `--signing-key PATH`, else `$RELEASE_DIST_SIGNING_KEY`.
pub fn signing_key(path: Option<&std::path::Path>) -> Result<SecretKey> {
    let source = crate::keys::KeySource {
        signs: "the provenance",
        path,
        option: "--signing-key PATH",
        env: SIGNING_KEY_ENV,
        openpgp: false,
        parse: SecretKey::parse_any,
    };
    crate::keys::load_secret(source, &|k| std::env::var(k).ok())
}

/// This machine's name, for records and provenance.
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// The link `build` made must still resolve to the store file build.json
/// names: the store is immutable, so its bytes are the recorded ones.
pub(crate) fn checked_link(dist: &Path, a: &Artifact) -> Result<PathBuf> {
    let local = dist.join(&a.path);
    let expected = PathBuf::from(a.store_target());
    let actual = std::fs::canonicalize(&local).map_err(Error::io("cannot read", &local))?;
    if actual != expected {
        return Err(Error::ArtifactChanged {
            path: local,
            expected: expected.display().to_string(),
            actual: actual.display().to_string(),
        });
    }
    Ok(actual)
}

/// The static destinations' URLs: the command line's, else the config's,
/// else the local default.
pub(crate) fn static_urls(ctx: &Context, given: &[String]) -> Vec<String> {
    if !given.is_empty() {
        given.to_vec()
    } else if !ctx.project.config.static_destinations.is_empty() {
        ctx.project.config.static_destinations.clone()
    } else {
        vec![ctx.dist_dir().join("publish/static").display().to_string()]
    }
}

/// The static destinations ([`static_urls`]), parsed as object stores.
pub(crate) fn static_destinations(
    ctx: &Context,
    given: &[String],
) -> Result<(Vec<String>, Vec<crate::objstore::Location>)> {
    let urls = static_urls(ctx, given);
    let locations = urls
        .iter()
        .map(|u| StoreUrl::parse_location(u))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::StoreUrl)?;
    Ok((urls, locations))
}

/// What `refresh-index` did, per destination.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshedIndex {
    /// The destination.
    pub store: String,
    /// The tags the index now lists.
    pub tags: Vec<String>,
}

/// Runs `refresh-index`: the shared documents, derived again from each
/// destination's listing (the same loop `publish` ends with).
pub fn run_refresh_index(
    ctx: &Context,
    static_urls: &[String],
    layout: Option<Layout>,
) -> Result<Vec<RefreshedIndex>> {
    let (urls, locations) = static_destinations(ctx, static_urls)?;
    let layout = layout.unwrap_or(ctx.project.config.static_layout);
    let name = &ctx.project.config.name;
    if ctx.dry_run {
        for u in &urls {
            println!(
                "would regenerate the {name} index at {u} ({})",
                layout.as_str()
            );
        }
        return Ok(vec![]);
    }
    let runtime = crate::context::runtime()?;
    let mut out = Vec::new();
    for location in &locations {
        let r = runtime.block_on(async {
            let store = ObjectStore::open(location).await?;
            let tags = statics::converge_shared_documents(&store, layout, name).await?;
            Ok::<_, Error>(RefreshedIndex {
                store: store.describe(),
                tags,
            })
        })?;
        out.push(r);
    }
    let human: String = out
        .iter()
        .map(|r| {
            format!(
                "{name} index at {}: {} releases ({})\n",
                r.store,
                r.tags.len(),
                r.tags.join(", ")
            )
        })
        .collect();
    ctx.print_result(&human, &out);
    Ok(out)
}
