//! The platform model: one target, every spelling of it.
//!
//! A release target is written the OCI way (`linux/arm/v6`). Every other tool
//! in the chain spells it differently: Nix wants a system (`armv6l-linux`),
//! cargo a Rust triple (`armv6l-unknown-linux-musleabihf`), and Garage-style
//! image file names a docker stem (`linux.arm`). [`Platform`] maps between them
//! all, from one table, so that no module invents its own mapping.
//!
//! The Rust triple here is the one the template builds with (static musl)
//! and the Garage layout names directories by; a project's flake may build
//! with another (the example: Debian's `-gnu` ones), which `build` records
//! from the derivation.

use std::fmt;
use std::str::FromStr;

/// One release target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    entry: &'static Entry,
}

#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Entry {
    os: &'static str,
    arch: &'static str,
    variant: Option<&'static str>,
    nix_system: &'static str,
    rust_triple: &'static str,
    docker_stem: &'static str,
    /// The machine as its binary format's check names it (`x86-64`,
    /// `AArch64` for ELF; `arm64` for Mach-O; `ARM64` for PE), and the
    /// word size.
    machine: (&'static str, u8),
    /// The Debian and RPM architectures of its packages (Linux only).
    packages: Option<(&'static str, &'static str)>,
    /// What runs its binaries on a Linux machine that is not one.
    emulator: Emulator,
    /// What `uname -m` says on a machine that runs it natively.
    uname: &'static str,
}

/// What runs a target's binaries on a Linux machine of another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Emulator {
    /// `qemu-<arch>-static` (Debian's qemu-user-static).
    Qemu(&'static str),
    /// Wine (Debian's wine64), for Windows on x86-64.
    Wine,
    /// Nothing can here: the reason.
    Nothing(&'static str),
}

/// The executable format of a target's binaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryFormat {
    /// ELF (Linux).
    Elf,
    /// Mach-O (macOS).
    MachO,
    /// PE (Windows).
    Pe,
}

impl BinaryFormat {
    /// For messages and build.json: `elf`, `macho`, `pe`.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryFormat::Elf => "elf",
            BinaryFormat::MachO => "macho",
            BinaryFormat::Pe => "pe",
        }
    }

    /// How people call it: `ELF`, `Mach-O`, `PE`.
    pub fn name(self) -> &'static str {
        match self {
            BinaryFormat::Elf => "ELF",
            BinaryFormat::MachO => "Mach-O",
            BinaryFormat::Pe => "PE",
        }
    }
}

