//! nrt-emu: a software `libnrt`.
//!
//! The vendor's C ABI and documented behaviour over an emulated device: a timeline per
//! execution unit with computed timing, injectable faults and counters. See README.md
//! in this folder for the model format, the generations and every documented choice.
//!
//! Layers, each importing only those below it (no import circle):
//! - `abi`: the vendor-named entry points (argument checks, panic boundary, status
//!   codes); `export` turns them into the symbols of one generation's `libnrt.so`;
//! - `runtime`: the lifecycle, holding the device and the configuration;
//! - `device` (timelines, release thread, faults), over `model` (loaded models), over
//!   `tensor` (storage, tensors, sets); `observe` holds the device's counters and trace;
//! - at the bottom: `config` (the environment), `error` (`Failure` and messages) and
//!   `handle` (opaque C handles to objects).

pub mod abi;
pub mod config;
pub mod device;
pub mod error;
pub mod export;
pub mod handle;
pub mod model;
pub mod observe;
pub mod runtime;
pub mod tensor;

use std::path::PathBuf;

/// The generations of the explicit async API the emulator can present, as named by
/// `NRT_EMU_API` (`2.28`, `2.29`, `2.30`).
pub const GENERATIONS: [&str; 3] = ["2.28", "2.29", "2.30"];

/// The generation named by `NRT_EMU_API`, or `2.28` when it is unset.
pub fn selected_generation() -> String {
    std::env::var("NRT_EMU_API").unwrap_or_else(|_| "2.28".to_string())
}

/// Where `cargo build --workspace` put the emulator's `libnrt.so.1` for `generation`,
/// seen from a test or example binary of the same workspace build
/// (`target/<profile>/{deps,examples}/<exe>` -> `target/<profile>/emu/<gen>/libnrt.so.1`).
pub fn library_path(generation: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let mut dir = exe.parent().expect("exe has a folder").to_path_buf();
    if matches!(
        dir.file_name().and_then(|n| n.to_str()),
        Some("deps" | "examples")
    ) {
        dir.pop();
    }
    dir.join("emu").join(generation).join("libnrt.so.1")
}
