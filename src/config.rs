//! `[package.metadata.release-dist]`: the keys, their defaults, and templates.
//!
//! Parsing is pure: it takes the metadata tables as JSON values (as
//! `cargo_metadata` hands them over) and never touches the file system.
//! Package keys override workspace keys one by one. Unknown keys are refused,
//! so a typo is an error that names the key rather than a silent default.

use serde_json::{Map, Value};

use crate::artifacts::{ExtraArtifact, TARGET_PLACEHOLDERS};
use crate::errors::{Error, Result};
use crate::kinds::{LayerCompression, Layout};
use crate::platform::Platform;
use crate::problems::KeyProblem;

/// The table name under `package.metadata` and `workspace.metadata`.
pub const TABLE: &str = "release-dist";

/// The default attribute template of a target's static output.
pub const DEFAULT_STATIC_ATTR: &str = "packages.{system}.{name}";
/// The default attribute template of a target's docker-archive output.
pub const DEFAULT_DOCKER_ATTR: &str = "packages.{system}.{name}-docker";
/// The other usual shape, tried when `docker-attr` is not set and the
/// default is missing: `packages.<system>.docker.<name>`.
pub const NESTED_DOCKER_ATTR: &str = "packages.{system}.docker.{name}";

/// The default toolchain expression, relative to the package directory.
pub const DEFAULT_TOOLCHAIN: &str = "nix/toolchain.nix";

/// Every key this version understands, for the unknown-key error.
pub const KEYS: &[&str] = &[
    "name",
    "flake",
    "targets",
    "static-attr",
    "docker-attr",
    "nix-options",
    "toolchain",
    "cache",
    "static",
    "static-layout",
    "images",
    "image-tags",
    "image-compression",
    "toolchain-pins",
    "retention",
    "allow-dynamic",
    "smoke",
    "source-tarball",
    "cache-public-url",
    "artifacts",
    "packages",
    "public-url",
    "installer",
    "sbom",
    "archives",
    "archive-files",
    "custom-targets",
    "signatures",
    "require-reproduced",
];

/// How many releases of each class `gc` keeps: `None` keeps all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Stable releases (default: all).
    pub stable: Option<usize>,
    /// Extra releases (default: the last 20).
    pub extra: Option<usize>,
    /// Development releases (default: the last 10).
    pub development: Option<usize>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            stable: None,
            extra: Some(20),
            development: Some(10),
        }
    }
}

impl Retention {
    /// How many of `class` to keep.
    pub fn of(&self, class: crate::release::Class) -> Option<usize> {
        match class {
            crate::release::Class::Stable => self.stable,
            crate::release::Class::Extra => self.extra,
            crate::release::Class::Development => self.development,
        }
    }

    fn apply(&mut self, prefix: &str, value: &Value) -> Result<()> {
        let table = value.as_object().ok_or_else(|| {
            Error::config(
                prefix,
                "must be a table: { stable = \"all\", extra = 20, development = 10 }",
            )
        })?;
        for (key, v) in table {
            let full = format!("{prefix}.{key}");
            let count = match v {
                Value::String(s) if s == "all" => None,
                Value::Number(n) => Some(n.as_u64().ok_or_else(|| {
                    Error::config(&full, format!("must be a whole number or \"all\", not {v}"))
                })? as usize),
                _ => {
                    return Err(Error::config(
                        &full,
                        format!("must be a whole number or \"all\", not {v}"),
                    ))
                }
            };
            match key.as_str() {
                "stable" => self.stable = count,
                "extra" => self.extra = count,
                "development" => self.development = count,
                other => {
                    return Err(Error::config(
                        &full,
                        format!(
                        "unknown class `{other}`; the classes are stable, extra and development"
                    ),
                    ))
                }
            }
        }
        Ok(())
    }
}

