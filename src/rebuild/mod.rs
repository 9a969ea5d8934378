//! `rebuild`: every output build.json records built a second time on an
//! independent builder (another Nix store, or a check build here), each
//! NAR hash compared with the first build's and the binary cache's signed
//! narinfo; on a match, a signed reproducibility statement beside the
//! build for `publish` to carry; on a mismatch, each differing output
//! named with the first file that differs (and diffoscope's report), and no
//! statement.
//!
//! Observe (what the builder holds), apply (the builds it lacks), decide
//! (the pure [`crate::provenance::reproduced::statement`]), then write.

mod diff;
mod place;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::rebuild_error::RebuildError;
pub use diff::{first_difference, Difference};
pub use place::{place, Place};

use crate::build_record::BuildRecord;
use crate::context::{Context, Verbosity};
use crate::errors::{Error, Result};
use crate::kinds::Layout;
use crate::nix::Nix;
use crate::provenance::reproduced::{self, Rebuild, RebuiltOutput, Reproduced};

/// `rebuild`'s options.
#[derive(Debug, Clone, Default)]
pub struct RebuildOpts {
    /// `--on`: a store URL.
    pub on: Option<String>,
    /// `--builders`: nix's machine line.
    pub builders: Option<String>,
    /// `NAME:TAG`: the release (the tag publish would find, by default).
    pub release: Option<String>,
    /// The key that signs the statement.
    pub signing_key: Option<PathBuf>,
    /// The layout the release files will be published in.
    pub layout: Option<Layout>,
    /// Only these targets' outputs.
    pub targets: Vec<String>,
}

/// What a rebuild did.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RebuildReport {
    /// `name:tag`.
    pub release: String,
    /// Where.
    pub store: String,
    /// How independent.
    pub mode: reproduced::RebuildMode,
    /// Each output.
    pub outputs: Vec<OutputReport>,
    /// The statement written, when every output matched.
    pub statement: Option<PathBuf>,
}

/// One output's result.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputReport {
    /// The output and its hashes.
    #[serde(flatten)]
    pub output: RebuiltOutput,
    /// Whether it matched.
    pub matches: bool,
    /// The first difference, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_difference: Option<Difference>,
    /// diffoscope's report, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diffoscope: Option<PathBuf>,
}

/// One output to rebuild, from build.json.
#[derive(Debug, Clone)]
struct Output {
    name: String,
    drv: String,
    path: String,
    nar_hash: String,
    sha256: String,
}

/// The second build of one output: its NAR hash, and where its bytes can
/// be read when they differ.
#[derive(Debug, Clone)]
struct Second {
    nar_hash: String,
    copy: Option<PathBuf>,
}

