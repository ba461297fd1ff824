//! `cargo xtask test`: every test suite, in dependency order, each step timed. It installs what
//! a suite needs when it is missing, so it works on a fresh machine.

use std::process::Command;

use crate::process::{NATIVE_TEST_BUILD, Steps, build_native, cargo, ensure_debian, root, run};

/// The suites, in the order they run, with what each covers.
const SUITES: &[(&str, &str)] = &[
    (
        "layers",
        "the server's layers hold: imports, axum and sqlx each in one layer, file sizes, doc names",
    ),
    (
        "types",
        "core/ts/protocol.ts matches the Rust protocol types",
    ),
    (
        "rust",
        "unit and integration tests: core, server on SQLite and PostgreSQL, testkit, mobile",
    ),
    (
        "api",
        "the served OpenAPI document is valid; schemathesis finds no 5xx or undocumented answer",
    ),
    (
        "fuzz",
        "a 10 s smoke run of every cargo-fuzz target (cargo xtask fuzz)",
    ),
    (
        "wasm",
        "the npm package in Node, Chromium and a service worker",
    ),
    (
        "mobile",
        "UniFFI bindings from Python, TypeScript, C++ and Kotlin",
    ),
    ("demo", "the web demo end to end in Chromium"),
];

/// Runs every suite; `--only NAME[,NAME…]` runs the named ones.
pub fn all(args: &[String]) -> Result<(), String> {
    let only = parse_only(args)?;
    let wants = |suite: &str| only.as_ref().is_none_or(|o| o.iter().any(|s| s == suite));
    let mut steps = Steps::default();
    let result = (|| {
        if wants("layers") {
            steps.step("layers: the server's layers hold", || {
                crate::layers::run(&[])
            })?;
        }
        if wants("types") {
            steps.step("types: core/ts/protocol.ts is current", || {
                crate::types::run(&["--check".to_owned()])
            })?;
        }
        if wants("rust") {
            // The server tests start a throwaway cluster of the machine's PostgreSQL 15
            // (DATABASE_URL=postgres://… from outside is used instead when set).
            steps.step("rust: PostgreSQL 15 (installed when absent)", || {
                ensure_debian(&[("/usr/lib/postgresql/15/bin/initdb", "postgresql-15")])
            })?;
            steps.step("rust: build native crates and their tests", || {
                run(&mut build_native())
            })?;
            steps.step("rust: cargo test (core, server, testkit, mobile)", || {
                run(cargo().args(test_args()))
            })?;
        }
        if wants("api") {
            crate::api::test_steps(&mut steps)?;
        }
        if wants("fuzz") {
            steps.step("fuzz: build and 10 s per target", || {
                crate::fuzz::run_all(&[])
            })?;
        }
        if wants("wasm") {
            steps.step(
                "wasm: package build, wasm-bindgen tests, browser test",
                || run(Command::new("bash").arg("wasm/test.sh")),
            )?;
        }
        if wants("mobile") && root().join("mobile-bindings/Cargo.toml").exists() {
            crate::mobile::test_steps(&mut steps)?;
        }
        if wants("demo") && root().join("web-demo/package.json").exists() {
            steps.step("demo: end-to-end in Chromium", || {
                run(Command::new("bash").arg("web-demo/test.sh"))
            })?;
        }
        Ok(())
    })();
    steps.print();
    result
}

/// `cargo test` over exactly what [`build_native`] built, so it compiles nothing new.
fn test_args() -> Vec<&'static str> {
    let mut args = vec!["test"];
    // Same packages; `cargo test` picks its own targets (it also runs doc tests).
    args.extend(
        NATIVE_TEST_BUILD[1..]
            .iter()
            .take_while(|a| !a.starts_with("--lib")),
    );
    args
}

/// The suites `--only` names (comma-separated or repeated), or None for all of them.
fn parse_only(args: &[String]) -> Result<Option<Vec<String>>, String> {
    let valid = || {
        SUITES
            .iter()
            .map(|(name, what)| format!("  {name:<7} {what}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut only: Option<Vec<String>> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg != "--only" {
            return Err(format!(
                "test: unknown argument {arg}; usage: cargo xtask test [--only SUITE[,SUITE…]]"
            ));
        }
        let names = rest
            .next()
            .ok_or_else(|| format!("test: --only needs a suite; the suites are:\n{}", valid()))?;
        for name in names.split(',') {
            if !SUITES.iter().any(|(suite, _)| *suite == name) {
                return Err(format!(
                    "test: no suite named {name:?}; the suites are:\n{}",
                    valid()
                ));
            }
            only.get_or_insert_with(Vec::new).push(name.to_owned());
        }
    }
    Ok(only)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_accepts_known_suites_alone_or_listed() {
        assert_eq!(parse_only(&[]).unwrap(), None);
        assert_eq!(
            parse_only(&args(&["--only", "wasm,demo"])).unwrap(),
            Some(args(&["wasm", "demo"]))
        );
        assert_eq!(
            parse_only(&args(&["--only", "rust", "--only", "types"])).unwrap(),
            Some(args(&["rust", "types"]))
        );
    }

    #[test]
    fn only_with_an_unknown_suite_is_an_error_that_lists_the_suites() {
        let error = parse_only(&args(&["--only", "wsam"])).unwrap_err();
        assert!(error.contains("\"wsam\""), "{error}");
        for (suite, _) in SUITES {
            assert!(error.contains(suite), "{error}");
        }
        assert!(parse_only(&args(&["--only"])).is_err());
        assert!(parse_only(&args(&["--quick"])).is_err());
    }

    #[test]
    fn cargo_test_selects_the_packages_the_build_built() {
        assert_eq!(
            test_args(),
            ["test", "--workspace", "--exclude", "gatebell-wasm"]
        );
    }
}
