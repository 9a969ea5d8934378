//! The release's Linux packages: one `.deb` and one `.rpm` per target, built
//! from the static binaries build.json names, under
//! target/release-dist/packages/. They are release files (in `SHA256SUMS`,
//! provenance subjects) and the content of the repositories.

use std::path::{Path, PathBuf};

use super::layout::{FileRole, ReleaseFile};
use super::PublishOpts;
use crate::build_record::{BuildRecord, Kind};
use crate::context::Context;
use crate::errors::{Error, Result};
use crate::linuxpkg::deb::{self, DebInput, PkgFile};
use crate::linuxpkg::rpm::{self as rpmpkg, RpmFile, RpmInput};
use crate::linuxpkg::version::{self, PkgVersion, VersionInput};
use crate::linuxpkg::{Facts, Format, PackageMeta};
use crate::openpgp::SigningKey;
use crate::platform::Platform;
use crate::problems::KeyProblem;
use crate::release::{Class, Release};

/// The configuration key of the packages table.
pub const PREFIX: &str = "package.metadata.release-dist.packages";

/// One built package.
#[derive(Debug, Clone)]
pub struct BuiltPackage {
    /// What its repository says of it, which also says its format.
    pub facts: Facts,
    /// Its target.
    pub platform: Platform,
    /// Its architecture, in the format's spelling.
    pub arch: String,
    /// The file name.
    pub file: String,
    /// Where it is.
    pub local: PathBuf,
    /// sha256 and md5 of its bytes, hex; its size.
    pub sha256: String,
    /// md5, hex (APT's `MD5sum`).
    pub md5: String,
    /// Its size.
    pub size: u64,
}

impl BuiltPackage {
    /// deb or rpm.
    pub fn format(&self) -> Format {
        self.facts.format()
    }
}

/// A release's packages and what their repositories need.
#[derive(Debug, Clone)]
pub struct PackageSet {
    /// The metadata.
    pub meta: PackageMeta,
    /// The versions.
    pub version: PkgVersion,
    /// `stable`, or the configured suite of other releases.
    pub suite: String,
    /// The packages.
    pub packages: Vec<BuiltPackage>,
    /// The key that signed the rpms and signs the repositories.
    pub key: SigningKey,
    /// The destinations' public URL.
    pub url: String,
    /// The release's time (the indices' dates).
    pub time: u64,
    /// The suite of releases that are not stable.
    pub other_suite: String,
    /// The layout and release name whose page lists the repositories.
    pub page: (crate::kinds::Layout, String),
}

impl PackageSet {
    /// The packages as release files, in their targets' directories.
    pub fn release_files(&self) -> Vec<ReleaseFile> {
        self.packages
            .iter()
            .map(|p| ReleaseFile {
                platform: Some(p.platform),
                file: p.file.clone(),
                local: p.local.clone(),
                sha256: p.sha256.clone(),
                size: p.size,
                role: FileRole::Package,
            })
            .collect()
    }
}

/// Two targets packaged under one architecture (linux/arm/v6 and v7 are
/// both Debian's `armhf` by default) would be two packages that a
/// repository cannot tell apart.
fn refuse_shared_arch(
    built: &[BuiltPackage],
    platform: Platform,
    format: Format,
    arch: &str,
) -> Result<()> {
    match built.iter().find(|p| p.arch == arch && p.format() == format) {
        Some(other) => Err(Error::config(
            format!("{PREFIX}.arch.\"{platform}\".{}", format.as_str()),
            format!(
                "{} and {platform} would both be the `{arch}` {}: name another architecture for one of them, or build only one",
                other.platform,
                format.as_str()
            ),
        )),
        None => Ok(()),
    }
}

/// The formats asked for: `--packages`, else the config.
fn formats(ctx: &Context, opts: &PublishOpts) -> Result<Vec<Format>> {
    let Some(given) = &opts.packages else {
        return Ok(ctx.project.config.packages.formats.clone());
    };
    let mut out = Vec::new();
    for g in given.iter().filter(|g| !g.trim().is_empty()) {
        let f = Format::parse(g).ok_or_else(|| {
            Error::usage(
                "publish",
                "--packages",
                format!("`{g}` is not a package format; the formats are deb and rpm"),
            )
        })?;
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out)
}

