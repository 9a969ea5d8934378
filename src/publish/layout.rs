//! Where a release's objects go, and the documents that describe it. Pure.
//!
//! `df-dist-v1` (the default):
//! - `df-dist-v1/<name>/<tag>/<os>/<arch>[/<variant>]/<file>` and `<file>.sha256`;
//! - `df-dist-v1/<name>/<tag>/SHA256SUMS` and `<name>-<tag>.intoto.jsonl`;
//! - the tag document `df-dist-v1/<name>/<tag>` and the name document `df-dist-v1/<name>`.
//!
//! `garage` (Garage's own bucket): `_releases/<tag>/<rust triple>/<file>`, the
//! same checksums and provenance under `_releases/<tag>/`, no documents: the
//! release index is the listing.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::platform::Platform;

pub use crate::kinds::Layout;

/// The df-dist-v1 root.
pub const DF_DIST_ROOT: &str = "df-dist-v1";
/// The Garage layout root.
pub const GARAGE_ROOT: &str = "_releases";
pub use crate::kinds::SHA256SUMS;

/// Content-Types.
pub mod content_type {
    /// Binaries.
    pub const BINARY: &str = "application/octet-stream";
    /// Checksums.
    pub const TEXT: &str = "text/plain; charset=utf-8";
    /// JSON documents.
    pub const JSON: &str = "application/json";
    /// The release page.
    pub const HTML: &str = "text/html; charset=utf-8";
}

/// One file of a release, on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFile {
    /// Its target; `None` for a file of the whole release (the source
    /// tarball), which lives at the release's top.
    pub platform: Option<Platform>,
    /// Its file name (`hello`).
    pub file: String,
    /// Where its bytes are.
    pub local: PathBuf,
    /// sha256 of its bytes, hex.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// What it is: a binary, the source, a Nix manifest, an extra artifact.
    pub role: FileRole,
}

/// What a release file is, for the tag document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRole {
    /// A target's binary: a resource of the target's flavor.
    Binary,
    /// The source tarball.
    Source,
    /// `manifest.nix` or `manifest.json`.
    NixManifest,
    /// A configured extra artifact, by name.
    Extra(String),
    /// A .deb or .rpm (also in the repositories).
    Package,
    /// `install.sh`.
    Installer,
    /// The CycloneDX SBOM.
    Sbom,
    /// The signed reproducibility statement `rebuild` wrote.
    Reproduced,
    /// A target's archive (`<name>-<tag>-<rust triple>.tar.gz`, `.zip` for
    /// Windows): its binaries and the configured files.
    Archive(Platform),
}

impl FileRole {
    /// `binary`, `source`, `nix-manifest` or `extra`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileRole::Binary => "binary",
            FileRole::Source => "source",
            FileRole::NixManifest => "nix-manifest",
            FileRole::Extra(_) => "extra",
            FileRole::Package => "package",
            FileRole::Installer => "installer",
            FileRole::Sbom => "sbom",
            FileRole::Reproduced => "reproduced",
            FileRole::Archive(_) => "archive",
        }
    }
}

impl ReleaseFile {
    /// Its path inside the release: [`Layout::file_path`] for a target's
    /// file, its name alone for a file of the whole release.
    pub fn path_in(&self, layout: Layout) -> String {
        match self.platform {
            Some(p) => layout.file_path(p, &self.file),
            None => self.file.clone(),
        }
    }
}

impl Layout {
    /// The prefix every object of a name lives under.
    pub fn name_prefix(self, name: &str) -> String {
        match self {
            Layout::DfDist => format!("{DF_DIST_ROOT}/{name}/"),
            Layout::Garage => format!("{GARAGE_ROOT}/"),
        }
    }

    /// The prefix of one release's objects (ends with `/`).
    pub fn release_prefix(self, name: &str, tag: &str) -> String {
        format!("{}{tag}/", self.name_prefix(name))
    }

    /// A file's path inside its release (`linux/amd64/hello`, or
    /// `x86_64-unknown-linux-musl/hello` for Garage's layout).
    pub fn file_path(self, platform: Platform, file: &str) -> String {
        match self {
            Layout::DfDist => format!("{}/{file}", platform.tree_dir()),
            Layout::Garage => format!("{}/{file}", platform.rust_triple()),
        }
    }

    /// The platform a path inside a release belongs to, if it is a release file.
    pub fn platform_of(self, path: &str) -> Option<Platform> {
        let (dir, _file) = path.rsplit_once('/')?;
        match self {
            Layout::DfDist => Platform::all().find(|p| p.tree_dir() == dir),
            Layout::Garage => Platform::all().find(|p| p.rust_triple() == dir),
        }
    }

