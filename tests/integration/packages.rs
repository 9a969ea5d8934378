//! Packages and their repositories, read by the real clients: apt-get and
//! apt-cache (a private state directory, a `signed-by` source), dpkg and
//! lintian, rpm and dnf, against Garage's web endpoint.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::garage::Garage;
use crate::util::{gpg_key, publish, publish_args, stock, Fixture, Run};

/// The example with the metadata packages need and `packages` on.
pub fn fixture(url: &str) -> Fixture {
    let f = Fixture::example("hello");
    f.edit("Cargo.toml", |t| {
        t.replacen(
            "publish = false\n",
            "publish = false\ndescription = \"Says hello from every target\"\nlicense = \"MIT\"\nauthors = [\"Jane Doe <jane@example.org>\"]\nhomepage = \"https://example.org/hello\"\n",
            1,
        ) + &format!(
            "\n[package.metadata.release-dist.packages]\nformats = [\"deb\", \"rpm\"]\nurl = \"{url}\"\n"
        )
    });
    f.commit("packages");
    f
}

/// The arguments of `publish --tag TAG` of the static release and the
/// packages, with events on standard error: util's publish line, with the
/// packages' key and no images.
fn packages_publish_args(url: &str, sk: &str, key: &Path, tag: &str) -> Vec<String> {
    let key = key.to_str().unwrap();
    let mut all = vec!["--message-format", "json"];
    all.extend(publish_args(
        url,
        sk,
        tag,
        &["--packages-key", key, "--no-images"],
    ));
    all.into_iter().map(String::from).collect()
}

/// Runs `publish --tag TAG` of the static release and the packages.
fn publish_packages(f: &Fixture, (url, sk): (&str, &str), key: &Path, tag: &str) -> Run {
    let key = key.to_str().unwrap();
    publish(f, url, sk, tag, &["--packages-key", key, "--no-images"])
}

/// apt with its own state, lists and sources, against one source line.
pub struct Apt {
    dir: tempfile::TempDir,
}

