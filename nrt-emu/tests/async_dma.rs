//! `NRT_EMU_DMA_GBPS`: the emulated transfer bandwidth, fractional, read at `nrt_init`.
//! A tensor write of N bytes costs the fixed overhead plus N / bandwidth on the device
//! timeline (read from the XU's busy counter and the completion times, never the wall
//! clock), and a value that is not a bandwidth fails `nrt_init`.

mod async_support;
use async_support::*;
use neuron_sys::*;

/// `nrt_init` with `vars` set, returning its status (and closing again on success).
fn init_status(vars: &[(&str, &str)]) -> NRT_STATUS {
    let e = emu();
    for (k, v) in vars {
        std::env::set_var(k, v);
    }
    // SAFETY: valid framework value and NUL-terminated strings.
    let s = unsafe { (e.lib.core.nrt_init)(NRT_FRAMEWORK_TYPE_NO_FW, c"".as_ptr(), c"".as_ptr()) };
    for (k, _) in vars {
        std::env::remove_var(k);
    }
    if s == NRT_SUCCESS {
        // SAFETY: no arguments.
        unsafe { (e.lib.core.nrt_close)() };
    }
    s
}

/// Schedule `count` writes of `bytes` bytes one after the other on the write unit of
/// core 0, wait for them, and return (busy ns of the unit, the completion times).
fn timed_writes(bytes: usize, count: usize) -> (u64, Vec<u64>) {
    let t = tensor(bytes, c"dma");
    let buf = vec![0x5au8; bytes];
    let sched = Sched::new();
    // SAFETY: no arguments.
    assert_eq!(unsafe { (emu().reset_stats)() }, NRT_SUCCESS);
    let mut rets = vec![NRT_FAILURE; count];
    let ids: Vec<_> = rets
        .iter_mut()
        .map(|r| sched.write(t, &buf, 0, r).expect("write accepted"))
        .collect();
    for &id in &ids {
        wait(id);
    }
    if !is_gen_a() {
        assert!(rets.iter().all(|&r| r == NRT_SUCCESS), "{rets:?}");
    }
    let ends = ids
        .iter()
        .map(|&id| {
            let (mut end, mut release) = (0u64, 0u64);
            assert_eq!(
                // SAFETY: an FFI call into the library under test with valid, writable locals.
                unsafe { (emu().completion_time)(id, &mut end, &mut release) },
                NRT_SUCCESS
            );
            end
        })
        .collect();
    let w = stats(0, xu_write(), 0);
    assert_eq!(w.completed, count as u64);
    assert_eq!(w.errors, 0);
    // SAFETY: a live tensor of ours, freed once.
    unsafe { (emu().lib.core.nrt_tensor_free)(&mut { t }) };
    (w.busy_ns, ends)
}

#[test]
fn a_tensor_write_takes_the_configured_time_on_the_device_timeline() {
    let _l = lock();
    // 1.25 GB/s = 1.25 bytes per ns: 1,000,000 bytes take 800,000 ns, plus the default
    // 2,000 ns of overhead. Computed here from the variable, not from the emulator's
    // own report, so a wrong reading of the variable fails.
    let bytes = 1_000_000usize;
    let expected = 2_000 + 800_000;
    {
        let _s = Session::start(&[("NRT_EMU_DMA_GBPS", "1.25")]);
        assert_eq!(config().xfer_bytes_per_us, 1_250, "nrtemu_get_config");
        let (busy, ends) = timed_writes(bytes, 3);
        assert_eq!(busy, 3 * expected, "busy = 3 writes at the configured cost");
        // Back to back on one unit: each later write ends at least one cost after the
        // one before (exactly one when it was queued in time, later if it arrived late).
        for w in ends.windows(2) {
            assert!(w[1] - w[0] >= expected, "{} - {} < {expected}", w[1], w[0]);
        }
    }
    // The default is unchanged: 16 GB/s.
    {
        let _s = Session::start(&[]);
        assert_eq!(config().xfer_bytes_per_us, 16_000);
        let (busy, _) = timed_writes(bytes, 1);
        assert_eq!(busy, 2_000 + 62_500, "1 MB at 16 GB/s");
    }
    // A fraction below 1 GB/s, with the overhead changed too.
    {
        let _s = Session::start(&[
            ("NRT_EMU_DMA_GBPS", "0.1"),
            ("NRT_EMU_XFER_OVERHEAD_NS", "500"),
        ]);
        let (busy, _) = timed_writes(10_000, 2);
        assert_eq!(busy, 2 * (500 + 100_000), "10 kB at 0.1 GB/s");
    }
}