/// The resolved configuration of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The artifact name: file names, image names, release names.
    pub name: String,
    /// The flake reference, relative to the package directory when it is a path.
    pub flake: String,
    /// The targets, in the order given.
    pub targets: Vec<Platform>,
    /// Attribute template of the static output.
    pub static_attr: String,
    /// Attribute template of the docker output; `None` when images are off.
    pub docker_attr: Option<String>,
    /// True when `docker-attr` was written in the configuration (no other
    /// shape is then tried).
    pub docker_attr_set: bool,
    /// Extra arguments for every `nix build`.
    pub nix_options: Vec<String>,
    /// The toolchain: a Nix file (relative to the package) or a flake installable.
    pub toolchain: String,
    /// The binary cache's store URL, when not given on the command line.
    pub cache: Option<String>,
    /// Static release destinations, when none is given on the command line.
    pub static_destinations: Vec<String>,
    /// The static layout: `df-dist-v1` (default) or `garage`.
    pub static_layout: Layout,
    /// Image destinations, when none is given on the command line.
    pub image_destinations: Vec<String>,
    /// Extra image tags of a stable release (`latest`, `major`).
    pub image_tags: Vec<String>,
    /// How image layers are pushed: gzip (default) or none.
    pub image_compression: LayerCompression,
    /// How many toolchain pins `cache-toolchain` keeps (default 3).
    pub toolchain_pins: usize,
    /// What `gc` keeps.
    pub retention: Retention,
    /// Targets whose static outputs may be dynamic ELF files.
    pub allow_dynamic: Vec<Platform>,
    /// Arguments of a smoke run of every target's binary after `build`.
    pub smoke: Option<Vec<String>>,
    /// Publish `<name>-<tag>.tar.gz` of the released commit (default true).
    pub source_tarball: bool,
    /// The URL Nix users substitute the cache from (for the install manifest).
    pub cache_public_url: Option<String>,
    /// Extra artifacts published beside the binaries.
    pub artifacts: Vec<ExtraArtifact>,
    /// The public URL the static destinations are served from
    /// (`https://dl.example.org`): the installer downloads from it.
    pub public_url: Option<String>,
    /// Publish `install.sh` with each release (default true).
    pub installer: bool,
    /// `promote` refuses a release without a reproducibility statement
    /// that checks and covers it, as with `--require-reproduced` (default
    /// false).
    pub require_reproduced: bool,
    /// Publish `<name>-<tag>.cdx.json`, a CycloneDX SBOM (default true).
    pub sbom: bool,
    /// Publish an archive per target (`<name>-<tag>-<rust triple>.tar.gz`,
    /// `.zip` for Windows) in this format; `None`: none (the default).
    pub archives: Option<crate::archive::ArchiveFormat>,
    /// Files of the project put in each target's archive beside the
    /// binaries (README, LICENSE), relative to the package's directory.
    pub archive_files: Vec<String>,
    /// The detached signatures every release gets (none by default).
    pub signatures: Vec<crate::kinds::SignatureKind>,
    /// `[package.metadata.binstall] pkg-url`, when the package has it (read
    /// so that `publish` can say when it does not point where releases go).
    pub binstall_pkg_url: Option<String>,
    /// Linux packages and their repositories (none by default).
    pub packages: crate::linuxpkg::PackagesConfig,
    /// What Cargo.toml says of the package (version, description…), for packages.
    pub cargo: crate::linuxpkg::CargoFacts,
}

impl Config {
    /// The configuration of a package with no `release-dist` table at all.
    pub fn defaults(package_name: &str) -> Config {
        Config {
            name: package_name.to_string(),
            flake: ".".into(),
            targets: Platform::defaults(),
            static_attr: DEFAULT_STATIC_ATTR.into(),
            docker_attr: Some(DEFAULT_DOCKER_ATTR.into()),
            docker_attr_set: false,
            nix_options: Vec::new(),
            toolchain: DEFAULT_TOOLCHAIN.into(),
            cache: None,
            static_destinations: Vec::new(),
            static_layout: Layout::DfDist,
            image_destinations: Vec::new(),
            image_tags: Vec::new(),
            image_compression: LayerCompression::Gzip,
            toolchain_pins: 3,
            retention: Retention::default(),
            allow_dynamic: Vec::new(),
            smoke: None,
            source_tarball: true,
            cache_public_url: None,
            artifacts: Vec::new(),
            public_url: None,
            installer: true,
            require_reproduced: false,
            sbom: true,
            archives: None,
            archive_files: Vec::new(),
            signatures: Vec::new(),
            binstall_pkg_url: None,
            packages: Default::default(),
            cargo: Default::default(),
        }
    }

