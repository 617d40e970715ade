//! `nrtq-callback`, `nrtq-callback-ll`, `nrtq-reap` and `nrtq-refill`: the same work
//! through libnrtq's C API (`nrtq::ffi`), called the way a C program calls it: opaque
//! handles, status codes, `extern "C"` callbacks and 64-bit user data.
//!
//! - **callback** (and **-ll**, the low-latency wait policy): `threads` producer threads
//!   submit into one queue; a queue-wide completion callback on libnrtq's completion
//!   thread returns each request's tensor sets to a shared pool. Producers refill in
//!   batches (they sleep until half the pool is free), as a server fed by its own
//!   request source would, so their wake-ups do not dominate the figure.
//! - **reap**: `threads` event-loop threads submit into one queue, `poll` its reap fd,
//!   and reap completions in batches of up to 64.
//! - **refill** (pull mode): no application threads at all; `threads` queues on the
//!   same unit, each with a refill callback that submits from the pool whenever its
//!   queue has room.
//!
//! The callbacks are plain `extern "C"` functions, so the run's shared state is a
//! process-wide static (one case per process).

use super::{Permits, ThreadOutcome};
use crate::child::{idle_wakeups, Measured, Meter};
use crate::emu::Emu;
use crate::measure::clock::now_ns;
use crate::measure::latency::Notice;
use crate::plan::{Budget, Case, Pattern};
use crate::raw::{Model, Runtime};
use nrtq::ffi::config::*;
use nrtq::ffi::queue::*;
use nrtq::ffi::reap::*;
use nrtq::ffi::runtime::*;
use nrtq::ffi::status::nrtq_status;
use std::ffi::{c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Condvar, LazyLock, Mutex, RwLock};

/// Tensor sets per producer (callback and reap) or per queue (refill).
const POOL_PER_THREAD: usize = 32;

/// How long a queue destroy may wait. Every queue is drained before it is destroyed, so
/// nothing is in flight and the wait should end at once; the bound keeps a slow destroy
/// (which the bench reports as a warning) from stretching the whole run.
const DESTROY_TIMEOUT_US: i64 = 250_000;

/// Completions reaped per `nrtq_queue_reap` call.
const REAP_BATCH: usize = 64;

/// One run's work: its permits and the tensor sets, by pool index.
struct Run {
    permits: Permits,
    /// (input set, output set) addresses.
    slots: Vec<(usize, usize)>,
}

/// What the callbacks and the application threads share.
struct Shared {
    run: RwLock<Option<Arc<Run>>>,
    /// Indices of free tensor-set pairs.
    pool: Mutex<Vec<usize>>,
    pool_cv: Condvar,
    /// Producers are woken when this many sets are free.
    wake_at: AtomicU64,
    notices: Mutex<Vec<Notice>>,
    completed: AtomicU64,
    errors: AtomicU64,
    /// Set once a permit was refused: nothing more will be submitted.
    exhausted: Mutex<bool>,
    exhausted_cv: Condvar,
    /// Set by the reap-mode thread that saw the last completion.
    all_reaped: AtomicBool,
    /// An eventfd that thread makes readable, so its siblings blocked in `poll` wake.
    done_fd: AtomicI32,
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| Shared {
    run: RwLock::new(None),
    pool: Mutex::new(Vec::new()),
    pool_cv: Condvar::new(),
    wake_at: AtomicU64::new(1),
    notices: Mutex::new(Vec::new()),
    completed: AtomicU64::new(0),
    errors: AtomicU64::new(0),
    exhausted: Mutex::new(false),
    exhausted_cv: Condvar::new(),
    all_reaped: AtomicBool::new(false),
    done_fd: AtomicI32::new(-1),
});

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn current(&self) -> Option<Arc<Run>> {
        self.run.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records that nothing more will be submitted.
    fn mark_exhausted(&self) {
        *lock(&self.exhausted) = true;
        self.exhausted_cv.notify_all();
    }

    /// A free set and a permit for it; `None` when the pool is empty (and `block` is
    /// false) or the permits are spent.
    fn next(&self, run: &Run, block: bool) -> Option<usize> {
        let idx = {
            let mut pool = lock(&self.pool);
            loop {
                if let Some(i) = pool.pop() {
                    break i;
                }
                if !block {
                    return None;
                }
                pool = self.pool_cv.wait(pool).unwrap_or_else(|e| e.into_inner());
            }
        };
        if run.permits.take() {
            Some(idx)
        } else {
            lock(&self.pool).push(idx);
            self.mark_exhausted();
            None
        }
    }

    /// One completion learned at `at_ns`.
    fn complete(&self, idx: usize, failed: bool, at_ns: u64) {
        lock(&self.notices).push(Notice { seq: None, at_ns });
        self.completed.fetch_add(1, Ordering::AcqRel);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let free = {
            let mut pool = lock(&self.pool);
            pool.push(idx);
            pool.len() as u64
        };
        if free == self.wake_at.load(Ordering::Relaxed) {
            self.pool_cv.notify_all();
        }
    }

    /// Whether every submitted request has been seen complete and nothing more comes.
    fn finished(&self, run: &Run) -> bool {
        *lock(&self.exhausted) && self.completed.load(Ordering::Acquire) == run.permits.taken()
    }
}

