//! After a build: what each static binary is (the ELF checks of
//! [`crate::elfcheck`]), and the smoke run of it.

use std::path::Path;
use std::time::Duration;

use crate::build_record::{BinaryCheck, Smoke};
use crate::elfcheck::{inspect, is_elf, problems, Relaxed};
use crate::platform::Platform;
use crate::process::Cmd;

/// How long a smoke run may take.
const SMOKE_LIMIT: Duration = Duration::from_secs(60);
/// How much of its output is kept.
const SMOKE_OUTPUT: usize = 4096;

/// Checks the file of `platform`'s static output. `Err` holds the problems,
/// one sentence each, naming the target.
pub fn check(platform: Platform, file: &Path, relaxed: Relaxed) -> Result<BinaryCheck, String> {
    let bytes = std::fs::read(file)
        .map_err(|e| format!("{platform}: cannot read {}: {e}", file.display()))?;
    let format = if is_elf(&bytes) {
        "elf"
    } else if bytes.starts_with(b"#!") {
        "script"
    } else {
        "data"
    };
    let mut out = BinaryCheck {
        format: format.into(),
        elf: None,
        relaxed: Vec::new(),
        smoke: None,
    };
    if format != "elf" {
        return Ok(out);
    }
    let facts =
        inspect(&bytes).map_err(|e| format!("{platform}: the ELF file cannot be read: {e}"))?;
    let found = problems(platform, &facts, relaxed);
    if !found.is_empty() {
        return Err(found.join("; "));
    }
    if relaxed.dynamic && !facts.is_static() {
        out.relaxed.push("static (allow-dynamic)".into());
    }
    out.elf = Some(facts);
    Ok(out)
}

/// Checks that `platform`'s docker archive says it is for `platform`: its
/// config's os and architecture, and its variant when it has one (nixpkgs
/// writes none; `publish` adds the target's). `Err` names both. An archive
/// whose config cannot be read passes here: `publish` reads it whole and
/// refuses it with the reason.
pub fn check_image(platform: Platform, archive: &Path) -> Result<(), String> {
    let Ok(file) = std::fs::File::open(archive) else {
        return Ok(());
    };
    let Ok(c) = crate::docker_archive::config_of(std::io::BufReader::new(file)) else {
        return Ok(());
    };
    let contradicts = c.os != platform.os()
        || c.architecture != platform.arch()
        || (c.variant.is_some() && c.variant.as_deref() != platform.variant());
    if !contradicts {
        return Ok(());
    }
    let found = match &c.variant {
        Some(v) => format!("{}/{}/{v}", c.os, c.architecture),
        None => format!("{}/{}", c.os, c.architecture),
    };
    Err(format!(
        "{platform}: the image's config says it is {found}, not {platform}: build it with the {} package set",
        platform.nix_system()
    ))
}

/// The program that runs `platform`'s binaries here: `None` for natively
/// (the machine's own, and i386 on x86_64), else the qemu user emulator's
/// name.
fn runner_for(platform: Platform, host: &str) -> Option<String> {
    let native = host == platform.uname() || (host == "x86_64" && platform.arch() == "386");
    (!native).then(|| platform.qemu())
}

/// Runs the binary with `args`: natively where this machine can (and a
/// script always: its interpreter is the host's), through
/// `qemu-<arch>-static` where it is installed, else skipped (said so).
pub fn smoke(platform: Platform, file: &Path, args: &[String], script: bool) -> Smoke {
    let skipped = |why: String| Smoke {
        args: args.to_vec(),
        runner: "skipped".into(),
        exit_code: None,
        stdout: String::new(),
        result: format!("skipped: {why}"),
    };
    let runner = if script {
        None
    } else {
        runner_for(platform, std::env::consts::ARCH)
    };
    let (cmd, runner) = match runner {
        None => (Cmd::new(file), "native".to_string()),
        Some(qemu) => match which::which(&qemu) {
            Ok(path) => (Cmd::new(path).arg(file), qemu.to_string()),
            Err(_) => {
                return skipped(format!(
                    "{qemu} is not installed (Debian: qemu-user-static)"
                ))
            }
        },
    };
    match cmd.args(args).run_for(SMOKE_LIMIT) {
        Ok(done) => {
            let mut stdout = String::from_utf8_lossy(&done.stdout).into_owned();
            stdout.truncate(SMOKE_OUTPUT);
            let result = match done.status {
                Some(0) => "passed".to_string(),
                Some(code) => format!("failed: exit code {code}"),
                None => format!(
                    "failed: killed after {} s, or by a signal",
                    SMOKE_LIMIT.as_secs()
                ),
            };
            Smoke {
                args: args.to_vec(),
                runner,
                exit_code: done.status,
                stdout,
                result,
            }
        }
        Err(e) => skipped(format!("cannot run it: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_what_the_host_can_and_emulates_the_rest() {
        let runner = |s: &str, host: &str| runner_for(Platform::parse_any(s).unwrap(), host);
        assert_eq!(runner("linux/amd64", "x86_64"), None);
        assert_eq!(runner("linux/386", "x86_64"), None);
        assert_eq!(runner("linux/arm64", "aarch64"), None);
        assert_eq!(runner("linux/s390x", "s390x"), None);
        for (target, host, qemu) in [
            ("linux/arm64", "x86_64", "qemu-aarch64-static"),
            ("linux/arm/v6", "x86_64", "qemu-arm-static"),
            ("linux/arm/v7", "x86_64", "qemu-arm-static"),
            ("linux/amd64", "aarch64", "qemu-x86_64-static"),
            ("linux/riscv64", "x86_64", "qemu-riscv64-static"),
            ("linux/ppc64le", "x86_64", "qemu-ppc64le-static"),
            ("linux/s390x", "x86_64", "qemu-s390x-static"),
        ] {
            assert_eq!(
                runner(target, host).as_deref(),
                Some(qemu),
                "{target} on {host}"
            );
        }
    }
}
