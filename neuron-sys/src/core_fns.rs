//! Function-pointer types for the generation-independent C functions, one per function,
//! named `<c_name>_fn`. Signatures follow `nrt-abi.md` §4.1–4.6 and §4.8 (C `int` is
//! `c_int`, `size_t` is `usize`, `bool` is Rust `bool`, which is C's `_Bool`).
//!
//! `nrta_is_completed` and `nrta_get_sequence` have the same prototype in every
//! generation, but `nrta_get_sequence`'s `xu` argument is numbered differently per
//! generation: pass [`crate::gen_a`] or [`crate::gen_b`] constants to match the library.

use crate::enums::{
    nrt_cc_op_type_t, nrt_dtype_t, nrt_framework_type_t, nrt_op_type_t, nrt_tensor_placement_t,
};
use crate::seq::{nrta_seq_t, nrta_xu_t};
use crate::status::NRT_STATUS;
use crate::structs::*;
use std::ffi::{c_char, c_int, c_void};

// Init, close, version, status strings (§4.1).
/// `nrt_init(framework, fw_version, fal_version)`.
pub type nrt_init_fn =
    unsafe extern "C" fn(nrt_framework_type_t, *const c_char, *const c_char) -> NRT_STATUS;
/// `nrt_close(void)`.
pub type nrt_close_fn = unsafe extern "C" fn();
/// `nrt_get_version(ver, sizeof *ver)`: callable before `nrt_init`.
pub type nrt_get_version_fn = unsafe extern "C" fn(*mut nrt_version_t, usize) -> NRT_STATUS;
/// `nrt_get_status_as_str(status)`: a static string the caller does not free.
pub type nrt_get_status_as_str_fn = unsafe extern "C" fn(NRT_STATUS) -> *const c_char;
/// `nrt_get_instance_info(info, sizeof *info)`.
pub type nrt_get_instance_info_fn =
    unsafe extern "C" fn(*mut nrt_instance_info_t, usize) -> NRT_STATUS;

// Core counts and topology (§4.2).
/// `nrt_get_total_vnc_count(&count)`.
pub type nrt_get_total_vnc_count_fn = unsafe extern "C" fn(*mut u32) -> NRT_STATUS;
/// `nrt_get_total_nc_count(&count)`: deprecated alias.
pub type nrt_get_total_nc_count_fn = unsafe extern "C" fn(*mut u32) -> NRT_STATUS;
/// `nrt_get_visible_vnc_count(&count)`.
pub type nrt_get_visible_vnc_count_fn = unsafe extern "C" fn(*mut u32) -> NRT_STATUS;
/// `nrt_get_visible_nc_count(&count)`: deprecated alias.
pub type nrt_get_visible_nc_count_fn = unsafe extern "C" fn(*mut u32) -> NRT_STATUS;
/// `nrt_host_device_id_get(neuron_dev, &host_device_id)`.
pub type nrt_host_device_id_get_fn = unsafe extern "C" fn(c_int, *mut u32) -> NRT_STATUS;
/// `nrt_get_vnc_memory_stats(vnc, stats, stats_size_in, &stats_size_out)`.
pub type nrt_get_vnc_memory_stats_fn =
    unsafe extern "C" fn(u32, *mut nrt_vnc_memory_stats_t, usize, *mut usize) -> NRT_STATUS;

// Models (§4.3).
/// `nrt_load(neff_bytes, size, vnc, vnc_count, &model)`.
pub type nrt_load_fn =
    unsafe extern "C" fn(*const c_void, usize, i32, i32, *mut *mut nrt_model_t) -> NRT_STATUS;
/// `nrt_load_collectives(neff_bytes, size, vnc, vnc_count, ctx_device_id, ctx_device_count, &model)`.
pub type nrt_load_collectives_fn = unsafe extern "C" fn(
    *const c_void,
    usize,
    i32,
    i32,
    u32,
    u32,
    *mut *mut nrt_model_t,
) -> NRT_STATUS;
/// `nrt_unload(model)`.
pub type nrt_unload_fn = unsafe extern "C" fn(*mut nrt_model_t) -> NRT_STATUS;
/// `nrt_get_model_info(model, info, info_size_in, &info_size_out)`.
pub type nrt_get_model_info_fn = unsafe extern "C" fn(
    *const nrt_model_t,
    *mut nrt_model_info_t,
    usize,
    *mut usize,
) -> NRT_STATUS;
/// `nrt_get_model_vnc_count(model, &count)`: deprecated.
pub type nrt_get_model_vnc_count_fn =
    unsafe extern "C" fn(*const nrt_model_t, *mut u32) -> NRT_STATUS;
