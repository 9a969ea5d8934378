//! Shared test helpers: fixtures copied from examples/, and running the tool.

pub mod builder;
mod cache;
mod oci;
mod release;
mod web;

pub use cache::*;
pub use oci::*;
pub use release::*;
pub use web::*;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of an example project in a temporary directory.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    /// The project directory.
    pub dir: PathBuf,
}

impl Fixture {
    /// Copies `examples/<name>` (without its target/) into a fresh git
    /// repository with one commit.
    pub fn example(name: &str) -> Fixture {
        let f = Fixture::example_without_git(name);
        f.git(&["init", "-q", "-b", "main"]);
        f.commit("init");
        f
    }

    /// Copies `examples/<name>` without making it a git repository.
    pub fn example_without_git(name: &str) -> Fixture {
        Fixture::copy_of(&repo_root().join("examples").join(name), name)
    }

    /// The stand-in project (tests/fixtures/hello-standin), as a git
    /// repository: the example's shape with Garage's four targets, arm/v6
    /// included, whose binaries are a few instructions of assembly per
    /// target. For the tests that swap a target's binary for a broken one,
    /// and for linux/arm/v6, which Debian has no Rust standard library for.
    pub fn standin() -> Fixture {
        let f = Fixture::copy_of(&repo_root().join("tests/fixtures/hello-standin"), "hello");
        f.git(&["init", "-q", "-b", "main"]);
        f.commit("init");
        f
    }

    fn copy_of(from: &Path, name: &str) -> Fixture {
        let tmp = tempfile::Builder::new()
            .prefix("release-dist-test-")
            .tempdir()
            .unwrap();
        let dir = tmp.path().join(name);
        copy_dir(from, &dir);
        Fixture { _tmp: tmp, dir }
    }

    /// Runs git in the fixture, asserting success.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Stages everything and commits.
    pub fn commit(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
    }

    /// Rewrites a file of the fixture.
    pub fn edit(&self, file: &str, f: impl FnOnce(String) -> String) {
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let edited = f(text.clone());
        // An edit that finds nothing to replace would leave the test
        // checking the unedited project.
        assert_ne!(edited, text, "the edit of {file} changed nothing");
        std::fs::write(&path, edited).unwrap();
    }

    /// A Nix key pair under `keys/` (secret key path, public key text),
    /// with the tests' own directories (`keys/`, `out/`, `out-static/`,
    /// `home/`) and flake.lock kept out of git status, so that stable
    /// releases see a clean tree.
    pub fn release_keys(&self) -> (String, String) {
        let keys = self.dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let pair = key_pair(&keys);
        std::fs::write(
            self.dir.join(".git/info/exclude"),
            "keys/\nflake.lock\nout/\nout-static/\nhome/\n",
        )
        .unwrap();
        pair
    }

    /// `target/release-dist` of the fixture.
    pub fn dist(&self) -> PathBuf {
        self.dir.join("target/release-dist")
    }

    /// Runs `cargo release-dist <args>` in the fixture.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, |_| {})
    }

    /// Same, letting the caller change the command's environment first.
    pub fn run_with(&self, args: &[&str], f: impl FnOnce(&mut Command)) -> Run {
        let mut cmd = self.command(args);
        f(&mut cmd);
        Run(cmd.output().unwrap())
    }

    /// `cargo release-dist <args>` in the fixture, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = tool();
        cmd.arg("release-dist").args(args).current_dir(&self.dir);
        cmd
    }
}

/// Runs `cmd` to its end and says how long it took; fails the test if it
/// takes longer than `limit` (the process is killed then).
pub fn run_bounded(mut cmd: Command, limit: std::time::Duration) -> (Run, std::time::Duration) {
    use std::process::Stdio;
    let start = std::time::Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(limit) {
        Ok(out) => (Run(out.unwrap()), start.elapsed()),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid]).status();
            panic!("the tool did not end within {limit:?}: it hangs");
        }
    }
}

/// The tool, with a nix configuration that never waits on a binary cache.
pub fn tool() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-release-dist"));
    cmd.env(
        "NIX_CONFIG",
        "substituters =\nexperimental-features = nix-command flakes",
    )
    .env_remove("RELEASE_DIST_LOG");
    cmd
}

/// A finished run of the tool.
pub struct Run(pub Output);

impl Run {
    /// Standard output.
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    /// Standard error.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// The exit code.
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }
    /// Asserts success and returns self.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            Some(0),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Asserts the exit code and that stderr names each of `needles`.
    pub fn fails_with(self, code: i32, needles: &[&str]) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        let err = self.stderr();
        for n in needles {
            assert!(err.contains(n), "stderr lacks {n:?}:\n{err}");
        }
        self
    }
}

/// The fixture's build.json.
pub fn build_json(f: &Fixture) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(f.dist().join("build.json")).unwrap()).unwrap()
}

