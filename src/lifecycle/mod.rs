//! `ls`, `rm` and `gc`: what the destinations hold, removing a release, and
//! a retention policy. Each removal is planned first (`--dry-run` prints the
//! plan), then run in the plan's order: what makes a release visible first,
//! the shared documents derived again, then what nothing uses.

pub mod images;
pub mod promote;
pub mod retention;
pub mod statics;

use std::time::Duration;

use serde::Serialize;

use crate::cache::upkeep::{read_cache_listing, render_cache_listing, CacheListing};
use crate::context::Context;
use crate::errors::{Error, Result};
use crate::objstore::ObjectStore;
use crate::plan::{Plan, PlannedObject, Subject};
use crate::publish::images::ImageRepo;
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
        let (static_urls, _) = crate::publish::static_destinations(ctx, &given.static_urls)?;
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

/// Runs `ls`.
pub fn run_ls(ctx: &Context, dests: &Destinations, release: Option<&str>) -> Result<Listing> {
    let (name, tag) = split_release(ctx, release)?;
    let runtime = crate::context::runtime()?;
    let mut out = Listing {
        name: name.clone(),
        releases: Vec::new(),
        images: Vec::new(),
        cache: None,
    };
    for url in &dests.static_urls {
        let rows = runtime.block_on(async {
            let store = open_store(url).await?;
            let listed = statics::listed(&store, dests.layout, &name).await?;
            Ok::<_, Error>((store.describe(), statics::rows(&listed)))
        })?;
        let rows = (
            rows.0,
            rows.1
                .into_iter()
                .filter(|r| tag.as_ref().is_none_or(|t| *t == r.tag))
                .collect(),
        );
        out.releases.push(rows);
    }
    for url in &dests.image_urls {
        let rows = runtime.block_on(async {
            let target = ImageRepo::open_to_read(url).await?;
            Ok::<_, Error>((target.describe(), images::tag_rows(&target, &name).await?))
        })?;
        let rows = (
            rows.0,
            rows.1
                .into_iter()
                .filter(|r| tag.as_ref().is_none_or(|t| *t == r.tag))
                .collect(),
        );
        out.images.push(rows);
    }
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
            "  {:<42} {:<11} {:<20} {:>10}  {:<10} platforms\n",
            "TAG", "CLASS", "PUBLISHED", "SIZE", "PROVENANCE"
        ));
        for r in rows {
            out.push_str(&format!(
                "  {:<42} {:<11} {:<20} {:>10}  {:<10} {}\n",
                r.tag,
                r.class,
                r.published.as_deref().unwrap_or("-"),
                crate::cache::bytes(r.size),
                if r.provenance { "yes" } else { "missing" },
                r.platforms.join(" ")
            ));
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

async fn open_store(url: &str) -> Result<ObjectStore> {
    let location = crate::objstore::StoreUrl::parse_location(url).map_err(Error::StoreUrl)?;
    ObjectStore::open(&location).await
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

/// The package files (`.deb`, `.rpm`) of the releases being removed that no
/// other release of `name` has: two releases of one commit (two extra tags)
/// share a package version, and the one left keeps it in the repositories.
async fn packages_only_these_have(
    store: &crate::objstore::ObjectStore,
    layout: crate::kinds::Layout,
    name: &str,
    tags: &[String],
    content: &[String],
) -> Result<Vec<String>> {
    let file_of = |k: &str| k.rsplit('/').next().unwrap_or("").to_string();
    let is_package = |k: &str| k.ends_with(".deb") || k.ends_with(".rpm");
    let removed: Vec<String> = tags
        .iter()
        .map(|t| layout.release_prefix(name, t))
        .collect();
    let kept: std::collections::HashSet<String> = store
        .list(&layout.name_prefix(name))
        .await?
        .into_iter()
        .filter(|o| is_package(&o.key) && !removed.iter().any(|p| o.key.starts_with(p.as_str())))
        .map(|o| file_of(&o.key))
        .collect();
    let mut out: Vec<String> = content
        .iter()
        .filter(|k| is_package(k))
        .map(|k| file_of(k))
        .filter(|f| !kept.contains(f))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

/// What removing some tags of a name will do, at every destination.
struct Removals {
    /// The plan's objects and destinations.
    objects: Vec<PlannedObject>,
    names: Vec<String>,
    /// The tags some destination has.
    found: Vec<String>,
    /// Each static destination, its removal and its repositories'.
    stores: Vec<(
        ObjectStore,
        statics::StaticRemoval,
        crate::publish::repos::RepoRemoval,
    )>,
    /// Each image destination and its removal.
    targets: Vec<(ImageRepo, images::ImageRemoval)>,
}

/// Reads every destination and plans the removal of `tags` of `name`.
async fn plan_removals(dests: &Destinations, name: &str, tags: &[String]) -> Result<Removals> {
    let mut r = Removals {
        objects: Vec::new(),
        names: Vec::new(),
        found: Vec::new(),
        stores: Vec::new(),
        targets: Vec::new(),
    };
    for url in &dests.static_urls {
        let store = open_store(url).await?;
        let d = store.describe();
        let removal = statics::plan_removal(&store, &d, dests.layout, name, tags).await?;
        let packages =
            packages_only_these_have(&store, dests.layout, name, tags, &removal.content).await?;
        let repos = crate::publish::repos::plan_repo_removal(&store, &packages).await?;
        r.objects.extend(repos.objects(&d));
        r.names.push(d);
        for t in tags {
            let prefix = dests.layout.release_prefix(name, t);
            if removal
                .objects
                .iter()
                .any(|o| o.key.starts_with(&prefix) || o.key == prefix.trim_end_matches('/'))
            {
                r.found.push(t.clone());
            }
        }
        r.objects.extend(removal.objects.iter().cloned());
        r.stores.push((store, removal, repos));
    }
    for url in &dests.image_urls {
        if crate::oci::dest::parse(url).is_err() {
            continue;
        }
        let target = ImageRepo::open(url).await?;
        let removal = images::plan_removal(&target, name, tags).await?;
        r.names.push(target.destination());
        r.found.extend(
            removal
                .tags
                .iter()
                .filter(|t| !crate::oci::referrers::is_fallback_tag(t))
                .cloned(),
        );
        r.objects.extend(removal.objects.iter().cloned());
        r.targets.push((target, removal));
    }
    r.found.sort();
    r.found.dedup();
    Ok(r)
}

/// Plans and runs the removal of `tags` of `name` everywhere; `command`
/// names the plan. Refuses when no destination has any of them.
fn remove(
    ctx: &Context,
    dests: &Destinations,
    name: &str,
    tags: &[String],
    command: &str,
) -> Result<Removed> {
    let runtime = crate::context::runtime()?;
    let r = runtime.block_on(plan_removals(dests, name, tags))?;
    let subject = (tags.len() == 1).then(|| Subject {
        name: name.to_string(),
        tag: tags[0].clone(),
        class: Class::of(&tags[0]).as_str().to_string(),
    });
    let plan = Plan::new(command, subject, r.names, r.objects);
    if ctx.dry_run {
        return Ok(Removed {
            tags: r.found,
            deleted: 0,
            cache: None,
            plan: Some(plan),
        });
    }
    // The repositories' indices are signed again without the packages: the
    // key is read before anything changes.
    let key = match r.stores.iter().any(|(_, _, repos)| !repos.is_empty()) {
        true => Some(crate::keys::load_openpgp(
            dests.packages_key.as_deref(),
            &|k| std::env::var(k).ok(),
        )?),
        false => None,
    };
    runtime.block_on(async {
        for (store, removal, repos) in &r.stores {
            if let Some(key) = &key {
                crate::publish::repos::execute_repo_removal(store, repos, key).await?;
            }
            statics::execute_removal(store, dests.layout, name, tags, removal).await?;
        }
        for (target, removal) in &r.targets {
            images::execute_removal(target, name, removal).await?;
        }
        Ok::<_, Error>(())
    })?;
    Ok(Removed {
        tags: r.found,
        deleted: plan.count(crate::plan::Action::Delete),
        cache: None,
        plan: None,
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

fn no_such_release(dests: &Destinations, whole: &str, name: &str) -> Error {
    let tags = dests
        .static_urls
        .first()
        .and_then(|url| {
            let runtime = crate::context::runtime().ok()?;
            runtime
                .block_on(async {
                    let store = open_store(url).await?;
                    statics::listed(&store, dests.layout, name).await
                })
                .ok()
        })
        .map(|l| l.into_iter().map(|r| r.tag).collect())
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

/// Runs `gc`: the retention policy over the first static destination's
/// releases, removed everywhere; then the cache collection.
pub fn run_gc(ctx: &Context, dests: &Destinations, opts: &GcOpts) -> Result<Removed> {
    let name = ctx.project.config.name.clone();
    let mut retention = ctx.project.config.retention;
    if let Some((n, class)) = opts.keep {
        match class {
            Class::Stable => retention.stable = Some(n),
            Class::Extra => retention.extra = Some(n),
            Class::Development => retention.development = Some(n),
        }
    }
    let runtime = crate::context::runtime()?;
    let mut dated = Vec::new();
    for url in &dests.static_urls {
        let listed = runtime.block_on(async {
            let store = open_store(url).await?;
            statics::listed(&store, dests.layout, &name).await
        })?;
        for r in listed {
            if !dated.iter().any(|d: &retention::Dated| d.tag == r.tag) {
                dated.push(retention::Dated {
                    published: statics::published(&r),
                    tag: r.tag,
                    class: r.class,
                });
            }
        }
    }
    let mut tags = retention::to_remove(&dated, &retention);
    for url in &dests.static_urls {
        let left = runtime.block_on(async {
            let store = open_store(url).await?;
            statics::leftovers(&store, dests.layout, &name, opts.grace).await
        })?;
        for t in left {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    }
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
