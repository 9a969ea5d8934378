//! One way to run external programs (nix, git): through `duct`, with the
//! command line kept for messages and standard error kept for errors.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::errors::{Error, Result};

/// How many trailing lines of standard error an error message keeps.
const STDERR_TAIL: usize = 25;

/// A command to run.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    env: Vec<(OsString, OsString)>,
}

/// What a finished command left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code; `None` if a signal ended it.
    pub status: Option<i32>,
    /// Everything it wrote to standard output.
    pub stdout: Vec<u8>,
}

impl Cmd {
    /// A command running `program`.
    pub fn new(program: impl Into<PathBuf>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Cmd {
        self.args.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets `key` to `value` in its environment.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Cmd {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs in `dir`.
    pub fn dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The command line, quoted for a POSIX shell, with the program's bare name.
    pub fn display(&self) -> String {
        let program = self
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.program.display().to_string());
        std::iter::once(program)
            .chain(self.args.iter().map(|a| shell_quote(&a.to_string_lossy())))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn expression(&self) -> duct::Expression {
        // A bare name is looked up on PATH here: with `dir` set, the child
        // would otherwise not find it.
        let program = if self.program.components().count() == 1 {
            which::which(&self.program).unwrap_or_else(|_| self.program.clone())
        } else {
            self.program.clone()
        };
        let mut expr = duct::cmd(program, &self.args);
        if let Some(dir) = &self.dir {
            expr = expr.dir(dir);
        }
        for (k, v) in &self.env {
            expr = expr.env(k, v);
        }
        expr
    }

    /// Runs to completion and returns standard output; a non-zero exit is an
    /// error carrying the tail of standard error.
    pub fn read(&self) -> Result<Vec<u8>> {
        tracing::debug!(command = %self.display(), "running");
        let out = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|e| self.spawn_error(e))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(Error::Command {
                command: self.display(),
                status: out.status.code(),
                stderr: tail(&String::from_utf8_lossy(&out.stderr), STDERR_TAIL),
            })
        }
    }

    /// Runs to completion, handing each line of standard error to `on_line`
    /// as it comes, and returns the exit status with standard output.
    pub fn stream_stderr(&self, mut on_line: impl FnMut(&str)) -> Result<Finished> {
        tracing::debug!(command = %self.display(), "running");
        // Swap the streams so the reader yields standard error while standard
        // output is captured whole.
        let reader = self
            .expression()
            .stdout_stderr_swap()
            .stderr_capture()
            .unchecked()
            .reader()
            .map_err(|e| self.spawn_error(e))?;
        let mut lines = BufReader::new(&reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = lines
                .read_until(b'\n', &mut buf)
                .map_err(Error::io("cannot read the output of", &self.program))?;
            if n == 0 {
                break;
            }
            on_line(String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']));
        }
        let output = reader
            .try_wait()
            .map_err(Error::io("cannot wait for", &self.program))?
            .ok_or_else(|| Error::Command {
                command: self.display(),
                status: None,
                stderr: "standard error closed before the process ended".into(),
            })?;
        Ok(Finished {
            status: output.status.code(),
            stdout: output.stderr.clone(),
        })
    }

    /// Runs with no standard input, for at most `limit` (then kills it), and
    /// returns its exit status (`None` when it was killed) and standard
    /// output, whatever the status.
    pub fn run_for(&self, limit: std::time::Duration) -> Result<Finished> {
        tracing::debug!(command = %self.display(), "running");
        let handle = self
            .expression()
            .stdin_null()
            .stdout_capture()
            .stderr_null()
            .unchecked()
            .start()
            .map_err(|e| self.spawn_error(e))?;
        let started = std::time::Instant::now();
        loop {
            if let Some(out) = handle
                .try_wait()
                .map_err(Error::io("cannot wait for", &self.program))?
            {
                return Ok(Finished {
                    status: out.status.code(),
                    stdout: out.stdout.clone(),
                });
            }
            if started.elapsed() >= limit {
                let _ = handle.kill();
                return Ok(Finished {
                    status: None,
                    stdout: Vec::new(),
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Runs to completion with standard output streamed into the file
    /// `to` (created or truncated), at most `cap` bytes of it: past that the
    /// command is killed and the file removed. A non-zero exit is an error
    /// carrying the tail of standard error.
    pub fn write_stdout_to(&self, to: &Path, cap: u64) -> Result<()> {
        use std::io::Read;
        tracing::debug!(command = %self.display(), "running");
        let reader = self
            .expression()
            .stderr_capture()
            .stdin_null()
            .unchecked()
            .reader()
            .map_err(|e| self.spawn_error(e))?;
        let mut file = std::fs::File::create(to).map_err(Error::io("cannot write", to))?;
        let copied = std::io::copy(&mut (&reader).take(cap + 1), &mut file);
        let over = matches!(copied, Ok(n) if n > cap);
        if over {
            let _ = reader.kill();
            let _ = std::fs::remove_file(to);
            return Err(Error::Command {
                command: self.display(),
                status: None,
                stderr: format!("it wrote more than {cap} bytes: stopped"),
            });
        }
        let result = reader
            .try_wait()
            .ok()
            .flatten()
            .map(|o| (o.status, o.stderr.clone()));
        copied.map_err(Error::io("cannot write", to))?;
        match result {
            Some((status, _)) if status.success() => Ok(()),
            Some((status, stderr)) => {
                let _ = std::fs::remove_file(to);
                Err(Error::Command {
                    command: self.display(),
                    status: status.code(),
                    stderr: tail(&String::from_utf8_lossy(&stderr), STDERR_TAIL),
                })
            }
            None => Err(Error::Command {
                command: self.display(),
                status: None,
                stderr: "it did not finish".into(),
            }),
        }
    }

    fn spawn_error(&self, source: std::io::Error) -> Error {
        Error::Io {
            action: "cannot run",
            path: self.program.clone(),
            source,
        }
    }
}

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    // `#` starts a comment only at the start of a word.
    let plain = !s.is_empty()
        && !s.starts_with('#')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^#".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(
            shell_quote(".#packages.x86_64-linux.hello"),
            ".#packages.x86_64-linux.hello"
        );
        assert_eq!(shell_quote("nix-command flakes"), "'nix-command flakes'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn streams_stderr_and_keeps_stdout() {
        let mut seen = Vec::new();
        let done = Cmd::new("/bin/sh")
            .args(["-c", "echo out; echo one >&2; echo two >&2; exit 4"])
            .stream_stderr(|l| seen.push(l.to_string()))
            .unwrap();
        assert_eq!(seen, ["one", "two"]);
        assert_eq!(done.stdout, b"out\n");
        assert_eq!(done.status, Some(4));
    }

    #[test]
    fn read_reports_stderr_on_failure() {
        let err = Cmd::new("/bin/sh")
            .args(["-c", "echo broken >&2; exit 2"])
            .read()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("exit code 2") && text.contains("broken"),
            "{text}"
        );
    }
}
