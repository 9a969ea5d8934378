//! The JSON documents nix prints: `nix build --json` and `nix path-info --json`.

use std::collections::BTreeMap;

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
        other => serde_json::from_value::<Vec<PathInfo>>(other)
            .map(|v| v.into_iter().filter(|i| i.valid.unwrap_or(true)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