/// Runs `rebuild`.
pub fn run(ctx: &Context, opts: &RebuildOpts) -> Result<RebuildReport> {
    let dist = ctx.dist_dir();
    let manifest = crate::publish::run::read_build(&dist)?;
    let release = release(ctx, opts, &manifest)?;
    let name = ctx.project.config.name.clone();
    // Read before anything is built; a dry run plans without it.
    let key = match crate::publish::signing_key(opts.signing_key.as_deref()) {
        Err(Error::NoSigningKey { .. }) if ctx.dry_run => None,
        other => Some(other?),
    };
    let place = place(opts.on.as_deref(), opts.builders.as_deref())?;
    let outputs = outputs(&manifest, &opts.targets)?;
    let layout = opts.layout.unwrap_or(ctx.project.config.static_layout);
    let subjects = subjects(&dist, &manifest, layout, &outputs)?;
    let release_name = format!("{name}:{}", release.tag);
    let dir = dist.join("rebuild");
    let statement_path = dir.join(reproduced::file_name(&name, &release.tag));
    if ctx.dry_run {
        say_plan(ctx, &place, &outputs, &statement_path);
        return Ok(RebuildReport {
            release: release_name,
            store: place.shown().into(),
            mode: place.mode(),
            outputs: Vec::new(),
            statement: None,
        });
    }
    // Nothing claims "reproduced" while this runs, or after it fails.
    fresh_dir(&dir)?;
    let started = crate::clock::now();
    let nix = Nix::locate(Vec::new())?;
    let seconds = match &place {
        Place::Local => check_here(ctx, &nix, &outputs)?,
        Place::Store { url, shown } => {
            let finished = first_build_finished(&manifest);
            build_there(ctx, &nix, (url, shown), (&outputs, finished), &dir)?
        }
    };
    let cached = cache_nar_hashes(ctx, &manifest, &outputs)?;
    let rebuilt: Vec<RebuiltOutput> = outputs
        .iter()
        .map(|o| RebuiltOutput {
            name: o.name.clone(),
            drv_path: o.drv.clone(),
            store_path: o.path.clone(),
            nar_hash: o.nar_hash.clone(),
            rebuilt_nar_hash: seconds[&o.path].nar_hash.clone(),
            cache_nar_hash: cached.get(&o.path).cloned(),
        })
        .collect();
    let predicate = Reproduced {
        rebuilder: reproduced::Rebuilder {
            id: release.builder.id.clone(),
            tool: format!("{} {}", manifest.tool.name, env!("CARGO_PKG_VERSION")),
        },
        builder: reproduced::RebuildPlace {
            store: place.shown().into(),
            mode: place.mode(),
        },
        release: reproduced::ReleaseRef {
            name: name.clone(),
            tag: release.tag.clone(),
            commit: manifest.source.commit.clone(),
        },
        started_on: started,
        finished_on: crate::clock::now(),
        outputs: rebuilt.clone(),
    };
    let reports = explain(ctx, &outputs, &rebuilt, &seconds, &dir)?;
    let decided = reproduced::statement(&Rebuild {
        predicate,
        subjects,
    });
    let mut report = RebuildReport {
        release: release_name.clone(),
        store: place.shown().into(),
        mode: place.mode(),
        outputs: reports,
        statement: None,
    };
    match decided {
        Ok(st) => {
            let key = key.ok_or_else(|| RebuildError::Usage("no signing key".into()))?;
            write_statement(&statement_path, &st, &key)?;
            report.statement = Some(statement_path);
            write_report(&dir, &report)?;
            Ok(report)
        }
        Err(_) => {
            let report_path = write_report(&dir, &report)?;
            Err(RebuildError::NotReproduced {
                release: release_name,
                store: place.said(),
                outputs: report
                    .outputs
                    .iter()
                    .filter(|o| !o.matches)
                    .map(describe_difference)
                    .collect(),
                report: report_path,
            }
            .into())
        }
    }
}

/// The release: `-t NAME:TAG` (NAME must be this project's), else the tag
/// `publish` would find.
fn release(
    ctx: &Context,
    opts: &RebuildOpts,
    manifest: &BuildRecord,
) -> Result<crate::release::Release> {
    let tag = match &opts.release {
        Some(r) => {
            let (name, tag) = r
                .split_once(':')
                .ok_or_else(|| Error::InvalidTag { tag: r.clone() })?;
            if name != ctx.project.config.name {
                return Err(RebuildError::Usage(format!(
                    "this project's release is named {}, not {name}: rebuild works on the build in target/release-dist",
                    ctx.project.config.name
                ))
                .into());
            }
            Some(tag)
        }
        None => None,
    };
    crate::release::detect(
        &|k| std::env::var(k).ok(),
        tag,
        &manifest.source,
        &crate::publish::hostname(),
    )
}

/// The outputs to rebuild: every artifact and extra of build.json, or
/// those of `targets`.
fn outputs(manifest: &BuildRecord, targets: &[String]) -> Result<Vec<Output>> {
    let wanted: Vec<crate::platform::Platform> = targets
        .iter()
        .map(|t| {
            t.parse()
                .map_err(|_| RebuildError::Usage(format!("unknown target `{t}`")))
        })
        .collect::<std::result::Result<_, _>>()?;
    let keep = |p: Option<crate::platform::Platform>| {
        wanted.is_empty() || p.is_some_and(|p| wanted.contains(&p))
    };
    let mut outputs: Vec<Output> = manifest
        .artifacts
        .iter()
        .filter(|a| keep(Some(a.platform)))
        .map(|a| Output {
            name: a.path.clone(),
            drv: a.drv_path.clone(),
            path: a.store_path.clone(),
            nar_hash: a.nar_hash.clone(),
            sha256: a.sha256.clone(),
        })
        .collect();
    outputs.extend(
        manifest
            .extras
            .iter()
            .filter(|e| keep(e.platform))
            .map(|e| Output {
                name: e.path.clone(),
                drv: e.drv_path.clone(),
                path: e.store_path.clone(),
                nar_hash: e.nar_hash.clone(),
                sha256: e.sha256.clone(),
            }),
    );
    if outputs.is_empty() {
        return Err(RebuildError::Usage(format!(
            "build.json has no output of {}",
            targets.join(", ")
        ))
        .into());
    }
    Ok(outputs)
}

