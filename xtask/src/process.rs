//! What every task shares: where the workspace and its target directory are, how a tool is
//! run, and how long each step took.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// The workspace's target directory: `CARGO_TARGET_DIR` (relative to the root) or `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root().join(dir),
        None => root().join("target"),
    }
}

/// Tools built or downloaded once per machine: `GATEBELL_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/gatebell` or `~/.cache/gatebell` (CI keeps it between runs).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GATEBELL_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| target_dir().join("cache"))
        .join("gatebell")
}

/// `cargo` (the one running this task, when known) in the workspace root.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(root());
    command
}

/// `cargo build` of the workspace's native crates with the packages and targets of
/// `cargo test --workspace --exclude gatebell-wasm`. Cargo unifies features over what one
/// command builds, so `cargo build -p gatebell-server` after the tests would rebuild tokio,
/// hyper, clap and their dependents with other features; this builds nothing new after them.
pub fn build_native() -> Command {
    let mut command = cargo();
    command.args(NATIVE_TEST_BUILD);
    command
}

/// Arguments shared by [`build_native`] and the Rust suite's `cargo test`.
pub const NATIVE_TEST_BUILD: &[&str] = &[
    "build",
    "--workspace",
    "--exclude",
    "gatebell-wasm",
    "--lib",
    "--bins",
    "--tests",
];

/// Runs a command (in the workspace root unless it names its own folder), failing with its
/// command line when it cannot start or exits non-zero.
pub fn run(command: &mut Command) -> Result<(), String> {
    if command.get_current_dir().is_none() {
        command.current_dir(root());
    }
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

/// Runs a command and returns its standard output; its standard error is shown as it comes.
pub fn output(command: &mut Command) -> Result<String, String> {
    if command.get_current_dir().is_none() {
        command.current_dir(root());
    }
    let shown = format!("{command:?}");
    let out = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed: {}", out.status));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("{shown} printed non-UTF-8: {e}"))
}

/// `npm ci` in `dir` unless its node_modules was installed from this very package-lock.json
/// (a stamp beside the packages records which).
pub fn npm_ci(dir: &Path) -> Result<(), String> {
    let lock_path = dir.join("package-lock.json");
    let lock = std::fs::read_to_string(&lock_path)
        .map_err(|e| format!("reading {}: {e}", lock_path.display()))?;
    let stamp = dir.join("node_modules/.gatebell-package-lock.json");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(lock.as_str()) {
        println!("{}: node_modules is up to date", dir.display());
        return Ok(());
    }
    run(Command::new("npm")
        .current_dir(dir)
        .args(["ci", "--no-audit", "--no-fund"]))?;
    std::fs::write(&stamp, &lock).map_err(|e| format!("writing {}: {e}", stamp.display()))
}

/// Whether `command` is on the PATH.
pub fn on_path(command: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {command}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the Debian packages of the commands (or files) that are missing, `apt-get update`
/// first. Each need is (command name or absolute path, package).
pub fn ensure_debian(needs: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = needs
        .iter()
        .filter(|(what, _)| {
            if what.starts_with('/') {
                !Path::new(what).exists()
            } else {
                !on_path(what)
            }
        })
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        println!("all present");
        return Ok(());
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing))
}

/// Named, timed steps; [`Steps::print`] shows the table at the end, also after a failure.
#[derive(Default)]
pub struct Steps {
    done: Vec<(String, f64)>,
    /// Put before each step's name, such as `mobile: `.
    prefix: String,
}

impl Steps {
    /// Runs one step, printing its name before and its time after.
    pub fn step(
        &mut self,
        name: &str,
        f: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        let name = format!("{}{name}", self.prefix);
        println!("\n==== {name}");
        let started = Instant::now();
        let result = f();
        let secs = started.elapsed().as_secs_f64();
        println!("---- {name}: {secs:.1} s");
        self.done.push((name.clone(), secs));
        result.map_err(|e| format!("{name}: {e}"))
    }

    /// Names the steps that follow `prefix…` (a suite's name), until changed again.
    pub fn set_prefix(&mut self, prefix: &str) {
        prefix.clone_into(&mut self.prefix);
    }

    /// The table of step times and their total.
    pub fn print(&self) {
        println!("\n==== timings");
        for (name, secs) in &self.done {
            println!("{secs:>8.1} s  {name}");
        }
        let total: f64 = self.done.iter().map(|(_, s)| s).sum();
        println!("{total:>8.1} s  total");
    }
}