/// `nrt_get_model_nc_count(model, &count)`: deprecated.
pub type nrt_get_model_nc_count_fn =
    unsafe extern "C" fn(*const nrt_model_t, *mut u32) -> NRT_STATUS;
/// `nrt_get_model_instance_count(model, &count)`: deprecated.
pub type nrt_get_model_instance_count_fn =
    unsafe extern "C" fn(*mut nrt_model_t, *mut u32) -> NRT_STATUS;
/// `nrt_get_model_tensor_info(model, &info)`: the runtime allocates `*info`.
pub type nrt_get_model_tensor_info_fn =
    unsafe extern "C" fn(*mut nrt_model_t, *mut *mut nrt_tensor_info_array_t) -> NRT_STATUS;
/// `nrt_free_model_tensor_info(info)`.
pub type nrt_free_model_tensor_info_fn =
    unsafe extern "C" fn(*mut nrt_tensor_info_array_t) -> NRT_STATUS;

// Tensors (§4.4).
/// `nrt_tensor_allocate(placement, vnc, size, name, &tensor)`.
pub type nrt_tensor_allocate_fn = unsafe extern "C" fn(
    nrt_tensor_placement_t,
    c_int,
    usize,
    *const c_char,
    *mut *mut nrt_tensor_t,
) -> NRT_STATUS;
/// `nrt_tensor_free(&tensor)`: sets `*tensor = NULL`.
pub type nrt_tensor_free_fn = unsafe extern "C" fn(*mut *mut nrt_tensor_t);
/// `nrt_tensor_read(tensor, buf, offset, size)`.
pub type nrt_tensor_read_fn =
    unsafe extern "C" fn(*const nrt_tensor_t, *mut c_void, usize, usize) -> NRT_STATUS;
/// `nrt_tensor_write(tensor, buf, offset, size)`.
pub type nrt_tensor_write_fn =
    unsafe extern "C" fn(*mut nrt_tensor_t, *const c_void, usize, usize) -> NRT_STATUS;
/// `nrt_tensor_copy(src, src_offset, dst, dst_offset, size)`.
pub type nrt_tensor_copy_fn =
    unsafe extern "C" fn(*const nrt_tensor_t, usize, *mut nrt_tensor_t, usize, usize) -> NRT_STATUS;
/// `nrt_tensor_memset(tensor, offset, value, size)`.
pub type nrt_tensor_memset_fn =
    unsafe extern "C" fn(*mut nrt_tensor_t, u64, c_int, usize) -> NRT_STATUS;
/// `nrt_tensor_read_batch(batches, num_batches, unsafe)`.
pub type nrt_tensor_read_batch_fn =
    unsafe extern "C" fn(*const nrt_tensor_batch_t, u64, bool) -> NRT_STATUS;
/// `nrt_tensor_write_batch(batches, num_batches, unsafe)`.
pub type nrt_tensor_write_batch_fn =
    unsafe extern "C" fn(*const nrt_tensor_batch_t, u64, bool) -> NRT_STATUS;
/// `nrt_tensor_get_size(tensor)`: the size in bytes, not a status.
pub type nrt_tensor_get_size_fn = unsafe extern "C" fn(*const nrt_tensor_t) -> usize;
/// `nrt_tensor_get_va(tensor)`: the host address, or NULL.
pub type nrt_tensor_get_va_fn = unsafe extern "C" fn(*const nrt_tensor_t) -> *mut c_void;
/// `nrt_tensor_get_device_allocation_info(tensor, &info)`.
pub type nrt_tensor_get_device_allocation_info_fn = unsafe extern "C" fn(
    *const nrt_tensor_t,
    *mut nrt_tensor_device_allocation_info_t,
) -> NRT_STATUS;
/// `nrt_tensor_allocate_empty(name, &tensor)`.
pub type nrt_tensor_allocate_empty_fn =
    unsafe extern "C" fn(*const c_char, *mut *mut nrt_tensor_t) -> NRT_STATUS;
/// `nrt_tensor_attach_buffer(tensor, buffer, size)`.
pub type nrt_tensor_attach_buffer_fn =
    unsafe extern "C" fn(*mut nrt_tensor_t, *mut c_void, usize) -> NRT_STATUS;
