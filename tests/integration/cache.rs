//! The binary cache against Garage, checked by stock nix substituting from
//! the bucket's web endpoint into a fresh store.

use crate::util::nix_copy_from;
use std::path::Path;

use serde_json::Value;

use crate::garage::Garage;
use crate::util::{artifact_store_paths, key_pair, nix_path_info, stock, Fixture};

fn toolchain_out(f: &Fixture) -> String {
    stock(
        "nix-build",
        &[
            "--extra-experimental-features",
            "nix-command flakes",
            "--no-out-link",
            f.dir.join("nix/toolchain.nix").to_str().unwrap(),
        ],
    )
    .trim()
    .to_string()
}

fn summary(run: &crate::util::Run) -> Value {
    serde_json::from_str(run.stdout().trim()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

#[test]
fn cache_toolchain_to_garage_is_substitutable_by_stock_nix_and_signed() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    let (sk, pk) = key_pair(&f.dir);
    let bucket = g.bucket("toolchain");
    let url = g.url(&bucket, &format!("&secret-key={sk}"));
    let first = f
        .run(&["--message-format", "json", "cache-toolchain", "--to", &url])
        .ok();
    let s = summary(&first);
    // 3 derivations + 3 outputs: the toolchain, its runtime lib, its build-time helper.
    assert_eq!(
        (
            s["total"].as_u64(),
            s["pushed"].as_u64(),
            s["failed"].as_u64()
        ),
        (Some(6), Some(6), Some(0)),
        "{s}"
    );

    let out = toolchain_out(&f);
    let store = tempfile::tempdir().unwrap();
    let copy = nix_copy_from(&g.web_url(&bucket), store.path(), &out, &pk);
    assert!(
        copy.status.success(),
        "nix copy failed:\n{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let name = Path::new(&out).file_name().unwrap();
    assert!(store
        .path()
        .join("nix/store")
        .join(name)
        .join("bin/rustc")
        .exists());

    // A key nix does not trust: it must refuse.
    let other = tempfile::tempdir().unwrap();
    let (_, wrong_pk) = key_pair(other.path());
    let store2 = tempfile::tempdir().unwrap();
    let refused = nix_copy_from(&g.web_url(&bucket), store2.path(), &out, &wrong_pk);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("lacks a valid signature"));

    // The build-time helper is in the cache too (--include-outputs).
    let objects = g.object_count(&bucket);
    assert_eq!(
        objects,
        1 + 6 + 6 + 1,
        "nix-cache-info, 6 narinfos, 6 NARs, the pin"
    );
    let pins = pin_names(&url);
    assert_eq!(pins.len(), 1, "{pins:?}");
    assert!(
        pins[0].0.starts_with("toolchain/") && pins[0].1 == 6,
        "{pins:?}"
    );

    // A second push uploads nothing.
    let again = summary(
        &f.run(&["--message-format", "json", "cache-toolchain", "--to", &url])
            .ok(),
    );
    assert_eq!(
        (
            again["pushed"].as_u64(),
            again["skipped"].as_u64(),
            again["uploadedBytes"].as_u64()
        ),
        (Some(0), Some(6), Some(0))
    );
    // Every root was there, so the closure was (the cache is closed under
    // references): no HEAD per path, no listing but of the collector
    // records, and one write: the pin.
    let requests = &again["requests"];
    assert_eq!(requests["list"], 1, "{again}");
    assert_eq!(requests["put"], 1, "{again}");
    assert_eq!(
        pin_names(&url),
        pins,
        "the same toolchain keeps its one pin"
    );
    assert!(requests["head"].as_u64().unwrap() < 2 + 6, "{again}");
    assert_eq!(g.object_count(&bucket), objects);
}

#[test]
fn build_closure_push_over_s3_and_to_a_directory() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    let (sk, pk) = key_pair(&f.dir);
    f.run(&["build", "-q", "-t", "linux/arm64"]).ok();
    let paths = artifact_store_paths(&f);
    for (compression, dest) in [("zstd", "s3"), ("xz", "file"), ("none", "s3")] {
        let (url, cache) = if dest == "s3" {
            let bucket = g.bucket(&format!("build-{compression}"));
            (
                g.url(
                    &bucket,
                    &format!("&secret-key={sk}&compression={compression}"),
                ),
                g.web_url(&bucket),
            )
        } else {
            let dir = f.dir.join(format!("cache-{compression}"));
            (
                format!(
                    "file://{}?secret-key={sk}&compression={compression}",
                    dir.display()
                ),
                format!("file://{}", dir.display()),
            )
        };
        let mut args = vec![
            "--message-format",
            "json",
            "cache",
            "push",
            "--to",
            url.as_str(),
        ];
        args.extend(paths.iter().map(String::as_str));
        let s = summary(&f.run(&args).ok());
        assert_eq!(
            s["pushed"].as_u64(),
            Some(paths.len() as u64),
            "{compression}: {s}"
        );
        for p in &paths {
            let store = tempfile::tempdir().unwrap();
            let copy = nix_copy_from(&cache, store.path(), p, &pk);
            assert!(
                copy.status.success(),
                "{compression} {dest}: {}",
                String::from_utf8_lossy(&copy.stderr)
            );
        }
    }
}

