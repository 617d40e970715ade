//! Queues: create, submit, wait, drain, failure state, destroy.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use std::ffi::c_void;

use super::completion::{nrtq_completion_fn, CTarget};
pub use super::handle::nrtq_queue;
use super::handle::nrtq_queue_config;
use super::handle::nrtq_runtime;
use super::handle::{arc_into_handle, arc_release, try_box_ref, try_queue};
use super::out::{opt_out, try_out, Out};
use super::status::{fail, fail_msg, nrtq_status};
use super::{check_null, ffi_boundary, timeout_from_us};
use crate::backend::{Handle, Work};
use crate::queue::{Delivery, QueueConfig};
use crate::status::Status;

/// Create a queue running `model` on its logical core.
///
/// - `rt`: the runtime (non-NULL).
/// - `model`: an `nrt_model_t *` from `nrt_load` on that runtime's libnrt (taken as
///   `void *` so this header need not include `nrt.h`). The application keeps it loaded
///   until the queue is destroyed.
/// - `cfg`: settings (copied), or NULL for the defaults.
/// - `out`: receives the queue on success. Release it with `nrtq_queue_destroy`.
///
/// Returns `NRTQ_OK`, `NRTQ_ERR_NULL`, `NRTQ_ERR_INVALID` (also for reap delivery with a
/// queue-wide completion callback or hook configured: it would never be called),
/// `NRTQ_ERR_RUNTIME` (e.g. `nrt_get_model_info` or the error-tracker creation failed),
/// `NRTQ_ERR_RESOURCE`.
#[no_mangle]
pub extern "C" fn nrtq_queue_create(
    rt: *const nrtq_runtime,
    model: *mut c_void,
    cfg: *const nrtq_queue_config,
    out: *mut *mut nrtq_queue,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let runtime = try_box_ref!(rt, "rt");
        check_null!(model, "model");
        let out = try_out!(out, "out");
        let config = if cfg.is_null() {
            QueueConfig::default()
        } else {
            try_box_ref!(cfg, "cfg").clone()
        };
        if config.delivery == Delivery::Reap && config.on_complete.is_some() {
            return fail_msg(
                Status::InvalidArgument,
                "a completion callback is never called in reap mode: remove it or use \
                 callback delivery",
            );
        }
        match runtime.create_queue(Handle(model as usize), config) {
            Ok(q) => {
                out.write(arc_into_handle(q.0));
                nrtq_status::NRTQ_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Destroy a queue: refuse new work, complete the backlog as `NRTQ_ERR_CANCELLED`, wait up
/// to `timeout_us` (negative: no limit) for the requests the device holds, deliver every
/// completion (callback mode), and release the handle.
///
/// The handle is consumed like `free()`, whatever this returns, except `NRTQ_ERR_NULL` and
/// `NRTQ_ERR_WOULD_DEADLOCK` (the handle is then untouched and still valid): using it
/// afterwards, including a second destroy, is undefined behaviour. Nothing may use the
/// handle concurrently with this call.
///
/// Returns `NRTQ_OK`; `NRTQ_TIMEOUT` when device-held requests were abandoned (they complete
/// as `NRTQ_ERR_CANCELLED` with raw status `NRT_TIMEOUT`: see `nrtq_completion` for when
/// their tensor sets may be freed); `NRTQ_ERR_NULL`; `NRTQ_ERR_WOULD_DEADLOCK` from a
/// callback on the completion thread. In reap mode, completions not yet reaped are
/// discarded (drain and reap first), and the reap descriptor is closed before this returns.
#[no_mangle]
pub extern "C" fn nrtq_queue_destroy(q: *mut nrtq_queue, timeout_us: i64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let timeout =
            timeout_from_us(timeout_us).unwrap_or(std::time::Duration::from_secs(u32::MAX as u64));
        let result = queue.destroy(timeout);
        match &result {
            // The only refusal that leaves the handle to the caller.
            Err(e) if e.status == Status::WouldDeadlock => return fail(e.clone()),
            // The engine found the queue already detached: a second destroy, which the
            // contract makes undefined. Its count was released by the first; do not
            // release it again.
            Err(e) if e.status == Status::InvalidArgument => return fail(e.clone()),
            _ => {}
        }
        // SAFETY: the handle's own count (from nrtq_queue_create), released exactly once:
        // this call consumes the handle, and `queue` still holds another count.
        unsafe { arc_release(q) };
        match result {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// What every submit does once its pointers are checked.
fn submit_checked(
    queue: &crate::queue::Queue,
    work: Work,
    callback: nrtq_completion_fn,
    user_data: u64,
    timeout_us: Option<i64>,
    out_ticket: Option<Out<'_, u64>>,
) -> nrtq_status {
    if callback.is_some() && queue.0.config().delivery == Delivery::Reap {
        return fail_msg(
            Status::InvalidArgument,
            "a completion callback is never called in reap mode: pass NULL, or create the \
             queue with callback delivery",
        );
    }
    let callback = callback.map(|f| CTarget::Plain(f).into_callback());
    let result = match timeout_us {
        None => queue.submit(work, user_data, callback),
        Some(t) => {
            let t = timeout_from_us(t).unwrap_or(std::time::Duration::from_secs(u32::MAX as u64));
            queue.submit_timeout(work, user_data, callback, t)
        }
    };
    match result {
        Ok(ticket) => {
            if let Some(out) = out_ticket {
                out.write(ticket);
            }
            nrtq_status::NRTQ_OK
        }
        Err(e) => fail(e),
    }
}

/// Submit one execution of the queue's model on (`input`, `output`); never blocks.
///
/// - `input`, `output`: `nrt_tensor_set_t *` of the model's inputs and outputs. They must
///   stay alive and unmodified until the request completes (and see `nrtq_completion` for
///   requests that complete while the device may still hold them).
/// - `callback`: called once with this request's completion, or NULL to use the queue's
///   completion callback or hook (if any). Callback mode only: a reap-mode queue refuses a
///   non-NULL callback with `NRTQ_ERR_INVALID`.
/// - `user_data`: any 64-bit value (a pointer, an index, a cgo handle), returned in the
///   completion.
/// - `out_ticket`: receives the request's ticket (per queue, increasing from 1); may be NULL.
///
/// The request goes to the device at once when there is room and nothing waits before it,
/// otherwise into the backlog. Every accepted request (`NRTQ_OK`) completes exactly once. A
/// refused submit (any other status) accepts nothing and consumes no ticket: the next
/// accepted request gets the next number.
///
/// Returns `NRTQ_OK`; `NRTQ_BACKLOG_FULL` (not now: retry after completions);
/// `NRTQ_ERR_QUEUE_FAILED` (the queue is in its terminal failed state, whatever killed it:
/// dead execution unit, deadline or panic; the message names the raw status; recreate the
/// queue); `NRTQ_ERR_CLOSED` (being destroyed); `NRTQ_ERR_RUNTIME` (libnrt refused the
/// request at once; nothing was accepted; the message names its `NRT_STATUS` and, when a
/// tensor set does not fit the model's tensor info, which tensor and why: missing from its
/// set, or of the wrong size); `NRTQ_ERR_INVALID` (a callback in
/// reap mode); `NRTQ_ERR_NULL`. Safe from any thread, including from callbacks.
#[no_mangle]
pub extern "C" fn nrtq_queue_submit(
    q: *mut nrtq_queue,
    input: *const c_void,
    output: *mut c_void,
    callback: nrtq_completion_fn,
    user_data: u64,
    out_ticket: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        check_null!(input, "input");
        check_null!(output, "output");
        let out_ticket = opt_out!(out_ticket);
        let work = Work {
            input: Handle(input as usize),
            output: Handle(output as usize),
        };
        submit_checked(&queue, work, callback, user_data, None, out_ticket)
    })
}

/// Like `nrtq_queue_submit`, but when the backlog is full waits up to `timeout_us`
/// (negative: no limit) for room before returning `NRTQ_BACKLOG_FULL`. Called from a
/// callback on the completion thread it never waits (only that thread makes room).
#[no_mangle]
pub extern "C" fn nrtq_queue_submit_timeout(
    q: *mut nrtq_queue,
    input: *const c_void,
    output: *mut c_void,
    callback: nrtq_completion_fn,
    user_data: u64,
    timeout_us: i64,
    out_ticket: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        check_null!(input, "input");
        check_null!(output, "output");
        let out_ticket = opt_out!(out_ticket);
        let work = Work {
            input: Handle(input as usize),
            output: Handle(output as usize),
        };
        submit_checked(
            &queue,
            work,
            callback,
            user_data,
            Some(timeout_us),
            out_ticket,
        )
    })
}

/// Cancel request `ticket` if it has not reached the device yet: it is taken out of the
/// backlog and completes exactly once, as `NRTQ_ERR_CANCELLED` with raw status 0, in its
/// place in submission order (its callback runs after those of earlier tickets). A request
/// already on the device cannot be recalled: `NRTQ_ERR_TOO_LATE`, and it completes with its
/// own status (as does one that has already completed).
///
/// Returns `NRTQ_OK`, `NRTQ_ERR_TOO_LATE`, `NRTQ_ERR_UNKNOWN_TICKET` (never issued by this
/// queue), or `NRTQ_ERR_NULL`. Safe from any thread, including from callbacks.
#[no_mangle]
pub extern "C" fn nrtq_queue_cancel(q: *mut nrtq_queue, ticket: u64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        match queue.cancel(ticket) {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// Wait up to `timeout_us` (negative: no limit; 0: just check) until request `ticket` has
/// completed and been delivered (its callback returned, or it is ready to reap). The
/// request's own status arrives with its completion, not here.
///
/// Returns `NRTQ_OK`, `NRTQ_TIMEOUT`, `NRTQ_ERR_UNKNOWN_TICKET`, `NRTQ_ERR_NULL`, or
/// `NRTQ_ERR_WOULD_DEADLOCK` when called from a callback on the completion thread.
#[no_mangle]
pub extern "C" fn nrtq_queue_wait(q: *mut nrtq_queue, ticket: u64, timeout_us: i64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        match queue.wait(ticket, timeout_from_us(timeout_us)) {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// Wait up to `timeout_us` (negative: no limit) until the backlog and the device are empty
/// and every completion delivered (in reap mode: ready to reap). Work submitted meanwhile
/// is waited for too. Returns `NRTQ_OK`, `NRTQ_TIMEOUT`, `NRTQ_ERR_NULL` or
/// `NRTQ_ERR_WOULD_DEADLOCK` (from a callback on the completion thread).
#[no_mangle]
pub extern "C" fn nrtq_queue_drain(q: *mut nrtq_queue, timeout_us: i64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        match queue.drain(timeout_from_us(timeout_us)) {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// Whether the queue has failed terminally. Writes the failure's status
/// (`NRTQ_ERR_QUEUE_FAILED`, `NRTQ_ERR_DEADLINE`, `NRTQ_ERR_PANIC`), or `NRTQ_OK` when it has
/// not failed, to `*status`, and the raw libnrt status to `*nrt_status` (may be NULL).
/// Whatever the failure's status, later submits are refused with `NRTQ_ERR_QUEUE_FAILED`.
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL`. Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_queue_failure(
    q: *const nrtq_queue,
    status: *mut nrtq_status,
    nrt_status: *mut u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let status = try_out!(status, "status");
        let nrt_status = opt_out!(nrt_status);
        let (s, n) = queue.failure().unwrap_or((Status::Ok, 0));
        status.write(s.into());
        if let Some(out) = nrt_status {
            out.write(n);
        }
        nrtq_status::NRTQ_OK
    })
}
