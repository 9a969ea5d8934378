//! Linux packages: `.deb` and `.rpm` from each target's static binary, and
//! the APT and YUM repository documents that list them. Everything here is
//! pure: bytes and text in, bytes and text out.

pub mod apt;
pub mod deb;
pub mod rpm;
pub mod version;
pub mod yum;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::platform::Platform;
use crate::problems::KeyProblem;

/// The configuration key.
pub const KEY: &str = "packages";

/// A package format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// Debian's `.deb`, in an APT repository.
    Deb,
    /// An `.rpm`, in a YUM/DNF repository.
    Rpm,
}

impl Format {
    /// `deb` or `rpm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Deb => "deb",
            Format::Rpm => "rpm",
        }
    }

    /// Parses `deb` or `rpm`.
    pub fn parse(s: &str) -> Option<Format> {
        match s.trim() {
            "deb" => Some(Format::Deb),
            "rpm" => Some(Format::Rpm),
            _ => None,
        }
    }

    /// Every format.
    pub const ALL: [Format; 2] = [Format::Deb, Format::Rpm];

    /// The file name's ending: `.deb`, `.rpm`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Deb => ".deb",
            Format::Rpm => ".rpm",
        }
    }

    /// The format of a package file, by its name; `None` for any other file.
    pub fn of_file(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| name.ends_with(f.extension()))
    }

    /// The package file's Content-Type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Deb => "application/vnd.debian.binary-package",
            Format::Rpm => "application/x-rpm",
        }
    }
}

/// What a built package's repository needs to say of it, by format.
#[derive(Debug, Clone)]
pub enum Facts {
    /// A deb: its `control` text (APT's stanza starts from it).
    Deb {
        /// The control file.
        control: String,
    },
    /// An rpm: what repository metadata says of it.
    Rpm(Box<rpm::RpmFacts>),
}

impl Facts {
    /// Its format.
    pub fn format(&self) -> Format {
        match self {
            Facts::Deb { .. } => Format::Deb,
            Facts::Rpm(_) => Format::Rpm,
        }
    }
}

/// One more file a package installs (a systemd unit, a man page, a config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The file, relative to the package directory.
    pub source: String,
    /// Where it is installed (absolute).
    pub dest: String,
    /// Its mode (default 0644).
    pub mode: u32,
    /// A configuration file the package manager keeps when the user edited it.
    pub conffile: bool,
}

/// `[package.metadata.release-dist.packages]`, as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackagesConfig {
    /// The formats to build (none: no packages, the default).
    pub formats: Vec<Format>,
    /// Overrides of what Cargo.toml says.
    pub name: Option<String>,
    /// The one-line summary.
    pub description: Option<String>,
    /// The licence (SPDX).
    pub license: Option<String>,
    /// The project's home page.
    pub homepage: Option<String>,
    /// `Name <email>`.
    pub maintainer: Option<String>,
    /// Debian section (default `utils`).
    pub section: Option<String>,
    /// The APT suite and YUM directory of releases that are not stable
    /// (default `unstable`).
    pub suite: Option<String>,
    /// More files to install.
    pub files: Vec<FileSpec>,
    /// The public URL of the static destinations (`https://dl.example.org`),
    /// for the `.repo` file and the install instructions.
    pub url: Option<String>,
    /// Architecture names per target, replacing the built-in ones.
    pub arch: ArchOverrides,
}

/// Per target (OCI spelling): (deb architecture, rpm architecture).
pub type ArchOverrides = BTreeMap<String, (Option<String>, Option<String>)>;

/// What Cargo.toml says of the package.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CargoFacts {
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: Option<String>,
    /// `license`.
    pub license: Option<String>,
    /// `homepage`, else `repository`.
    pub homepage: Option<String>,
    /// `authors`.
    pub authors: Vec<String>,
}

/// The resolved metadata of the packages of one release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageMeta {
    /// The package name (`hello`).
    pub name: String,
    /// The one-line summary.
    pub summary: String,
    /// The licence.
    pub license: String,
    /// The home page, if any.
    pub homepage: Option<String>,
    /// `Name <email>`.
    pub maintainer: String,
    /// Debian section.
    pub section: String,
}

/// The suite stable releases go to.
pub const STABLE_SUITE: &str = "stable";
/// The default suite of the other releases.
pub const DEFAULT_SUITE: &str = "unstable";

