//! The JSON documents nix prints: `nix build --json` and `nix path-info --json`.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

/// One entry of `nix build --json` (also of `--dry-run --json`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuiltPath {
    /// The derivation.
    pub drv_path: String,
    /// Output name to store path.
    pub outputs: BTreeMap<String, String>,
}

impl BuiltPath {
    /// The `out` output, or the only one.
    pub fn main_output(&self) -> Option<&str> {
        self.outputs
            .get("out")
            .or_else(|| {
                (self.outputs.len() == 1)
                    .then(|| self.outputs.values().next())
                    .flatten()
            })
            .map(String::as_str)
    }
}

/// One entry of `nix path-info --json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathInfo {
    /// The store path.
    pub path: String,
    /// `sha256-…` (SRI) in Nix 2.8, `sha256:<nix32>` in some versions.
    pub nar_hash: String,
    /// Size of the NAR serialisation.
    pub nar_size: u64,
    /// Store paths this one refers to.
    #[serde(default)]
    pub references: Vec<String>,
    /// The derivation that built it, if known.
    #[serde(default)]
    pub deriver: Option<String>,
    /// Signatures, `name:base64`.
    #[serde(default)]
    pub signatures: Vec<String>,
    /// Content address, for content-addressed paths.
    #[serde(default)]
    pub ca: Option<String>,
    /// `false` for a path nix was asked about but does not have.
    #[serde(default)]
    pub valid: Option<bool>,
    /// Whether the store built it itself (not copied or substituted in).
    #[serde(default)]
    pub ultimate: bool,
    /// When the store registered it (seconds since the epoch).
    #[serde(default)]
    pub registration_time: Option<u64>,
}

/// Reads `nix path-info --json` in both of its shapes: an array (Nix 2.8,
/// Lix) or an object keyed by path (Nix 2.19 and later; invalid paths `null`).
pub fn parse_path_infos(bytes: &[u8]) -> serde_json::Result<Vec<PathInfo>> {
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(path, mut v)| {
                if let Some(obj) = v.as_object_mut() {
                    obj.entry("path").or_insert(serde_json::Value::String(path));
                }
                serde_json::from_value(v)
            })
            .collect(),
        // Nix 2.8 lists a path it lacks as `{"path": …, "valid": false}`,
        // without the other fields: left out before reading the rest.
        other => serde_json::from_value::<Vec<serde_json::Value>>(other)?
            .into_iter()
            .filter(|v| v.get("valid").and_then(serde_json::Value::as_bool) != Some(false))
            .map(serde_json::from_value)
            .collect(),
    }
}

/// Of each derivation in `nix show-derivation`'s JSON (`nix derivation
/// show` from Nix 2.15), the attributes among `names` that its environment
/// holds, by derivation path. Newer Nix names a derivation by its base name
/// only; both spellings come back as full store paths.
pub fn parse_derivation_attrs(
    bytes: &[u8],
    names: &[&str],
) -> serde_json::Result<HashMap<String, BTreeMap<String, String>>> {
    #[derive(Deserialize)]
    struct Drv {
        #[serde(default)]
        env: BTreeMap<String, String>,
    }
    let all: HashMap<String, Drv> = serde_json::from_slice(bytes)?;
    Ok(all
        .into_iter()
        .map(|(path, drv)| {
            let path = if path.starts_with('/') {
                path
            } else {
                format!("/nix/store/{path}")
            };
            let attrs = drv
                .env
                .into_iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .collect();
            (path, attrs)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_attributes_nix_2_8_shows_of_a_derivation() {
        let text =
            include_bytes!("../../tests/vectors/nix-show-derivation/hello-armv7-nix-2.8.json");
        let attrs =
            parse_derivation_attrs(text, &["rustTarget", "rustcVersion", "absent"]).unwrap();
        let drv = "/nix/store/fj0h3kd1a76vzxacjsggf91nmqpz5rs7-hello-0.1.0-armv7-unknown-linux-gnueabihf.drv";
        assert_eq!(attrs.len(), 1);
        let want: BTreeMap<String, String> = [
            (
                "rustTarget".to_string(),
                "armv7-unknown-linux-gnueabihf".to_string(),
            ),
            ("rustcVersion".to_string(), "1.63.0".to_string()),
        ]
        .into();
        assert_eq!(attrs[drv], want);
        // Newer Nix names derivations by base name.
        let short = br#"{"x.drv":{"env":{"rustTarget":"t"}}}"#;
        assert!(
            parse_derivation_attrs(short, &["rustTarget"]).unwrap()["/nix/store/x.drv"].len() == 1
        );
    }

    #[test]
    fn reads_the_object_shape_of_newer_nix() {
        let text = r#"{"/nix/store/afqdjzj4zvbly0ywfbvr3jj4irfkjs58-x":{"narHash":"sha256-1B2M2Y8AsgTpgAmY7PhCfg6/J3hEJgsRMpFhl+E9c0c=","narSize":120,"references":[]},"/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-y":null}"#;
        let infos = parse_path_infos(text.as_bytes()).unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(
            infos[0].path,
            "/nix/store/afqdjzj4zvbly0ywfbvr3jj4irfkjs58-x"
        );
    }

    #[test]
    fn reads_nix_2_8_build_json() {
        let text = r#"[{"drvPath":"/nix/store/rnqc0xav10fk44dzwm669hzlnszcskzl-hello-x86_64-linux.drv","outputs":{"out":"/nix/store/afqdjzj4zvbly0ywfbvr3jj4irfkjs58-hello-x86_64-linux"}}]"#;
        let built: Vec<BuiltPath> = serde_json::from_str(text).unwrap();
        assert_eq!(
            built[0].main_output(),
            Some("/nix/store/afqdjzj4zvbly0ywfbvr3jj4irfkjs58-hello-x86_64-linux")
        );
    }

    #[test]
    fn reads_nix_2_8_path_info_json() {
        let text = r#"[{"deriver":"/nix/store/rnqc0xav10fk44dzwm669hzlnszcskzl-hello-x86_64-linux.drv","narHash":"sha256-1B2M2Y8AsgTpgAmY7PhCfg6/J3hEJgsRMpFhl+E9c0c=","narSize":120,"path":"/nix/store/afqdjzj4zvbly0ywfbvr3jj4irfkjs58-hello-x86_64-linux","references":[],"registrationTime":1763704000,"valid":true}]"#;
        let info: Vec<PathInfo> = serde_json::from_str(text).unwrap();
        assert_eq!(info[0].nar_size, 120);
        assert!(info[0].deriver.as_deref().unwrap().ends_with(".drv"));
    }

    #[test]
    fn a_path_nix_2_8_lacks_is_left_out_and_ultimate_is_read() {
        // `nix path-info --json --store … HAVE LACK`, as Nix 2.8 printed it
        // here (it exits 0).
        let text = br#"[{"path":"/nix/store/fis12rif4ccs89g97qp8mwakar85ddfv-same","valid":false},{"path":"/nix/store/6fr376q7ig8fwy4bxpnmjjkb0rsyhd5a-stamp","narHash":"sha256-0o3otXjk5/pQPSGLKgQo7K+NsHMEeyAaqPyY7m3Ehcg=","narSize":656,"references":[],"deriver":"/nix/store/7gq1cd9rpb9y038lzjc7darr7ib381af-stamp.drv","registrationTime":1796505633,"ultimate":true}]"#;
        let infos = parse_path_infos(text).unwrap();
        assert_eq!(infos.len(), 1);
        assert!(infos[0].path.ends_with("-stamp"));
        assert!(infos[0].ultimate);
        assert_eq!(infos[0].registration_time, Some(1796505633));
    }
}
