//! `publish --images` against Debian's docker-registry (with and without
//! htpasswd auth) and Garage's web endpoint, read back with skopeo and umoci.

use crate::util::built_all;
use crate::util::curl;
use crate::util::docker_auth;
use crate::util::hosts_entry;
use crate::util::publish_images;
use crate::util::skopeo_copy_all;
use crate::util::skopeo_raw;
use crate::util::INDEX;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

use crate::garage::Garage;
use crate::util::{free_port, Registry};
use crate::util::{stock, Fixture};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn index_platforms(index: &Value) -> Vec<String> {
    index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let mut s = format!(
                "{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            );
            if let Some(v) = p["variant"].as_str() {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect()
}

/// The provenance statement of the fixture's static release.
fn statement(f: &Fixture, tag: &str) -> Value {
    let bundle = f.dir.join(format!(
        "out-static/df-dist-v1/hello/{tag}/hello-{tag}.intoto.jsonl"
    ));
    let env: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap()
}

#[test]
fn registry_push_is_read_back_by_skopeo_and_umoci() {
    let reg = Registry::start(None);
    let (f, sk) = built_all();
    let url = format!("docker://{}/hello", reg.addr);
    let run = publish_images(
        &f,
        &sk,
        "v1.2.3",
        &[
            "--images",
            &url,
            "--image-tag",
            "latest",
            "--image-tag",
            "major",
        ],
        &[],
    )
    .ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let digest = summary["imageIndex"].as_str().unwrap().to_string();
    // 4 configs, 4 layers, and the attestation's empty config and envelope.
    assert_eq!(summary["images"][0]["blobsUploaded"], 10, "{summary}");
    assert_eq!(
        summary["images"][0]["tags"],
        serde_json::json!(["v1.2.3", "latest", "v1"])
    );

    // skopeo sees our index, byte for byte.
    let reference = format!("docker://{}/hello:v1.2.3", reg.addr);
    let raw = skopeo_raw(&reference, None).expect("skopeo inspect --raw");
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest);
    let index: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(index["mediaType"], INDEX);
    assert_eq!(
        index_platforms(&index),
        ["linux/amd64", "linux/386", "linux/arm64", "linux/arm/v7"]
    );
    let ann = &index["annotations"];
    assert_eq!(ann["org.opencontainers.image.version"], "v1.2.3");
    assert_eq!(
        ann["org.opencontainers.image.revision"],
        f.git(&["rev-parse", "HEAD"])
    );
    assert!(ann["org.opencontainers.image.created"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    for t in ["latest", "v1"] {
        let other = skopeo_raw(&format!("docker://{}/hello:{t}", reg.addr), None).unwrap();
        assert_eq!(other, raw, "tag {t} is a copy of the index");
    }

    // A full pull of all four platforms, digests checked by skopeo.
    let pulled = tempfile::tempdir().unwrap();
    assert_eq!(
        skopeo_copy_all(&reference, None, &pulled.path().join("all")),
        4
    );

    // umoci unpacks one platform and gives the image's files.
    let one = pulled.path().join("arm64");
    stock(
        "skopeo",
        &[
            "copy",
            "--override-arch",
            "arm64",
            "--src-tls-verify=false",
            &reference,
            &format!("oci:{}:arm64", one.display()),
        ],
    );
    let bundle = pulled.path().join("bundle");
    stock(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:arm64", one.display()),
            bundle.to_str().unwrap(),
        ],
    );
    // The image's entrypoint is the arm64 Rust program, and it runs
    // (through qemu).
    let hello = bundle.join("rootfs/bin/hello");
    let out = stock(
        "qemu-aarch64-static",
        &[hello.to_str().unwrap(), "--name", "oci"],
    );
    assert_eq!(
        out.trim_end(),
        "hello oci, from hello 0.1.0 (aarch64-unknown-linux-gnu)"
    );

    // The provenance names the index and each platform's manifest.
    let st = statement(&f, "v1.2.3");
    // Each binary's byproduct names the Rust target and rustc its
    // derivation declares.
    let byproducts = st["predicate"]["runDetails"]["byproducts"]
        .as_array()
        .unwrap();
    let arm_bin = byproducts
        .iter()
        .find(|b| {
            b["annotations"]["platform"] == "linux/arm/v7" && b["annotations"]["kind"] == "static"
        })
        .expect("the arm/v7 binary's byproduct");
    assert_eq!(
        arm_bin["annotations"]["rustTarget"],
        "armv7-unknown-linux-gnueabihf"
    );
    assert_eq!(arm_bin["annotations"]["rustcVersion"], "1.63.0");
    let subjects = st["subject"].as_array().unwrap();
    let find = |name: &str| {
        subjects
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["digest"]["sha256"].as_str().unwrap().to_string())
    };
    assert_eq!(
        find("image/hello:v1.2.3"),
        Some(digest.trim_start_matches("sha256:").to_string())
    );
    let arm = index["manifests"][3]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    assert_eq!(
        find("image/hello:v1.2.3/linux/arm/v7").as_deref(),
        Some(arm)
    );

    // Publishing again uploads no blob and gives the same index.
    let again = publish_images(&f, &sk, "v1.2.3", &["--images", &url], &[]).ok();
    let summary: Value = serde_json::from_str(again.stdout().trim()).unwrap();
    assert_eq!(summary["images"][0]["blobsUploaded"], 0, "{summary}");
    assert_eq!(summary["images"][0]["blobsSkipped"], 10);
    assert_eq!(summary["imageIndex"], digest);

    // The default destination, a local OCI layout, holds the same index.
    let local = publish_images(&f, &sk, "v1.2.3", &[], &[]).ok();
    let summary: Value = serde_json::from_str(local.stdout().trim()).unwrap();
    assert_eq!(summary["imageIndex"], digest);
    let layout = f.dist().join("publish/images");
    let raw = skopeo_raw(&format!("oci:{}:v1.2.3", layout.display()), None).unwrap();
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest);
}

