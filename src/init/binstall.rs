//! `[package.metadata.binstall]` for a release published by this tool:
//! where cargo-binstall finds each target's archive
//! (`<name>-v<version>-<rust triple>.tar.gz`, `.zip` for Windows, at the
//! release's top), the binary inside it, and the minisign key that signs
//! them (`<archive>.minisig`). Pure: text out; cargo-binstall's template
//! keys are those of its SUPPORT.md and SIGNING.md.

use crate::kinds::Layout;
use crate::platform::{BinaryFormat, Platform};

/// The archive's URL template at `public_url` in `layout`, with `ext`.
pub fn pkg_url(name: &str, (public_url, layout): (&str, Layout), ext: &str) -> String {
    let prefix = layout.release_prefix(name, "v{ version }");
    let base = public_url.trim_end_matches('/');
    format!("{base}/{prefix}{name}-v{{ version }}-{{ target }}{ext}")
}

/// The table, as TOML text (appended to Cargo.toml by `init --binstall`).
pub fn metadata(name: &str, at: (&str, Layout), minisign_pub: Option<&str>) -> String {
    let mut out = format!(
        "\n# cargo-binstall: each target's archive, as `publish` makes it with `archives = true`.\n[package.metadata.binstall]\npkg-url = \"{}\"\npkg-fmt = \"tgz\"\nbin-dir = \"{name}-v{{ version }}-{{ target }}/{{ bin }}{{ binary-ext }}\"\n",
        pkg_url(name, at, ".tar.gz")
    );
    let windows = Platform::all().filter(|p| p.format() == BinaryFormat::Pe);
    for p in windows {
        out.push_str(&format!(
            "\n[package.metadata.binstall.overrides.{}]\npkg-url = \"{}\"\npkg-fmt = \"zip\"\n",
            p.rust_triple(),
            pkg_url(name, at, ".zip")
        ));
    }
    if let Some(key) = minisign_pub {
        out.push_str(&format!(
            "\n[package.metadata.binstall.signing]\nalgorithm = \"minisign\"\npubkey = \"{key}\"\nfile = \"{{ url }}.minisig\"\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_binstall_at_the_archives_and_their_signatures() {
        let text = metadata(
            "hello",
            ("https://dl.example.org/", Layout::DfDist),
            Some("RWQkey"),
        );
        let toml: toml::Value = toml::from_str(&text).unwrap();
        let b = &toml["package"]["metadata"]["binstall"];
        assert_eq!(
            b["pkg-url"].as_str(),
            Some("https://dl.example.org/df-dist-v1/hello/v{ version }/hello-v{ version }-{ target }.tar.gz")
        );
        assert_eq!(
            b["bin-dir"].as_str(),
            Some("hello-v{ version }-{ target }/{ bin }{ binary-ext }")
        );
        let windows = &b["overrides"]["x86_64-pc-windows-gnu"];
        assert_eq!(windows["pkg-fmt"].as_str(), Some("zip"));
        assert!(windows["pkg-url"]
            .as_str()
            .unwrap()
            .ends_with("-{ target }.zip"));
        assert_eq!(b["signing"]["pubkey"].as_str(), Some("RWQkey"));
        assert_eq!(b["signing"]["file"].as_str(), Some("{ url }.minisig"));
        assert!(metadata("hello", ("https://x", Layout::DfDist), None)
            .find("signing")
            .is_none());
    }
}
