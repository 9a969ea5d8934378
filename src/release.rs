//! Which release this is: its tag, its class, and the CI run that makes it.
//!
//! Read from the environment in a fixed order (GitHub Actions, GitLab,
//! Woodpecker, Drone, then plain git), or from `--tag`. Pure: the
//! environment comes in as a lookup function.

use serde::Serialize;

use crate::errors::{Error, Result};
use crate::source::Source;

/// Garage's release classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// A `vX.Y.Z` tag.
    Stable,
    /// Any other tag.
    Extra,
    /// A commit.
    Development,
}

impl From<crate::kinds::ClassArg> for Class {
    fn from(c: crate::kinds::ClassArg) -> Class {
        match c {
            crate::kinds::ClassArg::Stable => Class::Stable,
            crate::kinds::ClassArg::Extra => Class::Extra,
            crate::kinds::ClassArg::Development => Class::Development,
        }
    }
}

impl Class {
    /// Classifies a release tag: `vX.Y.Z` is stable, a 40-hex commit is
    /// development, anything else is extra.
    pub fn of(tag: &str) -> Class {
        if semver_of(tag).is_some() {
            Class::Stable
        } else if tag.len() == 40 && tag.bytes().all(|b| b.is_ascii_hexdigit()) {
            Class::Development
        } else {
            Class::Extra
        }
    }

    /// `stable`, `extra` or `development`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Stable => "stable",
            Class::Extra => "extra",
            Class::Development => "development",
        }
    }
}

/// `(X, Y, Z)` of a stable tag `vX.Y.Z`.
pub fn semver_of(tag: &str) -> Option<(u64, u64, u64)> {
    let mut parts = tag.strip_prefix('v')?.split('.');
    let mut next = || -> Option<u64> {
        let p = parts.next()?;
        if p.is_empty()
            || !p.bytes().all(|b| b.is_ascii_digit())
            || (p.len() > 1 && p.starts_with('0'))
        {
            return None;
        }
        p.parse().ok()
    };
    let v = (next()?, next()?, next()?);
    parts.next().is_none().then_some(v)
}

/// Names a tag cannot have: the documents kept at a name's top level
/// (the newest stable release's Nix install manifest and installer, and
/// the package repositories' note).
pub const NAME_LEVEL_DOCUMENTS: [&str; 4] = [
    "manifest.nix",
    "manifest.json",
    "packages.json",
    "install.sh",
];

/// Checks that `tag` can name a release: an OCI tag
/// (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`), so that the same word serves the
/// static layout, object keys and image tags.
pub fn validate_tag(tag: &str) -> Result<()> {
    if NAME_LEVEL_DOCUMENTS.contains(&tag) {
        return Err(Error::InvalidTag { tag: tag.into() });
    }
    let ok = !tag.is_empty()
        && tag.len() <= 128
        && tag
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidTag { tag: tag.into() })
    }
}

/// Checks a release name (the configuration's `name`, or `NAME` in
/// `NAME:TAG` on the command line): 1 to 128 of letters, digits, `-`, `_`
/// and `.`, not starting with `.` (so never `.` or `..`). A name is a key
/// part and an image name: nothing else may reach a store.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            "name",
            format!(
                "`{}` is not a release name: 1 to 128 of letters, digits, `-`, `_` and `.`, not starting with `.`",
                name.escape_debug()
            ),
        ))
    }
}

/// The CI run (or the machine) that publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// `drone`, `woodpecker`, `github-actions`, `gitlab` or `local`.
    pub system: String,
    /// The SLSA builder.id: the CI server (or `local://<host>`).
    pub id: String,
    /// The run's URL, when there is one.
    pub invocation_id: Option<String>,
    /// The triggering event (`tag`, `promote`, `push`…).
    pub event: Option<String>,
    /// The repository's web URL, when the CI says.
    pub repository: Option<String>,
}

/// The release being published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The tag: a version, another tag, or the full commit.
    pub tag: String,
    /// Its class.
    pub class: Class,
    /// The commit it was built from.
    pub commit: String,
    /// Who publishes it.
    pub builder: Builder,
}

