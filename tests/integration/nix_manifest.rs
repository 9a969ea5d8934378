//! The Nix install manifest: `build --push-cache` then `publish` writes
//! `manifest.nix` and `manifest.json` beside the release (and, for the newest
//! stable release, at the name level); stock nix reads it and substitutes
//! the path it names from the cache.

use serde_json::Value;

use crate::garage::Garage;
use crate::util::nix_copy_from;
use crate::util::{build_json, key_pair, stock, stock_bytes, Fixture};

#[test]
fn manifest_nix_names_paths_that_stock_nix_substitutes_from_the_cache() {
    let g = Garage::from_env();
    let f = Fixture::example("hello");
    let cache_bucket = g.bucket("nixman-cache");
    let release_bucket = g.bucket("nixman-rel");
    let cache_web = g.web_url(&cache_bucket);
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]",
            &format!("[package.metadata.release-dist]\ncache-public-url = \"{cache_web}\""),
        )
    });
    f.commit("the cache's public URL");
    let keys = tempfile::tempdir().unwrap();
    let (cache_sk, cache_pk) = key_pair(keys.path());
    let cache_url = g.url(&cache_bucket, &format!("&secret-key={cache_sk}"));
    f.run(&[
        "build",
        "-q",
        "-t",
        "linux/amd64",
        "-t",
        "linux/arm64",
        "--push-cache",
        &cache_url,
    ])
    .ok();
    let built = build_json(&f);
    assert_eq!(built["cache"]["url"], cache_web.as_str());
    assert_eq!(built["cache"]["publicKey"], cache_pk.trim());
    let (sk, pk) = f.release_keys();
    let url = g.url(&release_bucket, "");
    f.run(&[
        "-q",
        "publish",
        "static",
        "--static",
        &url,
        "--signing-key",
        &sk,
        "--tag",
        "v1.0.0",
    ])
    .ok();

    let web = g.web_url(&release_bucket);
    let base = format!("{web}/df-dist-v1/hello/v1.0.0");
    let dl = tempfile::tempdir().unwrap();
    let manifest = dl.path().join("manifest.nix");
    std::fs::write(
        &manifest,
        stock_bytes("curl", &["-sf", &format!("{base}/manifest.nix")]),
    )
    .unwrap();
    // Stock nix evaluates it: each system's store path.
    let evaluated: Value = serde_json::from_str(&stock(
        "nix-instantiate",
        &["--eval", "--strict", "--json", manifest.to_str().unwrap()],
    ))
    .unwrap();
    let amd64 = built["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "static" && a["platform"] == "linux/amd64")
        .unwrap();
    let path = amd64["storePath"].as_str().unwrap();
    assert_eq!(evaluated["x86_64-linux"], path);
    assert!(evaluated["aarch64-linux"]
        .as_str()
        .unwrap()
        .starts_with("/nix/store/"));

    // nix copy --from the cache's web endpoint, trusting its key, into a fresh store.
    let store = tempfile::tempdir().unwrap();
    let copy = nix_copy_from(&cache_web, store.path(), path, &cache_pk);
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let file = amd64["storeFile"].as_str().unwrap();
    let substituted = std::fs::read(store.path().join(&path[1..]).join(file)).unwrap();
    let published = stock_bytes("curl", &["-sf", &format!("{base}/linux/amd64/hello")]);
    assert_eq!(
        substituted, published,
        "the binary from the cache is the published file"
    );

    // The JSON form names the cache; the tag document lists both; the name
    // level has the newest stable release's; verify passes over all of it.
    let json: Value = serde_json::from_slice(&stock_bytes(
        "curl",
        &["-sf", &format!("{base}/manifest.json")],
    ))
    .unwrap();
    assert_eq!(json["cache"]["url"], cache_web.as_str());
    assert_eq!(json["cache"]["publicKey"], cache_pk.trim());
    assert_eq!(json["paths"]["x86_64-linux"], path);
    let tag: Value = serde_json::from_slice(&stock_bytes("curl", &["-sf", &base])).unwrap();
    let kinds: Vec<(&str, &str)> = tag["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["path"].as_str().unwrap(), a["kind"].as_str().unwrap()))
        .collect();
    assert!(
        kinds.contains(&("manifest.nix", "nix-manifest")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("hello-v1.0.0.tar.gz", "source")),
        "{kinds:?}"
    );
    let top = stock_bytes(
        "curl",
        &["-sf", &format!("{web}/df-dist-v1/hello/manifest.nix")],
    );
    assert_eq!(top, std::fs::read(&manifest).unwrap());
    let name: Value = serde_json::from_slice(&stock_bytes(
        "curl",
        &["-sf", &format!("{web}/df-dist-v1/hello")],
    ))
    .unwrap();
    assert_eq!(
        name["tags"],
        serde_json::json!(["v1.0.0"]),
        "manifest.nix is not a tag"
    );
    // The release page names the cache and its public key.
    let html = stock("curl", &["-sf", &format!("{web}/_releases.html")]);
    assert!(
        html.contains(&format!("<code>{cache_web}</code>"))
            && html.contains(&format!("<code>{}</code>", cache_pk.trim())),
        "{html}"
    );
    let pub_file = f.dir.join("keys/release.pub");
    std::fs::write(&pub_file, pk).unwrap();
    f.run(&[
        "verify",
        "--from",
        &url,
        "-t",
        "hello:v1.0.0",
        "--key",
        pub_file.to_str().unwrap(),
    ])
    .ok();
}
