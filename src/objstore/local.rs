//! A directory laid out like a bucket: key `a/b` is file `<root>/a/b`.

use std::path::{Path, PathBuf};

use super::Body;
use crate::errors::{Error, Result};

/// A local directory store.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: PathBuf) -> LocalStore {
        LocalStore { root }
    }

    /// The root directory.
    pub fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn path(&self, key: &str) -> Result<PathBuf> {
        if key.is_empty() || key.split('/').any(|c| c == ".." || c == ".") || key.starts_with('/') {
            return Err(Error::Store {
                store: self.describe(),
                op: "resolve",
                key: key.to_string(),
                kind: crate::errors::StoreErrorKind::Other,
                message: "not a valid object key".into(),
            });
        }
        Ok(self.root.join(key))
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool> {
        Ok(tokio::fs::try_exists(self.path(key)?)
            .await
            .unwrap_or(false))
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", path)(e)),
        }
    }

    pub(super) async fn put(&self, key: &str, body: Body) -> Result<()> {
        let path = self.path(key)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(Error::io("cannot create", &dir))?;
        let tmp = dir.join(format!(
            ".{}.part-{}-{:x}",
            path.file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default(),
            std::process::id(),
            rand_suffix()
        ));
        match body {
            Body::Bytes(bytes) => tokio::fs::write(&tmp, bytes)
                .await
                .map_err(Error::io("cannot write", &tmp))?,
            Body::File(src) => {
                tokio::fs::copy(&src, &tmp)
                    .await
                    .map_err(Error::io("cannot copy to", &tmp))?;
            }
        }
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(Error::io("cannot replace", &path))
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&root, &root, &mut keys)?;
            keys.retain(|k: &String| k.starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(|e| Error::io("cannot list", &self.root)(std::io::Error::other(e)))?
    }

    pub(super) async fn list_top_level(&self, limit: usize) -> Result<Option<Vec<String>>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(&root) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
                Err(e) => return Err(Error::io("cannot list", &root)(e)),
            };
            let mut keys = Vec::new();
            for entry in entries {
                let entry = entry.map_err(Error::io("cannot list", &root))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || entry.path().is_dir() {
                    continue;
                }
                keys.push(name);
                if keys.len() > limit {
                    return Ok(None);
                }
            }
            keys.sort();
            Ok(Some(keys))
        })
        .await
        .map_err(|e| Error::io("cannot list", &self.root)(std::io::Error::other(e)))?
    }

    pub(super) async fn check_access(&self) -> Result<()> {
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(Error::io("cannot create", &self.root))
    }
}

fn walk(root: &Path, dir: &Path, keys: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("cannot list", dir))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue; // temporary files of unfinished writes
        }
        if path.is_dir() {
            walk(root, &path, keys)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            keys.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

fn rand_suffix() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn puts_gets_lists_and_refuses_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path().join("cache"));
        assert!(!store.exists("a/b").await.unwrap());
        store
            .put("a/b", Body::Bytes(b"one".to_vec()))
            .await
            .unwrap();
        store.put("c", Body::Bytes(b"two".to_vec())).await.unwrap();
        assert_eq!(
            store.get("a/b").await.unwrap().as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(store.get("missing").await.unwrap(), None);
        assert_eq!(store.list("").await.unwrap(), ["a/b", "c"]);
        assert_eq!(store.list("a/").await.unwrap(), ["a/b"]);
        assert!(store.put("../x", Body::Bytes(vec![])).await.is_err());
    }
}
