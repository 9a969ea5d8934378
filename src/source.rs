//! Where a build came from: the git commit, its cleanliness, its tag, and the
//! flake inputs pinned in flake.lock.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::errors::{Error, Result};

/// The source of a build, as recorded in build.json.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// The full commit hash of HEAD.
    pub commit: String,
    /// Whether the work tree differs from HEAD (untracked files included).
    pub dirty: bool,
    /// A tag pointing at HEAD, if any.
    pub tag: Option<String>,
    /// The commit's time (seconds since 1970), for reproducible archives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<i64>,
    /// The flake.lock inputs, in the lock file's order.
    pub flake_inputs: Vec<FlakeInput>,
}

/// One locked flake input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlakeInput {
    /// The lock file's node name (`nixpkgs`, `nixpkgs_2`…).
    pub name: String,
    /// The locked narHash.
    pub nar_hash: Option<String>,
    /// The whole `locked` attribute set (type, owner, repo, rev, url…).
    pub locked: Value,
}

/// The top directory of the git repository holding `dir`.
pub fn git_toplevel(dir: &Path) -> Result<PathBuf> {
    crate::git::toplevel(dir)
}

/// Reads the git state of `repo_dir` and the flake.lock in `flake_dir`;
/// `ignored` directories (the cargo target directory) do not make it dirty.
pub fn read(repo_dir: &Path, flake_dir: &Path, ignored: &[PathBuf]) -> Result<Source> {
    let git = |args: &[&str]| crate::git::run(repo_dir, args);
    let commit = git(&["rev-parse", "--verify", "HEAD"]).map_err(|_| Error::NoCommit {
        repo: repo_dir.to_path_buf(),
    })?;
    let dirty = !crate::git::uncommitted(repo_dir, ignored)?.is_empty();
    let tag = git(&["tag", "--points-at", "HEAD", "--sort=-creatordate"])?
        .lines()
        .next()
        .map(str::to_string);
    let lock_path = flake_dir.join("flake.lock");
    let flake_inputs = match std::fs::read_to_string(&lock_path) {
        Ok(text) => parse_flake_lock(&text).map_err(|source| Error::Json {
            path: lock_path,
            source,
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("cannot read", lock_path)(e)),
    };
    Ok(Source {
        commit_time: crate::git::commit_time(repo_dir, &commit),
        commit,
        dirty,
        tag,
        flake_inputs,
    })
}

/// The locked inputs of a flake.lock document: every node but the root.
pub fn parse_flake_lock(text: &str) -> serde_json::Result<Vec<FlakeInput>> {
    #[derive(Deserialize)]
    struct Lock {
        nodes: serde_json::Map<String, Value>,
        root: String,
    }
    let lock: Lock = serde_json::from_str(text)?;
    Ok(lock
        .nodes
        .into_iter()
        .filter(|(name, _)| *name != lock.root)
        .filter_map(|(name, node)| {
            let locked = node.get("locked")?.clone();
            Some(FlakeInput {
                nar_hash: locked
                    .get("narHash")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                name,
                locked,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_inputs_of_a_lock_file() {
        let text = r#"{
          "nodes": {
            "nixpkgs": {"locked": {"lastModified": 1700000000, "narHash": "sha256-AAAA", "owner": "NixOS", "repo": "nixpkgs", "rev": "abc", "type": "github"},
                        "original": {"owner": "NixOS", "repo": "nixpkgs", "type": "github"}},
            "root": {"inputs": {"nixpkgs": "nixpkgs"}}
          },
          "root": "root",
          "version": 7
        }"#;
        let inputs = parse_flake_lock(text).unwrap();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].name, "nixpkgs");
        assert_eq!(inputs[0].nar_hash.as_deref(), Some("sha256-AAAA"));
        assert_eq!(inputs[0].locked["rev"], "abc");
    }

    #[test]
    fn a_lock_without_inputs_is_empty() {
        let text = r#"{"nodes":{"root":{}},"root":"root","version":7}"#;
        assert!(parse_flake_lock(text).unwrap().is_empty());
    }
}
