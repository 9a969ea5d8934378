//! `install.sh`, run by dash (Debian's /bin/sh) against Garage's web
//! endpoint, as `curl … | sh` users run it.

use std::process::{Command, Stdio};

use crate::garage::Garage;
use crate::util::{stock_bytes, Fixture};

/// Runs the installer at `url` under dash with `args`; (success, stderr).
fn run_installer(url: &str, args: &[&str]) -> (bool, String) {
    let script = stock_bytes("curl", &["-sf", url]);
    let mut child = Command::new("dash")
        .args(["-s", "--"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&script).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn install_sh_installs_the_checked_binary_for_this_machine_or_the_one_asked_for() {
    let g = Garage::from_env();
    let bucket = g.bucket("installer");
    let web = g.web_url(&bucket);
    let f = Fixture::example("hello");
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]",
            &format!("[package.metadata.release-dist]\npublic-url = \"{web}\""),
        )
    });
    f.commit("public-url");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let (sk, _) = f.release_keys();
    let url = g.url(&bucket, "");
    f.run(&[
        "-q",
        "publish",
        "--static",
        &url,
        "--signing-key",
        &sk,
        "--no-images",
        "--tag",
        "v1.0.0",
    ])
    .ok();
    let base = format!("{web}/df-dist-v1/hello/v1.0.0");
    let published = |path: &str| stock_bytes("curl", &["-sf", &format!("{base}/{path}")]);

    // The newest stable release's installer, at the name level, for this machine.
    let dirs = tempfile::tempdir().unwrap();
    let here = dirs.path().join("here");
    let (ok, err) = run_installer(
        &format!("{web}/df-dist-v1/hello/install.sh"),
        &["--dir", here.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(here.join("hello")).unwrap(),
        published("linux/amd64/hello")
    );
    let said = Command::new(here.join("hello"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&said.stdout).trim_end(),
        "hello 0.1.0 (x86_64-unknown-linux-gnu)"
    );

    // Another architecture, by option; the release's own installer.
    let other = dirs.path().join("arm64");
    let (ok, err) = run_installer(
        &format!("{base}/install.sh"),
        &["--arch", "arm64", "--dir", other.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(other.join("hello")).unwrap(),
        published("linux/arm64/hello")
    );
    let (ok, err) = run_installer(
        &format!("{base}/install.sh"),
        &["--arch", "armv7", "--dir", other.to_str().unwrap()],
    );
    assert!(!ok && err.contains("has no build for linux/armv7"), "{err}");

    // The installer is listed in SHA256SUMS like every file.
    let sums = String::from_utf8(published("SHA256SUMS")).unwrap();
    assert!(sums.lines().any(|l| l.ends_with("  install.sh")), "{sums}");

    // A tampered binary is refused, and nothing is installed.
    let evil = dirs.path().join("evil");
    std::fs::write(&evil, b"#!/bin/sh\necho pwned\n").unwrap();
    g.put(
        &bucket,
        "df-dist-v1/hello/v1.0.0/linux/amd64/hello",
        release_dist::objstore::Body::File(evil),
    );
    let refused = dirs.path().join("refused");
    let (ok, err) = run_installer(
        &format!("{base}/install.sh"),
        &["--dir", refused.to_str().unwrap()],
    );
    assert!(!ok && err.contains("does not match SHA256SUMS"), "{err}");
    assert!(!refused.join("hello").exists());
}
