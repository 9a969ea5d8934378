//! Linux, macOS and Windows from one `build` (one `nix build`) and one
//! `publish`, with the names, checks and archives each platform expects,
//! read back with stock tools: sha256sum, unzip, tar, skopeo, dash. The
//! stand-in fixture's Darwin derivations are of the Darwin systems; the
//! test's Nix configuration lists them in `extra-platforms` (their builder
//! is the host's /bin/sh), as a Darwin remote builder would build them.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::garage::Garage;
use crate::util::{build_json, publish, sha256sum_c, stock, stock_bytes, Fixture};

const TARGETS: [&str; 5] = [
    "linux/amd64",
    "linux/arm64",
    "darwin/arm64",
    "darwin/amd64",
    "windows/amd64",
];

/// Runs the tool with a Nix configuration that builds Darwin derivations
/// here.
fn run_with_darwin(f: &Fixture, args: &[&str]) -> crate::util::Run {
    let nix = std::env::var("NIX_CONFIG").unwrap_or_default();
    let nix = format!("{nix}\nextra-platforms = aarch64-darwin x86_64-darwin");
    f.run_with(args, |c| {
        c.env("NIX_CONFIG", &nix);
    })
}

/// Downloads every file `SHA256SUMS` lists from `base` into `dir`.
fn download_release(base: &str, dir: &Path) -> String {
    let sums =
        String::from_utf8(stock_bytes("curl", &["-sf", &format!("{base}/SHA256SUMS")])).unwrap();
    std::fs::write(dir.join("SHA256SUMS"), &sums).unwrap();
    for line in sums.lines() {
        let path = line.split_once("  ").unwrap().1;
        let to = dir.join(path);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        let url = format!("{base}/{path}");
        stock("curl", &["-sf", "-o", to.to_str().unwrap(), &url]);
    }
    sums
}

