//! `cache gc`: deletes what no pin reaches, while others push, on a store
//! without compare-and-swap.
//!
//! 1. Read the pins (none: refuse), list the cache, read every narinfo.
//! 2. Decide ([`decide`]): kept is what the pins and young narinfos reach.
//! 3. Write this run's record `gc/<id>.json` (deleting, with a lease). From
//!    here on a push that starts waits for this run to end.
//! 4. Read the pins again: a push that started before step 3 wrote its pin
//!    before it checked for records, so its pin is seen now.
//! 5. Delete level by level (referrers first), then NARs, then per-path
//!    files; before each batch, list the pins again (a new or changed pin
//!    is read and what it reaches is kept) and renew the lease; stop if the
//!    lease cannot be kept.
//! 6. Remove the record.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant, SystemTime};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use super::pins::{lease, read_pins, read_records};
use crate::errors::{Error, Result, StoreErrorKind};
use crate::nixcache::gc::{
    decide, parse_narinfo_refs, CacheView, GcDecision, GcRecord, GcState, ListedNarinfo, GC_SCHEMA,
    PINS_PREFIX,
};
use crate::nixcache::hash_part;
use crate::objstore::{Body, ObjectMeta, ObjectStore, Requests};
use crate::plan::{Action, Phase, PlannedObject};

/// The largest narinfo read (Nix writes a few KiB; a closure's references
/// stay far below this).
pub const NARINFO_CAP: u64 = 1 << 20;

/// Narinfo reads in flight.
const READS_IN_FLIGHT: usize = 64;
/// Keys per delete request.
const DELETE_BATCH: usize = 1000;
/// Delete requests in flight (of one level: they are independent).
const DELETES_IN_FLIGHT: usize = 4;

/// What a collection did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcSummary {
    /// The cache.
    pub store: String,
    /// Pins read.
    pub pins: usize,
    /// Narinfos in the cache when it began.
    pub narinfos: usize,
    /// Narinfos kept.
    pub kept: usize,
    /// Narinfos deleted.
    pub narinfos_deleted: usize,
    /// NAR files deleted.
    pub nars_deleted: usize,
    /// Other per-path files deleted (`.ls`).
    pub others_deleted: usize,
    /// Bytes deleted.
    pub bytes_deleted: u64,
    /// Why NARs were kept this time, if they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nars_deferred: Option<String>,
    /// Requests sent.
    pub requests: Requests,
    /// Milliseconds reading (pins, listing, narinfos) and deleting.
    pub phases: GcPhases,
    /// Nothing was deleted: a dry run.
    pub dry_run: bool,
}

/// Where a collection's time went, in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GcPhases {
    /// Reading the pins, the listing and every narinfo, and deciding.
    pub read_ms: u64,
    /// From the record to the end.
    pub delete_ms: u64,
}

/// Everything a collection works from.
struct Collection<'a> {
    store: &'a ObjectStore,
    view: CacheView,
    sizes: std::collections::HashMap<String, u64>,
    /// The pin listing last seen: (key, size, time).
    pins_seen: Vec<(String, u64, Option<SystemTime>)>,
    now: SystemTime,
    grace: Duration,
}

