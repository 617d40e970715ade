//! Queue semantics through the built library, in the generation named by NRT_EMU_API:
//! QUEUE_FULL at the documented depth with nothing changed, ids, in-order completion,
//! timeline accounting (busy = sum of costs, transfer/compute overlap), counters.

mod async_support;
use async_support::*;
use neuron_sys::*;

#[test]
fn queue_full_at_the_depth_changes_nothing() {
    let _l = lock();
    let _s = Session::start(&[("NRT_EMU_QUEUE_DEPTH", "4")]);
    assert_eq!(config().queue_depth, 4);
    let m = load(&add_model("slow", 16, 2_000_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut rets = [0xdead_u32; 6];
    let mut ids = Vec::new();
    for r in rets.iter_mut().take(4) {
        ids.push(sched.execute(m, &io, r).expect("room for 4"));
    }
    let before = stats(0, xu_compute(), 0);
    let mut seq: nrta_seq_t = 0x1234;
    let mut ret5 = 0xbeef_u32;
    // The fifth is refused and touches nothing: not its out-params, not the counters.
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    let s = unsafe {
        match (emu().lib.gen_a(), emu().lib.gen_b()) {
            (Some(a), _) => {
                (a.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, sched.tracker, &mut seq)
            }
            (_, Some(b)) => {
                (b.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, &mut ret5, &mut seq)
            }
            _ => unreachable!(),
        }
    };
    assert_eq!(s, NRT_QUEUE_FULL);
    assert_eq!(seq, 0x1234);
    assert_eq!(ret5, 0xbeef);
    let after = stats(0, xu_compute(), 0);
    assert_eq!(after.issued, before.issued);
    assert_eq!(after.in_flight, 4);
    assert_eq!(after.queue_hwm, 4);
    // Once one completes there is room again, and the next id follows without a gap.
    wait(ids[0]);
    let next = sched
        .execute(m, &io, &mut rets[4])
        .expect("room after a completion");
    assert_eq!(nrta_seq_get_seq_num(next), 5);
    wait(next);
}

#[test]
fn ids_increase_with_the_xu_id_and_complete_in_order() {
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, 50_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let xu = xu_compute();
    let zero = last(0, xu, 0);
    assert_eq!(nrta_seq_get_seq_num(zero), 0, "nothing completed yet");
    let xu_id = nrta_seq_get_xu_id(zero);
    assert_eq!(
        xu_id,
        (xu << 4) as u16,
        "lnc 0 in bits 15..8, type in 7..4, queue 0"
    );
    let mut rets = [0u32; 8];
    let mut ids = Vec::new();
    for r in rets.iter_mut() {
        ids.push(sched.execute(m, &io, r).unwrap());
    }
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(nrta_seq_get_xu_id(*id), xu_id);
        assert_eq!(
            nrta_seq_get_seq_num(*id),
            i as u64 + 1,
            "numbers start at 1, no gaps"
        );
    }
    // Whenever a request is seen complete, every earlier one is complete too.
    let mut seen_last = 0;
    while seen_last < 8 {
        let l = nrta_seq_get_seq_num(last(0, xu, 0));
        assert!(l >= seen_last, "the completed counter never goes back");
        for (i, id) in ids.iter().enumerate() {
            let num = i as u64 + 1;
            let d = done(*id);
            let l2 = nrta_seq_get_seq_num(last(0, xu, 0));
            // `l` was read before `d`, `l2` after: completion is a prefix of the ids.
            if num <= l {
                assert!(d, "request {num} is at or below the completed counter {l}");
            }
            if d {
                assert!(num <= l2, "request {num} completed beyond the counter {l2}");
            }
        }
        seen_last = l;
        std::thread::yield_now();
    }
    // A number beyond the last issued, and an XU that does not exist, are invalid.
    let mut b = false;
    let is_completed = emu().lib.asyncs.as_ref().unwrap().nrta_is_completed();
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    assert_eq!(unsafe { is_completed(ids[7] + 1, &mut b) }, NRT_INVALID);
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { is_completed(0xff00_0000_0000_0001, &mut b) },
        NRT_INVALID
    );
    let mut s = 0;
    let get = emu().lib.asyncs.as_ref().unwrap().nrta_get_sequence();
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { get(0, xu, 1, &mut s) },
        NRT_INVALID,
        "COMPUTE has one queue"
    );
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    assert_eq!(unsafe { get(0, 99, 0, &mut s) }, NRT_INVALID);
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    assert_eq!(unsafe { get(99, xu, 0, &mut s) }, NRT_INVALID);
    // Outputs were computed: out = a + b = 3i.
    let out = io.read_out();
    for (i, v) in out.iter().enumerate() {
        assert_eq!(*v, 3.0 * i as f32, "element {i}");
    }
}

#[test]
fn a_bad_queue_is_refused_at_schedule_time() {
    let _l = lock();
    let _s = Session::start(&[]);
    let t = tensor(64, c"t");
    let sched = Sched::new();
    let buf = [0u8; 64];
    let mut ret = 0u32;
    assert!(
        sched.write(t, &buf, 1, &mut ret).is_ok(),
        "tensor unit queue 1 exists"
    );
    assert_eq!(sched.write(t, &buf, 2, &mut ret), Err(NRT_INVALID));
    assert_eq!(sched.write(t, &buf, -1, &mut ret), Err(NRT_INVALID));
    let m = load(&add_model("m", 16, 1000, &[]));
    let io = AddIo::new(m, 16);
    let mut seq = 0;
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    let s = unsafe {
        match (emu().lib.gen_a(), emu().lib.gen_b()) {
            (Some(a), _) => {
                (a.nrta_execute_schedule)(m, io.inputs, io.outputs, 1, sched.tracker, &mut seq)
            }
            (_, Some(b)) => {
                (b.nrta_execute_schedule)(m, io.inputs, io.outputs, 1, &mut ret, &mut seq)
            }
            _ => unreachable!(),
        }
    };
    assert_eq!(s, NRT_INVALID, "execute queue must be 0");
    wait(last(0, xu_write(), 1));
}

