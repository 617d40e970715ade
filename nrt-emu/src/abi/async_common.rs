//! Async entry points with the same prototype in every generation
//! (`nrta_is_completed`, `nrta_get_sequence`, `nrta_cc_prepare`), and the panic
//! boundary every async and emulator-only entry point goes through.

use crate::runtime::{self, Failure, Runtime};
use neuron_sys::*;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

// The prototypes are checked against neuron-sys at compile time.
const _: nrta_is_completed_fn = nrta_is_completed;
const _: nrta_get_sequence_fn = nrta_get_sequence;
const _: nrta_cc_prepare_fn = nrta_cc_prepare;

/// Run an entry point's body: its `Failure` becomes the status (with the message
/// reported when there is one), and a panic becomes `NRT_FAILURE` instead of unwinding
/// into C.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<(), Failure>) -> NRT_STATUS {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => NRT_SUCCESS,
        Ok(Err(f)) if f.message.is_empty() => f.status,
        Ok(Err(f)) => runtime::report(function, &f),
        Err(_) => {
            eprintln!("nrt-emu: internal error (panic) in {function}");
            NRT_FAILURE
        }
    }
}

/// The running runtime, or `NRT_UNINITIALIZED`/`NRT_CLOSED`.
pub(crate) fn running() -> Result<Arc<Runtime>, Failure> {
    runtime::current().map_err(|s| Failure::new(s, String::new()))
}

/// A Failure of status `NRT_INVALID` with a message.
pub(crate) fn invalid(msg: &str) -> Failure {
    Failure::new(NRT_INVALID, msg.to_string())
}

/// A Failure that only carries a status (QUEUE_FULL and friends are not news).
pub(crate) fn bare(s: NRT_STATUS) -> Failure {
    Failure::new(s, String::new())
}

/// `nrta_is_completed`: whether request `seq` has completed. `NRT_INVALID` for an id
/// whose XU does not exist or whose number was never issued.
///
/// # Safety
/// `is_completed` must be NULL or point to a writable `bool`.
pub unsafe extern "C" fn nrta_is_completed(seq: nrta_seq_t, is_completed: *mut bool) -> NRT_STATUS {
    guard("nrta_is_completed", || {
        if is_completed.is_null() {
            return Err(invalid("is_completed is NULL"));
        }
        let done = running()?
            .device
            .is_completed(seq)
            .map_err(|s| Failure::new(s, format!("sequence id 0x{seq:016x} was never issued")))?;
        // SAFETY: non-NULL checked above; the caller passes a writable bool.
        unsafe { *is_completed = done };
        Ok(())
    })
}

/// `nrta_get_sequence`: the id of the last completed request on (lnc, xu, queue); the
/// XU id with number 0 before any has completed.
///
/// # Safety
/// `seq` must be NULL or point to a writable `nrta_seq_t`.
pub unsafe extern "C" fn nrta_get_sequence(
    lnc: u32,
    xu: nrta_xu_t,
    queue: c_int,
    seq: *mut nrta_seq_t,
) -> NRT_STATUS {
    guard("nrta_get_sequence", || {
        if seq.is_null() {
            return Err(invalid("seq is NULL"));
        }
        let v = running()?
            .device
            .last_completed(lnc, xu, queue)
            .map_err(|s| Failure::new(s, format!("no XU (lnc {lnc}, xu {xu}, queue {queue})")))?;
        // SAFETY: non-NULL checked above; the caller passes a writable nrta_seq_t.
        unsafe { *seq = v };
        Ok(())
    })
}

/// `nrta_cc_prepare`: standalone collectives are not emulated; after the argument
/// checks this answers `NRT_FAILURE` and leaves `*cc_ctx` untouched.
///
/// # Safety
/// Pointer arguments are only checked for NULL, never dereferenced.
pub unsafe extern "C" fn nrta_cc_prepare(
    comm: *mut nrt_cc_comm_t,
    input: *mut nrt_tensor_list_t,
    output: *mut nrt_tensor_list_t,
    _dtype: nrt_dtype_t,
    _op: nrt_op_type_t,
    _cc_op: nrt_cc_op_type_t,
    cc_ctx: *mut *mut nrt_cc_context_t,
) -> NRT_STATUS {
    guard("nrta_cc_prepare", || {
        if comm.is_null() || input.is_null() || output.is_null() || cc_ctx.is_null() {
            return Err(invalid("comm, input, output and cc_ctx must not be NULL"));
        }
        running()?;
        Err(Failure::new(
            NRT_FAILURE,
            "standalone collectives are not emulated by nrt-emu".into(),
        ))
    })
}

/// The shared check of `nrta_cc_schedule`: no context can exist, since
/// `nrta_cc_prepare` never makes one.
pub(crate) fn cc_schedule_common(
    cc_ctx: *mut *mut nrt_cc_context_t,
    seq: *mut nrta_seq_t,
) -> Result<(), Failure> {
    if cc_ctx.is_null() || seq.is_null() {
        return Err(invalid("cc_ctx and req_sequence must not be NULL"));
    }
    running()?;
    Err(invalid(
        "no collective context exists: standalone collectives are not emulated",
    ))
}
