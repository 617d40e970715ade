//! The emulator library a loader test loads.

use std::path::PathBuf;

/// The emulator library of `generation` ("2.28", "2.29", "2.30"), or a panic that says
/// how to build it.
pub fn emu_library(generation: &str) -> PathBuf {
    let path = nrt_emu::library_path(generation);
    assert!(
        path.exists(),
        "{} is missing: the emulator libraries are cdylibs that `cargo test` does not build; \
         run `cargo build --workspace` first",
        path.display()
    );
    path
}
