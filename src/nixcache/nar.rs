//! NAR serialisation of a store path, as a stream.
//!
//! `nix-nar`'s encoder is used as it is: it walks the tree lazily, sorts
//! entries bytewise and marks files executable from the owner x bit, which
//! is what Nix does. Tests compare it with Nix 2.8's own bytes.

use std::io::Read;
use std::path::Path;

/// A reader yielding the NAR serialisation of `path`.
pub fn nar_reader(path: &Path) -> std::io::Result<impl Read> {
    nix_nar::Encoder::new(path).map_err(|e| std::io::Error::other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/nix-cache");

    #[test]
    fn the_tree_serialises_to_nix_2_8_bytes() {
        let tree = Path::new(VECTORS).join("tree");
        assert!(std::fs::symlink_metadata(tree.join("link"))
            .unwrap()
            .is_symlink());
        let mut nar = Vec::new();
        nar_reader(&tree).unwrap().read_to_end(&mut nar).unwrap();
        assert_eq!(
            nar,
            std::fs::read(Path::new(VECTORS).join("tree.nar")).unwrap()
        );
        assert_eq!(
            hex::encode(Sha256::digest(&nar)),
            "0e1ce6f5740b45bea90404d5cc2728da21f2c418bac4dd8425f652c9c99264e4"
        );
    }

    #[test]
    fn a_single_file_is_120_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("hello.txt");
        std::fs::write(&f, "hello\n").unwrap();
        let mut nar = Vec::new();
        nar_reader(&f).unwrap().read_to_end(&mut nar).unwrap();
        assert_eq!(nar.len(), 120);
        assert_eq!(
            hex::encode(Sha256::digest(&nar)),
            "1c37d01af40be2e80691de3cc3df44377a699afbb17c68f080964b2fd071fc13"
        );
    }
}
