//! The SDK 2.29+ ("Gen B", async API 3.0) entry points: schedule calls with an
//! `NRT_STATUS *ret` written when the request completes and, on the tensor calls, an
//! `lnc_idx` before `queue`; plus the SDK 2.30+ eventfd registration. Exported by the
//! 2.29 and 2.30 libraries (events only by 2.30).

use super::async_common::{
    cc_schedule_common, running, schedule_copy, schedule_execute, schedule_transfer, Transfer,
};
use super::guard;
use crate::device::calls::{Core, Reporter};
use crate::device::hostmem::StatusSlot;
use crate::device::xu::Api;
use crate::error::Failure;
use neuron_sys::gen_b;
use neuron_sys::*;
use std::os::raw::{c_int, c_void};

const _: gen_b::nrta_tensor_write_fn = nrta_tensor_write;
const _: gen_b::nrta_tensor_read_fn = nrta_tensor_read;
const _: gen_b::nrta_tensor_copy_fn = nrta_tensor_copy;
const _: gen_b::nrta_execute_schedule_fn = nrta_execute_schedule;
const _: gen_b::nrta_cc_schedule_fn = nrta_cc_schedule;
const _: gen_b::nrta_event_register_seq_id_completion_fn = nrta_event_register_seq_id_completion;
const _: gen_b::nrta_event_register_xu_completion_fn = nrta_event_register_xu_completion;

/// A status pointer: NULL means the status is not wanted (allowed; the vendor is
/// silent), anything else is written exactly once, at completion.
fn reporter(ret: *mut NRT_STATUS) -> Reporter {
    if ret.is_null() {
        Reporter::Status(None)
    } else {
        // SAFETY: non-NULL; the 2.29+ API requires the caller to keep `*ret` alive until
        // the request completes, which is StatusSlot's contract. If the call is refused
        // the slot is dropped unwritten.
        Reporter::Status(Some(unsafe { StatusSlot::new(ret) }))
    }
}

/// `nrta_tensor_write` (2.29+): host-to-device copy on core `lnc_idx`'s TENSOR_OP unit.
///
/// # Safety
/// `buf` must hold `size` readable bytes, unchanged until completion; `ret` must be
/// NULL or writable until completion; `req_sequence` must be NULL or writable.
pub unsafe extern "C" fn nrta_tensor_write(
    tensor: *mut nrt_tensor_t,
    buf: *const c_void,
    offset: u64,
    size: u64,
    lnc_idx: c_int,
    queue: c_int,
    ret: *mut NRT_STATUS,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_tensor_write", || {
        schedule_transfer(
            Transfer::Write,
            tensor,
            buf,
            offset,
            size,
            Core::Given(lnc_idx),
            queue,
            || Ok(reporter(ret)),
            req_sequence,
        )
    })
}

/// `nrta_tensor_read` (2.29+): device-to-host copy on core `lnc_idx`'s TENSOR_OP unit.
///
/// # Safety
/// `buf` must hold `size` writable bytes, untouched until completion; `ret` must be
/// NULL or writable until completion; `req_sequence` must be NULL or writable.
pub unsafe extern "C" fn nrta_tensor_read(
    buf: *mut c_void,
    tensor: *mut nrt_tensor_t,
    offset: u64,
    size: u64,
    lnc_idx: c_int,
    queue: c_int,
    ret: *mut NRT_STATUS,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_tensor_read", || {
        schedule_transfer(
            Transfer::Read,
            tensor,
            buf,
            offset,
            size,
            Core::Given(lnc_idx),
            queue,
            || Ok(reporter(ret)),
            req_sequence,
        )
    })
}

