//! `publish`: the release prepared once ([`crate::publish::run::prepare`]),
//! then a loop over the destinations ([`crate::destination`]): every one
//! opened and read, and what each will get decided (the plan, which
//! `--dry-run` prints, having written nothing anywhere); then the plans
//! applied stage by stage: image content everywhere, the releases, the
//! image tags.

use crate::context::{Context, Verbosity};
use crate::destination::{
    self, Access, Destination, Kept, Keys, Outcome, Planned, Publishing, Role,
};
use crate::errors::{Error, Result};
use crate::kinds::PublishPart;
use crate::plan::Plan;
use crate::publish::images::Images;
use crate::publish::layout::FileRole;
use crate::publish::statics::StaticRelease;
use crate::publish::{PublishOpts, PublishSummary};

/// Runs `publish`.
pub fn run_publish(ctx: &Context, opts: &PublishOpts) -> Result<PublishSummary> {
    let (prepared, mut images) = crate::publish::run::prepare(ctx, opts)?;
    let name = &ctx.project.config.name;
    let rel = prepared.static_release(name);
    let quiet = ctx.verbosity == Verbosity::Quiet;
    let static_urls = match opts.part {
        Some(PublishPart::Images) => Vec::new(),
        _ => crate::publish::static_urls(ctx, &opts.static_urls),
    };
    let image_urls = image_urls(ctx, opts, images.as_ref())?;
    let runtime = crate::context::runtime()?;
    let (stores, repos) = runtime.block_on(async {
        let layout = rel.layout;
        let stores = destination::open_all(&static_urls, Role::Releases, Access::Write, layout);
        let stores = stores.await?;
        let repos = destination::open_all(&image_urls, Role::Images, Access::Write, layout);
        Ok::<_, Error>((stores, repos.await?))
    })?;
    let releases_only = Publishing {
        release: &rel,
        images: None,
        quiet,
    };
    let planned = runtime.block_on(plan_each(&stores, &releases_only))?;
    if let Some(im) = images.as_mut() {
        let index = im.set.index.descriptor.digest.to_string();
        let bundle = runtime.block_on(attested_bundle(&rel, &planned, &index))?;
        let release = format!("{name}:{}", rel.release.tag);
        im.attach_statement(&release, &bundle, crate::provenance::SLSA_PROVENANCE_V1)?;
        let reproduced = rel.files.iter().find(|f| f.role == FileRole::Reproduced);
        if let Some(f) = reproduced {
            let bytes = crate::bounds::read_file_capped(&f.local, crate::bounds::DOCUMENT_CAP)
                .map_err(Error::io("cannot read", &f.local))?;
            let reproduced_v1 = crate::provenance::reproduced::REPRODUCED_V1;
            im.attach_statement(&release, &bytes, reproduced_v1)?;
        }
    }
    let with_images = Publishing {
        release: &rel,
        images: images.as_ref(),
        quiet,
    };
    // Image destinations first in the plan: their content goes first.
    let mut all = runtime.block_on(plan_each(&repos, &with_images))?;
    all.extend(planned);
    let names = repos.iter().chain(&stores).map(|d| d.label()).collect();
    let plan = Plan::new(
        command_name(opts.part),
        Some(crate::plan::Subject {
            name: name.to_string(),
            tag: rel.release.tag.clone(),
            class: rel.release.class.as_str().into(),
        }),
        names,
        destination::objects(&all),
    );
    let mut summary = PublishSummary {
        release: rel.release.clone(),
        layout: rel.layout.as_str(),
        provenance: rel.provenance.0.clone(),
        destinations: Vec::new(),
        image_index: images
            .as_ref()
            .map(|i| i.set.index.descriptor.digest.to_string()),
        images: Vec::new(),
        repositories: Vec::new(),
    };
    if ctx.dry_run {
        ctx.print_result(&plan.render(), &plan);
        return Ok(summary);
    }
    for outcome in runtime.block_on(destination::apply_all(&all, &Keys::default()))? {
        match outcome {
            Outcome::Release(s) => summary.destinations.push(s),
            Outcome::Repositories(s) => summary.repositories.push(s),
            Outcome::Image(s) => summary.images.push(s),
            // A publish plans no promotion.
            Outcome::Promoted(_) => {}
        }
    }
    if opts.part == Some(PublishPart::Images) {
        write_local_provenance(ctx, &rel)?;
    }
    ctx.print_result(&render_summary(name, &summary), &summary);
    Ok(summary)
}

