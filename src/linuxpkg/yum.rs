//! A YUM/DNF repository's metadata (createrepo's format): `primary`,
//! `filelists` and `other`, gzip'd under content-addressed names, and
//! `repomd.xml` naming them. Pure.
//!
//! Layout, under `rpm/<suite>/`: `packages/<file>.rpm`, `repodata/…`, and
//! `index/<file>.rpm.json`: each package's three XML fragments, the
//! bookkeeping the metadata is derived from.

use std::io::Write;

use serde::{Deserialize, Serialize};

use super::rpm::RpmFacts;

/// The repositories' root in a static destination.
pub const ROOT: &str = "rpm";

/// One package's part of each metadata file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fragments {
    /// Its `<package>` in primary.xml.
    pub primary: String,
    /// In filelists.xml.
    pub filelists: String,
    /// In other.xml.
    pub other: String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The fragments of a package whose bytes have `sha256` and `size`,
/// stored at `href` (relative to the repository).
pub fn fragments(f: &RpmFacts, sha256: &str, size: u64, href: &str) -> Fragments {
    let (name, ver, rel, arch) = &f.nvra;
    let version = format!(
        r#"<version epoch="0" ver="{}" rel="{}"/>"#,
        esc(ver),
        esc(rel)
    );
    let provides: String = f
        .provides
        .iter()
        .map(|(n, flags, v)| {
            if flags.is_empty() {
                format!("      <rpm:entry name=\"{}\"/>\n", esc(n))
            } else {
                let v = v.split_once(':').map_or(v.as_str(), |(_, v)| v);
                let (pv, pr) = v.rsplit_once('-').unwrap_or((v, ""));
                format!(
                    "      <rpm:entry name=\"{}\" flags=\"{flags}\" epoch=\"0\" ver=\"{}\" rel=\"{}\"/>\n",
                    esc(n),
                    esc(pv),
                    esc(pr)
                )
            }
        })
        .collect();
    let files: String = f
        .files
        .iter()
        .map(|p| format!("    <file>{}</file>\n", esc(p)))
        .collect();
    let primary = format!(
        "<package type=\"rpm\">\n  <name>{n}</name>\n  <arch>{a}</arch>\n  {version}\n  <checksum type=\"sha256\" pkgid=\"YES\">{sha256}</checksum>\n  <summary>{s}</summary>\n  <description>{d}</description>\n  <packager>{p}</packager>\n  <url>{u}</url>\n  <time file=\"{t}\" build=\"{t}\"/>\n  <size package=\"{size}\" installed=\"{i}\" archive=\"{i}\"/>\n  <location href=\"{h}\"/>\n  <format>\n    <rpm:license>{l}</rpm:license>\n    <rpm:vendor/>\n    <rpm:group>Unspecified</rpm:group>\n    <rpm:buildhost>cargo-release-dist</rpm:buildhost>\n    <rpm:sourcerpm/>\n    <rpm:header-range start=\"{hs}\" end=\"{he}\"/>\n    <rpm:provides>\n{provides}    </rpm:provides>\n{files}  </format>\n</package>\n",
        n = esc(name),
        a = esc(arch),
        s = esc(&f.summary),
        d = esc(&f.description),
        p = esc(&f.packager),
        u = esc(&f.url),
        t = f.time,
        i = f.installed_size,
        h = esc(href),
        l = esc(&f.license),
        hs = f.header_range.0,
        he = f.header_range.1,
    );
    let head = format!(
        "<package pkgid=\"{sha256}\" name=\"{}\" arch=\"{}\">\n  {version}\n",
        esc(name),
        esc(arch)
    );
    Fragments {
        primary,
        filelists: format!(
            "{head}{}</package>\n",
            files.replace("    <file>", "  <file>")
        ),
        other: format!("{head}</package>\n"),
    }
}

/// One metadata file, gzip'd, as repomd.xml lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaFile {
    /// `primary`, `filelists` or `other`.
    pub kind: &'static str,
    /// The uncompressed XML.
    pub xml: Vec<u8>,
    /// The gzip'd bytes (what is stored).
    pub gz: Vec<u8>,
}

fn sha256(b: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b))
}

impl MetaFile {
    /// `repodata/<sha256 of gz>-primary.xml.gz`: content-addressed, so an
    /// older repomd.xml still finds its files.
    pub fn href(&self) -> String {
        format!("repodata/{}-{}.xml.gz", sha256(&self.gz), self.kind)
    }
}

