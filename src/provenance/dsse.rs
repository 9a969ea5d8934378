//! DSSE envelopes (secure-systems-lab/dsse v1): Ed25519 over the
//! pre-authentication encoding, the payload kept as exact bytes.

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE as B64URL};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::nixcache::{PublicKey, SecretKey};

/// The payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
pub fn pae(payload_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A DSSE envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// Base64 of the exact payload bytes.
    pub payload: String,
    /// What the payload is.
    pub payload_type: String,
    /// The signatures.
    pub signatures: Vec<EnvelopeSignature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeSignature {
    /// An unauthenticated hint: the sha256 of the raw public key, hex.
    #[serde(default)]
    pub keyid: String,
    /// Base64 of the Ed25519 signature over the PAE.
    pub sig: String,
}

/// The key id written into envelopes: sha256 of the 32-byte public key, hex.
pub fn key_id(key: &PublicKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Signs `body` as `payload_type`.
pub fn sign(key: &SecretKey, payload_type: &str, body: &[u8]) -> Envelope {
    let sig = key.sign_raw(&pae(payload_type, body));
    Envelope {
        payload: B64.encode(body),
        payload_type: payload_type.into(),
        signatures: vec![EnvelopeSignature {
            keyid: key_id(&key.public()),
            sig: B64.encode(sig),
        }],
    }
}

/// Why an envelope does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The payload is not base64.
    #[error("the payload is not base64")]
    Payload,
    /// No signature verifies with the key.
    #[error("no signature verifies with the given key")]
    Signature,
    /// Not the payload type we sign.
    #[error("unexpected payload type `{0}`")]
    PayloadType(String),
}

fn decode(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).or_else(|_| B64URL.decode(text)).ok()
}

/// Checks the envelope with `key` and returns the payload bytes. The payload
/// type is checked only after the signature, as DSSE asks.
pub fn verify(envelope: &Envelope, key: &PublicKey) -> Result<Vec<u8>, VerifyError> {
    let body = decode(&envelope.payload).ok_or(VerifyError::Payload)?;
    let message = pae(&envelope.payload_type, &body);
    let signed = envelope.signatures.iter().any(|s| {
        decode(&s.sig)
            .map(|sig| key.verify_raw(&message, &sig))
            .unwrap_or(false)
    });
    if !signed {
        return Err(VerifyError::Signature);
    }
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(VerifyError::PayloadType(envelope.payload_type.clone()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_vector() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    fn key() -> SecretKey {
        // The Nix 2.8 vector key (tests/vectors/nix-cache/keys).
        SecretKey::parse(include_str!("../../tests/vectors/nix-cache/key.sec")).unwrap()
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let k = key();
        let env = sign(&k, IN_TOTO_PAYLOAD_TYPE, br#"{"a":1}"#);
        assert_eq!(verify(&env, &k.public()).unwrap(), br#"{"a":1}"#);

        let mut tampered = env.clone();
        tampered.payload = B64.encode(br#"{"a":2}"#);
        assert_eq!(verify(&tampered, &k.public()), Err(VerifyError::Signature));

        // The payload type is signed too.
        let mut retyped = env.clone();
        retyped.payload_type = "text/plain".into();
        assert_eq!(verify(&retyped, &k.public()), Err(VerifyError::Signature));
    }

    #[test]
    fn a_pkcs8_pem_key_signs_like_its_nix_twin() {
        use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey};
        let nix = key();
        // Rebuild the same key as PKCS#8 PEM from its 32-byte seed.
        let text = include_str!("../../tests/vectors/nix-cache/key.sec");
        let seed: [u8; 32] = B64.decode(text.trim().split_once(':').unwrap().1).unwrap()[..32]
            .try_into()
            .unwrap();
        let pem = ed25519_dalek::SigningKey::from_bytes(&seed)
            .to_pkcs8_pem(LineEnding::LF)
            .unwrap();
        let from_pem = SecretKey::parse_any(&pem).unwrap();
        let env = sign(&from_pem, IN_TOTO_PAYLOAD_TYPE, b"{}");
        // Ed25519 is deterministic: same key, same signature.
        assert_eq!(env, sign(&nix, IN_TOTO_PAYLOAD_TYPE, b"{}"));
        let public = PublicKey::parse_any(&nix.public().to_pem()).unwrap();
        verify(&env, &public).unwrap();
        assert!(SecretKey::parse_any(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"
        )
        .is_err());
    }
}
