//! The `build` command: evaluate, build in one nix call, link, describe.

use std::path::{Path, PathBuf};

use super::plan::{Output, Plan};
use super::progress::{drv_name, Progress, Verbosity};
use super::tree::{docker_link, render_tree, static_dir};
use crate::build_record::{Artifact, BuildRecord, Failure, Kind, RustBuild, Tool};
use crate::config::{Config, NESTED_DOCKER_ATTR};
use crate::context::Context;
use crate::errors::{Error, Result};
use crate::fsutil::{replace_symlink, sha256_file};
use crate::nix::{BuiltPath, Nix};
use crate::platform::Platform;
use crate::source;

/// Options of `build`.
#[derive(Debug, Clone, Default)]
pub struct BuildOpts {
    /// Targets to build instead of the configured ones.
    pub targets: Vec<String>,
    /// Options for nix, after the configured ones.
    pub nix_options: Vec<String>,
    /// Arguments of a smoke run, instead of the configured `smoke`.
    pub smoke: Option<Vec<String>>,
}

/// Runs `build`. Returns the manifest it wrote; when some outputs failed,
/// the manifest is still written and the error names them.
pub fn run(ctx: &Context, opts: &BuildOpts) -> Result<Option<BuildRecord>> {
    let config = &ctx.project.config;
    let targets = select_targets(&config.targets, &opts.targets)?;
    let plan = Plan::new(config, &targets);
    let mut nix_options = config.nix_options.clone();
    nix_options.extend(opts.nix_options.iter().cloned());
    let dist = ctx.dist_dir();

    if ctx.dry_run {
        print_dry_run(ctx, &plan, &Nix::for_display(nix_options));
        return Ok(None);
    }

    let started_on = crate::clock::now();
    let flake_dir = check_flake(ctx)?;
    let repo = source::git_toplevel(&flake_dir)?;
    let source = source::read(
        &repo,
        &flake_dir,
        std::slice::from_ref(&ctx.project.target_dir),
    )?;
    let nix = Nix::locate(nix_options)?;

    let status = |text: &str| {
        if ctx.verbosity != Verbosity::Quiet {
            eprintln!("{text}");
        }
    };
    status(&format!(
        "evaluating {} outputs of {} for {} targets",
        plan.outputs.len(),
        config.flake,
        targets.len()
    ));
    let (plan, evaluated, docker_attr) = evaluate(ctx, &nix, config, &targets, plan)?;
    let drvs: Vec<String> = evaluated.iter().map(|b| b.drv_path.clone()).collect();

    status(&format!("building with {}", nix_command_name(&nix)));
    let mut progress = Progress::new(&plan.outputs, &drvs, ctx.verbosity);
    let run = nix.build(&ctx.project.dir, &drvs, |event| progress.event(event))?;
    progress.finish();

    let built = built_outputs(&nix, &evaluated, &run.built, run.status == Some(0))?;
    let mut failures: Vec<Failure> = Vec::new();
    for (i, output) in plan.outputs.iter().enumerate() {
        if built[i].is_none() {
            let error = failure_text(&progress, &drvs[i]);
            failures.push(output.failure(&drvs[i], error));
        }
    }

    let checks = Checks {
        allow_dynamic: config.allow_dynamic.clone(),
        smoke: opts.smoke.clone().or_else(|| config.smoke.clone()),
    };
    let mut artifacts = link_outputs(
        &nix,
        (&config.name, &checks),
        &dist,
        &plan,
        &drvs,
        &built,
        &mut failures,
    )?;
    record_rust(&nix, &mut artifacts)?;
    let extras = super::extras::link_extras(
        &nix,
        (&dist, archive_time(&source)),
        &plan,
        &drvs,
        &built,
        &mut failures,
    )?;
    let manifest = BuildRecord {
        schema: crate::build_record::SCHEMA.into(),
        tool: Tool::current(),
        name: config.name.clone(),
        flake: config.flake.clone(),
        nix_version: format!("{}.{}", nix.version().0, nix.version().1),
        source,
        complete: failures.is_empty(),
        artifacts,
        failures,
        extras,
        docker_attr,
        cache: None,
        built: Some(crate::build_record::BuildTimes {
            started_on,
            finished_on: crate::clock::now(),
        }),
    };
    manifest.write(&dist.join("build.json"))?;

    report_failures(ctx, &progress, &manifest);
    print_tree(ctx, &dist, &manifest);
    if manifest.complete {
        Ok(Some(manifest))
    } else {
        Err(build_failed(&manifest, plan.outputs.len()))
    }
}

