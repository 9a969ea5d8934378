//! What `publish` prepares once for every destination: what build.json
//! recorded, checked; the release's files, checksums and signed
//! provenance; the images. `commands::publish` then plans and
//! applies it at each destination.

use std::path::{Path, PathBuf};

use super::images::{self, Images};
use super::layout::{sha256sums, FileRole, ReleaseFile, SHA256SUMS};
use super::statics::StaticRelease;
use super::{checked_link, hostname, signing_key, PublishOpts};
use crate::build_record::{BuildRecord, Kind};
use crate::context::{Context, Verbosity};
use crate::errors::{Error, Result};
use crate::kinds::{Layout, PublishPart};
use crate::nixcache::SecretKey;
use crate::provenance::{self, Subject};
use crate::release::{self, Class, Release};

/// Everything a publish needs, prepared once for every destination: the
/// release, its files (the build's, the source tarball, the Nix manifests,
/// the packages, the installer, the SBOM), checksums and signed
/// provenance. Nothing is written to a destination.
pub struct Prepared {
    /// The release.
    pub release: Release,
    /// The layout.
    pub layout: Layout,
    /// The files.
    pub files: Vec<ReleaseFile>,
    /// The text of SHA256SUMS.
    pub sha256sums: String,
    /// The provenance bundle's name and bytes.
    pub provenance: (String, Vec<u8>),
    /// The packages.
    pub packages: Option<super::packages::PackageSet>,
    /// The detached signatures.
    pub signatures: super::signatures::Signatures,
    /// Replace a stable release that has other bytes.
    pub force: bool,
}

impl Prepared {
    /// The release as every release store gets it.
    pub fn static_release<'a>(&'a self, name: &'a str) -> StaticRelease<'a> {
        StaticRelease {
            name,
            release: &self.release,
            layout: self.layout,
            files: &self.files,
            sha256sums: self.sha256sums.clone(),
            provenance: self.provenance.clone(),
            force: self.force,
            packages: self.packages.as_ref(),
            signatures: &self.signatures,
        }
    }
}

/// Prepares `publish`: build.json checked, the release found, every file
/// made and checked, the images converted, the provenance signed.
pub fn prepare(ctx: &Context, opts: &PublishOpts) -> Result<(Prepared, Option<Images>)> {
    let started = crate::clock::now();
    let dist = ctx.dist_dir();
    let manifest = read_build(&dist)?;
    let release = release::detect(
        &|k| std::env::var(k).ok(),
        opts.tag.as_deref(),
        &manifest.source,
        &hostname(),
    )?;
    refuse_dirty_stable(ctx, &manifest, &release)?;
    let key = provenance_key(ctx, opts)?;
    // Every key is read before anything is made.
    let signer = signer(ctx, opts)?;
    let layout = opts.layout.unwrap_or(ctx.project.config.static_layout);
    let mut files = release_files(&dist, &manifest)?;
    files.extend(reproduced_file(ctx, &manifest, (&release, layout), &files)?);
    warn_of_binstall_metadata(ctx, layout);
    if let Some(format) = ctx.project.config.archives {
        let time = super::packages::release_time(&manifest);
        let archives = (release.tag.as_str(), format, time);
        files.extend(super::archives::target_archives(
            ctx, &manifest, archives, &files,
        )?);
    }
    if ctx.project.config.source_tarball {
        files.push(source_tarball(ctx, &manifest, &release.tag)?);
    }
    files.extend(nix_manifests(ctx, &manifest, &release.tag)?);
    let packages = match opts.part {
        Some(PublishPart::Images) => None,
        _ => super::packages::prepare(ctx, opts, (&manifest, layout), &release)?,
    };
    if let Some(set) = &packages {
        files.extend(set.release_files());
    }
    if ctx.project.config.installer {
        let keys = public_keys(signer.as_ref())?;
        let keys = (keys.0.as_deref(), keys.1.as_deref());
        files.push(installer_file(ctx, (layout, &release.tag), &files, keys)?);
    }
    if ctx.project.config.sbom {
        files.push(sbom_file(ctx, &manifest, &release.tag)?);
    }
    refuse_clashing_paths(&files, layout)?;
    let images = prepare_images(ctx, opts, &manifest, &release)?;
    if opts.part == Some(PublishPart::Images) && images.is_none() {
        return Err(Error::NoImages);
    }
    let sums = sha256sums(
        &files
            .iter()
            .map(|f| (f.path_in(layout), f.sha256.clone()))
            .collect::<Vec<_>>(),
    );
    let name = &ctx.project.config.name;
    let mut subjects = static_subjects(&files, layout, &sums);
    if let Some(im) = &images {
        subjects.extend(im.subjects(name, &release.tag));
    }
    let bundle = provenance_bundle(&manifest, &release, &subjects, &key, started)?;
    let provenance = (provenance::bundle_name(name, &release.tag), bundle);
    let signatures = match signer {
        Some(signer) => {
            let time = super::packages::release_time(&manifest);
            let paths: Vec<(&ReleaseFile, String)> =
                files.iter().map(|f| (f, f.path_in(layout))).collect();
            let what = (name.as_str(), release.tag.as_str(), time);
            super::signatures::sign(&signer, what, &paths, sums.as_bytes())?
        }
        None => super::signatures::Signatures::none(files.len()),
    };
    let prepared = Prepared {
        release,
        layout,
        files,
        sha256sums: sums,
        provenance,
        packages,
        signatures,
        force: opts.force,
    };
    Ok((prepared, images))
}

