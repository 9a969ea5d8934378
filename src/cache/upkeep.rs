//! `cache gc`, `cache pin ls` and `cache pin rm`.

use std::time::Duration;

use serde::Serialize;

use super::gc::{collect, GcSummary};
use super::pins::{list_pins, remove_pin, PinInfo};
use super::upload::{bytes, store_url};
use std::collections::{BTreeMap, BTreeSet};

use crate::context::{Context, Verbosity};
use crate::errors::Result;
use crate::nixcache::gc::{parse_narinfo_refs, Damage, NarinfoRefs};
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
        "nix clients may still hold a deleted path as present for `narinfo-cache-positive-ttl` (30 days by default): see docs/cache.md (Cache GC)\n",
    );
    ctx.print_result(&human, &summary);
    Ok(summary)
}

/// Runs `cache verify` on `cache`: every narinfo's NAR must be there, and
/// every path it references must have a narinfo. Damage (only a deletion
/// from outside this tool makes it: `cache gc` deletes referrers before
/// what they reference, and narinfos before NARs) is named, exit 5; with
/// `repair`, the damaged narinfos and every narinfo that reaches them are
/// deleted (referrers first), so that the next `cache push` uploads those
/// paths again.
pub fn run_cache_verify(ctx: &Context, cache: Option<&str>, repair: bool) -> Result<Damage> {
    let url = store_url(ctx, cache)?;
    let runtime = crate::context::runtime()?;
    let (store_name, checked, damage) = runtime.block_on(async {
        let store = ObjectStore::open(&url.location).await?;
        let (narinfos, nars) = read_for_verify(&store).await?;
        let damage = crate::nixcache::gc::damage(&narinfos, &nars);
        if repair && !ctx.dry_run && !damage.repair_order.is_empty() {
            let keys: Vec<String> = damage
                .repair_order
                .iter()
                .map(|h| format!("{h}.narinfo"))
                .collect();
            store.delete_many(&keys).await?;
        }
        Ok::<_, crate::errors::Error>((store.describe(), narinfos.len(), damage))
    })?;
    let bad = damage.nar_missing.len() + damage.closure_broken.len();
    let mut human = format!("{store_name}: {checked} narinfos checked\n");
    for h in &damage.nar_missing {
        human.push_str(&format!("  {h}.narinfo: its NAR is missing\n"));
    }
    for h in &damage.closure_broken {
        human.push_str(&format!("  {h}.narinfo: its closure is broken (it reaches a path above, or one with no narinfo)\n"));
    }
    if bad == 0 {
        ctx.print_result(&human, &damage);
        return Ok(damage);
    }
    if repair && !ctx.dry_run {
        human.push_str(&format!(
            "repaired: deleted {} narinfos (referrers first); run `cache push` (or `build --push-cache`) again to upload them\n",
            damage.repair_order.len()
        ));
        ctx.print_result(&human, &damage);
        return Ok(damage);
    }
    eprint!("{human}");
    Err(crate::errors::Error::VerifyFailed {
        release: store_name,
        count: bad,
    })
}

/// Every narinfo (by hash part; `None` when unreadable or past its cap)
/// and every NAR key of `store`.
async fn read_for_verify(
    store: &ObjectStore,
) -> Result<(BTreeMap<String, Option<NarinfoRefs>>, BTreeSet<String>)> {
    use futures::{StreamExt, TryStreamExt};
    let listing = store.list("").await?;
    let nars: BTreeSet<String> = listing
        .iter()
        .filter(|o| o.key.starts_with("nar/"))
        .map(|o| o.key.clone())
        .collect();
    let hashes: Vec<String> = listing
        .iter()
        .filter_map(|o| o.key.strip_suffix(".narinfo"))
        .filter(|k| !k.contains('/'))
        .map(str::to_string)
        .collect();
    let read: Vec<(String, Option<NarinfoRefs>)> = futures::stream::iter(hashes)
        .map(|h| async move {
            let key = format!("{h}.narinfo");
            let refs = match store.get_capped(&key, super::gc::NARINFO_CAP).await {
                Ok(Some(t)) => parse_narinfo_refs(&String::from_utf8_lossy(&t)),
                Ok(None) | Err(crate::errors::Error::Untrusted { .. }) => None,
                Err(e) => return Err(e),
            };
            Ok((h, refs))
        })
        .buffer_unordered(32)
        .try_collect()
        .await?;
    Ok((read.into_iter().collect(), nars))
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
