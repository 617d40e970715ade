//! One auto-refilling queue: one model on one logical core's COMPUTE execution unit.
//!
//! A request moves `backlog → in flight → done → delivered`, each step by *moving* the
//! request value from one container to the next, and a completion can only be made by
//! consuming the request ([`Request::finish`]). So a request cannot complete twice, and it
//! cannot be forgotten either: every container is emptied by the state machine's actions
//! (retire, fail, cancel) before the queue reaches `Closed`.
//!
//! Locking: one mutex per queue guards all of its state and is held only for bookkeeping
//! and libnrt schedule/sequence calls, never while a user callback runs. Callbacks, the
//! refill hook and the fatal hook run on the completion thread (see `reactor`) with no
//! lock held.
mod config;
mod request;
pub mod state;

pub use config::{CompletionHook, Delivery, FatalHook, QueueConfig, RefillHook, WaitPolicy};
pub(crate) use request::Done;
use request::Request;
pub use request::{Callback, Completion};

use std::collections::{BTreeSet, VecDeque};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::backend::{Channel, Notify, Work};
use crate::log::{log, Level};
use crate::predict::Predictor;
use crate::reactor::ReactorShared;
use crate::runtime::Registry;
use crate::stats::{Histogram, Snapshot};
use crate::status::{
    Error, NrtStatus, Result, Status, NRT_EXEC_UNIT_UNRECOVERABLE, NRT_QUEUE_FULL, NRT_SUCCESS,
    NRT_TIMEOUT,
};
use crate::sys::{self, EventFd};
use crate::trace;
use state::{Action, Event, Failure, State};

/// A request on the device.
struct Flight {
    req: Request,
    seq: u64,
    slot: usize,
    sched_ns: u64,
}

/// Everything the queue's mutex guards.
struct Inner {
    state: State,
    channel: Option<Box<dyn Channel>>,
    next_ticket: u64,
    backlog: VecDeque<Request>,
    in_flight: VecDeque<Flight>,
    free_slots: Vec<usize>,
    /// Completed, not yet handed to a callback (callback mode) or reaped (reap mode).
    done: VecDeque<Done>,
    /// Tickets up to this one have been delivered (callback returned / put up for reaping).
    /// Accepted tickets not yet delivered (callback returned / put up for reaping).
    /// Completion order is ticket order except where the state machine completes requests
    /// early (cancellation, refusal at refill), so a set, not a watermark.
    outstanding: BTreeSet<u64>,
    /// Reap mode: a completion counts as delivered when it is put up for reaping.
    reap_mode: bool,
    /// Reap mode: the reap bell was rung and `done` has not been emptied since.
    reap_rung: bool,
    /// Requests were completed while the device may still hold them (dead XU, deadline,
    /// destroy timeout): the channel's per-request storage must outlive the queue.
    abandoned: bool,
    errors: VecDeque<Completion>,
    errors_dropped: u64,
    predictor: Predictor,
    /// The previous reading of the completed-sequence counter: (when, value).
    last_read: (u64, u64),
    /// Device time to keep queued behind the awaited request (see [`cover_ns`]).
    cover_ns: u64,
    /// The spin window first planned for a request: (sequence number, from, until).
    spin_plan: Option<(u64, u64, u64)>,
    /// Our newest request on the device at the previous reading.
    read_newest: u64,
    /// The request the completion thread is waiting for (spinning stops when it is done).
    wait_seq: u64,
    /// Requests of ours the device has shown it accepts: lowered to what was in flight
    /// when it answered `NRT_QUEUE_FULL`, raised by one every [`PROBE_EVERY`] retired.
    hw_cap: usize,
    since_probe: u64,
    /// Consecutive polls that found nothing (backoff of timed polling).
    misses: u32,
    /// The runtime refused a schedule with `NRT_QUEUE_FULL` and nothing of ours is on the
    /// device to free a slot: retry on a timer.
    blocked_full: bool,
    fatal_pending: Option<Failure>,
    refill_primed: bool,
    waiters: usize,
    /// Submitters blocked in `submit_timeout` waiting for backlog room.
    space_waiters: usize,
    // Counters.
    submitted: u64,
    completed: u64,
    failed: u64,
    cancelled: u64,
    queue_full: u64,
    wakeups: u64,
    submit_to_complete: Histogram,
    complete_to_notify: Histogram,
}

/// The state shared by a queue's handles and the completion thread.
pub(crate) struct Shared {
    pub(crate) id: u64,
    cfg: QueueConfig,
    inner: Mutex<Inner>,
    /// Wakes `wait`/`drain`/destroy when requests complete.
    cond: Condvar,
    /// Wakes blocked submitters when the backlog has drained to half (batched, so a
    /// blocked producer wakes once per half-backlog rather than once per completion).
    space: Condvar,
    reap_bell: Option<EventFd>,
    pub(crate) reactor: Arc<ReactorShared>,
    /// The runtime's list of open queues (this queue removes itself at destroy).
    registry: Arc<Registry>,
    /// Has work anywhere (backlog, device, undelivered): the completion thread only
    /// parks when no queue is active.
    pub(crate) active: AtomicBool,
    /// The completion thread changed what `wait`/`drain`/destroy wait for: it wakes them
    /// (see [`Shared::wake_waiters`]) just before it waits itself, so a drain that returns
    /// finds the completion thread already asleep, not finishing its pass.
    notify_pending: AtomicBool,
    /// Bumped by every accepted submission and every failure outside a pass: a wait plan
    /// made before the number changed may be stale (callbacks that submit, for instance).
    changes: AtomicU64,
}

/// A handle to a queue. Cloning it is cheap; the queue lives until destroyed.
#[derive(Clone)]
pub struct Queue(pub(crate) Arc<Shared>);

