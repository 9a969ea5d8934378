//! One object-store seam for every publisher: the binary cache, static
//! releases and image registries in buckets.
//!
//! Two implementations with the same layout: [`S3Store`] (aws-sdk-s3) and
//! [`LocalStore`] (a directory). [`ObjectStore`] dispatches between them.

mod converge;
mod local;
mod s3;
mod url;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::Serialize;

pub use self::url::{CacheParams, Location, S3Location, StoreUrl, UrlError};
pub use converge::{converge, Derived};
pub use local::LocalStore;
pub use s3::S3Store;

use crate::errors::{Error, Result};

/// What a stored object is made of.
#[derive(Debug, Clone)]
pub enum Body {
    /// Bytes in memory (small documents), payload-signed.
    Bytes(Vec<u8>),
    /// Bytes in memory whose digest names them elsewhere (a small NAR,
    /// under its signed FileHash): sent without payload signing, as files are.
    Blob(bytes::Bytes),
    /// A file, streamed from disk (large objects).
    File(PathBuf),
}

/// What a download wrote: its size and digest, computed as it streamed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Bytes written.
    pub size: u64,
    /// Their sha256.
    pub digest: crate::digest::Digest,
}

/// The error of an object past its cap.
pub(crate) fn too_large(store: &str, key: &str, cap: u64) -> Error {
    Error::Untrusted {
        source_name: store.to_string(),
        what: key.to_string(),
        message: format!("larger than its cap of {}", crate::bounds::human(cap)),
    }
}

/// Reads `reader` whole, refused past `cap` bytes.
pub(crate) async fn read_capped(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
    cap: u64,
    store: &str,
    key: &str,
) -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    reader
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .await
        .map_err(|e| broke_off(store, key, e))?;
    if out.len() as u64 > cap {
        return Err(too_large(store, key, cap));
    }
    Ok(out)
}

fn broke_off(store: &str, key: &str, e: std::io::Error) -> Error {
    Error::Store {
        store: store.to_string(),
        op: "GET",
        key: key.to_string(),
        kind: crate::errors::StoreErrorKind::Unreachable,
        message: format!("the body broke off: {e}"),
    }
}

/// Streams `reader` into the file `to` (created, or truncated), at most
/// `cap` bytes, hashing as it goes.
pub(crate) async fn copy_hashed(
    mut reader: impl tokio::io::AsyncRead + Unpin,
    to: Option<&std::path::Path>,
    cap: u64,
    store: &str,
    key: &str,
) -> Result<Fetched> {
    use sha2::Digest as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut file = match to {
        Some(to) => Some((
            tokio::fs::File::create(to)
                .await
                .map_err(Error::io("cannot create", to))?,
            to,
        )),
        None => None,
    };
    let mut hasher = sha2::Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| broke_off(store, key, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > cap {
            return Err(too_large(store, key, cap));
        }
        hasher.update(&buf[..n]);
        if let Some((file, to)) = &mut file {
            file.write_all(&buf[..n])
                .await
                .map_err(Error::io("cannot write", *to))?;
        }
    }
    if let Some((file, to)) = &mut file {
        file.flush().await.map_err(Error::io("cannot write", *to))?;
    }
    Ok(Fetched {
        size,
        digest: crate::digest::Digest::from_hasher(hasher),
    })
}

/// The deadline of a document read whole.
pub const GET_DEADLINE: std::time::Duration = std::time::Duration::from_secs(120);

pub use crate::listing::ObjectMeta;

/// Requests sent to a store, by kind: what a command cost, for its summary
/// and for the benches' cost models. A local directory counts one request
/// per operation, as a bucket would.
#[derive(Debug, Default)]
pub struct RequestCounts {
    head: AtomicU64,
    get: AtomicU64,
    put: AtomicU64,
    list: AtomicU64,
    delete: AtomicU64,
}

/// A snapshot of [`RequestCounts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Requests {
    /// HEAD requests (existence checks).
    pub head: u64,
    /// GET requests.
    pub get: u64,
    /// PUT requests, multipart parts and their start and completion included.
    pub put: u64,
    /// Listing pages.
    pub list: u64,
    /// Delete requests (a batch of up to 1,000 keys counts once).
    pub delete: u64,
}

