//! `cargo xtask run`: builds what the demo needs when it is missing (the wasm package, the
//! Next.js export) and starts `gatebell serve --demo` on an embedded SQLite file.

use std::process::Command;

use crate::test::{root, run};

/// Builds the demo if needed, then serves it; extra arguments go to `gatebell serve`.
pub fn demo(args: &[String]) -> Result<(), String> {
    let demo = root().join("web-demo");
    if demo.join("package.json").exists() && !demo.join("out/index.html").exists() {
        if !root().join("wasm/pkg/package.json").exists() {
            crate::wasm::build(&[])?;
        }
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&demo))?;
        run(Command::new("npm")
            .args(["run", "build"])
            .current_dir(&demo))?;
    }
    let mut cmd = Command::new("cargo");
    cmd.args([
        "run",
        "--release",
        "-p",
        "gatebell-server",
        "--",
        "serve",
        "--demo",
    ])
    .args(args);
    run(&mut cmd)
}
