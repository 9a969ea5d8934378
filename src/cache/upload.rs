//! `cache push` and `cache-toolchain`: what to push, where, signed with what.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::push::{push_paths, PushProgress, PushSummary};
use crate::context::{Context, Verbosity};
use crate::errors::{Error, Result};
use crate::nix::{Nix, PathInfo};
use crate::nixcache::SecretKey;
use crate::objstore::{Location, ObjectStore, StoreUrl};

/// The environment variable that may hold the signing key's text.
pub const KEY_ENV: &str = "RELEASE_DIST_CACHE_KEY";

/// Options of `cache push`.
#[derive(Debug, Clone, Default)]
pub struct CachePushOpts {
    /// Store URL; default `target/release-dist/cache`.
    pub to: Option<String>,
    /// Store paths or installables.
    pub paths: Vec<String>,
    /// NARs prepared at once.
    pub jobs: Option<usize>,
    /// The pin naming what is pushed; `None`: a transient pin, removed at the end.
    pub pin: Option<String>,
}

/// Options of `cache-toolchain`.
#[derive(Debug, Clone, Default)]
pub struct CacheToolchainOpts {
    /// Store URL; default `target/release-dist/cache`.
    pub to: Option<String>,
    /// A Nix file or a flake installable; default from the config.
    pub toolchain: Option<String>,
    /// NARs prepared at once.
    pub jobs: Option<usize>,
}

/// The store path (`/nix/store/<hash>-<name>`) a local path resolves into,
/// if it is a link or path into the store.
fn store_path_behind(dir: &std::path::Path, given: &str) -> Option<String> {
    let path = dir.join(given);
    if given.starts_with("/nix/store/") || std::fs::symlink_metadata(&path).is_err() {
        return None;
    }
    let real = std::fs::canonicalize(&path).ok()?;
    let rest = real.strip_prefix("/nix/store/").ok()?;
    let top = rest.components().next()?;
    Some(format!("/nix/store/{}", top.as_os_str().to_string_lossy()))
}

/// `cache push`: the closures of `paths`.
pub fn run_cache_push(ctx: &Context, opts: &CachePushOpts) -> Result<PushSummary> {
    let url = store_url(ctx, opts.to.as_deref())?;
    let nix = Nix::locate(ctx.project.config.nix_options.clone())?;
    let mut roots = Vec::new();
    for given in &opts.paths {
        // A link into the store (a `result`, or a file of the platform tree)
        // means the store path it resolves into.
        let resolved = store_path_behind(&ctx.project.dir, given);
        let p = resolved.as_ref().unwrap_or(given);
        if p.starts_with("/nix/store/") {
            let valid = nix.valid_paths(std::slice::from_ref(p))?;
            if valid.is_empty() {
                return Err(Error::NotInStore { path: p.clone() });
            }
            roots.push(p.clone());
        } else {
            for built in nix.build_installable(&ctx.project.dir, p)? {
                roots.extend(built.outputs.into_values());
            }
        }
    }
    let infos = nix.path_infos(&roots, true)?;
    let pin = match &opts.pin {
        Some(name) => PinAs::Named(super::pins::checked_name(name)?.to_string()),
        None => PinAs::Transient,
    };
    push(
        ctx,
        &url,
        infos,
        (opts.jobs, pin),
        &format!("closure of {} paths", roots.len()),
    )
}

/// How a push pins what it pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PinAs {
    /// `pins/<name>`, kept.
    Named(String),
    /// `pins/transient/<id>`, removed when the push ends: a collection that
    /// runs meanwhile keeps the closure; afterwards only `--grace` does.
    Transient,
    /// `pins/<prefix><name>`, keeping the `keep` newest under the prefix.
    Rotating {
        prefix: &'static str,
        name: String,
        keep: usize,
    },
}

impl PinAs {
    fn name(&self) -> String {
        match self {
            PinAs::Named(n) => n.clone(),
            PinAs::Transient => format!(
                "{}{}-{}",
                crate::nixcache::gc::TRANSIENT,
                crate::clock::system_now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or(0),
                std::process::id()
            ),
            PinAs::Rotating { prefix, name, .. } => format!("{prefix}{name}"),
        }
    }
}

