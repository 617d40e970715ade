//! NULL for every pointer argument of every async and emulator-only entry point of the
//! generation under test: a status code, never a crash; and nothing scheduled.

mod async_support;
use async_support::*;
use neuron_sys::*;
use std::ptr::{null, null_mut};

#[test]
fn null_pointers_get_nrt_invalid() {
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, 1_000, &[]));
    let io = AddIo::new(m, 16);
    let t = io.a;
    let mut buf = [0u8; 64];
    let bp = buf.as_mut_ptr().cast::<std::ffi::c_void>();
    let mut seq: nrta_seq_t = 0;
    let mut ret: NRT_STATUS = 0;
    let cc_ctx: *mut *mut nrt_cc_context_t = null_mut();
    let a = emu().lib.asyncs.as_ref().unwrap();
    let inv = NRT_INVALID;
    // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
    unsafe {
        assert_eq!((a.nrta_is_completed())(0, null_mut()), inv);
        assert_eq!((a.nrta_get_sequence())(0, xu_compute(), 0, null_mut()), inv);
        if let Some(g) = emu().lib.gen_a() {
            let mut tr = null_mut();
            assert_eq!((g.nrta_error_tracker_create)(0, &mut tr), NRT_SUCCESS);
            assert_eq!(
                (g.nrta_tensor_write)(null_mut(), bp, 0, 4, 0, tr, &mut seq),
                inv
            );
            assert_eq!((g.nrta_tensor_write)(t, null(), 0, 4, 0, tr, &mut seq), inv);
            assert_eq!((g.nrta_tensor_write)(t, bp, 0, 4, 0, tr, null_mut()), inv);
            assert_eq!(
                (g.nrta_tensor_read)(null_mut(), t, 0, 4, 0, tr, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_read)(bp, null_mut(), 0, 4, 0, tr, &mut seq),
                inv
            );
            assert_eq!((g.nrta_tensor_read)(bp, t, 0, 4, 0, tr, null_mut()), inv);
            assert_eq!(
                (g.nrta_tensor_copy)(null_mut(), 0, t, 0, 4, 0, tr, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_copy)(t, 0, null_mut(), 0, 4, 0, tr, &mut seq),
                inv
            );
            assert_eq!((g.nrta_tensor_copy)(t, 0, t, 4, 4, 0, tr, null_mut()), inv);
            assert_eq!(
                (g.nrta_execute_schedule)(null_mut(), io.inputs, io.outputs, 0, tr, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(m, null(), io.outputs, 0, tr, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(m, io.inputs, null_mut(), 0, tr, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, tr, null_mut()),
                inv
            );
            // A pointer that is not a live tracker.
            let bogus = 0x1000 as *mut nrta_error_tracker_t;
            assert_eq!(
                (g.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, bogus, &mut seq),
                inv
            );
            if let Some(cc) = g.nrta_cc_schedule {
                assert_eq!(cc(null_mut(), 0, tr, &mut seq), inv);
                assert_eq!(cc(cc_ctx, 0, tr, null_mut()), inv);
            }
            assert_eq!((g.nrta_get_completion_handle)(0, null_mut()), inv);
            assert_eq!((g.nrta_error_tracker_create)(0, null_mut()), inv);
            let mut list = null();
            let mut n = 0usize;
            assert_eq!(
                (g.nrta_error_tracker_get_list)(null_mut(), &mut list, &mut n),
                inv
            );
            assert_eq!((g.nrta_error_tracker_get_list)(tr, null_mut(), &mut n), inv);
            assert_eq!(
                (g.nrta_error_tracker_get_list)(tr, &mut list, null_mut()),
                inv
            );
            (g.nrta_error_tracker_destroy)(null_mut());
            (g.nrta_error_tracker_destroy)(bogus);
            (g.nrta_error_tracker_destroy)(tr);
            (g.nrta_error_tracker_destroy)(tr); // twice: ignored
            if let Some(p) = g.nrta_cc_prepare {
                assert_eq!(
                    p(null_mut(), null_mut(), null_mut(), 0, 0, 0, null_mut()),
                    inv
                );
            }
        }
        if let Some(g) = emu().lib.gen_b() {
            assert_eq!(
                (g.nrta_tensor_write)(null_mut(), bp, 0, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_write)(t, null(), 0, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_write)(t, bp, 0, 4, 0, 0, &mut ret, null_mut()),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_read)(null_mut(), t, 0, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_read)(bp, null_mut(), 0, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_read)(bp, t, 0, 4, 0, 0, &mut ret, null_mut()),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_copy)(null_mut(), 0, t, 0, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_copy)(t, 0, null_mut(), 0, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_copy)(t, 0, t, 4, 4, 0, 0, &mut ret, null_mut()),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(null_mut(), io.inputs, io.outputs, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(m, null(), io.outputs, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(m, io.inputs, null_mut(), 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, &mut ret, null_mut()),
                inv
            );
            // Out-of-range core and offsets.
            assert_eq!(
                (g.nrta_tensor_write)(t, bp, 0, 4, 99, 0, &mut ret, &mut seq),
                inv
            );
            assert_eq!(
                (g.nrta_tensor_write)(t, bp, 64, 4, 0, 0, &mut ret, &mut seq),
                inv
            );
            if let Some(cc) = g.nrta_cc_schedule {
                assert_eq!(cc(null_mut(), 0, &mut ret, &mut seq), inv);
                assert_eq!(cc(cc_ctx, 0, &mut ret, null_mut()), inv);
            }
            if let Some(p) = g.nrta_cc_prepare {
                assert_eq!(
                    p(null_mut(), null_mut(), null_mut(), 0, 0, 0, null_mut()),
                    inv
                );
            }
            if let Some(ev) = &g.events {
                assert_eq!((ev.nrta_event_register_seq_id_completion)(0, -5), inv);
                assert_eq!((ev.nrta_event_register_xu_completion)(-1, 0, 0, -1), inv);
            }
        }
        // A NULL status pointer is allowed in 2.29+ (the status is dropped), a NULL
        // tracker in 2.28; schedule one to be sure it does not crash at completion.
        let sched = Sched {
            tracker: null_mut(),
        };
        let id = sched.execute(m, &io, null_mut()).unwrap();
        wait(id);
        std::mem::forget(sched);
        assert_eq!(
            stats(0, xu_compute(), 0).issued,
            1,
            "nothing else was scheduled"
        );
        assert_eq!(ret, 0, "refused calls never wrote *ret");
        // Emulator-only functions.
        assert_eq!((emu().get_xu_stats)(0, xu_compute(), 0, null_mut()), inv);
        assert_eq!((emu().get_config)(null_mut()), inv);
        assert_eq!((emu().thread_cpu_ns)(null_mut()), inv);
        assert_eq!((emu().completion_time)(id, null_mut(), null_mut()), inv);
        let mut end = 0;
        let mut rel = 0;
        assert_eq!((emu().completion_time)(id + 1, &mut end, &mut rel), inv);
    }
}

#[test]
fn a_short_stats_struct_gets_only_its_prefix() {
    let _l = lock();
    let _s = Session::start(&[]);
    let full = stats(0, xu_compute(), 0);
    assert_eq!(
        full.struct_size as usize,
        std::mem::size_of::<nrt_emu::observe::nrtemu_xu_stats_t>()
    );
    assert_eq!((full.lnc, full.xu, full.queue), (0, xu_compute(), 0));
    // An older caller that only knows the first 16 bytes gets exactly those.
    let mut s = nrt_emu::observe::nrtemu_xu_stats_t {
        struct_size: 16,
        issued: 77,
        ..Default::default()
    };
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (emu().get_xu_stats)(0, xu_compute(), 0, &mut s) },
        NRT_SUCCESS
    );
    assert_eq!((s.struct_size, s.xu, s.issued), (16, xu_compute(), 77));
    s.struct_size = 4;
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (emu().get_xu_stats)(0, xu_compute(), 0, &mut s) },
        NRT_INVALID
    );
}