/// Builds the release's packages, or `None` when none are asked for.
pub fn prepare(
    ctx: &Context,
    opts: &PublishOpts,
    (manifest, layout): (&BuildRecord, crate::kinds::Layout),
    release: &Release,
) -> Result<Option<PackageSet>> {
    let formats = formats(ctx, opts)?;
    if formats.is_empty() {
        return Ok(None);
    }
    let config = &ctx.project.config;
    let pc = &config.packages;
    let (url, meta) = url_and_meta(ctx)?;
    let key = crate::keys::load_openpgp(opts.packages_key.as_deref(), &|k| std::env::var(k).ok())?;
    let time = release_time(manifest);
    let version = package_version(ctx, manifest, release, time)?;
    let extra = extra_files(&ctx.project.dir, pc)?;
    let dir = ctx.output_dir().join("packages");
    let mut packages: Vec<BuiltPackage> = Vec::new();
    for (platform, binaries) in binaries_by_target(ctx, manifest) {
        for &format in &formats {
            let arch = package_arch(pc, platform, format)?;
            refuse_shared_arch(&packages, platform, format, &arch)?;
            let out_dir = dir.join(platform.tree_dir());
            std::fs::create_dir_all(&out_dir).map_err(Error::io("cannot create", &out_dir))?;
            let files = (&binaries[..], &extra[..]);
            let built = match format {
                Format::Deb => build_deb(&meta, &version, &arch, files, time, &out_dir)?,
                Format::Rpm => build_rpm(&meta, &version, &arch, files, (time, &key), &out_dir)?,
            };
            packages.push(BuiltPackage {
                platform,
                arch,
                ..built
            });
        }
    }
    Ok(Some(PackageSet {
        suite: pc.suite(release.class == Class::Stable).to_string(),
        other_suite: pc.suite(false).to_string(),
        page: (layout, config.name.clone()),
        meta,
        version,
        packages,
        key,
        url,
        time,
    }))
}

/// The repositories' public URL and the packages' metadata; every missing
/// or invalid key of them named together.
fn url_and_meta(ctx: &Context) -> Result<(String, PackageMeta)> {
    let config = &ctx.project.config;
    let pc = &config.packages;
    let url = pc.url.clone().or_else(|| config.public_url.clone());
    let meta = pc.resolve(PREFIX, &config.name, &config.cargo);
    let mut problems = meta.as_ref().err().cloned().unwrap_or_default();
    if url.is_none() {
        problems.insert(0, KeyProblem::missing(
            format!("{PREFIX}.url"),
            "is needed for packages: the public URL of the static destinations (https://dl.example.org), which the .repo file and the install instructions name (or `public-url`)",
        ));
    }
    match (url, meta) {
        (Some(url), Ok(meta)) => Ok((url, meta)),
        _ => Err(Error::Keys(problems)),
    }
}

/// The release's package versions (dpkg's and rpm's), from its tag, the
/// crate's version and whether that version was released already.
fn package_version(
    ctx: &Context,
    manifest: &BuildRecord,
    release: &Release,
    time: u64,
) -> Result<PkgVersion> {
    let config = &ctx.project.config;
    let repo = crate::git::toplevel(&ctx.project.dir)?;
    let base_tag = format!("refs/tags/v{}", config.cargo.version);
    let base_released = crate::git::run(&repo, &["rev-parse", "-q", "--verify", &base_tag]).is_ok();
    version::map(&VersionInput {
        tag: &release.tag,
        crate_version: &config.cargo.version,
        commit: &manifest.source.commit,
        commit_time: time as i64,
        base_released,
    })
    .map_err(|why| Error::config(PREFIX, format!("release {}: {why}", release.tag)))
}

/// `format`'s architecture for `platform`: configured, else built in.
fn package_arch(
    pc: &crate::linuxpkg::PackagesConfig,
    platform: Platform,
    format: Format,
) -> Result<String> {
    match format {
        Format::Deb => pc.deb_arch(platform),
        Format::Rpm => pc.rpm_arch(platform),
    }
    .ok_or_else(|| {
        let f = format.as_str();
        Error::config(
            format!("{PREFIX}.arch.\"{platform}\".{f}"),
            format!("no {f} architecture for {platform}: name one"),
        )
    })
}

/// `$SOURCE_DATE_EPOCH`, else the commit's time.
pub(crate) fn release_time(manifest: &BuildRecord) -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .or(manifest.source.commit_time.map(|t| t.max(0) as u64))
        .unwrap_or(0)
}

/// Each target's static binaries: (file in dist, installed name).
fn binaries_by_target(
    ctx: &Context,
    manifest: &BuildRecord,
) -> Vec<(Platform, Vec<(PathBuf, String)>)> {
    let dist = ctx.dist_dir();
    let mut out: Vec<(Platform, Vec<(PathBuf, String)>)> = Vec::new();
    // Packages are Linux's.
    let linux =
        |a: &&crate::build_record::Artifact| a.kind == Kind::Static && a.platform.is_linux();
    for a in manifest.artifacts.iter().filter(linux) {
        let local = dist.join(&a.path);
        let name = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match out.iter_mut().find(|(p, _)| *p == a.platform) {
            Some((_, list)) => list.push((local, name)),
            None => out.push((a.platform, vec![(local, name)])),
        }
    }
    out
}

