//! Pools against the emulator in the generation `NRT_EMU_API` names: routing (a slower
//! core gets less), a core dying mid-stream with every request delivered exactly once and
//! the pool serving on, retry-marked requests re-run elsewhere, the last core dying
//! (terminal failure with everything completed), reap mode, and 64 cores from one
//! completion thread.
mod emu_support;

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use emu_support::*;
use neuron_sys::*;
use nrt_emu::model::{Dtype, ModelSpec};
use nrtq::pool::CoreLeftHook;
use nrtq::{
    Completion, Delivery, Handle, Pool, PoolConfig, PoolModel, PoolState, QueueConfig, Runtime,
    Status,
};

const N: u32 = 16;
const WATCHDOG: Option<Duration> = Some(Duration::from_secs(120));

fn model_bytes(time_ns: u64, faults: &[&str]) -> Vec<u8> {
    let mut spec = ModelSpec::add_model("add", Dtype::F32, &[N]).time_ns(time_ns);
    for f in faults {
        spec = spec.fault(f);
    }
    spec.to_bytes().expect("valid model")
}

/// Load an add model on logical core `lnc`.
fn load_on(lnc: u32, time_ns: u64, faults: &[&str]) -> Handle {
    let bytes = model_bytes(time_ns, faults);
    let mut m = std::ptr::null_mut();
    // SAFETY: `bytes` is alive for the call; `m` is writable.
    let s =
        unsafe { (lib().core.nrt_load)(bytes.as_ptr().cast(), bytes.len(), lnc as i32, 1, &mut m) };
    assert_eq!(s, NRT_SUCCESS, "nrt_load on core {lnc}");
    Handle(m as usize)
}

fn unload_all(models: &[Handle]) {
    for m in models {
        unload(m.0 as *mut nrt_model_t);
    }
}

/// Per-request delivery counts, indexed by user_data, and the statuses seen.
struct Tally {
    seen: Vec<AtomicU8>,
    ok: AtomicU64,
    failed: Mutex<Vec<Completion>>,
}

impl Tally {
    fn new(n: usize) -> Arc<Tally> {
        Arc::new(Tally {
            seen: (0..n).map(|_| AtomicU8::new(0)).collect(),
            ok: AtomicU64::new(0),
            failed: Mutex::new(Vec::new()),
        })
    }

    fn hook(self: &Arc<Self>) -> nrtq::queue::CompletionHook {
        let t = self.clone();
        Arc::new(move |c: &Completion| {
            t.seen[c.user_data as usize].fetch_add(1, Ordering::SeqCst);
            if c.status == Status::Ok {
                t.ok.fetch_add(1, Ordering::SeqCst);
            } else {
                t.failed.lock().unwrap().push(*c);
            }
        })
    }

    /// Every request in `0..n` delivered exactly once.
    fn assert_exactly_once(&self, n: usize) {
        let bad: Vec<(usize, u8)> = self.seen[..n]
            .iter()
            .map(|a| a.load(Ordering::SeqCst))
            .enumerate()
            .filter(|&(_, k)| k != 1)
            .take(10)
            .collect();
        assert!(
            bad.is_empty(),
            "requests not delivered exactly once (index, times): {bad:?}"
        );
    }
}

/// The cores that left, in order: (index, status, raw status).
type CoresLeft = Arc<Mutex<Vec<(usize, Status, u32)>>>;

fn core_left_recorder() -> (CoresLeft, CoreLeftHook) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    (
        log,
        Arc::new(move |i, st, raw| l.lock().unwrap().push((i, st, raw))),
    )
}

fn submit_all(pool: &Pool, io: &Io, range: std::ops::Range<u64>) {
    for k in range {
        pool.submit(io.work(), k, None).expect("pool submit");
    }
}

fn destroy(pool: Pool, rt: Runtime, models: &[Handle]) {
    pool.destroy(Duration::from_secs(10)).unwrap();
    unload_all(models);
    drop(rt);
}

