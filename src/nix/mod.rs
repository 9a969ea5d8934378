//! Everything this tool asks of Nix, behind one seam.
//!
//! `json` and `log` are pure: they read what nix prints. `store` runs the nix
//! processes. Nothing outside this module spawns nix.

mod json;
mod log;
mod rebuild;
mod store;

pub use json::{parse_path_infos, BuiltPath, PathInfo};
pub use log::{needed_system, strip_ansi, LogEvent, ACT_BUILD};
pub use rebuild::{differing_outputs, CheckRun};
pub use store::{Nix, NixVersion};
