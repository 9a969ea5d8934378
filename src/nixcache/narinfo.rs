//! `.narinfo` text, its object key, its NAR's key, and its fingerprint.

use super::hash::Sha256Hash;
use super::signing::SecretKey;

/// The body of `nix-cache-info`, as `nix copy` writes it.
pub const NIX_CACHE_INFO: &str = "StoreDir: /nix/store\n";
/// Content-Type of `nix-cache-info`.
pub const CONTENT_TYPE_CACHE_INFO: &str = "text/x-nix-cache-info";
/// Content-Type of a `.narinfo`.
pub const CONTENT_TYPE_NARINFO: &str = "text/x-nix-narinfo";
/// Content-Type of a NAR, compressed or not (never a Content-Encoding).
pub const CONTENT_TYPE_NAR: &str = "application/x-nix-nar";

/// NAR compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain NAR.
    None,
    /// xz, the most compatible.
    Xz,
    /// zstd (clients need Nix ≥ 2.4), the default.
    Zstd,
}

impl Compression {
    /// The name in `Compression:` and in store URLs.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }

    /// The extension after `.nar`, as Nix names it.
    pub fn ext(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Xz => ".xz",
            Compression::Zstd => ".zst",
        }
    }

    /// Parses a store-URL value.
    pub fn parse(s: &str) -> Option<Compression> {
        match s {
            "none" => Some(Compression::None),
            "xz" => Some(Compression::Xz),
            "zstd" => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// What a cache says about one store path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfo {
    /// `/nix/store/<hash>-<name>`.
    pub store_path: String,
    /// How the NAR file is compressed.
    pub compression: Compression,
    /// SHA-256 of the NAR file as stored (compressed).
    pub file_hash: Sha256Hash,
    /// Size of the NAR file as stored.
    pub file_size: u64,
    /// SHA-256 of the uncompressed NAR.
    pub nar_hash: Sha256Hash,
    /// Size of the uncompressed NAR.
    pub nar_size: u64,
    /// Full store paths this path refers to.
    pub references: Vec<String>,
    /// Full path of the deriver, if known.
    pub deriver: Option<String>,
    /// `name:base64` signatures.
    pub sigs: Vec<String>,
    /// Content address, for CA paths.
    pub ca: Option<String>,
}

/// The 32-character hash part of a store path.
pub fn hash_part(store_path: &str) -> &str {
    let base = base_name(store_path);
    base.split_once('-').map(|(h, _)| h).unwrap_or(base)
}

/// Whether `base` is a store path's base name: 32 characters of Nix's
/// base-32 alphabet, `-`, and a name of `+-._?=` and alphanumerics (no
/// `/`, not starting with `.`), as Nix checks it.
pub fn is_store_basename(base: &str) -> bool {
    const NIX32: &[u8] = b"0123456789abcdfghijklmnpqrsvwxyz";
    let Some((hash, name)) = base.split_once('-') else {
        return false;
    };
    hash.len() == 32
        && hash.bytes().all(|b| NIX32.contains(&b))
        && !name.is_empty()
        && name.len() <= 211
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b))
}

fn base_name(store_path: &str) -> &str {
    store_path.rsplit('/').next().unwrap_or(store_path)
}

impl NarInfo {
    /// The narinfo's object key: `<hash>.narinfo`.
    pub fn key(&self) -> String {
        narinfo_key(&self.store_path)
    }

    /// The NAR file's key, named after its FileHash as `nix copy` names it.
    pub fn url(&self) -> String {
        format!(
            "nar/{}.nar{}",
            self.file_hash.to_nix32(),
            self.compression.ext()
        )
    }

    /// `1;<path>;sha256:<nix32>;<size>;<refs,…>`: what a signature covers.
    pub fn fingerprint(&self) -> String {
        let mut refs = self.references.clone();
        refs.sort();
        format!(
            "1;{};{};{};{}",
            self.store_path,
            self.nar_hash.to_nix32_prefixed(),
            self.nar_size,
            refs.join(",")
        )
    }

    /// Adds this key's signature; signatures stay sorted and unique.
    pub fn sign(&mut self, key: &SecretKey) {
        let sig = key.sign(self.fingerprint().as_bytes());
        self.sigs
            .retain(|s| !s.starts_with(&format!("{}:", key.name())));
        self.sigs.push(sig);
        self.sigs.sort();
        self.sigs.dedup();
    }

