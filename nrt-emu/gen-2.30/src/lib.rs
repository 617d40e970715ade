//! libnrt.so for SDK 2.30

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
