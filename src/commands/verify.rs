//! `verify`: the release read back from `--from` (through the destination
//! seam: the kind checks what it holds against the signed provenance) and
//! each `--image`'s attestation.

use crate::context::Context;
use crate::destination::{self, Access, Role};
use crate::errors::{Error, Result};
use crate::publish::verify::{public_key, VerifyOpts};

use crate::publish::verify_image::{verify_image, ImageToVerify};

/// What `verify` checks: the static release (where, name and tag) and the
/// images, from the options; refused when there is nothing to check.
type Targets<'a> = (Option<(&'a str, (&'a str, &'a str))>, Vec<ImageToVerify>);

fn targets(opts: &VerifyOpts) -> Result<Targets<'_>> {
    let release = match &opts.release {
        Some(r) => {
            let (name, tag) = r
                .split_once(':')
                .ok_or_else(|| Error::InvalidTag { tag: r.clone() })?;
            crate::release::validate_name(name)?;
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
        (Some(f), Some(r)) => Some((f.as_str(), r)),
        (Some(_), None) => {
            return Err(Error::usage(
                "verify",
                "--release",
                "is needed with --from: NAME:TAG",
            ))
        }
        (None, _) if images.is_empty() => {
            return Err(Error::usage(
                "verify",
                "--from/--image",
                "give --from URL --release NAME:TAG, or --image IMAGE, or both",
            ))
        }
        (None, _) => None,
    };
    Ok((from, images))
}

/// The reproducibility statement as `--message-format json` shows it.
fn reproduction_json(a: &crate::provenance::reproduced::Assessment) -> serde_json::Value {
    serde_json::json!({
        "present": a.statement.is_some(),
        "by": a.statement.as_ref().map(|s| &s.predicate.rebuilder.id),
        "store": a.statement.as_ref().map(|s| &s.predicate.builder.store),
        "mode": a.statement.as_ref().map(|s| s.predicate.builder.mode),
        "signatureChecked": a.signature_checked,
        "uncovered": a.gaps,
        "problems": a.problems,
    })
}

/// Runs `verify`: prints every problem, and fails when there is one.
pub fn run_verify(ctx: &Context, opts: &VerifyOpts) -> Result<()> {
    let (from, images) = targets(opts)?;
    let key = public_key(opts.key.as_deref())?;
    let signature_keys = crate::publish::signatures::read_public_keys(
        opts.minisign_pub.as_deref(),
        opts.openpgp_pub.as_deref(),
    )?;
    let runtime = crate::context::runtime()?;
    let mut problems = Vec::new();
    let mut lines = String::new();
    let signature = if key.is_some() {
        "signature good"
    } else {
        "signature NOT checked (no --key)"
    };
    let mut checked_files = None;
    let mut reproduction: Option<crate::provenance::reproduced::Assessment> = None;
    let reproduced_key = public_key(opts.reproduced_key.as_deref())?;
    if let Some((url, (name, tag))) = &from {
        let checked = runtime.block_on(async {
            let from = destination::open(url, Role::Releases, Access::Read, opts.layout).await?;
            from.verify(name, tag, key.as_ref()).await
        })?;
        let at = opts.layout.release_prefix(name, tag);
        let (bad, good) = crate::publish::signatures::check_sums(
            &at,
            &checked.release.sums,
            &checked.release.signatures,
            (&signature_keys, opts.require_signatures),
        );
        let (found, objects) = (checked.problems, checked.objects);
        problems.extend(found);
        problems.extend(bad);
        let assessment = crate::provenance::reproduced::assess(
            &checked.release.bundle.1,
            checked.release.reproduced.as_deref(),
            reproduced_key.as_ref().or(key.as_ref()),
        );
        problems.extend(assessment.problems.iter().map(|p| format!("{at}: {p}")));
        if let (true, Some(why)) = (opts.require_reproduced, assessment.refusal()) {
            if assessment.problems.is_empty() {
                problems.push(format!("{at}: {why}"));
            }
        }
        reproduction = Some(assessment);
        checked_files = Some(objects);
        let signed = match good.is_empty() {
            true => String::new(),
            false => format!(", {} good", good.join(" and ")),
        };
        lines.push_str(&format!(
            "{name}:{tag}: {objects} objects verified, {signature}{signed}\n"
        ));
        if let Some(a) = &reproduction {
            lines.push_str(&format!("{name}:{tag}: {}\n", a.line()));
        }
    }
    let mut verified = Vec::new();
    for image in &images {
        let keys = (key.as_ref(), reproduced_key.as_ref());
        let (found, done) = runtime.block_on(verify_image(image, keys))?;
        if found.is_empty() {
            lines.push_str(&format!(
                "{}: index {} and {} platform manifests attested by {}, {signature}\n",
                done.image,
                done.index,
                done.manifests,
                done.attestations.join(", ")
            ));
            if let Some(r) = &done.reproduced {
                lines.push_str(&format!("{}: {r}\n", done.image));
            }
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
        &serde_json::json!({
            "release": opts.release,
            "verified": checked_files,
            "images": verified,
            "signatureChecked": key.is_some(),
            "reproduced": reproduction.as_ref().map(reproduction_json),
        }),
    );
    Ok(())
}
