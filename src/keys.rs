//! The one loader of secret keys (the provenance's and the binary cache's):
//! a file the user named, else a key's text in an environment variable.
//! Every command says the same things about the same missing or bad key.

use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};
use crate::nixcache::{KeyError, SecretKey};

/// Where a command takes its secret key from.
#[derive(Debug, Clone, Copy)]
pub struct KeySource<'a> {
    /// What the key signs: `the provenance`, `the binary cache`.
    pub signs: &'static str,
    /// The file the user named, if any.
    pub path: Option<&'a Path>,
    /// How the user names a file (`--signing-key PATH`).
    pub option: &'static str,
    /// The environment variable that may hold the key's text instead.
    pub env: &'static str,
    /// An OpenPGP key (packages), not an Ed25519 one.
    pub openpgp: bool,
    /// The formats accepted: Nix key files only (the cache signs with the
    /// key's name), or PEM too.
    pub parse: fn(&str) -> std::result::Result<SecretKey, KeyError>,
}

/// Loads the key `source` names, with `lookup` reading the environment.
pub fn load_secret(
    source: KeySource<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<SecretKey> {
    let (text, origin) = key_text(&source, lookup)?;
    (source.parse)(&text).map_err(|e| Error::Key {
        path: origin,
        reason: e.to_string(),
    })
}

/// The OpenPGP key that signs packages and repositories: `--packages-key
/// PATH`, else `$RELEASE_DIST_PACKAGES_KEY` (the armored key's text).
pub fn load_openpgp(
    path: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::openpgp::SigningKey> {
    let source = KeySource {
        signs: "the packages and their repositories",
        path,
        option: "--packages-key PATH",
        env: PACKAGES_KEY_ENV,
        openpgp: true,
        parse: SecretKey::parse,
    };
    let (text, origin) = key_text(&source, lookup)?;
    crate::openpgp::SigningKey::from_armored(&text).map_err(|reason| Error::PackagesKey {
        path: origin,
        reason,
    })
}

/// The environment variable of the packages' OpenPGP key.
pub const PACKAGES_KEY_ENV: &str = "RELEASE_DIST_PACKAGES_KEY";

/// A key file's text, at most [`crate::bounds::KEY_CAP`] bytes (a key
/// given as `/dev/zero` is refused, not read for ever).
pub fn read_key_file(p: &Path) -> Result<String> {
    let bytes =
        crate::bounds::read_file_capped(p, crate::bounds::KEY_CAP).map_err(|e| Error::Key {
            path: p.to_path_buf(),
            reason: format!("cannot read it: {e}"),
        })?;
    String::from_utf8(bytes).map_err(|_| Error::Key {
        path: p.to_path_buf(),
        reason: "it is not text".into(),
    })
}

/// The key's text and where it came from.
fn key_text(
    source: &KeySource<'_>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(String, PathBuf)> {
    Ok(match source.path {
        Some(p) => (read_key_file(p)?, p.to_path_buf()),
        None => match lookup(source.env) {
            Some(t) if !t.trim().is_empty() => (t, PathBuf::from(format!("${}", source.env))),
            _ => {
                return Err(Error::NoSigningKey {
                    signs: source.signs,
                    option: source.option,
                    env: source.env,
                    openpgp: source.openpgp,
                })
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: Option<&Path>) -> KeySource<'_> {
        KeySource {
            signs: "the provenance",
            path,
            option: "--signing-key PATH",
            env: "TEST_KEY",
            openpgp: false,
            parse: SecretKey::parse,
        }
    }

    #[test]
    fn a_key_comes_from_its_file_else_the_environment_and_every_failure_says_which() {
        let none = |_: &str| None;
        let err = load_secret(source(None), &none).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no signing key for the provenance: give --signing-key PATH or set $TEST_KEY"
        );
        let bad = |_: &str| Some("not a key".to_string());
        let err = load_secret(source(None), &bad).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot use the signing key $TEST_KEY"),
            "{err}"
        );
        let missing = Path::new("/nonexistent/key.sec");
        let err = load_secret(source(Some(missing)), &none).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/key.sec: cannot read it"),
            "{err}"
        );
    }
}
