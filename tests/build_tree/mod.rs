//! Where things are, seen from an integration-test binary: the repository, and the build
//! this binary belongs to (`target/<profile>`), for the tests that drive make, the C and
//! C++ compilers, go and the installed files. Each test binary uses what it needs.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Output;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// target/<profile>, seen from this test binary (target/<profile>/deps/<exe>).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the binary sits in target/<profile>/deps")
        .to_path_buf()
}

/// The build profile's folder name ("debug", "release").
pub fn profile() -> String {
    profile_dir()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a UTF-8 profile folder")
        .to_string()
}

/// A finished command's stdout and stderr, for assertion messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
