//! Which releases a retention policy removes. Pure.

use std::time::SystemTime;

use crate::config::Retention;
use crate::release::{semver_of, Class};

/// One release as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dated {
    /// Its tag.
    pub tag: String,
    /// Its class.
    pub class: Class,
    /// When it was published.
    pub published: Option<SystemTime>,
}

/// The tags `retention` removes: per class, all but the newest N (stable by
/// version, the others by time), oldest last in the list.
pub fn to_remove(releases: &[Dated], retention: &Retention) -> Vec<String> {
    let mut out = Vec::new();
    for class in [Class::Stable, Class::Extra, Class::Development] {
        let Some(keep) = retention.of(class) else {
            continue;
        };
        let mut of_class: Vec<&Dated> = releases.iter().filter(|r| r.class == class).collect();
        if class == Class::Stable {
            of_class.sort_by_key(|r| std::cmp::Reverse(semver_of(&r.tag)));
        } else {
            of_class.sort_by_key(|r| std::cmp::Reverse(r.published));
        }
        out.extend(of_class.iter().skip(keep).map(|r| r.tag.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn dated(tag: &str, secs: u64) -> Dated {
        Dated {
            tag: tag.into(),
            class: Class::of(tag),
            published: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
        }
    }

    #[test]
    fn keeps_the_newest_of_each_class_and_every_stable_by_default() {
        let mut all: Vec<Dated> = (0..12)
            .map(|i| dated(&format!("{:040x}", i + 1), 100 + i))
            .collect();
        all.push(dated("v1.0.0", 1));
        all.push(dated("v0.9.0", 2));
        all.push(dated("nightly", 3));
        let removed = to_remove(&all, &Retention::default());
        assert_eq!(removed, [format!("{:040x}", 2), format!("{:040x}", 1)]);
        let strict = Retention {
            stable: Some(1),
            extra: Some(0),
            development: None,
        };
        // v0.9.0 was published later, but v1.0.0 is the newer version.
        assert_eq!(to_remove(&all, &strict), ["v0.9.0", "nightly"]);
    }
}
