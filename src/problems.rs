//! What is wrong with the configuration, key by key: a leaf type that the
//! pure modules return (they do not build the top-level error), so that one
//! run can report every missing or invalid key together.

use std::fmt;

/// One configuration key that is missing or has a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyProblem {
    /// The key, as written in Cargo.toml (`package.metadata.release-dist.packages.url`).
    pub key: String,
    /// Missing (not set anywhere), rather than set to a bad value.
    pub missing: bool,
    /// What it is for, or what is wrong with it.
    pub message: String,
}

impl KeyProblem {
    /// A key that must be set and is not.
    pub fn missing(key: impl Into<String>, message: impl Into<String>) -> KeyProblem {
        KeyProblem {
            key: key.into(),
            missing: true,
            message: message.into(),
        }
    }

    /// A key whose value is wrong.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> KeyProblem {
        KeyProblem {
            key: key.into(),
            missing: false,
            message: message.into(),
        }
    }
}

impl fmt::Display for KeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.missing { "missing" } else { "invalid" };
        write!(
            f,
            "{what} configuration key `{}`: {}",
            self.key, self.message
        )
    }
}

/// The problems as one text: one alone on its line, several each on its own.
pub fn describe(problems: &[KeyProblem]) -> String {
    match problems {
        [one] => one.to_string(),
        many => {
            let mut out = format!("{} configuration keys to fix:", many.len());
            for p in many {
                out.push_str(&format!("\n  {p}"));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_problem_is_one_line_and_several_are_listed() {
        let a = KeyProblem::missing("x.url", "is needed for packages");
        let b = KeyProblem::invalid("x.maintainer", "`Jane` must be `Name <email>`");
        assert_eq!(
            describe(std::slice::from_ref(&a)),
            "missing configuration key `x.url`: is needed for packages"
        );
        assert_eq!(
            describe(&[a, b]),
            "2 configuration keys to fix:\n  missing configuration key `x.url`: is needed for packages\n  invalid configuration key `x.maintainer`: `Jane` must be `Name <email>`"
        );
    }
}
