//! No secret appears anywhere: every command runs with known secret values
//! (the S3 secret key, the signing key, `DOCKER_AUTH`), at `-v`, on success
//! and on failure; stdout, stderr, build.json, the provenance and every
//! object uploaded are searched for them.

use base64::Engine;

use crate::garage::Garage;
use crate::util::key_pair;
use crate::util::Registry;
use crate::util::{Fixture, Run};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn all_objects(g: &Garage, bucket: &str) -> Vec<(String, Vec<u8>)> {
    let url = release_dist::objstore::StoreUrl::parse(&g.url(bucket, "")).unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = release_dist::objstore::ObjectStore::open(&url.location)
            .await
            .unwrap();
        let mut out = Vec::new();
        for o in store.list("").await.unwrap() {
            let body = store.get(&o.key).await.unwrap().unwrap_or_default();
            out.push((o.key, body));
        }
        out
    })
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn no_secret_in_any_output_log_manifest_or_object() {
    let g = Garage::from_env();
    let registry_pw = "registry-pw-Secret-31337";
    let reg = Registry::start(Some(registry_pw));
    let f = Fixture::example("hello");
    let keys = f.dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(f.dir.join(".gitignore"), "/target/\n/keys/\n/home/\n").unwrap();
    f.commit("ignore keys");
    let (sk, _) = key_pair(&keys);
    let sk_text = std::fs::read_to_string(&sk).unwrap();
    let sk_b64 = sk_text.trim().split_once(':').unwrap().1.to_string();
    let s3_secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    let docker_auth = format!(
        "{{\"auths\":{{\"{}\":{{\"auth\":\"{}\"}}}}}}",
        reg.addr,
        B64.encode(format!("ci:{registry_pw}"))
    );
    let wrong_s3 = "wrong-s3-secret-Zq9x8w7v";
    let wrong_pw = "wrong-registry-pw-K2j4";
    let secrets: Vec<String> = vec![
        s3_secret.clone(),
        sk_b64.clone(),
        registry_pw.into(),
        B64.encode(format!("ci:{registry_pw}")),
        wrong_s3.into(),
        wrong_pw.into(),
        B64.encode(format!("ci:{wrong_pw}")),
    ];

    let bucket = g.bucket("secrets");
    let cache_bucket = g.bucket("secretcache");
    let url = g.url(&bucket, "");
    let cache_url = g.url(&cache_bucket, &format!("&secret-key={sk}"));
    let images = format!("docker://{}/hello", reg.addr);
    let env = |c: &mut std::process::Command| {
        c.env("RELEASE_DIST_SIGNING_KEY", &sk_text)
            .env("DOCKER_AUTH", &docker_auth)
            .env("HOME", f.dir.join("home"));
    };
    let mut runs: Vec<(&str, Run)> = Vec::new();
    runs.push((
        "build",
        f.run_with(
            &[
                "-v",
                "build",
                "-t",
                "linux/amd64",
                "-t",
                "linux/arm64",
                "--push-cache",
                &cache_url,
            ],
            env,
        )
        .ok(),
    ));
    runs.push((
        "cache push",
        f.run_with(
            &[
                "-v",
                "cache",
                "push",
                "--to",
                &cache_url,
                "target/release-dist/static/linux/amd64/hello",
            ],
            env,
        )
        .ok(),
    ));
    runs.push((
        "publish",
        f.run_with(
            &[
                "-v", "publish", "--tag", "v1.0.0", "--static", &url, "--images", &images,
                "--images", &url,
            ],
            env,
        )
        .ok(),
    ));
    let pub_file = keys.join("cache.pub");
    runs.push((
        "verify",
        f.run_with(
            &[
                "-v",
                "verify",
                "--from",
                &url,
                "-t",
                "hello:v1.0.0",
                "--key",
                pub_file.to_str().unwrap(),
            ],
            env,
        )
        .ok(),
    ));
    runs.push((
        "refresh-index",
        f.run_with(&["-v", "refresh-index", "--static", &url], env)
            .ok(),
    ));
    // Failures carry the SDK's and the registry client's messages: scrubbed too.
    runs.push((
        "publish, wrong S3 secret",
        f.run_with(
            &["-v", "publish", "--tag", "v1.0.1", "--static", &url],
            |c| {
                env(c);
                c.env("AWS_SECRET_ACCESS_KEY", wrong_s3);
            },
        )
        .fails_with(4, &["credentials"]),
    ));
    runs.push((
        "cache push, wrong S3 secret",
        f.run_with(
            &[
                "-v",
                "cache",
                "push",
                "--to",
                &cache_url,
                "target/release-dist/static/linux/arm64/hello",
            ],
            |c| {
                env(c);
                c.env("AWS_SECRET_ACCESS_KEY", wrong_s3);
            },
        )
        .fails_with(4, &[]),
    ));
    let wrong_auth = docker_auth.replace(
        &B64.encode(format!("ci:{registry_pw}")),
        &B64.encode(format!("ci:{wrong_pw}")),
    );
    runs.push((
        "publish, wrong registry password",
        f.run_with(
            &[
                "-v", "publish", "--tag", "v1.0.2", "--static", &url, "--images", &images,
            ],
            |c| {
                env(c);
                c.env("DOCKER_AUTH", &wrong_auth);
            },
        )
        .fails_with(4, &["$DOCKER_AUTH"]),
    ));
    runs.push((
        "publish, malformed DOCKER_AUTH",
        f.run_with(
            &[
                "-v", "publish", "--tag", "v1.0.3", "--static", &url, "--images", &images,
            ],
            |c| {
                env(c);
                c.env("DOCKER_AUTH", format!("not json {registry_pw}"));
            },
        )
        .fails_with(2, &["$DOCKER_AUTH"]),
    ));

    let mut searched = 0;
    for (what, run) in &runs {
        assert!(
            run.0.stdout.len() + run.0.stderr.len() > 0,
            "{what} said nothing at -v"
        );
        for (stream, bytes) in [("stdout", &run.0.stdout), ("stderr", &run.0.stderr)] {
            for s in &secrets {
                assert!(!contains(bytes, s), "{what}: {stream} holds a secret");
            }
            searched += 1;
        }
    }
    let mut files = vec![(
        "build.json".to_string(),
        std::fs::read(f.dist().join("build.json")).unwrap(),
    )];
    files.extend(all_objects(&g, &bucket));
    files.extend(all_objects(&g, &cache_bucket));
    assert!(files.iter().any(|(k, _)| k.ends_with(".intoto.jsonl")));
    assert!(files.iter().any(|(k, _)| k.ends_with(".narinfo")));
    for (name, bytes) in &files {
        for s in &secrets {
            assert!(!contains(bytes, s), "{name} holds a secret");
        }
    }
    assert!(
        searched >= 18 && files.len() > 20,
        "{searched} outputs, {} objects",
        files.len()
    );
}
