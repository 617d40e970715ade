//! Facts the project declares, checked against what they describe:
//! - the header's `NRTQ_VERSION_*` macros are the crate version;
//! - `Libs.private` in nrtq.pc (build tree and install template) is what rustc reports
//!   with `--print native-static-libs` for a staticlib holding nrtq and its dependencies;
//! - `rust-version` is declared once, inherited by every package, not below what any
//!   locked dependency declares, and enforced for std APIs by a denied clippy lint.
mod build_tree;

use build_tree::*;
use std::path::Path;
use std::process::Command;

fn header_define(header: &str, name: &str) -> String {
    let prefix = format!("#define {name} ");
    header
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("include/nrtq.h does not define {name}"))
        .trim()
        .to_string()
}

#[test]
fn version_macros_are_the_crate_version() {
    let header = std::fs::read_to_string(root().join("include/nrtq.h")).unwrap();
    let generated = std::fs::read_to_string(env!("NRTQ_GENERATED_HEADER")).unwrap();
    for text in [&header, &generated] {
        let found = [
            header_define(text, "NRTQ_VERSION_MAJOR"),
            header_define(text, "NRTQ_VERSION_MINOR"),
            header_define(text, "NRTQ_VERSION_PATCH"),
        ];
        let crate_version = [
            env!("CARGO_PKG_VERSION_MAJOR"),
            env!("CARGO_PKG_VERSION_MINOR"),
            env!("CARGO_PKG_VERSION_PATCH"),
        ];
        assert_eq!(
            found,
            crate_version,
            "NRTQ_VERSION_MAJOR/MINOR/PATCH differ from the crate version {}",
            env!("CARGO_PKG_VERSION")
        );
    }
}

/// The `Libs.private` line of a pkg-config file, as a list of flags.
fn libs_private(pc: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(pc).unwrap_or_else(|e| panic!("{}: {e}", pc.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("Libs.private:"))
        .unwrap_or_else(|| panic!("{} has no Libs.private", pc.display()))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// rustc's `--print native-static-libs` for a staticlib made of the nrtq rlib of this
/// build and everything it links: the same crates, hence the same native libraries, as
/// libnrtq.a. The same compiler as the build (build.rs passes it on).
fn rustc_native_static_libs() -> Vec<String> {
    let profile = profile_dir();
    let scratch = std::env::temp_dir().join(format!("nrtq-static-libs-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let probe = scratch.join("probe.rs");
    std::fs::write(&probe, "extern crate nrtq;\n").unwrap();
    let out = Command::new(env!("NRTQ_BUILD_RUSTC"))
        .args(["--crate-type", "staticlib", "--crate-name", "probe"])
        .args(["--print", "native-static-libs"])
        .arg("--extern")
        .arg(format!("nrtq={}", profile.join("libnrtq.rlib").display()))
        .arg("-L")
        .arg(format!("dependency={}", profile.join("deps").display()))
        .arg("-o")
        .arg(scratch.join("libprobe.a"))
        .arg(&probe)
        .output()
        .expect("run rustc");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(out.status.success(), "rustc failed:\n{stderr}");
    stderr
        .lines()
        .find_map(|l| l.split_once("native-static-libs:").map(|(_, libs)| libs))
        .unwrap_or_else(|| panic!("rustc printed no native-static-libs:\n{stderr}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn libs_private_is_what_rustc_reports_for_the_staticlib() {
    let rustc = rustc_native_static_libs();
    let pkgconfig = profile_dir().join("pkgconfig");
    for pc in [pkgconfig.join("nrtq.pc"), pkgconfig.join("nrtq.pc.in")] {
        assert_eq!(
            libs_private(&pc),
            rustc,
            "Libs.private of {} differs from rustc's native-static-libs: update LIBS_PRIVATE in build.rs",
            pc.display()
        );
    }
}

/// `cargo metadata` of the workspace, from the lock file alone.
fn metadata() -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root())
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata JSON")
}

/// "1.85" or "1.85.0" as (major, minor, patch).
fn parse_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.split('.').map(|p| {
        p.parse::<u64>()
            .unwrap_or_else(|_| panic!("bad version {text}"))
    });
    let major = parts.next().unwrap();
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    (major, minor, patch)
}

/// The one declaration, in the root manifest's [workspace.package].
fn declared_rust_version() -> String {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let section = manifest
        .split("[workspace.package]")
        .nth(1)
        .expect("Cargo.toml has [workspace.package]");
    let section = section.split("\n[").next().unwrap();
    section
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .expect("[workspace.package] declares rust-version")
        .trim_matches('"')
        .to_string()
}

#[test]
fn rust_version_is_declared_once_and_every_package_inherits_it() {
    let declared = declared_rust_version();
    let meta = metadata();
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    let mut checked = 0;
    for package in meta["packages"].as_array().unwrap() {
        if !members.contains(&package["id"].as_str().unwrap()) {
            continue;
        }
        let name = package["name"].as_str().unwrap();
        let manifest_path = package["manifest_path"].as_str().unwrap();
        assert_eq!(
            package["rust_version"].as_str(),
            Some(declared.as_str()),
            "{name} does not have the workspace's rust-version {declared}"
        );
        let manifest = std::fs::read_to_string(manifest_path).unwrap();
        assert!(
            manifest.contains("rust-version.workspace = true"),
            "{manifest_path} must inherit rust-version (rust-version.workspace = true)"
        );
        checked += 1;
    }
    assert_eq!(
        checked,
        members.len(),
        "not every workspace member was found"
    );
}

#[test]
fn no_locked_dependency_needs_a_newer_rust_than_declared() {
    let declared = declared_rust_version();
    let ours = parse_version(&declared);
    let meta = metadata();
    let newer: Vec<String> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| !p["source"].is_null())
        .filter_map(|p| {
            let theirs = p["rust_version"].as_str()?;
            (parse_version(theirs) > ours)
                .then(|| format!("{} {} needs {theirs}", p["name"], p["version"]))
        })
        .collect();
    assert!(
        newer.is_empty(),
        "locked dependencies need a newer Rust than rust-version = {declared}: {newer:?}"
    );
}

#[test]
fn clippy_denies_std_apis_newer_than_the_declared_rust_version() {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let lints = manifest
        .split("[workspace.lints.clippy]")
        .nth(1)
        .expect("Cargo.toml has [workspace.lints.clippy]");
    let lints = lints.split("\n[").next().unwrap();
    assert!(
        lints
            .lines()
            .any(|l| l.trim() == "incompatible_msrv = \"deny\""),
        "[workspace.lints.clippy] must deny incompatible_msrv, so std APIs newer than \
         rust-version fail `cargo clippy`"
    );
}
