//! The push: which paths the cache lacks, their NARs up in parallel, then
//! their narinfos in an order that keeps the cache closed under references.
//!
//! Guarantees, whatever stops a push part-way:
//! - a NAR is uploaded before its narinfo;
//! - a narinfo is written only once every reference's narinfo exists;
//! - so no narinfo ever lacks its NAR or its references' narinfos.
//!
//! A re-run skips every path whose narinfo exists, and every NAR already
//! uploaded under its FileHash key.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde::Serialize;

use super::order::{roots, upload_order, NarinfoGate};
use super::prepare::{prepare_nar, Compressor, PreparedFile};
use super::present::{self, Known};
use crate::background::CpuPool;
use crate::errors::{Error, Result};
use crate::nix::PathInfo;
use crate::nixcache::{
    narinfo_key, parse_nar_hash, NarInfo, SecretKey, CONTENT_TYPE_CACHE_INFO, CONTENT_TYPE_NAR,
    CONTENT_TYPE_NARINFO, NIX_CACHE_INFO,
};
use crate::objstore::{Body, CacheParams, ObjectStore, Requests};

/// How many NARs are in flight (prepared or uploading) at once. Preparing
/// is bounded apart, by `jobs`: it is CPU work, uploading is waiting.
const NARS_IN_FLIGHT: usize = 16;
/// NARs this big go up first, largest first; the rest references first.
const BIG_NAR: u64 = 16 << 20;
/// How many narinfo writes run at once.
const NARINFOS_IN_FLIGHT: usize = 32;
/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushSummary {
    /// Paths in the closure.
    pub total: usize,
    /// Paths whose narinfo was already in the cache.
    pub skipped: usize,
    /// Paths whose narinfo this run wrote.
    pub pushed: usize,
    /// Paths that could not be pushed (or wait on one that could not).
    pub failed: usize,
    /// NAR files uploaded.
    pub nars_uploaded: usize,
    /// NAR files already in the cache under the same FileHash.
    pub nars_reused: usize,
    /// Uncompressed NAR bytes of the pushed paths.
    pub nar_bytes: u64,
    /// Bytes uploaded in NAR files.
    pub uploaded_bytes: u64,
    /// Requests sent to the cache.
    pub requests: Requests,
    /// Where the time went.
    pub phases: PushPhases,
}

/// Where a push's time went, in milliseconds. Preparing and uploading
/// overlap (many NARs at once), so their sums are busy times, not spans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushPhases {
    /// Finding what the cache already has (listing or HEADs).
    pub check_ms: u64,
    /// From then until the last NAR was in the cache.
    pub nars_ms: u64,
    /// From then until the last narinfo was written.
    pub narinfos_ms: u64,
    /// Serialising, hashing and compressing, summed over NARs.
    pub prepare_busy_ms: u64,
    /// Checking for and uploading NAR files, summed over NARs.
    pub upload_busy_ms: u64,
}