/// Runs `install.sh` from `url` under dash with `uname` saying `os` and
/// `machine`; (success, stderr).
fn install_as(url: &str, (os, machine): (&str, &str), dir: &Path) -> (bool, String) {
    let fake = dir.join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let uname = format!(
        "#!/bin/sh\ncase \"$1\" in -s) echo {os} ;; -m) echo {machine} ;; *) echo {os} ;; esac\n"
    );
    std::fs::write(fake.join("uname"), uname).unwrap();
    stock("chmod", &["755", fake.join("uname").to_str().unwrap()]);
    let script = stock_bytes("curl", &["-sf", url]);
    let script_file = dir.join("install.sh");
    std::fs::write(&script_file, script).unwrap();
    let path = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());
    let out = Command::new("dash")
        .arg(&script_file)
        .args(["--dir", dir.join("bin").to_str().unwrap()])
        .env("PATH", path)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn linux_macos_and_windows_build_together_and_publish_what_each_expects() {
    let g = Garage::from_env();
    let bucket = g.bucket("every-os");
    let web = g.web_url(&bucket);
    let f = Fixture::standin();
    std::fs::write(f.dir.join("README.md"), "hello, the stand-in\n").unwrap();
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]\n",
            &format!("[package.metadata.release-dist]\npublic-url = \"{web}\"\narchives = true\narchive-files = [\"README.md\"]\n"),
        )
    });
    f.commit("archives");
    let mut args = vec!["build", "--smoke", "--version"];
    for t in TARGETS {
        args.extend(["-t", t]);
    }
    let built = run_with_darwin(&f, &args).ok();
    let said = built.stderr();
    assert_eq!(
        said.matches("one `nix build --json` for all outputs")
            .count(),
        1,
        "{said}"
    );

    // Each target's binary: its format's checks, and a smoke run where one
    // can run here.
    let record = build_json(&f);
    for a in record["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "static")
    {
        let b = &a["binary"];
        let smoke = &b["smoke"];
        match a["platform"].as_str().unwrap() {
            "linux/amd64" | "linux/arm64" => {
                assert_eq!(b["format"], "elf", "{a}");
                assert_eq!(smoke["result"], "passed", "{a}");
            }
            p @ ("darwin/arm64" | "darwin/amd64") => {
                assert_eq!(b["format"], "macho", "{a}");
                let cpu = if p == "darwin/arm64" {
                    "arm64"
                } else {
                    "x86_64"
                };
                assert_eq!(b["macho"]["cpu"], cpu, "{a}");
                assert_eq!(b["macho"]["minOs"], "11.0", "{a}");
                assert_eq!(b["macho"]["dylibs"][0], "/usr/lib/libSystem.B.dylib", "{a}");
                assert!(smoke["result"].as_str().unwrap().contains("macOS"), "{a}");
            }
            "windows/amd64" => {
                assert_eq!(b["format"], "pe", "{a}");
                assert_eq!(a["path"], "static/windows/amd64/hello.exe");
                assert_eq!(b["pe"]["subsystem"], "console", "{a}");
                assert_eq!(smoke["runner"], "wine", "{a}");
                assert_eq!(smoke["result"], "passed", "{a}");
                assert!(smoke["stdout"]
                    .as_str()
                    .unwrap()
                    .starts_with("hello from x86_64-pc-windows-gnu"));
            }
            other => panic!("unexpected target {other}"),
        }
    }
    // No image for macOS or Windows was even asked for.
    assert!(
        !said.contains("darwin.arm64") && !f.dist().join("docker/windows.amd64.tar.gz").exists()
    );

    let (sk, pk) = f.release_keys();
    let url = g.url(&bucket, "");
    let layout = f.dir.join("out/layout");
    publish(
        &f,
        &url,
        &sk,
        "v1.0.0",
        &["--images", layout.to_str().unwrap()],
    )
    .ok();
    let base = format!("{web}/df-dist-v1/hello/v1.0.0");
    let got = tempfile::tempdir().unwrap();
    let sums = download_release(&base, got.path());
    sha256sum_c(got.path(), "SHA256SUMS");
    for path in [
        "linux/amd64/hello",
        "darwin/arm64/hello",
        "darwin/amd64/hello",
        "windows/amd64/hello.exe",
        "hello-v1.0.0-x86_64-unknown-linux-musl.tar.gz",
        "hello-v1.0.0-aarch64-apple-darwin.tar.gz",
        "hello-v1.0.0-x86_64-pc-windows-gnu.zip",
    ] {
        assert!(
            sums.lines().any(|l| l.ends_with(&format!("  {path}"))),
            "{path} in:\n{sums}"
        );
    }
    // The archives, read by unzip and tar: one directory named like the
    // archive, with the binary and README.md.
    let zip = got.path().join("hello-v1.0.0-x86_64-pc-windows-gnu.zip");
    let tested = stock("unzip", &["-t", zip.to_str().unwrap()]);
    assert!(tested.contains("No errors detected"), "{tested}");
    let listed = stock("unzip", &["-Z1", zip.to_str().unwrap()]);
    for entry in [
        "hello-v1.0.0-x86_64-pc-windows-gnu/hello.exe",
        "hello-v1.0.0-x86_64-pc-windows-gnu/README.md",
    ] {
        assert!(listed.lines().any(|l| l == entry), "{entry} in:\n{listed}");
    }
    let tgz = got.path().join("hello-v1.0.0-aarch64-apple-darwin.tar.gz");
    let listed = stock("tar", &["-tzf", tgz.to_str().unwrap()]);
    for entry in [
        "hello-v1.0.0-aarch64-apple-darwin/hello",
        "hello-v1.0.0-aarch64-apple-darwin/README.md",
    ] {
        assert!(listed.lines().any(|l| l == entry), "{entry} in:\n{listed}");
    }
    // The tag document has a flavor per OS and names each archive's target.
    let doc: Value = serde_json::from_slice(&stock_bytes(
        "curl",
        &["-sf", &format!("{web}/df-dist-v1/hello/v1.0.0")],
    ))
    .unwrap();
    let oses: Vec<&str> = doc["flavors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["platform"]["os"].as_str().unwrap())
        .collect();
    for os in ["linux", "darwin", "windows"] {
        assert!(oses.contains(&os), "{doc}");
    }
    let archive = doc["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "hello-v1.0.0-x86_64-pc-windows-gnu.zip")
        .unwrap();
    assert_eq!(
        (archive["kind"].as_str(), archive["platform"].as_str()),
        (Some("archive"), Some("windows/amd64"))
    );
    // _releases.json lists the builds by OS: Linux, then macOS, then Windows.
    let index: Value = serde_json::from_slice(&stock_bytes(
        "curl",
        &["-sf", &format!("{web}/_releases.json")],
    ))
    .unwrap();
    let builds = index
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["builds"].as_array().unwrap().clone())
        .find(|b| b["version"] == "v1.0.0")
        .unwrap();
    let order: Vec<&str> = builds["builds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["os"].as_str().unwrap())
        .collect();
    let mut grouped = order.clone();
    grouped.dedup();
    assert_eq!(grouped, ["linux", "darwin", "windows"], "{order:?}");

    // verify reads it all back against the signed provenance.
    let key = f.dir.join("keys/release.pub");
    std::fs::write(&key, pk).unwrap();
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

    // The image index has only the Linux platforms.
    let raw = crate::util::skopeo_raw(&format!("oci:{}:v1.0.0", layout.display()), None).unwrap();
    let index: Value = serde_json::from_slice(&raw).unwrap();
    let mut platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);

    // install.sh under dash on a "Mac" picks the Darwin binary; on an
    // unknown OS it says so.
    let mac = tempfile::tempdir().unwrap();
    let (ok, err) = install_as(
        &format!("{base}/install.sh"),
        ("Darwin", "arm64"),
        mac.path(),
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(mac.path().join("bin/hello")).unwrap(),
        std::fs::read(got.path().join("darwin/arm64/hello")).unwrap()
    );
    let (ok, err) = install_as(
        &format!("{base}/install.sh"),
        ("FreeBSD", "amd64"),
        mac.path(),
    );
    assert!(!ok && err.contains("this is FreeBSD"), "{err}");
}

#[test]
fn a_macos_binary_in_a_linux_slot_is_refused_naming_both_formats() {
    let f = Fixture::standin();
    std::fs::create_dir_all(f.dir.join("broken")).unwrap();
    let vector = crate::util::repo_root().join("tests/vectors/macho/hello-x86_64");
    std::fs::copy(vector, f.dir.join("broken/hello-x86_64")).unwrap();
    f.edit("flake.nix", |t| {
        t.replace(
            "          chmod 555 $out/bin/${name}\n          rm -rf $work",
            "          case ${t.arch} in amd64) cp ${./broken/hello-x86_64} $out/bin/${name} ;; esac
          chmod 555 $out/bin/${name}
          rm -rf $work",
        )
    });
    f.commit("a Mach-O binary for linux/amd64");
    f.run(&["build", "-t", "linux/amd64"]).fails_with(
        1,
        &["linux/amd64: the binary is a Mach-O file, not ELF: it was built for another operating system"],
    );
    assert!(!f.dist().join("static/linux/amd64/hello").exists());
}

#[test]
fn a_windows_exe_needing_mingw_runtime_and_a_mac_binary_linking_the_store_are_refused() {
    let f = Fixture::standin();
    let broken = f.dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let vectors = crate::util::repo_root().join("tests/vectors");
    std::fs::copy(
        vectors.join("pe/imports-mingw-runtime.exe"),
        broken.join("runtime.exe"),
    )
    .unwrap();
    std::fs::copy(
        vectors.join("macho/links-store-path"),
        broken.join("store-path"),
    )
    .unwrap();
    f.edit("flake.nix", |t| {
        t.replace(
            "x86_64-w64-mingw32-gcc -O2 -s -static -o $out/bin/${name}.exe $work/main.c",
            "cp ${./broken/runtime.exe} $out/bin/${name}.exe",
        )
        .replace(
            "ld64.lld -arch ${arch} -platform_version macos 11.0 11.0 -o $out/bin/${name} $work/main.o -L$work -lSystem",
            "cp ${./broken/store-path} $out/bin/${name}",
        )
    });
    f.commit("a Windows exe that needs MinGW's runtime, a Mac binary that links the store");
    let run = run_with_darwin(
        &f,
        &[
            "build",
            "-t",
            "windows/amd64",
            "-t",
            "darwin/arm64",
            "-t",
            "linux/amd64",
        ],
    );
    run.fails_with(
        1,
        &[
            "windows/amd64: the binary imports libgcc_s_seh-1.dll, MinGW's runtime, which a user's Windows does not have",
            "darwin/arm64: the binary links /nix/store/",
            "a Nix store path that a user's Mac does not have",
            "2 of 5 outputs",
        ],
    );
    assert!(f.dist().join("static/linux/amd64/hello").exists());
    assert!(!f.dist().join("static/windows/amd64/hello.exe").exists());
}

#[test]
fn a_target_the_table_lacks_is_declared_with_its_spellings() {
    let f = Fixture::standin();
    // Unknown until declared: refused, listing the known ones.
    f.run(&["build", "-t", "linux/loong64"]).fails_with(
        2,
        &[
            "unknown target `linux/loong64`",
            "darwin/arm64",
            "windows/amd64",
        ],
    );
    f.edit("Cargo.toml", |t| {
        format!(
            "{t}\n[package.metadata.release-dist.custom-targets.\"linux/loong64\"]\nnix-system = \"loongarch64-linux\"\nrust-triple = \"loongarch64-unknown-linux-gnu\"\nmachine = \"LoongArch\"\nbits = 64\n"
        )
    });
    f.commit("loong64");
    // Declared, it is built from its Nix system's attribute (which this
    // flake does not have: the error names it).
    f.run(&["build", "-t", "linux/loong64"]).fails_with(
        2,
        &["target linux/loong64: the flake has no attribute `packages.loongarch64-linux.hello`"],
    );
}