/// What one reaping pass produced, for the completion thread to act on unlocked.
pub(crate) struct Pass {
    pub(crate) deliver: VecDeque<Done>,
    pub(crate) fatal: Option<Failure>,
    pub(crate) refill_room: usize,
    pub(crate) wait: WaitPlan,
    /// [`Shared::changes`] when the plan was made.
    pub(crate) changes: u64,
}

/// How the completion thread should wait on this queue's behalf.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct WaitPlan {
    /// Poll this descriptor (and whether it is a bell that must be read to reset).
    pub(crate) fd: Option<(RawFd, bool)>,
    /// Wake no later than this (ns, monotonic).
    pub(crate) wake_at: Option<u64>,
    /// Spin (instead of blocking) while now is in `[spin_from, spin_until)`.
    pub(crate) spin: Option<(u64, u64)>,
}

const MIN_POLL_NS: u64 = 2_000;
const MAX_POLL_NS: u64 = 1_000_000;

/// Device time the balanced policy keeps queued behind the request it waits for: what the
/// completion thread may take from that completion to its refill landing on the device.
/// It sleeps on a timer to the predicted completion, so that is the timer's overshoot
/// (measured by the thread: `margin`, a p95) plus one pass. The overshoot's tail is long
/// on virtual machines: on the 2-vCPU VMs this was tuned on, a 150-µs `ppoll` from an
/// idle vCPU overshoots by 41 µs p50, 83 µs p95, 148 µs p99 and up to 5 ms; so three
/// times the p95 plus 20 µs, bounded to 50–500 µs. Where the device cannot hold that much
/// plus a batch, the cover gives way to half the depth (see [`Inner::batch_target`]).
fn cover_ns(margin_ns: u64) -> u64 {
    (3 * margin_ns + 20_000).clamp(50_000, 500_000)
}

/// Requests whose device time (`est` each) exceeds `cover` (see [`cover_ns`]) by at least
/// half a request, so the margin over the cover is never a sliver.
fn cover_requests(cover: u64, est: u64) -> usize {
    let est = est.max(1);
    (cover + est / 2).div_ceil(est).clamp(1, 1 << 16) as usize
}

/// Completions the balanced policy lets accumulate before it wakes: as many as it takes
/// to cover [`BATCH_NS`] (a 500-µs model wakes per request, a 100-µs one per three), at
/// the price of up to `BATCH_NS` of notification latency for the first of a batch. A
/// wake-up costs the completion thread ~15 µs of CPU on these VMs (timer, context switch,
/// the hypervisor's share), several times what retiring and refilling one request costs.
fn batch_requests(est: u64) -> usize {
    BATCH_NS.div_ceil(est.max(1)).clamp(1, 1 << 16) as usize
}

/// Device time of the completions one balanced wake-up may gather (see [`batch_requests`]).
const BATCH_NS: u64 = 300_000;

/// Retired requests between two probes of a device limit learned from `NRT_QUEUE_FULL`.
const PROBE_EVERY: u64 = 256;

impl Inner {
    fn is_active(&self) -> bool {
        !self.in_flight.is_empty()
            || !self.backlog.is_empty()
            || !self.done.is_empty()
            || self.fatal_pending.is_some()
    }

    fn channel(&mut self) -> &mut dyn Channel {
        self.channel
            .as_deref_mut()
            .expect("channel present until the queue is dropped")
    }