#[test]
fn busy_time_is_the_sum_of_costs_and_transfers_overlap_compute() {
    let _l = lock();
    let _s = Session::start(&[]);
    let cfg = config();
    let n = 1024usize;
    let model_ns = 300_000;
    let m = load(&add_model("m", n as u32, model_ns, &[]));
    let io = AddIo::new(m, n);
    let big = tensor(1 << 20, c"big");
    let sched = Sched::new();
    // SAFETY: no arguments.
    assert_eq!(unsafe { (emu().reset_stats)() }, NRT_SUCCESS);
    let buf = vec![7u8; 1 << 20];
    let mut rets = [0u32; 8];
    let (r_exec, r_write) = rets.split_at_mut(4);
    let ex: Vec<_> = r_exec
        .iter_mut()
        .map(|r| sched.execute(m, &io, r).unwrap())
        .collect();
    let wr: Vec<_> = r_write
        .iter_mut()
        .map(|r| sched.write(big, &buf, 0, r).unwrap())
        .collect();
    let (first_exec, last_exec) = (ex[0], ex[3]);
    let (first_write, last_write) = (wr[0], wr[3]);
    let start = std::time::Instant::now();
    wait(last_exec);
    wait(last_write);
    let wall = start.elapsed().as_nanos() as u64;
    let c = stats(0, xu_compute(), 0);
    let w = stats(0, xu_write(), 0);
    let write_cost = cfg.xfer_overhead_ns + ((1u64 << 20) * 1000).div_ceil(cfg.xfer_bytes_per_us);
    assert_eq!(c.completed, 4);
    assert_eq!(
        c.busy_ns,
        4 * model_ns,
        "busy = sum of model times, exactly"
    );
    assert_eq!(
        w.busy_ns,
        4 * write_cost,
        "busy = sum of transfer costs, exactly"
    );
    // Both units were busy at the same time, read from the device timeline: the first
    // write ran while the executions were running (its interval lies inside theirs).
    let end_of = |id| {
        let (mut end, mut rel) = (0u64, 0u64);
        assert_eq!(
            // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
            unsafe { (emu().completion_time)(id, &mut end, &mut rel) },
            NRT_SUCCESS
        );
        end
    };
    let exec_span = (end_of(first_exec) - model_ns, end_of(last_exec));
    let w1 = end_of(first_write);
    assert!(
        w1 - write_cost < exec_span.1 && w1 > exec_span.0,
        "write [{}, {w1}] overlaps compute [{}, {}]",
        w1 - write_cost,
        exec_span.0,
        exec_span.1
    );
    assert!(wall > 0);
    assert_eq!(c.idle_ns + c.busy_ns, c.idle_ns + 4 * model_ns);
    assert!(c.late_count == 4 && c.late_max_ns >= c.late_p99_ns && c.late_p99_ns >= c.late_p50_ns);
    let mut cpu = 0;
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    assert_eq!(unsafe { (emu().thread_cpu_ns)(&mut cpu) }, NRT_SUCCESS);
    assert!(cpu > 0, "the release thread's CPU time is measured");
    let mut end = 0;
    let mut rel = 0;
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (emu().completion_time)(last_exec, &mut end, &mut rel) },
        NRT_SUCCESS
    );
    assert!(rel >= end, "released after its simulated end");
}

#[test]
fn back_to_back_requests_leave_no_idle_time() {
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, 200_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let t0 = mono_ns();
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    assert_eq!(unsafe { (emu().reset_stats)() }, NRT_SUCCESS);
    let mut rets = [0u32; 5];
    let mut ids = Vec::new();
    for r in rets.iter_mut() {
        ids.push(sched.execute(m, &io, r).unwrap());
    }
    wait(*ids.last().unwrap());
    let c = stats(0, xu_compute(), 0);
    assert_eq!(c.busy_ns, 5 * 200_000);
    // Only the gap before the first request (from the reset to its start) is idle:
    // the queued ones start exactly when the previous one ends.
    let (mut end1, mut rel) = (0u64, 0u64);
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (emu().completion_time)(ids[0], &mut end1, &mut rel) },
        NRT_SUCCESS
    );
    let start1 = end1 - 200_000;
    assert!(
        c.idle_ns <= start1 - t0,
        "idle {} > gap before the first request {}",
        c.idle_ns,
        start1 - t0
    );
}

fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[test]
fn an_idle_device_burns_no_cpu() {
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, 10_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut ret = 0u32;
    let id = sched.execute(m, &io, &mut ret).unwrap();
    wait(id);
    let cpu = || {
        let mut ns = 0;
        // SAFETY: an FFI call into the library under test with a writable local.
        assert_eq!(unsafe { (emu().thread_cpu_ns)(&mut ns) }, NRT_SUCCESS);
        ns
    };
    let before = cpu();
    // Measuring idle cost needs idle wall time; nothing here waits for an event.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let used = cpu() - before;
    assert!(
        used < 3_000_000,
        "release thread used {used} ns of CPU in 300 ms idle"
    );
}
