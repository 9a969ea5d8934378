//! An APT repository's documents: `Packages` stanzas and indices, and the
//! `Release` file that lists them with `Acquire-By-Hash: yes`. Pure.
//!
//! Layout, under `apt/`:
//! - `pool/main/<h>/<name>/<file>.deb`;
//! - `dists/<suite>/main/binary-<arch>/Packages{,.gz,.xz}`, each also at
//!   `…/by-hash/SHA256/<hex>` (never deleted by a publish, so a client
//!   holding an older `InRelease` still finds what it names);
//! - `dists/<suite>/{Release,Release.gpg,InRelease}`;
//! - `index/<suite>/<arch>/<file>.deb`: each package's stanza, the
//!   bookkeeping the indices are derived from (no compare-and-swap needed).

use std::io::Write;

/// The repository's root in a static destination.
pub const ROOT: &str = "apt";
/// The one component.
pub const COMPONENT: &str = "main";

/// `pool/main/h/hello/hello_1.2.3_amd64.deb` (`lib…` packages under `libh/`).
pub fn pool_path(name: &str, file: &str) -> String {
    let letter = if name.starts_with("lib") && name.len() > 3 {
        &name[..4]
    } else {
        &name[..1]
    };
    format!("pool/{COMPONENT}/{letter}/{name}/{file}")
}

/// The bookkeeping key of a package in a suite: `index/<suite>/<arch>/<file>`.
pub fn index_key(suite: &str, arch: &str, file: &str) -> String {
    format!("{ROOT}/index/{suite}/{arch}/{file}")
}

/// A package's stanza in `Packages`: its control fields, then where it is
/// and its digests.
pub fn stanza(control: &str, filename: &str, size: u64, md5: &str, sha256: &str) -> String {
    let mut s = control.trim_end().to_string();
    s.push_str(&format!(
        "\nFilename: {filename}\nSize: {size}\nMD5sum: {md5}\nSHA256: {sha256}\n"
    ));
    s
}

/// A `Packages` file: the stanzas, sorted, separated by blank lines.
pub fn packages_index(stanzas: &[String]) -> String {
    let mut sorted: Vec<&str> = stanzas.iter().map(|s| s.trim_end()).collect();
    sorted.sort();
    sorted.dedup();
    let mut out = sorted.join("\n\n");
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// One index file of a suite: its path under `dists/<suite>/`, bytes, and
/// by-hash path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// `main/binary-amd64/Packages.gz`.
    pub path: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl IndexFile {
    /// sha256, hex.
    pub fn sha256(&self) -> String {
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&self.bytes))
    }

    /// md5, hex.
    pub fn md5(&self) -> String {
        use md5::Digest;
        hex::encode(md5::Md5::digest(&self.bytes))
    }

    /// `main/binary-amd64/by-hash/SHA256/<hex>`.
    pub fn by_hash_path(&self) -> String {
        let dir = self.path.rsplit_once('/').map_or("", |(d, _)| d);
        format!("{dir}/by-hash/SHA256/{}", self.sha256())
    }
}

/// `Packages`, `Packages.gz` and `Packages.xz` of one architecture.
pub fn index_files(arch: &str, packages: &str) -> Vec<IndexFile> {
    let dir = format!("{COMPONENT}/binary-{arch}");
    let plain = packages.as_bytes().to_vec();
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    let _ = gz.write_all(&plain);
    let gz = gz.finish().unwrap_or_default();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    let _ = xz.write_all(&plain);
    let xz = xz.finish().unwrap_or_default();
    vec![
        IndexFile {
            path: format!("{dir}/Packages"),
            bytes: plain,
        },
        IndexFile {
            path: format!("{dir}/Packages.gz"),
            bytes: gz,
        },
        IndexFile {
            path: format!("{dir}/Packages.xz"),
            bytes: xz,
        },
    ]
}

