//! Extra artifacts: `[[package.metadata.release-dist.artifacts]]`, outputs
//! published beside the binaries (a manual, a completions tarball), once per
//! release or once per target.

use serde_json::{Map, Value};

use crate::archive::ArchiveFormat;
use crate::problems::KeyProblem;

/// The configuration key of the list.
pub const KEY: &str = "artifacts";

/// The attribute-template placeholders that name a target (`{name}` does not).
pub const TARGET_PLACEHOLDERS: &[&str] = &["system", "os", "arch", "variant", "triple", "docker"];

/// How often an extra artifact is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Once for the release (its attribute names no target).
    Release,
    /// Once for every target.
    Target,
}

/// One configured extra artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraArtifact {
    /// Its name (`hello-docs`); the published file is `<name>.<archive>`
    /// for a directory output, or `file` when given.
    pub name: String,
    /// The attribute template (`packages.{system}.docs`).
    pub attribute: String,
    /// Once per release or per target.
    pub per: Per,
    /// The archive format of a directory output.
    pub archive: Option<ArchiveFormat>,
    /// The published file name of a file output (default: the store path's
    /// name without its hash).
    pub file: Option<String>,
    /// Where it was configured, for messages:
    /// `package.metadata.release-dist.artifacts[0]`.
    pub key: String,
}

impl ExtraArtifact {
    /// The published file name, given the store path it built.
    pub fn file_name(&self, store_path: &str, is_dir: bool) -> String {
        if let Some(f) = &self.file {
            return f.clone();
        }
        match (is_dir, self.archive) {
            (true, Some(format)) => format!("{}.{}", self.name, format.ext()),
            _ => {
                let base = store_path.rsplit('/').next().unwrap_or(store_path);
                base.split_once('-').map_or(base, |(_, n)| n).to_string()
            }
        }
    }

    /// The top directory inside its archive: the file name without the extension.
    pub fn archive_top(&self, file: &str) -> String {
        let ext = self.archive.map(ArchiveFormat::ext).unwrap_or("");
        file.strip_suffix(ext)
            .and_then(|f| f.strip_suffix('.'))
            .unwrap_or(file)
            .to_string()
    }
}

/// Reads the `artifacts` array at `full`.
pub fn parse(full: &str, value: &Value) -> Result<Vec<ExtraArtifact>, KeyProblem> {
    let items = value.as_array().ok_or_else(|| {
        KeyProblem::invalid(
            full,
            "must be an array of tables ([[package.metadata.release-dist.artifacts]])",
        )
    })?;
    let mut out: Vec<ExtraArtifact> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = format!("{full}[{i}]");
        let table = item
            .as_object()
            .ok_or_else(|| KeyProblem::invalid(&key, "must be a table"))?;
        let extra = parse_one(&key, table)?;
        if out.iter().any(|o| o.name == extra.name) {
            return Err(KeyProblem::invalid(
                format!("{key}.name"),
                format!("`{}` is used by an earlier artifact", extra.name),
            ));
        }
        out.push(extra);
    }
    Ok(out)
}

fn parse_one(key: &str, table: &Map<String, Value>) -> Result<ExtraArtifact, KeyProblem> {
    const KEYS: &[&str] = &["name", "attribute", "per", "archive", "file"];
    let text = |k: &str| -> Result<Option<String>, KeyProblem> {
        match table.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(KeyProblem::invalid(
                format!("{key}.{k}"),
                format!("must be a string, not {v}"),
            )),
        }
    };
    if let Some(other) = table.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(KeyProblem::invalid(
            format!("{key}.{other}"),
            format!("unknown key; an artifact has {}", KEYS.join(", ")),
        ));
    }
    let name =
        text("name")?.ok_or_else(|| KeyProblem::missing(format!("{key}.name"), "is missing"))?;
    check_file_name(&format!("{key}.name"), &name)?;
    let attribute = text("attribute")?
        .ok_or_else(|| KeyProblem::missing(format!("{key}.attribute"), "is missing"))?;
    let per = match text("per")?.as_deref() {
        None | Some("release") => Per::Release,
        Some("target") => Per::Target,
        Some(other) => {
            return Err(KeyProblem::invalid(
                format!("{key}.per"),
                format!("must be \"release\" or \"target\", not \"{other}\""),
            ))
        }
    };
    let archive = match text("archive")? {
        None => None,
        Some(a) => Some(a.parse().map_err(|_| {
            KeyProblem::invalid(
                format!("{key}.archive"),
                format!(
                    "must be one of {}, not \"{a}\"",
                    ArchiveFormat::NAMES.join(", ")
                ),
            )
        })?),
    };
    let file = text("file")?;
    if let Some(f) = &file {
        check_file_name(&format!("{key}.file"), f)?;
    }
    let per_target = TARGET_PLACEHOLDERS
        .iter()
        .any(|p| attribute.contains(&format!("{{{p}}}")));
    if per == Per::Release && per_target {
        return Err(KeyProblem::invalid(
            format!("{key}.attribute"),
            format!("`{attribute}` names a target, but the artifact is built once per release; set per = \"target\""),
        ));
    }
    Ok(ExtraArtifact {
        name,
        attribute,
        per,
        archive,
        file,
        key: key.to_string(),
    })
}

fn check_file_name(key: &str, name: &str) -> Result<(), KeyProblem> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KeyProblem::invalid(
            key,
            format!("`{name}` must be a file name: letters, digits, `-`, `_`, `.` and `+`, not starting with `.`"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const K: &str = "package.metadata.release-dist.artifacts";

    #[test]
    fn reads_release_and_target_artifacts() {
        let list = parse(
            K,
            &json!([
                {"name": "hello-docs", "attribute": "packages.x86_64-linux.docs", "archive": "tar.gz"},
                {"name": "hello-completions", "attribute": "packages.{system}.completions", "per": "target", "archive": "zip"},
            ]),
        )
        .unwrap();
        assert_eq!(list[0].per, Per::Release);
        assert_eq!(list[1].per, Per::Target);
        assert_eq!(list[1].key, format!("{K}[1]"));
        assert_eq!(
            list[0].file_name("/nix/store/abc-docs", true),
            "hello-docs.tar.gz"
        );
        assert_eq!(list[0].archive_top("hello-docs.tar.gz"), "hello-docs");
        assert_eq!(
            list[0].file_name("/nix/store/abc-hello-manual.pdf", false),
            "hello-manual.pdf"
        );
    }

    #[test]
    fn names_the_key_of_what_is_wrong() {
        let err = |v: Value| parse(K, &v).unwrap_err().to_string();
        assert!(err(json!([{"attribute": "x"}])).contains("artifacts[0].name"));
        assert!(
            err(json!([{"name": "d", "attribute": "x", "archive": "rar"}]))
                .contains("artifacts[0].archive")
        );
        assert!(
            err(json!([{"name": "d", "attribute": "packages.{system}.d"}]))
                .contains("set per = \"target\"")
        );
        assert!(err(json!([{"name": "d/../x", "attribute": "x"}])).contains("must be a file name"));
        assert!(err(json!([{"name": "d", "attribute": "x", "colour": 1}]))
            .contains("artifacts[0].colour"));
        assert!(
            err(json!([{"name": "d", "attribute": "x"}, {"name": "d", "attribute": "y"}]))
                .contains("artifacts[1].name")
        );
        assert!(err(json!({"name": "d"})).contains("array of tables"));
    }
}
