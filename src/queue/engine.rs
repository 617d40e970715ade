//! The engine: what one queue's lock guards, composed of the parts that own their data
//! (lifecycle, backlog, ring, timing, outbox), and the two things that happen to it — a
//! submit, and a pass of the completion thread (detect → retire → refill → plan). Each
//! reads top to bottom here; the parts do the bookkeeping.
//!
//! Exactly once: a request is a value that sits in one container at a time (backlog →
//! ring → outbox) and is completed only by [`Request::finish`], which consumes it. Every
//! edge that empties a container is in this file: [`Engine::retire`] (ring → outbox),
//! [`Engine::refill`] (backlog → ring, or → outbox on refusal), [`Engine::apply`] (the
//! lifecycle's actions: fail all, cancel the backlog, abandon the ring) and
//! [`Engine::cancel`]. The queue reaches `Closed` only when all three are empty.
use std::collections::VecDeque;

use super::backlog::Backlog;
use super::config::{Delivery, QueueConfig};
use super::lifecycle::{Action, Event, Failure, State};
use super::outbox::Outbox;
use super::request::{Callback, Done, Request};
use super::ring::Ring;
use super::timing::{Timing, WaitPlan};
use crate::backend::{Channel, Outcome, Refusal, Work};
use crate::log::{log, Level};
use crate::stats::Snapshot;
use crate::status::{Error, NrtStatus, Result, Status};
use crate::sys::EventFd;
use crate::trace;

/// `NRT_TIMEOUT`: the raw status of requests given up on (deadline, destroy timeout).
const NRT_TIMEOUT: NrtStatus = neuron_sys::NRT_TIMEOUT;

/// nrtq's status for a device outcome: the one mapping from the backend's words to ours.
fn outcome_status(o: Outcome) -> (Status, NrtStatus) {
    match o {
        Outcome::Ok => (Status::Ok, 0),
        Outcome::ExecError(raw) => (Status::ExecError, raw),
        Outcome::DeadUnit(raw) => (Status::QueueFailed, raw),
    }
}

fn dead_unit(raw: NrtStatus) -> Failure {
    Failure {
        status: Status::QueueFailed,
        nrt_status: raw,
    }
}

/// What the completion thread learns from a pass, to act on with no lock held.
pub(crate) struct Pass {
    /// Callbacks to run, in ticket order (callback mode).
    pub(crate) deliver: VecDeque<Done>,
    /// The queue failed: run the fatal hook (once per queue).
    pub(crate) fatal: Option<Failure>,
    /// Pull mode: ask the refill hook for this many requests.
    pub(crate) refill_room: usize,
    pub(crate) wait: WaitPlan,
}

/// What `wait`, `drain` and destroy wait on; a change wakes them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct WaitMark(u64, bool, State);

/// Everything one queue's mutex guards.
pub(super) struct Engine {
    id: u64,
    lifecycle: State,
    /// The failure whose fatal hook has not run yet.
    fatal_pending: Option<Failure>,
    backlog: Backlog,
    ring: Ring,
    timing: Timing,
    outbox: Outbox,
    next_ticket: u64,
    /// Pull mode: the refill hook has been asked for work at least once.
    refill_primed: bool,
    /// Passes that found work (the completion thread's wake-ups for this queue).
    wakeups: u64,
    /// Threads blocked in wait/drain/destroy, and in `submit_timeout`.
    pub(super) waiters: usize,
    pub(super) space_waiters: usize,
}

impl Engine {
    pub(super) fn new(
        id: u64,
        cfg: &QueueConfig,
        channel: Box<dyn Channel>,
        reap_bell: Option<EventFd>,
        initial_margin_ns: u64,
    ) -> Engine {
        Engine {
            id,
            lifecycle: State::Open,
            fatal_pending: None,
            backlog: Backlog::new(cfg.backlog),
            ring: Ring::new(channel, cfg.slots()),
            timing: Timing::new(initial_margin_ns),
            outbox: Outbox::new(reap_bell, cfg.error_log),
            next_ticket: 1,
            refill_primed: cfg.on_refill.is_none(),
            wakeups: 0,
            waiters: 0,
            space_waiters: 0,
        }
    }

    // ---- submit -------------------------------------------------------------------