/// The configured extra files: (source path, spec).
fn extra_files(
    dir: &Path,
    pc: &crate::linuxpkg::PackagesConfig,
) -> Result<Vec<(PathBuf, crate::linuxpkg::FileSpec)>> {
    pc.files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let path = dir.join(&f.source);
            if !path.is_file() {
                return Err(Error::config(
                    format!("{PREFIX}.files[{i}].source"),
                    format!("{} is not a file", path.display()),
                ));
            }
            Ok((path, f.clone()))
        })
        .collect()
}

fn digests(bytes: &[u8]) -> (String, String) {
    use md5::Digest;
    (
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
        hex::encode(md5::Md5::digest(bytes)),
    )
}

type Files<'a> = (
    &'a [(PathBuf, String)],
    &'a [(PathBuf, crate::linuxpkg::FileSpec)],
);

fn build_deb(
    meta: &PackageMeta,
    version: &PkgVersion,
    arch: &str,
    (binaries, extra): Files<'_>,
    time: u64,
    out_dir: &Path,
) -> Result<BuiltPackage> {
    let read = |p: &Path| std::fs::read(p).map_err(Error::io("cannot read", p));
    let mut files = Vec::new();
    for (path, name) in binaries {
        files.push(PkgFile {
            dest: format!("/usr/bin/{name}"),
            bytes: read(path)?,
            mode: 0o755,
            conffile: false,
        });
    }
    for (path, spec) in extra {
        files.push(PkgFile {
            dest: spec.dest.clone(),
            bytes: read(path)?,
            mode: spec.mode,
            conffile: spec.conffile,
        });
    }
    let input = DebInput {
        meta,
        version: &version.deb,
        arch,
        files: &files,
        mtime: time,
    };
    let bytes = deb::build(&input).map_err(Error::io("cannot build the .deb of", out_dir))?;
    let control = deb::control(&input, &deb::all_files(&input));
    let file = deb::file_name(&meta.name, &version.deb, arch);
    write_package(file, &bytes, out_dir, Facts::Deb { control })
}

fn build_rpm(
    meta: &PackageMeta,
    version: &PkgVersion,
    arch: &str,
    (binaries, extra): Files<'_>,
    (time, key): (u64, &SigningKey),
    out_dir: &Path,
) -> Result<BuiltPackage> {
    let mut files: Vec<RpmFile> = binaries
        .iter()
        .map(|(path, name)| RpmFile {
            source: path.clone(),
            dest: format!("/usr/bin/{name}"),
            mode: 0o755,
            conffile: false,
        })
        .collect();
    for (path, spec) in extra {
        files.push(RpmFile {
            source: path.clone(),
            dest: spec.dest.clone(),
            mode: spec.mode as u16,
            conffile: spec.conffile,
        });
    }
    let input = RpmInput {
        meta,
        version: &version.rpm,
        release: &version.rpm_release,
        arch,
        files: &files,
        mtime: time,
    };
    let (bytes, facts) = rpmpkg::build(&input, key.secret()).map_err(|why| Error::Command {
        command: format!("building the {arch} rpm"),
        status: None,
        stderr: why,
    })?;
    write_package(
        facts.file_name.clone(),
        &bytes,
        out_dir,
        Facts::Rpm(Box::new(facts)),
    )
}

fn write_package(file: String, bytes: &[u8], out_dir: &Path, facts: Facts) -> Result<BuiltPackage> {
    let local = out_dir.join(&file);
    std::fs::write(&local, bytes).map_err(Error::io("cannot write", &local))?;
    let (sha256, md5) = digests(bytes);
    Ok(BuiltPackage {
        facts,
        platform: Platform::defaults()[0],
        arch: String::new(),
        file,
        local,
        sha256,
        md5,
        size: bytes.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(platform: &str, format: Format, arch: &str) -> BuiltPackage {
        let facts = match format {
            Format::Deb => Facts::Deb {
                control: String::new(),
            },
            Format::Rpm => Facts::Rpm(Box::default()),
        };
        BuiltPackage {
            facts,
            platform: platform.parse().unwrap(),
            arch: arch.into(),
            file: format!("hello_1.0.0_{arch}.{}", format.as_str()),
            local: PathBuf::new(),
            sha256: String::new(),
            md5: String::new(),
            size: 0,
        }
    }

    #[test]
    fn two_targets_under_one_architecture_are_refused_naming_both() {
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        let done = [
            built("linux/arm/v6", Format::Deb, "armhf"),
            built("linux/arm/v6", Format::Rpm, "armv6hl"),
        ];
        let err = refuse_shared_arch(&done, v7, Format::Deb, "armhf")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("linux/arm/v6 and linux/arm/v7 would both be the `armhf` deb"),
            "{err}"
        );
        // Another format's name, or another architecture, is no clash.
        assert!(refuse_shared_arch(&done, v7, Format::Rpm, "armv7hl").is_ok());
        assert!(refuse_shared_arch(&done[1..], v7, Format::Deb, "armhf").is_ok());
    }
}