#[test]
fn registry_with_htpasswd_auth_takes_docker_auth_and_refuses_bad_credentials() {
    let password = "s3cr3t-registry-pw-4711";
    let reg = Registry::start(Some(password));
    let (f, sk) = built_all();
    let url = format!("docker://{}/team/hello", reg.addr);
    let reference = format!("docker://{}/team/hello:v2.0.0", reg.addr);
    let creds = format!("ci:{password}");

    // No credentials: refused, nothing tagged, nothing of the static release.
    let run = publish_images(&f, &sk, "v2.0.0", &["--images", &url], &[]);
    let run = run.fails_with(4, &["anonymous", "credentials"]);
    assert!(!run.stderr().contains(password));
    assert!(skopeo_raw(&reference, Some(&creds)).is_none());
    assert!(!f.dir.join("out-static/df-dist-v1/hello/v2.0.0").exists());

    // Wrong password in DOCKER_AUTH: refused, and it is never printed.
    let wrong = "wrong-pw-0815";
    let run = publish_images(
        &f,
        &sk,
        "v2.0.0",
        &["--images", &url],
        &[(
            "DOCKER_AUTH",
            &docker_auth(&reg.addr, &format!("ci:{wrong}")),
        )],
    )
    .fails_with(4, &["$DOCKER_AUTH"]);
    for out in [run.stdout(), run.stderr()] {
        assert!(!out.contains(wrong) && !out.contains(password));
        assert!(!out.contains(&B64.encode(format!("ci:{wrong}"))));
    }
    assert!(skopeo_raw(&reference, Some(&creds)).is_none());
    assert!(!f.dir.join("out-static/df-dist-v1/hello/v2.0.0").exists());

    // The right DOCKER_AUTH: pushed, and pulled back with credentials.
    let run = publish_images(
        &f,
        &sk,
        "v2.0.0",
        &["--images", &url],
        &[("DOCKER_AUTH", &docker_auth(&reg.addr, &creds))],
    )
    .ok();
    assert!(!run.stdout().contains(password) && !run.stderr().contains(password));
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let raw = skopeo_raw(&reference, Some(&creds)).expect("pull with credentials");
    assert_eq!(
        Some(format!("sha256:{}", sha256_hex(&raw))).as_deref(),
        summary["imageIndex"].as_str()
    );
    let pulled = tempfile::tempdir().unwrap();
    assert_eq!(skopeo_copy_all(&reference, Some(&creds), pulled.path()), 4);

    // ~/.docker/config.json works too.
    let home = f.dir.join("home/.docker");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("config.json"), docker_auth(&reg.addr, &creds)).unwrap();
    let run = publish_images(&f, &sk, "v2.0.0", &["--images", &url], &[]).ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(summary["images"][0]["blobsUploaded"], 0);
}

