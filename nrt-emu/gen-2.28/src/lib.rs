//! `libnrt.so` for the SDK 2.28 generation of the async API (error tracker, completion handle).
//!
//! This crate only names the symbols its library exports (see `nrt_emu::export`) and
//! tells the core which generation it is; all logic is in `nrt-emu`.

/// Runs when the library is loaded: the core then answers `nrt_get_version`, the XU
/// numbering and `NRT_EMU_API` checks as this generation.
#[ctor::ctor]
fn set_generation() {
    nrt_emu::runtime::set_generation(nrt_emu::runtime::Generation::Sdk2_28);
}

// The generation-independent `nrt_*` API (nrt.h, nrt_experimental.h, nrt_version.h,
// nrt_status.h).
nrt_emu::export_core_symbols!();

// The explicit async API of SDK 2.28 ("Gen A") and the emulator-only functions.
nrt_emu::export_gen_a_symbols!();