    /// The narinfo text, fields in Nix's order.
    pub fn render(&self) -> String {
        let mut refs: Vec<&str> = self.references.iter().map(|r| base_name(r)).collect();
        refs.sort();
        let mut out = String::new();
        out.push_str(&format!("StorePath: {}\n", self.store_path));
        out.push_str(&format!("URL: {}\n", self.url()));
        out.push_str(&format!("Compression: {}\n", self.compression.name()));
        out.push_str(&format!(
            "FileHash: {}\n",
            self.file_hash.to_nix32_prefixed()
        ));
        out.push_str(&format!("FileSize: {}\n", self.file_size));
        out.push_str(&format!("NarHash: {}\n", self.nar_hash.to_nix32_prefixed()));
        out.push_str(&format!("NarSize: {}\n", self.nar_size));
        // Always written, with its space, even when empty.
        out.push_str(&format!("References: {}\n", refs.join(" ")));
        if let Some(d) = &self.deriver {
            out.push_str(&format!("Deriver: {}\n", base_name(d)));
        }
        for sig in &self.sigs {
            out.push_str(&format!("Sig: {sig}\n"));
        }
        if let Some(ca) = &self.ca {
            out.push_str(&format!("CA: {ca}\n"));
        }
        out
    }
}

/// `<hash>.narinfo` for a store path.
pub fn narinfo_key(store_path: &str) -> String {
    format!("{}.narinfo", hash_part(store_path))
}

