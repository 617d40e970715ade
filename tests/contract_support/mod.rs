//! Shared by the `contract_*` tests, which check the promises of `include/nrtq.h` through
//! the C entry points only (the Rust API is never used), against the emulator generation
//! `NRT_EMU_API` names.
//!
//! Every scenario runs in a fresh process of its own test binary (`isolated`):
//! `NRT_EMU_FAULTS` is read once, at `nrt_init`, so each fault set needs its own process;
//! and a call that never returns (the very thing some tests look for) must fail its test
//! without leaving an open libnrt behind for the next one.
#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use crate::emu_support::{library, Io};
pub use nrtq::ffi::config::*;
pub use nrtq::ffi::diag::*;
pub use nrtq::ffi::queue::*;
pub use nrtq::ffi::reap::*;
pub use nrtq::ffi::runtime::*;
pub use nrtq::ffi::status::nrtq_status::{self, *};

/// Set in the child process to the name of the one test it runs.
const CHILD_VAR: &str = "NRTQ_CONTRACT_CHILD";

/// Run `body` in a new process of this test binary with `env` added to its environment,
/// and fail unless it finishes successfully within `limit` (the child is killed then).
/// `name` must be the test function's name: the child runs exactly that test, and the
/// parent checks that the body really ran (a wrong name would otherwise pass silently).
pub fn isolated(name: &str, env: &[(&str, &str)], limit: Duration, body: impl FnOnce()) {
    if std::env::var(CHILD_VAR).as_deref() == Ok(name) {
        println!("contract child start: {name}");
        body();
        println!("contract child done: {name}");
        return;
    }
    let dir = std::env::temp_dir().join(format!("nrtq-contract-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_VAR, name)
        .env("NEURON_RT_LOG_LEVEL", "QUIET")
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start the test's child process");
    let started = Instant::now();
    // A watchdog, not a synchronisation: poll the child until it exits or runs too long.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    let generation = nrt_emu::selected_generation();
    match status {
        None => panic!(
            "{name} ({generation}, env {env:?}): still running after {limit:?}, killed\n\
             --- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
        Some(s) => assert!(
            s.success() && stdout.contains(&format!("contract child done: {name}")),
            "{name} ({generation}, env {env:?}) failed ({s}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        ),
    }
}

/// Run `call`; if it has not returned after `limit`, print what hung and end the process
/// with a failure (the parent reports it). The call itself cannot be interrupted.
pub fn watchdog<T>(what: &str, limit: Duration, call: impl FnOnce() -> T) -> T {
    let (done, wait_done) = mpsc::channel::<()>();
    let what_owned = what.to_string();
    let dog = std::thread::spawn(move || {
        if wait_done.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            eprintln!("WATCHDOG: {what_owned} has not returned after {limit:?}");
            println!("WATCHDOG: {what_owned} has not returned after {limit:?}");
            std::process::exit(3);
        }
    });
    let r = call();
    let _ = done.send(());
    dog.join().unwrap();
    r
}

/// The thread's last nrtq error message.
pub fn last_error() -> String {
    // SAFETY: nrtq_last_error returns a valid NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(nrtq_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// Open a runtime over the emulator of the generation under test; nrtq calls `nrt_init`
/// (so `NRT_EMU_FAULTS` of this process applies).
pub fn open_runtime() -> *mut nrtq_runtime {
    let path = CString::new(library().as_os_str().as_bytes()).unwrap();
    let mut rt = std::ptr::null_mut();
    let s = nrtq_runtime_open(path.as_ptr(), true, &mut rt);
    assert_eq!(s, NRTQ_OK, "nrtq_runtime_open: {}", last_error());
    rt
}

pub fn close_runtime(rt: *mut nrtq_runtime) {
    assert_eq!(nrtq_runtime_close(rt), NRTQ_OK, "{}", last_error());
}

/// Everything delivered to this process's queues, by callback or by `reap_into_log`, in
/// delivery order.
pub static DELIVERED: Mutex<Vec<nrtq_completion>> = Mutex::new(Vec::new());
/// Fatal callbacks seen: how many, and the last status.
pub static FATAL_CALLS: AtomicU32 = AtomicU32::new(0);
pub static FATAL_STATUS: AtomicU32 = AtomicU32::new(0);
/// Set by `record` when a completion callback was entered with a NULL pointer.
pub static NULL_COMPLETIONS: AtomicU64 = AtomicU64::new(0);

/// The completion callback: appends to `DELIVERED`. It must not panic (it runs across the
/// C boundary), so it only records; the test asserts afterwards.
///
/// # Safety
/// `c` is NULL or points to a completion valid for the call, as nrtq passes it.
pub unsafe extern "C" fn record(c: *const nrtq_completion) {
    if c.is_null() {
        NULL_COMPLETIONS.fetch_add(1, Ordering::SeqCst);
        return;
    }
    // SAFETY: nrtq passes a completion valid for the duration of the call.
    let c = unsafe { *c };
    if let Ok(mut log) = DELIVERED.lock() {
        log.push(c);
    }
}

unsafe extern "C" fn record_fatal(_q: *mut nrtq_queue, status: nrtq_status, _nrt: u32, _u: u64) {
    FATAL_CALLS.fetch_add(1, Ordering::SeqCst);
    FATAL_STATUS.store(status as u32, Ordering::SeqCst);
}

pub fn delivered() -> Vec<nrtq_completion> {
    DELIVERED.lock().unwrap().clone()
}

/// How a test's queue is configured (every field a documented setter).
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub reap: bool,
    /// Pinned: the queue keeps exactly this many on the device (max_depth = depth).
    pub depth: u32,
    pub backlog: u32,
    pub deadline_us: u64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            reap: false,
            depth: 3,
            backlog: 1024,
            deadline_us: 0,
        }
    }
}

/// Create a queue on `model`: callbacks go to `record` (callback mode), fatal callbacks to
/// the `FATAL_*` counters.
pub fn create_queue(
    rt: *mut nrtq_runtime,
    model: *mut neuron_sys::nrt_model_t,
    setup: Setup,
) -> *mut nrtq_queue {
    let mut cfg = std::ptr::null_mut();
    assert_eq!(nrtq_queue_config_new(&mut cfg), NRTQ_OK);
    assert_eq!(nrtq_queue_config_set_depth(cfg, setup.depth), NRTQ_OK);
    assert_eq!(nrtq_queue_config_set_max_depth(cfg, setup.depth), NRTQ_OK);
    assert_eq!(nrtq_queue_config_set_backlog(cfg, setup.backlog), NRTQ_OK);
    assert_eq!(
        nrtq_queue_config_set_deadline_us(cfg, setup.deadline_us),
        NRTQ_OK
    );
    assert_eq!(
        nrtq_queue_config_set_fatal_callback(cfg, Some(record_fatal), 0),
        NRTQ_OK
    );
    if setup.reap {
        assert_eq!(
            nrtq_queue_config_set_delivery(cfg, nrtq_delivery::NRTQ_DELIVERY_REAP as u32),
            NRTQ_OK
        );
    } else {
        assert_eq!(
            nrtq_queue_config_set_completion_callback(cfg, Some(record)),
            NRTQ_OK
        );
    }
    let mut q = std::ptr::null_mut();
    let s = nrtq_queue_create(rt, model.cast(), cfg, &mut q);
    nrtq_queue_config_free(cfg);
    assert_eq!(s, NRTQ_OK, "nrtq_queue_create: {}", last_error());
    q
}

/// Submit one request on `io`'s tensor sets; the ticket, or the refusal's status.
pub fn submit(q: *mut nrtq_queue, io: &Io, user_data: u64) -> Result<u64, nrtq_status> {
    let mut ticket = 0;
    match nrtq_queue_submit(
        q,
        io.inputs.cast(),
        io.outputs.cast(),
        None,
        user_data,
        &mut ticket,
    ) {
        NRTQ_OK => Ok(ticket),
        s => Err(s),
    }
}

/// Reap mode: move everything ready into `DELIVERED`; how many.
pub fn reap_into_log(q: *mut nrtq_queue) -> usize {
    let empty = nrtq_completion {
        ticket: 0,
        user_data: 0,
        status: NRTQ_OK,
        nrt_status: 0,
    };
    let mut buf = [empty; 64];
    let mut total = 0;
    loop {
        let mut n = 0;
        let s = nrtq_queue_reap(q, buf.as_mut_ptr(), buf.len(), &mut n);
        assert_eq!(s, NRTQ_OK, "nrtq_queue_reap: {}", last_error());
        if n == 0 {
            return total;
        }
        DELIVERED.lock().unwrap().extend_from_slice(&buf[..n]);
        total += n;
    }
}

/// Assert that `done` delivers exactly `accepted` (each once) in strictly increasing ticket
/// order, printing the first place the order breaks with its neighbourhood.
pub fn assert_in_order_exactly_once(done: &[nrtq_completion], accepted: &[u64]) {
    assert_in_order(done);
    assert_exactly_once(done, accepted);
}

/// Assert that the delivered tickets are strictly increasing.
pub fn assert_in_order(done: &[nrtq_completion]) {
    for (i, w) in done.windows(2).enumerate() {
        if w[1].ticket <= w[0].ticket {
            let from = i.saturating_sub(4);
            let to = (i + 6).min(done.len());
            let around: Vec<String> = done[from..to]
                .iter()
                .map(|c| format!("{}:{:?}", c.ticket, c.status))
                .collect();
            panic!(
                "delivery order broken: ticket {} ({:?}, raw {}) delivered right after ticket {} \
                 ({:?}); deliveries {from}..{to}: {}",
                w[1].ticket,
                w[1].status,
                w[1].nrt_status,
                w[0].ticket,
                w[0].status,
                around.join(" ")
            );
        }
    }
}

/// Assert that the delivered tickets are the accepted ones, each exactly once.
pub fn assert_exactly_once(done: &[nrtq_completion], accepted: &[u64]) {
    let mut got: Vec<u64> = done.iter().map(|c| c.ticket).collect();
    got.sort_unstable();
    if let Some(w) = got.windows(2).find(|w| w[0] == w[1]) {
        panic!("ticket {} delivered more than once", w[0]);
    }
    let mut want = accepted.to_vec();
    want.sort_unstable();
    assert_eq!(
        got.len(),
        want.len(),
        "{} completions delivered for {} accepted requests",
        got.len(),
        want.len()
    );
    assert_eq!(got, want, "the delivered tickets are not the accepted ones");
}

/// Wait until every accepted request was delivered: `drain` (bounded), then reap.
pub fn drain_all(q: *mut nrtq_queue, reap: bool) {
    let s = watchdog("nrtq_queue_drain(q, 20 s)", Duration::from_secs(30), || {
        nrtq_queue_drain(q, 20_000_000)
    });
    assert_eq!(s, NRTQ_OK, "drain: {}", last_error());
    if reap {
        reap_into_log(q);
    }
}

/// The queue's terminal failure status (`NRTQ_OK` while it has not failed) and raw status.
pub fn failure(q: *mut nrtq_queue) -> (nrtq_status, u32) {
    let (mut s, mut raw) = (NRTQ_OK, 0u32);
    assert_eq!(nrtq_queue_failure(q, &mut s, &mut raw), NRTQ_OK);
    (s, raw)
}

pub fn destroy(q: *mut nrtq_queue, timeout_us: i64) -> nrtq_status {
    watchdog(
        &format!("nrtq_queue_destroy(q, {timeout_us} µs)"),
        Duration::from_secs(30),
        || nrtq_queue_destroy(q, timeout_us),
    )
}

/// A one-line summary of statuses, e.g. "NRTQ_OK x12, NRTQ_ERR_RUNTIME x1".
pub fn status_summary(done: &[nrtq_completion]) -> String {
    let mut counts: Vec<(nrtq_status, usize)> = Vec::new();
    for c in done {
        match counts.iter_mut().find(|(s, _)| *s == c.status) {
            Some((_, n)) => *n += 1,
            None => counts.push((c.status, 1)),
        }
    }
    counts
        .iter()
        .map(|(s, n)| format!("{s:?} x{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// NRT_STATUS values used by the tests (nrt-emu/include/nrt/nrt_status.h).
pub const NRT_RESOURCE: u32 = 4;
pub const NRT_TIMEOUT: u32 = 5;
pub const NRT_EXEC_UNIT_UNRECOVERABLE: u32 = 101;
pub const NRT_EXEC_COMPLETED_WITH_ERR: u32 = 1004;
