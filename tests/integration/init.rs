//! `init` in a fresh `cargo new` package, for each CI: the pipeline's
//! commands parse against the CLI, the metadata table (every key
//! uncommented) goes through the config loader, every .nix file parses, and
//! a second `init` changes nothing.

use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

use crate::util::{stock, tool, Run};

fn run_in(dir: &Path, args: &[&str]) -> Run {
    let mut cmd = tool();
    cmd.current_dir(dir).args(args);
    Run(cmd.output().unwrap())
}

/// Every `cargo release-dist …` line of a pipeline file.
fn commands(ci: &str, doc: &Value) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut push = |v: &Value| {
        if let Some(s) = v.as_str() {
            lines.extend(s.lines().map(|l| l.trim().to_string()));
        }
    };
    match ci {
        "drone" | "woodpecker" => {
            for step in doc["steps"].as_sequence().unwrap() {
                step["commands"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .for_each(&mut push);
            }
        }
        "github" => {
            for (_, job) in doc["jobs"].as_mapping().unwrap() {
                for step in job["steps"].as_sequence().unwrap() {
                    push(&step["run"]);
                }
            }
        }
        _ => {
            for (_, job) in doc.as_mapping().unwrap() {
                job["script"]
                    .as_sequence()
                    .into_iter()
                    .flatten()
                    .for_each(&mut push);
            }
        }
    }
    lines
        .into_iter()
        .filter(|l| l.starts_with("cargo release-dist "))
        .collect()
}

/// The release-dist table of Cargo.toml with every `# key = value` line uncommented.
fn uncommented_table(cargo_toml: &str) -> serde_json::Value {
    let start = cargo_toml.find("[package.metadata.release-dist]").unwrap();
    let body: String = cargo_toml[start..]
        .lines()
        .skip(1)
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.contains(" = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let table: toml::Table = body.parse().unwrap_or_else(|e| panic!("{e}\n{body}"));
    serde_json::to_value(table).unwrap()
}

#[test]
fn init_writes_a_setup_that_parses_for_every_ci() {
    for (ci, pipeline) in [
        ("drone", ".drone.yml"),
        ("woodpecker", ".woodpecker/release.yaml"),
        ("github", ".github/workflows/release.yml"),
        ("gitlab", ".gitlab-ci.yml"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let status = Command::new("cargo")
            .args(["new", "--quiet", "--vcs", "none", "greeter"])
            .current_dir(tmp.path())
            .status()
            .unwrap();
        assert!(status.success());
        let dir = tmp.path().join("greeter");
        let run = run_in(&dir, &["init", "--ci", ci]).ok();
        assert!(
            run.stdout().contains("s3_access_key_id") || run.stdout().contains("S3_ACCESS_KEY_ID"),
            "{ci}: no secrets named:\n{}",
            run.stdout()
        );

        // The pipeline: its commands are ones the CLI accepts, and name the package.
        let doc: Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join(pipeline)).unwrap()).unwrap();
        let found = commands(ci, &doc);
        assert!(found.len() >= 4, "{ci}: {found:?}");
        for line in &found {
            let mut args = vec!["cargo".to_string(), "release-dist".to_string()];
            args.extend(crate::util::words(&line["cargo release-dist ".len()..]));
            if let Err(e) = release_dist::cli::parse_from(args.iter().map(Into::into)) {
                panic!("{ci}: `{line}` is not a valid command:\n{e}");
            }
        }
        assert!(
            found.iter().any(|l| l.contains("greeter:")),
            "{ci}: {found:?}"
        );

        // The metadata table, every key uncommented, is a valid configuration.
        let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let table = uncommented_table(&cargo_toml);
        let meta = serde_json::json!({ "release-dist": table });
        release_dist::config::Config::from_metadata("greeter", &meta, &serde_json::Value::Null)
            .unwrap_or_else(|e| panic!("{ci}: the uncommented table does not load: {e}"));
        // As written (all commented), cargo and the loader read it too.
        run_in(&dir, &["build", "--dry-run"]).ok();

        // Every .nix file parses.
        for nix in ["flake.nix", "nix/cross.nix", "nix/toolchain.nix"] {
            stock(
                "nix-instantiate",
                &["--parse", dir.join(nix).to_str().unwrap()],
            );
        }

        // A second init without --force changes nothing and names the file.
        let before: Vec<Vec<u8>> = [pipeline, "Cargo.toml", "flake.nix"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        run_in(&dir, &["init", "--ci", ci])
            .fails_with(2, &["nix/cross.nix", "already exist", "--force"]);
        let after: Vec<Vec<u8>> = [pipeline, "Cargo.toml", "flake.nix"]
            .iter()
            .map(|f| std::fs::read(dir.join(f)).unwrap())
            .collect();
        assert_eq!(before, after, "{ci}: a refused init changed something");
        assert_eq!(
            cargo_toml
                .matches("[package.metadata.release-dist]")
                .count(),
            1
        );
        run_in(&dir, &["init", "--ci", ci, "--force"]).ok();
        assert_eq!(
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .unwrap()
                .matches("[package.metadata.release-dist]")
                .count(),
            1
        );
    }
}
