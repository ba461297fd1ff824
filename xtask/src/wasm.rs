//! `cargo xtask wasm`: builds the npm package `@gatebell/push` into wasm/pkg.
//!
//! The crate is built twice, once per context, so that each loads only its own code: with the
//! feature `page` it becomes `gatebell_push.js` + `gatebell_push_bg.wasm` (the `PushClient`),
//! with `worker` `gatebell_push_worker.js` + `gatebell_push_worker_bg.wasm` (the service-worker
//! handlers). Each build: `cargo build --release --target wasm32-unknown-unknown -p
//! gatebell-wasm --no-default-features --features F` (size settings passed as
//! `CARGO_PROFILE_RELEASE_*`, so the workspace profile stays as it is), the wasm-bindgen CLI of
//! exactly the crate's wasm-bindgen version (installed when missing), `wasm-opt -Oz` from the
//! npm package `binaryen` (Debian's older binaryen writes modules that fail to load), the glue
//! minified with the npm package `terser`. Then package.json, the service-worker files
//! (`sw.js`, `worker.js`, `worker.d.ts`, and `gatebell-classic.js` bundled by esbuild for
//! classic workers) and `npm pack` (the tarball `gatebell-push-<version>.tgz`). Nothing edits
//! wasm-bindgen's output by hand.
//!
//! The size check: for each context, every file it loads (its entry, every module that entry
//! imports, transitively, and its wasm), each gzipped as a server would send it. The build
//! fails when a context is over [`BUDGET_GZIP_BYTES`].

use crate::process::run;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Gzipped size budget of everything one context (the page, or the service worker) loads.
const BUDGET_GZIP_BYTES: u64 = 60 * 1024;
/// What the package aims at, per context.
const TARGET_GZIP_BYTES: u64 = 40 * 1024;
const TARGET: &str = "wasm32-unknown-unknown";

/// One build of the crate: the cargo feature that selects its exports, and the file stem of
/// its module and glue (`<stem>.js`, `<stem>_bg.wasm`).
struct Build {
    feature: &'static str,
    out_name: &'static str,
}

const BUILDS: &[Build] = &[
    Build {
        feature: "page",
        out_name: "gatebell_push",
    },
    Build {
        feature: "worker",
        out_name: "gatebell_push_worker",
    },
];

/// What a context loads: its entry scripts (whose relative imports are followed) and its wasm.
struct Context {
    name: &'static str,
    entries: &'static [&'static str],
    wasm: &'static str,
}

const CONTEXTS: &[Context] = &[
    Context {
        name: "page (import '@gatebell/push')",
        entries: &["gatebell_push.js"],
        wasm: "gatebell_push_bg.wasm",
    },
    Context {
        name: "service worker (sw.js, module)",
        entries: &["sw.js"],
        wasm: "gatebell_push_worker_bg.wasm",
    },
    Context {
        name: "service worker (gatebell-classic.js)",
        entries: &["gatebell-classic.js"],
        wasm: "gatebell_push_worker_bg.wasm",
    },
];

/// The wasm features Rust's wasm32 target emits by default; wasm-opt must accept them.
const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-reference-types",
    "--enable-multivalue",
];

/// Builds the wasm package. `--no-opt` skips wasm-opt and terser (faster local iteration; the
/// sizes are then printed but not checked).
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

    if pkg.exists() {
        fs::remove_dir_all(&pkg).map_err(|e| format!("removing {}: {e}", pkg.display()))?;
    }
    for build in BUILDS {
        build_module(&root, &wasm_dir, &pkg, build, optimise)?;
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
    size_check(&pkg, optimise)
}

/// One build of the crate into `pkg`: cargo with the build's feature alone, wasm-bindgen,
/// wasm-opt and terser.
fn build_module(
    root: &Path,
    wasm_dir: &Path,
    pkg: &Path,
    build: &Build,
    optimise: bool,
) -> Result<(), String> {
    run(Command::new(cargo())
        .current_dir(root)
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "-p",
            "gatebell-wasm",
            "--no-default-features",
            "--features",
            build.feature,
        ])
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort"))?;
    let built = target_dir(root)
        .join(TARGET)
        .join("release")
        .join("gatebell_wasm.wasm");
    // Both builds write the same snippets (`snippets/gatebell-wasm-<hash>/js/…`); each glue
    // imports only its own.
    run(Command::new("wasm-bindgen")
        .arg(&built)
        .args(["--target", "web", "--out-name", build.out_name, "--out-dir"])
        .arg(pkg))?;
    if optimise {
        let wasm = pkg.join(format!("{}_bg.wasm", build.out_name));
        let wasm_opt = ensure_wasm_opt(wasm_dir)?;
        let before = file_size(&wasm)?;
        // `-O2` first, then `-Oz`: 0.4 KB less gzipped than `-Oz` alone (measured on the page
        // module; `--converge`, `-O3` and `--gufa` did less). `--low-memory-unused` (0.5 KB)
        // holds for Rust's layout: the stack comes first and grows down from 1 MB, so
        // addresses under 1024 are only ever reached by a stack that has already overflowed.
        // The producers and target-features sections are for tools, not browsers (0.2 KB).
        run(Command::new(wasm_opt)
            .arg(&wasm)
            .args([
                "--low-memory-unused",
                "-O2",
                "-Oz",
                "--strip-producers",
                "--strip-target-features",
            ])
            .args(WASM_FEATURES)
            .arg("-o")
            .arg(&wasm))?;
        println!(
            "{}: wasm-opt: {} → {} bytes",
            build.out_name,
            before,
            file_size(&wasm)?
        );
        minify_js(wasm_dir, &pkg.join(format!("{}.js", build.out_name)))?;
        // The snippets' comments are for readers of wasm/js; the package ships them minified.
        for snippet in snippets(&pkg.join("snippets")) {
            minify_js(wasm_dir, &snippet)?;
        }
    }
    Ok(())
}

