//! The table of generation-independent functions every libnrt exports.

use crate::core_fns::*;

crate::table::fn_table! {
    /// The generation-independent entry points of a loaded libnrt. Required ones are
    /// those nrtq and its tests call; deprecated aliases, experimental calls and
    /// `nrt_get_status_as_str` (declared but not exported by libnrt 2.31.24.0) are `Option`.
    pub struct CoreFns {
        required {
            nrt_init: nrt_init_fn,
            nrt_close: nrt_close_fn,
            nrt_get_version: nrt_get_version_fn,
            nrt_get_instance_info: nrt_get_instance_info_fn,
            nrt_get_total_vnc_count: nrt_get_total_vnc_count_fn,
            nrt_get_visible_vnc_count: nrt_get_visible_vnc_count_fn,
            nrt_load: nrt_load_fn,
            nrt_unload: nrt_unload_fn,
            nrt_get_model_info: nrt_get_model_info_fn,
            nrt_get_model_tensor_info: nrt_get_model_tensor_info_fn,
            nrt_free_model_tensor_info: nrt_free_model_tensor_info_fn,
            nrt_tensor_allocate: nrt_tensor_allocate_fn,
            nrt_tensor_free: nrt_tensor_free_fn,
            nrt_tensor_read: nrt_tensor_read_fn,
            nrt_tensor_write: nrt_tensor_write_fn,
            nrt_tensor_copy: nrt_tensor_copy_fn,
            nrt_tensor_memset: nrt_tensor_memset_fn,
            nrt_tensor_get_size: nrt_tensor_get_size_fn,
            nrt_tensor_get_va: nrt_tensor_get_va_fn,
            nrt_tensor_allocate_empty: nrt_tensor_allocate_empty_fn,
            nrt_tensor_attach_buffer: nrt_tensor_attach_buffer_fn,
            nrt_tensor_allocate_slice: nrt_tensor_allocate_slice_fn,
            nrt_allocate_tensor_set: nrt_allocate_tensor_set_fn,
            nrt_destroy_tensor_set: nrt_destroy_tensor_set_fn,
            nrt_add_tensor_to_tensor_set: nrt_add_tensor_to_tensor_set_fn,
            nrt_get_tensor_from_tensor_set: nrt_get_tensor_from_tensor_set_fn,
            nrt_execute: nrt_execute_fn,
        }
        optional {
            nrt_get_status_as_str: nrt_get_status_as_str_fn,
            nrt_get_total_nc_count: nrt_get_total_nc_count_fn,
            nrt_get_visible_nc_count: nrt_get_visible_nc_count_fn,
            nrt_host_device_id_get: nrt_host_device_id_get_fn,
            nrt_get_vnc_memory_stats: nrt_get_vnc_memory_stats_fn,
            nrt_load_collectives: nrt_load_collectives_fn,
            nrt_get_model_vnc_count: nrt_get_model_vnc_count_fn,
            nrt_get_model_nc_count: nrt_get_model_nc_count_fn,
            nrt_get_model_instance_count: nrt_get_model_instance_count_fn,
            nrt_tensor_read_batch: nrt_tensor_read_batch_fn,
            nrt_tensor_write_batch: nrt_tensor_write_batch_fn,
            nrt_tensor_get_device_allocation_info: nrt_tensor_get_device_allocation_info_fn,
            nrt_tensor_check_output_completion: nrt_tensor_check_output_completion_fn,
            nrt_tensor_reset_output_completion: nrt_tensor_reset_output_completion_fn,
            nrt_execute_repeat: nrt_execute_repeat_fn,
            nrt_register_async_exec_callback: nrt_register_async_exec_callback_fn,
            nrt_async_drain_queued_execs: nrt_async_drain_queued_execs_fn,
            nrt_set_pool_eng_ucode: nrt_set_pool_eng_ucode_fn,
        }
    }
}
