//! The SDK 2.28 ("Gen A") async entry points: schedule calls that take an error
//! tracker, the completion handle, and the tracker itself. Exported only by the 2.28
//! library (`nrt-emu/gen-2.28`). Each shim checks its pointers, converts them, and
//! hands Rust values to `device::calls`.

use super::async_common::{
    cc_schedule_common, running, schedule_copy, schedule_execute, schedule_transfer, Transfer,
};
use super::guard;
use crate::device::calls::{Core, Reporter};
use crate::device::tracker;
use crate::error::Failure;
use neuron_sys::gen_a;
use neuron_sys::*;
use std::os::raw::{c_int, c_void};

const _: gen_a::nrta_tensor_write_fn = nrta_tensor_write;
const _: gen_a::nrta_tensor_read_fn = nrta_tensor_read;
const _: gen_a::nrta_tensor_copy_fn = nrta_tensor_copy;
const _: gen_a::nrta_execute_schedule_fn = nrta_execute_schedule;
const _: gen_a::nrta_cc_schedule_fn = nrta_cc_schedule;
const _: gen_a::nrta_get_completion_handle_fn = nrta_get_completion_handle;
const _: gen_a::nrta_error_tracker_create_fn = nrta_error_tracker_create;
const _: gen_a::nrta_error_tracker_destroy_fn = nrta_error_tracker_destroy;
const _: gen_a::nrta_error_tracker_get_list_fn = nrta_error_tracker_get_list;

/// A tracker argument: NULL means "no tracker" (allowed, as framework code passes it);
/// anything else must be a live tracker.
fn reporter(err: *mut nrta_error_tracker_t) -> Result<Reporter, Failure> {
    if err.is_null() {
        return Ok(Reporter::Tracker(None));
    }
    tracker::lookup(err)
        .map(|t| Reporter::Tracker(Some(t)))
        .ok_or_else(|| Failure::invalid("err is not a live error tracker"))
}

/// `nrta_tensor_write` (2.28): schedule a host-to-device copy of `size` bytes of `buf`
/// into `tensor` at `offset` on the TENSOR_WRITE unit of the tensor's core.
///
/// # Safety
/// `buf` must hold `size` readable bytes, unchanged until the request completes;
/// `req_sequence` must be NULL or writable.
pub unsafe extern "C" fn nrta_tensor_write(
    tensor: *mut nrt_tensor_t,
    buf: *const c_void,
    offset: u64,
    size: u64,
    queue: c_int,
    err: *mut nrta_error_tracker_t,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_tensor_write", || {
        schedule_transfer(
            Transfer::Write,
            tensor,
            buf,
            offset,
            size,
            Core::OfTensor,
            queue,
            || reporter(err),
            req_sequence,
        )
    })
}

/// `nrta_tensor_read` (2.28): schedule a device-to-host copy into `buf` on the
/// TENSOR_READ unit of the tensor's core.
///
/// # Safety
/// `buf` must hold `size` writable bytes, untouched until the request completes;
/// `req_sequence` must be NULL or writable.
pub unsafe extern "C" fn nrta_tensor_read(
    buf: *mut c_void,
    tensor: *mut nrt_tensor_t,
    offset: u64,
    size: u64,
    queue: c_int,
    err: *mut nrta_error_tracker_t,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_tensor_read", || {
        schedule_transfer(
            Transfer::Read,
            tensor,
            buf,
            offset,
            size,
            Core::OfTensor,
            queue,
            || reporter(err),
            req_sequence,
        )
    })
}

/// `nrta_tensor_copy` (2.28): schedule a tensor-to-tensor copy on the TENSOR_OP unit.
///
/// # Safety
/// `req_sequence` must be NULL or writable; both tensors must stay allocated until the
/// request completes (the emulator keeps their storage alive regardless).
pub unsafe extern "C" fn nrta_tensor_copy(
    src: *mut nrt_tensor_t,
    src_offset: u64,
    dst: *mut nrt_tensor_t,
    dst_offset: u64,
    size: u64,
    queue: c_int,
    err: *mut nrta_error_tracker_t,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_tensor_copy", || {
        schedule_copy(
            src,
            src_offset,
            dst,
            dst_offset,
            size,
            Core::OfTensor,
            queue,
            || reporter(err),
            req_sequence,
        )
    })
}

