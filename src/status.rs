//! nrtq's own status codes: the one result type of the core and (as integers) of the C API.
//!
//! Numbering (fixed ABI; a retired number is never reused):
//! - `0` success;
//! - `1..=99` "not now": nothing is wrong, retry later (backlog full, timed out);
//! - `100..=199` the call itself failed (bad argument, wrong state, libnrt refused);
//! - `200..=299` a request's final status, delivered with its completion.
//!
//! The raw libnrt `NRT_STATUS` behind an error always travels beside this code in its own
//! field (a completion's `nrt_status`), never folded into it.

/// The raw `NRT_STATUS` of libnrt (taken as an integer, so unknown values are harmless).
pub type NrtStatus = u32;

/// Every outcome nrtq reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Success.
    Ok,
    /// Not now: the queue's backlog is full; retry after completions.
    BacklogFull,
    /// Not now: the wait ended at its timeout before the condition held.
    Timeout,
    /// A required pointer argument was NULL.
    NullArgument,
    /// An argument was out of range or inconsistent.
    InvalidArgument,
    /// A Rust panic was caught inside nrtq; the object involved is marked failed.
    Panic,
    /// libnrt could not be loaded, or lacks the symbols nrtq needs.
    LoadFailed,
    /// A libnrt call failed synchronously; its raw status is in the message / record.
    Runtime,
    /// The loaded libnrt has no explicit async API nrtq can drive.
    Unsupported,
    /// The runtime still has queues open (close them first).
    Busy,
    /// The call would deadlock (e.g. destroying a queue from its own callback).
    WouldDeadlock,
    /// The queue is closing or closed and accepts no more work.
    Closed,
    /// The ticket was never issued by this queue.
    UnknownTicket,
    /// An OS resource (thread, eventfd, memory) could not be obtained.
    Resource,
    /// The call is not valid in the queue's delivery mode (e.g. reap in callback mode).
    WrongMode,
    /// The request has reached the device (or completed): it cannot be cancelled.
    TooLate,
    /// Request outcome: the device reported an execution error (raw status beside it).
    ExecError,
    /// Request outcome / submit refusal: the queue is in its terminal failed state (dead
    /// execution unit, deadline passed, panic); the raw status that killed it is beside it.
    QueueFailed,
    /// Request outcome: cancelled before it reached the device (queue teardown).
    Cancelled,
    /// Request outcome: it stayed on the device past the queue's deadline.
    DeadlineExceeded,
}

impl Status {
    /// The C value of this status (see the module doc for the numbering).
    pub const fn code(self) -> u32 {
        match self {
            Status::Ok => 0,
            Status::BacklogFull => 1,
            Status::Timeout => 2,
            Status::NullArgument => 100,
            Status::InvalidArgument => 101,
            Status::Panic => 102,
            Status::LoadFailed => 103,
            Status::Runtime => 104,
            Status::Unsupported => 105,
            Status::Busy => 106,
            Status::WouldDeadlock => 107,
            Status::Closed => 108,
            Status::UnknownTicket => 109,
            Status::Resource => 110,
            Status::WrongMode => 111,
            Status::TooLate => 112,
            Status::ExecError => 200,
            Status::QueueFailed => 201,
            Status::Cancelled => 202,
            Status::DeadlineExceeded => 203,
        }
    }

    /// Every status, for tables and tests.
    pub const fn all() -> [Status; 20] {
        [
            Status::Ok,
            Status::BacklogFull,
            Status::Timeout,
            Status::NullArgument,
            Status::InvalidArgument,
            Status::Panic,
            Status::LoadFailed,
            Status::Runtime,
            Status::Unsupported,
            Status::Busy,
            Status::WouldDeadlock,
            Status::Closed,
            Status::UnknownTicket,
            Status::Resource,
            Status::WrongMode,
            Status::TooLate,
            Status::ExecError,
            Status::QueueFailed,
            Status::Cancelled,
            Status::DeadlineExceeded,
        ]
    }

    /// The status with C value `code`, if there is one (codes come from C as integers).
    pub fn from_code(code: u32) -> Option<Status> {
        Status::all().iter().copied().find(|s| s.code() == code)
    }

    /// The C name and a one-line description, as static strings (no thread state).
    pub const fn describe(self) -> (&'static str, &'static str) {
        match self {
            Status::Ok => ("NRTQ_OK", "success"),
            Status::BacklogFull => ("NRTQ_BACKLOG_FULL", "not now: the queue's backlog is full"),
            Status::Timeout => ("NRTQ_TIMEOUT", "not now: the wait timed out"),
            Status::NullArgument => ("NRTQ_ERR_NULL", "a required pointer argument was NULL"),
            Status::InvalidArgument => ("NRTQ_ERR_INVALID", "an argument was invalid"),
            Status::Panic => (
                "NRTQ_ERR_PANIC",
                "internal panic caught; object marked failed",
            ),
            Status::LoadFailed => ("NRTQ_ERR_LOAD", "libnrt could not be loaded"),
            Status::Runtime => ("NRTQ_ERR_RUNTIME", "a libnrt call failed"),
            Status::Unsupported => (
                "NRTQ_ERR_UNSUPPORTED",
                "the loaded libnrt has no usable async API",
            ),
            Status::Busy => ("NRTQ_ERR_BUSY", "the runtime still has queues open"),
            Status::WouldDeadlock => ("NRTQ_ERR_WOULD_DEADLOCK", "the call would deadlock"),
            Status::Closed => ("NRTQ_ERR_CLOSED", "the queue is closing or closed"),
            Status::UnknownTicket => (
                "NRTQ_ERR_UNKNOWN_TICKET",
                "the ticket was never issued by this queue",
            ),
            Status::Resource => ("NRTQ_ERR_RESOURCE", "an OS resource could not be obtained"),
            Status::WrongMode => (
                "NRTQ_ERR_WRONG_MODE",
                "not valid in this queue's delivery mode",
            ),
            Status::TooLate => (
                "NRTQ_ERR_TOO_LATE",
                "the request is on the device or completed; it cannot be cancelled",
            ),
            Status::ExecError => ("NRTQ_ERR_EXEC", "the request failed on the device"),
            Status::QueueFailed => (
                "NRTQ_ERR_QUEUE_FAILED",
                "the queue is in its terminal failed state",
            ),
            Status::Cancelled => (
                "NRTQ_ERR_CANCELLED",
                "the request was cancelled before reaching the device",
            ),
            Status::DeadlineExceeded => (
                "NRTQ_ERR_DEADLINE",
                "the request exceeded the queue's deadline",
            ),
        }
    }

    /// "Not now" statuses: nothing failed, the caller may retry.
    pub const fn is_retryable(self) -> bool {
        matches!(self, Status::BacklogFull | Status::Timeout)
    }
}

/// A status with its human-readable detail: the error type of the core API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    /// What happened, as a code.
    pub status: Status,
    /// The raw libnrt status behind it, or 0.
    pub nrt_status: NrtStatus,
    /// Details for people (goes to the thread-local last-error message in C).
    pub message: String,
}

impl Error {
    /// An error with a message and no raw libnrt status.
    pub fn new(status: Status, message: impl Into<String>) -> Error {
        Error {
            status,
            nrt_status: 0,
            message: message.into(),
        }
    }

    /// An error caused by a libnrt status.
    pub fn nrt(status: Status, nrt_status: NrtStatus, message: impl Into<String>) -> Error {
        Error {
            status,
            nrt_status,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.describe().0, self.message)?;
        if self.nrt_status != 0 {
            write!(f, " (NRT status {})", self.nrt_status)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Result of the core API.
pub type Result<T> = std::result::Result<T, Error>;