#[test]
fn narinfo_from_the_bucket_matches_nix_path_info() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    let (sk, _) = key_pair(&f.dir);
    let bucket = g.bucket("narinfo");
    let out = toolchain_out(&f);
    f.run(&[
        "-q",
        "cache",
        "push",
        "--to",
        &g.url(&bucket, &format!("&secret-key={sk}")),
        &out,
    ])
    .ok();
    let hash = Path::new(&out)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .split('-')
        .next()
        .unwrap()
        .to_string();
    let narinfo = stock(
        "curl",
        &["-sf", &format!("{}/{hash}.narinfo", g.web_url(&bucket))],
    );
    let info = nix_path_info(&out);
    assert!(
        narinfo.starts_with(&format!("StorePath: {out}\nURL: nar/")),
        "{narinfo}"
    );
    assert!(narinfo.contains("\nCompression: zstd\n"), "{narinfo}");
    assert!(
        narinfo.contains(&format!("\nNarSize: {}\n", info["narSize"])),
        "{narinfo}"
    );
    assert!(narinfo.contains("\nSig: release-dist-test-1:"), "{narinfo}");
    // Content-Types as nix copy sets them, checked over HTTP.
    let ct = |key: &str| {
        stock("curl", &["-sfI", &format!("{}/{key}", g.web_url(&bucket))]).to_lowercase()
    };
    assert!(ct(&format!("{hash}.narinfo")).contains("content-type: text/x-nix-narinfo"));
    assert!(ct("nix-cache-info").contains("content-type: text/x-nix-cache-info"));
    let nar_url = narinfo
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap();
    let nar_headers = ct(nar_url);
    assert!(
        nar_headers.contains("content-type: application/x-nix-nar"),
        "{nar_headers}"
    );
    assert!(!nar_headers.contains("content-encoding"), "{nar_headers}");
}

/// A store URL, extra environment, the exit code, and what stderr must say.
type BadCase<'a> = (String, Vec<(&'a str, &'a str)>, i32, Vec<&'a str>);

#[test]
fn bad_input_fails_clearly_and_writes_no_narinfo() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    let (sk, _) = key_pair(&f.dir);
    let out = toolchain_out(&f);
    let bucket = g.bucket("bad");
    let malformed = f.dir.join("malformed.sec");
    std::fs::write(&malformed, "not-a-key").unwrap();
    let cases: Vec<BadCase> = vec![
        (
            g.url(&bucket, "&secret-key=/nonexistent/key.sec"),
            vec![],
            2,
            vec![
                "cannot use the signing key /nonexistent/key.sec",
                "generate-binary-cache-key",
            ],
        ),
        (
            g.url(&bucket, &format!("&secret-key={}", malformed.display())),
            vec![],
            2,
            vec!["not a Nix key"],
        ),
        (
            g.url(&bucket, &format!("&secret-key={sk}")),
            vec![(
                "AWS_SECRET_ACCESS_KEY",
                "00000000000000000000000000000000000000000000000000000000deadbeef",
            )],
            4,
            vec!["HEAD bucket", "check the credentials"],
        ),
        (
            g.url(&bucket, &format!("&secret-key={sk}")),
            vec![("AWS_ACCESS_KEY_ID", "GK000000000000000000000000")],
            4,
            vec!["check the credentials"],
        ),
        (
            g.url("no-such-bucket-here", &format!("&secret-key={sk}")),
            vec![],
            4,
            vec!["s3://no-such-bucket-here", "create the bucket"],
        ),
        (
            format!("s3://{bucket}?endpoint=127.0.0.1:1&region=garage&scheme=http&secret-key={sk}"),
            vec![],
            4,
            vec!["could not connect", "check `endpoint=`"],
        ),
        (
            g.url(&bucket, &format!("&secret-key={sk}&compresion=zstd")),
            vec![],
            2,
            vec!["unknown parameter `compresion`"],
        ),
    ];
    for (url, env, code, needles) in cases {
        f.run_with(&["cache", "push", "--to", &url, &out], |c| {
            for (k, v) in &env {
                c.env(k, v);
            }
        })
        .fails_with(code, &needles);
    }
    f.run(&[
        "cache",
        "push",
        "--to",
        &g.url(&bucket, &format!("&secret-key={sk}")),
        "/nix/store/00000000000000000000000000000000-not-there",
    ])
    .fails_with(2, &["is not a valid path in the local Nix store"]);
    assert_eq!(g.object_count(&bucket), 0, "a failed push wrote objects");
}

#[test]
fn build_push_cache_pushes_the_runtime_closure_of_the_artifacts() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    let (sk, pk) = key_pair(&f.dir);
    let bucket = g.bucket("pushcache");
    f.run(&[
        "-q",
        "build",
        "-t",
        "linux/386",
        "--push-cache",
        &g.url(&bucket, &format!("&secret-key={sk}")),
    ])
    .ok();
    for path in artifact_store_paths(&f) {
        let store = tempfile::tempdir().unwrap();
        let copy = nix_copy_from(&g.web_url(&bucket), store.path(), &path, &pk);
        assert!(
            copy.status.success(),
            "{}",
            String::from_utf8_lossy(&copy.stderr)
        );
    }
    // The push pinned the release; `rm` of the release removes the pin.
    let url = g.url(&bucket, "");
    let commit = f.git(&["rev-parse", "HEAD"]);
    let pins = pin_names(&url);
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].0, format!("release/{commit}"));
    let (release_sk, _) = f.release_keys();
    let out = f.dir.join("out-static");
    let out = out.to_str().unwrap();
    f.run(&[
        "-q",
        "publish",
        "static",
        "--static",
        out,
        "--signing-key",
        &release_sk,
    ])
    .ok();
    f.run(&[
        "-q",
        "rm",
        "--static",
        out,
        "--cache",
        &url,
        &format!("hello:{commit}"),
    ])
    .ok();
    assert!(pin_names(&url).is_empty());
}

/// The cache's pins: (name, paths), from `cache pin ls`.
fn pin_names(url: &str) -> Vec<(String, u64)> {
    let out = crate::util::tool()
        .args([
            "release-dist",
            "--message-format",
            "json",
            "cache",
            "pin",
            "ls",
            "--cache",
            url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["pins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["paths"].as_u64().unwrap(),
            )
        })
        .collect()
}
