//! `cache gc`, `cache pin ls` and `cache pin rm`.

use std::time::Duration;

use serde::Serialize;

use super::command::{bytes, store_url};
use super::gc::{collect, GcSummary};
use super::pins::{list_pins, remove_pin, PinInfo};
use crate::context::{Context, Verbosity};
use crate::errors::Result;
use crate::objstore::ObjectStore;
use crate::plan::Plan;

/// Runs `cache gc` on `cache` (default: the config's, else the local one).
pub fn run_cache_gc(ctx: &Context, cache: Option<&str>, grace: Duration) -> Result<GcSummary> {
    let url = store_url(ctx, cache)?;
    let runtime = crate::context::runtime()?;
    let say = |text: &str| {
        if ctx.verbosity != Verbosity::Quiet {
            eprintln!("{text}");
        }
    };
    let (summary, planned) = runtime.block_on(async {
        let store = ObjectStore::open(&url.location).await?;
        store.check_access().await?;
        collect(&store, grace, ctx.dry_run, &say).await
    })?;
    if ctx.dry_run {
        let plan = Plan::new("cache gc", None, vec![summary.store.clone()], planned);
        ctx.print_result(&plan.render(), &plan);
        return Ok(summary);
    }
    let mut human = format!(
        "{}: kept {} of {} paths ({} pins); deleted {} narinfos, {} NARs and {} other files ({})\n",
        summary.store,
        summary.kept,
        summary.narinfos,
        summary.pins,
        summary.narinfos_deleted,
        summary.nars_deleted,
        summary.others_deleted,
        bytes(summary.bytes_deleted)
    );
    if let Some(why) = &summary.nars_deferred {
        human.push_str(&format!("NARs were kept this time: {why}\n"));
    }
    human.push_str(
        "nix clients may still hold a deleted path as present for `narinfo-cache-positive-ttl` (30 days by default): see the README's Cache GC\n",
    );
    ctx.print_result(&human, &summary);
    Ok(summary)
}

/// What `cache gc` would delete from `cache`: the store's name and the
/// plan's objects (for `gc --dry-run`, which prints one plan).
pub fn cache_gc_objects(
    ctx: &Context,
    cache: Option<&str>,
    grace: Duration,
) -> Result<(String, Vec<crate::plan::PlannedObject>)> {
    let url = store_url(ctx, cache)?;
    let runtime = crate::context::runtime()?;
    let (summary, planned) = runtime.block_on(async {
        let store = ObjectStore::open(&url.location).await?;
        store.check_access().await?;
        collect(&store, grace, true, &|_| {}).await
    })?;
    Ok((summary.store, planned))
}

/// `cache pin ls`, and what `ls` shows of a cache.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheListing {
    /// The cache.
    pub store: String,
    /// Its pins.
    pub pins: Vec<PinInfo>,
    /// Narinfos in it.
    pub narinfos: usize,
    /// Their bytes.
    pub narinfo_bytes: u64,
    /// NAR files in it.
    pub nars: usize,
    /// Their bytes.
    pub nar_bytes: u64,
}

/// Reads what `ls` and `cache pin ls` show of `cache`.
pub fn read_cache_listing(ctx: &Context, cache: Option<&str>) -> Result<CacheListing> {
    let url = store_url(ctx, cache)?;
    let runtime = crate::context::runtime()?;
    runtime.block_on(async {
        let store = ObjectStore::open(&url.location).await?;
        let pins = list_pins(&store).await?;
        let listing = store.list("").await?;
        let mut out = CacheListing {
            store: store.describe(),
            pins,
            narinfos: 0,
            narinfo_bytes: 0,
            nars: 0,
            nar_bytes: 0,
        };
        for o in &listing {
            if o.key.starts_with("nar/") {
                out.nars += 1;
                out.nar_bytes += o.size;
            } else if o.key.ends_with(".narinfo") && !o.key.contains('/') {
                out.narinfos += 1;
                out.narinfo_bytes += o.size;
            }
        }
        Ok(out)
    })
}

/// The human table of a cache listing.
pub fn render_cache_listing(l: &CacheListing) -> String {
    let mut out = format!(
        "cache {}: {} narinfos ({}), {} NARs ({})\n",
        l.store,
        l.narinfos,
        bytes(l.narinfo_bytes),
        l.nars,
        bytes(l.nar_bytes)
    );
    if l.pins.is_empty() {
        out.push_str("  no pins (`cache gc` would refuse)\n");
    }
    for p in &l.pins {
        out.push_str(&format!(
            "  pin {:<40} {:>6} paths  {}{}\n",
            p.name,
            p.paths,
            p.written.as_deref().unwrap_or("-"),
            if p.transient {
                "  (a push in progress)"
            } else {
                ""
            }
        ));
    }
    out
}

/// Runs `cache pin ls`.
pub fn run_pin_ls(ctx: &Context, cache: Option<&str>) -> Result<CacheListing> {
    let l = read_cache_listing(ctx, cache)?;
    ctx.print_result(&render_cache_listing(&l), &l);
    Ok(l)
}

/// Runs `cache pin rm NAME`.
pub fn run_pin_rm(ctx: &Context, cache: Option<&str>, name: &str) -> Result<()> {
    let url = store_url(ctx, cache)?;
    if ctx.dry_run {
        println!("would remove pin {name} from {}", url_text(&url));
        return Ok(());
    }
    let runtime = crate::context::runtime()?;
    let store = runtime.block_on(async {
        let store = ObjectStore::open(&url.location).await?;
        remove_pin(&store, name).await?;
        Ok::<_, crate::errors::Error>(store.describe())
    })?;
    ctx.print_result(
        &format!(
            "removed pin {name} from {store}; what only it kept goes at the next `cache gc`\n"
        ),
        &serde_json::json!({"removed": name, "store": store}),
    );
    Ok(())
}

/// Removes pin `name` if the cache has it (`rm` of a release).
pub fn remove_pin_if_there(ctx: &Context, cache: Option<&str>, name: &str) -> Result<bool> {
    let url = store_url(ctx, cache)?;
    let runtime = crate::context::runtime()?;
    runtime.block_on(async {
        let store = ObjectStore::open(&url.location).await?;
        let key = crate::nixcache::gc::pin_key(name);
        if store.exists(&key).await? {
            store.delete(&key).await?;
            return Ok(true);
        }
        Ok(false)
    })
}

fn url_text(url: &crate::objstore::StoreUrl) -> String {
    match &url.location {
        crate::objstore::Location::Local(d) => d.display().to_string(),
        crate::objstore::Location::S3(s) => format!("s3://{}", s.bucket),
    }
}
