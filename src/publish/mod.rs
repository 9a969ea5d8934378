//! `publish`: the static release (files, checksums, signed provenance, tag
//! and name documents, release index) from what `build` recorded in
//! build.json, to every destination; and `verify`, which reads it back.

pub mod images;
pub mod index;
pub mod layout;
pub mod statics;
mod verify;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use layout::Layout;
pub use verify::{run_verify, VerifyOpts};

use crate::context::{Context, Verbosity};
use crate::errors::{Error, Result};
use crate::manifest::{Artifact, BuildManifest, Kind};
use crate::nixcache::SecretKey;
use crate::objstore::{ObjectStore, StoreUrl};
use crate::plan::Plan;
use crate::provenance::{self, Subject};
use crate::release::{self, Class, Release};
use layout::{sha256sums, ReleaseFile, SHA256SUMS};
use statics::{StaticRelease, StaticSummary};

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
}

/// Reads the signing key: `--signing-key PATH`, else `$RELEASE_DIST_SIGNING_KEY`.
pub fn signing_key(path: Option<&std::path::Path>) -> Result<SecretKey> {
    let (text, origin) = match path {
        Some(p) => (
            std::fs::read_to_string(p).map_err(|e| Error::Key {
                path: p.to_path_buf(),
                reason: format!("cannot read it: {e}"),
            })?,
            p.to_path_buf(),
        ),
        None => match std::env::var(SIGNING_KEY_ENV) {
            Ok(t) if !t.trim().is_empty() => (t, PathBuf::from(format!("${SIGNING_KEY_ENV}"))),
            _ => return Err(Error::NoSigningKey),
        },
    };
    SecretKey::parse_any(&text).map_err(|e| Error::Key {
        path: origin,
        reason: e.to_string(),
    })
}