    /// Put `req` on the device. On refusal, gives the request back with the raw status.
    fn schedule(
        &mut self,
        req: Request,
        now: u64,
    ) -> std::result::Result<(), (Request, NrtStatus)> {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => return Err((req, NRT_QUEUE_FULL)),
        };
        match self.channel().schedule(&req.work, slot) {
            Ok(seq) => {
                self.in_flight.push_back(Flight {
                    req,
                    seq,
                    slot,
                    sched_ns: now,
                });
                self.blocked_full = false;
                Ok(())
            }
            Err(st) => {
                self.free_slots.push(slot);
                if st == NRT_QUEUE_FULL {
                    self.queue_full += 1;
                    self.hw_cap = self.in_flight.len().max(1);
                    self.since_probe = 0;
                }
                Err((req, st))
            }
        }
    }

    fn record_done(&mut self, d: &Done, error_cap: usize) {
        self.completed += 1;
        match d.completion.status {
            Status::Ok => {}
            Status::Cancelled => self.cancelled += 1,
            _ => {
                self.failed += 1;
                if error_cap > 0 {
                    if self.errors.len() >= error_cap {
                        self.errors.pop_front();
                        self.errors_dropped += 1;
                    }
                    self.errors.push_back(d.completion);
                }
            }
        }
    }

    fn push_done(&mut self, d: Done, error_cap: usize) {
        self.record_done(&d, error_cap);
        if self.reap_mode {
            self.outstanding.remove(&d.completion.ticket);
        }
        self.done.push_back(d);
    }

    /// Apply an event to the state machine and carry out the action it calls for.
    fn apply(&mut self, event: Event, mut now: u64, queue: u64, error_cap: usize) {
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

    /// Whether a submitter may put its request straight on the device: nothing waits
    /// before it and the device holds fewer than the target depth.
    fn direct_room(&self, cfg: &QueueConfig) -> bool {
        self.backlog.is_empty()
            && !self.free_slots.is_empty()
            && !self.blocked_full
            && self.in_flight.len() < self.target_depth(cfg)
    }

    /// How many requests to keep on the device now: the configured depth, raised (up to
    /// the ceiling, and to what the device has shown it accepts) until the device time
    /// queued behind the request the completion thread waits for covers its wake-up
    /// ([`cover_ns`]), plus a batch ([`batch_requests`]). See [`QueueConfig::max_depth`].
    fn target_depth(&self, cfg: &QueueConfig) -> usize {
        self.depth_plan(cfg).0
    }

    /// (target depth, requests to keep queued behind the awaited one, completions to
    /// gather per wake-up). When the depth cannot hold both the cover and the batch, the
    /// cover shrinks first, but the batch never takes more than half the depth.
    fn depth_plan(&self, cfg: &QueueConfig) -> (usize, usize, usize) {
        let ceiling = cfg.depth.max(cfg.max_depth);
        let (want, cover, batch) = match self.predictor.estimate_ns() {
            _ if !self.predictor.is_warm() => (cfg.depth, 1, 1),
            0 => (ceiling, 1 << 16, 1),
            est => {
                let (c, b) = (cover_requests(self.cover_ns, est), batch_requests(est));
                (c + b, c, b)
            }
        };
        let target = want.clamp(cfg.depth, ceiling).min(self.hw_cap).max(1);
        let cover = cover.min(target - batch.min(target / 2));
        (target, cover, batch)
    }

    /// Predicted completion time of request `seq` (one of ours in flight, or any later
    /// number): from the anchor, one device time per request, except that one of ours
    /// cannot start before it was scheduled (the device may have run dry before it).
    /// Requests of other queues between ours are taken to cost one device time each.
    fn predicted_end(&self, seq: u64) -> Option<u64> {
        let (mut s, mut e) = self.predictor.anchor()?;
        let est = self.predictor.estimate_ns();
        for f in &self.in_flight {
            if f.seq <= s {
                continue;
            }
            if f.seq > seq {
                break;
            }
            e = (e + (f.seq - s - 1) * est).max(f.sched_ns) + est;
            s = f.seq;
        }
        if seq > s {
            e += (seq - s) * est;
        }
        Some(e)
    }

    /// Read the completed-sequence counter at `now` and learn from the reading: the
    /// device-time span, and the anchor (the newest completed request ended after the
    /// previous reading and no later than now; if the device is still busy, the next one
    /// has not ended, so the newest ended less than one device time ago).
    ///
    /// `now` is moved forward to the moment after the read: the counter held `c` by then,
    /// so that is when completions are observed, even if the thread was delayed (a lock,
    /// preemption) between taking `now` and reading.
    fn read_completed(&mut self, now: &mut u64) -> std::result::Result<u64, NrtStatus> {
        let c = self.channel().completed()?;
        *now = sys::now_ns().max(*now);
        let now = *now;
        let (t_prev, c_prev) = self.last_read;
        self.last_read = (now, c);
        let newest = self.in_flight.back().map_or(0, |f| f.seq);
        let busy = newest > c;
        // The device worked without a gap since the previous reading only if a request
        // it already held then is still unfinished (one scheduled since may have found
        // it idle).
        let busy_throughout = busy && c < self.read_newest;
        self.read_newest = newest;
        self.predictor.reading(now, c, busy_throughout);
        let est = self.predictor.estimate_ns();
        if c > c_prev {
            let lo = if busy {
                t_prev.max(now.saturating_sub(est))
            } else {
                t_prev
            };
            let e = self
                .predicted_end(c)
                .map_or(now, |p| p.clamp(lo.min(now), now));
            self.predictor.set_anchor(c, e);
        } else if busy {
            if let Some((s, e)) = self.predictor.anchor() {
                if s == c && e + est <= now {
                    self.predictor.set_anchor(c, (now + 1).saturating_sub(est));
                }
            }
        }
        Ok(c)
    }

    /// Retire every request the device has completed. Returns how many, and whether one
    /// of them reported the execution unit dead.
    /// `now` moves forward to when the completed counter was read.
    fn retire(&mut self, now: &mut u64, queue: u64, error_cap: usize) -> (usize, Option<Failure>) {
        let Some(oldest) = self.in_flight.front().map(|f| f.seq) else {
            return (0, None);
        };
        let (t_prev, c_prev) = self.last_read;
        let anchor = self.predictor.anchor();
        let completed = self.read_completed(now);
        let now = *now;
        let completed = match completed {
            Ok(c) => c,
            Err(st) => {
                log!(
                    Level::Error,
                    "queue {queue}: reading the completed sequence failed with NRT status {st}"
                );
                return (
                    0,
                    Some(Failure {
                        status: Status::QueueFailed,
                        nrt_status: st,
                    }),
                );
            }
        };
        if completed < oldest {
            return (0, None);
        }
        // Time the oldest request of the batch (until busy spans give a better figure):
        // it started when it was scheduled or when the request before it ended.
        let head = &self.in_flight[0];
        let start = match anchor {
            Some((s, e)) if s + 1 == head.seq => head.sched_ns.max(e),
            _ => head.sched_ns,
        };
        let est = self.predictor.estimate_ns();
        if c_prev < head.seq && t_prev > start && now - t_prev <= (est / 4).max(MIN_POLL_NS) {
            // Seen unfinished shortly before: it ended within a narrow interval.
            self.predictor.observe((t_prev + now) / 2 - start, true);
        } else {
            self.predictor.observe(now.saturating_sub(start), false);
        }
        self.misses = 0;
        self.channel().collect_errors();
        let mut n = 0;
        let mut dead = None;
        while self.in_flight.front().is_some_and(|f| f.seq <= completed) {
            let fl = self.in_flight.pop_front().expect("front checked");
            let raw = self.channel().status(fl.seq, fl.slot);
            self.free_slots.push(fl.slot);
            let status = match raw {
                NRT_SUCCESS => Status::Ok,
                NRT_EXEC_UNIT_UNRECOVERABLE => {
                    dead = Some(Failure {
                        status: Status::QueueFailed,
                        nrt_status: raw,
                    });
                    Status::QueueFailed
                }
                _ => Status::ExecError,
            };
            self.submit_to_complete
                .record(now.saturating_sub(fl.req.submit_ns));
            let d = fl.req.finish(status, raw, Some(fl.sched_ns), now, queue);
            self.push_done(d, error_cap);
            n += 1;
        }
        // Probe, now and then, whether the device takes more than it once refused.
        self.since_probe += n as u64;
        if self.since_probe >= PROBE_EVERY {
            self.since_probe = 0;
            self.hw_cap = self.hw_cap.saturating_add(1);
        }
        (n, dead)
    }

    /// Move backlog work onto the device while there is room.
    fn refill(
        &mut self,
        cfg: &QueueConfig,
        now: u64,
        queue: u64,
        error_cap: usize,
    ) -> Option<Failure> {
        let target = self.target_depth(cfg);
        while self.state.schedules()
            && !self.backlog.is_empty()
            && self.in_flight.len() < target
            && !self.free_slots.is_empty()
        {
            let req = self.backlog.pop_front().expect("non-empty");
            match self.schedule(req, now) {
                Ok(()) => {}
                Err((req, NRT_QUEUE_FULL)) => {
                    self.backlog.push_front(req);
                    self.blocked_full = self.in_flight.is_empty();
                    break;
                }
                Err((req, NRT_EXEC_UNIT_UNRECOVERABLE)) => {
                    self.backlog.push_front(req);
                    return Some(Failure {
                        status: Status::QueueFailed,
                        nrt_status: NRT_EXEC_UNIT_UNRECOVERABLE,
                    });
                }
                Err((req, st)) => {
                    log!(
                        Level::Warn,
                        "queue {queue}: runtime refused ticket {} with NRT status {st}",
                        req.ticket
                    );
                    let d = req.finish(Status::Runtime, st, None, now, queue);
                    self.push_done(d, error_cap);
                }
            }
        }
        None
    }

    /// Balanced policy: the index of the in-flight request to wait for. The latest one
    /// with at least [`cover_requests`] requests queued behind it on the unit and at most
    /// [`batch_requests`] unfinished up to it, counted in the unit's sequence numbers, so
    /// other queues' requests on the same unit count too; the oldest when none qualifies.
    fn batch_target(&self, cfg: &QueueConfig) -> usize {
        let Some(newest) = self.in_flight.back().map(|f| f.seq) else {
            return 0;
        };
        let (_, cover, batch) = self.depth_plan(cfg);
        let (cover, batch) = (cover as u64, batch as u64);
        let done = self.last_read.1;
        let mut idx = 0;
        for (i, f) in self.in_flight.iter().enumerate() {
            if newest - f.seq < cover || f.seq.saturating_sub(done) > batch {
                break;
            }
            idx = i;
        }
        idx
    }

    /// How the completion thread should wait for this queue, and for which request.
    ///
    /// Balanced: wait for the request after which the device still holds [`cover_ns`] of
    /// work (so one wake-up retires a batch while the device keeps busy), by sleeping
    /// until its predicted end; spin only within `spin` of it. Low latency: wait for the
    /// oldest, sleeping until the timer's measured overshoot (`margin_ns`) before its
    /// predicted end, then spinning. When no prediction exists or it has passed: block on
    /// the runtime's notification for that request, or (SDK 2.29, none) poll with
    /// exponential backoff.
    fn plan(
        &mut self,
        cfg: &QueueConfig,
        now: u64,
        margin_ns: u64,
        excess: &dyn Fn(u64) -> u64,
    ) -> WaitPlan {
        let mut plan = WaitPlan::default();
        self.cover_ns = cover_ns(margin_ns);
        if self.blocked_full {
            // Someone else holds the XU's slots; nothing of ours will ring. Retry soon.
            let step = (MIN_POLL_NS * 25) << self.misses.min(5);
            self.misses = self.misses.saturating_add(1);
            plan.wake_at = Some(now + step.min(MAX_POLL_NS));
            return plan;
        }
        let n = self.in_flight.len();
        let Some(oldest) = self.in_flight.front() else {
            return plan;
        };
        if let Some(d) = cfg.deadline {
            plan.wake_at = Some(oldest.sched_ns + d.as_nanos() as u64);
        }
        let est = self.predictor.estimate_ns();
        let warm = self.predictor.is_warm();
        let trusted = self.predictor.is_trusted();
        // Sleeping to a completion that leaves `cover` requests queued loses, per wake-up,
        // the timer overshoot beyond their device time; when that would idle the device
        // more than 5% of the time (a 5-µs model: 4 × 5 µs queued against overshoots of
        // ~40 µs), the balanced policy polls instead, as io_uring's hybrid mode does.
        let (_, cover, batch) = self.depth_plan(cfg);
        let polling = trusted && {
            let queued = (cover as u64).saturating_mul(est);
            let lost = excess(queued);
            let gathered = batch
                .min(self.target_depth(cfg).saturating_sub(cover))
                .max(1);
            lost * 20 > (gathered as u64).saturating_mul(est) + lost
        };
        let idx = match cfg.policy {
            WaitPolicy::Balanced if trusted && est > 0 && !polling => self.batch_target(cfg),
            _ => 0,
        };
        let seq = self.in_flight[idx].seq;
        self.wait_seq = seq;
        let spin_ns = cfg.spin.as_nanos() as u64;
        let earliest = |a: Option<u64>, b: u64| Some(a.map_or(b, |a: u64| a.min(b)));
        log!(
            Level::Debug,
            "plan: {n} on device (target {}), waiting for #{seq} (index {idx}), device time \
             {est} ns, predicted in {:?} ns, timer margin {margin_ns} ns",
            self.target_depth(cfg),
            self.predicted_end(seq).map(|e| e as i64 - now as i64)
        );
        if let Some(end) = self.predicted_end(seq).filter(|_| trusted) {
            let (lead, tail) = match cfg.policy {
                WaitPolicy::Balanced if polling => (spin_ns.max(margin_ns), spin_ns.max(margin_ns)),
                WaitPolicy::Balanced => (spin_ns, spin_ns),
                // Twice the timer's p95 overshoot, so even a late timer fires before the
                // completion: the low-latency policy pays in spinning for its p99, and
                // keeps spinning as long past a late prediction.
                WaitPolicy::LowLatency => {
                    let lead = spin_ns.max(2 * margin_ns);
                    (lead, lead)
                }
            };
            let (mut from, mut until) = (end.saturating_sub(lead), end + tail);
            // A request seen unfinished pushes its own prediction later; the window first
            // planned for it still bounds the spinning, so a wrong prediction ends in a
            // blocking wait rather than an endless spin.
            match self.spin_plan {
                Some((s, f, u)) if s == seq => (from, until) = (f, u),
                _ => self.spin_plan = Some((seq, from, until)),
            }
            if now < until {
                plan.spin = Some((from, until));
                if now < from {
                    plan.wake_at = earliest(plan.wake_at, from);
                }
                return plan;
            }
        }
        // No trusted prediction, or it has passed: the notification, or polling, first
        // at half the single-request estimate (to see the request unfinished once, which
        // makes the next sample exact), then with exponential backoff.
        match self.channel().notify(seq) {
            Notify::Bell(fd) => plan.fd = Some((fd, true)),
            Notify::Handle(fd) => plan.fd = Some((fd, false)),
            Notify::Predict => {
                let oldest = &self.in_flight[0];
                let half = match self.predictor.anchor() {
                    Some((s, e)) if warm && s + 1 == oldest.seq => oldest.sched_ns.max(e) + est / 2,
                    _ if warm => oldest.sched_ns + est / 2,
                    _ => 0,
                };
                let at = if now < half {
                    half
                } else {
                    // While the device is expected to progress, polls stay within half a
                    // request of each other; after 64 misses (it is stuck, or far slower
                    // than learned) they back off to one a millisecond.
                    let base = (est / 8).max(MIN_POLL_NS);
                    let cap = if self.misses < 64 {
                        (est / 2).max(20_000)
                    } else {
                        MAX_POLL_NS
                    };
                    let step = (base << self.misses.min(10)).min(cap).min(MAX_POLL_NS);
                    self.misses = self.misses.saturating_add(1);
                    now + step
                };
                plan.wake_at = earliest(plan.wake_at, at);
            }
        }
        plan
    }
}

