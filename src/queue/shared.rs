//! What a queue's handles share with the completion thread: the engine behind its lock,
//! the condition variables waiters sleep on, and the flag the completion thread reads
//! without the lock. Every locked change ends in [`Shared::publish`], the one place that
//! decides whether the completion thread must look at the queue and whether waiters must
//! wake.
//!
//! The queue sits below the completion thread and the runtime; it reaches them only
//! through the two small traits here, which they implement.
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::config::{Delivery, QueueConfig};
use super::engine::{Engine, Pass, WaitMark};
use super::lifecycle::{Event, Failure, State};
use super::request::Done;
use crate::backend::Channel;
use crate::status::{Error, Result, Status};
use crate::sys::{self, EventFd};
use crate::trace;

/// The completion thread, as a queue sees it.
pub(crate) trait CompletionThread: Send + Sync {
    /// Look at the queues again now (one became active, or must be looked at).
    fn kick(&self);
    /// Whether the calling thread is this completion thread.
    fn is_current(&self) -> bool;
    /// How late the thread's timed waits end (p95), ns.
    fn wake_margin_ns(&self) -> u64;
    /// How far, on average, its timed waits overshoot `slack` ns.
    fn expected_excess_ns(&self, slack: u64) -> u64;
    /// Stop serving queue `id` (it is being destroyed).
    fn forget(&self, id: u64);
}

/// The runtime a queue belongs to, as the queue sees it.
pub(crate) trait Home: Send + Sync {
    /// Queue `id` is destroyed. `keep`: its channel, when the device may still write into
    /// its per-request storage; the runtime keeps it until the device stops.
    fn detach(&self, id: u64, keep: Option<Box<dyn Channel>>);
}

/// The state shared by a queue's handles and the completion thread.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(super) cfg: QueueConfig,
    pub(super) engine: Mutex<Engine>,
    /// Wakes `wait`/`drain`/destroy.
    cond: Condvar,
    /// Wakes blocked submitters when the backlog has drained to half.
    pub(super) space: Condvar,
    pub(super) thread: Arc<dyn CompletionThread>,
    pub(super) home: Arc<dyn Home>,
    /// [`Engine::needs_thread`] as last published: the completion thread only looks at
    /// (and only parks when none is) active.
    active: AtomicBool,
    /// The completion thread changed what waiters wait for: it wakes them just before it
    /// waits itself (see [`Shared::wake_waiters`]), so a drain that returns finds the
    /// thread asleep, not finishing its pass.
    notify_pending: AtomicBool,
    /// Bumped by every change made outside a pass (submits from callbacks, for
    /// instance): a wait plan made before may be stale.
    changes: AtomicU64,
}

impl Shared {
    /// A queue built from its stages' channels (and, for a pipeline, its device slots).
    pub(crate) fn with_parts(
        id: u64,
        cfg: QueueConfig,
        parts: super::Parts,
        thread: Arc<dyn CompletionThread>,
        home: Arc<dyn Home>,
    ) -> Result<Arc<Shared>> {
        cfg.validate()?;
        let reap_bell = match cfg.delivery {
            Delivery::Reap => Some(
                EventFd::new()
                    .map_err(|e| Error::new(Status::Resource, format!("eventfd: {e}")))?,
            ),
            Delivery::Callback => None,
        };
        let engine = Engine::new(id, &cfg, parts, reap_bell, thread.wake_margin_ns());
        let shared = Arc::new(Shared {
            id,
            cfg,
            engine: Mutex::new(engine),
            cond: Condvar::new(),
            space: Condvar::new(),
            thread,
            home,
            active: AtomicBool::new(false),
            notify_pending: AtomicBool::new(false),
            changes: AtomicU64::new(0),
        });
        // Pull mode starts by asking for work.
        let mut g = shared.engine.lock();
        let mark = g.wait_mark();
        shared.publish(&mut g, mark);
        drop(g);
        Ok(shared)
    }

    pub(crate) fn config(&self) -> &QueueConfig {
        &self.cfg
    }

    pub(crate) fn state(&self) -> State {
        self.engine.lock().state()
    }

