//! Times as RFC 3339 UTC strings (`2026-12-01T21:02:36Z`, whole seconds),
//! for the provenance, the image index and the release index; and the one
//! place that reads the clock.
//!
//! The formatting is chrono's (already in the tree through oci-client).

use std::time::{SystemTime, UNIX_EPOCH};

/// `secs` since the Unix epoch as RFC 3339 UTC (the epoch itself for an
/// instant chrono cannot represent).
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A time as RFC 3339 UTC, to the second.
pub fn rfc3339_of(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    rfc3339(secs)
}

/// Now, as RFC 3339 UTC: the only reading of the clock for dates.
pub fn now() -> String {
    rfc3339_of(SystemTime::now())
}

/// Now, in seconds since the Unix epoch (repository dates).
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses an RFC 3339 time (as [`rfc3339`] writes it).
pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let secs = t.timestamp();
    if secs >= 0 {
        Some(UNIX_EPOCH + std::time::Duration::from_secs(secs as u64))
    } else {
        UNIX_EPOCH.checked_sub(std::time::Duration::from_secs(secs.unsigned_abs()))
    }
}

/// Now, as a time: for leases and ages (the one place that reads it).
pub fn system_now() -> SystemTime {
    SystemTime::now()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_format_as_date_and_coreutils_do() {
        // `date -u -d @SECS +%Y-%m-%dT%H:%M:%SZ`
        for (secs, text) in [
            (0, "1970-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:01Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (1_796_158_956, "2026-12-01T21:02:36Z"),
            (4_102_444_799, "2099-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(rfc3339(secs), text, "{secs}");
            assert_eq!(parse_rfc3339(text).map(rfc3339_of).as_deref(), Some(text));
        }
    }
}
