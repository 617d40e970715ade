//! Completions at the C edge: the record, the callback types, and the one wrapper that
//! turns a C callback into the engine's Rust callback (used for the per-request callback of
//! a submit and for the queue-wide hooks alike).
use std::sync::Arc;

use super::status::nrtq_status;
use crate::queue::{Callback, Completion, CompletionHook};

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
    ///
    /// With `NRTQ_ERR_DEADLINE`, `NRTQ_ERR_QUEUE_FAILED`, or `NRTQ_ERR_CANCELLED` with
    /// `nrt_status` `NRT_TIMEOUT` (5), the device may still hold the request: free its
    /// tensor sets only after `nrtq_runtime_close` returns (nrtq then stops the runtime when
    /// it owns it, i.e. opened with `init` = true) or after the application's own
    /// `nrt_close`.
    pub status: nrtq_status,
    /// The raw libnrt `NRT_STATUS` behind `status` (0 on success).
    pub nrt_status: u32,
}

/// A completion callback (callback mode). Runs on the runtime's completion thread, one
/// request at a time, with no nrtq lock held. Within a queue, completions are delivered in
/// submission (ticket) order whatever completed them — the device, a refusal by libnrt, an
/// execution error, a dead unit, a deadline, a cancellation, teardown: when ticket N is
/// delivered, every earlier ticket of the queue has been. `completion` is valid only during
/// the call.
///
/// It may call `nrtq_queue_submit` (on any queue). It must not destroy, wait on or drain a
/// queue of the same runtime, nor close the runtime: those return
/// `NRTQ_ERR_WOULD_DEADLOCK`. It should return quickly: while it runs, completions of every
/// queue of the runtime wait. It must not throw (C++) or unwind; a Rust panic in a callback
/// marks the queue failed.
pub type nrtq_completion_fn = Option<unsafe extern "C" fn(completion: *const nrtq_completion)>;

/// The queue-wide completion hook with its `user_data` (set by
/// `nrtq_queue_config_set_completion_hook`): the same contract as `nrtq_completion_fn`,
/// plus the `user_data` given with the hook, so the hook can be bound to an object.
pub type nrtq_completion_hook_fn =
    Option<unsafe extern "C" fn(completion: *const nrtq_completion, user_data: u64)>;

/// The record C sees for a completion.
pub(crate) fn to_c(c: &Completion) -> nrtq_completion {
    nrtq_completion {
        ticket: c.ticket,
        user_data: c.user_data,
        status: c.status.into(),
        nrt_status: c.nrt_status,
    }
}

/// A C function that receives completions, with or without a `user_data` of its own.
#[derive(Clone, Copy)]
pub(crate) enum CTarget {
    /// An `nrtq_completion_fn`.
    Plain(unsafe extern "C" fn(*const nrtq_completion)),
    /// An `nrtq_completion_hook_fn` and its `user_data`.
    WithData(unsafe extern "C" fn(*const nrtq_completion, u64), u64),
}

impl CTarget {
    /// Call the application's function with a record alive for the call.
    fn deliver(self, c: &Completion) {
        let record = to_c(c);
        match self {
            // SAFETY: the application's non-NULL callback (NULL became `None` before a
            // CTarget was made), given a pointer to a record alive for the call, as its
            // typedef documents.
            CTarget::Plain(f) => unsafe { f(&record) },
            // SAFETY: as above, plus the user_data it registered with the hook.
            CTarget::WithData(f, user_data) => unsafe { f(&record, user_data) },
        }
    }

    /// As the queue-wide hook of a `QueueConfig`.
    pub(crate) fn into_hook(self) -> CompletionHook {
        Arc::new(move |c: &Completion| self.deliver(c))
    }

    /// As the per-request callback of a submit.
    pub(crate) fn into_callback(self) -> Callback {
        Box::new(move |c: &Completion| self.deliver(c))
    }
}
