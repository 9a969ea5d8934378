//! Running nix: finding it, evaluating, building, querying the store, GC roots.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::json::{parse_derivation_attrs, parse_path_infos, BuiltPath, PathInfo};
use super::log::strip_ansi;
use super::log::LogEvent;
use crate::errors::{Error, Result};
use crate::process::Cmd;

/// Enables flakes for this call only, so the user's nix.conf can stay as it is.
const FEATURES: [&str; 2] = ["--extra-experimental-features", "nix-command flakes"];

/// A nix version, as `nix --version` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct NixVersion(pub u32, pub u32);

impl NixVersion {
    /// Reads `nix (Nix) 2.8.0`.
    pub fn parse(text: &str) -> Option<NixVersion> {
        let version = text.split_whitespace().last()?;
        let mut parts = version.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(NixVersion(major, minor))
    }
}

/// The nix installation this run uses, with the options for every call.
#[derive(Debug, Clone)]
pub struct Nix {
    nix: PathBuf,
    nix_store: PathBuf,
    version: NixVersion,
    options: Vec<String>,
}

/// The outcome of a build that ran to the end.
#[derive(Debug)]
pub struct BuildRun {
    /// Nix's exit code.
    pub status: Option<i32>,
    /// What `--json` printed; empty when the build failed.
    pub built: Vec<BuiltPath>,
}

impl Nix {
    /// Finds `nix` and `nix-store` on PATH. `options` go into every build.
    pub fn locate(options: Vec<String>) -> Result<Nix> {
        let nix = which::which("nix").map_err(|_| Error::NixMissing)?;
        let nix_store = nix
            .parent()
            .map(|dir| dir.join("nix-store"))
            .filter(|p| p.exists())
            .or_else(|| which::which("nix-store").ok())
            .ok_or(Error::NixMissing)?;
        let out = Cmd::new(&nix).arg("--version").read()?;
        let text = String::from_utf8_lossy(&out);
        let version = NixVersion::parse(text.trim()).ok_or_else(|| Error::Command {
            command: "nix --version".into(),
            status: Some(0),
            stderr: format!("unexpected version text `{}`", text.trim()),
        })?;
        tracing::debug!(?version, nix = %nix.display(), "found nix");
        Ok(Nix {
            nix,
            nix_store,
            version,
            options,
        })
    }

    /// A nix for printing commands only (`--dry-run`): no lookup on PATH.
    pub fn for_display(options: Vec<String>) -> Nix {
        Nix {
            nix: "nix".into(),
            nix_store: "nix-store".into(),
            version: NixVersion(2, 8),
            options,
        }
    }

    /// The version found.
    pub fn version(&self) -> NixVersion {
        self.version
    }

    pub(super) fn nix(&self) -> Cmd {
        Cmd::new(&self.nix).args(FEATURES)
    }

    /// The options every build takes.
    pub(super) fn options(&self) -> &[String] {
        &self.options
    }

    /// The evaluation command: derivations and outputs of `installables`, built nothing.
    pub fn eval_command(&self, installables: &[String]) -> Cmd {
        self.nix()
            .args(["build", "--dry-run", "--json"])
            .args(&self.options)
            .args(installables)
    }

    /// The one build command over the derivations `drvs`.
    pub fn build_command(&self, drvs: &[String]) -> Cmd {
        self.nix()
            .args([
                "build",
                "--json",
                "--no-link",
                "--keep-going",
                "--log-format",
                "internal-json",
            ])
            .args(&self.options)
            .args(drvs.iter().map(|d| self.drv_installable(d)))
    }

    /// How this nix spells "the outputs of this derivation".
    pub(super) fn drv_installable(&self, drv: &str) -> String {
        if self.version >= NixVersion(2, 13) && drv.ends_with(".drv") {
            format!("{drv}^*")
        } else {
            drv.to_string()
        }
    }

