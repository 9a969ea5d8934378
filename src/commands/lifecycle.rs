//! `ls`, `rm` and `gc`: loops over the destinations ([`crate::destination`]).
//! Each removal is planned first at every destination (`--dry-run` prints
//! the plan), then applied stage by stage: the releases (what makes each
//! visible first, the shared documents derived again, then what nothing
//! uses), then the image tags and what they alone reach.

use std::time::Duration;

use serde::Serialize;

use crate::cache::upkeep::{read_cache_listing, render_cache_listing, CacheListing};
use crate::context::Context;
use crate::destination::{self, Access, Destination, Keys, Role, Section};
use crate::errors::{Error, Result};
use crate::lifecycle::{images, retention, statics};
use crate::plan::{Plan, Subject};
use crate::publish::Layout;
use crate::release::Class;

/// Where `ls`, `rm` and `gc` look, resolved.
#[derive(Debug, Clone)]
pub struct Destinations {
    /// Static destinations (URLs as given).
    pub static_urls: Vec<String>,
    /// Image destinations.
    pub image_urls: Vec<String>,
    /// The cache, when one is given or configured.
    pub cache: Option<String>,
    /// The static layout.
    pub layout: Layout,
    /// The packages' OpenPGP key file, if given.
    pub packages_key: Option<std::path::PathBuf>,
}

impl Destinations {
    /// The command line's, else the config's, else (static and images) the
    /// local defaults `publish` uses.
    pub fn resolve(ctx: &Context, given: crate::cli::Destinations) -> Result<Destinations> {
        let config = &ctx.project.config;
        let static_urls = crate::publish::static_urls(ctx, &given.static_urls);
        let image_urls = if !given.image_urls.is_empty() {
            given.image_urls
        } else if !config.image_destinations.is_empty() {
            config.image_destinations.clone()
        } else {
            vec![ctx.dist_dir().join("publish/images").display().to_string()]
        };
        Ok(Destinations {
            static_urls,
            image_urls,
            cache: given.cache.or_else(|| config.cache.clone()),
            layout: given.layout.unwrap_or(config.static_layout),
            packages_key: given.packages_key,
        })
    }

    /// Opens every destination: the release stores, then the image
    /// repositories. Removal skips an image URL that names no image
    /// destination (`rm` removes what it can name).
    async fn open(&self, access: Access) -> Result<Vec<Box<dyn Destination>>> {
        let layout = self.layout;
        let mut out =
            destination::open_all(&self.static_urls, Role::Releases, access, layout).await?;
        for url in &self.image_urls {
            if access == Access::Write && crate::oci::dest::parse(url).is_err() {
                continue;
            }
            out.push(destination::open(url, Role::Images, access, layout).await?);
        }
        Ok(out)
    }
}

/// `NAME[:TAG]`: the name defaults to the project's. Both are checked
/// (the name rules, the tag rules).
fn split_release(ctx: &Context, text: Option<&str>) -> Result<(String, Option<String>)> {
    let (name, tag) = split_release_text(ctx, text);
    crate::release::validate_name(&name)?;
    if let Some(t) = &tag {
        crate::release::validate_tag(t)?;
    }
    Ok((name, tag))
}

fn split_release_text(ctx: &Context, text: Option<&str>) -> (String, Option<String>) {
    match text {
        None => (ctx.project.config.name.clone(), None),
        Some(t) => match t.split_once(':') {
            Some((n, tag)) => (
                if n.is_empty() {
                    ctx.project.config.name.clone()
                } else {
                    n.to_string()
                },
                Some(tag.to_string()),
            ),
            None => (t.to_string(), None),
        },
    }
}

/// What `ls` found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    /// The name.
    pub name: String,
    /// Per static destination: its releases.
    pub releases: Vec<(String, Vec<statics::ReleaseRow>)>,
    /// Per image destination: its tags.
    pub images: Vec<(String, Vec<images::TagRow>)>,
    /// The cache, if one is configured or given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheListing>,
}

/// Runs `ls`: each destination lists what it holds of the name.
pub fn run_ls(ctx: &Context, dests: &Destinations, release: Option<&str>) -> Result<Listing> {
    let (name, tag) = split_release(ctx, release)?;
    let runtime = crate::context::runtime()?;
    let mut out = Listing {
        name: name.clone(),
        releases: Vec::new(),
        images: Vec::new(),
        cache: None,
    };
    let wanted = |t: &str| tag.as_ref().is_none_or(|w| w == t);
    runtime.block_on(async {
        for d in dests.open(Access::Read).await? {
            match d.list(&name).await? {
                Section::Releases(rows) => out.releases.push((
                    d.describe(),
                    rows.into_iter().filter(|r| wanted(&r.tag)).collect(),
                )),
                Section::Images(rows) => out.images.push((
                    d.describe(),
                    rows.into_iter().filter(|r| wanted(&r.tag)).collect(),
                )),
            }
        }
        Ok::<_, Error>(())
    })?;
    if dests.cache.is_some() {
        out.cache = Some(read_cache_listing(ctx, dests.cache.as_deref())?);
    }
    ctx.print_result(&render_listing(&out), &out);
    Ok(out)
}

