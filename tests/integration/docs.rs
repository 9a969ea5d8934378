//! The command examples of README.md and docs/, run: every ```` ```console ````
//! block is a session against a fresh copy of the example project, so the
//! documentation cannot drift from the tool.
//!
//! A block's lines: `$ command` runs the command with bash in a directory
//! that holds the copy at `examples/hello` (a git repository), with
//! `cargo release-dist` being this build of the tool; the lines after it are
//! its expected output (stdout and stderr together). `…` alone matches any
//! number of lines, and inside a line any text. A command that ends in
//! `# exit N` must exit N; the others must succeed. The blocks of one file
//! run in order in one directory, so a later block sees what an earlier
//! one made.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{repo_root, Fixture};

/// One `$ command` and what it must print and exit with.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
    exit: i32,
}

/// The `console` blocks of a Markdown text, as steps.
fn steps(markdown: &str) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::new();
    let mut inside = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            inside = !inside && line.trim_end() == "```console";
            continue;
        }
        if !inside {
            continue;
        }
        if let Some(command) = line.strip_prefix("$ ") {
            let exit = command
                .rsplit_once("# exit ")
                .and_then(|(_, n)| n.trim().parse().ok())
                .unwrap_or(0);
            out.push(Step {
                command: command.to_string(),
                expected: Vec::new(),
                exit,
            });
        } else if let Some(step) = out.last_mut() {
            step.expected.push(line.to_string());
        }
    }
    out
}

/// Whether `line` matches `pattern`, where `…` stands for any text.
fn line_matches(pattern: &str, line: &str) -> bool {
    let mut parts = pattern.split('…');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// Whether `lines` match `patterns` from the first line to the last, where a
/// pattern `…` alone matches any number of lines.
fn lines_match(patterns: &[String], lines: &[&str]) -> bool {
    match patterns.split_first() {
        None => lines.is_empty(),
        Some((p, rest)) if p == "…" => {
            (0..=lines.len()).any(|skip| lines_match(rest, &lines[skip..]))
        }
        Some((p, rest)) => {
            !lines.is_empty() && line_matches(p, lines[0]) && lines_match(rest, &lines[1..])
        }
    }
}

/// A directory holding a fresh copy of the example at `examples/hello`.
struct Workspace {
    fixture: Fixture,
    root: PathBuf,
}

impl Workspace {
    fn new() -> Workspace {
        let fixture = Fixture::example("hello");
        let root = fixture.dir.parent().unwrap().join("root");
        std::fs::create_dir_all(root.join("examples")).unwrap();
        std::os::unix::fs::symlink(&fixture.dir, root.join("examples/hello")).unwrap();
        Workspace { fixture, root }
    }

    fn run(&self, step: &Step) -> (i32, String) {
        let tool_dir = Path::new(env!("CARGO_BIN_EXE_cargo-release-dist"))
            .parent()
            .unwrap()
            .to_path_buf();
        let path = format!("{}:{}", tool_dir.display(), std::env::var("PATH").unwrap());
        let out = Command::new("bash")
            .args(["-c", &format!("exec 2>&1\n{}", step.command)])
            .current_dir(&self.root)
            .env("PATH", path)
            .env("NIX_CONFIG", "substituters =")
            .env_remove("RELEASE_DIST_LOG")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        let _ = &self.fixture;
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

/// Runs every console block of `file` (relative to the repository).
fn check(file: &str) -> usize {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
    let steps = steps(&text);
    let ws = Workspace::new();
    for step in &steps {
        let (code, output) = ws.run(step);
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(
            code, step.exit,
            "{file}: `{}` exited {code}, not {}:\n{output}",
            step.command, step.exit
        );
        assert!(
            lines_match(&step.expected, &lines),
            "{file}: `{}` printed\n{output}\nwhich does not match\n{}",
            step.command,
            step.expected.join("\n")
        );
    }
    steps.len()
}

#[test]
fn the_matcher_matches_what_it_should_and_nothing_else() {
    let p = |s: &str| s.lines().map(str::to_string).collect::<Vec<_>>();
    assert!(lines_match(&p("a\n…\nd"), &["a", "b", "c", "d"]));
    assert!(lines_match(&p("a\n…"), &["a"]));
    assert!(!lines_match(&p("a\nd"), &["a", "b", "d"]));
    assert!(!lines_match(&p("a"), &["a", "b"]));
    assert!(line_matches("x … y", "x 1 2 3 y"));
    assert!(line_matches(
        "…-hello-…/bin/hello",
        "/nix/store/abc-hello-0.1.0/bin/hello"
    ));
    assert!(!line_matches("x … y", "x 1 2 3 z"));
    let s = steps("```console\n$ true\nout\n$ false # exit 1\n```\n```sh\n$ not run\n```\n");
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].exit, s[0].expected.len()), (0, 1));
    assert_eq!(s[1].exit, 1);
}

#[test]
fn every_console_block_of_the_readme_and_the_docs_runs_as_written() {
    let mut files = vec!["README.md".to_string()];
    let mut docs: Vec<String> = std::fs::read_dir(repo_root().join("docs"))
        .unwrap()
        .map(|e| format!("docs/{}", e.unwrap().file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut ran = 0;
    for file in &files {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        if !steps(&text).is_empty() {
            ran += check(file);
        }
    }
    // docs/commands.md's dry run and its session, at least.
    assert!(ran >= 9, "{ran} commands");
}
