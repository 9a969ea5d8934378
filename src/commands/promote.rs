//! `promote NAME:TAG --from STAGING --to PROD [--images-from … --images-to …]`:
//! a loop over destinations ([`crate::destination`]). The source is
//! verified first through its kind (signature and every digest, as `verify`
//! does); each destination then plans copying exactly what was verified
//! from a source of its own kind (`plan_promote`: the release store's
//! files, checksums, provenance and tag document; the image's blobs,
//! manifests and index by digest, checked against the provenance's image
//! subjects before anything is written), and the plans are applied stage by
//! stage: image content, the releases (and production's package
//! repositories), then the image tags. `--dry-run` prints the plan.

use crate::context::Context;
use crate::destination::{self, Access, Destination, Keys, Outcome, Promoting, Role};
use crate::errors::{Error, Result};
use crate::lifecycle::promote::{packages_of, packages_url, PromoteOpts, Promoted};
use crate::plan::{Plan, Subject};
use crate::publish::verify::Verified;
use crate::release::Class;

/// `NAME:TAG`, checked.
fn release_of(opts: &PromoteOpts) -> Result<(&str, &str)> {
    let (name, tag) = opts.release.split_once(':').ok_or_else(|| {
        Error::usage(
            "promote",
            "NAME:TAG",
            format!("`{}` names no tag: write NAME:TAG", opts.release),
        )
    })?;
    crate::release::validate_name(name)?;
    crate::release::validate_tag(tag)?;
    Ok((name, tag))
}

/// The source's release, verified through its kind; refused (each problem
/// named) when anything fails.
async fn verified_source(
    from: &dyn Destination,
    opts: &PromoteOpts,
    key: Option<&crate::nixcache::PublicKey>,
) -> Result<Verified> {
    let (name, tag) = release_of(opts)?;
    let checked = from.verify(name, tag, key).await?;
    if !checked.problems.is_empty() {
        for p in &checked.problems {
            eprintln!("problem: {p}");
        }
        return Err(Error::VerifyFailed {
            release: opts.release.clone(),
            count: checked.problems.len(),
        });
    }
    Ok(checked.release)
}

/// Keeps, of the source's signatures, those the given public keys check:
/// `SHA256SUMS.asc`, `SHA256SUMS.minisig`, and (when that one is good) each
/// file's `.minisig`, whose file was verified by its digest (a bad one
/// could only make a user's minisign refuse, never accept). A signature
/// that does not check is tampering: refused, nothing copied. Without keys
/// none is copied, said so.
fn carry_signatures(v: &mut Verified, opts: &PromoteOpts) -> Result<()> {
    if v.signatures.is_empty() {
        return Ok(());
    }
    let keys = crate::publish::signatures::read_public_keys(
        opts.minisign_pub.as_deref(),
        opts.openpgp_pub.as_deref(),
    )?;
    let (name, tag) = release_of(opts)?;
    let at = opts.layout.release_prefix(name, tag);
    let (bad, good) =
        crate::publish::signatures::check_sums(&at, &v.sums, &v.signatures, (&keys, false));
    if !bad.is_empty() {
        for p in &bad {
            eprintln!("problem: {p}");
        }
        return Err(Error::VerifyFailed {
            release: opts.release.clone(),
            count: bad.len(),
        });
    }
    v.signatures.retain(|(n, _)| good.contains(n));
    if !good.iter().any(|n| n.ends_with(".minisig")) {
        v.file_signatures.clear();
    }
    if v.signatures.is_empty() {
        eprintln!("the source's signatures are not copied: give --minisign-pub and --openpgp-pub to check them");
    }
    Ok(())
}

