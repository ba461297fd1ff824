//! `cargo xtask layers`: the server's layers hold. Read from the source, line by line:
//!
//! - a module uses `crate::…` paths of its own layer or of layers below it ([`LAYERS`]);
//! - `axum` appears only under `http/` (and in `lib.rs`, `main.rs`), `sqlx` only under `db/`;
//! - `server/src` has at most [`MAX_TOP_FILES`] files beside its folders, and no file there is
//!   longer than [`MAX_LINES`] lines;
//! - every code name `docs/ARCHITECTURE.md` puts in backticks as a path (`db::outbox`,
//!   `outbox::dispatcher`) is a module or file that exists.
//!
//! A file's own tests (from its `#[cfg(test)]` on) and comments are not read: tests may reach
//! anywhere, and a doc link is no dependency. `cargo xtask test` runs this first.

use std::fs;
use std::path::{Path, PathBuf};

use crate::process::root;

/// Module paths under `crate::` and their layer, bottom (0) to top. The longest listed prefix
/// of a path decides. Input checks sit with the error type they produce.
pub const LAYERS: &[(&str, u8)] = &[
    ("error", 0),
    ("config", 0),
    ("metrics", 0),
    ("texts", 0),
    ("domain::checks", 0),
    ("db", 1),
    ("events", 2),
    ("channels", 3),
    ("outbox", 4),
    ("access", 5),
    ("domain", 6),
    ("state", 7),
    ("jobs", 8),
    ("http", 9),
    ("lib", 10),
    ("main", 10),
];

/// Files allowed beside the folders of `server/src`.
pub const MAX_TOP_FILES: usize = 6;
/// Longest file under `server/src`, in lines.
pub const MAX_LINES: usize = 500;

/// Runs the check over `server/src`; fails listing every breach.
pub fn run(args: &[String]) -> Result<(), String> {
    if !args.is_empty() {
        return Err("usage: cargo xtask layers".into());
    }
    let src = root().join("server/src");
    let mut files = Vec::new();
    collect(&src, &mut files)?;
    let mut breaches = Vec::new();
    let mut top_files = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .replace('\\', "/");
        if !rel.contains('/') {
            top_files += 1;
        }
        let text = fs::read_to_string(path).map_err(|e| format!("reading {rel}: {e}"))?;
        breaches.extend(check_file(&rel, &text));
    }
    if top_files > MAX_TOP_FILES {
        breaches.push(format!(
            "server/src has {top_files} files beside its folders (at most {MAX_TOP_FILES})"
        ));
    }
    let arch = root().join("docs/ARCHITECTURE.md");
    let doc = fs::read_to_string(&arch).map_err(|e| format!("reading {}: {e}", arch.display()))?;
    breaches.extend(check_doc_names(&doc, &src));
    if breaches.is_empty() {
        println!(
            "layers: {} files in server/src keep their layers; ARCHITECTURE.md names exist",
            files.len()
        );
        Ok(())
    } else {
        Err(format!(
            "the server's layers do not hold:\n  {}",
            breaches.join("\n  ")
        ))
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

/// The module path of a file relative to `server/src`: `db/outbox.rs` → `db::outbox`,
/// `http/mod.rs` → `http`, `lib.rs` → `lib`.
fn module_of(rel: &str) -> String {
    let stem = rel.trim_end_matches(".rs").trim_end_matches("/mod");
    stem.replace('/', "::")
}

/// The layer of a module path, by its longest listed prefix.
fn layer_of(module: &str) -> Option<u8> {
    LAYERS
        .iter()
        .filter(|(prefix, _)| {
            module == *prefix
                || module
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with("::"))
        })
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, layer)| *layer)
}

/// The breaches of one file (`rel` is its path under `server/src`).
fn check_file(rel: &str, text: &str) -> Vec<String> {
    let module = module_of(rel);
    let mut breaches = Vec::new();
    let lines = text.lines().count();
    if lines > MAX_LINES {
        breaches.push(format!("{rel}: {lines} lines (at most {MAX_LINES})"));
    }
    let Some(own) = layer_of(&module) else {
        breaches.push(format!(
            "{rel}: `{module}` is in no layer (add it to LAYERS)"
        ));
        return breaches;
    };
    let http = module == "lib" || module == "main" || module.split("::").next() == Some("http");
    let db = module.split("::").next() == Some("db");
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("#[cfg(test)]") {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        let at = |what: String| format!("{rel}:{}: {what}", n + 1);
        if code.contains("crate::{") {
            breaches.push(at(
                "write one `use crate::…` per module, so the check can read it".into(),
            ));
        }
        for path in crate_paths(code) {
            match layer_of(&path) {
                Some(layer) if layer > own => breaches.push(at(format!(
                    "`{module}` (layer {own}) uses `crate::{path}` (layer {layer}), a layer above it"
                ))),
                _ => {}
            }
        }
        if !http && mentions(code, "axum") {
            breaches.push(at("`axum` outside http/".into()));
        }
        if !db && mentions(code, "sqlx") {
            breaches.push(at("`sqlx` outside db/".into()));
        }
    }
    breaches
}

