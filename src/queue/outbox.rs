//! The outbox: completed requests on their way to the application, and what the queue
//! counts and remembers as they pass.
//!
//! Delivery is in ticket order, whatever completed a request: the device, a refusal from
//! the backlog, a failure, a cancellation. A completion that overtakes an earlier ticket
//! is held until every earlier one has completed, so "when my last ticket completes, all
//! my earlier slots are free" holds for the application. Every accepted ticket completes
//! exactly once, so the held ones are always released.
//!
//! In callback mode the completion thread takes released completions, runs their
//! callbacks unlocked, and reports back ([`Outbox::delivered`]); in reap mode the
//! application takes them ([`Outbox::reap`]), woken by the reap bell.
use std::collections::{BTreeMap, VecDeque};

use super::request::{Completion, Done};
use crate::stats::Histogram;
use crate::status::Status;
use crate::sys::EventFd;

/// Completions waiting for delivery, in ticket order, with the queue's counters.
pub(super) struct Outbox {
    /// Released, waiting for a callback (callback mode) or a reap (reap mode).
    ready: VecDeque<Done>,
    /// Completed ahead of an earlier ticket, held until it completes.
    held: BTreeMap<u64, Done>,
    /// The lowest ticket not yet released to `ready`.
    next_release: u64,
    /// Every ticket below this has been delivered: its callback returned (callback mode)
    /// or it was put up for reaping (reap mode).
    delivered_below: u64,
    /// Reap mode: the descriptor that turns readable while `ready` is not empty.
    bell: Option<EventFd>,
    /// The bell was rung and `ready` has not been emptied since.
    rung: bool,
    errors: VecDeque<Completion>,
    error_cap: usize,
    errors_dropped: u64,
    completed: u64,
    failed: u64,
    cancelled: u64,
    submit_to_complete: Histogram,
    complete_to_notify: Histogram,
}

/// The outbox's counters, for stats.
pub(super) struct OutboxCounts {
    pub(super) completed: u64,
    pub(super) failed: u64,
    pub(super) cancelled: u64,
    pub(super) submit_to_complete: (u64, u64),
    pub(super) complete_to_notify: (u64, u64),
}

impl Outbox {
    /// `bell`: reap mode's descriptor (`None` in callback mode).
    pub(super) fn new(bell: Option<EventFd>, error_cap: usize) -> Outbox {
        Outbox {
            ready: VecDeque::new(),
            held: BTreeMap::new(),
            next_release: 1,
            delivered_below: 1,
            bell,
            rung: false,
            errors: VecDeque::new(),
            error_cap,
            errors_dropped: 0,
            completed: 0,
            failed: 0,
            cancelled: 0,
            submit_to_complete: Histogram::default(),
            complete_to_notify: Histogram::default(),
        }
    }

    fn reap_mode(&self) -> bool {
        self.bell.is_some()
    }

    /// Take in a completed request: count it, log it if it failed, and release it (with
    /// any held ones it unblocks) in ticket order.
    pub(super) fn push(&mut self, d: Done) {
        self.count(&d.completion);
        let t = d.completion.ticket;
        if t != self.next_release {
            debug_assert!(t > self.next_release, "ticket {t} completed twice");
            self.held.insert(t, d);
            return;
        }
        self.release(d);
        while let Some(d) = self.held.remove(&self.next_release) {
            self.release(d);
        }
    }

    fn release(&mut self, d: Done) {
        self.next_release = d.completion.ticket + 1;
        if self.reap_mode() {
            self.delivered_below = self.next_release;
        }
        self.ready.push_back(d);
    }

    fn count(&mut self, c: &Completion) {
        self.completed += 1;
        match c.status {
            Status::Ok => {}
            Status::Cancelled => self.cancelled += 1,
            _ => {
                self.failed += 1;
                if self.error_cap > 0 {
                    if self.errors.len() >= self.error_cap {
                        self.errors.pop_front();
                        self.errors_dropped += 1;
                    }
                    self.errors.push_back(*c);
                }
            }
        }
    }

    /// A device completion's latency from submit, ns.
    pub(super) fn record_latency(&mut self, submit_to_complete_ns: u64) {
        self.submit_to_complete.record(submit_to_complete_ns);
    }

    /// Whether ticket `t` has been delivered.
    pub(super) fn is_delivered(&self, t: u64) -> bool {
        t < self.delivered_below
    }

    /// Every ticket below this one has been delivered.
    pub(super) fn delivered_below(&self) -> u64 {
        self.delivered_below
    }

    /// Callback mode: whether completions wait for the completion thread.
    pub(super) fn has_callbacks_due(&self) -> bool {
        !self.reap_mode() && !self.ready.is_empty()
    }

