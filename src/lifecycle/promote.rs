//! `promote NAME:TAG --from STAGING --to PROD`: copies a published static
//! release to another destination without rebuilding. The source is
//! verified first (signature and every digest, as `verify` does); then the
//! objects are copied in publish order (files, each before its `.sha256`,
//! then `SHA256SUMS`, the provenance, the tag document), and the shared
//! documents at the destination are derived again. So production shows
//! nothing of the release until it is whole, and a re-run after a kill
//! copies only what is missing. Buckets at one endpoint copy on the server
//! (CopyObject); otherwise each object streams through a temporary file.

use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;
use crate::errors::{Error, Result};
use crate::objstore::{ObjectMeta, ObjectStore, StoreUrl};
use crate::plan::{Action, Phase, Plan, PlannedObject, Subject};
use crate::publish::layout::{content_type, Layout, SHA256SUMS};
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

/// The phase an object of a release belongs to, and its Content-Type.
fn phase_of(path: &str) -> (Phase, &'static str) {
    if path == SHA256SUMS {
        (Phase::Checksums, content_type::TEXT)
    } else if path.ends_with(".intoto.jsonl") {
        (Phase::Provenance, crate::provenance::CONTENT_TYPE_BUNDLE)
    } else if path.ends_with(".sha256") {
        (Phase::Files, content_type::TEXT)
    } else {
        (Phase::Files, content_type::BINARY)
    }
}