    /// The tag document's key (df-dist-v1 only).
    pub fn tag_document_key(self, name: &str, tag: &str) -> Option<String> {
        match self {
            Layout::DfDist => Some(format!("{DF_DIST_ROOT}/{name}/{tag}")),
            Layout::Garage => None,
        }
    }

    /// The name document's key (df-dist-v1 only).
    pub fn name_document_key(self, name: &str) -> Option<String> {
        match self {
            Layout::DfDist => Some(format!("{DF_DIST_ROOT}/{name}")),
            Layout::Garage => None,
        }
    }
}

/// The tag document: one flavor per platform, with its binaries; and, when
/// the release has other files (the source tarball, extra artifacts),
/// `artifacts` naming each with its path in the release, its kind, and its
/// target when it has one. (Readers that know only `flavors` skip the new
/// key, and find only binaries there.)
pub fn tag_document(files: &[ReleaseFile]) -> Value {
    let mut platforms: Vec<Platform> = files
        .iter()
        .filter(|f| f.role == FileRole::Binary)
        .filter_map(|f| f.platform)
        .collect();
    platforms.sort_by_key(|p| p.to_string());
    platforms.dedup();
    let flavors: Vec<Value> = platforms
        .iter()
        .map(|p| {
            let resources: Vec<Value> = files
                .iter()
                .filter(|f| f.platform == Some(*p) && f.role == FileRole::Binary)
                .map(|f| json!({"path": f.file}))
                .collect();
            let mut platform = json!({"architecture": p.arch(), "os": p.os()});
            if let Some(v) = p.variant() {
                platform["variant"] = json!(v);
            }
            json!({"resources": resources, "platform": platform})
        })
        .collect();
    let artifacts: Vec<Value> = files
        .iter()
        .filter(|f| f.role != FileRole::Binary)
        .map(|f| {
            let mut doc = json!({"path": f.path_in(Layout::DfDist), "kind": f.role.as_str()});
            if let FileRole::Extra(name) = &f.role {
                doc["name"] = json!(name);
            }
            if let Some(p) = f.platform {
                doc["platform"] = json!(p.to_string());
            }
            if let FileRole::Archive(p) = &f.role {
                doc["platform"] = json!(p.to_string());
            }
            doc
        })
        .collect();
    if artifacts.is_empty() {
        json!({ "flavors": flavors })
    } else {
        json!({ "flavors": flavors, "artifacts": artifacts })
    }
}

/// Every path inside the release a tag document names: each flavor's
/// resources under its platform's directory, then each artifact's path.
/// The error says what cannot be read (a platform this tool does not
/// know, a resource that is a path, an unsafe artifact path).
pub fn tag_document_paths(bytes: &[u8]) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Doc {
        #[serde(default)]
        flavors: Vec<Flavor>,
        #[serde(default)]
        artifacts: Vec<Resource>,
    }
    #[derive(serde::Deserialize)]
    struct Flavor {
        platform: crate::oci::document::OciPlatform,
        #[serde(default)]
        resources: Vec<Resource>,
    }
    #[derive(serde::Deserialize)]
    struct Resource {
        path: String,
    }
    let doc: Doc = serde_json::from_slice(bytes).map_err(|e| format!("not a tag document: {e}"))?;
    let mut out = Vec::new();
    for f in doc.flavors {
        let p = &f.platform;
        let text = match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        };
        let platform = Platform::parse_any(&text).ok_or_else(|| {
            format!("it names the platform `{text}`, which this tool does not know")
        })?;
        for r in f.resources {
            if r.path.contains('/') || !is_safe_path(&r.path) {
                return Err(format!(
                    "it names the resource `{}`, which is not a file name",
                    r.path
                ));
            }
            out.push(Layout::DfDist.file_path(platform, &r.path));
        }
    }
    for a in doc.artifacts {
        if !is_safe_path(&a.path) {
            return Err(format!(
                "it names the artifact path `{}`, which is not a relative path",
                a.path
            ));
        }
        out.push(a.path);
    }
    Ok(out)
}

/// Whether `path` is a relative path inside a release: `/`-separated
/// parts, none empty, `.` or `..`, no control character, at most 200
/// bytes. A path read from a release (a subject, a `SHA256SUMS` line, a
/// tag document) is used as a key only when it is.
pub fn is_safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 200
        && !path.chars().any(|c| c.is_control() || c == '\\')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// The Nix install manifest (Lix's `{ <system> = "<store path>"; }`).
pub const NIX_MANIFEST: &str = "manifest.nix";
/// The same, as JSON, with the cache that holds the paths.
pub const NIX_MANIFEST_JSON: &str = "manifest.json";