/// The three metadata files of `packages` (sorted by their primary text).
pub fn metadata(packages: &[Fragments]) -> Vec<MetaFile> {
    let mut sorted: Vec<&Fragments> = packages.iter().collect();
    sorted.sort_by(|a, b| a.primary.cmp(&b.primary));
    sorted.dedup();
    let n = sorted.len();
    let join =
        |pick: &dyn Fn(&Fragments) -> &str| -> String { sorted.iter().map(|f| pick(f)).collect() };
    let docs = [
        (
            "primary",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{n}\">\n{}</metadata>\n", join(&|f| &f.primary)),
        ),
        (
            "filelists",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{n}\">\n{}</filelists>\n", join(&|f| &f.filelists)),
        ),
        (
            "other",
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{n}\">\n{}</otherdata>\n", join(&|f| &f.other)),
        ),
    ];
    docs.into_iter()
        .map(|(kind, xml)| {
            let mut gz = flate2::GzBuilder::new()
                .mtime(0)
                .write(Vec::new(), flate2::Compression::best());
            let _ = gz.write_all(xml.as_bytes());
            MetaFile {
                kind,
                gz: gz.finish().unwrap_or_default(),
                xml: xml.into_bytes(),
            }
        })
        .collect()
}

/// `repomd.xml` naming `files`, with revision and timestamps `time`.
pub fn repomd(files: &[MetaFile], time: u64) -> String {
    let mut out = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n  <revision>{time}</revision>\n");
    for f in files {
        out.push_str(&format!(
            "  <data type=\"{}\">\n    <checksum type=\"sha256\">{}</checksum>\n    <open-checksum type=\"sha256\">{}</open-checksum>\n    <location href=\"{}\"/>\n    <timestamp>{time}</timestamp>\n    <size>{}</size>\n    <open-size>{}</open-size>\n  </data>\n",
            f.kind,
            sha256(&f.gz),
            sha256(&f.xml),
            f.href(),
            f.gz.len(),
            f.xml.len()
        ));
    }
    out.push_str("</repomd>\n");
    out
}

/// The `.repo` file users drop into /etc/yum.repos.d/.
pub fn repo_file(id: &str, name: &str, baseurl: &str, gpgkey: &str) -> String {
    format!("[{id}]\nname={name}\nbaseurl={baseurl}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey={gpgkey}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> RpmFacts {
        RpmFacts {
            file_name: "hello-1.2.3-1.x86_64.rpm".into(),
            nvra: ("hello".into(), "1.2.3".into(), "1".into(), "x86_64".into()),
            summary: "Says <hello>".into(),
            description: "d".into(),
            packager: "Jane <j@example.org>".into(),
            url: String::new(),
            license: "MIT".into(),
            time: 1_796_117_400,
            installed_size: 432,
            header_range: (4504, 6000),
            provides: vec![("hello".into(), "EQ".into(), "1.2.3-1".into())],
            files: vec!["/usr/bin/hello".into()],
        }
    }

    #[test]
    fn fragments_escape_and_name_the_package_by_its_digest() {
        let f = fragments(&facts(), "ab12", 900, "packages/hello-1.2.3-1.x86_64.rpm");
        assert!(f.primary.contains("<summary>Says &lt;hello&gt;</summary>"));
        assert!(f
            .primary
            .contains(r#"<rpm:entry name="hello" flags="EQ" epoch="0" ver="1.2.3" rel="1"/>"#));
        assert!(f
            .primary
            .contains(r#"<rpm:header-range start="4504" end="6000"/>"#));
        assert!(f
            .filelists
            .starts_with(r#"<package pkgid="ab12" name="hello" arch="x86_64">"#));
        assert!(f.filelists.contains("  <file>/usr/bin/hello</file>\n"));
    }

    #[test]
    fn repomd_names_content_addressed_files_with_both_checksums() {
        let f = fragments(&facts(), "ab12", 900, "packages/x.rpm");
        let files = metadata(&[f.clone(), f]);
        assert_eq!(files.len(), 3);
        assert!(String::from_utf8_lossy(&files[0].xml).contains("packages=\"1\""));
        let href = files[0].href();
        assert!(href.starts_with("repodata/") && href.ends_with("-primary.xml.gz"));
        let r = repomd(&files, 7);
        assert!(r.contains(&format!("<location href=\"{href}\"/>")));
        assert!(r.contains("<data type=\"other\">"));
        assert!(repo_file(
            "hello",
            "hello",
            "https://x/rpm/stable",
            "https://x/rpm/RPM-GPG-KEY-hello"
        )
        .contains("repo_gpgcheck=1\n"));
    }
}