/// The keys of the signatures the config asks for, read before anything
/// is written (a missing or bad one is refused); `None` when it asks for
/// none. A dry run plans without a key that is not there, and says so.
fn signer(ctx: &Context, opts: &PublishOpts) -> Result<Option<super::signatures::Signer>> {
    use crate::kinds::SignatureKind;
    let kinds = &ctx.project.config.signatures;
    if kinds.is_empty() {
        return Ok(None);
    }
    let lookup = |k: &str| std::env::var(k).ok();
    let openpgp = match kinds.contains(&SignatureKind::OpenPgp) {
        true => unless_dry(
            ctx,
            crate::keys::load_release_openpgp(
                (opts.openpgp_key.as_deref(), opts.packages_key.as_deref()),
                &lookup,
            ),
            "OpenPGP",
        )?,
        false => None,
    };
    let minisign = match kinds.contains(&SignatureKind::Minisign) {
        true => unless_dry(
            ctx,
            crate::keys::load_minisign(opts.minisign_key.as_deref(), &lookup),
            "minisign",
        )?,
        false => None,
    };
    let minisign = match minisign {
        Some(sk) => {
            let pk =
                minisign::PublicKey::from_secret_key(&sk).map_err(|e| Error::SignatureKey {
                    kind: "minisign",
                    path: "the minisign key".into(),
                    reason: e.to_string(),
                })?;
            Some((sk, pk))
        }
        None => None,
    };
    Ok(Some(super::signatures::Signer { openpgp, minisign }))
}

/// Says when Cargo.toml's `[package.metadata.binstall]` does not point at
/// where this release's archives go (cargo-binstall would find nothing).
fn warn_of_binstall_metadata(ctx: &Context, layout: Layout) {
    let config = &ctx.project.config;
    let (Some(found), Some(url)) = (&config.binstall_pkg_url, &config.public_url) else {
        return;
    };
    let expected = crate::init::binstall::pkg_url(&config.name, (url, layout), ".tar.gz");
    if *found != expected && ctx.verbosity != Verbosity::Quiet {
        eprintln!("warning: [package.metadata.binstall] pkg-url is {found}, but this release's archives go to {expected}: cargo-binstall will not find them (remove the table and run `init --binstall` to write it again)");
    }
    if config.archives.is_none() && ctx.verbosity != Verbosity::Quiet {
        eprintln!("warning: [package.metadata.binstall] is set but `archives` is not: cargo-binstall finds no archive to download (set archives = true)");
    }
}

