//! The SDK 2.29+ generation ("Gen B", libnrt 2.31.x and later, async API 3.0) of the
//! explicit async API: three XU types, an `NRT_STATUS *` written when each request
//! completes (in place of the tracker), `lnc_idx` before `queue` on the tensor calls, no
//! completion handle; SDK 2.30+ adds eventfd registration ([`EventFns`]). Signatures:
//! `nrt-abi.md` §4.10.
//!
//! Never call these through Gen A's types (see [`crate::gen_a`]).

use crate::core_fns::{nrta_cc_prepare_fn, nrta_get_sequence_fn, nrta_is_completed_fn};
use crate::seq::{nrta_seq_t, nrta_xu_t};
use crate::status::NRT_STATUS;
use crate::structs::*;
use std::ffi::{c_int, c_void};

/// `NRTA_XU_TENSOR_OP`: reads, writes and copies.
pub const NRTA_XU_TENSOR_OP: nrta_xu_t = 0;
/// `NRTA_XU_COMPUTE`: model executions.
pub const NRTA_XU_COMPUTE: nrta_xu_t = 1;
/// `NRTA_XU_COLLECTIVES`: standalone collectives.
pub const NRTA_XU_COLLECTIVES: nrta_xu_t = 2;
/// `NRTA_XU_TYPE_NUM`: the number of XU types.
pub const NRTA_XU_TYPE_NUM: nrta_xu_t = 3;

/// `nrta_tensor_write(tensor, buf, offset, size, lnc_idx, queue, &ret, &seq)`; `*ret` is
/// written when the request completes.
pub type nrta_tensor_write_fn = unsafe extern "C" fn(
    *mut nrt_tensor_t,
    *const c_void,
    u64,
    u64,
    c_int,
    c_int,
    *mut NRT_STATUS,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_tensor_read(buf, tensor, offset, size, lnc_idx, queue, &ret, &seq)`.
pub type nrta_tensor_read_fn = unsafe extern "C" fn(
    *mut c_void,
    *mut nrt_tensor_t,
    u64,
    u64,
    c_int,
    c_int,
    *mut NRT_STATUS,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_tensor_copy(src, src_offset, dst, dst_offset, size, lnc_idx, queue, &ret, &seq)`.
pub type nrta_tensor_copy_fn = unsafe extern "C" fn(
    *mut nrt_tensor_t,
    u64,
    *mut nrt_tensor_t,
    u64,
    u64,
    c_int,
    c_int,
    *mut NRT_STATUS,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_execute_schedule(model, input, output, queue, &ret, &seq)`; `queue` must be 0.
pub type nrta_execute_schedule_fn = unsafe extern "C" fn(
    *mut nrt_model_t,
    *const nrt_tensor_set_t,
    *mut nrt_tensor_set_t,
    c_int,
    *mut NRT_STATUS,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_cc_schedule(&cc_ctx, queue, &ret, &seq)`; `queue` must be 0.
pub type nrta_cc_schedule_fn = unsafe extern "C" fn(
    *mut *mut nrt_cc_context_t,
    c_int,
    *mut NRT_STATUS,
    *mut nrta_seq_t,
) -> NRT_STATUS;
/// `nrta_event_register_seq_id_completion(seq, eventfd)` (SDK 2.30+).
pub type nrta_event_register_seq_id_completion_fn =
    unsafe extern "C" fn(nrta_seq_t, c_int) -> NRT_STATUS;
/// `nrta_event_register_xu_completion(lnc, xu, queue, eventfd)` (SDK 2.30+).
pub type nrta_event_register_xu_completion_fn =
    unsafe extern "C" fn(c_int, nrta_xu_t, c_int, c_int) -> NRT_STATUS;

crate::table::fn_table! {
    /// The Gen B async entry points of a loaded library.
    pub struct Fns {
        required {
            nrta_tensor_write: nrta_tensor_write_fn,
            nrta_tensor_read: nrta_tensor_read_fn,
            nrta_tensor_copy: nrta_tensor_copy_fn,
            nrta_execute_schedule: nrta_execute_schedule_fn,
            nrta_is_completed: nrta_is_completed_fn,
            nrta_get_sequence: nrta_get_sequence_fn,
        }
        optional {
            nrta_cc_prepare: nrta_cc_prepare_fn,
            nrta_cc_schedule: nrta_cc_schedule_fn,
        }
        extra {
            /// The SDK 2.30+ event registration, `None` on 2.29.
            events: Option<EventFns>,
        }
    }
}

crate::table::fn_table! {
    /// The SDK 2.30+ eventfd registration. Both resolve, or the library is not 2.30+.
    pub struct EventFns {
        required {
            nrta_event_register_seq_id_completion: nrta_event_register_seq_id_completion_fn,
            nrta_event_register_xu_completion: nrta_event_register_xu_completion_fn,
        }
        optional {}
    }
}
