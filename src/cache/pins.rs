//! Pins in a cache, and the wait a push makes for a collector that is
//! deleting. The formats are in [`crate::nixcache::gc`].

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::errors::{Error, Result};
use crate::nixcache::gc::{
    parse_pin, pin_key, render_pin, validate_pin_name, GcRecord, CONTENT_TYPE_PIN, GC_PREFIX,
    PINS_PREFIX, TRANSIENT,
};
use crate::objstore::{Body, ObjectStore};

/// Reads in flight.
const READS_IN_FLIGHT: usize = 16;

/// One pin, as `cache pin ls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PinInfo {
    /// Its name.
    pub name: String,
    /// How many store paths it names.
    pub paths: usize,
    /// When it was written (RFC 3339), when the store says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// A push in progress holds it (and removes it when done).
    pub transient: bool,
}

/// A checked pin name.
pub fn checked_name(name: &str) -> Result<&str> {
    validate_pin_name(name).map_err(|message| Error::Pin {
        name: name.to_string(),
        message,
    })?;
    Ok(name)
}

/// Writes pin `name` naming `paths`.
pub async fn write_pin(store: &ObjectStore, name: &str, paths: &[String]) -> Result<()> {
    let body = Body::Bytes(render_pin(paths).into_bytes());
    store.put(&pin_key(name), body, CONTENT_TYPE_PIN).await
}

/// Every pin with what it names: (name, store paths, when written).
pub async fn read_pins(
    store: &ObjectStore,
) -> Result<Vec<(String, Vec<String>, Option<std::time::SystemTime>)>> {
    let listing = store.list(PINS_PREFIX).await?;
    futures::stream::iter(listing)
        .map(|o| async move {
            let text = store.get(&o.key).await?.unwrap_or_default();
            let name = o.key[PINS_PREFIX.len()..].to_string();
            Ok::<_, Error>((name, parse_pin(&String::from_utf8_lossy(&text)), o.modified))
        })
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await
}

/// The pins, for `cache pin ls`.
pub async fn list_pins(store: &ObjectStore) -> Result<Vec<PinInfo>> {
    Ok(read_pins(store)
        .await?
        .into_iter()
        .map(|(name, paths, t)| PinInfo {
            transient: name.starts_with(TRANSIENT),
            name,
            paths: paths.len(),
            written: t.map(crate::clock::rfc3339_of),
        })
        .collect())
}

/// Removes pin `name`; refuses one that is not there.
pub async fn remove_pin(store: &ObjectStore, name: &str) -> Result<()> {
    let key = pin_key(checked_name(name)?);
    if !store.exists(&key).await? {
        let names: Vec<String> = list_pins(store)
            .await?
            .into_iter()
            .map(|p| p.name)
            .collect();
        return Err(Error::Pin {
            name: name.to_string(),
            message: format!(
                "{} has no such pin (it has: {})",
                store.describe(),
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ),
        });
    }
    store.delete(&key).await
}

/// Keeps the `keep` newest pins under `prefix` (by time written), and
/// removes the others. Returns the names removed.
pub async fn keep_newest(store: &ObjectStore, prefix: &str, keep: usize) -> Result<Vec<String>> {
    let mut pins = store.list(&pin_key(prefix)).await?;
    pins.sort_by_key(|o| std::cmp::Reverse(o.modified));
    let old: Vec<String> = pins.iter().skip(keep).map(|o| o.key.clone()).collect();
    store.delete_many(&old).await?;
    Ok(old
        .iter()
        .map(|k| k[PINS_PREFIX.len()..].to_string())
        .collect())
}

/// The collector records in the store (unreadable ones left out).
pub async fn read_records(store: &ObjectStore) -> Result<Vec<(String, GcRecord)>> {
    let listing = store.list(GC_PREFIX).await?;
    let records: Vec<Option<(String, GcRecord)>> = futures::stream::iter(listing)
        .map(|o| async move {
            let bytes = store.get(&o.key).await?;
            Ok::<_, Error>(
                bytes
                    .and_then(|b| serde_json::from_slice(&b).ok())
                    .map(|r| (o.key, r)),
            )
        })
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await?;
    Ok(records.into_iter().flatten().collect())
}

/// The lease a collector takes, and how long clocks may differ (a quarter
/// of the lease). A test build may shorten both ([`crate::test_hooks`]).
pub fn lease() -> (Duration, Duration) {
    let lease = crate::test_hooks::hooks()
        .gc_lease
        .unwrap_or(Duration::from_secs(60));
    (lease, lease / 4)
}

/// Waits until no collector is deleting from `store`. A push calls it after
/// writing its pin and before it looks at what the cache has: a collector
/// that began deleting before then is waited for; one that begins after
/// reads the pin (it reads the pins after writing its record).
pub async fn wait_for_collectors(store: &ObjectStore, say: &(dyn Fn(&str) + Sync)) -> Result<()> {
    let (length, skew) = lease();
    let mut told = false;
    loop {
        let now = crate::clock::system_now();
        let holding: Vec<GcRecord> = read_records(store)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .filter(|r| r.holds_pushes(now, length, skew))
            .collect();
        let Some(first) = holding.first() else {
            return Ok(());
        };
        if !told {
            say(&format!(
                "waiting for a cache gc to finish deleting (gc/{}.json, on {}, since {}; its lease runs to {})",
                first.id, first.host, first.started, first.alive_until
            ));
            told = true;
        }
        tokio::time::sleep((skew / 4).clamp(Duration::from_millis(100), Duration::from_secs(2)))
            .await;
    }
}
