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

pub use self::url::{CacheParams, Location, S3Location, StoreUrl, UrlError};
pub use converge::{converge, Derived};
pub use local::LocalStore;
pub use s3::S3Store;

use crate::errors::Result;

/// What a stored object is made of.
#[derive(Debug, Clone)]
pub enum Body {
    /// Bytes in memory (small documents).
    Bytes(Vec<u8>),
    /// A file, streamed from disk (large objects).
    File(PathBuf),
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Its key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, when the store says.
    pub modified: Option<std::time::SystemTime>,
}

/// A bucket or a directory.
#[derive(Debug)]
pub enum ObjectStore {
    /// An S3 bucket.
    S3(S3Store),
    /// A local directory.
    Local(LocalStore),
}

impl ObjectStore {
    /// Opens the store at `location`. Nothing is sent yet.
    pub async fn open(location: &Location) -> Result<ObjectStore> {
        Ok(match location {
            Location::S3(s3) => ObjectStore::S3(S3Store::open(s3).await),
            Location::Local(dir) => ObjectStore::Local(LocalStore::new(dir.clone())),
        })
    }

    /// A name for messages: `s3://bucket` or the directory.
    pub fn describe(&self) -> String {
        match self {
            ObjectStore::S3(s) => s.describe(),
            ObjectStore::Local(l) => l.describe(),
        }
    }

    /// Whether `key` exists.
    pub async fn exists(&self, key: &str) -> Result<bool> {
        match self {
            ObjectStore::S3(s) => s.exists(key).await,
            ObjectStore::Local(l) => l.exists(key).await,
        }
    }

    /// The object's bytes, or `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        match self {
            ObjectStore::S3(s) => s.get(key).await,
            ObjectStore::Local(l) => l.get(key).await,
        }
    }

    /// Writes `key` whole; readers never see part of it.
    pub async fn put(&self, key: &str, body: Body, content_type: &str) -> Result<()> {
        match self {
            ObjectStore::S3(s) => s.put(key, body, content_type).await?,
            ObjectStore::Local(l) => l.put(key, body).await?,
        }
        tracing::debug!("stored {key}");
        Ok(())
    }

    /// Every object under `prefix`, sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        match self {
            ObjectStore::S3(s) => s.list(prefix).await,
            ObjectStore::Local(l) => l.list(prefix).await,
        }
    }

    /// The keys at the top level (no `/` in them), or `None` once there are
    /// more than `limit`: listing a huge store costs more than it saves.
    pub async fn list_top_level(&self, limit: usize) -> Result<Option<Vec<String>>> {
        match self {
            ObjectStore::S3(s) => s.list_top_level(limit).await,
            ObjectStore::Local(l) => l.list_top_level(limit).await,
        }
    }

    /// Checks that the store can be read and written, before any work.
    pub async fn check_access(&self) -> Result<()> {
        match self {
            ObjectStore::S3(s) => s.check_access().await,
            ObjectStore::Local(l) => l.check_access().await,
        }
    }
}