/// The release files that are rebuilt outputs, named as `publish` names
/// them in `layout`, with their sha256.
fn subjects(
    dist: &Path,
    manifest: &BuildRecord,
    layout: Layout,
    outputs: &[Output],
) -> Result<Vec<(String, String)>> {
    let files = crate::publish::run::release_files(dist, manifest)?;
    Ok(files
        .iter()
        .filter(|f| outputs.iter().any(|o| o.sha256 == f.sha256))
        .map(|f| (f.path_in(layout), f.sha256.clone()))
        .collect())
}

fn say_plan(ctx: &Context, place: &Place, outputs: &[Output], statement: &Path) {
    let mut text = format!(
        "would rebuild {} outputs on {} ({}):\n",
        outputs.len(),
        place.shown(),
        place.mode().describe()
    );
    for o in outputs {
        text.push_str(&format!("  {} {} ({})\n", o.name, o.path, o.drv));
    }
    text.push_str(&format!(
        "and, when every one matches, write {}\n",
        statement.display()
    ));
    ctx.print_result(
        &text,
        &serde_json::json!({"dryRun": true, "outputs": outputs.len()}),
    );
}

fn fresh_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(Error::io("cannot remove", dir))?;
    }
    std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))
}

fn progress(ctx: &Context, line: &str) {
    if ctx.verbosity != Verbosity::Quiet {
        eprintln!("{line}");
    }
}

/// The nix log lines worth showing: what is built where.
fn on_nix_line(ctx: &Context) -> impl FnMut(&str) + '_ {
    move |line: &str| {
        let line = crate::nix::strip_ansi(line);
        if ctx.verbosity == Verbosity::Verbose
            || (ctx.verbosity == Verbosity::Normal
                && (line.starts_with("building '") || line.starts_with("checking outputs")))
        {
            eprintln!("  nix: {line}");
        }
    }
}

/// A check build here: nix builds each output again and compares.
fn check_here(ctx: &Context, nix: &Nix, outputs: &[Output]) -> Result<BTreeMap<String, Second>> {
    let drvs = distinct_drvs(outputs);
    progress(
        ctx,
        &format!(
            "rebuilding {} derivations here with `nix build --rebuild` (a check build in the same store: weaker than an independent builder)",
            drvs.len()
        ),
    );
    let run = nix.check_build(&drvs, on_nix_line(ctx))?;
    // A failure that is not a difference leaves an output unchecked: the
    // whole check build failed, whatever else differed.
    if run.status != Some(0) && (run.differing.is_empty() || !run.errors.is_empty()) {
        return Err(RebuildError::BuildFailed {
            store: "local".into(),
            status: run.status,
            tail: run.log_tail,
        }
        .into());
    }
    let mut seconds = BTreeMap::new();
    for o in outputs {
        let second = match run.differing.iter().find(|(out, _)| *out == o.path) {
            Some((_, check)) => Second {
                nar_hash: diff::nar_hash(Path::new(check))?,
                copy: Some(PathBuf::from(check)),
            },
            None => Second {
                nar_hash: o.nar_hash.clone(),
                copy: None,
            },
        };
        seconds.insert(o.path.clone(), second);
    }
    Ok(seconds)
}

/// Builds what the other store lacks there, refusing outputs it holds
/// without having built them; reads each differing output back.
fn build_there(
    ctx: &Context,
    nix: &Nix,
    (url, shown): (&str, &str),
    (outputs, first_build): (&[Output], Option<(u64, u64)>),
    dir: &Path,
) -> Result<BTreeMap<String, Second>> {
    let paths: Vec<String> = outputs.iter().map(|o| o.path.clone()).collect();
    let held = nix.path_infos_in(url, &paths)?;
    refuse_held(shown, &held, first_build)?;
    let missing: Vec<Output> = outputs
        .iter()
        .filter(|o| !held.iter().any(|i| i.path == o.path))
        .cloned()
        .collect();
    let drvs = distinct_drvs(&missing);
    progress(
        ctx,
        &format!(
            "rebuilding {} derivations on {shown} ({} of {} outputs it has built before)",
            drvs.len(),
            outputs.len() - missing.len(),
            outputs.len()
        ),
    );
    if !drvs.is_empty() {
        nix.copy_derivations_to(url, &drvs)?;
        let (status, tail) = nix.build_in(url, &drvs, on_nix_line(ctx))?;
        if status != Some(0) {
            return Err(RebuildError::BuildFailed {
                store: shown.into(),
                status,
                tail,
            }
            .into());
        }
    }
    let built = nix.path_infos_in(url, &paths)?;
    let mut seconds = BTreeMap::new();
    for o in outputs {
        let info =
            built
                .iter()
                .find(|i| i.path == o.path)
                .ok_or_else(|| RebuildError::BuildFailed {
                    store: shown.into(),
                    status: Some(0),
                    tail: format!("{} is not in its store after the build", o.path),
                })?;
        let copy = match reproduced::same_nar_hash(&info.nar_hash, &o.nar_hash) {
            true => None,
            false => Some(read_back(nix, url, o, dir)?),
        };
        seconds.insert(
            o.path.clone(),
            Second {
                nar_hash: info.nar_hash.clone(),
                copy,
            },
        );
    }
    Ok(seconds)
}