impl PackagesConfig {
    /// The suite of a release: `stable` for a stable one, else the configured one.
    pub fn suite(&self, stable: bool) -> &str {
        if stable {
            STABLE_SUITE
        } else {
            self.suite.as_deref().unwrap_or(DEFAULT_SUITE)
        }
    }

    /// The metadata, from the overrides, else Cargo.toml; `prefix` is the
    /// configuration key, for errors.
    pub fn resolve(
        &self,
        prefix: &str,
        default_name: &str,
        cargo: &CargoFacts,
    ) -> Result<PackageMeta, Vec<KeyProblem>> {
        let key = |k: &str| format!("{prefix}.{k}");
        let mut problems = Vec::new();
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| default_name.to_string());
        if let Err(why) = check_package_name(&name) {
            problems.push(KeyProblem::invalid(key("name"), why));
        }
        let mut need =
            |given: &Option<String>, cargo: &Option<String>, k: &str, cargo_key: &str| {
                let found = given.clone().or_else(|| cargo.clone());
                if found.is_none() {
                    problems.push(KeyProblem::missing(
                        key(k),
                        format!("is needed for packages: set it, or `{cargo_key}` in Cargo.toml"),
                    ));
                }
                found.unwrap_or_default()
            };
        let summary = need(
            &self.description,
            &cargo.description,
            "description",
            "description",
        );
        let license = need(&self.license, &cargo.license, "license", "license");
        let maintainer = need(
            &self.maintainer,
            &cargo.authors.first().cloned(),
            "maintainer",
            "authors",
        );
        let maintainer_given = !maintainer.is_empty();
        if maintainer_given && (!maintainer.contains('<') || !maintainer.ends_with('>')) {
            problems.push(KeyProblem::invalid(
                key("maintainer"),
                format!("`{maintainer}` must be `Name <email>` (Debian's Maintainer field)"),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PackageMeta {
            name,
            summary: summary.lines().next().unwrap_or("").trim().to_string(),
            license,
            homepage: self.homepage.clone().or_else(|| cargo.homepage.clone()),
            maintainer,
            section: self.section.clone().unwrap_or_else(|| "utils".into()),
        })
    }

    /// Debian's architecture for a target.
    pub fn deb_arch(&self, platform: Platform) -> Option<String> {
        match self.arch.get(&platform.to_string()) {
            Some((deb, _)) => deb.clone(),
            None => default_arch(platform).map(|(d, _)| d.to_string()),
        }
    }

    /// rpm's architecture for a target.
    pub fn rpm_arch(&self, platform: Platform) -> Option<String> {
        match self.arch.get(&platform.to_string()) {
            Some((_, rpm)) => rpm.clone(),
            None => default_arch(platform).map(|(_, r)| r.to_string()),
        }
    }
}

/// The built-in (deb, rpm) architectures, from the platform table.
/// `linux/arm/v6` is `armhf` as Raspberry Pi OS means it (ARMv6 hard-float;
/// Debian's own armhf is ARMv7, whose users can run the v6 binary too) and
/// Fedora's `armv6hl`; `linux/arm/v7` is Debian's own armhf and Fedora's
/// `armv7hl`. Packages are for Linux targets only.
pub fn default_arch(platform: Platform) -> Option<(&'static str, &'static str)> {
    platform.package_arches()
}

/// Debian's rule for a package name: lower-case letters, digits, `+`, `-`
/// and `.`, at least two, starting with a letter or digit.
pub fn check_package_name(name: &str) -> Result<(), String> {
    let ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a Debian package name: use lower-case letters, digits, `+`, `-` and `.`, at least two, starting with a letter or digit"))
    }
}

