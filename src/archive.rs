//! Deterministic archives of a directory: `tar.gz`, `tar.xz` or `zip`.
//!
//! The same directory gives the same bytes: entries in byte order of their
//! paths, owner root (0:0), modes normalised to 0755 (directories and
//! executables) or 0644, one fixed time for every entry, and no name or
//! time in the gzip header. Every entry sits under one top directory, the
//! archive's name without its extension, so unpacking makes one directory.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// An archive format for a directory output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// gzip'd tar.
    TarGz,
    /// xz'd tar.
    TarXz,
    /// zip, deflated.
    Zip,
}

impl ArchiveFormat {
    /// Every format, as written in the configuration.
    pub const NAMES: &'static [&'static str] = &["tar.gz", "tar.xz", "zip"];

    /// The file extension, without the dot: `tar.gz`.
    pub fn ext(self) -> &'static str {
        match self {
            ArchiveFormat::TarGz => "tar.gz",
            ArchiveFormat::TarXz => "tar.xz",
            ArchiveFormat::Zip => "zip",
        }
    }
}

impl std::str::FromStr for ArchiveFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "tar.gz" => Ok(ArchiveFormat::TarGz),
            "tar.xz" => Ok(ArchiveFormat::TarXz),
            "zip" => Ok(ArchiveFormat::Zip),
            _ => Err(()),
        }
    }
}

/// One entry of the walked directory.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Dir(String),
    File {
        path: String,
        source: PathBuf,
        executable: bool,
    },
    Symlink {
        path: String,
        target: PathBuf,
    },
}

/// Every entry under `dir`, each path prefixed by `top/`, sorted.
fn walk(dir: &Path, top: &str) -> io::Result<Vec<Entry>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = vec![Entry::Dir(format!("{top}/"))];
    let mut stack = vec![(dir.to_path_buf(), top.to_string())];
    while let Some((path, rel)) = stack.pop() {
        let mut children: Vec<_> = std::fs::read_dir(&path)?.collect::<io::Result<_>>()?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let name = child.file_name().to_string_lossy().into_owned();
            let child_rel = format!("{rel}/{name}");
            let meta = std::fs::symlink_metadata(child.path())?;
            if meta.file_type().is_symlink() {
                out.push(Entry::Symlink {
                    path: child_rel,
                    target: std::fs::read_link(child.path())?,
                });
            } else if meta.is_dir() {
                out.push(Entry::Dir(format!("{child_rel}/")));
                stack.push((child.path(), child_rel));
            } else {
                out.push(Entry::File {
                    path: child_rel,
                    source: child.path(),
                    executable: meta.permissions().mode() & 0o111 != 0,
                });
            }
        }
    }
    out.sort_by(|a, b| entry_path(a).cmp(entry_path(b)));
    Ok(out)
}

fn entry_path(e: &Entry) -> &str {
    match e {
        Entry::Dir(p) => p,
        Entry::File { path, .. } | Entry::Symlink { path, .. } => path,
    }
}

/// Archives `dir` into `out` (replaced), under the top directory `top`,
/// every entry stamped `mtime` (seconds since 1970).
pub fn archive_dir(
    dir: &Path,
    top: &str,
    format: ArchiveFormat,
    mtime: u64,
    out: &Path,
) -> io::Result<()> {
    let entries = walk(dir, top)?;
    let tmp = out.with_extension("partial");
    let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    match format {
        ArchiveFormat::TarGz => {
            let gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(file, flate2::Compression::best());
            write_tar(gz, &entries, mtime)?.finish()?.flush()?;
        }
        ArchiveFormat::TarXz => {
            let xz = xz2::write::XzEncoder::new(file, 6);
            write_tar(xz, &entries, mtime)?.finish()?.flush()?;
        }
        ArchiveFormat::Zip => write_zip(file, &entries, mtime)?,
    }
    std::fs::rename(&tmp, out)
}

fn write_tar<W: Write>(w: W, entries: &[Entry], mtime: u64) -> io::Result<W> {
    let mut tar = tar::Builder::new(w);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.follow_symlinks(false);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(mtime);
        match entry {
            Entry::Dir(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                tar.append_data(&mut header, path, io::empty())?;
            }
            Entry::File {
                path,
                source,
                executable,
            } => {
                let file = std::fs::File::open(source)?;
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                header.set_size(file.metadata()?.len());
                tar.append_data(&mut header, path, file)?;
            }
            Entry::Symlink { path, target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target)?;
            }
        }
    }
    tar.into_inner()
}

