//! Reap mode and the error log.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use std::ffi::c_int;

use super::completion::to_c;
pub use super::completion::{nrtq_completion, nrtq_completion_fn};
use super::ffi_boundary;
use super::handle::nrtq_queue;
use super::handle::try_queue;
use super::out::{opt_out, try_out, try_out_slice, Out, OutSlice};
use super::status::{fail, fail_msg, nrtq_status};
use crate::queue::Completion;
use crate::status::{Result, Status};

pub(super) const EMPTY: Completion = Completion {
    ticket: 0,
    user_data: 0,
    status: Status::Ok,
    nrt_status: 0,
    stage: None,
};

/// The body of every "reap into the caller's array" entry point (queues and pools):
/// `take` fills up to `out`'s capacity (at most 4096 per call), and what it moved is
/// written out as C records with its count.
pub(super) fn reap_into(
    mut out: OutSlice<'_, nrtq_completion>,
    count: Out<'_, usize>,
    take: impl FnOnce(&mut [Completion]) -> Result<usize>,
) -> nrtq_status {
    let mut buf = vec![EMPTY; out.capacity().min(4096)];
    match take(&mut buf) {
        Ok(n) => {
            out.write_prefix(buf[..n].iter().map(to_c));
            count.write(n);
            nrtq_status::NRTQ_OK
        }
        Err(e) => fail(e),
    }
}

/// The body of every "drain the error log into the caller's array" entry point: `take`
/// fills up to `out`'s capacity and says how many were dropped; each record is made by
/// `record`.
pub(super) fn errors_into<T>(
    mut out: OutSlice<'_, T>,
    count: Out<'_, usize>,
    dropped: Option<Out<'_, u64>>,
    take: impl FnOnce(&mut [Completion]) -> (usize, u64),
    record: impl Fn(&Completion) -> T,
) -> nrtq_status {
    let mut buf = vec![EMPTY; out.capacity().min(4096)];
    let (n, d) = take(&mut buf);
    out.write_prefix(buf[..n].iter().map(record));
    count.write(n);
    if let Some(o) = dropped {
        o.write(d);
    }
    nrtq_status::NRTQ_OK
}

/// Reap mode: a descriptor that is readable while completions wait to be reaped, for
/// `poll`/`epoll`/`select`. It is a hint, as with liburing's eventfd: one wake-up may cover
/// many completions, and a wake-up may find none — after it fires, call `nrtq_queue_reap`
/// until it returns 0. The queue owns the descriptor (never read, write or close it); it is
/// valid until the queue is destroyed, and `nrtq_queue_destroy` closes it before it
/// returns (remove it from your poller first). It is non-blocking (`O_NONBLOCK`), so a
/// runtime's poller may wait on a `dup` of it (as Go's netpoller does). Writes it to `*fd`.
/// Returns `NRTQ_OK`, `NRTQ_ERR_NULL`, or `NRTQ_ERR_WRONG_MODE` for a callback-mode queue.
#[no_mangle]
pub extern "C" fn nrtq_queue_reap_fd(q: *const nrtq_queue, fd: *mut c_int) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let fd = try_out!(fd, "fd");
        reap_fd_into(fd, queue.reap_fd(), "queue")
    })
}

/// The body of every "reap descriptor" entry point: the descriptor, or `NRTQ_ERR_WRONG_MODE`
/// saying that the `owner` (queue, pool) delivers by callback.
pub(super) fn reap_fd_into(out: Out<'_, c_int>, fd: Option<c_int>, owner: &str) -> nrtq_status {
    match fd {
        Some(f) => {
            out.write(f);
            nrtq_status::NRTQ_OK
        }
        None => fail_msg(
            Status::WrongMode,
            &format!("the {owner} is in callback mode; it has no reap fd"),
        ),
    }
}

/// Reap mode: move up to `cap` completions, oldest first, into `out[0..*count]`; never
/// blocks. `(out, cap)` = `(NULL, 0)` is an empty array: nothing is moved and `*count` is
/// 0. Each completion is returned exactly once. Returns `NRTQ_OK` (with `*count` possibly
/// 0), `NRTQ_ERR_NULL` (`q`, `count`, or `out` with `cap` > 0), or `NRTQ_ERR_WRONG_MODE`
/// for a callback-mode queue. Thread-safe (concurrent reapers split the completions).
#[no_mangle]
pub extern "C" fn nrtq_queue_reap(
    q: *mut nrtq_queue,
    out: *mut nrtq_completion,
    cap: usize,
    count: *mut usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let count = try_out!(count, "count");
        let out = try_out_slice!(out, cap, "out");
        reap_into(out, count, |buf| queue.reap(buf))
    })
}

/// Drain up to `cap` of the queue's most recent failed requests (oldest first) into
/// `out[0..*count]`, each returned once here (independently of its normal delivery as a
/// completion). `(out, cap)` = `(NULL, 0)` is an empty array, allowed in both delivery
/// modes: nothing is drained, `*count` is 0, and `*dropped` is still written. `*dropped`
/// (may be NULL) receives how many errors were dropped so far because the log
/// (`nrtq_queue_config_set_error_log`) was full. Works in both delivery modes. Returns
/// `NRTQ_OK` or `NRTQ_ERR_NULL` (`q`, `count`, or `out` with `cap` > 0). Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_queue_errors(
    q: *mut nrtq_queue,
    out: *mut nrtq_completion,
    cap: usize,
    count: *mut usize,
    dropped: *mut u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let queue = try_queue!(q, "q");
        let count = try_out!(count, "count");
        let out = try_out_slice!(out, cap, "out");
        let dropped = opt_out!(dropped);
        errors_into(out, count, dropped, |buf| queue.errors(buf), to_c)
    })
}