/// `nrta_execute_schedule` (2.28): schedule one execution of `model` on its core's
/// COMPUTE unit; `queue` must be 0.
///
/// # Safety
/// `req_sequence` must be NULL or writable; the sets are looked up, never trusted.
pub unsafe extern "C" fn nrta_execute_schedule(
    model: *mut nrt_model_t,
    input: *const nrt_tensor_set_t,
    output: *mut nrt_tensor_set_t,
    queue: c_int,
    err: *mut nrta_error_tracker_t,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_execute_schedule", || {
        schedule_execute(model, input, output, queue, || reporter(err), req_sequence)
    })
}

/// `nrta_cc_schedule` (2.28): standalone collectives are not emulated, so no context
/// exists to schedule: `NRT_INVALID`.
///
/// # Safety
/// Pointers are only checked for NULL.
pub unsafe extern "C" fn nrta_cc_schedule(
    cc_ctx: *mut *mut nrt_cc_context_t,
    _queue: c_int,
    _err: *mut nrta_error_tracker_t,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_cc_schedule", || {
        cc_schedule_common(cc_ctx, req_sequence)
    })
}

/// `nrta_get_completion_handle` (2.28): a new eventfd that turns readable when `seq`
/// completes (at once if it has), and stays readable until closed. Only poll/select/
/// epoll and close are meant for it; the caller must close it.
///
/// # Safety
/// `fd` must be NULL or point to a writable int.
pub unsafe extern "C" fn nrta_get_completion_handle(seq: nrta_seq_t, fd: *mut c_int) -> NRT_STATUS {
    guard("nrta_get_completion_handle", || {
        if fd.is_null() {
            return Err(Failure::invalid("fd is NULL"));
        }
        let h = running()?.device.completion_handle(seq).map_err(|s| {
            if s == NRT_INVALID {
                Failure::invalid(format!("sequence id 0x{seq:016x} was never issued"))
            } else {
                Failure::status_only(s)
            }
        })?;
        // SAFETY: non-NULL checked above; the caller passes a writable int.
        unsafe { *fd = h };
        Ok(())
    })
}

/// `nrta_error_tracker_create` (2.28): a tracker for logical core `lnc_idx`.
///
/// # Safety
/// `error_tracker` must be NULL or point to a writable pointer.
pub unsafe extern "C" fn nrta_error_tracker_create(
    lnc_idx: u32,
    error_tracker: *mut *mut nrta_error_tracker_t,
) -> NRT_STATUS {
    guard("nrta_error_tracker_create", || {
        if error_tracker.is_null() {
            return Err(Failure::invalid("error_tracker is NULL"));
        }
        let rt = running()?;
        if lnc_idx >= rt.device.config().lncs {
            return Err(Failure::invalid(format!(
                "logical core {lnc_idx} is not visible"
            )));
        }
        let h = tracker::create(lnc_idx);
        // SAFETY: non-NULL checked above; the caller passes a writable pointer.
        unsafe { *error_tracker = h };
        Ok(())
    })
}

/// `nrta_error_tracker_destroy` (2.28): forget a tracker. NULL, an already destroyed
/// or a foreign pointer is ignored. Works before `nrt_init` and after `nrt_close`.
///
/// # Safety
/// The pointer is looked up, never dereferenced.
pub unsafe extern "C" fn nrta_error_tracker_destroy(error_tracker: *mut nrta_error_tracker_t) {
    let _ = guard("nrta_error_tracker_destroy", || {
        tracker::destroy(error_tracker);
        Ok(())
    });
}

/// `nrta_error_tracker_get_list` (2.28): get-and-clear. `*list` points at the entries
/// recorded since the previous call (owned by the tracker, valid until the next call or
/// `destroy`), `*error_count` is their number. Works after `nrt_close` too, so errors
/// of requests completed by the close can still be read.
///
/// # Safety
/// `list` and `error_count` must be NULL or writable.
pub unsafe extern "C" fn nrta_error_tracker_get_list(
    error_tracker: *mut nrta_error_tracker_t,
    list: *mut *const nrta_error_t,
    error_count: *mut usize,
) -> NRT_STATUS {
    guard("nrta_error_tracker_get_list", || {
        if list.is_null() || error_count.is_null() {
            return Err(Failure::invalid("list and error_count must not be NULL"));
        }
        let t = tracker::lookup(error_tracker)
            .ok_or_else(|| Failure::invalid("error_tracker is NULL or not a live tracker"))?;
        let (p, n) = t.take();
        // SAFETY: both non-NULL checked above; the caller passes writable locations.
        unsafe {
            *list = p;
            *error_count = n;
        }
        Ok(())
    })
}
