//! What the release page says besides the releases: how to install with
//! Nix (from the name-level manifest.json) and with apt or dnf (from the
//! name-level packages.json). Pure.

use serde_json::Value;

/// The name-level document that describes the package repositories.
pub const PACKAGES_NOTE: &str = "packages.json";

/// The name-level note of the keys that sign the releases.
pub const SIGNING_NOTE: &str = "signing.json";

/// Every note the page may carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// The binary cache of the latest stable release.
    pub nix: Option<NixNote>,
    /// The package repositories.
    pub packages: Option<PackagesNote>,
    /// The keys the releases' signatures check with.
    pub signing: Option<SigningNote>,
}

impl Notes {
    /// The page's sections for the notes there are.
    pub fn sections(&self) -> String {
        let mut out = String::new();
        if let Some(n) = &self.packages {
            out.push_str(&n.section());
        }
        if let Some(n) = &self.nix {
            out.push_str(&n.section());
        }
        if let Some(n) = &self.signing {
            out.push_str(&n.section());
        }
        out
    }
}

/// The keys a release is signed with, as `publish` wrote them beside the
/// name (the latest release's), and how to check with each.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningNote {
    /// The name.
    pub name: String,
    /// The minisign public key (base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minisign: Option<String>,
    /// The OpenPGP key's fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openpgp_fingerprint: Option<String>,
    /// The OpenPGP public key, armored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openpgp_key: Option<String>,
}

impl SigningNote {
    /// Reads the note; `None` when it is not one.
    pub fn from_json(bytes: &[u8]) -> Option<SigningNote> {
        serde_json::from_slice(bytes).ok()
    }

    fn section(&self) -> String {
        let mut out = String::from("<section>\n<h2>Verifying a release</h2>\n<p>In a release's directory, with <code>SHA256SUMS</code> and the file downloaded:</p>\n<pre>");
        if let Some(fp) = &self.openpgp_fingerprint {
            out.push_str(&format!(
                "# OpenPGP, key {fp} (below)\ngpg --import release-key.asc\ngpg --verify SHA256SUMS.asc SHA256SUMS\n",
                fp = esc(fp)
            ));
        }
        if let Some(pk) = &self.minisign {
            out.push_str(&format!(
                "# minisign, public key {pk}\nminisign -Vm SHA256SUMS -P {pk}\nminisign -Vm FILE -P {pk}\n# cargo-binstall checks the archives' .minisig itself\ncargo binstall --only-signed {n}\n",
                pk = esc(pk),
                n = esc(&self.name)
            ));
        }
        out.push_str("sha256sum -c --ignore-missing SHA256SUMS\n</pre>\n");
        if let Some(key) = &self.openpgp_key {
            out.push_str(&format!(
                "<details><summary>release-key.asc</summary><pre>{}</pre></details>\n",
                esc(key)
            ));
        }
        out.push_str("</section>\n");
        out
    }
}

/// What the page says about the binary cache, from the name-level manifest.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NixNote {
    /// The manifest's key (`df-dist-v1/hello/manifest.json`).
    pub manifest: String,
    /// The cache's URL, when the manifest names one.
    pub url: Option<String>,
    /// The cache's public key.
    pub public_key: String,
}

impl NixNote {
    /// Reads a manifest.json's `cache`; `None` when it has no public key.
    pub fn from_manifest(key: &str, bytes: &[u8]) -> Option<NixNote> {
        let doc: Value = serde_json::from_slice(bytes).ok()?;
        Some(NixNote {
            manifest: key.to_string(),
            url: doc["cache"]["url"].as_str().map(str::to_string),
            public_key: doc["cache"]["publicKey"].as_str()?.to_string(),
        })
    }

    fn section(&self) -> String {
        let nix_file = self.manifest.replace("manifest.json", "manifest.nix");
        let from = self.url.as_deref().unwrap_or("<the cache's URL>");
        format!(
            "<section>\n<h2>Nix</h2>\n<p>The latest stable release's store paths are in <a href=\"/{m}\">manifest.nix</a> (and <a href=\"/{j}\">manifest.json</a>). They are in the binary cache <code>{u}</code>, signed by the public key <code>{k}</code>:</p>\n<pre>nix copy --from '{u}' --option trusted-public-keys '{k}' &lt;store path&gt;</pre>\n</section>\n",
            m = esc(&nix_file),
            j = esc(&self.manifest),
            u = esc(from),
            k = esc(&self.public_key),
        )
    }
}

/// What the page says about the package repositories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagesNote {
    /// The package name.
    pub name: String,
    /// The public URL of the destination.
    pub url: String,
    /// The signing key's fingerprint.
    pub fingerprint: String,
    /// The APT `sources.list` line of the stable suite, if there are .debs.
    pub sources_line: Option<String>,
    /// The key file for `signed-by`, under the URL.
    pub keyring: String,
    /// The `.repo` file of the stable suite, under the URL, if there are .rpms.
    pub repo_file: Option<String>,
    /// The suite of releases that are not stable.
    pub other_suite: String,
}