/// Finds the release from `--tag`, the CI environment, or git, in that order.
pub fn detect(
    env: &dyn Fn(&str) -> Option<String>,
    cli_tag: Option<&str>,
    source: &Source,
    hostname: &str,
) -> Result<Release> {
    let get = |k: &str| env(k).filter(|v| !v.is_empty());
    let (builder, ci_tag, ci_commit) = if get("GITHUB_ACTIONS").as_deref() == Some("true") {
        let server = get("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
        let repo = get("GITHUB_REPOSITORY");
        let tag = (get("GITHUB_REF_TYPE").as_deref() == Some("tag"))
            .then(|| get("GITHUB_REF_NAME"))
            .flatten();
        let run = match (&repo, get("GITHUB_RUN_ID")) {
            (Some(r), Some(id)) => Some(format!(
                "{server}/{r}/actions/runs/{id}/attempts/{}",
                get("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into())
            )),
            _ => None,
        };
        let id = match get("GITHUB_WORKFLOW_REF") {
            Some(w) => format!("{server}/{w}"),
            None => server.clone(),
        };
        let b = Builder {
            system: "github-actions".into(),
            id,
            invocation_id: run,
            event: get("GITHUB_EVENT_NAME"),
            repository: repo.map(|r| format!("{server}/{r}")),
        };
        (b, tag, get("GITHUB_SHA"))
    } else if get("GITLAB_CI").as_deref() == Some("true") {
        let project = get("CI_PROJECT_URL");
        let id = match (&project, get("CI_RUNNER_ID")) {
            (Some(p), Some(r)) => format!("{p}/-/runners/{r}"),
            _ => get("CI_SERVER_URL").unwrap_or_else(|| "gitlab".into()),
        };
        let b = Builder {
            system: "gitlab".into(),
            id,
            invocation_id: get("CI_JOB_URL").or_else(|| get("CI_PIPELINE_URL")),
            event: get("CI_PIPELINE_SOURCE"),
            repository: project,
        };
        (b, get("CI_COMMIT_TAG"), get("CI_COMMIT_SHA"))
    } else if get("CI").as_deref() == Some("woodpecker") {
        let b = Builder {
            system: "woodpecker".into(),
            id: get("CI_SYSTEM_URL").unwrap_or_else(|| "woodpecker".into()),
            invocation_id: get("CI_PIPELINE_URL"),
            event: get("CI_PIPELINE_EVENT"),
            repository: get("CI_REPO_URL"),
        };
        (b, get("CI_COMMIT_TAG"), get("CI_COMMIT_SHA"))
    } else if get("DRONE").as_deref() == Some("true")
        || get("DRONE_COMMIT_SHA").is_some()
        || get("DRONE_COMMIT").is_some()
    {
        let id = match (get("DRONE_SYSTEM_PROTO"), get("DRONE_SYSTEM_HOST")) {
            (Some(p), Some(h)) => format!("{p}://{h}"),
            _ => "drone".into(),
        };
        let b = Builder {
            system: "drone".into(),
            id,
            invocation_id: get("DRONE_BUILD_LINK").or_else(|| get("DRONE_BUILD_NUMBER")),
            event: get("DRONE_BUILD_EVENT"),
            repository: get("DRONE_REPO_LINK"),
        };
        (
            b,
            get("DRONE_TAG"),
            get("DRONE_COMMIT_SHA").or_else(|| get("DRONE_COMMIT")),
        )
    } else {
        let b = Builder {
            system: "local".into(),
            id: format!("local://{hostname}"),
            invocation_id: None,
            event: None,
            repository: None,
        };
        (b, source.tag.clone(), None)
    };
    let commit = ci_commit.unwrap_or_else(|| source.commit.clone());
    if commit != source.commit {
        tracing::warn!(
            "the CI names commit {commit}, but build.json was built from {}; the release records build.json's",
            source.commit
        );
    }
    let tag = cli_tag
        .map(str::to_string)
        .or(ci_tag)
        .unwrap_or_else(|| source.commit.clone());
    validate_tag(&tag)?;
    Ok(Release {
        class: Class::of(&tag),
        tag,
        commit: source.commit.clone(),
        builder,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_are_key_parts_and_never_paths() {
        for good in ["hello", "garage", "lix_2.91", "a-b.c", &"x".repeat(128)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "hello/v1.0.0/linux",
            "a b",
            "ü",
            &"x".repeat(129),
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
    use std::collections::HashMap;

    fn source(tag: Option<&str>) -> Source {
        Source {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            dirty: false,
            tag: tag.map(str::to_string),
            commit_time: None,
            flake_inputs: vec![],
        }
    }

    fn detect_with(vars: &[(&str, &str)], cli: Option<&str>, tag: Option<&str>) -> Result<Release> {
        let env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        detect(&|k| env.get(k).cloned(), cli, &source(tag), "host")
    }

    #[test]
    fn classes_follow_garages_index() {
        assert_eq!(Class::of("v1.2.3"), Class::Stable);
        assert_eq!(Class::of("v0.10.0"), Class::Stable);
        assert_eq!(Class::of("v1.2"), Class::Extra);
        assert_eq!(Class::of("v1.2.3-rc1"), Class::Extra);
        assert_eq!(Class::of("v01.2.3"), Class::Extra);
        assert_eq!(Class::of("handcrafted-1.0.0"), Class::Extra);
        assert_eq!(
            Class::of("0123456789abcdef0123456789abcdef01234567"),
            Class::Development
        );
        assert_eq!(semver_of("v0.10.2"), Some((0, 10, 2)));
    }

    #[test]
    fn tags_must_be_oci_tags() {
        for ok in ["v1.0.0", "nightly_2", "a", "1.2-x"] {
            validate_tag(ok).unwrap();
        }
        for bad in ["", "-x", ".x", "a/b", "a b", "ü", &"a".repeat(129)] {
            assert!(validate_tag(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn drone_tag_event() {
        let r = detect_with(
            &[
                ("DRONE", "true"),
                ("DRONE_TAG", "v1.4.0"),
                (
                    "DRONE_COMMIT_SHA",
                    "0123456789abcdef0123456789abcdef01234567",
                ),
                ("DRONE_BUILD_LINK", "https://drone.example.org/o/r/42"),
                ("DRONE_SYSTEM_PROTO", "https"),
                ("DRONE_SYSTEM_HOST", "drone.example.org"),
                ("DRONE_BUILD_EVENT", "tag"),
                ("DRONE_REPO_LINK", "https://git.example.org/o/r"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!((r.tag.as_str(), r.class), ("v1.4.0", Class::Stable));
        assert_eq!(r.builder.system, "drone");
        assert_eq!(r.builder.id, "https://drone.example.org");
        assert_eq!(
            r.builder.invocation_id.as_deref(),
            Some("https://drone.example.org/o/r/42")
        );
        assert_eq!(
            r.builder.repository.as_deref(),
            Some("https://git.example.org/o/r")
        );
    }

    #[test]
    fn drone_promote_of_a_commit_is_development() {
        let r = detect_with(
            &[
                ("DRONE", "true"),
                ("DRONE_COMMIT", "0123456789abcdef0123456789abcdef01234567"),
                ("DRONE_BUILD_EVENT", "promote"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(r.class, Class::Development);
        assert_eq!(r.tag, "0123456789abcdef0123456789abcdef01234567");
    }

    #[test]
    fn gitlab_is_told_from_woodpecker() {
        let gitlab = detect_with(
            &[
                ("GITLAB_CI", "true"),
                ("CI", "true"),
                ("CI_COMMIT_TAG", "v2.0.0"),
                ("CI_PROJECT_URL", "https://gitlab.example/o/r"),
                ("CI_RUNNER_ID", "7"),
                ("CI_JOB_URL", "https://gitlab.example/o/r/-/jobs/9"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(gitlab.builder.system, "gitlab");
        assert_eq!(gitlab.builder.id, "https://gitlab.example/o/r/-/runners/7");
        let wp = detect_with(
            &[
                ("CI", "woodpecker"),
                ("CI_COMMIT_TAG", "nightly"),
                ("CI_SYSTEM_URL", "https://ci.example"),
                ("CI_PIPELINE_URL", "https://ci.example/repos/7/pipeline/8"),
            ],
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            (wp.builder.system.as_str(), wp.class),
            ("woodpecker", Class::Extra)
        );
        assert_eq!(wp.builder.id, "https://ci.example");
    }

    #[test]
    fn github_tag_and_branch() {
        let vars = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "o/r"),
            ("GITHUB_RUN_ID", "5"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_REF_NAME", "v0.1.0"),
        ];
        let r = detect_with(&vars, None, None).unwrap();
        assert_eq!(r.tag, "v0.1.0");
        assert_eq!(
            r.builder.invocation_id.as_deref(),
            Some("https://github.com/o/r/actions/runs/5/attempts/2")
        );
        let mut branch = vars.to_vec();
        branch[5] = ("GITHUB_REF_TYPE", "branch");
        assert_eq!(
            detect_with(&branch, None, None).unwrap().class,
            Class::Development
        );
    }

    #[test]
    fn git_then_cli_tag() {
        let r = detect_with(&[], None, Some("v3.0.0")).unwrap();
        assert_eq!(
            (r.tag.as_str(), r.builder.id.as_str()),
            ("v3.0.0", "local://host")
        );
        let r = detect_with(
            &[("DRONE_TAG", "x"), ("DRONE", "true")],
            Some("v9.9.9"),
            None,
        )
        .unwrap();
        assert_eq!(r.tag, "v9.9.9");
        assert!(matches!(
            detect_with(&[], Some("bad tag"), None),
            Err(Error::InvalidTag { .. })
        ));
    }
}
