//! cargo-binstall installs the example from Garage's web endpoint with the
//! metadata `init --binstall` wrote, `--only-signed` (minisign), loopback
//! only; the installed binary runs. A tampered archive, or a signature by
//! another key, is refused and nothing is installed.

use std::path::Path;
use std::process::{Command, Output};

use crate::garage::Garage;
use crate::util::{hosts_entry, publish, Fixture};

/// Garage's web endpoint behind TLS (cargo-binstall downloads over https
/// only): socat terminates TLS with a certificate made for `host` and
/// forwards to `web`. The child, and the certificate's file.
fn tls_front(host: &str, web: &str, dir: &Path) -> (std::process::Child, u16, std::path::PathBuf) {
    let (ca, cert, key) = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    let ext = dir.join("leaf.ext");
    std::fs::write(
        &ext,
        format!("subjectAltName=DNS:{host}\nbasicConstraints=CA:FALSE\n"),
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let openssl = |args: Vec<String>| {
        let made = Command::new("openssl").args(&args).output().unwrap();
        assert!(made.status.success(), "openssl {args:?}: {}", said(&made));
    };
    let p = |p: &std::path::PathBuf| p.display().to_string();
    let mut ca_args: Vec<String> = vec!["req".into(), "-x509".into()];
    ca_args.extend(ec.map(String::from));
    ca_args.extend(["-days", "1", "-subj", "/CN=release-dist test CA"].map(String::from));
    ca_args.extend([
        "-keyout".into(),
        p(&dir.join("ca.key")),
        "-out".into(),
        p(&ca),
    ]);
    openssl(ca_args);
    let mut csr: Vec<String> = vec!["req".into()];
    csr.extend(ec.map(String::from));
    csr.extend([
        "-subj".into(),
        format!("/CN={host}"),
        "-keyout".into(),
        p(&key),
        "-out".into(),
        p(&dir.join("leaf.csr")),
    ]);
    openssl(csr);
    openssl(
        ["x509", "-req", "-days", "1", "-CAcreateserial"]
            .map(String::from)
            .into_iter()
            .chain([
                "-in".into(),
                p(&dir.join("leaf.csr")),
                "-CA".into(),
                p(&ca),
                "-CAkey".into(),
                p(&dir.join("ca.key")),
                "-extfile".into(),
                p(&ext),
                "-out".into(),
                p(&cert),
            ])
            .collect(),
    );
    let port = crate::util::free_port();
    let listen = format!(
        "OPENSSL-LISTEN:{port},reuseaddr,fork,verify=0,cert={},key={}",
        cert.display(),
        key.display()
    );
    let child = Command::new("socat")
        .args([listen, format!("TCP:{web}")])
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    (child, port, ca)
}

fn binstall(manifest: &Path, root: &Path, cert: &Path) -> Output {
    Command::new("cargo")
        .args(["binstall", "--manifest-path"])
        .arg(manifest)
        .arg("--root-certificates")
        .arg(cert)
        .args([
            "--only-signed",
            "--no-confirm",
            "--no-track",
            "--disable-telemetry",
        ])
        .args([
            "--no-discover-github-token",
            "--disable-strategies",
            "quick-install,compile",
        ])
        .arg("--root")
        .arg(root)
        .arg("hello")
        .env_remove("AWS_CA_BUNDLE")
        .env_remove("SSL_CERT_FILE")
        .output()
        .unwrap()
}

fn said(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn cargo_binstall_installs_a_signed_archive_and_refuses_a_tampered_one() {
    let g = Garage::from_env();
    let bucket = g.bucket("binstall");
    let plain = g.web_url(&bucket);
    let host = plain
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    hosts_entry(&host);
    let f = Fixture::example("hello");
    std::fs::create_dir_all(f.dir.join("out")).unwrap();
    let garage_web = format!("127.0.0.1:{}", plain.rsplit(':').next().unwrap());
    let (mut socat, port, cert) = tls_front(&host, &garage_web, &f.dir.join("out"));
    let web = format!("https://{host}:{port}");
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]\n",
            &format!("[package.metadata.release-dist]\npublic-url = \"{web}\"\narchives = true\nsignatures = [\"minisign\"]\n"),
        )
    });
    let (sk, _) = f.release_keys();
    let keys = f.dir.join("keys");
    let (ms_secret, ms_public) = (keys.join("minisign.key"), keys.join("minisign.pub"));
    let made = Command::new("minisign")
        .args(["-G", "-W", "-f", "-p", ms_public.to_str().unwrap()])
        .args(["-s", ms_secret.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", said(&made));
    f.run(&[
        "init",
        "--binstall",
        "--minisign-pub",
        ms_public.to_str().unwrap(),
    ])
    .ok();
    let toml = std::fs::read_to_string(f.dir.join("Cargo.toml")).unwrap();
    assert!(
        toml.contains("[package.metadata.binstall.signing]"),
        "{toml}"
    );
    f.commit("binstall");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let url = g.url(&bucket, "");
    let minisign_key = ["--no-images", "--minisign-key", ms_secret.to_str().unwrap()];
    let published = publish(&f, &url, &sk, "v0.1.0", &minisign_key).ok();
    let warned = "warning: [package.metadata.binstall]";
    assert!(
        !published.stderr().contains(warned),
        "{}",
        published.stderr()
    );

    // Installed from the archive, its signature checked; the binary runs.
    let root = f.dir.join("out/binstall");
    let manifest = f.dir.join("Cargo.toml");
    let done = binstall(&manifest, &root, &cert);
    assert!(done.status.success(), "{}", said(&done));
    let installed = root.join("bin/hello");
    let ran = Command::new(&installed).arg("--version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "hello 0.1.0 (x86_64-unknown-linux-gnu)"
    );

    // Another archive of the same shape (a script named hello), its
    // signature kept: refused, nothing installed.
    let top = "hello-v0.1.0-x86_64-unknown-linux-gnu";
    let staged = f.dir.join("out/evil").join(top);
    std::fs::create_dir_all(&staged).unwrap();
    std::fs::write(staged.join("hello"), "#!/bin/sh\necho pwned\n").unwrap();
    let evil = f.dir.join("out/evil.tar.gz");
    let packed = Command::new("tar")
        .arg("-czf")
        .arg(&evil)
        .arg("-C")
        .arg(f.dir.join("out/evil"))
        .arg(top)
        .status()
        .unwrap();
    assert!(packed.success());
    let key = format!("df-dist-v1/hello/v0.1.0/{top}.tar.gz");
    g.put(&bucket, &key, release_dist::objstore::Body::File(evil));
    let again = f.dir.join("out/binstall-evil");
    let refused = binstall(&manifest, &again, &cert);
    assert!(!refused.status.success(), "{}", said(&refused));
    assert!(!again.join("bin/hello").exists(), "nothing was installed");
    assert!(
        said(&refused).to_lowercase().contains("signature"),
        "{}",
        said(&refused)
    );
    let _ = socat.kill();
    let _ = socat.wait();

    // Metadata that points elsewhere is said to, before anything is written.
    f.edit("Cargo.toml", |t| {
        t.replace(
            "/df-dist-v1/hello/v{ version }/hello-v",
            "/elsewhere/hello-v",
        )
    });
    f.commit("binstall elsewhere");
    let dry = publish(&f, &url, &sk, "v0.1.1", &["--dry-run", "--no-images"]).ok();
    assert!(
        dry.stderr()
            .contains("warning: [package.metadata.binstall] pkg-url is"),
        "{}",
        dry.stderr()
    );
}
