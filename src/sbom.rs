//! The release's CycloneDX 1.5 SBOM, with the `cyclonedx-bom` crate: the
//! Rust dependencies from Cargo.lock (name, version, `pkg:cargo` purl,
//! checksum) and, per artifact, its Nix runtime closure (each store path,
//! with the name and version its path name gives). Pure, and deterministic:
//! the serial number is derived from the release, and there is no clock.

use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::uri::Purl;
use cyclonedx_bom::models::bom::{Bom, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::dependency::{Dependencies, Dependency};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::{Tool, Tools};

/// One crate of Cargo.lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedCrate {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// crates.io's sha256, for a registry crate.
    pub checksum: Option<String>,
    /// `registry+…`, `git+…`, or none for a path crate.
    pub source: Option<String>,
}

/// Reads Cargo.lock's `[[package]]` tables.
pub fn parse_lock(text: &str) -> Result<Vec<LockedCrate>, String> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("Cargo.lock is not TOML: {e}"))?;
    let packages = doc
        .get("package")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    let field = |t: &toml::Value, k: &str| t.get(k).and_then(|v| v.as_str()).map(str::to_string);
    packages
        .iter()
        .map(|p| {
            Ok(LockedCrate {
                name: field(p, "name").ok_or("a Cargo.lock package without a name")?,
                version: field(p, "version").ok_or("a Cargo.lock package without a version")?,
                checksum: field(p, "checksum"),
                source: field(p, "source"),
            })
        })
        .collect()
}

/// One artifact's runtime closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// The artifact (`linux/amd64/hello`).
    pub artifact: String,
    /// Its store path (the closure's root).
    pub root: String,
    /// Every store path of the closure, with its NAR hash (`sha256:…` or SRI).
    pub paths: Vec<(String, String)>,
}

/// `hello-0.1.0-x86_64` → (`hello`, `0.1.0-x86_64`), as Nix's
/// `parseDrvName` splits at the first `-` followed by a digit.
pub fn name_and_version(store_path: &str) -> (String, Option<String>) {
    let base = store_path.rsplit('/').next().unwrap_or(store_path);
    let name = base.split_once('-').map_or(base, |(_, n)| n);
    let bytes = name.as_bytes();
    for i in 0..bytes.len().saturating_sub(1) {
        if bytes[i] == b'-' && bytes[i + 1].is_ascii_digit() {
            return (name[..i].to_string(), Some(name[i + 1..].to_string()));
        }
    }
    (name.to_string(), None)
}

/// What the SBOM describes.
#[derive(Debug, Clone)]
pub struct SbomInput<'a> {
    /// The release's name and tag.
    pub name: &'a str,
    /// The tag.
    pub tag: &'a str,
    /// The released commit.
    pub commit: &'a str,
    /// Cargo.lock's crates.
    pub crates: &'a [LockedCrate],
    /// Each artifact's closure.
    pub closures: &'a [Closure],
}

fn property(name: &str, value: &str) -> Property {
    Property {
        name: name.to_string(),
        value: NormalizedString::new(value),
    }
}

