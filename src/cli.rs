//! The command line, as clap parses it. This stage only validates: it looks
//! at no file, no environment variable and runs no process.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::context::MessageFormat;

/// `cargo` as clap sees it: cargo runs us as `cargo-release-dist release-dist …`.
#[derive(Debug, Parser)]
#[command(name = "cargo", bin_name = "cargo", styles = clap::builder::Styles::plain())]
pub enum Cargo {
    /// Build, cache and publish a Nix-built Rust project.
    #[command(name = "release-dist", version)]
    ReleaseDist(App),
}

/// `cargo release-dist`.
#[derive(Debug, Args)]
#[command(
    about = "Build a Nix-built Rust project for every target and publish the release",
    after_help = "Configuration lives in [package.metadata.release-dist]; see docs/configuration.md."
)]
pub struct App {
    /// Global options.
    #[command(flatten)]
    pub global: GlobalOpts,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalOpts {
    /// Path to the Cargo.toml of the project to release.
    #[arg(long, global = true, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// The package to release, in a workspace with several.
    #[arg(short, long, global = true, value_name = "NAME")]
    pub package: Option<String>,
    /// Say more: every command run, every build log line (-v).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Say nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// How results are printed on standard output.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "human",
        value_name = "FMT"
    )]
    pub message_format: MessageFormat,
    /// Print what would be done, and do nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one `nix build` for every target's static binary and image, link
    /// the results into target/release-dist and write build.json.
    Build(BuildArgs),
    /// Binary-cache operations.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Push the closure of the toolchain (default nix/toolchain.nix), build-time
    /// dependencies included, into the binary cache.
    CacheToolchain(CacheToolchainArgs),
    /// Publish what `build` made: the static files with checksums, signed
    /// provenance, the tag and name documents and the release index.
    Publish(PublishArgs),
    /// Read a published release back and check its signature, digests and checksums.
    Verify(VerifyArgs),
    /// Build every output of the release again on an independent builder,
    /// compare the NAR hashes, and (all the same) sign a reproducibility
    /// statement that `publish` puts beside the release.
    Rebuild(RebuildArgs),
    /// Regenerate the name document and the release index (`_releases.json`,
    /// `_releases.html`) from what each static destination holds.
    RefreshIndex(RefreshIndexArgs),
    /// List the releases, image tags and cache pins the destinations hold.
    Ls(LsArgs),
    /// Remove one release: invisible first (tag document, image tags), then
    /// what nothing else uses; its cache pin too.
    Rm(RmArgs),
    /// Apply the retention policy to the releases, then collect the cache.
    Gc(GcArgs),
    /// Copy a published release to another destination without rebuilding:
    /// verified first, copied in publish order, visible only once whole.
    Promote(PromoteArgs),
    /// Write what releasing this package needs: the metadata table, the Nix
    /// templates, a flake, and a CI pipeline.
    Init(InitArgs),
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also write a pipeline for this CI.
    #[arg(long, value_enum)]
    pub ci: Option<crate::init::Ci>,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
    /// Also add `[package.metadata.binstall]` to Cargo.toml, so that
    /// cargo-binstall finds the per-target archives at the config's
    /// `public-url` (needs `public-url`; set `archives = true`).
    #[arg(long)]
    pub binstall: bool,
    /// The minisign public key (minisign.pub) cargo-binstall checks the
    /// archives' signatures with (`[package.metadata.binstall.signing]`).
    #[arg(long, value_name = "PUB", requires = "binstall")]
    pub minisign_pub: Option<PathBuf>,
}