fn render_listing(l: &Listing) -> String {
    let mut out = String::new();
    for (store, rows) in &l.releases {
        out.push_str(&format!("{} releases at {store}: {}\n", l.name, rows.len()));
        out.push_str(&format!(
            "  {:<42} {:<11} {:<20} {:>10}  {:<10} {:<10} platforms\n",
            "TAG", "CLASS", "PUBLISHED", "SIZE", "PROVENANCE", "REPRODUCED"
        ));
        for r in rows {
            out.push_str(&format!(
                "  {:<42} {:<11} {:<20} {:>10}  {:<10} {:<10} {}\n",
                r.tag,
                r.class,
                r.published.as_deref().unwrap_or("-"),
                crate::cache::bytes(r.size),
                if r.provenance { "yes" } else { "missing" },
                if r.reproduced.is_some() { "yes" } else { "no" },
                r.platforms.join(" ")
            ));
            if let Some(by) = &r.reproduced {
                out.push_str(&format!(
                    "    reproduced {by} (verify checks its signature)\n"
                ));
            }
        }
    }
    for (target, rows) in &l.images {
        out.push_str(&format!(
            "{} image tags at {target}: {}\n",
            l.name,
            rows.len()
        ));
        for r in rows {
            let attestation = if r.attested {
                "attested"
            } else {
                "no attestation"
            };
            out.push_str(&format!("  {:<42} {}  {attestation}\n", r.tag, r.digest));
        }
    }
    if let Some(c) = &l.cache {
        out.push_str(&render_cache_listing(c));
    }
    out
}

/// What `rm` and `gc` did.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// The tags removed (from at least one destination).
    pub tags: Vec<String>,
    /// Objects deleted.
    pub deleted: usize,
    /// The cache collection, when one ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::cache::gc::GcSummary>,
    /// A dry run's plan (printed by the command).
    #[serde(skip)]
    pub plan: Option<Plan>,
}

/// Plans the removal of `tags` of `name` at every destination, then (not a
/// dry run) applies the plans; `command` names the plan.
fn remove(
    ctx: &Context,
    dests: &Destinations,
    name: &str,
    tags: &[String],
    command: &str,
) -> Result<Removed> {
    let runtime = crate::context::runtime()?;
    runtime.block_on(async {
        let opened = dests.open(Access::Write).await?;
        let mut planned = Vec::new();
        for d in &opened {
            planned.push(d.plan_removal(name, tags).await?);
        }
        let mut found: Vec<String> = planned.iter().flat_map(|p| p.found()).collect();
        found.sort();
        found.dedup();
        let subject = (tags.len() == 1).then(|| Subject {
            name: name.to_string(),
            tag: tags[0].clone(),
            class: Class::of(&tags[0]).as_str().to_string(),
        });
        let names = opened.iter().map(|d| d.label()).collect();
        let plan = Plan::new(command, subject, names, destination::objects(&planned));
        if ctx.dry_run {
            return Ok(Removed {
                tags: found,
                plan: Some(plan),
                ..Removed::default()
            });
        }
        // The repositories' indexes are signed again without the packages:
        // the key is read before anything changes.
        let keys = Keys {
            packages: match planned.iter().any(|p| p.needs_packages_key()) {
                true => Some(crate::keys::load_openpgp(
                    dests.packages_key.as_deref(),
                    &|k| std::env::var(k).ok(),
                )?),
                false => None,
            },
        };
        destination::apply_all(&planned, &keys).await?;
        Ok(Removed {
            tags: found,
            deleted: plan.count(crate::plan::Action::Delete),
            ..Removed::default()
        })
    })
}

/// Runs `rm NAME:TAG`.
pub fn run_rm(ctx: &Context, dests: &Destinations, release: &str, force: bool) -> Result<Removed> {
    let (name, tag) = split_release(ctx, Some(release))?;
    let Some(tag) = tag else {
        return Err(Error::usage(
            "rm",
            "NAME:TAG",
            format!("`{release}` names no tag: write NAME:TAG"),
        ));
    };
    crate::release::validate_tag(&tag)?;
    let whole = format!("{name}:{tag}");
    if Class::of(&tag) == Class::Stable && !force {
        return Err(Error::StableRemoval { release: whole });
    }
    let removed = remove(ctx, dests, &name, std::slice::from_ref(&tag), "rm")?;
    if removed.tags.is_empty() {
        return Err(no_such_release(dests, &whole, &name));
    }
    if let Some(plan) = &removed.plan {
        ctx.print_result(&plan.render(), plan);
        return Ok(removed);
    }
    if let Some(cache) = &dests.cache {
        crate::cache::upkeep::remove_pin_if_there(ctx, Some(cache), &format!("release/{tag}"))?;
    }
    ctx.print_result(
        &format!("removed {whole}: {} objects deleted\n", removed.deleted),
        &removed,
    );
    Ok(removed)
}

