//! The symbol lists of each generation's `libnrt.so`, beside the core list
//! (`export_core_symbols!` in `abi/core/mod.rs`). Each `gen-*/src/lib.rs` invokes the lists
//! its generation has; a symbol named nowhere does not exist in that library.

/// SDK 2.28 ("Gen A", async API 2.x): tracker-taking schedule calls, the completion
/// handle and the error tracker.
#[macro_export]
macro_rules! export_gen_a_symbols {
    () => {
        $crate::export_symbol!(nrta_tensor_write => $crate::abi::async_a::nrta_tensor_write);
        $crate::export_symbol!(nrta_tensor_read => $crate::abi::async_a::nrta_tensor_read);
        $crate::export_symbol!(nrta_tensor_copy => $crate::abi::async_a::nrta_tensor_copy);
        $crate::export_symbol!(nrta_execute_schedule => $crate::abi::async_a::nrta_execute_schedule);
        $crate::export_symbol!(nrta_cc_schedule => $crate::abi::async_a::nrta_cc_schedule);
        $crate::export_symbol!(nrta_get_completion_handle => $crate::abi::async_a::nrta_get_completion_handle);
        $crate::export_symbol!(nrta_error_tracker_create => $crate::abi::async_a::nrta_error_tracker_create);
        $crate::export_symbol!(nrta_error_tracker_destroy => $crate::abi::async_a::nrta_error_tracker_destroy);
        $crate::export_symbol!(nrta_error_tracker_get_list => $crate::abi::async_a::nrta_error_tracker_get_list);
        $crate::export_async_common_symbols!();
    };
}

/// SDK 2.29 ("Gen B", async API 3.0): status-pointer schedule calls, no completion
/// handle, no tracker.
#[macro_export]
macro_rules! export_gen_b_symbols {
    () => {
        $crate::export_symbol!(nrta_tensor_write => $crate::abi::async_b::nrta_tensor_write);
        $crate::export_symbol!(nrta_tensor_read => $crate::abi::async_b::nrta_tensor_read);
        $crate::export_symbol!(nrta_tensor_copy => $crate::abi::async_b::nrta_tensor_copy);
        $crate::export_symbol!(nrta_execute_schedule => $crate::abi::async_b::nrta_execute_schedule);
        $crate::export_symbol!(nrta_cc_schedule => $crate::abi::async_b::nrta_cc_schedule);
        $crate::export_async_common_symbols!();
    };
}

/// SDK 2.30+: Gen B plus eventfd registration.
#[macro_export]
macro_rules! export_gen_b_event_symbols {
    () => {
        $crate::export_gen_b_symbols!();
        $crate::export_symbol!(nrta_event_register_seq_id_completion => $crate::abi::async_b::nrta_event_register_seq_id_completion);
        $crate::export_symbol!(nrta_event_register_xu_completion => $crate::abi::async_b::nrta_event_register_xu_completion);
    };
}

/// The async calls both generations share, and the emulator-only `nrtemu_*` API.
#[doc(hidden)]
#[macro_export]
macro_rules! export_async_common_symbols {
    () => {
        $crate::export_symbol!(nrta_cc_prepare => $crate::abi::async_common::nrta_cc_prepare);
        $crate::export_symbol!(nrta_is_completed => $crate::abi::async_common::nrta_is_completed);
        $crate::export_symbol!(nrta_get_sequence => $crate::abi::async_common::nrta_get_sequence);
        $crate::export_symbol!(nrtemu_get_xu_stats => $crate::abi::emu::nrtemu_get_xu_stats);
        $crate::export_symbol!(nrtemu_reset_stats => $crate::abi::emu::nrtemu_reset_stats);
        $crate::export_symbol!(nrtemu_get_thread_cpu_ns => $crate::abi::emu::nrtemu_get_thread_cpu_ns);
        $crate::export_symbol!(nrtemu_get_config => $crate::abi::emu::nrtemu_get_config);
        $crate::export_symbol!(nrtemu_get_completion_time => $crate::abi::emu::nrtemu_get_completion_time);
    };
}
