//! What a Windows binary's PE header says, and whether it fits its target.
//! Pure: bytes in, facts and problems out; parsing is the `object` crate's.
//!
//! Checks, per target:
//! - the machine is the target's (`x86-64` for windows/amd64, `ARM64` for
//!   windows/arm64);
//! - it imports only DLLs that every Windows has. A MinGW runtime DLL
//!   (`libgcc_s_seh-1.dll`, `libwinpthread-1.dll`, `libstdc++-6.dll`) or
//!   any other DLL is one the user will not have: link statically
//!   (`+crt-static`).
//!
//! The subsystem (console or GUI) is recorded.

use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, PeFile};
use object::LittleEndian as LE;
use serde::{Deserialize, Serialize};

use crate::platform::Platform;

/// What the PE headers and import tables say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeFacts {
    /// `x86-64`, `ARM64`, `i386`, or `machine N`.
    pub machine: String,
    /// 32 or 64.
    pub bits: u8,
    /// `console`, `gui`, or `subsystem N`.
    pub subsystem: String,
    /// The DLLs it imports (delay-loaded ones too), as the file spells them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dlls: Vec<String>,
}

/// Whether `bytes` start like a PE file.
pub fn is_pe(bytes: &[u8]) -> bool {
    matches!(
        object::FileKind::parse(bytes),
        Ok(object::FileKind::Pe32 | object::FileKind::Pe64)
    )
}

/// Reads the facts of a PE file.
pub fn inspect(bytes: &[u8]) -> Result<PeFacts, String> {
    match object::FileKind::parse(bytes).map_err(|e| e.to_string())? {
        object::FileKind::Pe64 => facts::<pe::ImageNtHeaders64>(bytes, 64),
        object::FileKind::Pe32 => facts::<pe::ImageNtHeaders32>(bytes, 32),
        other => Err(format!("not a PE file ({other:?})")),
    }
}