/// A key, or (a dry run, the key missing) none, said so.
fn unless_dry<T>(ctx: &Context, key: Result<T>, what: &str) -> Result<Option<T>> {
    match key {
        Err(Error::NoSigningKey { .. }) if ctx.dry_run => {
            if ctx.verbosity != Verbosity::Quiet {
                eprintln!("dry run without the {what} key: this plan leaves out its signatures");
            }
            Ok(None)
        }
        other => other.map(Some),
    }
}

/// The key that signs the provenance. A dry run plans without it: the
/// provenance it shows is signed by a stand-in, so its digest is not the
/// real run's.
fn provenance_key(ctx: &Context, opts: &PublishOpts) -> Result<SecretKey> {
    match signing_key(opts.signing_key.as_deref()) {
        Err(Error::NoSigningKey { .. }) if ctx.dry_run => {
            if ctx.verbosity != Verbosity::Quiet {
                eprintln!("dry run without a signing key: the provenance in this plan is signed by a stand-in key, so its digest will differ");
            }
            Ok(crate::nixcache::SecretKey::from_seed(
                "dry-run-stand-in",
                [0; 32],
            ))
        }
        other => other,
    }
}

/// build.json, refused when missing or incomplete.
pub(crate) fn read_build(dist: &Path) -> Result<BuildRecord> {
    let path = dist.join("build.json");
    if !path.exists() {
        return Err(Error::NoBuild { path });
    }
    let manifest = BuildRecord::read(&path)?;
    if !manifest.complete || !manifest.failures.is_empty() {
        return Err(Error::IncompleteBuild {
            failed: manifest.failures.len(),
            names: manifest
                .failures
                .iter()
                .map(crate::build_record::Failure::label)
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(manifest)
}

/// A stable release comes from a clean tree: at build time and now.
fn refuse_dirty_stable(ctx: &Context, manifest: &BuildRecord, release: &Release) -> Result<()> {
    if release.class != Class::Stable {
        return Ok(());
    }
    if manifest.source.dirty {
        return Err(Error::DirtyStable {
            tag: release.tag.clone(),
            what: "build.json records that the build ran on uncommitted changes".into(),
        });
    }
    let repo = crate::source::git_toplevel(&ctx.project.dir)?;
    let changes = crate::git::uncommitted(&repo, std::slice::from_ref(&ctx.project.target_dir))?;
    if changes.is_empty() {
        return Ok(());
    }
    let files: Vec<&str> = changes.iter().take(5).map(String::as_str).collect();
    Err(Error::DirtyStable {
        tag: release.tag.clone(),
        what: format!("uncommitted changes: {}", files.join("; ")),
    })
}

/// The Nix store directory (`$NIX_STORE_DIR`, else `/nix/store`).
fn store_dir() -> String {
    std::env::var("NIX_STORE_DIR").unwrap_or_else(|_| "/nix/store".into())
}

/// Refuses a build.json entry whose store path is not a path right under
/// the Nix store, or whose file (`target`, canonical) is not inside it.
fn inside_store(what: &str, store_path: &str, target: &Path) -> Result<()> {
    let dir = store_dir();
    let top = store_path
        .strip_prefix(&format!("{dir}/"))
        .filter(|rest| crate::nixcache::is_store_basename(rest));
    let reason = if top.is_none() {
        format!("build.json gives it the store path `{store_path}`, which is not a path in {dir}")
    } else if !target.starts_with(store_path) {
        format!(
            "its file {} is not inside its store path {store_path}",
            target.display()
        )
    } else {
        return Ok(());
    };
    Err(Error::OutputShape {
        output: what.to_string(),
        message: format!("{reason}: run `cargo release-dist build` again"),
    })
}

/// Recomputes a file's sha256 and size and compares them with build.json's.
fn same_bytes(local: &Path, sha256: &str, size: u64) -> Result<()> {
    let (actual, actual_size) = crate::fsutil::sha256_file(local)?;
    if actual != sha256 || actual_size != size {
        return Err(Error::ArtifactChanged {
            path: local.to_path_buf(),
            expected: format!("sha256 {sha256}, {size} bytes"),
            actual: format!("sha256 {actual}, {actual_size} bytes"),
        });
    }
    Ok(())
}

/// The static files of the build, each link checked against build.json:
/// inside its store path, with the bytes build.json records.
pub(crate) fn release_files(dist: &Path, manifest: &BuildRecord) -> Result<Vec<ReleaseFile>> {
    let mut files = Vec::new();
    for a in manifest.artifacts.iter().filter(|a| a.kind == Kind::Static) {
        let target = checked_link(dist, a)?;
        inside_store(&format!("{} static", a.platform), &a.store_path, &target)?;
        same_bytes(&target, &a.sha256, a.size)?;
        let local = dist.join(&a.path);
        let file = local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push(ReleaseFile {
            platform: Some(a.platform),
            file,
            local,
            sha256: a.sha256.clone(),
            size: a.size,
            role: FileRole::Binary,
        });
    }
    for e in &manifest.extras {
        let local = extra_file(dist, e)?;
        same_bytes(&local, &e.sha256, e.size)?;
        let sha256 = e.sha256.clone();
        files.push(ReleaseFile {
            platform: e.platform,
            file: e.file.clone(),
            local,
            sha256,
            size: e.size,
            role: FileRole::Extra(e.name.clone()),
        });
    }
    Ok(files)
}

/// The reproducibility statement `rebuild` signed for this build and
/// release, when there is one: carried as a file of the release (in
/// SHA256SUMS, the provenance and the tag document). One for another
/// build, tag or layout is left out, said so: it would claim what was not
/// rebuilt.
fn reproduced_file(
    ctx: &Context,
    manifest: &BuildRecord,
    (release, layout): (&Release, Layout),
    files: &[ReleaseFile],
) -> Result<Option<ReleaseFile>> {
    use crate::provenance::reproduced;
    let name = &ctx.project.config.name;
    let file = reproduced::file_name(name, &release.tag);
    let dir = ctx.dist_dir().join("rebuild");
    let local = dir.join(&file);
    // Another tag's statement (rebuild found another tag than this
    // publish's --tag) is read only to say why it is not published.
    let local = match local.exists() {
        true => local,
        false => match other_statement(&dir) {
            Some(other) => other,
            None => return Ok(None),
        },
    };
    let bytes = crate::bounds::read_file_capped(&local, crate::bounds::DOCUMENT_CAP)
        .map_err(Error::io("cannot read", &local))?;
    let stale = match reproduced::read(&bytes, None) {
        Err(e) => Some(e),
        Ok(st) => stale_statement(&st, manifest, (name, &release.tag), (files, layout)),
    };
    if let Some(why) = stale {
        if ctx.verbosity != Verbosity::Quiet {
            eprintln!(
                "warning: {} is not published: {why}; run `cargo release-dist rebuild` again",
                local.display()
            );
        }
        return Ok(None);
    }
    let sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    Ok(Some(ReleaseFile {
        platform: None,
        file,
        local,
        sha256,
        size: bytes.len() as u64,
        role: FileRole::Reproduced,
    }))
}

/// A statement `rebuild` left for another tag, if there is one.
fn other_statement(dir: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".reproduced.intoto.jsonl"))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Why a statement is not this build's and this release's, if it is not:
/// another release, an output build.json does not record with that NAR
/// hash, or a subject that is not one of these files.
fn stale_statement(
    st: &crate::provenance::reproduced::ReproducedStatement,
    manifest: &BuildRecord,
    (name, tag): (&str, &str),
    (files, layout): (&[ReleaseFile], Layout),
) -> Option<String> {
    use crate::provenance::reproduced::same_nar_hash;
    let r = &st.predicate.release;
    if r.name != name || r.tag != tag {
        return Some(format!("it is for {}:{}, not {name}:{tag}", r.name, r.tag));
    }
    let recorded = manifest
        .artifacts
        .iter()
        .map(|a| (&a.store_path, &a.nar_hash))
        .chain(manifest.extras.iter().map(|e| (&e.store_path, &e.nar_hash)));
    let recorded: Vec<_> = recorded.collect();
    for o in &st.predicate.outputs {
        let known = recorded
            .iter()
            .any(|(p, h)| **p == o.store_path && same_nar_hash(h, &o.nar_hash));
        if !known || !o.matches() {
            return Some(format!("{} is not an output of this build", o.store_path));
        }
    }
    for s in &st.subject {
        let ours = files
            .iter()
            .any(|f| f.path_in(layout) == s.name && f.sha256 == s.digest.sha256);
        if !ours {
            return Some(format!(
                "its subject {} is not a file of this release",
                s.name
            ));
        }
    }
    None
}

/// An extra artifact's file: under `extra/` in the release-dist directory,
/// and either a link into its store path or (for a directory output) the
/// archive `build` made there.
fn extra_file(dist: &Path, e: &crate::build_record::ExtraFile) -> Result<PathBuf> {
    let what = format!("extra artifact {}", e.name);
    let refuse = |message: String| Error::OutputShape {
        output: what.clone(),
        message: format!("{message}: run `cargo release-dist build` again"),
    };
    if !e.path.starts_with("extra/") || !super::layout::is_safe_path(&e.path) {
        return Err(refuse(format!(
            "build.json gives it the path `{}`, which is not under extra/",
            e.path
        )));
    }
    let local = dist.join(&e.path);
    let meta = std::fs::symlink_metadata(&local).map_err(Error::io("cannot read", &local))?;
    let target = std::fs::canonicalize(&local).map_err(Error::io("cannot read", &local))?;
    if meta.file_type().is_symlink() {
        inside_store(&what, &e.store_path, &target)?;
    } else {
        let dist_real = std::fs::canonicalize(dist).map_err(Error::io("cannot read", dist))?;
        if e.archive.is_none() || !target.starts_with(dist_real.join("extra")) {
            return Err(refuse(format!(
                "{} is neither a link into its store path nor an archive build made",
                local.display()
            )));
        }
    }
    Ok(local)
}

/// `<name>-<tag>.cdx.json`: Cargo.lock's crates and each artifact's runtime
/// closure (from the local store; without nix, each artifact's own path).
fn sbom_file(ctx: &Context, manifest: &BuildRecord, tag: &str) -> Result<ReleaseFile> {
    let name = &ctx.project.config.name;
    let lock = ctx
        .project
        .dir
        .ancestors()
        .map(|d| d.join("Cargo.lock"))
        .find(|p| p.is_file());
    let crates = match &lock {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(Error::io("cannot read", path))?;
            crate::sbom::parse_lock(&text).map_err(|why| Error::config("Cargo.lock", why))?
        }
        None => Vec::new(),
    };
    let nix = crate::nix::Nix::locate(Vec::new()).ok();
    let mut closures = Vec::new();
    let roots = manifest
        .artifacts
        .iter()
        .map(|a| (a.path.clone(), a.store_path.clone(), a.nar_hash.clone()))
        .chain(
            manifest
                .extras
                .iter()
                .map(|e| (e.path.clone(), e.store_path.clone(), e.nar_hash.clone())),
        );
    for (artifact, root, nar_hash) in roots {
        let paths = match &nix {
            Some(nix) => nix
                .path_infos(std::slice::from_ref(&root), true)?
                .into_iter()
                .map(|i| (i.path, i.nar_hash))
                .collect(),
            None => vec![(root.clone(), nar_hash)],
        };
        closures.push(crate::sbom::Closure {
            artifact,
            root,
            paths,
        });
    }
    let bytes = crate::sbom::sbom(&crate::sbom::SbomInput {
        name,
        tag,
        commit: &manifest.source.commit,
        crates: &crates,
        closures: &closures,
    })
    .map_err(|why| Error::config("sbom", why))?;
    made_file(
        ctx,
        "sbom",
        &format!("{name}-{tag}.cdx.json"),
        &bytes,
        FileRole::Sbom,
    )
}

/// A file of the whole release that publish makes: written under
/// target/release-dist/`dir`/, hashed, and described.
fn made_file(
    ctx: &Context,
    dir: &str,
    file: &str,
    bytes: &[u8],
    role: FileRole,
) -> Result<ReleaseFile> {
    let dir = ctx.output_dir().join(dir);
    std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
    let local = dir.join(file);
    std::fs::write(&local, bytes).map_err(Error::io("cannot write", &local))?;
    Ok(ReleaseFile {
        platform: None,
        file: file.to_string(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes)),
        size: bytes.len() as u64,
        local,
        role,
    })
}