#[test]
fn a_slower_core_gets_fewer_requests() {
    let _l = lock();
    let rt = open(&[]);
    // Core 0 takes four times as long per request as core 1.
    let models = vec![load_on(0, 400_000, &[]), load_on(1, 100_000, &[])];
    let tally = Tally::new(3000);
    let pool = rt
        .create_pool(
            PoolModel::Loaded(models.clone()),
            PoolConfig {
                on_complete: Some(tally.hook()),
                ..PoolConfig::default()
            },
        )
        .unwrap();
    let io = Io::new(N as usize, 1.0);
    // A burst: the cores pull from the pool backlog as they make room.
    submit_all(&pool, &io, 0..2000);
    pool.drain(WATCHDOG).unwrap();
    let cores = pool.cores();
    let (slow, fast) = (cores[0].routed, cores[1].routed);
    assert_eq!(slow + fast, 2000);
    assert!(
        slow * 2 < fast,
        "the slow core got {slow} of a burst, the fast one {fast}"
    );
    assert!(
        cores[0].device_ns > cores[1].device_ns * 2,
        "learned device times {} and {} ns",
        cores[0].device_ns,
        cores[1].device_ns
    );
    // One at a time: each submit finds the backlog empty and goes straight to the core
    // expected to finish first, which is the fast one even though both are idle.
    let before = (cores[0].routed, cores[1].routed);
    for k in 2000..2300u64 {
        let t = pool.submit(io.work(), k, None).unwrap();
        pool.drain(WATCHDOG).unwrap();
        assert!(t > 2000);
    }
    let cores = pool.cores();
    let (slow, fast) = (cores[0].routed - before.0, cores[1].routed - before.1);
    assert!(
        fast >= 270,
        "one at a time, the fast core got {fast} of 300 and the slow one {slow}"
    );
    tally.assert_exactly_once(2300);
    assert_eq!(tally.ok.load(Ordering::SeqCst), 2300);
    let s = pool.stats();
    assert_eq!((s.submitted, s.completed, s.failed), (2300, 2300, 0));
    destroy(pool, rt, &models);
}

#[test]
fn a_busier_core_gets_fewer_requests() {
    let _l = lock();
    let rt = open(&[]);
    let models = vec![load_on(0, 200_000, &[]), load_on(1, 200_000, &[])];
    // Core 0 also serves a queue of its own, which keeps its device busy.
    let other = load_on(0, 200_000, &[]);
    // Both pinned at their depth: the side queue keeps 12 requests on core 0's device,
    // the pool's core 0 keeps 3, so the pool gets about a fifth of core 0.
    let side = rt
        .create_queue(
            other,
            QueueConfig {
                depth: 12,
                max_depth: 12,
                ..QueueConfig::default()
            },
        )
        .unwrap();
    let tally = Tally::new(1000);
    let pool = rt
        .create_pool(
            PoolModel::Loaded(models.clone()),
            PoolConfig {
                queue: QueueConfig {
                    depth: 3,
                    max_depth: 3,
                    ..QueueConfig::default()
                },
                on_complete: Some(tally.hook()),
                ..PoolConfig::default()
            },
        )
        .unwrap();
    let io = Io::new(N as usize, 1.0);
    let side_io = Io::new(N as usize, 2.0);
    for _ in 0..1000 {
        side.submit(side_io.work(), 0, None).unwrap();
    }
    submit_all(&pool, &io, 0..600);
    pool.drain(WATCHDOG).unwrap();
    let cores = pool.cores();
    eprintln!(
        "busier: routed {} / {}, side completed {}",
        cores[0].routed,
        cores[1].routed,
        side.stats().completed
    );
    assert!(
        cores[0].routed * 2 < cores[1].routed,
        "the shared core got {} requests, the free one {}",
        cores[0].routed,
        cores[1].routed
    );
    tally.assert_exactly_once(600);
    rt.destroy_queue(&side, Duration::from_secs(30)).unwrap();
    unload(other.0 as *mut nrt_model_t);
    destroy(pool, rt, &models);
}

