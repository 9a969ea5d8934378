//! Finding the package to release, its directories and its configuration,
//! through `cargo metadata`.

use std::path::{Path, PathBuf};

use cargo_metadata::MetadataCommand;

use crate::config::Config;
use crate::errors::{Error, Result};

/// The package being released.
#[derive(Debug, Clone)]
pub struct Project {
    /// The cargo package name.
    pub package: String,
    /// The directory holding its Cargo.toml.
    pub dir: PathBuf,
    /// The cargo target directory.
    pub target_dir: PathBuf,
    /// Its release-dist configuration.
    pub config: Config,
    /// True when there is no Cargo project ([`Project::detached`]).
    pub detached: bool,
}

impl Project {
    /// Loads the project at `manifest_path` (or the current directory),
    /// selecting `package` when the workspace has several.
    pub fn load(manifest_path: Option<&Path>, package: Option<&str>) -> Result<Project> {
        let mut cmd = MetadataCommand::new();
        cmd.no_deps();
        if let Some(path) = manifest_path {
            cmd.manifest_path(path);
        }
        let meta = cmd.exec().map_err(Error::Metadata)?;
        let members: Vec<_> = meta.workspace_packages();
        let chosen = match package {
            Some(name) => members
                .iter()
                .find(|p| p.name.as_str() == name)
                .ok_or_else(|| {
                    Error::Package(format!(
                        "package `{name}` is not in the workspace (members: {})",
                        members
                            .iter()
                            .map(|p| p.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?,
            None => {
                let root = meta.root_package();
                match (root, members.as_slice()) {
                    (Some(root), _) => members
                        .iter()
                        .find(|p| p.id == root.id)
                        .unwrap_or(&members[0]),
                    (None, [only]) => only,
                    (None, _) => {
                        return Err(Error::Package(format!(
                            "the workspace has {} packages and no root package",
                            members.len()
                        )))
                    }
                }
            }
        };
        let mut config =
            Config::from_metadata(&chosen.name, &chosen.metadata, &meta.workspace_metadata)?;
        config.cargo = crate::linuxpkg::CargoFacts {
            version: chosen.version.to_string(),
            description: chosen.description.clone(),
            license: chosen.license.clone(),
            homepage: chosen
                .homepage
                .clone()
                .or_else(|| chosen.repository.clone()),
            authors: chosen.authors.clone(),
        };
        let dir = chosen
            .manifest_path
            .parent()
            .map(|d| d.as_std_path().to_path_buf())
            .unwrap_or_default();
        Ok(Project {
            package: chosen.name.to_string(),
            dir,
            target_dir: meta.target_directory.into_std_path_buf(),
            config,
            detached: false,
        })
    }

    /// No Cargo project: `dir` alone, default configuration, and the
    /// system's temporary directory for the tool's own files. For commands
    /// that need no project once they are told where to write (`cache push
    /// --to`, as `nix copy` needs none).
    pub fn detached(dir: PathBuf) -> Project {
        Project {
            package: String::new(),
            dir,
            target_dir: std::env::temp_dir()
                .join(format!("cargo-release-dist-{}", std::process::id())),
            config: Config::defaults(""),
            detached: true,
        }
    }

    /// True when `dir` or one of its parents has a Cargo.toml, so that a
    /// failure to load it is a real error and not the absence of a project.
    pub fn is_inside_one(dir: &Path) -> bool {
        dir.ancestors().any(|d| d.join("Cargo.toml").is_file())
    }

    /// `target/release-dist`: where build links, build.json and local publishes go.
    pub fn dist_dir(&self) -> PathBuf {
        self.target_dir.join("release-dist")
    }
}
