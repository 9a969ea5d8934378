//! Nix's `--log-format internal-json`: one `@nix {…}` object a line.
//!
//! Only what progress reporting needs is decoded: activities starting and
//! stopping (with the derivation of a build), build log lines, and messages.

use serde_json::Value;

/// Activity type of a derivation build (`actBuild`).
pub const ACT_BUILD: u64 = 105;
/// Result type of a line of build output (`resBuildLogLine`).
const RES_BUILD_LOG_LINE: u64 = 101;

/// One decoded line of nix's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// An activity started.
    Start {
        /// Activity id.
        id: u64,
        /// Activity type (`ACT_BUILD`, …).
        kind: u64,
        /// Human text, e.g. `building '/nix/store/…drv'`.
        text: String,
        /// The derivation, for builds.
        drv: Option<String>,
        /// The remote builder it runs on (`ssh://…`), for a remote build.
        machine: Option<String>,
    },
    /// An activity ended.
    Stop {
        /// Activity id.
        id: u64,
    },
    /// A line a builder printed.
    BuildLine {
        /// Activity id of the build.
        id: u64,
        /// The line, colours removed.
        line: String,
    },
    /// A message (error, warning, info), colours removed.
    Message {
        /// Nix verbosity level: 0 error, 1 warn, 3 info…
        level: u64,
        /// The text.
        text: String,
    },
    /// A line that is not internal-json: passed on as it is.
    Plain(String),
    /// Anything else (progress counters).
    Other,
}

impl LogEvent {
    /// Decodes one line of standard error.
    pub fn parse(line: &str) -> LogEvent {
        let Some(json) = line.strip_prefix("@nix ") else {
            return LogEvent::Plain(line.to_string());
        };
        let Ok(v) = serde_json::from_str::<Value>(json) else {
            return LogEvent::Plain(line.to_string());
        };
        let id = v["id"].as_u64().unwrap_or(0);
        match v["action"].as_str() {
            Some("start") => {
                let kind = v["type"].as_u64().unwrap_or(0);
                LogEvent::Start {
                    id,
                    kind,
                    text: strip_ansi(v["text"].as_str().unwrap_or("")),
                    drv: (kind == ACT_BUILD)
                        .then(|| v["fields"][0].as_str().map(str::to_string))
                        .flatten(),
                    machine: (kind == ACT_BUILD)
                        .then(|| {
                            v["fields"][1]
                                .as_str()
                                .filter(|m| !m.is_empty())
                                .map(str::to_string)
                        })
                        .flatten(),
                }
            }
            Some("stop") => LogEvent::Stop { id },
            Some("result") if v["type"].as_u64() == Some(RES_BUILD_LOG_LINE) => {
                LogEvent::BuildLine {
                    id,
                    line: strip_ansi(v["fields"][0].as_str().unwrap_or("")),
                }
            }
            Some("msg") => LogEvent::Message {
                level: v["level"].as_u64().unwrap_or(0),
                text: strip_ansi(v["msg"].as_str().unwrap_or("")),
            },
            _ => LogEvent::Other,
        }
    }
}

/// The system a build error says no machine here builds: nix's "a
/// 'aarch64-darwin' with features {} is required to build '…', but I am a
/// 'x86_64-linux' …".
pub fn needed_system(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("a '")?;
    let (system, rest) = rest.split_once('\'')?;
    rest.contains("is required to build")
        .then(|| system.to_string())
}

/// Removes ANSI colour sequences, which nix puts in its messages.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_system_no_machine_here_builds() {
        // Nix 2.8's words, as it printed them here for a Darwin derivation.
        let said = "error: a 'aarch64-darwin' with features {} is required to build '/nix/store/bp5frmaayr3fd1gig4w6p4kv2g2bymgr-hello-0.1.0-aarch64-apple-darwin.drv', but I am a 'x86_64-linux' with features {benchmark, big-parallel, kvm, nixos-test}";
        assert_eq!(needed_system(said).as_deref(), Some("aarch64-darwin"));
        assert_eq!(
            needed_system("error: builder for 'x' failed with exit code 1"),
            None
        );
    }

    #[test]
    fn strips_colours() {
        assert_eq!(
            strip_ansi("\u{1b}[31;1merror:\u{1b}[0m builder for '\u{1b}[35;1m/nix/store/x.drv\u{1b}[0m' failed"),
            "error: builder for '/nix/store/x.drv' failed"
        );
    }

    // Lines as Nix 2.8 printed them for a failing build.
    #[test]
    fn decodes_a_failing_build() {
        let start = r#"@nix {"action":"start","fields":["/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv","",1,1],"id":56118042689540,"level":3,"text":"building '/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv'","type":105}"#;
        assert_eq!(
            LogEvent::parse(start),
            LogEvent::Start {
                id: 56118042689540,
                kind: ACT_BUILD,
                text: "building '/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv'".into(),
                drv: Some("/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv".into()),
                machine: None,
            }
        );
        let remote = r#"@nix {"action":"start","fields":["/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv","ssh://root@builder",1,1],"id":7,"level":3,"text":"building '/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv' on 'ssh://root@builder'","type":105}"#;
        assert!(
            matches!(LogEvent::parse(remote), LogEvent::Start { machine: Some(m), .. } if m == "ssh://root@builder")
        );
        let line =
            r#"@nix {"action":"result","fields":["failing"],"id":56118042689540,"type":101}"#;
        assert_eq!(
            LogEvent::parse(line),
            LogEvent::BuildLine {
                id: 56118042689540,
                line: "failing".into()
            }
        );
        let msg = r#"@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m \u001b[35;1m\u001b[0mbuilder for '\u001b[35;1m/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv\u001b[0m' failed with exit code 3\u001b[0m"}"#;
        assert_eq!(
            LogEvent::parse(msg),
            LogEvent::Message {
                level: 0,
                text: "error: builder for '/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad.drv' failed with exit code 3".into()
            }
        );
        assert_eq!(
            LogEvent::parse(r#"@nix {"action":"stop","id":7}"#),
            LogEvent::Stop { id: 7 }
        );
        assert_eq!(
            LogEvent::parse(r#"@nix {"action":"result","fields":[0,1,0,0],"id":1,"type":105}"#),
            LogEvent::Other
        );
        assert_eq!(
            LogEvent::parse("plain text"),
            LogEvent::Plain("plain text".into())
        );
    }
}