/// Reads `packages`: an array of formats, or a table with `formats`.
pub fn parse(full: &str, value: &Value) -> Result<PackagesConfig, KeyProblem> {
    let mut out = PackagesConfig::default();
    let table = match value {
        Value::Array(_) => {
            out.formats = parse_formats(full, value)?;
            return Ok(out);
        }
        Value::Object(t) => t,
        other => {
            return Err(KeyProblem::invalid(
                full,
                format!("must be an array of formats ([\"deb\", \"rpm\"]) or a table, not {other}"),
            ))
        }
    };
    for (k, v) in table {
        let key = format!("{full}.{k}");
        let text = || {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| KeyProblem::invalid(&key, format!("must be a string, not {v}")))
        };
        match k.as_str() {
            "formats" => out.formats = parse_formats(&key, v)?,
            "name" => out.name = Some(text()?),
            "description" => out.description = Some(text()?),
            "license" => out.license = Some(text()?),
            "homepage" => out.homepage = Some(text()?),
            "maintainer" => out.maintainer = Some(text()?),
            "section" => out.section = Some(text()?),
            "suite" => {
                let s = text()?;
                if s == STABLE_SUITE || s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                    return Err(KeyProblem::invalid(&key, format!("`{s}` must be a suite name (letters, digits, `-`, `_`, `.`), not `stable`, which is the stable releases'")));
                }
                out.suite = Some(s);
            }
            "files" => out.files = parse_files(&key, v)?,
            "url" => out.url = Some(text()?.trim_end_matches('/').to_string()),
            "arch" => out.arch = parse_arch(&key, v)?,
            other => {
                return Err(KeyProblem::invalid(
                    &key,
                    format!("unknown key `{other}`; known keys are formats, name, description, license, homepage, maintainer, section, suite, url, files, arch"),
                ))
            }
        }
    }
    Ok(out)
}