    /// Accept one request: straight onto the device when there is room and nothing waits
    /// before it (no hop to the completion thread), otherwise into the backlog. A full
    /// backlog is "not now". A refused submit consumes no ticket.
    pub(super) fn submit(
        &mut self,
        cfg: &QueueConfig,
        work: Work,
        user_data: u64,
        callback: Option<Callback>,
        now: u64,
    ) -> Result<u64> {
        if !self.lifecycle.accepts() {
            return Err(self.refusal());
        }
        let req = Request {
            ticket: self.next_ticket,
            work,
            user_data,
            callback,
            submit_ns: now,
        };
        if self.direct_room(cfg) {
            match self.ring.schedule(req, now) {
                Ok(()) => {}
                Err((req, Refusal::Full)) => self.backlog.push_back(req),
                Err((_, Refusal::DeadUnit(raw))) => {
                    self.apply(Event::Fatal(dead_unit(raw)), now);
                    return Err(Error::nrt(
                        Status::QueueFailed,
                        raw,
                        format!("queue {}: the execution unit is unrecoverable", self.id),
                    ));
                }
                Err((req, Refusal::Other(raw))) => {
                    return Err(Error::nrt(
                        Status::Runtime,
                        raw,
                        format!(
                            "queue {}: nrta_execute_schedule refused the request{}; nothing \
                             was accepted",
                            self.id,
                            self.why_refused(&req)
                        ),
                    ));
                }
            }
        } else if !self.backlog.is_full() {
            self.backlog.push_back(req);
        } else {
            return Err(Error::new(
                Status::BacklogFull,
                format!(
                    "queue {}: the backlog is full ({} requests); retry after completions",
                    self.id, cfg.backlog
                ),
            ));
        }
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        trace::instant(self.id, "submitted", ticket, now);
        Ok(ticket)
    }

    /// Why a submit is refused in the current state.
    fn refusal(&self) -> Error {
        let (status, raw) = self.lifecycle.refusal();
        let why = match self.lifecycle.failure() {
            Some(f) if status == Status::QueueFailed => {
                let (cause, why) = f.status.describe();
                format!(
                    "queue {} failed terminally ({cause}: {why}) and accepts no more work; \
                     destroy it and create a new one",
                    self.id
                )
            }
            _ => format!("queue {} is being destroyed", self.id),
        };
        Error::nrt(status, raw, why)
    }

    /// ": <the tensor that does not fit the model>" after a refusal, or nothing.
    fn why_refused(&self, req: &Request) -> String {
        self.ring
            .mismatch(&req.work)
            .map_or_else(String::new, |m| format!(": {m}"))
    }

    /// Whether a submitter may put its request straight on the device: nothing waits
    /// before it and the device holds fewer than the target depth.
    fn direct_room(&self, cfg: &QueueConfig) -> bool {
        self.backlog.is_empty()
            && self.ring.has_free_slot()
            && !self.ring.blocked_full()
            && self.ring.len() < self.timing.target_depth(cfg, &self.ring)
    }

    /// Whether `submit_timeout` should wait for backlog room.
    pub(super) fn backlog_blocks(&self, cfg: &QueueConfig) -> bool {
        self.lifecycle.accepts() && self.backlog.is_full() && !self.direct_room(cfg)
    }

    /// Take a request that has not reached the device yet back: it completes, once, as
    /// cancelled. One already on the device (or completed) cannot be recalled.
    pub(super) fn cancel(&mut self, ticket: u64, now: u64) -> Result<()> {
        if ticket == 0 || ticket >= self.next_ticket {
            return Err(self.unknown_ticket(ticket));
        }
        match self.backlog.remove(ticket) {
            Some(r) => {
                self.outbox
                    .push(r.finish(Status::Cancelled, 0, None, now, self.id));
                Ok(())
            }
            None => Err(Error::new(
                Status::TooLate,
                format!(
                    "queue {}: ticket {ticket} has reached the device or completed; it cannot \
                     be recalled and completes with its own status",
                    self.id
                ),
            )),
        }
    }

    pub(super) fn unknown_ticket(&self, ticket: u64) -> Error {
        Error::new(
            Status::UnknownTicket,
            format!("ticket {ticket} was not issued by queue {}", self.id),
        )
    }

    pub(super) fn issued(&self, ticket: u64) -> bool {
        ticket != 0 && ticket < self.next_ticket
    }

