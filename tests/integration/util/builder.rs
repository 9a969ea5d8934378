//! A Nix remote builder on loopback: Debian's openssh-server with a test
//! key on a test port, serving a Nix store of its own (a chroot store under
//! the test directory), for `build -- --builders …` and `rebuild`.

use std::path::PathBuf;
use std::process::Command;

use super::free_port;

/// An sshd that runs for the test, and the builder line nix takes.
pub struct Builder {
    dir: tempfile::TempDir,
    port: u16,
}

impl Builder {
    pub fn start() -> Builder {
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
        // builders need; its nix.conf has no substituter (no internet here).
        std::fs::create_dir_all(d.join("conf")).unwrap();
        std::fs::write(
            d.join("conf/nix.conf"),
            "sandbox = false\nsubstituters =\nextra-sandbox-paths = /bin /usr /lib /lib64\n",
        )
        .unwrap();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile {d}/sshd.pid\nSetEnv PATH=/usr/bin:/bin:/usr/sbin:/sbin NIX_CONF_DIR={d}/conf\n",
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

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The `--builders` value: every target's builds run on `x86_64-linux`
    /// (the example cross-builds), so the one machine serves them all.
    pub fn spec(&self) -> String {
        format!(
            "ssh://root@127.0.0.1?remote-store=local%3Froot%3D{} x86_64-linux {} 4 1",
            self.store().display(),
            self.dir.path().join("client_key").display()
        )
    }

    pub fn stop(&self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.path().join("sshd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }

    pub fn sshopts(&self) -> String {
        format!("-p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5", self.port)
    }
}

impl Drop for Builder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A string no earlier run has used (process id and time), for a fresh
/// source whose outputs are in no store yet.
pub fn nonce() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}
