//! Where two builds of one output part: the first file (in NAR order) whose
//! type, mode, link target or bytes differ; the second build's NAR read
//! back into a directory; diffoscope's report when it is installed.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};

/// The first difference between two trees.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Difference {
    /// The path inside the output (empty: the output itself, a file).
    pub path: String,
    /// What differs.
    pub what: String,
}

/// The first path where `a` and `b` differ, walking both in NAR order
/// (names sorted bytewise); `None` when they are the same. Symbolic
/// links are compared, never followed.
pub fn first_difference(a: &Path, b: &Path) -> Result<Option<Difference>> {
    walk(a, b, "")
}

fn walk(a: &Path, b: &Path, rel: &str) -> Result<Option<Difference>> {
    let at = |what: &str| {
        Ok(Some(Difference {
            path: rel.to_string(),
            what: what.to_string(),
        }))
    };
    let (ma, mb) = (meta(a)?, meta(b)?);
    let (ta, tb) = (ma.file_type(), mb.file_type());
    if ta.is_symlink() || tb.is_symlink() {
        if !(ta.is_symlink() && tb.is_symlink()) {
            return at("a symbolic link in one build only");
        }
        let (la, lb) = (link(a)?, link(b)?);
        return match la == lb {
            true => Ok(None),
            false => at(&format!(
                "the link points to {} in the first build, {} in the second",
                la.display(),
                lb.display()
            )),
        };
    }
    if ta.is_dir() != tb.is_dir() {
        return at("a directory in one build, a file in the other");
    }
    if ta.is_dir() {
        return walk_dir(a, b, rel);
    }
    use std::os::unix::fs::PermissionsExt;
    let exec = |m: &std::fs::Metadata| m.permissions().mode() & 0o100 != 0;
    if exec(&ma) != exec(&mb) {
        return at("executable in one build only");
    }
    if ma.len() != mb.len() {
        return at(&format!("{} bytes, then {} bytes", ma.len(), mb.len()));
    }
    match first_differing_byte(a, b)? {
        None => Ok(None),
        Some(offset) => at(&format!("the bytes differ from offset {offset}")),
    }
}