/// `install.sh` for this release: each target's binary (the one named like
/// the release, else the first), downloaded from the config's `public-url`.
/// The release's public keys for the installer: minisign's (base64) and
/// OpenPGP's (armored), of the keys that sign it.
fn public_keys(
    signer: Option<&super::signatures::Signer>,
) -> Result<(Option<String>, Option<String>)> {
    let Some(s) = signer else {
        return Ok((None, None));
    };
    let minisign = s.minisign.as_ref().map(|(_, pk)| pk.to_base64());
    let openpgp = match &s.openpgp {
        Some(k) => Some(k.public_armored().map_err(|reason| Error::SignatureKey {
            kind: "OpenPGP",
            path: "the OpenPGP key".into(),
            reason,
        })?),
        None => None,
    };
    Ok((minisign, openpgp))
}

fn installer_file(
    ctx: &Context,
    (layout, tag): (Layout, &str),
    files: &[ReleaseFile],
    keys: (Option<&str>, Option<&str>),
) -> Result<ReleaseFile> {
    let config = &ctx.project.config;
    let mut targets: Vec<(crate::platform::Platform, String)> = Vec::new();
    let mut bin = config.name.clone();
    // install.sh is POSIX sh: Linux and macOS; Windows users get the .exe
    // (or its archive) from the release page.
    for f in files.iter().filter(|f| f.role == FileRole::Binary) {
        let Some(p) = f
            .platform
            .filter(|p| p.format() != crate::platform::BinaryFormat::Pe)
        else {
            continue;
        };
        let named = f.file == config.name;
        match targets.iter_mut().find(|(q, _)| *q == p) {
            Some(entry) if named => entry.1 = f.path_in(layout),
            Some(_) => {}
            None => {
                targets.push((p, f.path_in(layout)));
                if !named && targets.len() == 1 {
                    bin = f.file.clone();
                }
            }
        }
    }
    let release_path = layout.release_prefix(&config.name, tag);
    let text = super::installer::script(&super::installer::Installer {
        name: &config.name,
        tag,
        bin: &bin,
        base_url: config.public_url.as_deref(),
        release_path: release_path.trim_end_matches('/'),
        files: &targets,
        keys,
    })
    .map_err(|why| Error::config("public-url", why))?;
    made_file(
        ctx,
        "installer",
        super::installer::INSTALLER,
        text.as_bytes(),
        FileRole::Installer,
    )
}

