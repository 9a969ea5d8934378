//! The example's real Rust programs, static ELF for each target: the checks
//! `build` makes of each (machine, linkage, ARMv7 and ARMv6 hard-float), with
//! deliberately wrong binaries put in the slots (the stand-in fixture's, and
//! an ARMv8 one in the example's arm/v7), and smoke runs natively and through
//! qemu.

use serde_json::Value;

use crate::util::{build_json, repo_root, Fixture};

/// The static binary of each target, as build.json records it.
fn binaries(f: &Fixture) -> Vec<Value> {
    build_json(f)["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "static")
        .cloned()
        .collect()
}

#[test]
fn every_target_is_a_static_elf_for_its_machine_and_runs() {
    let f = Fixture::example("hello");
    f.run(&["build", "-q", "--smoke", "--version"]).ok();
    let all = binaries(&f);
    assert_eq!(all.len(), 4);
    for a in &all {
        let platform = a["platform"].as_str().unwrap();
        let b = &a["binary"];
        assert_eq!(b["format"], "elf", "{a}");
        let (machine, triple, file_says) = match platform {
            "linux/amd64" => ("x86-64", "x86_64-unknown-linux-gnu", "x86-64"),
            "linux/386" => ("i386", "i686-unknown-linux-gnu", "Intel 80386"),
            "linux/arm64" => ("AArch64", "aarch64-unknown-linux-gnu", "ARM aarch64"),
            "linux/arm/v7" => ("ARM", "armv7-unknown-linux-gnueabihf", "ARM, EABI5"),
            other => panic!("unexpected target {other}"),
        };
        assert_eq!(b["elf"]["machine"], machine, "{a}");
        assert!(b["elf"].get("interpreter").is_none(), "{a}");
        // What the derivation says cargo built, recorded from it.
        assert_eq!(a["rust"]["target"], triple, "{a}");
        assert_eq!(a["rust"]["rustc"], "1.63.0", "{a}");
        // The real program, run: it prints its version and the triple it
        // was compiled for (build.rs reads cargo's TARGET).
        let smoke = &b["smoke"];
        assert_eq!(smoke["result"], "passed", "{a}");
        assert_eq!(smoke["exitCode"], 0);
        assert_eq!(smoke["args"][0], "--version");
        assert_eq!(
            smoke["stdout"].as_str().unwrap().trim_end(),
            format!("hello 0.1.0 ({triple})"),
            "{a}"
        );
        let runner = smoke["runner"].as_str().unwrap();
        match platform {
            "linux/arm64" => assert_eq!(runner, "qemu-aarch64-static"),
            "linux/arm/v7" => assert_eq!(runner, "qemu-arm-static"),
            _ => assert_eq!(runner, "native"),
        }
        // file(1), not our reader, agrees: the machine, and static.
        let path = f.dist().join(a["path"].as_str().unwrap());
        let said = crate::util::stock("file", &["-L", path.to_str().unwrap()]);
        assert!(said.contains(file_says), "{said}");
        assert!(
            said.contains("statically linked") || said.contains("static-pie linked"),
            "{said}"
        );
    }
    let arm = all
        .iter()
        .find(|a| a["platform"] == "linux/arm/v7")
        .unwrap();
    assert_eq!(arm["binary"]["elf"]["armCpuArch"], 10);
    assert_eq!(arm["binary"]["elf"]["armHardFloat"], true);
    // readelf, not our reader, agrees on the ARM attributes.
    let file = f.dist().join("static/linux/arm/v7/hello");
    let attrs = crate::util::stock("readelf", &["-A", file.to_str().unwrap()]);
    assert!(
        attrs.contains("Tag_CPU_arch: v7") && attrs.contains("Tag_ABI_VFP_args: VFP registers"),
        "{attrs}"
    );
    // The provenance will say the same: build.json's record is what it reads.
    let rust = &arm["rust"];
    assert_eq!(rust["target"], "armv7-unknown-linux-gnueabihf");
}

#[test]
fn the_stand_in_arm_v6_binary_is_armv6_hard_float_and_runs() {
    let f = Fixture::standin();
    f.run(&["build", "-q", "-t", "linux/arm/v6", "--smoke", "--version"])
        .ok();
    let all = binaries(&f);
    assert_eq!(all.len(), 1);
    let arm = &all[0];
    assert_eq!(arm["binary"]["elf"]["armCpuArch"], 6);
    assert_eq!(arm["binary"]["elf"]["armHardFloat"], true);
    assert_eq!(arm["binary"]["smoke"]["runner"], "qemu-arm-static");
    assert!(arm["binary"]["smoke"]["stdout"]
        .as_str()
        .unwrap()
        .starts_with("hello from armv6l"));
    assert!(
        arm.get("rust").is_none(),
        "the stand-in says nothing of Rust: {arm}"
    );
    let file = f.dist().join("static/linux/arm/v6/hello");
    let attrs = crate::util::stock("readelf", &["-A", file.to_str().unwrap()]);
    assert!(
        attrs.contains("Tag_CPU_arch: v6") && attrs.contains("Tag_ABI_VFP_args: VFP registers"),
        "{attrs}"
    );
}

#[test]
fn riscv64_ppc64le_and_s390x_are_checked_run_through_qemu_and_published_as_images() {
    let f = Fixture::standin();
    let targets = ["linux/riscv64", "linux/ppc64le", "linux/s390x"];
    let mut args = vec!["build", "-q", "--smoke", "--version"];
    for t in targets {
        args.extend(["-t", t]);
    }
    f.run(&args).ok();
    let all = binaries(&f);
    assert_eq!(all.len(), 3);
    for a in &all {
        let platform = a["platform"].as_str().unwrap();
        let (machine, triple, qemu, file_says) = match platform {
            "linux/riscv64" => (
                "RISC-V",
                "riscv64gc-unknown-linux-musl",
                "qemu-riscv64-static",
                "UCB RISC-V",
            ),
            "linux/ppc64le" => (
                "PowerPC64 little-endian",
                "powerpc64le-unknown-linux-musl",
                "qemu-ppc64le-static",
                "64-bit LSB executable, 64-bit PowerPC",
            ),
            "linux/s390x" => (
                "S/390",
                "s390x-unknown-linux-musl",
                "qemu-s390x-static",
                "64-bit MSB executable, IBM S/390",
            ),
            other => panic!("unexpected target {other}"),
        };
        let b = &a["binary"];
        assert_eq!(b["elf"]["machine"], machine, "{a}");
        assert_eq!(b["smoke"]["runner"], qemu, "{a}");
        assert_eq!(b["smoke"]["result"], "passed", "{a}");
        let said = b["smoke"]["stdout"].as_str().unwrap();
        assert!(said.starts_with(&format!("hello from {triple}")), "{said}");
        let path = f.dist().join(a["path"].as_str().unwrap());
        let file = crate::util::stock("file", &["-L", path.to_str().unwrap()]);
        assert!(
            file.contains(file_says) && file.contains("statically linked"),
            "{file}"
        );
    }
    // Their images go into one index that skopeo reads, one platform each.
    let (sk, _) = f.release_keys();
    let layout = f.dir.join("images");
    let static_dir = f.dir.join("static");
    let (to, images) = (static_dir.to_str().unwrap(), layout.to_str().unwrap());
    crate::util::publish(&f, to, &sk, "v1.0.0", &["--images", images]).ok();
    let index = crate::util::skopeo_raw(&format!("oci:{images}:v1.0.0"), None).unwrap();
    let index: Value = serde_json::from_slice(&index).unwrap();
    let platform = |m: &Value| {
        let p = &m["platform"];
        format!(
            "{}/{}",
            p["os"].as_str().unwrap(),
            p["architecture"].as_str().unwrap()
        )
    };
    let mut platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(platform)
        .collect();
    platforms.sort();
    assert_eq!(platforms, ["linux/ppc64le", "linux/riscv64", "linux/s390x"]);

    // An s390x binary in the ppc64le slot is refused, naming both machines.
    let broken = f.dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let vector = repo_root().join("tests/vectors/elf/s390x");
    std::fs::copy(vector, broken.join("s390x")).unwrap();
    f.edit("flake.nix", |t| {
        t.replace(
            "          chmod 555 $out/bin/${name}\n          rm -rf $work",
            "          case ${t.arch} in ppc64le) cp ${./broken/s390x} $out/bin/${name} ;; esac
          chmod 555 $out/bin/${name}
          rm -rf $work",
        )
    });
    f.commit("an s390x binary for ppc64le");
    f.run(&["build", "-t", "linux/ppc64le"]).fails_with(
        1,
        &["linux/ppc64le: the binary is for S/390 (64-bit), not PowerPC64 little-endian (64-bit)"],
    );
}

#[test]
fn an_armv8_binary_in_the_arm_v7_slot_fails_its_target() {
    let f = Fixture::example("hello");
    std::fs::create_dir_all(f.dir.join("broken")).unwrap();
    std::fs::copy(
        repo_root().join("tests/vectors/elf/armv8-a32"),
        f.dir.join("broken/armv8-a32"),
    )
    .unwrap();
    f.edit("flake.nix", |t| {
        t.replace(
            "cp $work/target/$rustTarget/release/${name}${t.exe or \"\"} $out/bin/${name}${t.exe or \"\"}",
            "cp ${if t.arch == \"arm\" then ./broken/armv8-a32 else \"$work/target/$rustTarget/release/${name}\"} $out/bin/${name}",
        )
    });
    f.commit("an ARMv8 binary for arm/v7");
    f.run(&["build", "-t", "linux/arm/v7", "-t", "linux/arm64"]).fails_with(
        1,
        &["linux/arm/v7: the binary is ARMv8 or later (Tag_CPU_arch v8), not ARMv7-A: it does not run on ARMv7 boards"],
    );
    assert!(!f.dist().join("static/linux/arm/v7/hello").exists());
    assert!(f.dist().join("static/linux/arm64/hello").exists());
}

#[test]
fn wrong_binaries_fail_their_targets_with_what_is_wrong() {
    let f = Fixture::standin();
    let broken = f.dir.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for v in ["dynamic", "aarch64", "armv7"] {
        std::fs::copy(
            repo_root().join("tests/vectors/elf").join(v),
            broken.join(v),
        )
        .unwrap();
    }
    // amd64 gets a dynamic binary, 386 an AArch64 one, arm/v6 an ARMv7 one,
    // and arm64 a shell script (not an ELF file: recorded, not refused).
    f.edit("flake.nix", |t| {
        t.replace(
            "          chmod 555 $out/bin/${name}\n          rm -rf $work",
            "          case ${t.arch} in
            amd64) cp ${./broken/dynamic} $out/bin/${name} ;;
            386) cp ${./broken/aarch64} $out/bin/${name} ;;
            arm) cp ${./broken/armv7} $out/bin/${name} ;;
            arm64) printf '#!/bin/sh\\necho hello\\n' > $out/bin/${name} ;;
          esac
          chmod 555 $out/bin/${name}
          rm -rf $work",
        )
    });
    f.commit("wrong binaries");
    let run = f.run(&["build"]).fails_with(
        1,
        &[
            "linux/amd64: the binary is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2; needs libstandin.so), not static",
            "linux/386: the binary is for AArch64 (64-bit), not i386 (32-bit)",
            "linux/arm/v6: the binary is ARMv7 (Tag_CPU_arch v7)",
            "3 of 9 outputs",
        ],
    );
    assert!(
        !f.dist().join("static/linux/amd64/hello").exists(),
        "{}",
        run.stderr()
    );
    let arm64: Vec<Value> = binaries(&f);
    assert_eq!(arm64.len(), 1);
    assert_eq!(arm64[0]["binary"]["format"], "script");
    let failures = build_json(&f)["failures"].as_array().unwrap().len();
    assert_eq!(failures, 3);

    // A smoke run that exits non-zero fails its target.
    f.edit("flake.nix", |t| {
        t.replace("echo hello\\n", "echo broken; exit 3\\n")
    });
    f.commit("arm64 fails its smoke run");
    f.run(&["build", "-t", "linux/arm64", "--smoke", "--version"])
        .fails_with(
            1,
            &[
                "linux/arm64: the smoke run",
                "--version` failed: exit code 3",
            ],
        );

    // A project that ships a dynamic binary on purpose says so, per target.
    f.edit("Cargo.toml", |t| {
        t.replace(
            "[package.metadata.release-dist]",
            "[package.metadata.release-dist]\nallow-dynamic = [\"linux/amd64\"]",
        )
    });
    f.commit("amd64 is dynamic on purpose");
    f.run(&["build", "-q", "-t", "linux/amd64"]).ok();
    let amd64 = &binaries(&f)[0];
    assert_eq!(amd64["binary"]["relaxed"][0], "static (allow-dynamic)");
    assert_eq!(amd64["binary"]["elf"]["needed"][0], "libstandin.so");
}
