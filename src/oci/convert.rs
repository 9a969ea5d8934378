//! Docker archive → OCI image, through a local blob cache.
//!
//! The cache (`target/release-dist/oci/`) holds content-addressed blobs
//! (`blobs/sha256/<hex>`), the map `diff_id → compressed descriptor`
//! (`layers.json`), and one record per converted archive
//! (`images/<store name>.<compression>.json`). An archive in the Nix store
//! never changes, so a recorded conversion whose blobs are all present is
//! reused without reading the archive again; a new archive whose layers are
//! known is read once (to check them) and not compressed again.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::document::{Descriptor, CONFIG_MEDIA_TYPE, LAYER_TAR, LAYER_TAR_GZIP};
use crate::docker_archive::{self as archive, ArchiveError, ConfigInfo};

pub use crate::kinds::LayerCompression;

impl LayerCompression {
    fn media_type(self) -> &'static str {
        match self {
            LayerCompression::Gzip => LAYER_TAR_GZIP,
            LayerCompression::None => LAYER_TAR,
        }
    }
}

/// gzip level: the measured balance (README, "Images").
const GZIP_LEVEL: u32 = 6;

/// One archive, converted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Converted {
    /// What the config says: checked against the target by the caller.
    pub architecture: String,
    /// The config's os.
    pub os: String,
    /// The config's variant.
    pub variant: Option<String>,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, in order.
    pub layers: Vec<Descriptor>,
}

/// What converting cost.
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConvertStats {
    /// The archive was not read at all: a recorded conversion was reused.
    pub reused: bool,
    /// Layers compressed (or copied) this time.
    pub layers_written: usize,
    /// Layers found in the cache by diff_id.
    pub layers_cached: usize,
}

/// The local blob cache.
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LayerMap(BTreeMap<String, Descriptor>);

/// Cache I/O failed (not the archive).
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", .path.display())]
pub struct CacheError {
    /// What was being done.
    pub what: &'static str,
    /// Where.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// Converting one archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The archive is bad.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The cache could not be written.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

fn cache_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CacheError + 'a {
    move |source| CacheError {
        what,
        path: path.to_path_buf(),
        source,
    }
}

impl BlobCache {
    /// A cache in `dir` (created on first write).
    pub fn new(dir: PathBuf) -> BlobCache {
        BlobCache { dir }
    }

    /// Where a blob lives.
    pub fn blob_path(&self, d: &Descriptor) -> PathBuf {
        self.dir.join("blobs/sha256").join(d.hex())
    }

    /// Writes a small blob (unless it is there) and returns its path.
    pub fn put_bytes(&self, d: &Descriptor, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        let path = self.blob_path(d);
        if self.has(d) {
            return Ok(path);
        }
        let dir = self.dir.join("blobs/sha256");
        std::fs::create_dir_all(&dir).map_err(cache_err("cannot create", &dir))?;
        let mut tmp =
            tempfile::NamedTempFile::new_in(&dir).map_err(cache_err("cannot write in", &dir))?;
        io::Write::write_all(&mut tmp, bytes).map_err(cache_err("cannot write", &path))?;
        tmp.persist(&path)
            .map_err(|e| e.error)
            .map_err(cache_err("cannot write", &path))?;
        Ok(path)
    }

    /// The blob is there with the right size.
    pub fn has(&self, d: &Descriptor) -> bool {
        std::fs::metadata(self.blob_path(d))
            .map(|m| m.len() == d.size)
            .unwrap_or(false)
    }

    fn layers_path(&self) -> PathBuf {
        self.dir.join("layers.json")
    }