    /// Whether the completion thread should look at this queue.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    /// Lock the engine, remembering what waiters wait on, for [`Shared::publish`].
    pub(super) fn lock(&self) -> (MutexGuard<'_, Engine>, WaitMark) {
        let g = self.engine.lock();
        let mark = g.wait_mark();
        (g, mark)
    }

    /// After every locked change: close a closing queue that has nothing left, publish
    /// the activity rule (waking the completion thread when the queue turns active), wake
    /// waiters whose condition may now hold, and blocked submitters when there is room.
    pub(super) fn publish(&self, g: &mut Engine, before: WaitMark) {
        g.settle();
        let needed = g.needs_thread(&self.cfg);
        if needed {
            // Idle → active: the thread may be parked. Already active, but a change made
            // outside a pass left callbacks or a fatal hook to run: the thread may be
            // blocked on a device notification that will never come for them.
            let was_active = self.active.swap(true, Ordering::SeqCst);
            if !was_active || (g.has_unlocked_work() && !self.thread.is_current()) {
                self.thread.kick();
            }
        } else {
            self.active.store(false, Ordering::SeqCst);
        }
        if g.waiters > 0 && g.wait_mark() != before {
            if self.thread.is_current() {
                self.notify_pending.store(true, Ordering::Release);
            } else {
                self.cond.notify_all();
            }
        }
        if g.space_waiters > 0 && g.space_freed() {
            self.space.notify_all();
        }
    }

    /// Block on the waiters' condition variable until `deadline` (or for ever).
    pub(super) fn sleep(
        &self,
        g: &mut MutexGuard<'_, Engine>,
        deadline: Option<std::time::Instant>,
    ) -> bool {
        g.waiters += 1;
        let timed_out = match deadline {
            Some(d) => self.cond.wait_until(g, d).timed_out(),
            None => {
                self.cond.wait(g);
                false
            }
        };
        g.waiters -= 1;
        timed_out
    }

    /// A change outside a pass may have made the completion thread's plan stale.
    pub(super) fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
    }

    // ---- the completion thread's calls -------------------------------------------

    /// One pass of the completion thread over this queue.
    pub(crate) fn pass(&self, now: u64) -> (Pass, u64) {
        let (mut g, mark) = self.lock();
        let thread = &self.thread;
        let pass = g.pass(&self.cfg, now, thread.wake_margin_ns(), &|slack| {
            thread.expected_excess_ns(slack)
        });
        self.publish(&mut g, mark);
        (pass, self.changes.load(Ordering::Acquire))
    }

    /// While spinning: whether the awaited request has completed.
    pub(crate) fn progressed(&self, now: u64) -> bool {
        self.engine.lock().progressed(now)
    }

    /// The callbacks of a pass have run: tickets up to `last` are delivered.
    pub(crate) fn delivered(&self, last: u64, latencies: &[u64]) {
        let (mut g, mark) = self.lock();
        g.delivered(last, latencies);
        self.publish(&mut g, mark);
    }

    /// Run one completion's callback (completion thread, no lock held).
    pub(crate) fn run_callback(&self, d: Done, now: u64) {
        let (completion, callback) = d.into_parts();
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

    /// A panic escaped a user callback or the engine: fail the queue so every request
    /// still completes.
    pub(crate) fn fail_panic(&self) {
        let (mut g, mark) = self.lock();
        let f = Failure {
            status: Status::Panic,
            nrt_status: 0,
        };
        g.apply(Event::Fatal(f), sys::now_ns());
        self.changed();
        self.publish(&mut g, mark);
    }

    /// Wake the threads in `wait`/`drain`/destroy if a pass or delivery asked for it.
    pub(crate) fn wake_waiters(&self) {
        if self.notify_pending.swap(false, Ordering::AcqRel) {
            self.cond.notify_all();
        }
    }

    /// Whether a plan made when [`Shared::pass`] returned `seen` may be stale.
    pub(crate) fn changed_since(&self, seen: u64) -> bool {
        self.changes.load(Ordering::Acquire) != seen
    }
}