/// `promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The release.
    #[arg(value_name = "NAME:TAG")]
    pub release: String,
    /// Where it is now (staging): a store URL or a directory.
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// Where it goes (repeatable).
    #[arg(long, value_name = "URL", required = true)]
    pub to: Vec<String>,
    /// The public key its provenance must be signed with (Nix `name:base64` or SPKI PEM).
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// Replace a stable release the destination has with other bytes.
    #[arg(long)]
    pub force: bool,
    /// The static layout.
    #[arg(long, value_enum, default_value = "df-dist-v1", value_name = "LAYOUT")]
    pub layout: crate::publish::Layout,
    /// Where the release's images are now: docker://HOST/NAME, a bucket or an OCI layout.
    #[arg(long, value_name = "URL", requires = "images_to")]
    pub images_from: Option<String>,
    /// The OpenPGP key that signs the destination's package repositories,
    /// needed when the release has packages (default: $RELEASE_DIST_PACKAGES_KEY).
    #[arg(long, value_name = "PATH")]
    pub packages_key: Option<PathBuf>,
    /// Where its images go (repeatable): copied by digest, the index unchanged, the tag last.
    #[arg(long, value_name = "URL", requires = "images_from")]
    pub images_to: Vec<String>,
    /// An extra tag for the promoted images of a stable release: `latest`,
    /// `major` or any tag (repeatable; default: the config's `image-tags`).
    #[arg(long = "image-tag", value_name = "TAG", requires = "images_to", value_parser = image_tag)]
    pub image_tags: Vec<String>,
    /// The minisign public key the source's SHA256SUMS.minisig must check
    /// with for the minisign signatures (and each file's .minisig) to be
    /// copied.
    #[arg(long, value_name = "PUB")]
    pub minisign_pub: Option<PathBuf>,
    /// The OpenPGP public key (armored) the source's SHA256SUMS.asc must
    /// check with for it to be copied.
    #[arg(long, value_name = "PUB")]
    pub openpgp_pub: Option<PathBuf>,
    /// Refuse a release without a reproducibility statement that is signed
    /// (--reproduced-key, else --key) and covers every build output
    /// (default: the config's `require-reproduced`).
    #[arg(long)]
    pub require_reproduced: bool,
    /// The public key the reproducibility statement must be signed with
    /// (default: --key).
    #[arg(long, value_name = "PUB")]
    pub reproduced_key: Option<PathBuf>,
}

/// The destinations `ls`, `rm` and `gc` look at.
#[derive(Debug, Args)]
pub struct Destinations {
    /// A static destination (repeatable; default: the config's `static`).
    #[arg(long = "static", value_name = "URL")]
    pub static_urls: Vec<String>,
    /// An image destination (repeatable; default: the config's `images`).
    #[arg(long = "images", value_name = "URL")]
    pub image_urls: Vec<String>,
    /// The binary cache (default: the config's `cache`).
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
    /// The static layout (default: the config's `static-layout`).
    #[arg(long, value_enum, value_name = "LAYOUT")]
    pub layout: Option<crate::publish::Layout>,
    /// The OpenPGP key that signs the package repositories, needed when a
    /// removed release has packages (default: $RELEASE_DIST_PACKAGES_KEY).
    #[arg(long, value_name = "PATH")]
    pub packages_key: Option<PathBuf>,
}

/// `ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// Where to look.
    #[command(flatten)]
    pub destinations: Destinations,
    /// Only this name, or this one release (default: the project's name).
    #[arg(value_name = "NAME[:TAG]")]
    pub release: Option<String>,
}

/// `rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Where to remove it from.
    #[command(flatten)]
    pub destinations: Destinations,
    /// The release to remove.
    #[arg(value_name = "NAME:TAG")]
    pub release: String,
    /// Remove a stable release too.
    #[arg(long)]
    pub force: bool,
}

/// `gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Where to collect.
    #[command(flatten)]
    pub destinations: Destinations,
    /// Keep the last N releases of one class (see --class), instead of the
    /// config's `retention` for it.
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// The class --keep applies to.
    #[arg(long, value_enum, default_value = "development", value_name = "CLASS")]
    pub class: crate::kinds::ClassArg,
    /// Kept even when nothing else keeps them, if younger than this: cache
    /// objects no pin reaches, and release files without a tag document
    /// (a publish may be at work on them).
    #[arg(long, value_parser = crate::kinds::parse_duration, default_value = "1h", value_name = "DURATION")]
    pub grace: std::time::Duration,
}

/// `refresh-index`.
#[derive(Debug, Args)]
pub struct RefreshIndexArgs {
    /// A static destination (repeatable; default: the config's `static`, else
    /// target/release-dist/publish/static).
    #[arg(long = "static", value_name = "URL")]
    pub static_urls: Vec<String>,
    /// The static layout (default: the config's `static-layout`).
    #[arg(long, value_enum, value_name = "LAYOUT")]
    pub layout: Option<crate::publish::Layout>,
}