    fn load_layers(&self) -> LayerMap {
        std::fs::read(self.layers_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Adds `entries` to the diff_id map (read again just before writing, so
    /// that concurrent conversions lose nothing but a cache hit).
    fn remember_layers(&self, entries: &[(String, Descriptor)]) -> Result<(), CacheError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut map = self.load_layers();
        for (k, d) in entries {
            map.0.insert(k.clone(), d.clone());
        }
        let bytes = serde_json::to_vec_pretty(&map).unwrap_or_default();
        write_atomically(&self.layers_path(), &bytes)
    }

    /// A recorded conversion of `key` whose blobs are all still there.
    fn recorded(
        &self,
        key: &str,
        compression: LayerCompression,
        variant: Option<&str>,
    ) -> Option<(Converted, ConvertStats)> {
        let bytes = std::fs::read(self.record_path(key, compression, variant)).ok()?;
        let c: Converted = serde_json::from_slice(&bytes).ok()?;
        if !self.has(&c.config) || !c.layers.iter().all(|l| self.has(l)) {
            return None;
        }
        let stats = ConvertStats {
            reused: true,
            layers_written: 0,
            layers_cached: c.layers.len(),
        };
        Some((c, stats))
    }

    fn record_path(&self, key: &str, c: LayerCompression, variant: Option<&str>) -> PathBuf {
        self.dir.join("images").join(format!(
            "{key}.{}.{}.json",
            c.as_str(),
            variant.unwrap_or("no-variant")
        ))
    }

    fn write_blob(&self, bytes: &[u8], media_type: &str) -> Result<Descriptor, CacheError> {
        let d = Descriptor::of(media_type, bytes);
        if !self.has(&d) {
            write_atomically(&self.blob_path(&d), bytes)?;
        }
        Ok(d)
    }

    /// Removes the `.part-<pid>-` files of conversions whose process is
    /// gone (killed part-way): a running one's are kept.
    fn sweep_dead_parts(&self) {
        let dir = self.dir.join("blobs/sha256");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(".part-")
                .and_then(|r| r.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
            else {
                continue;
            };
            if !process_alive(pid) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, CacheError> {
        let dir = self.dir.join("blobs/sha256");
        std::fs::create_dir_all(&dir).map_err(cache_err("cannot create", &dir))?;
        tempfile::Builder::new()
            .prefix(&format!(".part-{}-", std::process::id()))
            .tempfile_in(&dir)
            .map_err(cache_err("cannot create a file in", &dir))
    }
}

/// Whether process `pid` runs (signal 0: no signal sent).
fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CacheError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(cache_err("cannot create", dir))?;
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(cache_err("cannot write in", dir))?;
    tmp.write_all(bytes)
        .map_err(cache_err("cannot write", path))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .map_err(cache_err("cannot write", path))?;
    Ok(())
}

/// A writer that hashes and counts what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hashing<W: Write>(inner: W) -> Hashing<W> {
    Hashing {
        inner,
        hash: Sha256::new(),
        len: 0,
    }
}

/// Converts the archive at `path`. `key` names it for reuse: the store path's
/// base name, or `None` for an archive outside the store (always read).
/// `variant` is the target's (`v6` for linux/arm/v6): a config without one
/// gets it ([`archive::with_variant`]), so that the config says what the
/// index entry says.
pub fn convert(
    cache: &BlobCache,
    path: &Path,
    key: Option<&str>,
    compression: LayerCompression,
    variant: Option<&str>,
) -> Result<(Converted, ConvertStats), ConvertError> {
    let open = || File::open(path).map_err(ArchiveError::Io);
    if let Some(reused) = key.and_then(|k| cache.recorded(k, compression, variant)) {
        return Ok(reused);
    }
    let budget = archive::expansion_budget(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
    cache.sweep_dead_parts();
    let mut scanned = archive::scan(open()?, budget)?;
    if let (None, Some(v)) = (&scanned.info.variant, variant) {
        scanned.config = archive::with_variant(&scanned.config, v)?;
        scanned.info.variant = Some(v.to_string());
    }
    let config = cache.write_blob(&scanned.config, CONFIG_MEDIA_TYPE)?;
    let map = cache.load_layers();
    let mut layers: Vec<Option<Descriptor>> = Vec::new();
    let mut wanted = Vec::new();
    for l in &scanned.layers {
        let known = map
            .0
            .get(&map_key(compression, &l.diff_id))
            .filter(|d| cache.has(d))
            .cloned();
        if known.is_none() && !wanted.contains(&l.member) {
            wanted.push(l.member.clone());
        }
        layers.push(known);
    }
    let mut stats = ConvertStats {
        reused: false,
        layers_written: 0,
        layers_cached: layers.iter().filter(|l| l.is_some()).count(),
    };
    let mut written: BTreeMap<String, Descriptor> = BTreeMap::new();
    let mut cache_failure: Option<CacheError> = None;
    if !wanted.is_empty() {
        archive::extract(open()?, &wanted, &mut |member, r| {
            let expected = scanned
                .layers
                .iter()
                .find(|l| l.member == member)
                .map(|l| l.diff_id.clone())
                .unwrap_or_default();
            match write_layer(cache, r, compression, &expected) {
                Ok(Ok(d)) => {
                    written.insert(member.to_string(), d);
                    Ok(())
                }
                Ok(Err(e)) => Err(e),
                Err(e) => {
                    let msg = e.to_string();
                    cache_failure = Some(e);
                    Err(io::Error::other(msg))
                }
            }
        })
        .map_err(|e| match cache_failure.take() {
            Some(c) => ConvertError::Cache(c),
            None => ConvertError::Archive(e),
        })?;
    }
    let mut remembered = Vec::new();
    let mut out = Vec::new();
    for (l, known) in scanned.layers.iter().zip(layers) {
        let d = match known {
            Some(d) => d,
            None => {
                let d = written.get(&l.member).cloned().ok_or_else(|| {
                    ArchiveError::Truncated(format!("layer {} was not read", l.member))
                })?;
                remembered.push((map_key(compression, &l.diff_id), d.clone()));
                d
            }
        };
        out.push(d);
    }
    stats.layers_written = written.len();
    cache.remember_layers(&remembered)?;
    let ConfigInfo {
        architecture,
        os,
        variant: config_variant,
        ..
    } = scanned.info;
    let converted = Converted {
        architecture,
        os,
        variant: config_variant,
        config,
        layers: out,
    };
    if let Some(k) = key {
        let bytes = serde_json::to_vec_pretty(&converted).unwrap_or_default();
        write_atomically(&cache.record_path(k, compression, variant), &bytes)?;
    }
    Ok((converted, stats))
}

fn map_key(c: LayerCompression, diff_id: &str) -> String {
    format!("{}:sha256:{diff_id}", c.as_str())
}

/// Writes one layer into the cache, compressed as asked, checking again
/// that its bytes hash to `diff_id`. The outer result is the cache's
/// failure; the inner one is the archive's.
fn write_layer(
    cache: &BlobCache,
    r: &mut dyn Read,
    compression: LayerCompression,
    diff_id: &str,
) -> Result<io::Result<Descriptor>, CacheError> {
    let tmp = cache.temp_file()?;
    let tmp_path = tmp.path().to_path_buf();
    let file = tmp
        .as_file()
        .try_clone()
        .map_err(cache_err("cannot write", &tmp_path))?;
    let mut out = hashing(io::BufWriter::with_capacity(1 << 20, file));
    let mut raw = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut copy = |out: &mut dyn Write, raw: &mut Sha256, buf: &mut [u8]| -> io::Result<()> {
        loop {
            let n = r.read(buf)?;
            if n == 0 {
                return Ok(());
            }
            raw.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
    };
    let res = match compression {
        LayerCompression::None => copy(&mut out, &mut raw, &mut buf),
        LayerCompression::Gzip => {
            // No file name, mtime 0, fixed level: the same input always
            // gives the same bytes.
            let mut gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(&mut out, flate2::Compression::new(GZIP_LEVEL));
            copy(&mut gz, &mut raw, &mut buf).and_then(|_| gz.finish().map(|_| ()))
        }
    };
    if let Err(e) = res {
        return Ok(Err(e));
    }
    out.flush().map_err(cache_err("cannot write", &tmp_path))?;
    let raw = hex::encode(raw.finalize());
    if raw != diff_id {
        return Ok(Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a layer hashed to sha256:{raw} on the second read, sha256:{diff_id} on the first"
            ),
        )));
    }
    let d = Descriptor {
        media_type: compression.media_type().into(),
        digest: crate::digest::Digest::from_hasher(out.hash),
        size: out.len,
        platform: None,
        annotations: None,
        artifact_type: None,
    };
    let dest = cache.blob_path(&d);
    tmp.persist(&dest)
        .map_err(|e| e.error)
        .map_err(cache_err("cannot write", &dest))?;
    Ok(Ok(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker_archive::tests::{layer_tar, layered};

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn an_arm_config_without_a_variant_gets_the_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let a = write(
            tmp.path(),
            "a.tar",
            &layered("arm", &[&layer_tar("x", b"1")]),
        );
        let c = BlobCache::new(tmp.path().join("cache"));
        let (x, _) = convert(&c, &a, Some("a"), LayerCompression::Gzip, Some("v6")).unwrap();
        assert_eq!(x.variant.as_deref(), Some("v6"));
        let config = std::fs::read(c.blob_path(&x.config)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(
            (v["architecture"].as_str(), v["variant"].as_str()),
            (Some("arm"), Some("v6"))
        );
        // Recorded per variant: the same archive for no variant is its own.
        let (y, _) = convert(&c, &a, Some("a"), LayerCompression::Gzip, None).unwrap();
        assert_eq!(y.variant, None);
        assert_ne!(x.config.digest, y.config.digest);
    }

    #[test]
    fn a_killed_conversions_part_files_go_and_a_running_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path().to_path_buf());
        let blobs = dir.path().join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead = gone.id();
        gone.wait().unwrap();
        let (theirs, ours) = (
            blobs.join(format!(".part-{dead}-abc")),
            blobs.join(format!(".part-{}-def", std::process::id())),
        );
        std::fs::write(&theirs, b"839 MB, once").unwrap();
        std::fs::write(&ours, b"in progress").unwrap();
        cache.sweep_dead_parts();
        assert!(!theirs.exists(), "a dead process's part file stays");
        assert!(
            ours.exists(),
            "a running conversion's part file was removed"
        );
    }

    #[test]
    fn gzip_conversion_is_deterministic_and_cached_by_diff_id() {
        let tmp = tempfile::tempdir().unwrap();
        let l1 = layer_tar("bin/hello", &b"hello ".repeat(10_000));
        let l2 = layer_tar("etc/x", b"x");
        let a = write(tmp.path(), "a.tar", &layered("amd64", &[&l1, &l2]));
        let c1 = BlobCache::new(tmp.path().join("c1"));
        let c2 = BlobCache::new(tmp.path().join("c2"));
        let (x, s1) = convert(&c1, &a, Some("a"), LayerCompression::Gzip, None).unwrap();
        let (y, _) = convert(&c2, &a, None, LayerCompression::Gzip, None).unwrap();
        assert_eq!(x, y, "two caches, same digests");
        assert_eq!(s1.layers_written, 2);
        assert_eq!(x.layers[0].media_type, LAYER_TAR_GZIP);
        assert!(x.layers[0].size < l1.len() as u64 / 10);
        // The blob is a gzip whose content is the layer.
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(File::open(c1.blob_path(&x.layers[0])).unwrap())
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, l1);
        // The config bytes are the archive's, unchanged.
        let cfg = std::fs::read(c1.blob_path(&x.config)).unwrap();
        assert_eq!(x.config.digest, super::super::document::digest_of(&cfg));
        assert!(cfg.starts_with(b"{\n    \"architecture\": \"amd64\""));

        // Same archive again: the record is reused, nothing read.
        let (_, s2) = convert(&c1, &a, Some("a"), LayerCompression::Gzip, None).unwrap();
        assert!(s2.reused);
        // Another archive sharing l1: l1 is not compressed again.
        let b = write(tmp.path(), "b.tar", &layered("arm64", &[&l1]));
        let (z, s3) = convert(&c1, &b, Some("b"), LayerCompression::Gzip, None).unwrap();
        assert_eq!((s3.layers_cached, s3.layers_written), (1, 0));
        assert_eq!(z.layers[0], x.layers[0]);
        assert_eq!(z.architecture, "arm64");
    }