impl PackagesNote {
    /// The packages.json document.
    pub fn to_json(&self) -> Vec<u8> {
        let doc = serde_json::json!({
            "name": self.name,
            "url": self.url,
            "fingerprint": self.fingerprint,
            "apt": self.sources_line.as_ref().map(|l| serde_json::json!({"sources": l, "keyring": self.keyring})),
            "rpm": self.repo_file.as_ref().map(|r| serde_json::json!({"repo": r})),
            "otherSuite": self.other_suite,
        });
        let mut bytes = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Reads a packages.json.
    pub fn from_json(bytes: &[u8]) -> Option<PackagesNote> {
        let doc: Value = serde_json::from_slice(bytes).ok()?;
        let text = |v: &Value| v.as_str().map(str::to_string);
        Some(PackagesNote {
            name: text(&doc["name"])?,
            url: text(&doc["url"])?,
            fingerprint: text(&doc["fingerprint"])?,
            sources_line: text(&doc["apt"]["sources"]),
            keyring: text(&doc["apt"]["keyring"]).unwrap_or_default(),
            repo_file: text(&doc["rpm"]["repo"]),
            other_suite: text(&doc["otherSuite"]).unwrap_or_default(),
        })
    }

    fn section(&self) -> String {
        let (n, u) = (&self.name, &self.url);
        let mut out = "<section>\n<h2>Packages</h2>\n".to_string();
        if let Some(line) = &self.sources_line {
            let keyring_path = format!("/usr/share/keyrings/{n}-archive-keyring.gpg");
            out.push_str(&format!(
                "<p>Debian, Ubuntu and Raspberry Pi OS (amd64, i386, arm64, armhf):</p>\n<pre>sudo curl -fsSLo {kp} {u}/{k}\necho '{l}' | sudo tee /etc/apt/sources.list.d/{n}.list\nsudo apt update &amp;&amp; sudo apt install {n}</pre>\n",
                kp = esc(&keyring_path),
                u = esc(u),
                k = esc(&self.keyring),
                l = esc(line),
                n = esc(n),
            ));
        }
        if let Some(repo) = &self.repo_file {
            out.push_str(&format!(
                "<p>Fedora, RHEL and their kin (x86_64, i686, aarch64, armv6hl):</p>\n<pre>sudo curl -fsSLo /etc/yum.repos.d/{n}.repo {u}/{r}\nsudo dnf install {n}</pre>\n",
                n = esc(n),
                u = esc(u),
                r = esc(repo),
            ));
        }
        out.push_str(&format!(
            "<p class=\"meta\">Signed by the OpenPGP key {f}. Releases that are not stable are in the suite <code>{s}</code> (and <code>{n}-{s}.repo</code>).</p>\n</section>\n",
            f = esc(&self.fingerprint),
            s = esc(&self.other_suite),
            n = esc(n),
        ));
        out
    }
}

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_the_cache_and_its_key_from_the_manifest() {
        let doc = br#"{"release":"hello v1","cache":{"url":"https://cache.example.org","publicKey":"cache-1:AAAA"},"paths":{}}"#;
        let note = NixNote::from_manifest("df-dist-v1/hello/manifest.json", doc).unwrap();
        let notes = Notes {
            nix: Some(note),
            packages: None,
            signing: None,
        };
        let html = notes.sections();
        assert!(
            html.contains("<code>https://cache.example.org</code>"),
            "{html}"
        );
        assert!(html.contains("<code>cache-1:AAAA</code>"));
        assert!(html.contains("href=\"/df-dist-v1/hello/manifest.nix\""));
        assert!(Notes::default().sections().is_empty());
        assert_eq!(NixNote::from_manifest("k", b"{}"), None);
    }

    #[test]
    fn the_signing_note_reads_back_and_gives_the_verify_lines() {
        let note = SigningNote {
            name: "hello".into(),
            minisign: Some("RWQkey".into()),
            openpgp_fingerprint: Some("5A46 7B04".into()),
            openpgp_key: Some("-----BEGIN PGP PUBLIC KEY BLOCK-----".into()),
        };
        let back = SigningNote::from_json(&serde_json::to_vec(&note).unwrap()).unwrap();
        assert_eq!(back, note);
        let html = Notes {
            signing: Some(back),
            ..Notes::default()
        }
        .sections();
        for line in [
            "gpg --verify SHA256SUMS.asc SHA256SUMS",
            "minisign -Vm SHA256SUMS -P RWQkey",
            "cargo binstall --only-signed hello",
            "sha256sum -c --ignore-missing SHA256SUMS",
        ] {
            assert!(html.contains(line), "{line} in {html}");
        }
    }

    #[test]
    fn the_packages_note_reads_back_and_gives_the_install_lines() {
        let note = PackagesNote {
            name: "hello".into(),
            url: "https://dl.example.org".into(),
            fingerprint: "40E5FB10".into(),
            sources_line: Some("deb [signed-by=/usr/share/keyrings/hello-archive-keyring.gpg] https://dl.example.org/apt stable main".into()),
            keyring: "apt/hello-archive-keyring.gpg".into(),
            repo_file: Some("rpm/hello.repo".into()),
            other_suite: "unstable".into(),
        };
        assert_eq!(PackagesNote::from_json(&note.to_json()), Some(note.clone()));
        let html = note.section();
        assert!(html.contains("sudo curl -fsSLo /usr/share/keyrings/hello-archive-keyring.gpg https://dl.example.org/apt/hello-archive-keyring.gpg"), "{html}");
        assert!(html.contains("https://dl.example.org/rpm/hello.repo"));
    }
}