/// The module paths after each `crate::` in a line (`crate::db::outbox::enqueue` →
/// `db::outbox::enqueue`).
fn crate_paths(line: &str) -> Vec<String> {
    line.match_indices("crate::")
        .filter(|(i, _)| {
            // Not `gatebell_server::crate::` or an identifier ending in `crate`.
            !line[..*i]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(i, m)| {
            let rest = &line[i + m.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].trim_end_matches(':').to_owned()
        })
        .filter(|p| !p.is_empty())
        .collect()
}

/// Whether `word` appears in `line` as a whole identifier.
fn mentions(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().last();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Every backticked name in the document that looks like a server module path (`db::outbox`,
/// `outbox::dispatcher::spawn`) or a `server/src/…` file must exist: for a path, its longest
/// prefix that is a module must be a file or folder, and a remaining item must appear in it.
fn check_doc_names(doc: &str, src: &Path) -> Vec<String> {
    let mut breaches = Vec::new();
    for name in doc.split('`').skip(1).step_by(2) {
        if let Some(file) = name.strip_prefix("server/src/") {
            if !src.join(file).exists() {
                breaches.push(format!(
                    "ARCHITECTURE.md names `{name}`, which does not exist"
                ));
            }
            continue;
        }
        let path = name.trim_end_matches("()");
        let parts: Vec<&str> = path.split("::").collect();
        let Some(first) = parts.first() else { continue };
        if parts.len() < 2
            || layer_of(first).is_none()
            || !parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            continue;
        }
        if let Err(why) = resolve(src, &parts) {
            breaches.push(format!("ARCHITECTURE.md names `{name}`: {why}"));
        }
    }
    breaches
}

/// Finds `parts` under `src`: modules as files or folders, then at most one item (a type,
/// function or constant) that must be defined in the last module's file.
fn resolve(src: &Path, parts: &[&str]) -> Result<(), String> {
    let mut dir = src.to_path_buf();
    let mut file: Option<PathBuf> = None;
    for (i, part) in parts.iter().enumerate() {
        let as_dir = dir.join(part);
        let as_file = dir.join(format!("{part}.rs"));
        if as_dir.join("mod.rs").exists() {
            file = Some(as_dir.join("mod.rs"));
            dir = as_dir;
        } else if as_file.exists() {
            file = Some(as_file);
            if i + 1 < parts.len() {
                // An item, or a type's associated item (`PushHandle::with_postgres`).
                let rest = &parts[i + 1..];
                if rest.len() > 2 {
                    return Err(format!("`{}` is not a module", parts[i + 1]));
                }
                let file = file.as_deref().unwrap_or(src);
                for item in rest {
                    defines(file, item)?;
                }
                return Ok(());
            }
            return Ok(());
        } else if let Some(f) = &file {
            if parts.len() - i <= 2 {
                for item in &parts[i..] {
                    defines(f, item)?;
                }
                return Ok(());
            }
            return Err(format!("no module `{part}`"));
        } else {
            return Err(format!("no module `{part}`"));
        }
    }
    Ok(())
}

/// Ok when `file` defines `item` (`fn item`, `struct item`, `enum item`, `trait item`,
/// `const item`, `type item`, `mod item`, `static item`, or imports it `as item`); a folder's `mod.rs` also counts
/// what the files beside it define (it re-exports them).
fn defines(file: &Path, item: &str) -> Result<(), String> {
    let mut text = fs::read_to_string(file).map_err(|e| e.to_string())?;
    if file.file_name().is_some_and(|n| n == "mod.rs")
        && let Some(dir) = file.parent()
    {
        let mut beside = Vec::new();
        collect(dir, &mut beside)?;
        for f in beside.iter().filter(|f| f.parent() == Some(dir)) {
            text.push_str(&fs::read_to_string(f).map_err(|e| e.to_string())?);
        }
    }
    let found = [
        "fn", "struct", "enum", "trait", "const", "type", "mod", "static", "as",
    ]
    .iter()
    .any(|kw| {
        text.match_indices(&format!("{kw} {item}")).any(|(i, m)| {
            !text[i + m.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    });
    if found {
        Ok(())
    } else {
        Err(format!("nothing named `{item}` in {}", file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_may_use_its_own_layer_and_those_below() {
        let ok = "use crate::db::outbox;\nuse crate::error::ApiError;\nuse crate::outbox::push::PushHandle;\n";
        assert_eq!(check_file("outbox/dispatcher.rs", ok), Vec::<String>::new());
    }

    #[test]
    fn a_module_using_a_layer_above_it_is_a_breach() {
        let text = "use crate::db::Db;\nuse crate::http::visits::decide;\n";
        let breaches = check_file("jobs/expiry.rs", text);
        assert_eq!(breaches.len(), 1, "{breaches:?}");
        assert!(breaches[0].starts_with("jobs/expiry.rs:2:"), "{breaches:?}");
        assert!(breaches[0].contains("crate::http::visits::decide"));
        // Also in an expression, not only in `use`.
        let inline = "fn f() { crate::state::AppState::x(); }\n";
        assert_eq!(check_file("db/visits.rs", inline).len(), 1);
        // The domain takes what it uses; the state holding it all sits above it.
        let text = "use crate::state::AppState;\n";
        assert_eq!(check_file("domain/visits.rs", text).len(), 1);
        assert!(check_file("state.rs", "use crate::domain::Rules;\n").is_empty());
    }

    #[test]
    fn input_checks_sit_with_the_error_type() {
        assert_eq!(layer_of("domain::checks"), Some(0));
        assert_eq!(layer_of("domain::checks::human_text"), Some(0));
        assert_eq!(layer_of("domain::visits"), Some(6));
        assert_eq!(layer_of("domainish"), None);
        let text = "use crate::domain::checks::human_text;\n";
        assert!(check_file("access/jwt.rs", text).is_empty());
        let text = "use crate::domain::visits::load_visit;\n";
        assert_eq!(check_file("access/jwt.rs", text).len(), 1);
    }

    #[test]
    fn axum_only_in_http_and_sqlx_only_in_db() {
        let text = "use axum::Json;\nlet e: sqlx::Error;\n";
        let breaches = check_file("outbox/lane.rs", text);
        assert_eq!(breaches.len(), 2, "{breaches:?}");
        assert!(check_file("http/visits.rs", "use axum::Json;\n").is_empty());
        assert!(check_file("db/visits.rs", "use sqlx::Row;\n").is_empty());
        assert!(check_file("lib.rs", "use axum::Router;\n").is_empty());
        // A word that merely contains the name is not it.
        assert!(check_file("outbox/lane.rs", "let sqlx_free = 1;\n").is_empty());
    }

    #[test]
    fn tests_and_comments_are_not_read() {
        let text = "// see crate::http::links\n/// [`crate::http::links`]\n#[cfg(test)]\nmod tests { use crate::http::links; use axum::Json; }\n";
        assert!(check_file("db/visits.rs", text).is_empty());
    }

    #[test]
    fn grouped_crate_imports_and_long_files_are_breaches() {
        assert_eq!(
            check_file("db/visits.rs", "use crate::{db, error};\n").len(),
            1
        );
        let long = "fn f() {}\n".repeat(MAX_LINES + 1);
        assert_eq!(check_file("db/visits.rs", &long).len(), 1);
        assert_eq!(
            check_file("nowhere/x.rs", "")[0],
            "nowhere/x.rs: `nowhere::x` is in no layer (add it to LAYERS)"
        );
    }

    #[test]
    fn doc_names_must_exist() {
        let src = root().join("server/src");
        let doc = "`db::outbox` `outbox::dispatcher::spawn` `server/src/lib.rs` `db::DbError` \
            `outbox::push::PushHandle::with_postgres` `db::nothing_here` \
            `outbox::dispatcher::no_such_fn` `server/src/gone.rs` \
            `outbox::push::PushHandle::no_such_method` `not a path` `std::sync`";
        let breaches = check_doc_names(doc, &src);
        assert_eq!(breaches.len(), 4, "{breaches:?}");
        assert!(breaches[0].contains("db::nothing_here"));
        assert!(breaches[1].contains("no_such_fn"));
        assert!(breaches[2].contains("gone.rs"));
        assert!(breaches[3].contains("no_such_method"));
    }
}