/// The known targets: Garage's four in the order it ships them, then the rest.
static TABLE: [Entry; 12] = [
    Entry {
        os: "linux",
        arch: "amd64",
        variant: None,
        nix_system: "x86_64-linux",
        rust_triple: "x86_64-unknown-linux-musl",
        docker_stem: "linux.amd64",
        machine: ("x86-64", 64),
        packages: Some(("amd64", "x86_64")),
        emulator: Emulator::Qemu("x86_64"),
        uname: "x86_64",
    },
    Entry {
        os: "linux",
        arch: "386",
        variant: None,
        nix_system: "i686-linux",
        rust_triple: "i686-unknown-linux-musl",
        docker_stem: "linux.386",
        machine: ("i386", 32),
        packages: Some(("i386", "i686")),
        emulator: Emulator::Qemu("i386"),
        uname: "i686",
    },
    Entry {
        os: "linux",
        arch: "arm64",
        variant: None,
        nix_system: "aarch64-linux",
        rust_triple: "aarch64-unknown-linux-musl",
        docker_stem: "linux.arm64",
        machine: ("AArch64", 64),
        packages: Some(("arm64", "aarch64")),
        emulator: Emulator::Qemu("aarch64"),
        uname: "aarch64",
    },
    Entry {
        os: "linux",
        arch: "arm",
        variant: Some("v6"),
        nix_system: "armv6l-linux",
        rust_triple: "armv6l-unknown-linux-musleabihf",
        // Garage's name for its one arm image.
        docker_stem: "linux.arm",
        machine: ("ARM", 32),
        packages: Some(("armhf", "armv6hl")),
        emulator: Emulator::Qemu("arm"),
        uname: "armv6l",
    },
    Entry {
        os: "linux",
        arch: "arm",
        variant: Some("v7"),
        nix_system: "armv7l-linux",
        rust_triple: "armv7-unknown-linux-musleabihf",
        docker_stem: "linux.arm.v7",
        machine: ("ARM", 32),
        packages: Some(("armhf", "armv7hl")),
        emulator: Emulator::Qemu("arm"),
        uname: "armv7l",
    },
    Entry {
        os: "linux",
        arch: "riscv64",
        variant: None,
        nix_system: "riscv64-linux",
        rust_triple: "riscv64gc-unknown-linux-musl",
        docker_stem: "linux.riscv64",
        machine: ("RISC-V", 64),
        packages: Some(("riscv64", "riscv64")),
        emulator: Emulator::Qemu("riscv64"),
        uname: "riscv64",
    },
    Entry {
        os: "linux",
        arch: "ppc64le",
        variant: None,
        nix_system: "powerpc64le-linux",
        rust_triple: "powerpc64le-unknown-linux-musl",
        docker_stem: "linux.ppc64le",
        machine: ("PowerPC64 little-endian", 64),
        packages: Some(("ppc64el", "ppc64le")),
        emulator: Emulator::Qemu("ppc64le"),
        uname: "ppc64le",
    },
    Entry {
        os: "linux",
        arch: "s390x",
        variant: None,
        nix_system: "s390x-linux",
        rust_triple: "s390x-unknown-linux-musl",
        docker_stem: "linux.s390x",
        machine: ("S/390", 64),
        packages: Some(("s390x", "s390x")),
        emulator: Emulator::Qemu("s390x"),
        uname: "s390x",
    },
    Entry {
        os: "darwin",
        arch: "amd64",
        variant: None,
        nix_system: "x86_64-darwin",
        rust_triple: "x86_64-apple-darwin",
        docker_stem: "darwin.amd64",
        machine: ("x86_64", 64),
        packages: None,
        emulator: Emulator::Nothing("a macOS binary does not run on Linux"),
        uname: "x86_64",
    },
    Entry {
        os: "darwin",
        arch: "arm64",
        variant: None,
        nix_system: "aarch64-darwin",
        rust_triple: "aarch64-apple-darwin",
        docker_stem: "darwin.arm64",
        machine: ("arm64", 64),
        packages: None,
        emulator: Emulator::Nothing("a macOS binary does not run on Linux"),
        uname: "arm64",
    },
    Entry {
        os: "windows",
        arch: "amd64",
        variant: None,
        nix_system: "x86_64-windows",
        rust_triple: "x86_64-pc-windows-gnu",
        docker_stem: "windows.amd64",
        machine: ("x86-64", 64),
        packages: None,
        emulator: Emulator::Wine,
        uname: "",
    },
    Entry {
        os: "windows",
        arch: "arm64",
        variant: None,
        nix_system: "aarch64-windows",
        rust_triple: "aarch64-pc-windows-gnullvm",
        docker_stem: "windows.arm64",
        machine: ("ARM64", 64),
        packages: None,
        emulator: Emulator::Nothing("nothing here runs Windows on ARM binaries"),
        uname: "",
    },
];

/// How many of the table's first entries are the default set.
const DEFAULTS: usize = 4;

/// Targets a project declared (`custom-targets`), for this process: each
/// entry is leaked once, so that a custom target is a [`Platform`] like the
/// table's.
static CUSTOM: std::sync::RwLock<Vec<&'static Entry>> = std::sync::RwLock::new(Vec::new());

/// A target the table lacks, with its spellings, as a project declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomTarget {
    /// `os/arch[/variant]`.
    pub oci: String,
    /// Its Nix system (`loongarch64-linux`).
    pub nix_system: String,
    /// Its Rust triple (`loongarch64-unknown-linux-gnu`).
    pub rust_triple: String,
    /// The machine as its format's check names it, and the word size.
    pub machine: (String, u8),
    /// Its (Debian, RPM) architectures, when it gets packages.
    pub packages: Option<(String, String)>,
    /// Its qemu user emulator's architecture, when there is one.
    pub qemu: Option<String>,
}

fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

impl Platform {
    /// Every known target: the table's, Garage's four first, then those
    /// the project declared.
    pub fn all() -> impl Iterator<Item = Platform> {
        let custom = CUSTOM.read().map(|c| c.clone()).unwrap_or_default();
        TABLE.iter().chain(custom).map(|entry| Platform { entry })
    }

