//! `cargo xtask wasm`: builds the npm package `@gatebell/push` into wasm/pkg.
//!
//! Steps: `cargo build --release --target wasm32-unknown-unknown -p gatebell-wasm` (size
//! settings passed as `CARGO_PROFILE_RELEASE_*`, so the workspace profile stays as it is), the
//! wasm-bindgen CLI of exactly the crate's wasm-bindgen version (installed when missing),
//! `wasm-opt -Oz` from the npm package `binaryen` (Debian's older binaryen writes modules that
//! fail to load), the glue minified with the npm package `terser`, then package.json, the
//! service-worker files (`sw.js`, `worker.js`, `worker.d.ts`, and `gatebell-classic.js` bundled
//! by esbuild for classic workers) and `npm pack` (the tarball
//! `gatebell-push-<version>.tgz`). Nothing edits wasm-bindgen's output by hand. Prints the gzipped size and warns over
//! budget (to become an error once the package is under it).

use crate::process::run;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Gzipped size budget of the wasm plus its JS glue.
const BUDGET_GZIP_BYTES: u64 = 35 * 1024;
const TARGET: &str = "wasm32-unknown-unknown";
/// File stem of the generated module and glue (`gatebell_push.js`, `gatebell_push_bg.wasm`).
const OUT_NAME: &str = "gatebell_push";
/// The wasm features Rust's wasm32 target emits by default; wasm-opt must accept them.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the wasm package. `--no-opt` skips wasm-opt (faster local iteration).
pub fn build(args: &[String]) -> Result<(), String> {
    let optimise = !args.iter().any(|a| a == "--no-opt");
    if let Some(unknown) = args.iter().find(|a| *a != "--no-opt") {
        return Err(format!(
            "wasm: unknown argument {unknown} (accepted: --no-opt)"
        ));
    }
    let root = workspace_root();
    let wasm_dir = root.join("wasm");
    let pkg = wasm_dir.join("pkg");

    ensure_target()?;
    let version = pinned_wasm_bindgen(&root)?;
    ensure_wasm_bindgen(&version)?;

    run(Command::new(cargo())
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "-p",
            "gatebell-wasm",
        ])
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort"))?;
    let built = target_dir(&root)
        .join(TARGET)
        .join("release")
        .join("gatebell_wasm.wasm");

    if pkg.exists() {
        fs::remove_dir_all(&pkg).map_err(|e| format!("removing {}: {e}", pkg.display()))?;
    }
    run(Command::new("wasm-bindgen")
        .arg(&built)
        .args(["--target", "web", "--out-name", OUT_NAME, "--out-dir"])
        .arg(&pkg))?;

    let wasm = pkg.join(format!("{OUT_NAME}_bg.wasm"));
    if optimise {
        let wasm_opt = ensure_wasm_opt(&wasm_dir)?;
        let before = file_size(&wasm)?;
        run(Command::new(wasm_opt)
            .arg(&wasm)
            .arg("-Oz")
            .args(WASM_FEATURES)
            .arg("-o")
            .arg(&wasm))?;
        println!("wasm-opt -Oz: {} → {} bytes", before, file_size(&wasm)?);
        minify_js(&wasm_dir, &pkg.join(format!("{OUT_NAME}.js")))?;
    }

    for file in ["sw.js", "worker.js", "worker.d.ts"] {
        fs::copy(wasm_dir.join("js").join(file), pkg.join(file))
            .map_err(|e| format!("copying {file}: {e}"))?;
    }
    classic_build(&wasm_dir, &pkg)?;
    fs::write(
        pkg.join("package.json"),
        package_json(&crate_version(&root)?),
    )
    .map_err(|e| format!("writing package.json: {e}"))?;
    // The tarball an app installs (`npm install …/gatebell-push-<v>.tgz`), as the registry
    // would serve it.
    run(Command::new("npm")
        .args(["pack", "--silent"])
        .current_dir(&pkg))?;
    println!(
        "wasm/pkg/gatebell-push-{}.tgz: the npm package",
        crate_version(&root)?
    );

    let glue = pkg.join(format!("{OUT_NAME}.js"));
    let mut shipped = vec![wasm, glue];
    shipped.extend(snippets(&pkg.join("snippets")));
    let mut total = 0;
    for file in &shipped {
        let size = gzip_size(file)?;
        total += size;
        println!(
            "  {:<40} {:>7} bytes gzipped",
            file.strip_prefix(&pkg).unwrap_or(file).display(),
            size
        );
    }
    println!(
        "wasm/pkg: wasm + JS glue = {:.1} KB gzipped (budget {} KB)",
        total as f64 / 1024.0,
        BUDGET_GZIP_BYTES / 1024
    );
    // Reported, not enforced yet: the package is still over budget (docs/PERFORMANCE.md says
    // where the bytes go). Once under it, return an error here instead of warning.
    if optimise && total > BUDGET_GZIP_BYTES {
        eprintln!(
            "warning: the package is {total} bytes gzipped, over the budget of {BUDGET_GZIP_BYTES}"
        );
    }
    Ok(())
}

