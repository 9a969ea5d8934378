//! Small value types that the command line, the configuration and the code
//! share: each spelled once, with one `as_str` and one `FromStr`. A leaf:
//! it uses no other module of the crate, so no import circle can form
//! through it.

use std::str::FromStr;

/// The predicate type of the release's provenance (SLSA Provenance v1):
/// here, a leaf, so that the image attestation code can tell it from other
/// statements without reaching the provenance module.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// The checksum list of a release.
pub const SHA256SUMS: &str = "SHA256SUMS";

use serde::{Deserialize, Serialize};

/// Parses one of `all` by its spelling.
fn parse_one<T: Copy>(s: &str, all: &[T], as_str: fn(T) -> &'static str) -> Result<T, String> {
    all.iter()
        .copied()
        .find(|v| as_str(*v) == s)
        .ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|v| as_str(*v)).collect();
            format!("`{s}` is not one of {}", known.join(", "))
        })
}

/// The static layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// `df-dist-v1/<name>/<tag>/<os>/<arch>[/<variant>]/<file>` with tag and name documents.
    #[value(name = "df-dist-v1")]
    DfDist,
    /// Garage's `_releases/<tag>/<rust triple>/<file>`.
    #[value(name = "garage")]
    Garage,
}

impl Layout {
    /// `df-dist-v1` or `garage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::DfDist => "df-dist-v1",
            Layout::Garage => "garage",
        }
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Layout, String> {
        parse_one(s, &[Layout::DfDist, Layout::Garage], Layout::as_str)
    }
}

/// How image layers are stored in a registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    /// Deterministic gzip (level 6, no name, mtime 0): smaller pulls, every
    /// client can read it.
    #[default]
    Gzip,
    /// As the archive holds them: digest = diff_id, no CPU spent.
    None,
}

impl LayerCompression {
    /// `gzip` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            LayerCompression::Gzip => "gzip",
            LayerCompression::None => "none",
        }
    }
}

impl FromStr for LayerCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<LayerCompression, String> {
        parse_one(
            s,
            &[LayerCompression::Gzip, LayerCompression::None],
            LayerCompression::as_str,
        )
    }
}

/// How much the user wants to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Errors only.
    Quiet,
    /// Status lines.
    Normal,
    /// Status lines and every build log line.
    Verbose,
}

/// `--message-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MessageFormat {
    /// Text for people.
    Human,
    /// One JSON document on standard output.
    Json,
}

impl MessageFormat {
    /// `human` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageFormat::Human => "human",
            MessageFormat::Json => "json",
        }
    }
}

/// Which half of a release `publish` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PublishPart {
    /// The static release alone: files, checksums, provenance (whose
    /// subjects include the image digests), documents, index.
    Static,
    /// The images alone: blobs, manifests, index, tags; the provenance
    /// bundle is written under target/release-dist/provenance/.
    Images,
}

/// Which signatures a release gets (config `signatures`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SignatureKind {
    /// `SHA256SUMS.asc`.
    OpenPgp,
    /// `SHA256SUMS.minisig` and `<file>.minisig`.
    Minisign,
}

impl SignatureKind {
    /// Every kind, as the configuration spells it.
    pub const NAMES: [&'static str; 2] = ["openpgp", "minisign"];

    /// Parses `openpgp` or `minisign`.
    pub fn parse(s: &str) -> Option<SignatureKind> {
        match s {
            "openpgp" => Some(SignatureKind::OpenPgp),
            "minisign" => Some(SignatureKind::Minisign),
            _ => None,
        }
    }
}

/// The longest duration accepted: 100 years, so that adding it to a time
/// never overflows.
pub const MAX_DURATION_SECS: u64 = 36_500 * 86_400;

/// Parses a duration: a whole number with `s`, `m`, `h` or `d` (`90s`,
/// `10m`, `1h`, `7d`), or `0`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("`{text}` is not a duration: write e.g. 30s, 10m, 1h, 7d or 0");
    if text == "0" {
        return Ok(std::time::Duration::ZERO);
    }
    let unit = text.chars().last().ok_or_else(bad)?;
    let n: u64 = text[..text.len() - unit.len_utf8()]
        .parse()
        .map_err(|_| bad())?;
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(scale) {
        Some(secs) if secs <= MAX_DURATION_SECS => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(format!(
            "`{text}` is longer than the longest duration accepted, 36500d (100 years)"
        )),
    }
}

/// A release class as the command line names it (`gc --keep N --class …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClassArg {
    /// vX.Y.Z.
    Stable,
    /// Other tags.
    Extra,
    /// Commits.
    Development,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        assert_eq!(parse_duration("0"), Ok(std::time::Duration::ZERO));
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("10m").unwrap().as_secs(), 600);
        assert_eq!(parse_duration("1h").unwrap().as_secs(), 3600);
        assert_eq!(parse_duration("7d").unwrap().as_secs(), 604_800);
        assert_eq!(
            parse_duration("36500d").unwrap().as_secs(),
            MAX_DURATION_SECS
        );
        for bad in [
            "",
            "1",
            "1w",
            "h",
            "-1h",
            "1.5h",
            "36501d",
            "999999999999999999d",
            "18446744073709551615s",
            "18446744073709551616s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_kind_parses_its_own_spelling_and_names_the_others() {
        for l in [Layout::DfDist, Layout::Garage] {
            assert_eq!(l.as_str().parse::<Layout>(), Ok(l));
        }
        for c in [LayerCompression::Gzip, LayerCompression::None] {
            assert_eq!(c.as_str().parse::<LayerCompression>(), Ok(c));
        }
        assert_eq!(
            "zip".parse::<LayerCompression>(),
            Err("`zip` is not one of gzip, none".into())
        );
        assert_eq!(
            "df-dist".parse::<Layout>(),
            Err("`df-dist` is not one of df-dist-v1, garage".into())
        );
        // clap and serde spell them the same way.
        use clap::ValueEnum;
        assert_eq!(
            Layout::DfDist.to_possible_value().unwrap().get_name(),
            "df-dist-v1"
        );
        assert_eq!(
            serde_json::to_string(&LayerCompression::None).unwrap(),
            "\"none\""
        );
        assert_eq!(
            MessageFormat::Json.to_possible_value().unwrap().get_name(),
            MessageFormat::Json.as_str()
        );
    }
}
