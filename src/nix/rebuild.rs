//! The nix calls `rebuild` makes: what another store holds, the
//! derivations copied there, a build there, one path's NAR read back from
//! there; and, without another store, a check build here
//! (`nix build --rebuild`).

use std::path::Path;

use super::json::{parse_path_infos, PathInfo};
use super::log::strip_ansi;
use super::store::Nix;
use crate::errors::{Error, Result};

/// What a check build here found: nix's exit code, and each output it
/// built differently (`output '…' differs from '….check'`), as
/// (output path, the path of the second build's bytes).
#[derive(Debug)]
pub struct CheckRun {
    /// Nix's exit code.
    pub status: Option<i32>,
    /// The outputs that differ.
    pub differing: Vec<(String, String)>,
    /// Every other error nix reported (a build that failed, an output it
    /// could not check): any one makes the check build a failure.
    pub errors: Vec<String>,
    /// The tail of what nix said, colours removed.
    pub log_tail: String,
}

impl Nix {
    /// `nix path-info --json --store STORE` of `paths`: the ones the store
    /// holds (a path it lacks is left out), with `ultimate` (built there).
    pub fn path_infos_in(&self, store: &str, paths: &[String]) -> Result<Vec<PathInfo>> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let cmd = self
            .nix()
            .args(["path-info", "--json", "--store", store])
            .args(paths);
        // Nix 2.8 answers for a path the store lacks with `"valid": false`
        // (newer ones with `null`), exit 0: `parse_path_infos` leaves it out.
        let out = cmd.read()?;
        parse_path_infos(&out).map_err(|source| Error::CommandOutput {
            command: cmd.display(),
            source,
        })
    }

    /// `nix copy --derivation --to STORE drvs`: the derivations and what
    /// they are made of (sources, input derivations), not their outputs.
    pub fn copy_derivations_to(&self, store: &str, drvs: &[String]) -> Result<()> {
        self.nix()
            .args(["copy", "--derivation", "--no-check-sigs", "--to", store])
            .args(drvs)
            .read()
            .map(drop)
    }

    /// Builds `drvs` in `store` (inputs it lacks are built or substituted
    /// by it), each line of nix's log to `on_line`. Returns nix's exit code
    /// and the tail of its log.
    pub fn build_in(
        &self,
        store: &str,
        drvs: &[String],
        mut on_line: impl FnMut(&str),
    ) -> Result<(Option<i32>, String)> {
        let cmd = self
            .nix()
            .args(["build", "--no-link", "--keep-going", "--store", store])
            .args(self.options())
            .args(drvs.iter().map(|d| self.drv_installable(d)));
        let (status, log) = logged(&cmd, &mut on_line)?;
        Ok((status, crate::process::tail(&log, 25)))
    }

    /// Writes the NAR of `path` as `store` holds it to `to`, refusing one
    /// past `cap` bytes.
    pub fn dump_path_from(&self, store: &str, path: &str, to: &Path, cap: u64) -> Result<()> {
        let cmd = self
            .nix()
            .args(["store", "dump-path", "--store", store, path]);
        cmd.write_stdout_to(to, cap)
    }

    /// `nix build --rebuild --keep-failed drvs` here: each output built
    /// again and compared by nix with what the store holds; a differing
    /// output's second build is kept as `<output>.check`.
    pub fn check_build(&self, drvs: &[String], mut on_line: impl FnMut(&str)) -> Result<CheckRun> {
        let cmd = self
            .nix()
            .args([
                "build",
                "--no-link",
                "--keep-going",
                "--rebuild",
                "--keep-failed",
            ])
            .args(self.options())
            .args(drvs.iter().map(|d| self.drv_installable(d)));
        let (status, log) = logged(&cmd, &mut on_line)?;
        Ok(CheckRun {
            status,
            differing: differing_outputs(&log),
            errors: other_errors(&log),
            log_tail: crate::process::tail(&log, 25),
        })
    }
}

/// Runs a build, each line of nix's log to `on_line`: its exit code and
/// the whole log, colours removed.
fn logged(
    cmd: &crate::process::Cmd,
    on_line: &mut impl FnMut(&str),
) -> Result<(Option<i32>, String)> {
    let mut log = String::new();
    let done = cmd.stream_stderr(|line| {
        on_line(line);
        log.push_str(line);
        log.push('\n');
    })?;
    Ok((done.status, strip_ansi(&log)))
}

/// The outputs nix's check build reports as different: `output '/nix/store/…'
/// differs from '/nix/store/….check'` (Nix 2.8 and later).
pub fn differing_outputs(log: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for line in log.lines() {
        let Some(rest) = line.split("output '").nth(1) else {
            continue;
        };
        let Some((output, rest)) = rest.split_once("' differs from '") else {
            continue;
        };
        let Some((check, _)) = rest.split_once('\'') else {
            continue;
        };
        let pair = (output.to_string(), check.to_string());
        if !found.contains(&pair) {
            found.push(pair);
        }
    }
    found
}

/// The errors of a check build other than a difference (and the summary
/// line `error: build of … failed` that follows any).
pub fn other_errors(log: &str) -> Vec<String> {
    log.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("error:"))
        .filter(|l| !l.contains("may not be deterministic") && !l.starts_with("error: build of '"))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_outputs_a_check_build_found_different() {
        // As Nix 2.8 prints it (with --keep-going, one line per derivation).
        let log = "building '/nix/store/x-stamp.drv'...\n\
            error: derivation '/nix/store/x-stamp.drv' may not be deterministic: output '/nix/store/abc-stamp' differs from '/nix/store/abc-stamp.check'\n\
            error: build of '/nix/store/x-stamp.drv' failed\n";
        assert_eq!(
            differing_outputs(log),
            [(
                "/nix/store/abc-stamp".to_string(),
                "/nix/store/abc-stamp.check".to_string()
            )]
        );
        assert!(differing_outputs("error: build of '/nix/store/x.drv' failed").is_empty());
        assert!(
            other_errors(log).is_empty(),
            "a difference is no other error"
        );
    }

    #[test]
    fn a_build_that_failed_beside_a_difference_is_an_error() {
        let log = "error: derivation '/nix/store/x-stamp.drv' may not be deterministic: output '/nix/store/abc-stamp' differs from '/nix/store/abc-stamp.check'\n\
            error: builder for '/nix/store/y-hello.drv' failed with exit code 1;\n\
            error: build of '/nix/store/x-stamp.drv', '/nix/store/y-hello.drv' failed\n";
        assert_eq!(
            other_errors(log),
            ["error: builder for '/nix/store/y-hello.drv' failed with exit code 1;"]
        );
        assert_eq!(
            other_errors("error: some outputs of '/nix/store/y.drv' are not valid, so checking is not possible").len(),
            1
        );
    }
}
