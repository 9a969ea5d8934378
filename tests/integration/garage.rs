//! The Garage node that scripts/test.sh starts: fresh buckets, object counts.

use std::path::PathBuf;
use std::process::Command;

use crate::util::repo_root;

/// The running test node, as described by scripts/garage.sh's exports.
pub struct Garage {
    config: PathBuf,
    /// `127.0.0.1:PORT` of the S3 API.
    pub s3: String,
    /// `127.0.0.1:PORT` of the website endpoint.
    pub web: String,
}

impl Garage {
    /// The node from the environment; the tests need it, so its absence fails them.
    pub fn from_env() -> Garage {
        let var = |k: &str| {
            std::env::var(k).unwrap_or_else(|_| {
                panic!("{k} is not set: run the tests through scripts/test.sh, which starts Garage")
            })
        };
        Garage {
            config: PathBuf::from(var("RELEASE_DIST_GARAGE_CONFIG")),
            s3: var("RELEASE_DIST_GARAGE_S3"),
            web: var("RELEASE_DIST_GARAGE_WEB"),
        }
    }

    /// Creates a bucket with a unique name (website on, test key allowed).
    pub fn bucket(&self, prefix: &str) -> String {
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
                % 1_000_000_000
        );
        let dir = self.config.parent().unwrap();
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/garage.sh"))
            .args(["bucket", dir.to_str().unwrap(), &name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        name
    }

    /// The store URL of `bucket`, with extra parameters.
    pub fn url(&self, bucket: &str, extra: &str) -> String {
        format!(
            "s3://{bucket}?endpoint={}&region=garage&scheme=http{extra}",
            self.s3
        )
    }

    /// The bucket's website, as nix and curl reach it (curl resolves `*.localhost` to loopback).
    pub fn web_url(&self, bucket: &str) -> String {
        let port = self.web.rsplit(':').next().unwrap();
        format!("http://{bucket}.web.garage.localhost:{port}")
    }

    /// Writes one object through the S3 API, as anyone with the bucket's
    /// keys could (to tamper with a release, say).
    pub fn put(&self, bucket: &str, key: &str, body: release_dist::objstore::Body) {
        let url = release_dist::objstore::StoreUrl::parse(&self.url(bucket, "")).unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = release_dist::objstore::ObjectStore::open(&url.location)
                .await
                .unwrap();
            store
                .put(key, body, "application/octet-stream")
                .await
                .unwrap();
        });
    }

    /// The keys under `prefix`, through the S3 API.
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let url = release_dist::objstore::StoreUrl::parse(&self.url(bucket, "")).unwrap();
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let store = release_dist::objstore::ObjectStore::open(&url.location)
                .await
                .unwrap();
            let listing = store.list(prefix).await.unwrap();
            listing.into_iter().map(|o| o.key).collect()
        })
    }

    /// How many objects `garage bucket info` counts in the bucket.
    pub fn object_count(&self, bucket: &str) -> u64 {
        let out = Command::new("garage")
            .args([
                "-c",
                self.config.to_str().unwrap(),
                "bucket",
                "info",
                bucket,
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| {
                l.strip_prefix("Objects:")
                    .map(|n| n.trim().parse().unwrap())
            })
            .unwrap_or_else(|| panic!("no object count in: {text}"))
    }
}

/// A Garage of a test's own, one node or a cluster of three, which the test
/// may kill and restart.
pub struct OwnGarage {
    pub garage: Garage,
    dir: tempfile::TempDir,
    base: u16,
    nodes: usize,
}

impl OwnGarage {
    /// Starts a single node with ports `base..base+3` (distinct per test).
    pub fn start(base: u16) -> OwnGarage {
        OwnGarage::launch(base, 1)
    }

    /// Starts three nodes with replication factor 3; node `i` (1-based) has
    /// ports `base+10*(i-1)..+3`. The S3 and web endpoints are node 1's.
    pub fn cluster(base: u16) -> OwnGarage {
        OwnGarage::launch(base, 3)
    }

    fn launch(base: u16, nodes: usize) -> OwnGarage {
        let dir = tempfile::tempdir().unwrap();
        let first = if nodes == 1 {
            dir.path().to_path_buf()
        } else {
            dir.path().join("n1")
        };
        let node = OwnGarage {
            garage: Garage {
                config: first.join("garage.toml"),
                s3: format!("127.0.0.1:{base}"),
                web: format!("127.0.0.1:{}", base + 2),
            },
            dir,
            base,
            nodes,
        };
        node.run_script();
        node
    }

    fn run_script(&self) {
        let mode = if self.nodes == 1 { "start" } else { "cluster" };
        let out = Command::new("bash")
            .arg(repo_root().join("scripts/garage.sh"))
            .args([mode, self.dir.path().to_str().unwrap()])
            .arg(self.base.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "garage {mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pid(&self, node: usize) -> String {
        let dir = if self.nodes == 1 {
            self.dir.path().to_path_buf()
        } else {
            self.dir.path().join(format!("n{node}"))
        };
        std::fs::read_to_string(dir.join("pid"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// SIGKILL of the (first) node: no chance to finish anything.
    pub fn kill(&self) {
        self.kill_node(1);
    }

    /// SIGKILL of node `node` (1-based).
    pub fn kill_node(&self, node: usize) {
        let pid = self.pid(node);
        Command::new("kill").args(["-9", &pid]).status().unwrap();
        // Wait until it is gone, so its ports are free for the restart.
        for _ in 0..100 {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Starts every stopped node again on its data.
    pub fn restart(&self) {
        self.run_script();
    }
}

impl Drop for OwnGarage {
    fn drop(&mut self) {
        for node in 1..=self.nodes {
            // A node the test stopped is gone already: no noise about it.
            let _ = Command::new("kill")
                .args(["-9", &self.pid(node)])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
