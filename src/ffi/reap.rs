//! Completion records, reap mode and the error log.
use std::ffi::c_int;

use super::config::to_c;
use super::queue::{nrtq_queue, queue_of};
use super::status::{fail, fail_msg, nrtq_status};
use super::{check_null, ffi_boundary};
use crate::queue::Completion;
use crate::status::Status;

/// One completed request. Fixed layout (24 bytes); it will not grow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct nrtq_completion {
    /// The ticket `nrtq_queue_submit` returned.
    pub ticket: u64,
    /// The `user_data` given at submit.
    pub user_data: u64,
    /// The request's outcome: `NRTQ_OK`, `NRTQ_ERR_EXEC`, `NRTQ_ERR_QUEUE_FAILED`,
    /// `NRTQ_ERR_CANCELLED`, `NRTQ_ERR_DEADLINE`, `NRTQ_ERR_RUNTIME` or `NRTQ_ERR_PANIC`.
    pub status: nrtq_status,
    /// The raw libnrt `NRT_STATUS` behind `status` (0 on success).
    pub nrt_status: u32,
}

/// A completion callback (callback mode). Runs on the runtime's completion thread, one
/// request at a time, in completion order (which is submission order within a queue), with
/// no nrtq lock held. `completion` is valid only during the call.
///
/// It may call `nrtq_queue_submit` (on any queue). It must not destroy, wait on or drain a
/// queue of the same runtime, nor close the runtime: those return
/// `NRTQ_ERR_WOULD_DEADLOCK`. It should return quickly: while it runs, completions of every
/// queue of the runtime wait. It must not throw (C++) or unwind; a Rust panic in a callback
/// marks the queue failed.
pub type nrtq_completion_fn = Option<unsafe extern "C" fn(completion: *const nrtq_completion)>;

const EMPTY: Completion = Completion {
    ticket: 0,
    user_data: 0,
    status: Status::Ok,
    nrt_status: 0,
};

fn fill(out: *mut nrtq_completion, got: &[Completion]) {
    for (i, c) in got.iter().enumerate() {
        // SAFETY: the caller passed `cap` writable records at `out` (checked non-NULL) and
        // `got.len() <= cap`.
        unsafe { out.add(i).write(to_c(c)) };
    }
}

/// Reap mode: a descriptor that is readable while completions wait to be reaped, for
/// `poll`/`epoll`/`select`. It is a hint, as with liburing's eventfd: one wake-up may cover
/// many completions, and a wake-up may find none — after it fires, call `nrtq_queue_reap`
/// until it returns 0. The queue owns the descriptor (never read, write or close it); it is
/// valid until the queue is destroyed. It is non-blocking (`O_NONBLOCK`), so a runtime's
/// poller may wait on a `dup` of it (as Go's netpoller does). Writes it to `*fd`. Returns
/// `NRTQ_OK`,
/// `NRTQ_ERR_NULL`, or `NRTQ_ERR_WRONG_MODE` for a callback-mode queue.
#[no_mangle]
pub extern "C" fn nrtq_queue_reap_fd(q: *const nrtq_queue, fd: *mut c_int) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(q, "q");
        check_null!(fd, "fd");
        match queue_of(q).reap_fd() {
            Some(f) => {
                // SAFETY: non-NULL and, by contract, writable.
                unsafe { *fd = f };
                nrtq_status::NRTQ_OK
            }
            None => fail_msg(
                Status::WrongMode,
                "the queue is in callback mode; it has no reap fd",
            ),
        }
    })
}

/// Reap mode: move up to `cap` completions, oldest first, into `out[0..*count]`; never
/// blocks. `out` may be NULL when `cap` is 0. Each completion is returned exactly once.
/// Returns `NRTQ_OK` (with `*count` possibly 0), `NRTQ_ERR_NULL`, or `NRTQ_ERR_WRONG_MODE`
/// for a callback-mode queue. Thread-safe (concurrent reapers split the completions).
#[no_mangle]
pub extern "C" fn nrtq_queue_reap(
    q: *mut nrtq_queue,
    out: *mut nrtq_completion,
    cap: usize,
    count: *mut usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(q, "q");
        check_null!(count, "count");
        if out.is_null() && cap > 0 {
            return fail_msg(Status::NullArgument, "argument `out` is NULL with cap > 0");
        }
        let mut buf = vec![EMPTY; cap.min(4096)];
        match queue_of(q).reap(&mut buf) {
            Ok(n) => {
                fill(out, &buf[..n]);
                // SAFETY: non-NULL and, by contract, writable.
                unsafe { *count = n };
                nrtq_status::NRTQ_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Drain up to `cap` of the queue's most recent failed requests (oldest first) into
/// `out[0..*count]`, each returned once here (independently of its normal delivery as a
/// completion). `*dropped` (may be NULL) receives how many errors were dropped so far
/// because the log (`nrtq_queue_config_set_error_log`) was full. Works in both delivery
/// modes. Returns `NRTQ_OK` or `NRTQ_ERR_NULL`. Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_queue_errors(
    q: *mut nrtq_queue,
    out: *mut nrtq_completion,
    cap: usize,
    count: *mut usize,
    dropped: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(q, "q");
        check_null!(count, "count");
        if out.is_null() && cap > 0 {
            return fail_msg(Status::NullArgument, "argument `out` is NULL with cap > 0");
        }
        let mut buf = vec![EMPTY; cap.min(4096)];
        let (n, d) = queue_of(q).errors(&mut buf);
        fill(out, &buf[..n]);
        // SAFETY: non-NULL and, by contract, writable.
        unsafe { *count = n };
        if !dropped.is_null() {
            // SAFETY: non-NULL and, by contract, writable.
            unsafe { *dropped = d };
        }
        nrtq_status::NRTQ_OK
    })
}