/// When the first build ran (seconds: from, to), as build.json records it.
fn first_build_finished(manifest: &BuildRecord) -> Option<(u64, u64)> {
    let built = manifest.built.as_ref()?;
    let secs = |t: &str| {
        crate::clock::parse_rfc3339(t)?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    };
    Some((secs(&built.started_on)?, secs(&built.finished_on)?))
}

/// Refuses outputs the builder holds that say nothing about a second
/// build: copied or substituted there (not `ultimate`), or built there
/// while the first build ran (that may be the first build itself, run on
/// this builder through `--builders`). One it built before (for an earlier
/// release with the same output) or after (an earlier `rebuild`) is a
/// second build.
fn refuse_held(
    shown: &str,
    held: &[crate::nix::PathInfo],
    first_build: Option<(u64, u64)>,
) -> Result<()> {
    let copied: Vec<String> = held
        .iter()
        .filter(|i| !i.ultimate)
        .map(|i| i.path.clone())
        .collect();
    if !copied.is_empty() {
        return Err(RebuildError::NotIndependent {
            store: shown.into(),
            why: "it holds them without having built them (copied or substituted there)".into(),
            paths: copied,
        }
        .into());
    }
    // Whole seconds on both sides: one registered in the second the build
    // finished counts too (the safe side: a rebuild that ran within that
    // second is refused on its re-run, and the hint says what to do).
    let early = |i: &&crate::nix::PathInfo| match (i.registration_time, first_build) {
        (Some(at), Some((started, finished))) => started <= at && at <= finished,
        _ => false,
    };
    let own: Vec<String> = held.iter().filter(early).map(|i| i.path.clone()).collect();
    if !own.is_empty() {
        return Err(RebuildError::NotIndependent {
            store: shown.into(),
            why:
                "it built them while the release's build ran (they may be that build's own outputs)"
                    .into(),
            paths: own,
        }
        .into());
    }
    Ok(())
}

/// The other store's bytes of a differing output, unpacked under `dir`.
fn read_back(nix: &Nix, url: &str, o: &Output, dir: &Path) -> Result<PathBuf> {
    let base = o.path.rsplit('/').next().unwrap_or(&o.path);
    let nar = dir.join(format!("{base}.rebuilt.nar"));
    nix.dump_path_from(url, &o.path, &nar, crate::bounds::COPY_CAP)?;
    let tree = dir.join(format!("{base}.rebuilt"));
    diff::unpack_nar(&nar, &tree)?;
    let _ = std::fs::remove_file(&nar);
    Ok(tree)
}

fn distinct_drvs(outputs: &[Output]) -> Vec<String> {
    let mut drvs: Vec<String> = outputs.iter().map(|o| o.drv.clone()).collect();
    drvs.sort();
    drvs.dedup();
    drvs
}

/// The NAR hash the binary cache's narinfo gives each output, when the
/// build was pushed to a cache that is configured here: each narinfo read
/// (bounded) and its signature checked with build.json's cache key. A
/// narinfo whose signature does not check is an error (the cache would
/// serve Nix users other bytes); an output the cache lacks (not pushed) has
/// none.
fn cache_nar_hashes(
    ctx: &Context,
    manifest: &BuildRecord,
    outputs: &[Output],
) -> Result<BTreeMap<String, String>> {
    let (Some(record), Some(url)) = (&manifest.cache, &ctx.project.config.cache) else {
        return Ok(BTreeMap::new());
    };
    let key = crate::nixcache::PublicKey::parse(&record.public_key).map_err(|e| Error::Key {
        path: "build.json's cache public key".into(),
        reason: e.to_string(),
    })?;
    let url = crate::objstore::StoreUrl::parse(url)?;
    let runtime = crate::context::runtime()?;
    runtime.block_on(async {
        let store = crate::objstore::ObjectStore::open(&url.location).await?;
        let mut hashes = BTreeMap::new();
        for o in outputs {
            let object = crate::nixcache::narinfo_key(&o.path);
            // An output the cache lacks was not pushed there: nothing to
            // compare with.
            let Some(text) = store
                .get_capped(&object, crate::bounds::DOCUMENT_CAP)
                .await?
            else {
                continue;
            };
            let hash =
                crate::nixcache::signed_nar_hash(&String::from_utf8_lossy(&text), &o.path, &key)
                    .map_err(|message| Error::Untrusted {
                        source_name: store.describe(),
                        what: object.clone(),
                        message,
                    })?;
            hashes.insert(o.path.clone(), hash.to_sri());
        }
        Ok(hashes)
    })
}

