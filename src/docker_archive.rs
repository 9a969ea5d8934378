//! Reading the docker archives that nixpkgs' dockerTools writes.
//!
//! Both shapes are read the same way: `buildImage` (`<id>/layer.tar`,
//! `<id>/json`, `repositories`) and `buildLayeredImage`/`streamLayeredImage`
//! (`<sha>/layer.tar`, `manifest.json` last). The outer file may be plain,
//! gzip or zstd; a layer member may itself be gzip or zstd (a `fromImage`
//! base from another tool), and is then hashed and used uncompressed.
//!
//! A tar stream cannot seek and `manifest.json` may come last, so reading is
//! two passes over the file: [`scan`] hashes every member and checks the
//! layers against the config's `rootfs.diff_ids`; [`extract`] streams the
//! layers that are wanted. Directory names are never trusted as digests.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// What can be wrong with an archive. Messages name the member.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The file ended early.
    #[error("the archive is truncated ({0})")]
    Truncated(String),
    /// The bytes are not what a docker archive holds.
    #[error("{0}")]
    Corrupt(String),
    /// Reading failed.
    #[error("cannot read it: {0}")]
    Io(#[source] io::Error),
}

fn from_io(e: io::Error) -> ArchiveError {
    let text = e.to_string();
    // tar reports a short skip or header as `Other`: find it by its words.
    if e.kind() == io::ErrorKind::UnexpectedEof
        || text.contains("unexpected EOF")
        || text.contains("entire block")
    {
        ArchiveError::Truncated(e.to_string())
    } else {
        // A decoder's complaint about its input is corruption, not I/O.
        match e.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
                ArchiveError::Corrupt(format!("cannot decode it: {e}"))
            }
            _ => ArchiveError::Io(e),
        }
    }
}

/// How a byte stream is compressed, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    Plain,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

/// Sniffs the compression of a stream from its first bytes.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::Plain
    }
}

/// Wraps `r` in the decoder its first bytes call for.
pub fn decoded<'a, R: Read + 'a>(r: R) -> Result<Box<dyn Read + 'a>, ArchiveError> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let head = r.fill_buf().map_err(from_io)?;
    Ok(match sniff(head) {
        Compression::Plain => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(r).map_err(from_io)?)
        }
    })
}

/// What the image's config says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigInfo {
    /// `architecture` (GOARCH spelling: amd64, 386, arm64, arm).
    pub architecture: String,
    /// `os`.
    pub os: String,
    /// `variant`, which Nix never writes.
    pub variant: Option<String>,
    /// `rootfs.diff_ids`, hex without `sha256:`.
    pub diff_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RawConfig {
    architecture: Option<String>,
    os: Option<String>,
    variant: Option<String>,
    rootfs: Option<RawRootfs>,
}

