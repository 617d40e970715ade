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
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::log::{log, Level};
use crate::queue::{Queue, Shared, ON_REACTOR};
use crate::status::{Error, Result, Status};
use crate::sys::{self, EventFd, PollFd};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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

    pub(crate) fn remove(&self, id: u64) {
        self.queues.lock().retain(|q| q.id != id);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.kick();
    }

    /// How late a timed wait of the completion thread ends, ns (p95 of the recent ones).
    pub(crate) fn wake_margin_ns(&self) -> u64 {
        self.margin_ns.load(Ordering::Relaxed)
    }

    /// How long, on average, a timed wait of the completion thread overshoots by more
    /// than `slack` ns: the device time a queue would lose per wake-up if it only had
    /// `slack` of work queued behind the completion it sleeps to. The worst 5% are left
    /// out: they are millisecond scheduling stalls that a spinning thread suffers too
    /// (it is preempted instead), and one of them would swing a mean of 64.
    pub(crate) fn expected_excess_ns(&self, slack: u64) -> u64 {
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

    pub(crate) fn kick(&self) {
        self.kicked.store(true, Ordering::SeqCst);
        self.bell.ring();
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

fn run(r: Arc<ReactorShared>) {
    ON_REACTOR.with(|c| c.set(r.id));
    sys::set_low_timer_slack();
    let mut queues: Vec<Arc<Shared>> = Vec::new();
    let mut seen_generation = u64::MAX;
    let mut fds: Vec<PollFd> = Vec::new();
    let mut latencies: Vec<u64> = Vec::new();
    let mut overshoot = Overshoot::new();
    let mut passes_unwaited = 0u32;
    while !r.stop.load(Ordering::SeqCst) {
        r.kicked.store(false, Ordering::SeqCst);
        let g = r.generation.load(Ordering::SeqCst);
        if g != seen_generation {
            queues = r.queues.lock().clone();
            seen_generation = g;
        }
        // One pass over every queue.
        let mut wake_at: Option<u64> = None;
        let mut spin: Option<u64> = None; // spin until
        let mut spin_from: Option<u64> = None;
        fds.clear();
        fds.push(PollFd {
            fd: r.bell.raw(),
            ready: false,
        });
        let mut bells: Vec<i32> = Vec::new();
        let mut any_active = false;
        let mut again = false;
        for q in &queues {
            if !q.active.load(Ordering::SeqCst) {
                continue;
            }
            let now = sys::now_ns();
            let pass = match catch_unwind(AssertUnwindSafe(|| q.pass(now))) {
                Ok(p) => p,
                Err(_) => {
                    log!(
                        Level::Error,
                        "queue {}: internal panic while reaping; queue failed",
                        q.id
                    );
                    q.fail_panic();
                    any_active = true;
                    continue;
                }
            };
            // The refill hook exists to submit, and a fatal hook changes everything: look
            // again before waiting. Callbacks may submit (or fail the queue) too, which
            // makes this pass's wait plan stale; only then is another pass needed.
            if pass.refill_room > 0 || pass.fatal.is_some() {
                again = true;
            }
            deliver(
                q,
                pass.fatal,
                pass.deliver,
                pass.refill_room,
                &mut latencies,
            );
            if q.changed_since(pass.changes) {
                again = true;
            }
            if q.active.load(Ordering::SeqCst) {
                any_active = true;
            }
            let w = pass.wait;
            if let Some((fd, is_bell)) = w.fd {
                if !fds.iter().any(|p| p.fd == fd) {
                    fds.push(PollFd { fd, ready: false });
                    if is_bell {
                        bells.push(fd);
                    }
                }
            }
            if let Some(t) = w.wake_at {
                wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
            }
            if let Some((from, until)) = w.spin {
                spin_from = Some(spin_from.map_or(from, |f: u64| f.min(from)));
                spin = Some(spin.map_or(until, |s: u64| s.max(until)));
            }
        }
        if r.stop.load(Ordering::SeqCst) {
            break;
        }
        if again {
            // Under steady load the thread may go round without ever waiting; waiters
            // must not starve meanwhile.
            passes_unwaited += 1;
            if passes_unwaited >= 8 {
                passes_unwaited = 0;
                for q in &queues {
                    q.wake_waiters();
                }
            }
            continue;
        }
        passes_unwaited = 0;
        // Everything this pass owed to waiters is done: wake them now, before waiting.
        for q in &queues {
            q.wake_waiters();
        }
        let now = sys::now_ns();
        if !any_active {
            // Park. A submitter that activates a queue after our check rings the bell, so
            // the wake is never lost; there is no timeout, hence no periodic wake-ups.
            r.cpu_ns.store(sys::thread_cpu_ns(), Ordering::Relaxed);
            if queues.iter().any(|q| q.active.load(Ordering::SeqCst)) {
                continue;
            }
            sys::poll_readable(&mut fds[..1], None);
            r.wakeups.fetch_add(1, Ordering::Relaxed);
            r.bell.drain();
            continue;
        }
        if let (Some(from), Some(until)) = (spin_from, spin) {
            if now >= from && now < until {
                spin_until_progress(&r, &queues, until);
                continue;
            }
            // Spin window ahead: sleep until it opens (or a descriptor fires).
            wake_at = Some(wake_at.map_or(from, |w| w.min(from)));
        }
        let timeout = wake_at.map(|t| Duration::from_nanos(t.saturating_sub(now)));
        if timeout.is_some_and(|t| t.is_zero()) {
            continue;
        }
        let ready = sys::poll_readable(&mut fds, timeout);
        r.wakeups.fetch_add(1, Ordering::Relaxed);
        if let (0, Some(t)) = (ready, wake_at) {
            overshoot.record(sys::now_ns().saturating_sub(t), &r);
        }
        // Reset the bells that rang; what they announced is read from the counters next.
        for p in &fds {
            if p.ready && (p.fd == r.bell.raw() || bells.contains(&p.fd)) {
                sys::read_counter(p.fd);
            }
        }
    }
    for q in &queues {
        q.wake_waiters();
    }
    r.cpu_ns.store(sys::thread_cpu_ns(), Ordering::Relaxed);
}

/// Spin on the counters of the active queues until one progresses, `until` passes, or
/// the bell rings.
fn spin_until_progress(r: &ReactorShared, queues: &[Arc<Shared>], until: u64) {
    let mut spins = 0u32;
    loop {
        let now = sys::now_ns();
        if now >= until || r.stop.load(Ordering::Relaxed) {
            return;
        }
        for q in queues {
            if q.active.load(Ordering::Relaxed) && q.progressed(now) {
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

/// Hand one pass's results to the application, with no queue lock held.
fn deliver(
    q: &Arc<Shared>,
    fatal: Option<crate::queue::state::Failure>,
    batch: std::collections::VecDeque<crate::queue::Done>,
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
    if !batch.is_empty() {
        latencies.clear();
        let mut tickets = Vec::with_capacity(batch.len());
        let mut panicked = false;
        for d in batch {
            let now = sys::now_ns();
            latencies.push(now.saturating_sub(Shared::retire_ns(&d)));
            tickets.push(d.completion.ticket);
            if catch_unwind(AssertUnwindSafe(|| q.run_callback(d, now))).is_err() {
                panicked = true;
            }
        }
        q.delivered(&tickets, latencies);
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