pub use crate::kinds::PublishPart;

/// `publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Do one half only, as CI steps with separate secrets do: `static`
    /// (S3 credentials) or `images` (registry credentials). Both by default.
    #[arg(value_enum, value_name = "PART")]
    pub part: Option<PublishPart>,
    /// A static destination: s3://BUCKET?endpoint=… or a directory (repeatable;
    /// default: the config's `static`, else target/release-dist/publish/static).
    #[arg(long = "static", value_name = "URL")]
    pub static_urls: Vec<String>,
    /// The provenance signing key: a Nix key file or an Ed25519 PKCS#8 PEM
    /// (default: the key's text in $RELEASE_DIST_SIGNING_KEY).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
    /// The release tag (default: from the CI, else the git tag at HEAD, else the commit).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Replace a stable release already published with other bytes.
    #[arg(long)]
    pub force: bool,
    /// The static layout (default: the config's `static-layout`, else df-dist-v1).
    #[arg(long, value_enum, value_name = "LAYOUT")]
    pub layout: Option<crate::publish::Layout>,
    /// An image destination: docker://HOST[:PORT]/NAME (a registry; `?tls=false`
    /// for plain HTTP), s3://BUCKET?… (a static registry) or a directory (an OCI
    /// layout). Repeatable; default: the config's `images`, else
    /// target/release-dist/publish/images.
    #[arg(long = "images", value_name = "URL")]
    pub image_urls: Vec<String>,
    /// An extra tag for the images of a stable release: `latest`, `major`
    /// (v1 of v1.2.3) or any tag (repeatable; default: the config's `image-tags`).
    #[arg(long = "image-tag", value_name = "TAG", value_parser = image_tag)]
    pub image_tags: Vec<String>,
    /// How image layers are pushed (default: the config's `image-compression`, else gzip).
    #[arg(long, value_enum, value_name = "gzip|none")]
    pub image_compression: Option<crate::kinds::LayerCompression>,
    /// Publish no images, even when the build made them.
    #[arg(long)]
    pub no_images: bool,
    /// Build .deb and .rpm packages and publish signed APT and YUM
    /// repositories under apt/ and rpm/ (default: the config's `packages`).
    #[arg(long, value_name = "deb,rpm", value_delimiter = ',')]
    pub packages: Option<Vec<String>>,
    /// The OpenPGP secret key (armored) that signs the packages and the
    /// repositories (default: $RELEASE_DIST_PACKAGES_KEY, its text).
    #[arg(long, value_name = "PATH")]
    pub packages_key: Option<PathBuf>,
    /// The OpenPGP secret key (armored) of SHA256SUMS.asc, when the config's
    /// `signatures` asks for one (default: $RELEASE_DIST_OPENPGP_KEY, else
    /// the packages' key).
    #[arg(long, value_name = "PATH")]
    pub openpgp_key: Option<PathBuf>,
    /// The minisign secret key of the .minisig files, when the config's
    /// `signatures` asks for them (default: $RELEASE_DIST_MINISIGN_KEY, its
    /// text; an encrypted key's password: $RELEASE_DIST_MINISIGN_PASSWORD).
    #[arg(long, value_name = "PATH")]
    pub minisign_key: Option<PathBuf>,
}

/// `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where the release's files are: a store URL or a directory.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "image",
        requires = "release"
    )]
    pub from: Option<String>,
    /// The release, as NAME:TAG (with --image: the tag to check, and the
    /// image's name in a bucket or layout).
    #[arg(short = 't', long = "release", value_name = "NAME:TAG")]
    pub release: Option<String>,
    /// An image whose attestation to check (repeatable):
    /// docker://HOST/REPO:TAG, or a bucket or layout with --release.
    #[arg(long, value_name = "IMAGE")]
    pub image: Vec<String>,
    /// The public key (Nix `name:base64` file or SPKI PEM); without it the
    /// signature is not checked.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// The static layout.
    #[arg(long, value_enum, default_value = "df-dist-v1", value_name = "LAYOUT")]
    pub layout: crate::publish::Layout,
    /// The minisign public key (a minisign.pub file) that SHA256SUMS.minisig
    /// must be signed with.
    #[arg(long, value_name = "PUB")]
    pub minisign_pub: Option<PathBuf>,
    /// The OpenPGP public key (armored) that SHA256SUMS.asc must be signed
    /// with.
    #[arg(long, value_name = "PUB")]
    pub openpgp_pub: Option<PathBuf>,
    /// Refuse a release whose SHA256SUMS has no signature that the given
    /// keys check.
    #[arg(long)]
    pub require_signatures: bool,
    /// Refuse a release without a reproducibility statement that is signed
    /// and covers every build output.
    #[arg(long)]
    pub require_reproduced: bool,
    /// The public key the reproducibility statement must be signed with
    /// (default: --key).
    #[arg(long, value_name = "PUB")]
    pub reproduced_key: Option<PathBuf>,
}

