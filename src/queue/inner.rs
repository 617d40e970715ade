//! Everything one queue's mutex guards, and the one place the lifecycle state machine's
//! actions are carried out ([`Inner::apply`]). The engine's steps (retire, refill, wait
//! planning) are further `impl Inner` blocks in their own modules; they all run with this
//! lock held, which is why they take `&mut Inner` rather than locking themselves.
use std::collections::{BTreeSet, VecDeque};

use super::in_flight::Flight;
use super::request::{Completion, Done, Request};
use super::state::{Action, Event, Failure, State};
use crate::backend::Channel;
use crate::log::{log, Level};
use crate::predict::Predictor;
use crate::stats::Histogram;
use crate::status::Status;

/// Everything the queue's mutex guards.
pub(super) struct Inner {
    pub(super) state: State,
    pub(super) channel: Option<Box<dyn Channel>>,
    pub(super) next_ticket: u64,
    pub(super) backlog: VecDeque<Request>,
    pub(super) in_flight: VecDeque<Flight>,
    pub(super) free_slots: Vec<usize>,
    /// Completed, not yet handed to a callback (callback mode) or reaped (reap mode).
    pub(super) done: VecDeque<Done>,
    /// Accepted tickets not yet delivered (callback returned / put up for reaping).
    /// Completion order is ticket order except where the state machine completes requests
    /// early (cancellation, refusal at refill), so a set, not a watermark.
    pub(super) outstanding: BTreeSet<u64>,
    /// Reap mode: a completion counts as delivered when it is put up for reaping.
    pub(super) reap_mode: bool,
    /// Reap mode: the reap bell was rung and `done` has not been emptied since.
    pub(super) reap_rung: bool,
    /// Requests were completed while the device may still hold them (dead XU, deadline,
    /// destroy timeout): the channel's per-request storage must outlive the queue.
    pub(super) abandoned: bool,
    pub(super) errors: VecDeque<Completion>,
    pub(super) errors_dropped: u64,
    pub(super) predictor: Predictor,
    /// The previous reading of the completed-sequence counter: (when, value).
    pub(super) last_read: (u64, u64),
    /// Device time to keep queued behind the awaited request (see
    /// [`cover_ns`](super::refill::cover_ns)).
    pub(super) cover_ns: u64,
    /// The spin window first planned for a request: (sequence number, from, until).
    pub(super) spin_plan: Option<(u64, u64, u64)>,
    /// Our newest request on the device at the previous reading.
    pub(super) read_newest: u64,
    /// The request the completion thread is waiting for (spinning stops when it is done).
    pub(super) wait_seq: u64,
    /// Requests of ours the device has shown it accepts: lowered to what was in flight
    /// when it answered `NRT_QUEUE_FULL`, raised by one every `PROBE_EVERY` (in
    /// `retire`) retired.
    pub(super) hw_cap: usize,
    pub(super) since_probe: u64,
    /// Consecutive polls that found nothing (backoff of timed polling).
    pub(super) misses: u32,
    /// The runtime refused a schedule with `NRT_QUEUE_FULL` and nothing of ours is on the
    /// device to free a slot: retry on a timer.
    pub(super) blocked_full: bool,
    pub(super) fatal_pending: Option<Failure>,
    pub(super) refill_primed: bool,
    pub(super) waiters: usize,
    /// Submitters blocked in `submit_timeout` waiting for backlog room.
    pub(super) space_waiters: usize,
    // Counters.
    pub(super) submitted: u64,
    pub(super) completed: u64,
    pub(super) failed: u64,
    pub(super) cancelled: u64,
    pub(super) queue_full: u64,
    pub(super) wakeups: u64,
    pub(super) submit_to_complete: Histogram,
    pub(super) complete_to_notify: Histogram,
}

impl Inner {
    pub(super) fn is_active(&self) -> bool {
        !self.in_flight.is_empty()
            || !self.backlog.is_empty()
            || !self.done.is_empty()
            || self.fatal_pending.is_some()
    }

    pub(super) fn channel(&mut self) -> &mut dyn Channel {
        self.channel
            .as_deref_mut()
            .expect("channel present until the queue is dropped")
    }

    pub(super) fn push_done(&mut self, d: Done, error_cap: usize) {
        self.record_done(&d, error_cap);
        if self.reap_mode {
            self.outstanding.remove(&d.completion.ticket);
        }
        self.done.push_back(d);
    }

    /// Apply an event to the state machine and carry out the action it calls for.
    pub(super) fn apply(&mut self, event: Event, mut now: u64, queue: u64, error_cap: usize) {
        let (next, action) = self.state.on(event);
        if next != self.state {
            log!(Level::Info, "queue {queue}: {:?} -> {:?}", self.state, next);
        }
        self.state = next;
        match action {
            Action::None => {}
            Action::CancelBacklog => {
                while let Some(r) = self.backlog.pop_front() {
                    let d = r.finish(Status::Cancelled, 0, None, now, queue);
                    self.push_done(d, error_cap);
                }
            }
            Action::FailAll(f) => {
                // First retire what the device reports finished, with their own statuses,
                // then fail the rest in order: device-held, then backlog.
                self.retire(&mut now, queue, error_cap);
                self.abandoned |= !self.in_flight.is_empty();
                while let Some(fl) = self.in_flight.pop_front() {
                    self.free_slots.push(fl.slot);
                    let d = fl
                        .req
                        .finish(f.status, f.nrt_status, Some(fl.sched_ns), now, queue);
                    self.push_done(d, error_cap);
                }
                while let Some(r) = self.backlog.pop_front() {
                    let d = r.finish(f.status, f.nrt_status, None, now, queue);
                    self.push_done(d, error_cap);
                }
                self.fatal_pending = Some(f);
            }
        }
    }
}