impl Apt {
    /// A private apt whose only source is `url`'s `suite`, signed by `keyring`.
    pub fn new(url: &str, suite: &str, keyring: &Path) -> Apt {
        let dir = tempfile::tempdir().unwrap();
        for d in [
            "lists/partial",
            "cache/archives/partial",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/apt.conf.d",
        ] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        std::fs::write(
            dir.path().join("etc/sources.list"),
            format!(
                "deb [signed-by={}] {url}/apt {suite} main\n",
                keyring.display()
            ),
        )
        .unwrap();
        Apt { dir }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let d = self.dir.path().display();
        let mut cmd = Command::new(program);
        for o in [
            format!("Dir::Etc={d}/etc"),
            format!("Dir::State={d}"),
            format!("Dir::State::Lists={d}/lists"),
            format!("Dir::Cache={d}/cache"),
            "Dir::State::status=/var/lib/dpkg/status".into(),
            "APT::Sandbox::User=root".into(),
            "Acquire::Retries=0".into(),
        ] {
            cmd.args(["-o", &o]);
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    }

    /// Runs apt-get or apt-cache.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `apt-get update`, which must succeed (with no warning that it ignored something).
    pub fn update_ok(&self, context: &str) {
        let out = self.run("apt-get", &["update"]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && !text.contains("W: ") && !text.contains("E: "),
            "{context}: apt-get update:\n{text}"
        );
    }

    /// The versions `apt-cache policy` lists for `name`.
    pub fn versions(&self, name: &str) -> Vec<String> {
        let out = self.run("apt-cache", &["policy", name]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let table = text.split("Version table:").nth(1).unwrap_or("");
        table
            .lines()
            .filter(|l| l.trim_end().ends_with(" 500") && !l.contains("http"))
            .filter_map(|l| {
                l.split_whitespace()
                    .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
            })
            .map(str::to_string)
            .collect()
    }
}

/// Downloads `url` into `path`.
pub fn download(url: &str, path: &Path) {
    let out = Command::new("curl")
        .args(["-sf", "-o", path.to_str().unwrap(), url])
        .status()
        .unwrap();
    assert!(out.success(), "curl {url}");
}

/// dnf, in its own install root, downloading `name` from the repository at
/// `baseurl` with both signature checks on and `gpgkey` trusted.
pub fn dnf_download(baseurl: &str, gpgkey: &str, name: &str, into: &Path) -> Output {
    let root = tempfile::tempdir().unwrap();
    Command::new("dnf")
        .args([
            "-y",
            "--installroot",
            root.path().to_str().unwrap(),
            "--releasever=1",
            "--disablerepo=*",
            &format!("--repofrompath=hello,{baseurl}"),
            "--setopt=hello.gpgcheck=1",
            "--setopt=hello.repo_gpgcheck=1",
            &format!("--setopt=hello.gpgkey={gpgkey}"),
            "--forcearch=x86_64",
            "install",
            "--downloadonly",
            &format!("--downloaddir={}", into.display()),
            name,
        ])
        .output()
        .unwrap()
}

fn is_root() -> bool {
    stock("id", &["-u"]).trim() == "0"
}

#[test]
fn apt_and_dnf_install_the_packages_from_garage_and_refuse_a_wrong_key_or_a_tampered_index() {
    let g = Garage::from_env();
    let bucket = g.bucket("pkgs");
    let web = g.web_url(&bucket);
    crate::util::hosts_entry(web.trim_start_matches("http://").split(':').next().unwrap());
    let keys = tempfile::tempdir().unwrap();
    let (secret, _) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let (_, other_public) = gpg_key(keys.path(), "Someone Else <else@example.org>");
    let f = fixture(&web);
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm/v7"])
        .ok();
    let url = g.url(&bucket, "");
    let (sk, _) = f.release_keys();
    let run = publish_packages(&f, (&url, &sk), &secret, "v1.0.0").ok();
    assert!(!run.stderr().contains("PRIVATE KEY"), "the key leaked");

    // apt: update, the candidate, install, and the installed binary runs.
    let dl = tempfile::tempdir().unwrap();
    let keyring = dl.path().join("hello-archive-keyring.gpg");
    download(&format!("{web}/apt/hello-archive-keyring.gpg"), &keyring);
    let apt = Apt::new(&web, "stable", &keyring);
    apt.update_ok("the first publish");
    assert_eq!(apt.versions("hello"), ["1.0.0"]);
    if is_root() {
        let out = apt.run("apt-get", &["install", "-y", "hello"]);
        assert!(
            out.status.success(),
            "apt-get install: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The installed Rust program runs and prints its version.
        let hello = stock("/usr/bin/hello", &["--version"]);
        let _ = Command::new("dpkg").args(["--purge", "hello"]).output();
        assert_eq!(hello.trim_end(), "hello 0.1.0 (x86_64-unknown-linux-gnu)");
    } else {
        eprintln!("not root: apt-get install is not tried");
    }

    // lintian accepts each .deb but for the tags this tool means to get.
    let dist = f.dist().join("packages");
    for deb in [
        "linux/amd64/hello_1.0.0_amd64.deb",
        "linux/arm/v7/hello_1.0.0_armhf.deb",
    ] {
        let out = Command::new("lintian")
            .args(["--no-cfg", dist.join(deb).to_str().unwrap()])
            .output()
            .unwrap();
        let tags: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2).map(str::to_string))
            .collect();
        for t in &tags {
            assert!(
                ACCEPTED_LINTIAN_TAGS.contains(&t.as_str()),
                "{deb}: lintian says {t}"
            );
        }
    }

    // rpm -K with the key imported: digests and signatures OK; a flipped byte is not.
    let rpmdb = tempfile::tempdir().unwrap();
    let db = rpmdb.path().to_str().unwrap();
    let rpm_key = dl.path().join("RPM-GPG-KEY-hello");
    download(&format!("{web}/rpm/RPM-GPG-KEY-hello"), &rpm_key);
    stock(
        "rpmkeys",
        &["--dbpath", db, "--import", rpm_key.to_str().unwrap()],
    );
    let rpm = dl.path().join("hello-1.0.0-1.x86_64.rpm");
    download(
        &format!("{web}/rpm/stable/packages/hello-1.0.0-1.x86_64.rpm"),
        &rpm,
    );
    let checked = stock("rpmkeys", &["--dbpath", db, "-K", rpm.to_str().unwrap()]);
    assert!(
        checked.trim_end().ends_with("digests signatures OK"),
        "{checked}"
    );
    let mut bytes = std::fs::read(&rpm).unwrap();
    let last = bytes.len() - 10;
    bytes[last] ^= 0xff;
    let tampered = dl.path().join("tampered.rpm");
    std::fs::write(&tampered, &bytes).unwrap();
    let out = Command::new("rpmkeys")
        .args(["--dbpath", db, "-K", tampered.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "rpm -K accepts a tampered rpm");

    // dnf reads the signed repository and downloads the same bytes.
    let into = tempfile::tempdir().unwrap();
    let out = dnf_download(
        &format!("{web}/rpm/stable/"),
        &format!("{web}/rpm/RPM-GPG-KEY-hello"),
        "hello",
        into.path(),
    );
    assert!(
        out.status.success(),
        "dnf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(into.path().join("hello-1.0.0-1.x86_64.rpm")).unwrap(),
        std::fs::read(&rpm).unwrap()
    );
    // The .repo file users install names the repository and both checks.
    let repo = String::from_utf8(crate::util::stock_bytes(
        "curl",
        &["-sf", &format!("{web}/rpm/hello.repo")],
    ))
    .unwrap();
    assert!(
        repo.contains(&format!("baseurl={web}/rpm/stable/")) && repo.contains("repo_gpgcheck=1"),
        "{repo}"
    );

    // The release page tells users how to install: the same sources.list
    // line apt just used, and the .repo file.
    let html = String::from_utf8(crate::util::stock_bytes(
        "curl",
        &["-sf", &format!("{web}/_releases.html")],
    ))
    .unwrap();
    let line = format!(
        "deb [signed-by=/usr/share/keyrings/hello-archive-keyring.gpg] {web}/apt stable main"
    );
    assert!(html.contains(&line), "{html}");
    assert!(html.contains(&format!("{web}/rpm/hello.repo")) && html.contains("<h2>Packages</h2>"));

    // The same commit builds the same package bytes.
    let published_deb = crate::util::stock_bytes(
        "curl",
        &[
            "-sf",
            &format!("{web}/apt/pool/main/h/hello/hello_1.0.0_amd64.deb"),
        ],
    );
    // A second publish of the same tag builds them again from nothing.
    std::fs::remove_dir_all(&dist).unwrap();
    publish_packages(&f, (&url, &sk), &secret, "v1.0.0").ok();
    assert_eq!(
        std::fs::read(dist.join("linux/amd64/hello_1.0.0_amd64.deb")).unwrap(),
        published_deb
    );
    assert_eq!(
        std::fs::read(dist.join("linux/amd64/hello-1.0.0-1.x86_64.rpm")).unwrap(),
        std::fs::read(&rpm).unwrap()
    );

    // The packages are in SHA256SUMS and the provenance: verify passes.
    let key = f.dir.join("keys/cache.pub");
    f.run(&[
        "verify",
        "--from",
        &url,
        "-t",
        "hello:v1.0.0",
        "--key",
        key.to_str().unwrap(),
    ])
    .ok();

    // Another key: apt and dnf refuse the repository.
    let other_keyring = dl.path().join("other.gpg");
    let dearmor = Command::new("gpg")
        .args([
            "--dearmor",
            "-o",
            other_keyring.to_str().unwrap(),
            other_public.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(dearmor.success());
    let wrong = Apt::new(&web, "stable", &other_keyring);
    let out = wrong.run("apt-get", &["update"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("NO_PUBKEY") || text.contains("is not signed"),
        "apt-get update with the wrong key: {text}"
    );
    assert!(wrong.versions("hello").is_empty());
    let out = dnf_download(
        &format!("{web}/rpm/stable/"),
        &format!("file://{}", other_public.display()),
        "hello",
        into.path(),
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad GPG signature"),
        "dnf with the wrong key: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A tampered Packages file: apt-get update refuses it.
    let listing = crate::util::keys(&g, &bucket);
    for k in listing.iter().filter(|k| k.contains("binary-amd64/")) {
        let evil = keys.path().join("evil");
        std::fs::write(&evil, b"Package: evil\n").unwrap();
        g.put(&bucket, k, release_dist::objstore::Body::File(evil));
    }
    let fresh = Apt::new(&web, "stable", &keyring);
    let out = fresh.run("apt-get", &["update"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("Hash Sum mismatch")
            || text.contains("unexpected size")
            || text.contains("File has unexpected size"),
        "apt-get update with a tampered Packages: {text}"
    );
}

/// The tags lintian gives a package of a static binary, accepted:
/// - `statically-linked-binary`: static binaries are what this tool ships
///   (one file per target, no shared-library dependencies);
/// - `no-manual-page`: a man page is the project's to add (`packages.files`);
/// - `shared-library-lacks-prerequisites`: lintian's reading of a static-pie
///   executable (ELF type DYN, no `DT_NEEDED`), which is what rustc makes
///   of an x86_64 `+crt-static` build (`file` says "static-pie linked").
pub const ACCEPTED_LINTIAN_TAGS: &[&str] = &[
    "statically-linked-binary",
    "no-manual-page",
    "shared-library-lacks-prerequisites",
];

/// The versions dnf lists of `name` in the repository at `baseurl`.
fn dnf_versions(baseurl: &str, gpgkey: &str) -> Vec<String> {
    let root = tempfile::tempdir().unwrap();
    let out = Command::new("dnf")
        .args([
            "-y",
            "-q",
            "--installroot",
            root.path().to_str().unwrap(),
            "--releasever=1",
            "--disablerepo=*",
            &format!("--repofrompath=hello,{baseurl}"),
            "--setopt=hello.gpgcheck=1",
            "--setopt=hello.repo_gpgcheck=1",
            &format!("--setopt=hello.gpgkey={gpgkey}"),
            "--forcearch=x86_64",
            "list",
            "--showduplicates",
            "hello",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("hello."))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    v.sort();
    v
}

/// Publishes `tag`, killed right after it writes the first object whose key
/// contains `point`; returns whether that point was reached.
fn publish_killed_at(
    f: &Fixture,
    (url, sk): (&str, &str),
    key: &Path,
    tag: &str,
    point: &str,
) -> bool {
    use std::io::BufRead;
    let mut child = f
        .command(
            &packages_publish_args(url, sk, key, tag)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut reached = false;
    for line in lines.map_while(Result::ok) {
        if line.starts_with(r#"{"event":"written""#) && line.contains(point) {
            let _ = child.kill();
            reached = true;
            break;
        }
    }
    let _ = crate::util::wait_bounded(&mut child, std::time::Duration::from_secs(60));
    reached
}

#[test]
fn concurrent_publishes_both_land_and_a_publish_killed_anywhere_leaves_apt_working() {
    let g = Garage::from_env();
    let bucket = g.bucket("pkgrace");
    let web = g.web_url(&bucket);
    crate::util::hosts_entry(web.trim_start_matches("http://").split(':').next().unwrap());
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture(&web);
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let url = g.url(&bucket, "");

    // Two versions at once: both end up in Packages and in primary.
    let spawn = |tag: &str| {
        let args = packages_publish_args(&url, &sk, &secret, tag);
        f.command(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("v1.0.0"), spawn("v1.1.0"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dl = tempfile::tempdir().unwrap();
    let keyring = dl.path().join("hello.gpg");
    download(&format!("{web}/apt/hello-archive-keyring.gpg"), &keyring);
    let apt = Apt::new(&web, "stable", &keyring);
    apt.update_ok("two publishes at once");
    assert_eq!(apt.versions("hello"), ["1.1.0", "1.0.0"]);
    let gpgkey = format!("file://{}", public.display());
    let rpm_repo = format!("{web}/rpm/stable/");
    assert_eq!(dnf_versions(&rpm_repo, &gpgkey), ["1.0.0-1", "1.1.0-1"]);

    // Certain races: a publish lists the packages, then (held by the test
    // hook) writes the indices late, after another version fully landed;
    // first in the YUM gap, then in the APT gap. Its re-listing after the
    // write must put the other version back.
    for (slow, fast, gap) in [
        ("v0.9.0", "v0.9.1", "rpm/stable/index/hello-0.9.0"),
        ("v0.9.2", "v0.9.3", "repomd.xml.asc"),
    ] {
        use std::io::BufRead;
        let mut held = f
            .command(
                &packages_publish_args(&url, &sk, &secret, slow)
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>(),
            )
            .env("RELEASE_DIST_TEST_REPO_DELAY_MS", "3000")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(held.stderr.take().unwrap()).lines();
        assert!(
            lines
                .by_ref()
                .map_while(Result::ok)
                .any(|l| l.contains(gap)),
            "{slow} never wrote {gap}"
        );
        publish_packages(&f, (&url, &sk), &secret, fast).ok();
        for _ in lines.by_ref() {}
        assert!(held.wait().unwrap().success(), "{slow}");
    }
    let after_races = Apt::new(&web, "stable", &keyring);
    after_races.update_ok("after the races");
    assert_eq!(
        after_races.versions("hello"),
        ["1.1.0", "1.0.0", "0.9.3", "0.9.2", "0.9.1", "0.9.0"]
    );
    assert_eq!(
        dnf_versions(&rpm_repo, &gpgkey),
        ["0.9.0-1", "0.9.1-1", "0.9.2-1", "0.9.3-1", "1.0.0-1", "1.1.0-1"]
    );

    // Killed at each point of writing the repositories: apt-get update works
    // against what is there (the old state or the new), and the re-run completes.
    let points = [
        "rpm/stable/packages/",
        "rpm/stable/index/",
        "-primary.xml.gz",
        "repodata/repomd.xml",
        "apt/pool/",
        "apt/index/",
        "/by-hash/SHA256/",
        "binary-amd64/Packages.xz",
        "dists/stable/Release",
        "dists/stable/Release.gpg",
    ];
    let mut expected: Vec<String> = ["1.1.0", "1.0.0", "0.9.3", "0.9.2", "0.9.1", "0.9.0"]
        .map(String::from)
        .to_vec();
    for (i, point) in points.iter().enumerate() {
        let tag = format!("v1.{}.0", i + 2);
        assert!(
            publish_killed_at(&f, (&url, &sk), &secret, &tag, point),
            "{point} was never written"
        );
        Apt::new(&web, "stable", &keyring).update_ok(&format!("killed after {point}"));
        publish_packages(&f, (&url, &sk), &secret, &tag).ok();
        expected.insert(0, tag[1..].to_string());
        let again = Apt::new(&web, "stable", &keyring);
        again.update_ok(&format!("re-run after {point}"));
        let mut seen = again.versions("hello");
        seen.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(seen, want, "after the re-run of {tag}");
        assert_eq!(
            dnf_versions(&rpm_repo, &gpgkey).len(),
            want.len(),
            "dnf, after the re-run of {tag}"
        );
    }
}

#[test]
fn versions_sort_as_dpkg_and_rpm_sort_them() {
    use release_dist::linuxpkg::version::{map, VersionInput};
    let commit = "abcdef0123456789abcdef0123456789abcdef01";
    let v = |tag: &str, time: i64, released: bool| {
        map(&VersionInput {
            tag,
            crate_version: "1.0.0",
            commit,
            commit_time: time,
            base_released: released,
        })
        .unwrap()
    };
    // Oldest first: development builds before 1.0.0 is out, its release
    // candidate, 1.0.0, development builds after it, then 1.0.1.
    let ordered = [
        v(commit, 1_700_000_000, false),
        v("nightly", 1_700_000_500, false),
        v("v1.0.0-rc.1", 0, false),
        v("v1.0.0", 0, false),
        v(commit, 1_800_000_000, true),
        v(commit, 1_800_000_500, true),
        v("v1.0.1-rc.1", 0, true),
        v("v1.0.1", 0, true),
    ];
    for pair in ordered.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let lt = Command::new("dpkg")
            .args(["--compare-versions", &a.deb, "lt", &b.deb])
            .status()
            .unwrap();
        assert!(lt.success(), "dpkg: {} is not older than {}", a.deb, b.deb);
        let cmp = stock(
            "rpm",
            &[
                "--eval",
                &format!(
                    "%{{lua: print(rpm.vercmp('{}-{}', '{}-{}'))}}",
                    a.rpm, a.rpm_release, b.rpm, b.rpm_release
                ),
            ],
        );
        assert_eq!(
            cmp.trim(),
            "-1",
            "rpm: {} is not older than {}",
            a.rpm,
            b.rpm
        );
    }
}

#[test]
fn bad_package_input_is_refused_before_anything_is_written() {
    let keys = tempfile::tempdir().unwrap();
    let (secret, _) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture("https://dl.example.org");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let out = f.dir.join("out");
    let out_s = out.to_str().unwrap().to_string();
    let attempt = |key: Option<&Path>, tag: &str| {
        let mut args = vec![
            "publish",
            "--static",
            &out_s,
            "--signing-key",
            &sk,
            "--no-images",
            "--tag",
            tag,
        ];
        let k;
        if let Some(p) = key {
            k = p.to_str().unwrap().to_string();
            args.extend(["--packages-key", &k]);
        }
        let run = f.run_with(&args, |c| {
            c.env_remove("RELEASE_DIST_PACKAGES_KEY");
        });
        assert!(!out.exists(), "something was published");
        run
    };
    // No key, then a key file that is not a key.
    attempt(None, "v1.0.0").fails_with(
        2,
        &[
            "no signing key for the packages",
            "--packages-key PATH",
            "$RELEASE_DIST_PACKAGES_KEY",
        ],
    );
    let junk = keys.path().join("junk.asc");
    std::fs::write(&junk, "not a key at all").unwrap();
    attempt(Some(&junk), "v1.0.0").fails_with(
        2,
        &[
            "cannot use the OpenPGP key",
            "not an armored OpenPGP secret key",
            "gpg --armor --export-secret-keys",
        ],
    );
    // A version no ordering can place.
    attempt(Some(&secret), "v1.2")
        .fails_with(2, &["release v1.2", "looks like a version but is not"]);
    // A name Debian refuses, and a target left without an rpm architecture.
    for (line, needle) in [
        (
            "name = \"Hello_World\"",
            "package.metadata.release-dist.packages.name",
        ),
        (
            "arch = { \"linux/amd64\" = { deb = \"amd64\" } }",
            "package.metadata.release-dist.packages.arch.\"linux/amd64\".rpm",
        ),
    ] {
        f.edit("Cargo.toml", |t| {
            t.replace(
                "formats = [\"deb\", \"rpm\"]",
                &format!("formats = [\"deb\", \"rpm\"]\n{line}"),
            )
        });
        f.commit(line);
        let run = attempt(Some(&secret), "v1.0.0").fails_with(2, &[needle]);
        let key_text = std::fs::read_to_string(&secret).unwrap();
        let body = key_text.lines().nth(2).unwrap();
        assert!(!run.stderr().contains(body), "the key leaked");
        f.edit("Cargo.toml", |t| t.replace(&format!("\n{line}"), ""));
        f.commit("undo");
    }
    // A development release sorts before the coming 0.1.0 (no v0.1.0 tag yet).
    f.run_with(
        &[
            "publish",
            "--static",
            &out_s,
            "--signing-key",
            &sk,
            "--no-images",
            "--packages-key",
            secret.to_str().unwrap(),
        ],
        |c| {
            c.env_remove("RELEASE_DIST_PACKAGES_KEY");
        },
    )
    .ok();
    let debs: Vec<String> = std::fs::read_dir(out.join("apt/pool/main/h/hello"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        debs.len() == 1 && debs[0].starts_with("hello_0.1.0~git"),
        "{debs:?}"
    );
}

#[test]
fn rm_takes_a_release_out_of_the_repositories_first_then_deletes_its_packages() {
    let g = Garage::from_env();
    let bucket = g.bucket("pkgrm");
    let web = g.web_url(&bucket);
    crate::util::hosts_entry(web.trim_start_matches("http://").split(':').next().unwrap());
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture(&web);
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let url = g.url(&bucket, "");
    for tag in ["v1.0.0", "v1.1.0"] {
        publish_packages(&f, (&url, &sk), &secret, tag).ok();
    }
    let dl = tempfile::tempdir().unwrap();
    let keyring = dl.path().join("hello.gpg");
    download(&format!("{web}/apt/hello-archive-keyring.gpg"), &keyring);
    let gpgkey = format!("file://{}", public.display());
    let rpm_repo = format!("{web}/rpm/stable/");
    let rm = |extra: &[&str]| {
        let mut args = vec![
            "--message-format",
            "json",
            "rm",
            "hello:v1.1.0",
            "--force",
            "--static",
            &url,
        ];
        args.extend_from_slice(extra);
        f.run_with(&args, |c| {
            c.env_remove("RELEASE_DIST_PACKAGES_KEY");
        })
    };
    // The plan names the entries, the indices and the packages.
    let plan: serde_json::Value = serde_json::from_str(&rm(&["--dry-run"]).ok().stdout()).unwrap();
    let repo_keys: Vec<&str> = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["phase"] == "repositories")
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert!(
        repo_keys.contains(&"apt/index/stable/amd64/hello_1.1.0_amd64.deb"),
        "{repo_keys:?}"
    );
    assert!(
        repo_keys.contains(&"apt/pool/main/h/hello/hello_1.1.0_amd64.deb"),
        "{repo_keys:?}"
    );
    assert!(
        repo_keys.contains(&"rpm/stable/packages/hello-1.1.0-1.x86_64.rpm"),
        "{repo_keys:?}"
    );
    // Without the key nothing changes.
    rm(&[]).fails_with(2, &["no signing key for the packages", "--packages-key"]);
    let apt = Apt::new(&web, "stable", &keyring);
    apt.update_ok("after a refused rm");
    assert_eq!(apt.versions("hello"), ["1.1.0", "1.0.0"]);
    // With it (each delete held back by the test hook, while apt reads the
    // repository all along): every version apt lists can be downloaded at
    // every moment; then the release is out of both repositories and its
    // packages are gone.
    let mut child = f
        .command(&[
            "rm",
            "hello:v1.1.0",
            "--force",
            "--static",
            &url,
            "--packages-key",
            secret.to_str().unwrap(),
        ])
        .env("RELEASE_DIST_TEST_DELETE_PAUSE_MS", "700")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut looks = 0;
    while child.try_wait().unwrap().is_none() {
        let reader = Apt::new(&web, "stable", &keyring);
        reader.update_ok("during rm");
        for v in reader.versions("hello") {
            let code = stock(
                "curl",
                &[
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    &format!("{web}/apt/pool/main/h/hello/hello_{v}_amd64.deb"),
                ],
            );
            assert_eq!(
                code, "200",
                "apt lists {v} during rm, but its package is gone"
            );
        }
        looks += 1;
    }
    assert!(child.wait().unwrap().success());
    assert!(looks >= 3, "only {looks} looks during rm");
    let apt = Apt::new(&web, "stable", &keyring);
    apt.update_ok("after rm");
    assert_eq!(apt.versions("hello"), ["1.0.0"]);
    assert_eq!(dnf_versions(&rpm_repo, &gpgkey), ["1.0.0-1"]);
    let status = |path: &str| {
        stock(
            "curl",
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{web}/{path}"),
            ],
        )
    };
    assert_eq!(status("apt/pool/main/h/hello/hello_1.1.0_amd64.deb"), "404");
    assert_eq!(
        status("rpm/stable/packages/hello-1.1.0-1.x86_64.rpm"),
        "404"
    );
    assert_eq!(status("apt/pool/main/h/hello/hello_1.0.0_amd64.deb"), "200");
}

#[test]
fn promote_puts_the_packages_into_productions_repositories() {
    let g = Garage::from_env();
    let (staging, prod) = (g.bucket("pkgstage"), g.bucket("pkgprod"));
    let web = g.web_url(&prod);
    crate::util::hosts_entry(web.trim_start_matches("http://").split(':').next().unwrap());
    let keys = tempfile::tempdir().unwrap();
    let (secret, public) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture(&web);
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let (surl, purl) = (g.url(&staging, ""), g.url(&prod, ""));
    publish_packages(&f, (&surl, &sk), &secret, "v1.0.0").ok();
    let key = f.dir.join("keys/cache.pub");
    let promote = |extra: &[&str]| {
        let mut args = vec![
            "promote",
            "hello:v1.0.0",
            "--from",
            &surl,
            "--to",
            &purl,
            "--key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        f.run_with(&args, |c| {
            c.env_remove("RELEASE_DIST_PACKAGES_KEY");
        })
    };
    promote(&[]).fails_with(2, &["no signing key for the packages"]);
    assert_eq!(
        g.object_count(&prod),
        0,
        "a refused promote copied something"
    );
    promote(&["--packages-key", secret.to_str().unwrap()]).ok();
    let dl = tempfile::tempdir().unwrap();
    let keyring = dl.path().join("hello.gpg");
    download(&format!("{web}/apt/hello-archive-keyring.gpg"), &keyring);
    let apt = Apt::new(&web, "stable", &keyring);
    apt.update_ok("production after promote");
    assert_eq!(apt.versions("hello"), ["1.0.0"]);
    let gpgkey = format!("file://{}", public.display());
    assert_eq!(
        dnf_versions(&format!("{web}/rpm/stable/"), &gpgkey),
        ["1.0.0-1"]
    );
    let repo = String::from_utf8(crate::util::stock_bytes(
        "curl",
        &["-sf", &format!("{web}/rpm/hello.repo")],
    ))
    .unwrap();
    assert!(
        repo.contains(&format!("baseurl={web}/rpm/stable/")),
        "{repo}"
    );
    let prod_deb = crate::util::stock_bytes(
        "curl",
        &[
            "-sf",
            &format!("{web}/apt/pool/main/h/hello/hello_1.0.0_amd64.deb"),
        ],
    );
    let staged = crate::util::stock_bytes(
        "curl",
        &[
            "-sf",
            &format!(
                "{}/apt/pool/main/h/hello/hello_1.0.0_amd64.deb",
                g.web_url(&staging)
            ),
        ],
    );
    assert_eq!(prod_deb, staged, "the same package bytes");
}

#[test]
fn configured_files_are_installed_and_a_conffile_is_kept_as_one() {
    let keys = tempfile::tempdir().unwrap();
    let (secret, _) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture("https://dl.example.org");
    std::fs::create_dir_all(f.dir.join("dist")).unwrap();
    std::fs::write(
        f.dir.join("dist/hello.service"),
        "[Service]\nExecStart=/usr/bin/hello\n",
    )
    .unwrap();
    std::fs::write(f.dir.join("dist/hello.toml"), "greeting = \"hello\"\n").unwrap();
    f.edit("Cargo.toml", |t| {
        t.replace(
            "formats = [\"deb\", \"rpm\"]",
            "formats = [\"deb\", \"rpm\"]\nfiles = [\n  { source = \"dist/hello.service\", dest = \"/lib/systemd/system/hello.service\" },\n  { source = \"dist/hello.toml\", dest = \"/etc/hello/config.toml\", conffile = true },\n]",
        )
    });
    f.commit("files");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let out = f.dir.join("out");
    let publish = |dry: bool| {
        let mut args = vec![
            "publish",
            "--static",
            out.to_str().unwrap(),
            "--signing-key",
            &sk,
            "--packages-key",
            secret.to_str().unwrap(),
            "--no-images",
            "--tag",
            "v1.0.0",
        ];
        if dry {
            args.insert(0, "--dry-run");
        }
        f.run(&args).ok();
    };
    // A dry run builds the packages to plan, and writes nothing: not to the
    // destination, not beside the build.
    publish(true);
    assert!(
        !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
        "a dry run wrote to the destination"
    );
    assert!(
        !f.dist().join("packages").exists(),
        "a dry run left packages behind"
    );
    // The publish builds them beside the build, where they are read here.
    publish(false);
    let dir = f.dist().join("packages/linux/amd64");
    let deb = dir.join("hello_1.0.0_amd64.deb");
    let contents = stock("dpkg-deb", &["-c", deb.to_str().unwrap()]);
    for (path, mode) in [
        ("./usr/bin/hello", "-rwxr-xr-x"),
        ("./lib/systemd/system/hello.service", "-rw-r--r--"),
        ("./etc/hello/config.toml", "-rw-r--r--"),
    ] {
        assert!(
            contents
                .lines()
                .any(|l| l.starts_with(mode) && l.ends_with(path) && l.contains("root/root")),
            "{path}: {contents}"
        );
    }
    let ctrl = tempfile::tempdir().unwrap();
    stock(
        "dpkg-deb",
        &[
            "--control",
            deb.to_str().unwrap(),
            ctrl.path().to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(ctrl.path().join("conffiles")).unwrap(),
        "/etc/hello/config.toml\n"
    );
    let rpm = dir.join("hello-1.0.0-1.x86_64.rpm");
    let listed = stock("rpm", &["-qlp", rpm.to_str().unwrap()]);
    assert!(
        listed.contains("/lib/systemd/system/hello.service") && listed.contains("/usr/bin/hello"),
        "{listed}"
    );
    let config = stock("rpm", &["-qcp", rpm.to_str().unwrap()]);
    assert_eq!(config.trim(), "/etc/hello/config.toml");
    // dpkg installs it into a scratch root: the conffile is registered as one.
    let root = tempfile::tempdir().unwrap();
    let admin = root.path().join("var/lib/dpkg");
    std::fs::create_dir_all(admin.join("updates")).unwrap();
    std::fs::create_dir_all(admin.join("info")).unwrap();
    std::fs::write(admin.join("status"), "").unwrap();
    let r = root.path().to_str().unwrap();
    let install = Command::new("dpkg")
        .args([
            &format!("--root={r}"),
            &format!("--admindir={}", admin.display()),
            "--force-script-chrootless",
            "--force-not-root",
            "--log=/dev/null",
            "-i",
            deb.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "dpkg -i: {}",
        String::from_utf8_lossy(&install.stderr)
    );
    let status = std::fs::read_to_string(admin.join("status")).unwrap();
    assert!(
        status.contains("Conffiles:\n /etc/hello/config.toml "),
        "{status}"
    );
    assert!(root.path().join("usr/bin/hello").is_file());
}

#[test]
fn gc_and_rm_keep_a_package_another_release_still_has() {
    let g = Garage::from_env();
    let bucket = g.bucket("pkggc");
    let web = g.web_url(&bucket);
    crate::util::hosts_entry(web.trim_start_matches("http://").split(':').next().unwrap());
    let keys = tempfile::tempdir().unwrap();
    let (secret, _) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture(&web);
    let (sk, _) = f.release_keys();
    let url = g.url(&bucket, "");
    // Two extra tags of one commit share a package version; a third commit has its own.
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    publish_packages(&f, (&url, &sk), &secret, "nightly-1").ok();
    publish_packages(&f, (&url, &sk), &secret, "nightly-2").ok();
    std::fs::write(f.dir.join("NOTES"), "second commit\n").unwrap();
    f.commit("second commit");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    publish_packages(&f, (&url, &sk), &secret, "nightly-3").ok();
    let dl = tempfile::tempdir().unwrap();
    let keyring = dl.path().join("hello.gpg");
    download(&format!("{web}/apt/hello-archive-keyring.gpg"), &keyring);
    let versions = || {
        let apt = Apt::new(&web, "unstable", &keyring);
        apt.update_ok("unstable");
        apt.versions("hello")
    };
    let all = versions();
    assert_eq!(all.len(), 2, "{all:?}");
    let pool = |v: &str| {
        format!(
            "{web}/apt/pool/main/h/hello/hello_{}_amd64.deb",
            v.replace('~', "%7E")
        )
    };
    let status = |u: &str| stock("curl", &["-s", "-o", "/dev/null", "-w", "%{http_code}", u]);
    let with_key = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--static", &url, "--packages-key", secret.to_str().unwrap()]);
        f.run(&a)
    };
    // rm of one of the two: the other still has the package, so it stays.
    with_key(&["rm", "hello:nightly-1"]).ok();
    assert_eq!(
        versions(),
        all,
        "the package nightly-2 still has left the repository"
    );
    let (older, newer) = (all[1].clone(), all[0].clone());
    assert_eq!(status(&pool(&older)), "200");
    // gc keeping the newest extra release: now nothing has the older package.
    with_key(&["gc", "--keep", "1", "--class", "extra"]).ok();
    assert_eq!(versions(), std::slice::from_ref(&newer));
    assert_eq!(status(&pool(&older)), "404");
    assert_eq!(status(&pool(&newer)), "200");
}

#[test]
fn every_key_packages_need_is_named_in_one_run() {
    // A new project's Cargo.toml: no description, license or authors, and
    // no public URL. One run names all four, each as missing.
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let (sk, _) = f.release_keys();
    let out = f.dir.join("out");
    let run = f
        .run(&[
            "publish",
            "--static",
            out.to_str().unwrap(),
            "--signing-key",
            &sk,
            "--no-images",
            "--packages",
            "deb",
            "--tag",
            "v1.0.0",
        ])
        .fails_with(
            2,
            &[
                "4 configuration keys to fix:",
                "missing configuration key `package.metadata.release-dist.packages.url`",
                "missing configuration key `package.metadata.release-dist.packages.description`",
                "missing configuration key `package.metadata.release-dist.packages.license`",
                "missing configuration key `package.metadata.release-dist.packages.maintainer`",
                "set them in Cargo.toml",
            ],
        );
    assert!(
        !run.stderr().contains("invalid configuration key"),
        "{}",
        run.stderr()
    );
    assert!(!out.exists(), "something was published");
}

#[test]
fn the_packages_publish_writes_what_its_plan_says() {
    let g = Garage::from_env();
    let bucket = g.bucket("pkgplan");
    let keys = tempfile::tempdir().unwrap();
    let (secret, _) = gpg_key(keys.path(), "Hello Packages <pkg@example.org>");
    let f = fixture(&g.web_url(&bucket));
    f.run(&["build", "-q", "-t", "linux/amd64", "-t", "linux/arm64"])
        .ok();
    let url = g.url(&bucket, "");
    let (sk, _) = f.release_keys();
    let mut args = packages_publish_args(&url, &sk, &secret, "v1.0.0");
    args.insert(2, "--dry-run".into());
    let dry = f
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    let plan: serde_json::Value = serde_json::from_str(dry.stdout().trim()).unwrap();
    let of = |action: &str| -> std::collections::BTreeSet<String> {
        plan["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["phase"] == "repositories" && o["action"] == action)
            .map(|o| o["key"].as_str().unwrap().to_string())
            .collect()
    };
    let planned = of("write");
    // Two targets, two formats: four packages and four entries.
    assert_eq!(planned.len(), 8, "{planned:?}");
    assert!(of("converge").contains("apt/dists/stable/InRelease"));
    let run = publish_packages(&f, (&url, &sk), &secret, "v1.0.0").ok();
    let written: std::collections::BTreeSet<String> = run
        .stderr()
        .lines()
        .filter(|l| l.starts_with(r#"{"event":"written""#))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|k| k.starts_with("apt/pool/") || k.contains("/packages/") || k.contains("/index/"))
        .collect();
    assert_eq!(
        written, planned,
        "the packages and entries written against planned"
    );
    // Again: everything is there, so the plan writes none of them.
    let again = f
        .run(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .ok();
    let plan: serde_json::Value = serde_json::from_str(again.stdout().trim()).unwrap();
    let writes = plan["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["phase"] == "repositories" && o["action"] == "write")
        .count();
    assert_eq!(writes, 0, "{plan}");
}
