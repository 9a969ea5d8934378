//! Nix signing keys (`name:base64`) and narinfo signatures.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

/// Why a key could not be read. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No `name:` prefix, or an empty name or payload.
    #[error("not a Nix key (expected `name:base64`)")]
    Shape,
    /// The payload is not base64.
    #[error("the key payload is not valid base64")]
    Base64,
    /// The payload has the wrong length.
    #[error("the key payload is {0} bytes; a Nix secret key has 64 and a public key 32")]
    Length(usize),
    /// The public half of a secret key does not match its seed.
    #[error("the secret key's public half does not match its seed")]
    Mismatch,
    /// A PEM that is not an Ed25519 PKCS#8 private key or SPKI public key.
    #[error("not an Ed25519 PKCS#8 PEM key")]
    Pem,
}

/// A Nix secret key: what `nix-store --generate-binary-cache-key` writes.
pub struct SecretKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({}:<redacted>)", self.name)
    }
}

/// A Nix public key: `name:base64(32 bytes)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    name: String,
    key: VerifyingKey,
}

fn split(text: &str) -> Result<(&str, Vec<u8>), KeyError> {
    let (name, payload) = text.trim().split_once(':').ok_or(KeyError::Shape)?;
    if name.is_empty() || payload.is_empty() {
        return Err(KeyError::Shape);
    }
    Ok((name, B64.decode(payload).map_err(|_| KeyError::Base64)?))
}

impl SecretKey {
    /// Reads a secret key file's text.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let (name, bytes) = split(text)?;
        let bytes: [u8; 64] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Length(bytes.len()))?;
        let seed: [u8; 32] = bytes[..32].try_into().map_err(|_| KeyError::Length(64))?;
        let key = SigningKey::from_bytes(&seed);
        if key.verifying_key().as_bytes() != &bytes[32..] {
            return Err(KeyError::Mismatch);
        }
        Ok(SecretKey {
            name: name.to_string(),
            key,
        })
    }

    /// The key of `seed`, named `name`.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> SecretKey {
        SecretKey {
            name: name.to_string(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// The key's name (`cache.example.org-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A Nix key file's text, or an Ed25519 PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub fn parse_any(text: &str) -> Result<SecretKey, KeyError> {
        if text.contains("-----BEGIN") {
            use ed25519_dalek::pkcs8::DecodePrivateKey;
            let key = SigningKey::from_pkcs8_pem(text.trim()).map_err(|_| KeyError::Pem)?;
            Ok(SecretKey {
                name: "pem".into(),
                key,
            })
        } else {
            SecretKey::parse(text)
        }
    }

    /// Signs `message`, giving `name:base64(signature)`.
    pub fn sign(&self, message: &[u8]) -> String {
        format!(
            "{}:{}",
            self.name,
            B64.encode(self.key.sign(message).to_bytes())
        )
    }

    /// Signs raw bytes, giving the 64-byte signature.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }
}

