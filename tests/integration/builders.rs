//! Remote builders: an sshd on loopback (Debian's openssh-server, a test key,
//! a test port) serving a Nix store of its own, used through nix's own
//! `--builders` and `--max-jobs 0`, passed through `build -- …`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{build_json, free_port, Fixture};

/// An sshd that runs for the test, and the builder line nix takes.
struct Builder {
    dir: tempfile::TempDir,
    port: u16,
}

impl Builder {
    fn start() -> Builder {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host_key", "client_key"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap();
            assert!(ok.success());
        }
        std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        std::fs::create_dir_all("/run/sshd").ok();
        let port = free_port();
        // The builder's own store (a chroot store under the test directory),
        // whose sandbox sees the host's /bin and /usr, as the example's
        // builders need.
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nSetEnv PATH=/usr/bin:/bin:/usr/sbin:/sbin \"NIX_CONFIG=extra-sandbox-paths = /bin /usr /lib /lib64\"\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let ok = Command::new("/usr/sbin/sshd")
            .args(["-f"])
            .arg(d.join("sshd_config"))
            .arg("-E")
            .arg(d.join("sshd.log"))
            .status()
            .unwrap();
        assert!(ok.success(), "sshd did not start");
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Builder { dir, port }
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The `--builders` value: every target's builds run on `x86_64-linux`
    /// (the example cross-builds), so the one machine serves them all.
    fn spec(&self) -> String {
        format!(
            "ssh://root@127.0.0.1?remote-store=local%3Froot%3D{} x86_64-linux {} 4 1",
            self.store().display(),
            self.dir.path().join("client_key").display()
        )
    }

    fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("sshd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }

    fn sshopts(&self) -> String {
        format!("-p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5", self.port)
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The example with a fresh source, so that nothing of it is in any store yet.
fn fresh_fixture(nonce: &str) -> Fixture {
    let f = Fixture::example("hello");
    f.edit("src/main.rs", |t| format!("{t}// fresh outputs: {nonce}\n"));
    f.commit("fresh outputs");
    f
}

fn nonce() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

fn in_store(root: &Path, store_path: &str) -> bool {
    root.join(store_path.trim_start_matches('/')).exists()
}

#[test]
fn every_target_builds_on_a_remote_builder_and_a_builder_that_is_down_is_named() {
    let b = Builder::start();
    let f = fresh_fixture(&nonce());
    let builders = b.spec();
    let run = f
        .run_with(
            &["build", "--", "--max-jobs", "0", "--builders", &builders],
            |c| {
                c.env("NIX_SSHOPTS", b.sshopts());
            },
        )
        .ok();
    let err = run.stderr();
    for target in ["linux/amd64", "linux/386", "linux/arm64", "linux/arm/v7"] {
        assert!(
            err.contains(&format!("building {target} static on ssh://root@127.0.0.1")),
            "{target} was not built remotely:\n{err}"
        );
    }
    let built = build_json(&f);
    assert_eq!(built["complete"], true);
    let artifacts = built["artifacts"].as_array().unwrap();
    assert_eq!(artifacts.len(), 8, "4 binaries and 4 images");
    for a in artifacts {
        let path = a["storePath"].as_str().unwrap();
        assert!(
            in_store(&b.store(), path),
            "{path} is not in the builder's store"
        );
        assert!(f.dist().join(a["path"].as_str().unwrap()).exists());
    }

    // A builder that is down: the build fails, naming the targets.
    b.stop();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let g = fresh_fixture(&nonce());
    g.run_with(
        &[
            "build",
            "-t",
            "linux/amd64",
            "-t",
            "linux/arm64",
            "--",
            "--max-jobs",
            "0",
            "--builders",
            &builders,
        ],
        |c| {
            c.env("NIX_SSHOPTS", b.sshopts());
        },
    )
    .fails_with(
        1,
        &[
            "linux/amd64 static",
            "linux/arm64 static",
            "did not build",
            "cannot build on 'ssh://root@127.0.0.1",
            "Connection refused",
        ],
    );
}
