//! Queues: create, submit, wait, drain, failure state, destroy.
use std::ffi::c_void;
use std::sync::Arc;

use super::config::{cfg_ref, nrtq_queue_config, to_c};
use super::reap::nrtq_completion_fn;
use super::runtime::{nrtq_runtime, runtime_ref};
use super::status::{fail, nrtq_status};
use super::{check_null, ffi_boundary, timeout_from_us};
use crate::backend::{Handle, Work};
use crate::queue::{Callback, Completion, Queue, QueueConfig, Shared};
use crate::status::Status;

/// An auto-refilling queue for one model on its logical core's COMPUTE execution unit.
///
/// Created by `nrtq_queue_create`, released by `nrtq_queue_destroy`. Every function taking
/// a queue may be called from any number of threads at once (submit is designed for it),
/// except that nothing may use the handle concurrently with or after a successful destroy.
/// Methods: `nrtq_queue_submit`, `nrtq_queue_submit_timeout`, `nrtq_queue_wait`,
/// `nrtq_queue_drain`, `nrtq_queue_reap`, `nrtq_queue_reap_fd`, `nrtq_queue_errors`,
/// `nrtq_queue_stats`, `nrtq_queue_failure`, `nrtq_queue_destroy`.
pub struct nrtq_queue {
    _private: [u8; 0],
}

/// Borrow the queue behind a handle as an owned `Queue` (one reference-count increment).
pub(crate) fn queue_of(q: *const nrtq_queue) -> Queue {
    let p = q.cast::<Shared>();
    // SAFETY: callers check for NULL first; a non-NULL handle is, by contract, a live
    // pointer from nrtq_queue_create (Arc::into_raw of the queue) not yet destroyed, so the
    // count is ≥ 1 and incrementing it before from_raw yields an independent reference.
    unsafe {
        Arc::increment_strong_count(p);
        Queue(Arc::from_raw(p))
    }
}

