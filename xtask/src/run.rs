//! `cargo xtask run`: builds what the demo needs when it is missing (the wasm package, the
//! Next.js export, the server), prints how long each step took, and starts
//! `gatebell serve --demo` on an embedded SQLite file.

use std::process::Command;

use crate::process::{Steps, build_native, npm_ci, root, run, target_dir};

/// Builds the demo if needed, then serves it; extra arguments go to `gatebell serve`.
pub fn demo(args: &[String]) -> Result<(), String> {
    let mut steps = Steps::default();
    let built = build(&mut steps);
    steps.print();
    built?;
    run(Command::new(target_dir().join("debug/gatebell"))
        .args(["serve", "--demo"])
        .args(args))
}

fn build(steps: &mut Steps) -> Result<(), String> {
    let demo = root().join("web-demo");
    if demo.join("package.json").exists() && !demo.join("out/index.html").exists() {
        if !root().join("wasm/pkg/package.json").exists() {
            steps.step(
                "wasm package (cargo xtask wasm)",
                || crate::wasm::build(&[]),
            )?;
        }
        steps.step("demo: npm ci (when package-lock.json changed)", || {
            npm_ci(&demo)
        })?;
        steps.step("demo: tsc --noEmit, next build", || {
            run(Command::new("npm")
                .args(["run", "build"])
                .current_dir(&demo))
        })?;
    }
    // A debug build serves the demo well (dependencies are optimised in the dev profile) and
    // is the very build `cargo xtask test` uses, so neither command compiles the server twice.
    steps.step("server: build native crates (as the tests do)", || {
        run(&mut build_native())
    })
}