fn parse_formats(key: &str, v: &Value) -> Result<Vec<Format>, KeyProblem> {
    let items = v.as_array().ok_or_else(|| {
        KeyProblem::invalid(
            key,
            format!("must be an array of \"deb\" and \"rpm\", not {v}"),
        )
    })?;
    let mut out = Vec::new();
    for item in items {
        let f = item.as_str().and_then(Format::parse).ok_or_else(|| {
            KeyProblem::invalid(
                key,
                format!("{item} is not a package format; the formats are \"deb\" and \"rpm\""),
            )
        })?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

fn parse_files(key: &str, v: &Value) -> Result<Vec<FileSpec>, KeyProblem> {
    let items = v.as_array().ok_or_else(|| {
        KeyProblem::invalid(
            key,
            "must be an array of tables { source, dest, mode, conffile }",
        )
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let k = format!("{key}[{i}]");
            let t: &Map<String, Value> = item.as_object().ok_or_else(|| {
                KeyProblem::invalid(&k, "must be a table { source, dest, mode, conffile }")
            })?;
            let s = |f: &str| t.get(f).and_then(Value::as_str).map(str::to_string);
            let source = s("source")
                .ok_or_else(|| KeyProblem::missing(format!("{k}.source"), "is missing"))?;
            let dest =
                s("dest").ok_or_else(|| KeyProblem::missing(format!("{k}.dest"), "is missing"))?;
            if !dest.starts_with('/') || dest.ends_with('/') || dest.contains("/../") {
                return Err(KeyProblem::invalid(
                    format!("{k}.dest"),
                    format!("`{dest}` must be an absolute file path"),
                ));
            }
            let mode = match t.get("mode") {
                None => 0o644,
                Some(Value::String(m)) => u32::from_str_radix(m.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| {
                        KeyProblem::invalid(
                            format!("{k}.mode"),
                            format!("`{m}` is not an octal mode like \"0755\""),
                        )
                    })?,
                Some(other) => {
                    return Err(KeyProblem::invalid(
                        format!("{k}.mode"),
                        format!("must be an octal string like \"0755\", not {other}"),
                    ))
                }
            };
            let conffile = t.get("conffile").and_then(Value::as_bool).unwrap_or(false);
            Ok(FileSpec {
                source,
                dest,
                mode,
                conffile,
            })
        })
        .collect()
}

fn parse_arch(key: &str, v: &Value) -> Result<ArchOverrides, KeyProblem> {
    let t = v.as_object().ok_or_else(|| {
        KeyProblem::invalid(
            key,
            "must be a table: \"linux/arm/v6\" = { deb = \"armhf\", rpm = \"armv6hl\" }",
        )
    })?;
    let mut out = BTreeMap::new();
    for (target, names) in t {
        let k = format!("{key}.\"{target}\"");
        let platform: Platform = target.parse().map_err(|_| {
            KeyProblem::invalid(
                &k,
                format!(
                    "unknown target `{target}`; known targets are {}",
                    crate::platform::UnknownPlatform::known()
                ),
            )
        })?;
        let get = |f: &str| -> Result<Option<String>, KeyProblem> {
            match names.get(f) {
                None => Ok(None),
                Some(Value::String(s))
                    if !s.is_empty()
                        && s.chars().all(|c| {
                            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-'
                        }) =>
                {
                    Ok(Some(s.clone()))
                }
                Some(other) => Err(KeyProblem::invalid(
                    format!("{k}.{f}"),
                    format!("{other} is not an architecture name"),
                )),
            }
        };
        out.insert(platform.to_string(), (get("deb")?, get("rpm")?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const K: &str = "package.metadata.release-dist.packages";

    fn cargo() -> CargoFacts {
        CargoFacts {
            version: "0.1.0".into(),
            description: Some("Says hello".into()),
            license: Some("MIT".into()),
            homepage: None,
            authors: vec!["Jane Doe <jane@example.org>".into()],
        }
    }

    #[test]
    fn formats_alone_or_a_table_with_overrides() {
        assert_eq!(
            parse(K, &json!(["deb", "rpm", "deb"])).unwrap().formats,
            [Format::Deb, Format::Rpm]
        );
        let c = parse(
            K,
            &json!({"formats": ["rpm"], "name": "hello-cli", "suite": "edge",
                    "files": [{"source": "hello.toml", "dest": "/etc/hello.toml", "conffile": true},
                              {"source": "hello.service", "dest": "/lib/systemd/system/hello.service", "mode": "0644"}],
                    "arch": {"linux/arm/v6": {"deb": "armel"}}}),
        )
        .unwrap();
        assert_eq!(c.formats, [Format::Rpm]);
        assert_eq!(c.suite(false), "edge");
        assert_eq!(c.suite(true), "stable");
        assert!(c.files[0].conffile && c.files[1].mode == 0o644);
        let arm: Platform = "linux/arm/v6".parse().unwrap();
        assert_eq!(c.deb_arch(arm).as_deref(), Some("armel"));
        assert_eq!(
            c.rpm_arch(arm),
            None,
            "an override names both or leaves one out"
        );
        let meta = c.resolve(K, "hello", &cargo()).unwrap();
        assert_eq!(meta.name, "hello-cli");
        assert_eq!(meta.maintainer, "Jane Doe <jane@example.org>");
        let d = PackagesConfig::default();
        assert_eq!(d.deb_arch(arm).as_deref(), Some("armhf"));
        assert_eq!(d.rpm_arch(arm).as_deref(), Some("armv6hl"));
    }

    #[test]
    fn mistakes_name_their_key() {
        let err = |v: Value| parse(K, &v).unwrap_err().to_string();
        assert!(err(json!(["deb", "apk"])).contains("\"apk\" is not a package format"));
        assert!(err(json!({"colour": 1})).contains(&format!("{K}.colour")));
        assert!(err(json!({"suite": "stable"})).contains(&format!("{K}.suite")));
        assert!(err(json!({"files": [{"source": "a", "dest": "etc/a"}]})).contains("files[0].dest"));
        assert!(
            err(json!({"files": [{"source": "a", "dest": "/a", "mode": "999"}]}))
                .contains("files[0].mode")
        );
        assert!(err(json!({"arch": {"linux/arm/v6": {"deb": "ARM HF"}}}))
            .contains("arch.\"linux/arm/v6\".deb"));
        let bad_name = PackagesConfig {
            name: Some("Hello_World".into()),
            ..Default::default()
        };
        let e = crate::problems::describe(&bad_name.resolve(K, "x", &cargo()).unwrap_err());
        assert!(
            e.contains(&format!("{K}.name")) && e.contains("not a Debian package name"),
            "{e}"
        );
        let no_authors = CargoFacts {
            authors: vec![],
            ..cargo()
        };
        let e = crate::problems::describe(
            &PackagesConfig::default()
                .resolve(K, "hello", &no_authors)
                .unwrap_err(),
        );
        assert!(
            e.contains(&format!("missing configuration key `{K}.maintainer`"))
                && e.contains("`authors`"),
            "{e}"
        );
        // A new project's Cargo.toml lacks all three: one run names them all.
        let bare = CargoFacts {
            authors: vec![],
            license: None,
            description: None,
            ..cargo()
        };
        let all = PackagesConfig::default()
            .resolve(K, "hello", &bare)
            .unwrap_err();
        let keys: Vec<&str> = all.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                format!("{K}.description"),
                format!("{K}.license"),
                format!("{K}.maintainer")
            ]
        );
        assert!(all.iter().all(|p| p.missing));
    }
}
