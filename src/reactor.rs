//! The completion thread: one per runtime, named `nrtq-completion-N`, serving all of the
//! runtime's queues.
//!
//! Each pass, for every active queue: read the completed-sequence counter once, retire
//! everything up to it (with its errors), refill the device from the backlog in the same
//! pass, then — with no lock held — fire the fatal hook, run callbacks in completion
//! order, and call the pull-mode refill hook. Then wait:
//! - nothing active anywhere: block on the wake bell with no timeout (an idle runtime
//!   costs no CPU and makes no periodic wake-ups);
//! - a completion due within the spin window: spin on the counters;
//! - otherwise block on the queues' notification descriptors (eventfd / completion
//!   handle) and/or until a predicted completion or deadline, whichever comes first.
//!
//! Any descriptor is only a hint; progress is always read from the counters.
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::log::{log, Level};
use crate::queue::lifecycle::Failure;
use crate::queue::{CompletionThread, Done, Queue, Shared, WaitPlan};
use crate::status::{Error, Result, Status};
use crate::sys::{self, EventFd, PollFd};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The id of the reactor whose completion thread this is (0 on any other thread).
    static CURRENT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Whether the calling thread is some runtime's completion thread (where waiting on a
/// queue, or closing a runtime, would wait for itself).
pub(crate) fn on_a_completion_thread() -> bool {
    CURRENT.with(|c| c.get()) != 0
}

/// The part of the reactor that queues and submitters see.
pub(crate) struct ReactorShared {
    pub(crate) id: u64,
    bell: EventFd,
    /// Set by `kick` next to ringing the bell, so a spinning thread notices without a
    /// system call.
    kicked: AtomicBool,
    /// Set while the thread is (about to be) blocked with nothing active; a submitter that
    /// activates a queue rings the bell.
    queues: Mutex<Vec<Arc<Shared>>>,
    generation: AtomicU64,
    stop: AtomicBool,
    /// CPU time the completion thread has used (ns), for the idle-cost checks.
    cpu_ns: AtomicU64,
    wakeups: AtomicU64,
    /// How late this thread's timed waits end (a high percentile of recent overshoots),
    /// ns: how early the low-latency policy sets its timer before a predicted completion.
    margin_ns: AtomicU64,
    /// The recent overshoots themselves (the first `overshoots_n`), for
    /// [`ReactorShared::expected_excess_ns`].
    overshoots: [AtomicU64; Overshoot::WINDOW],
    overshoots_n: AtomicU64,
}

impl ReactorShared {
    /// Wake the completion thread (a queue became active, or must be looked at now).
    pub(crate) fn add(&self, q: Arc<Shared>) {
        self.queues.lock().push(q);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.kick();
    }
}

impl CompletionThread for ReactorShared {
    fn kick(&self) {
        self.kicked.store(true, Ordering::SeqCst);
        self.bell.ring();
    }

    fn is_current(&self) -> bool {
        CURRENT.with(|c| c.get()) == self.id
    }

    fn forget(&self, id: u64) {
        self.queues.lock().retain(|q| q.id != id);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.kick();
    }

    /// How late a timed wait of the completion thread ends, ns (p95 of the recent ones).
    fn wake_margin_ns(&self) -> u64 {
        self.margin_ns.load(Ordering::Relaxed)
    }

    /// How long, on average, a timed wait of the completion thread overshoots by more
    /// than `slack` ns: the device time a queue would lose per wake-up if it only had
    /// `slack` of work queued behind the completion it sleeps to. The worst 5% are left
    /// out: they are millisecond scheduling stalls that a spinning thread suffers too
    /// (it is preempted instead), and one of them would swing a mean of 64.
    fn expected_excess_ns(&self, slack: u64) -> u64 {
        let n = self.overshoots_n.load(Ordering::Relaxed) as usize;
        if n == 0 {
            return INITIAL_MARGIN_NS.saturating_sub(slack);
        }
        let kept = (n * 95 / 100).max(1);
        // Published sorted, so the first `kept` are the smallest.
        let total: u64 = self.overshoots[..kept]
            .iter()
            .map(|o| o.load(Ordering::Relaxed).saturating_sub(slack))
            .sum();
        total / kept as u64
    }
}

