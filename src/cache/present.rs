//! What the cache already has, at a cost that grows with the push and not
//! with the cache.
//!
//! Two ways to know whether a key exists: one HEAD per key, or a listing
//! (1,000 keys a page). A HEAD costs about what a page costs, so:
//! - a push of fewer than [`LIST_FROM_PATHS`] paths asks with HEADs;
//! - a bigger one lists, in [`SHARDS`] listings at once (one per first
//!   character of the nix32 hash, which every narinfo and NAR key starts
//!   with), and gives up the listing for HEADs once it has seen more than
//!   [`LIST_KEYS_PER_PATH`] keys per path pushed. So a listing never costs
//!   more pages than the push has paths / 25, however big the cache.
//!
//! Before any of that, the push's roots (the paths nothing else in it refers
//! to) are asked for: the cache is closed under references, so when every
//! root is there the whole push is, and a no-op re-push costs one HEAD per
//! root, whatever the sizes of the push and the cache.
//!
//! The narinfos (top-level keys) are listed first. The NARs (`nar/`) are
//! listed only when some narinfos are missing, so a no-op re-push reads
//! nothing but the narinfo keys.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt, TryStreamExt};

use crate::errors::Result;
use crate::objstore::ObjectStore;

/// From this many paths on, the cache is listed instead of asked key by key.
pub const LIST_FROM_PATHS: usize = 256;
/// A listing gives up (for HEADs) past this many keys per path pushed.
pub const LIST_KEYS_PER_PATH: usize = 25;
/// The characters a nix32 hash starts with: one listing each.
const NIX32: &str = "0123456789abcdfghijklmnpqrsvwxyz";
/// Existence checks (HEADs) in flight.
const CHECKS_IN_FLIGHT: usize = 64;
/// Listings in flight.
const SHARDS: usize = 32;

/// Which keys of one kind exist: known from a listing, or to be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// Every existing key of the listed kind.
    Listed(HashSet<String>),
    /// The listing was not worth it: ask per key.
    Ask,
}

impl Known {
    /// Whether `key` exists: from the listing, or by asking the store.
    pub async fn exists(&self, store: &ObjectStore, key: &str) -> Result<bool> {
        match self {
            Known::Listed(keys) => Ok(keys.contains(key)),
            Known::Ask => store.exists(key).await,
        }
    }
}

/// Which of `keys` exist in `store`.
pub async fn existing(
    store: &ObjectStore,
    keys: &[String],
    prefix: &str,
) -> Result<HashSet<String>> {
    match list_for(store, prefix, keys.len()).await? {
        Known::Listed(listed) => Ok(keys
            .iter()
            .filter(|k| listed.contains(*k))
            .cloned()
            .collect()),
        Known::Ask => ask(store, keys).await,
    }
}

/// Lists the keys under `prefix` when a push of `paths` paths should, and
/// the listing stays within its budget; else [`Known::Ask`].
pub async fn list_for(store: &ObjectStore, prefix: &str, paths: usize) -> Result<Known> {
    if paths < list_from_paths() {
        return Ok(Known::Ask);
    }
    let budget = paths * LIST_KEYS_PER_PATH;
    let seen = AtomicUsize::new(0);
    let shards: Vec<Option<Vec<String>>> = futures::stream::iter(NIX32.chars())
        .map(|c| {
            let seen = &seen;
            async move {
                let left = budget.saturating_sub(seen.load(Ordering::Relaxed));
                let keys = store.list_top_level(&format!("{prefix}{c}"), left).await?;
                if let Some(keys) = &keys {
                    seen.fetch_add(keys.len(), Ordering::Relaxed);
                }
                Ok::<_, crate::errors::Error>(keys)
            }
        })
        .buffer_unordered(SHARDS)
        .try_collect()
        .await?;
    if seen.load(Ordering::Relaxed) > budget || shards.iter().any(Option::is_none) {
        tracing::debug!("the cache has more than {budget} keys under `{prefix}`: asking per key");
        return Ok(Known::Ask);
    }
    Ok(Known::Listed(
        shards.into_iter().flatten().flatten().collect(),
    ))
}

/// [`LIST_FROM_PATHS`], or a test build's smaller figure
/// ([`crate::test_hooks`]), so that the fault tests can run small pushes
/// through the listing too.
fn list_from_paths() -> usize {
    crate::test_hooks::hooks()
        .list_from_paths
        .unwrap_or(LIST_FROM_PATHS)
}

/// One HEAD per key, many at once.
pub async fn ask(store: &ObjectStore, keys: &[String]) -> Result<HashSet<String>> {
    futures::stream::iter(
        keys.iter()
            .map(|k| async move { store.exists(k).await.map(|e| (k, e)) }),
    )
    .buffer_unordered(CHECKS_IN_FLIGHT)
    .try_collect::<Vec<_>>()
    .await
    .map(|found| {
        found
            .into_iter()
            .filter(|(_, e)| *e)
            .map(|(k, _)| k.clone())
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objstore::{Body, Location};

    async fn store_with(keys: &[&str]) -> (tempfile::TempDir, ObjectStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&Location::Local(dir.path().to_path_buf()))
            .await
            .unwrap();
        for k in keys {
            store
                .put(k, Body::Bytes(b"x".to_vec()), "text/plain")
                .await
                .unwrap();
        }
        (dir, store)
    }

    #[tokio::test]
    async fn a_small_push_asks_and_a_big_one_lists_both_kinds() {
        let (_dir, store) = store_with(&[
            "0abc.narinfo",
            "zzz.narinfo",
            "nar/1x.nar.zst",
            "_releases.json",
        ])
        .await;
        assert_eq!(list_for(&store, "", 10).await.unwrap(), Known::Ask);
        let Known::Listed(top) = list_for(&store, "", 300).await.unwrap() else {
            panic!("a push of 300 paths into a tiny cache lists it");
        };
        // `_releases.json` does not start with a nix32 character; nar/ is not top level.
        let mut top: Vec<String> = top.into_iter().collect();
        top.sort();
        assert_eq!(top, ["0abc.narinfo", "zzz.narinfo"]);
        let Known::Listed(nars) = list_for(&store, "nar/", 300).await.unwrap() else {
            panic!("NARs are listed too");
        };
        assert_eq!(nars.into_iter().collect::<Vec<_>>(), ["nar/1x.nar.zst"]);
    }

    #[tokio::test]
    async fn a_listing_over_its_budget_gives_way_to_heads() {
        let keys: Vec<String> = (0..LIST_FROM_PATHS * LIST_KEYS_PER_PATH + 1)
            .map(|i| format!("{}{i}.narinfo", &NIX32[i % 32..i % 32 + 1]))
            .collect();
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (_dir, store) = store_with(&refs).await;
        assert_eq!(
            list_for(&store, "", LIST_FROM_PATHS).await.unwrap(),
            Known::Ask
        );
        // One more path pushed raises the budget past the cache's size.
        assert!(matches!(
            list_for(&store, "", LIST_FROM_PATHS + 1).await.unwrap(),
            Known::Listed(k) if k.len() == keys.len()
        ));
        let wanted = vec![keys[5].clone(), "missing.narinfo".to_string()];
        let found = existing(&store, &wanted, "").await.unwrap();
        assert_eq!(found.into_iter().collect::<Vec<_>>(), [keys[5].clone()]);
    }
}