fn hostname() -> String {
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

/// The static destinations: the command line's, else the config's, else
/// the local default; parsed.
fn static_destinations(
    ctx: &Context,
    given: &[String],
) -> Result<(Vec<String>, Vec<crate::objstore::Location>)> {
    let urls: Vec<String> = if !given.is_empty() {
        given.to_vec()
    } else if !ctx.project.config.static_destinations.is_empty() {
        ctx.project.config.static_destinations.clone()
    } else {
        vec![ctx.dist_dir().join("publish/static").display().to_string()]
    };
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

/// Runs `publish`.
pub fn run_publish(ctx: &Context, opts: &PublishOpts) -> Result<PublishSummary> {
    let dist = ctx.dist_dir();
    let manifest_path = dist.join("build.json");
    if !manifest_path.exists() {
        return Err(Error::NoBuild {
            path: manifest_path,
        });
    }
    let manifest = BuildManifest::read(&manifest_path)?;
    if !manifest.complete || !manifest.failures.is_empty() {
        return Err(Error::IncompleteBuild {
            failed: manifest.failures.len(),
            names: manifest
                .failures
                .iter()
                .map(|f| format!("{} {}", f.platform, f.kind.as_str()))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let release = release::detect(
        &|k| std::env::var(k).ok(),
        opts.tag.as_deref(),
        &manifest.source,
        &hostname(),
    )?;
    if release.class == Class::Stable {
        if manifest.source.dirty {
            return Err(Error::DirtyStable {
                tag: release.tag.clone(),
                what: "build.json records that the build ran on uncommitted changes".into(),
            });
        }
        let repo = crate::source::git_toplevel(&ctx.project.dir)?;
        let changes =
            crate::source::uncommitted(&repo, std::slice::from_ref(&ctx.project.target_dir))?;
        if !changes.is_empty() {
            let files: Vec<&str> = changes.iter().take(5).map(String::as_str).collect();
            return Err(Error::DirtyStable {
                tag: release.tag.clone(),
                what: format!("uncommitted changes: {}", files.join("; ")),
            });
        }
    }
    let key = signing_key(opts.signing_key.as_deref())?;
    let layout = opts.layout.unwrap_or(ctx.project.config.static_layout);

    // The files, checked against build.json.
    let mut files = Vec::new();
    for a in manifest.artifacts.iter().filter(|a| a.kind == Kind::Static) {
        let local = dist.join(&a.path);
        checked_link(&dist, a)?;
        let (sha256, size) = (a.sha256.clone(), a.size);
        let file = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(ReleaseFile {
            platform: a.platform,
            file,
            local,
            sha256,
            size,
        });
    }
    let name = &ctx.project.config.name;
    let sums = sha256sums(
        &files
            .iter()
            .map(|f| (layout.file_path(f.platform, &f.file), f.sha256.clone()))
            .collect::<Vec<_>>(),
    );
    let started = provenance::statement::now_rfc3339();
    let mut subjects: Vec<Subject> = files
        .iter()
        .map(|f| Subject {
            name: layout.file_path(f.platform, &f.file),
            sha256: f.sha256.clone(),
        })
        .collect();
    subjects.push(Subject {
        name: SHA256SUMS.into(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sums.as_bytes())),
    });
    let config = &ctx.project.config;
    let images = if opts.no_images {
        None
    } else {
        let extra = if opts.image_tags.is_empty() {
            &config.image_tags
        } else {
            &opts.image_tags
        };
        images::prepare(
            ctx,
            &manifest,
            &release,
            opts.image_compression.unwrap_or(config.image_compression),
            extra,
        )?
    };
    if let Some(im) = &images {
        subjects.extend(im.subjects(&config.name, &release.tag));
    }
    let statement = provenance::statement(
        &manifest,
        &release,
        &subjects,
        &provenance::Run {
            started_on: started.clone(),
            finished_on: provenance::statement::now_rfc3339(),
        },
    );
    let body = serde_json::to_vec(&statement).map_err(|e| Error::Json {
        path: PathBuf::from("provenance statement"),
        source: e,
    })?;
    let envelope = provenance::dsse::sign(&key, provenance::IN_TOTO_PAYLOAD_TYPE, &body);
    let mut bundle = serde_json::to_vec(&envelope).unwrap_or_default();
    bundle.push(b'\n');
    let bundle_name = provenance::bundle_name(name, &release.tag);

    use crate::kinds::PublishPart;
    let locations = match opts.part {
        Some(PublishPart::Images) => Vec::new(),
        _ => static_destinations(ctx, &opts.static_urls)?.1,
    };
    let command = match opts.part {
        None => "publish",
        Some(PublishPart::Static) => "publish static",
        Some(PublishPart::Images) => "publish images",
    };
    if opts.part == Some(PublishPart::Images) && images.is_none() {
        return Err(Error::NoImages);
    }

    let image_urls: Vec<String> = match &images {
        None => Vec::new(),
        // The static half converts the images (their digests are subjects
        // of its provenance) but pushes none.
        Some(_) if opts.part == Some(PublishPart::Static) => Vec::new(),
        Some(_) if !opts.image_urls.is_empty() => opts.image_urls.clone(),
        Some(_) if !config.image_destinations.is_empty() => config.image_destinations.clone(),
        Some(_) => vec![dist.join("publish/images").display().to_string()],
    };
    for u in &image_urls {
        crate::oci::dest::parse(u).map_err(Error::StoreUrl)?;
    }

    let rel = StaticRelease {
        name,
        release: &release,
        layout,
        files: &files,
        sha256sums: sums,
        provenance: (bundle_name.clone(), bundle),
        force: opts.force,
    };
    let runtime = crate::context::runtime()?;
    let quiet = ctx.verbosity == Verbosity::Quiet;
    if let Some(im) = &images {
        if !im.ignored_tags.is_empty() && !quiet {
            eprintln!(
                "note: image tags {} are for stable releases only; {} is {}",
                im.ignored_tags.join(", "),
                release.tag,
                release.class.as_str()
            );
        }
    }
    // The plan: every destination opened (registries authenticate here) and
    // read; nothing is written yet.
    let mut objects = Vec::new();
    let mut destination_names = Vec::new();
    let mut targets = Vec::new();
    if let Some(im) = &images {
        for u in &image_urls {
            let target = runtime.block_on(images::Target::open(u))?;
            let content = runtime.block_on(target.plan_content(name, &im.set))?;
            let label = target.destination();
            objects.extend(target.planned_objects(&label, name, &im.set, &content, &im.tags));
            destination_names.push(label);
            targets.push((target, content));
        }
    }
    let mut stores = Vec::new();
    for location in &locations {
        let store = runtime.block_on(ObjectStore::open(location))?;
        let planned = runtime.block_on(statics::plan_static(&store, &store.describe(), &rel))?;
        objects.extend(planned.objects.iter().cloned());
        destination_names.push(store.describe());
        stores.push((store, planned));
    }
    let plan = Plan::new(
        command,
        crate::plan::Subject {
            name: name.clone(),
            tag: release.tag.clone(),
            class: release.class.as_str().into(),
        },
        destination_names,
        objects,
    );
    if ctx.dry_run {
        ctx.print_result(&plan.render(), &plan);
        return Ok(PublishSummary {
            release,
            layout: layout.as_str(),
            provenance: bundle_name,
            destinations: vec![],
            image_index: images.map(|i| i.set.index.descriptor.digest),
            images: vec![],
        });
    }
    // Images, phase one: blobs, manifests and the index. No tag moves yet.
    let mut image_summaries = Vec::new();
    if let Some(im) = &images {
        for (target, content) in &targets {
            if !quiet {
                eprintln!(
                    "pushing the {name} image ({} platforms, {} MiB of blobs) to {}",
                    im.set.manifests.len(),
                    im.set.blob_bytes() / (1 << 20),
                    target.describe()
                );
            }
            let stats = runtime.block_on(target.push_content(name, &im.set, content))?;
            image_summaries.push(images::ImageSummary {
                destination: target.describe(),
                index: im.set.index.descriptor.digest.clone(),
                stats,
                listed_tags: Vec::new(),
            });
        }
    }
    let mut destinations = Vec::new();
    for (store, planned) in &stores {
        if !quiet {
            eprintln!(
                "publishing {name} {} ({}) to {}",
                release.tag,
                release.class.as_str(),
                store.describe()
            );
        }
        destinations.push(runtime.block_on(statics::execute_static(store, &rel, planned))?);
    }
    // Images alone: the provenance goes beside the build, for the step that
    // publishes it (and, later, into the registry beside the index).
    if opts.part == Some(PublishPart::Images) {
        let dir = dist.join("provenance");
        std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
        let path = dir.join(&bundle_name);
        std::fs::write(&path, &rel.provenance.1).map_err(Error::io("cannot write", &path))?;
        if !quiet {
            eprintln!("provenance: {}", path.display());
        }
    }
    // Images, phase two, after the static release: the tags.
    if let Some(im) = &images {
        for ((target, _), summary) in targets.iter().zip(&mut image_summaries) {
            summary.listed_tags = runtime.block_on(target.push_tags(name, &im.set, &im.tags))?;
            summary.stats.tags = im.tags.clone();
        }
    }
    let summary = PublishSummary {
        release,
        layout: layout.as_str(),
        provenance: bundle_name,
        destinations,
        image_index: images
            .as_ref()
            .map(|i| i.set.index.descriptor.digest.clone()),
        images: image_summaries,
    };
    let mut human = String::new();
    for d in &summary.destinations {
        human.push_str(&format!(
            "{} {} at {}: {}, {} files uploaded ({} bytes), {} already there; tags: {}\n",
            name,
            summary.release.tag,
            d.store,
            if d.already_published {
                "already published"
            } else {
                "published"
            },
            d.uploaded,
            d.uploaded_bytes,
            d.skipped,
            d.tags.join(", ")
        ));
    }
    for i in &summary.images {
        human.push_str(&format!(
            "{} image {} at {}: {} blobs uploaded ({} bytes), {} already there; tags: {}\n",
            name,
            i.index,
            i.destination,
            i.stats.blobs_uploaded,
            i.stats.bytes_uploaded,
            i.stats.blobs_skipped,
            i.stats.tags.join(", ")
        ));
    }
    ctx.print_result(&human, &summary);
    Ok(summary)
}
