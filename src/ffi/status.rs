//! Status codes, and mapping core errors to them.
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::{diag, ffi_boundary};
use crate::status::{Error, Status};

/// The result of every fallible nrtq call, and the status of every completed request.
///
/// `NRTQ_OK` is 0. Codes 1–99 mean "not now" (nothing failed; retry later), 100–199 mean
/// the call itself failed, 200–299 are request outcomes delivered with a completion. Numbers
/// are ABI: they never change and a retired number is never reused. Values arriving from C
/// are taken as plain integers (see `nrtq_status_str`), so an unknown value is harmless.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_status {
    /// Success.
    NRTQ_OK = 0,
    /// Not now: the queue's backlog is full; retry after completions arrive.
    NRTQ_BACKLOG_FULL = 1,
    /// Not now: a wait reached its timeout first.
    NRTQ_TIMEOUT = 2,
    /// A required pointer argument was NULL.
    NRTQ_ERR_NULL = 100,
    /// An argument was out of range or inconsistent.
    NRTQ_ERR_INVALID = 101,
    /// A panic inside nrtq was caught; the object involved is marked failed.
    NRTQ_ERR_PANIC = 102,
    /// libnrt could not be loaded (the message lists every place tried and why).
    NRTQ_ERR_LOAD = 103,
    /// A libnrt call failed; its raw `NRT_STATUS` is in the message or the record.
    NRTQ_ERR_RUNTIME = 104,
    /// The loaded libnrt has no explicit async API nrtq can drive.
    NRTQ_ERR_UNSUPPORTED = 105,
    /// The runtime still has queues open: destroy them first.
    NRTQ_ERR_BUSY = 106,
    /// The call would deadlock (e.g. destroying or waiting on a queue from a completion
    /// callback).
    NRTQ_ERR_WOULD_DEADLOCK = 107,
    /// The queue is being destroyed and accepts no more work.
    NRTQ_ERR_CLOSED = 108,
    /// The ticket was never issued by this queue.
    NRTQ_ERR_UNKNOWN_TICKET = 109,
    /// An OS resource (thread, eventfd, memory) could not be obtained.
    NRTQ_ERR_RESOURCE = 110,
    /// Not valid in the queue's delivery mode (e.g. reaping a callback-mode queue).
    NRTQ_ERR_WRONG_MODE = 111,
    /// The request has reached the device (or completed): it cannot be cancelled, and
    /// completes with its own status.
    NRTQ_ERR_TOO_LATE = 112,
    /// Request outcome: the device reported an execution error (raw status beside it).
    NRTQ_ERR_EXEC = 200,
    /// Request outcome, or submit refusal: the queue is in its terminal failed state (dead
    /// execution unit, deadline, panic); the raw status that killed it is beside it.
    NRTQ_ERR_QUEUE_FAILED = 201,
    /// Request outcome: cancelled by queue teardown before it reached the device (or,
    /// with raw status `NRT_TIMEOUT`, abandoned on the device when destroy timed out).
    NRTQ_ERR_CANCELLED = 202,
    /// Request outcome: it stayed on the device past the queue's deadline.
    NRTQ_ERR_DEADLINE = 203,
}

impl From<Status> for nrtq_status {
    fn from(s: Status) -> nrtq_status {
        use nrtq_status::*;
        match s {
            Status::Ok => NRTQ_OK,
            Status::BacklogFull => NRTQ_BACKLOG_FULL,
            Status::Timeout => NRTQ_TIMEOUT,
            Status::NullArgument => NRTQ_ERR_NULL,
            Status::InvalidArgument => NRTQ_ERR_INVALID,
            Status::Panic => NRTQ_ERR_PANIC,
            Status::LoadFailed => NRTQ_ERR_LOAD,
            Status::Runtime => NRTQ_ERR_RUNTIME,
            Status::Unsupported => NRTQ_ERR_UNSUPPORTED,
            Status::Busy => NRTQ_ERR_BUSY,
            Status::WouldDeadlock => NRTQ_ERR_WOULD_DEADLOCK,
            Status::Closed => NRTQ_ERR_CLOSED,
            Status::UnknownTicket => NRTQ_ERR_UNKNOWN_TICKET,
            Status::Resource => NRTQ_ERR_RESOURCE,
            Status::WrongMode => NRTQ_ERR_WRONG_MODE,
            Status::TooLate => NRTQ_ERR_TOO_LATE,
            Status::ExecError => NRTQ_ERR_EXEC,
            Status::QueueFailed => NRTQ_ERR_QUEUE_FAILED,
            Status::Cancelled => NRTQ_ERR_CANCELLED,
            Status::DeadlineExceeded => NRTQ_ERR_DEADLINE,
        }
    }
}

/// Record `e` as this thread's last error and return its code.
pub(crate) fn fail(e: Error) -> nrtq_status {
    diag::set_last_error(&e.to_string());
    e.status.into()
}

/// Record a message and return `status`'s code.
pub(crate) fn fail_msg(status: Status, msg: &str) -> nrtq_status {
    fail(Error::new(status, msg))
}

fn strings() -> &'static Vec<(u32, CString)> {
    static S: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    S.get_or_init(|| {
        Status::all()
            .iter()
            .map(|s| {
                let (name, text) = s.describe();
                (
                    s.code(),
                    CString::new(format!("{name}: {text}")).expect("no NUL in status text"),
                )
            })
            .collect()
    })
}

/// A static, NUL-terminated description of `status` ("NRTQ_BACKLOG_FULL: not now: …").
///
/// Takes the code as a plain integer, so any value is accepted: an unknown one gives
/// "unknown nrtq status". The string is static (never free it) and needs no thread state.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_status_str(status: u32) -> *const c_char {
    ffi_boundary!(c"unknown nrtq status (panic)".as_ptr(), {
        strings()
            .iter()
            .find(|(c, _)| *c == status)
            .map_or(c"unknown nrtq status".as_ptr(), |(_, s)| s.as_ptr())
    })
}
