//! The caps on what is read from outside: every document a bucket, a
//! registry, a layout, a cache or a build output holds is read whole only
//! up to its cap here, and refused past it with the cap named
//! ([`crate::errors::Error::Untrusted`]). `docs/threat-model.md` lists them.

/// The default cap of a document read whole from a bucket or directory
/// (tag, name and index documents, `SHA256SUMS`, provenance, narinfos,
/// pins, collector records, repository indices).
pub const DOCUMENT_CAP: u64 = 16 << 20;
/// The largest object copied or downloaded whole (a release file, a
/// package, an image blob whose size no descriptor gives).
pub const COPY_CAP: u64 = 64 << 30;
/// The most files a release's `SHA256SUMS` may list (`verify` reads no
/// further).
pub const RELEASE_FILES_CAP: usize = 10_000;
/// The most keys one listing of a bucket or directory may return.
pub const LISTING_CAP: usize = 2_000_000;
/// A key file (Nix, PEM, OpenPGP).
pub const KEY_CAP: u64 = 1 << 20;

/// The deadline of one document request to a registry, redirects and
/// retries included.
pub const DOCUMENT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// The slowest a blob or object may come, after the first
/// [`DOCUMENT_DEADLINE`].
pub const BLOB_FLOOR_BYTES_PER_SEC: u64 = 256 << 10;

/// The deadline of a blob or object stream of `size` bytes:
/// [`DOCUMENT_DEADLINE`], plus the time its bytes take at
/// [`BLOB_FLOOR_BYTES_PER_SEC`].
pub fn blob_deadline(size: u64) -> std::time::Duration {
    DOCUMENT_DEADLINE + std::time::Duration::from_secs(size / BLOB_FLOOR_BYTES_PER_SEC)
}

/// `work`, or `late()`'s error once `limit` has passed.
pub async fn within<T, E>(
    limit: std::time::Duration,
    work: impl std::future::Future<Output = Result<T, E>>,
    late: impl FnOnce(String) -> E,
) -> Result<T, E> {
    match tokio::time::timeout(limit, work).await {
        Ok(r) => r,
        Err(_) => Err(late(format!(
            "no answer within its deadline of {} s",
            limit.as_secs()
        ))),
    }
}

/// `n` bytes as people read them: `16 MiB`, `64 KiB`, `100 bytes`.
pub fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{} GiB", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Reads the file at `path` whole, refusing it past `cap` bytes (a key
/// given as `/dev/zero` ends here, not in the machine's memory).
pub fn read_file_capped(path: &std::path::Path, cap: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut out = Vec::new();
    file.take(cap + 1).read_to_end(&mut out)?;
    if out.len() as u64 > cap {
        return Err(std::io::Error::other(format!(
            "it is larger than its cap of {}",
            human(cap)
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blob_deadline_grows_with_its_size() {
        assert_eq!(blob_deadline(0), DOCUMENT_DEADLINE);
        assert_eq!(
            blob_deadline(BLOB_FLOOR_BYTES_PER_SEC * 100),
            DOCUMENT_DEADLINE + std::time::Duration::from_secs(100)
        );
    }

    #[test]
    fn caps_read_as_people_write_them() {
        assert_eq!(human(DOCUMENT_CAP), "16 MiB");
        assert_eq!(human(64 << 10), "64 KiB");
        assert_eq!(human(100), "100 bytes");
    }

    #[test]
    fn a_file_past_its_cap_is_refused_without_reading_it_all() {
        let err = read_file_capped(std::path::Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(err.to_string().contains("1 KiB"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(read_file_capped(&p, 3).unwrap(), b"abc");
    }
}