/// The classic worker script `gatebell-classic.js`: `js/classic.js`, `worker.js`, the glue and
/// its snippets bundled into one IIFE by esbuild (from wasm/node_modules), for
/// `importScripts()`. The entry is bundled from inside pkg/ so its imports resolve there.
fn classic_build(wasm_dir: &Path, pkg: &Path) -> Result<(), String> {
    ensure_npm_tools(wasm_dir)?;
    let entry = pkg.join("classic-entry.js");
    fs::copy(wasm_dir.join("js/classic.js"), &entry)
        .map_err(|e| format!("copying classic.js: {e}"))?;
    let built = run(Command::new(wasm_dir.join("node_modules/.bin/esbuild"))
        .arg(&entry)
        .args(["--bundle", "--format=iife", "--minify", "--log-level=error"])
        // The glue's default wasm URL uses import.meta, which a classic script lacks; the
        // entry passes the URL explicitly.
        .arg("--log-override:empty-import-meta=silent")
        .arg(format!(
            "--outfile={}",
            pkg.join("gatebell-classic.js").display()
        )));
    let _ = fs::remove_file(&entry);
    built
}

fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => root.join(dir),
        None => root.join("target"),
    }
}

fn output(command: &mut Command) -> Option<String> {
    let out = command.stderr(Stdio::null()).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ensure_target() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["target", "list", "--installed"]));
    match installed {
        Some(list) if list.lines().any(|l| l.trim() == TARGET) => Ok(()),
        // Without rustup (a distribution's rustc) there is nothing to add; cargo will say so.
        None => Ok(()),
        Some(_) => run(Command::new("rustup").args(["target", "add", TARGET])),
    }
}

