//! A directory laid out like a bucket: key `a/b` is file `<root>/a/b`.
//!
//! A symlink below the root is never followed, not when listing, reading,
//! writing or deleting: it is an error that names it. (Whoever can write
//! into a destination could otherwise make `rm` delete, or `promote` read,
//! files outside it.) Files are opened with `O_NOFOLLOW`.
//!
//! A bucket may hold both `a` and `a/b` (the df-dist-v1 tag document is such a
//! key); a directory cannot. So an object whose key is also a prefix of other
//! keys lives in `<root>/a/.object`, and listing maps it back to `a`.

use std::path::{Path, PathBuf};

use super::{Body, ObjectMeta};

/// The file that holds an object whose key is also a directory.
const SELF_FILE: &str = ".object";
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
        let path = self.root.join(key);
        let mut at = self.root.clone();
        for part in key.split('/') {
            at.push(part);
            if !self.no_symlink(&at)? {
                return Ok(path);
            }
        }
        Ok(if is_real_dir(&path) {
            let own = path.join(SELF_FILE);
            self.no_symlink(&own)?;
            own
        } else {
            path
        })
    }

    /// Whether `at` exists; an error when it is a symlink.
    fn no_symlink(&self, at: &Path) -> Result<bool> {
        match std::fs::symlink_metadata(at) {
            Ok(m) if m.file_type().is_symlink() => Err(symlink_error(&self.root, at)),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => Ok(false),
            Err(e) => Err(Error::io("cannot read", at)(e)),
        }
    }

    /// Makes room for `key`: an ancestor stored as a file moves into its
    /// directory's [`SELF_FILE`]. Returns where `key`'s bytes go.
    fn make_room(&self, key: &str) -> Result<PathBuf> {
        self.path(key)?;
        let mut dir = self.root.clone();
        let parts: Vec<&str> = key.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir.push(part);
            if is_real_file(&dir) {
                let moving = dir.with_extension("moving-into-dir");
                std::fs::rename(&dir, &moving).map_err(Error::io("cannot move", &dir))?;
                std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
                std::fs::rename(&moving, dir.join(SELF_FILE))
                    .map_err(Error::io("cannot move", &moving))?;
            }
        }
        std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
        self.path(key)
    }

    pub(super) async fn exists(&self, key: &str) -> Result<bool> {
        let path = self.path(key)?;
        self.no_symlink(&path)
    }

    /// Opens `key` for reading without following a symlink; `None` when
    /// it is not there.
    async fn open(&self, key: &str) -> Result<Option<(tokio::fs::File, PathBuf)>> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(key)?;
        let mut options = std::fs::OpenOptions::new();
        options.read(true).custom_flags(libc::O_NOFOLLOW);
        match tokio::fs::OpenOptions::from(options).open(&path).await {
            Ok(f) => Ok(Some((f, path))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                Err(symlink_error(&self.root, &path))
            }
            Err(e) => Err(Error::io("cannot read", path)(e)),
        }
    }

    pub(super) async fn get(&self, key: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let Some((mut file, _)) = self.open(key).await? else {
            return Ok(None);
        };
        super::read_capped(&mut file, cap, &self.describe(), key)
            .await
            .map(Some)
    }

    pub(super) async fn put(&self, key: &str, body: Body) -> Result<()> {
        self.path(key)?;
        let path = self.make_room(key)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
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
            Body::Blob(bytes) => tokio::fs::write(&tmp, bytes)
                .await
                .map_err(Error::io("cannot write", &tmp))?,
            Body::File(src) => {
                tokio::fs::copy(&src, &tmp)
                    .await
                    .map_err(Error::io("cannot copy to", &tmp))?;
            }
        }
        // rename replaces a symlink at `path` (it never writes through one).
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(Error::io("cannot replace", &path))
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut objects = Vec::new();
            walk(&root, &root, &mut objects)?;
            if objects.len() > crate::bounds::LISTING_CAP {
                return Err(Error::Untrusted {
                    source_name: root.display().to_string(),
                    what: format!("{prefix}*"),
                    message: format!(
                        "it lists more than {} keys, the most one listing reads",
                        crate::bounds::LISTING_CAP
                    ),
                });
            }
            objects.retain(|o: &ObjectMeta| o.key.starts_with(&prefix));
            objects.sort_by(|a, b| a.key.cmp(&b.key));
            Ok(objects)
        })
        .await
        .map_err(|e| Error::io("cannot list", &self.root)(std::io::Error::other(e)))?
    }

    /// The keys starting with `prefix` that have no `/` after it: the
    /// files of one directory whose names start with the prefix's last part.
    pub(super) async fn list_top_level(
        &self,
        prefix: &str,
        limit: usize,
    ) -> Result<Option<Vec<String>>> {
        let (dir_key, start) = match prefix.rsplit_once('/') {
            Some((dir, start)) => (format!("{dir}/"), start.to_string()),
            None => (String::new(), prefix.to_string()),
        };
        if !dir_key.is_empty() {
            self.path(dir_key.trim_end_matches('/'))?;
        }
        let dir = self.root.join(&dir_key);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Some(Vec::new())),
                Err(e) => return Err(Error::io("cannot list", &dir)(e)),
            };
            let mut keys = Vec::new();
            for entry in entries {
                let entry = entry.map_err(Error::io("cannot list", &dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let kind = entry.file_type().map_err(Error::io("cannot list", &dir))?;
                if kind.is_symlink() && !name.starts_with('.') {
                    return Err(symlink_error(&root, &entry.path()));
                }
                let is_object = !kind.is_dir() || is_real_file(&entry.path().join(SELF_FILE));
                if name.starts_with('.') || !name.starts_with(&start) || !is_object {
                    continue;
                }
                keys.push(format!("{dir_key}{name}"));
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

    /// Copies `key` into the file `to`, at most `cap` bytes, hashing it;
    /// `None` when it does not exist.
    pub(super) async fn download(
        &self,
        key: &str,
        to: Option<&Path>,
        cap: u64,
    ) -> Result<Option<super::Fetched>> {
        let Some((file, _)) = self.open(key).await? else {
            return Ok(None);
        };
        super::copy_hashed(file, to, cap, &self.describe(), key)
            .await
            .map(Some)
    }

    pub(super) async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("cannot delete", &path)(e)),
        }
        // Empty directories left behind go too, up to the root.
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d == self.root || std::fs::remove_dir(&d).is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    /// The root, or the nearest directory above it that exists (where the
    /// first write will create it), must be a directory. Nothing is created:
    /// a dry run observes through this too.
    pub(super) async fn check_access(&self) -> Result<()> {
        let mut at = self.root.as_path();
        loop {
            match tokio::fs::metadata(at).await {
                Ok(m) if m.is_dir() => return Ok(()),
                Ok(_) => {
                    return Err(Error::io("cannot use", at)(std::io::Error::other(
                        "not a directory",
                    )))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => match at.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => at = parent,
                    _ => return Ok(()),
                },
                Err(e) => return Err(Error::io("cannot use", at)(e)),
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, objects: &mut Vec<ObjectMeta>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("cannot list", dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let kind = entry.file_type().map_err(Error::io("cannot list", dir))?;
        if kind.is_symlink() {
            return Err(symlink_error(root, &path));
        }
        let file = if name == SELF_FILE {
            dir // the directory's own object
        } else if name.to_string_lossy().starts_with('.') {
            continue; // temporary files of unfinished writes
        } else if kind.is_dir() {
            walk(root, &path, objects)?;
            continue;
        } else {
            path.as_path()
        };
        if let (Ok(rel), Ok(meta)) = (file.strip_prefix(root), entry.metadata()) {
            objects.push(ObjectMeta {
                key: rel.to_string_lossy().into_owned(),
                size: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
    Ok(())
}

/// Whether `p` is a directory itself (not a symlink to one).
fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

/// Whether `p` is a regular file itself (not a symlink to one).
fn is_real_file(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file())
}

fn symlink_error(root: &Path, at: &Path) -> Error {
    Error::Untrusted {
        source_name: root.display().to_string(),
        what: at.display().to_string(),
        message: "is a symlink: a local destination or cache holds files and directories only, and this tool never follows a link out of it; remove the link".into(),
    }
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

    const CAP: u64 = 1 << 20;

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
            store.get("a/b", CAP).await.unwrap().as_deref(),
            Some(&b"one"[..])
        );
        assert_eq!(store.get("missing", CAP).await.unwrap(), None);
        let keys = |prefix: &'static str| {
            let store = store.clone();
            async move {
                store
                    .list(prefix)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|o| o.key)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(keys("").await, ["a/b", "c"]);
        assert_eq!(keys("a/").await, ["a/b"]);
        let err = store.put("../x", Body::Bytes(vec![])).await.unwrap_err();
        assert!(
            err.to_string()
                .ends_with("/cache: resolve ../x failed: not a valid object key"),
            "{err}"
        );

        // A key that is also a prefix (the df-dist-v1 tag document) coexists
        // with the keys under it, whichever is written first.
        store
            .put("c/d", Body::Bytes(b"three".to_vec()))
            .await
            .unwrap();
        store.put("a", Body::Bytes(b"four".to_vec())).await.unwrap();
        assert_eq!(keys("").await, ["a", "a/b", "c", "c/d"]);
        assert_eq!(
            store.get("c", CAP).await.unwrap().as_deref(),
            Some(&b"two"[..])
        );
        assert_eq!(
            store.get("a", CAP).await.unwrap().as_deref(),
            Some(&b"four"[..])
        );
        assert!(store.exists("c").await.unwrap());
        assert_eq!(store.list("c").await.unwrap()[0].size, 3);
    }

    #[tokio::test]
    async fn never_follows_a_symlink_and_caps_what_it_reads() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("canary"), b"keep me").unwrap();
        let root = tmp.path().join("dest");
        let store = LocalStore::new(root.clone());
        store
            .put("rel/a", Body::Bytes(b"x".to_vec()))
            .await
            .unwrap();
        std::os::unix::fs::symlink(&outside, root.join("rel/link")).unwrap();
        std::os::unix::fs::symlink(outside.join("canary"), root.join("rel/file")).unwrap();
        let is_symlink_error = |e: Error| matches!(e, Error::Untrusted { ref message, .. } if message.contains("symlink"));
        // Through a symlinked directory, and a symlinked file: every operation refuses.
        for key in ["rel/link/canary", "rel/file"] {
            assert!(
                is_symlink_error(store.get(key, CAP).await.unwrap_err()),
                "{key}"
            );
            assert!(
                is_symlink_error(store.exists(key).await.unwrap_err()),
                "{key}"
            );
            assert!(
                is_symlink_error(store.delete(key).await.unwrap_err()),
                "{key}"
            );
            assert!(
                is_symlink_error(
                    store
                        .put(key, Body::Bytes(b"evil".to_vec()))
                        .await
                        .unwrap_err()
                ),
                "{key}"
            );
            let to = tmp.path().join("copy");
            assert!(
                is_symlink_error(store.download(key, Some(&to), CAP).await.unwrap_err()),
                "{key}"
            );
        }
        assert!(is_symlink_error(store.list("").await.unwrap_err()));
        assert!(is_symlink_error(
            store.list_top_level("rel/", 10).await.unwrap_err()
        ));
        assert_eq!(std::fs::read(outside.join("canary")).unwrap(), b"keep me");
        // A loop ends at once, with the same error.
        std::fs::remove_file(root.join("rel/file")).unwrap();
        std::fs::remove_file(root.join("rel/link")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("rel/loop")).unwrap();
        assert!(is_symlink_error(store.list("").await.unwrap_err()));
        std::fs::remove_file(root.join("rel/loop")).unwrap();
        // Past its cap, a document is refused with the cap named.
        store.put("big", Body::Bytes(vec![0; 2048])).await.unwrap();
        let e = store.get("big", 1024).await.unwrap_err();
        assert!(e.to_string().contains("1 KiB"), "{e}");
        assert_eq!(store.get("big", 2048).await.unwrap().unwrap().len(), 2048);
    }
}
