//! Where `cargo build --workspace` puts the emulator's `libnrt.so.1` for one generation,
//! seen from a test binary: `target/<profile>/deps/<test>` →
//! `target/<profile>/emu/<generation>/libnrt.so.1` (the layout `nrt-emu/gen-build.rs`
//! writes). This mirrors `nrt_emu::library_path`, which commit 751f39d dropped from
//! nrt-emu; switch to it once it is back.

use std::path::PathBuf;

/// The emulator library of `generation` ("2.28", "2.29", "2.30"), or a panic that says
/// how to build it.
pub fn emu_library(generation: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe
        .parent()
        .expect("the test binary has a folder")
        .to_path_buf();
    if matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("deps" | "examples")
    ) {
        dir.pop();
    }
    let path = dir.join("emu").join(generation).join("libnrt.so.1");
    assert!(
        path.exists(),
        "{} is missing: the emulator libraries are cdylibs that `cargo test` does not build; \
         run `cargo build --workspace` first",
        path.display()
    );
    path
}
