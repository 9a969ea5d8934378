//! OpenPGP for package repositories, with rpgp (`pgp`): the secret key read
//! from its armored text, the public key exported (armored and binary),
//! detached signatures (`Release.gpg`, `repomd.xml.asc`) and cleartext
//! signatures (`InRelease`). No process, no keyring, no agent.

use pgp::composed::cleartext::CleartextSignedMessage;
use pgp::composed::{
    ArmorOptions, Deserializable, SignedPublicKey, SignedSecretKey, StandaloneSignature,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{PublicKeyTrait, SecretKeyTrait};

/// A signing key, loaded.
#[derive(Debug, Clone)]
pub struct SigningKey {
    secret: SignedSecretKey,
}

impl SigningKey {
    /// Reads an armored secret key (`gpg --armor --export-secret-keys`).
    /// The error never quotes the key.
    pub fn from_armored(text: &str) -> Result<SigningKey, String> {
        if !text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
            return Err("it is not an armored OpenPGP secret key (-----BEGIN PGP PRIVATE KEY BLOCK-----); export one with `gpg --armor --export-secret-keys KEYID`".into());
        }
        let (secret, _) = SignedSecretKey::from_string(text)
            .map_err(|e| format!("it is not a readable OpenPGP secret key ({e})"))?;
        secret
            .verify()
            .map_err(|e| format!("its self-signatures do not verify ({e})"))?;
        if secret.unlock(String::new, |_| Ok(())).is_err() {
            return Err("it is protected by a passphrase; export it without one for the CI (`gpg --export-secret-keys` after `gpg --passwd` to an empty one)".into());
        }
        Ok(SigningKey { secret })
    }

    /// The key's fingerprint, upper-case hex.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.secret.fingerprint().as_bytes())
    }

    /// The secret key, for the rpm signer.
    pub fn secret(&self) -> &SignedSecretKey {
        &self.secret
    }

    fn public(&self) -> SignedPublicKey {
        SignedPublicKey::from(self.secret.clone())
    }

    /// The public key, armored (`KEY.asc`).
    pub fn public_armored(&self) -> Result<String, String> {
        self.public()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| e.to_string())
    }

    /// The public key, binary (`KEY.gpg`, for apt's `signed-by`).
    pub fn public_binary(&self) -> Result<Vec<u8>, String> {
        self.public().to_bytes().map_err(|e| e.to_string())
    }

    /// A signature made at `time`, or at the key's creation when that is
    /// later: OpenPGP refuses a signature older than its key ("Time
    /// conflict"), and a key is often made after the commit it signs.
    fn config(&self, typ: SignatureType, time: u64) -> SignatureConfig {
        let mut config = SignatureConfig::v4(typ, self.secret.algorithm(), HashAlgorithm::SHA2_256);
        let created = self.secret.created_at().timestamp().max(0) as u64;
        let at = chrono::DateTime::from_timestamp(time.max(created) as i64, 0).unwrap_or_default();
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::IssuerFingerprint(self.secret.fingerprint())),
            Subpacket::regular(SubpacketData::SignatureCreationTime(at)),
        ];
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::Issuer(
            self.secret.key_id(),
        ))];
        config
    }

    /// An armored detached signature of `data`, made at `time`.
    pub fn detached(&self, data: &[u8], time: u64) -> Result<String, String> {
        let sig = self
            .config(SignatureType::Binary, time)
            .sign(&self.secret, String::new, data)
            .map_err(|e| e.to_string())?;
        StandaloneSignature::new(sig)
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| e.to_string())
    }

    /// True when `sig` is this key's valid detached signature of `data`.
    pub fn signed_detached(&self, sig: &[u8], data: &[u8]) -> bool {
        let Ok(text) = std::str::from_utf8(sig) else {
            return false;
        };
        StandaloneSignature::from_string(text)
            .map(|(s, _)| s.verify(&self.public(), data).is_ok())
            .unwrap_or(false)
    }

    /// True when `message` is `text` cleartext-signed by this key.
    pub fn signed_cleartext(&self, message: &[u8], text: &str) -> bool {
        let Ok(message) = std::str::from_utf8(message) else {
            return false;
        };
        let Ok((msg, _)) = CleartextSignedMessage::from_string(message) else {
            return false;
        };
        let crlf = |s: &str| s.trim_end().replace("\r\n", "\n").replace('\n', "\r\n");
        msg.verify(&self.public()).is_ok() && crlf(&msg.signed_text()) == crlf(text)
    }

    /// `text`, cleartext-signed (`InRelease`).
    pub fn cleartext(&self, text: &str, time: u64) -> Result<String, String> {
        let config = self.config(SignatureType::Text, time);
        let msg = CleartextSignedMessage::new(text, config, &self.secret, String::new)
            .map_err(|e| e.to_string())?;
        msg.to_armored_string(ArmorOptions::default())
            .map_err(|e| e.to_string())
    }
}

/// True when `sig` (armored, detached) is a valid signature of `data` by
/// the armored public key `public` (`gpg --armor --export`). `Err` when the
/// key cannot be read.
pub fn verifies(public: &str, sig: &[u8], data: &[u8]) -> Result<bool, String> {
    let (key, _) = SignedPublicKey::from_string(public)
        .map_err(|e| format!("it is not a readable armored OpenPGP public key ({e})"))?;
    let Ok(text) = std::str::from_utf8(sig) else {
        return Ok(false);
    };
    Ok(StandaloneSignature::from_string(text)
        .map(|(s, _)| s.verify(&key, data).is_ok())
        .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_armored_secret_key_without_quoting_it() {
        let e = SigningKey::from_armored("AKIASECRET not a key").unwrap_err();
        assert!(e.contains("not an armored OpenPGP secret key") && !e.contains("AKIASECRET"));
        let e = SigningKey::from_armored(
            "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot base64 at all\n-----END PGP PRIVATE KEY BLOCK-----\n",
        )
        .unwrap_err();
        assert!(e.contains("not a readable OpenPGP secret key"), "{e}");
    }
}