#[test]
fn static_registry_on_garage_is_read_by_skopeo() {
    let g = Garage::from_env();
    let (f, sk) = built_all();
    let bucket = g.bucket("images");
    let url = g.url(&bucket, "");
    let run = publish_images(&f, &sk, "v3.1.0", &["--images", &url], &[]).ok();
    let summary: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let digest = summary["imageIndex"].as_str().unwrap().to_string();

    let web = g.web_url(&bucket);
    let host = web.trim_start_matches("http://").to_string();
    hosts_entry(host.split(':').next().unwrap());
    // GET /v2/ answers 200, manifests have their media type, blobs no encoding.
    let code = stock(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{web}/v2/"),
        ],
    );
    assert_eq!(code, "200");
    let head = stock(
        "curl",
        &["-sfI", &format!("{web}/v2/hello/manifests/v3.1.0")],
    )
    .to_ascii_lowercase();
    assert!(head.contains(&format!("content-type: {INDEX}")), "{head}");
    let reference = format!("docker://{host}/hello:v3.1.0");
    let raw = skopeo_raw(&reference, None).expect("skopeo inspect --raw via the web endpoint");
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), digest);
    let index: Value = serde_json::from_slice(&raw).unwrap();
    let layer_digest = {
        let m = index["manifests"][0]["digest"].as_str().unwrap();
        let manifest: Value =
            serde_json::from_slice(&curl(&format!("{web}/v2/hello/manifests/{m}"))).unwrap();
        manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let head = stock(
        "curl",
        &["-sfI", &format!("{web}/v2/hello/blobs/{layer_digest}")],
    )
    .to_ascii_lowercase();
    assert!(!head.contains("content-encoding"), "{head}");
    let pulled = tempfile::tempdir().unwrap();
    assert_eq!(skopeo_copy_all(&reference, None, pulled.path()), 4);
    let tags: Value = serde_json::from_str(&stock(
        "skopeo",
        &[
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{host}/hello"),
        ],
    ))
    .unwrap();
    // The referrers fallback tag is listed, as a registry lists it.
    let fallback = digest.replace(':', "-");
    assert_eq!(tags["Tags"], serde_json::json!([fallback, "v3.1.0"]));

    // Re-push: no blob uploaded.
    let again = publish_images(&f, &sk, "v3.1.0", &["--images", &url], &[]).ok();
    let summary: Value = serde_json::from_str(again.stdout().trim()).unwrap();
    assert_eq!(summary["images"][0]["blobsUploaded"], 0, "{summary}");
    assert_eq!(summary["images"][0]["blobsSkipped"], 10);
}

/// Rebuilds the fixture's images with `edit` applied to its flake, for two
/// targets.
fn broken_build(edit: impl FnOnce(String) -> String) -> (Fixture, String) {
    let f = Fixture::example("hello");
    f.edit("flake.nix", edit);
    f.commit("break the images");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let (sk, _) = f.release_keys();
    (f, sk)
}

fn nothing_published(f: &Fixture, reg: &Registry, tag: &str) {
    assert!(skopeo_raw(&format!("docker://{}/hello:{tag}", reg.addr), None).is_none());
    assert!(
        !f.dir
            .join(format!("out-static/df-dist-v1/hello/{tag}"))
            .exists(),
        "a static release was published"
    );
    assert!(!f.dist().join("publish/images/index.json").exists());
}

/// Publishing images built with `edit` is refused with exit 2, a message
/// holding `needles` and a hint, and no tag, static release or layout.
fn refused(edit: impl FnOnce(String) -> String, needles: &[&str]) {
    let reg = Registry::start(None);
    let url = format!("docker://{}/hello", reg.addr);
    let (f, sk) = broken_build(edit);
    let run = publish_images(&f, &sk, "v9.9.9", &["--images", &url], &[]);
    let run = run.fails_with(2, needles);
    assert!(run.stderr().contains("hint:"), "{}", run.stderr());
    // The JSON error keeps the whole cause chain, as the text does.
    let json: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let text = format!("{} {} {}", json["error"], json["causes"], json["hint"]);
    for n in needles.iter().filter(|n| !n.starts_with("rebuild")) {
        assert!(text.contains(n), "the JSON error lacks {n:?}: {json}");
    }
    nothing_published(&f, &reg, "v9.9.9");
}

