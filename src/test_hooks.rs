//! Test hooks: the waits and smaller sizes that let the integration tests
//! race, kill or stretch a run at a chosen moment. All of them live here,
//! read once from the environment, and only in a build with the
//! `test-hooks` cargo feature (which `scripts/test.sh` turns on). A release
//! build reads no `RELEASE_DIST_TEST_*` variable: every hook is off, and the
//! names are not even in the binary (a test checks its strings).
//!
//! | variable | effect |
//! |---|---|
//! | `RELEASE_DIST_TEST_COPY_PAUSE_MS` | `promote` waits before each copy |
//! | `RELEASE_DIST_TEST_DELETE_PAUSE_MS` | every object-store delete waits first |
//! | `RELEASE_DIST_TEST_DOC_DELAY_MS` | converging a shared document waits between listing and writing |
//! | `RELEASE_DIST_TEST_REPO_DELAY_MS` | the package repositories' first round waits before writing indices |
//! | `RELEASE_DIST_TEST_BLOB_DELAY_MS` | each registry blob upload waits first |
//! | `RELEASE_DIST_TEST_GC_MARK_DELAY_MS` | `cache gc` waits between deciding and taking its lease |
//! | `RELEASE_DIST_TEST_GC_BATCH` | keys per `cache gc` delete request |
//! | `RELEASE_DIST_TEST_GC_LEASE_MS` | the collector's lease (and a quarter of it, the clock skew) |
//! | `RELEASE_DIST_TEST_LIST_FROM_PATHS` | how many paths a push needs before it lists the cache |

use std::time::Duration;

/// Every hook; `None` is off.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    /// Before each copy of `promote`.
    pub copy_pause: Option<Duration>,
    /// Before each delete request.
    pub delete_pause: Option<Duration>,
    /// Between listing and writing a shared document.
    pub doc_delay: Option<Duration>,
    /// In the repositories' first round, before writing the indices.
    pub repo_delay: Option<Duration>,
    /// Before each registry blob upload.
    pub blob_delay: Option<Duration>,
    /// Between `cache gc`'s decision and its lease.
    pub gc_mark_delay: Option<Duration>,
    /// Keys per `cache gc` delete request.
    pub gc_batch: Option<usize>,
    /// The collector's lease.
    pub gc_lease: Option<Duration>,
    /// The push size from which the cache is listed.
    pub list_from_paths: Option<usize>,
}

impl Hooks {
    /// Reads the hooks from `var` (the environment, in the tool).
    #[cfg(feature = "test-hooks")]
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Hooks {
        let number = |name: &str| var(name).and_then(|v| v.trim().parse::<u64>().ok());
        let ms = |name: &str| number(name).map(Duration::from_millis);
        let count = |name: &str| number(name).and_then(|n| usize::try_from(n).ok());
        Hooks {
            copy_pause: ms("RELEASE_DIST_TEST_COPY_PAUSE_MS"),
            delete_pause: ms("RELEASE_DIST_TEST_DELETE_PAUSE_MS"),
            doc_delay: ms("RELEASE_DIST_TEST_DOC_DELAY_MS"),
            repo_delay: ms("RELEASE_DIST_TEST_REPO_DELAY_MS"),
            blob_delay: ms("RELEASE_DIST_TEST_BLOB_DELAY_MS"),
            gc_mark_delay: ms("RELEASE_DIST_TEST_GC_MARK_DELAY_MS"),
            gc_batch: count("RELEASE_DIST_TEST_GC_BATCH"),
            gc_lease: ms("RELEASE_DIST_TEST_GC_LEASE_MS"),
            list_from_paths: count("RELEASE_DIST_TEST_LIST_FROM_PATHS"),
        }
    }
}

/// This process's hooks: read from the environment once, with the feature;
/// all off without it.
pub fn hooks() -> &'static Hooks {
    static HOOKS: std::sync::OnceLock<Hooks> = std::sync::OnceLock::new();
    HOOKS.get_or_init(|| {
        #[cfg(feature = "test-hooks")]
        {
            Hooks::read(|k| std::env::var(k).ok())
        }
        #[cfg(not(feature = "test-hooks"))]
        {
            Hooks::default()
        }
    })
}

/// Sleeps for `pause`, when a hook set one.
pub async fn pause(pause: Option<Duration>) {
    if let Some(d) = pause {
        tokio::time::sleep(d).await;
    }
}

#[cfg(all(test, feature = "test-hooks"))]
mod tests {
    use super::*;

    #[test]
    fn reads_each_hook_and_ignores_what_is_not_a_number() {
        let env = |k: &str| match k {
            "RELEASE_DIST_TEST_COPY_PAUSE_MS" => Some("250".to_string()),
            "RELEASE_DIST_TEST_GC_BATCH" => Some("3".to_string()),
            "RELEASE_DIST_TEST_DOC_DELAY_MS" => Some("soon".to_string()),
            _ => None,
        };
        let h = Hooks::read(env);
        assert_eq!(h.copy_pause, Some(Duration::from_millis(250)));
        assert_eq!(h.gc_batch, Some(3));
        assert_eq!(h.doc_delay, None);
        assert_eq!(h.gc_lease, None);
    }
}
