//! What can stop `rebuild` (a leaf, so that the top-level error can carry
//! it without an import circle): each error and the next step.

use std::path::PathBuf;

/// What can stop a rebuild.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// A command-line mistake.
    #[error("rebuild: {0}")]
    Usage(String),
    /// `--on` names something nix cannot build in.
    #[error("`{0}` is not a Nix store that builds")]
    NotABuilder(String),
    /// The builder's copies of some outputs say nothing about a second build.
    #[error("{store} cannot rebuild {} independently: {why}: {}", if .paths.len() == 1 { "1 output".to_string() } else { format!("{} outputs", .paths.len()) }, .paths.join(", "))]
    NotIndependent {
        /// The builder, as shown.
        store: String,
        /// Why not.
        why: String,
        /// The outputs.
        paths: Vec<String>,
    },
    /// The second build failed (not a difference: it did not finish).
    #[error("the rebuild on {store} did not finish: nix exited with {status:?}\n{tail}")]
    BuildFailed {
        /// Where.
        store: String,
        /// Nix's exit code.
        status: Option<i32>,
        /// The tail of nix's log.
        tail: String,
    },
    /// Outputs came out different.
    #[error("{} of {release} did not build the same on {store}:\n{}", if .outputs.len() == 1 { "1 output".to_string() } else { format!("{} outputs", .outputs.len()) }, .outputs.join("\n"))]
    NotReproduced {
        /// `name:tag`.
        release: String,
        /// Where.
        store: String,
        /// One line per differing output: its name, store path and first
        /// differing file.
        outputs: Vec<String>,
        /// The report kept.
        report: PathBuf,
    },
}

impl RebuildError {
    /// The next step.
    pub fn hint(&self) -> String {
        match self {
            RebuildError::Usage(_) => "see `cargo release-dist rebuild --help`".into(),
            RebuildError::NotABuilder(_) => "give a store that builds: ssh-ng://HOST (a machine with nix-daemon), ssh://HOST (used as ssh-ng://), or a local store directory; a binary cache (s3://, https://, file://) only holds what was built".into(),
            RebuildError::NotIndependent { .. } => "a copy, or the release's own build, proves nothing: use a builder that has never held these outputs, or delete them there first (`nix store delete --store URL PATH…`) and run rebuild again".into(),
            RebuildError::BuildFailed { .. } => "re-run with -v to see nix's whole log; the builder needs what the build needs (its systems, its sandbox paths)".into(),
            RebuildError::NotReproduced { report, .. } => format!(
                "nothing says this release was reproduced; {} has every output's hashes and the diffoscope reports kept beside it; make the build deterministic (timestamps: SOURCE_DATE_EPOCH; no random bytes, host names or build paths in the output), build again, then rebuild",
                report.display()
            ),
        }
    }
}