/// Two files of a release at one path (an extra artifact named like the
/// binary or the source tarball) would overwrite each other.
fn refuse_clashing_paths(files: &[ReleaseFile], layout: Layout) -> Result<()> {
    let mut seen = std::collections::HashMap::new();
    for f in files {
        if let Some(other) = seen.insert(f.path_in(layout), &f.role) {
            return Err(Error::config(
                crate::artifacts::KEY,
                format!(
                    "two files of the release would be `{}` (the {} and the {}); give the extra artifact another `name` or `file`",
                    f.path_in(layout),
                    other.as_str(),
                    f.role.as_str()
                ),
            ));
        }
    }
    Ok(())
}

/// `<name>-<tag>.tar.gz` of the released commit: `git archive
/// --prefix=<name>-<tag>/`, gzip'd without a name or time (so the same
/// commit gives the same bytes), under target/release-dist/source/.
fn source_tarball(ctx: &Context, manifest: &BuildRecord, tag: &str) -> Result<ReleaseFile> {
    use std::io::Write;
    let name = &ctx.project.config.name;
    let file = crate::publish::layout::source_tarball(name, tag);
    let repo = crate::git::toplevel(&ctx.project.dir)?;
    let tar = crate::git::archive_tar(&repo, &manifest.source.commit, &format!("{name}-{tag}"))?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar)
        .and_then(|_| gz.try_finish())
        .map_err(Error::io("cannot compress", &file))?;
    let bytes = gz.finish().map_err(Error::io("cannot compress", &file))?;
    made_file(ctx, "source", &file, &bytes, FileRole::Source)
}

