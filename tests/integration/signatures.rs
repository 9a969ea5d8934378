//! Signatures that users' own tools check: `gpg --verify SHA256SUMS.asc
//! SHA256SUMS` (Debian's gnupg) and `minisign -V` (Debian's minisign) on a
//! published release, each refusing a tampered file; a missing key refused
//! before anything is written; a re-run writes no signature again; no key
//! ever printed.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::util::{gpg_key, publish, Fixture};

fn run(program: &str, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `gpg --verify` of `sig` over `data` in a keyring holding only `public`.
fn gpg_verify(home: &Path, public: &Path, sig: &Path, data: &Path) -> Output {
    std::fs::create_dir_all(home).unwrap();
    let env = [("GNUPGHOME", home)];
    let import = run(
        "gpg",
        &["--batch", "--quiet", "--import", public.to_str().unwrap()],
        &env,
    );
    assert!(
        import.status.success(),
        "{}",
        String::from_utf8_lossy(&import.stderr)
    );
    run(
        "gpg",
        &[
            "--batch",
            "--verify",
            sig.to_str().unwrap(),
            data.to_str().unwrap(),
        ],
        &env,
    )
}

fn minisign_verify(public: &Path, file: &Path) -> Output {
    run(
        "minisign",
        &[
            "-V",
            "-p",
            public.to_str().unwrap(),
            "-m",
            file.to_str().unwrap(),
        ],
        &[],
    )
}

#[test]
fn gpg_and_minisign_check_a_signed_release_and_refuse_tampering() {
    let f = Fixture::standin();
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]\n",
            "[package.metadata.release-dist]\nsignatures = [\"openpgp\", \"minisign\"]\n",
        )
    });
    f.commit("signatures");
    // Unsigned, a release is refused by verify --require-signatures.
    let (sk, pk) = f.release_keys();
    let plain_pub = f.dir.join("keys/plain.pub");
    std::fs::write(&plain_pub, pk).unwrap();
    let plain = f.dir.join("out/plain");
    let unsigned = plain.to_str().unwrap();
    f.edit("Cargo.toml", |t| {
        t.replace("signatures = [\"openpgp\", \"minisign\"]\n", "")
    });
    f.commit("no signatures");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    publish(&f, unsigned, &sk, "v0.9.0", &[]).ok();
    f.run(&[
        "verify",
        "--from",
        unsigned,
        "-t",
        "hello:v0.9.0",
        "--key",
        plain_pub.to_str().unwrap(),
        "--require-signatures",
    ])
    .fails_with(
        5,
        &["SHA256SUMS: not signed (no SHA256SUMS.asc or SHA256SUMS.minisig)"],
    );
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]\n",
            "[package.metadata.release-dist]\nsignatures = [\"openpgp\", \"minisign\"]\n",
        )
    });
    f.commit("signatures again");
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let keys = f.dir.join("keys");
    let (gpg_secret, gpg_public) = gpg_key(&keys, "Hello Releases <release@example.org>");
    let (ms_secret, ms_public) = (keys.join("minisign.key"), keys.join("minisign.pub"));
    let made = run(
        "minisign",
        &[
            "-G",
            "-W",
            "-f",
            "-p",
            ms_public.to_str().unwrap(),
            "-s",
            ms_secret.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let out = f.dir.join("out-static");
    let to = out.to_str().unwrap();

    // A missing or unreadable key is refused before anything is written.
    let garbage = keys.join("garbage.key");
    std::fs::write(&garbage, "untrusted comment: x\nnot a key\n").unwrap();
    let bad_key = [
        "--openpgp-key",
        gpg_secret.to_str().unwrap(),
        "--minisign-key",
        garbage.to_str().unwrap(),
    ];
    publish(&f, to, &sk, "v1.0.0", &bad_key)
        .fails_with(2, &["cannot use the minisign key", "minisign -G"]);
    assert!(!out.exists(), "nothing was written");
    let gpg_arg = ["--openpgp-key", gpg_secret.to_str().unwrap()];
    publish(&f, to, &sk, "v1.0.0", &gpg_arg).fails_with(
        2,
        &[
            "no signing key for the release files (minisign)",
            "--minisign-key PATH",
        ],
    );
    assert!(!out.exists(), "nothing was written");

    let mut all = gpg_arg.to_vec();
    all.extend(["--minisign-key", ms_secret.to_str().unwrap()]);
    let done = publish(&f, to, &sk, "v1.0.0", &all).ok();
    let rel = out.join("df-dist-v1/hello/v1.0.0");
    let sums = rel.join("SHA256SUMS");

    // gpg accepts SHA256SUMS.asc with the public key imported.
    let home = f.dir.join("out/gnupg-verify");
    let good = gpg_verify(&home, &gpg_public, &rel.join("SHA256SUMS.asc"), &sums);
    let said = String::from_utf8_lossy(&good.stderr);
    assert!(
        good.status.success() && said.contains("Good signature"),
        "{said}"
    );
    // minisign accepts SHA256SUMS's and each file's, with the trusted comment.
    for file in [
        "SHA256SUMS",
        "linux/amd64/hello",
        "linux/arm64/hello",
        "install.sh",
    ] {
        let ok = minisign_verify(&ms_public, &rel.join(file));
        let said = String::from_utf8_lossy(&ok.stdout);
        assert!(
            ok.status.success(),
            "{file}: {said}{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(
            said.contains(&format!("file:{file}\trelease:hello v1.0.0")),
            "{file}: {said}"
        );
    }

    // One byte changed: both refuse.
    let tampered = f.dir.join("out/tampered");
    std::fs::create_dir_all(tampered.join("linux/amd64")).unwrap();
    let mut text = std::fs::read(&sums).unwrap();
    text[0] ^= 1;
    std::fs::write(tampered.join("SHA256SUMS"), &text).unwrap();
    std::fs::copy(
        rel.join("SHA256SUMS.minisig"),
        tampered.join("SHA256SUMS.minisig"),
    )
    .unwrap();
    let bad = gpg_verify(
        &home,
        &gpg_public,
        &rel.join("SHA256SUMS.asc"),
        &tampered.join("SHA256SUMS"),
    );
    assert!(!bad.status.success(), "gpg accepted a tampered SHA256SUMS");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("BAD signature"));
    assert!(!minisign_verify(&ms_public, &tampered.join("SHA256SUMS"))
        .status
        .success());
    let mut binary = std::fs::read(rel.join("linux/amd64/hello")).unwrap();
    let last = binary.len() - 1;
    binary[last] ^= 1;
    std::fs::write(tampered.join("linux/amd64/hello"), &binary).unwrap();
    std::fs::copy(
        rel.join("linux/amd64/hello.minisig"),
        tampered.join("linux/amd64/hello.minisig"),
    )
    .unwrap();
    assert!(
        !minisign_verify(&ms_public, &tampered.join("linux/amd64/hello"))
            .status
            .success()
    );

    // verify checks both with the public keys; a bad one, and an unsigned
    // release under --require-signatures, are refused (exit 5).
    let pk = plain_pub.clone();
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--from",
            to,
            "-t",
            "hello:v1.0.0",
            "--key",
            pk.to_str().unwrap(),
        ];
        args.extend([
            "--minisign-pub",
            ms_public.to_str().unwrap(),
            "--openpgp-pub",
            gpg_public.to_str().unwrap(),
        ]);
        args.extend(extra);
        f.run(&args)
    };
    let checked = verify(&["--require-signatures"]).ok();
    assert!(
        checked
            .stdout()
            .contains("SHA256SUMS.asc and SHA256SUMS.minisig good"),
        "{}",
        checked.stdout()
    );
    let minisig = rel.join("SHA256SUMS.minisig");
    let kept = std::fs::read(&minisig).unwrap();
    std::fs::copy(tampered.join("SHA256SUMS.minisig"), &minisig).unwrap();
    std::fs::write(
        &minisig,
        std::fs::read(rel.join("linux/amd64/hello.minisig")).unwrap(),
    )
    .unwrap();
    verify(&[]).fails_with(
        5,
        &["SHA256SUMS.minisig: not a good signature of SHA256SUMS by the given key"],
    );
    std::fs::write(&minisig, kept).unwrap();

    // The release page says how to verify, with the keys.
    let page = std::fs::read_to_string(out.join("_releases.html")).unwrap();
    let pk_line = std::fs::read_to_string(&ms_public).unwrap();
    let pk_b64 = pk_line.lines().last().unwrap().trim();
    assert!(page.contains("Verifying a release"), "{page}");
    assert!(
        page.contains(&format!("minisign -Vm SHA256SUMS -P {pk_b64}")),
        "{page}"
    );
    assert!(
        page.contains("gpg --verify SHA256SUMS.asc SHA256SUMS"),
        "{page}"
    );

    // A re-run plans no signature again: the ones there are good.
    let mut dry = vec!["--dry-run"];
    dry.extend(&all);
    let plan: Value =
        serde_json::from_str(publish(&f, to, &sk, "v1.0.0", &dry).ok().stdout().trim()).unwrap();
    let signatures: Vec<&Value> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| {
            o["key"].as_str().unwrap().ends_with(".minisig")
                || o["key"].as_str().unwrap().ends_with(".asc")
        })
        .collect();
    assert!(signatures.len() >= 5, "{plan}");
    assert!(signatures.iter().all(|o| o["action"] == "skip"), "{plan}");

    // promote carries the signatures the given keys check, and says so
    // when it cannot check them (then copies none).
    let prod = f.dir.join("out/prod");
    let promote = |to: &Path, extra: &[&str]| {
        let (from, to) = (out.to_str().unwrap(), to.to_str().unwrap());
        let mut args = vec!["promote", "hello:v1.0.0", "--from", from, "--to", to];
        args.extend(["--key", plain_pub.to_str().unwrap()]);
        args.extend(extra);
        f.run(&args)
    };
    let keys = [
        "--minisign-pub",
        ms_public.to_str().unwrap(),
        "--openpgp-pub",
        gpg_public.to_str().unwrap(),
    ];
    promote(&prod, &keys).ok();
    let prod_rel = prod.join("df-dist-v1/hello/v1.0.0");
    let good = gpg_verify(
        &home,
        &gpg_public,
        &prod_rel.join("SHA256SUMS.asc"),
        &prod_rel.join("SHA256SUMS"),
    );
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    for file in ["SHA256SUMS", "linux/amd64/hello", "install.sh"] {
        assert!(
            minisign_verify(&ms_public, &prod_rel.join(file))
                .status
                .success(),
            "{file} in production"
        );
    }
    let bare = f.dir.join("out/prod-bare");
    let said = promote(&bare, &[]).ok().stderr();
    assert!(
        said.contains("the source's signatures are not copied"),
        "{said}"
    );
    assert!(!bare
        .join("df-dist-v1/hello/v1.0.0/SHA256SUMS.minisig")
        .exists());
    // A signature that does not check is refused, and nothing is copied.
    let minisig = rel.join("SHA256SUMS.minisig");
    let kept = std::fs::read(&minisig).unwrap();
    std::fs::write(
        &minisig,
        std::fs::read(rel.join("linux/amd64/hello.minisig")).unwrap(),
    )
    .unwrap();
    let refused_to = f.dir.join("out/prod-refused");
    promote(&refused_to, &keys).fails_with(5, &["SHA256SUMS.minisig: not a good signature"]);
    assert!(
        !refused_to.join("df-dist-v1").exists(),
        "nothing was copied"
    );
    std::fs::write(&minisig, kept).unwrap();

    // No key's secret appears in what publish said.
    let printed = format!("{}{}", done.stdout(), done.stderr());
    let ms_text = std::fs::read_to_string(&ms_secret).unwrap();
    let secret_line = ms_text.lines().nth(1).unwrap();
    assert!(!printed.contains(secret_line));
    let gpg_text = std::fs::read_to_string(&gpg_secret).unwrap();
    let gpg_lines: Vec<&str> = gpg_text.lines().filter(|l| l.len() > 40).collect();
    assert!(gpg_lines.iter().all(|l| !printed.contains(l)));
    // Nor in any object published.
    for (path, _) in crate::util::snapshot(&out) {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains(secret_line), "{}", path.display());
        assert!(
            gpg_lines.iter().all(|l| !text.contains(l)),
            "{}",
            path.display()
        );
    }
}