/// Create a queue running `model` on its logical core.
///
/// - `rt`: the runtime (non-NULL).
/// - `model`: an `nrt_model_t *` from `nrt_load` on that runtime's libnrt (taken as
///   `void *` so this header need not include `nrt.h`). The application keeps it loaded
///   until the queue is destroyed.
/// - `cfg`: settings (copied), or NULL for the defaults.
/// - `out`: receives the queue on success. Release it with `nrtq_queue_destroy`.
///
/// Returns `NRTQ_OK`, `NRTQ_ERR_NULL`, `NRTQ_ERR_INVALID`, `NRTQ_ERR_RUNTIME` (e.g.
/// `nrt_get_model_info` or the error-tracker creation failed), `NRTQ_ERR_RESOURCE`.
#[no_mangle]
pub extern "C" fn nrtq_queue_create(
    rt: *const nrtq_runtime,
    model: *mut c_void,
    cfg: *const nrtq_queue_config,
    out: *mut *mut nrtq_queue,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(rt, "rt");
        check_null!(model, "model");
        check_null!(out, "out");
        let config = if cfg.is_null() {
            QueueConfig::default()
        } else {
            cfg_ref(cfg).clone()
        };
        match runtime_ref(rt).create_queue(Handle(model as usize), config) {
            Ok(q) => {
                let raw = Arc::into_raw(q.0);
                // SAFETY: `out` is non-NULL and, by contract, writable.
                unsafe { *out = raw as *mut nrtq_queue };
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
/// Returns `NRTQ_OK`; `NRTQ_TIMEOUT` when device-held requests were abandoned (they complete
/// as `NRTQ_ERR_CANCELLED` with raw status `NRT_TIMEOUT`; the handle is still released);
/// `NRTQ_ERR_NULL`; `NRTQ_ERR_WOULD_DEADLOCK` from a callback on the completion thread (the
/// handle stays valid); `NRTQ_ERR_INVALID` if already destroyed. In reap mode, completions
/// not yet reaped are discarded: drain and reap first.
#[no_mangle]
pub extern "C" fn nrtq_queue_destroy(q: *mut nrtq_queue, timeout_us: i64) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(q, "q");
        let queue = queue_of(q);
        let timeout =
            timeout_from_us(timeout_us).unwrap_or(std::time::Duration::from_secs(u32::MAX as u64));
        let r = queue.destroy(timeout);
        match &r {
            Ok(()) => {}
            Err(e) if e.status == Status::Timeout => {}
            Err(e) => return fail(e.clone()),
        }
        // SAFETY: the handle's own reference (from nrtq_queue_create) is released exactly
        // here, once, after the queue detached itself; `queue` still holds another.
        drop(unsafe { Arc::from_raw(q.cast::<Shared>()) });
        match r {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

fn per_request(cb: nrtq_completion_fn) -> Option<Callback> {
    cb.map(|f| {
        Box::new(move |c: &Completion| {
            let rec = to_c(c);
            // SAFETY: the application's non-NULL callback, given a record alive for the call.
            unsafe { f(&rec) }
        }) as Callback
    })
}

fn submit_common(
    q: *const nrtq_queue,
    input: *const c_void,
    output: *mut c_void,
    callback: nrtq_completion_fn,
    user_data: u64,
    timeout_us: Option<i64>,
    out_ticket: *mut u64,
) -> nrtq_status {
    check_null!(q, "q");
    check_null!(input, "input");
    check_null!(output, "output");
    let queue = queue_of(q);
    let work = Work {
        input: Handle(input as usize),
        output: Handle(output as usize),
    };
    let r = match timeout_us {
        None => queue.submit(work, user_data, per_request(callback)),
        Some(t) => {
            let t = timeout_from_us(t).unwrap_or(std::time::Duration::from_secs(u32::MAX as u64));
            queue.submit_timeout(work, user_data, per_request(callback), t)
        }
    };
    match r {
        Ok(ticket) => {
            if !out_ticket.is_null() {
                // SAFETY: non-NULL and, by contract, writable.
                unsafe { *out_ticket = ticket };
            }
            nrtq_status::NRTQ_OK
        }
        Err(e) => fail(e),
    }
}

/// Submit one execution of the queue's model on (`input`, `output`); never blocks.
///
/// - `input`, `output`: `nrt_tensor_set_t *` of the model's inputs and outputs. They must
///   stay alive and unmodified until the request completes.
/// - `callback`: called once with this request's completion (callback mode), or NULL to
///   use the queue's completion callback (if any). Ignored in reap mode.
/// - `user_data`: any 64-bit value (a pointer, an index, a cgo handle), returned in the
///   completion.
/// - `out_ticket`: receives the request's ticket (per queue, increasing from 1); may be NULL.
///
/// The request goes to the device at once when there is room and nothing waits before it,
/// otherwise into the backlog. Every accepted request (`NRTQ_OK`) completes exactly once.
/// Returns `NRTQ_OK`; `NRTQ_BACKLOG_FULL` (not now: retry after completions);
/// `NRTQ_ERR_QUEUE_FAILED` (the queue failed terminally; the message has the raw status);
/// `NRTQ_ERR_CLOSED` (being destroyed); `NRTQ_ERR_RUNTIME` (libnrt refused the request at
/// once; nothing was accepted); `NRTQ_ERR_NULL`. Safe from any thread, including from
/// callbacks.
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
        submit_common(q, input, output, callback, user_data, None, out_ticket)
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
        submit_common(
            q,
            input,
            output,
            callback,
            user_data,
            Some(timeout_us),
            out_ticket,
        )
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
        check_null!(q, "q");
        match queue_of(q).wait(ticket, timeout_from_us(timeout_us)) {
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
        check_null!(q, "q");
        match queue_of(q).drain(timeout_from_us(timeout_us)) {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}

/// Whether the queue has failed terminally. Writes the failure's status
/// (`NRTQ_ERR_QUEUE_FAILED`, `NRTQ_ERR_DEADLINE`, `NRTQ_ERR_PANIC`), or `NRTQ_OK` when it has
/// not failed, to `*status`, and the raw libnrt status to `*nrt_status` (may be NULL).
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL`. Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_queue_failure(
    q: *const nrtq_queue,
    status: *mut nrtq_status,
    nrt_status: *mut u32,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(q, "q");
        check_null!(status, "status");
        let (s, n) = queue_of(q).failure().unwrap_or((Status::Ok, 0));
        // SAFETY: non-NULL and, by contract, writable.
        unsafe { *status = s.into() };
        if !nrt_status.is_null() {
            // SAFETY: non-NULL and, by contract, writable.
            unsafe { *nrt_status = n };
        }
        nrtq_status::NRTQ_OK
    })
}
