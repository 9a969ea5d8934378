//! The tool's upload path alone: every file of a prepared directory (a
//! binary cache that `cache push` or `nix copy` wrote to `file://`) into a
//! store, through the same object store and at the same concurrency as
//! `cache push` uploads NARs. The benches compare it with `rclone copy` of
//! the same directory, so the upload side can be measured without the NAR
//! and compression side.
//!
//!   cargo bench --bench upload-dir -- DIR STORE_URL [IN_FLIGHT]
//!
//! Prints one JSON line: files, bytes, seconds and the requests sent.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures::{StreamExt, TryStreamExt};
use release_dist::objstore::{Body, ObjectStore, StoreUrl};

fn files_under(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf, u64)>) {
    for entry in std::fs::read_dir(dir).expect("read the directory") {
        let entry = entry.expect("read an entry");
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            files_under(root, &path, out);
        } else {
            let key = path.strip_prefix(root).expect("under root");
            let size = entry.metadata().expect("stat").len();
            out.push((key.to_string_lossy().into_owned(), path, size));
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench` first.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [dir, url, rest @ ..] = args.as_slice() else {
        eprintln!("usage: upload-dir DIR STORE_URL [IN_FLIGHT]");
        std::process::exit(2);
    };
    let in_flight: usize = rest.first().and_then(|n| n.parse().ok()).unwrap_or(32);
    let url = StoreUrl::parse(url).expect("a store URL");
    let root = PathBuf::from(dir);
    let mut files = Vec::new();
    files_under(&root, &root, &mut files);
    // Largest first, as `cache push` does.
    files.sort_by_key(|f| std::cmp::Reverse(f.2));
    let bytes: u64 = files.iter().map(|f| f.2).sum();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let (seconds, requests) = runtime.block_on(async {
        let store = ObjectStore::open(&url.location)
            .await
            .expect("open the store");
        let start = Instant::now();
        futures::stream::iter(files.iter().map(|(key, path, size)| {
            let store = &store;
            async move {
                // Small files (narinfos) go up from memory, as `cache push` writes them.
                let body = if *size < 64 << 10 {
                    Body::Bytes(std::fs::read(path).expect("read a file"))
                } else {
                    Body::File(path.clone())
                };
                store.put(key, body, "application/octet-stream").await
            }
        }))
        .buffer_unordered(in_flight)
        .try_collect::<Vec<()>>()
        .await
        .expect("upload");
        (start.elapsed().as_secs_f64(), store.requests())
    });
    println!(
        "{}",
        serde_json::json!({"files": files.len(), "bytes": bytes, "seconds": seconds, "requests": requests})
    );
}
