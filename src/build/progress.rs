//! Turning nix's log into one status line per target, and keeping the last
//! lines of each build's log for the failure report.
//!
//! On a terminal the lines are live (indicatif); elsewhere, such as in CI,
//! each change of state is printed as a plain line on standard error.

use std::collections::{HashMap, VecDeque};
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::plan::Output;
use crate::nix::{LogEvent, ACT_BUILD};
use crate::platform::Platform;

/// How many lines of each build's log are kept.
pub const LOG_TAIL: usize = 25;

pub use crate::kinds::Verbosity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Building,
    Finished,
    Failed,
}

impl State {
    fn word(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Building => "building",
            State::Finished => "finished",
            State::Failed => "FAILED",
        }
    }
}

/// A build that nix reported as failed.
#[derive(Debug, Clone)]
pub struct FailedDrv {
    /// The derivation.
    pub drv: String,
    /// Nix's message.
    pub message: String,
    /// The last lines of its log.
    pub log_tail: Vec<String>,
}

/// Follows one nix build.
pub struct Progress {
    verbosity: Verbosity,
    outputs: Vec<Output>,
    states: Vec<State>,
    drv_to_output: HashMap<String, usize>,
    /// The remote builder of each output built remotely.
    machines: HashMap<usize, String>,
    activities: HashMap<u64, String>,
    logs: HashMap<String, VecDeque<String>>,
    failed: Vec<FailedDrv>,
    errors: Vec<String>,
    dependencies: (usize, usize),
    bars: Option<Bars>,
}

struct Bars {
    multi: MultiProgress,
    targets: Vec<(Option<Platform>, ProgressBar)>,
    other: ProgressBar,
}

impl Progress {
    /// Starts following a build of `outputs`, whose derivations are `drvs`.
    pub fn new(outputs: &[Output], drvs: &[String], verbosity: Verbosity) -> Progress {
        let drv_to_output = drvs
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, d)| (d, i))
            .collect();
        let live = verbosity == Verbosity::Normal && std::io::stderr().is_terminal();
        let mut progress = Progress {
            verbosity,
            outputs: outputs.to_vec(),
            states: vec![State::Waiting; outputs.len()],
            drv_to_output,
            machines: HashMap::new(),
            activities: HashMap::new(),
            logs: HashMap::new(),
            failed: Vec::new(),
            errors: Vec::new(),
            dependencies: (0, 0),
            bars: live.then(|| Bars::new(outputs)),
        };
        progress.redraw();
        progress
    }

    /// Takes one event from nix's log.
    pub fn event(&mut self, event: LogEvent) {
        match event {
            LogEvent::Start {
                id,
                kind: ACT_BUILD,
                drv: Some(drv),
                machine,
                ..
            } => {
                self.activities.insert(id, drv.clone());
                match self.drv_to_output.get(&drv) {
                    Some(&i) => {
                        if let Some(m) = machine {
                            self.machines.insert(i, m);
                        }
                        self.set(i, State::Building)
                    }
                    None => {
                        self.dependencies.0 += 1;
                        self.line(&format!("building dependency {}", drv_name(&drv)));
                    }
                }
                self.redraw();
            }
            LogEvent::Stop { id } => {
                if let Some(drv) = self.activities.remove(&id) {
                    match self.drv_to_output.get(&drv) {
                        Some(&i) if self.states[i] == State::Building => {
                            self.set(i, State::Finished)
                        }
                        Some(_) => {}
                        None => self.dependencies.1 += 1,
                    }
                    self.redraw();
                }
            }
            LogEvent::BuildLine { id, line } => {
                if let Some(drv) = self.activities.get(&id) {
                    if self.verbosity == Verbosity::Verbose {
                        eprintln!("{}> {line}", drv_name(drv));
                    }
                    let tail = self.logs.entry(drv.clone()).or_default();
                    if tail.len() == LOG_TAIL {
                        tail.pop_front();
                    }
                    tail.push_back(line);
                }
            }
            LogEvent::Message { level: 0, text } => self.error_message(text),
            LogEvent::Message { level, text }
                if level <= 1 || self.verbosity == Verbosity::Verbose =>
            {
                self.line(&text)
            }
            LogEvent::Plain(text) if !text.trim().is_empty() => self.line(&text),
            _ => {}
        }
    }

    fn error_message(&mut self, text: String) {
        let failed_drv = quoted_drv(&text);
        if let Some(drv) = failed_drv {
            if let Some(&i) = self.drv_to_output.get(&drv) {
                self.set(i, State::Failed);
                self.redraw();
            }
            if text.contains("builder for") {
                let log_tail = self
                    .logs
                    .get(&drv)
                    .map(|t| t.iter().cloned().collect())
                    .unwrap_or_default();
                self.failed.push(FailedDrv {
                    drv,
                    message: first_line(&text),
                    log_tail,
                });
            }
        }
        self.errors.push(text);
    }

    fn set(&mut self, i: usize, state: State) {
        self.states[i] = state;
        if self.bars.is_none() && state != State::Finished {
            let label = self.outputs[i].label();
            let on = match (state, self.machines.get(&i)) {
                (State::Building, Some(m)) => format!(" on {m}"),
                _ => String::new(),
            };
            self.line(&format!("{} {label}{on}", state.word()));
        }
    }

    fn line(&self, text: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        match &self.bars {
            Some(bars) => bars.multi.suspend(|| eprintln!("{text}")),
            None => eprintln!("{text}"),
        }
    }

    fn redraw(&mut self) {
        let Some(bars) = &self.bars else { return };
        for (platform, bar) in &bars.targets {
            let parts: Vec<String> = self
                .outputs
                .iter()
                .zip(&self.states)
                .filter(|(o, _)| o.platform == *platform)
                .map(|(o, s)| {
                    let what = o
                        .extra
                        .as_ref()
                        .map_or(o.kind.as_str(), |e| e.name.as_str());
                    format!("{what}: {}", s.word())
                })
                .collect();
            bar.set_message(parts.join("   "));
        }
        let (started, done) = self.dependencies;
        bars.other.set_message(format!(
            "dependencies: {done} built, {} building",
            started - done
        ));
    }

    /// Stops the live display.
    pub fn finish(&mut self) {
        if let Some(bars) = self.bars.take() {
            for (_, bar) in &bars.targets {
                bar.finish();
            }
            bars.other.finish_and_clear();
        }
    }

    /// The builds that failed, in the order nix reported them.
    pub fn failed(&self) -> &[FailedDrv] {
        &self.failed
    }

    /// Every error message nix printed.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

