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
    /// The ELF machine as `elfcheck` names it, and the class.
    elf: (&'static str, u8),
    /// The Debian and RPM architectures of its packages.
    packages: (&'static str, &'static str),
    /// The qemu user emulator's architecture (`qemu-<this>-static`).
    qemu: &'static str,
    /// What `uname -m` says on a machine that runs it natively.
    uname: &'static str,
}

/// The known targets: Garage's four in the order it ships them, then the rest.
static TABLE: [Entry; 8] = [
    Entry {
        os: "linux",
        arch: "amd64",
        variant: None,
        nix_system: "x86_64-linux",
        rust_triple: "x86_64-unknown-linux-musl",
        docker_stem: "linux.amd64",
        elf: ("x86-64", 64),
        packages: ("amd64", "x86_64"),
        qemu: "x86_64",
        uname: "x86_64",
    },
    Entry {
        os: "linux",
        arch: "386",
        variant: None,
        nix_system: "i686-linux",
        rust_triple: "i686-unknown-linux-musl",
        docker_stem: "linux.386",
        elf: ("i386", 32),
        packages: ("i386", "i686"),
        qemu: "i386",
        uname: "i686",
    },
    Entry {
        os: "linux",
        arch: "arm64",
        variant: None,
        nix_system: "aarch64-linux",
        rust_triple: "aarch64-unknown-linux-musl",
        docker_stem: "linux.arm64",
        elf: ("AArch64", 64),
        packages: ("arm64", "aarch64"),
        qemu: "aarch64",
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
        elf: ("ARM", 32),
        packages: ("armhf", "armv6hl"),
        qemu: "arm",
        uname: "armv6l",
    },
    Entry {
        os: "linux",
        arch: "arm",
        variant: Some("v7"),
        nix_system: "armv7l-linux",
        rust_triple: "armv7-unknown-linux-musleabihf",
        docker_stem: "linux.arm.v7",
        elf: ("ARM", 32),
        packages: ("armhf", "armv7hl"),
        qemu: "arm",
        uname: "armv7l",
    },
    Entry {
        os: "linux",
        arch: "riscv64",
        variant: None,
        nix_system: "riscv64-linux",
        rust_triple: "riscv64gc-unknown-linux-musl",
        docker_stem: "linux.riscv64",
        elf: ("RISC-V", 64),
        packages: ("riscv64", "riscv64"),
        qemu: "riscv64",
        uname: "riscv64",
    },
    Entry {
        os: "linux",
        arch: "ppc64le",
        variant: None,
        nix_system: "powerpc64le-linux",
        rust_triple: "powerpc64le-unknown-linux-musl",
        docker_stem: "linux.ppc64le",
        elf: ("PowerPC64 little-endian", 64),
        packages: ("ppc64el", "ppc64le"),
        qemu: "ppc64le",
        uname: "ppc64le",
    },
    Entry {
        os: "linux",
        arch: "s390x",
        variant: None,
        nix_system: "s390x-linux",
        rust_triple: "s390x-unknown-linux-musl",
        docker_stem: "linux.s390x",
        elf: ("S/390", 64),
        packages: ("s390x", "s390x"),
        qemu: "s390x",
        uname: "s390x",
    },
];

/// How many of the table's first entries are the default set.
const DEFAULTS: usize = 4;

impl Platform {
    /// Every known target, Garage's four first.
    pub fn all() -> impl Iterator<Item = Platform> {
        TABLE.iter().map(|entry| Platform { entry })
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

    /// The ELF machine its binaries are for, as `elfcheck` names
    /// it (`x86-64`, `AArch64`, `PowerPC64 little-endian`), and the class
    /// (32 or 64).
    pub fn elf_machine(&self) -> (&'static str, u8) {
        self.entry.elf
    }

    /// The (Debian, RPM) architectures of its packages (`ppc64el`,
    /// `ppc64le`).
    pub fn package_arches(&self) -> (&'static str, &'static str) {
        self.entry.packages
    }

    /// The qemu user emulator that runs its binaries elsewhere
    /// (`qemu-riscv64-static`).
    pub fn qemu(&self) -> String {
        format!("qemu-{}-static", self.entry.qemu)
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