fn millis(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

/// Reports progress; the command decides how to show it.
pub trait PushProgress: Send + Sync {
    /// The plan: how many paths and bytes to push, how many were present.
    fn planned(&self, to_push: usize, nar_bytes: u64, present: usize);
    /// One path's NAR is in the cache.
    fn nar_done(&self, path: &str, nar_bytes: u64, uploaded: bool);
    /// One path failed.
    fn failed(&self, path: &str, error: &Error);
}

/// Pushes the closure described by `infos` (which must be closed under
/// references) into `store`, signing with `key`.
pub async fn push_paths(
    store: Arc<ObjectStore>,
    params: &CacheParams,
    key: Arc<SecretKey>,
    infos: Vec<PathInfo>,
    jobs: usize,
    tmp_dir: PathBuf,
    progress: Arc<dyn PushProgress>,
) -> Result<PushSummary> {
    let mut summary = PushSummary {
        total: infos.len(),
        ..Default::default()
    };
    ensure_cache_info(&store).await?;
    let started = std::time::Instant::now();
    let present = present_narinfos(&store, &infos).await?;
    summary.skipped = present.len();
    summary.phases.check_ms = millis(started.elapsed());
    // Which NAR files exist: only worth knowing when something is missing.
    let nars = Arc::new(if present.len() == infos.len() {
        Known::Ask
    } else {
        present::list_for(&store, "nar/", infos.len() - present.len()).await?
    });
    let missing: Vec<&PathInfo> = infos
        .iter()
        .filter(|i| !present.contains(&i.path))
        .collect();
    summary.nar_bytes = missing.iter().map(|i| i.nar_size).sum();
    progress.planned(missing.len(), summary.nar_bytes, present.len());

    let uploader = Uploader {
        store: store.clone(),
        nars,
        params: params.clone(),
        tmp_dir,
        // Preparing is CPU work, bounded apart by `jobs`; uploading is waiting.
        cpu: CpuPool::new("nar", jobs).map_err(Error::io("cannot start threads for", "NARs"))?,
        threads_per_nar: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1),
    };
    let uploads = futures::stream::iter(ordered(&missing).into_iter().map(|info| {
        let uploader = uploader.clone();
        let info = info.clone();
        async move {
            let result = uploader.upload(&info).await;
            (info.path, result)
        }
    }))
    .buffer_unordered(NARS_IN_FLIGHT.max(jobs))
    .fuse();
    let first_error =
        write_in_order(&store, &key, &missing, uploads, &mut summary, &*progress).await;
    summary.failed = missing.len() - summary.pushed;
    summary.requests = store.requests();
    match first_error {
        Some(e) if summary.failed == 1 => Err(e),
        Some(e) => {
            tracing::error!("{}", e.render());
            Err(Error::PushIncomplete {
                failed: summary.failed,
                total: missing.len(),
            })
        }
        None => Ok(summary),
    }
}

/// Writes `nix-cache-info` unless it is there.
async fn ensure_cache_info(store: &ObjectStore) -> Result<()> {
    if !store.exists("nix-cache-info").await? {
        let body = Body::Bytes(NIX_CACHE_INFO.as_bytes().to_vec());
        store
            .put("nix-cache-info", body, CONTENT_TYPE_CACHE_INFO)
            .await?;
    }
    Ok(())
}

/// `missing` in upload order ([`upload_order`]).
fn ordered<'a>(missing: &[&'a PathInfo]) -> Vec<&'a PathInfo> {
    let paths: Vec<(&str, u64, &[String])> = missing
        .iter()
        .map(|i| (i.path.as_str(), i.nar_size, i.references.as_slice()))
        .collect();
    upload_order(&paths, BIG_NAR)
        .into_iter()
        .map(|i| missing[i])
        .collect()
}

/// One NAR upload's outcome: the narinfo, whether the NAR was uploaded (not
/// reused), and the milliseconds preparing and uploading.
type Uploaded = Result<(NarInfo, bool, (u64, u64))>;

