//! Package versions from release tags, for dpkg and rpm. Pure.
//!
//! - A stable tag `v1.2.3` is `1.2.3` (rpm: version `1.2.3`, release `1`).
//! - A pre-release tag `v1.2.3-rc.1` is `1.2.3~rc.1`: `~` sorts before the
//!   release in both dpkg and rpm.
//! - Any other tag, and a commit, is the crate's version with the commit's
//!   time and hash: `1.2.3+git20261201093000.abcdef0` (rpm: `1.2.3^git…`)
//!   when `v1.2.3` is already released, so it sorts after it; else
//!   `1.2.3~git…`, so it sorts before the coming release. Either way, builds
//!   of one base sort by commit time.

/// A package's version in both formats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgVersion {
    /// dpkg's `Version` (no epoch, no revision).
    pub deb: String,
    /// rpm's `Version`.
    pub rpm: String,
    /// rpm's `Release`.
    pub rpm_release: String,
}

/// What a version is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInput<'a> {
    /// The release tag (a commit hash for a development release).
    pub tag: &'a str,
    /// The crate's version from Cargo.toml.
    pub crate_version: &'a str,
    /// The released commit.
    pub commit: &'a str,
    /// Its time, seconds since 1970 (UTC).
    pub commit_time: i64,
    /// Whether `v<crate version>` is already a stable release.
    pub base_released: bool,
}

/// Maps a release to package versions; `Err` says why it cannot be.
pub fn map(input: &VersionInput<'_>) -> Result<PkgVersion, String> {
    if let Some((core, pre)) = semver_tag(input.tag)? {
        let v = match pre {
            None => core.to_string(),
            Some(pre) => format!("{core}~{}", pre.replace('-', ".")),
        };
        return Ok(PkgVersion {
            deb: v.clone(),
            rpm: v,
            rpm_release: "1".into(),
        });
    }
    let (core, pre) = split_semver(input.crate_version).ok_or_else(|| {
        format!(
            "the crate version `{}` is not MAJOR.MINOR.PATCH",
            input.crate_version
        )
    })?;
    let base = match pre {
        None => core.to_string(),
        Some(pre) => format!("{core}~{}", pre.replace('-', ".")),
    };
    let short: String = input.commit.chars().take(7).collect();
    if short.len() < 7 || !short.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{}` is not a commit hash", input.commit));
    }
    let stamp = format!("git{}.{short}", timestamp(input.commit_time));
    let (deb_sep, rpm_sep) = if input.base_released {
        ("+", "^")
    } else {
        ("~", "~")
    };
    Ok(PkgVersion {
        deb: format!("{base}{deb_sep}{stamp}"),
        rpm: format!("{base}{rpm_sep}{stamp}"),
        rpm_release: "1".into(),
    })
}

/// `v1.2.3` or `v1.2.3-rc.1`: (core, pre-release). `Ok(None)` for a tag
/// that is not a version at all; `Err` for one that looks like a version
/// but is not semver (`v1.2`, `v01.2.3`), which no ordering can place.
fn semver_tag(tag: &str) -> Result<Option<(&str, Option<&str>)>, String> {
    let Some(rest) = tag.strip_prefix('v') else {
        return Ok(None);
    };
    if !rest.starts_with(|c: char| c.is_ascii_digit()) {
        return Ok(None);
    }
    match split_semver(rest) {
        Some(parts) => Ok(Some(parts)),
        None => Err(format!(
            "the tag `{tag}` looks like a version but is not vMAJOR.MINOR.PATCH[-PRERELEASE], so no package version can be ordered from it"
        )),
    }
}

/// `1.2.3` or `1.2.3-rc.1` (build metadata is refused: it has no order).
fn split_semver(v: &str) -> Option<(&str, Option<&str>)> {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |p: &&str| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
            && !(p.len() > 1 && p.starts_with('0'))
    };
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return None;
    }
    if let Some(p) = pre {
        let ok = !p.is_empty()
            && p.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !ok {
            return None;
        }
    }
    Some((core, pre))
}

/// `YYYYMMDDHHMMSS` (UTC).
fn timestamp(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to (year, month, day).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(tag: &str, released: bool) -> VersionInput<'_> {
        VersionInput {
            tag,
            crate_version: "1.2.3",
            commit: "abcdef0123456789abcdef0123456789abcdef01",
            commit_time: 1_796_117_400, // 2026-12-01 09:30:00
            base_released: released,
        }
    }

    #[test]
    fn stable_pre_release_and_development_versions() {
        let v = map(&input("v1.2.3", true)).unwrap();
        assert_eq!(
            (v.deb.as_str(), v.rpm.as_str(), v.rpm_release.as_str()),
            ("1.2.3", "1.2.3", "1")
        );
        let v = map(&input("v1.3.0-rc.1", true)).unwrap();
        assert_eq!(
            (v.deb.as_str(), v.rpm.as_str()),
            ("1.3.0~rc.1", "1.3.0~rc.1")
        );
        let v = map(&input("v1.3.0-beta-2", true)).unwrap();
        assert_eq!(v.deb, "1.3.0~beta.2");
        let c = "abcdef0123456789abcdef0123456789abcdef01";
        let v = map(&input(c, true)).unwrap();
        assert_eq!(v.deb, "1.2.3+git20261201093000.abcdef0");
        assert_eq!(v.rpm, "1.2.3^git20261201093000.abcdef0");
        let v = map(&input("nightly", false)).unwrap();
        assert_eq!(v.deb, "1.2.3~git20261201093000.abcdef0");
        assert_eq!(v.rpm, "1.2.3~git20261201093000.abcdef0");
    }

    #[test]
    fn version_like_tags_that_are_not_semver_are_refused() {
        for tag in ["v1.2", "v01.2.3", "v1.2.3.4", "v1.2.3-", "v1.2.3-rc..1"] {
            let e = map(&input(tag, true)).unwrap_err();
            assert!(e.contains(tag), "{e}");
        }
        let mut bad = input("nightly", true);
        bad.crate_version = "1.2";
        assert!(map(&bad).unwrap_err().contains("not MAJOR.MINOR.PATCH"));
    }

    #[test]
    fn timestamps_are_utc_calendar_times() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(951_782_400), "20000229000000");
    }
}