fn ok(what: &str, s: nrtq_status) -> Result<(), String> {
    if s == nrtq_status::NRTQ_OK {
        return Ok(());
    }
    let msg = nrtq::ffi::diag::nrtq_last_error();
    let detail = if msg.is_null() {
        String::new()
    } else {
        // SAFETY: nrtq_last_error returns NULL or a NUL-terminated string valid until this
        // thread's next nrtq call; it is copied at once.
        unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned()
    };
    Err(format!("{what}: {s:?} {detail}"))
}

/// The queue-wide completion callback (callback mode and pull mode).
unsafe extern "C" fn on_complete(c: *const nrtq_completion) {
    let at_ns = now_ns();
    if c.is_null() {
        return;
    }
    // SAFETY: non-NULL, and libnrtq passes a record valid for the duration of the call.
    let c = unsafe { &*c };
    SHARED.complete(
        c.user_data as usize,
        c.status != nrtq_status::NRTQ_OK,
        at_ns,
    );
}

/// Pull mode: the queue has room for `room` more requests.
unsafe extern "C" fn on_refill(queue: *mut nrtq_queue, room: u32, _user_data: u64) {
    let Some(run) = SHARED.current() else {
        return;
    };
    for _ in 0..room {
        let Some(idx) = SHARED.next(&run, false) else {
            return;
        };
        let (input, output) = run.slots[idx];
        let s = nrtq_queue_submit(
            queue,
            input as *const c_void,
            output as *mut c_void,
            None,
            idx as u64,
            std::ptr::null_mut(),
        );
        if s != nrtq_status::NRTQ_OK {
            // Refused at once: the request never existed; its set goes back to the pool
            // and the error shows as fewer completions than permits.
            eprintln!("nrtq-refill: submit returned {s:?}");
            lock(&SHARED.pool).push(idx);
            return;
        }
    }
}

/// Submits one request from a producer or event-loop thread.
fn submit(q: *mut nrtq_queue, run: &Run, idx: usize) -> Result<(), String> {
    let (input, output) = run.slots[idx];
    ok(
        "nrtq_queue_submit",
        nrtq_queue_submit(
            q,
            input as *const c_void,
            output as *mut c_void,
            None,
            idx as u64,
            std::ptr::null_mut(),
        ),
    )
}

/// A callback-mode producer: submits whenever sets are free, until the permits run out.
fn producer(q: usize, run: &Run) -> Result<(), String> {
    while let Some(idx) = SHARED.next(run, true) {
        submit(q as *mut nrtq_queue, run, idx)?;
    }
    Ok(())
}

/// A reap-mode event loop: submit what the pool allows, wait for the reap fd, reap.
fn event_loop(q: usize, fd: i32, run: &Run) -> Result<(), String> {
    let q = q as *mut nrtq_queue;
    let mut buf = [nrtq_completion {
        ticket: 0,
        user_data: 0,
        status: nrtq_status::NRTQ_OK,
        nrt_status: 0,
    }; REAP_BATCH];
    loop {
        while let Some(idx) = SHARED.next(run, false) {
            submit(q, run, idx)?;
        }
        if SHARED.all_reaped.load(Ordering::Acquire) {
            return Ok(());
        }
        if SHARED.finished(run) {
            SHARED.all_reaped.store(true, Ordering::Release);
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to the run's eventfd (open until
            // every event-loop thread has been joined).
            unsafe {
                libc::write(
                    SHARED.done_fd.load(Ordering::Acquire),
                    (&one as *const u64).cast(),
                    8,
                )
            };
            return Ok(());
        }
        let mut pfds = [
            libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: SHARED.done_fd.load(Ordering::Acquire),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // Blocks until completions wait or a sibling saw the last one.
        // SAFETY: two valid pollfds.
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, -1) };
        loop {
            let mut n = 0usize;
            ok(
                "nrtq_queue_reap",
                nrtq_queue_reap(q, buf.as_mut_ptr(), buf.len(), &mut n),
            )?;
            let at_ns = now_ns();
            for c in &buf[..n] {
                SHARED.complete(
                    c.user_data as usize,
                    c.status != nrtq_status::NRTQ_OK,
                    at_ns,
                );
            }
            if n < buf.len() {
                break;
            }
        }
    }
}

