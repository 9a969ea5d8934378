//! What a static output's ELF header says, and whether it fits its target.
//! Pure: bytes in, facts and problems out. Parsing is the `object` crate's
//! (gimli-rs; it also reads `.ARM.attributes`, which goblin does not).
//!
//! Checks, per target:
//! - `e_machine` (and the ELF class) is the target's;
//! - the binary is static: no `PT_INTERP`, no `DT_NEEDED`;
//! - for `linux/arm/v6`: `Tag_CPU_arch` is v6 or older, and
//!   `Tag_ABI_VFP_args` says the hard-float ABI (Raspberry Pi OS's armhf);
//! - for `linux/arm/v7`: `Tag_CPU_arch` is v7 or older (not v7-M, not v8),
//!   and the hard-float ABI (Debian's armhf).

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::Endianness;
use serde::{Deserialize, Serialize};

use crate::platform::Platform;

/// What the ELF header and tables say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElfFacts {
    /// `x86-64`, `i386`, `AArch64`, `ARM`, `RISC-V`, `PowerPC64
    /// little-endian` (or big-endian), `S/390`, or `e_machine N`.
    pub machine: String,
    /// 32 or 64.
    pub bits: u8,
    /// `PT_INTERP`, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interpreter: Option<String>,
    /// `DT_NEEDED` entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needed: Vec<String>,
    /// ARM only: `Tag_CPU_arch` (6 is v6, 10 is v7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_cpu_arch: Option<u64>,
    /// ARM only: `Tag_ABI_VFP_args` is 1 (VFP registers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm_hard_float: Option<bool>,
}

