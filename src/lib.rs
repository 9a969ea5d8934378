//! `cargo release-dist`: takes a Nix-built Rust project from `nix build` to a
//! published release.
//!
//! The layers, from the outside in:
//! - [`cli`] parses the command line and touches nothing else;
//! - [`context`] and [`project`] resolve it: the project, its configuration;
//! - the commands ([`build`]) do the work through the seams: [`nix`] runs nix,
//!   [`process`] runs every other program;
//! - the formats ([`platform`], [`config`], [`build_record`]) are pure.
#![warn(missing_docs)]

pub mod apply;
pub mod archive;
pub mod artifacts;
pub mod background;
pub mod bounds;
pub mod build;
pub mod build_record;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod context;
pub mod destination;
pub mod digest;
pub mod docker_archive;
pub mod elfcheck;
pub mod errors;
pub mod events;
pub mod fsutil;
pub mod git;
#[cfg(test)]
mod hostile_inputs;
pub mod init;
pub mod keys;
pub mod kinds;
pub mod lifecycle;
pub mod linuxpkg;
pub mod listing;
pub mod machocheck;
pub mod nix;
pub mod oci;
pub mod openpgp;
pub mod pecheck;
pub mod plan;
pub mod platform;
pub mod problems;
pub mod process;
pub mod project;
pub mod provenance;
pub mod publish;
pub mod rebuild;
pub mod rebuild_error;
pub mod release;
pub mod sbom;
pub mod source;
pub mod test_hooks;

use std::process::ExitCode;

use crate::cli::{App, Command};
use crate::context::{Context, MessageFormat, Verbosity};
use crate::errors::{Error, Result};
use crate::project::Project;

/// The whole program: parse, run, turn the outcome into an exit code.
pub fn main_impl() -> ExitCode {
    background::limit_malloc_arenas();
    let app = match cli::parse_from(std::env::args_os()) {
        Ok(app) => app,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                errors::exit_codes::BAD_INPUT
            } else {
                0
            });
        }
    };
    let verbosity = match (app.global.quiet, app.global.verbose) {
        (true, _) => Verbosity::Quiet,
        (false, 0) => Verbosity::Normal,
        (false, _) => Verbosity::Verbose,
    };
    init_tracing(verbosity);
    let format = app.global.message_format;
    if format == MessageFormat::Json {
        events::enable();
    }
    match run(app, verbosity) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e, format);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Whether the command can run without a Cargo project: a cache push told
/// where to write (and, for the toolchain, what to push).
fn needs_no_project(command: &Command) -> bool {
    match command {
        Command::Cache(cli::CacheCommand::Push(args)) => args.to.is_some(),
        Command::CacheToolchain(args) => args.to.is_some() && args.toolchain.is_some(),
        Command::Cache(cli::CacheCommand::Gc(args)) => args.cache.is_some(),
        Command::Cache(cli::CacheCommand::Verify(args)) => args.cache.is_some(),
        Command::Cache(cli::CacheCommand::Pin(cli::PinCommand::Ls(args))) => args.cache.is_some(),
        Command::Cache(cli::CacheCommand::Pin(cli::PinCommand::Rm(args))) => args.cache.is_some(),
        _ => false,
    }
}

