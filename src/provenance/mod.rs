//! Signed provenance: an in-toto Statement v1 with an SLSA Provenance v1
//! predicate ([`statement`]), in a DSSE envelope signed with Ed25519
//! ([`dsse`]), written as one line of `<name>-<tag>.intoto.jsonl`.

pub mod dsse;
pub mod statement;

pub use dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
pub use statement::{statement, Run, Statement, StatementSubject, Subject, SLSA_PROVENANCE_V1};

/// The Content-Type of an `.intoto.jsonl` bundle.
pub const CONTENT_TYPE_BUNDLE: &str = "application/vnd.in-toto.bundle";

/// The bundle's file name.
pub fn bundle_name(name: &str, tag: &str) -> String {
    format!("{name}-{tag}.intoto.jsonl")
}