/// The wasm-bindgen version in Cargo.lock: the one the crate is pinned to (`=0.2.x`).
fn pinned_wasm_bindgen(root: &Path) -> Result<String, String> {
    let lock = fs::read_to_string(root.join("Cargo.lock"))
        .map_err(|e| format!("reading Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "name = \"wasm-bindgen\"" {
            let version = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'));
            if let Some(version) = version {
                return Ok(version.to_owned());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock; run cargo build -p gatebell-wasm once".into())
}

/// Installs the wasm-bindgen CLI (and its test runner) of exactly `version` unless present.
/// Not `--locked`: its lock file names crate versions this registry does not have.
fn ensure_wasm_bindgen(version: &str) -> Result<(), String> {
    let current = output(Command::new("wasm-bindgen").arg("--version"));
    if current.as_deref().map(str::trim) == Some(&format!("wasm-bindgen {version}")) {
        return Ok(());
    }
    println!("installing wasm-bindgen-cli {version} (about 3 minutes)…");
    run(Command::new(cargo()).args(["install", "wasm-bindgen-cli", "--version", version]))
}

/// wasm-opt (and terser) from wasm/node_modules, installed with `npm ci` when missing.
fn ensure_wasm_opt(wasm_dir: &Path) -> Result<PathBuf, String> {
    ensure_npm_tools(wasm_dir)?;
    Ok(wasm_dir.join("node_modules/.bin/wasm-opt"))
}

/// The build tools of wasm/package.json (wasm-opt, terser, esbuild), with `npm ci` when one is
/// missing.
fn ensure_npm_tools(wasm_dir: &Path) -> Result<(), String> {
    let bin = wasm_dir.join("node_modules/.bin");
    if !["wasm-opt", "terser", "esbuild"]
        .iter()
        .all(|tool| bin.join(tool).exists())
    {
        run(Command::new("npm")
            .current_dir(wasm_dir)
            .args(["ci", "--no-audit", "--no-fund"]))?;
    }
    Ok(())
}

fn crate_version(root: &Path) -> Result<String, String> {
    let manifest = fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("reading Cargo.toml: {e}"))?;
    let in_workspace_package = manifest
        .split("[workspace.package]")
        .nth(1)
        .ok_or("no [workspace.package] in Cargo.toml")?;
    in_workspace_package
        .lines()
        .take_while(|l| !l.starts_with('['))
        .find_map(|l| l.trim().strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .map(str::to_owned)
        .ok_or_else(|| "no version in [workspace.package]".into())
}

fn package_json(version: &str) -> String {
    format!(
        r#"{{
  "name": "@gatebell/push",
  "version": "{version}",
  "description": "Gatebell visitor notifications for the web: PushClient for pages and service-worker handlers",
  "license": "MIT OR Apache-2.0",
  "type": "module",
  "main": "{OUT_NAME}.js",
  "module": "{OUT_NAME}.js",
  "types": "{OUT_NAME}.d.ts",
  "exports": {{
    ".": {{ "types": "./{OUT_NAME}.d.ts", "default": "./{OUT_NAME}.js" }},
    "./sw.js": "./sw.js",
    "./worker.js": {{ "types": "./worker.d.ts", "default": "./worker.js" }},
    "./gatebell-classic.js": "./gatebell-classic.js",
    "./{OUT_NAME}_bg.wasm": "./{OUT_NAME}_bg.wasm"
  }},
  "files": ["{OUT_NAME}.js", "{OUT_NAME}.d.ts", "{OUT_NAME}_bg.wasm", "{OUT_NAME}_bg.wasm.d.ts", "snippets", "sw.js", "worker.js", "worker.d.ts", "gatebell-classic.js"],
  "sideEffects": ["./sw.js", "./snippets/*"]
}}
"#
    )
}

/// JS files wasm-bindgen writes for `inline_js` / `module` imports, if any.
fn snippets(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(snippets(&path));
        } else if path.extension().is_some_and(|e| e == "js") {
            found.push(path);
        }
    }
    found
}

fn file_size(path: &Path) -> Result<u64, String> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Minifies the glue with terser (from wasm/node_modules). Exported names stay, and so do
/// class and function names (`PushClient.name`).
fn minify_js(wasm_dir: &Path, glue: &Path) -> Result<(), String> {
    let before = file_size(glue)?;
    run(Command::new(wasm_dir.join("node_modules/.bin/terser"))
        .arg(glue)
        .args([
            "--module",
            "--compress",
            "--mangle",
            "--keep-classnames",
            "--keep-fnames",
            "-o",
        ])
        .arg(glue))?;
    println!("terser: {} → {} bytes", before, file_size(glue)?);
    Ok(())
}

/// Size after `gzip -9`, as a web server would send it.
fn gzip_size(path: &Path) -> Result<u64, String> {
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .output()
        .map_err(|e| format!("could not run gzip: {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip {} failed", path.display()));
    }
    Ok(out.stdout.len() as u64)
}