/// `cache-toolchain`: the toolchain's outputs and build-time dependencies.
pub fn run_cache_toolchain(ctx: &Context, opts: &CacheToolchainOpts) -> Result<PushSummary> {
    let url = store_url(ctx, opts.to.as_deref())?;
    let spec = opts
        .toolchain
        .clone()
        .unwrap_or_else(|| ctx.project.config.toolchain.clone());
    let nix = Nix::locate(ctx.project.config.nix_options.clone())?;
    let drvs = if spec.contains('#') {
        nix.build_installable(&ctx.project.dir, &spec)?
            .into_iter()
            .map(|b| b.drv_path)
            .collect()
    } else {
        let file = ctx.project.dir.join(&spec);
        if !file.exists() {
            return Err(Error::config(
                "toolchain",
                format!(
                    "{} does not exist; set `toolchain` to a Nix file or a flake attribute",
                    file.display()
                ),
            ));
        }
        let drvs = nix.instantiate(&ctx.project.dir, &file)?;
        if !ctx.dry_run {
            status(ctx, &format!("realising {spec} (building what is missing)"));
            nix.realise(&drvs)?;
        }
        drvs
    };
    let requisites = nix.requisites_with_outputs(&drvs)?;
    let valid: Vec<String> = {
        let v = nix.valid_paths(&requisites)?;
        requisites.into_iter().filter(|p| v.contains(p)).collect()
    };
    let infos = nix.path_infos(&valid, false)?;
    // One pin per toolchain, named after its first derivation's hash.
    let pin = PinAs::Rotating {
        prefix: "toolchain/",
        name: drvs
            .first()
            .map(|d| crate::nixcache::hash_part(d).to_string())
            .unwrap_or_else(|| "default".into()),
        keep: ctx.project.config.toolchain_pins,
    };
    push(
        ctx,
        &url,
        infos,
        (opts.jobs, pin),
        &format!("toolchain {spec} with its build-time dependencies"),
    )
}

/// The cache: `to`, else the config's `cache`, else target/release-dist/cache.
pub(super) fn store_url(ctx: &Context, to: Option<&str>) -> Result<StoreUrl> {
    match to.or(ctx.project.config.cache.as_deref()) {
        Some(text) => Ok(StoreUrl::parse(text)?),
        None => Ok(StoreUrl::parse(
            &ctx.dist_dir().join("cache").display().to_string(),
        )?),
    }
}

/// The public key (`name:base64`) of the cache at `to` (as `cache push`
/// would sign for it).
pub fn cache_public_key(ctx: &Context, to: Option<&str>) -> Result<String> {
    let url = store_url(ctx, to)?;
    Ok(signing_key(&url)?.public().to_string())
}

/// The signing key: `secret-key=PATH` in the URL, else the text in $RELEASE_DIST_CACHE_KEY.
fn signing_key(url: &StoreUrl) -> Result<SecretKey> {
    let source = crate::keys::KeySource {
        signs: "the binary cache",
        path: url.cache.secret_key.as_deref(),
        option: "`secret-key=PATH` in the store URL",
        env: KEY_ENV,
        openpgp: false,
        parse: SecretKey::parse,
    };
    crate::keys::load_secret(source, &|k| std::env::var(k).ok())
}

fn push(
    ctx: &Context,
    url: &StoreUrl,
    infos: Vec<PathInfo>,
    (jobs, pin): (Option<usize>, PinAs),
    what: &str,
) -> Result<PushSummary> {
    let key = Arc::new(signing_key(url)?);
    let nar_bytes: u64 = infos.iter().map(|i| i.nar_size).sum();
    let pin_name = pin.name();
    if ctx.dry_run {
        let human = format!(
            "would push the {what}: {} store paths, {} of NAR, to {}, pinned as {pin_name}\n",
            infos.len(),
            bytes(nar_bytes),
            describe(url)
        );
        ctx.print_result(
            &human,
            &serde_json::json!({"dryRun": true, "paths": infos.len(), "narBytes": nar_bytes, "pin": pin_name}),
        );
        return Ok(PushSummary::default());
    }
    let tmp_dir = match &url.location {
        Location::Local(dir) => dir.join(".tmp"),
        Location::S3(_) => ctx.dist_dir().join("tmp"),
    };
    std::fs::create_dir_all(&tmp_dir).map_err(Error::io("cannot create", &tmp_dir))?;
    let jobs = jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .max(2)
    });
    status(
        ctx,
        &format!(
            "pushing the {what} ({} paths) to {}",
            infos.len(),
            describe(url)
        ),
    );
    let runtime = crate::context::runtime()?;
    let progress: Arc<dyn PushProgress> = Arc::new(Progress::new(ctx.verbosity));
    let result = runtime.block_on(async {
        let store = Arc::new(ObjectStore::open(&url.location).await?);
        store.check_access().await?;
        // The pin first, then the wait for a collector that is deleting:
        // see docs/cache.md, "Cache GC", for why this order keeps the closure.
        let paths: Vec<String> = infos.iter().map(|i| i.path.clone()).collect();
        super::pins::write_pin(&store, &pin_name, &paths).await?;
        super::pins::wait_for_collectors(&store, &|text| status(ctx, text)).await?;
        let pushed = push_paths(
            store.clone(),
            &url.cache,
            key,
            infos,
            jobs,
            tmp_dir,
            progress.clone(),
        )
        .await;
        match &pin {
            PinAs::Transient => {
                store
                    .delete(&crate::nixcache::gc::pin_key(&pin_name))
                    .await?;
            }
            PinAs::Rotating { prefix, keep, .. } if pushed.is_ok() => {
                super::pins::keep_newest(&store, prefix, *keep).await?;
            }
            _ => {}
        }
        pushed
    });
    if ctx.project.detached {
        // The temporary directory was this run's own.
        let _ = std::fs::remove_dir_all(&ctx.project.target_dir);
    }
    let summary = result?;
    let human = format!(
        "pushed {} paths ({} of NAR, {} uploaded in {} NAR files, {} reused); {} already present; {} in all\n",
        summary.pushed,
        bytes(summary.nar_bytes),
        bytes(summary.uploaded_bytes),
        summary.nars_uploaded,
        summary.nars_reused,
        summary.skipped,
        summary.total
    );
    ctx.print_result(&human, &summary);
    Ok(summary)
}