/// A urn:uuid derived from the release, in the version-4 layout.
fn serial(input: &SbomInput<'_>) -> UrnUuid {
    let d = <sha2::Sha256 as sha2::Digest>::digest(format!(
        "{}\n{}\n{}",
        input.name, input.tag, input.commit
    ));
    let mut b: [u8; 16] = d[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    UrnUuid(format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn crate_component(c: &LockedCrate) -> Component {
    let bom_ref = format!("pkg:cargo/{}@{}", c.name, c.version);
    let mut comp = Component::new(Classification::Library, &c.name, &c.version, Some(bom_ref));
    comp.purl = Purl::new("cargo", &c.name, &c.version).ok();
    comp.hashes = c.checksum.as_ref().map(|sum| {
        Hashes(vec![Hash {
            alg: HashAlgorithm::SHA_256,
            content: HashValue(sum.clone()),
        }])
    });
    if let Some(src) = &c.source {
        comp.properties = Some(Properties(vec![property("cargo:source", src)]));
    }
    comp
}

fn store_component(path: &str, nar_hash: &str) -> Component {
    let (name, version) = name_and_version(path);
    let mut comp = Component::new(
        Classification::Library,
        &name,
        version.as_deref().unwrap_or(""),
        Some(path.to_string()),
    );
    if version.is_none() {
        comp.version = None;
    }
    comp.properties = Some(Properties(vec![
        property("nix:store-path", path),
        property("nix:nar-hash", nar_hash),
    ]));
    comp
}

/// The SBOM, as CycloneDX 1.5 JSON.
pub fn sbom(input: &SbomInput<'_>) -> Result<Vec<u8>, String> {
    let root_ref = format!("{}@{}", input.name, input.tag);
    let mut root = Component::new(
        Classification::Application,
        input.name,
        input.tag,
        Some(root_ref.clone()),
    );
    root.properties = Some(Properties(vec![property("git:commit", input.commit)]));
    let mut components: Vec<Component> = input.crates.iter().map(crate_component).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut dependencies = vec![Dependency {
        dependency_ref: root_ref,
        dependencies: input.closures.iter().map(|c| c.root.clone()).collect(),
    }];
    for closure in input.closures {
        for (path, nar_hash) in &closure.paths {
            if seen.insert(path.clone()) {
                components.push(store_component(path, nar_hash));
            }
        }
        dependencies.push(Dependency {
            dependency_ref: closure.root.clone(),
            dependencies: closure
                .paths
                .iter()
                .map(|(p, _)| p.clone())
                .filter(|p| *p != closure.root)
                .collect(),
        });
    }
    dependencies.dedup_by(|a, b| a.dependency_ref == b.dependency_ref);
    let tool = Tool {
        vendor: None,
        name: Some(NormalizedString::new(env!("CARGO_PKG_NAME"))),
        version: Some(NormalizedString::new(env!("CARGO_PKG_VERSION"))),
        hashes: None,
        external_references: None,
    };
    let bom = Bom {
        serial_number: Some(serial(input)),
        metadata: Some(Metadata {
            timestamp: None,
            tools: Some(Tools::List(vec![tool])),
            authors: None,
            component: Some(root),
            manufacture: None,
            supplier: None,
            licenses: None,
            properties: None,
            lifecycles: None,
        }),
        components: Some(Components(components)),
        dependencies: Some(Dependencies(dependencies)),
        spec_version: SpecVersion::V1_5,
        ..Bom::default()
    };
    let mut out = Vec::new();
    bom.output_as_json(&mut out, SpecVersion::V1_5)
        .map_err(|e| e.to_string())?;
    out.push(b'\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_path_names_split_as_nix_does() {
        let p = "/nix/store/2zsk7r1v79byg94rh0x8g9cv8hxxbqh0-hello-0.1.0-x86_64-unknown-linux-musl";
        assert_eq!(
            name_and_version(p),
            (
                "hello".into(),
                Some("0.1.0-x86_64-unknown-linux-musl".into())
            )
        );
        assert_eq!(
            name_and_version("/nix/store/abc-glibc-2.38-27"),
            ("glibc".into(), Some("2.38-27".into()))
        );
        assert_eq!(
            name_and_version("/nix/store/abc-hello-docs"),
            ("hello-docs".into(), None)
        );
    }

    #[test]
    fn reads_cargo_lock_and_writes_a_deterministic_bom() {
        let lock = "version = 4\n\n[[package]]\nname = \"hello\"\nversion = \"0.1.0\"\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.11\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"49f1f14873335454500d59611f1cf4a4b0f786f9ac11f4312a78e4cf2566695b\"\n";
        let crates = parse_lock(lock).unwrap();
        assert_eq!(crates.len(), 2);
        assert_eq!(crates[1].checksum.as_deref().map(str::len), Some(64));
        let closures = [Closure {
            artifact: "linux/amd64/hello".into(),
            root: "/nix/store/abc-hello-0.1.0".into(),
            paths: vec![("/nix/store/abc-hello-0.1.0".into(), "sha256-AAAA".into())],
        }];
        let input = SbomInput {
            name: "hello",
            tag: "v0.1.0",
            commit: "c0ffee",
            crates: &crates,
            closures: &closures,
        };
        let a = sbom(&input).unwrap();
        assert_eq!(
            a,
            sbom(&input).unwrap(),
            "the same release gives the same bytes"
        );
        let doc: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(doc["bomFormat"], "CycloneDX");
        assert_eq!(doc["specVersion"], "1.5");
        let purls: Vec<&str> = doc["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["purl"].as_str())
            .collect();
        assert!(purls.contains(&"pkg:cargo/itoa@1.0.11"), "{purls:?}");
        assert!(parse_lock("[[package]]\nversion = \"1\"\n").is_err());
    }
}