fn run(app: App, verbosity: Verbosity) -> Result<()> {
    let ctx = context(&app.global, &app.command, verbosity)?;
    match app.command {
        Command::Build(args) => build_and_push(&ctx, args),
        Command::Cache(command) => run_cache(&ctx, command),
        Command::Ls(_) | Command::Rm(_) | Command::Gc(_) => run_lifecycle(&ctx, app.command),
        Command::Init(args) => init::run_init(
            &ctx,
            &init::InitOpts {
                ci: args.ci,
                force: args.force,
                binstall: args.binstall,
                minisign_pub: args.minisign_pub,
            },
        ),
        Command::Promote(args) => commands::promote::run_promote(
            &ctx,
            &lifecycle::promote::PromoteOpts {
                release: args.release,
                from: args.from,
                to: args.to,
                key: args.key,
                force: args.force,
                layout: args.layout,
                images_from: args.images_from,
                images_to: args.images_to,
                packages_key: args.packages_key,
                minisign_pub: args.minisign_pub,
                openpgp_pub: args.openpgp_pub,
                require_reproduced: args.require_reproduced
                    || ctx.project.config.require_reproduced,
                reproduced_key: args.reproduced_key,
                image_tags: if args.image_tags.is_empty() {
                    ctx.project.config.image_tags.clone()
                } else {
                    args.image_tags
                },
            },
        )
        .map(drop),
        Command::CacheToolchain(args) => cache::run_cache_toolchain(
            &ctx,
            &cache::CacheToolchainOpts {
                to: args.to,
                toolchain: args.toolchain,
                jobs: args.jobs,
            },
        )
        .map(drop),
        Command::Publish(args) => commands::publish::run_publish(
            &ctx,
            &publish::PublishOpts {
                static_urls: args.static_urls,
                signing_key: args.signing_key,
                tag: args.tag,
                force: args.force,
                layout: args.layout,
                image_urls: args.image_urls,
                image_tags: args.image_tags,
                image_compression: args.image_compression,
                no_images: args.no_images,
                part: args.part,
                packages: args.packages,
                packages_key: args.packages_key,
                openpgp_key: args.openpgp_key,
                minisign_key: args.minisign_key,
            },
        )
        .map(drop),
        Command::Rebuild(args) => {
            let report = rebuild::run(
                &ctx,
                &rebuild::RebuildOpts {
                    on: args.on,
                    builders: args.builders,
                    release: args.release,
                    signing_key: args.signing_key,
                    layout: args.layout,
                    targets: args.targets,
                },
            )?;
            ctx.print_result(&rebuild::summary(&report), &report);
            Ok(())
        }
        Command::RefreshIndex(args) => {
            publish::run_refresh_index(&ctx, &args.static_urls, args.layout).map(drop)
        }
        Command::Verify(args) => commands::verify::run_verify(
            &ctx,
            &publish::VerifyOpts {
                from: args.from,
                release: args.release,
                key: args.key,
                layout: args.layout,
                images: args.image,
                minisign_pub: args.minisign_pub,
                openpgp_pub: args.openpgp_pub,
                require_signatures: args.require_signatures,
                require_reproduced: args.require_reproduced,
                reproduced_key: args.reproduced_key,
            },
        ),
    }
}

/// The project (or none, for a command that needs none outside one) and
/// the run's settings; a dry run's scratch directory.
fn context(global: &cli::GlobalOpts, command: &Command, verbosity: Verbosity) -> Result<Context> {
    let cwd = std::env::current_dir().unwrap_or_default();
    let project = if global.manifest_path.is_none()
        && needs_no_project(command)
        && !Project::is_inside_one(&cwd)
    {
        Project::detached(cwd)
    } else {
        Project::load(global.manifest_path.as_deref(), global.package.as_deref())?
    };
    let scratch = match global.dry_run {
        true => Some(
            tempfile::Builder::new()
                .prefix("release-dist-dry-run-")
                .tempdir()
                .map_err(Error::io(
                    "cannot create a scratch directory in",
                    std::env::temp_dir(),
                ))?,
        ),
        false => None,
    };
    let ctx = Context {
        project,
        dry_run: global.dry_run,
        verbosity,
        format: global.message_format,
        scratch,
    };
    Ok(ctx)
}