thread_local! {
    /// The id of the reactor whose completion thread this is (0 elsewhere).
    pub(crate) static ON_REACTOR: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Shared {
    pub(crate) fn new(
        id: u64,
        cfg: QueueConfig,
        channel: Box<dyn Channel>,
        reactor: Arc<ReactorShared>,
        registry: Arc<Registry>,
    ) -> Result<Arc<Shared>> {
        cfg.validate()?;
        let reap_bell = match cfg.delivery {
            Delivery::Reap => Some(
                EventFd::new()
                    .map_err(|e| Error::new(Status::Resource, format!("eventfd: {e}")))?,
            ),
            Delivery::Callback => None,
        };
        let inner = Inner {
            state: State::Open,
            channel: Some(channel),
            next_ticket: 1,
            backlog: VecDeque::with_capacity(cfg.backlog.min(4096)),
            in_flight: VecDeque::with_capacity(cfg.slots()),
            free_slots: (0..cfg.slots()).rev().collect(),
            done: VecDeque::new(),
            outstanding: BTreeSet::new(),
            reap_mode: cfg.delivery == Delivery::Reap,
            reap_rung: false,
            abandoned: false,
            errors: VecDeque::new(),
            errors_dropped: 0,
            predictor: Predictor::default(),
            last_read: (0, 0),
            read_newest: 0,
            spin_plan: None,
            cover_ns: cover_ns(crate::reactor::INITIAL_MARGIN_NS),
            wait_seq: 0,
            hw_cap: usize::MAX,
            since_probe: 0,
            misses: 0,
            blocked_full: false,
            fatal_pending: None,
            refill_primed: cfg.on_refill.is_none(),
            waiters: 0,
            space_waiters: 0,
            submitted: 0,
            completed: 0,
            failed: 0,
            cancelled: 0,
            queue_full: 0,
            wakeups: 0,
            submit_to_complete: Histogram::default(),
            complete_to_notify: Histogram::default(),
        };
        Ok(Arc::new(Shared {
            id,
            cfg,
            inner: Mutex::new(inner),
            cond: Condvar::new(),
            space: Condvar::new(),
            reap_bell,
            reactor,
            registry,
            active: AtomicBool::new(false),
            notify_pending: AtomicBool::new(false),
            changes: AtomicU64::new(0),
        }))
    }

    pub(crate) fn config(&self) -> &QueueConfig {
        &self.cfg
    }

    fn on_own_reactor(&self) -> bool {
        ON_REACTOR.with(|r| r.get()) == self.reactor.id
    }

    fn set_active(&self, g: &Inner) {
        let now_active = g.is_active() || !g.refill_primed;
        if now_active && !self.active.swap(true, Ordering::SeqCst) {
            // Idle → active: the completion thread must start watching this queue.
            self.reactor.kick();
        } else if !now_active {
            self.active.store(false, Ordering::SeqCst);
        }
    }

    /// One reaping pass (completion thread): retire, fail, refill, and plan the wait.
    pub(crate) fn pass(&self, now: u64) -> Pass {
        let mut now = now;
        let mut g = self.inner.lock();
        let cap = self.cfg.error_log;
        let id = self.id;
        if g.is_active() {
            g.wakeups += 1;
        }
        let (retired, dead) = g.retire(&mut now, id, cap);
        if let Some(f) = dead {
            g.apply(Event::Fatal(f), now, id, cap);
        }
        if let (Some(d), Some(oldest)) = (self.cfg.deadline, g.in_flight.front()) {
            if now.saturating_sub(oldest.sched_ns) > d.as_nanos() as u64 {
                log!(
                    Level::Error,
                    "queue {id}: ticket {} passed the deadline on the device",
                    oldest.req.ticket
                );
                let f = Failure {
                    status: Status::DeadlineExceeded,
                    nrt_status: NRT_TIMEOUT,
                };
                g.apply(Event::Fatal(f), now, id, cap);
            }
        }
        if let Some(f) = g.refill(&self.cfg, now, id, cap) {
            g.apply(Event::Fatal(f), now, id, cap);
        }
        let mut refill_room = 0;
        if self.cfg.on_refill.is_some() && g.state.accepts() && (retired > 0 || !g.refill_primed) {
            g.refill_primed = true;
            refill_room = g
                .target_depth(&self.cfg)
                .saturating_sub(g.in_flight.len() + g.backlog.len());
        }
        let fatal = g.fatal_pending.take();
        let deliver = match self.cfg.delivery {
            Delivery::Callback => std::mem::take(&mut g.done),
            Delivery::Reap => {
                if !g.done.is_empty() {
                    // The bell stays readable until `reap` empties the queue: ring it
                    // once per such period, not once per pass.
                    if !g.reap_rung {
                        if let Some(b) = &self.reap_bell {
                            b.ring();
                        }
                        g.reap_rung = true;
                    }
                    if g.waiters > 0 {
                        self.notify_pending.store(true, Ordering::Release);
                    }
                }
                VecDeque::new()
            }
        };
        let mut closed = false;
        if g.in_flight.is_empty() && g.backlog.is_empty() && deliver.is_empty() && g.done.is_empty()
        {
            g.apply(Event::Drained, now, id, cap);
            // A destroy waiting on a queue that was already drained learns of `Closed` here.
            closed = matches!(g.state, State::Closed);
        }
        if (retired > 0 || closed) && g.waiters > 0 {
            self.notify_pending.store(true, Ordering::Release);
        }
        if g.space_waiters > 0 && (g.backlog.len() <= self.cfg.backlog / 2 || !g.state.accepts()) {
            self.space.notify_all();
        }
        let reactor = &self.reactor;
        let wait = g.plan(&self.cfg, now, reactor.wake_margin_ns(), &|slack| {
            reactor.expected_excess_ns(slack)
        });
        if deliver.is_empty() {
            let active = g.is_active() && self.cfg.delivery == Delivery::Callback
                || !g.in_flight.is_empty()
                || !g.backlog.is_empty();
            self.active.store(active, Ordering::SeqCst);
        } else {
            self.active.store(true, Ordering::SeqCst);
        }
        Pass {
            deliver,
            fatal,
            refill_room,
            wait,
            changes: self.changes.load(Ordering::Acquire),
        }
    }

    /// Whether the request the completion thread waits for has completed (a cheap check
    /// while spinning). Every reading also sharpens the prediction.
    pub(crate) fn progressed(&self, now: u64) -> bool {
        let mut now = now;
        let mut g = self.inner.lock();
        if g.in_flight.is_empty() {
            return true;
        }
        let want = g.wait_seq;
        match g.read_completed(&mut now) {
            Ok(c) => c >= want,
            Err(_) => true,
        }
    }

    /// After the completion thread ran a batch of callbacks: advance the delivered
    /// watermark, record notification latencies, wake waiters.
    pub(crate) fn delivered(&self, tickets: &[u64], latencies: &[u64]) {
        let mut g = self.inner.lock();
        for t in tickets {
            g.outstanding.remove(t);
        }
        for &l in latencies {
            g.complete_to_notify.record(l);
        }
        if g.in_flight.is_empty() && g.backlog.is_empty() && g.done.is_empty() {
            let now = sys::now_ns();
            g.apply(Event::Drained, now, self.id, self.cfg.error_log);
        }
        if g.waiters > 0 {
            self.notify_pending.store(true, Ordering::Release);
        }
        let active = g.is_active();
        self.active.store(active, Ordering::SeqCst);
    }

    /// Wake the threads in `wait`/`drain`/destroy if a pass or delivery asked for it. The
    /// state they wait on was changed under the queue's lock, so waking them without it
    /// loses nothing.
    pub(crate) fn wake_waiters(&self) {
        if self.notify_pending.swap(false, Ordering::AcqRel) {
            self.cond.notify_all();
        }
    }

    /// A panic escaped a user callback: fail the queue so every request still completes.
    pub(crate) fn fail_panic(&self) {
        let mut g = self.inner.lock();
        let f = Failure {
            status: Status::Panic,
            nrt_status: 0,
        };
        g.apply(Event::Fatal(f), sys::now_ns(), self.id, self.cfg.error_log);
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.active.store(true, Ordering::SeqCst);
    }

    /// See [`Shared::changes`]: whether a plan made at `seen` may be stale.
    pub(crate) fn changed_since(&self, seen: u64) -> bool {
        self.changes.load(Ordering::Acquire) != seen
    }

    pub(crate) fn run_callback(&self, d: Done, now: u64) {
        let Done {
            completion,
            callback,
            ..
        } = d;
        trace::instant(self.id, "delivered", completion.ticket, now);
        match callback {
            Some(cb) => cb(&completion),
            None => {
                if let Some(h) = &self.cfg.on_complete {
                    h(&completion)
                }
            }
        }
    }

    pub(crate) fn retire_ns(d: &Done) -> u64 {
        d.retire_ns
    }

    pub(crate) fn state(&self) -> State {
        self.inner.lock().state
    }
}

impl Queue {
    /// This queue's id (its track in the trace; its number in log messages).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The raw pointer behind this handle (what the C API hands out).
    pub fn as_ptr(&self) -> *const () {
        Arc::as_ptr(&self.0).cast()
    }

    /// Accept one execution of the queue's model on (`input`, `output`). Never blocks: the
    /// request goes straight to the device when there is room and nothing waits before it,
    /// otherwise into the backlog; a full backlog is [`Status::BacklogFull`]. Returns the
    /// request's ticket (per-queue, increasing from 1).
    pub fn submit(&self, work: Work, user_data: u64, callback: Option<Callback>) -> Result<u64> {
        let shared = &self.0;
        let mut g = shared.inner.lock();
        self.submit_locked(&mut g, work, user_data, callback)
    }

    fn submit_locked(
        &self,
        g: &mut MutexGuard<'_, Inner>,
        work: Work,
        user_data: u64,
        callback: Option<Callback>,
    ) -> Result<u64> {
        let shared = &self.0;
        if !g.state.accepts() {
            let (status, nrt) = g.state.refusal();
            return Err(Error::nrt(
                status,
                nrt,
                format!("queue {} no longer accepts work ({:?})", shared.id, g.state),
            ));
        }
        let now = sys::now_ns();
        let ticket = g.next_ticket;
        let req = Request {
            ticket,
            work,
            user_data,
            callback,
            submit_ns: now,
        };
        if g.direct_room(&shared.cfg) {
            match g.schedule(req, now) {
                Ok(()) => {}
                Err((req, NRT_QUEUE_FULL)) => {
                    g.blocked_full = g.in_flight.is_empty();
                    g.backlog.push_back(req);
                }
                Err((req, st)) => {
                    drop(req);
                    if st == NRT_EXEC_UNIT_UNRECOVERABLE {
                        let f = Failure {
                            status: Status::QueueFailed,
                            nrt_status: st,
                        };
                        g.apply(Event::Fatal(f), now, shared.id, shared.cfg.error_log);
                        shared.set_active(g);
                        shared.reactor.kick();
                        return Err(Error::nrt(
                            Status::QueueFailed,
                            st,
                            "the execution unit is unrecoverable",
                        ));
                    }
                    return Err(Error::nrt(
                        Status::Runtime,
                        st,
                        format!("nrta_execute_schedule refused the request (NRT status {st})"),
                    ));
                }
            }
        } else if g.backlog.len() < shared.cfg.backlog {
            g.backlog.push_back(req);
        } else {
            return Err(Error::new(
                Status::BacklogFull,
                format!(
                    "backlog of queue {} is full ({})",
                    shared.id, shared.cfg.backlog
                ),
            ));
        }
        g.next_ticket += 1;
        g.submitted += 1;
        shared.changes.fetch_add(1, Ordering::AcqRel);
        g.outstanding.insert(ticket);
        trace::instant(shared.id, "submitted", ticket, now);
        shared.set_active(g);
        Ok(ticket)
    }

    /// Like [`Queue::submit`], but waits up to `timeout` for backlog room. On the
    /// completion thread (inside a callback) it never waits, since only that thread could
    /// make room.
    pub fn submit_timeout(
        &self,
        work: Work,
        user_data: u64,
        callback: Option<Callback>,
        timeout: Duration,
    ) -> Result<u64> {
        let shared = &self.0;
        let deadline = std::time::Instant::now() + timeout;
        let mut g = shared.inner.lock();
        let mut callback = callback;
        loop {
            let full = g.state.accepts()
                && g.backlog.len() >= shared.cfg.backlog
                && !g.direct_room(&shared.cfg);
            if !full || shared.on_own_reactor() {
                return self.submit_locked(&mut g, work, user_data, callback.take());
            }
            g.space_waiters += 1;
            let timed_out = shared.space.wait_until(&mut g, deadline).timed_out();
            g.space_waiters -= 1;
            if timed_out {
                return self.submit_locked(&mut g, work, user_data, callback.take());
            }
        }
    }

    fn wait_for(
        &self,
        what: &str,
        timeout: Option<Duration>,
        mut cond: impl FnMut(&Inner) -> bool,
    ) -> Result<()> {
        let shared = &self.0;
        if shared.on_own_reactor() {
            return Err(Error::new(
                Status::WouldDeadlock,
                format!("{what} from a completion callback would wait for itself"),
            ));
        }
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        let mut g = shared.inner.lock();
        while !cond(&g) {
            g.waiters += 1;
            let timed_out = match deadline {
                Some(d) => shared.cond.wait_until(&mut g, d).timed_out(),
                None => {
                    shared.cond.wait(&mut g);
                    false
                }
            };
            g.waiters -= 1;
            if timed_out && !cond(&g) {
                return Err(Error::new(Status::Timeout, format!("{what} timed out")));
            }
        }
        Ok(())
    }

    /// Wait until request `ticket` has completed and been delivered (its callback has
    /// returned, or it is ready to reap). `None` waits without limit.
    pub fn wait(&self, ticket: u64, timeout: Option<Duration>) -> Result<()> {
        {
            let g = self.0.inner.lock();
            if ticket == 0 || ticket >= g.next_ticket {
                return Err(Error::new(
                    Status::UnknownTicket,
                    format!("ticket {ticket} was not issued by queue {}", self.0.id),
                ));
            }
        }
        self.wait_for("wait", timeout, |g| !g.outstanding.contains(&ticket))
    }

    /// Wait until the backlog and the device are empty and every completion delivered.
    pub fn drain(&self, timeout: Option<Duration>) -> Result<()> {
        self.wait_for("drain", timeout, |g| {
            g.in_flight.is_empty()
                && g.backlog.is_empty()
                && g.fatal_pending.is_none()
                && g.outstanding.is_empty()
        })
    }

    /// Reap mode: move up to `out.len()` completions, oldest first, into `out`.
    pub fn reap(&self, out: &mut [Completion]) -> Result<usize> {
        let shared = &self.0;
        if shared.cfg.delivery != Delivery::Reap {
            return Err(Error::new(
                Status::WrongMode,
                "reap on a queue in callback mode",
            ));
        }
        let now = sys::now_ns();
        let mut g = shared.inner.lock();
        let mut n = 0;
        while n < out.len() {
            let Some(d) = g.done.pop_front() else { break };
            g.complete_to_notify.record(now.saturating_sub(d.retire_ns));
            trace::instant(shared.id, "delivered", d.completion.ticket, now);
            out[n] = d.completion;
            n += 1;
        }
        if g.done.is_empty() {
            if let Some(b) = &shared.reap_bell {
                b.drain();
            }
            g.reap_rung = false;
        }
        Ok(n)
    }

    /// Reap mode: the descriptor that turns readable when completions are waiting. It is
    /// a hint (liburing-style): after it fires, reap until nothing is returned.
    pub fn reap_fd(&self) -> Option<RawFd> {
        self.0.reap_bell.as_ref().map(|b| b.raw())
    }

    /// Drain up to `out.len()` of the most recent failed requests (oldest first). Each
    /// error is returned once here, independently of its delivery as a completion.
    /// Also returns how many errors were dropped because the log was full.
    pub fn errors(&self, out: &mut [Completion]) -> (usize, u64) {
        let mut g = self.0.inner.lock();
        let mut n = 0;
        while n < out.len() {
            let Some(e) = g.errors.pop_front() else { break };
            out[n] = e;
            n += 1;
        }
        (n, g.errors_dropped)
    }

    /// Counters and latency percentiles now.
    pub fn stats(&self) -> Snapshot {
        let g = self.0.inner.lock();
        Snapshot {
            submitted: g.submitted,
            completed: g.completed,
            failed: g.failed,
            cancelled: g.cancelled,
            in_flight: g.in_flight.len() as u64,
            backlog: g.backlog.len() as u64,
            queue_full: g.queue_full,
            wakeups: g.wakeups,
            submit_to_complete_p50_ns: g.submit_to_complete.percentile(50.0),
            submit_to_complete_p99_ns: g.submit_to_complete.percentile(99.0),
            complete_to_notify_p50_ns: g.complete_to_notify.percentile(50.0),
            complete_to_notify_p99_ns: g.complete_to_notify.percentile(99.0),
            predicted_device_ns: g.predictor.estimate_ns(),
        }
    }

    /// The queue's state and, if it failed, why.
    pub fn failure(&self) -> Option<(Status, NrtStatus)> {
        match self.0.state() {
            State::Failed(f) | State::Closing { failure: Some(f) } => {
                Some((f.status, f.nrt_status))
            }
            _ => None,
        }
    }

    /// Destroy the queue: cancel its backlog, wait up to `timeout` for what the device
    /// holds, deliver every completion, and detach the queue from its runtime. Returns
    /// `Timeout` when requests had to be abandoned on the device (they complete as
    /// cancelled). Refused with `WouldDeadlock` from a callback on the completion thread,
    /// and with `InvalidArgument` when already destroyed.
    pub fn destroy(&self, timeout: Duration) -> Result<()> {
        let shared = &self.0;
        if !shared.registry.contains(self) {
            return Err(Error::new(
                Status::InvalidArgument,
                format!("queue {} was already destroyed", shared.id),
            ));
        }
        self.begin_destroy()?;
        let result = self.finish_destroy(timeout);
        shared.reactor.remove(shared.id);
        let (channel, abandoned) = {
            let mut g = shared.inner.lock();
            (g.channel.take(), g.abandoned)
        };
        shared.registry.remove(self, channel.filter(|_| abandoned));
        trace::flush();
        log!(Level::Info, "queue {} destroyed", shared.id);
        result
    }

    /// Begin destruction: refuse new work and cancel the backlog.
    pub(crate) fn begin_destroy(&self) -> Result<()> {
        let shared = &self.0;
        if shared.on_own_reactor() {
            return Err(Error::new(
                Status::WouldDeadlock,
                "a queue cannot be destroyed from a callback on its own completion thread",
            ));
        }
        let mut g = shared.inner.lock();
        g.apply(
            Event::Destroy,
            sys::now_ns(),
            shared.id,
            shared.cfg.error_log,
        );
        shared.space.notify_all();
        shared.active.store(true, Ordering::SeqCst);
        drop(g);
        shared.reactor.kick();
        Ok(())
    }

    /// Wait up to `timeout` for the queue to reach `Closed`. On timeout, whatever the
    /// device still holds completes as cancelled (with `NRT_TIMEOUT` as its raw status)
    /// and `Timeout` is returned; the queue closes either way.
    pub(crate) fn finish_destroy(&self, timeout: Duration) -> Result<()> {
        let shared = &self.0;
        let closed = |g: &Inner| {
            matches!(g.state, State::Closed)
                || (shared.cfg.delivery == Delivery::Reap
                    && g.in_flight.is_empty()
                    && g.backlog.is_empty())
        };
        match self.wait_for("destroy", Some(timeout), closed) {
            Ok(()) => Ok(()),
            Err(e) if e.status == Status::Timeout => {
                let mut g = shared.inner.lock();
                let now = sys::now_ns();
                g.abandoned |= !g.in_flight.is_empty();
                while let Some(fl) = g.in_flight.pop_front() {
                    let d = fl.req.finish(
                        Status::Cancelled,
                        NRT_TIMEOUT,
                        Some(fl.sched_ns),
                        now,
                        shared.id,
                    );
                    g.push_done(d, shared.cfg.error_log);
                }
                shared.active.store(true, Ordering::SeqCst);
                drop(g);
                shared.reactor.kick();
                // The completion thread delivers those promptly; give it a moment.
                let _ = self.wait_for("destroy", Some(Duration::from_secs(5)), closed);
                Err(Error::new(
                    Status::Timeout,
                    "destroy timed out; requests still on the device were completed as cancelled",
                ))
            }
            Err(e) => Err(e),
        }
    }
}