/// Takes the NAR uploads as they finish and writes each narinfo once its
/// NAR and its references' narinfos are in the cache, 32 at once, side by
/// side with the uploads (a narinfo write never holds them back). Fills
/// `summary`; returns the first error.
async fn write_in_order(
    store: &Arc<ObjectStore>,
    key: &SecretKey,
    missing: &[&PathInfo],
    mut uploads: impl futures::stream::FusedStream<Item = (String, Uploaded)> + Unpin,
    summary: &mut PushSummary,
    progress: &dyn PushProgress,
) -> Option<Error> {
    let graph: BTreeMap<String, Vec<String>> = missing
        .iter()
        .map(|i| (i.path.clone(), i.references.clone()))
        .collect();
    let mut gate = NarinfoGate::new(&graph);
    let started = std::time::Instant::now();
    let mut narinfos: HashMap<String, NarInfo> = HashMap::new();
    let mut eligible: VecDeque<String> = VecDeque::new();
    let mut writes = FuturesUnordered::new();
    let mut first_error: Option<Error> = None;
    let mut uploads_done = false;
    loop {
        while writes.len() < NARINFOS_IN_FLIGHT {
            let Some(path) = eligible.pop_front() else {
                break;
            };
            if let Some(mut narinfo) = narinfos.remove(&path) {
                narinfo.sign(key);
                writes.push(write_narinfo(store.clone(), path, narinfo));
            }
        }
        if uploads_done && writes.is_empty() {
            break;
        }
        tokio::select! {
            next = uploads.next(), if !uploads_done => match next {
                None => {
                    uploads_done = true;
                    summary.phases.nars_ms = millis(started.elapsed());
                }
                Some((path, Ok((narinfo, uploaded, busy)))) => {
                    count_nar(summary, &narinfo, uploaded, busy);
                    progress.nar_done(&path, narinfo.nar_size, uploaded);
                    if gate.nar_uploaded(&path) {
                        eligible.push_back(path.clone());
                    }
                    narinfos.insert(path, narinfo);
                }
                Some((path, Err(e))) => {
                    progress.failed(&path, &e);
                    first_error.get_or_insert(e);
                }
            },
            Some((path, result)) = writes.next(), if !writes.is_empty() => match result {
                Ok(()) => {
                    eligible.extend(gate.narinfo_written(&path));
                    summary.pushed += 1;
                }
                Err(e) => {
                    progress.failed(&path, &e);
                    first_error.get_or_insert(e);
                }
            },
        }
    }
    summary.phases.narinfos_ms = millis(started.elapsed()).saturating_sub(summary.phases.nars_ms);
    first_error
}

/// Writes one signed narinfo; hands its path back with the outcome.
async fn write_narinfo(
    store: Arc<ObjectStore>,
    path: String,
    narinfo: NarInfo,
) -> (String, Result<()>) {
    let body = Body::Bytes(narinfo.render().into_bytes());
    let result = store.put(&narinfo.key(), body, CONTENT_TYPE_NARINFO).await;
    (path, result)
}

/// Adds one finished NAR to the summary.
fn count_nar(summary: &mut PushSummary, narinfo: &NarInfo, uploaded: bool, busy: (u64, u64)) {
    summary.phases.prepare_busy_ms += busy.0;
    summary.phases.upload_busy_ms += busy.1;
    if uploaded {
        summary.nars_uploaded += 1;
        summary.uploaded_bytes += narinfo.file_size;
    } else {
        summary.nars_reused += 1;
    }
}

/// The paths of `infos` whose narinfo the cache already has: all of them
/// when every root is there (the cache is closed under references), else
/// those that a listing or HEADs find.
async fn present_narinfos(store: &ObjectStore, infos: &[PathInfo]) -> Result<HashSet<String>> {
    let graph: Vec<(&str, &[String])> = infos
        .iter()
        .map(|i| (i.path.as_str(), i.references.as_slice()))
        .collect();
    let roots: Vec<String> = roots(&graph).into_iter().map(narinfo_key).collect();
    if !roots.is_empty() && roots.len() < infos.len() {
        let found = present::ask(store, &roots).await?;
        if found.len() == roots.len() {
            return Ok(infos.iter().map(|i| i.path.clone()).collect());
        }
    }
    let keys: Vec<String> = infos.iter().map(|i| narinfo_key(&i.path)).collect();
    let found = present::existing(store, &keys, "").await?;
    Ok(infos
        .iter()
        .zip(&keys)
        .filter(|(_, k)| found.contains(*k))
        .map(|(i, _)| i.path.clone())
        .collect())
}

/// What every NAR upload shares.
#[derive(Clone)]
struct Uploader {
    store: Arc<ObjectStore>,
    nars: Arc<Known>,
    params: CacheParams,
    tmp_dir: PathBuf,
    cpu: CpuPool,
    threads_per_nar: u32,
}

