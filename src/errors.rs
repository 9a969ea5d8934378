//! The errors a user can meet, each with the next step to take and an exit code.
//!
//! Every variant says *what* went wrong and *where* (which target, which key,
//! which file). [`Error::hint`] says what to do about it. `#[error]` strings
//! never interpolate their source: the top level walks the chain once.

use std::path::PathBuf;

use crate::platform::Platform;
use crate::rebuild_error::RebuildError;

/// Documented exit codes.
pub mod exit_codes {
    /// Everything asked for was done.
    pub const OK: u8 = 0;
    /// A build ran, but at least one target failed. What built is kept.
    pub const BUILD_FAILED: u8 = 1;
    /// Bad input: command line, configuration, project layout.
    pub const BAD_INPUT: u8 = 2;
    /// Something this tool needs is missing or broke: nix, git, the file system.
    pub const ENVIRONMENT: u8 = 3;
    /// An object store (S3, registry) refused or could not be reached.
    pub const STORE: u8 = 4;
    /// `verify` found a missing or altered object, or a bad signature.
    pub const VERIFY_FAILED: u8 = 5;
    /// `rebuild` built an output again and it came out different.
    pub const NOT_REPRODUCED: u8 = 6;
}

/// A result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A store URL that cannot be used, with the reason. (It lives here, not in
/// `objstore`, so that the object-store seam can use this module without
/// this module using the seam.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {} URL `{}`: {reason}", .kind.as_str(), redact_url(.url))]
pub struct UrlError {
    /// What the URL was to name.
    pub kind: UrlKind,
    /// The URL, as given; printed through [`redact_url`], since a user may
    /// have put credentials in it (they are refused, never used).
    pub url: String,
    /// Why.
    pub reason: String,
}

/// What a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    /// An object store: a bucket or a directory.
    Store,
    /// An image registry (`docker://`).
    Registry,
}

impl UrlKind {
    /// For messages.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlKind::Store => "store",
            UrlKind::Registry => "image registry",
        }
    }
}

