//! An `.rpm`, built and signed in its header with the `rpm` crate (rpm-rs),
//! and the facts a YUM repository's metadata lists of it.
//!
//! Deterministic: the build time, every file's time and the signature's
//! time are the release's time (`source_date`), the build host is fixed,
//! and RSA and EdDSA signatures are deterministic.

use std::path::PathBuf;

use super::PackageMeta;

/// A file the rpm installs, read from `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpmFile {
    /// Where its bytes are.
    pub source: PathBuf,
    /// Absolute path (`/usr/bin/hello`).
    pub dest: String,
    /// Permissions (`0o755`).
    pub mode: u16,
    /// A configuration file (`%config(noreplace)`).
    pub conffile: bool,
}

/// What one rpm is made of.
#[derive(Debug, Clone)]
pub struct RpmInput<'a> {
    /// Name, summary, licence, maintainer…
    pub meta: &'a PackageMeta,
    /// rpm's Version.
    pub version: &'a str,
    /// rpm's Release.
    pub release: &'a str,
    /// rpm's architecture (`x86_64`, `armv6hl`).
    pub arch: &'a str,
    /// Its files.
    pub files: &'a [RpmFile],
    /// The time of the build, the files and the signature.
    pub mtime: u64,
}

/// What repository metadata says of a built rpm.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RpmFacts {
    /// `hello-1.2.3-1.x86_64.rpm`.
    pub file_name: String,
    /// Name, version, release, arch.
    pub nvra: (String, String, String, String),
    /// Summary and description.
    pub summary: String,
    /// The long description.
    pub description: String,
    /// Packager (the maintainer).
    pub packager: String,
    /// URL.
    pub url: String,
    /// Licence.
    pub license: String,
    /// Build time.
    pub time: u64,
    /// Sum of the files' sizes.
    pub installed_size: u64,
    /// Byte range of the header: (start, end).
    pub header_range: (u64, u64),
    /// Provides: (name, flags, version) with flags `EQ` or empty.
    pub provides: Vec<(String, String, String)>,
    /// The files, with `true` for directories.
    pub files: Vec<String>,
}

/// The package's file name: `hello-1.2.3-1.x86_64.rpm`.
pub fn file_name(name: &str, version: &str, release: &str, arch: &str) -> String {
    format!("{name}-{version}-{release}.{arch}.rpm")
}

/// Builds the rpm, signed with `key` (an OpenPGP secret key, RSA or EdDSA).
pub fn build(
    input: &RpmInput<'_>,
    key: &pgp::SignedSecretKey,
) -> Result<(Vec<u8>, RpmFacts), String> {
    let meta = input.meta;
    let description = format!(
        "{} {}, a static build for {}.",
        meta.name, input.version, input.arch
    );
    let mut builder = rpm::PackageBuilder::new(
        &meta.name,
        input.version,
        &meta.license,
        input.arch,
        &meta.summary,
    )
    .release(input.release)
    .description(&description)
    .packager(&meta.maintainer)
    .build_host("cargo-release-dist")
    .source_date(input.mtime as u32)
    .compression(rpm::CompressionType::Gzip);
    if let Some(h) = &meta.homepage {
        builder = builder.url(h);
    }
    for f in input.files {
        let mut options = rpm::FileOptions::new(&f.dest)
            .mode(rpm::FileMode::regular(f.mode))
            .user("root")
            .group("root");
        if f.conffile {
            options = options.is_config_noreplace();
        }
        builder = builder
            .with_file(&f.source, options)
            .map_err(|e| format!("{}: {e}", f.source.display()))?;
    }
    let signer = rpm::signature::pgp::Signer::new(key.clone()).map_err(|e| e.to_string())?;
    let pkg = builder.build_and_sign(signer).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    pkg.write(&mut bytes).map_err(|e| e.to_string())?;
    let m = &pkg.metadata;
    let offsets = m.get_package_segment_offsets();
    let provides = m
        .get_provides()
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            let flags = if d.version.is_empty() { "" } else { "EQ" };
            (d.name, flags.to_string(), d.version)
        })
        .collect();
    let mut files: Vec<String> = input.files.iter().map(|f| f.dest.clone()).collect();
    files.sort();
    let facts = RpmFacts {
        file_name: file_name(&meta.name, input.version, input.release, input.arch),
        nvra: (
            meta.name.clone(),
            input.version.to_string(),
            input.release.to_string(),
            input.arch.to_string(),
        ),
        summary: meta.summary.clone(),
        description,
        packager: meta.maintainer.clone(),
        url: meta.homepage.clone().unwrap_or_default(),
        license: meta.license.clone(),
        time: input.mtime,
        installed_size: m.get_installed_size().unwrap_or(0),
        header_range: (offsets.header, offsets.payload),
        provides,
        files,
    };
    Ok((bytes, facts))
}