/// `nrt_tensor_allocate_slice(source, offset, size, name, &slice)`.
pub type nrt_tensor_allocate_slice_fn = unsafe extern "C" fn(
    *const nrt_tensor_t,
    usize,
    usize,
    *const c_char,
    *mut *mut nrt_tensor_t,
) -> NRT_STATUS;
/// `nrt_tensor_check_output_completion(tensor, timeout_us, expected_count)`.
pub type nrt_tensor_check_output_completion_fn =
    unsafe extern "C" fn(*const nrt_tensor_t, i64, u64) -> NRT_STATUS;
/// `nrt_tensor_reset_output_completion(tensor)`.
pub type nrt_tensor_reset_output_completion_fn =
    unsafe extern "C" fn(*mut nrt_tensor_t) -> NRT_STATUS;

// Tensor sets (§4.5).
/// `nrt_allocate_tensor_set(&set)`.
pub type nrt_allocate_tensor_set_fn =
    unsafe extern "C" fn(*mut *mut nrt_tensor_set_t) -> NRT_STATUS;
/// `nrt_destroy_tensor_set(&set)`: sets `*set = NULL`.
pub type nrt_destroy_tensor_set_fn = unsafe extern "C" fn(*mut *mut nrt_tensor_set_t);
/// `nrt_add_tensor_to_tensor_set(set, name, tensor)`.
pub type nrt_add_tensor_to_tensor_set_fn =
    unsafe extern "C" fn(*mut nrt_tensor_set_t, *const c_char, *mut nrt_tensor_t) -> NRT_STATUS;
/// `nrt_get_tensor_from_tensor_set(set, name, &tensor)`.
pub type nrt_get_tensor_from_tensor_set_fn = unsafe extern "C" fn(
    *mut nrt_tensor_set_t,
    *const c_char,
    *mut *mut nrt_tensor_t,
) -> NRT_STATUS;

// Synchronous execution and the legacy implicit-async helpers (§4.6).
/// `nrt_execute(model, input_set, output_set)`.
pub type nrt_execute_fn = unsafe extern "C" fn(
    *mut nrt_model_t,
    *const nrt_tensor_set_t,
    *mut nrt_tensor_set_t,
) -> NRT_STATUS;
/// `nrt_execute_repeat(model, input_set, output_set, repeat_count)`.
pub type nrt_execute_repeat_fn = unsafe extern "C" fn(
    *mut nrt_model_t,
    *const nrt_tensor_set_t,
    *mut nrt_tensor_set_t,
    c_int,
) -> NRT_STATUS;
/// `nrt_register_async_exec_callback(callback, params)`.
pub type nrt_register_async_exec_callback_fn =
    unsafe extern "C" fn(NRT_ASYNC_EXEC_STATUS_CALLBACK, *mut c_void) -> NRT_STATUS;
/// `nrt_async_drain_queued_execs(vnc)`.
pub type nrt_async_drain_queued_execs_fn = unsafe extern "C" fn(i32) -> NRT_STATUS;

// Experimental (§4.12).
/// `nrt_set_pool_eng_ucode(ucode_info)`: must precede `nrt_init`.
pub type nrt_set_pool_eng_ucode_fn = unsafe extern "C" fn(*const nrt_ucode_info) -> NRT_STATUS;

// Async calls with one prototype in every generation (§4.7, §4.8).
/// `nrta_is_completed(seq, &is_completed)`: pending is `NRT_SUCCESS` with `false`.
pub type nrta_is_completed_fn = unsafe extern "C" fn(nrta_seq_t, *mut bool) -> NRT_STATUS;
/// `nrta_get_sequence(lnc, xu, queue, &seq)`: the last completed id on that XU queue.
/// `xu` uses the numbering of the loaded generation.
pub type nrta_get_sequence_fn =
    unsafe extern "C" fn(u32, nrta_xu_t, c_int, *mut nrta_seq_t) -> NRT_STATUS;
/// `nrta_cc_prepare(comm, input, output, dtype, op, cc_op, &cc_ctx)`.
pub type nrta_cc_prepare_fn = unsafe extern "C" fn(
    *mut nrt_cc_comm_t,
    *mut nrt_tensor_list_t,
    *mut nrt_tensor_list_t,
    nrt_dtype_t,
    nrt_op_type_t,
    nrt_cc_op_type_t,
    *mut *mut nrt_cc_context_t,
) -> NRT_STATUS;