impl RequestCounts {
    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// One HEAD.
    pub fn head(&self) {
        Self::count(&self.head)
    }
    /// One GET.
    pub fn get(&self) {
        Self::count(&self.get)
    }
    /// One PUT (or part).
    pub fn put(&self) {
        Self::count(&self.put)
    }
    /// One listing page.
    pub fn list(&self) {
        Self::count(&self.list)
    }
    /// One delete request.
    pub fn delete(&self) {
        Self::count(&self.delete)
    }

    /// The counts so far.
    pub fn snapshot(&self) -> Requests {
        Requests {
            head: self.head.load(Ordering::Relaxed),
            get: self.get.load(Ordering::Relaxed),
            put: self.put.load(Ordering::Relaxed),
            list: self.list.load(Ordering::Relaxed),
            delete: self.delete.load(Ordering::Relaxed),
        }
    }
}

impl Requests {
    /// Every request.
    pub fn total(&self) -> u64 {
        self.head + self.get + self.put + self.list + self.delete
    }
}

/// A bucket or a directory.
#[derive(Debug)]
enum Backend {
    S3(S3Store),
    Local(LocalStore),
}

/// A bucket or a directory, with the requests sent to it counted.
#[derive(Debug)]
pub struct ObjectStore {
    backend: Backend,
    requests: Arc<RequestCounts>,
}

impl ObjectStore {
    /// Opens the store at `location`. Nothing is sent yet.
    pub async fn open(location: &Location) -> Result<ObjectStore> {
        let requests = Arc::new(RequestCounts::default());
        let backend = match location {
            Location::S3(s3) => Backend::S3(S3Store::open(s3, requests.clone()).await),
            Location::Local(dir) => Backend::Local(LocalStore::new(dir.clone())),
        };
        Ok(ObjectStore { backend, requests })
    }