/// What a `Release` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseInfo<'a> {
    /// Origin and Label (the project's name).
    pub origin: &'a str,
    /// The suite (and codename).
    pub suite: &'a str,
    /// The architectures, sorted.
    pub architectures: Vec<String>,
    /// `Date`, seconds since 1970.
    pub date: u64,
}

/// The `Release` file naming `files` (paths under `dists/<suite>/`).
pub fn release(info: &ReleaseInfo<'_>, files: &[IndexFile]) -> String {
    let date = chrono::DateTime::from_timestamp(info.date as i64, 0)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S UTC");
    let mut out = format!(
        "Origin: {o}\nLabel: {o}\nSuite: {s}\nCodename: {s}\nDate: {date}\nArchitectures: {}\nComponents: {COMPONENT}\nAcquire-By-Hash: yes\nDescription: {o} packages, published by cargo-release-dist\n",
        info.architectures.join(" "),
        o = info.origin,
        s = info.suite,
    );
    let mut sorted: Vec<&IndexFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    out.push_str("MD5Sum:\n");
    for f in &sorted {
        out.push_str(&format!(" {} {:>16} {}\n", f.md5(), f.bytes.len(), f.path));
    }
    out.push_str("SHA256:\n");
    for f in &sorted {
        out.push_str(&format!(
            " {} {:>16} {}\n",
            f.sha256(),
            f.bytes.len(),
            f.path
        ));
    }
    out
}

/// `Release` without its `Date` line, to tell whether anything changed.
pub fn without_date(release: &str) -> String {
    release
        .lines()
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `sources.list` line for users (deb822 `.sources` files work too).
pub fn sources_line(url: &str, suite: &str, keyring: &str) -> String {
    format!(
        "deb [signed-by={keyring}] {}/{ROOT} {suite} {COMPONENT}",
        url.trim_end_matches('/')
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_paths_follow_debian() {
        assert_eq!(
            pool_path("hello", "hello_1_amd64.deb"),
            "pool/main/h/hello/hello_1_amd64.deb"
        );
        assert_eq!(pool_path("libfoo", "f.deb"), "pool/main/libf/libfoo/f.deb");
    }

    #[test]
    fn release_lists_every_index_with_its_digests_and_by_hash() {
        let st = stanza(
            "Package: hello\nVersion: 1.2.3\nArchitecture: amd64\n",
            "pool/main/h/hello/hello_1.2.3_amd64.deb",
            10,
            "aa",
            "bb",
        );
        let idx = packages_index(&[st.clone(), st.clone()]);
        assert_eq!(idx.matches("Package: hello").count(), 1);
        assert!(idx.ends_with("SHA256: bb\n"));
        let files = index_files("amd64", &idx);
        assert_eq!(files[0].path, "main/binary-amd64/Packages");
        assert!(files[1].bytes.starts_with(&[0x1f, 0x8b]));
        assert!(files[2].bytes.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']));
        assert_eq!(
            files[0].by_hash_path(),
            format!("main/binary-amd64/by-hash/SHA256/{}", files[0].sha256())
        );
        let info = ReleaseInfo {
            origin: "hello",
            suite: "stable",
            architectures: vec!["amd64".into()],
            date: 1_796_117_400,
        };
        let r = release(&info, &files);
        assert!(r.contains("Date: Tue, 01 Dec 2026 09:30:00 UTC\n"), "{r}");
        assert!(r.contains("Acquire-By-Hash: yes\n"));
        assert!(r.contains(&format!(
            " {} {:>16} main/binary-amd64/Packages.gz\n",
            files[1].sha256(),
            files[1].bytes.len()
        )));
        let later = ReleaseInfo {
            date: 1_796_200_000,
            ..info
        };
        assert_eq!(without_date(&r), without_date(&release(&later, &files)));
        assert_eq!(
            sources_line(
                "https://dl.example.org/",
                "stable",
                "/usr/share/keyrings/hello.gpg"
            ),
            "deb [signed-by=/usr/share/keyrings/hello.gpg] https://dl.example.org/apt stable main"
        );
    }
}
