//! What a build will ask nix for: one output per target and kind.

use crate::config::Config;
use crate::manifest::Kind;
use crate::platform::Platform;

/// One output to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The target.
    pub platform: Platform,
    /// Static binary or image.
    pub kind: Kind,
    /// The attribute path inside the flake.
    pub attribute: String,
    /// The installable handed to nix: `<flake>#<attribute>`.
    pub installable: String,
}

impl Output {
    /// `linux/arm/v6 static`.
    pub fn label(&self) -> String {
        format!("{} {}", self.platform, self.kind.as_str())
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
        for &platform in targets {
            let mut push = |kind, attribute: String| {
                outputs.push(Output {
                    platform,
                    kind,
                    installable: format!("{}#{}", config.flake, attribute),
                    attribute,
                })
            };
            push(Kind::Static, config.static_attr(platform));
            if let Some(attr) = config.docker_attr(platform) {
                push(Kind::Docker, attr);
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
    fn images_can_be_turned_off() {
        let mut config = Config::defaults("hello");
        config.docker_attr = None;
        let plan = Plan::new(&config, &config.targets[..1]);
        assert_eq!(plan.installables(), [".#packages.x86_64-linux.hello"]);
    }
}
