//! Signed provenance: an in-toto Statement v1 with an SLSA Provenance v1
//! predicate ([`statement`]), in a DSSE envelope signed with Ed25519
//! ([`dsse`]), written as one line of `<name>-<tag>.intoto.jsonl`.

pub mod dsse;
pub mod reproduced;
pub mod statement;

pub use dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
pub use statement::{statement, Run, Statement, StatementSubject, Subject, SLSA_PROVENANCE_V1};

/// The Content-Type of an `.intoto.jsonl` bundle.
pub const CONTENT_TYPE_BUNDLE: &str = "application/vnd.in-toto.bundle";

/// The statement inside a bundle: its first DSSE envelope, checked against
/// `key` when there is one. The error says what is wrong with it.
pub fn read_statement(
    bytes: &[u8],
    key: Option<&crate::nixcache::PublicKey>,
) -> std::result::Result<Statement, String> {
    let payload = envelope_payload(bytes, key)?;
    serde_json::from_slice(&payload).map_err(|e| format!("the payload is not a statement: {e}"))
}

/// The payload of a bundle's first DSSE envelope, its signature checked
/// against `key` when there is one. The error says what is wrong with it.
pub fn envelope_payload(
    bytes: &[u8],
    key: Option<&crate::nixcache::PublicKey>,
) -> std::result::Result<Vec<u8>, String> {
    let line = String::from_utf8_lossy(bytes);
    let envelope: Envelope = line
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .ok_or("not a DSSE envelope")?;
    match key {
        Some(k) => dsse::verify(&envelope, k).map_err(|e| e.to_string()),
        None => base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            &envelope.payload,
        )
        .map_err(|e| format!("the payload is not base64: {e}")),
    }
}

/// The bundle's file name.
pub fn bundle_name(name: &str, tag: &str) -> String {
    format!("{name}-{tag}.intoto.jsonl")
}
