//! Registries with token auth (the Bearer flow of Docker Hub, GHCR and
//! Forgejo): docker-registry with `auth: token` and a small token server
//! (tests/scripts/token_server.py) that signs JWTs with the key of the
//! registry's rootcertbundle.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::util::{built_all, docker_auth, publish_images, skopeo_copy_all, skopeo_raw};
use crate::util::{free_port, stock, Registry};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/scripts/token_server.py");
const PUSHER: &str = "pusher-pw-31415926";
const READER: &str = "reader-pw-27182818";

/// The token server, killed on drop.
struct TokenServer {
    child: Child,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A key and a self-signed certificate for the token issuer, in `dir`.
fn issuer_key(dir: &Path) {
    stock(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=release-dist-test-token-issuer",
            "-keyout",
            dir.join("issuer.key").to_str().unwrap(),
            "-out",
            dir.join("issuer.crt").to_str().unwrap(),
        ],
    );
}

/// A registry with token auth, and its token server: user `ci` may pull
/// and push, user `reader` only pull; tokens last `lifetime` seconds.
fn token_registry(lifetime: u32) -> (Registry, TokenServer) {
    let port = free_port();
    let realm = format!("http://127.0.0.1:{port}/token");
    let mut server = None;
    let registry = Registry::start_configured(false, |dir| {
        issuer_key(dir);
        let child = Command::new("/usr/bin/python3")
            .arg(SCRIPT)
            .args([
                &port.to_string(),
                dir.join("issuer.key").to_str().unwrap(),
                dir.join("issuer.crt").to_str().unwrap(),
                "release-dist-test-issuer",
                "release-dist-test",
                &format!("ci:{PUSHER}:pull,push"),
                &format!("reader:{READER}:pull"),
            ])
            .env("TOKEN_LIFETIME", lifetime.to_string())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("token.log")).unwrap())
            .spawn()
            .unwrap();
        server = Some(TokenServer { child });
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the token server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        format!(
            "auth:\n  token:\n    realm: {realm}\n    service: release-dist-test\n    issuer: release-dist-test-issuer\n    rootcertbundle: {}\n",
            dir.join("issuer.crt").display()
        )
    });
    (registry, server.unwrap())
}

fn no_secret_in(run: &crate::util::Run, secrets: &[&str]) {
    let b64 = base64::engine::general_purpose::STANDARD;
    for out in [run.stdout(), run.stderr()] {
        for s in secrets {
            assert!(!out.contains(s), "a secret was printed: {out}");
            for user in ["ci", "reader"] {
                assert!(!out.contains(&b64.encode(format!("{user}:{s}"))), "{out}");
            }
        }
    }
}

#[test]
fn a_token_auth_registry_takes_docker_auth_and_refuses_wrong_or_narrow_credentials() {
    let (reg, _server) = token_registry(300);
    let (f, sk) = built_all();
    let url = format!("docker://{}/hello", reg.addr);
    let reference = format!("docker://{}/hello:v4.0.0", reg.addr);
    let creds = format!("ci:{PUSHER}");
    let auth = |user_pass: &str| docker_auth(&reg.addr, user_pass);
    let publish_as = |user_pass: &str| {
        let auth = auth(user_pass);
        publish_images(
            &f,
            &sk,
            "v4.0.0",
            &["--images", &url],
            &[("DOCKER_AUTH", &auth)],
        )
    };
    let nothing_published = || {
        assert!(skopeo_raw(&reference, Some(&creds)).is_none(), "no tag");
        assert!(!f.dir.join("out-static/df-dist-v1/hello/v4.0.0").exists());
    };

    // Wrong password: the token server refuses; a clear error, no secret.
    let wrong = "wrong-pw-161803";
    let run = publish_as(&format!("ci:{wrong}"))
        .fails_with(4, &["$DOCKER_AUTH", "check the credentials"]);
    no_secret_in(&run, &[wrong, PUSHER]);
    nothing_published();

    // A token for a narrower scope (pull only): refused before anything is
    // pushed, naming what it grants.
    let run = publish_as(&format!("reader:{READER}")).fails_with(
        4,
        &[
            "grants pull on hello, not push",
            "nothing was pushed",
            "may not push to hello",
        ],
    );
    no_secret_in(&run, &[READER]);
    nothing_published();

    // The pusher's credentials: pushed, and skopeo pulls every platform.
    let run = publish_as(&creds).ok();
    no_secret_in(&run, &[PUSHER]);
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let raw = skopeo_raw(&reference, Some(&creds)).expect("skopeo pulls with a token");
    assert_eq!(
        Some(crate::util::sha256_prefixed(&raw)).as_deref(),
        summary["imageIndex"].as_str()
    );
    let pulled = tempfile::tempdir().unwrap();
    assert_eq!(skopeo_copy_all(&reference, Some(&creds), pulled.path()), 4);
    assert!(
        skopeo_raw(&reference, None).is_none(),
        "anonymous pulls are refused"
    );

    // Reading needs only pull: the reader verifies the image's attestation.
    let pk = std::fs::read_to_string(f.dir.join("keys/cache.pub")).unwrap();
    let key = f.dir.join("keys/release.pub");
    std::fs::write(&key, pk).unwrap();
    let run = f
        .run_with(
            &[
                "verify",
                "--image",
                &reference,
                "--key",
                key.to_str().unwrap(),
            ],
            |c| {
                c.env("DOCKER_AUTH", auth(&format!("reader:{READER}")));
            },
        )
        .ok();
    no_secret_in(&run, &[READER]);
}

#[test]
fn a_push_that_outlives_its_token_gets_a_new_one() {
    // Tokens of 2 s (docker-registry still takes them for its 60 s leeway,
    // but oci-client drops them from its cache at `exp` and sends none),
    // and 1.5 s before each blob upload: the second round of uploads, the
    // manifests and the tags come after the first token is gone.
    let (reg, _server) = token_registry(2);
    let (f, sk) = built_all();
    let url = format!("docker://{}/hello", reg.addr);
    let creds = format!("ci:{PUSHER}");
    let run = publish_images(
        &f,
        &sk,
        "v4.1.0",
        &["--images", &url],
        &[
            ("DOCKER_AUTH", &docker_auth(&reg.addr, &creds)),
            ("RELEASE_DIST_TEST_BLOB_DELAY_MS", "1500"),
        ],
    )
    .ok();
    no_secret_in(&run, &[PUSHER]);
    // The push asked for a push token more than once: the first one expired.
    let log = std::fs::read_to_string(reg.dir.path().join("token.log")).unwrap();
    let exchanges = log
        .lines()
        .filter(|l| l.contains("GET /token") && l.contains("push"))
        .count();
    assert!(exchanges >= 2, "{log}");
    let reference = format!("docker://{}/hello:v4.1.0", reg.addr);
    let pulled = tempfile::tempdir().unwrap();
    assert_eq!(skopeo_copy_all(&reference, Some(&creds), pulled.path()), 4);
}