/// Runs a collection of `store`. With `dry_run`, returns the objects it
/// would delete and deletes nothing (and writes no record).
pub async fn collect(
    store: &ObjectStore,
    grace: Duration,
    dry_run: bool,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(GcSummary, Vec<PlannedObject>)> {
    let started = std::time::Instant::now();
    if read_pins(store).await?.is_empty() && holds_nothing(store).await? {
        // A cache no push has reached yet: nothing to collect (a CI `gc`
        // step runs before the first `build --push-cache`).
        say(&format!(
            "{} holds nothing yet: nothing to collect",
            store.describe()
        ));
        let summary = GcSummary {
            store: store.describe(),
            dry_run,
            requests: store.requests(),
            ..Default::default()
        };
        return Ok((summary, Vec::new()));
    }
    let mut c = Collection::read(store, grace).await?;
    let decision = decide(&c.view, c.now, grace);
    let read_ms = started.elapsed().as_millis() as u64;
    let mut summary = GcSummary {
        store: store.describe(),
        pins: c.view.pins.len(),
        narinfos: c.view.narinfos.len(),
        kept: decision.kept.len(),
        nars_deferred: decision.nars_deferred.clone(),
        dry_run,
        phases: GcPhases {
            read_ms,
            delete_ms: 0,
        },
        ..Default::default()
    };
    let planned = c.planned(&decision);
    if dry_run {
        summary.narinfos_deleted = decision.narinfo_levels.iter().map(Vec::len).sum();
        summary.nars_deleted = decision.nars.len();
        summary.others_deleted = decision.per_path.len();
        summary.bytes_deleted = planned.iter().filter_map(|o| o.size).sum();
        summary.requests = store.requests();
        return Ok((summary, planned));
    }
    if let Some(why) = &decision.nars_deferred {
        say(&format!("keeping every NAR this time: {why}"));
    }
    crate::test_hooks::pause(crate::test_hooks::hooks().gc_mark_delay).await;
    let deleting = std::time::Instant::now();
    let mut lease = Lease::take(store).await?;
    let result = c.delete(&decision, &mut lease, &mut summary).await;
    let ended = lease.end(store).await;
    summary.phases.delete_ms = deleting.elapsed().as_millis() as u64;
    result?;
    ended?;
    summary.kept = c.view.narinfos.len() - summary.narinfos_deleted;
    summary.requests = store.requests();
    Ok((summary, planned))
}

/// Whether `store` holds no narinfo and no NAR (`nix-cache-info` and
/// collector records aside).
async fn holds_nothing(store: &ObjectStore) -> Result<bool> {
    Ok(store.list("").await?.iter().all(|o| {
        o.key == crate::nixcache::NIX_CACHE_INFO
            || o.key.starts_with(crate::nixcache::gc::GC_PREFIX)
    }))
}

impl<'a> Collection<'a> {
    /// Step 1: the pins, the listing, every narinfo.
    async fn read(store: &'a ObjectStore, grace: Duration) -> Result<Collection<'a>> {
        let pins = read_pins(store).await?;
        if pins.is_empty() {
            return Err(Error::NoPins {
                store: store.describe(),
            });
        }
        let now = crate::clock::system_now();
        let listing = store.list("").await?;
        let mut c = Collection {
            store,
            view: CacheView::default(),
            sizes: listing.iter().map(|o| (o.key.clone(), o.size)).collect(),
            pins_seen: pin_listing(&listing),
            now,
            grace,
        };
        c.set_pins(pins);
        let mut narinfo_keys = Vec::new();
        for o in &listing {
            let key = o.key.as_str();
            if key.starts_with("nar/") {
                c.view.nars.push((o.key.clone(), o.modified));
            } else if key.contains('/') {
                continue;
            } else if let Some(hash) = key.strip_suffix(".narinfo") {
                narinfo_keys.push((hash.to_string(), o.modified));
            } else if let Some(hash) = key.strip_suffix(".ls") {
                c.view
                    .per_path
                    .push((o.key.clone(), hash.to_string(), o.modified));
            }
        }
        c.read_narinfos(narinfo_keys).await?;
        Ok(c)
    }

    fn set_pins(&mut self, pins: Vec<(String, Vec<String>, Option<SystemTime>)>) {
        self.view.pins = pins
            .into_iter()
            .map(|(name, paths, t)| {
                let hashes = paths.iter().map(|p| hash_part(p).to_string()).collect();
                (name, hashes, t)
            })
            .collect();
    }

    /// Reads narinfos into the view; one that is gone is left out. One
    /// over [`NARINFO_CAP`] is not read: it counts as unreadable (kept,
    /// with what it may name), so that it cannot exhaust memory or block
    /// every collection.
    async fn read_narinfos(&mut self, keys: Vec<(String, Option<SystemTime>)>) -> Result<()> {
        let store = self.store;
        let read: Vec<Option<(String, ListedNarinfo)>> = futures::stream::iter(keys)
            .map(|(hash, modified)| async move {
                let key = format!("{hash}.narinfo");
                let text = match store.get_capped(&key, NARINFO_CAP).await {
                    Err(Error::Untrusted { message, .. }) => {
                        tracing::warn!("{key}: {message}; kept, unread");
                        let refs = None;
                        return Ok(Some((hash, ListedNarinfo { modified, refs })));
                    }
                    other => other?,
                };
                Ok::<_, Error>(text.map(|t| {
                    let refs = parse_narinfo_refs(&String::from_utf8_lossy(&t));
                    (hash, ListedNarinfo { modified, refs })
                }))
            })
            .buffer_unordered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        self.view.narinfos.extend(read.into_iter().flatten());
        Ok(())
    }

    /// What `decision` deletes, as plan objects, in order.
    fn planned(&self, decision: &GcDecision) -> Vec<PlannedObject> {
        let destination = self.store.describe();
        let object = |phase, key: &String| PlannedObject {
            destination: destination.clone(),
            phase,
            action: Action::Delete,
            key: key.clone(),
            size: self.sizes.get(key).copied(),
            digest: None,
            content_type: None,
        };
        // Stale transient pins are names, as tags are: they go first.
        let mut out: Vec<PlannedObject> = decision
            .stale_pins
            .iter()
            .map(|n| object(Phase::Tags, &crate::nixcache::gc::pin_key(n)))
            .collect();
        out.extend(
            decision
                .narinfo_levels
                .iter()
                .flatten()
                .map(|k| object(Phase::Narinfos, k)),
        );
        out.extend(decision.nars.iter().map(|k| object(Phase::Nars, k)));
        out.extend(decision.per_path.iter().map(|k| object(Phase::Nars, k)));
        out
    }

    /// Steps 4 and 5.
    async fn delete(
        &mut self,
        decision: &GcDecision,
        lease: &mut Lease,
        summary: &mut GcSummary,
    ) -> Result<()> {
        self.refresh_pins(true).await?;
        let stale: Vec<String> = decision
            .stale_pins
            .iter()
            .map(|n| crate::nixcache::gc::pin_key(n))
            .collect();
        self.store.delete_many(&stale).await?;
        for level in &decision.narinfo_levels {
            for batch in level.chunks(batch_size() * DELETES_IN_FLIGHT) {
                let keep = self.before_batch(lease).await?;
                let keys: Vec<String> = batch
                    .iter()
                    .filter(|k| !keep.kept.contains(k.trim_end_matches(".narinfo")))
                    .cloned()
                    .collect();
                self.delete_batch(&keys, summary).await?;
                summary.narinfos_deleted += keys.len();
            }
        }
        for (keys, is_nar) in [(&decision.nars, true), (&decision.per_path, false)] {
            for batch in keys.chunks(batch_size() * DELETES_IN_FLIGHT) {
                let keep = self.before_batch(lease).await?;
                if is_nar && keep.nars_deferred.is_some() {
                    summary.nars_deferred = keep.nars_deferred.clone();
                    break;
                }
                let named = self.named_nars(&keep.kept);
                let keys: Vec<String> = batch
                    .iter()
                    .filter(|k| !named.contains(k.as_str()))
                    .filter(|k| !keep.kept.contains(k.trim_end_matches(".ls")))
                    .cloned()
                    .collect();
                self.delete_batch(&keys, summary).await?;
                if is_nar {
                    summary.nars_deleted += keys.len();
                } else {
                    summary.others_deleted += keys.len();
                }
            }
        }
        Ok(())
    }

    /// Deletes `keys` (of one level, or NARs), several requests at once.
    async fn delete_batch(&self, keys: &[String], summary: &mut GcSummary) -> Result<()> {
        futures::stream::iter(keys.chunks(batch_size()))
            .map(|chunk| self.store.delete_many(chunk))
            .buffer_unordered(DELETES_IN_FLIGHT)
            .try_collect::<Vec<()>>()
            .await?;
        summary.bytes_deleted += keys.iter().filter_map(|k| self.sizes.get(k)).sum::<u64>();
        Ok(())
    }

    /// Renews the lease if it is due, and takes in any pin written since
    /// the last look. Returns what is kept now.
    async fn before_batch(&mut self, lease: &mut Lease) -> Result<GcDecision> {
        lease.keep(self.store).await?;
        self.refresh_pins(false).await?;
        Ok(decide(&self.view, self.now, self.grace))
    }

    /// Lists the pins and reads them again if they changed (or `always`);
    /// reads the narinfos of pinned paths the view lacks (pushed since the
    /// listing), and what they refer to.
    async fn refresh_pins(&mut self, always: bool) -> Result<()> {
        let listing = self.store.list(PINS_PREFIX).await?;
        let seen = pin_listing(&listing);
        if !always && seen == self.pins_seen {
            return Ok(());
        }
        self.pins_seen = seen;
        self.set_pins(read_pins(self.store).await?);
        let mut asked: HashSet<String> = HashSet::new();
        loop {
            let wanted: BTreeSet<String> = self
                .view
                .pins
                .iter()
                .flat_map(|(_, h, _)| h.iter().cloned())
                .chain(
                    self.view
                        .narinfos
                        .values()
                        .filter_map(|n| n.refs.as_ref())
                        .flat_map(|r| r.references.iter().cloned()),
                )
                .filter(|h| !self.view.narinfos.contains_key(h) && !asked.contains(h))
                .collect();
            if wanted.is_empty() {
                return Ok(());
            }
            asked.extend(wanted.iter().cloned());
            // New narinfos are young: a time of `now` keeps them.
            let now = Some(self.now);
            self.read_narinfos(wanted.into_iter().map(|h| (h, now)).collect())
                .await?;
        }
    }

    fn named_nars(&self, kept: &BTreeSet<String>) -> HashSet<&str> {
        kept.iter()
            .filter_map(|h| self.view.narinfos.get(h)?.refs.as_ref())
            .map(|r| r.url.as_str())
            .collect()
    }
}

fn pin_listing(listing: &[ObjectMeta]) -> Vec<(String, u64, Option<SystemTime>)> {
    listing
        .iter()
        .filter(|o| o.key.starts_with(PINS_PREFIX))
        .map(|o| (o.key.clone(), o.size, o.modified))
        .collect()
}

/// Keys per delete request: [`DELETE_BATCH`], or a test build's smaller
/// figure ([`crate::test_hooks`]), so that a kill test can stop a run
/// between small batches.
fn batch_size() -> usize {
    crate::test_hooks::hooks()
        .gc_batch
        .unwrap_or(DELETE_BATCH)
        .max(1)
}

/// This run's record, and the lease it holds.
struct Lease {
    record: GcRecord,
    /// When the last renewal was written, by this clock.
    renewed: Instant,
    /// How long a renewal lasts.
    length: Duration,
    /// How long clocks may differ.
    skew: Duration,
}

impl Lease {
    /// Step 3: writes the record. Stale records of killed runs go too.
    async fn take(store: &ObjectStore) -> Result<Lease> {
        let (length, skew) = lease();
        let now = crate::clock::system_now();
        let id = format!(
            "{}-{}",
            now.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
            std::process::id()
        );
        let record = GcRecord {
            schema: GC_SCHEMA.into(),
            id,
            host: crate::publish::hostname(),
            state: GcState::Deleting,
            started: crate::clock::rfc3339_of(now),
            alive_until: crate::clock::rfc3339_of(now + length),
            finished: None,
        };
        let mut lease = Lease {
            record,
            renewed: Instant::now(),
            length,
            skew,
        };
        lease.write(store).await?;
        // Records that hold no push any more (their run ended, or was
        // killed and its lease ran out) go.
        for (key, r) in read_records(store).await? {
            if r.id != lease.record.id && !r.holds_pushes(now, length, skew) {
                store.delete(&key).await?;
            }
        }
        Ok(lease)
    }

    async fn write(&mut self, store: &ObjectStore) -> Result<()> {
        let started = Instant::now();
        let until = crate::clock::system_now() + self.length;
        self.record.alive_until = crate::clock::rfc3339_of(until);
        let bytes = serde_json::to_vec_pretty(&self.record).unwrap_or_default();
        store
            .put(&self.record.key(), Body::Bytes(bytes), "application/json")
            .await?;
        self.renewed = started;
        Ok(())
    }

    /// Renews the lease when a third of it has gone; refuses to go on when
    /// the last renewal is about to run out (the store is too slow, or this
    /// run was paused): a push may have stopped waiting for it.
    async fn keep(&mut self, store: &ObjectStore) -> Result<()> {
        let age = self.renewed.elapsed();
        if age + self.skew >= self.length {
            return Err(Error::Store {
                store: store.describe(),
                op: "renew",
                key: self.record.key(),
                kind: StoreErrorKind::Unavailable,
                message: format!(
                    "the collector's lease ran out ({} s since it was renewed): stopped before deleting more; re-run `cache gc`",
                    age.as_secs()
                ),
            });
        }
        if age * 3 >= self.length {
            self.write(store).await?;
        }
        Ok(())
    }

    /// Step 6: the record goes.
    async fn end(&mut self, store: &ObjectStore) -> Result<()> {
        store.delete(&self.record.key()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objstore::Location;

    async fn put(store: &ObjectStore, key: &str, text: &str) {
        store
            .put(key, Body::Bytes(text.as_bytes().to_vec()), "text/plain")
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_killed_pushs_transient_pin_goes_with_what_only_it_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&Location::Local(dir.path().to_path_buf()))
            .await
            .unwrap();
        let (a, b) = (
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        );
        for h in [a, b] {
            let narinfo =
                format!("StorePath: /nix/store/{h}-x\nURL: nar/{h}.nar.zst\nReferences: \n");
            put(&store, &format!("{h}.narinfo"), &narinfo).await;
            put(&store, &format!("nar/{h}.nar.zst"), "x").await;
        }
        put(&store, "pins/keep", &format!("/nix/store/{a}-x\n")).await;
        put(&store, "pins/transient/1-2", &format!("/nix/store/{b}-x\n")).await;
        // The transient pin was written two days ago.
        let two_days = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(dir.path().join("pins/transient/1-2"))
            .unwrap()
            .set_modified(two_days)
            .unwrap();
        let (summary, planned) = collect(&store, Duration::ZERO, false, &|_| {})
            .await
            .unwrap();
        assert_eq!(planned[0].key, "pins/transient/1-2", "stale pins go first");
        assert_eq!((summary.narinfos_deleted, summary.nars_deleted), (1, 1));
        assert!(!store.exists("pins/transient/1-2").await.unwrap());
        assert!(store.exists(&format!("{a}.narinfo")).await.unwrap());
        assert!(!store.exists(&format!("{b}.narinfo")).await.unwrap());
        assert!(
            store.list("gc/").await.unwrap().is_empty(),
            "the record is gone"
        );
    }
}
