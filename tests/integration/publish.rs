//! `publish` and `verify` against Garage, read back with stock tools: curl
//! over the web endpoint, `sha256sum -c`, and openssl for the DSSE signature.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use serde_json::Value;

use crate::garage::Garage;
use crate::util::built;
use crate::util::curl;
use crate::util::key_pair;
use crate::util::{publish, stock, Fixture, Run};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn content_type(url: &str) -> String {
    let out = stock("curl", &["-sfI", url]);
    out.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// Verifies the DSSE envelope with openssl, from the Nix public key file.
fn openssl_verifies(envelope: &Value, nix_pub: &str, dir: &Path) -> bool {
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let ptype = envelope["payloadType"].as_str().unwrap();
    let mut pae = format!("DSSEv1 {} {} {} ", ptype.len(), ptype, payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    std::fs::write(dir.join("pae.bin"), &pae).unwrap();
    let sig = B64
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    std::fs::write(dir.join("sig.bin"), sig).unwrap();
    // SPKI DER of an Ed25519 key: a fixed 12-byte prefix, then the 32 raw bytes.
    let raw = B64
        .decode(nix_pub.trim().split_once(':').unwrap().1)
        .unwrap();
    let mut der = hex::decode("302a300506032b6570032100").unwrap();
    der.extend_from_slice(&raw);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(der)
    );
    std::fs::write(dir.join("pub.pem"), pem).unwrap();
    Command::new("openssl")
        .args([
            "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "pae.bin",
            "-sigfile", "sig.bin",
        ])
        .current_dir(dir)
        .status()
        .unwrap()
        .success()
}

#[test]
fn publish_to_garage_reads_back_with_stock_tools() {
    let g = Garage::from_env();
    let (f, sk, pk) = built(&["linux/amd64", "linux/arm/v7"]);
    let bucket = g.bucket("publish");
    let url = g.url(&bucket, "");
    let run = publish(&f, &url, &sk, "v1.0.0", &[]).ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(summary["release"]["class"], "stable");
    assert_eq!(
        summary["destinations"][0]["uploaded"], 6,
        "two binaries, the source and docs tarballs, install.sh, the SBOM"
    );

    let web = g.web_url(&bucket);
    let name: Value = serde_json::from_slice(&curl(&format!("{web}/df-dist-v1/hello"))).unwrap();
    assert_eq!(
        name,
        serde_json::json!({"name": "hello", "tags": ["v1.0.0"]})
    );
    let tag: Value =
        serde_json::from_slice(&curl(&format!("{web}/df-dist-v1/hello/v1.0.0"))).unwrap();
    let flavors = tag["flavors"].as_array().unwrap();
    assert_eq!(flavors.len(), 2);
    assert!(flavors.iter().any(|fl| fl["platform"]
        == serde_json::json!({"architecture": "arm", "os": "linux", "variant": "v7"})
        && fl["resources"][0]["path"] == "hello"));

    // Download the release as a user would, then `sha256sum -c`.
    let dl = tempfile::tempdir().unwrap();
    let base = format!("{web}/df-dist-v1/hello/v1.0.0");
    let sums = curl(&format!("{base}/SHA256SUMS"));
    std::fs::write(dl.path().join("SHA256SUMS"), &sums).unwrap();
    for line in String::from_utf8_lossy(&sums).lines() {
        let path = line.split_once("  ").unwrap().1;
        let dest = dl.path().join(path);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(&dest, curl(&format!("{base}/{path}"))).unwrap();
        let file = path.rsplit('/').next().unwrap();
        std::fs::write(
            dest.parent().unwrap().join(format!("{file}.sha256")),
            curl(&format!("{base}/{path}.sha256")),
        )
        .unwrap();
        crate::util::sha256sum_c(dest.parent().unwrap(), &format!("{file}.sha256"));
    }
    let out = crate::util::sha256sum_c(dl.path(), "SHA256SUMS");
    assert_eq!(out.matches(": OK").count(), 6);

    // The source tarball is `git archive --prefix=hello-v1.0.0/` of the commit, byte for byte.
    let tar = crate::util::stock_bytes(
        "gzip",
        &[
            "-dc",
            dl.path().join("hello-v1.0.0.tar.gz").to_str().unwrap(),
        ],
    );
    let git_tar = std::process::Command::new("git")
        .args(["archive", "--format=tar", "--prefix=hello-v1.0.0/", "HEAD"])
        .current_dir(&f.dir)
        .output()
        .unwrap()
        .stdout;
    assert!(
        tar == git_tar && !tar.is_empty(),
        "the tarball is not git archive's output"
    );
    assert_eq!(
        tag["artifacts"],
        serde_json::json!([
            {"path": "hello-docs.tar.gz", "kind": "extra", "name": "hello-docs"},
            {"path": "hello-v1.0.0.tar.gz", "kind": "source"},
            {"path": "install.sh", "kind": "installer"},
            {"path": "hello-v1.0.0.cdx.json", "kind": "sbom"}
        ])
    );
    // The docs tarball is the example's manual, archived by `build`.
    let docs = stock(
        "tar",
        &[
            "-tzf",
            dl.path().join("hello-docs.tar.gz").to_str().unwrap(),
        ],
    );
    assert_eq!(
        docs,
        "hello-docs/\nhello-docs/README\nhello-docs/html/\nhello-docs/html/index.html\n"
    );

    // Content types.
    assert_eq!(
        content_type(&format!("{base}/linux/amd64/hello")),
        "application/octet-stream"
    );
    assert!(content_type(&format!("{base}/SHA256SUMS")).starts_with("text/plain"));
    assert_eq!(
        content_type(&format!("{web}/df-dist-v1/hello")),
        "application/json"
    );
    assert!(content_type(&format!("{web}/_releases.html")).starts_with("text/html"));

    // The provenance, checked by openssl rather than by us.
    let bundle = curl(&format!("{base}/hello-v1.0.0.intoto.jsonl"));
    let envelope: Value =
        serde_json::from_slice(bundle.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    assert!(
        openssl_verifies(&envelope, &pk, dl.path()),
        "openssl rejects the DSSE signature"
    );
    let statement: Value =
        serde_json::from_slice(&B64.decode(envelope["payload"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    let downloaded = std::fs::read(dl.path().join("linux/amd64/hello")).unwrap();
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&downloaded));
    assert!(statement["subject"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "linux/amd64/hello" && s["digest"]["sha256"] == sha.as_str()));
    let commit = f.git(&["rev-parse", "HEAD"]);
    assert_eq!(
        statement["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["gitCommit"],
        commit.as_str()
    );
    // Another key: openssl must refuse.
    let other = tempfile::tempdir().unwrap();
    let (_, other_pk) = key_pair(other.path());
    assert!(!openssl_verifies(&envelope, &other_pk, dl.path()));

    // The index.
    let index: Value = serde_json::from_slice(&curl(&format!("{web}/_releases.json"))).unwrap();
    assert_eq!(index[0]["builds"][0]["version"], "v1.0.0");

    // verify agrees; then a tampered object is named.
    verify(&f, &url, &f.dir.join("keys/cache.pub")).ok();
    let evil = f.dir.join("keys/evil");
    std::fs::write(&evil, b"not hello").unwrap();
    put_object(
        &g,
        &bucket,
        "df-dist-v1/hello/v1.0.0/linux/arm/v7/hello",
        &evil,
    );
    verify(&f, &url, &f.dir.join("keys/cache.pub"))
        .fails_with(5, &["df-dist-v1/hello/v1.0.0/linux/arm/v7/hello: altered"]);
    // The wrong key is refused.
    let other_pub = other.path().join("cache.pub");
    verify(&f, &url, &other_pub).fails_with(5, &["no signature verifies"]);

    // Re-publishing the same build uploads nothing.
    let again = publish(&f, &url, &sk, "v1.0.0", &["--force"]).ok();
    let again: Value = serde_json::from_str(again.stdout().trim()).unwrap();
    assert_eq!(again["destinations"][0]["alreadyPublished"], true);
    verify(&f, &url, &f.dir.join("keys/cache.pub")).ok();
    let noop = publish(&f, &url, &sk, "v1.0.0", &[]).ok();
    let noop: Value = serde_json::from_str(noop.stdout().trim()).unwrap();
    assert_eq!(
        (
            noop["destinations"][0]["uploaded"].as_u64(),
            noop["destinations"][0]["skipped"].as_u64()
        ),
        (Some(0), Some(6))
    );

    // No secret in any output or object.
    let secret_key_text = std::fs::read_to_string(&sk).unwrap();
    let secret_b64 = secret_key_text
        .trim()
        .split_once(':')
        .unwrap()
        .1
        .to_string();
    let s3_secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    let mut haystacks = vec![run.stdout(), run.stderr()];
    for key in crate::util::keys(&g, &bucket) {
        haystacks.push(String::from_utf8_lossy(&curl(&format!("{web}/{key}"))).into_owned());
    }
    for h in &haystacks {
        assert!(
            !h.contains(&secret_b64) && !h.contains(&s3_secret),
            "a secret leaked"
        );
    }
}

/// `verify --from URL -t hello:v1.0.0 --key PUB`.
fn verify(f: &Fixture, url: &str, key: &Path) -> Run {
    f.run(&[
        "verify",
        "--from",
        url,
        "-t",
        "hello:v1.0.0",
        "--key",
        key.to_str().unwrap(),
    ])
}

/// Overwrites one object, as an attacker with bucket access would.
fn put_object(g: &Garage, bucket: &str, key: &str, file: &Path) {
    g.put(
        bucket,
        key,
        release_dist::objstore::Body::File(file.to_path_buf()),
    );
}

#[test]
fn two_publishes_at_once_both_end_up_in_the_name_document() {
    let g = Garage::from_env();
    let (f, sk, _) = built(&["linux/amd64", "linux/arm/v7"]);
    let bucket = g.bucket("race");
    let url = g.url(&bucket, "");
    let spawn = |tag: &str, delay_ms: &str| {
        let mut cmd = crate::util::tool();
        cmd.args([
            "release-dist",
            "-q",
            "publish",
            "--static",
            &url,
            "--signing-key",
            &sk,
            "--tag",
            tag,
        ])
        .current_dir(&f.dir)
        .env("RELEASE_DIST_TEST_DOC_DELAY_MS", delay_ms);
        cmd.spawn().unwrap()
    };
    // A lists the bucket (seeing only its own tag), then holds its write for
    // 1.5 s; meanwhile B publishes whole. A plain last-writer-wins update
    // would leave B out of the name document.
    let mut a = spawn("nightly-a", "1500");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let mut b = spawn("nightly-b", "0");
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let name: Value =
        serde_json::from_slice(&curl(&format!("{}/df-dist-v1/hello", g.web_url(&bucket)))).unwrap();
    let mut tags: Vec<&str> = name["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    tags.sort();
    assert_eq!(tags, ["nightly-a", "nightly-b"]);
    let index = String::from_utf8(curl(&format!("{}/_releases.json", g.web_url(&bucket)))).unwrap();
    assert!(index.contains("nightly-a") && index.contains("nightly-b"));
}

#[test]
fn bad_input_is_refused_and_nothing_is_published() {
    let g = Garage::from_env();
    let (f, sk, _) = built(&["linux/amd64", "linux/arm/v7"]);
    let bucket = g.bucket("badpub");
    let url = g.url(&bucket, "");

    publish(&f, &url, &sk, "bad tag", &[])
        .fails_with(2, &["`bad tag` is not a valid release tag", "hint:"]);
    let bad_key = f.dir.join("keys/bad.sec");
    std::fs::write(&bad_key, "nonsense").unwrap();
    publish(&f, &url, bad_key.to_str().unwrap(), "v1.0.0", &[]).fails_with(
        2,
        &[
            "cannot use the signing key",
            "nix-store --generate-binary-cache-key",
        ],
    );
    f.run(&["publish", "--static", &url, "--tag", "v1.0.0"])
        .fails_with(2, &["no signing key", "--signing-key"]);
    f.run_with(
        &[
            "publish",
            "--static",
            &url,
            "--signing-key",
            &sk,
            "--tag",
            "v1.0.0",
        ],
        |c| {
            c.env("AWS_ACCESS_KEY_ID", "GKnobody")
                .env("AWS_SECRET_ACCESS_KEY", "wrong");
        },
    )
    .fails_with(4, &["AWS_ACCESS_KEY_ID"]);
    // A dirty tree refuses a stable release, not a development one.
    std::fs::write(f.dir.join("untracked.txt"), "x").unwrap();
    publish(&f, &url, &sk, "v1.0.0", &[]).fails_with(2, &["dirty tree", "commit or stash"]);
    std::fs::remove_file(f.dir.join("untracked.txt")).unwrap();
    assert_eq!(g.object_count(&bucket), 0, "nothing half-published");

    // A stable tag published with other bytes is immutable.
    publish(&f, &url, &sk, "v1.0.0", &[]).ok();
    let objects = g.object_count(&bucket);
    f.edit("src/main.rs", |t| {
        t.replacen("println!(\"hello {who}", "println!(\"HELLO {who}", 1)
    });
    f.commit("change the greeting");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm/v7"])
        .ok();
    publish(&f, &url, &sk, "v1.0.0", &[])
        .fails_with(2, &["already published", "linux/amd64/hello", "--force"]);
    assert_eq!(g.object_count(&bucket), objects);

    // No build.json.
    std::fs::remove_file(f.dist().join("build.json")).unwrap();
    publish(&f, &url, &sk, "v1.0.1", &[])
        .fails_with(2, &["no build to publish", "cargo release-dist build"]);
    assert_eq!(g.object_count(&bucket), objects);
}

#[test]
fn refresh_index_rebuilds_the_shared_documents_from_the_bucket() {
    let g = Garage::from_env();
    let (f, sk, _) = built(&["linux/amd64", "linux/arm/v7"]);
    let bucket = g.bucket("refresh");
    let url = g.url(&bucket, "");
    publish(&f, &url, &sk, "v0.9.0", &[]).ok();
    publish(&f, &url, &sk, "v0.10.0", &[]).ok();
    // Clobber the index and the name document, as a bad manual edit would.
    let junk = f.dir.join("junk");
    std::fs::write(&junk, b"{}").unwrap();
    put_object(&g, &bucket, "_releases.json", &junk);
    put_object(&g, &bucket, "df-dist-v1/hello", &junk);
    let web = g.web_url(&bucket);
    assert_eq!(curl(&format!("{web}/_releases.json")), b"{}");

    let run = f
        .run(&[
            "--message-format",
            "json",
            "refresh-index",
            "--static",
            &url,
        ])
        .ok();
    let out: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(out[0]["tags"], serde_json::json!(["v0.10.0", "v0.9.0"]));
    let name: Value = serde_json::from_slice(&curl(&format!("{web}/df-dist-v1/hello"))).unwrap();
    assert_eq!(name["tags"], serde_json::json!(["v0.10.0", "v0.9.0"]));
    let index: Value = serde_json::from_slice(&curl(&format!("{web}/_releases.json"))).unwrap();
    let stable: Vec<&str> = index[0]["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap())
        .collect();
    assert_eq!(stable, ["v0.10.0", "v0.9.0"], "semver order: {index}");

    // The page, rendered by a real browser: headless Chromium reads the DOM
    // after layout, and its screenshot is a page with text on it.
    let Some(chromium) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| which(c))
    else {
        panic!("chromium is needed: scripts/setup-debian.sh --tests installs it");
    };
    let page = f.dir.join("index.html");
    std::fs::write(&page, curl(&format!("{web}/_releases.html"))).unwrap();
    let page_url = format!("file://{}", page.display());
    let headless = |extra: &[&str]| {
        let out = Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .arg("--window-size=1200,900")
            .arg(format!(
                "--user-data-dir={}",
                f.dir.join("chromium-profile").display()
            ))
            .args(extra)
            .arg(&page_url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let dom = String::from_utf8(headless(&["--dump-dom"])).unwrap();
    let (a, b) = (dom.find("v0.10.0").unwrap(), dom.find("v0.9.0").unwrap());
    assert!(a < b, "v0.10.0 is listed above v0.9.0");
    assert!(
        dom.contains("SHA256SUMS") && dom.contains("linux/arm/v7"),
        "{dom}"
    );
    let shot = f.dir.join("index.png");
    headless(&[&format!("--screenshot={}", shot.display())]);
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 900));
    let pixels = &buf[..info.buffer_size()];
    let step = info.line_size / info.width as usize;
    let background = &pixels[..step];
    let inked = pixels.chunks(step).filter(|p| *p != background).count();
    // Text and table rules cover part of the page, not none and not all of it.
    let share = inked as f64 / (info.width * info.height) as f64;
    assert!(share > 0.01 && share < 0.6, "inked share {share}");
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}