    // ---- the completion thread's pass --------------------------------------------

    /// One pass: read the counter and retire what the device finished, fail the queue on
    /// a dead unit or a passed deadline, refill the device, plan the next wait, and hand
    /// back what must run unlocked (fatal hook, callbacks, refill hook).
    pub(super) fn pass(
        &mut self,
        cfg: &QueueConfig,
        mut now: u64,
        margin_ns: u64,
        excess: &dyn Fn(u64) -> u64,
    ) -> Pass {
        if self.needs_thread(cfg) {
            self.wakeups += 1;
        }
        let (retired, dead) = self.retire(&mut now);
        if let Some(f) = dead {
            self.apply(Event::Fatal(f), now);
        }
        if let Some(f) = self.deadline_passed(cfg, now) {
            self.apply(Event::Fatal(f), now);
        }
        if let Some(f) = self.refill(cfg, now) {
            self.apply(Event::Fatal(f), now);
        }
        let refill_room = self.pull_room(cfg, retired);
        let wait = self
            .timing
            .plan(cfg, &mut self.ring, now, margin_ns, excess);
        if cfg.delivery == Delivery::Reap {
            self.outbox.ring_bell();
        }
        Pass {
            deliver: self.outbox.take_for_callbacks(),
            fatal: self.fatal_pending.take(),
            refill_room,
            wait,
        }
    }

    /// Retire every request the device has completed (one reading of the counter, a
    /// notification being only a hint). Returns how many, and whether the unit died.
    /// `now` moves forward to when the counter was read.
    fn retire(&mut self, now: &mut u64) -> (usize, Option<Failure>) {
        let Some(oldest) = self.ring.oldest().map(|f| f.seq) else {
            return (0, None);
        };
        let prev = self.timing.prev_reading();
        let completed = match self.ring.read_completed() {
            Ok(c) => c,
            Err(raw) => {
                log!(
                    Level::Error,
                    "queue {}: reading the completed sequence failed with NRT status {raw}",
                    self.id
                );
                return (0, Some(dead_unit(raw)));
            }
        };
        // The counter held `completed` by the time it was read, even if this thread was
        // delayed between taking `now` and reading: that is when the completions are seen.
        *now = crate::sys::now_ns().max(*now);
        let now = *now;
        self.timing.reading(&self.ring, now, completed);
        if completed < oldest {
            return (0, None);
        }
        self.timing.observe_head(&self.ring, now, prev);
        let (id, outbox) = (self.id, &mut self.outbox);
        let mut dead = None;
        let n = self.ring.retire_upto(completed, |f, outcome| {
            if let Outcome::DeadUnit(raw) = outcome {
                dead = Some(dead_unit(raw));
            }
            let (status, raw) = outcome_status(outcome);
            outbox.record_latency(now.saturating_sub(f.req.submit_ns));
            outbox.push(f.req.finish(status, raw, Some(f.sched_ns), now, id));
        });
        (n, dead)
    }

    /// The oldest request on the device has been there longer than the deadline.
    fn deadline_passed(&self, cfg: &QueueConfig, now: u64) -> Option<Failure> {
        let (d, oldest) = (cfg.deadline?, self.ring.oldest()?);
        if now.saturating_sub(oldest.sched_ns) <= d.as_nanos() as u64 {
            return None;
        }
        log!(
            Level::Error,
            "queue {}: ticket {} passed the deadline on the device",
            self.id,
            oldest.req.ticket
        );
        Some(Failure {
            status: Status::DeadlineExceeded,
            nrt_status: NRT_TIMEOUT,
        })
    }

    /// Move backlog work onto the device while there is room. A request the runtime
    /// refuses on its own completes with `Runtime` (in ticket order, by the outbox); a
    /// dead unit fails the queue.
    fn refill(&mut self, cfg: &QueueConfig, now: u64) -> Option<Failure> {
        let target = self.timing.target_depth(cfg, &self.ring);
        while self.lifecycle.schedules() && self.ring.len() < target && self.ring.has_free_slot() {
            let Some(req) = self.backlog.pop_front() else {
                break;
            };
            match self.ring.schedule(req, now) {
                Ok(()) => {}
                Err((req, Refusal::Full)) => {
                    self.backlog.push_front(req);
                    break;
                }
                Err((req, Refusal::DeadUnit(raw))) => {
                    self.backlog.push_front(req);
                    return Some(dead_unit(raw));
                }
                Err((req, Refusal::Other(raw))) => {
                    log!(
                        Level::Warn,
                        "queue {}: the runtime refused ticket {}{}: {}",
                        self.id,
                        req.ticket,
                        self.why_refused(&req),
                        crate::status::nrt_status_text(raw)
                    );
                    self.outbox
                        .push(req.finish(Status::Runtime, raw, None, now, self.id));
                }
            }
        }
        None
    }