/// `nrta_tensor_copy` (2.29+): tensor-to-tensor copy on core `lnc_idx`'s TENSOR_OP unit.
///
/// # Safety
/// `ret` must be NULL or writable until completion; `req_sequence` NULL or writable.
pub unsafe extern "C" fn nrta_tensor_copy(
    src: *mut nrt_tensor_t,
    src_offset: u64,
    dst: *mut nrt_tensor_t,
    dst_offset: u64,
    size: u64,
    lnc_idx: c_int,
    queue: c_int,
    ret: *mut NRT_STATUS,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_tensor_copy", || {
        schedule_copy(
            src,
            src_offset,
            dst,
            dst_offset,
            size,
            Core::Given(lnc_idx),
            queue,
            || Ok(reporter(ret)),
            req_sequence,
        )
    })
}

/// `nrta_execute_schedule` (2.29+): one execution on the model's COMPUTE unit; `queue`
/// must be 0; `*ret` gets the final status at completion.
///
/// # Safety
/// `ret` must be NULL or writable until completion; `req_sequence` NULL or writable.
pub unsafe extern "C" fn nrta_execute_schedule(
    model: *mut nrt_model_t,
    input: *const nrt_tensor_set_t,
    output: *mut nrt_tensor_set_t,
    queue: c_int,
    ret: *mut NRT_STATUS,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_execute_schedule", || {
        schedule_execute(
            model,
            input,
            output,
            queue,
            || Ok(reporter(ret)),
            req_sequence,
        )
    })
}

/// `nrta_cc_schedule` (2.29+): standalone collectives are not emulated: `NRT_INVALID`.
///
/// # Safety
/// Pointers are only checked for NULL.
pub unsafe extern "C" fn nrta_cc_schedule(
    cc_ctx: *mut *mut nrt_cc_context_t,
    _queue: c_int,
    _ret: *mut NRT_STATUS,
    req_sequence: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_cc_schedule", || {
        cc_schedule_common(cc_ctx, req_sequence)
    })
}

fn events_available(rt: &crate::runtime::Runtime) -> Result<(), Failure> {
    if rt.device.api() != Api::GenBEvents {
        return Err(Failure::new(
            NRT_FAILURE,
            "eventfd registration exists from SDK 2.30 on".into(),
        ));
    }
    Ok(())
}

/// `nrta_event_register_seq_id_completion` (2.30+): write 1 to the caller's eventfd
/// `fd` once, when `seq` completes (at once if it has). One-shot. `fd = -1` cancels
/// pending registrations of `seq`. The emulator keeps a duplicate of `fd`, so closing
/// it early is harmless.
///
/// # Safety
/// None beyond passing an fd number; it is validated with `fcntl`.
pub unsafe extern "C" fn nrta_event_register_seq_id_completion(
    seq: nrta_seq_t,
    fd: c_int,
) -> NRT_STATUS {
    guard("nrta_event_register_seq_id_completion", || {
        let rt = running()?;
        events_available(&rt)?;
        rt.device.register_seq_event(seq, fd).map_err(|s| {
            if s == NRT_INVALID {
                Failure::invalid(format!(
                    "sequence id 0x{seq:016x} was never issued, or fd {fd} is not open"
                ))
            } else {
                Failure::status_only(s)
            }
        })
    })
}

/// `nrta_event_register_xu_completion` (2.30+): write 1 to the caller's eventfd after
/// each release pass that completed requests on (lnc, xu, queue); persistent until
/// replaced by another registration or removed with `fd = -1`. No signal at
/// registration time.
///
/// # Safety
/// None beyond passing an fd number; it is validated with `fcntl`.
pub unsafe extern "C" fn nrta_event_register_xu_completion(
    lnc: c_int,
    xu: nrta_xu_t,
    queue: c_int,
    fd: c_int,
) -> NRT_STATUS {
    guard("nrta_event_register_xu_completion", || {
        let rt = running()?;
        events_available(&rt)?;
        rt.device
            .register_xu_event(lnc, xu, queue, fd)
            .map_err(|s| {
                if s == NRT_INVALID {
                    Failure::invalid(format!(
                        "no XU (lnc {lnc}, xu {xu}, queue {queue}), or fd {fd} is not open"
                    ))
                } else {
                    Failure::status_only(s)
                }
            })
    })
}