/// Whether `name`, right under a name's prefix, is a document of the name
/// (the latest stable install manifest) rather than a tag document.
pub fn is_name_level_document(name: &str) -> bool {
    crate::release::NAME_LEVEL_DOCUMENTS.contains(&name)
}

/// `manifest.nix`: each Nix system's store path, with a comment naming the
/// release and the cache.
pub fn nix_manifest(
    release: &str,
    paths: &[(String, String)],
    cache: &crate::build_record::CacheRecord,
) -> String {
    let mut out = format!(
        "# {release}: the store path of each system's build, in the binary cache {} (public key {}).\n{{\n",
        cache.url.as_deref().unwrap_or("(see manifest.json)"),
        cache.public_key
    );
    for (system, path) in paths {
        out.push_str(&format!("  {system} = \"{path}\";\n"));
    }
    out.push_str("}\n");
    out
}

/// `manifest.json`: the same mapping, the cache's URL and public key.
pub fn nix_manifest_json(
    release: &str,
    paths: &[(String, String)],
    cache: &crate::build_record::CacheRecord,
) -> Vec<u8> {
    let map: serde_json::Map<String, Value> =
        paths.iter().map(|(s, p)| (s.clone(), json!(p))).collect();
    let doc = json!({
        "release": release,
        "cache": {"url": cache.url, "publicKey": cache.public_key},
        "paths": map,
    });
    let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// The source tarball's name: `<name>-<tag>.tar.gz`.
pub fn source_tarball(name: &str, tag: &str) -> String {
    format!("{name}-{tag}.tar.gz")
}

/// The name document: every tag, in the order given.
pub fn name_document(name: &str, tags: &[String]) -> Value {
    json!({"name": name, "tags": tags})
}

/// Tags named by a name document.
pub fn tags_of_name_document(bytes: &[u8]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.get("tags")?
        .as_array()?
        .iter()
        .map(|t| t.as_str().map(str::to_string))
        .collect()
}

/// `SHA256SUMS`, as `sha256sum -c` reads it: `<hex>  <path>` lines, sorted by path.
pub fn sha256sums(entries: &[(String, String)]) -> String {
    let mut entries = entries.to_vec();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
        .iter()
        .map(|(path, sha)| format!("{sha}  {path}\n"))
        .collect()
}

/// Parses `SHA256SUMS` back into `(path, hex)` pairs.
pub fn parse_sha256sums(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let (sha, path) = l.split_once("  ")?;
            Some((path.trim_start_matches('*').to_string(), sha.to_string()))
        })
        .collect()
}