    /// A name for messages: `s3://bucket` or the directory.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::S3(s) => s.describe(),
            Backend::Local(l) => l.describe(),
        }
    }

    /// The requests sent so far.
    pub fn requests(&self) -> Requests {
        self.requests.snapshot()
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match &self.backend {
            Backend::S3(s) => s.exists(key).await,
            Backend::Local(l) => {
                self.requests.head();
                l.exists(key).await
            }
        }
    }

    /// The object's bytes, or `None` when it does not exist; refused past
    /// [`crate::bounds::DOCUMENT_CAP`].
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.get_capped(key, crate::bounds::DOCUMENT_CAP).await
    }

    /// The object's bytes, or `None`; refused past `cap` bytes or
    /// [`GET_DEADLINE`].
    pub async fn get_capped(&self, key: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let work = async {
            match &self.backend {
                Backend::S3(s) => s.get(key, cap).await,
                Backend::Local(l) => {
                    self.requests.get();
                    l.get(key, cap).await
                }
            }
        };
        self.deadline(GET_DEADLINE, key, work).await
    }

    async fn deadline<T>(
        &self,
        limit: std::time::Duration,
        key: &str,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        crate::bounds::within(limit, work, |message| Error::Store {
            store: self.describe(),
            op: "GET",
            key: key.to_string(),
            kind: crate::errors::StoreErrorKind::Unreachable,
            message,
        })
        .await
    }

    /// Writes `key` whole; readers never see part of it.
    pub async fn put(&self, key: &str, body: Body, content_type: &str) -> Result<()> {
        match &self.backend {
            Backend::S3(s) => s.put(key, body, content_type).await?,
            Backend::Local(l) => {
                self.requests.put();
                l.put(key, body).await?
            }
        }
        tracing::debug!("stored {key}");
        crate::events::written(|| self.describe(), key);
        Ok(())
    }

    /// Every object under `prefix`, sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        match &self.backend {
            Backend::S3(s) => s.list(prefix).await,
            Backend::Local(l) => {
                self.requests.list();
                l.list(prefix).await
            }
        }
    }

    /// The top-level keys (no `/` in them) that start with `prefix`, or
    /// `None` once more than `limit` came: listing a huge store costs more
    /// than it saves.
    pub async fn list_top_level(&self, prefix: &str, limit: usize) -> Result<Option<Vec<String>>> {
        match &self.backend {
            Backend::S3(s) => s.list_top_level(prefix, limit).await,
            Backend::Local(l) => {
                self.requests.list();
                l.list_top_level(prefix, limit).await
            }
        }
    }

    /// Streams `key` into the file `to`, hashing it, refused past `cap`
    /// bytes; `None` when it does not exist. The deadline grows with the
    /// cap (see [`crate::bounds::blob_deadline`]).
    pub async fn download(
        &self,
        key: &str,
        to: &std::path::Path,
        cap: u64,
    ) -> Result<Option<Fetched>> {
        self.stream(key, Some(to), cap).await
    }

    /// The size and sha256 of `key` as stored, streamed (never whole in
    /// memory, never on disk); `None` when it is not there.
    pub async fn hash(&self, key: &str) -> Result<Option<Fetched>> {
        self.stream(key, None, crate::bounds::COPY_CAP).await
    }

    async fn stream(
        &self,
        key: &str,
        to: Option<&std::path::Path>,
        cap: u64,
    ) -> Result<Option<Fetched>> {
        let work = async {
            match &self.backend {
                Backend::S3(s) => s.download(key, to, cap).await,
                Backend::Local(l) => {
                    self.requests.get();
                    l.download(key, to, cap).await
                }
            }
        };
        let limit = crate::bounds::blob_deadline(cap.min(u64::MAX / 2));
        self.deadline(limit, key, work).await
    }

    /// Copies `key` from `from` into this store under the same key: on the
    /// server when both are buckets at one endpoint (CopyObject), else
    /// streamed through a temporary file in `tmp` (never whole in memory).
    /// False when `from` has no such key. Copies that must be checked go
    /// through [`ObjectStore::copy_checked`].
    pub async fn copy_from(
        &self,
        from: &ObjectStore,
        key: &str,
        tmp: &std::path::Path,
        content_type: &str,
    ) -> Result<bool> {
        if let (Backend::S3(to), Backend::S3(src)) = (&self.backend, &from.backend) {
            if to.same_endpoint(src) {
                if !from.exists(key).await? {
                    return Ok(false);
                }
                to.copy_from(src, key).await?;
                crate::events::written(|| self.describe(), key);
                return Ok(true);
            }
        }
        let file = tempfile::NamedTempFile::new_in(tmp)
            .map_err(Error::io("cannot create a file in", tmp))?;
        let found = from
            .download(key, file.path(), crate::bounds::COPY_CAP)
            .await?;
        if found.is_none() {
            return Ok(false);
        }
        self.put(key, Body::File(file.path().to_path_buf()), content_type)
            .await?;
        Ok(true)
    }

    /// Copies `key` from `from` only if its bytes are `want`: streamed
    /// through a temporary file in `tmp`, hashed on the way, and refused
    /// (nothing written) when they differ, however the source answers.
    /// False when `from` has no such key.
    pub async fn copy_checked(
        &self,
        from: &ObjectStore,
        key: &str,
        (want, size): (&crate::digest::Digest, Option<u64>),
        tmp: &std::path::Path,
        content_type: &str,
    ) -> Result<bool> {
        let file = tempfile::NamedTempFile::new_in(tmp)
            .map_err(Error::io("cannot create a file in", tmp))?;
        let cap = size.unwrap_or(crate::bounds::COPY_CAP);
        let Some(got) = from.download(key, file.path(), cap).await? else {
            return Ok(false);
        };
        if got.digest != *want {
            return Err(Error::Untrusted {
                source_name: from.describe(),
                what: key.to_string(),
                message: format!(
                    "its bytes hash to {} now, not to the verified {want}: nothing was copied",
                    got.digest
                ),
            });
        }
        self.put(key, Body::File(file.path().to_path_buf()), content_type)
            .await?;
        Ok(true)
    }

    /// Deletes `key`; one that is already gone counts as deleted.
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.delete_many(std::slice::from_ref(&key.to_string()))
            .await
    }

    /// Deletes `keys` (in batches where the store has them), in the order
    /// given batch by batch.
    pub async fn delete_many(&self, keys: &[String]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        // A test build may wait before each delete (crate::test_hooks), so
        // that a test can race or kill a removal for certain.
        crate::test_hooks::pause(crate::test_hooks::hooks().delete_pause).await;
        match &self.backend {
            Backend::S3(s) => s.delete_many(keys).await?,
            Backend::Local(l) => {
                for key in keys {
                    self.requests.delete();
                    l.delete(key).await?;
                }
            }
        }
        for key in keys {
            tracing::debug!("deleted {key}");
            crate::events::deleted(|| self.describe(), key);
        }
        Ok(())
    }

    /// Checks that the store can be read and written, before any work.
    pub async fn check_access(&self) -> Result<()> {
        match &self.backend {
            Backend::S3(s) => s.check_access().await,
            Backend::Local(l) => l.check_access().await,
        }
    }
}
