//! The generation-independent `nrt_*` entry points, one file per section of the
//! vendor's API (nrt-abi.md §4.1–4.6), plus the experimental and collective
//! declarations of `nrt.h` / `nrt_experimental.h`:
//!
//! | file | section |
//! |---|---|
//! | `lifecycle.rs` | §4.1 init, close, version, status strings, instance info |
//! | `topology.rs` | §4.2 core counts, device ids, memory stats, unsupported mappings |
//! | `models.rs` | §4.3 load, unload, model info, tensor info |
//! | `tensors.rs` | §4.4 tensors: allocation, synchronous transfers, slices, completion |
//! | `tensor_sets.rs` | §4.5 tensor sets |
//! | `execute.rs` | §4.6 synchronous execution, legacy implicit-async helpers |
//! | `experimental.rs` | tracing, NCCL plugin, pool-engine ucode, single-worker collectives |
//!
//! Every function checks each pointer before use, runs its body inside the panic
//! boundary ([`guard`](super::guard)), and reports failures on stderr with a reason.
//! Handles are looked up in registries, never dereferenced (see `crate::handle`). Functions the
//! emulator cannot provide (EFA, dma-buf, HBM mmap, multi-worker collectives, tracing)
//! return the status the header documents for "unsupported", or `NRT_FAILURE`.
//!
//! [`export_core_symbols!`](crate::export_core_symbols) exports all of them from a
//! generation library.

pub mod execute;
pub mod experimental;
pub mod lifecycle;
pub mod models;
pub mod tensor_sets;
pub mod tensors;
pub mod topology;

// The flat paths (`abi::core::nrt_init`) are what `export_core_symbols!` names.
pub use execute::*;
pub use experimental::*;
pub use lifecycle::*;
pub use models::*;
pub use tensor_sets::*;
pub use tensors::*;
pub use topology::*;

/// Export every `nrt_*` entry point of this module from a generation library (called
/// once in each `gen-*/src/lib.rs`).
#[macro_export]
macro_rules! export_core_symbols {
    () => {
        $crate::export_core_symbols!(@each
            nrt_init, nrt_close, nrt_get_version, nrt_get_status_as_str, nrt_get_instance_info,
            nrt_get_total_vnc_count, nrt_get_total_nc_count, nrt_get_visible_vnc_count,
            nrt_get_visible_nc_count, nrt_host_device_id_get, nrt_host_device_id_rid_map_get,
            nrt_get_hbm_mmap_va, nrt_get_vnc_memory_stats, nrt_get_attached_efa_bdf,
            nrt_get_dmabuf_fd, nrt_load, nrt_load_collectives, nrt_unload, nrt_get_model_info,
            nrt_get_model_vnc_count, nrt_get_model_nc_count, nrt_get_model_instance_count,
            nrt_get_model_tensor_info, nrt_free_model_tensor_info, nrt_tensor_allocate,
            nrt_tensor_free, nrt_tensor_read, nrt_tensor_write, nrt_tensor_copy,
            nrt_tensor_memset, nrt_tensor_read_batch, nrt_tensor_write_batch,
            nrt_tensor_get_size, nrt_tensor_get_va, nrt_tensor_get_device_allocation_info,
            nrt_tensor_allocate_empty, nrt_tensor_attach_buffer, nrt_tensor_allocate_slice,
            nrt_tensor_check_output_completion, nrt_tensor_reset_output_completion,
            nrt_memcpy_to_device, nrt_allocate_tensor_set, nrt_destroy_tensor_set,
            nrt_add_tensor_to_tensor_set, nrt_get_tensor_from_tensor_set, nrt_execute,
            nrt_execute_repeat, nrt_register_async_exec_callback, nrt_async_drain_queued_execs,
            nrt_trace_start, nrt_trace_stop, nrt_get_libnccl_net, nrt_set_pool_eng_ucode,
            nrt_build_global_comm, nrt_cc_global_comm_init, nrt_barrier, nrt_all_gather
        );
    };
    (@each $($f:ident),* $(,)?) => {
        $( $crate::export_symbol!($f => $crate::abi::core::$f); )*
    };
}

/// The C names [`export_core_symbols!`] exports (for the exported-symbol tests).
pub const CORE_SYMBOLS: &[&str] = &[
    "nrt_init",
    "nrt_close",
    "nrt_get_version",
    "nrt_get_status_as_str",
    "nrt_get_instance_info",
    "nrt_get_total_vnc_count",
    "nrt_get_total_nc_count",
    "nrt_get_visible_vnc_count",
    "nrt_get_visible_nc_count",
    "nrt_host_device_id_get",
    "nrt_host_device_id_rid_map_get",
    "nrt_get_hbm_mmap_va",
    "nrt_get_vnc_memory_stats",
    "nrt_get_attached_efa_bdf",
    "nrt_get_dmabuf_fd",
    "nrt_load",
    "nrt_load_collectives",
    "nrt_unload",
    "nrt_get_model_info",
    "nrt_get_model_vnc_count",
    "nrt_get_model_nc_count",
    "nrt_get_model_instance_count",
    "nrt_get_model_tensor_info",
    "nrt_free_model_tensor_info",
    "nrt_tensor_allocate",
    "nrt_tensor_free",
    "nrt_tensor_read",
    "nrt_tensor_write",
    "nrt_tensor_copy",
    "nrt_tensor_memset",
    "nrt_tensor_read_batch",
    "nrt_tensor_write_batch",
    "nrt_tensor_get_size",
    "nrt_tensor_get_va",
    "nrt_tensor_get_device_allocation_info",
    "nrt_tensor_allocate_empty",
    "nrt_tensor_attach_buffer",
    "nrt_tensor_allocate_slice",
    "nrt_tensor_check_output_completion",
    "nrt_tensor_reset_output_completion",
    "nrt_memcpy_to_device",
    "nrt_allocate_tensor_set",
    "nrt_destroy_tensor_set",
    "nrt_add_tensor_to_tensor_set",
    "nrt_get_tensor_from_tensor_set",
    "nrt_execute",
    "nrt_execute_repeat",
    "nrt_register_async_exec_callback",
    "nrt_async_drain_queued_execs",
    "nrt_trace_start",
    "nrt_trace_stop",
    "nrt_get_libnccl_net",
    "nrt_set_pool_eng_ucode",
    "nrt_build_global_comm",
    "nrt_cc_global_comm_init",
    "nrt_barrier",
    "nrt_all_gather",
];
