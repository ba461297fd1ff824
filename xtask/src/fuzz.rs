//! `cargo xtask fuzz [SECONDS]`: every `cargo fuzz` target in `fuzz/` for SECONDS each (10 by
//! default, the smoke run of `cargo xtask test`; `cargo xtask fuzz 600` is the longer run
//! before a release). Targets start from the seeds in `fuzz/seeds/<target>` and keep what
//! they find in `target/fuzz/corpus`, so the tree stays clean; a crash fails the task and
//! leaves its input in `target/fuzz/artifacts/<target>`.
//!
//! cargo-fuzz is installed once per version into the tool cache. `--sanitizer none` lets the
//! stable toolchain build the targets (AddressSanitizer needs nightly; the code under test has
//! no `unsafe`, so panics and failed assertions are what there is to find).

use std::process::Command;

use crate::process::{cache_dir, cargo, root, run, target_dir};

const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// The targets, in `fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &["push_payload", "request_json", "client"];

pub fn run_all(args: &[String]) -> Result<(), String> {
    let seconds: u32 = match args {
        [] => 10,
        [s] => s
            .parse()
            .map_err(|_| format!("fuzz: SECONDS must be a number, not {s:?}"))?,
        _ => return Err("usage: cargo xtask fuzz [SECONDS]".into()),
    };
    let cargo_fuzz = ensure_cargo_fuzz()?;
    let fuzz_target = target_dir().join("fuzz");
    let fuzz = |args: &[&str]| {
        let mut c = Command::new(&cargo_fuzz);
        c.arg("fuzz")
            .args(args)
            .args(["--sanitizer", "none", "--target-dir"])
            .arg(&fuzz_target)
            .current_dir(root());
        c
    };
    run(&mut fuzz(&["build"]))?;
    for target in TARGETS {
        let corpus = fuzz_target.join("corpus").join(target);
        let artifacts = fuzz_target.join("artifacts").join(target);
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let seeds = root().join("fuzz/seeds").join(target);
        let mut c = fuzz(&["run", target]);
        c.arg(&corpus);
        if seeds.is_dir() {
            c.arg(&seeds);
        }
        c.arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()));
        println!("fuzz: {target} for {seconds} s");
        run(&mut c)?;
    }
    Ok(())
}

/// The cargo-fuzz binary, built into the tool cache when absent.
fn ensure_cargo_fuzz() -> Result<std::path::PathBuf, String> {
    let dir = cache_dir().join(format!("cargo-fuzz-{CARGO_FUZZ_VERSION}"));
    let bin = dir.join("bin/cargo-fuzz");
    if !bin.exists() {
        run(cargo()
            .args(["install", "--locked", "--quiet", "cargo-fuzz", "--version"])
            .arg(CARGO_FUZZ_VERSION)
            .arg("--root")
            .arg(&dir)
            .env("CARGO_TARGET_DIR", cache_dir().join("cargo-fuzz-build")))?;
    }
    Ok(bin)
}