/// The NAR hash a narinfo gives for `store_path`, once one of its `Sig:`
/// lines checks with `key` over its fingerprint (StorePath, NarHash,
/// NarSize, References). The error says what is wrong: another path, a
/// missing field, no good signature.
pub fn signed_nar_hash(
    text: &str,
    store_path: &str,
    key: &super::PublicKey,
) -> Result<Sha256Hash, String> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
    };
    let path = field("StorePath").ok_or("it has no StorePath")?;
    if path != store_path {
        return Err(format!("it is for {path}, not {store_path}"));
    }
    let nar_hash = field("NarHash")
        .and_then(super::parse_nar_hash)
        .ok_or("it has no readable NarHash")?;
    let nar_size: u64 = field("NarSize")
        .and_then(|s| s.parse().ok())
        .ok_or("it has no readable NarSize")?;
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let mut refs: Vec<String> = field("References")
        .unwrap_or("")
        .split_whitespace()
        .map(|r| format!("{dir}/{r}"))
        .collect();
    refs.sort();
    let fingerprint = format!(
        "1;{path};{};{nar_size};{}",
        nar_hash.to_nix32_prefixed(),
        refs.join(",")
    );
    let signed = text
        .lines()
        .filter_map(|l| l.strip_prefix("Sig: "))
        .any(|sig| key.verify(fingerprint.as_bytes(), sig));
    match signed {
        true => Ok(nar_hash),
        false => Err(format!("no signature on it checks with {}", key.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_base_names_are_checked_as_nix_checks_them() {
        assert!(is_store_basename(
            "nqhhs5kpnf66v25jh169a5alb38zyb3w-hello-amd64"
        ));
        for bad in [
            "",
            "shadow",
            "nqhhs5kpnf66v25jh169a5alb38zyb3w-",
            "nqhhs5kpnf66v25jh169a5alb38zyb3w-a/b",
            "nqhhs5kpnf66v25jh169a5alb38zyb3w-..",
            "eqhhs5kpnf66v25jh169a5alb38zyb3w-x",
            "nqhhs5kpnf66v25jh169a5alb38zyb3-x",
        ] {
            assert!(!is_store_basename(bad), "{bad}");
        }
    }
    use crate::nixcache::parse_nar_hash;

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/nix-cache");

    fn hello(compression: Compression, file_hash: &str, file_size: u64) -> NarInfo {
        NarInfo {
            store_path: "/nix/store/nqhhs5kpnf66v25jh169a5alb38zyb3w-hello-amd64".into(),
            compression,
            file_hash: parse_nar_hash(file_hash).unwrap(),
            file_size,
            nar_hash: parse_nar_hash("sha256:0c0p20c39b899saa6dkc2cfc4dvclpf9x2mhc50xdd2hg82wvb8f")
                .unwrap(),
            nar_size: 560,
            references: vec!["/nix/store/v22cmy24vqbmvpn2rk6h1g45vdp1q12j-libfoo".into()],
            deriver: Some("/nix/store/8ngh221xrg43gsqqf0khhwhgn6ykrpk8-hello-amd64.drv".into()),
            sigs: vec![],
            ca: None,
        }
    }

    fn vector(path: &str) -> String {
        std::fs::read_to_string(format!("{VECTORS}/{path}")).unwrap()
    }

    #[test]
    fn the_nar_hash_of_a_narinfo_nix_signed_is_read_only_with_its_key() {
        let text = vector("bc-zst/nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo");
        let path = "/nix/store/nqhhs5kpnf66v25jh169a5alb38zyb3w-hello-amd64";
        let key = crate::nixcache::PublicKey::parse(vector("key.pub").trim()).unwrap();
        assert_eq!(
            signed_nar_hash(&text, path, &key)
                .unwrap()
                .to_nix32_prefixed(),
            "sha256:0c0p20c39b899saa6dkc2cfc4dvclpf9x2mhc50xdd2hg82wvb8f"
        );
        let other = crate::nixcache::SecretKey::from_seed("other", [3; 32]).public();
        assert!(signed_nar_hash(&text, path, &other).is_err());
        // Any change to what the signature covers breaks it.
        let altered = text.replace("NarSize: 560", "NarSize: 561");
        assert!(signed_nar_hash(&altered, path, &key)
            .unwrap_err()
            .contains("no signature"));
        let unsigned = vector("bc-none/nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo");
        assert!(signed_nar_hash(&unsigned, path, &key).is_err());
        assert!(signed_nar_hash(&text, "/nix/store/x-other", &key)
            .unwrap_err()
            .contains("not /nix/store/x-other"));
    }

    #[test]
    fn uncompressed_narinfo_is_byte_identical() {
        let info = hello(
            Compression::None,
            "sha256:0c0p20c39b899saa6dkc2cfc4dvclpf9x2mhc50xdd2hg82wvb8f",
            560,
        );
        assert_eq!(
            info.render(),
            vector("bc-none/nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo")
        );
        assert_eq!(info.key(), "nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo");
        let nar = std::fs::read(format!("{VECTORS}/bc-none/{}", info.url())).unwrap();
        assert_eq!(nar.len(), 560);
    }

    #[test]
    fn signed_zstd_narinfo_is_byte_identical() {
        let key = crate::nixcache::SecretKey::parse(&vector("key.sec")).unwrap();
        let mut info = hello(
            Compression::Zstd,
            "sha256:1pckbv4abyzv5j5qrs0jvjhrv52zaiarnxdcx2518rsj0kmh74xq",
            221,
        );
        info.sign(&key);
        assert_eq!(
            info.render(),
            vector("bc-zst/nqhhs5kpnf66v25jh169a5alb38zyb3w.narinfo")
        );
    }

    #[test]
    fn a_path_without_references_keeps_the_space_and_ends_its_fingerprint_with_a_semicolon() {
        let info = NarInfo {
            store_path: "/nix/store/v22cmy24vqbmvpn2rk6h1g45vdp1q12j-libfoo".into(),
            compression: Compression::None,
            file_hash: parse_nar_hash(
                "sha256:0s4hcv0wgwir4vnzsg4bs7xmv2gdpfdkppk9ll5hh3spc5csr3p5",
            )
            .unwrap(),
            file_size: 464,
            nar_hash: parse_nar_hash("sha256:0s4hcv0wgwir4vnzsg4bs7xmv2gdpfdkppk9ll5hh3spc5csr3p5")
                .unwrap(),
            nar_size: 464,
            references: vec![],
            deriver: Some("/nix/store/7wyghmz4bqmmb7gxfmm9b2hpp11k61b9-libfoo.drv".into()),
            sigs: vec![],
            ca: None,
        };
        assert_eq!(
            info.render(),
            vector("bc-none/v22cmy24vqbmvpn2rk6h1g45vdp1q12j.narinfo")
        );
        assert_eq!(
            info.fingerprint(),
            "1;/nix/store/v22cmy24vqbmvpn2rk6h1g45vdp1q12j-libfoo;sha256:0s4hcv0wgwir4vnzsg4bs7xmv2gdpfdkppk9ll5hh3spc5csr3p5;464;"
        );
    }

    #[test]
    fn cache_info_matches() {
        assert_eq!(NIX_CACHE_INFO, vector("bc-none/nix-cache-info"));
    }
}