/// With `--require-reproduced`: the source's reproducibility statement
/// must be there, signed with the key given, and cover every build output
/// the provenance names; otherwise nothing is copied.
fn require_reproduced(
    v: &Verified,
    opts: &PromoteOpts,
    key: Option<&crate::nixcache::PublicKey>,
) -> Result<()> {
    if !opts.require_reproduced {
        return Ok(());
    }
    let own = crate::publish::verify::public_key(opts.reproduced_key.as_deref())?;
    let key = own.as_ref().or(key);
    let assessment =
        crate::provenance::reproduced::assess(&v.bundle.1, v.reproduced.as_deref(), key);
    match assessment.refusal() {
        None => {
            eprintln!("{}: {}", opts.release, assessment.line());
            Ok(())
        }
        Some(why) => Err(Error::NotReproducedRelease {
            release: opts.release.clone(),
            why,
        }),
    }
}

/// Runs `promote`.
pub fn run_promote(ctx: &Context, opts: &PromoteOpts) -> Result<Vec<Promoted>> {
    let (name, tag) = release_of(opts)?;
    let layout = opts.layout;
    let tmp = ctx.dist_dir().join("tmp");
    std::fs::create_dir_all(&tmp).map_err(Error::io("cannot create", &tmp))?;
    let key = crate::publish::verify::public_key(opts.key.as_deref())?;
    let (image_tags, _) = crate::oci::image_tags(tag, &opts.image_tags);
    let runtime = crate::context::runtime()?;
    runtime.block_on(async {
        let from = destination::open(&opts.from, Role::Releases, Access::Read, layout).await?;
        let mut verified = verified_source(from.as_ref(), opts, key.as_ref()).await?;
        carry_signatures(&mut verified, opts)?;
        require_reproduced(&verified, opts, key.as_ref())?;
        // A release with packages goes into production's repositories too.
        let packages_url = match packages_of(&verified).is_empty() {
            true => None,
            false => Some(packages_url(ctx)?),
        };
        let other_suite = ctx.project.config.packages.suite(false);
        let work = Promoting {
            name,
            tag,
            verified: &verified,
            force: opts.force,
            image_tags: &image_tags,
            packages: packages_url.as_deref().map(|url| (url, other_suite)),
            tmp: &tmp,
        };
        let to = destination::open_all(&opts.to, Role::Releases, Access::Write, layout).await?;
        let (images_from, images_to) = match &opts.images_from {
            Some(url) => (
                Some(destination::open(url, Role::Images, Access::Read, layout).await?),
                destination::open_all(&opts.images_to, Role::Images, Access::Write, layout).await?,
            ),
            None => (None, Vec::new()),
        };
        let mut planned = Vec::new();
        for d in &to {
            planned.push(d.plan_promote(from.as_ref(), &work).await?);
        }
        if let Some(source) = &images_from {
            for d in &images_to {
                planned.push(d.plan_promote(source.as_ref(), &work).await?);
            }
        }
        let names = to.iter().chain(&images_to).map(|d| d.label()).collect();
        let subject = Subject {
            name: name.to_string(),
            tag: tag.to_string(),
            class: Class::of(tag).as_str().to_string(),
        };
        let plan = Plan::new(
            "promote",
            Some(subject),
            names,
            destination::objects(&planned),
        );
        if ctx.dry_run {
            ctx.print_result(&plan.render(), &plan);
            return Ok(Vec::new());
        }
        // Production's repositories are signed with production's key: it is
        // read before anything is copied.
        let keys = Keys {
            packages: match planned.iter().any(|p| p.needs_packages_key()) {
                true => Some(crate::keys::load_openpgp(
                    opts.packages_key.as_deref(),
                    &|k| std::env::var(k).ok(),
                )?),
                false => None,
            },
        };
        let out: Vec<Promoted> = destination::apply_all(&planned, &keys)
            .await?
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Promoted(p) => Some(p),
                _ => None,
            })
            .collect();
        ctx.print_result(&render(name, tag, &out), &out);
        Ok(out)
    })
}

fn render(name: &str, tag: &str, out: &[Promoted]) -> String {
    out.iter()
        .map(|p| {
            format!(
                "promoted {name}:{tag} to {}: {} objects copied, {} already there; tags: {}\n",
                p.store,
                p.copied,
                p.skipped,
                p.tags.join(", ")
            )
        })
        .collect()
}
