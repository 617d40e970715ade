//! The SDK 2.28 generation ("Gen A", libnrt 2.30.x) of the explicit async API: XU
//! numbering with separate read and write units, an error tracker passed to every
//! schedule call, and a pollable completion handle. Signatures: `nrt-abi.md` §4.7–4.9.
//!
//! Never call these through another generation's types: the Gen B functions take an
//! extra `int` and an `NRT_STATUS *` in place of the tracker, so a mismatch corrupts memory.

use crate::core_fns::{nrta_cc_prepare_fn, nrta_get_sequence_fn, nrta_is_completed_fn};
use crate::seq::{nrta_seq_t, nrta_xu_t};
use crate::status::NRT_STATUS;
use crate::structs::*;
use std::ffi::{c_int, c_void};

/// `NRTA_XU_TENSOR_READ`: device-to-host transfers.
pub const NRTA_XU_TENSOR_READ: nrta_xu_t = 0;
/// `NRTA_XU_TENSOR_WRITE`: host-to-device transfers.
pub const NRTA_XU_TENSOR_WRITE: nrta_xu_t = 1;
/// `NRTA_XU_TENSOR_OP`: tensor operations other than read and write (copy).
pub const NRTA_XU_TENSOR_OP: nrta_xu_t = 2;
/// `NRTA_XU_COMPUTE`: model executions.
pub const NRTA_XU_COMPUTE: nrta_xu_t = 3;
/// `NRTA_XU_COLLECTIVES`: standalone collectives.
pub const NRTA_XU_COLLECTIVES: nrta_xu_t = 4;
/// `NRTA_XU_TYPE_NUM`: the number of XU types.
pub const NRTA_XU_TYPE_NUM: nrta_xu_t = 5;

/// `nrta_tensor_write(tensor, buf, offset, size, queue, err, &seq)`.
pub type nrta_tensor_write_fn = unsafe extern "C" fn(
    *mut nrt_tensor_t,
    *const c_void,
    u64,
    u64,
    c_int,
    *mut nrta_error_tracker_t,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_tensor_read(buf, tensor, offset, size, queue, err, &seq)`.
pub type nrta_tensor_read_fn = unsafe extern "C" fn(
    *mut c_void,
    *mut nrt_tensor_t,
    u64,
    u64,
    c_int,
    *mut nrta_error_tracker_t,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_tensor_copy(src, src_offset, dst, dst_offset, size, queue, err, &seq)`.
pub type nrta_tensor_copy_fn = unsafe extern "C" fn(
    *mut nrt_tensor_t,
    u64,
    *mut nrt_tensor_t,
    u64,
    u64,
    c_int,
    *mut nrta_error_tracker_t,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_execute_schedule(model, input, output, queue, err, &seq)`; `queue` must be 0.
pub type nrta_execute_schedule_fn = unsafe extern "C" fn(
    *mut nrt_model_t,
    *const nrt_tensor_set_t,
    *mut nrt_tensor_set_t,
    c_int,
    *mut nrta_error_tracker_t,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_cc_schedule(&cc_ctx, queue, err, &seq)`; `queue` must be 0.
pub type nrta_cc_schedule_fn = unsafe extern "C" fn(
    *mut *mut nrt_cc_context_t,
    c_int,
    *mut nrta_error_tracker_t,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_get_completion_handle(seq, &fd)`: a new fd, readable once `seq` completed; the
/// caller may only poll and close it.
pub type nrta_get_completion_handle_fn = unsafe extern "C" fn(nrta_seq_t, *mut c_int) -> NRT_STATUS;
/// `nrta_error_tracker_create(lnc_idx, &tracker)`.
pub type nrta_error_tracker_create_fn =
    unsafe extern "C" fn(u32, *mut *mut nrta_error_tracker_t) -> NRT_STATUS;
/// `nrta_error_tracker_destroy(tracker)`.
pub type nrta_error_tracker_destroy_fn = unsafe extern "C" fn(*mut nrta_error_tracker_t);
/// `nrta_error_tracker_get_list(tracker, &list, &count)`: the tracker owns `*list`.
pub type nrta_error_tracker_get_list_fn = unsafe extern "C" fn(
    *mut nrta_error_tracker_t,
    *mut *const nrta_error_t,
    *mut usize,
) -> NRT_STATUS;

crate::table::fn_table! {
    /// The Gen A async entry points of a loaded library.
    pub struct Fns {
        required {
            nrta_tensor_write: nrta_tensor_write_fn,
            nrta_tensor_read: nrta_tensor_read_fn,
            nrta_tensor_copy: nrta_tensor_copy_fn,
            nrta_execute_schedule: nrta_execute_schedule_fn,
            nrta_is_completed: nrta_is_completed_fn,
            nrta_get_sequence: nrta_get_sequence_fn,
            nrta_get_completion_handle: nrta_get_completion_handle_fn,
            nrta_error_tracker_create: nrta_error_tracker_create_fn,
            nrta_error_tracker_destroy: nrta_error_tracker_destroy_fn,
            nrta_error_tracker_get_list: nrta_error_tracker_get_list_fn,
        }
        optional {
            nrta_cc_prepare: nrta_cc_prepare_fn,
            nrta_cc_schedule: nrta_cc_schedule_fn,
        }
    }
}
