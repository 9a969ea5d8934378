//! The one seam for git: every git command the tool runs goes through
//! here, on [`crate::process::Cmd`].

use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};
use crate::process::Cmd;

/// `git ARGS` in `dir`: its standard output, trimmed.
pub fn run(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Cmd::new("git").args(args).dir(dir).read()?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// The top directory of the git repository holding `dir`.
pub fn toplevel(dir: &Path) -> Result<PathBuf> {
    let out = Cmd::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .dir(dir)
        .read()
        .map_err(|_| Error::NotGit {
            dir: dir.to_path_buf(),
        })?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim()))
}

/// `git archive --format=tar --prefix=<prefix>/ <commit>` run in `dir`:
/// the tar's bytes (deterministic for a commit: git sets every mtime to the
/// commit's time).
pub fn archive_tar(dir: &Path, commit: &str, prefix: &str) -> Result<Vec<u8>> {
    Cmd::new("git")
        .args(["archive", "--format=tar"])
        .arg(format!("--prefix={prefix}/"))
        .arg(commit)
        .dir(dir)
        .read()
}

/// Whether git tracks `file` in `dir`.
pub fn is_tracked(dir: &Path, file: &str) -> bool {
    run(dir, &["ls-files", "--error-unmatch", file]).is_ok()
}

/// The committer time of `commit`, in seconds since the epoch.
pub fn commit_time(dir: &Path, commit: &str) -> Option<i64> {
    run(dir, &["show", "-s", "--format=%ct", commit])
        .ok()?
        .parse()
        .ok()
}

/// The `git status` arguments that leave `ignored` out (the cargo target
/// directory, where this tool writes): a repository without a `.gitignore`
/// for it must not count the tool's own output as uncommitted changes.
/// Directories outside `repo_dir` need no pathspec.
pub fn status_args(repo_dir: &Path, ignored: &[PathBuf]) -> Vec<String> {
    let mut args: Vec<String> = [
        "status",
        "--porcelain",
        "--untracked-files=normal",
        "--",
        ".",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let repo = std::fs::canonicalize(repo_dir).unwrap_or_else(|_| repo_dir.to_path_buf());
    for dir in ignored {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
        if let Ok(rel) = dir.strip_prefix(&repo) {
            if !rel.as_os_str().is_empty() {
                args.push(format!(":(exclude){}", rel.display()));
            }
        }
    }
    args
}

/// The lines of `git status --porcelain` in `repo_dir`, without `ignored`.
pub fn uncommitted(repo_dir: &Path, ignored: &[PathBuf]) -> Result<Vec<String>> {
    let args = status_args(repo_dir, ignored);
    let out = Cmd::new("git").args(args).dir(repo_dir).read()?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_directory_inside_the_repository_is_left_out_of_the_status() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(repo.path().join("pkg/target")).unwrap();
        let args = status_args(
            repo.path(),
            &[
                repo.path().join("pkg/target"),
                PathBuf::from("/elsewhere/target"),
            ],
        );
        assert_eq!(
            args,
            [
                "status",
                "--porcelain",
                "--untracked-files=normal",
                "--",
                ".",
                ":(exclude)pkg/target"
            ]
        );
    }
}