/// Creates one queue for `pattern`.
fn create_queue(
    nrt: *mut nrtq_runtime,
    model: &Model,
    pattern: Pattern,
    depth: u32,
) -> Result<*mut nrtq_queue, String> {
    let mut cfg: *mut nrtq_queue_config = std::ptr::null_mut();
    ok("nrtq_queue_config_new", nrtq_queue_config_new(&mut cfg))?;
    let result = (|| -> Result<*mut nrtq_queue, String> {
        ok("set_depth", nrtq_queue_config_set_depth(cfg, depth))?;
        match pattern {
            Pattern::NrtqReap => ok(
                "set_delivery",
                nrtq_queue_config_set_delivery(cfg, nrtq_delivery::NRTQ_DELIVERY_REAP as u32),
            )?,
            _ => ok(
                "set_completion_callback",
                nrtq_queue_config_set_completion_callback(cfg, Some(on_complete)),
            )?,
        }
        if pattern == Pattern::NrtqCallbackLowLatency {
            ok(
                "set_wait_policy",
                nrtq_queue_config_set_wait_policy(
                    cfg,
                    nrtq_wait_policy::NRTQ_WAIT_LOW_LATENCY as u32,
                ),
            )?;
        }
        if pattern == Pattern::NrtqRefill {
            ok(
                "set_refill_callback",
                nrtq_queue_config_set_refill_callback(cfg, Some(on_refill), 0),
            )?;
        }
        let mut q: *mut nrtq_queue = std::ptr::null_mut();
        ok(
            "nrtq_queue_create",
            nrtq_queue_create(nrt, model.as_void(), cfg, &mut q),
        )?;
        Ok(q)
    })();
    nrtq_queue_config_free(cfg);
    result
}

fn destroy_all(queues: &mut Vec<*mut nrtq_queue>) -> Result<(), String> {
    let mut first = Ok(());
    for q in queues.drain(..) {
        let t0 = now_ns();
        let r = ok(
            "nrtq_queue_destroy",
            nrtq_queue_destroy(q, DESTROY_TIMEOUT_US),
        );
        let took_us = (now_ns() - t0) / 1000;
        if took_us > 50_000 {
            eprintln!(
                "warning: nrtq_queue_destroy of a drained queue took {} ms ({r:?})",
                took_us / 1000
            );
        }
        first = first.and(r);
    }
    first
}

/// One run through `queues` (created here when empty). Returns the interval from the
/// common start to the moment the last completion was seen.
fn run_once(
    case: &Case,
    nrt: *mut nrtq_runtime,
    model: &Model,
    slots: &[(usize, usize)],
    budget: Budget,
    queues: &mut Vec<*mut nrtq_queue>,
) -> Result<(u64, u64), String> {
    let threads = case.threads as usize;
    // Reset the shared state for this run.
    *lock(&SHARED.pool) = (0..slots.len()).rev().collect();
    SHARED
        .wake_at
        .store((slots.len() / 2).max(1) as u64, Ordering::Relaxed);
    SHARED.completed.store(0, Ordering::Release);
    SHARED.errors.store(0, Ordering::Relaxed);
    SHARED.all_reaped.store(false, Ordering::Release);
    *lock(&SHARED.exhausted) = false;
    let mut permits = Permits::new(budget);
    permits.start();
    let run = Arc::new(Run {
        permits,
        slots: slots.to_vec(),
    });
    *SHARED.run.write().unwrap_or_else(|e| e.into_inner()) = Some(run.clone());

    let start = now_ns();
    match case.pattern {
        Pattern::NrtqRefill => {
            // Pull mode: creating the queues starts the work (each asks for a refill).
            for _ in 0..threads {
                queues.push(create_queue(nrt, model, case.pattern, case.depth)?);
            }
            let mut done = lock(&SHARED.exhausted);
            while !*done {
                done = SHARED
                    .exhausted_cv
                    .wait(done)
                    .unwrap_or_else(|e| e.into_inner());
            }
            drop(done);
            for &q in queues.iter() {
                ok("nrtq_queue_drain", nrtq_queue_drain(q, -1))?;
            }
        }
        Pattern::NrtqReap => {
            let q = queues[0] as usize;
            let mut fd = -1;
            ok(
                "nrtq_queue_reap_fd",
                nrtq_queue_reap_fd(q as *const nrtq_queue, &mut fd),
            )?;
            // SAFETY: eventfd takes two integers and returns a new descriptor or -1.
            let done = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
            if done < 0 {
                return Err("eventfd failed".into());
            }
            SHARED.done_fd.store(done, Ordering::Release);
            let r = spawn_and_join(threads, "bench-evloop", |_| event_loop(q, fd, &run));
            // SAFETY: `done` was created above and every thread using it has been joined.
            unsafe { libc::close(done) };
            r?;
        }
        _ => {
            let q = queues[0] as usize;
            spawn_and_join(threads, "bench-producer", |_| producer(q, &run))?;
            ok(
                "nrtq_queue_drain",
                nrtq_queue_drain(q as *mut nrtq_queue, -1),
            )?;
        }
    }
    let end = now_ns();
    *SHARED.run.write().unwrap_or_else(|e| e.into_inner()) = None;
    let expected = run.permits.taken();
    let got = SHARED.completed.load(Ordering::Acquire);
    if got != expected {
        return Err(format!("{expected} requests submitted but {got} completed"));
    }
    Ok((start, end))
}