    /// Evaluates `installables` in `dir`: one derivation each, in order.
    /// On failure, returns nix's error text (colours removed) as `Err(text)`.
    pub fn evaluate(
        &self,
        dir: &Path,
        installables: &[String],
    ) -> Result<std::result::Result<Vec<BuiltPath>, String>> {
        let cmd = self.eval_command(installables).dir(dir);
        let mut stderr = String::new();
        let done = cmd.stream_stderr(|line| {
            tracing::debug!("nix: {line}");
            stderr.push_str(line);
            stderr.push('\n');
        })?;
        if done.status != Some(0) {
            return Ok(Err(strip_ansi(&stderr)));
        }
        let built: Vec<BuiltPath> =
            serde_json::from_slice(&done.stdout).map_err(|source| Error::CommandOutput {
                command: cmd.display(),
                source,
            })?;
        if built.len() != installables.len() {
            return Err(Error::Command {
                command: cmd.display(),
                status: done.status,
                stderr: format!(
                    "asked for {} installables, nix answered {}",
                    installables.len(),
                    built.len()
                ),
            });
        }
        Ok(Ok(built))
    }

    /// Builds `drvs` in `dir` in one nix call, handing each log event to `on_event`.
    pub fn build(
        &self,
        dir: &Path,
        drvs: &[String],
        mut on_event: impl FnMut(LogEvent),
    ) -> Result<BuildRun> {
        let cmd = self.build_command(drvs).dir(dir);
        let done = cmd.stream_stderr(|line| on_event(LogEvent::parse(line)))?;
        let built = if done.status == Some(0) {
            serde_json::from_slice(&done.stdout).map_err(|source| Error::CommandOutput {
                command: cmd.display(),
                source,
            })?
        } else {
            Vec::new()
        };
        Ok(BuildRun {
            status: done.status,
            built,
        })
    }

    /// Which of `paths` are valid in the local store.
    pub fn valid_paths(&self, paths: &[String]) -> Result<HashSet<String>> {
        if paths.is_empty() {
            return Ok(HashSet::new());
        }
        let out = Cmd::new(&self.nix_store)
            .args(["--check-validity", "--print-invalid"])
            .args(paths)
            .read()?;
        let invalid: HashSet<String> = String::from_utf8_lossy(&out)
            .lines()
            .map(str::to_string)
            .collect();
        Ok(paths
            .iter()
            .filter(|p| !invalid.contains(*p))
            .cloned()
            .collect())
    }

    /// `nix path-info --json` of `paths`, in the order asked.
    pub fn path_info(&self, paths: &[String]) -> Result<Vec<PathInfo>> {
        let infos = self.path_infos(paths, false)?;
        let by_path: std::collections::HashMap<&str, &PathInfo> =
            infos.iter().map(|i| (i.path.as_str(), i)).collect();
        paths
            .iter()
            .map(|p| {
                by_path
                    .get(p.as_str())
                    .map(|i| (*i).clone())
                    .ok_or_else(|| Error::NotInStore { path: p.clone() })
            })
            .collect()
    }

    /// `nix path-info --json [-r]`: the paths, or their whole closure.
    /// Derivations are asked for with `--derivation` (without it nix answers
    /// for their outputs), other paths without (with it nix answers for
    /// their derivers).
    pub fn path_infos(&self, paths: &[String], recursive: bool) -> Result<Vec<PathInfo>> {
        let (drvs, others): (Vec<&String>, Vec<&String>) =
            paths.iter().partition(|p| p.ends_with(".drv"));
        let mut infos = Vec::new();
        for (group, derivation) in [(drvs, true), (others, false)] {
            if group.is_empty() {
                continue;
            }
            let mut cmd = self.nix().args(["path-info", "--json"]);
            if recursive {
                cmd = cmd.arg("--recursive");
            }
            if derivation {
                cmd = cmd.arg("--derivation");
            }
            let cmd = cmd.args(group);
            let out = cmd.read()?;
            infos.extend(
                parse_path_infos(&out).map_err(|source| Error::CommandOutput {
                    command: cmd.display(),
                    source,
                })?,
            );
        }
        let mut seen = std::collections::HashSet::new();
        infos.retain(|i| seen.insert(i.path.clone()));
        Ok(infos)
    }

