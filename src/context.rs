//! The resolved global options of one run: what the command line asked for,
//! with the project found.

use std::path::PathBuf;

use serde::Serialize;

use crate::project::Project;

pub use crate::kinds::Verbosity;

pub use crate::kinds::MessageFormat;

/// Everything a command needs besides its own options.
#[derive(Debug)]
pub struct Context {
    /// The package being released.
    pub project: Project,
    /// Print, do nothing.
    pub dry_run: bool,
    /// How much to say on standard error.
    pub verbosity: Verbosity,
    /// How to print the result on standard output.
    pub format: MessageFormat,
    /// A dry run's scratch directory: what a command makes to plan (source
    /// tarball, SBOM, packages, converted images) goes there and is gone
    /// when the run ends, so that a dry run leaves nothing behind.
    pub scratch: Option<tempfile::TempDir>,
}

/// The async runtime every command's I/O runs on (one builder for all).
pub fn runtime() -> crate::errors::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(crate::errors::Error::io(
            "cannot start the async runtime",
            "tokio",
        ))
}

impl Context {
    /// Where a command writes what it makes: `target/release-dist`, or a
    /// dry run's scratch directory.
    pub fn output_dir(&self) -> PathBuf {
        match &self.scratch {
            Some(dir) => dir.path().to_path_buf(),
            None => self.dist_dir(),
        }
    }

    /// `target/release-dist`.
    pub fn dist_dir(&self) -> PathBuf {
        self.project.dist_dir()
    }

    /// Prints a command's result: `human` as text, or `json` as JSON.
    pub fn print_result<T: Serialize>(&self, human: &str, json: &T) {
        match self.format {
            // The result is the command's output: printed even with -q,
            // which silences only progress on standard error.
            MessageFormat::Human => print!("{human}"),
            MessageFormat::Json => match serde_json::to_string(json) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("error: cannot print the result as JSON: {e}"),
            },
        }
    }
}