/// The completion thread and its registry of queues.
pub(crate) struct Reactor {
    pub(crate) shared: Arc<ReactorShared>,
    thread: Option<JoinHandle<()>>,
}

impl Reactor {
    /// Start the completion thread.
    pub(crate) fn start() -> Result<Reactor> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let bell =
            EventFd::new().map_err(|e| Error::new(Status::Resource, format!("eventfd: {e}")))?;
        let shared = Arc::new(ReactorShared {
            id,
            bell,
            kicked: AtomicBool::new(false),
            queues: Mutex::new(Vec::new()),
            generation: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            cpu_ns: AtomicU64::new(0),
            wakeups: AtomicU64::new(0),
            margin_ns: AtomicU64::new(INITIAL_MARGIN_NS),
            overshoots: std::array::from_fn(|_| AtomicU64::new(0)),
            overshoots_n: AtomicU64::new(0),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("nrtq-completion-{id}"))
            .spawn(move || run(s))
            .map_err(|e| Error::new(Status::Resource, format!("spawn completion thread: {e}")))?;
        Ok(Reactor {
            shared,
            thread: Some(thread),
        })
    }

    /// CPU time used by the completion thread so far (updated at each park).
    pub(crate) fn cpu_ns(&self) -> u64 {
        self.shared.cpu_ns.load(Ordering::Relaxed)
    }