/// `rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The builder: a Nix store that builds, ssh-ng://[USER@]HOST (ssh://
    /// is used as ssh-ng://) or a store directory. Without it (or
    /// --builders), a check build here with `nix build --rebuild`: weaker.
    #[arg(long, value_name = "STORE", conflicts_with = "builders")]
    pub on: Option<String>,
    /// A nix `--builders` line: its first machine is the builder.
    #[arg(long, value_name = "SPEC")]
    pub builders: Option<String>,
    /// The release, as NAME:TAG (default: the tag `publish` would find).
    #[arg(short = 't', long = "release", value_name = "NAME:TAG")]
    pub release: Option<String>,
    /// The key that signs the statement: a Nix key file or an Ed25519
    /// PKCS#8 PEM (default: the key's text in $RELEASE_DIST_SIGNING_KEY).
    #[arg(long, value_name = "PATH")]
    pub signing_key: Option<PathBuf>,
    /// The static layout the release is published in (default: the config's
    /// `static-layout`), for the statement's file names.
    #[arg(long, value_enum, value_name = "LAYOUT")]
    pub layout: Option<crate::publish::Layout>,
    /// Rebuild only this target's outputs (repeatable); the statement then
    /// covers those only, and `promote --require-reproduced` refuses it.
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// `cache …`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Push the closures of store paths or installables into a binary cache.
    Push(CachePushArgs),
    /// Delete what no pin reaches (narinfos, then NARs), safely while others push.
    Gc(CacheGcArgs),
    /// Check that every narinfo's NAR and references are there; --repair
    /// deletes what is damaged so that the next push uploads it again.
    Verify(CacheVerifyArgs),
    /// Pins: named sets of store paths that `cache gc` keeps.
    #[command(subcommand)]
    Pin(PinCommand),
}

/// `cache gc`.
#[derive(Debug, Args)]
pub struct CacheGcArgs {
    /// The cache (default: the config's `cache`, else target/release-dist/cache).
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
    /// Objects younger than this are kept even when nothing pins them
    /// (pushes by other tools, which write no pin).
    #[arg(long, value_parser = crate::kinds::parse_duration, default_value = "1h", value_name = "DURATION")]
    pub grace: std::time::Duration,
}

/// `cache verify`.
#[derive(Debug, Args)]
pub struct CacheVerifyArgs {
    /// The cache (default: the config's `cache`, else target/release-dist/cache).
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
    /// Delete the damaged narinfos and those that reach them (referrers first).
    #[arg(long)]
    pub repair: bool,
}

/// `cache pin …`.
#[derive(Debug, Subcommand)]
pub enum PinCommand {
    /// List the pins.
    Ls(PinLsArgs),
    /// Remove a pin (what it kept goes at the next `cache gc`).
    Rm(PinRmArgs),
}

/// `cache pin ls`.
#[derive(Debug, Args)]
pub struct PinLsArgs {
    /// The cache.
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
}

