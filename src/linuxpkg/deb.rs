//! A `.deb`: an `ar` archive of `debian-binary`, `control.tar.xz` and
//! `data.tar.xz`, as `dpkg-deb --build` writes one. Deterministic: every
//! entry is owned by root, stamped with one time, in a fixed order.
//!
//! (The `debian-packaging` crate builds these too, but it pulls in
//! async-std, async-tar and an `xattr` release that no longer compiles
//! against current libc; the format is three archive members.)

use std::io::Write;

use super::PackageMeta;

/// A file a package installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkgFile {
    /// Absolute path (`/usr/bin/hello`).
    pub dest: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its mode (`0o755`).
    pub mode: u32,
    /// A configuration file.
    pub conffile: bool,
}

/// What one `.deb` is made of.
#[derive(Debug, Clone)]
pub struct DebInput<'a> {
    /// Name, summary, licence, maintainer…
    pub meta: &'a PackageMeta,
    /// dpkg's version.
    pub version: &'a str,
    /// dpkg's architecture (`amd64`, `armhf`).
    pub arch: &'a str,
    /// The files it installs (the binary, and the configured ones).
    pub files: &'a [PkgFile],
    /// The time of every entry (seconds since 1970).
    pub mtime: u64,
}

/// The package's file name: `hello_1.2.3_amd64.deb`.
pub fn file_name(name: &str, version: &str, arch: &str) -> String {
    format!("{name}_{version}_{arch}.deb")
}

/// Every file in the package: the given ones, then the copyright and
/// changelog Debian policy asks for under /usr/share/doc/<name>/.
pub fn all_files(input: &DebInput<'_>) -> Vec<PkgFile> {
    let meta = input.meta;
    let doc = format!("/usr/share/doc/{}", meta.name);
    let mut files = input.files.to_vec();
    let copyright = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: {}\n{}\nFiles: *\nCopyright: {} {}\nLicense: {}\n",
        meta.name,
        meta.homepage.as_ref().map(|h| format!("Source: {h}\n")).unwrap_or_default(),
        year(input.mtime),
        meta.maintainer,
        meta.license
    );
    files.push(PkgFile {
        dest: format!("{doc}/copyright"),
        bytes: copyright.into_bytes(),
        mode: 0o644,
        conffile: false,
    });
    let changelog = format!(
        "{} ({}) unstable; urgency=medium\n\n  * Release {} (built by cargo-release-dist).\n\n -- {}  {}\n",
        meta.name,
        input.version,
        input.version,
        meta.maintainer,
        rfc2822(input.mtime)
    );
    files.push(PkgFile {
        dest: format!("{doc}/changelog.gz"),
        bytes: gzip(changelog.as_bytes()),
        mode: 0o644,
        conffile: false,
    });
    files.sort_by(|a, b| a.dest.cmp(&b.dest));
    files
}

/// The `control` file.
pub fn control(input: &DebInput<'_>, files: &[PkgFile]) -> String {
    let meta = input.meta;
    let installed_kib: u64 = files
        .iter()
        .map(|f| (f.bytes.len() as u64).div_ceil(1024))
        .sum();
    let mut out = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {}\nSection: {}\nPriority: optional\n",
        meta.name, input.version, input.arch, meta.maintainer, installed_kib.max(1), meta.section
    );
    if let Some(h) = &meta.homepage {
        out.push_str(&format!("Homepage: {h}\n"));
    }
    out.push_str(&format!(
        "Description: {}\n {} {}, a static build for {}.\n",
        meta.summary, meta.name, input.version, input.arch
    ));
    out
}

/// Builds the `.deb`.
pub fn build(input: &DebInput<'_>) -> std::io::Result<Vec<u8>> {
    let files = all_files(input);
    let mut control_members = vec![
        (
            "control".to_string(),
            control(input, &files).into_bytes(),
            0o644,
        ),
        ("md5sums".to_string(), md5sums(&files).into_bytes(), 0o644),
    ];
    let conffiles: String = files
        .iter()
        .filter(|f| f.conffile)
        .map(|f| format!("{}\n", f.dest))
        .collect();
    if !conffiles.is_empty() {
        control_members.push(("conffiles".to_string(), conffiles.into_bytes(), 0o644));
    }
    let control_tar = xz(&tar_of(&[], &control_members, input.mtime)?)?;
    let dirs = parent_dirs(&files);
    let data_members: Vec<(String, Vec<u8>, u32)> = files
        .iter()
        .map(|f| {
            (
                f.dest.trim_start_matches('/').to_string(),
                f.bytes.clone(),
                f.mode,
            )
        })
        .collect();
    let data_tar = xz(&tar_of(&dirs, &data_members, input.mtime)?)?;

    let mut out = Vec::new();
    {
        let mut ar = ar::Builder::new(&mut out);
        for (name, bytes) in [
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.xz", control_tar),
            ("data.tar.xz", data_tar),
        ] {
            let mut header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
            header.set_mode(0o100644);
            header.set_mtime(input.mtime);
            header.set_uid(0);
            header.set_gid(0);
            ar.append(&header, bytes.as_slice())?;
        }
    }
    Ok(out)
}

fn md5sums(files: &[PkgFile]) -> String {
    use md5::Digest;
    files
        .iter()
        .filter(|f| !f.conffile)
        .map(|f| {
            format!(
                "{}  {}\n",
                hex::encode(md5::Md5::digest(&f.bytes)),
                f.dest.trim_start_matches('/')
            )
        })
        .collect()
}