/// `manifest.nix` and `manifest.json`, when `build --push-cache` put the
/// closures in a binary cache: each Nix system's store path, for `nix copy
/// --from` the cache (or Lix's `upgrade-nix`).
fn nix_manifests(ctx: &Context, manifest: &BuildRecord, tag: &str) -> Result<Vec<ReleaseFile>> {
    use crate::publish::layout::{
        nix_manifest, nix_manifest_json, NIX_MANIFEST, NIX_MANIFEST_JSON,
    };
    let Some(cache) = &manifest.cache else {
        return Ok(Vec::new());
    };
    let paths: Vec<(String, String)> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == Kind::Static)
        .map(|a| (a.platform.nix_system().to_string(), a.store_path.clone()))
        .collect();
    let release = format!("{} {tag}", ctx.project.config.name);
    let mut out = Vec::new();
    for (file, bytes) in [
        (
            NIX_MANIFEST,
            nix_manifest(&release, &paths, cache).into_bytes(),
        ),
        (
            NIX_MANIFEST_JSON,
            nix_manifest_json(&release, &paths, cache),
        ),
    ] {
        out.push(made_file(ctx, "nix", file, &bytes, FileRole::NixManifest)?);
    }
    Ok(out)
}

/// The images, converted (their digests are provenance subjects even when
/// this run pushes none), unless `--no-images`.
fn prepare_images(
    ctx: &Context,
    opts: &PublishOpts,
    manifest: &BuildRecord,
    release: &Release,
) -> Result<Option<Images>> {
    if opts.no_images {
        return Ok(None);
    }
    let config = &ctx.project.config;
    let extra = if opts.image_tags.is_empty() {
        &config.image_tags
    } else {
        &opts.image_tags
    };
    let compression = opts.image_compression.unwrap_or(config.image_compression);
    let images = images::prepare(ctx, manifest, release, compression, extra)?;
    if let Some(im) = &images {
        if !im.ignored_tags.is_empty() && ctx.verbosity != Verbosity::Quiet {
            eprintln!(
                "note: image tags {} are for stable releases only; {} is {}",
                im.ignored_tags.join(", "),
                release.tag,
                release.class.as_str()
            );
        }
    }
    Ok(images)
}