/// The JS files wasm-bindgen wrote for `#[wasm_bindgen(module = …)]` imports.
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

/// Prints, per context, every file it loads with its gzipped size, and the total; fails when a
/// context is over the budget (only for an optimised build).
fn size_check(pkg: &Path, optimise: bool) -> Result<(), String> {
    let mut over = Vec::new();
    for context in CONTEXTS {
        let mut files = Vec::new();
        for entry in context.entries {
            collect_imports(pkg, &pkg.join(entry), &mut files)?;
        }
        files.push(pkg.join(context.wasm));
        println!("{}:", context.name);
        let mut total = 0;
        for file in &files {
            let size = gzip_size(file)?;
            total += size;
            println!(
                "  {:<60} {:>7} bytes gzipped",
                file.strip_prefix(pkg).unwrap_or(file).display(),
                size
            );
        }
        println!(
            "  = {:.1} KB gzipped ({total} bytes; budget {} KB, target {} KB)",
            total as f64 / 1024.0,
            BUDGET_GZIP_BYTES / 1024,
            TARGET_GZIP_BYTES / 1024
        );
        if total > BUDGET_GZIP_BYTES {
            over.push(format!("{} is {total} bytes", context.name));
        }
    }
    if !optimise {
        println!("(--no-opt: sizes not checked)");
        return Ok(());
    }
    if over.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "over the size budget of {BUDGET_GZIP_BYTES} bytes gzipped: {}",
            over.join(", ")
        ))
    }
}

/// `file` and every module it imports by a relative specifier (`import … from './x.js'`,
/// `import './x.js'`, `import('./x.js')`), transitively, each once, in `files`.
fn collect_imports(pkg: &Path, file: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let file = normalise(file);
    if files.contains(&file) {
        return Ok(());
    }
    let text = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    files.push(file.clone());
    let dir = file.parent().unwrap_or(pkg).to_path_buf();
    for specifier in relative_imports(&text) {
        collect_imports(pkg, &dir.join(specifier), files)?;
    }
    Ok(())
}

/// The relative specifiers (`./…`, `../…`) that follow `from` or `import` in JS text,
/// minified or not.
fn relative_imports(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for keyword in ["from", "import"] {
        for (at, _) in text.match_indices(keyword) {
            let rest = text[at + keyword.len()..].trim_start();
            let rest = rest.strip_prefix('(').map_or(rest, str::trim_start);
            let Some(quote) = rest
                .chars()
                .next()
                .filter(|c| matches!(c, '"' | '\'' | '`'))
            else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let specifier = &rest[1..1 + end];
            if (specifier.starts_with("./") || specifier.starts_with("../"))
                && !found.contains(&specifier)
            {
                found.push(specifier);
            }
        }
    }
    found
}

/// `a/./b/../c` as `a/c`, so that one file reached by two paths is counted once.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
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
  "main": "gatebell_push.js",
  "module": "gatebell_push.js",
  "types": "gatebell_push.d.ts",
  "exports": {{
    ".": {{ "types": "./gatebell_push.d.ts", "default": "./gatebell_push.js" }},
    "./sw.js": "./sw.js",
    "./worker.js": {{ "types": "./worker.d.ts", "default": "./worker.js" }},
    "./gatebell-classic.js": "./gatebell-classic.js",
    "./gatebell_push_bg.wasm": "./gatebell_push_bg.wasm",
    "./gatebell_push_worker.js": "./gatebell_push_worker.js",
    "./gatebell_push_worker_bg.wasm": "./gatebell_push_worker_bg.wasm"
  }},
  "files": ["gatebell_push.js", "gatebell_push.d.ts", "gatebell_push_bg.wasm", "gatebell_push_bg.wasm.d.ts", "gatebell_push_worker.js", "gatebell_push_worker_bg.wasm", "snippets", "sw.js", "worker.js", "worker.d.ts", "gatebell-classic.js"],
  "sideEffects": ["./sw.js", "./snippets/*"]
}}
"#
    )
}

fn file_size(path: &Path) -> Result<u64, String> {
    fs::metadata(path)
        .map(|m| m.len())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Minifies a JS file with terser (from wasm/node_modules). Exported names stay, and so do
/// class names (`PushClient.name`); other function names go (0.15 KB of the page's glue).
fn minify_js(wasm_dir: &Path, glue: &Path) -> Result<(), String> {
    let before = file_size(glue)?;
    run(Command::new(wasm_dir.join("node_modules/.bin/terser"))
        .arg(glue)
        .args([
            "--module",
            "--compress",
            "--mangle",
            "--keep-classnames",
            "-o",
        ])
        .arg(glue))?;
    println!(
        "terser {}: {} → {} bytes",
        glue.file_name().unwrap_or_default().to_string_lossy(),
        before,
        file_size(glue)?
    );
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