/// Every directory above the files (`usr/`, `usr/bin/`…), sorted.
fn parent_dirs(files: &[PkgFile]) -> Vec<String> {
    let mut dirs = std::collections::BTreeSet::new();
    for f in files {
        let path = f.dest.trim_start_matches('/');
        let mut at = 0;
        while let Some(i) = path[at..].find('/') {
            dirs.insert(format!("{}/", &path[..at + i]));
            at += i + 1;
        }
    }
    dirs.into_iter().collect()
}

/// A tar with `./` first, then `dirs`, then `files`, each path under `./`
/// as dpkg-deb writes them.
fn tar_of(
    dirs: &[String],
    files: &[(String, Vec<u8>, u32)],
    mtime: u64,
) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    let header = |kind: tar::EntryType, mode: u32, size: u64| -> std::io::Result<tar::Header> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_username("root")?;
        h.set_groupname("root")?;
        h.set_mtime(mtime);
        Ok(h)
    };
    let name = |h: &mut tar::Header, path: &str| -> std::io::Result<()> {
        let full = format!("./{path}");
        let field = &mut h.as_old_mut().name;
        if full.len() > field.len() {
            return Err(std::io::Error::other(format!(
                "{full}: a path of more than 100 bytes"
            )));
        }
        field[..full.len()].copy_from_slice(full.as_bytes());
        Ok(())
    };
    let mut root = header(tar::EntryType::Directory, 0o755, 0)?;
    name(&mut root, "")?;
    root.set_cksum();
    tar.append(&root, std::io::empty())?;
    for d in dirs {
        let mut h = header(tar::EntryType::Directory, 0o755, 0)?;
        name(&mut h, d)?;
        h.set_cksum();
        tar.append(&h, std::io::empty())?;
    }
    for (path, bytes, mode) in files {
        let mut h = header(tar::EntryType::Regular, *mode, bytes.len() as u64)?;
        name(&mut h, path)?;
        h.set_cksum();
        tar.append(&h, bytes.as_slice())?;
    }
    tar.into_inner()
}

fn xz(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
    enc.write_all(bytes)?;
    enc.finish()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    let _ = gz.write_all(bytes);
    gz.finish().unwrap_or_default()
}

/// The year of `secs`.
fn year(secs: u64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .unwrap_or_default()
        .format("%Y")
        .to_string()
}

/// `Tue, 01 Dec 2026 09:30:00 +0000`.
pub fn rfc2822(secs: u64) -> String {
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .unwrap_or_default()
        .to_rfc2822()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn meta() -> PackageMeta {
        PackageMeta {
            name: "hello".into(),
            summary: "Says hello".into(),
            license: "MIT".into(),
            homepage: Some("https://example.org/hello".into()),
            maintainer: "Jane Doe <jane@example.org>".into(),
            section: "utils".into(),
        }
    }

    fn input<'a>(meta: &'a PackageMeta, files: &'a [PkgFile]) -> DebInput<'a> {
        DebInput {
            meta,
            version: "1.2.3",
            arch: "amd64",
            files,
            mtime: 1_796_117_400,
        }
    }

    #[test]
    fn the_same_input_gives_the_same_bytes_and_an_ar_archive_of_three_members() {
        let meta = meta();
        let files = [PkgFile {
            dest: "/usr/bin/hello".into(),
            bytes: b"\x7fELF...".to_vec(),
            mode: 0o755,
            conffile: false,
        }];
        let a = build(&input(&meta, &files)).unwrap();
        assert_eq!(a, build(&input(&meta, &files)).unwrap());
        assert!(a.starts_with(b"!<arch>\ndebian-binary   "));
        let mut ar = ar::Archive::new(a.as_slice());
        let mut names = Vec::new();
        while let Some(entry) = ar.next_entry() {
            names.push(String::from_utf8(entry.unwrap().header().identifier().to_vec()).unwrap());
        }
        assert_eq!(names, ["debian-binary", "control.tar.xz", "data.tar.xz"]);
    }

    #[test]
    fn control_names_the_package_and_lists_conffiles_apart() {
        let meta = meta();
        let files = [
            PkgFile {
                dest: "/usr/bin/hello".into(),
                bytes: vec![0; 3000],
                mode: 0o755,
                conffile: false,
            },
            PkgFile {
                dest: "/etc/hello.toml".into(),
                bytes: b"x = 1\n".to_vec(),
                mode: 0o644,
                conffile: true,
            },
        ];
        let inp = input(&meta, &files);
        let all = all_files(&inp);
        let c = control(&inp, &all);
        assert!(c.starts_with("Package: hello\nVersion: 1.2.3\nArchitecture: amd64\nMaintainer: Jane Doe <jane@example.org>\nInstalled-Size: 6\n"), "{c}");
        assert!(c.contains("Homepage: https://example.org/hello\nDescription: Says hello\n "));
        let sums = md5sums(&all);
        assert!(sums.contains("  usr/bin/hello\n") && !sums.contains("etc/hello.toml"));
        assert_eq!(
            parent_dirs(&all)[..3],
            ["etc/".to_string(), "usr/".into(), "usr/bin/".into()]
        );
        assert_eq!(rfc2822(1_796_117_400), "Tue, 1 Dec 2026 09:30:00 +0000");
    }
}