    /// Reads the configuration from the package's and the workspace's
    /// `metadata` values (either may be `null`).
    pub fn from_metadata(package_name: &str, package: &Value, workspace: &Value) -> Result<Config> {
        let mut config = Config::defaults(package_name);
        for (scope, metadata) in [("workspace", workspace), ("package", package)] {
            let Some(table) = metadata.get(TABLE) else {
                continue;
            };
            let prefix = format!("{scope}.metadata.{TABLE}");
            let table = table
                .as_object()
                .ok_or_else(|| Error::config(&prefix, "must be a table"))?;
            config.apply(&prefix, table)?;
        }
        config.binstall_pkg_url = package["binstall"]["pkg-url"].as_str().map(String::from);
        config.validate()?;
        Ok(config)
    }

    /// Applies every key of `table`; all that are wrong are reported
    /// together (one alone as it is).
    fn apply(&mut self, prefix: &str, table: &Map<String, Value>) -> Result<()> {
        let mut errors = Vec::new();
        // Declared targets first: `targets` and the other keys may name them.
        let custom = table.get(CUSTOM_TARGETS).into_iter();
        let rest = table.iter().filter(|(k, _)| *k != CUSTOM_TARGETS);
        let ordered = custom
            .map(|v| (CUSTOM_TARGETS, v))
            .chain(rest.map(|(k, v)| (k.as_str(), v)));
        for (key, value) in ordered {
            let full = format!("{prefix}.{key}");
            if let Err(e) = self.apply_key(key, &full, value) {
                errors.push(e);
            }
        }
        together(errors)
    }