/// Each output's result; for one that differs, its first differing file
/// and (diffoscope installed) the report, kept under `dir`.
fn explain(
    ctx: &Context,
    outputs: &[Output],
    rebuilt: &[RebuiltOutput],
    seconds: &BTreeMap<String, Second>,
    dir: &Path,
) -> Result<Vec<OutputReport>> {
    let mut reports = Vec::new();
    for (o, r) in outputs.iter().zip(rebuilt) {
        let matches = r.matches();
        let (mut first, mut diffoscope) = (None, None);
        if let (false, Some(copy)) = (matches, &seconds[&o.path].copy) {
            first = first_difference(Path::new(&o.path), copy)?;
            diffoscope = run_diffoscope(ctx, Path::new(&o.path), copy, dir);
        }
        reports.push(OutputReport {
            output: r.clone(),
            matches,
            first_difference: first,
            diffoscope,
        });
    }
    Ok(reports)
}

/// diffoscope's text report of the two builds, when it is installed.
fn run_diffoscope(ctx: &Context, first: &Path, second: &Path, dir: &Path) -> Option<PathBuf> {
    let program = which::which("diffoscope").ok()?;
    let base = first.file_name()?.to_string_lossy().into_owned();
    let report = dir.join(format!("{base}.diffoscope.txt"));
    progress(
        ctx,
        &format!("diffoscope: comparing the two builds of {base}"),
    );
    let run = crate::process::Cmd::new(program)
        .arg("--text")
        .arg(&report)
        .arg("--no-progress")
        .arg(first)
        .arg(second)
        .run_for(std::time::Duration::from_secs(600));
    match run {
        Ok(_) if report.exists() => Some(report),
        _ => None,
    }
}

fn describe_difference(o: &OutputReport) -> String {
    let out = &o.output;
    let mut line = format!(
        "  {} ({}): NAR hash {} the first time, {} this time",
        out.name, out.store_path, out.nar_hash, out.rebuilt_nar_hash
    );
    if let Some(c) = &out.cache_nar_hash {
        line.push_str(&format!(", {c} in the binary cache"));
    }
    match &o.first_difference {
        Some(d) if d.path.is_empty() => line.push_str(&format!("; the file differs: {}", d.what)),
        Some(d) => line.push_str(&format!("; first differing file: {} ({})", d.path, d.what)),
        None => {}
    }
    if let Some(r) = &o.diffoscope {
        line.push_str(&format!("; diffoscope: {}", r.display()));
    }
    line
}

fn write_statement(
    path: &Path,
    st: &reproduced::ReproducedStatement,
    key: &crate::nixcache::SecretKey,
) -> Result<()> {
    let body = serde_json::to_vec(st).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    let envelope =
        crate::provenance::dsse::sign(key, crate::provenance::IN_TOTO_PAYLOAD_TYPE, &body);
    let mut line = serde_json::to_vec(&envelope).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    line.push(b'\n');
    crate::fsutil::write_atomic(path, &line)
}

fn write_report(dir: &Path, report: &RebuildReport) -> Result<PathBuf> {
    let path = dir.join("report.json");
    let bytes = serde_json::to_vec_pretty(report).map_err(|source| Error::Json {
        path: path.clone(),
        source,
    })?;
    crate::fsutil::write_atomic(&path, &bytes)?;
    Ok(path)
}

/// The human summary.
pub fn summary(report: &RebuildReport) -> String {
    let mut text = format!(
        "{}: {} outputs rebuilt on {} ({}), every NAR hash the same\n",
        report.release,
        report.outputs.len(),
        report.store,
        report.mode.describe()
    );
    for o in &report.outputs {
        let cache = match &o.output.cache_nar_hash {
            Some(_) => ", and the cache's",
            None => "",
        };
        text.push_str(&format!(
            "  {} {}: as built first{cache}\n",
            o.output.name, o.output.rebuilt_nar_hash
        ));
    }
    if let Some(s) = &report.statement {
        text.push_str(&format!(
            "signed statement: {} (`publish` puts it beside the release)\n",
            s.display()
        ));
    }
    text
}
