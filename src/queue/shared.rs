//! The state one queue's handles share with the completion thread: the locked
//! bookkeeping ([`Inner`]), the condition variables that wake waiters and blocked
//! submitters, the reap bell, and the flags the completion thread reads without the lock.
//! Creation lives here, so every field's starting value is read in one place.
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use super::config::{Delivery, QueueConfig};
use super::inner::Inner;
use super::refill::cover_ns;
use super::state::State;
use crate::backend::Channel;
use crate::predict::Predictor;
use crate::reactor::ReactorShared;
use crate::runtime::Registry;
use crate::stats::Histogram;
use crate::status::{Error, Result, Status};
use crate::sys::EventFd;

/// The state shared by a queue's handles and the completion thread.
pub(crate) struct Shared {
    pub(crate) id: u64,
    pub(super) cfg: QueueConfig,
    pub(super) inner: Mutex<Inner>,
    /// Wakes `wait`/`drain`/destroy when requests complete.
    pub(super) cond: Condvar,
    /// Wakes blocked submitters when the backlog has drained to half (batched, so a
    /// blocked producer wakes once per half-backlog rather than once per completion).
    pub(super) space: Condvar,
    pub(super) reap_bell: Option<EventFd>,
    pub(crate) reactor: Arc<ReactorShared>,
    /// The runtime's list of open queues (this queue removes itself at destroy).
    pub(super) registry: Arc<Registry>,
    /// Has work anywhere (backlog, device, undelivered): the completion thread only
    /// parks when no queue is active.
    pub(crate) active: AtomicBool,
    /// The completion thread changed what `wait`/`drain`/destroy wait for: it wakes them
    /// (see [`Shared::wake_waiters`]) just before it waits itself, so a drain that returns
    /// finds the completion thread already asleep, not finishing its pass.
    pub(super) notify_pending: AtomicBool,
    /// Bumped by every accepted submission and every failure outside a pass: a wait plan
    /// made before the number changed may be stale (callbacks that submit, for instance).
    pub(super) changes: AtomicU64,
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

    pub(super) fn on_own_reactor(&self) -> bool {
        ON_REACTOR.with(|r| r.get()) == self.reactor.id
    }

    pub(super) fn set_active(&self, g: &Inner) {
        let now_active = g.is_active() || !g.refill_primed;
        if now_active && !self.active.swap(true, Ordering::SeqCst) {
            // Idle → active: the completion thread must start watching this queue.
            self.reactor.kick();
        } else if !now_active {
            self.active.store(false, Ordering::SeqCst);
        }
    }

    pub(crate) fn state(&self) -> State {
        self.inner.lock().state
    }
}