    #[cfg(test)]
    /// Every completion released and none held (reap mode: none waiting to be reaped
    /// counts too; those are the application's).
    pub(super) fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.held.is_empty()
    }

    /// Callback mode: the released completions, for the completion thread to run.
    pub(super) fn take_for_callbacks(&mut self) -> VecDeque<Done> {
        if self.reap_mode() {
            return VecDeque::new();
        }
        std::mem::take(&mut self.ready)
    }

    /// Callback mode: the callbacks of every ticket up to `last` have returned.
    pub(super) fn delivered(&mut self, last: u64, latencies: &[u64]) {
        self.delivered_below = self.delivered_below.max(last + 1);
        for &l in latencies {
            self.complete_to_notify.record(l);
        }
    }

    /// Reap mode: make the bell readable if completions wait (once per period until the
    /// application empties the outbox, not once per pass). Returns whether any wait.
    pub(super) fn ring_bell(&mut self) -> bool {
        if self.ready.is_empty() {
            return false;
        }
        if let (Some(b), false) = (&self.bell, self.rung) {
            b.ring();
            self.rung = true;
        }
        true
    }

    /// Reap mode: move up to `out.len()` completions, oldest first, into `out`.
    pub(super) fn reap(&mut self, out: &mut [Completion], now: u64, queue: u64) -> usize {
        let mut n = 0;
        while n < out.len() {
            let Some(d) = self.ready.pop_front() else {
                break;
            };
            self.complete_to_notify
                .record(now.saturating_sub(d.retire_ns));
            crate::trace::instant(queue, "delivered", d.completion.ticket, now);
            out[n] = d.completion;
            n += 1;
        }
        if self.ready.is_empty() {
            if let Some(b) = &self.bell {
                b.drain();
            }
            self.rung = false;
        }
        n
    }

    /// The reap descriptor, while the queue has one.
    pub(super) fn bell_fd(&self) -> Option<std::os::fd::RawFd> {
        self.bell.as_ref().map(|b| b.raw())
    }

    /// At destroy: close the reap descriptor (before destroy returns, so its number is
    /// never closed behind the application's back later).
    pub(super) fn close_bell(&mut self) {
        self.bell = None;
    }

    /// Take up to `out.len()` of the logged errors, oldest first; and how many were
    /// dropped because the log was full.
    pub(super) fn take_errors(&mut self, out: &mut [Completion]) -> (usize, u64) {
        let mut n = 0;
        while n < out.len() {
            let Some(e) = self.errors.pop_front() else {
                break;
            };
            out[n] = e;
            n += 1;
        }
        (n, self.errors_dropped)
    }

    pub(super) fn counts(&self) -> OutboxCounts {
        OutboxCounts {
            completed: self.completed,
            failed: self.failed,
            cancelled: self.cancelled,
            submit_to_complete: (
                self.submit_to_complete.percentile(50.0),
                self.submit_to_complete.percentile(99.0),
            ),
            complete_to_notify: (
                self.complete_to_notify.percentile(50.0),
                self.complete_to_notify.percentile(99.0),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::tests::req;
    use super::*;

    fn done(ticket: u64, status: Status) -> Done {
        req(ticket).finish(status, 0, None, None, 0, 0)
    }

    fn tickets(v: &VecDeque<Done>) -> Vec<u64> {
        v.iter().map(|d| d.completion.ticket).collect()
    }

    #[test]
    fn a_completion_that_overtakes_waits_for_the_earlier_tickets() {
        let mut o = Outbox::new(None, 8);
        o.push(done(1, Status::Ok));
        o.push(done(4, Status::Runtime)); // refused from the backlog, ahead of 2 and 3
        assert_eq!(tickets(&o.take_for_callbacks()), [1]);
        o.push(done(3, Status::Ok));
        assert!(o.take_for_callbacks().is_empty(), "3 and 4 wait for 2");
        o.push(done(2, Status::Ok));
        assert_eq!(tickets(&o.take_for_callbacks()), [2, 3, 4]);
        assert!(o.is_empty());
        // Counted (and logged) when they completed, not when released.
        let c = o.counts();
        assert_eq!((c.completed, c.failed), (4, 1));
    }

    #[test]
    fn callback_mode_delivers_when_the_callbacks_return() {
        let mut o = Outbox::new(None, 8);
        o.push(done(1, Status::Ok));
        o.push(done(2, Status::Ok));
        assert!(o.has_callbacks_due() && !o.is_delivered(1));
        let batch = o.take_for_callbacks();
        assert!(!o.is_delivered(1), "taken is not yet delivered");
        o.delivered(batch.back().unwrap().completion.ticket, &[]);
        assert!(o.is_delivered(2) && !o.is_delivered(3));
        assert_eq!(o.delivered_below(), 3);
    }

    #[test]
    fn reap_mode_delivers_on_release_and_rings_once_per_period() {
        let bell = EventFd::new().unwrap();
        let fd = bell.raw();
        let mut o = Outbox::new(Some(bell), 8);
        assert!(!o.has_callbacks_due());
        o.push(done(2, Status::Cancelled));
        assert!(!o.ring_bell() && !o.is_delivered(2));
        o.push(done(1, Status::Ok));
        assert!(o.is_delivered(2), "released means delivered in reap mode");
        assert!(o.ring_bell());
        assert!(o.ring_bell(), "still waiting; rung only once");
        let mut out = [Completion {
            ticket: 0,
            user_data: 0,
            status: Status::Ok,
            nrt_status: 0,
            stage: None,
        }; 4];
        assert_eq!(o.reap(&mut out, 0, 0), 2);
        assert_eq!((out[0].ticket, out[1].ticket), (1, 2));
        assert!(
            !crate::sys::read_counter(fd),
            "the bell was reset when emptied"
        );
        o.close_bell();
        assert!(o.bell_fd().is_none());
    }

    #[test]
    fn the_error_log_keeps_the_newest_and_counts_the_dropped() {
        let mut o = Outbox::new(None, 2);
        for t in 1..=3 {
            o.push(done(t, Status::ExecError));
        }
        let mut out = [Completion {
            ticket: 0,
            user_data: 0,
            status: Status::Ok,
            nrt_status: 0,
            stage: None,
        }; 4];
        let (n, dropped) = o.take_errors(&mut out);
        assert_eq!((n, dropped), (2, 1));
        assert_eq!((out[0].ticket, out[1].ticket), (2, 3));
    }
}
