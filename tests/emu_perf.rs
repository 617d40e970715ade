//! Measurements, not assertions (ignored by default; the benchmark crate formalises them):
//! COMPUTE utilisation and application CPU per request of one callback-mode queue kept fed
//! by one submitter, for a 20-µs and a 100-µs model, in both wait policies.
//!
//! `NRT_EMU_API=2.30 cargo test --release -p nrtq --test emu_perf -- --ignored --nocapture`
mod emu_support;

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emu_support::*;
use nrtq::{Completion, Handle, QueueConfig, WaitPolicy};

/// CPU time of the emulator's own threads (`nrtemu_get_thread_cpu_ns`), so it is not
/// charged to the application.
fn emulator_cpu_ns() -> u64 {
    let path = cstring(library().to_str().unwrap());
    // SAFETY: the library is loaded (RTLD_NOLOAD returns its handle); the symbol is the
    // emulator's `NRT_STATUS nrtemu_get_thread_cpu_ns(uint64_t *)`.
    unsafe {
        let h = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        assert!(!h.is_null());
        let p = libc::dlsym(h, c"nrtemu_get_thread_cpu_ns".as_ptr());
        assert!(!p.is_null());
        let f: unsafe extern "C" fn(*mut u64) -> u32 = std::mem::transmute::<*mut c_void, _>(p);
        let mut v = 0;
        assert_eq!(f(&mut v), 0);
        v
    }
}

fn run(model_us: u64, policy: WaitPolicy, requests: u64) {
    let rt = open(&[]);
    let m = add_model(16, model_us * 1000, &[]);
    let io = Io::new(16, 1.0);
    let done = Arc::new(AtomicU64::new(0));
    let d = done.clone();
    let cfg = QueueConfig {
        on_complete: Some(Arc::new(move |_c: &Completion| {
            d.fetch_add(1, Ordering::Relaxed);
        })),
        backlog: 64,
        policy,
        ..Default::default()
    };
    let q = rt.create_queue(Handle(m as usize), cfg).unwrap();
    let wake0 = rt.completion_thread_wakeups();
    let (cpu0, emu0, t0) = (
        nrtq::testing::process_cpu_ns(),
        emulator_cpu_ns(),
        Instant::now(),
    );
    for i in 0..requests {
        q.submit_timeout(io.work(), i, None, Duration::from_secs(10))
            .unwrap();
    }
    q.drain(Some(Duration::from_secs(60))).unwrap();
    let wall = t0.elapsed().as_nanos() as f64;
    let (cpu1, emu1) = (nrtq::testing::process_cpu_ns(), emulator_cpu_ns());
    let app_cpu = (cpu1 - cpu0).saturating_sub(emu1 - emu0) as f64;
    let s = q.stats();
    let wakes = rt.completion_thread_wakeups() - wake0;
    eprintln!(
        "api {} model {model_us:>3} µs {policy:?}: utilisation {:.2}%  cpu/req {:.1} µs  notify p50/p99 {}/{} µs  req/s {:.0}  completion-thread wake-ups/req {:.2}",
        generation(),
        100.0 * (requests * model_us * 1000) as f64 / wall,
        app_cpu / requests as f64 / 1000.0,
        s.complete_to_notify_p50_ns / 1000,
        s.complete_to_notify_p99_ns / 1000,
        requests as f64 / (wall / 1e9),
        wakes as f64 / requests as f64,
    );
    assert_eq!(done.load(Ordering::Relaxed), requests);
    rt.destroy_queue(&q, Duration::from_secs(5)).unwrap();
    drop(io);
    unload(m);
}

#[test]
#[ignore = "a measurement; run with --ignored --nocapture"]
fn utilisation_and_cpu_per_request() {
    let _l = lock();
    for policy in [WaitPolicy::Balanced, WaitPolicy::LowLatency] {
        run(20, policy, 20_000);
        run(100, policy, 5_000);
    }
}