/// Every published file and `SHA256SUMS`, by the sha256 of their bytes.
fn static_subjects(files: &[ReleaseFile], layout: Layout, sums: &str) -> Vec<Subject> {
    let mut subjects: Vec<Subject> = files
        .iter()
        .map(|f| Subject {
            name: f.path_in(layout),
            sha256: f.sha256.clone(),
        })
        .collect();
    subjects.push(Subject {
        name: SHA256SUMS.into(),
        sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(sums.as_bytes())),
    });
    subjects
}

/// The signed provenance: one DSSE envelope, one line. Its `startedOn` and
/// `finishedOn` are the build's (build.json), else this run's (`started`,
/// now).
fn provenance_bundle(
    manifest: &BuildRecord,
    release: &Release,
    subjects: &[Subject],
    key: &SecretKey,
    started: String,
) -> Result<Vec<u8>> {
    let run = match &manifest.built {
        Some(times) => provenance::Run {
            started_on: times.started_on.clone(),
            finished_on: times.finished_on.clone(),
        },
        None => provenance::Run {
            started_on: started,
            finished_on: crate::clock::now(),
        },
    };
    let statement = provenance::statement(manifest, release, subjects, &run);
    let body = serde_json::to_vec(&statement).map_err(|e| Error::Json {
        path: PathBuf::from("provenance statement"),
        source: e,
    })?;
    let envelope = provenance::dsse::sign(key, provenance::IN_TOTO_PAYLOAD_TYPE, &body);
    let mut bundle = serde_json::to_vec(&envelope).unwrap_or_default();
    bundle.push(b'\n');
    Ok(bundle)
}