/// The source's objects of the release, in copy order: each file before its
/// `.sha256`, then the checksums, the provenance, and the tag document.
fn copy_order(
    listing: &[ObjectMeta],
    prefix: &str,
    tag_doc: Option<&str>,
) -> Vec<(ObjectMeta, Phase, &'static str)> {
    let mut objects: Vec<(ObjectMeta, Phase, &'static str)> = listing
        .iter()
        .filter(|o| o.key.starts_with(prefix))
        .map(|o| {
            let (phase, ctype) = phase_of(&o.key[prefix.len()..]);
            (o.clone(), phase, ctype)
        })
        .collect();
    objects.sort_by(|a, b| {
        let rank = |o: &(ObjectMeta, Phase, &str)| {
            let base = o.0.key.trim_end_matches(".sha256").to_string();
            (o.1, base, o.0.key.ends_with(".sha256"))
        };
        rank(a).cmp(&rank(b))
    });
    if let Some(doc) = tag_doc {
        if let Some(o) = listing.iter().find(|o| o.key == doc) {
            objects.push((o.clone(), Phase::TagDocument, content_type::JSON));
        }
    }
    objects
}

/// One destination's part: each object in copy order, and whether it is
/// there already.
type DestinationPlan = Vec<(ObjectMeta, Phase, &'static str, bool)>;

/// Refuses a source that fails verification, naming each problem.
async fn verified(src: &ObjectStore, opts: &PromoteOpts, name: &str, tag: &str) -> Result<()> {
    let key = crate::publish::verify::public_key(opts.key.as_deref())?;
    let (problems, _) =
        crate::publish::verify::verify_release(src, opts.layout, name, tag, key.as_ref()).await?;
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("problem: {p}");
    }
    Err(Error::VerifyFailed {
        release: opts.release.clone(),
        count: problems.len(),
    })
}

/// Reads `dest` and plans its part; refuses a stable tag it holds with
/// other bytes (unless `--force`).
async fn plan_destination(
    dest: &ObjectStore,
    opts: &PromoteOpts,
    (name, tag): (&str, &str),
    order: &[(ObjectMeta, Phase, &'static str)],
    sums: &Option<Vec<u8>>,
) -> Result<DestinationPlan> {
    let layout = opts.layout;
    let prefix = layout.release_prefix(name, tag);
    dest.check_access().await?;
    let existing = dest.get(&format!("{prefix}{SHA256SUMS}")).await?;
    if existing.is_some() && existing != *sums && Class::of(tag) == Class::Stable && !opts.force {
        return Err(Error::StableTagExists {
            tag: tag.to_string(),
            store: dest.describe(),
            changed: "SHA256SUMS differs from the source's".into(),
        });
    }
    let there: std::collections::HashMap<String, u64> = dest
        .list(&layout.name_prefix(name))
        .await?
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    Ok(order
        .iter()
        .map(|(o, phase, ctype)| {
            let skip = !opts.force && there.get(&o.key) == Some(&o.size);
            (o.clone(), *phase, *ctype, skip)
        })
        .collect())
}

/// Copies what `plan` says is missing, in its order, then derives the
/// destination's shared documents again.
async fn copy_to(
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
    for (o, _, ctype, skip) in plan {
        if *skip {
            done.skipped += 1;
            continue;
        }
        // A test hook: `RELEASE_DIST_TEST_COPY_PAUSE_MS` waits before each
        // copy, so that a test can kill a promote part-way.
        if let Some(ms) = std::env::var("RELEASE_DIST_TEST_COPY_PAUSE_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if !dest.copy_from(src, &o.key, tmp, ctype).await? {
            return Err(Error::Store {
                store: src.describe(),
                op: "GET",
                key: o.key.clone(),
                kind: crate::errors::StoreErrorKind::Other,
                message: "it went away during the promote".into(),
            });
        }
        done.copied += 1;
    }
    done.tags = crate::publish::statics::converge_shared_documents(dest, layout, name).await?;
    Ok(done)
}

fn plan_of(name: &str, tag: &str, stores: &[(ObjectStore, DestinationPlan)]) -> Plan {
    let objects = stores
        .iter()
        .flat_map(|(dest, plan)| {
            plan.iter()
                .map(move |(o, phase, ctype, skip)| PlannedObject {
                    destination: dest.describe(),
                    phase: *phase,
                    action: if *skip { Action::Skip } else { Action::Write },
                    key: o.key.clone(),
                    size: Some(o.size),
                    digest: None,
                    content_type: Some(ctype.to_string()),
                })
        })
        .collect();
    Plan::new(
        "promote",
        Some(Subject {
            name: name.to_string(),
            tag: tag.to_string(),
            class: Class::of(tag).as_str().to_string(),
        }),
        stores.iter().map(|(d, _)| d.describe()).collect(),
        objects,
    )
}

/// Copies `name:tag`'s image from `from` to each of `to`: blobs the
/// destination lacks, then the manifests and the index (the source's bytes,
/// so the digest stays), then the tag.
async fn promote_images(
    from: &str,
    to: &[String],
    (name, tags): (&str, &[String]),
    tmp: &std::path::Path,
) -> Result<Vec<Promoted>> {
    let tag = tags[0].as_str();
    let source = crate::publish::images::Target::open_to_read(from).await?;
    let dir = tempfile::tempdir_in(tmp).map_err(Error::io("cannot create a directory in", tmp))?;
    let reader = match &source {
        crate::publish::images::Target::Registry(r) => crate::oci::fetch::Source::Registry(r),
        crate::publish::images::Target::Store(s, shape) => {
            crate::oci::fetch::Source::Store(s, *shape, name)
        }
    };
    let Some(set) = crate::oci::fetch::fetch_image(&reader, tag, dir.path()).await? else {
        return Err(Error::NoSuchRelease {
            release: format!("{name}:{tag}"),
            store: source.describe(),
            tags: Vec::new(),
        });
    };
    let mut out = Vec::new();
    for url in to {
        let target = crate::publish::images::Target::open(url).await?;
        let plan = target.plan_content(name, &set).await?;
        let stats = target.push_content(name, &set, &plan).await?;
        let tags = target.push_tags(name, (&set, &plan), tags).await?;
        out.push(Promoted {
            store: target.describe(),
            copied: stats.blobs_uploaded + stats.manifests,
            skipped: stats.blobs_skipped,
            tags,
        });
    }
    Ok(out)
}

/// The key and public URL production's repositories are written with.
fn packages_front(
    ctx: &Context,
    opts: &PromoteOpts,
) -> Result<(crate::openpgp::SigningKey, String)> {
    let key = crate::keys::load_openpgp(opts.packages_key.as_deref(), &|k| std::env::var(k).ok())?;
    let config = &ctx.project.config;
    let url = config.packages.url.clone().or_else(|| config.public_url.clone()).ok_or_else(|| {
        Error::config(
            format!("{}.url", crate::publish::packages::PREFIX),
            "is needed to promote a release with packages: production's public URL, which its .repo file names",
        )
    })?;
    Ok((key, url))
}

/// Runs `promote`.
pub fn run_promote(ctx: &Context, opts: &PromoteOpts) -> Result<Vec<Promoted>> {
    let (name, tag) = opts.release.split_once(':').ok_or_else(|| {
        Error::config(
            "NAME:TAG",
            format!("`{}` names no tag: write NAME:TAG", opts.release),
        )
    })?;
    crate::release::validate_tag(tag)?;
    let from = StoreUrl::parse_location(&opts.from).map_err(Error::StoreUrl)?;
    let to: Vec<_> = opts
        .to
        .iter()
        .map(|u| StoreUrl::parse_location(u).map_err(Error::StoreUrl))
        .collect::<Result<_>>()?;
    let layout = opts.layout;
    let prefix = layout.release_prefix(name, tag);
    let tmp = ctx.dist_dir().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(Error::io("cannot create", &tmp))?;
    let runtime = crate::context::runtime()?;
    runtime.block_on(async {
        let src = ObjectStore::open(&from).await?;
        verified(&src, opts, name, tag).await?;
        let listing = src.list(&layout.name_prefix(name)).await?;
        let order = copy_order(
            &listing,
            &prefix,
            layout.tag_document_key(name, tag).as_deref(),
        );
        let sums = src.get(&format!("{prefix}{SHA256SUMS}")).await?;
        let mut stores = Vec::new();
        for location in &to {
            let dest = ObjectStore::open(location).await?;
            let plan = plan_destination(&dest, opts, (name, tag), &order, &sums).await?;
            stores.push((dest, plan));
        }
        if ctx.dry_run {
            let plan = plan_of(name, tag, &stores);
            ctx.print_result(&plan.render(), &plan);
            return Ok(Vec::new());
        }
        // A release with packages goes into production's repositories too,
        // signed with production's key: read it before anything is copied.
        let packages: Vec<String> = order
            .iter()
            .map(|(o, ..)| o.key.rsplit('/').next().unwrap_or("").to_string())
            .filter(|f| f.ends_with(".deb") || f.ends_with(".rpm"))
            .collect();
        let repo_key = match packages.is_empty() {
            true => None,
            false => Some(packages_front(ctx, opts)?),
        };
        let mut out = Vec::new();
        for (dest, plan) in &stores {
            let mut done = copy_to(dest, &src, plan, (layout, name, &tmp)).await?;
            if let Some((key, url)) = &repo_key {
                let front = crate::publish::repos::Front {
                    name,
                    url,
                    key,
                    suite: "",
                    other_suite: ctx.project.config.packages.suite(false),
                    deb: false,
                    rpm: false,
                    page: (layout, name),
                };
                done.copied += crate::publish::repos::promote_repositories(
                    &src, dest, &packages, &front, &tmp,
                )
                .await?;
            }
            out.push(done);
        }
        if let Some(from) = &opts.images_from {
            let (tags, _) = crate::oci::image_tags(tag, &opts.image_tags);
            out.extend(promote_images(from, &opts.images_to, (name, &tags), &tmp).await?);
        }
        let human: String = out
            .iter()
            .map(|p| {
                format!(
                    "promoted {name}:{tag} to {}: {} objects copied, {} already there; tags: {}\n",
                    p.store,
                    p.copied,
                    p.skipped,
                    p.tags.join(", ")
                )
            })
            .collect();
        ctx.print_result(&human, &out);
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_before_their_sidecars_then_checksums_provenance_and_the_tag_document() {
        let meta = |k: &str| ObjectMeta {
            key: k.into(),
            size: 1,
            modified: None,
        };
        let p = "df-dist-v1/h/v1/";
        let listing = [
            meta("df-dist-v1/h/v1"),
            meta("df-dist-v1/h/v1/SHA256SUMS"),
            meta("df-dist-v1/h/v1/h-v1.intoto.jsonl"),
            meta("df-dist-v1/h/v1/linux/amd64/h.sha256"),
            meta("df-dist-v1/h/v1/linux/amd64/h"),
            meta("df-dist-v1/h/v1/h-v1.tar.gz"),
            meta("df-dist-v1/h/v1/h-v1.tar.gz.sha256"),
            meta("df-dist-v1/h/v2"),
        ];
        let keys: Vec<String> = copy_order(&listing, p, Some("df-dist-v1/h/v1"))
            .into_iter()
            .map(|(o, _, _)| o.key[p.len().min(o.key.len())..].to_string())
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
            ]
        );
    }
}
