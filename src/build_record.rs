//! `build.json`: what `build` made, for `publish` and for people.
//!
//! The schema is versioned by [`SCHEMA`]; fields are only ever added.

use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::source::Source;

/// The schema identifier written into every build.json.
pub const SCHEMA: &str = "cargo-release-dist/build/v1";

/// The whole build manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildRecord {
    /// [`SCHEMA`].
    pub schema: String,
    /// The tool that wrote it.
    pub tool: Tool,
    /// The artifact name.
    pub name: String,
    /// The flake reference the attributes were taken from.
    pub flake: String,
    /// `nix --version`'s major.minor.
    pub nix_version: String,
    /// The git source and flake inputs.
    pub source: Source,
    /// True when every requested output built.
    pub complete: bool,
    /// The artifacts that built.
    pub artifacts: Vec<Artifact>,
    /// The outputs that did not.
    pub failures: Vec<Failure>,
    /// The extra artifacts that built.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<ExtraFile>,
    /// The docker attribute template the images came from (the configured
    /// one, or the shape found when none was configured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_attr: Option<String>,
    /// The binary cache `build --push-cache` pushed the closures to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CacheRecord>,
    /// When the build started and finished (RFC 3339): the provenance's
    /// `startedOn` and `finishedOn`, so that publishing one build twice (or
    /// after a dry run) signs the same statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built: Option<BuildTimes>,
}

/// When a build ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildTimes {
    /// RFC 3339.
    pub started_on: String,
    /// RFC 3339.
    pub finished_on: String,
}

/// Where the release's closures are, for Nix users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheRecord {
    /// The URL to substitute from (the config's `cache-public-url`), when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The cache's public key, `name:base64`.
    pub public_key: String,
}

/// The tool and its version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tool {
    /// `cargo-release-dist`.
    pub name: String,
    /// The crate version.
    pub version: String,
}

impl Tool {
    /// This tool.
    pub fn current() -> Tool {
        Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// What kind of output an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A static binary.
    Static,
    /// A docker-archive image.
    Docker,
    /// An extra artifact (`[[package.metadata.release-dist.artifacts]]`).
    Extra,
}

impl Kind {
    /// `static` or `docker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Static => "static",
            Kind::Docker => "docker",
            Kind::Extra => "extra",
        }
    }
}

/// One built file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The target.
    pub platform: Platform,
    /// Static binary or image.
    pub kind: Kind,
    /// The flake attribute that built it.
    pub attribute: String,
    /// The link, relative to the release-dist directory (`static/linux/amd64/hello`).
    pub path: String,
    /// The store path of the derivation output.
    pub store_path: String,
    /// The file inside the store path, when the output is a directory (`bin/hello`).
    pub store_file: Option<String>,
    /// The derivation.
    pub drv_path: String,
    /// The NAR hash of the store path, as nix registered it.
    pub nar_hash: String,
    /// The sha256 of the file's bytes, hex.
    pub sha256: String,
    /// The file's size in bytes.
    pub size: u64,
    /// What the file is, for a static binary: its ELF facts, the checks
    /// relaxed, and the smoke run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryCheck>,
    /// What the derivation says it compiled, for a static binary: its
    /// `rustTarget` and `rustcVersion` attributes, when it has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rust: Option<RustBuild>,
}

/// The Rust side of a static binary's derivation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RustBuild {
    /// The target triple cargo built for (`armv7-unknown-linux-gnueabihf`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The rustc version (`1.63.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rustc: Option<String>,
}

impl RustBuild {
    /// The derivation attributes it is read from.
    pub const ATTRIBUTES: [&'static str; 2] = ["rustTarget", "rustcVersion"];

    /// From a derivation's attributes; `None` when it has neither.
    pub fn from_attrs(attrs: &std::collections::BTreeMap<String, String>) -> Option<RustBuild> {
        let target = attrs.get("rustTarget").cloned();
        let rustc = attrs.get("rustcVersion").cloned();
        (target.is_some() || rustc.is_some()).then_some(RustBuild { target, rustc })
    }
}

/// What `build` found out about a static binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryCheck {
    /// `elf`, `macho`, `pe`, `script` (starts with `#!`) or `data`; the
    /// three executable formats are checked.
    pub format: String,
    /// What the ELF header says (machine, linkage, ARM attributes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elf: Option<crate::elfcheck::ElfFacts>,
    /// What the Mach-O header says (CPU, minimum macOS, dylibs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub macho: Option<crate::machocheck::MachoFacts>,
    /// What the PE header says (machine, subsystem, DLLs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pe: Option<crate::pecheck::PeFacts>,
    /// Checks relaxed by the configuration (`allow-dynamic`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relaxed: Vec<String>,
    /// The smoke run, when one was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoke: Option<Smoke>,
}

/// One run of a built binary (`smoke` in the configuration, `build --smoke`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Smoke {
    /// The arguments.
    pub args: Vec<String>,
    /// `native`, `qemu-aarch64-static` (or the like), or `skipped`.
    pub runner: String,
    /// Its exit code (none when skipped or killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What it printed on standard output (the first 4 KiB).
    #[serde(default)]
    pub stdout: String,
    /// `passed`, `failed` or `skipped` (with why).
    pub result: String,
}

impl Artifact {
    /// The store file the link points at: `storePath[/storeFile]`.
    pub fn store_target(&self) -> String {
        match &self.store_file {
            Some(f) => format!("{}/{f}", self.store_path),
            None => self.store_path.clone(),
        }
    }
}

/// An extra artifact that built: one file, published beside the binaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraFile {
    /// The configured artifact's name.
    pub name: String,
    /// Its target, or none for a file of the whole release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The flake attribute that built it.
    pub attribute: String,
    /// The file, relative to the release-dist directory
    /// (`extra/hello-docs.tar.gz`, `extra/linux/amd64/hello.1`).
    pub path: String,
    /// The published file name.
    pub file: String,
    /// The store path of the derivation output.
    pub store_path: String,
    /// The derivation.
    pub drv_path: String,
    /// The NAR hash of the store path.
    pub nar_hash: String,
    /// The archive format, when the output was a directory archived here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// The sha256 of the file's bytes, hex.
    pub sha256: String,
    /// The file's size in bytes.
    pub size: u64,
}

/// An output that did not build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The target (none for an extra artifact of the whole release).
    pub platform: Option<Platform>,
    /// Static binary, image or extra artifact.
    pub kind: Kind,
    /// The extra artifact's name, for [`Kind::Extra`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact: Option<String>,
    /// The attribute that failed.
    pub attribute: String,
    /// The derivation, when evaluation got that far.
    pub drv_path: Option<String>,
    /// Nix's error, shortened.
    pub error: String,
}

impl Failure {
    /// `linux/amd64 static`, `release extra hello-docs`.
    pub fn label(&self) -> String {
        let slot = self
            .platform
            .map_or_else(|| "release".to_string(), |p| p.to_string());
        match &self.artifact {
            Some(name) => format!("{slot} extra {name}"),
            None => format!("{slot} {}", self.kind.as_str()),
        }
    }
}
