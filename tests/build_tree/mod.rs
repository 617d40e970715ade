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

/// `make -s -C <dir> <target> PROFILE=<this build's profile>` in the repository; panics
/// with make's output when it fails.
pub fn make_in(dir: &str, target: &str) {
    let out = std::process::Command::new("make")
        .args(["-s", "-C", dir, target, &format!("PROFILE={}", profile())])
        .current_dir(root())
        .output()
        .expect("run make");
    assert!(
        out.status.success(),
        "make -C {dir} {target} failed (run `cargo build --workspace` first):\n{}",
        output_text(&out)
    );
}

/// A program that `make -C <dir>` built into target/<profile>/<dir>, set up to run against
/// the emulator of the generation under test (`NRT_EMU_API`), from the repository root.
pub fn example_command(dir: &str, program: &str) -> std::process::Command {
    let generation = nrt_emu::selected_generation();
    let lib = nrt_emu::library_path(&generation);
    let mut cmd = std::process::Command::new(profile_dir().join(dir).join(program));
    cmd.env(
        "LD_LIBRARY_PATH",
        lib.parent().expect("the library's folder"),
    )
    .env("NRT_EMU_API", &generation)
    .current_dir(root());
    cmd
}
