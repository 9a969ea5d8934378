//! One path's NAR: serialised, hashed, checked and compressed in one pass,
//! into memory for a small NAR and into a temporary file for a big one.
//! Memory stays at a buffer plus the compressor's window (or the small
//! NAR itself), whatever the path's size.
//!
//! Small NARs skip the file because most of a closure is small paths, and
//! creating, writing, reading back and deleting thousands of files cost a
//! sixth of the preparation's CPU (measured with perf on ext4).

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::errors::{Error, Result};
use crate::nixcache::{nar_reader, Compression, Sha256Hash};

/// NARs up to this size (uncompressed) are prepared in memory.
pub const IN_MEMORY_UP_TO: u64 = 1 << 20;

/// Where a prepared NAR is.
#[derive(Debug)]
pub enum PreparedFile {
    /// In memory (a small NAR).
    Memory(bytes::Bytes),
    /// In a temporary file, deleted when this is dropped.
    Temp(tempfile::NamedTempFile),
}

/// A NAR ready for upload.
#[derive(Debug)]
pub struct Prepared {
    /// The (compressed) NAR.
    pub file: PreparedFile,
    /// SHA-256 of the uncompressed NAR.
    pub nar_hash: Sha256Hash,
    /// Size of the uncompressed NAR.
    pub nar_size: u64,
    /// SHA-256 of the file.
    pub file_hash: Sha256Hash,
    /// Size of the file.
    pub file_size: u64,
}

/// Counts and hashes what goes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Compression settings for one NAR.
#[derive(Debug, Clone, Copy)]
pub struct Compressor {
    /// Which algorithm.
    pub compression: Compression,
    /// Level; `None` for the default.
    pub level: Option<i32>,
    /// Threads for one NAR (zstd only).
    pub threads: u32,
}

/// The input each zstd worker compresses at a time.
const ZSTD_JOB_SIZE: u32 = 1 << 20;

/// Serialises `store_path`, refusing it when its NAR hash or size differs
/// from what the store registered (`expected`): in memory when the NAR is
/// small, else into a temporary file in `tmp_dir`.
pub fn prepare_nar(
    store_path: &Path,
    expected: (Sha256Hash, u64),
    compressor: Compressor,
    tmp_dir: &Path,
) -> Result<Prepared> {
    if expected.1 <= IN_MEMORY_UP_TO {
        let sink = Vec::with_capacity(expected.1 as usize / 2);
        let (bytes, digest) = compress_into(store_path, expected, compressor, sink)?;
        return Ok(digest.with(PreparedFile::Memory(bytes.into())));
    }
    let file = tempfile::Builder::new()
        .prefix(".nar-")
        .tempfile_in(tmp_dir)
        .map_err(Error::io("cannot create a temporary file in", tmp_dir))?;
    let sink = std::io::BufWriter::with_capacity(
        1 << 20,
        file.reopen()
            .map_err(Error::io("cannot open", file.path()))?,
    );
    let (mut sink, digest) = compress_into(store_path, expected, compressor, sink)?;
    sink.flush()
        .map_err(Error::io("cannot write", file.path()))?;
    Ok(digest.with(PreparedFile::Temp(file)))
}

/// The hashes and sizes of a prepared NAR.
struct Digests {
    nar_hash: Sha256Hash,
    nar_size: u64,
    file_hash: Sha256Hash,
    file_size: u64,
}

impl Digests {
    fn with(self, file: PreparedFile) -> Prepared {
        Prepared {
            file,
            nar_hash: self.nar_hash,
            nar_size: self.nar_size,
            file_hash: self.file_hash,
            file_size: self.file_size,
        }
    }
}