fn describe(url: &StoreUrl) -> String {
    match &url.location {
        Location::Local(dir) => dir.display().to_string(),
        Location::S3(s3) => format!("s3://{}", s3.bucket),
    }
}

fn status(ctx: &Context, text: &str) {
    if ctx.verbosity != Verbosity::Quiet {
        eprintln!("{text}");
    }
}

/// `12.3 MiB`.
pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// Progress on a terminal (a bar of NAR bytes) or as plain lines.
struct Progress {
    verbosity: Verbosity,
    bar: std::sync::OnceLock<ProgressBar>,
    done: AtomicUsize,
    total: AtomicUsize,
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    /// When the last line was printed, without a terminal (CI logs).
    last_line: Mutex<Instant>,
}

/// Without a terminal, a progress line at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

impl Progress {
    fn new(verbosity: Verbosity) -> Progress {
        Progress {
            verbosity,
            bar: std::sync::OnceLock::new(),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            bytes_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            last_line: Mutex::new(Instant::now()),
        }
    }
}

impl PushProgress for Progress {
    fn planned(&self, to_push: usize, nar_bytes: u64, present: usize) {
        self.total.store(to_push, Ordering::Relaxed);
        self.bytes_total.store(nar_bytes, Ordering::Relaxed);
        if self.verbosity != Verbosity::Quiet {
            eprintln!(
                "{to_push} paths to push ({} of NAR); {present} already in the cache",
                bytes(nar_bytes)
            );
        }
        if self.verbosity == Verbosity::Normal && std::io::stderr().is_terminal() && to_push > 0 {
            let bar = ProgressBar::new(nar_bytes);
            if let Ok(style) =
                ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {msg} ({eta})")
            {
                bar.set_style(style);
            }
            let _ = self.bar.set(bar);
        }
    }

    fn nar_done(&self, path: &str, nar_bytes: u64, uploaded: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let total = self.total.load(Ordering::Relaxed);
        let bytes_done = self.bytes_done.fetch_add(nar_bytes, Ordering::Relaxed) + nar_bytes;
        match self.bar.get() {
            Some(bar) => {
                bar.inc(nar_bytes);
                bar.set_message(format!("{done}/{total} paths"));
                if done == total {
                    bar.finish_and_clear();
                }
            }
            None if self.verbosity == Verbosity::Verbose => {
                let what = if uploaded {
                    "uploaded"
                } else {
                    "already there"
                };
                eprintln!(
                    "[{done}/{total}] {} ({}, NAR {what})",
                    Path::new(path).display(),
                    bytes(nar_bytes)
                );
            }
            None if self.verbosity == Verbosity::Normal => {
                // CI logs: a line now and then, so a long push shows life.
                let Ok(mut last) = self.last_line.lock() else {
                    return;
                };
                if last.elapsed() >= LOG_EVERY || done == total {
                    *last = Instant::now();
                    eprintln!(
                        "  {done}/{total} paths, {} of {} of NAR",
                        bytes(bytes_done),
                        bytes(self.bytes_total.load(Ordering::Relaxed))
                    );
                }
            }
            None => {}
        }
    }

    fn failed(&self, path: &str, error: &Error) {
        eprintln!("error: {path}: {error}");
    }
}
