//! `cargo xtask wasm`: builds the npm package `@gatebell/push` into wasm/pkg.
//!
//! Steps: `cargo build --release --target wasm32-unknown-unknown -p gatebell-wasm` (size
//! settings passed as `CARGO_PROFILE_RELEASE_*`, so the workspace profile stays as it is), the
//! wasm-bindgen CLI of exactly the crate's wasm-bindgen version (installed when missing),
//! `wasm-opt -Oz` from the npm package `binaryen` (Debian's older binaryen writes modules that
//! fail to load), short import names in the module and the glue, the glue minified with the
//! npm package `terser`, then package.json and sw.js. Prints the gzipped size and warns over
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
        let glue = pkg.join(format!("{OUT_NAME}.js"));
        shorten_imports(&wasm, &glue)?;
        minify_js(&wasm_dir, &glue)?;
    }

    fs::copy(wasm_dir.join("js/sw.js"), pkg.join("sw.js"))
        .map_err(|e| format!("copying sw.js: {e}"))?;
    fs::write(
        pkg.join("package.json"),
        package_json(&crate_version(&root)?),
    )
    .map_err(|e| format!("writing package.json: {e}"))?;

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
    println!("installing wasm-bindgen-cli {version} (about 6 minutes)…");
    run(Command::new(cargo()).args(["install", "wasm-bindgen-cli", "--version", version]))
}

/// wasm-opt (and terser) from wasm/node_modules, installed with `npm ci` when missing.
fn ensure_wasm_opt(wasm_dir: &Path) -> Result<PathBuf, String> {
    let wasm_opt = wasm_dir.join("node_modules/.bin/wasm-opt");
    if !wasm_opt.exists() || !wasm_dir.join("node_modules/.bin/terser").exists() {
        run(Command::new("npm")
            .current_dir(wasm_dir)
            .args(["ci", "--no-audit", "--no-fund"]))?;
    }
    Ok(wasm_opt)
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
    "./{OUT_NAME}_bg.wasm": "./{OUT_NAME}_bg.wasm"
  }},
  "files": ["{OUT_NAME}.js", "{OUT_NAME}.d.ts", "{OUT_NAME}_bg.wasm", "{OUT_NAME}_bg.wasm.d.ts", "snippets", "sw.js"],
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

/// The module the glue provides the imports from (`import0` in `gatebell_push.js`).
const GLUE_MODULE: &[u8] = b"./gatebell_push_bg.js";

/// Renames the wasm's imports from the glue (`__wbg_instanceof_Response_5b0b4f7f1daeae51`, a
/// hash each) to short names (`a`, `b`, …), in the module and in the glue's import object
/// alike: about 4 KB gzipped of names that do not compress.
fn shorten_imports(wasm: &Path, glue: &Path) -> Result<(), String> {
    let module = fs::read(wasm).map_err(|e| format!("reading {}: {e}", wasm.display()))?;
    let mut js =
        fs::read_to_string(glue).map_err(|e| format!("reading {}: {e}", glue.display()))?;
    let bad = |what: &str| format!("{}: {what}", wasm.display());
    if module.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        return Err(bad("not a wasm module"));
    }
    let mut out = module[..8].to_vec();
    let mut at = 8;
    let mut renamed = 0;
    while at < module.len() {
        let id = module[at];
        let (size, body_at) = leb128(&module, at + 1).ok_or_else(|| bad("bad section"))?;
        let end = body_at + size as usize;
        let body = module
            .get(body_at..end)
            .ok_or_else(|| bad("truncated section"))?;
        if id != 2 {
            out.extend_from_slice(&module[at..end]);
            at = end;
            continue;
        }
        // The import section: (module name, field name, kind + description)*.
        let (count, mut pos) = leb128(body, 0).ok_or_else(|| bad("bad import section"))?;
        let mut section = Vec::new();
        push_leb128(&mut section, count);
        for _ in 0..count {
            let (module_name, next) = name_at(body, pos).ok_or_else(|| bad("bad import"))?;
            let (field, next) = name_at(body, next).ok_or_else(|| bad("bad import"))?;
            let description_end =
                import_description_end(body, next).ok_or_else(|| bad("bad import"))?;
            let field = if module_name == GLUE_MODULE {
                let old = std::str::from_utf8(field).map_err(|_| bad("import name not UTF-8"))?;
                let new = short_name(renamed);
                renamed += 1;
                // Each import is one `name: function…` property of the glue's import object.
                let key = format!("        {old}: ");
                if js.matches(&key).count() != 1 {
                    return Err(format!("{}: import {old} not found once", glue.display()));
                }
                js = js.replace(&key, &format!("        {new}: "));
                new.into_bytes()
            } else {
                field.to_vec()
            };
            push_leb128(&mut section, module_name.len() as u64);
            section.extend_from_slice(module_name);
            push_leb128(&mut section, field.len() as u64);
            section.extend_from_slice(&field);
            section.extend_from_slice(&body[next..description_end]);
            pos = description_end;
        }
        out.push(2);
        push_leb128(&mut out, section.len() as u64);
        out.extend_from_slice(&section);
        at = end;
    }
    fs::write(wasm, out).map_err(|e| format!("writing {}: {e}", wasm.display()))?;
    fs::write(glue, js).map_err(|e| format!("writing {}: {e}", glue.display()))
}

/// `a`…`Z`, then `a0`, `a1`…: valid JS property names and wasm import names.
fn short_name(mut n: usize) -> String {
    const FIRST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const REST: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$";
    let mut name = String::from(FIRST[n % FIRST.len()] as char);
    n /= FIRST.len();
    while n > 0 {
        name.push(REST[n % REST.len()] as char);
        n /= REST.len();
    }
    name
}

fn leb128(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let (mut value, mut shift) = (0u64, 0);
    loop {
        let byte = *bytes.get(at)?;
        at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some((value, at));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

fn push_leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn name_at(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (len, at) = leb128(bytes, at)?;
    let end = at.checked_add(len as usize)?;
    Some((bytes.get(at..end)?, end))
}

/// Where an import's description (function, table, memory, global or tag) ends.
fn import_description_end(bytes: &[u8], at: usize) -> Option<usize> {
    let kind = *bytes.get(at)?;
    let at = at + 1;
    let limits = |at: usize| {
        let flags = *bytes.get(at)?;
        let (_, at) = leb128(bytes, at + 1)?;
        if flags & 1 == 1 {
            leb128(bytes, at).map(|(_, at)| at)
        } else {
            Some(at)
        }
    };
    match kind {
        0 => leb128(bytes, at).map(|(_, at)| at), // function: type index
        1 => limits(at + 1),                      // table: element type, limits
        2 => limits(at),                          // memory: limits
        3 => Some(at + 2),                        // global: value type, mutability
        4 => leb128(bytes, at + 1).map(|(_, at)| at), // tag: attribute, type index
        _ => None,
    }
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
