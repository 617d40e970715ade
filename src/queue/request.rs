//! A request's life as values: [`Request`] (accepted, not yet completed), [`Done`] (its
//! completion, waiting to be delivered) and [`Completion`] (what the application sees).
//! [`Request::finish`] is the only way from the first to the second and consumes the
//! request, which is what makes "completes exactly once" checkable by the compiler.
use crate::backend::Work;
use crate::status::{NrtStatus, Status};
use crate::trace;

/// One finished request, as delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The ticket `submit` returned.
    pub ticket: u64,
    /// The caller's value given at submit.
    pub user_data: u64,
    /// nrtq's status for the request.
    pub status: Status,
    /// The raw libnrt status (0 on success).
    pub nrt_status: NrtStatus,
}

/// A per-request completion callback (callback mode).
pub type Callback = Box<dyn FnOnce(&Completion) + Send>;

/// An accepted request that has not completed yet.
pub(super) struct Request {
    pub(super) ticket: u64,
    pub(super) work: Work,
    pub(super) user_data: u64,
    pub(super) callback: Option<Callback>,
    pub(super) submit_ns: u64,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Request #{}", self.ticket)
    }
}

/// A completed request waiting for delivery.
pub(crate) struct Done {
    pub(super) completion: Completion,
    callback: Option<Callback>,
    pub(super) retire_ns: u64,
    /// The request was scheduled on the device (false: failed or cancelled from the
    /// backlog, or refused by the runtime). Pools re-route only what never got there.
    reached_device: bool,
}

thread_local! {
    /// Whether the completion whose callback is running on this thread reached the
    /// device: set by [`Done::into_parts`], which runs just before the callback (or the
    /// queue-wide hook) on the completion thread. A side channel so that [`Completion`]
    /// keeps its public shape.
    static DELIVERING_REACHED_DEVICE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Inside a completion callback: whether the request being delivered reached the device.
pub(crate) fn delivering_reached_device() -> bool {
    DELIVERING_REACHED_DEVICE.with(|c| c.get())
}

impl Done {
    pub(crate) fn ticket(&self) -> u64 {
        self.completion.ticket
    }

    /// When the request completed (ns), for the notification latency.
    pub(crate) fn retire_ns(&self) -> u64 {
        self.retire_ns
    }

    pub(super) fn into_parts(self) -> (Completion, Option<Callback>) {
        DELIVERING_REACHED_DEVICE.with(|c| c.set(self.reached_device));
        (self.completion, self.callback)
    }
}

impl Request {
    /// The only way to complete a request: consumes it, so it completes once.
    pub(super) fn finish(
        self,
        status: Status,
        nrt_status: NrtStatus,
        sched_ns: Option<u64>,
        now: u64,
        queue: u64,
    ) -> Done {
        let st = status.code();
        match sched_ns {
            Some(s) => {
                trace::slice(queue, "queued", self.ticket, self.submit_ns, s, st);
                trace::slice(queue, "on device", self.ticket, s, now, st);
            }
            None => trace::slice(queue, "queued", self.ticket, self.submit_ns, now, st),
        }
        Done {
            completion: Completion {
                ticket: self.ticket,
                user_data: self.user_data,
                status,
                nrt_status,
            },
            callback: self.callback,
            retire_ns: now,
            reached_device: sched_ns.is_some(),
        }
    }
}