/// Runs `body` on `n` named threads that start together, and joins them.
fn spawn_and_join(
    n: usize,
    name: &str,
    body: impl Fn(usize) -> Result<(), String> + Sync,
) -> Result<(), String> {
    let barrier = Barrier::new(n);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, body) = (&barrier, &body);
                std::thread::Builder::new()
                    .name(format!("{name}-{i}"))
                    .spawn_scoped(scope, move || {
                        barrier.wait();
                        body(i)
                    })
                    .expect("spawn a bench thread")
            })
            .collect();
        let mut first = Ok(());
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err("a bench thread panicked".into()));
            first = first.and(r);
        }
        first
    })
}

/// Runs an nrtq pattern: warm-up, measured run, idle window with the queues still open.
pub fn measure(case: &Case, rt: &Runtime, model: &Model, emu: &Emu) -> Result<Measured, String> {
    let path = CString::new(rt.path.to_string_lossy().as_bytes())
        .map_err(|_| "the library path contains a NUL byte")?;
    let mut nrt: *mut nrtq_runtime = std::ptr::null_mut();
    // The bench already called nrt_init on this library; libnrtq shares that runtime.
    ok(
        "nrtq_runtime_open",
        nrtq_runtime_open(path.as_ptr(), false, &mut nrt),
    )?;
    let pool = POOL_PER_THREAD * case.threads as usize;
    let ring = rt.ring(model, pool)?;
    let slots: Vec<(usize, usize)> = ring
        .iter()
        .map(|s| (s.input_addr(), s.output_addr()))
        .collect();
    let mut queues = Vec::new();
    let result = (|| -> Result<Measured, String> {
        if case.pattern != Pattern::NrtqRefill {
            queues.push(create_queue(nrt, model, case.pattern, case.depth)?);
        }
        let warm = Budget::Requests(u64::from(case.threads) * u64::from(case.depth) * 4);
        run_once(case, nrt, model, &slots, warm, &mut queues)?;
        if case.pattern == Pattern::NrtqRefill {
            // Pull-mode queues start pulling when created: the measured run makes new ones.
            destroy_all(&mut queues)?;
        }
        lock(&SHARED.notices).clear();

        let meter = Meter::start(emu, rt.compute_xu());
        let (start_ns, end_ns) = run_once(case, nrt, model, &slots, case.budget, &mut queues)?;
        let meter = meter.stop();
        let idle = idle_wakeups(case.idle_ms);
        let outcome = ThreadOutcome {
            completed: SHARED.completed.load(Ordering::Acquire),
            errors: SHARED.errors.load(Ordering::Relaxed),
            notices: std::mem::take(&mut *lock(&SHARED.notices)),
        };
        Ok(Measured {
            outcome,
            start_ns,
            end_ns,
            meter,
            idle_wakeups: idle,
        })
    })();
    let teardown =
        destroy_all(&mut queues).and_then(|()| ok("nrtq_runtime_close", nrtq_runtime_close(nrt)));
    rt.free_ring(ring);
    let measured = result?;
    teardown?;
    Ok(measured)
}