impl Bars {
    fn new(outputs: &[Output]) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{spinner} {prefix:<14} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        let mut targets: Vec<(Option<Platform>, ProgressBar)> = Vec::new();
        for o in outputs {
            if targets.iter().any(|(p, _)| *p == o.platform) {
                continue;
            }
            let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
            bar.set_prefix(
                o.platform
                    .map_or_else(|| "release".into(), |p| p.to_string()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            targets.push((o.platform, bar));
        }
        let other = multi.add(ProgressBar::new_spinner().with_style(style));
        other.set_prefix("");
        Bars {
            multi,
            targets,
            other,
        }
    }
}

/// `hello-static` from `/nix/store/<hash>-hello-static.drv`.
pub fn drv_name(drv: &str) -> &str {
    let base = drv.rsplit('/').next().unwrap_or(drv);
    let base = base.strip_suffix(".drv").unwrap_or(base);
    base.split_once('-').map(|(_, name)| name).unwrap_or(base)
}

/// The first `'/nix/store/….drv'` quoted in a message.
fn quoted_drv(text: &str) -> Option<String> {
    text.split('\'')
        .find(|s| s.starts_with('/') && s.ends_with(".drv"))
        .map(str::to_string)
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::Plan;
    use crate::config::Config;

    #[test]
    fn keeps_the_tail_of_a_failed_build_and_marks_its_target() {
        let config = Config::defaults("hello");
        let plan = Plan::new(&config, &config.targets[..1]);
        let drvs = vec![
            "/nix/store/a-hello.drv".to_string(),
            "/nix/store/b-hello-docker.drv".to_string(),
        ];
        let mut p = Progress::new(&plan.outputs, &drvs, Verbosity::Quiet);
        p.event(LogEvent::Start {
            id: 1,
            kind: ACT_BUILD,
            text: String::new(),
            drv: Some(drvs[1].clone()),
            machine: None,
        });
        for i in 0..(LOG_TAIL + 5) {
            p.event(LogEvent::BuildLine {
                id: 1,
                line: format!("line {i}"),
            });
        }
        p.event(LogEvent::Stop { id: 1 });
        p.event(LogEvent::Message {
            level: 0,
            text: "error: builder for '/nix/store/b-hello-docker.drv' failed with exit code 3"
                .into(),
        });
        assert_eq!(p.states, [State::Waiting, State::Failed]);
        let failed = p.failed();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].drv, drvs[1]);
        assert_eq!(failed[0].log_tail.len(), LOG_TAIL);
        assert_eq!(
            failed[0].log_tail.last().unwrap(),
            &format!("line {}", LOG_TAIL + 4)
        );
    }

    #[test]
    fn names_derivations() {
        assert_eq!(
            drv_name("/nix/store/jdaw1pgx9glj8bqqsixr4zmx2ydp24yy-bad-thing.drv"),
            "bad-thing"
        );
        assert_eq!(
            quoted_drv("1 dependencies of derivation '/nix/store/x-y.drv' failed to build"),
            Some("/nix/store/x-y.drv".into())
        );
    }
}