fn walk_dir(a: &Path, b: &Path, rel: &str) -> Result<Option<Difference>> {
    let (na, nb) = (names(a)?, names(b)?);
    let mut all: Vec<&Vec<u8>> = na.iter().chain(nb.iter()).collect();
    all.sort();
    all.dedup();
    for name in all {
        let text = String::from_utf8_lossy(name);
        let child = match rel.is_empty() {
            true => text.to_string(),
            false => format!("{rel}/{text}"),
        };
        if !na.contains(name) || !nb.contains(name) {
            return Ok(Some(Difference {
                path: child,
                what: match na.contains(name) {
                    true => "in the first build only".into(),
                    false => "in the second build only".into(),
                },
            }));
        }
        let os = os_name(name);
        if let Some(d) = walk(&a.join(&os), &b.join(&os), &child)? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

fn os_name(name: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(name).to_os_string()
}

fn names(dir: &Path) -> Result<Vec<Vec<u8>>> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(Error::io("cannot read", dir))? {
        let entry = entry.map_err(Error::io("cannot read", dir))?;
        names.push(entry.file_name().as_bytes().to_vec());
    }
    names.sort();
    Ok(names)
}

fn meta(p: &Path) -> Result<std::fs::Metadata> {
    std::fs::symlink_metadata(p).map_err(Error::io("cannot read", p))
}

fn link(p: &Path) -> Result<PathBuf> {
    std::fs::read_link(p).map_err(Error::io("cannot read", p))
}

fn first_differing_byte(a: &Path, b: &Path) -> Result<Option<u64>> {
    let open = |p: &Path| std::fs::File::open(p).map_err(Error::io("cannot read", p));
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut fa, &mut ba).map_err(Error::io("cannot read", a))?;
        let m = read_full(&mut fb, &mut bb).map_err(Error::io("cannot read", b))?;
        if let Some(i) = ba[..n.min(m)]
            .iter()
            .zip(&bb[..n.min(m)])
            .position(|(x, y)| x != y)
        {
            return Ok(Some(offset + i as u64));
        }
        if n != m {
            return Ok(Some(offset + n.min(m) as u64));
        }
        if n == 0 {
            return Ok(None);
        }
        offset += n as u64;
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match f.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Unpacks the NAR file `nar` into `dir` (which must not exist). An entry
/// that would land outside `dir` is refused by the decoder.
pub fn unpack_nar(nar: &Path, dir: &Path) -> Result<()> {
    let file = std::fs::File::open(nar).map_err(Error::io("cannot read", nar))?;
    let decoder = nix_nar::Decoder::new(std::io::BufReader::new(file))
        .map_err(|e| Error::io("cannot read", nar)(std::io::Error::other(e.to_string())))?;
    decoder
        .unpack(dir)
        .map_err(|e| Error::io("cannot unpack into", dir)(std::io::Error::other(e.to_string())))
}

/// The NAR hash (SRI) of a tree, as Nix computes it.
pub fn nar_hash(path: &Path) -> Result<String> {
    use sha2::Digest;
    let mut reader = crate::nixcache::nar_reader(path).map_err(Error::io("cannot read", path))?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut reader, &mut hasher).map_err(Error::io("cannot read", path))?;
    Ok(crate::nixcache::Sha256Hash(hasher.finalize().into()).to_sri())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree(root: &Path, files: &[(&str, &[u8])]) {
        for (p, bytes) in files {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
    }

    #[test]
    fn names_the_first_file_in_nar_order_and_what_differs() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        tree(
            &a,
            &[
                ("bin/hello", b"same"),
                ("share/stamp", b"2026-12-05"),
                ("z", b"1"),
            ],
        );
        tree(
            &b,
            &[
                ("bin/hello", b"same"),
                ("share/stamp", b"2026-12-06"),
                ("z", b"2"),
            ],
        );
        assert_eq!(
            first_difference(&a, &b).unwrap(),
            Some(Difference {
                path: "share/stamp".into(),
                what: "the bytes differ from offset 9".into()
            })
        );
        std::fs::write(b.join("share/stamp"), b"2026-12-05").unwrap();
        assert_eq!(first_difference(&a, &b).unwrap().unwrap().path, "z");
        std::fs::write(b.join("z"), b"1").unwrap();
        assert_eq!(first_difference(&a, &b).unwrap(), None);

        std::fs::set_permissions(b.join("z"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            first_difference(&a, &b).unwrap().unwrap().what,
            "executable in one build only"
        );
        std::fs::set_permissions(b.join("z"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(b.join("extra"), b"").unwrap();
        assert_eq!(
            first_difference(&a, &b).unwrap().unwrap(),
            Difference {
                path: "extra".into(),
                what: "in the second build only".into()
            }
        );
        std::fs::remove_file(b.join("extra")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", a.join("link")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", b.join("link")).unwrap();
        let d = first_difference(&a, &b).unwrap().unwrap();
        assert_eq!(d.path, "link");
        assert!(
            d.what.contains("/etc/shadow"),
            "links are read, not followed"
        );
    }

    #[test]
    fn single_files_and_lengths() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        std::fs::write(&a, b"abc").unwrap();
        std::fs::write(&b, b"abcd").unwrap();
        assert_eq!(
            first_difference(&a, &b).unwrap().unwrap(),
            Difference {
                path: String::new(),
                what: "3 bytes, then 4 bytes".into()
            }
        );
    }

    /// A NAR written token by token (each a length, the bytes, padding to 8).
    fn nar(tokens: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for t in tokens {
            out.extend_from_slice(&(t.len() as u64).to_le_bytes());
            out.extend_from_slice(t);
            out.resize(out.len().div_ceil(8) * 8, 0);
        }
        out
    }

    #[test]
    fn a_builders_nar_whose_entry_leaves_the_directory_is_refused() {
        let t = tempfile::tempdir().unwrap();
        for name in [&b".."[..], b"../escaped", b"a/b", b"."] {
            let bytes = nar(&[
                b"nix-archive-1",
                b"(",
                b"type",
                b"directory",
                b"entry",
                b"(",
                b"name",
                name,
                b"node",
                b"(",
                b"type",
                b"regular",
                b"contents",
                b"owned",
                b")",
                b")",
                b")",
            ]);
            let file = t.path().join("hostile.nar");
            std::fs::write(&file, bytes).unwrap();
            let into = t.path().join("out").join("tree");
            std::fs::create_dir_all(into.parent().unwrap()).unwrap();
            assert!(
                unpack_nar(&file, &into).is_err(),
                "{}",
                String::from_utf8_lossy(name)
            );
            assert!(!t.path().join("out/escaped").exists());
            assert!(!t.path().join("escaped").exists());
            let _ = std::fs::remove_dir_all(t.path().join("out"));
        }
        // The same NAR with a plain name unpacks: the refusal is the name's.
        let bytes = nar(&[
            b"nix-archive-1",
            b"(",
            b"type",
            b"directory",
            b"entry",
            b"(",
            b"name",
            b"plain",
            b"node",
            b"(",
            b"type",
            b"regular",
            b"contents",
            b"owned",
            b")",
            b")",
            b")",
        ]);
        let file = t.path().join("plain.nar");
        std::fs::write(&file, bytes).unwrap();
        unpack_nar(&file, &t.path().join("plain")).unwrap();
        assert_eq!(
            std::fs::read(t.path().join("plain/plain")).unwrap(),
            b"owned"
        );
    }

    #[test]
    fn a_nar_unpacks_to_a_tree_with_the_same_nar_hash() {
        let t = tempfile::tempdir().unwrap();
        let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/nix-cache");
        let out = t.path().join("tree");
        unpack_nar(&vectors.join("tree.nar"), &out).unwrap();
        assert_eq!(first_difference(&vectors.join("tree"), &out).unwrap(), None);
        // Nix 2.8 wrote tree.nar; its sha256 is the vector's.
        assert_eq!(
            nar_hash(&out).unwrap(),
            crate::nixcache::parse_nar_hash(
                "sha256:0e1ce6f5740b45bea90404d5cc2728da21f2c418bac4dd8425f652c9c99264e4"
            )
            .unwrap()
            .to_sri()
        );
        assert!(
            unpack_nar(&vectors.join("tree.nar"), &out).is_err(),
            "never over a tree"
        );
    }
}
