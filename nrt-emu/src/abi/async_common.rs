//! Async entry points with the same prototype in every generation
//! (`nrta_is_completed`, `nrta_get_sequence`, `nrta_cc_prepare`), and the bodies the
//! schedule calls of both generations share.

use super::guard;
use crate::device::calls::{self, Core, Reporter};
use crate::device::hostmem::HostBuf;
use crate::error::Failure;
use crate::runtime::{self, Runtime};
use crate::{model, tensor};
use neuron_sys::*;
use std::os::raw::{c_int, c_void};
use std::sync::Arc;

// The prototypes are checked against neuron-sys at compile time.
const _: nrta_is_completed_fn = nrta_is_completed;
const _: nrta_get_sequence_fn = nrta_get_sequence;
const _: nrta_cc_prepare_fn = nrta_cc_prepare;

/// The running runtime, or `NRT_UNINITIALIZED`/`NRT_CLOSED`.
pub(crate) fn running() -> Result<Arc<Runtime>, Failure> {
    runtime::current().map_err(Failure::status_only)
}

/// `nrta_is_completed`: whether request `seq` has completed. `NRT_INVALID` for an id
/// whose XU does not exist or whose number was never issued.
///
/// # Safety
/// `is_completed` must be NULL or point to a writable `bool`.
pub unsafe extern "C" fn nrta_is_completed(seq: nrta_seq_t, is_completed: *mut bool) -> NRT_STATUS {
    guard("nrta_is_completed", || {
        if is_completed.is_null() {
            return Err(Failure::invalid("is_completed is NULL"));
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
            return Err(Failure::invalid("seq is NULL"));
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
            return Err(Failure::invalid(
                "comm, input, output and cc_ctx must not be NULL",
            ));
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
        return Err(Failure::invalid("cc_ctx and req_sequence must not be NULL"));
    }
    running()?;
    Err(Failure::invalid(
        "no collective context exists: standalone collectives are not emulated",
    ))
}

// The schedule calls of both generations differ only in how they name the core and how
// they report the final status (a 2.28 tracker, a 2.29+ status pointer). Each shim
// converts those two and calls one of the bodies below, which check the remaining
// arguments in one order for every generation and store the id only on success.

/// Store an accepted request's id.
fn put_seq(out: *mut nrta_seq_t, seq: nrta_seq_t) {
    // SAFETY: every caller checked `out` for NULL before scheduling; the C caller passes
    // a writable nrta_seq_t.
    unsafe { *out = seq };
}

/// The runtime, after checking the id out-pointer (the first thing every schedule call
/// checks, so a NULL there never consumes anything).
fn schedule_prologue(req_sequence: *mut nrta_seq_t) -> Result<Arc<Runtime>, Failure> {
    let rt = running()?;
    if req_sequence.is_null() {
        return Err(Failure::invalid("req_sequence is NULL"));
    }
    Ok(rt)
}

fn live_tensor(ptr: *mut nrt_tensor_t, what: &str) -> Result<Arc<tensor::Tensor>, Failure> {
    tensor::lookup(ptr)
        .map_err(|_| Failure::invalid(format!("{what} is NULL or not a live tensor")))
}

/// Wrap a caller buffer of `size` bytes.
fn host_buf(buf: *const c_void, size: u64) -> Result<HostBuf, Failure> {
    if buf.is_null() {
        return Err(Failure::invalid("buf is NULL"));
    }
    let len = usize::try_from(size)
        .ok()
        .filter(|&l| l <= isize::MAX as usize)
        .ok_or_else(|| Failure::invalid("size does not fit in memory"))?;
    // SAFETY: non-NULL; the async API requires the caller to keep `size` bytes at `buf`
    // valid and untouched until the request completes, which is HostBuf's contract.
    Ok(unsafe { HostBuf::new(buf as *mut u8, len) })
}

/// The direction of a host transfer.
pub(crate) enum Transfer {
    /// `nrta_tensor_write`: host buffer to tensor.
    Write,
    /// `nrta_tensor_read`: tensor to host buffer.
    Read,
}

/// The body of `nrta_tensor_write` and `nrta_tensor_read` in every generation.
#[allow(clippy::too_many_arguments)] // the C call's own arguments, one to one
pub(crate) fn schedule_transfer(
    dir: Transfer,
    tensor: *mut nrt_tensor_t,
    buf: *const c_void,
    offset: u64,
    size: u64,
    core: Core,
    queue: c_int,
    reporter: impl FnOnce() -> Result<Reporter, Failure>,
    req_sequence: *mut nrta_seq_t,
) -> Result<(), Failure> {
    let rt = schedule_prologue(req_sequence)?;
    let t = live_tensor(tensor, "tensor")?;
    let b = host_buf(buf, size)?;
    let seq = match dir {
        Transfer::Write => {
            calls::tensor_write(&rt.device, &t, offset, b, core, queue, reporter()?)?
        }
        Transfer::Read => calls::tensor_read(&rt.device, &t, offset, b, core, queue, reporter()?)?,
    };
    put_seq(req_sequence, seq);
    Ok(())
}

/// The body of `nrta_tensor_copy` in every generation.
#[allow(clippy::too_many_arguments)] // the C call's own arguments, one to one
pub(crate) fn schedule_copy(
    src: *mut nrt_tensor_t,
    src_offset: u64,
    dst: *mut nrt_tensor_t,
    dst_offset: u64,
    size: u64,
    core: Core,
    queue: c_int,
    reporter: impl FnOnce() -> Result<Reporter, Failure>,
    req_sequence: *mut nrta_seq_t,
) -> Result<(), Failure> {
    let rt = schedule_prologue(req_sequence)?;
    let s = live_tensor(src, "src")?;
    let d = live_tensor(dst, "dst")?;
    let seq = calls::tensor_copy(
        &rt.device,
        &s,
        src_offset,
        &d,
        dst_offset,
        size,
        core,
        queue,
        reporter()?,
    )?;
    put_seq(req_sequence, seq);
    Ok(())
}

/// The body of `nrta_execute_schedule` in every generation.
pub(crate) fn schedule_execute(
    model: *mut nrt_model_t,
    input: *const nrt_tensor_set_t,
    output: *mut nrt_tensor_set_t,
    queue: c_int,
    reporter: impl FnOnce() -> Result<Reporter, Failure>,
    req_sequence: *mut nrta_seq_t,
) -> Result<(), Failure> {
    let rt = schedule_prologue(req_sequence)?;
    let m = model::lookup(model)
        .map_err(|_| Failure::invalid("model is NULL or not a loaded model"))?;
    let seq = calls::execute(&rt.device, &m, input, output, queue, reporter()?)?;
    put_seq(req_sequence, seq);
    Ok(())
}
