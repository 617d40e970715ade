//! The completion thread's pass over one queue: under the lock, retire what the device
//! finished, fail the queue on a dead unit or a passed deadline, refill, and plan the next
//! wait; then hand back what must run without the lock (callbacks, the refill and fatal
//! hooks). Also the cheap checks the thread makes between passes.
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use super::config::Delivery;
use super::request::Done;
use super::shared::Shared;
use super::state::{Event, Failure, State};
use super::wait_plan::WaitPlan;
use crate::log::{log, Level};
use crate::status::{Status, NRT_TIMEOUT};
use crate::sys;

/// What one reaping pass produced, for the completion thread to act on unlocked.
pub(crate) struct Pass {
    pub(crate) deliver: VecDeque<Done>,
    pub(crate) fatal: Option<Failure>,
    pub(crate) refill_room: usize,
    pub(crate) wait: WaitPlan,
    /// [`Shared::changes`] when the plan was made.
    pub(crate) changes: u64,
}

impl Shared {
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
}