#[test]
fn an_image_with_a_corrupt_layer_is_refused_and_no_tag_moves() {
    refused(
        |t| {
            t.replace(
                "mv $work/layer.tar $work/image/$layer/layer.tar",
                "mv $work/layer.tar $work/image/$layer/layer.tar\n          printf x >> $work/image/$layer/layer.tar",
            )
        },
        &["image", "diff_ids", "corrupt", "rebuild the image"],
    );
}

#[test]
fn a_truncated_image_archive_is_refused_and_no_tag_moves() {
    refused(
        |t| t.replace("| gzip -9n > $out", "| gzip -9n | head -c 400 > $out"),
        &["image", "truncated", "rebuild the image"],
    );
}

#[test]
fn an_image_of_the_wrong_architecture_fails_its_target_at_build() {
    let f = Fixture::example("hello");
    f.edit("flake.nix", |t| {
        t.replace(
            "\"${t.arch}\" \"$layer\" > $work/config.json",
            "\"amd64\" \"$layer\" > $work/config.json",
        )
    });
    f.commit("break the images");
    // The arm64 image says it is amd64: its target fails at build, naming
    // both, and the rest is kept (the amd64 image is what it says).
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .fails_with(
            1,
            &[
                "linux/arm64: the image's config says it is linux/amd64, not linux/arm64",
                "aarch64-linux",
            ],
        );
    let manifest = crate::util::build_json(&f);
    assert_eq!(manifest["complete"], false);
    let docker: Vec<&str> = manifest["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "docker")
        .map(|a| a["platform"].as_str().unwrap())
        .collect();
    assert_eq!(docker, ["linux/amd64"], "{manifest}");
}

#[test]
fn an_unreachable_registry_fails_clearly_and_nothing_is_published() {
    let reg = Registry::start(None);
    let (f, sk) = built_all();
    let dead = format!("docker://127.0.0.1:{}/hello", free_port());
    let started = Instant::now();
    publish_images(&f, &sk, "v9.9.8", &["--images", &dead], &[])
        .fails_with(4, &["127.0.0.1", "registry is up"]);
    assert!(started.elapsed() < Duration::from_secs(60));
    nothing_published(&f, &reg, "v9.9.8");
}

/// `skopeo inspect --config` of `reference` for linux/arm/`variant`.
fn arm_config(reference: &str, variant: &str) -> Value {
    let args = [
        "--override-os",
        "linux",
        "--override-arch",
        "arm",
        "--override-variant",
        variant,
        "inspect",
        "--config",
        "--tls-verify=false",
        reference,
    ];
    serde_json::from_slice(&crate::util::stock_bytes("skopeo", &args)).unwrap()
}

#[test]
fn an_arm_image_config_says_its_variant_everywhere() {
    let g = Garage::from_env();
    let reg = Registry::start(None);
    let (f, sk) = built_all();
    let bucket = g.bucket("variant");
    let layout = f.dir.join("out/layout");
    let urls = [
        format!("docker://{}/hello", reg.addr),
        g.url(&bucket, ""),
        layout.display().to_string(),
    ];
    let mut args = Vec::new();
    for u in &urls {
        args.extend(["--images", u.as_str()]);
    }
    publish_images(&f, &sk, "v3.2.0", &args, &[]).ok();
    let web = g.web_url(&bucket);
    let host = web.trim_start_matches("http://").to_string();
    hosts_entry(host.split(':').next().unwrap());
    for reference in [
        format!("docker://{}/hello:v3.2.0", reg.addr),
        format!("docker://{host}/hello:v3.2.0"),
        format!("oci:{}:v3.2.0", layout.display()),
    ] {
        let index: Value = serde_json::from_slice(&skopeo_raw(&reference, None).unwrap()).unwrap();
        let entry = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == "arm")
            .unwrap();
        // The example's arm is v7; dockerTools (and the example) write no
        // variant into the config, publish adds the index entry's.
        let config = arm_config(&reference, "v7");
        assert_eq!(entry["platform"]["variant"], "v7", "{reference}: {index}");
        assert_eq!(config["architecture"], "arm", "{reference}");
        assert_eq!(
            config["variant"], entry["platform"]["variant"],
            "{reference}: the config's variant is its index entry's"
        );
    }
}
