//! include/nrtq.h: generated, checked in, and fit for C and C++ users.
//!
//! - the checked-in header is exactly what build.rs generates from src/ffi (no drift);
//! - it compiles alone, and included twice, as C11 and as C++17 with -Wall -Wextra -Werror;
//! - every function it declares carries documentation;
//! - every name it introduces is prefixed `nrtq_` / `NRTQ_`.
mod build_tree;

use build_tree::*;
use std::process::Command;

fn checked_in() -> String {
    std::fs::read_to_string(root().join("include/nrtq.h")).expect("include/nrtq.h is checked in")
}

#[test]
fn checked_in_header_matches_generated() {
    let generated =
        std::fs::read_to_string(env!("NRTQ_GENERATED_HEADER")).expect("generated header");
    assert!(
        generated == checked_in(),
        "include/nrtq.h differs from what build.rs generates from src/ffi: run `make header` and commit it"
    );
}

fn compile(compiler: &str, std: &str, lang: &str, source: &str) {
    let dir = std::env::temp_dir().join(format!("nrtq-header-{}-{}", std::process::id(), std));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(if lang == "c" { "t.c" } else { "t.cpp" });
    std::fs::write(&file, source).unwrap();
    let out = Command::new(compiler)
        .args([
            &format!("-std={std}"),
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-fsyntax-only",
        ])
        .arg("-I")
        .arg(root().join("include"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} -std={std} rejected nrtq.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_as_c11_and_cpp17() {
    let alone = "#include \"nrtq.h\"\nint main(void) { return 0; }\n";
    let twice = "#include \"nrtq.h\"\n#include \"nrtq.h\"\nint main(void) { return 0; }\n";
    for src in [alone, twice] {
        compile("gcc", "c11", "c", src);
        compile("g++", "c++17", "cpp", src);
    }
}

/// Function declarations: lines that end a prototype `nrtq_xxx(...);` at top level.
fn declared_functions(header: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in header.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with('*')
            || t.starts_with("/*")
            || t.starts_with('#')
            || t.starts_with("typedef")
        {
            continue;
        }
        if let Some(pos) = t.find("nrtq_") {
            let rest = &t[pos..];
            if let Some(paren) = rest.find('(') {
                let name = &rest[..paren];
                if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !t.starts_with("struct")
                {
                    out.push((i, name.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn every_function_is_documented() {
    let header = checked_in();
    let lines: Vec<&str> = header.lines().collect();
    let functions = declared_functions(&header);
    assert!(!functions.is_empty(), "nrtq.h declares no nrtq_ function");
    for (i, name) in functions {
        // Walk back over the return type lines to the end of a comment.
        let mut j = i;
        while j > 0 && !lines[j - 1].trim_end().ends_with("*/") && !lines[j - 1].trim().is_empty() {
            j -= 1;
        }
        assert!(
            j > 0 && lines[j - 1].trim_end().ends_with("*/"),
            "{name} (nrtq.h line {}) has no documentation comment",
            i + 1
        );
    }
}

#[test]
fn every_name_is_prefixed() {
    let header = checked_in();
    let mut bad = Vec::new();
    for line in header.lines() {
        let t = line.trim();
        let name = if let Some(rest) = t.strip_prefix("#define ") {
            rest.split_whitespace().next()
        } else if let Some(rest) = t.strip_prefix("typedef ") {
            // typedef ... NAME;  or typedef RET (*NAME)(...);
            if let Some(start) = rest.find("(*") {
                rest[start + 2..].split(')').next()
            } else {
                rest.trim_end_matches(['{', ';', ' '])
                    .split_whitespace()
                    .last()
            }
        } else if t.starts_with("} ") && t.ends_with(';') {
            t[2..].trim_end_matches(';').split_whitespace().last()
        } else if t.starts_with("NRTQ") || t.starts_with("nrtq") {
            None
        } else if t.ends_with(",") && t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            t.split([' ', ',']).next()
        } else {
            None
        };
        if let Some(name) = name {
            let name = name.trim_start_matches('*');
            if name != "NRTQ_H" && !name.starts_with("NRTQ_") && !name.starts_with("nrtq_") {
                bad.push(name.to_string());
            }
        }
    }
    assert!(
        bad.is_empty(),
        "names in nrtq.h without the nrtq_/NRTQ_ prefix: {bad:?}"
    );
}

/// The header's `enum nrtq_status` (written by build.rs from src/status_codes.rs) has
/// exactly the statuses of the Rust table, with the same names and numbers.
#[test]
fn the_status_enum_matches_the_rust_table() {
    let header = checked_in();
    let start = header.find("enum nrtq_status\n").expect("enum nrtq_status");
    let body = &header[start..start + header[start..].find("};").unwrap()];
    let in_header: Vec<(String, u32)> = body
        .lines()
        .filter_map(|l| {
            let (name, value) = l.trim().trim_end_matches(',').split_once(" = ")?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect();
    let in_rust: Vec<(String, u32)> = nrtq::Status::all()
        .iter()
        .map(|s| (s.describe().0.to_string(), s.code()))
        .collect();
    assert_eq!(in_header, in_rust);
}

/// `NRTQ_VERSION_*` in the header are the crate's version.
#[test]
fn the_version_macros_are_the_crate_version() {
    let header = checked_in();
    for (part, want) in [
        ("MAJOR", env!("CARGO_PKG_VERSION_MAJOR")),
        ("MINOR", env!("CARGO_PKG_VERSION_MINOR")),
        ("PATCH", env!("CARGO_PKG_VERSION_PATCH")),
    ] {
        let define = format!("#define NRTQ_VERSION_{part} {want}\n");
        assert!(header.contains(&define), "nrtq.h lacks {define:?}");
    }
}