/// `text` with what may be a secret replaced by `***`: the userinfo of a
/// URL (and of an `endpoint=` inside one), and the values of query
/// parameters whose name says password, token or secret (`secret-key` is a
/// path, kept). Pure, for every URL this tool prints.
pub fn redact_url(text: &str) -> String {
    let (base, query) = match text.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (text, None),
    };
    let mut out = redact_userinfo(base);
    if let Some(q) = query {
        let pairs: Vec<String> = q
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => {
                    let name = k.to_ascii_lowercase();
                    let secret = ["password", "passwd", "token", "secret", "credential"]
                        .iter()
                        .any(|w| name.contains(w))
                        && name != "secret-key";
                    if secret {
                        format!("{k}=***")
                    } else {
                        format!("{k}={}", redact_userinfo(v))
                    }
                }
                None => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// `scheme://user:pass@host…` as `scheme://***@host…` (also percent-encoded
/// `%40` and `%3A`, as a URL inside a query parameter has them).
fn redact_userinfo(text: &str) -> String {
    let decoded = text
        .replace("%40", "@")
        .replace("%3A", ":")
        .replace("%3a", ":")
        .replace("%2F", "/")
        .replace("%2f", "/");
    let Some((scheme, rest)) = decoded.split_once("://") else {
        return text.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => text.to_string(),
    }
}

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A mistake on the command line: an argument clap accepted whose value
    /// is wrong, or a combination of them.
    #[error("invalid argument `{argument}`: {message}")]
    Usage {
        /// The argument as the command line spells it (`--image`, `NAME:TAG`).
        argument: String,
        /// What is wrong with it.
        message: String,
        /// The command, for the hint (`rm`, `verify`).
        command: &'static str,
    },
    /// A plan the executor cannot apply as it stands (a bug in the planner).
    #[error("the plan cannot be applied: {0} (a bug: please report it)")]
    PlanInvalid(String),
    /// Configuration keys that are missing or invalid: all those one step
    /// found, together.
    #[error("{}", crate::problems::describe(.0))]
    Keys(Vec<crate::problems::KeyProblem>),
    /// A configuration key has a bad value.
    #[error("invalid configuration key `{key}`: {message}")]
    Config {
        /// The key, as written in Cargo.toml (`package.metadata.release-dist.targets`).
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// `cargo metadata` could not read the project.
    #[error("cannot read the cargo project")]
    Metadata(#[source] cargo_metadata::Error),
    /// The package asked for with `-p` is not in the workspace, or none was chosen.
    #[error("{0}")]
    Package(String),
    /// A target that the platform table does not know.
    #[error("unknown target `{target}` (in {origin})")]
    UnknownTarget {
        /// The target as written.
        target: String,
        /// Where it was written.
        origin: String,
    },
    /// No `nix` on PATH.
    #[error("`nix` was not found on PATH")]
    NixMissing,
    /// The flake reference points at a directory without a `flake.nix`.
    #[error("`{flake}` is not a flake: {dir} has no flake.nix")]
    NotAFlake {
        /// The flake reference.
        flake: String,
        /// The directory it resolves to.
        dir: PathBuf,
    },
    /// flake.nix exists but git does not track it, so nix cannot see it.
    #[error("{} is not tracked by git, so nix cannot see it", .path.display())]
    FlakeUntracked {
        /// The flake.nix.
        path: PathBuf,
        /// The repository.
        repo: PathBuf,
    },
    /// The project is not inside a git repository.
    #[error("{dir} is not inside a git repository")]
    NotGit {
        /// The project directory.
        dir: PathBuf,
    },
    /// The repository has no commit to record.
    #[error("the git repository at {} has no commit yet", .repo.display())]
    NoCommit {
        /// The repository.
        repo: PathBuf,
    },
    /// Neither usual docker shape is in the flake (and `docker-attr` is unset).
    #[error("target {platform}: the flake has no docker output at `{default}` nor at `{nested}`")]
    NoDockerShape {
        /// The target.
        platform: Platform,
        /// The default shape's attribute.
        default: String,
        /// The nested shape's attribute.
        nested: String,
    },
    /// An attribute the configuration names is not in the flake.
    #[error("target {platform}: the flake has no attribute `{attribute}` ({kind} output)")]
    MissingAttribute {
        /// The target.
        platform: Platform,
        /// `static` or `docker`.
        kind: &'static str,
        /// The attribute path that is missing.
        attribute: String,
    },
    /// An extra artifact's attribute is not in the flake.
    #[error("the extra artifact `{name}`{}: the flake has no attribute `{attribute}` ({key}.attribute)", .platform.map(|p| format!(" of {p}")).unwrap_or_default())]
    MissingArtifactAttribute {
        /// The configured artifact's name.
        name: String,
        /// Its target, for an artifact built per target.
        platform: Option<Platform>,
        /// The attribute path that is missing.
        attribute: String,
        /// The configuration key of the artifact.
        key: String,
    },
    /// Nix could not evaluate the flake.
    #[error("nix could not evaluate {flake}:\n{message}")]
    Eval {
        /// The flake reference.
        flake: String,
        /// Nix's own error text, with colours removed.
        message: String,
    },
    /// Some targets did not build.
    #[error("{} of {total} outputs failed to build: {}", .failed.len(), .failed.join(", "))]
    BuildFailed {
        /// `linux/arm/v6 static` and the like.
        failed: Vec<String>,
        /// How many outputs were asked for.
        total: usize,
        /// Systems nix said no machine here builds (`aarch64-darwin`).
        no_builder: Vec<String>,
    },
    /// A build output does not have the shape the platform tree needs.
    #[error("{output}: {message}")]
    OutputShape {
        /// The output (`linux/amd64 static`, `release extra hello-docs`).
        output: String,
        /// What is wrong with the output.
        message: String,
    },
    /// An external command failed.
    #[error("`{command}` failed{}{}", status_text(.status), stderr_text(.stderr))]
    Command {
        /// The command line, shortened.
        command: String,
        /// Its exit code, if it exited.
        status: Option<i32>,
        /// The last lines of its standard error.
        stderr: String,
    },
    /// An external command printed something this tool cannot read.
    #[error("cannot read the output of `{command}`")]
    CommandOutput {
        /// The command.
        command: String,
        /// Why not.
        #[source]
        source: serde_json::Error,
    },
    /// A file-system operation failed.
    #[error("{action} {}", .path.display())]
    Io {
        /// What was being done (`cannot write`).
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// An object store refused or failed a request.
    #[error("{store}: {op} {key} failed: {message}")]
    Store {
        /// `s3://bucket at endpoint` or a directory.
        store: String,
        /// The operation (`PUT`, `HEAD`…).
        op: &'static str,
        /// The object key.
        key: String,
        /// What kind of failure, for the hint.
        kind: StoreErrorKind,
        /// The server's error code and message (never credentials).
        message: String,
    },
    /// A store URL that cannot be used.
    #[error(transparent)]
    StoreUrl(#[from] UrlError),
    /// A signing key that cannot be used.
    #[error("cannot use the signing key {}: {reason}", .path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why not (never the key itself).
        reason: String,
    },
    /// A key of the release's signatures (minisign, OpenPGP) cannot be
    /// used.
    #[error("cannot use the {kind} key {}: {reason}", .path.display())]
    SignatureKey {
        /// `minisign` or `OpenPGP`.
        kind: &'static str,
        /// The key file (or `$VARIABLE`).
        path: PathBuf,
        /// Why not (never the key itself).
        reason: String,
    },
    /// The packages' OpenPGP key cannot be used.
    #[error("cannot use the OpenPGP key {}: {reason}", .path.display())]
    PackagesKey {
        /// The key file, or `$RELEASE_DIST_PACKAGES_KEY`.
        path: PathBuf,
        /// Why not (never the key itself).
        reason: String,
    },
    /// A release tag that cannot name a release.
    #[error("`{tag}` is not a valid release tag")]
    InvalidTag {
        /// The tag.
        tag: String,
    },
    /// No build.json to publish from.
    #[error("there is no build to publish: {} is missing", .path.display())]
    NoBuild {
        /// Where build.json was looked for.
        path: PathBuf,
    },
    /// build.json records failed outputs.
    #[error("the build is incomplete: {failed} output(s) failed ({names})")]
    IncompleteBuild {
        /// How many.
        failed: usize,
        /// Which.
        names: String,
    },
    /// A built file changed since build.json was written.
    #[error("{} changed since `build` wrote build.json (it is {actual}, build.json says {expected})", .path.display())]
    ArtifactChanged {
        /// The file.
        path: PathBuf,
        /// The store file build.json names.
        expected: String,
        /// What the link resolves to now.
        actual: String,
    },
    /// A stable release from a tree with uncommitted changes.
    #[error("refusing to publish stable release {tag} from a dirty tree ({what})")]
    DirtyStable {
        /// The tag.
        tag: String,
        /// Where the dirt is: the build, or the work tree now.
        what: String,
    },
    /// A stable tag is already published with other bytes.
    #[error(
        "stable release {tag} is already published at {store} with different files ({changed})"
    )]
    StableTagExists {
        /// The tag.
        tag: String,
        /// The destination.
        store: String,
        /// Which files differ.
        changed: String,
    },
    /// No key to sign the provenance with.
    #[error("no signing key for {signs}: give {option} or set ${env}")]
    NoSigningKey {
        /// What the key signs.
        signs: &'static str,
        /// How to name a key file.
        option: &'static str,
        /// The environment variable that may hold the key.
        env: &'static str,
        /// An OpenPGP key (packages), not an Ed25519 one.
        openpgp: bool,
    },
    /// `publish images` of a build that made none.
    #[error("the build made no images (build.json has no docker artifact)")]
    NoImages,
    /// `verify` was asked for a release the destination does not have.
    #[error("no release {release} at {store}")]
    NoSuchRelease {
        /// `name:tag`.
        release: String,
        /// The destination.
        store: String,
        /// The tags of that name it has.
        tags: Vec<String>,
    },
    /// `verify` found problems.
    #[error("verification of {release} failed: {count} problem(s)")]
    VerifyFailed {
        /// `name:tag`.
        release: String,
        /// How many problems were printed.
        count: usize,
    },
    /// A store path that is not in the local store.
    #[error("{path} is not a valid path in the local Nix store")]
    NotInStore {
        /// The path.
        path: String,
    },
    /// A docker archive that cannot be converted.
    #[error("the {platform} image {} cannot be read", .path.display())]
    Image {
        /// The target it was built for.
        platform: Platform,
        /// The archive.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: crate::docker_archive::ArchiveError,
    },
    /// An image whose config names another platform than its target.
    #[error("the {platform} image {} says it is {found}", .path.display())]
    ImageArch {
        /// The target it was built for.
        platform: Platform,
        /// The archive.
        path: PathBuf,
        /// `os/architecture[/variant]` from its config.
        found: String,
    },
    /// Registry credentials that cannot be used.
    #[error("registry credentials from {origin} for {host}: {reason}")]
    RegistryAuth {
        /// The registry host.
        host: String,
        /// Where they came from.
        origin: &'static str,
        /// What is wrong (never the secret).
        reason: String,
    },
    /// The registry's token server granted less than push.
    #[error("{registry}: the token server grants {granted} on {repository}, not push (credentials: {credentials}); nothing was pushed")]
    RegistryScope {
        /// `docker://host/repo`.
        registry: String,
        /// The repository.
        repository: String,
        /// The actions granted, comma-separated, or `nothing`.
        granted: String,
        /// Where the credentials came from.
        credentials: &'static str,
    },
    /// A registry refused or failed a request.
    #[error("{registry}: {op} {what} failed (credentials: {credentials}): {message}")]
    Registry {
        /// `docker://host/repo`.
        registry: String,
        /// What was being done.
        op: &'static str,
        /// The digest or tag.
        what: String,
        /// What kind of failure, for the hint.
        kind: StoreErrorKind,
        /// Where the credentials came from (`anonymous`, `$DOCKER_AUTH`…).
        credentials: &'static str,
        /// The client's message, scrubbed of the secret.
        message: String,
    },
    /// A path's NAR does not hash to what the store registered.
    #[error("{path}: its NAR hashes to {actual}, but the store registered {expected}; refusing to push it")]
    NarMismatch {
        /// The store path.
        path: String,
        /// The registered hash.
        expected: String,
        /// What its bytes hash to now.
        actual: String,
    },
    /// Some paths could not be pushed; the others were.
    #[error("{failed} of {total} paths could not be pushed; no narinfo was written for them or for what depends on them")]
    PushIncomplete {
        /// How many failed.
        failed: usize,
        /// How many were to be pushed.
        total: usize,
    },
    /// `cache gc` of a cache without pins.
    #[error("{store} has no pins: a collection would delete every path in it")]
    NoPins {
        /// The cache.
        store: String,
    },
    /// A pin name that cannot be used, or one that is not there.
    #[error("pin `{name}`: {message}")]
    Pin {
        /// The name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// `rm` of a stable release without `--force`.
    #[error("{release} is a stable release: stable releases are immutable")]
    StableRemoval {
        /// `name:tag`.
        release: String,
    },
    /// A registry that refuses to delete.
    #[error("{registry} refuses to delete ({status}): nothing was changed")]
    DeleteRefused {
        /// The registry.
        registry: String,
        /// What it answered.
        status: String,
    },
    /// What a bucket, registry, layout, cache or build output holds is
    /// not what this tool accepts: too large, malformed, or not what its
    /// digest says. Nothing was written on its account.
    #[error("{source_name}: {what}: {message}")]
    Untrusted {
        /// The store, registry or file it came from.
        source_name: String,
        /// The key, digest or document.
        what: String,
        /// What is wrong with it (and the cap, for one too large).
        message: String,
    },
    /// A JSON document could not be read.
    #[error("cannot parse {}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// `promote --require-reproduced` of a release not shown reproduced.
    #[error("{release} is not shown to be reproduced: {why}")]
    NotReproducedRelease {
        /// `name:tag`.
        release: String,
        /// Why.
        why: String,
    },
    /// `rebuild`'s errors.
    #[error(transparent)]
    Rebuild(#[from] crate::rebuild_error::RebuildError),
}

/// What kind of store failure, for the hint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// Credentials missing, wrong or not allowed.
    Auth,
    /// The bucket does not exist.
    NoBucket,
    /// The endpoint could not be reached, after retries.
    Unreachable,
    /// The server answered that it cannot serve now (quorum lost, overloaded), after retries.
    Unavailable,
    /// Anything else.
    Other,
}

fn status_text(status: &Option<i32>) -> String {
    match status {
        Some(code) => format!(" with exit code {code}"),
        None => " (killed by a signal)".into(),
    }
}

fn stderr_text(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!(":\n{}", stderr.trim_end())
    }
}

/// One key's problem, from a module that reports its own: a bad value is
/// a configuration error, a missing key says it is missing.
impl From<crate::problems::KeyProblem> for Error {
    fn from(p: crate::problems::KeyProblem) -> Error {
        match p.missing {
            false => Error::Config {
                key: p.key,
                message: p.message,
            },
            true => Error::Keys(vec![p]),
        }
    }
}

impl Error {
    /// Wraps an I/O error with what was being done and on which path.
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }

    /// A command-line mistake in `argument` of `command`.
    pub fn usage(
        command: &'static str,
        argument: impl Into<String>,
        message: impl Into<String>,
    ) -> Error {
        Error::Usage {
            argument: argument.into(),
            message: message.into(),
            command,
        }
    }

    /// A configuration error on `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// What to do next, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::PlanInvalid(_) => {
                "nothing was written; run again with -v and report the plan (--dry-run --message-format json)".into()
            }
            Error::Usage { command, .. } => {
                format!("a command-line mistake: see `cargo release-dist {command} --help`")
            }
            Error::Config { .. } => {
                "fix the key in Cargo.toml; docs/configuration.md lists every key and its default".into()
            }
            Error::Keys(problems) if problems.iter().all(|p| p.missing) => {
                "set them in Cargo.toml; docs/configuration.md and docs/packages.md list every key".into()
            }
            Error::Keys(_) => {
                "fix them in Cargo.toml; docs/configuration.md and docs/packages.md list every key".into()
            }
            Error::Metadata(_) => "check that Cargo.toml parses: run `cargo metadata --no-deps`".into(),
            Error::Package(_) => "choose a package with `-p NAME` or `--manifest-path PATH`".into(),
            Error::UnknownTarget { .. } => format!(
                "known targets are {}; Nix systems and Rust triples are accepted too",
                crate::platform::UnknownPlatform::known()
            ),
            Error::NixMissing => "install Nix (on Debian: `apt-get install nix-bin`; elsewhere see https://nixos.org/download) or put `nix` on PATH".into(),
            Error::NotAFlake { .. } => "add a flake.nix (see examples/hello), or set `flake` in [package.metadata.release-dist]".into(),
            Error::FlakeUntracked { repo, .. } => format!(
                "nix copies only tracked files of a git repository: run `git -C {} add -N flake.nix` (and add the files it uses)",
                repo.display()
            ),
            Error::NotGit { .. } => "build.json records the git commit: run `git init && git add -A && git commit -m init` (nix only sees files git tracks)".into(),
            Error::NoCommit { .. } => "build.json records the commit it was built from: commit first (`git add -A && git commit`)".into(),
            Error::NoDockerShape { .. } => "define one of the two in flake.nix, set `docker-attr` in [package.metadata.release-dist] to the attribute template that builds images, or `docker-attr = false` for none".into(),
            Error::MissingAttribute { kind, .. } => format!(
                "define it in flake.nix, or point `{kind}-attr` in [package.metadata.release-dist] at the attribute that builds it; remember that nix only sees files git tracks"
            ),
            Error::MissingArtifactAttribute { key, .. } => format!(
                "define it in flake.nix, or fix `{key}.attribute`; remember that nix only sees files git tracks"
            ),
            Error::Eval { .. } => "run the same `nix build` by hand (`--dry-run` prints it) to see the whole trace".into(),
            Error::BuildFailed { no_builder, .. } if !no_builder.is_empty() => format!(
                "no machine here builds {0}: declare a builder for it (`build -- --builders 'ssh://HOST {0}'`, docs/nix.md), or add it to nix's `extra-platforms` if this machine runs its builder",
                no_builder.join(" ")
            ),
            Error::BuildFailed { .. } => "the outputs that built are linked and listed in build.json; fix the failing derivation and run `build` again".into(),
            Error::OutputShape { .. } => "a static output must be a file or a directory with bin/; a docker output must be a docker-archive file; an extra artifact that is a directory needs `archive` (tar.gz, tar.xz or zip)".into(),
            Error::Command { .. } | Error::CommandOutput { .. } => "re-run with -v to see every command".into(),
            Error::Store { kind, .. } => match kind {
                StoreErrorKind::Auth => "check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or `profile=` in the URL, and that the key may write to the bucket".into(),
                StoreErrorKind::NoBucket => "create the bucket first (Garage: `garage bucket create NAME` and `garage bucket allow --read --write NAME --key KEY`)".into(),
                StoreErrorKind::Unreachable => "check `endpoint=` and `scheme=` in the URL, and that the server is up; re-running resumes where this stopped".into(),
                StoreErrorKind::Unavailable => "the server could not serve the request (a lost quorum?); re-run once it is healthy: finished objects are not uploaded again".into(),
                StoreErrorKind::Other => return None,
            },
            Error::StoreUrl(UrlError { kind: UrlKind::Registry, .. }) => "an image registry is docker://HOST[:PORT]/NAME, lowercase, without a tag; add ?tls=false for a plain-HTTP registry that is not on loopback".into(),
            Error::StoreUrl(_) => "store URLs take nix copy's parameters: s3://BUCKET?endpoint=HOST:PORT&region=R&scheme=http&compression=zstd&secret-key=PATH, or file:///DIR".into(),
            Error::PackagesKey { .. } => "export an unprotected key with `gpg --armor --export-secret-keys KEYID > packages.asc` and pass --packages-key packages.asc, or put its text in $RELEASE_DIST_PACKAGES_KEY".into(),
            Error::SignatureKey { kind: "public", .. } => "give the public key's file: the minisign.pub `minisign -G` wrote, or `gpg --armor --export KEYID`'s output".into(),
            Error::SignatureKey { kind: "minisign", .. } => "make one with `minisign -G -W -p release.pub -s release.key` (or an encrypted one, its password in $RELEASE_DIST_MINISIGN_PASSWORD) and pass --minisign-key release.key, or put its text in $RELEASE_DIST_MINISIGN_KEY".into(),
            Error::SignatureKey { .. } => "export an unprotected key with `gpg --armor --export-secret-keys KEYID > release.asc` and pass --openpgp-key release.asc, or put its text in $RELEASE_DIST_OPENPGP_KEY".into(),
            Error::Key { .. } => "a Nix key file holds `name:base64`: make one with `nix-store --generate-binary-cache-key NAME key.sec key.pub`".into(),
            Error::InvalidTag { .. } => "a tag is 1 to 128 of A-Z a-z 0-9 _ . - and starts with a letter, digit or _ (an OCI tag); stable releases are vX.Y.Z".into(),
            Error::NoBuild { .. } => "run `cargo release-dist build` first; publish reads what it made from build.json".into(),
            Error::IncompleteBuild { .. } => "fix the failing outputs and run `cargo release-dist build` again: a release is published whole or not at all".into(),
            Error::ArtifactChanged { .. } => "run `cargo release-dist build` again so build.json matches what is on disk".into(),
            Error::DirtyStable { .. } => "commit or stash the changes, then `build` and `publish` again; or publish with a non-stable --tag".into(),
            Error::StableTagExists { .. } => "stable releases are immutable: publish a new version, or pass --force if you really mean to replace it".into(),
            Error::Image { .. } => "rebuild the image (`cargo release-dist build`); the archive must be a docker-archive as dockerTools writes it, whole".into(),
            Error::ImageArch { platform, .. } => format!(
                "the image attribute for {platform} builds for another platform: build it with the {} package set (dockerTools takes the architecture from pkgs.go.GOARCH)",
                platform.nix_system()
            ),
            Error::RegistryAuth { .. } => "fix $DOCKER_AUTH or ~/.docker/config.json (`docker login HOST` writes it), or unset it to push anonymously".into(),
            Error::RegistryScope { repository, .. } => format!("these credentials may not push to {repository}: use an account or token allowed to (a Docker Hub access token with Read & Write, a GHCR token with write:packages, a Forgejo token with write:package)"),
            Error::Registry { kind, .. } => match kind {
                StoreErrorKind::Auth => "check the credentials: $DOCKER_AUTH (a docker config.json), or `docker login HOST` for ~/.docker/config.json, and that they may push to this repository".into(),
                StoreErrorKind::Unreachable => "check the host and port in docker://HOST[:PORT]/NAME and that the registry is up (`?tls=false` for plain HTTP); re-running skips the blobs already pushed".into(),
                StoreErrorKind::Unavailable => "the registry failed after retries; re-run once it is healthy: blobs already pushed are skipped, and no tag was moved".into(),
                StoreErrorKind::NoBucket | StoreErrorKind::Other => "no tag was moved; re-run with -v for the requests".into(),
            },
            Error::NoSigningKey { openpgp: true, .. } => "make one with `gpg --quick-gen-key 'NAME <EMAIL>' ed25519 sign never`, export it with `gpg --armor --export-secret-keys KEYID > packages.asc`, and pass --packages-key packages.asc".into(),
            Error::NoSigningKey { .. } => "make a key with `nix-store --generate-binary-cache-key NAME key.sec key.pub` (or use an Ed25519 PKCS#8 PEM) and pass --signing-key key.sec".into(),
            Error::NoImages => "check `docker-attr` in [package.metadata.release-dist] and run `build` again, or publish the static half alone: `publish static`".into(),
            Error::NoSuchRelease { tags, .. } if tags.is_empty() => "nothing of that name was published there: check the name, `--from` and `--layout`".into(),
            Error::NoSuchRelease { tags, .. } => format!("it has: {}", tags.join(", ")),
            Error::VerifyFailed { .. } => "each problem above names the object; find out who changed it; `publish --force` with the same build uploads every file again".into(),
            Error::NotInStore { .. } => "build or substitute it first (`nix build`, `nix-store --realise`), or name an installable instead".into(),
            Error::NarMismatch { .. } => "the store path was changed after it was registered: run `nix-store --verify --check-contents --repair`".into(),
            Error::PushIncomplete { .. } => "fix the cause above and run the push again: what is in the cache is not uploaded twice".into(),
            Error::NoPins { .. } => "pin what to keep first: `build --push-cache` pins release/<tag>, `cache-toolchain` pins toolchain/…, `cache push --pin NAME` pins a name; `cache pin ls` lists them".into(),
            Error::Pin { .. } => "`cache pin ls` lists the pins; a name is letters, digits, `.`, `_`, `+`, `-`, in `/`-separated parts".into(),
            Error::StableRemoval { .. } => "pass --force if you really mean to remove it (users and scripts may depend on it)".into(),
            Error::DeleteRefused { .. } => "docker-registry deletes only with `storage: delete: enabled: true` in its config (or REGISTRY_STORAGE_DELETE_ENABLED=true); other registries need a token allowed to delete".into(),
            Error::Untrusted { .. } => "nothing was written on its account; find out who wrote it there (docs/threat-model.md says what each command accepts and every cap)".into(),
            Error::Rebuild(e) => e.hint(),
            Error::NotReproducedRelease { .. } => "nothing was copied; rebuild it on an independent builder (`cargo release-dist rebuild --on ssh-ng://BUILDER`), publish it to staging again, then promote; give --reproduced-key if another key signs the statements".into(),
            Error::Io { .. } | Error::Json { .. } => return None,
        })
    }

    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        use exit_codes::*;
        match self {
            Error::BuildFailed { .. } => BUILD_FAILED,
            Error::Usage { .. }
            | Error::Keys(_)
            | Error::Config { .. }
            | Error::Metadata(_)
            | Error::Package(_)
            | Error::UnknownTarget { .. }
            | Error::NotAFlake { .. }
            | Error::NotGit { .. }
            | Error::FlakeUntracked { .. }
            | Error::NoCommit { .. }
            | Error::MissingAttribute { .. }
            | Error::MissingArtifactAttribute { .. }
            | Error::NoDockerShape { .. }
            | Error::Eval { .. }
            | Error::OutputShape { .. }
            | Error::StoreUrl(_)
            | Error::Key { .. }
            | Error::SignatureKey { .. }
            | Error::PackagesKey { .. }
            | Error::NotInStore { .. }
            | Error::InvalidTag { .. }
            | Error::NoBuild { .. }
            | Error::IncompleteBuild { .. }
            | Error::ArtifactChanged { .. }
            | Error::DirtyStable { .. }
            | Error::StableTagExists { .. }
            | Error::Image { .. }
            | Error::ImageArch { .. }
            | Error::RegistryAuth { .. }
            | Error::NoSigningKey { .. }
            | Error::NoSuchRelease { .. }
            | Error::NoPins { .. }
            | Error::Pin { .. }
            | Error::StableRemoval { .. }
            | Error::NoImages => BAD_INPUT,
            Error::DeleteRefused { .. } => STORE,
            Error::VerifyFailed { .. }
            | Error::Untrusted { .. }
            | Error::NotReproducedRelease { .. } => VERIFY_FAILED,
            Error::NarMismatch { .. } | Error::PlanInvalid(_) => ENVIRONMENT,
            Error::Store { .. }
            | Error::Registry { .. }
            | Error::RegistryScope { .. }
            | Error::PushIncomplete { .. } => STORE,
            Error::Rebuild(e) => match e {
                RebuildError::Usage(_)
                | RebuildError::NotABuilder(_)
                | RebuildError::NotIndependent { .. } => BAD_INPUT,
                RebuildError::BuildFailed { .. } => BUILD_FAILED,
                RebuildError::NotReproduced { .. } => NOT_REPRODUCED,
            },
            Error::NixMissing
            | Error::Command { .. }
            | Error::CommandOutput { .. }
            | Error::Io { .. }
            | Error::Json { .. } => ENVIRONMENT,
        }
    }

    /// The whole message: this error, its causes, and the hint.
    pub fn render(&self) -> String {
        let mut out = format!("error: {self}");
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            out.push_str(&format!("\n  caused by: {cause}"));
            source = cause.source();
        }
        if let Some(hint) = self.hint() {
            out.push_str(&format!("\n  hint: {hint}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_printed_without_their_secrets() {
        for (given, shown) in [
            (
                "s3://b?endpoint=http://KEY:SECRET@h:3900",
                "s3://b?endpoint=http://***@h:3900",
            ),
            (
                "s3://KEY:SECRET@bucket?region=x",
                "s3://***@bucket?region=x",
            ),
            ("https://user:pass@host/path", "https://***@host/path"),
            ("docker://user:pass@reg:5000/x", "docker://***@reg:5000/x"),
            (
                "s3://b?password=hunter2&region=r",
                "s3://b?password=***&region=r",
            ),
            (
                "s3://b?Token=t&secret-key=/k.sec",
                "s3://b?Token=***&secret-key=/k.sec",
            ),
            (
                "s3://b?endpoint=http%3A%2F%2Fu%3Ap%40h",
                "s3://b?endpoint=http://***@h",
            ),
            ("/srv/releases", "/srv/releases"),
        ] {
            assert_eq!(redact_url(given), shown, "{given}");
            let e = UrlError {
                kind: UrlKind::Store,
                url: given.into(),
                reason: "r".into(),
            };
            for secret in ["SECRET", "pass@", "hunter2", "Token=t"] {
                assert!(!e.to_string().contains(secret), "{e}");
            }
        }
    }
}
