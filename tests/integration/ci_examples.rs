//! The shipped CI pipelines parse, have the release steps (the static
//! release and the images apart, each with only its own secrets), take their
//! secrets from the CI's secret store, and call only commands our CLI accepts.

use crate::util::words;
use serde_yaml::Value;

use crate::util::repo_root;

fn check_pipeline(path: &str, steps: &Value) {
    let steps = steps
        .as_sequence()
        .unwrap_or_else(|| panic!("{path}: no steps list"));
    let names: Vec<&str> = steps.iter().filter_map(|s| s["name"].as_str()).collect();
    for wanted in [
        "build",
        "cache-toolchain",
        "publish-static",
        "publish-images",
        "promote-production",
    ] {
        assert!(
            names.contains(&wanted),
            "{path}: no `{wanted}` step in {names:?}"
        );
    }
    // The two publish steps hold disjoint secrets: S3 keys, or registry auth.
    let env_of = |name: &str| -> Vec<String> {
        let step = steps
            .iter()
            .find(|s| s["name"].as_str() == Some(name))
            .unwrap();
        step["environment"]
            .as_mapping()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str().unwrap().to_string())
            .collect()
    };
    let (stat, imgs) = (env_of("publish-static"), env_of("publish-images"));
    assert!(
        stat.contains(&"AWS_SECRET_ACCESS_KEY".into()) && !stat.contains(&"DOCKER_AUTH".into()),
        "{path}: {stat:?}"
    );
    assert!(
        imgs.contains(&"DOCKER_AUTH".into()) && !imgs.iter().any(|k| k.starts_with("AWS_")),
        "{path}: {imgs:?}"
    );
    let static_at = names.iter().position(|n| *n == "publish-static").unwrap();
    let images_at = names.iter().position(|n| *n == "publish-images").unwrap();
    assert!(
        static_at < images_at,
        "{path}: the static release goes first"
    );
    let mut commands = 0;
    for step in steps {
        if let Some(env) = step["environment"].as_mapping() {
            for (k, v) in env {
                let k = k.as_str().unwrap();
                if k.contains("SECRET") || k.contains("KEY") || k == "DOCKER_AUTH" {
                    assert!(
                        v["from_secret"].as_str().is_some(),
                        "{path}: {k} must come from_secret, not inline"
                    );
                }
            }
        }
        for cmd in step["commands"].as_sequence().into_iter().flatten() {
            let line = cmd.as_str().unwrap();
            let Some(rest) = line.strip_prefix("cargo release-dist ") else {
                continue;
            };
            let mut args = vec!["cargo".to_string(), "release-dist".to_string()];
            args.extend(words(rest));
            if let Err(e) = release_dist::cli::parse_from(args.iter().map(Into::into)) {
                panic!("{path}: `{line}` is not a valid command:\n{e}");
            }
            commands += 1;
        }
    }
    assert!(
        commands >= 4,
        "{path}: only {commands} cargo release-dist commands"
    );
}

#[test]
fn drone_pipeline_parses_and_calls_real_commands() {
    let path = "examples/drone/.drone.yml";
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo_root().join(path)).unwrap()).unwrap();
    let events = doc["trigger"]["event"].as_sequence().unwrap();
    assert!(events.contains(&"tag".into()) && events.contains(&"promote".into()));
    check_pipeline(path, &doc["steps"]);
}

#[test]
fn woodpecker_pipeline_parses_and_calls_real_commands() {
    let path = "examples/woodpecker/release.yaml";
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo_root().join(path)).unwrap()).unwrap();
    check_pipeline(path, &doc["steps"]);
}

#[test]
fn a_wrong_command_would_be_caught() {
    let args = ["cargo", "release-dist", "publish", "--no-such-flag"];
    assert!(release_dist::cli::parse_from(args.iter().map(Into::into)).is_err());
    assert_eq!(words(r#"a 'b c' "d""#), ["a", "b c", "d"]);
}
