//! `libnrt.so` for the SDK 2.29 generation of the async API (per-request status, no
//! completion handle; async symbols under `NRT_3.0.0`).
//!
//! This crate only names the symbols its library exports (see `nrt_emu::export`) and
//! tells the core which generation it is; all logic is in `nrt-emu`.

/// Runs when the library is loaded: the core then answers `nrt_get_version`, the XU
/// numbering and `NRT_EMU_API` checks as this generation.
#[ctor::ctor]
fn set_generation() {
    nrt_emu::runtime::set_generation(nrt_emu::runtime::Generation::Sdk2_29);
}

// The generation-independent `nrt_*` API (nrt.h, nrt_experimental.h, nrt_version.h,
// nrt_status.h).
nrt_emu::export_core_symbols!();

// The explicit async API of SDK 2.29 ("Gen B", async API 3.0) and the emulator-only functions.
nrt_emu::export_gen_b_symbols!();
