//! `cargo xtask test`: every test suite, in dependency order, each step timed. It installs what
//! a suite needs when it is missing, so it works on a fresh machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent")
        .to_path_buf()
}

/// Runs a command in the workspace root unless it names its own folder.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    if cmd.get_current_dir().is_none() {
        cmd.current_dir(root());
    }
    let status = cmd.status().map_err(|e| format!("{cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed ({status})"))
    }
}

fn step(
    name: &str,
    timings: &mut Vec<(String, f64)>,
    f: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    println!("\n==== {name}");
    let t = Instant::now();
    let r = f();
    timings.push((name.to_owned(), t.elapsed().as_secs_f64()));
    r.map_err(|e| format!("{name}: {e}"))
}

/// Runs every suite; `--only NAME` runs one (rust, wasm, mobile, demo).
pub fn all(args: &[String]) -> Result<(), String> {
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let wants = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let mut timings = Vec::new();
    let result = (|| {
        if wants("rust") {
            // Server tests run on SQLite and on a throwaway PostgreSQL they start themselves
            // (DATABASE_URL=postgres://… from outside is used instead when set).
            step(
                "rust: unit and integration tests (core, server on SQLite and PostgreSQL, testkit)",
                &mut timings,
                || {
                    run(Command::new("cargo").args([
                        "test",
                        "--workspace",
                        "--exclude",
                        "gatebell-wasm",
                    ]))
                },
            )?;
        }
        if wants("wasm") {
            step(
                "wasm: package build, wasm-bindgen tests, browser test",
                &mut timings,
                || run(Command::new("bash").arg("wasm/test.sh")),
            )?;
        }
        if wants("mobile") && root().join("mobile-bindings/Cargo.toml").exists() {
            step(
                "mobile: UniFFI bindings from Python, TypeScript, C++ and Kotlin",
                &mut timings,
                || run(Command::new("cargo").args(["xtask", "mobile", "test"])),
            )?;
        }
        if wants("demo") && root().join("web-demo/package.json").exists() {
            step("demo: end-to-end in Chromium", &mut timings, || {
                run(Command::new("bash").arg("web-demo/test.sh"))
            })?;
        }
        Ok(())
    })();
    println!("\n==== timings");
    for (name, secs) in &timings {
        println!("{secs:>8.1} s  {name}");
    }
    result
}
