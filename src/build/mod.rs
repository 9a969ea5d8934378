//! `cargo release-dist build`: one nix build for every target, linked into a
//! platform tree, described by build.json.

mod binary;
mod extras;
mod plan;
mod progress;
mod run;
mod tree;

pub use plan::{Output, Plan};
pub use progress::Verbosity;
pub use run::{run, BuildOpts};
pub use tree::{docker_link, render_tree, static_dir};