impl ElfFacts {
    /// No interpreter and no needed library.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

/// Whether `bytes` start like an ELF file.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Reads the facts of an ELF file.
pub fn inspect(bytes: &[u8]) -> Result<ElfFacts, String> {
    match object::FileKind::parse(bytes).map_err(|e| e.to_string())? {
        object::FileKind::Elf32 => facts::<elf::FileHeader32<Endianness>>(bytes, 32),
        object::FileKind::Elf64 => facts::<elf::FileHeader64<Endianness>>(bytes, 64),
        other => Err(format!("not an ELF file ({other:?})")),
    }
}

fn facts<H: FileHeader<Endian = Endianness>>(data: &[u8], bits: u8) -> Result<ElfFacts, String> {
    let err = |e: object::read::Error| e.to_string();
    let header = H::parse(data).map_err(err)?;
    let e = header.endian().map_err(err)?;
    let machine = header.e_machine(e);
    let mut out = ElfFacts {
        machine: machine_name(machine, object::Endian::is_big_endian(e)),
        bits,
        interpreter: None,
        needed: Vec::new(),
        arm_cpu_arch: None,
        arm_hard_float: None,
    };
    for ph in header.program_headers(e, data).map_err(err)? {
        if ph.p_type(e) == elf::PT_INTERP {
            let text = ph.data(e, data).unwrap_or_default();
            out.interpreter = Some(
                String::from_utf8_lossy(text)
                    .trim_end_matches('\0')
                    .to_string(),
            );
        }
    }
    let sections = header.sections(e, data).map_err(err)?;
    if let Some((dynamic, link)) = sections.dynamic(e, data).map_err(err)? {
        let strings = sections.strings(e, data, link).map_err(err)?;
        for d in dynamic {
            if d.d_tag(e).into() == u64::from(elf::DT_NEEDED) {
                let name = d.string(e, strings).unwrap_or(b"?");
                out.needed.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    if machine == elf::EM_ARM {
        out.arm_hard_float = Some(false);
        for section in sections.iter() {
            if section.sh_type(e) == elf::SHT_ARM_ATTRIBUTES {
                let attributes = section.attributes(e, data).map_err(err)?;
                read_arm_attributes(&attributes, &mut out).map_err(err)?;
            }
        }
    }
    Ok(out)
}

/// `Tag_File` attributes of the `aeabi` subsection.
fn read_arm_attributes<H: FileHeader>(
    section: &object::read::elf::AttributesSection<'_, H>,
    out: &mut ElfFacts,
) -> object::read::Result<()> {
    const TAG_FILE: u8 = 1;
    const TAG_CPU_ARCH: u64 = 6;
    const TAG_ABI_VFP_ARGS: u64 = 28;
    let mut subsections = section.subsections()?;
    while let Some(sub) = subsections.next()? {
        if sub.vendor() != b"aeabi" {
            continue;
        }
        let mut subsubs = sub.subsubsections();
        while let Some(subsub) = subsubs.next()? {
            if subsub.tag() != TAG_FILE {
                continue;
            }
            let mut reader = subsub.attributes();
            while let Some(tag) = reader.read_tag()? {
                // The aeabi encoding: a few tags are strings, 32 is a number
                // then a string, and past 32 odd tags are strings.
                match tag {
                    4 | 5 | 65 | 67 => {
                        reader.read_string()?;
                    }
                    32 => {
                        reader.read_integer()?;
                        reader.read_string()?;
                    }
                    t if t > 32 && t % 2 == 1 => {
                        reader.read_string()?;
                    }
                    TAG_CPU_ARCH => out.arm_cpu_arch = Some(reader.read_integer()?),
                    TAG_ABI_VFP_ARGS => out.arm_hard_float = Some(reader.read_integer()? == 1),
                    _ => {
                        reader.read_integer()?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn machine_name(machine: u16, big_endian: bool) -> String {
    match machine {
        elf::EM_X86_64 => "x86-64".into(),
        elf::EM_386 => "i386".into(),
        elf::EM_AARCH64 => "AArch64".into(),
        elf::EM_ARM => "ARM".into(),
        elf::EM_RISCV => "RISC-V".into(),
        // Both byte orders exist, and neither runs the other's binaries.
        elf::EM_PPC64 if big_endian => "PowerPC64 big-endian".into(),
        elf::EM_PPC64 => "PowerPC64 little-endian".into(),
        elf::EM_S390 => "S/390".into(),
        elf::EM_LOONGARCH => "LoongArch".into(),
        elf::EM_MIPS => "MIPS".into(),
        other => format!("e_machine {other}"),
    }
}

/// `Tag_CPU_arch` values, as `readelf -A` names them.
fn arm_arch_name(v: u64) -> String {
    const NAMES: [&str; 15] = [
        "pre-v4", "v4", "v4T", "v5T", "v5TE", "v5TEJ", "v6", "v6KZ", "v6T2", "v6K", "v7", "v6-M",
        "v6S-M", "v7E-M", "v8",
    ];
    NAMES
        .get(v as usize)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("arch {v}"))
}

/// The architecture family of a `Tag_CPU_arch` past v6.
fn arm_family(v: u64) -> &'static str {
    match v {
        10 => "ARMv7",
        11..=13 => "ARMv7-M",
        _ => "ARMv8 or later",
    }
}

/// The machine (name, bits) a target's binaries are for.
fn expected(platform: Platform) -> (&'static str, u8) {
    platform.machine()
}

/// The newest `Tag_CPU_arch` an arm target runs: v6 (6, with v6KZ, v6T2
/// and v6K up to 9) or v7 (10); `None` for other machines.
fn arm_newest(platform: Platform) -> Option<u64> {
    match platform.variant() {
        Some("v6") => Some(9),
        Some("v7") => Some(10),
        _ => None,
    }
}

/// An arm binary must be no newer than its target's architecture and use
/// the hard-float ABI (armhf).
fn arm_problems(platform: Platform, facts: &ElfFacts, newest: u64, out: &mut Vec<String>) {
    let wanted = if newest < 10 { "armv6" } else { "armv7" };
    match facts.arm_cpu_arch {
        Some(v) if v > newest && newest < 10 => out.push(format!(
            "{platform}: the binary is {} (Tag_CPU_arch {}), newer than ARMv6: it crashes on a Raspberry Pi Zero or 1",
            arm_family(v),
            arm_arch_name(v)
        )),
        Some(v) if v > newest => out.push(format!(
            "{platform}: the binary is {} (Tag_CPU_arch {}), not ARMv7-A: it does not run on ARMv7 boards",
            arm_family(v),
            arm_arch_name(v)
        )),
        None => out.push(format!("{platform}: the binary has no Tag_CPU_arch: build it for {wanted}")),
        _ => {}
    }
    if facts.arm_hard_float == Some(false) {
        out.push(format!(
            "{platform}: the binary uses the soft-float ABI (Tag_ABI_VFP_args is not VFP registers), not armhf"
        ));
    }
}

/// What relaxes the checks for one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relaxed {
    /// Dynamic binaries are shipped on purpose.
    pub dynamic: bool,
}

/// What is wrong with `facts` for `platform`, each as one sentence that
/// names the target ("linux/arm/v6: the binary is ARMv7 (Tag_CPU_arch v7)").
pub fn problems(platform: Platform, facts: &ElfFacts, relaxed: Relaxed) -> Vec<String> {
    let mut out = Vec::new();
    let (machine, bits) = expected(platform);
    if facts.machine != machine || facts.bits != bits {
        out.push(format!(
            "{platform}: the binary is for {} ({}-bit), not {machine} ({bits}-bit)",
            facts.machine, facts.bits
        ));
        return out;
    }
    if !facts.is_static() && !relaxed.dynamic {
        let mut what = Vec::new();
        if let Some(i) = &facts.interpreter {
            what.push(format!("interpreter {i}"));
        }
        if !facts.needed.is_empty() {
            what.push(format!("needs {}", facts.needed.join(", ")));
        }
        out.push(format!(
            "{platform}: the binary is dynamically linked ({}), not static",
            what.join("; ")
        ));
    }
    if let Some(newest) = arm_newest(platform) {
        arm_problems(platform, facts, newest, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/elf/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    fn p(s: &str) -> Platform {
        Platform::parse_any(s).unwrap()
    }

    #[test]
    fn reads_what_binutils_wrote_for_each_target() {
        // Made by tests/vectors/elf/make.sh with Debian's binutils (readelf -h -l -A agrees).
        for (file, target, machine, bits) in [
            ("x86_64", "linux/amd64", "x86-64", 64),
            ("i686", "linux/386", "i386", 32),
            ("aarch64", "linux/arm64", "AArch64", 64),
            ("armv6", "linux/arm/v6", "ARM", 32),
            ("riscv64", "linux/riscv64", "RISC-V", 64),
            ("ppc64le", "linux/ppc64le", "PowerPC64 little-endian", 64),
            ("s390x", "linux/s390x", "S/390", 64),
        ] {
            let f = inspect(&vector(file)).unwrap();
            assert_eq!((f.machine.as_str(), f.bits), (machine, bits), "{file}");
            assert!(f.is_static(), "{file}");
            assert_eq!(
                problems(p(target), &f, Relaxed::default()),
                Vec::<String>::new(),
                "{file}"
            );
        }
        let v6 = inspect(&vector("armv6")).unwrap();
        assert_eq!((v6.arm_cpu_arch, v6.arm_hard_float), (Some(6), Some(true)));
    }

    #[test]
    fn names_a_wrong_machine_a_dynamic_binary_and_armv7_in_the_v6_slot() {
        let wrong = problems(
            p("linux/amd64"),
            &inspect(&vector("aarch64")).unwrap(),
            Relaxed::default(),
        );
        assert_eq!(
            wrong,
            ["linux/amd64: the binary is for AArch64 (64-bit), not x86-64 (64-bit)"]
        );

        let dynamic = inspect(&vector("dynamic")).unwrap();
        assert_eq!(
            dynamic.interpreter.as_deref(),
            Some("/lib64/ld-linux-x86-64.so.2")
        );
        assert_eq!(dynamic.needed, ["libstandin.so"]);
        let text = problems(p("linux/amd64"), &dynamic, Relaxed::default());
        assert_eq!(
            text,
            ["linux/amd64: the binary is dynamically linked (interpreter /lib64/ld-linux-x86-64.so.2; needs libstandin.so), not static"]
        );
        assert!(problems(p("linux/amd64"), &dynamic, Relaxed { dynamic: true }).is_empty());

        let v7 = inspect(&vector("armv7")).unwrap();
        assert_eq!(v7.arm_cpu_arch, Some(10));
        let text = problems(p("linux/arm/v6"), &v7, Relaxed::default());
        assert_eq!(text.len(), 1, "{text:?}");
        assert!(
            text[0].starts_with("linux/arm/v6: the binary is ARMv7 (Tag_CPU_arch v7)"),
            "{text:?}"
        );

        let v8 = inspect(&vector("armv8-a32")).unwrap();
        assert_eq!(v8.arm_cpu_arch, Some(14));
        assert_eq!(
            problems(p("linux/arm/v7"), &v8, Relaxed::default()),
            ["linux/arm/v7: the binary is ARMv8 or later (Tag_CPU_arch v8), not ARMv7-A: it does not run on ARMv7 boards"]
        );
        // ARMv7 and ARMv6 code both run on an ARMv7 board.
        assert!(problems(p("linux/arm/v7"), &v7, Relaxed::default()).is_empty());
        let v6 = inspect(&vector("armv6")).unwrap();
        assert!(problems(p("linux/arm/v7"), &v6, Relaxed::default()).is_empty());

        let soft = inspect(&vector("armv6-soft")).unwrap();
        assert_eq!(soft.arm_hard_float, Some(false));
        assert!(problems(p("linux/arm/v6"), &soft, Relaxed::default())[0].contains("soft-float"));
        assert!(problems(p("linux/arm/v7"), &soft, Relaxed::default())[0].contains("soft-float"));
        assert!(!is_elf(b"#!/bin/sh\n") && is_elf(&vector("x86_64")));
    }
}
