//! What a build will ask nix for: one output per target and kind.

use crate::artifacts::{ExtraArtifact, Per};
use crate::build_record::{Failure, Kind};
use crate::config::{expand, Config};
use crate::platform::Platform;

/// One output to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The target; `None` for an extra artifact built once per release.
    pub platform: Option<Platform>,
    /// Static binary, image or extra artifact.
    pub kind: Kind,
    /// The attribute path inside the flake.
    pub attribute: String,
    /// The installable handed to nix: `<flake>#<attribute>`.
    pub installable: String,
    /// The configured extra artifact, for [`Kind::Extra`].
    pub extra: Option<ExtraArtifact>,
}

impl Output {
    /// This output's failure, its derivation being `drv`.
    pub fn failure(&self, drv: &str, error: String) -> Failure {
        Failure {
            platform: self.platform,
            kind: self.kind,
            artifact: self.extra.as_ref().map(|e| e.name.clone()),
            attribute: self.attribute.clone(),
            drv_path: Some(drv.to_string()),
            error,
        }
    }

    /// `linux/arm/v6 static`, `release extra hello-docs`.
    pub fn label(&self) -> String {
        let slot = self
            .platform
            .map_or_else(|| "release".to_string(), |p| p.to_string());
        match &self.extra {
            Some(extra) => format!("{slot} extra {}", extra.name),
            None => format!("{slot} {}", self.kind.as_str()),
        }
    }
}

/// Every output of a build, in a fixed order: targets as configured, static before docker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The outputs.
    pub outputs: Vec<Output>,
}

impl Plan {
    /// The plan for `targets` under `config`.
    pub fn new(config: &Config, targets: &[Platform]) -> Plan {
        let mut outputs = Vec::new();
        let mut push = |platform, kind, attribute: String, extra: Option<&ExtraArtifact>| {
            outputs.push(Output {
                platform,
                kind,
                installable: format!("{}#{}", config.flake, attribute),
                attribute,
                extra: extra.cloned(),
            })
        };
        for &platform in targets {
            push(
                Some(platform),
                Kind::Static,
                config.static_attr(platform),
                None,
            );
            // Images are Linux's: a Darwin or Windows target builds none.
            match config.docker_attr(platform) {
                Some(attr) if platform.is_linux() => push(Some(platform), Kind::Docker, attr, None),
                _ => {}
            }
        }
        for extra in &config.artifacts {
            match extra.per {
                Per::Release => {
                    let attribute = extra.attribute.replace("{name}", &config.name);
                    push(None, Kind::Extra, attribute, Some(extra));
                }
                Per::Target => {
                    for &platform in targets {
                        let attribute = expand(&extra.attribute, &config.name, platform);
                        push(Some(platform), Kind::Extra, attribute, Some(extra));
                    }
                }
            }
        }
        Plan { outputs }
    }

    /// The installables, in order.
    pub fn installables(&self) -> Vec<String> {
        self.outputs.iter().map(|o| o.installable.clone()).collect()
    }

    /// The output whose attribute is `attribute`.
    pub fn by_attribute(&self, attribute: &str) -> Option<&Output> {
        self.outputs.iter().find(|o| o.attribute == attribute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_static_and_one_docker_output_per_target() {
        let config = Config::defaults("hello");
        let plan = Plan::new(&config, &config.targets);
        let inst = plan.installables();
        assert_eq!(inst.len(), 8);
        assert_eq!(inst[0], ".#packages.x86_64-linux.hello");
        assert_eq!(inst[1], ".#packages.x86_64-linux.hello-docker");
        assert_eq!(inst[7], ".#packages.armv6l-linux.hello-docker");
        assert_eq!(plan.outputs[6].label(), "linux/arm/v6 static");
    }

    #[test]
    fn extra_artifacts_come_last_once_per_release_or_per_target() {
        let mut config = Config::defaults("hello");
        config.artifacts = crate::artifacts::parse(
            "artifacts",
            &serde_json::json!([
                {"name": "hello-docs", "attribute": "packages.x86_64-linux.{name}-docs", "archive": "tar.gz"},
                {"name": "hello-man", "attribute": "packages.{system}.man", "per": "target"},
            ]),
        )
        .unwrap();
        let plan = Plan::new(&config, &config.targets[..2]);
        let labels: Vec<String> = plan.outputs.iter().map(Output::label).collect();
        assert_eq!(
            labels,
            [
                "linux/amd64 static",
                "linux/amd64 docker",
                "linux/386 static",
                "linux/386 docker",
                "release extra hello-docs",
                "linux/amd64 extra hello-man",
                "linux/386 extra hello-man"
            ]
        );
        assert_eq!(
            plan.outputs[4].attribute,
            "packages.x86_64-linux.hello-docs"
        );
        assert_eq!(plan.outputs[6].attribute, "packages.i686-linux.man");
    }

    #[test]
    fn images_can_be_turned_off() {
        let mut config = Config::defaults("hello");
        config.docker_attr = None;
        let plan = Plan::new(&config, &config.targets[..1]);
        assert_eq!(plan.installables(), [".#packages.x86_64-linux.hello"]);
    }
}
