//! The ways an application drives the device, each written the way its user would:
//! [`sync`], [`docs_batch`] and [`refill`] (poll-loop and spin-loop) over the raw API,
//! and [`nrtq`] through libnrtq's C API.
//!
//! Every pattern runs on `threads` threads that start together, draws work from one
//! shared [`Permits`], records the instant it learned of each completion, and returns
//! when all of its work has completed.

pub mod docs_batch;
pub mod nrtq;
pub mod refill;
pub mod sync;

use crate::measure::clock::now_ns;
use crate::measure::latency::Notice;
use crate::plan::{Budget, Pattern};
use crate::raw::{Model, Runtime};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;

/// The work of one run, shared by its threads: a number of requests, or a deadline for
/// submitting (then whatever was submitted drains).
pub struct Permits {
    taken: AtomicU64,
    max: u64,
    deadline_ns: Option<u64>,
    wall_ms: Option<u64>,
}

impl Permits {
    /// Permits for `budget`; a wall-time budget starts counting at [`Permits::start`].
    pub fn new(budget: Budget) -> Permits {
        let (max, wall_ms) = match budget {
            Budget::Requests(n) => (n, None),
            Budget::WallMs { ms, max } => (max, Some(ms)),
        };
        Permits {
            taken: AtomicU64::new(0),
            max,
            deadline_ns: None,
            wall_ms,
        }
    }

    /// Starts the clock of a wall-time budget.
    pub fn start(&mut self) {
        self.deadline_ns = self.wall_ms.map(|ms| now_ns() + ms * 1_000_000);
    }

    /// Takes the right to submit one request; `false` once the budget is spent.
    pub fn take(&self) -> bool {
        if let Some(d) = self.deadline_ns {
            if now_ns() >= d {
                return false;
            }
        }
        let mut cur = self.taken.load(Ordering::Relaxed);
        loop {
            if cur >= self.max {
                return false;
            }
            match self.taken.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Permits taken so far (each one a request that was or will be submitted).
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Acquire)
    }
}

/// What one thread of a pattern saw.
#[derive(Default)]
pub struct ThreadOutcome {
    /// Requests it saw complete.
    pub completed: u64,
    /// Of those, with an error status.
    pub errors: u64,
    /// When it learned of each completion.
    pub notices: Vec<Notice>,
}

impl ThreadOutcome {
    /// Merges another thread's outcome into this one.
    pub fn absorb(&mut self, other: ThreadOutcome) {
        self.completed += other.completed;
        self.errors += other.errors;
        self.notices.extend(other.notices);
    }
}

/// Everything a raw pattern's threads share.
pub struct RawContext<'a> {
    pub rt: &'a Runtime,
    pub model: &'a Model,
    /// Requests each refill loop keeps in flight.
    pub depth: usize,
}

/// Tensor sets one thread of `pattern` needs: one per request it may have in flight.
pub fn ring_size(pattern: Pattern, depth: usize) -> usize {
    match pattern {
        Pattern::Sync => 1,
        Pattern::DocsBatch => docs_batch::MAX_BATCH,
        _ => depth,
    }
}

/// Runs a raw-API pattern on `rings.len()` threads (one ring of tensor sets each) until
/// `permits` are spent and everything drained. Returns the merged outcome and the
/// wall-clock interval from the common start to the last thread's end.
pub fn run_raw(
    pattern: Pattern,
    ctx: &RawContext<'_>,
    rings: &[Vec<crate::raw::Slot>],
    permits: &mut Permits,
) -> Result<(ThreadOutcome, u64, u64), String> {
    let barrier = Barrier::new(rings.len() + 1);
    permits.start();
    let permits = &*permits;
    std::thread::scope(|scope| {
        let handles: Vec<_> = rings
            .iter()
            .enumerate()
            .map(|(i, ring)| {
                let barrier = &barrier;
                std::thread::Builder::new()
                    .name(format!("bench-{}-{i}", pattern.name()))
                    .spawn_scoped(scope, move || {
                        barrier.wait();
                        match pattern {
                            Pattern::Sync => sync::run(ctx, ring, permits),
                            Pattern::DocsBatch => docs_batch::run(ctx, ring, permits),
                            Pattern::PollLoop => {
                                refill::run(ctx, ring, permits, refill::Wait::Sleep)
                            }
                            Pattern::SpinLoop => {
                                refill::run(ctx, ring, permits, refill::Wait::Spin)
                            }
                            p => Err(format!("{p} is not a raw-API pattern")),
                        }
                    })
                    .expect("spawn a pattern thread")
            })
            .collect();
        // Read the clock before releasing the threads: once they run, this thread may not
        // get a core back for a while (4 pattern threads on 2 cores), and a late start
        // would count device time from before the window.
        let start = now_ns();
        barrier.wait();
        let mut total = ThreadOutcome::default();
        let mut first_error = None;
        for h in handles {
            match h.join() {
                Ok(Ok(o)) => total.absorb(o),
                Ok(Err(e)) => first_error = first_error.or(Some(e)),
                Err(_) => first_error = first_error.or(Some("a pattern thread panicked".into())),
            }
        }
        let end = now_ns();
        match first_error {
            Some(e) => Err(e),
            None => Ok((total, start, end)),
        }
    })
}

/// `usleep(1)`, as the vendor's example polls: the kernel rounds it up to its timer
/// slack (about 50–80 µs on these machines), which is what makes the pattern cheap and
/// slow.
pub fn usleep_1() {
    // SAFETY: usleep takes a number and touches no memory.
    unsafe { libc::usleep(1) };
}