    /// The attributes among `names` of each derivation in `drvs`, from one
    /// `nix show-derivation` (`nix derivation show` from Nix 2.15).
    pub fn derivation_attrs(
        &self,
        drvs: &[String],
        names: &[&str],
    ) -> Result<HashMap<String, BTreeMap<String, String>>> {
        if drvs.is_empty() {
            return Ok(HashMap::new());
        }
        let verb: &[&str] = if self.version >= NixVersion(2, 15) {
            &["derivation", "show"]
        } else {
            &["show-derivation"]
        };
        let cmd = self.nix().args(verb).args(drvs);
        let out = cmd.read()?;
        parse_derivation_attrs(&out, names).map_err(|source| Error::CommandOutput {
            command: cmd.display(),
            source,
        })
    }

    /// Builds (or substitutes) `installable` and returns its output paths.
    pub fn build_installable(&self, dir: &Path, installable: &str) -> Result<Vec<BuiltPath>> {
        let cmd = self
            .nix()
            .args(["build", "--json", "--no-link"])
            .args(&self.options)
            .arg(installable)
            .dir(dir);
        let out = cmd.read()?;
        serde_json::from_slice(&out).map_err(|source| Error::CommandOutput {
            command: cmd.display(),
            source,
        })
    }

    /// `nix-instantiate FILE`: the derivations a Nix file evaluates to.
    /// Flakes are switched on for the call, as for `nix build`: the
    /// template's nix/toolchain.nix reads the project's flake
    /// (`builtins.getFlake`).
    pub fn instantiate(&self, dir: &Path, file: &Path) -> Result<Vec<String>> {
        let out = Cmd::new(self.nix_instantiate())
            .args(["--extra-experimental-features", "nix-command flakes"])
            .arg(file)
            .dir(dir)
            .read()?;
        Ok(lines(&out))
    }

    /// `nix-store --realise`: builds or substitutes what is missing.
    pub fn realise(&self, drvs: &[String]) -> Result<Vec<String>> {
        let out = Cmd::new(&self.nix_store)
            .arg("--realise")
            .args(&self.options)
            .args(drvs)
            .read()?;
        Ok(lines(&out))
    }

    /// `nix-store -qR --include-outputs`: derivations, their sources, and the
    /// closures of every output, build-time dependencies included.
    pub fn requisites_with_outputs(&self, drvs: &[String]) -> Result<Vec<String>> {
        let out = Cmd::new(&self.nix_store)
            .args(["--query", "--requisites", "--include-outputs"])
            .args(drvs)
            .read()?;
        Ok(lines(&out))
    }

    fn nix_instantiate(&self) -> PathBuf {
        self.nix_store.with_file_name("nix-instantiate")
    }

    /// Makes `link` point at `store_path` and registers it as a GC root.
    pub fn add_root(&self, link: &Path, store_path: &str) -> Result<()> {
        Cmd::new(&self.nix_store)
            .arg("--realise")
            .arg(store_path)
            .arg("--add-root")
            .arg(link)
            .read()
            .map(drop)
    }
}

fn lines(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_versions() {
        assert_eq!(NixVersion::parse("nix (Nix) 2.8.0"), Some(NixVersion(2, 8)));
        assert_eq!(
            NixVersion::parse("nix (Nix) 2.24.10"),
            Some(NixVersion(2, 24))
        );
        assert_eq!(NixVersion::parse("garbage"), None);
    }

    #[test]
    fn names_derivation_outputs_as_the_version_wants() {
        let mut nix = Nix::for_display(vec![]);
        assert_eq!(
            nix.drv_installable("/nix/store/a-x.drv"),
            "/nix/store/a-x.drv"
        );
        nix.version = NixVersion(2, 18);
        assert_eq!(
            nix.drv_installable("/nix/store/a-x.drv"),
            "/nix/store/a-x.drv^*"
        );
    }

    #[test]
    fn build_command_is_one_json_call_with_options() {
        let nix = Nix::for_display(vec!["--max-jobs".into(), "4".into()]);
        assert_eq!(
            nix.build_command(&["/nix/store/a-x.drv".into(), "/nix/store/b-y.drv".into()]).display(),
            "nix --extra-experimental-features 'nix-command flakes' build --json --no-link --keep-going \
             --log-format internal-json --max-jobs 4 /nix/store/a-x.drv /nix/store/b-y.drv"
        );
    }
}
