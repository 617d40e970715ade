//! How completions and their statuses reach the application in each generation: the
//! 2.28 completion handle and error tracker, the 2.29+ per-request status, the 2.30+
//! eventfds. Tests of another generation return early with a note.

mod async_support;
use async_support::*;
use neuron_sys::*;
use std::ffi::c_int;

fn eventfd() -> c_int {
    // SAFETY: plain syscall wrapper.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    assert!(fd >= 0);
    fd
}

fn close(fd: c_int) {
    // SAFETY: closing an fd this test owns.
    unsafe { libc::close(fd) };
}

#[test]
fn completion_handle_turns_readable_and_stays_readable() {
    let Some(a) = emu().lib.gen_a() else {
        eprintln!("note: completion handles exist only in 2.28");
        return;
    };
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, 20_000_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let seq = sched.execute(m, &io, std::ptr::null_mut()).unwrap();
    let mut fd = -1;
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (a.nrta_get_completion_handle)(seq, &mut fd) },
        NRT_SUCCESS
    );
    assert!(
        !readable(fd, 0),
        "pending: a 20 ms request cannot be done yet"
    );
    assert!(readable(fd, 5000), "readable once complete");
    assert!(done(seq));
    assert!(readable(fd, 0), "level-triggered: still readable");
    close(fd);
    // Already completed: readable at once.
    let mut fd2 = -1;
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (a.nrta_get_completion_handle)(seq, &mut fd2) },
        NRT_SUCCESS
    );
    assert!(readable(fd2, 0));
    close(fd2);
    // Never issued: invalid, fd untouched.
    let mut fd3 = -7;
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (a.nrta_get_completion_handle)(seq + 5, &mut fd3) },
        NRT_INVALID
    );
    assert_eq!(fd3, -7);
}

#[test]
fn tracker_lists_failed_requests_get_and_clear() {
    let Some(a) = emu().lib.gen_a() else {
        eprintln!("note: the error tracker exists only in 2.28");
        return;
    };
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model(
        "faulty",
        16,
        10_000,
        &["error every=3 code=1004"],
    ));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut ids = Vec::new();
    for _ in 0..7 {
        let id = sched.execute(m, &io, std::ptr::null_mut()).unwrap();
        wait(id);
        ids.push(id);
    }
    let errs = sched.errors();
    let got: Vec<(u64, u64)> = errs.iter().map(|e| (e.seq_id, e.error_code)).collect();
    assert_eq!(
        got,
        vec![(ids[2], 1004), (ids[5], 1004)],
        "numbers 3 and 6 failed, in order"
    );
    assert!(sched.errors().is_empty(), "get_list clears");
    // A tracker of another core is refused; a NULL tracker is allowed.
    let mut other = std::ptr::null_mut();
    let cores = config().lnc_count;
    if cores > 1 {
        assert_eq!(
            // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
            unsafe { (a.nrta_error_tracker_create)(1, &mut other) },
            NRT_SUCCESS
        );
        let mut seq = 0;
        assert_eq!(
            // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
            unsafe { (a.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, other, &mut seq) },
            NRT_INVALID
        );
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (a.nrta_error_tracker_destroy)(other) };
    }
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (a.nrta_error_tracker_create)(cores, &mut other) },
        NRT_INVALID
    );
    let mut seq = 0;
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe {
            (a.nrta_execute_schedule)(m, io.inputs, io.outputs, 0, std::ptr::null_mut(), &mut seq)
        },
        NRT_SUCCESS
    );
    wait(seq);
}

#[test]
fn per_request_status_is_written_once_at_completion() {
    if is_gen_a() {
        eprintln!("note: per-request statuses exist from 2.29 on");
        return;
    }
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model(
        "faulty",
        16,
        2_000_000,
        &["error seq=2 code=1002"],
    ));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    const UNSET: u32 = 0xdead_beef;
    let mut rets = Box::new([UNSET; 3]);
    // Only raw access from here: the emulator writes these from its own thread.
    let base: *mut u32 = rets.as_mut_ptr();
    let mut ids = Vec::new();
    for i in 0..3 {
        // SAFETY: `base` points at a live status array (kept until completion); the FFI call gets live handles.
        ids.push(sched.execute(m, &io, unsafe { base.add(i) }).unwrap());
    }
    // SAFETY: `base` points at a live array of the statuses; the index is within it.
    let read = |i: usize| unsafe { std::ptr::read_volatile(base.add(i)) };
    assert!(!done(ids[0]), "2 ms requests are still running");
    assert_eq!(read(0), UNSET, "not written before completion");
    wait(ids[2]);
    assert_eq!(read(0), NRT_SUCCESS, "success is written too");
    assert_eq!(read(1), NRT_EXEC_BAD_INPUT);
    assert_eq!(read(2), NRT_SUCCESS);
    // Written once: overwrite and make sure nothing writes again.
    // SAFETY: the status slot is alive (owned by this test) and aligned; the emulator writes it only once, before the completion this test already observed.
    unsafe { std::ptr::write_volatile(base.add(1), UNSET) };
    let extra = sched.execute(m, &io, std::ptr::null_mut()).unwrap();
    wait(extra);
    assert_eq!(read(1), UNSET);
}

