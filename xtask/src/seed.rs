//! `cargo xtask seed [--communities N] [--first K] [--database-url URL]`: a deployment-sized
//! database for benchmarks and sizing. Builds `gatebell` and runs `gatebell seed` with these
//! arguments (see `server/src/db/seed.rs`); `DATABASE_URL` or `--database-url` picks SQLite or
//! PostgreSQL (default: `gatebell.db` here).

use std::process::Command;

use crate::process::{cargo, run, target_dir};

pub fn run_seed(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        return Err(
            "usage: cargo xtask seed [--communities N] [--first K] [--database-url URL]".into(),
        );
    }
    run(cargo().args(["build", "-p", "gatebell-server", "--bin", "gatebell"]))?;
    run(Command::new(target_dir().join("debug/gatebell"))
        .arg("seed")
        .args(args))
}