fn command_name(part: Option<PublishPart>) -> &'static str {
    match part {
        None => "publish",
        Some(PublishPart::Static) => "publish static",
        Some(PublishPart::Images) => "publish images",
    }
}

/// Reads every destination of `opened` and decides what each gets.
async fn plan_each<'a>(
    opened: &'a [Box<dyn Destination>],
    work: &'a Publishing<'a>,
) -> Result<Vec<Box<dyn Planned + 'a>>> {
    let mut out = Vec::new();
    for d in opened {
        out.push(d.plan_publish(work).await?);
    }
    Ok(out)
}

/// The provenance the images carry: the one every release store keeps
/// when the release is there already (so that a re-run attaches the
/// attestation it attached before, and the image's provenance is the
/// release's), else this run's.
async fn attested_bundle(
    rel: &StaticRelease<'_>,
    planned: &[Box<dyn Planned + '_>],
    index: &str,
) -> Result<Vec<u8>> {
    let fresh = rel.provenance.1.clone();
    let mut first = None;
    for p in planned {
        match p.kept_provenance().await? {
            Kept::NotItsKind => {}
            Kept::Missing => return Ok(fresh),
            Kept::There(bytes) => {
                first.get_or_insert(bytes);
            }
        }
    }
    let hex = index.trim_start_matches("sha256:");
    let names_index = |bytes: &[u8]| {
        crate::provenance::read_statement(bytes, None)
            .is_ok_and(|st| st.subject.iter().any(|s| s.digest.sha256 == hex))
    };
    Ok(match first {
        Some(kept) if names_index(&kept) => kept,
        _ => fresh,
    })
}

/// The image destinations this run pushes to: none for `publish static`
/// (or a build without images); else the command line's, the config's, or
/// the local default.
fn image_urls(ctx: &Context, opts: &PublishOpts, images: Option<&Images>) -> Result<Vec<String>> {
    let config = &ctx.project.config;
    let urls = match images {
        None => Vec::new(),
        Some(_) if opts.part == Some(PublishPart::Static) => Vec::new(),
        Some(_) if !opts.image_urls.is_empty() => opts.image_urls.clone(),
        Some(_) if !config.image_destinations.is_empty() => config.image_destinations.clone(),
        Some(_) => vec![ctx.dist_dir().join("publish/images").display().to_string()],
    };
    for u in &urls {
        crate::oci::dest::parse(u).map_err(Error::StoreUrl)?;
    }
    Ok(urls)
}

/// Images alone: the provenance goes beside the build, for the step that
/// publishes it (and, later, into the registry beside the index).
fn write_local_provenance(ctx: &Context, rel: &StaticRelease<'_>) -> Result<()> {
    let dir = ctx.dist_dir().join("provenance");
    std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
    let path = dir.join(&rel.provenance.0);
    std::fs::write(&path, &rel.provenance.1).map_err(Error::io("cannot write", &path))?;
    if ctx.verbosity != Verbosity::Quiet {
        eprintln!("provenance: {}", path.display());
    }
    Ok(())
}

/// One line per destination, for people.
fn render_summary(name: &str, summary: &PublishSummary) -> String {
    let mut human = String::new();
    for d in &summary.destinations {
        let state = if d.already_published {
            "already published"
        } else {
            "published"
        };
        human.push_str(&format!(
            "{name} {} at {}: {state}, {} files uploaded ({} bytes), {} already there; tags: {}\n",
            summary.release.tag,
            d.store,
            d.uploaded,
            d.uploaded_bytes,
            d.skipped,
            d.tags.join(", ")
        ));
    }
    for i in &summary.images {
        human.push_str(&format!(
            "{name} image {} at {}: {} blobs uploaded ({} bytes), {} already there; tags: {}\n",
            i.index,
            i.destination,
            i.stats.blobs_uploaded,
            i.stats.bytes_uploaded,
            i.stats.blobs_skipped,
            i.stats.tags.join(", ")
        ));
    }
    human
}