    #[test]
    fn uncompressed_layers_have_the_diff_id_as_digest() {
        let tmp = tempfile::tempdir().unwrap();
        let l1 = layer_tar("bin/hello", b"hi");
        let a = write(tmp.path(), "a.tar", &layered("386", &[&l1]));
        let c = BlobCache::new(tmp.path().join("c"));
        let (x, _) = convert(&c, &a, None, LayerCompression::None, None).unwrap();
        assert_eq!(
            x.layers[0].digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&l1)))
        );
        assert_eq!(x.layers[0].media_type, LAYER_TAR);
        assert_eq!(std::fs::read(c.blob_path(&x.layers[0])).unwrap(), l1);
    }

    #[test]
    fn a_missing_blob_invalidates_the_record() {
        let tmp = tempfile::tempdir().unwrap();
        let l1 = layer_tar("bin/hello", b"hi");
        let a = write(tmp.path(), "a.tar", &layered("amd64", &[&l1]));
        let c = BlobCache::new(tmp.path().join("c"));
        let (x, _) = convert(&c, &a, Some("a"), LayerCompression::Gzip, None).unwrap();
        std::fs::remove_file(c.blob_path(&x.layers[0])).unwrap();
        let (y, s) = convert(&c, &a, Some("a"), LayerCompression::Gzip, None).unwrap();
        assert!(!s.reused);
        assert_eq!(s.layers_written, 1);
        assert_eq!(x, y);
    }
}