#[test]
fn a_bandwidth_that_is_not_one_fails_nrt_init() {
    let _l = lock();
    for bad in ["fast", "0", "-2", "0.0001", "nan", "1e3", "1,5"] {
        assert_eq!(
            init_status(&[("NRT_EMU_DMA_GBPS", bad)]),
            NRT_INVALID,
            "NRT_EMU_DMA_GBPS={bad:?}"
        );
    }
    assert_eq!(
        init_status(&[
            ("NRT_EMU_DMA_GBPS", "2"),
            ("NRT_EMU_XFER_BYTES_PER_US", "2000")
        ]),
        NRT_INVALID,
        "the two spellings of one setting together"
    );
    assert_eq!(init_status(&[("NRT_EMU_DMA_GBPS", "2.5")]), NRT_SUCCESS);
    assert_eq!(
        init_status(&[("NRT_EMU_DMA_GBPS", " ")]),
        NRT_SUCCESS,
        "empty is unset"
    );
}

/// Wall time of `f`, ns of CLOCK_MONOTONIC.
fn wall_ns(f: impl FnOnce()) -> u64 {
    let t0 = std::time::Instant::now();
    f();
    t0.elapsed().as_nanos() as u64
}

#[test]
fn a_sync_device_copy_blocks_for_its_emulated_time_and_a_host_copy_does_not() {
    let _l = lock();
    // 0.1 GB/s: 20,000 bytes take 200 µs plus 2 µs of overhead, each way. The lower bound
    // is what is promised (the copy is not done before its emulated time); no upper bound
    // is asserted, as the machine may be slow.
    let _s = Session::start(&[("NRT_EMU_DMA_GBPS", "0.1")]);
    let bytes = 20_000usize;
    let cost = 2_000 + 200_000;
    let t = tensor(bytes, c"sync_dev");
    let data: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
    let mut back = vec![0u8; bytes];
    let e = emu();
    let writes_before = stats(0, xu_write(), 0).completed;
    let write_ns = wall_ns(|| {
        // SAFETY: live tensor, `data` readable for its length.
        let s = unsafe { (e.lib.core.nrt_tensor_write)(t, data.as_ptr().cast(), 0, bytes) };
        assert_eq!(s, NRT_SUCCESS);
    });
    let read_ns = wall_ns(|| {
        // SAFETY: live tensor, `back` writable for its length.
        let s = unsafe { (e.lib.core.nrt_tensor_read)(t, back.as_mut_ptr().cast(), 0, bytes) };
        assert_eq!(s, NRT_SUCCESS);
    });
    assert!(write_ns >= cost, "sync write took {write_ns} ns < {cost}");
    assert!(read_ns >= cost, "sync read took {read_ns} ns < {cost}");
    assert_eq!(back, data, "the bytes went there and back");
    // The async units saw none of it: sync copies take no sequence number.
    assert_eq!(stats(0, xu_write(), 0).completed, writes_before);

    // Two threads writing at once share the link: both are done only after two costs.
    let t2 = tensor(bytes, c"sync_dev2");
    let (a, b) = (t as usize, t2 as usize);
    let both_ns = wall_ns(|| {
        std::thread::scope(|sc| {
            for dst in [a, b] {
                let data = &data;
                sc.spawn(move || {
                    // SAFETY: live tensor, `data` readable for its length.
                    let s = unsafe {
                        (emu().lib.core.nrt_tensor_write)(
                            dst as *mut nrt_tensor_t,
                            data.as_ptr().cast(),
                            0,
                            bytes,
                        )
                    };
                    assert_eq!(s, NRT_SUCCESS);
                });
            }
        })
    });
    assert!(
        both_ns >= 2 * cost,
        "two concurrent writes took {both_ns} ns < 2 × {cost}"
    );

    // Host memory is not behind the link: the same copy returns well before the cost
    // (a 20 kB memcpy takes a few µs; 200 µs leaves room for a loaded machine).
    let mut h = std::ptr::null_mut();
    // SAFETY: valid arguments; `h` is writable.
    let s = unsafe {
        (e.lib.core.nrt_tensor_allocate)(
            NRT_TENSOR_PLACEMENT_HOST,
            -1,
            bytes,
            c"h".as_ptr(),
            &mut h,
        )
    };
    assert_eq!(s, NRT_SUCCESS);
    let fastest_host = (0..5)
        .map(|_| {
            wall_ns(|| {
                // SAFETY: live tensor, `data` readable for its length.
                let s = unsafe { (e.lib.core.nrt_tensor_write)(h, data.as_ptr().cast(), 0, bytes) };
                assert_eq!(s, NRT_SUCCESS);
            })
        })
        .min()
        .unwrap();
    assert!(fastest_host < cost, "host copy took {fastest_host} ns");
}