#[derive(Deserialize)]
struct RawRootfs {
    diff_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawManifestEntry {
    config: String,
    layers: Vec<String>,
}

/// Parses an image config's platform and diff_ids.
pub fn parse_config(bytes: &[u8]) -> Result<ConfigInfo, ArchiveError> {
    let raw: RawConfig = serde_json::from_slice(bytes)
        .map_err(|e| ArchiveError::Corrupt(format!("the image config is not valid JSON: {e}")))?;
    let diff_ids = raw
        .rootfs
        .ok_or_else(|| ArchiveError::Corrupt("the image config has no rootfs".into()))?
        .diff_ids
        .into_iter()
        .map(|d| {
            d.strip_prefix("sha256:")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_ascii_lowercase)
                .ok_or_else(|| {
                    ArchiveError::Corrupt(format!("the image config has a bad diff_id `{d}`"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ConfigInfo {
        architecture: raw
            .architecture
            .ok_or_else(|| ArchiveError::Corrupt("the image config has no architecture".into()))?,
        os: raw
            .os
            .ok_or_else(|| ArchiveError::Corrupt("the image config has no os".into()))?,
        variant: raw.variant,
        diff_ids,
    })
}

/// One layer of the image, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerMember {
    /// Its path in the archive (`<sha>/layer.tar`).
    pub member: String,
    /// sha256 of its uncompressed bytes, hex: checked to equal the diff_id.
    pub diff_id: String,
    /// Its uncompressed size.
    pub size: u64,
}

/// What [`scan`] found: an image whose layers all match its config.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// The config, byte for byte.
    pub config: Vec<u8>,
    /// sha256 of the config bytes, hex.
    pub config_digest: String,
    /// What the config says.
    pub info: ConfigInfo,
    /// The layers, in `rootfs.diff_ids` order.
    pub layers: Vec<LayerMember>,
}

/// Small top-level JSON members (the config, `manifest.json`) are kept in
/// memory up to this size.
const MAX_JSON: u64 = 16 * 1024 * 1024;
/// The most bytes every top-level JSON member of one archive may hold
/// together (read into memory).
pub const MAX_JSON_TOTAL: u64 = 64 * 1024 * 1024;
/// How far an archive may expand, in decoded member bytes per byte of the
/// archive file (deflate cannot pass about 1,032), with a floor for small
/// archives: a nested-gzip bomb stops here, not on the disk.
pub const MAX_EXPANSION: u64 = 1100;
/// The floor of [`MAX_EXPANSION`]'s budget.
pub const EXPANSION_FLOOR: u64 = 256 * 1024 * 1024;

/// The decoded bytes an archive of `archive_size` bytes may yield.
pub fn expansion_budget(archive_size: u64) -> u64 {
    archive_size
        .saturating_mul(MAX_EXPANSION)
        .max(EXPANSION_FLOOR)
}

fn normalize(path: &str) -> String {
    path.trim_start_matches("./").to_string()
}

/// The config `bytes` with `variant` set: nixpkgs' dockerTools never
/// writes one, and a client reads an arm config without it as v7 (Docker
/// 20.10 and later refuse `--platform linux/arm/v6` then). Re-serialized
/// (keys sorted), so the same input always gives the same bytes.
pub fn with_variant(bytes: &[u8], variant: &str) -> Result<Vec<u8>, ArchiveError> {
    let mut v: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ArchiveError::Corrupt(format!("the image config is not valid JSON: {e}")))?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| ArchiveError::Corrupt("the image config is not an object".into()))?;
    obj.insert("variant".into(), serde_json::Value::String(variant.into()));
    serde_json::to_vec(&v).map_err(|e| ArchiveError::Corrupt(e.to_string()))
}

/// A member that is metadata, not content: skipped by both passes.
fn is_metadata(path: &str) -> bool {
    path == "repositories"
        || path == "oci-layout"
        || path == "index.json"
        || path.ends_with("/json")
        || path.ends_with("/VERSION")
}

/// Hex sha256 and length of everything `r` yields, refused once it passes
/// `budget` bytes.
fn hash_all<R: Read>(mut r: R, budget: u64) -> Result<(String, u64), ArchiveError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).map_err(from_io)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
        if n > budget {
            return Err(ArchiveError::Corrupt(format!(
                "its members expand past {budget} bytes ({MAX_EXPANSION} times the archive, at least {EXPANSION_FLOOR}): a compression bomb?"
            )));
        }
    }
    Ok((hex::encode(h.finalize()), n))
}

