//! `libnrt.so` for the SDK 2.30+ generation of the async API (as 2.29, plus eventfd
//! registration).
//!
//! This crate only names the symbols its library exports (see `nrt_emu::export`) and
//! tells the core which generation it is; all logic is in `nrt-emu`.

/// Runs when the library is loaded: the core then answers `nrt_get_version`, the XU
/// numbering and `NRT_EMU_API` checks as this generation.
#[ctor::ctor]
fn set_generation() {
    nrt_emu::runtime::set_generation(nrt_emu::runtime::Generation::Sdk2_30);
}

// The generation-independent `nrt_*` API (nrt.h, nrt_experimental.h, nrt_version.h,
// nrt_status.h).
nrt_emu::export_core_symbols!();


// The explicit async API of SDK 2.29+ ("Gen B", async API 3.0) and the emulator-only functions.
nrt_emu::export_symbol!("nrta_tensor_write" => nrt_emu::abi::async_b::nrta_tensor_write);
nrt_emu::export_symbol!("nrta_tensor_read" => nrt_emu::abi::async_b::nrta_tensor_read);
nrt_emu::export_symbol!("nrta_tensor_copy" => nrt_emu::abi::async_b::nrta_tensor_copy);
nrt_emu::export_symbol!("nrta_execute_schedule" => nrt_emu::abi::async_b::nrta_execute_schedule);
nrt_emu::export_symbol!("nrta_cc_prepare" => nrt_emu::abi::async_common::nrta_cc_prepare);
nrt_emu::export_symbol!("nrta_cc_schedule" => nrt_emu::abi::async_b::nrta_cc_schedule);
nrt_emu::export_symbol!("nrta_is_completed" => nrt_emu::abi::async_common::nrta_is_completed);
nrt_emu::export_symbol!("nrta_get_sequence" => nrt_emu::abi::async_common::nrta_get_sequence);
nrt_emu::export_symbol!("nrtemu_get_xu_stats" => nrt_emu::abi::emu::nrtemu_get_xu_stats);
nrt_emu::export_symbol!("nrtemu_reset_stats" => nrt_emu::abi::emu::nrtemu_reset_stats);
nrt_emu::export_symbol!("nrtemu_get_thread_cpu_ns" => nrt_emu::abi::emu::nrtemu_get_thread_cpu_ns);
nrt_emu::export_symbol!("nrtemu_get_config" => nrt_emu::abi::emu::nrtemu_get_config);
nrt_emu::export_symbol!("nrtemu_get_completion_time" => nrt_emu::abi::emu::nrtemu_get_completion_time);
// SDK 2.30+: eventfd registration.
nrt_emu::export_symbol!("nrta_event_register_seq_id_completion" => nrt_emu::abi::async_b::nrta_event_register_seq_id_completion);
nrt_emu::export_symbol!("nrta_event_register_xu_completion" => nrt_emu::abi::async_b::nrta_event_register_xu_completion);
