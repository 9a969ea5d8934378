//! Pushing store paths into a Nix binary cache on any object store.
//!
//! `prepare` streams one path's NAR through the hash check and the
//! compressor into a temporary file; `push` runs many of those at once,
//! uploads NARs, then writes narinfos only once their references' narinfos
//! exist (`order`, [`NarinfoGate`]). `command` holds the `cache push` and `cache-toolchain`
//! commands.

pub mod gc;
mod order;
pub mod pins;
mod prepare;
mod present;
mod push;
pub mod upkeep;
mod upload;

pub use order::NarinfoGate;
pub use prepare::{prepare_nar, Prepared};
pub use push::{push_paths, PushSummary};
pub use upload::{
    bytes, cache_public_key, run_cache_push, run_cache_toolchain, CachePushOpts, CacheToolchainOpts,
};
