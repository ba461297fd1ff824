//! `cargo xtask run`: builds what the demo needs when it is missing (the wasm package, the
//! Next.js export) and starts `gatebell serve --demo` on an embedded SQLite file.

use std::process::Command;

use crate::process::{build_native, npm_ci, root, run, target_dir};

/// Builds the demo if needed, then serves it; extra arguments go to `gatebell serve`.
pub fn demo(args: &[String]) -> Result<(), String> {
    let demo = root().join("web-demo");
    if demo.join("package.json").exists() && !demo.join("out/index.html").exists() {
        if !root().join("wasm/pkg/package.json").exists() {
            crate::wasm::build(&[])?;
        }
        npm_ci(&demo)?;
        run(Command::new("npm")
            .args(["run", "build"])
            .current_dir(&demo))?;
    }
    // A debug build serves the demo well (dependencies are optimised in the dev profile) and
    // is the very build `cargo xtask test` uses, so neither command compiles the server twice.
    run(&mut build_native())?;
    run(Command::new(target_dir().join("debug/gatebell"))
        .args(["serve", "--demo"])
        .args(args))
}
