//! `cargo xtask …`: the project's build and test chores, in Rust so they run wherever cargo does.

use std::process::ExitCode;

mod api;
mod bench;
mod fuzz;
mod layers;
mod mobile;
mod process;
mod run;
mod seed;
mod test;
mod types;
mod wasm;

/// A command: its name, its arguments and what it does (for the usage), and what runs it.
type Task = (
    &'static str,
    &'static str,
    fn(&[String]) -> Result<(), String>,
);

/// Every command: `main` dispatches from this table and prints it as the usage, so the two
/// cannot disagree.
const COMMANDS: &[Task] = &[
    (
        "run",
        "[ARGS…]               build what the demo needs, then `gatebell serve --demo ARGS…`",
        run::demo,
    ),
    (
        "test",
        "[--only SUITE[,…]]   every test suite (layers, types, rust, api, fuzz, wasm, mobile, demo), timed",
        test::all,
    ),
    (
        "fuzz",
        "[SECONDS]            every cargo-fuzz target for SECONDS each (default 10)",
        fuzz::run_all,
    ),
    (
        "layers",
        "                   the server's layers hold (imports, axum, sqlx, file sizes, doc names)",
        layers::run,
    ),
    (
        "types",
        "[--check]           write core/ts/protocol.ts from core::protocol; --check: fail if stale",
        types::run,
    ),
    (
        "wasm",
        "[--no-opt]           build the npm package @gatebell/push into wasm/pkg",
        wasm::build,
    ),
    (
        "mobile",
        "<generate | test>  write the UniFFI bindings, or test them",
        mobile::run,
    ),
    (
        "seed",
        "[--communities N]    fill a database with N communities' rows (benchmarks, sizing)",
        seed::run_seed,
    ),
    (
        "bench",
        "                    push throughput of the release server, measured from outside",
        bench::run_bench,
    ),
];

fn usage() -> String {
    let mut text = String::from("usage: cargo xtask <command>\n");
    for (name, help, _) in COMMANDS {
        text.push_str(&format!("  {name} {help}\n"));
    }
    text
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args
        .first()
        .and_then(|name| COMMANDS.iter().find(|(command, _, _)| command == name));
    let Some((_, _, task)) = task else {
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    match task(&args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
