//! Shared helpers for images: skopeo, registries, publishing images.

#![allow(unused_imports)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::*;
use crate::garage::Garage;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A fixture built for all four targets, and a signing key.
pub fn built_all() -> (Fixture, String) {
    let f = Fixture::example("hello");
    f.run(&["build", "-q"]).ok();
    let (sk, _) = f.release_keys();
    (f, sk)
}

/// `publish` with JSON output.
pub fn publish_images(
    f: &Fixture,
    sk: &str,
    tag: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    let static_dir = f.dir.join("out-static");
    let mut all = vec![
        "--message-format",
        "json",
        "publish",
        "--static",
        static_dir.to_str().unwrap(),
        "--signing-key",
        sk,
        "--tag",
        tag,
    ];
    all.extend_from_slice(args);
    f.run_with(&all, |c| {
        c.env_remove("DOCKER_AUTH").env("HOME", f.dir.join("home"));
        for (k, v) in env {
            c.env(k, v);
        }
    })
}

/// `skopeo inspect --raw`, or `None` when skopeo fails.
pub fn skopeo_raw(reference: &str, creds: Option<&str>) -> Option<Vec<u8>> {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some(c) = creds {
        cmd.args(["--creds", c]);
    }
    let out = cmd.arg(reference).output().unwrap();
    out.status.success().then_some(out.stdout)
}

/// Pulls every platform with skopeo (which checks every digest) into an
/// OCI layout, and returns the number of image manifests it wrote.
pub fn skopeo_copy_all(reference: &str, creds: Option<&str>, into: &Path) -> usize {
    let mut args = vec!["copy", "--all", "--src-tls-verify=false"];
    if let Some(c) = creds {
        args.extend(["--src-creds", c]);
    }
    let dest = format!("oci:{}:pulled", into.display());
    args.extend([reference, dest.as_str()]);
    stock("skopeo", &args);
    let mut manifests = 0;
    for e in std::fs::read_dir(into.join("blobs/sha256")).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        if let Ok(v) = serde_json::from_slice::<Value>(&bytes) {
            if v["mediaType"] == "application/vnd.oci.image.manifest.v1+json" {
                manifests += 1;
            }
        }
    }
    manifests
}

pub fn docker_auth(host: &str, user_pass: &str) -> String {
    format!(
        "{{\"auths\":{{\"{host}\":{{\"auth\":\"{}\"}}}}}}",
        B64.encode(user_pass)
    )
}

/// Makes `name` resolve to loopback for Go programs (skopeo), which do not
/// resolve `*.localhost` themselves.
pub fn hosts_entry(name: &str) {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if hosts
        .lines()
        .any(|l| l.split_whitespace().skip(1).any(|h| h == name))
    {
        return;
    }
    use std::io::Write;
    let line = format!("127.0.0.1 {name}\n");
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open("/etc/hosts") {
        f.write_all(line.as_bytes()).unwrap();
        return;
    }
    // Not root: as scripts/setup-debian.sh does, through sudo.
    let mut tee = Command::new("sudo")
        .args(["-n", "tee", "-a", "/etc/hosts"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("cannot add to /etc/hosts: run the tests as root or with sudo");
    tee.stdin
        .take()
        .unwrap()
        .write_all(line.as_bytes())
        .unwrap();
    assert!(
        tee.wait().unwrap().success(),
        "sudo tee -a /etc/hosts failed"
    );
}