/// The `<file>.sha256` beside a file: one `sha256sum` line naming the file.
pub fn sidecar(sha256: &str, file: &str) -> String {
    format!("{sha256}  {file}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_document_names_its_paths_and_nothing_else_is_read_from_it() {
        let files = [
            file("linux/amd64", "hello"),
            file("linux/arm/v6", "hello"),
            file("", "hello-v1.tar.gz"),
        ];
        let doc = serde_json::to_vec(&tag_document(&files)).unwrap();
        let mut paths = tag_document_paths(&doc).unwrap();
        paths.sort();
        let mut want: Vec<String> = files.iter().map(|f| f.path_in(Layout::DfDist)).collect();
        want.sort();
        assert_eq!(paths, want);
        for (bad, why) in [
            (
                r#"{"flavors":[{"platform":{"os":"linux","architecture":"amd64"},"resources":[{"path":"../../x"}]}]}"#,
                "not a file name",
            ),
            (
                r#"{"flavors":[{"platform":{"os":"plan9","architecture":"amd64"},"resources":[]}]}"#,
                "does not know",
            ),
            (
                r#"{"artifacts":[{"path":"/etc/passwd"}]}"#,
                "not a relative path",
            ),
            (
                r#"{"artifacts":[{"path":"a/../../b"}]}"#,
                "not a relative path",
            ),
            ("\"text\"", "not a tag document"),
        ] {
            let e = tag_document_paths(bad.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(is_safe_path("linux/arm/v6/hello"));
        for bad in ["", "/x", "a//b", "./a", "a/..", "a\nb", &"a".repeat(201)] {
            assert!(!is_safe_path(bad), "{bad:?}");
        }
    }

    fn file(platform: &str, name: &str) -> ReleaseFile {
        let platform = Platform::parse_any(platform);
        ReleaseFile {
            role: match (platform, name) {
                (_, NIX_MANIFEST) => FileRole::NixManifest,
                (Some(_), n) if n.ends_with(".1") => FileRole::Extra("hello-man".into()),
                (Some(_), _) => FileRole::Binary,
                (None, n) if n.ends_with("-docs.zip") => FileRole::Extra("hello-docs".into()),
                (None, _) => FileRole::Source,
            },
            platform,
            file: name.into(),
            local: PathBuf::from("/x"),
            sha256: "00".repeat(32),
            size: 1,
        }
    }

    #[test]
    fn df_dist_keys_and_documents() {
        let l = Layout::DfDist;
        let arm = Platform::parse_any("linux/arm/v6").unwrap();
        assert_eq!(
            l.release_prefix("hello", "v1.0.0"),
            "df-dist-v1/hello/v1.0.0/"
        );
        assert_eq!(l.file_path(arm, "hello"), "linux/arm/v6/hello");
        assert_eq!(l.platform_of("linux/arm/v6/hello"), Some(arm));
        assert_eq!(l.platform_of("SHA256SUMS"), None);
        assert_eq!(
            l.tag_document_key("hello", "v1"),
            Some("df-dist-v1/hello/v1".into())
        );
        assert_eq!(
            l.name_document_key("hello"),
            Some("df-dist-v1/hello".into())
        );
        let doc = tag_document(&[file("linux/amd64", "hello"), file("linux/arm/v6", "hello")]);
        assert_eq!(
            doc.to_string(),
            r#"{"flavors":[{"platform":{"architecture":"amd64","os":"linux"},"resources":[{"path":"hello"}]},{"platform":{"architecture":"arm","os":"linux","variant":"v6"},"resources":[{"path":"hello"}]}]}"#
        );
        let with_source = tag_document(&[
            file("linux/amd64", "hello"),
            file("linux/amd64", "hello.1"),
            file("-", "hello-v1.tar.gz"),
            file("-", "hello-docs.zip"),
            file("-", NIX_MANIFEST),
        ]);
        assert_eq!(
            with_source["artifacts"],
            json!([
                {"path": "linux/amd64/hello.1", "kind": "extra", "name": "hello-man", "platform": "linux/amd64"},
                {"path": "hello-v1.tar.gz", "kind": "source"},
                {"path": "hello-docs.zip", "kind": "extra", "name": "hello-docs"},
                {"path": NIX_MANIFEST, "kind": "nix-manifest"},
            ])
        );
        assert_eq!(
            with_source["flavors"],
            json!([{"platform": {"architecture": "amd64", "os": "linux"}, "resources": [{"path": "hello"}]}])
        );
        assert_eq!(file("-", "hello-v1.tar.gz").path_in(l), "hello-v1.tar.gz");
        let cache = crate::build_record::CacheRecord {
            url: Some("https://cache.example.org".into()),
            public_key: "cache-1:AAAA".into(),
        };
        let paths = [(
            "x86_64-linux".to_string(),
            "/nix/store/abc-hello".to_string(),
        )];
        let nix = nix_manifest("hello v1", &paths, &cache);
        assert!(
            nix.ends_with("{\n  x86_64-linux = \"/nix/store/abc-hello\";\n}\n"),
            "{nix}"
        );
        assert!(nix.contains("https://cache.example.org") && nix.contains("cache-1:AAAA"));
        let json: Value =
            serde_json::from_slice(&nix_manifest_json("hello v1", &paths, &cache)).unwrap();
        assert_eq!(json["paths"]["x86_64-linux"], "/nix/store/abc-hello");
        let name = name_document("hello", &["v1".into(), "v2".into()]);
        assert_eq!(name.to_string(), r#"{"name":"hello","tags":["v1","v2"]}"#);
        assert_eq!(
            tags_of_name_document(name.to_string().as_bytes()).unwrap(),
            ["v1", "v2"]
        );
    }

    #[test]
    fn garage_layout_uses_rust_triples() {
        let l = Layout::Garage;
        let arm = Platform::parse_any("linux/arm/v6").unwrap();
        assert_eq!(l.release_prefix("garage", "v1.0.0"), "_releases/v1.0.0/");
        assert_eq!(
            l.file_path(arm, "garage"),
            "armv6l-unknown-linux-musleabihf/garage"
        );
        assert_eq!(
            l.platform_of("armv6l-unknown-linux-musleabihf/garage"),
            Some(arm)
        );
        assert_eq!(l.tag_document_key("garage", "v1"), None);
    }

    #[test]
    fn checksums_round_trip() {
        let text = sha256sums(&[("b/x".into(), "22".into()), ("a/x".into(), "11".into())]);
        assert_eq!(text, "11  a/x\n22  b/x\n");
        assert_eq!(
            parse_sha256sums(&text)[1],
            ("b/x".to_string(), "22".to_string())
        );
        assert_eq!(sidecar("ab", "hello"), "ab  hello\n");
    }
}