fn facts<H: ImageNtHeaders>(data: &[u8], bits: u8) -> Result<PeFacts, String> {
    let err = |e: object::read::Error| e.to_string();
    let file = PeFile::<H>::parse(data).map_err(err)?;
    let headers = file.nt_headers();
    let mut out = PeFacts {
        machine: machine_name(headers.file_header().machine.get(LE)),
        bits,
        subsystem: subsystem_name(headers.optional_header().subsystem()),
        dlls: Vec::new(),
    };
    if let Some(table) = file.import_table().map_err(err)? {
        let mut descriptors = table.descriptors().map_err(err)?;
        while let Some(d) = descriptors.next().map_err(err)? {
            let name = table.name(d.name.get(LE)).map_err(err)?;
            out.dlls.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    let sections = file.section_table();
    let directories = file.data_directories();
    if let Some(table) = directories
        .delay_load_import_table(data, &sections)
        .map_err(err)?
    {
        let mut descriptors = table.descriptors().map_err(err)?;
        while let Some(d) = descriptors.next().map_err(err)? {
            let name = table.name(d.dll_name_rva.get(LE)).map_err(err)?;
            out.dlls.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok(out)
}

fn machine_name(machine: u16) -> String {
    match machine {
        pe::IMAGE_FILE_MACHINE_AMD64 => "x86-64".into(),
        pe::IMAGE_FILE_MACHINE_ARM64 => "ARM64".into(),
        pe::IMAGE_FILE_MACHINE_I386 => "i386".into(),
        other => format!("machine {other:#06x}"),
    }
}

fn subsystem_name(subsystem: u16) -> String {
    match subsystem {
        pe::IMAGE_SUBSYSTEM_WINDOWS_CUI => "console".into(),
        pe::IMAGE_SUBSYSTEM_WINDOWS_GUI => "gui".into(),
        other => format!("subsystem {other}"),
    }
}

/// The DLLs every Windows (10 and later) has, lower-case: the kernel, the
/// C runtimes Windows ships (msvcrt, the Universal CRT), and the system
/// libraries Rust's standard library and common crates import.
const SYSTEM_DLLS: &[&str] = &[
    "kernel32.dll",
    "kernelbase.dll",
    "ntdll.dll",
    "advapi32.dll",
    "bcrypt.dll",
    "bcryptprimitives.dll",
    "crypt32.dll",
    "ncrypt.dll",
    "secur32.dll",
    "msvcrt.dll",
    "ucrtbase.dll",
    "userenv.dll",
    "ws2_32.dll",
    "mswsock.dll",
    "iphlpapi.dll",
    "dnsapi.dll",
    "netapi32.dll",
    "user32.dll",
    "gdi32.dll",
    "shell32.dll",
    "shlwapi.dll",
    "ole32.dll",
    "oleaut32.dll",
    "comctl32.dll",
    "comdlg32.dll",
    "rpcrt4.dll",
    "psapi.dll",
    "dbghelp.dll",
    "version.dll",
    "winmm.dll",
    "setupapi.dll",
    "cfgmgr32.dll",
    "powrprof.dll",
    "winhttp.dll",
    "wininet.dll",
    "synchronization.dll",
    "propsys.dll",
    "uxtheme.dll",
    "dwmapi.dll",
    "imm32.dll",
    "winspool.drv",
];

/// Whether every Windows has `dll`.
fn is_system(dll: &str) -> bool {
    let dll = dll.to_ascii_lowercase();
    SYSTEM_DLLS.contains(&dll.as_str()) || dll.starts_with("api-ms-win-")
}

/// Whether `dll` is one of MinGW's runtime libraries.
fn is_mingw_runtime(dll: &str) -> bool {
    let dll = dll.to_ascii_lowercase();
    [
        "libgcc_s_",
        "libwinpthread-",
        "libstdc++-",
        "libgomp-",
        "libssp-",
    ]
    .iter()
    .any(|p| dll.starts_with(p))
}

/// What is wrong with `facts` for `platform`, each as one sentence that
/// names the target.
pub fn problems(platform: Platform, facts: &PeFacts) -> Vec<String> {
    let (machine, bits) = platform.machine();
    if facts.machine != machine || facts.bits != bits {
        return vec![format!(
            "{platform}: the binary is for {} ({}-bit), not {machine} ({bits}-bit)",
            facts.machine, facts.bits
        )];
    }
    facts
        .dlls
        .iter()
        .filter(|d| !is_system(d))
        .map(|d| match is_mingw_runtime(d) {
            true => format!(
                "{platform}: the binary imports {d}, MinGW's runtime, which a user's Windows does not have: link it statically (+crt-static, -static-libgcc)"
            ),
            false => format!("{platform}: the binary imports {d}, which is not a Windows system DLL"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/pe/");
        std::fs::read(format!("{path}{name}")).unwrap()
    }

    fn p(s: &str) -> Platform {
        Platform::parse_any(s).unwrap()
    }

    #[test]
    fn reads_what_mingw_and_lld_link_wrote_for_each_target() {
        // Made by tests/vectors/pe/make.sh (objdump -p and file(1) agree).
        let x64 = inspect(&vector("hello-x86_64.exe")).unwrap();
        assert_eq!((x64.machine.as_str(), x64.bits), ("x86-64", 64));
        assert_eq!(x64.subsystem, "console");
        assert_eq!(x64.dlls, ["KERNEL32.dll", "msvcrt.dll"]);
        assert!(problems(p("windows/amd64"), &x64).is_empty());
        let arm = inspect(&vector("arm64.exe")).unwrap();
        assert_eq!(
            (arm.machine.as_str(), arm.subsystem.as_str()),
            ("ARM64", "console")
        );
        assert!(arm.dlls.is_empty());
        assert!(problems(p("windows/arm64"), &arm).is_empty());
    }

    #[test]
    fn names_a_wrong_machine_and_a_mingw_runtime_dll() {
        let x64 = inspect(&vector("hello-x86_64.exe")).unwrap();
        assert_eq!(
            problems(p("windows/arm64"), &x64),
            ["windows/arm64: the binary is for x86-64 (64-bit), not ARM64 (64-bit)"]
        );
        let runtime = inspect(&vector("imports-mingw-runtime.exe")).unwrap();
        assert_eq!(
            problems(p("windows/amd64"), &runtime),
            ["windows/amd64: the binary imports libgcc_s_seh-1.dll, MinGW's runtime, which a user's Windows does not have: link it statically (+crt-static, -static-libgcc)"]
        );
        assert!(is_system("KERNEL32.dll") && is_system("api-ms-win-core-synch-l1-2-0.dll"));
        assert!(!is_system("zlib1.dll"));
    }
}