/// `cache pin rm`.
#[derive(Debug, Args)]
pub struct PinRmArgs {
    /// The cache.
    #[arg(long, value_name = "URL")]
    pub cache: Option<String>,
    /// The pin.
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `cache push`.
#[derive(Debug, Args)]
pub struct CachePushArgs {
    /// Store URL, as for `nix copy --to`: s3://BUCKET?endpoint=…&secret-key=PATH or a directory.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// How many NARs to prepare at once (default: the number of cores, at least 2).
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
    /// Pin what is pushed under NAME, so that `cache gc` keeps it (without
    /// it, the push holds a transient pin only while it runs).
    #[arg(long, value_name = "NAME")]
    pub pin: Option<String>,
    /// Store paths or installables whose closures to push.
    #[arg(required = true, value_name = "PATH|INSTALLABLE")]
    pub paths: Vec<String>,
}

/// `cache-toolchain`.
#[derive(Debug, Args)]
pub struct CacheToolchainArgs {
    /// Store URL, as for `nix copy --to`.
    #[arg(long, value_name = "URL")]
    pub to: Option<String>,
    /// The toolchain: a Nix file or a flake installable (default from the config).
    #[arg(long, value_name = "EXPR")]
    pub toolchain: Option<String>,
    /// How many NARs to prepare at once.
    #[arg(long, short = 'j', value_name = "N")]
    pub jobs: Option<usize>,
}

/// `build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Build only this target (repeatable); default: the configured targets.
    #[arg(long = "target", short = 't', value_name = "TARGET")]
    pub targets: Vec<String>,
    /// After a build, push the runtime closure of every artifact into this binary cache.
    #[arg(long, value_name = "URL")]
    pub push_cache: Option<String>,
    /// After the build, run every target's binary once with these arguments
    /// (repeatable: `--smoke --version`; default: the config's `smoke`),
    /// natively or through qemu-<arch>-static.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true, num_args = 1)]
    pub smoke: Vec<String>,
    /// Options passed to `nix build` as they are, after `--`
    /// (e.g. `-- --max-jobs 4 --builders 'ssh://arm64 aarch64-linux'`).
    #[arg(last = true, value_name = "NIX_OPTIONS")]
    pub nix_options: Vec<String>,
}

/// Parses the process arguments. When run as `cargo-release-dist build`
/// (not through cargo) the missing `release-dist` word is put back.
pub fn parse_from(args: impl IntoIterator<Item = OsString>) -> Result<App, clap::Error> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).map(|a| a != "release-dist").unwrap_or(true) {
        args.insert(1.min(args.len()), "release-dist".into());
    }
    Cargo::try_parse_from(args).map(|Cargo::ReleaseDist(app)| app)
}

/// An extra image tag: `major`, or a tag by the distribution spec's rule.
fn image_tag(text: &str) -> Result<String, String> {
    if text == "major" || crate::oci::document::is_tag(text) {
        Ok(text.to_string())
    } else {
        Err(format!(
            "`{}` is not a tag: 1 to 128 of letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_`",
            text.escape_debug()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<App, clap::Error> {
        parse_from(args.iter().map(OsString::from))
    }

    #[test]
    fn runs_as_a_cargo_subcommand_and_alone() {
        let via_cargo =
            parse(&["cargo-release-dist", "release-dist", "build", "--dry-run"]).unwrap();
        assert!(via_cargo.global.dry_run);
        let alone = parse(&["cargo-release-dist", "build", "-t", "linux/arm64"]).unwrap();
        let Command::Build(b) = alone.command else {
            panic!()
        };
        assert_eq!(b.targets, ["linux/arm64"]);
    }

    #[test]
    fn global_flags_go_anywhere_and_nix_options_pass_through() {
        let app = parse(&[
            "cargo-release-dist",
            "release-dist",
            "-v",
            "build",
            "--message-format",
            "json",
            "--manifest-path",
            "x/Cargo.toml",
            "--",
            "--max-jobs",
            "4",
        ])
        .unwrap();
        assert_eq!(app.global.verbose, 1);
        assert_eq!(app.global.message_format, MessageFormat::Json);
        assert_eq!(
            app.global.manifest_path,
            Some(PathBuf::from("x/Cargo.toml"))
        );
        let Command::Build(b) = app.command else {
            panic!()
        };
        assert_eq!(b.nix_options, ["--max-jobs", "4"]);
    }

    #[test]
    fn refuses_unknown_commands_and_conflicts() {
        assert!(parse(&["cargo-release-dist", "release-dist", "frobnicate"]).is_err());
        assert!(parse(&["cargo-release-dist", "build", "-v", "-q"]).is_err());
        assert!(parse(&["cargo-release-dist", "build", "--message-format", "xml"]).is_err());
    }
}
