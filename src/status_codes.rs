// The one table of nrtq's status codes: add or document a status here and nowhere else.
//
// Read twice with different definitions of `status_table!`:
// - src/status.rs includes it to generate the Rust `Status` enum, the C-ABI `nrtq_status`
//   enum, the codes, names, descriptions, the conversions and the list of all statuses;
// - build.rs includes it to write the C `enum nrtq_status` into include/nrtq.h (cbindgen
//   cannot see macro-generated items, so the header's enum comes from here, not from Rust).
//
// Each row: doc lines (the Rust and the C documentation), then
// `RustName = C_NAME = code => "short description for nrtq_status_str"`.
// Numbers are ABI: never change one, never reuse a retired one.
status_table! {
    /// The result of every fallible nrtq call, and the status of every completed request.
    ///
    /// `NRTQ_OK` is 0. Codes 1–99 mean "not now" (nothing failed; retry later), 100–199 mean
    /// the call itself failed, 200–299 are request outcomes delivered with a completion. Numbers
    /// are ABI: they never change and a retired number is never reused. Values arriving from C
    /// are taken as plain integers (see `nrtq_status_str`), so an unknown value is harmless.
    enum {
        /// Success.
        Ok = NRTQ_OK = 0 => "success",
        /// Not now: the queue's backlog is full; retry after completions arrive.
        BacklogFull = NRTQ_BACKLOG_FULL = 1 => "not now: the queue's backlog is full",
        /// Not now: a wait reached its timeout first.
        Timeout = NRTQ_TIMEOUT = 2 => "not now: the wait timed out",
        /// A required pointer argument was NULL.
        NullArgument = NRTQ_ERR_NULL = 100 => "a required pointer argument was NULL",
        /// An argument was out of range or inconsistent.
        InvalidArgument = NRTQ_ERR_INVALID = 101 => "an argument was invalid",
        /// A panic inside nrtq was caught; the object involved is marked failed.
        Panic = NRTQ_ERR_PANIC = 102 => "internal panic caught; object marked failed",
        /// libnrt could not be loaded (the message lists every place tried and why).
        LoadFailed = NRTQ_ERR_LOAD = 103 => "libnrt could not be loaded",
        /// A libnrt call failed; its raw `NRT_STATUS` is in the message or the record.
        Runtime = NRTQ_ERR_RUNTIME = 104 => "a libnrt call failed",
        /// The loaded libnrt has no explicit async API nrtq can drive.
        Unsupported = NRTQ_ERR_UNSUPPORTED = 105 => "the loaded libnrt has no usable async API",
        /// The runtime still has queues open: destroy them first.
        Busy = NRTQ_ERR_BUSY = 106 => "the runtime still has queues open",
        /// The call would deadlock (e.g. destroying or waiting on a queue from a completion
        /// callback).
        WouldDeadlock = NRTQ_ERR_WOULD_DEADLOCK = 107 => "the call would deadlock",
        /// The queue is being destroyed and accepts no more work.
        Closed = NRTQ_ERR_CLOSED = 108 => "the queue is closing or closed",
        /// The ticket was never issued by this queue.
        UnknownTicket = NRTQ_ERR_UNKNOWN_TICKET = 109 => "the ticket was never issued by this queue",
        /// An OS resource (thread, eventfd, memory) could not be obtained.
        Resource = NRTQ_ERR_RESOURCE = 110 => "an OS resource could not be obtained",
        /// Not valid in the queue's delivery mode (e.g. reaping a callback-mode queue).
        WrongMode = NRTQ_ERR_WRONG_MODE = 111 => "not valid in this queue's delivery mode",
        /// The request has reached the device (or completed): it cannot be cancelled, and
        /// completes with its own status.
        TooLate = NRTQ_ERR_TOO_LATE = 112 => "the request is on the device or completed; it cannot be cancelled",
        /// Request outcome: the device reported an execution error (raw status beside it).
        ExecError = NRTQ_ERR_EXEC = 200 => "the request failed on the device",
        /// Request outcome, or submit refusal: the queue is in its terminal failed state (dead
        /// execution unit, deadline, panic); the raw status that killed it is beside it.
        QueueFailed = NRTQ_ERR_QUEUE_FAILED = 201 => "the queue is in its terminal failed state",
        /// Request outcome: cancelled before it reached the device (`nrtq_queue_cancel`, or
        /// queue teardown), or, with raw status `NRT_TIMEOUT`, abandoned on the device when
        /// destroy timed out.
        Cancelled = NRTQ_ERR_CANCELLED = 202 => "the request was cancelled before reaching the device",
        /// Request outcome: it stayed on the device past the queue's deadline.
        DeadlineExceeded = NRTQ_ERR_DEADLINE = 203 => "the request exceeded the queue's deadline",
    }
}