    /// Times the completion thread returned from a blocking wait.
    pub(crate) fn wakeups(&self) -> u64 {
        self.shared.wakeups.load(Ordering::Relaxed)
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.kick();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The wake-up margin before any measurement: about the p95 overshoot of timed waits on
/// the 2-vCPU VMs this was developed on (23 µs p50, 54–64 µs p99).
pub(crate) const INITIAL_MARGIN_NS: u64 = 40_000;

/// The overshoot of this thread's timed waits (wake-up time minus the time asked for),
/// over the last [`Overshoot::WINDOW`] waits that ended by their timeout.
struct Overshoot {
    samples: [u64; Overshoot::WINDOW],
    next: usize,
    filled: bool,
}

impl Overshoot {
    const WINDOW: usize = 64;
    /// Bounds on the published margin: never spin blind for long, never trust a timer
    /// to the microsecond.
    const MIN_NS: u64 = 3_000;
    const MAX_NS: u64 = 200_000;

    fn new() -> Overshoot {
        Overshoot {
            samples: [0; Overshoot::WINDOW],
            next: 0,
            filled: false,
        }
    }

    /// Record one overshoot; every 16 samples, publish the 95th percentile as the margin
    /// and the samples themselves.
    fn record(&mut self, ns: u64, r: &ReactorShared) {
        self.samples[self.next] = ns;
        self.next = (self.next + 1) % Overshoot::WINDOW;
        self.filled |= self.next == 0;
        if !self.next.is_multiple_of(16) {
            return;
        }
        let n = if self.filled {
            Overshoot::WINDOW
        } else {
            self.next
        };
        let mut v = self.samples;
        let v = &mut v[..n];
        v.sort_unstable();
        let p95 = v[(n * 95 / 100).min(n - 1)];
        r.margin_ns.store(
            p95.clamp(Overshoot::MIN_NS, Overshoot::MAX_NS),
            Ordering::Relaxed,
        );
        for (slot, &o) in r.overshoots.iter().zip(v.iter()) {
            slot.store(o, Ordering::Relaxed);
        }
        r.overshoots_n.store(n as u64, Ordering::Relaxed);
    }
}

/// What the passes of one round ask of the wait that follows, merged over the queues.
struct Merged {
    /// Descriptors to poll (the wake bell first), and which of them are bells to reset.
    fds: Vec<PollFd>,
    bells: Vec<i32>,
    wake_at: Option<u64>,
    /// The earliest spin window opening and the latest closing.
    spin: Option<(u64, u64)>,
    /// Some queue still needs the thread.
    any_active: bool,
    /// A plan may be stale (a hook or callback submitted, or the queue failed): go round
    /// again before waiting.
    again: bool,
}

impl Merged {
    fn new(bell: i32) -> Merged {
        Merged {
            fds: vec![PollFd {
                fd: bell,
                ready: false,
            }],
            bells: Vec::new(),
            wake_at: None,
            spin: None,
            any_active: false,
            again: false,
        }
    }

    fn add(&mut self, w: WaitPlan) {
        if let Some((fd, is_bell)) = w.fd {
            if !self.fds.iter().any(|p| p.fd == fd) {
                self.fds.push(PollFd { fd, ready: false });
                if is_bell {
                    self.bells.push(fd);
                }
            }
        }
        if let Some(t) = w.wake_at {
            self.wake_at = Some(self.wake_at.map_or(t, |w| w.min(t)));
        }
        if let Some((from, until)) = w.spin {
            self.spin = Some(match self.spin {
                Some((f, u)) => (f.min(from), u.max(until)),
                None => (from, until),
            });
        }
    }
}

/// What the thread remembers of one queue between rounds: the plan of its last pass, so
/// that a round passes only the queues with something to do and merges the others' plans
/// as they were.
#[derive(Clone, Copy, Default)]
struct Slot {
    /// The wait plan of the queue's last pass; `None`: pass it next round.
    plan: Option<WaitPlan>,
    /// The queue's change counter when that plan was made.
    seen: u64,
    /// Its descriptor fired in the last wait.
    fd_ready: bool,
    /// Listed in [`Ready::to_wake`].
    listed: bool,
}

impl Slot {
    /// Whether the queue must be passed now: never passed, its descriptor fired, its
    /// timer or spin window is due, a plan with nothing to wait on, or something changed
    /// it outside a pass since.
    fn due(&self, q: &Shared, now: u64) -> bool {
        let Some(p) = self.plan else { return true };
        self.fd_ready
            || p.wake_at.is_some_and(|t| t <= now)
            || p.spin.is_some_and(|(from, _)| from <= now)
            || (p.fd.is_none() && p.wake_at.is_none() && p.spin.is_none())
            || q.changed_since(self.seen)
    }
}

/// The thread's view of its queues: every registered queue (reloaded when the registry
/// changes), and the ready list, the ones it currently serves. A round visits only the
/// ready list, and passes only those of its queues that are due (descriptor fired, timer
/// or spin window reached, changed since their last pass); the others keep the plan of
/// their last pass. An idle queue joins the list when it wakes the thread (its first
/// request rings the bell, and a round after a bell looks at every queue's activity
/// flag once and passes every active queue); a queue leaves it when a pass finds it
/// idle. Under steady load no bell rings (submits to an active queue do not), so a
/// completion costs the pass of its own queue, not one per core.
struct Ready {
    queues: Vec<Arc<Shared>>,
    slots: Vec<Slot>,
    active: Vec<usize>,
    rescan: bool,
    /// The queues served since waiters were last woken (a pass or a delivery may have
    /// left them something to hear, even if the queue has left the ready list since).
    to_wake: Vec<usize>,
}

impl Ready {
    fn new() -> Ready {
        Ready {
            queues: Vec::new(),
            slots: Vec::new(),
            active: Vec::new(),
            rescan: true,
            to_wake: Vec::new(),
        }
    }

    /// Remember the queues of this round for [`Ready::wake_waiters`].
    fn list_served(&mut self) {
        for &i in &self.active {
            let slot = &mut self.slots[i];
            if !slot.listed {
                slot.listed = true;
                self.to_wake.push(i);
            }
        }
    }

    /// Wake the waiters of every queue served since the last call.
    fn wake_waiters(&mut self) {
        for i in self.to_wake.drain(..) {
            self.slots[i].listed = false;
            self.queues[i].wake_waiters();
        }
    }

    fn reload(&mut self, queues: Vec<Arc<Shared>>) {
        // The old list's queues may still owe their waiters a wake-up.
        self.wake_waiters();
        self.slots = vec![Slot::default(); queues.len()];
        self.queues = queues;
        self.rescan = true;
    }

    /// After a bell, which means "look at the queues again now" without saying which:
    /// find the queues that turned active, and pass every active one this round (a
    /// change such as a destroy or a cancel from another thread rings the bell without
    /// touching a queue's descriptor, timer or change counter).
    fn refresh(&mut self) {
        if std::mem::take(&mut self.rescan) {
            self.active = (0..self.queues.len())
                .filter(|&i| self.queues[i].is_active())
                .collect();
            for &i in &self.active {
                self.slots[i].plan = None;
            }
        }
    }
}

fn run(r: Arc<ReactorShared>) {
    CURRENT.with(|c| c.set(r.id));
    sys::set_low_timer_slack();
    let mut ready = Ready::new();
    let mut seen_generation = u64::MAX;
    let mut latencies: Vec<u64> = Vec::new();
    let mut overshoot = Overshoot::new();
    let mut passes_unwaited = 0u32;
    while !r.stop.load(Ordering::SeqCst) {
        ready.rescan |= r.kicked.swap(false, Ordering::SeqCst);
        let g = r.generation.load(Ordering::SeqCst);
        if g != seen_generation {
            ready.reload(r.queues.lock().clone());
            seen_generation = g;
        }
        ready.refresh();
        ready.list_served();
        let merged = pass_all(&mut ready, r.bell.raw(), &mut latencies);
        if r.stop.load(Ordering::SeqCst) {
            break;
        }
        if merged.again {
            // Under steady load the thread may go round without ever waiting; waiters
            // must not starve meanwhile.
            passes_unwaited += 1;
            if passes_unwaited >= 8 {
                passes_unwaited = 0;
                ready.wake_waiters();
            }
            continue;
        }
        passes_unwaited = 0;
        // Everything this round owed to waiters is done: wake them now, before waiting.
        ready.wake_waiters();
        wait(&r, &mut ready, merged, &mut overshoot);
    }
    ready.queues.iter().for_each(|q| q.wake_waiters());
    r.cpu_ns.store(sys::thread_cpu_ns(), Ordering::Relaxed);
}

/// One round over the ready list: pass each queue with something to do (handing its
/// results to the application, unlocked), and merge every served queue's wait plan.
fn pass_all(ready: &mut Ready, bell: i32, latencies: &mut Vec<u64>) -> Merged {
    let mut m = Merged::new(bell);
    let mut still = Vec::with_capacity(ready.active.len());
    for idx in std::mem::take(&mut ready.active) {
        let q = &ready.queues[idx];
        if !q.is_active() {
            ready.slots[idx].plan = None;
            continue;
        }
        let now = sys::now_ns();
        let slot = &mut ready.slots[idx];
        if !slot.due(q, now) {
            m.any_active = true;
            m.add(slot.plan.expect("due without a plan"));
            still.push(idx);
            continue;
        }
        let (pass, changes) = match catch_unwind(AssertUnwindSafe(|| q.pass(now))) {
            Ok(p) => p,
            Err(_) => {
                log!(
                    Level::Error,
                    "queue {}: internal panic while reaping; queue failed",
                    q.id
                );
                q.fail_panic();
                slot.plan = None;
                m.any_active = true;
                still.push(idx);
                continue;
            }
        };
        // The refill hook exists to submit, and a fatal hook changes everything: look
        // again before waiting. Callbacks may submit (or fail the queue) too, which
        // makes this pass's wait plan stale; only then is another pass needed.
        let mut again = pass.refill_room > 0 || pass.fatal.is_some();
        deliver(q, pass.fatal, pass.deliver, pass.refill_room, latencies);
        again |= q.changed_since(changes);
        slot.plan = (!again).then_some(pass.wait);
        slot.seen = changes;
        slot.fd_ready = false;
        m.again |= again;
        if q.is_active() {
            m.any_active = true;
            still.push(idx);
        } else {
            slot.plan = None;
        }
        m.add(pass.wait);
    }
    ready.active = still;
    m
}

/// Park (nothing active), spin (a completion is due within the spin window), or block on
/// the merged descriptors until the earliest wake-up.
fn wait(r: &ReactorShared, ready: &mut Ready, mut m: Merged, overshoot: &mut Overshoot) {
    let now = sys::now_ns();
    if !m.any_active {
        // Park. A submitter that activates a queue after our check rings the bell, so
        // the wake is never lost; there is no timeout, hence no periodic wake-ups.
        r.cpu_ns.store(sys::thread_cpu_ns(), Ordering::Relaxed);
        if ready.queues.iter().any(|q| q.is_active()) {
            ready.rescan = true;
            return;
        }
        sys::poll_readable(&mut m.fds[..1], None);
        r.wakeups.fetch_add(1, Ordering::Relaxed);
        r.bell.drain();
        ready.rescan = true;
        return;
    }
    if let Some((from, until)) = m.spin {
        if now >= from && now < until {
            spin_until_progress(r, ready, until);
            return;
        }
        // Spin window ahead: sleep until it opens (or a descriptor fires).
        m.wake_at = Some(m.wake_at.map_or(from, |w| w.min(from)));
    }
    let timeout = m
        .wake_at
        .map(|t| Duration::from_nanos(t.saturating_sub(now)));
    if timeout.is_some_and(|t| t.is_zero()) {
        return;
    }
    let n = sys::poll_readable(&mut m.fds, timeout);
    r.wakeups.fetch_add(1, Ordering::Relaxed);
    if let (0, Some(t)) = (n, m.wake_at) {
        overshoot.record(sys::now_ns().saturating_sub(t), r);
    }
    if n == 0 {
        return;
    }
    // Reset the bells that rang; what they announced is read from the counters next.
    let mut fired = Vec::new();
    for p in &m.fds {
        if !p.ready {
            continue;
        }
        if p.fd == r.bell.raw() {
            sys::read_counter(p.fd);
            ready.rescan = true;
            continue;
        }
        if m.bells.contains(&p.fd) {
            sys::read_counter(p.fd);
        }
        fired.push(p.fd);
    }
    for &i in &ready.active {
        let slot = &mut ready.slots[i];
        if slot
            .plan
            .and_then(|p| p.fd)
            .is_some_and(|(fd, _)| fired.contains(&fd))
        {
            slot.fd_ready = true;
        }
    }
}

/// Spin on the counters of the queues whose spin window is open until one progresses,
/// `until` passes, or the bell rings.
fn spin_until_progress(r: &ReactorShared, ready: &mut Ready, until: u64) {
    let mut spins = 0u32;
    let spinning: Vec<usize> = ready
        .active
        .iter()
        .copied()
        .filter(|&i| ready.slots[i].plan.is_some_and(|p| p.spin.is_some()))
        .collect();
    loop {
        let now = sys::now_ns();
        if now >= until || r.stop.load(Ordering::Relaxed) {
            return;
        }
        for &i in &spinning {
            let q = &ready.queues[i];
            if q.is_active() && q.progressed(now) {
                ready.slots[i].fd_ready = true;
                return;
            }
        }
        for _ in 0..16 {
            sys::cpu_relax();
        }
        // Give the CPU away if another thread wants it (an application thread with
        // completions to consume, on a machine with few cores); costs a system call
        // every few µs when none does.
        spins += 1;
        if spins.is_multiple_of(32) {
            sys::yield_now();
        }
        if r.kicked.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// Hand one pass's results to the application, with no queue lock held: the fatal hook,
/// the callbacks in ticket order, then the pull-mode refill hook.
fn deliver(
    q: &Arc<Shared>,
    fatal: Option<Failure>,
    batch: VecDeque<Done>,
    refill_room: usize,
    latencies: &mut Vec<u64>,
) {
    let handle = Queue(q.clone());
    if let Some(f) = fatal {
        log!(
            Level::Error,
            "queue {}: failed terminally ({:?}, NRT status {})",
            q.id,
            f.status,
            f.nrt_status
        );
        if let Some(h) = &q.config().on_fatal {
            if catch_unwind(AssertUnwindSafe(|| h(&handle, f.status, f.nrt_status))).is_err() {
                log!(
                    Level::Error,
                    "queue {}: the fatal-error hook panicked",
                    q.id
                );
            }
        }
    }
    if let Some(last) = batch.back().map(Done::ticket) {
        latencies.clear();
        let mut panicked = false;
        for d in batch {
            let now = sys::now_ns();
            latencies.push(now.saturating_sub(d.retire_ns()));
            if catch_unwind(AssertUnwindSafe(|| q.run_callback(d, now))).is_err() {
                panicked = true;
            }
        }
        q.delivered(last, latencies);
        if panicked {
            log!(
                Level::Error,
                "queue {}: a completion callback panicked; queue failed",
                q.id
            );
            q.fail_panic();
        }
    }
    if refill_room > 0 {
        if let Some(h) = &q.config().on_refill {
            if catch_unwind(AssertUnwindSafe(|| h(&handle, refill_room))).is_err() {
                log!(
                    Level::Error,
                    "queue {}: the refill hook panicked; queue failed",
                    q.id
                );
                q.fail_panic();
            }
        }
    }
}