/// `build`, then (with `--push-cache`) the push of what it built, pinned as
/// `release/<tag>`.
fn build_and_push(ctx: &Context, args: cli::BuildArgs) -> Result<()> {
    let opts = build::BuildOpts {
        targets: args.targets,
        nix_options: args.nix_options,
        smoke: (!args.smoke.is_empty()).then_some(args.smoke),
    };
    let manifest = build::run(ctx, &opts)?;
    let (Some(to), Some(manifest)) = (args.push_cache, manifest) else {
        return Ok(());
    };
    let mut paths: Vec<String> = manifest
        .artifacts
        .iter()
        .map(|a| a.store_path.clone())
        .collect();
    paths.dedup();
    let release = release::detect(
        &|k| std::env::var(k).ok(),
        None,
        &manifest.source,
        &publish::hostname(),
    )?;
    let public_key = cache::cache_public_key(ctx, Some(&to))?;
    let opts = cache::CachePushOpts {
        to: Some(to),
        paths,
        jobs: None,
        pin: Some(format!("release/{}", release.tag)),
    };
    cache::run_cache_push(ctx, &opts)?;
    if ctx.dry_run {
        return Ok(());
    }
    // build.json says where the closures are, for the Nix install manifest.
    let path = ctx.dist_dir().join("build.json");
    let mut manifest = build_record::BuildRecord::read(&path)?;
    manifest.cache = Some(build_record::CacheRecord {
        url: ctx.project.config.cache_public_url.clone(),
        public_key,
    });
    manifest.write(&path)
}

/// `cache push`, `cache gc`, `cache pin …`.
fn run_cache(ctx: &Context, command: cli::CacheCommand) -> Result<()> {
    match command {
        cli::CacheCommand::Push(args) => cache::run_cache_push(
            ctx,
            &cache::CachePushOpts {
                to: args.to,
                paths: args.paths,
                jobs: args.jobs,
                pin: args.pin,
            },
        )
        .map(drop),
        cli::CacheCommand::Gc(args) => {
            cache::upkeep::run_cache_gc(ctx, args.cache.as_deref(), args.grace).map(drop)
        }
        cli::CacheCommand::Verify(args) => {
            cache::upkeep::run_cache_verify(ctx, args.cache.as_deref(), args.repair).map(drop)
        }
        cli::CacheCommand::Pin(cli::PinCommand::Ls(args)) => {
            cache::upkeep::run_pin_ls(ctx, args.cache.as_deref()).map(drop)
        }
        cli::CacheCommand::Pin(cli::PinCommand::Rm(args)) => {
            cache::upkeep::run_pin_rm(ctx, args.cache.as_deref(), &args.name)
        }
    }
}

/// `ls`, `rm`, `gc`.
fn run_lifecycle(ctx: &Context, command: Command) -> Result<()> {
    match command {
        Command::Ls(args) => {
            let dests = commands::lifecycle::Destinations::resolve(ctx, args.destinations)?;
            commands::lifecycle::run_ls(ctx, &dests, args.release.as_deref()).map(drop)
        }
        Command::Rm(args) => {
            let dests = commands::lifecycle::Destinations::resolve(ctx, args.destinations)?;
            commands::lifecycle::run_rm(ctx, &dests, &args.release, args.force).map(drop)
        }
        Command::Gc(args) => {
            let dests = commands::lifecycle::Destinations::resolve(ctx, args.destinations)?;
            let opts = commands::lifecycle::GcOpts {
                keep: args.keep.map(|n| (n, args.class.into())),
                grace: args.grace,
            };
            commands::lifecycle::run_gc(ctx, &dests, &opts).map(drop)
        }
        _ => Ok(()),
    }
}

fn report(error: &Error, format: MessageFormat) {
    eprintln!("{}", error.render());
    if format == MessageFormat::Json {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        let json = serde_json::json!({
            "error": error.to_string(),
            "causes": causes,
            "hint": error.hint(),
            "exitCode": error.exit_code(),
        });
        println!("{json}");
    }
}

fn init_tracing(verbosity: Verbosity) {
    let level = match verbosity {
        Verbosity::Quiet => "error",
        Verbosity::Normal => "warn",
        Verbosity::Verbose => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RELEASE_DIST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("release_dist={level}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}
pub mod nixcache;
pub mod objstore;
