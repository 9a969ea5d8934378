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

/// The environment variable of the OpenPGP key that signs `SHA256SUMS`.
pub const OPENPGP_KEY_ENV: &str = "RELEASE_DIST_OPENPGP_KEY";

/// The environment variable of the minisign secret key.
pub const MINISIGN_KEY_ENV: &str = "RELEASE_DIST_MINISIGN_KEY";

/// The environment variable of the minisign key's password (none for a key
/// made with `minisign -G -W`).
pub const MINISIGN_PASSWORD_ENV: &str = "RELEASE_DIST_MINISIGN_PASSWORD";

/// The OpenPGP key that signs a release's `SHA256SUMS` (`SHA256SUMS.asc`):
/// `--openpgp-key PATH`, else `$RELEASE_DIST_OPENPGP_KEY`, else the
/// packages' key (`--packages-key PATH`, `$RELEASE_DIST_PACKAGES_KEY`).
pub fn load_release_openpgp(
    (path, packages): (Option<&Path>, Option<&Path>),
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<crate::openpgp::SigningKey> {
    let own = path.is_some() || lookup(OPENPGP_KEY_ENV).is_some_and(|t| !t.trim().is_empty());
    if !own {
        return load_openpgp(packages, lookup).map_err(|e| match e {
            Error::NoSigningKey { .. } => Error::NoSigningKey {
                signs: "SHA256SUMS (OpenPGP)",
                option: "--openpgp-key PATH (or the packages' --packages-key PATH)",
                env: OPENPGP_KEY_ENV,
                openpgp: true,
            },
            other => other,
        });
    }
    let source = KeySource {
        signs: "SHA256SUMS (OpenPGP)",
        path,
        option: "--openpgp-key PATH",
        env: OPENPGP_KEY_ENV,
        openpgp: true,
        parse: SecretKey::parse,
    };
    let (text, origin) = key_text(&source, lookup)?;
    crate::openpgp::SigningKey::from_armored(&text).map_err(|reason| Error::SignatureKey {
        kind: "OpenPGP",
        path: origin,
        reason,
    })
}

/// The minisign secret key: `--minisign-key PATH`, else
/// `$RELEASE_DIST_MINISIGN_KEY` (the key file's text), opened with
/// `$RELEASE_DIST_MINISIGN_PASSWORD` when the key is encrypted.
pub fn load_minisign(
    path: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<minisign::SecretKey> {
    let source = KeySource {
        signs: "the release files (minisign)",
        path,
        option: "--minisign-key PATH",
        env: MINISIGN_KEY_ENV,
        openpgp: false,
        parse: SecretKey::parse,
    };
    let (text, origin) = key_text(&source, lookup)?;
    let bad = |e: minisign::PError| Error::SignatureKey {
        kind: "minisign",
        path: origin.clone(),
        reason: format!("not a minisign secret key, or the wrong password: {e}"),
    };
    // An unencrypted key (`minisign -G -W`): Debian's minisign 0.11 leaves
    // its checksum zeroed, which the crate's box reader refuses, so it is
    // read from its bytes (`Ed`, then the KDF `\0\0`).
    let encoded = text.lines().nth(1).unwrap_or_default().trim();
    let bytes = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default()
    };
    if bytes.get(2..4) == Some(&[0, 0]) {
        let key = minisign::SecretKey::from_bytes(&bytes).map_err(bad)?;
        return match key.is_encrypted() {
            false => Ok(key),
            true => Err(Error::SignatureKey {
                kind: "minisign",
                path: origin,
                reason: "not a minisign secret key".into(),
            }),
        };
    }
    let boxed = minisign::SecretKeyBox::from_string(&text).map_err(bad)?;
    match lookup(MINISIGN_PASSWORD_ENV) {
        Some(password) => boxed.into_secret_key(Some(password)).map_err(bad),
        None => Err(Error::SignatureKey {
            kind: "minisign",
            path: origin,
            reason: format!("it is encrypted: set ${MINISIGN_PASSWORD_ENV} to its password"),
        }),
    }
}

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