/// A PATH holding every program of /usr/bin and /bin but `without`.
fn path_without(dir: &Path, without: &[&str]) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for d in ["/usr/bin", "/bin"] {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let name = e.file_name();
            let to = bin.join(&name);
            if !without.contains(&name.to_str().unwrap_or("")) && !to.exists() {
                let _ = std::os::unix::fs::symlink(e.path(), &to);
            }
        }
    }
    bin.display().to_string()
}

/// Runs the release's install.sh (from `release`, a directory) under dash
/// with `PATH=path`; (success, stderr).
fn install(release: &Path, dir: &Path, path: &str, extra: &[&str]) -> (bool, String) {
    let base = format!(
        "file://{}",
        release
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .display()
    );
    let out = Command::new("dash")
        .arg(release.join("install.sh"))
        .args([
            "--dir",
            dir.to_str().unwrap(),
            "--base-url",
            &base,
            "--arch",
            "amd64",
        ])
        .args(extra)
        .env("PATH", path)
        .env_remove("RELEASE_DIST_REQUIRE_SIGNATURE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn install_sh_checks_the_signature_when_it_can_and_fails_closed_when_asked() {
    let f = Fixture::standin();
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]\n",
            "[package.metadata.release-dist]\nsignatures = [\"openpgp\", \"minisign\"]\n",
        )
    });
    f.commit("signatures");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let keys = f.dir.join("keys");
    let (gpg_secret, _) = gpg_key(&keys, "Hello Releases <release@example.org>");
    let (ms_secret, ms_public) = (keys.join("minisign.key"), keys.join("minisign.pub"));
    let made = run(
        "minisign",
        &[
            "-G",
            "-W",
            "-f",
            "-p",
            ms_public.to_str().unwrap(),
            "-s",
            ms_secret.to_str().unwrap(),
        ],
        &[],
    );
    assert!(made.status.success());
    let out = f.dir.join("out-static");
    let args = [
        "--openpgp-key",
        gpg_secret.to_str().unwrap(),
        "--minisign-key",
        ms_secret.to_str().unwrap(),
    ];
    // Released at a time long before the keys were made (as a release of
    // an old commit signed with a new key is): gpg refuses a signature older
    // than its key, so the signature must be dated no earlier than the key.
    let published = crate::util::publish_args(out.to_str().unwrap(), &sk, "v1.0.0", &args);
    f.run_with(&published, |c| {
        c.env("SOURCE_DATE_EPOCH", "1000000000");
    })
    .ok();
    let rel = out.join("df-dist-v1/hello/v1.0.0");
    let binary = std::fs::read(rel.join("linux/amd64/hello")).unwrap();
    let work = f.dir.join("out/install");
    let everything = std::env::var("PATH").unwrap();

    // minisign installed: the signature is checked, then the binary.
    let (ok, said) = install(&rel, &work.join("a"), &everything, &[]);
    assert!(
        ok && said.contains("signature good: SHA256SUMS is signed by the release's minisign key"),
        "{said}"
    );
    assert_eq!(std::fs::read(work.join("a/hello")).unwrap(), binary);
    // gpg but no minisign: the OpenPGP signature is checked.
    let no_minisign = path_without(&work.join("p1"), &["minisign"]);
    let (ok, said) = install(
        &rel,
        &work.join("b"),
        &no_minisign,
        &["--require-signature"],
    );
    assert!(
        ok && said.contains("signed by the release's OpenPGP key"),
        "{said}"
    );
    // Neither: installs on the checksums and says so; refuses when a
    // signature is required, and installs nothing.
    let neither = path_without(&work.join("p2"), &["minisign", "gpg"]);
    let (ok, said) = install(&rel, &work.join("c"), &neither, &[]);
    assert!(
        ok && said.contains("only the checksums were checked"),
        "{said}"
    );
    let (ok, said) = install(&rel, &work.join("d"), &neither, &["--require-signature"]);
    assert!(
        !ok && said.contains("a signature is required: refused, nothing was installed"),
        "{said}"
    );
    assert!(!work.join("d/hello").exists());

    // A tampered binary with a SHA256SUMS that matches it: the signature
    // catches it.
    let evil = f.dir.join("out/evil/df-dist-v1/hello/v1.0.0");
    std::fs::create_dir_all(evil.join("linux/amd64")).unwrap();
    for file in ["install.sh", "SHA256SUMS.minisig", "SHA256SUMS.asc"] {
        std::fs::copy(rel.join(file), evil.join(file)).unwrap();
    }
    let mut bad = binary.clone();
    bad.extend_from_slice(b"evil");
    std::fs::write(evil.join("linux/amd64/hello"), &bad).unwrap();
    let sums = std::fs::read_to_string(rel.join("SHA256SUMS")).unwrap();
    let good_hex = crate::util::sha256_prefixed(&binary)["sha256:".len()..].to_string();
    let bad_hex = crate::util::sha256_prefixed(&bad)["sha256:".len()..].to_string();
    std::fs::write(evil.join("SHA256SUMS"), sums.replace(&good_hex, &bad_hex)).unwrap();
    for path in [&everything, &no_minisign] {
        let (ok, said) = install(&evil, &work.join("e"), path, &[]);
        assert!(!ok && said.contains("does not carry a good"), "{said}");
        assert!(!work.join("e/hello").exists(), "nothing was installed");
    }
}
