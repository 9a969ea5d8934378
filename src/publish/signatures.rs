//! A release's detached signatures (config `signatures`): `SHA256SUMS.asc`
//! (OpenPGP, armored, what `gpg --verify SHA256SUMS.asc SHA256SUMS` checks),
//! and minisign signatures, `SHA256SUMS.minisig` and a `<file>.minisig`
//! beside each release file (what `minisign -V` and cargo-binstall's
//! `--only-signed` check), each with a trusted comment naming the release
//! and the file. They are sidecars: not in `SHA256SUMS`, not provenance
//! subjects. Made once, before any destination is read.

use std::io::Cursor;

use super::layout::{ReleaseFile, SHA256SUMS};
use crate::errors::{Error, Result};
pub use crate::kinds::SignatureKind as Kind;

/// The keys that sign.
pub struct Signer {
    /// The OpenPGP key of `SHA256SUMS.asc`.
    pub openpgp: Option<crate::openpgp::SigningKey>,
    /// The minisign key pair.
    pub minisign: Option<(minisign::SecretKey, minisign::PublicKey)>,
}

/// What tells a signature a destination holds from one of another key.
#[derive(Default, Debug)]
pub struct Checker {
    openpgp: Option<crate::openpgp::SigningKey>,
    minisign: Option<minisign::PublicKey>,
}

impl Checker {
    /// Whether `sig`, read as `name` beside `SHA256SUMS`, is a good
    /// signature of `sums` by this release's key.
    pub fn signs_sums(&self, name: &str, sig: &[u8], sums: &[u8]) -> bool {
        if name.ends_with(".asc") {
            return self
                .openpgp
                .as_ref()
                .is_some_and(|k| k.signed_detached(sig, sums));
        }
        let (Some(pk), Ok(text)) = (&self.minisign, std::str::from_utf8(sig)) else {
            return false;
        };
        minisign::SignatureBox::from_string(text)
            .and_then(|b| minisign::verify(pk, &b, Cursor::new(sums), true, false, false))
            .is_ok()
    }
}