/// Pass 1: reads the whole archive, hashes every content member (through
/// its own decompression, if it has one), and checks that the layers
/// `manifest.json` names hash to the config's `rootfs.diff_ids`, in order.
/// The members may yield `budget` decoded bytes in all
/// ([`expansion_budget`]), their JSON [`MAX_JSON_TOTAL`].
pub fn scan<R: Read>(reader: R, budget: u64) -> Result<Scanned, ArchiveError> {
    let mut archive = tar::Archive::new(decoded(reader)?);
    let mut json_total = 0u64;
    let mut decoded_total = 0u64;
    let mut manifest: Option<Vec<u8>> = None;
    let mut jsons: HashMap<String, Vec<u8>> = HashMap::new();
    let mut members: HashMap<String, (String, u64)> = HashMap::new();
    let mut count = 0usize;
    for entry in archive.entries().map_err(from_io)? {
        let mut entry = entry.map_err(from_io)?;
        count += 1;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = normalize(&entry.path().map_err(from_io)?.to_string_lossy());
        if is_metadata(&path) {
            continue;
        }
        let top_json = !path.contains('/') && path.ends_with(".json");
        if top_json {
            if entry.size() > MAX_JSON {
                return Err(ArchiveError::Corrupt(format!(
                    "{path} is {} bytes, too big for an image config",
                    entry.size()
                )));
            }
            json_total += entry.size();
            if json_total > MAX_JSON_TOTAL {
                return Err(ArchiveError::Corrupt(format!(
                    "its JSON members hold more than {MAX_JSON_TOTAL} bytes together"
                )));
            }
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes).map_err(from_io)?;
            if path == "manifest.json" {
                manifest = Some(bytes);
            } else {
                jsons.insert(path, bytes);
            }
            continue;
        }
        let left = budget.saturating_sub(decoded_total);
        let (digest, size) = hash_all(decoded(&mut entry)?, left)?;
        decoded_total += size;
        members.insert(path, (digest, size));
    }
    if count == 0 {
        return Err(ArchiveError::Corrupt(
            "it holds no files: not a docker archive".into(),
        ));
    }
    let manifest = manifest.ok_or_else(|| {
        ArchiveError::Truncated(
            "it has no manifest.json, which streamLayeredImage writes last".into(),
        )
    })?;
    let entries: Vec<RawManifestEntry> = serde_json::from_slice(&manifest)
        .map_err(|e| ArchiveError::Corrupt(format!("manifest.json is not valid: {e}")))?;
    let entry = match entries.as_slice() {
        [one] => one,
        other => {
            return Err(ArchiveError::Corrupt(format!(
                "manifest.json lists {} images; one per archive is expected",
                other.len()
            )))
        }
    };
    let config_name = normalize(&entry.config);
    let config = jsons.remove(&config_name).ok_or_else(|| {
        ArchiveError::Truncated(format!(
            "the config {config_name} named by manifest.json is missing"
        ))
    })?;
    let config_digest = hex::encode(Sha256::digest(&config));
    let info = parse_config(&config)?;
    if info.diff_ids.len() != entry.layers.len() {
        return Err(ArchiveError::Corrupt(format!(
            "manifest.json lists {} layers but the config's rootfs has {} diff_ids",
            entry.layers.len(),
            info.diff_ids.len()
        )));
    }
    let mut layers = Vec::with_capacity(entry.layers.len());
    for (i, (name, diff_id)) in entry.layers.iter().zip(&info.diff_ids).enumerate() {
        let name = normalize(name);
        let (digest, size) = members.get(&name).ok_or_else(|| {
            ArchiveError::Truncated(format!("layer {name} named by manifest.json is missing"))
        })?;
        if digest != diff_id {
            return Err(ArchiveError::Corrupt(format!(
                "layer {name} hashes to sha256:{digest}, but the config's rootfs.diff_ids[{i}] is sha256:{diff_id}: the layer is corrupt"
            )));
        }
        layers.push(LayerMember {
            member: name,
            diff_id: diff_id.clone(),
            size: *size,
        });
    }
    Ok(Scanned {
        config,
        config_digest,
        info,
        layers,
    })
}

