//! After a build: what each static binary is (the checks of its format:
//! [`crate::elfcheck`], [`crate::machocheck`], [`crate::pecheck`]), and the
//! smoke run of it (natively, through qemu, through Wine, or skipped with
//! the reason).

use std::path::Path;
use std::time::Duration;

use crate::build_record::{BinaryCheck, Smoke};
use crate::elfcheck::{inspect, is_elf, problems, Relaxed};
use crate::platform::{BinaryFormat, Emulator, Platform};
use crate::process::Cmd;

/// How long a smoke run may take.
const SMOKE_LIMIT: Duration = Duration::from_secs(60);
/// How much of its output is kept.
const SMOKE_OUTPUT: usize = 4096;

/// The executable format `bytes` are in, if any.
fn format_of(bytes: &[u8]) -> Option<BinaryFormat> {
    if is_elf(bytes) {
        Some(BinaryFormat::Elf)
    } else if crate::machocheck::is_macho(bytes) {
        Some(BinaryFormat::MachO)
    } else if crate::pecheck::is_pe(bytes) {
        Some(BinaryFormat::Pe)
    } else {
        None
    }
}

/// Checks the file of `platform`'s static output. `Err` holds the problems,
/// one sentence each, naming the target. A script or a data file is
/// recorded, not checked; an executable of another OS's format is refused.
pub fn check(platform: Platform, file: &Path, relaxed: Relaxed) -> Result<BinaryCheck, String> {
    let bytes = std::fs::read(file)
        .map_err(|e| format!("{platform}: cannot read {}: {e}", file.display()))?;
    let found = format_of(&bytes);
    let mut out = BinaryCheck {
        format: match found {
            Some(f) => f.as_str(),
            None if bytes.starts_with(b"#!") => "script",
            None => "data",
        }
        .into(),
        elf: None,
        macho: None,
        pe: None,
        relaxed: Vec::new(),
        smoke: None,
    };
    let Some(format) = found else {
        return Ok(out);
    };
    let wanted = platform.format();
    if format != wanted {
        return Err(format!(
            "{platform}: the binary is a {} file, not {}: it was built for another operating system",
            format.name(),
            wanted.name()
        ));
    }
    let unreadable =
        |e: String| format!("{platform}: the {} file cannot be read: {e}", format.name());
    let problems = match format {
        BinaryFormat::Elf => {
            let facts = inspect(&bytes).map_err(unreadable)?;
            let found = problems(platform, &facts, relaxed);
            if relaxed.dynamic && !facts.is_static() {
                out.relaxed.push("static (allow-dynamic)".into());
            }
            out.elf = Some(facts);
            found
        }
        BinaryFormat::MachO => {
            let facts = crate::machocheck::inspect(&bytes).map_err(unreadable)?;
            let found = crate::machocheck::problems(platform, &facts);
            out.macho = Some(facts);
            found
        }
        BinaryFormat::Pe => {
            let facts = crate::pecheck::inspect(&bytes).map_err(unreadable)?;
            let found = crate::pecheck::problems(platform, &facts);
            out.pe = Some(facts);
            found
        }
    };
    match problems.is_empty() {
        true => Ok(out),
        false => Err(problems.join("; ")),
    }
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

/// The program that runs `platform`'s binaries here: `Ok(None)` for
/// natively (the machine's own Linux binaries, and i386 on x86_64), else
/// the emulator's name (`qemu-aarch64-static`, `wine`); `Err` says why
/// nothing can.
fn runner_for(platform: Platform, host: &str) -> Result<Option<String>, String> {
    let same = host == platform.uname() || (host == "x86_64" && platform.arch() == "386");
    if platform.is_linux() && same {
        return Ok(None);
    }
    match platform.emulator() {
        Emulator::Qemu(arch) => Ok(Some(format!("qemu-{arch}-static"))),
        Emulator::Wine if host == "x86_64" => Ok(Some("wine".into())),
        Emulator::Wine => Err(format!("Wine runs {platform} binaries on x86-64 only")),
        Emulator::Nothing(why) => Err(why.into()),
    }
}

/// Where an emulator is: on `PATH`, or (Wine) where Debian's wine64
/// puts it when the `wine` wrapper is not installed.
fn find_runner(name: &str) -> Option<std::path::PathBuf> {
    which::which(name).ok().or_else(|| {
        let wine64 = Path::new("/usr/lib/wine/wine64");
        (name == "wine" && wine64.is_file()).then(|| wine64.to_path_buf())
    })
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
        Ok(None)
    } else {
        runner_for(platform, std::env::consts::ARCH)
    };
    let (cmd, runner) = match runner {
        Err(why) => return skipped(why),
        Ok(None) => (Cmd::new(file), "native".to_string()),
        Ok(Some(name)) => match find_runner(&name) {
            // Wine's own diagnostics go to standard error; quiet them.
            Some(path) => (Cmd::new(path).arg(file).env("WINEDEBUG", "-all"), name),
            None => {
                let package = match name.as_str() {
                    "wine" => "wine64",
                    _ => "qemu-user-static",
                };
                return skipped(format!("{name} is not installed (Debian: {package})"));
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
        assert_eq!(runner("linux/amd64", "x86_64"), Ok(None));
        assert_eq!(runner("linux/386", "x86_64"), Ok(None));
        assert_eq!(runner("linux/arm64", "aarch64"), Ok(None));
        assert_eq!(runner("linux/s390x", "s390x"), Ok(None));
        for (target, host, emulator) in [
            ("linux/arm64", "x86_64", "qemu-aarch64-static"),
            ("linux/arm/v6", "x86_64", "qemu-arm-static"),
            ("linux/arm/v7", "x86_64", "qemu-arm-static"),
            ("linux/amd64", "aarch64", "qemu-x86_64-static"),
            ("linux/riscv64", "x86_64", "qemu-riscv64-static"),
            ("linux/ppc64le", "x86_64", "qemu-ppc64le-static"),
            ("linux/s390x", "x86_64", "qemu-s390x-static"),
            ("windows/amd64", "x86_64", "wine"),
        ] {
            assert_eq!(
                runner(target, host),
                Ok(Some(emulator.to_string())),
                "{target} on {host}"
            );
        }
        // A Darwin binary never runs here, not even on the same machine.
        let darwin = runner("darwin/amd64", "x86_64").unwrap_err();
        assert!(darwin.contains("macOS"), "{darwin}");
        assert!(runner("windows/arm64", "x86_64").is_err());
        assert!(runner("windows/amd64", "aarch64").is_err());
    }
}