/// The error of a build with failures: which, of how many, and the systems
/// nix said no machine here builds.
fn build_failed(manifest: &BuildRecord, total: usize) -> Error {
    let mut no_builder: Vec<String> = manifest
        .failures
        .iter()
        .filter_map(|f| crate::nix::needed_system(&f.error))
        .collect();
    no_builder.sort();
    no_builder.dedup();
    Error::BuildFailed {
        failed: manifest.failures.iter().map(Failure::label).collect(),
        total,
        no_builder,
    }
}

/// The platform tree that was made, and where build.json is.
fn print_tree(ctx: &Context, dist: &Path, manifest: &BuildRecord) {
    let leaves: Vec<(String, String)> = manifest
        .artifacts
        .iter()
        .map(|a| (a.path.clone(), a.store_target()))
        .chain(manifest.extras.iter().map(|e| {
            let from = match &e.archive {
                Some(format) => format!("{format} of {}", e.store_path),
                None => e.store_path.clone(),
            };
            (e.path.clone(), from)
        }))
        .collect();
    let mut human = render_tree(&display_path(dist), &leaves);
    human.push_str(&format!(
        "wrote {}\n",
        display_path(&dist.join("build.json"))
    ));
    ctx.print_result(&human, manifest);
}

fn select_targets(configured: &[Platform], asked: &[String]) -> Result<Vec<Platform>> {
    if asked.is_empty() {
        return Ok(configured.to_vec());
    }
    asked
        .iter()
        .map(|t| {
            t.parse().map_err(|_| Error::UnknownTarget {
                target: t.clone(),
                origin: "--target".into(),
            })
        })
        .collect()
}

fn print_dry_run(ctx: &Context, plan: &Plan, nix: &Nix) {
    let dist = ctx.dist_dir();
    let installables = plan.installables();
    let eval = nix.eval_command(&installables);
    let placeholders: Vec<String> = plan
        .outputs
        .iter()
        .map(|o| format!("<drv of {}>", o.installable))
        .collect();
    let build = nix.build_command(&placeholders);
    let leaves: Vec<(String, String)> = plan
        .outputs
        .iter()
        .map(|o| {
            let path = match (o.kind, o.platform, &o.extra) {
                (Kind::Static, Some(p), _) => {
                    static_dir(p).join(p.program_file(&ctx.project.config.name))
                }
                (Kind::Docker, Some(p), _) => docker_link(p, "tar.gz"),
                (_, platform, extra) => super::extras::extra_dir(platform)
                    .join(extra.as_ref().map_or("", |e| e.name.as_str())),
            };
            (path.display().to_string(), o.installable.clone())
        })
        .collect();
    let mut human = format!(
        "would run, in {}:\n  {}\n  {}\n",
        display_path(&ctx.project.dir),
        eval.display(),
        build.display()
    );
    human.push_str("would make:\n");
    human.push_str(&render_tree(&display_path(&dist), &leaves));
    human.push_str(&format!(
        "and write {}\n",
        display_path(&dist.join("build.json"))
    ));
    let json = serde_json::json!({
        "dryRun": true,
        "directory": ctx.project.dir,
        "commands": [eval.display(), build.display()],
        "tree": leaves.iter().map(|(p, i)| serde_json::json!({"path": p, "installable": i})).collect::<Vec<_>>(),
    });
    ctx.print_result(&human, &json);
}