/// The pass itself: NAR out of `store_path`, hashed, checked, compressed
/// into `sink`, which is handed back with the digests.
fn compress_into<W: Write>(
    store_path: &Path,
    expected: (Sha256Hash, u64),
    compressor: Compressor,
    sink: W,
) -> Result<(W, Digests)> {
    let io = |action| Error::io(action, store_path);
    let out = HashingWriter {
        inner: sink,
        hasher: Sha256::new(),
        size: 0,
    };
    let mut reader = nar_reader(store_path).map_err(io("cannot read"))?;
    let mut nar_hasher = Sha256::new();
    let mut nar_size = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    let mut pump = |w: &mut dyn Write| -> Result<()> {
        loop {
            let n = reader.read(&mut buf).map_err(io("cannot serialise"))?;
            if n == 0 {
                return Ok(());
            }
            nar_hasher.update(&buf[..n]);
            nar_size += n as u64;
            w.write_all(&buf[..n]).map_err(io("cannot compress"))?;
        }
    };
    let out = match compressor.compression {
        Compression::None => {
            let mut out = out;
            pump(&mut out)?;
            out
        }
        Compression::Zstd => {
            let level = compressor.level.unwrap_or(3);
            let mut enc = zstd::stream::write::Encoder::new(out, level)
                .map_err(io("cannot start zstd for"))?;
            if compressor.threads > 1 {
                enc.multithread(compressor.threads)
                    .map_err(io("cannot start zstd threads for"))?;
                // zstd's default job (4 windows, 8 MiB at level 3) costs
                // ~90 MiB of buffers across two workers; 1 MiB jobs keep a
                // 2 GiB NAR under 50 MiB of RSS and compress as fast.
                enc.set_parameter(zstd::stream::raw::CParameter::JobSize(ZSTD_JOB_SIZE))
                    .map_err(io("cannot size zstd jobs for"))?;
            }
            pump(&mut enc)?;
            enc.finish().map_err(io("cannot finish zstd for"))?
        }
        Compression::Xz => {
            let level = compressor.level.unwrap_or(6).clamp(0, 9) as u32;
            let mut enc = xz2::write::XzEncoder::new(out, level);
            pump(&mut enc)?;
            enc.finish().map_err(io("cannot finish xz for"))?
        }
    };
    let nar_hash = Sha256Hash(nar_hasher.finalize().into());
    if (nar_hash, nar_size) != expected {
        return Err(Error::NarMismatch {
            path: store_path.display().to_string(),
            expected: expected.0.to_nix32_prefixed(),
            actual: nar_hash.to_nix32_prefixed(),
        });
    }
    let digest = Digests {
        file_hash: Sha256Hash(out.hasher.finalize().into()),
        file_size: out.size,
        nar_hash,
        nar_size,
    };
    Ok((out.inner, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/nix-cache/tree");
    const TREE_HASH: &str = "0e1ce6f5740b45bea90404d5cc2728da21f2c418bac4dd8425f652c9c99264e4";

    fn expected() -> (Sha256Hash, u64) {
        (
            Sha256Hash(hex::decode(TREE_HASH).unwrap().try_into().unwrap()),
            1272,
        )
    }

    #[test]
    fn every_compression_round_trips_to_the_nar() {
        let tmp = tempfile::tempdir().unwrap();
        let nar = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/nix-cache/tree.nar"
        ))
        .unwrap();
        for compression in [Compression::None, Compression::Zstd, Compression::Xz] {
            for threads in [1, 2] {
                let c = Compressor {
                    compression,
                    level: None,
                    threads,
                };
                let p = prepare_nar(Path::new(TREE), expected(), c, tmp.path()).unwrap();
                let PreparedFile::Memory(bytes) = p.file else {
                    panic!("a small NAR is prepared in memory");
                };
                assert_eq!(bytes.len() as u64, p.file_size);
                assert_eq!(hex::encode(Sha256::digest(&bytes)), p.file_hash.to_hex());
                let plain = match compression {
                    Compression::None => bytes.to_vec(),
                    Compression::Zstd => zstd::decode_all(&bytes[..]).unwrap(),
                    Compression::Xz => {
                        let mut out = Vec::new();
                        xz2::read::XzDecoder::new(&bytes[..])
                            .read_to_end(&mut out)
                            .unwrap();
                        out
                    }
                };
                assert_eq!(plain, nar, "{compression:?}");
            }
        }
    }

    #[test]
    fn a_big_nar_is_prepared_in_a_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("big");
        let data: Vec<u8> = (0..(IN_MEMORY_UP_TO as u32 + 4096))
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let mut nar = Vec::new();
        nar_reader(&path).unwrap().read_to_end(&mut nar).unwrap();
        let expected = (Sha256Hash(Sha256::digest(&nar).into()), nar.len() as u64);
        let c = Compressor {
            compression: Compression::Zstd,
            level: None,
            threads: 2,
        };
        let p = prepare_nar(&path, expected, c, tmp.path()).unwrap();
        let PreparedFile::Temp(file) = &p.file else {
            panic!("a NAR over {IN_MEMORY_UP_TO} bytes goes through a file");
        };
        let bytes = std::fs::read(file.path()).unwrap();
        assert_eq!(bytes.len() as u64, p.file_size);
        assert_eq!(hex::encode(Sha256::digest(&bytes)), p.file_hash.to_hex());
        assert_eq!(zstd::decode_all(&bytes[..]).unwrap(), nar);
        let kept = file.path().to_path_buf();
        drop(p);
        assert!(!kept.exists(), "the temporary file goes with the NAR");
    }

    #[test]
    fn a_hash_mismatch_refuses_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let mut wrong = expected();
        wrong.0 .0[0] ^= 1;
        let c = Compressor {
            compression: Compression::Zstd,
            level: None,
            threads: 1,
        };
        let err = prepare_nar(Path::new(TREE), wrong, c, tmp.path()).unwrap_err();
        assert!(matches!(err, Error::NarMismatch { .. }), "{err:?}");
    }
}
