//! Completion lateness (release time - simulated end) under a steady stream of
//! requests. The figures depend on the machine, so the normal test only checks they
//! are sane; `cargo test -p nrt-emu --release --test async_lateness -- --nocapture`
//! prints them (the numbers quoted in ASYNC.md came from that command).

mod async_support;
use async_support::*;

fn run(model_ns: u64, requests: usize) -> nrt_emu::observe::nrtemu_xu_stats_t {
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, model_ns, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut ret = 0u32;
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    assert_eq!(unsafe { (emu().reset_stats)() }, 0);
    let mut issued = 0;
    let mut last_id = 0;
    while issued < requests {
        match sched.execute(m, &io, &mut ret) {
            Ok(id) => {
                issued += 1;
                last_id = id;
            }
            // Keep the queue full: wait for the oldest by polling the counter.
            Err(neuron_sys::NRT_QUEUE_FULL) => std::thread::yield_now(),
            Err(e) => panic!("schedule failed: {e}"),
        }
        if is_gen_a() && issued % 64 == 0 {
            let _ = sched.errors();
        }
    }
    wait(last_id);
    stats(0, xu_compute(), 0)
}

#[test]
fn lateness_is_measured_and_small() {
    let _l = lock();
    for model_ns in [20_000, 100_000] {
        let s = run(model_ns, 2000);
        println!(
            "model {:>4} us: {} completions, lateness p50 {:.1} us, p99 {:.1} us, max {:.1} us; busy {:.1} ms",
            model_ns / 1000,
            s.late_count,
            s.late_p50_ns as f64 / 1e3,
            s.late_p99_ns as f64 / 1e3,
            s.late_max_ns as f64 / 1e3,
            s.busy_ns as f64 / 1e6
        );
        assert_eq!(s.late_count, 2000);
        assert_eq!(s.busy_ns, 2000 * model_ns);
        // Sanity only (a loaded CI machine may stall a thread): the median completion
        // is released within a millisecond of its simulated end.
        assert!(s.late_p50_ns < 1_000_000, "p50 {} ns", s.late_p50_ns);
    }
}