    /// Pull mode: how many requests to ask the refill hook for (after completions, and
    /// once at the start).
    fn pull_room(&mut self, cfg: &QueueConfig, retired: usize) -> usize {
        if cfg.on_refill.is_none() || !self.lifecycle.accepts() {
            return 0;
        }
        if retired == 0 && self.refill_primed {
            return 0;
        }
        self.refill_primed = true;
        self.timing
            .target_depth(cfg, &self.ring)
            .saturating_sub(self.ring.len() + self.backlog.len())
    }

    /// While spinning: whether the awaited request has completed (every reading also
    /// sharpens the prediction).
    pub(super) fn progressed(&mut self, now: u64) -> bool {
        if self.ring.is_empty() {
            return true;
        }
        match self.ring.read_completed() {
            Ok(c) => {
                let now = crate::sys::now_ns().max(now);
                self.timing.reading(&self.ring, now, c);
                self.timing.awaited_done(c)
            }
            Err(_) => true,
        }
    }

    /// Callback mode: the callbacks of tickets up to `last` have returned.
    pub(super) fn delivered(&mut self, last: u64, latencies: &[u64]) {
        self.outbox.delivered(last, latencies);
    }

    // ---- the lifecycle ------------------------------------------------------------

    /// Apply an event to the state machine and carry out the action it calls for.
    pub(super) fn apply(&mut self, event: Event, mut now: u64) {
        let (next, action) = self.lifecycle.on(event);
        if next != self.lifecycle {
            log!(
                Level::Info,
                "queue {}: {:?} -> {:?}",
                self.id,
                self.lifecycle,
                next
            );
        }
        self.lifecycle = next;
        let id = self.id;
        match action {
            Action::None => {}
            Action::CancelBacklog => {
                while let Some(r) = self.backlog.pop_front() {
                    self.outbox
                        .push(r.finish(Status::Cancelled, 0, None, now, id));
                }
            }
            Action::FailAll(f) => {
                // What the device reports finished keeps its own status; the rest fails
                // with the cause (the outbox delivers all of it in ticket order).
                self.retire(&mut now);
                let outbox = &mut self.outbox;
                self.ring.abandon_all(|fl| {
                    outbox.push(
                        fl.req
                            .finish(f.status, f.nrt_status, Some(fl.sched_ns), now, id),
                    )
                });
                while let Some(r) = self.backlog.pop_front() {
                    self.outbox
                        .push(r.finish(f.status, f.nrt_status, None, now, id));
                }
                self.fatal_pending = Some(f);
            }
            Action::AbandonInFlight => {
                let outbox = &mut self.outbox;
                self.ring.abandon_all(|fl| {
                    outbox.push(fl.req.finish(
                        Status::Cancelled,
                        NRT_TIMEOUT,
                        Some(fl.sched_ns),
                        now,
                        id,
                    ))
                });
            }
        }
    }

    /// Close a closing queue that has nothing left: no request anywhere, every completion
    /// delivered (callback mode; in reap mode what waits to be reaped is the
    /// application's), the fatal hook run. The one place `Drained` is decided.
    pub(super) fn settle(&mut self) {
        if matches!(self.lifecycle, State::Closing { .. }) && self.is_drained() {
            self.apply(Event::Drained, crate::sys::now_ns());
        }
    }

    pub(super) fn state(&self) -> State {
        self.lifecycle
    }

    pub(super) fn is_closed(&self) -> bool {
        self.lifecycle == State::Closed
    }

    // ---- what the threads around the engine look at ------------------------------

