//! `cargo xtask …`: the project's build and test chores, in Rust so they run wherever cargo does.

use std::process::ExitCode;

mod mobile;
mod process;
mod run;
mod test;
mod wasm;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("wasm") => wasm::build(&args[1..]),
        Some("test") => test::all(&args[1..]),
        Some("run") => run::demo(&args[1..]),
        Some("mobile") => mobile::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <run | test [--only rust|wasm|mobile|demo] | wasm | mobile test | bench-push>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
