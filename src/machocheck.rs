//! What a macOS binary's Mach-O header says, and whether it fits its
//! target. Pure: bytes in, facts and problems out; parsing is the `object`
//! crate's.
//!
//! Checks, per target:
//! - the CPU type is the target's (`arm64` for darwin/arm64, `x86_64` for
//!   darwin/amd64), and the file is one architecture (not a universal one);
//! - it links only what every Mac has: `/usr/lib/…` and
//!   `/System/Library/…`. A Nix-built binary that still names a
//!   `/nix/store` dylib does not run on a user's Mac.
//!
//! The minimum macOS version (`LC_BUILD_VERSION` or
//! `LC_VERSION_MIN_MACOSX`) is recorded.

use object::macho;
use object::read::macho::{LoadCommandVariant, MachHeader};
use object::Endianness;
use serde::{Deserialize, Serialize};

use crate::platform::Platform;

/// What the Mach-O header and load commands say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MachoFacts {
    /// `arm64`, `x86_64`, or `CPU type N`.
    pub cpu: String,
    /// 32 or 64.
    pub bits: u8,
    /// The minimum macOS version (`11.0`), when the file says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_os: Option<String>,
    /// The dylibs it loads (`/usr/lib/libSystem.B.dylib`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dylibs: Vec<String>,
}

/// Whether `bytes` start like a Mach-O file (thin or universal).
pub fn is_macho(bytes: &[u8]) -> bool {
    matches!(
        object::FileKind::parse(bytes),
        Ok(object::FileKind::MachO32
            | object::FileKind::MachO64
            | object::FileKind::MachOFat32
            | object::FileKind::MachOFat64)
    )
}

/// Reads the facts of a Mach-O file.
pub fn inspect(bytes: &[u8]) -> Result<MachoFacts, String> {
    match object::FileKind::parse(bytes).map_err(|e| e.to_string())? {
        object::FileKind::MachO64 => facts::<macho::MachHeader64<Endianness>>(bytes, 64),
        object::FileKind::MachO32 => facts::<macho::MachHeader32<Endianness>>(bytes, 32),
        object::FileKind::MachOFat32 | object::FileKind::MachOFat64 => {
            Err("it is a universal (fat) binary: build one binary per target".into())
        }
        other => Err(format!("not a Mach-O file ({other:?})")),
    }
}

fn facts<H: MachHeader<Endian = Endianness>>(data: &[u8], bits: u8) -> Result<MachoFacts, String> {
    let err = |e: object::read::Error| e.to_string();
    let header = H::parse(data, 0).map_err(err)?;
    let e = header.endian().map_err(err)?;
    let mut out = MachoFacts {
        cpu: cpu_name(header.cputype(e)),
        bits,
        min_os: None,
        dylibs: Vec::new(),
    };
    let mut commands = header.load_commands(e, data, 0).map_err(err)?;
    while let Some(command) = commands.next().map_err(err)? {
        match command.variant().map_err(err)? {
            LoadCommandVariant::Dylib(d) => {
                let name = command.string(e, d.dylib.name).map_err(err)?;
                out.dylibs.push(String::from_utf8_lossy(name).into_owned());
            }
            LoadCommandVariant::BuildVersion(b) if b.platform.get(e) == macho::PLATFORM_MACOS => {
                out.min_os = Some(version(b.minos.get(e)));
            }
            LoadCommandVariant::VersionMin(v) if command.cmd() == macho::LC_VERSION_MIN_MACOSX => {
                out.min_os = Some(version(v.version.get(e)));
            }
            _ => {}
        }
    }
    Ok(out)
}

fn cpu_name(cpu: u32) -> String {
    match cpu {
        macho::CPU_TYPE_ARM64 => "arm64".into(),
        macho::CPU_TYPE_X86_64 => "x86_64".into(),
        macho::CPU_TYPE_X86 => "i386".into(),
        macho::CPU_TYPE_ARM => "arm".into(),
        other => format!("CPU type {other:#x}"),
    }
}

/// `X.Y.Z` from nibbles `xxxx.yy.zz`, without a `.0` patch.
fn version(v: u32) -> String {
    let (x, y, z) = (v >> 16, (v >> 8) & 0xff, v & 0xff);
    match z {
        0 => format!("{x}.{y}"),
        _ => format!("{x}.{y}.{z}"),
    }
}

/// Whether every Mac has `dylib`.
fn is_system(dylib: &str) -> bool {
    (dylib.starts_with("/usr/lib/") || dylib.starts_with("/System/Library/"))
        && !dylib.contains("/../")
}

/// What is wrong with `facts` for `platform`, each as one sentence that
/// names the target.
pub fn problems(platform: Platform, facts: &MachoFacts) -> Vec<String> {
    let (cpu, bits) = platform.machine();
    if facts.cpu != cpu || facts.bits != bits {
        return vec![format!(
            "{platform}: the binary is for {} ({}-bit), not {cpu} ({bits}-bit)",
            facts.cpu, facts.bits
        )];
    }
    facts
        .dylibs
        .iter()
        .filter(|d| !is_system(d))
        .map(|d| match d.starts_with("/nix/store/") {
            true => format!(
                "{platform}: the binary links {d}, a Nix store path that a user's Mac does not have: link it statically or against the system's libraries"
            ),
            false => format!(
                "{platform}: the binary links {d}, which is not a macOS system library (/usr/lib, /System/Library)"
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/macho/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    fn p(s: &str) -> Platform {
        Platform::parse_any(s).unwrap()
    }

    #[test]
    fn reads_what_clang_and_ld64_lld_wrote_for_each_target() {
        // Made by tests/vectors/macho/make.sh (file(1) agrees).
        for (file, target, cpu) in [
            ("hello-arm64", "darwin/arm64", "arm64"),
            ("hello-x86_64", "darwin/amd64", "x86_64"),
        ] {
            let f = inspect(&vector(file)).unwrap();
            assert_eq!((f.cpu.as_str(), f.bits), (cpu, 64), "{file}");
            assert_eq!(f.min_os.as_deref(), Some("11.0"), "{file}");
            assert_eq!(f.dylibs, ["/usr/lib/libSystem.B.dylib"], "{file}");
            assert!(problems(p(target), &f).is_empty(), "{file}");
        }
    }

    #[test]
    fn names_a_wrong_cpu_and_a_store_path() {
        let arm = inspect(&vector("hello-arm64")).unwrap();
        assert_eq!(
            problems(p("darwin/amd64"), &arm),
            ["darwin/amd64: the binary is for arm64 (64-bit), not x86_64 (64-bit)"]
        );
        let bad = inspect(&vector("links-store-path")).unwrap();
        let found = problems(p("darwin/arm64"), &bad);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("darwin/arm64: the binary links /nix/store/")
                && found[0].contains("libiconv.2.dylib, a Nix store path"),
            "{found:?}"
        );
        assert_eq!(version(0x000b_0000), "11.0");
        assert_eq!(version(0x000a_0f02), "10.15.2");
    }

    #[test]
    fn an_elf_file_is_not_read_as_mach_o() {
        let elf = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/elf/x86_64"
        ))
        .unwrap();
        assert!(!is_macho(&elf));
        assert!(inspect(&elf).is_err());
    }
}