/// No destination has `whole`: the error names the tags the first release
/// store has.
fn no_such_release(dests: &Destinations, whole: &str, name: &str) -> Error {
    let tags = dests
        .static_urls
        .first()
        .and_then(|url| {
            let runtime = crate::context::runtime().ok()?;
            runtime
                .block_on(async {
                    let d =
                        destination::open(url, Role::Releases, Access::Read, dests.layout).await?;
                    d.list(name).await
                })
                .ok()
        })
        .map(|section| match section {
            Section::Releases(rows) => rows.into_iter().map(|r| r.tag).collect(),
            Section::Images(rows) => rows.into_iter().map(|r| r.tag).collect(),
        })
        .unwrap_or_default();
    Error::NoSuchRelease {
        release: whole.to_string(),
        store: dests.static_urls.join(", "),
        tags,
    }
}

/// `gc`'s options.
#[derive(Debug, Clone)]
pub struct GcOpts {
    /// `--keep N` for `class`.
    pub keep: Option<(usize, Class)>,
    /// Leftovers (releases without a tag document) and cache objects
    /// younger than this are kept.
    pub grace: Duration,
}

/// The tags `gc` removes: the retention policy over the releases every
/// release store holds, and the leftovers older than the grace.
fn tags_to_collect(ctx: &Context, dests: &Destinations, opts: &GcOpts) -> Result<Vec<String>> {
    let name = &ctx.project.config.name;
    let mut policy = ctx.project.config.retention;
    if let Some((n, class)) = opts.keep {
        match class {
            Class::Stable => policy.stable = Some(n),
            Class::Extra => policy.extra = Some(n),
            Class::Development => policy.development = Some(n),
        }
    }
    let runtime = crate::context::runtime()?;
    let (mut dated, mut left): (Vec<retention::Dated>, Vec<String>) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        let layout = dests.layout;
        for d in
            destination::open_all(&dests.static_urls, Role::Releases, Access::Read, layout).await?
        {
            let aging = d.aging(name, opts.grace).await?;
            for r in aging.dated {
                if !dated.iter().any(|d| d.tag == r.tag) {
                    dated.push(r);
                }
            }
            left.extend(aging.leftovers);
        }
        Ok::<_, Error>(())
    })?;
    let mut tags = retention::to_remove(&dated, &policy);
    for t in left {
        if !tags.contains(&t) {
            tags.push(t);
        }
    }
    Ok(tags)
}

/// Runs `gc`: the retention policy over the releases, removed everywhere;
/// then the cache collection.
pub fn run_gc(ctx: &Context, dests: &Destinations, opts: &GcOpts) -> Result<Removed> {
    let name = ctx.project.config.name.clone();
    let tags = tags_to_collect(ctx, dests, opts)?;
    let mut removed = if tags.is_empty() {
        Removed::default()
    } else {
        remove(ctx, dests, &name, &tags, "gc")?
    };
    if ctx.dry_run {
        // One plan: the releases', then the cache's.
        let mut plan = removed
            .plan
            .take()
            .unwrap_or_else(|| Plan::new("gc", None, Vec::new(), Vec::new()));
        if let Some(cache) = &dests.cache {
            let (store, objects) =
                crate::cache::upkeep::cache_gc_objects(ctx, Some(cache), opts.grace)?;
            plan.destinations.push(store);
            plan.objects.extend(objects);
        }
        let plan = Plan::new("gc", plan.release, plan.destinations, plan.objects);
        ctx.print_result(&plan.render(), &plan);
        return Ok(removed);
    }
    if let Some(cache) = &dests.cache {
        for t in &removed.tags {
            crate::cache::upkeep::remove_pin_if_there(ctx, Some(cache), &format!("release/{t}"))?;
        }
        removed.cache = Some(crate::cache::upkeep::run_cache_gc(
            ctx,
            Some(cache),
            opts.grace,
        )?);
    }
    ctx.print_result(
        &format!(
            "gc of {name}: removed {} releases ({}); {} objects deleted\n",
            removed.tags.len(),
            removed.tags.join(", "),
            removed.deleted
        ),
        &removed,
    );
    Ok(removed)
}