    /// Applies one key of the table (`full` is its whole name).
    fn apply_key(&mut self, key: &str, full: &str, value: &Value) -> Result<()> {
        let full = full.to_string();
        {
            match key {
                "name" => self.name = string(&full, value)?,
                "flake" => self.flake = string(&full, value)?,
                "static-attr" => self.static_attr = string(&full, value)?,
                "docker-attr" => {
                    self.docker_attr_set = true;
                    self.docker_attr = match value {
                        Value::Bool(false) => None,
                        _ => Some(string(&full, value).map_err(|_| {
                            Error::config(
                                &full,
                                "must be an attribute template string, or false to build no images",
                            )
                        })?),
                    }
                }
                "targets" => {
                    let list = strings(&full, value)?;
                    if list.is_empty() {
                        return Err(Error::config(&full, "must name at least one target"));
                    }
                    self.targets = list
                        .iter()
                        .map(|t| {
                            t.parse().map_err(|_| Error::UnknownTarget {
                                target: t.clone(),
                                origin: full.clone(),
                            })
                        })
                        .collect::<Result<_>>()?;
                }
                "nix-options" => self.nix_options = strings(&full, value)?,
                "toolchain" => self.toolchain = string(&full, value)?,
                "cache" => self.cache = Some(string(&full, value)?),
                "static" => self.static_destinations = strings(&full, value)?,
                "static-layout" => {
                    self.static_layout = string(&full, value)?
                        .parse::<Layout>()
                        .map_err(|_| Error::config(&full, "must be \"df-dist-v1\" or \"garage\""))?
                }
                "images" => self.image_destinations = strings(&full, value)?,
                "image-tags" => self.image_tags = strings(&full, value)?,
                "image-compression" => {
                    let v = string(&full, value)?;
                    self.image_compression = v
                        .parse::<LayerCompression>()
                        .map_err(|_| Error::config(&full, "must be \"gzip\" or \"none\""))?;
                }
                "toolchain-pins" => {
                    self.toolchain_pins = value.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                        Error::config(
                            &full,
                            format!("must be a whole number, at least 1, not {value}"),
                        )
                    })? as usize
                }
                "retention" => self.retention.apply(&full, value)?,
                crate::artifacts::KEY => self.artifacts = crate::artifacts::parse(&full, value)?,
                crate::linuxpkg::KEY => self.packages = crate::linuxpkg::parse(&full, value)?,
                "smoke" => self.smoke = Some(strings(&full, value)?),
                "cache-public-url" => self.cache_public_url = Some(string(&full, value)?),
                "public-url" => {
                    self.public_url = Some(string(&full, value)?.trim_end_matches('/').to_string())
                }
                "installer" => self.installer = boolean(&full, value)?,
                "require-reproduced" => self.require_reproduced = boolean(&full, value)?,
                "sbom" => self.sbom = boolean(&full, value)?,
                CUSTOM_TARGETS => custom_targets(&full, value)?,
                "archives" => self.archives = archives(&full, value)?,
                "archive-files" => self.archive_files = strings(&full, value)?,
                "signatures" => self.signatures = signature_kinds(&full, value)?,
                "source-tarball" => self.source_tarball = boolean(&full, value)?,
                "allow-dynamic" => {
                    self.allow_dynamic = strings(&full, value)?
                        .iter()
                        .map(|t| {
                            t.parse().map_err(|_| Error::UnknownTarget {
                                target: t.clone(),
                                origin: full.clone(),
                            })
                        })
                        .collect::<Result<_>>()?
                }
                other => {
                    return Err(Error::config(
                        full.clone(),
                        format!("unknown key `{other}`; known keys are {}", KEYS.join(", ")),
                    ))
                }
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        crate::release::validate_name(&self.name)?;
        for t in &self.image_tags {
            if t != "major" && !crate::oci::document::is_tag(t) {
                return Err(Error::config(
                    "image-tags",
                    format!(
                        "`{}` is not a tag: \"major\", or 1 to 128 of letters, digits, `_`, `.` and `-`, starting with a letter, digit or `_`",
                        t.escape_debug()
                    ),
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for t in &self.targets {
            if !seen.insert(t) {
                return Err(Error::config("targets", format!("`{t}` is listed twice")));
            }
        }
        check_template("static-attr", &self.static_attr)?;
        self.check_artifacts()?;
        if let Some(docker) = &self.docker_attr {
            check_template("docker-attr", docker)?;
        }
        Ok(())
    }

    /// Extra artifacts' templates are valid and their files clash with no
    /// other file of a release.
    fn check_artifacts(&self) -> Result<()> {
        for a in &self.artifacts {
            check_template(&format!("{}.attribute", a.key), &a.attribute)?;
            let names = [
                a.file.clone().unwrap_or_default(),
                a.archive
                    .map(|f| format!("{}.{}", a.name, f.ext()))
                    .unwrap_or_default(),
            ];
            let taken = |f: &str| {
                f == self.name
                    || f == crate::kinds::SHA256SUMS
                    || crate::release::NAME_LEVEL_DOCUMENTS.contains(&f)
                    || f.ends_with(".sha256")
                    || f.ends_with(".intoto.jsonl")
            };
            if let Some(f) = names.iter().find(|f| !f.is_empty() && taken(f)) {
                return Err(Error::config(
                    format!("{}.name", a.key),
                    format!("the file `{f}` would clash with a file the release already has; pick another name"),
                ));
            }
        }
        Ok(())
    }

    /// The static-output attribute of `platform`.
    pub fn static_attr(&self, platform: Platform) -> String {
        expand(&self.static_attr, &self.name, platform)
    }

    /// The docker-output attribute of `platform`, if images are on.
    pub fn docker_attr(&self, platform: Platform) -> Option<String> {
        self.docker_attr
            .as_deref()
            .map(|t| expand(t, &self.name, platform))
    }
}

/// The key of the targets a project declares.
const CUSTOM_TARGETS: &str = "custom-targets";

/// `custom-targets`: `{ "linux/loong64" = { nix-system, rust-triple,
/// machine, bits, deb, rpm, qemu } }`, each declared for this process.
fn custom_targets(key: &str, value: &Value) -> Result<()> {
    let table = value
        .as_object()
        .ok_or_else(|| Error::config(key, "must be a table of targets (\"os/arch\" = { … })"))?;
    let mut errors = Vec::new();
    for (oci, spec) in table {
        let full = format!("{key}.\"{oci}\"");
        if let Err(e) = custom_target(&full, oci, spec) {
            errors.push(e);
        }
    }
    together(errors)
}

fn custom_target(full: &str, oci: &str, spec: &Value) -> Result<()> {
    const FIELDS: [&str; 7] = [
        "nix-system",
        "rust-triple",
        "machine",
        "bits",
        "deb",
        "rpm",
        "qemu",
    ];
    let spec = spec
        .as_object()
        .ok_or_else(|| Error::config(full, "must be a table: nix-system, rust-triple, machine, bits; deb, rpm and qemu if it has them"))?;
    if let Some(k) = spec.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(Error::config(
            format!("{full}.{k}"),
            format!("is not a key of a target: {}", FIELDS.join(", ")),
        ));
    }
    let text = |k: &str| {
        spec.get(k)
            .map(|v| string(&format!("{full}.{k}"), v))
            .transpose()
    };
    let needed =
        |k: &str| text(k)?.ok_or_else(|| Error::config(format!("{full}.{k}"), "is missing"));
    let bits = match spec.get("bits").and_then(Value::as_u64) {
        Some(b @ (32 | 64)) => b as u8,
        _ => return Err(Error::config(format!("{full}.bits"), "must be 32 or 64")),
    };
    let packages = match (text("deb")?, text("rpm")?) {
        (Some(d), Some(r)) => Some((d, r)),
        (None, None) => None,
        _ => {
            return Err(Error::config(
                full,
                "names deb and rpm architectures together, or neither",
            ))
        }
    };
    let target = crate::platform::CustomTarget {
        oci: oci.to_string(),
        nix_system: needed("nix-system")?,
        rust_triple: needed("rust-triple")?,
        machine: (needed("machine")?, bits),
        packages,
        qemu: text("qemu")?,
    };
    Platform::declare(&target)
        .map(drop)
        .map_err(|why| Error::config(full, why))
}

/// `signatures`: a list of `openpgp` and `minisign`.
fn signature_kinds(key: &str, value: &Value) -> Result<Vec<crate::kinds::SignatureKind>> {
    use crate::kinds::SignatureKind as Kind;
    let mut out = Vec::new();
    for s in strings(key, value)? {
        let kind = Kind::parse(&s).ok_or_else(|| {
            Error::config(
                key,
                format!("`{s}` is not a signature: {}", Kind::NAMES.join(", ")),
            )
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

/// `archives`: true (tar.gz), false, or a format.
fn archives(key: &str, value: &Value) -> Result<Option<crate::archive::ArchiveFormat>> {
    match value {
        Value::Bool(false) => Ok(None),
        Value::Bool(true) => Ok(Some(crate::archive::ArchiveFormat::TarGz)),
        Value::String(s) => s.parse().map(Some).map_err(|_| {
            let formats = crate::archive::ArchiveFormat::NAMES.join(", ");
            Error::config(
                key,
                format!("`{s}` is not an archive format: true, false, {formats}"),
            )
        }),
        other => Err(Error::config(
            key,
            format!("must be true, false or a format (tar.gz, tar.xz, zip), not {other}"),
        )),
    }
}

fn boolean(key: &str, value: &Value) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| Error::config(key, format!("must be true or false, not {value}")))
}

fn string(key: &str, value: &Value) -> Result<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::config(key, format!("must be a string, not {value}")))
}

fn strings(key: &str, value: &Value) -> Result<Vec<String>> {
    value
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .ok_or_else(|| Error::config(key, format!("must be an array of strings, not {value}")))
}

fn check_template(key: &str, template: &str) -> Result<()> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| Error::config(key, format!("`{template}` has an unclosed `{{`")))?;
        let placeholder = &after[..close];
        if placeholder != "name" && !TARGET_PLACEHOLDERS.contains(&placeholder) {
            return Err(Error::config(
                key,
                format!(
                    "`{template}` uses the unknown placeholder `{{{placeholder}}}`; known ones are {}",
                    std::iter::once(&"name").chain(TARGET_PLACEHOLDERS).map(|p| format!("{{{p}}}")).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        rest = &after[close + 1..];
    }
    if template.trim().is_empty() {
        return Err(Error::config(key, "must not be empty"));
    }
    Ok(())
}

/// Fills a checked template for one target.
pub fn expand(template: &str, name: &str, platform: Platform) -> String {
    template
        .replace("{name}", name)
        .replace("{system}", platform.nix_system())
        .replace("{os}", platform.os())
        .replace("{arch}", platform.arch())
        .replace("{variant}", platform.variant().unwrap_or(""))
        .replace("{triple}", platform.rust_triple())
        .replace("{docker}", &platform.docker_stem())
}

/// The errors of one configuration table as one: none is `Ok`, one is
/// itself, several configuration mistakes are [`Error::Keys`] listing each
/// (another kind of error, such as a file that cannot be read, comes first).
fn together(mut errors: Vec<Error>) -> Result<()> {
    if errors.len() <= 1 {
        return errors.pop().map_or(Ok(()), Err);
    }
    let mut problems = Vec::new();
    for e in errors {
        match e {
            Error::Config { key, message } => problems.push(KeyProblem::invalid(key, message)),
            Error::UnknownTarget { target, origin } => problems.push(KeyProblem::invalid(
                origin,
                format!(
                    "unknown target `{target}`; known targets are {}",
                    crate::platform::UnknownPlatform::known()
                ),
            )),
            Error::Keys(more) => problems.extend(more),
            other => return Err(other),
        }
    }
    Err(Error::Keys(problems))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(package: Value) -> Result<Config> {
        Config::from_metadata("hello", &package, &Value::Null)
    }

    #[test]
    fn every_wrong_key_of_a_run_is_named_together() {
        let err = parse(json!({"release-dist": {
            "flake": 1,
            "targets": ["linux/riscv128"],
            "colour": "blue",
            "sbom": "yes",
        }}))
        .unwrap_err();
        let Error::Keys(problems) = &err else {
            panic!("not every key together: {err}");
        };
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "package.metadata.release-dist.colour",
                "package.metadata.release-dist.flake",
                "package.metadata.release-dist.sbom",
                "package.metadata.release-dist.targets",
            ]
        );
        assert!(
            err.to_string().starts_with("4 configuration keys to fix:"),
            "{err}"
        );
        assert!(
            err.to_string().contains("unknown target `linux/riscv128`"),
            "{err}"
        );
        // One mistake alone is reported as it always was.
        let one = parse(json!({"release-dist": {"flake": 1}})).unwrap_err();
        assert!(matches!(one, Error::Config { .. }), "{one}");
    }

    #[test]
    fn no_table_gives_the_defaults() {
        let c = parse(Value::Null).unwrap();
        assert_eq!(c, Config::defaults("hello"));
        let arm: Platform = "linux/arm/v6".parse().unwrap();
        assert_eq!(c.static_attr(arm), "packages.armv6l-linux.hello");
        assert_eq!(
            c.docker_attr(arm).unwrap(),
            "packages.armv6l-linux.hello-docker"
        );
        assert_eq!(c.targets.len(), 4);
    }

    #[test]
    fn package_keys_override_workspace_keys() {
        let ws = json!({"release-dist": {"flake": "../..", "name": "ws"}});
        let pkg = json!({"release-dist": {"name": "pkg", "targets": ["linux/arm64"], "docker-attr": false}});
        let c = Config::from_metadata("hello", &pkg, &ws).unwrap();
        assert_eq!(c.name, "pkg");
        assert_eq!(c.flake, "../..");
        assert_eq!(c.targets, vec!["linux/arm64".parse().unwrap()]);
        assert_eq!(c.docker_attr, None);
    }

    #[test]
    fn templates_expand_every_placeholder() {
        let arm: Platform = "linux/arm/v6".parse().unwrap();
        assert_eq!(
            expand(
                "{name}.{system}.{os}.{arch}.{variant}.{triple}.{docker}",
                "x",
                arm
            ),
            "x.armv6l-linux.linux.arm.v6.armv6l-unknown-linux-musleabihf.linux.arm"
        );
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                json!({"release-dist": {"targets": "linux/amd64"}}),
                "package.metadata.release-dist.targets",
            ),
            (
                json!({"release-dist": {"targts": []}}),
                "package.metadata.release-dist.targts",
            ),
            (
                json!({"release-dist": {"static-attr": "packages.{sytem}.x"}}),
                "static-attr",
            ),
            (
                json!({"release-dist": {"docker-attr": 3}}),
                "package.metadata.release-dist.docker-attr",
            ),
            (json!({"release-dist": {"name": "a b"}}), "name"),
            (
                json!({"release-dist": {"targets": []}}),
                "package.metadata.release-dist.targets",
            ),
            (
                json!({"release-dist": {"targets": ["linux/amd64", "x86_64-linux"]}}),
                "targets",
            ),
            (json!({"release-dist": 3}), "package.metadata.release-dist"),
        ];
        for (table, key) in cases {
            match parse(table.clone()) {
                Err(Error::Config { key: k, .. }) => assert_eq!(k, key, "for {table}"),
                other => panic!("{table}: expected a config error on {key}, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_declared_target_is_known_to_every_key_that_names_one() {
        let loong = json!({
            "nix-system": "loongarch64-linux",
            "rust-triple": "loongarch64-unknown-linux-gnu",
            "machine": "LoongArch",
            "bits": 64,
            "deb": "loong64",
            "rpm": "loongarch64",
            "qemu": "loongarch64"
        });
        let config = parse(json!({"release-dist": {
            "allow-dynamic": ["linux/loong64"],
            "targets": ["linux/amd64", "loongarch64-linux"],
            "custom-targets": {"linux/loong64": loong}
        }}))
        .unwrap();
        let p = config.targets[1];
        assert_eq!(p.to_string(), "linux/loong64");
        assert_eq!(
            (p.rust_triple(), p.machine()),
            ("loongarch64-unknown-linux-gnu", ("LoongArch", 64))
        );
        assert_eq!(p.package_arches(), Some(("loong64", "loongarch64")));
        assert_eq!(config.allow_dynamic, [p]);
        // Declared again (a second read of the configuration): the same target.
        parse(json!({"release-dist": {"custom-targets": {"linux/loong64": loong}}})).unwrap();
        // A spelling the table has is refused, and so is a missing field.
        let clash = json!({"nix-system": "x86_64-linux", "rust-triple": "x", "machine": "x86-64", "bits": 64});
        match parse(json!({"release-dist": {"custom-targets": {"linux/x64": clash}}})) {
            Err(Error::Config { key, message }) => {
                assert!(key.ends_with("custom-targets.\"linux/x64\""), "{key}");
                assert!(
                    message.contains("`x86_64-linux` is already the spelling of linux/amd64"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        let partial = json!({"nix-system": "mips-linux", "machine": "MIPS", "bits": 32});
        match parse(json!({"release-dist": {"custom-targets": {"linux/mips": partial}}})) {
            Err(Error::Config { key, .. }) => assert!(key.ends_with("rust-triple"), "{key}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_target_names_where_it_was_written() {
        let err = parse(json!({"release-dist": {"targets": ["linux/mips64le"]}})).unwrap_err();
        match err {
            Error::UnknownTarget { target, origin } => {
                assert_eq!(target, "linux/mips64le");
                assert_eq!(origin, "package.metadata.release-dist.targets");
            }
            other => panic!("{other:?}"),
        }
    }
}