/// The flake's directory, when the reference is a local path; checks flake.nix.
fn check_flake(ctx: &Context) -> Result<PathBuf> {
    let flake = &ctx.project.config.flake;
    let path = flake.strip_prefix("path:").unwrap_or(flake);
    let local =
        path == "." || path.starts_with("./") || path.starts_with("../") || path.starts_with('/');
    if !local {
        return Ok(ctx.project.dir.clone());
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let dir = ctx.project.dir.join(path);
    if !dir.join("flake.nix").is_file() {
        return Err(Error::NotAFlake {
            flake: flake.clone(),
            dir,
        });
    }
    let repo = source::git_toplevel(&dir)?;
    let tracked = crate::git::is_tracked(&dir, "flake.nix");
    if !tracked && !flake.starts_with("path:") {
        return Err(Error::FlakeUntracked {
            path: dir.join("flake.nix"),
            repo,
        });
    }
    Ok(dir)
}

/// Evaluates the plan once. When `docker-attr` is not configured and the
/// default shape (`packages.<system>.<name>-docker`) is missing, tries the
/// nested shape (`packages.<system>.docker.<name>`) once, and names both
/// when neither exists. Returns the plan evaluated, its derivations and the
/// docker template used.
fn evaluate(
    ctx: &Context,
    nix: &Nix,
    config: &Config,
    targets: &[Platform],
    plan: Plan,
) -> Result<(Plan, Vec<BuiltPath>, Option<String>)> {
    let first = nix
        .evaluate(&ctx.project.dir, &plan.installables())?
        .map_err(|message| eval_error(&plan, &config.flake, message));
    let missing_docker = match &first {
        Err(Error::MissingAttribute { kind, .. }) => *kind == Kind::Docker.as_str(),
        _ => false,
    };
    if !missing_docker || config.docker_attr_set {
        let evaluated = first?;
        return Ok((plan, evaluated, config.docker_attr.clone()));
    }
    let Err(Error::MissingAttribute {
        platform,
        attribute,
        ..
    }) = first
    else {
        unreachable!("checked above");
    };
    let mut nested = config.clone();
    nested.docker_attr = Some(NESTED_DOCKER_ATTR.into());
    let other = Plan::new(&nested, targets);
    tracing::debug!("no `{attribute}`: trying the shape {NESTED_DOCKER_ATTR}");
    match nix.evaluate(&ctx.project.dir, &other.installables())? {
        Ok(evaluated) => {
            tracing::debug!("docker outputs found at {NESTED_DOCKER_ATTR}");
            Ok((other, evaluated, nested.docker_attr))
        }
        Err(message) => match eval_error(&other, &config.flake, message) {
            Error::MissingAttribute { kind, .. } if kind == Kind::Docker.as_str() => {
                Err(Error::NoDockerShape {
                    platform,
                    default: attribute,
                    nested: nested.docker_attr(platform).unwrap_or_default(),
                })
            }
            other => Err(other),
        },
    }
}

/// Turns nix's evaluation error into the most precise error we can name.
fn eval_error(plan: &Plan, flake: &str, message: String) -> Error {
    // Nix names every attribute path it tried, quoted, the exact one among them.
    const MARK: &str = "does not provide attribute";
    if let Some(start) = message.find(MARK) {
        let sentence = message[start..].lines().next().unwrap_or("");
        let quoted = sentence.split('\'').skip(1).step_by(2);
        for attr in quoted {
            match plan.by_attribute(attr) {
                Some(Output {
                    extra: Some(extra),
                    platform,
                    ..
                }) => {
                    return Error::MissingArtifactAttribute {
                        name: extra.name.clone(),
                        platform: *platform,
                        attribute: attr.to_string(),
                        key: extra.key.clone(),
                    }
                }
                Some(Output {
                    platform: Some(platform),
                    kind,
                    ..
                }) => {
                    return Error::MissingAttribute {
                        platform: *platform,
                        kind: kind.as_str(),
                        attribute: attr.to_string(),
                    }
                }
                _ => {}
            }
        }
    }
    Error::Eval {
        flake: flake.to_string(),
        message: crate::process::tail(message.trim(), 20),
    }
}

fn nix_command_name(nix: &Nix) -> String {
    let v = nix.version();
    format!(
        "nix {}.{} (one `nix build --json` for all outputs)",
        v.0, v.1
    )
}

/// The main output path of each planned output that is in the store now.
/// `nix build --json` answers in its own order, so entries are matched by drvPath.
fn built_outputs(
    nix: &Nix,
    evaluated: &[BuiltPath],
    built: &[BuiltPath],
    all_ok: bool,
) -> Result<Vec<Option<String>>> {
    if all_ok {
        let by_drv = |drv: &str| {
            built
                .iter()
                .find(|b| b.drv_path == drv)
                .and_then(|b| b.main_output().map(str::to_string))
        };
        let found: Vec<Option<String>> = evaluated.iter().map(|e| by_drv(&e.drv_path)).collect();
        if found.iter().all(Option::is_some) {
            return Ok(found);
        }
    }
    let wanted: Vec<String> = evaluated
        .iter()
        .filter_map(|b| b.main_output().map(str::to_string))
        .collect();
    let valid = nix.valid_paths(&wanted)?;
    Ok(evaluated
        .iter()
        .map(|b| {
            b.main_output()
                .filter(|p| valid.contains(*p))
                .map(str::to_string)
        })
        .collect())
}

fn failure_text(progress: &Progress, drv: &str) -> String {
    if let Some(f) = progress.failed().iter().find(|f| f.drv == drv) {
        return f.message.clone();
    }
    match progress.failed().first() {
        Some(dep) => format!("a dependency failed: {}", dep.message),
        None => progress
            .errors()
            .first()
            .map(|e| e.lines().next().unwrap_or("").to_string())
            .unwrap_or_else(|| "nix did not build it".into()),
    }
}

/// The time stamped on every entry of an extra artifact's archive:
/// `$SOURCE_DATE_EPOCH`, else the commit's time.
fn archive_time(source: &crate::source::Source) -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .or(source.commit_time.map(|t| t.max(0) as u64))
        .unwrap_or(0)
}

