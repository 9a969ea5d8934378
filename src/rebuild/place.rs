//! Where a rebuild runs: another Nix store that builds (`--on`, or the
//! first machine of a `--builders` line), or a check build here. Pure.

use crate::provenance::reproduced::RebuildMode;

use super::RebuildError;

/// Where the second build runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// `nix build --rebuild` in this machine's store.
    Local,
    /// Another store that builds.
    Store {
        /// The store URL nix is given.
        url: String,
        /// The URL as the statement and messages show it: no query, no
        /// password.
        shown: String,
    },
}

impl Place {
    /// How independent it is.
    pub fn mode(&self) -> RebuildMode {
        match self {
            Place::Local => RebuildMode::LocalCheck,
            Place::Store { .. } => RebuildMode::IndependentStore,
        }
    }

    /// As a sentence names it.
    pub fn said(&self) -> String {
        match self {
            Place::Local => "this machine (`nix build --rebuild`)".into(),
            Place::Store { shown, .. } => shown.clone(),
        }
    }

    /// As the statement names it.
    pub fn shown(&self) -> &str {
        match self {
            Place::Local => "local",
            Place::Store { shown, .. } => shown,
        }
    }
}

/// The place from `--on` (a store URL) or `--builders` (nix's machine
/// line: its first machine's URL, with its SSH key when it names one).
/// `ssh://` becomes `ssh-ng://`: only the daemon protocol says whether the
/// builder built a path itself or had it copied in.
pub fn place(on: Option<&str>, builders: Option<&str>) -> Result<Place, RebuildError> {
    let url = match (on, builders) {
        (Some(_), Some(_)) => {
            return Err(RebuildError::Usage(
                "give --on or --builders, not both".into(),
            ))
        }
        (None, None) => return Ok(Place::Local),
        (Some(on), None) => on.trim().to_string(),
        (None, Some(line)) => first_machine(line)?,
    };
    let url = match url.strip_prefix("ssh://") {
        Some(rest) => format!("ssh-ng://{rest}"),
        None => url,
    };
    let builds = url.starts_with("ssh-ng://")
        || url.starts_with('/')
        || url.starts_with("local?")
        || url == "local";
    if !builds || url.contains(char::is_whitespace) {
        return Err(RebuildError::NotABuilder(url));
    }
    let shown = shown(&url);
    Ok(Place::Store { url, shown })
}

/// The first machine of a `--builders` value, as a store URL (the key of
/// its third field as `ssh-key=`).
fn first_machine(line: &str) -> Result<String, RebuildError> {
    let machine = line
        .split([';', '\n'])
        .map(str::trim)
        .find(|m| !m.is_empty() && !m.starts_with('#'))
        .ok_or_else(|| RebuildError::Usage("--builders names no machine".into()))?;
    let fields: Vec<&str> = machine.split_whitespace().collect();
    let mut url = fields[0].to_string();
    if let Some(key) = fields.get(2).filter(|k| **k != "-") {
        if !url.contains("ssh-key=") {
            let sep = if url.contains('?') { '&' } else { '?' };
            url = format!("{url}{sep}ssh-key={key}");
        }
    }
    Ok(url)
}

/// A store URL without its query and without a password.
fn shown(url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (auth, host) = match rest.split_once('@') {
                Some((auth, host)) => (Some(auth), host),
                None => (None, rest),
            };
            let user = auth.map(|a| a.split(':').next().unwrap_or(a));
            match user {
                Some(u) => format!("{scheme}://{u}@{host}"),
                None => format!("{scheme}://{host}"),
            }
        }
        None => base.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_builder_is_a_store_that_builds_shown_without_query_or_password() {
        assert_eq!(place(None, None).unwrap(), Place::Local);
        let p = place(
            Some("ssh://root:pw@10.0.0.2?remote-store=local%3Froot%3D/x&ssh-key=/k"),
            None,
        )
        .unwrap();
        assert_eq!(
            p,
            Place::Store {
                url: "ssh-ng://root:pw@10.0.0.2?remote-store=local%3Froot%3D/x&ssh-key=/k".into(),
                shown: "ssh-ng://root@10.0.0.2".into(),
            }
        );
        assert_eq!(p.mode(), RebuildMode::IndependentStore);
        assert_eq!(
            place(Some("/srv/store"), None).unwrap().shown(),
            "/srv/store"
        );
        for bad in [
            "s3://cache?endpoint=x",
            "https://cache.nixos.org",
            "file:///c",
            "",
        ] {
            assert!(
                matches!(place(Some(bad), None), Err(RebuildError::NotABuilder(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            place(Some("/a"), Some("ssh://b x86_64-linux")),
            Err(RebuildError::Usage(_))
        ));
    }

    #[test]
    fn the_first_machine_of_a_builders_line_with_its_key() {
        let p = place(
            None,
            Some("ssh://root@127.0.0.1?remote-store=local%3Froot%3D/r x86_64-linux /tmp/key 4 1 ; ssh://other aarch64-linux"),
        )
        .unwrap();
        let Place::Store { url, shown } = p else {
            panic!()
        };
        assert_eq!(
            url,
            "ssh-ng://root@127.0.0.1?remote-store=local%3Froot%3D/r&ssh-key=/tmp/key"
        );
        assert_eq!(shown, "ssh-ng://root@127.0.0.1");
        let Place::Store { url, .. } = place(None, Some("ssh-ng://b x86_64-linux - 2")).unwrap()
        else {
            panic!()
        };
        assert_eq!(url, "ssh-ng://b");
        assert!(place(None, Some(" ; ")).is_err());
    }
}
