//! Per-target archives (`archives = true` or a format): for each target,
//! `<name>-<tag>-<rust triple>.tar.gz` (`.zip` for Windows, whatever the
//! format) at the release's top, holding the target's binaries and the
//! configured `archive-files` under one directory named like the archive.
//! These are the names cargo-dist users and cargo-binstall expect. The Rust
//! triple is the one the build recorded from the derivation, else the
//! table's. Deterministic: the same build, tag and files give the same
//! bytes (entries sorted, owner root, one time: `$SOURCE_DATE_EPOCH`, else
//! the commit's).

use std::path::{Path, PathBuf};

use super::layout::{FileRole, ReleaseFile};
use crate::archive::{archive_dir, ArchiveFormat};
use crate::build_record::{BuildRecord, Kind};
use crate::context::Context;
use crate::errors::{Error, Result};
use crate::platform::{BinaryFormat, Platform};

/// The configured files, each checked to be a file of the package.
fn archive_files(ctx: &Context) -> Result<Vec<PathBuf>> {
    let dir = &ctx.project.dir;
    ctx.project
        .config
        .archive_files
        .iter()
        .map(|f| {
            let path = dir.join(f);
            let inside = !Path::new(f).is_absolute() && !f.split('/').any(|c| c == "..");
            match inside && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                true => Ok(path),
                false => Err(Error::config(
                    "archive-files",
                    format!("`{f}` is not a file of the package ({})", dir.display()),
                )),
            }
        })
        .collect()
}

/// The Rust triple of `platform`'s binaries: as the build recorded it from
/// the derivation, else the table's.
fn triple(manifest: &BuildRecord, platform: Platform) -> String {
    manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == Kind::Static && a.platform == platform)
        .find_map(|a| a.rust.as_ref().and_then(|r| r.target.clone()))
        .unwrap_or_else(|| platform.rust_triple().to_string())
}

/// The archive of each target whose binaries are among `files`.
pub fn target_archives(
    ctx: &Context,
    manifest: &BuildRecord,
    (tag, format, mtime): (&str, ArchiveFormat, u64),
    files: &[ReleaseFile],
) -> Result<Vec<ReleaseFile>> {
    let extra = archive_files(ctx)?;
    let mut platforms: Vec<Platform> = files
        .iter()
        .filter(|f| f.role == FileRole::Binary)
        .filter_map(|f| f.platform)
        .collect();
    platforms.dedup();
    let name = &ctx.project.config.name;
    let root = ctx.output_dir().join("archives");
    let mut out = Vec::new();
    for p in platforms {
        let stem = format!("{name}-{tag}-{}", triple(manifest, p));
        let format = match p.format() {
            BinaryFormat::Pe => ArchiveFormat::Zip,
            _ => format,
        };
        let staged = root.join("staged").join(&stem);
        let binaries = files
            .iter()
            .filter(|f| f.role == FileRole::Binary && f.platform == Some(p));
        let contents: Vec<(PathBuf, String)> = binaries
            .map(|f| (f.local.clone(), f.file.clone()))
            .chain(extra.iter().map(|e| (e.clone(), file_name(e))))
            .collect();
        stage(&staged, &contents)?;
        let file = format!("{stem}.{}", format.ext());
        let local = root.join(&file);
        archive_dir(&staged, &stem, format, mtime, &local)
            .map_err(Error::io("cannot archive", &staged))?;
        std::fs::remove_dir_all(&staged).map_err(Error::io("cannot remove", &staged))?;
        let bytes = std::fs::read(&local).map_err(Error::io("cannot read", &local))?;
        out.push(ReleaseFile {
            platform: None,
            file,
            sha256: hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            size: bytes.len() as u64,
            local,
            role: FileRole::Archive(p),
        });
    }
    Ok(out)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A fresh directory holding `contents` (source, name), copied.
fn stage(dir: &Path, contents: &[(PathBuf, String)]) -> Result<()> {
    if dir.exists() {
        make_writable(dir);
        std::fs::remove_dir_all(dir).map_err(Error::io("cannot remove", dir))?;
    }
    std::fs::create_dir_all(dir).map_err(Error::io("cannot create", dir))?;
    for (source, name) in contents {
        let to = dir.join(name);
        std::fs::copy(source, &to).map_err(Error::io("cannot copy", source))?;
    }
    Ok(())
}

/// Files copied out of the Nix store are read-only; a directory of them is
/// still removable, but make it so that nothing surprises.
fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(0o644));
        }
    }
}