/// What an archive's config says, read without hashing its layers: the
/// top-level JSON members (capped as [`scan`] caps them) and the config
/// `manifest.json` names. A cheap look for `build`; [`scan`] checks the
/// rest before anything is published.
pub fn config_of<R: Read>(reader: R) -> Result<ConfigInfo, ArchiveError> {
    let mut archive = tar::Archive::new(decoded(reader)?);
    let mut jsons: HashMap<String, Vec<u8>> = HashMap::new();
    let mut json_total = 0u64;
    for entry in archive.entries().map_err(from_io)? {
        let mut entry = entry.map_err(from_io)?;
        let path = normalize(&entry.path().map_err(from_io)?.to_string_lossy());
        if !entry.header().entry_type().is_file() || path.contains('/') || !path.ends_with(".json")
        {
            continue;
        }
        json_total += entry.size();
        if entry.size() > MAX_JSON || json_total > MAX_JSON_TOTAL {
            return Err(ArchiveError::Corrupt(format!(
                "{path} is too big for an image config"
            )));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(from_io)?;
        jsons.insert(path, bytes);
    }
    let manifest = jsons
        .get("manifest.json")
        .ok_or_else(|| ArchiveError::Truncated("it has no manifest.json".into()))?;
    let entries: Vec<RawManifestEntry> = serde_json::from_slice(manifest)
        .map_err(|e| ArchiveError::Corrupt(format!("manifest.json is not valid: {e}")))?;
    let config = match entries.as_slice() {
        [one] => jsons.get(&normalize(&one.config)),
        _ => None,
    }
    .ok_or_else(|| ArchiveError::Corrupt("manifest.json names no config it holds".into()))?;
    parse_config(config)
}

/// Pass 2: streams each member in `wanted` (uncompressed) to `sink`, in
/// archive order. Fails if one of them is not found.
pub fn extract<R: Read>(
    reader: R,
    wanted: &[String],
    sink: &mut dyn FnMut(&str, &mut dyn Read) -> io::Result<()>,
) -> Result<(), ArchiveError> {
    let mut archive = tar::Archive::new(decoded(reader)?);
    let mut left: Vec<&String> = wanted.iter().collect();
    for entry in archive.entries().map_err(from_io)? {
        if left.is_empty() {
            break;
        }
        let mut entry = entry.map_err(from_io)?;
        let path = normalize(&entry.path().map_err(from_io)?.to_string_lossy());
        if let Some(pos) = left.iter().position(|w| **w == path) {
            left.swap_remove(pos);
            let mut r = decoded(&mut entry)?;
            sink(&path, &mut r).map_err(from_io)?;
        }
    }
    if let Some(missing) = left.first() {
        return Err(ArchiveError::Truncated(format!(
            "layer {missing} was not found on the second read"
        )));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A layer tar holding one file.
    pub fn layer_tar(file: &str, body: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o555);
        h.set_mtime(1);
        h.set_cksum();
        b.append_data(&mut h, file, body).unwrap();
        b.into_inner().unwrap()
    }

    fn add(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1);
        h.set_cksum();
        b.append_data(&mut h, path, body).unwrap();
    }

    pub fn config_for(arch: &str, layers: &[&[u8]]) -> Vec<u8> {
        let ids: Vec<String> = layers
            .iter()
            .map(|l| format!("\"sha256:{}\"", hex::encode(Sha256::digest(l))))
            .collect();
        format!(
            "{{\n    \"architecture\": \"{arch}\",\n    \"os\": \"linux\",\n    \"config\": {{}},\n    \"rootfs\": {{\"type\": \"layers\", \"diff_ids\": [{}]}}\n}}",
            ids.join(", ")
        )
        .into_bytes()
    }

    /// A streamLayeredImage-shaped archive: layers first, manifest.json last.
    pub fn layered(arch: &str, layers: &[&[u8]]) -> Vec<u8> {
        let config = config_for(arch, layers);
        let cfg_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
        let mut b = tar::Builder::new(Vec::new());
        let mut names = Vec::new();
        for l in layers {
            let name = format!("{}/layer.tar", hex::encode(Sha256::digest(l)));
            add(&mut b, &name, l);
            names.push(format!("\"{name}\""));
        }
        add(&mut b, &cfg_name, &config);
        add(
            &mut b,
            "manifest.json",
            format!(
                "[{{\"Config\":\"{cfg_name}\",\"RepoTags\":[\"x:1\"],\"Layers\":[{}]}}]",
                names.join(",")
            )
            .as_bytes(),
        );
        b.into_inner().unwrap()
    }

    /// A buildImage-shaped archive: `<id>/layer.tar` where `id` is not the
    /// layer's digest, `<id>/json`, `<id>/VERSION`, `repositories`.
    fn build_image(arch: &str, layers: &[&[u8]]) -> Vec<u8> {
        let config = config_for(arch, layers);
        let cfg_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
        let mut b = tar::Builder::new(Vec::new());
        add(&mut b, "manifest.json", b"");
        let mut names = Vec::new();
        for (i, l) in layers.iter().enumerate() {
            let id = hex::encode(Sha256::digest(format!("layer json {i}")));
            add(&mut b, &format!("./{id}/json"), b"{\"id\":\"x\"}");
            add(&mut b, &format!("./{id}/VERSION"), b"1.0");
            add(&mut b, &format!("./{id}/layer.tar"), l);
            names.push(format!("\"{id}/layer.tar\""));
        }
        add(&mut b, &format!("./{cfg_name}"), &config);
        add(&mut b, "./repositories", b"{\"x\":{\"1\":\"id\"}}");
        let mut out = b.into_inner().unwrap();
        // Put the real manifest last, replacing the empty first one by
        // appending: the last member of a name wins in our reader, as in
        // docker's.
        let mut b2 = tar::Builder::new(Vec::new());
        add(
            &mut b2,
            "manifest.json",
            format!(
                "[{{\"Config\":\"{cfg_name}\",\"RepoTags\":[\"x:1\"],\"Layers\":[{}]}}]",
                names.join(",")
            )
            .as_bytes(),
        );
        let tail = b2.into_inner().unwrap();
        // Drop the two end-of-archive blocks of the first and append.
        let end = out.len() - 1024;
        out.truncate(end);
        out.extend_from_slice(&tail);
        out
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn scans_layered_archives_plain_gzip_and_zstd() {
        let l1 = layer_tar("bin/hello", b"#!/bin/sh\necho hi\n");
        let l2 = layer_tar("etc/motd", b"hello\n");
        let plain = layered("arm64", &[&l1, &l2]);
        for bytes in [
            plain.clone(),
            gz(&plain),
            zstd::encode_all(&plain[..], 3).unwrap(),
        ] {
            let s = scan(&bytes[..], u64::MAX).unwrap();
            assert_eq!(s.info.architecture, "arm64");
            assert_eq!(s.info.os, "linux");
            assert_eq!(s.layers.len(), 2);
            assert_eq!(s.layers[0].diff_id, hex::encode(Sha256::digest(&l1)));
            assert_eq!(s.layers[1].size, l2.len() as u64);
            assert_eq!(s.config_digest, hex::encode(Sha256::digest(&s.config)));
        }
    }

    #[test]
    fn scans_build_image_archives_without_trusting_directory_names() {
        let l1 = layer_tar("bin/hello", b"hi");
        let bytes = build_image("amd64", &[&l1]);
        let s = scan(&bytes[..], u64::MAX).unwrap();
        assert_eq!(s.layers[0].diff_id, hex::encode(Sha256::digest(&l1)));
        assert!(!s.layers[0].member.starts_with(&s.layers[0].diff_id));
    }

    #[test]
    fn a_compressed_layer_member_is_hashed_uncompressed() {
        let l1 = layer_tar("bin/hello", b"hi");
        let config = config_for("amd64", &[&l1]);
        let cfg_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
        let mut b = tar::Builder::new(Vec::new());
        add(&mut b, "blob/layer.tar", &gz(&l1));
        add(&mut b, &cfg_name, &config);
        add(
            &mut b,
            "manifest.json",
            format!("[{{\"Config\":\"{cfg_name}\",\"Layers\":[\"blob/layer.tar\"]}}]").as_bytes(),
        );
        let s = scan(&b.into_inner().unwrap()[..], u64::MAX).unwrap();
        assert_eq!(s.layers[0].size, l1.len() as u64);
        let mut got = Vec::new();
        let archive = {
            let mut b = tar::Builder::new(Vec::new());
            add(&mut b, "blob/layer.tar", &gz(&l1));
            b.into_inner().unwrap()
        };
        extract(&archive[..], &["blob/layer.tar".into()], &mut |_, r| {
            r.read_to_end(&mut got).map(|_| ())
        })
        .unwrap();
        assert_eq!(got, l1);
    }

    #[test]
    fn a_corrupt_layer_is_named() {
        let l1 = layer_tar("bin/hello", b"#!/bin/sh\necho hi\n");
        let mut bytes = layered("amd64", &[&l1]);
        // Flip a byte inside the layer's file body (after two headers).
        let at = bytes.windows(5).position(|w| w == b"echo ").unwrap();
        bytes[at] ^= 0x20;
        let err = scan(&bytes[..], u64::MAX).unwrap_err().to_string();
        assert!(err.contains("layer.tar hashes to"), "{err}");
        assert!(err.contains("corrupt"), "{err}");
    }

    #[test]
    fn truncation_is_reported_as_such() {
        let l1 = layer_tar("bin/big", &vec![7u8; 100_000]);
        let plain = layered("amd64", &[&l1]);
        let zipped = gz(&plain);
        for cut in [&plain[..plain.len() / 2], &zipped[..zipped.len() / 2]] {
            let err = scan(cut, u64::MAX).unwrap_err();
            assert!(matches!(err, ArchiveError::Truncated(_)), "{err:?}");
        }
        // Cut exactly after the layer: manifest.json is missing.
        let err = scan(&plain[..512 + l1.len().div_ceil(512) * 512], u64::MAX).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }

    #[test]
    fn a_compression_bomb_and_too_much_json_are_refused() {
        // A gzip member of 8 MiB of zeros: a few KiB in the archive.
        let zeros = vec![0u8; 8 << 20];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut gz, &layer_tar("zeros", &zeros)).unwrap();
        let member = gz.finish().unwrap();
        let bytes = layered("amd64", &[&member]);
        assert!(bytes.len() < 64 << 10, "{}", bytes.len());
        let err = scan(&bytes[..], 1 << 20).unwrap_err().to_string();
        assert!(err.contains("expand past"), "{err}");
        assert_eq!(expansion_budget(1), EXPANSION_FLOOR);
        assert_eq!(expansion_budget(1 << 30), (1 << 30) * MAX_EXPANSION);
        assert_eq!(expansion_budget(u64::MAX), u64::MAX);
        // Five JSON members of 15 MiB: each under its cap, too much together.
        let mut b = tar::Builder::new(Vec::new());
        let big = vec![b' '; 15 << 20];
        for i in 0..5 {
            add(&mut b, &format!("{i}.json"), &big);
        }
        let err = scan(&b.into_inner().unwrap()[..], u64::MAX)
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 67108864 bytes together"), "{err}");
    }

    #[test]
    fn an_arm_config_gets_its_variant_and_keeps_the_rest() {
        let c = config_for("arm", &[b"x"]);
        let with = with_variant(&c, "v6").unwrap();
        let info = parse_config(&with).unwrap();
        assert_eq!(
            (info.architecture.as_str(), info.variant.as_deref()),
            ("arm", Some("v6"))
        );
        assert_eq!(info.diff_ids, parse_config(&c).unwrap().diff_ids);
        assert_eq!(with, with_variant(&c, "v6").unwrap(), "deterministic");
        assert!(with_variant(b"[]", "v6").is_err());
    }

    #[test]
    fn the_config_is_read_without_the_layers() {
        let bytes = layered("arm64", &[b"layer one", b"layer two"]);
        let info = config_of(&bytes[..]).unwrap();
        assert_eq!(
            (info.os.as_str(), info.architecture.as_str()),
            ("linux", "arm64")
        );
        assert_eq!(info.diff_ids.len(), 2);
        assert!(config_of(&bytes[..bytes.len() / 2]).is_err(), "truncated");
    }

    #[test]
    fn not_an_archive_is_refused() {
        let err = scan(&b"hello, this is not a tar file at all"[..], u64::MAX).unwrap_err();
        // 36 bytes are not one 512-byte tar header.
        assert_eq!(
            err.to_string(),
            "the archive is truncated (failed to read entire block)"
        );
        assert!(scan(&[][..], u64::MAX).is_err());
    }

    #[test]
    fn config_variant_and_bad_diff_ids() {
        let c = br#"{"architecture":"arm","os":"linux","variant":"v6","rootfs":{"type":"layers","diff_ids":[]}}"#;
        assert_eq!(parse_config(c).unwrap().variant.as_deref(), Some("v6"));
        let bad = br#"{"architecture":"arm","os":"linux","rootfs":{"diff_ids":["md5:00"]}}"#;
        assert!(parse_config(bad)
            .unwrap_err()
            .to_string()
            .contains("bad diff_id"));
    }
}