/// What is checked of each static binary after the build.
struct Checks {
    /// Targets whose binaries may be dynamic.
    allow_dynamic: Vec<crate::platform::Platform>,
    /// The smoke run's arguments, if one was asked for.
    smoke: Option<Vec<String>>,
}

impl Checks {
    /// Checks (and smoke-runs) `file`, the static binary of `platform`; `Err`
    /// says what is wrong, naming the target.
    fn run(
        &self,
        platform: crate::platform::Platform,
        file: &Path,
    ) -> std::result::Result<crate::build_record::BinaryCheck, String> {
        let relaxed = crate::elfcheck::Relaxed {
            dynamic: self.allow_dynamic.contains(&platform),
        };
        let mut check = super::binary::check(platform, file, relaxed)?;
        if let Some(args) = &self.smoke {
            let smoke = super::binary::smoke(platform, file, args, check.format == "script");
            if smoke.result.starts_with("failed") {
                return Err(format!(
                    "{platform}: the smoke run `{} {}` {}",
                    file.display(),
                    args.join(" "),
                    smoke.result
                ));
            }
            check.smoke = Some(smoke);
        }
        Ok(check)
    }
}

/// Records what each static binary's derivation says it compiled (its
/// `rustTarget` and `rustcVersion` attributes), from one nix call.
fn record_rust(nix: &Nix, artifacts: &mut [Artifact]) -> Result<()> {
    let drvs: Vec<String> = artifacts
        .iter()
        .filter(|a| a.kind == Kind::Static)
        .map(|a| a.drv_path.clone())
        .collect();
    let attrs = nix.derivation_attrs(&drvs, &RustBuild::ATTRIBUTES)?;
    for a in artifacts.iter_mut().filter(|a| a.kind == Kind::Static) {
        a.rust = attrs.get(&a.drv_path).and_then(RustBuild::from_attrs);
    }
    Ok(())
}

/// Clears the tree, then links every built output into it as a GC root.
fn link_outputs(
    nix: &Nix,
    (name, checks): (&str, &Checks),
    dist: &Path,
    plan: &Plan,
    drvs: &[String],
    built: &[Option<String>],
    failures: &mut Vec<Failure>,
) -> Result<Vec<Artifact>> {
    for sub in ["static", "docker"] {
        let dir = dist.join(sub);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot clear", dir)(e)),
        }
    }
    let store_paths: Vec<String> = built.iter().flatten().cloned().collect();
    let infos = nix.path_info(&store_paths)?;
    let mut artifacts = Vec::new();
    for ((output, drv), store_path) in plan.outputs.iter().zip(drvs).zip(built) {
        let (Some(store_path), Some(platform)) = (store_path, output.platform) else {
            continue;
        };
        if output.kind == Kind::Extra {
            continue;
        }
        let files = match output_files(output, platform, store_path, name) {
            Ok(files) => files,
            Err(e) => {
                failures.push(output.failure(drv, e.to_string()));
                continue;
            }
        };
        let nar_hash = infos
            .iter()
            .find(|i| &i.path == store_path)
            .map(|i| i.nar_hash.clone())
            .unwrap_or_default();
        for (rel_link, store_file) in files {
            let target = match &store_file {
                Some(inner) => Path::new(store_path).join(inner),
                None => PathBuf::from(store_path),
            };
            let binary = match output.kind {
                Kind::Static => match checks.run(platform, &target) {
                    Ok(check) => Some(check),
                    Err(error) => {
                        failures.push(output.failure(drv, error));
                        continue;
                    }
                },
                _ => {
                    if let Err(error) = super::binary::check_image(platform, &target) {
                        failures.push(output.failure(drv, error));
                        continue;
                    }
                    None
                }
            };
            let link = dist.join(&rel_link);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent).map_err(Error::io("cannot create", parent))?;
            }
            nix.add_root(&link, store_path)?;
            if let Some(inner) = &store_file {
                // The root stays registered on the link; point it at the file.
                replace_symlink(&Path::new(store_path).join(inner), &link)?;
            }
            let (sha256, size) = sha256_file(&link)?;
            artifacts.push(Artifact {
                platform,
                kind: output.kind,
                attribute: output.attribute.clone(),
                path: rel_link.display().to_string(),
                store_path: store_path.clone(),
                store_file,
                drv_path: drv.clone(),
                nar_hash: nar_hash.clone(),
                sha256,
                size,
                binary,
                rust: None,
            });
        }
    }
    Ok(artifacts)
}