/// A release's signatures.
#[derive(Default, Debug)]
pub struct Signatures {
    /// Each file's signatures, by its index among the release's files:
    /// (suffix, bytes).
    pub per_file: Vec<Vec<(&'static str, Vec<u8>)>>,
    /// `SHA256SUMS`'s: (file name, bytes).
    pub sums: Vec<(String, Vec<u8>)>,
    /// The name-level note of the keys, for the release page.
    pub note: Option<Vec<u8>>,
    /// What checks the ones a destination holds.
    pub check: Checker,
}

impl Signatures {
    /// None at all (no `signatures` configured).
    pub fn none(files: usize) -> Signatures {
        Signatures {
            per_file: vec![Vec::new(); files],
            ..Signatures::default()
        }
    }
}

/// The minisign trusted comment of `path` in `name:tag`: what `minisign -V`
/// prints as "Trusted comment", signed with the file.
pub fn trusted_comment((name, tag): (&str, &str), path: &str, time: u64) -> String {
    format!("timestamp:{time}\tfile:{path}\trelease:{name} {tag}")
}

/// Signs `files` (each as it sits in the release at `path_of`) and `sums`.
pub fn sign(
    signer: &Signer,
    (name, tag, time): (&str, &str, u64),
    files: &[(&ReleaseFile, String)],
    sums: &[u8],
) -> Result<Signatures> {
    let mut out = Signatures::none(files.len());
    let mut note = super::notes::SigningNote {
        name: name.to_string(),
        minisign: None,
        openpgp_fingerprint: None,
        openpgp_key: None,
    };
    if let Some(key) = &signer.openpgp {
        note.openpgp_fingerprint = Some(key.fingerprint());
        note.openpgp_key = key.public_armored().ok();
        let armored = key
            .detached(sums, time)
            .map_err(|why| Error::SignatureKey {
                kind: "OpenPGP",
                path: "the OpenPGP key".into(),
                reason: why,
            })?;
        out.sums
            .push((format!("{SHA256SUMS}.asc"), armored.into_bytes()));
        out.check.openpgp = Some(key.clone());
    }
    if let Some((sk, pk)) = &signer.minisign {
        note.minisign = Some(pk.to_base64());
        let minisig = |data: &mut dyn std::io::Read, path: &str| -> Result<Vec<u8>> {
            let comment = trusted_comment((name, tag), path, time);
            let untrusted = format!("signature of {path} by cargo release-dist");
            minisign::sign(Some(pk), sk, data, Some(&comment), Some(&untrusted))
                .map(|b| b.to_string().into_bytes())
                .map_err(|e| Error::SignatureKey {
                    kind: "minisign",
                    path: "the minisign key".into(),
                    reason: e.to_string(),
                })
        };
        for (i, (f, path)) in files.iter().enumerate() {
            let mut file =
                std::fs::File::open(&f.local).map_err(Error::io("cannot read", &f.local))?;
            out.per_file[i].push((".minisig", minisig(&mut file, path)?));
        }
        let sums_sig = minisig(&mut Cursor::new(sums), SHA256SUMS)?;
        out.sums.push((format!("{SHA256SUMS}.minisig"), sums_sig));
        out.check.minisign = Some(pk.clone());
    }
    out.note = serde_json::to_vec_pretty(&note).ok();
    Ok(out)
}

/// The public keys `verify` checks a release's `SHA256SUMS` signatures with.
#[derive(Default)]
pub struct PublicKeys {
    /// The armored OpenPGP public key.
    pub openpgp: Option<String>,
    /// The minisign public key.
    pub minisign: Option<minisign::PublicKey>,
}

/// What is wrong with the signatures `found` beside `sums` (`SHA256SUMS` at
/// `at`), checked with `keys`; and which were good. A signature no given
/// key can check is said so, not taken as good. With `require`, a release
/// without one good signature is a problem.
pub fn check_sums(
    at: &str,
    sums: &[u8],
    found: &[(String, Vec<u8>)],
    (keys, require): (&PublicKeys, bool),
) -> (Vec<String>, Vec<String>) {
    let (mut problems, mut good) = (Vec::new(), Vec::new());
    for (name, sig) in found {
        let checked = if name.ends_with(".asc") {
            keys.openpgp
                .as_ref()
                .map(|k| crate::openpgp::verifies(k, sig, sums).unwrap_or(false))
        } else {
            keys.minisign.as_ref().map(|pk| {
                let text = String::from_utf8_lossy(sig);
                minisign::SignatureBox::from_string(&text)
                    .and_then(|b| minisign::verify(pk, &b, Cursor::new(sums), true, false, false))
                    .is_ok()
            })
        };
        match checked {
            Some(true) => good.push(name.clone()),
            Some(false) => problems.push(format!(
                "{at}{name}: not a good signature of SHA256SUMS by the given key"
            )),
            None => {}
        }
    }
    if require && good.is_empty() {
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        problems.push(match names.is_empty() {
            true => format!("{at}SHA256SUMS: not signed (no SHA256SUMS.asc or SHA256SUMS.minisig), and --require-signatures"),
            false => format!("{at}SHA256SUMS: no signature checked by a given key ({}): pass --minisign-pub or --openpgp-pub", names.join(", ")),
        });
    }
    (problems, good)
}

/// The public keys of `--minisign-pub` and `--openpgp-pub` (verify,
/// promote), read (capped)
/// and parsed; a bad one is refused naming it.
pub fn read_public_keys(
    minisign_pub: Option<&std::path::Path>,
    openpgp_pub: Option<&std::path::Path>,
) -> Result<PublicKeys> {
    let bad = |p: &std::path::Path, reason: String| Error::SignatureKey {
        kind: "public",
        path: p.to_path_buf(),
        reason,
    };
    let mut keys = PublicKeys::default();
    if let Some(p) = minisign_pub {
        let text = crate::keys::read_key_file(p)?;
        let pk = minisign::PublicKeyBox::from_string(&text)
            .and_then(|b| b.into_public_key())
            .or_else(|_| minisign::PublicKey::from_base64(text.trim()))
            .map_err(|e| bad(p, format!("not a minisign public key: {e}")))?;
        keys.minisign = Some(pk);
    }
    if let Some(p) = openpgp_pub {
        let text = crate::keys::read_key_file(p)?;
        crate::openpgp::verifies(&text, b"", b"").map_err(|e| bad(p, e))?;
        keys.openpgp = Some(text);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minisign_pair() -> (minisign::SecretKey, minisign::PublicKey) {
        let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        (kp.sk, kp.pk)
    }

    #[test]
    fn a_signature_there_counts_only_when_it_is_this_keys_over_these_sums() {
        let (sk, pk) = minisign_pair();
        let signer = Signer {
            openpgp: None,
            minisign: Some((sk, pk)),
        };
        let sums = b"ab  hello\n";
        let made = sign(&signer, ("hello", "v1.0.0", 7), &[], sums).unwrap();
        let (name, sig) = &made.sums[0];
        assert_eq!(name, "SHA256SUMS.minisig");
        assert!(made.check.signs_sums(name, sig, sums));
        assert!(
            !made.check.signs_sums(name, sig, b"cd  hello\n"),
            "other sums"
        );
        let (other_sk, other_pk) = minisign_pair();
        let other = Signer {
            openpgp: None,
            minisign: Some((other_sk, other_pk)),
        };
        let theirs = sign(&other, ("hello", "v1.0.0", 7), &[], sums).unwrap();
        assert!(
            !made.check.signs_sums(name, &theirs.sums[0].1, sums),
            "another key"
        );
        assert!(!made.check.signs_sums(name, b"garbage", sums));
        assert!(
            !made.check.signs_sums("SHA256SUMS.asc", sig, sums),
            "no OpenPGP key"
        );
        let text = String::from_utf8_lossy(sig);
        assert!(
            text.contains("trusted comment: timestamp:7\tfile:SHA256SUMS\trelease:hello v1.0.0"),
            "{text}"
        );
        // verify's check agrees, and says which were good.
        let keys = PublicKeys {
            openpgp: None,
            minisign: Some(made.check.minisign.clone().unwrap()),
        };
        let found = vec![(name.clone(), sig.clone())];
        assert_eq!(
            check_sums("p/", sums, &found, (&keys, true)),
            (vec![], vec![name.clone()])
        );
        let (bad, good) = check_sums("p/", b"other", &found, (&keys, false));
        assert!(
            good.is_empty() && bad[0].contains("not a good signature"),
            "{bad:?}"
        );
        let (bad, _) = check_sums("p/", sums, &[], (&keys, true));
        assert!(bad[0].contains("not signed"), "{bad:?}");
    }
}