impl Uploader {
    /// Prepares one path's NAR and uploads it unless its key exists. Also
    /// returns the milliseconds spent preparing and uploading.
    async fn upload(&self, info: &PathInfo) -> Uploaded {
        let Uploader {
            store,
            nars,
            params,
            tmp_dir,
            cpu,
            threads_per_nar: threads,
        } = self;
        let threads = *threads;
        let expected = parse_nar_hash(&info.nar_hash).ok_or_else(|| Error::Command {
            command: "nix path-info --json".into(),
            status: Some(0),
            stderr: format!("unreadable narHash `{}` for {}", info.nar_hash, info.path),
        })?;
        let compressor = Compressor {
            compression: params.compression,
            level: params.compression_level,
            // Several threads pay only for big NARs; small ones run side by side anyway.
            threads: if params.parallel_compression && info.nar_size > (32 << 20) {
                threads
            } else {
                1
            },
        };
        let path = PathBuf::from(&info.path);
        let tmp = tmp_dir.to_path_buf();
        let nar_size = info.nar_size;
        let (prepared, prepare_ms) = cpu
            .run(move || {
                let preparing = std::time::Instant::now();
                let prepared = prepare_nar(&path, (expected, nar_size), compressor, &tmp);
                (prepared, millis(preparing.elapsed()))
            })
            .await
            .ok_or_else(|| {
                Error::io("cannot serialise", &info.path)(std::io::Error::other(
                    "the NAR thread panicked",
                ))
            })?;
        let prepared = prepared?;
        let narinfo = NarInfo {
            store_path: info.path.clone(),
            compression: params.compression,
            file_hash: prepared.file_hash,
            file_size: prepared.file_size,
            nar_hash: prepared.nar_hash,
            nar_size: prepared.nar_size,
            references: info.references.clone(),
            deriver: info.deriver.clone(),
            sigs: info.signatures.clone(),
            ca: info.ca.clone(),
        };
        let uploading = std::time::Instant::now();
        let key = narinfo.url();
        let uploaded = if nars.exists(store, &key).await? {
            false
        } else {
            store
                .put(&key, prepared_body(&prepared.file), CONTENT_TYPE_NAR)
                .await?;
            true
        };
        drop(prepared);
        Ok((narinfo, uploaded, (prepare_ms, millis(uploading.elapsed()))))
    }
}

/// The upload body of a prepared NAR. Its bytes are named by the signed
/// narinfo's FileHash, so neither kind is payload-signed.
fn prepared_body(file: &PreparedFile) -> Body {
    match file {
        PreparedFile::Memory(bytes) => Body::Blob(bytes.clone()),
        PreparedFile::Temp(temp) => Body::File(temp.path().to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objstore::Location;

    fn info(path: &str, refs: &[&str]) -> PathInfo {
        PathInfo {
            path: path.into(),
            nar_hash: String::new(),
            nar_size: 1,
            references: refs.iter().map(|r| r.to_string()).collect(),
            deriver: None,
            signatures: Vec::new(),
            ca: None,
            valid: None,
            ultimate: false,
            registration_time: None,
        }
    }

    const A: &str = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-app";
    const B: &str = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-lib";
    const C: &str = "/nix/store/cccccccccccccccccccccccccccccccc-tool";

    async fn cache_with(paths: &[&str]) -> (tempfile::TempDir, ObjectStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::open(&Location::Local(dir.path().to_path_buf()))
            .await
            .unwrap();
        for p in paths {
            let body = Body::Bytes(b"StorePath: x\n".to_vec());
            store
                .put(&narinfo_key(p), body, "text/x-nix-narinfo")
                .await
                .unwrap();
        }
        (dir, store)
    }

    fn sorted(set: HashSet<String>) -> Vec<String> {
        let mut v: Vec<String> = set.into_iter().collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn every_root_present_means_the_whole_push_is() {
        // Two roots (a and c) over one shared reference (b).
        let infos = [info(A, &[B, A]), info(B, &[]), info(C, &[B])];
        // Both roots there: b counts as there too (the cache is closed).
        let (_d, store) = cache_with(&[A, C]).await;
        assert_eq!(
            sorted(present_narinfos(&store, &infos).await.unwrap()),
            [A, B, C]
        );
        // One root missing: each path is asked for, and only what is there counts.
        let (_d, store) = cache_with(&[A, B]).await;
        assert_eq!(
            sorted(present_narinfos(&store, &infos).await.unwrap()),
            [A, B]
        );
        let (_d, store) = cache_with(&[]).await;
        assert!(present_narinfos(&store, &infos).await.unwrap().is_empty());
    }
}