    /// Declares `t` for this process; the same declaration again is the
    /// same target. Refused: a malformed spelling, or one the table (or an
    /// earlier declaration) already uses.
    pub fn declare(t: &CustomTarget) -> Result<Platform, String> {
        let parts: Vec<&str> = t.oci.split('/').collect();
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| word(p)) {
            return Err(format!(
                "`{}` is not os/arch[/variant] in lower-case letters and digits",
                t.oci
            ));
        }
        for spelling in [&t.oci, &t.nix_system, &t.rust_triple] {
            if let Some(p) = Self::parse_any(spelling) {
                let same = p.to_string() == t.oci
                    && p.nix_system() == t.nix_system
                    && p.rust_triple() == t.rust_triple
                    && !TABLE.iter().any(|e| std::ptr::eq(e, p.entry));
                return match same {
                    true => Ok(p),
                    false => Err(format!("`{spelling}` is already the spelling of {p}")),
                };
            }
        }
        let entry: &'static Entry = Box::leak(Box::new(Entry {
            os: leak(parts[0]),
            arch: leak(parts[1]),
            variant: parts.get(2).map(|v| leak(v)),
            nix_system: leak(&t.nix_system),
            rust_triple: leak(&t.rust_triple),
            docker_stem: leak(&parts.join(".")),
            machine: (leak(&t.machine.0), t.machine.1),
            packages: t.packages.as_ref().map(|(d, r)| (leak(d), leak(r))),
            emulator: match &t.qemu {
                Some(q) => Emulator::Qemu(leak(q)),
                None => Emulator::Nothing("no emulator is declared for this target (`qemu`)"),
            },
            uname: "",
        }));
        if let Ok(mut custom) = CUSTOM.write() {
            custom.push(entry);
        }
        Ok(Platform { entry })
    }

    /// The default target set: the four that Garage ships (amd64, 386,
    /// arm64, arm/v6), whatever else the table knows.
    pub fn defaults() -> Vec<Platform> {
        Self::all().take(DEFAULTS).collect()
    }

    /// The OCI operating system (`linux`).
    pub fn os(&self) -> &'static str {
        self.entry.os
    }

    /// The OCI architecture (`amd64`, `386`, `arm64`, `arm`).
    pub fn arch(&self) -> &'static str {
        self.entry.arch
    }

    /// The OCI architecture variant (`v6` for `linux/arm/v6`).
    pub fn variant(&self) -> Option<&'static str> {
        self.entry.variant
    }

    /// The Nix system string (`armv6l-linux`).
    pub fn nix_system(&self) -> &'static str {
        self.entry.nix_system
    }

    /// The Rust target triple (`armv6l-unknown-linux-musleabihf`).
    pub fn rust_triple(&self) -> &'static str {
        self.entry.rust_triple
    }

    /// The docker archive stem: `<os>.<arch>` (`linux.arm64`), with the
    /// variant for arm/v7 (`linux.arm.v7`); arm/v6 keeps Garage's `linux.arm`.
    pub fn docker_stem(&self) -> String {
        self.entry.docker_stem.to_string()
    }

    /// The machine its binaries are for, as the check of its format names
    /// it (ELF: `x86-64`, `AArch64`, `PowerPC64 little-endian`; Mach-O:
    /// `arm64`, `x86_64`; PE: `x86-64`, `ARM64`), and the word size.
    pub fn machine(&self) -> (&'static str, u8) {
        self.entry.machine
    }

    /// The (Debian, RPM) architectures of its packages (`ppc64el`,
    /// `ppc64le`); `None` for a target that gets no packages (not Linux).
    pub fn package_arches(&self) -> Option<(&'static str, &'static str)> {
        self.entry.packages
    }

    /// What runs its binaries on a Linux machine of another kind.
    pub fn emulator(&self) -> Emulator {
        self.entry.emulator
    }

    /// The executable format of its binaries.
    pub fn format(&self) -> BinaryFormat {
        match self.entry.os {
            "darwin" => BinaryFormat::MachO,
            "windows" => BinaryFormat::Pe,
            _ => BinaryFormat::Elf,
        }
    }

    /// Linux: the targets that get images and packages.
    pub fn is_linux(&self) -> bool {
        self.entry.os == "linux"
    }

    /// A program's file name on this target: `hello.exe` on Windows.
    pub fn program_file(&self, name: &str) -> String {
        match self.format() {
            BinaryFormat::Pe if !name.ends_with(".exe") => format!("{name}.exe"),
            _ => name.to_string(),
        }
    }

    /// What `uname -m` says on a machine that runs it natively (`armv7l`).
    pub fn uname(&self) -> &'static str {
        self.entry.uname
    }

    /// The relative directory of this target in a platform tree
    /// (`linux/arm/v6`), which is also its OCI spelling.
    pub fn tree_dir(&self) -> String {
        self.to_string()
    }

    /// Parses any one of the spellings: OCI, Nix system, Rust triple or docker stem.
    pub fn parse_any(s: &str) -> Option<Platform> {
        Self::all().find(|p| {
            p.to_string() == s
                || p.nix_system() == s
                || p.rust_triple() == s
                || (p.docker_stem() == s && s != "linux.arm")
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.entry.os, self.entry.arch)?;
        if let Some(v) = self.entry.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// A target name that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown target `{0}`")]
pub struct UnknownPlatform(pub String);

impl UnknownPlatform {
    /// The known spellings, for the error's hint.
    pub fn known() -> String {
        Platform::all()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    /// Parses the OCI spelling, and as a convenience the Nix system and the
    /// Rust triple. `linux/arm` alone is refused: which ARM is meant matters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_any(s)
            .filter(|p| s != "linux.arm" && s != "linux/arm" || p.variant().is_none())
            .ok_or_else(|| UnknownPlatform(s.to_string()))
    }
}

impl serde::Serialize for Platform {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Platform {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_each_target() {
        let rows: Vec<_> = Platform::all()
            .take(TABLE.len())
            .map(|p| {
                (
                    p.to_string(),
                    p.nix_system(),
                    p.rust_triple(),
                    p.docker_stem(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            vec![
                (
                    "linux/amd64".into(),
                    "x86_64-linux",
                    "x86_64-unknown-linux-musl",
                    "linux.amd64".into()
                ),
                (
                    "linux/386".into(),
                    "i686-linux",
                    "i686-unknown-linux-musl",
                    "linux.386".into()
                ),
                (
                    "linux/arm64".into(),
                    "aarch64-linux",
                    "aarch64-unknown-linux-musl",
                    "linux.arm64".into()
                ),
                (
                    "linux/arm/v6".into(),
                    "armv6l-linux",
                    "armv6l-unknown-linux-musleabihf",
                    "linux.arm".into()
                ),
                (
                    "linux/arm/v7".into(),
                    "armv7l-linux",
                    "armv7-unknown-linux-musleabihf",
                    "linux.arm.v7".into()
                ),
                (
                    "linux/riscv64".into(),
                    "riscv64-linux",
                    "riscv64gc-unknown-linux-musl",
                    "linux.riscv64".into()
                ),
                (
                    "linux/ppc64le".into(),
                    "powerpc64le-linux",
                    "powerpc64le-unknown-linux-musl",
                    "linux.ppc64le".into()
                ),
                (
                    "linux/s390x".into(),
                    "s390x-linux",
                    "s390x-unknown-linux-musl",
                    "linux.s390x".into()
                ),
                (
                    "darwin/amd64".into(),
                    "x86_64-darwin",
                    "x86_64-apple-darwin",
                    "darwin.amd64".into()
                ),
                (
                    "darwin/arm64".into(),
                    "aarch64-darwin",
                    "aarch64-apple-darwin",
                    "darwin.arm64".into()
                ),
                (
                    "windows/amd64".into(),
                    "x86_64-windows",
                    "x86_64-pc-windows-gnu",
                    "windows.amd64".into()
                ),
                (
                    "windows/arm64".into(),
                    "aarch64-windows",
                    "aarch64-pc-windows-gnullvm",
                    "windows.arm64".into()
                ),
            ]
        );
    }

    #[test]
    fn the_defaults_are_garages_four_whatever_the_table_knows() {
        let defaults: Vec<String> = Platform::defaults().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            defaults,
            ["linux/amd64", "linux/386", "linux/arm64", "linux/arm/v6"]
        );
        assert!(Platform::all().count() > defaults.len());
    }

    #[test]
    fn parses_each_spelling_back() {
        for p in Platform::all() {
            assert_eq!(p.to_string().parse::<Platform>(), Ok(p));
            assert_eq!(p.nix_system().parse::<Platform>(), Ok(p));
            assert_eq!(p.rust_triple().parse::<Platform>(), Ok(p));
        }
        assert_eq!(
            "linux.arm64".parse::<Platform>().map(|p| p.nix_system()),
            Ok("aarch64-linux")
        );
        assert_eq!(
            "linux.arm.v7".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/arm/v7".into())
        );
    }

    #[test]
    fn refuses_unknown_and_ambiguous_targets() {
        assert!("linux/mips64le".parse::<Platform>().is_err());
        assert!(
            "linux/ppc64".parse::<Platform>().is_err(),
            "big-endian POWER is not ppc64le"
        );
        assert!("linux/arm".parse::<Platform>().is_err());
        assert!("linux.arm".parse::<Platform>().is_err());
        assert!("".parse::<Platform>().is_err());
    }

    #[test]
    fn oci_fields_of_arm_v6() {
        let p: Platform = "linux/arm/v6".parse().unwrap();
        assert_eq!(
            (p.os(), p.arch(), p.variant()),
            ("linux", "arm", Some("v6"))
        );
        assert_eq!(p.tree_dir(), "linux/arm/v6");
    }
}