#[test]
fn registered_eventfds_signal_per_request_and_per_xu() {
    let Some(ev) = emu().lib.gen_b().and_then(|b| b.events.as_ref()) else {
        eprintln!("note: eventfd registration exists from 2.30 on");
        return;
    };
    let _l = lock();
    let _s = Session::start(&[]);
    let m = load(&add_model("m", 16, 5_000_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let xu_fd = eventfd();
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_xu_completion)(0, xu_compute() as _, 0, xu_fd) },
        NRT_SUCCESS
    );
    assert!(!readable(xu_fd, 0), "no signal at registration");
    let mut ret = 0u32;
    let seq = sched.execute(m, &io, &mut ret).unwrap();
    let seq_fd = eventfd();
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_seq_id_completion)(seq, seq_fd) },
        NRT_SUCCESS
    );
    assert!(
        !readable(seq_fd, 0) && !readable(xu_fd, 0),
        "5 ms request still running"
    );
    assert!(readable(seq_fd, 5000), "per-request eventfd signalled");
    assert!(readable(xu_fd, 1000), "per-XU eventfd signalled");
    let mut v = 0u64;
    assert_eq!(
        // SAFETY: reading 8 bytes from an eventfd this test owns into a local u64.
        unsafe { libc::read(seq_fd, (&mut v as *mut u64).cast(), 8) },
        8
    );
    assert_eq!(v, 1, "one write of 1");
    // Already completed: signalled at once.
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_seq_id_completion)(seq, seq_fd) },
        NRT_SUCCESS
    );
    assert!(readable(seq_fd, 0));
    // Persistent per-XU registration: drained, it signals again for the next request.
    assert_eq!(
        // SAFETY: reading 8 bytes from an eventfd this test owns into a local u64.
        unsafe { libc::read(xu_fd, (&mut v as *mut u64).cast(), 8) },
        8
    );
    let seq2 = sched.execute(m, &io, &mut ret).unwrap();
    assert!(readable(xu_fd, 5000));
    wait(seq2);
    // Removed with -1: no more signals.
    assert_eq!(
        // SAFETY: reading 8 bytes from an eventfd this test owns into a local u64.
        unsafe { libc::read(xu_fd, (&mut v as *mut u64).cast(), 8) },
        8
    );
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_xu_completion)(0, xu_compute() as _, 0, -1) },
        NRT_SUCCESS
    );
    let seq3 = sched.execute(m, &io, &mut ret).unwrap();
    wait(seq3);
    assert!(!readable(xu_fd, 0), "unregistered");
    // Bad arguments.
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_seq_id_completion)(seq3 + 9, seq_fd) },
        NRT_INVALID
    );
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_xu_completion)(0, 7, 0, xu_fd) },
        NRT_INVALID
    );
    assert_eq!(
        // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
        unsafe { (ev.nrta_event_register_seq_id_completion)(seq, 100_000) },
        NRT_INVALID
    );
    close(seq_fd);
    close(xu_fd);
}

#[test]
fn close_completes_in_flight_work_with_an_error() {
    let _l = lock();
    let s = Session::start(&[]);
    let m = load(&add_model("m", 16, 50_000_000, &[]));
    let io = AddIo::new(m, 16);
    let sched = Sched::new();
    let mut ret = Box::new(0xdead_u32);
    let seq = sched.execute(m, &io, &mut *ret).unwrap();
    let mut fd = -1;
    if let Some(a) = emu().lib.gen_a() {
        assert_eq!(
            // SAFETY: an FFI call into the library under test with live handles it returned and valid, writable locals.
            unsafe { (a.nrta_get_completion_handle)(seq, &mut fd) },
            NRT_SUCCESS
        );
    }
    drop(s); // nrt_close with a 50 ms request in flight
    if is_gen_a() {
        assert!(readable(fd, 0), "the handle turned readable at close");
        close(fd);
        let e = sched.errors();
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].seq_id, e[0].error_code), (seq, u64::from(NRT_CLOSED)));
    } else {
        // SAFETY: the status slot is alive (owned by this test) and aligned; the emulator writes it only once, before the completion this test already observed.
        assert_eq!(unsafe { std::ptr::read_volatile(&*ret) }, NRT_CLOSED);
    }
}
