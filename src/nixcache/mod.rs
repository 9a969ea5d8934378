//! The Nix binary cache format: NAR streams, nix32 hashes, narinfo text,
//! fingerprints and Ed25519 signatures, written as Nix 2.8 writes them.
//!
//! Pure: no I/O but reading the files a NAR is made of. Checked against the
//! caches Nix 2.8 wrote (`shared/reference/vectors/nix-cache`).

pub mod gc;
mod hash;
mod nar;
mod narinfo;
mod signing;

pub use hash::{parse_nar_hash, Sha256Hash};
pub use nar::nar_reader;
pub use narinfo::{
    hash_part, is_store_basename, narinfo_key, signed_nar_hash, Compression, NarInfo,
    CONTENT_TYPE_CACHE_INFO, CONTENT_TYPE_NAR, CONTENT_TYPE_NARINFO, NIX_CACHE_INFO,
};
pub use signing::{KeyError, PublicKey, SecretKey};