    /// The activity rule: whether this queue needs the completion thread now. Work on
    /// the device or in the backlog, callbacks or a fatal hook to run, or (pull mode) the
    /// refill hook not yet asked.
    pub(super) fn needs_thread(&self, cfg: &QueueConfig) -> bool {
        !self.ring.is_empty()
            || !self.backlog.is_empty()
            || self.fatal_pending.is_some()
            || self.outbox.has_callbacks_due()
            || (cfg.on_refill.is_some() && !self.refill_primed && self.lifecycle.accepts())
    }

    /// Work only the completion thread can do and that no device event announces:
    /// callbacks to run, a fatal hook to fire.
    pub(super) fn has_unlocked_work(&self) -> bool {
        self.outbox.has_callbacks_due() || self.fatal_pending.is_some()
    }

    /// Everything accepted has been delivered and the fatal hook (if any) has run.
    pub(super) fn is_drained(&self) -> bool {
        self.ring.is_empty()
            && self.backlog.is_empty()
            && self.fatal_pending.is_none()
            && self.outbox.delivered_below() == self.next_ticket
    }

    pub(super) fn is_delivered(&self, ticket: u64) -> bool {
        self.outbox.is_delivered(ticket)
    }

    /// What waiters wait on, to tell whether a change should wake them.
    pub(super) fn wait_mark(&self) -> WaitMark {
        WaitMark(
            self.outbox.delivered_below(),
            self.fatal_pending.is_some(),
            self.lifecycle,
        )
    }

    /// Whether blocked submitters should look again.
    pub(super) fn space_freed(&self) -> bool {
        self.backlog.half_empty() || !self.lifecycle.accepts()
    }

    // ---- the application's side of the outbox ------------------------------------

    pub(super) fn reap(&mut self, out: &mut [super::Completion], now: u64) -> usize {
        self.outbox.reap(out, now, self.id)
    }

    pub(super) fn reap_fd(&self) -> Option<std::os::fd::RawFd> {
        self.outbox.bell_fd()
    }

    pub(super) fn errors(&mut self, out: &mut [super::Completion]) -> (usize, u64) {
        self.outbox.take_errors(out)
    }

    /// At destroy: close the reap descriptor and hand back the channel if the device may
    /// still hold abandoned requests.
    pub(super) fn detach(&mut self) -> Option<Box<dyn Channel>> {
        self.outbox.close_bell();
        self.ring.take_channel()
    }

