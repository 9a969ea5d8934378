//! `install.sh`: the shell installer published with each release (and, for
//! the newest stable one, at the name level). It reads the release's
//! `SHA256SUMS` and refuses a download that does not match. Pure: the
//! template is `install.sh` beside this file, filled in here.

use crate::platform::Platform;

/// The installer's file name.
pub const INSTALLER: &str = "install.sh";

const TEMPLATE: &str = include_str!("install.sh");

/// What the installer of one release is filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installer<'a> {
    /// The name.
    pub name: &'a str,
    /// The tag.
    pub tag: &'a str,
    /// The binary's file name (what is installed).
    pub bin: &'a str,
    /// The public URL of the destination (the config's `public-url`), if known.
    pub base_url: Option<&'a str>,
    /// The release's prefix in the bucket (`df-dist-v1/hello/v1.0.0`).
    pub release_path: &'a str,
    /// Each target and its file's path inside the release.
    pub files: &'a [(Platform, String)],
    /// The release's public keys, when it is signed: the minisign one
    /// (base64, as `minisign -P` takes it) and the OpenPGP one (armored).
    pub keys: (Option<&'a str>, Option<&'a str>),
}

/// Quotes nothing: every value is checked to need no quoting in `'…'`.
fn plain(s: &str) -> bool {
    !s.contains('\'') && !s.contains('\n')
}

/// The script, or `Err` when a value cannot be put in it safely.
pub fn script(i: &Installer<'_>) -> Result<String, String> {
    let files: Vec<String> = i
        .files
        .iter()
        .map(|(p, path)| format!("{p}={path}"))
        .collect();
    let base = i.base_url.unwrap_or("").trim_end_matches('/');
    let values = [i.name, i.tag, i.bin, base, i.release_path];
    if let Some(bad) = values
        .iter()
        .chain(files.iter().map(String::as_str).collect::<Vec<_>>().iter())
        .find(|v| !plain(v) || v.contains(' '))
    {
        return Err(format!(
            "`{bad}` cannot go into install.sh (a quote, a space or a line break)"
        ));
    }
    let (minisign, openpgp) = (i.keys.0.unwrap_or(""), i.keys.1.unwrap_or(""));
    if !plain(minisign) || minisign.contains(' ') || openpgp.contains('\'') {
        return Err(
            "a public key cannot go into install.sh (a quote, a space or a line break)".into(),
        );
    }
    let self_url = if base.is_empty() {
        format!("<URL>/{}/{INSTALLER}", i.release_path)
    } else {
        format!("{base}/{}/{INSTALLER}", i.release_path)
    };
    Ok(TEMPLATE
        .replace("@NAME@", i.name)
        .replace("@TAG@", i.tag)
        .replace("@BIN@", i.bin)
        .replace("@BASE_URL@", base)
        .replace("@RELEASE_PATH@", i.release_path)
        .replace("@FILES@", &files.join(" "))
        .replace("@MINISIGN_KEY@", minisign)
        .replace("@OPENPGP_KEY@", openpgp.trim_end())
        .replace("@SELF@", &self_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_every_placeholder_and_refuses_what_would_break_the_quotes() {
        let amd64: Platform = "linux/amd64".parse().unwrap();
        let arm: Platform = "linux/arm/v6".parse().unwrap();
        let files = [
            (amd64, "linux/amd64/hello".to_string()),
            (arm, "linux/arm/v6/hello".to_string()),
        ];
        let i = Installer {
            name: "hello",
            tag: "v1.0.0",
            bin: "hello",
            base_url: Some("https://dl.example.org/"),
            release_path: "df-dist-v1/hello/v1.0.0",
            files: &files,
            keys: (None, None),
        };
        let s = script(&i).unwrap();
        assert!(!s.contains('@'), "a placeholder is left");
        assert!(s.contains("files='linux/amd64=linux/amd64/hello linux/arm/v6=linux/arm/v6/hello'"));
        assert!(s.contains("base_url='https://dl.example.org'"));
        assert!(
            s.contains("curl -fsSL https://dl.example.org/df-dist-v1/hello/v1.0.0/install.sh | sh")
        );
        assert!(script(&Installer {
            tag: "v1'; rm -rf /",
            ..i.clone()
        })
        .is_err());
    }
}
