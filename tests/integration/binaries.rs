//! The example's real static ELF programs: the checks `build` makes of each
//! (machine, linkage, ARMv6 hard-float), with deliberately wrong binaries
//! put in three slots, and smoke runs natively and through qemu.

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
        let machine = match platform {
            "linux/amd64" => "x86-64",
            "linux/386" => "i386",
            "linux/arm64" => "AArch64",
            _ => "ARM",
        };
        assert_eq!(b["elf"]["machine"], machine, "{a}");
        assert!(b["elf"].get("interpreter").is_none(), "{a}");
        let smoke = &b["smoke"];
        assert_eq!(smoke["result"], "passed", "{a}");
        assert_eq!(smoke["exitCode"], 0);
        assert_eq!(smoke["args"][0], "--version");
        let triple = a["attribute"].as_str().unwrap();
        assert!(
            smoke["stdout"].as_str().unwrap().starts_with("hello from "),
            "{a} {triple}"
        );
        let runner = smoke["runner"].as_str().unwrap();
        match platform {
            "linux/arm64" => assert_eq!(runner, "qemu-aarch64-static"),
            "linux/arm/v6" => assert_eq!(runner, "qemu-arm-static"),
            _ => assert_eq!(runner, "native"),
        }
    }
    let arm = all
        .iter()
        .find(|a| a["platform"] == "linux/arm/v6")
        .unwrap();
    assert_eq!(arm["binary"]["elf"]["armCpuArch"], 6);
    assert_eq!(arm["binary"]["elf"]["armHardFloat"], true);
    // readelf, not our reader, agrees on the ARM attributes.
    let file = f.dist().join("static/linux/arm/v6/hello");
    let attrs = crate::util::stock("readelf", &["-A", file.to_str().unwrap()]);
    assert!(
        attrs.contains("Tag_CPU_arch: v6") && attrs.contains("Tag_ABI_VFP_args: VFP registers"),
        "{attrs}"
    );
}

#[test]
fn wrong_binaries_fail_their_targets_with_what_is_wrong() {
    let f = Fixture::example("hello");
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