/// A 4-core pool whose core 2 dies after `after` requests; 100,000 requests.
fn core_dies_mid_stream(retry_safe: bool) {
    const TOTAL: u64 = 100_000;
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", "4")]);
    let models: Vec<Handle> = (0..4)
        .map(|c| {
            let faults: &[&str] = if c == 2 {
                &["unrecoverable after=5000"]
            } else {
                &[]
            };
            load_on(c, 5_000, faults)
        })
        .collect();
    let tally = Tally::new(TOTAL as usize);
    let (left, on_left) = core_left_recorder();
    let pool = rt
        .create_pool(
            PoolModel::Loaded(models.clone()),
            PoolConfig {
                on_complete: Some(tally.hook()),
                on_core_left: Some(on_left),
                retry_safe,
                backlog: 1 << 20,
                ..PoolConfig::default()
            },
        )
        .unwrap();
    let io = Io::new(N as usize, 1.0);
    submit_all(&pool, &io, 0..TOTAL / 2);
    pool.drain(WATCHDOG).unwrap();
    assert_eq!(
        *left.lock().unwrap(),
        [(2, Status::QueueFailed, NRT_EXEC_UNIT_UNRECOVERABLE)],
        "core 2 left once, saying why"
    );
    assert_eq!(pool.state(), PoolState::Serving);
    let cores = pool.cores();
    assert_eq!(
        cores.iter().map(|c| c.healthy).collect::<Vec<_>>(),
        [true, true, false, true]
    );
    assert_eq!(
        cores[2].failure,
        Some((Status::QueueFailed, NRT_EXEC_UNIT_UNRECOVERABLE))
    );
    let routed_to_dead = cores[2].routed;
    // The pool serves on, on the three live cores.
    submit_all(&pool, &io, TOTAL / 2..TOTAL);
    pool.drain(WATCHDOG).unwrap();
    let cores = pool.cores();
    assert_eq!(
        cores[2].routed, routed_to_dead,
        "nothing went to the dead core"
    );
    for c in [0, 1, 3] {
        assert!(cores[c].routed > TOTAL / 8, "core {c}: {:?}", cores[c]);
    }
    tally.assert_exactly_once(TOTAL as usize);
    let failed = tally.failed.lock().unwrap().clone();
    let s = pool.stats();
    eprintln!("retry_safe={retry_safe}: {s:?}");
    assert_eq!(s.submitted, TOTAL);
    assert_eq!(s.completed, TOTAL);
    assert_eq!(s.cores_alive, 3);
    if retry_safe {
        assert!(
            failed.is_empty(),
            "retry-safe: every request ran somewhere: {:?}",
            &failed[..failed.len().min(5)]
        );
        assert_eq!(tally.ok.load(Ordering::SeqCst), TOTAL);
        assert!(
            s.retried >= 1,
            "the request that met the fault ran again: {s:?}"
        );
        assert!(s.rerouted >= s.retried);
    } else {
        // What was on the dying core's device completes with its status: at least the
        // request that met the fault, at most what the core could hold.
        assert!(
            !failed.is_empty() && failed.len() <= 17,
            "{} failed",
            failed.len()
        );
        assert!(failed.iter().all(
            |c| (c.status, c.nrt_status) == (Status::QueueFailed, NRT_EXEC_UNIT_UNRECOVERABLE)
        ));
        assert_eq!(s.retried, 0);
        assert_eq!(tally.ok.load(Ordering::SeqCst), TOTAL - failed.len() as u64);
        assert_eq!(s.failed, failed.len() as u64);
    }
    destroy(pool, rt, &models);
}

#[test]
fn a_core_dying_mid_stream_loses_nothing_and_the_pool_serves_on() {
    core_dies_mid_stream(false);
}

#[test]
fn retry_marked_requests_run_again_elsewhere_each_delivered_once() {
    core_dies_mid_stream(true);
}

#[test]
fn the_last_core_dying_fails_the_pool_with_everything_completed() {
    const TOTAL: u64 = 6000;
    let _l = lock();
    let rt = open(&[]);
    let models = vec![
        load_on(0, 20_000, &["unrecoverable after=700"]),
        load_on(1, 20_000, &["unrecoverable after=1500"]),
    ];
    let tally = Tally::new(TOTAL as usize);
    let (left, on_left) = core_left_recorder();
    let pool = rt
        .create_pool(
            PoolModel::Loaded(models.clone()),
            PoolConfig {
                on_complete: Some(tally.hook()),
                on_core_left: Some(on_left),
                retry_safe: true,
                backlog: 1 << 16,
                ..PoolConfig::default()
            },
        )
        .unwrap();
    let io = Io::new(N as usize, 1.0);
    submit_all(&pool, &io, 0..TOTAL);
    pool.drain(WATCHDOG).unwrap();
    tally.assert_exactly_once(TOTAL as usize);
    let mut left = left.lock().unwrap().clone();
    left.sort_by_key(|l| l.0);
    assert_eq!(
        left.iter().map(|l| l.0).collect::<Vec<_>>(),
        [0, 1],
        "both cores left: {left:?}"
    );
    assert_eq!(
        pool.state(),
        PoolState::Failed {
            status: Status::QueueFailed,
            nrt_status: NRT_EXEC_UNIT_UNRECOVERABLE
        }
    );
    // 700 + 1500 ran; everything else completed with the failure.
    let ok = tally.ok.load(Ordering::SeqCst);
    assert_eq!(ok, 2200, "requests that ran");
    let failed = tally.failed.lock().unwrap().clone();
    assert_eq!(failed.len() as u64, TOTAL - ok);
    assert!(failed.iter().all(|c| c.status == Status::QueueFailed));
    let err = pool.submit(io.work(), 0, None).unwrap_err();
    assert_eq!(err.status, Status::QueueFailed);
    assert_eq!(err.nrt_status, NRT_EXEC_UNIT_UNRECOVERABLE);
    let s = pool.stats();
    assert_eq!((s.submitted, s.completed, s.cores_alive), (TOTAL, TOTAL, 0));
    destroy(pool, rt, &models);
}

