//! hello: the example project of cargo release-dist. It says hello and
//! which target it was built for; `--version` prints its version.

use std::process::ExitCode;

const NAME: &str = env!("CARGO_PKG_NAME");
const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The Rust target triple (build.rs).
const TARGET: &str = env!("HELLO_TARGET");

enum Action {
    Greet(String),
    Version,
    Help,
}

fn parse() -> Result<Action, lexopt::Error> {
    use lexopt::prelude::*;
    let mut who = String::from("world");
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('V') | Long("version") => return Ok(Action::Version),
            Short('h') | Long("help") => return Ok(Action::Help),
            Long("name") => who = parser.value()?.string()?,
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Action::Greet(who))
}

fn main() -> ExitCode {
    match parse() {
        Ok(Action::Greet(who)) => println!("hello {who}, from {NAME} {VERSION} ({TARGET})"),
        Ok(Action::Version) => println!("{NAME} {VERSION} ({TARGET})"),
        Ok(Action::Help) => println!("usage: {NAME} [--name WHO] [--version]"),
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