fn write_zip<W: Write + io::Seek>(w: W, entries: &[Entry], mtime: u64) -> io::Result<()> {
    use zip::write::SimpleFileOptions;
    let time = zip_time(mtime);
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(time);
    let mut zip = zip::ZipWriter::new(w);
    let zerr = |e: zip::result::ZipError| io::Error::other(e.to_string());
    for entry in entries {
        match entry {
            Entry::Dir(path) => zip
                .add_directory(path.as_str(), options.unix_permissions(0o755))
                .map_err(zerr)?,
            Entry::File {
                path,
                source,
                executable,
            } => {
                let mode = if *executable { 0o755 } else { 0o644 };
                zip.start_file(path.as_str(), options.unix_permissions(mode))
                    .map_err(zerr)?;
                let mut bytes = Vec::new();
                std::fs::File::open(source)?.read_to_end(&mut bytes)?;
                zip.write_all(&bytes)?;
            }
            Entry::Symlink { path, target } => zip
                .add_symlink(
                    path.as_str(),
                    target.to_string_lossy().as_ref(),
                    options.unix_permissions(0o777),
                )
                .map_err(zerr)?,
        }
    }
    zip.finish().map_err(zerr)?.flush()
}

/// A zip timestamp (1980 or later, two-second steps) for `mtime`.
fn zip_time(mtime: u64) -> zip::DateTime {
    let secs = mtime.max(315_532_800) as i64; // 1980-01-01
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    zip::DateTime::from_date_and_time(
        y.min(2107) as u16,
        m as u8,
        d as u8,
        (rest / 3600) as u8,
        (rest % 3600 / 60) as u8,
        (rest % 60) as u8,
    )
    .unwrap_or_default()
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("html/css")).unwrap();
        std::fs::write(root.join("html/index.html"), "<h1>hello</h1>\n").unwrap();
        std::fs::write(root.join("html/css/a.css"), "h1{}\n").unwrap();
        std::fs::write(root.join("README"), "read me\n").unwrap();
        std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(root.join("run.sh"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        std::os::unix::fs::symlink("html/index.html", root.join("index.html")).unwrap();
        dir
    }

    #[test]
    fn walks_in_byte_order_under_one_top_directory() {
        let dir = tree();
        let paths: Vec<String> = walk(dir.path(), "docs")
            .unwrap()
            .iter()
            .map(|e| entry_path(e).to_string())
            .collect();
        assert_eq!(
            paths,
            [
                "docs/",
                "docs/README",
                "docs/html/",
                "docs/html/css/",
                "docs/html/css/a.css",
                "docs/html/index.html",
                "docs/index.html",
                "docs/run.sh"
            ]
        );
    }

    #[test]
    fn the_same_tree_gives_the_same_bytes_in_every_format() {
        let (a, b) = (tree(), tree());
        let out = tempfile::tempdir().unwrap();
        for format in [
            ArchiveFormat::TarGz,
            ArchiveFormat::TarXz,
            ArchiveFormat::Zip,
        ] {
            let pa = out.path().join(format!("a.{}", format.ext()));
            let pb = out.path().join(format!("b.{}", format.ext()));
            archive_dir(a.path(), "docs", format, 1_700_000_000, &pa).unwrap();
            archive_dir(b.path(), "docs", format, 1_700_000_000, &pb).unwrap();
            let (ba, bb) = (std::fs::read(&pa).unwrap(), std::fs::read(&pb).unwrap());
            assert_eq!(ba, bb, "{format:?}");
            assert!(ba.len() > 100);
        }
    }

    #[test]
    fn tar_entries_are_root_owned_with_normalised_modes() {
        let dir = tree();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("d.tar.gz");
        archive_dir(
            dir.path(),
            "docs",
            ArchiveFormat::TarGz,
            1_700_000_000,
            &path,
        )
        .unwrap();
        let gz = flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap());
        let mut tar = tar::Archive::new(gz);
        let mut seen = Vec::new();
        for e in tar.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.mtime().unwrap(), 1_700_000_000);
            seen.push((
                e.path().unwrap().display().to_string(),
                h.mode().unwrap() & 0o777,
            ));
        }
        assert!(seen.contains(&("docs/run.sh".into(), 0o755)));
        assert!(seen.contains(&("docs/README".into(), 0o644)));
    }

    #[test]
    fn zip_times_are_dates_from_1980_on() {
        let t = zip_time(1_700_000_000); // 2023-11-14 22:13:20
        assert_eq!(
            (t.year(), t.month(), t.day(), t.hour(), t.minute()),
            (2023, 11, 14, 22, 13)
        );
        assert_eq!(zip_time(0).year(), 1980);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
