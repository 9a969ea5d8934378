//! SHA-256 hashes in the spellings Nix uses: nix32, base16, SRI.

use base64::Engine;

/// A SHA-256 digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hash(pub [u8; 32]);

impl Sha256Hash {
    /// `sha256:<nix32>`, as narinfo and fingerprints write it.
    pub fn to_nix32_prefixed(&self) -> String {
        format!("sha256:{}", self.to_nix32())
    }

    /// The 52-character nix32 form.
    pub fn to_nix32(&self) -> String {
        nix_base32::to_nix_base32(&self.0)
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `sha256-<base64>` (SRI).
    pub fn to_sri(&self) -> String {
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD.encode(self.0)
        )
    }
}

/// Reads a NAR hash as nix prints it anywhere: SRI (`sha256-…`, Nix 2.8's
/// path-info), `sha256:<nix32>` or `sha256:<hex>`.
pub fn parse_nar_hash(text: &str) -> Option<Sha256Hash> {
    let bytes = if let Some(b64) = text.strip_prefix("sha256-") {
        base64::engine::general_purpose::STANDARD.decode(b64).ok()?
    } else {
        let body = text.strip_prefix("sha256:")?;
        match body.len() {
            64 => hex::decode(body).ok()?,
            52 => nix_base32::from_nix_base32(body)?,
            _ => return None,
        }
    };
    Some(Sha256Hash(bytes.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nix32_vectors() {
        let h = Sha256Hash(
            hex::decode("91e129ac1959d062ad093d2b1f8b65afae0f712056fe3eac78ec530ff6a1bb9a")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert_eq!(
            h.to_nix32(),
            "16mvl7v0ylzcg2n3xzjn41qhzbmgcn5iyarx16nn5l2r36n2kqci"
        );
        let db = parse_nar_hash(
            "sha256:e58eac5961570f080ba569de3b9bbbed895dfbd18b3cfded2639f2c7c1669068",
        )
        .unwrap();
        assert_eq!(
            db.to_nix32_prefixed(),
            "sha256:0s4hcv0wgwir4vnzsg4bs7xmv2gdpfdkppk9ll5hh3spc5csr3p5"
        );
    }

    #[test]
    fn every_spelling_parses_to_the_same_digest() {
        let h =
            parse_nar_hash("sha256:0s4hcv0wgwir4vnzsg4bs7xmv2gdpfdkppk9ll5hh3spc5csr3p5").unwrap();
        assert_eq!(parse_nar_hash(&h.to_sri()), Some(h));
        assert_eq!(parse_nar_hash(&format!("sha256:{}", h.to_hex())), Some(h));
        assert_eq!(parse_nar_hash("md5:abc"), None);
        assert_eq!(parse_nar_hash("sha256:tooshort"), None);
    }
}
