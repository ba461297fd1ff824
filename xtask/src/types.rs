//! `cargo xtask types [--check]`: the TypeScript declarations of `core::protocol` in
//! `core/ts/protocol.ts`, which the web demo imports.
//!
//! The generator (`xtask/src/bin/protocol_ts.rs`) needs the core's `ts` feature, so it is built
//! on its own (`--features ts`) and nothing else compiles ts-rs. `--check` compares instead of
//! writing and fails when the committed file is stale: `cargo xtask test` runs it first.

use std::fs;

use crate::process::{cargo, output, root};

/// The generated file, relative to the workspace root.
pub const GENERATED: &str = "core/ts/protocol.ts";

/// Writes `core/ts/protocol.ts`, or with `--check` fails when it differs from the Rust types.
pub fn run(args: &[String]) -> Result<(), String> {
    let check = match args {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => return Err("usage: cargo xtask types [--check]".into()),
    };
    let generated = output(cargo().args([
        "run",
        "--quiet",
        "-p",
        "xtask",
        "--features",
        "ts",
        "--bin",
        "protocol-ts",
    ]))?;
    let path = root().join(GENERATED);
    let committed = fs::read_to_string(&path).unwrap_or_default();
    if check {
        return match first_difference(&committed, &generated) {
            None => {
                println!("{GENERATED} matches core::protocol");
                Ok(())
            }
            Some((line, was, now)) => Err(format!(
                "{GENERATED} is stale: the Rust types in core/src/protocol/ changed.\n\
                 First difference, line {line}:\n  committed: {was}\n  generated: {now}\n\
                 Run `cargo xtask types`, fix what the TypeScript build then reports in \
                 web-demo/, and commit {GENERATED}."
            )),
        };
    }
    if committed == generated {
        println!("{GENERATED} is up to date");
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    fs::write(&path, &generated).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("wrote {GENERATED}");
    Ok(())
}

/// The first line (1-based) where two texts differ, with that line of each.
fn first_difference<'a>(old: &'a str, new: &'a str) -> Option<(usize, &'a str, &'a str)> {
    let (mut old_lines, mut new_lines) = (old.lines(), new.lines());
    let mut number = 0;
    loop {
        number += 1;
        match (old_lines.next(), new_lines.next()) {
            (None, None) => {
                return (old != new).then_some((number, "(end of file)", "(end of file)"));
            }
            (a, b) if a == b => continue,
            (a, b) => {
                return Some((
                    number,
                    a.unwrap_or("(end of file)"),
                    b.unwrap_or("(end of file)"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_difference;

    #[test]
    fn first_difference_names_the_line_that_changed() {
        assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
        assert_eq!(
            first_difference("a\nb\nc\n", "a\nB\nc\n"),
            Some((2, "b", "B"))
        );
        assert_eq!(
            first_difference("a\n", "a\nb\n"),
            Some((2, "(end of file)", "b"))
        );
        assert!(first_difference("", "a").is_some());
    }
}
