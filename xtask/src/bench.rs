//! `cargo xtask bench`: push throughput and latency of the release server measured from
//! outside. Builds `gatebell` and its example `throughput` and the fakes' process
//! `gatebell-fakes`, all release, then runs the example (see server/examples/throughput/main.rs
//! and docs/PERFORMANCE.md). Arguments are none; the knobs are the example's environment
//! variables (`MESSAGES`, `ROUNDS`, `RATE`, `SECONDS`, `DATABASE_URL`, `POSTGRES`, `PEERS`,
//! `CALLGRIND`).

use crate::process::{cargo, run, target_dir};

pub fn run_bench(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask bench (knobs: MESSAGES, ROUNDS, RATE, SECONDS, DATABASE_URL, POSTGRES=0, PEERS=0, CALLGRIND=0)".into());
    }
    // One invocation: the fakes and the server then share one feature set, so nothing is
    // built twice.
    run(cargo().args([
        "build",
        "--release",
        "-p",
        "gatebell-server",
        "--bin",
        "gatebell",
        "--example",
        "throughput",
        "-p",
        "gatebell-testkit",
        "--bin",
        "gatebell-fakes",
    ]))?;
    run(&mut std::process::Command::new(
        target_dir().join("release/examples/throughput"),
    ))
}