    pub(super) fn stats(&self) -> Snapshot {
        let c = self.outbox.counts();
        Snapshot {
            submitted: self.next_ticket - 1,
            completed: c.completed,
            failed: c.failed,
            cancelled: c.cancelled,
            in_flight: self.ring.len() as u64,
            backlog: self.backlog.len() as u64,
            queue_full: self.ring.queue_full_count(),
            wakeups: self.wakeups,
            submit_to_complete_p50_ns: c.submit_to_complete.0,
            submit_to_complete_p99_ns: c.submit_to_complete.1,
            complete_to_notify_p50_ns: c.complete_to_notify.0,
            complete_to_notify_p99_ns: c.complete_to_notify.1,
            predicted_device_ns: self.timing.device_ns(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ring::tests::StubChannel;
    use super::*;
    use crate::backend::Handle;

    const WORK: Work = Work {
        input: Handle(1),
        output: Handle(2),
    };

    fn engine(cfg: &QueueConfig, stub: StubChannel) -> Engine {
        Engine::new(7, cfg, Box::new(stub), None, 40_000)
    }

    fn pass(e: &mut Engine, cfg: &QueueConfig) -> Pass {
        e.pass(cfg, crate::sys::now_ns(), 40_000, &|_| 0)
    }

    fn delivered(p: &Pass) -> Vec<(u64, Status)> {
        p.deliver
            .iter()
            .map(|d| (d.completion.ticket, d.completion.status))
            .collect()
    }

    #[test]
    fn submit_goes_to_the_device_up_to_the_depth_then_to_the_backlog() {
        let cfg = QueueConfig {
            backlog: 2,
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        for t in 1..=5 {
            assert_eq!(e.submit(&cfg, WORK, 0, None, 0).unwrap(), t);
        }
        let s = e.stats();
        assert_eq!((s.in_flight, s.backlog), (3, 2));
        let err = e.submit(&cfg, WORK, 0, None, 0).unwrap_err();
        assert_eq!(err.status, Status::BacklogFull);
        assert_eq!(e.stats().submitted, 5, "a refused submit takes no ticket");
        assert!(e.needs_thread(&cfg));
    }

    #[test]
    fn deadline_failure_refuses_later_submits_with_queue_failed() {
        let cfg = QueueConfig {
            deadline: Some(std::time::Duration::from_nanos(1)),
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        e.submit(&cfg, WORK, 0, None, 0).unwrap();
        let p = pass(&mut e, &cfg);
        assert_eq!(delivered(&p), [(1, Status::DeadlineExceeded)]);
        assert_eq!(p.fatal.map(|f| f.status), Some(Status::DeadlineExceeded));
        let err = e.submit(&cfg, WORK, 0, None, 0).unwrap_err();
        assert_eq!(
            (err.status, err.nrt_status),
            (Status::QueueFailed, NRT_TIMEOUT)
        );
    }

    #[test]
    fn a_failed_queue_is_drained_once_its_fatal_hook_is_handed_out() {
        let cfg = QueueConfig::default();
        let mut stub = StubChannel::new(8);
        stub.dead = true;
        let mut e = engine(&cfg, stub);
        let before = e.wait_mark();
        let err = e.submit(&cfg, WORK, 0, None, 0).unwrap_err();
        assert_eq!(err.status, Status::QueueFailed);
        assert!(!e.is_drained(), "the fatal hook has not run");
        assert!(e.needs_thread(&cfg), "the completion thread must run it");
        let p = pass(&mut e, &cfg);
        assert!(p.fatal.is_some());
        assert!(e.is_drained());
        assert!(
            e.wait_mark() != before,
            "a drain waiting meanwhile is woken"
        );
        assert!(!e.needs_thread(&cfg));
    }

    #[test]
    fn completions_are_delivered_in_ticket_order_across_refusals() {
        let cfg = QueueConfig {
            depth: 2,
            max_depth: 2,
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        for _ in 0..4 {
            e.submit(&cfg, WORK, 0, None, 0).unwrap();
        }
        // 1 and 2 on the device, 3 and 4 in the backlog; the unit dies before 3 runs.
        e.apply(
            Event::Fatal(dead_unit(neuron_sys::NRT_EXEC_UNIT_UNRECOVERABLE)),
            0,
        );
        let p = pass(&mut e, &cfg);
        let got: Vec<u64> = delivered(&p).iter().map(|d| d.0).collect();
        assert_eq!(got, [1, 2, 3, 4]);
    }

    #[test]
    fn cancel_takes_back_only_what_has_not_reached_the_device() {
        let cfg = QueueConfig {
            depth: 1,
            max_depth: 1,
            ..QueueConfig::default()
        };
        let mut e = engine(&cfg, StubChannel::new(8));
        for _ in 0..3 {
            e.submit(&cfg, WORK, 0, None, 0).unwrap();
        }
        assert_eq!(e.cancel(1, 0).unwrap_err().status, Status::TooLate);
        e.cancel(3, 0).unwrap();
        assert_eq!(e.cancel(3, 0).unwrap_err().status, Status::TooLate);
        assert_eq!(e.cancel(9, 0).unwrap_err().status, Status::UnknownTicket);
        // 3 is cancelled but waits for 1 and 2.
        assert!(pass(&mut e, &cfg).deliver.is_empty());
        assert_eq!(e.stats().cancelled, 1);
    }

    #[test]
    fn destroy_then_abandon_closes_with_everything_completed_once_in_order() {
        let cfg = QueueConfig::default();
        let mut e = engine(&cfg, StubChannel::new(8));
        for _ in 0..5 {
            e.submit(&cfg, WORK, 0, None, 0).unwrap();
        }
        e.apply(Event::Destroy, 0);
        e.settle();
        assert!(!e.is_closed(), "three requests are still on the device");
        e.apply(Event::Abandon, 0);
        let p = pass(&mut e, &cfg);
        assert_eq!(
            delivered(&p),
            [
                (1, Status::Cancelled),
                (2, Status::Cancelled),
                (3, Status::Cancelled),
                (4, Status::Cancelled),
                (5, Status::Cancelled)
            ]
        );
        e.settle();
        assert!(!e.is_closed(), "callbacks have not returned yet");
        e.delivered(5, &[]);
        e.settle();
        assert!(e.is_closed());
        assert!(
            e.detach().is_some(),
            "abandoned: the channel outlives the queue"
        );
    }
}