#[test]
fn reap_mode_delivers_each_completion_once_through_the_pool_list() {
    let _l = lock();
    let rt = open(&[]);
    let bytes: Arc<[u8]> = model_bytes(20_000, &[]).into();
    let pool = rt
        .create_pool(
            PoolModel::Bytes {
                neff: bytes,
                cores: None,
            },
            PoolConfig {
                delivery: Delivery::Reap,
                ..PoolConfig::default()
            },
        )
        .unwrap();
    assert_eq!(
        pool.cores().len(),
        2,
        "every visible core of the default instance"
    );
    let io = Io::new(N as usize, 1.0);
    submit_all(&pool, &io, 0..500);
    let fd = pool.reap_fd().expect("reap mode has a descriptor");
    let mut seen = vec![0u8; 500];
    let mut out = [NO_COMPLETION; 64];
    let mut got = 0;
    while got < 500 {
        assert!(
            poll_readable(fd, 10_000) > 0,
            "no completion within 10 s ({got} so far)"
        );
        loop {
            let n = pool.reap(&mut out).unwrap();
            if n == 0 {
                break;
            }
            for c in &out[..n] {
                assert_eq!(c.status, Status::Ok);
                seen[c.user_data as usize] += 1;
            }
            got += n;
        }
    }
    assert!(seen.iter().all(|&k| k == 1));
    assert_eq!(pool.reap(&mut out).unwrap(), 0);
    pool.drain(WATCHDOG).unwrap();
    pool.destroy(Duration::from_secs(10)).unwrap();
    assert_eq!(
        pool.destroy(Duration::from_secs(1)).unwrap_err().status,
        Status::InvalidArgument
    );
}

fn completion_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("nrtq-completion"))
        .count()
}

fn sixty_four_cores(threads: usize) {
    let _l = lock();
    let rt = open(&[("NRT_EMU_TOTAL_CORES", "64")]);
    let bytes: Arc<[u8]> = model_bytes(1_000_000, &[]).into();
    let tally = Tally::new(64 * 20);
    let pool = rt
        .create_pool(
            PoolModel::Bytes {
                neff: bytes,
                cores: None,
            },
            PoolConfig {
                on_complete: Some(tally.hook()),
                completion_threads: threads,
                ..PoolConfig::default()
            },
        )
        .unwrap();
    assert_eq!(pool.cores().len(), 64);
    let io = Io::new(N as usize, 1.0);
    submit_all(&pool, &io, 0..64 * 20);
    pool.drain(WATCHDOG).unwrap();
    tally.assert_exactly_once(64 * 20);
    assert_eq!(tally.ok.load(Ordering::SeqCst), 64 * 20);
    let cores = pool.cores();
    assert!(
        cores.iter().all(|c| c.routed >= 5 && c.healthy),
        "every core served: {:?}",
        cores.iter().map(|c| c.routed).collect::<Vec<_>>()
    );
    // Every thread has served its cores by now, so it carries its name.
    assert_eq!(
        completion_threads(),
        threads,
        "the runtime's completion thread and the pool's extra ones"
    );
    pool.destroy(Duration::from_secs(10)).unwrap();
    assert_eq!(completion_threads(), 1, "the pool's own threads stopped");
}

#[test]
fn sixty_four_cores_from_one_completion_thread() {
    sixty_four_cores(1);
}

#[test]
fn sixty_four_cores_split_between_four_completion_threads() {
    sixty_four_cores(4);
}

#[test]
fn bad_pool_settings_are_refused_with_a_reason() {
    let _l = lock();
    let rt = open(&[]);
    let e = rt
        .create_pool(PoolModel::Loaded(vec![]), PoolConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.status, Status::InvalidArgument);
    let e = rt
        .create_pool(PoolModel::Loaded(vec![Handle(0)]), PoolConfig::default())
        .err()
        .unwrap();
    assert_eq!(e.status, Status::NullArgument);
    let e = rt
        .create_pool(
            PoolModel::File {
                path: "/nonexistent/model.neff".into(),
                cores: None,
            },
            PoolConfig::default(),
        )
        .err()
        .unwrap();
    assert_eq!(e.status, Status::InvalidArgument);
    assert!(
        e.message.contains("/nonexistent/model.neff"),
        "{}",
        e.message
    );
    let e = rt
        .create_pool(
            PoolModel::Bytes {
                neff: model_bytes(1000, &[]).into(),
                cores: Some(vec![7]),
            },
            PoolConfig::default(),
        )
        .err()
        .unwrap();
    assert_eq!(e.status, Status::Runtime, "{}", e.message);
    let e = rt
        .create_pool(
            PoolModel::Bytes {
                neff: model_bytes(1000, &[]).into(),
                cores: None,
            },
            PoolConfig {
                completion_threads: 0,
                ..PoolConfig::default()
            },
        )
        .err()
        .unwrap();
    assert_eq!(e.status, Status::InvalidArgument);
    assert_eq!(rt.queue_count(), 0, "nothing left behind");
}