impl PublicKey {
    /// Reads `name:base64(32 bytes)`.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let (name, bytes) = split(text)?;
        let bytes: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Length(bytes.len()))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::Base64)?;
        Ok(PublicKey {
            name: name.to_string(),
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Verifies a `name:base64` signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &str) -> bool {
        let Some((name, sig)) = signature.split_once(':') else {
            return false;
        };
        let Ok(bytes) = B64.decode(sig) else {
            return false;
        };
        let Ok(sig) = ed25519_dalek::Signature::from_slice(&bytes) else {
            return false;
        };
        name == self.name && self.key.verify(message, &sig).is_ok()
    }

    /// A Nix public key (`name:base64`), or an Ed25519 SPKI PEM (`BEGIN PUBLIC KEY`).
    pub fn parse_any(text: &str) -> Result<PublicKey, KeyError> {
        if text.contains("-----BEGIN") {
            use ed25519_dalek::pkcs8::DecodePublicKey;
            let key = VerifyingKey::from_public_key_pem(text.trim()).map_err(|_| KeyError::Pem)?;
            Ok(PublicKey {
                name: "pem".into(),
                key,
            })
        } else {
            PublicKey::parse(text)
        }
    }

    /// The 32 raw bytes of the key.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.key.as_bytes()
    }

    /// The key as an SPKI PEM, for tools such as openssl.
    pub fn to_pem(&self) -> String {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePublicKey};
        self.key
            .to_public_key_pem(LineEnding::LF)
            .unwrap_or_default()
    }

    /// Verifies a raw 64-byte signature.
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        ed25519_dalek::Signature::from_slice(signature)
            .map(|sig| self.key.verify(message, &sig).is_ok())
            .unwrap_or(false)
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.name, B64.encode(self.key.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/nix-cache");

    #[test]
    fn the_test_key_pair_matches() {
        let sk = SecretKey::parse(&std::fs::read_to_string(format!("{VECTORS}/key.sec")).unwrap())
            .unwrap();
        let pk = std::fs::read_to_string(format!("{VECTORS}/key.pub")).unwrap();
        assert_eq!(sk.public().to_string(), pk.trim());
        assert_eq!(sk.name(), "test-cache-1");
    }

    #[test]
    fn signs_as_nix_signed() {
        let sk = SecretKey::parse(&std::fs::read_to_string(format!("{VECTORS}/key.sec")).unwrap())
            .unwrap();
        let fp = "1;/nix/store/nqhhs5kpnf66v25jh169a5alb38zyb3w-hello-amd64;sha256:0c0p20c39b899saa6dkc2cfc4dvclpf9x2mhc50xdd2hg82wvb8f;560;/nix/store/v22cmy24vqbmvpn2rk6h1g45vdp1q12j-libfoo";
        assert_eq!(
            sk.sign(fp.as_bytes()),
            "test-cache-1:jWT7w7qfvmRGDw+zYCEGNdNBXfQd8DypxVOUNBB9icZsGu+Vq+18QQTcGmPkur8kJU+ap1zcmEbxsQKMy4VIAg=="
        );
    }

    #[test]
    fn verifies_cache_nixos_org_and_attic_vectors() {
        let fp = "1;/nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10;sha256:16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci;206104;/nix/store/563528481rvhc5kxwipjmg6rqrl95mdx-glibc-2.33-56,/nix/store/xcp9cav49dmsjbwdjlmkjxj10gkpx553-hello-2.10";
        let pk = PublicKey::parse("cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=")
            .unwrap();
        let sig = "cache.nixos.org-1:lo9EfNIL4eGRuNh7DTbAAffWPpI2SlYC/8uP7JnhgmfRIUNGhSbFe8qEaKN0mFS02TuhPpXFPNtRkFcCp0hGAQ==";
        assert!(pk.verify(fp.as_bytes(), sig));
        assert!(!pk.verify(b"something else", sig));
        let attic = SecretKey::parse("attic-test:x326WFy/JUl+MQnN1u9NPdWQPBbcVn2mwoIqSLS3DmQqZ8qT8rBSxxEnyhtl3jDouBqodlyfq6F+HsVhbTYPMA==").unwrap();
        assert_eq!(
            attic.sign(fp.as_bytes()),
            "attic-test:eYHHTJBtlEMhEiNBHSxOvvc78HO1H8TVPD/hD9FXA5y/8AIHeufvS411ayGeTPUtROThLq7ZBdMIIYp6DZ9VBg=="
        );
    }

    #[test]
    fn malformed_keys_are_refused_without_echoing_them() {
        assert_eq!(SecretKey::parse("nocolon").unwrap_err(), KeyError::Shape);
        assert_eq!(SecretKey::parse(":AAAA").unwrap_err(), KeyError::Shape);
        assert_eq!(SecretKey::parse("k:!!!").unwrap_err(), KeyError::Base64);
        assert_eq!(SecretKey::parse("k:AAAA").unwrap_err(), KeyError::Length(3));
        let pubkey = "test-cache-1:GarIssH8ov8FZx+EGKsEsNydOvOEBMyLMtaexhpkqhE=";
        assert_eq!(SecretKey::parse(pubkey).unwrap_err(), KeyError::Length(32));
        let sk = SecretKey::parse(&std::fs::read_to_string(format!("{VECTORS}/key.sec")).unwrap())
            .unwrap();
        assert!(!format!("{sk:?}")
            .contains(&std::fs::read_to_string(format!("{VECTORS}/key.sec")).unwrap()[13..]));
    }
}
