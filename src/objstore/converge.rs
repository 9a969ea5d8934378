//! Shared documents derived from a listing, written without compare-and-swap.
//!
//! Garage 2.5 ignores `If-Match`, so a document that several publishers
//! update (a name document, a release index, a registry's `tags/list`) is
//! derived from what the bucket holds, written, and checked against a new
//! listing until the two agree. This is safe when each publisher writes its
//! own objects (tags) *before* it converges: the last writer of a shared
//! document either saw every object, or some other publisher wrote one after
//! that listing and so writes (and checks) after it.

use std::time::Duration;

use super::{Body, ObjectMeta, ObjectStore};
use crate::errors::{Error, Result, StoreErrorKind};

/// Derived documents: (key, bytes, content type).
pub type Derived = Vec<(String, Vec<u8>, &'static str)>;

/// How many times the documents are derived again before giving up.
const ATTEMPTS: usize = 20;

/// Lists `prefix`, writes what `derive` makes of it, and repeats until a
/// listing made after the write derives the same documents and the store
/// holds exactly those bytes. Returns that last listing.
pub async fn converge(
    store: &ObjectStore,
    prefix: &str,
    derive: &(dyn Fn(&[ObjectMeta]) -> Derived + Sync),
) -> Result<Vec<ObjectMeta>> {
    let delay = test_delay();
    let mut last_key = prefix.to_string();
    for attempt in 0..ATTEMPTS {
        let listing = store.list(prefix).await?;
        let docs = derive(&listing);
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        for (key, bytes, ctype) in &docs {
            store.put(key, Body::Bytes(bytes.clone()), ctype).await?;
            last_key.clone_from(key);
        }
        // Safety needs only that the check lists after the write; the pause,
        // from the second round on, keeps racing publishers out of step.
        if attempt > 0 {
            tokio::time::sleep(jitter(attempt)).await;
        }
        let relisted = store.list(prefix).await?;
        let mut agrees = true;
        for (key, bytes, _) in &derive(&relisted) {
            if store.get(key).await?.as_deref() != Some(bytes.as_slice()) {
                agrees = false;
            }
        }
        if agrees {
            return Ok(relisted);
        }
        tracing::debug!("documents under {prefix} changed under us; deriving them again");
    }
    Err(Error::Store {
        store: store.describe(),
        op: "update",
        key: last_key,
        kind: StoreErrorKind::Unavailable,
        message: format!(
            "the shared documents kept changing for {ATTEMPTS} attempts (many publishes at once?)"
        ),
    })
}

/// A test build may widen the gap between listing and writing
/// ([`crate::test_hooks`]), so that a test can make two publishes race for
/// certain.
fn test_delay() -> Option<Duration> {
    crate::test_hooks::hooks().doc_delay
}

/// 20 to 120 ms, different per process and attempt, so racing publishers
/// do not stay in step.
fn jitter(attempt: usize) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0) as u64;
    let spread = (nanos ^ (std::process::id() as u64 * 7919) ^ (attempt as u64 * 104_729)) % 100;
    Duration::from_millis(20 + spread)
}
