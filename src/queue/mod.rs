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
mod in_flight;
mod inner;
mod refill;
mod request;
mod retire;
pub mod state;
mod wait_plan;

pub use config::{CompletionHook, Delivery, FatalHook, QueueConfig, RefillHook, WaitPolicy};
use inner::Inner;
use refill::cover_ns;
pub(crate) use request::Done;
use request::Request;
pub use request::{Callback, Completion};
use wait_plan::WaitPlan;

use std::collections::{BTreeSet, VecDeque};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

use crate::backend::{Channel, Work};
use crate::log::{log, Level};
use crate::predict::Predictor;
use crate::reactor::ReactorShared;
use crate::runtime::Registry;
use crate::stats::{Histogram, Snapshot};
use crate::status::{
    Error, NrtStatus, Result, Status, NRT_EXEC_UNIT_UNRECOVERABLE, NRT_QUEUE_FULL, NRT_TIMEOUT,
};
use crate::sys::{self, EventFd};
use crate::trace;
use state::{Event, Failure, State};

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

impl Inner {
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
