//! Events: with `--message-format json`, every object written is reported
//! on standard error as one JSON line, as it happens (and every object
//! deleted, as `{"event":"deleted",…}`):
//!
//! ```text
//! {"event":"written","destination":"s3://releases at http://…","key":"df-dist-v1/hello/v1.0.0/SHA256SUMS"}
//! ```
//!
//! `destination` and `key` are spelled as in the plan (`--dry-run`), so a
//! script (or a test) can follow a run against its plan. Standard output
//! keeps its one JSON document.

use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the events on (for `--message-format json`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// One event line, fields in this order.
#[derive(serde::Serialize)]
struct Written<'a> {
    event: &'static str,
    destination: &'a str,
    key: &'a str,
}

/// The line for `key` written to `destination`.
fn written_line(destination: &str, key: &str) -> String {
    line("written", destination, key)
}

fn line(event: &'static str, destination: &str, key: &str) -> String {
    let event = Written {
        event,
        destination,
        key,
    };
    serde_json::to_string(&event).unwrap_or_default()
}

/// `key` was deleted from `destination` (`{"event":"deleted",…}`).
pub fn deleted(destination: impl FnOnce() -> String, key: &str) {
    if ENABLED.load(Ordering::Relaxed) {
        eprintln!("{}", line("deleted", &destination(), key));
    }
}

/// `key` was written to `destination` (named only when events are on, so
/// a run without them builds no names).
pub fn written(destination: impl FnOnce() -> String, key: &str) {
    if ENABLED.load(Ordering::Relaxed) {
        eprintln!("{}", written_line(&destination(), key));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_written_event_is_one_json_line_starting_with_its_kind() {
        let line = super::written_line("s3://b at http://h", "nar/x.nar.zst");
        assert_eq!(
            line,
            r#"{"event":"written","destination":"s3://b at http://h","key":"nar/x.nar.zst"}"#
        );
    }
}
