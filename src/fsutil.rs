//! Small file-system helpers with errors that name the path.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same directory,
/// so readers see the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes).map_err(Error::io("cannot write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("cannot replace", path))
}

/// Points the symlink `link` at `target`, replacing whatever was there atomically.
pub fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
    let tmp = dir.join(format!(
        ".{}.link-{}",
        link.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(Error::io("cannot create the link", &tmp))?;
    std::fs::rename(&tmp, link).map_err(Error::io("cannot replace", link))
}

/// The sha256 (hex) and size of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = std::fs::File::open(path).map_err(Error::io("cannot open", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(Error::io("cannot read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// build.json on disk (the record itself, in `build_record`, is pure).
impl crate::build_record::BuildRecord {
    /// Reads a build.json.
    pub fn read(path: &Path) -> Result<crate::build_record::BuildRecord> {
        let text = std::fs::read(path).map_err(Error::io("cannot read", path))?;
        serde_json::from_slice(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes it atomically: a temporary file renamed over the old one.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_vec_pretty(self).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        text.push(b'\n');
        write_atomic(path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                3
            )
        );
    }

    #[test]
    fn replaces_links_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("a/b/link");
        replace_symlink(Path::new("/one"), &link).unwrap();
        replace_symlink(Path::new("/two"), &link).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("/two"));
        let f = dir.path().join("x.json");
        write_atomic(&f, b"1").unwrap();
        write_atomic(&f, b"2").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"2");
    }
}