/// The store paths of every artifact in the fixture's build.json.
pub fn artifact_store_paths(f: &Fixture) -> Vec<String> {
    build_json(f)["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["storePath"].as_str().unwrap().to_string())
        .collect()
}

/// What stock `nix path-info --json` says of one path (its first entry).
pub fn nix_path_info(path: &str) -> serde_json::Value {
    let out = stock(
        "nix",
        &[
            "--extra-experimental-features",
            "nix-command",
            "path-info",
            "--json",
            path,
        ],
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap()[0].clone()
}

/// Runs a stock tool and returns its stdout, asserting success.
pub fn stock(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a stock tool and returns its stdout as bytes, asserting success.
pub fn stock_bytes(program: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" || name == "flake.lock" {
            continue;
        }
        let src = entry.path();
        if src.is_dir() {
            copy_dir(&src, &to.join(&name));
        } else {
            std::fs::copy(&src, to.join(&name)).unwrap();
        }
    }
}

/// A fixture built for `targets` (all of the example's when empty), and its
/// release key pair (secret, public).
pub fn built(targets: &[&str]) -> (Fixture, String, String) {
    let f = Fixture::example("hello");
    let mut args = vec!["build", "-q"];
    for t in targets {
        args.extend(["-t", t]);
    }
    f.run(&args).ok();
    let (sk, pk) = f.release_keys();
    (f, sk, pk)
}

/// `sha256sum -c FILE` in `dir`, asserting that every line checks out;
/// its output.
pub fn sha256sum_c(dir: &Path, file: &str) -> String {
    let check = Command::new("sha256sum")
        .args(["-c", file])
        .current_dir(dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success(),
        "sha256sum -c {file} in {}:\n{out}",
        dir.display()
    );
    out
}

/// A fresh key pair made by nix itself.
pub fn key_pair(dir: &Path) -> (String, String) {
    let sk = dir.join("cache.sec");
    let pk = dir.join("cache.pub");
    stock(
        "nix-store",
        &[
            "--generate-binary-cache-key",
            "release-dist-test-1",
            sk.to_str().unwrap(),
            pk.to_str().unwrap(),
        ],
    );
    (
        sk.display().to_string(),
        std::fs::read_to_string(pk).unwrap(),
    )
}

/// `sha256:<hex>` of `bytes`, as OCI digests are written.
pub fn sha256_prefixed(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A docker-registry on a free loopback port, killed on drop.
pub struct Registry {
    child: Child,
    /// Its config and data.
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Registry {
    /// Starts one; with `auth`, htpasswd with user `ci` and `password`.
    pub fn start(auth: Option<&str>) -> Registry {
        Registry::start_with(auth, false)
    }

    /// Starts one that deletes (`storage.delete.enabled`) when `delete`.
    pub fn start_with(auth: Option<&str>, delete: bool) -> Registry {
        Registry::start_configured(delete, |dir| match auth {
            Some(pw) => {
                let line = stock("htpasswd", &["-Bbn", "ci", pw]);
                std::fs::write(dir.join("htpasswd"), line.trim()).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    dir.join("htpasswd").display()
                )
            }
            None => String::new(),
        })
    }

    /// Starts one with the config lines `extra` writes (given its directory).
    pub fn start_configured(delete: bool, extra: impl FnOnce(&Path) -> String) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: {delete}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        config.push_str(&extra(dir.path()));
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Registry::spawn(dir.path(), &addr);
        Registry { child, dir, addr }
    }

    fn spawn(dir: &Path, addr: &str) -> Child {
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry: install it with scripts/setup-debian.sh --tests");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not start on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        child
    }

    /// Starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.kill();
        self.child = Registry::spawn(self.dir.path(), &self.addr);
    }

    /// Stops it (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits for the child, failing the test if it hangs.
pub fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("the tool did not give up within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (destination, key) of every `written` event on stderr, in order.
pub fn written_events(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter(|l| l.starts_with(r#"{"event":"written""#))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["destination"].as_str().unwrap().to_string(),
                v["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An ed25519 OpenPGP key made by gpg: (armored secret key file, armored public key file).
pub fn gpg_key(dir: &Path, uid: &str) -> (PathBuf, PathBuf) {
    let home = dir.join(format!("gnupg-{}", uid.len()));
    std::fs::create_dir_all(&home).unwrap();
    let gpg = |args: &[&str]| -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &home)
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    gpg(&["--quick-gen-key", uid, "ed25519", "sign", "never"]);
    let secret = dir.join(format!("{}.sec.asc", uid.len()));
    let public = dir.join(format!("{}.pub.asc", uid.len()));
    std::fs::write(&secret, gpg(&["--armor", "--export-secret-keys"]).stdout).unwrap();
    std::fs::write(&public, gpg(&["--armor", "--export"]).stdout).unwrap();
    let _ = Command::new("gpgconf")
        .env("GNUPGHOME", &home)
        .args(["--kill", "all"])
        .status();
    (secret, public)
}