/// The links one output makes: `(relative link, file inside the store path)`.
/// A static output that is a single file is linked under the artifact `name`.
fn output_files(
    output: &Output,
    platform: Platform,
    store_path: &str,
    name: &str,
) -> Result<Vec<(PathBuf, Option<String>)>> {
    let shape = |message: String| Error::OutputShape {
        output: output.label(),
        message,
    };
    let path = Path::new(store_path);
    let meta = std::fs::metadata(path).map_err(Error::io("cannot inspect", path))?;
    match output.kind {
        Kind::Docker => {
            if !meta.is_file() {
                return Err(shape(format!(
                    "the docker output {} is a directory, not a docker-archive file",
                    output.attribute
                )));
            }
            Ok(vec![(docker_link(platform, archive_ext(path)?), None)])
        }
        Kind::Extra => Err(shape("an extra artifact is not a binary".into())),
        Kind::Static if meta.is_file() => {
            let file = platform.program_file(name);
            Ok(vec![(static_dir(platform).join(file), None)])
        }
        Kind::Static => {
            let bin = path.join("bin");
            let mut files: Vec<_> = std::fs::read_dir(&bin)
                .map_err(|_| {
                    shape(format!(
                        "the static output {store_path} has no bin/ directory"
                    ))
                })?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(shape(format!("{store_path}/bin holds no file")));
            }
            Ok(files
                .into_iter()
                .map(|f| (static_dir(platform).join(&f), Some(format!("bin/{f}"))))
                .collect())
        }
    }
}

/// `tar.gz`, `tar.zst` or `tar`, from the file's first bytes.
fn archive_ext(path: &Path) -> Result<&'static str> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path).map_err(Error::io("cannot open", path))?;
    let n = file
        .read(&mut magic)
        .map_err(Error::io("cannot read", path))?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => "tar.gz",
        [0x28, 0xb5, 0x2f, 0xfd] => "tar.zst",
        _ => "tar",
    })
}

fn report_failures(ctx: &Context, progress: &Progress, manifest: &BuildRecord) {
    if manifest.failures.is_empty() {
        return;
    }
    for f in progress.failed() {
        eprintln!("error: {}", f.message);
        if !f.log_tail.is_empty() {
            eprintln!(
                "  last {} lines of the log of {}:",
                f.log_tail.len(),
                drv_name(&f.drv)
            );
            for line in &f.log_tail {
                eprintln!("  | {line}");
            }
        }
    }
    for f in &manifest.failures {
        eprintln!(
            "error: {} ({}) did not build: {}",
            f.label(),
            f.attribute,
            f.error
        );
    }
    if ctx.verbosity != Verbosity::Quiet && !manifest.artifacts.is_empty() {
        eprintln!(
            "the {} artifacts that built are linked below and listed in build.json",
            manifest.artifacts.len()
        );
    }
}

/// A path relative to the current directory when it is under it.
fn display_path(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn names_the_missing_attribute_from_nix_2_8_text() {
        let config = Config::defaults("hello");
        let plan = Plan::new(&config, &config.targets);
        let text = "error: flake 'git+file:///tmp/x/hello' does not provide attribute \
            'packages.x86_64-linux.packages.i686-linux.hello-docker', \
            'legacyPackages.x86_64-linux.packages.i686-linux.hello-docker' or 'packages.i686-linux.hello-docker'";
        match eval_error(&plan, ".", text.into()) {
            Error::MissingAttribute {
                platform,
                kind,
                attribute,
            } => {
                assert_eq!(platform.to_string(), "linux/386");
                assert_eq!(kind, "docker");
                assert_eq!(attribute, "packages.i686-linux.hello-docker");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            eval_error(&plan, ".", "error: syntax error".into()),
            Error::Eval { .. }
        ));
    }
}
