//! The header's answers to the gaps an outside client found in it, and the C API additions
//! the bindings need, checked through the C entry points over the emulator of the
//! generation under test (`NRT_EMU_API=2.28|2.29|2.30`). Each test is written from a
//! promise in include/nrtq.h, not from the implementation.
mod emu_support;

use std::ffi::{CStr, CString};
use std::ptr::null_mut;

use emu_support::*;
use nrtq::ffi::config::*;
use nrtq::ffi::diag::*;
use nrtq::ffi::queue::*;
use nrtq::ffi::reap::*;
use nrtq::ffi::runtime::*;
use nrtq::ffi::status::nrtq_status::{self, *};
use parking_lot::Mutex;

fn last_error() -> String {
    // SAFETY: nrtq_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nrtq_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn library_c() -> CString {
    CString::new(library().to_str().unwrap()).unwrap()
}

fn open_c(init: bool) -> *mut nrtq_runtime {
    let mut rt = null_mut();
    let st = nrtq_runtime_open(library_c().as_ptr(), init, &mut rt);
    assert_eq!(st, NRTQ_OK, "{}", last_error());
    rt
}

fn close_c(rt: *mut nrtq_runtime) {
    assert_eq!(nrtq_runtime_close(rt), NRTQ_OK, "{}", last_error());
}

/// A config changed by `set`, created and freed around `use_it`.
fn with_config<T>(
    set: impl FnOnce(*mut nrtq_queue_config),
    use_it: impl FnOnce(*const nrtq_queue_config) -> T,
) -> T {
    let mut cfg = null_mut();
    assert_eq!(nrtq_queue_config_new(&mut cfg), NRTQ_OK);
    set(cfg);
    let r = use_it(cfg);
    nrtq_queue_config_free(cfg);
    r
}

fn create(
    rt: *mut nrtq_runtime,
    model: *mut neuron_sys::nrt_model_t,
    cfg: *const nrtq_queue_config,
) -> Result<*mut nrtq_queue, nrtq_status> {
    let mut q = null_mut();
    match nrtq_queue_create(rt, model.cast(), cfg, &mut q) {
        NRTQ_OK => Ok(q),
        st => {
            assert!(q.is_null(), "out written on failure");
            Err(st)
        }
    }
}

fn submit(
    q: *mut nrtq_queue,
    io: &Io,
    cb: nrtq_completion_fn,
    user_data: u64,
) -> Result<u64, nrtq_status> {
    let mut ticket = u64::MAX;
    match nrtq_queue_submit(
        q,
        io.inputs.cast(),
        io.outputs.cast(),
        cb,
        user_data,
        &mut ticket,
    ) {
        NRTQ_OK => Ok(ticket),
        st => {
            assert_eq!(ticket, u64::MAX, "out_ticket written on a refusal");
            Err(st)
        }
    }
}

fn reap_all(q: *mut nrtq_queue) -> Vec<nrtq_completion> {
    let mut got = Vec::new();
    let mut buf = [nrtq_completion {
        ticket: 0,
        user_data: 0,
        status: NRTQ_OK,
        nrt_status: 0,
    }; 16];
    loop {
        let mut n = 0;
        assert_eq!(
            nrtq_queue_reap(q, buf.as_mut_ptr(), buf.len(), &mut n),
            NRTQ_OK
        );
        if n == 0 {
            return got;
        }
        got.extend_from_slice(&buf[..n]);
    }
}

static PLAIN: Mutex<Vec<nrtq_completion>> = Mutex::new(Vec::new());

unsafe extern "C" fn record_plain(c: *const nrtq_completion) {
    // SAFETY: the record is valid for the call (nrtq_completion_fn's contract).
    PLAIN.lock().push(unsafe { *c });
}

/// What a completion hook bound to an object sees.
struct Recorder(Mutex<Vec<(nrtq_completion, u64)>>);

unsafe extern "C" fn record_hook(c: *const nrtq_completion, user_data: u64) {
    // SAFETY: user_data is the address of a Recorder the test keeps alive until the queue
    // is destroyed; the record is valid for the call.
    let rec = unsafe { &*(user_data as *const Recorder) };
    // SAFETY: as above.
    rec.0.lock().push((unsafe { *c }, user_data));
}

#[test]
fn an_empty_libnrt_path_is_invalid_and_says_what_to_pass() {
    let mut rt = std::ptr::dangling_mut::<nrtq_runtime>();
    assert_eq!(
        nrtq_runtime_open(c"".as_ptr(), true, &mut rt),
        NRTQ_ERR_INVALID
    );
    let msg = last_error();
    assert!(
        msg.contains("pass NULL to search the default places"),
        "{msg}"
    );
    assert!(
        msg.contains("NRTQ_LIBNRT") && msg.contains("libnrt.so.1"),
        "{msg}"
    );
    assert_eq!(
        rt,
        std::ptr::dangling_mut::<nrtq_runtime>(),
        "out untouched"
    );
}

#[test]
fn reap_delivery_refuses_completion_callbacks_at_create_and_at_submit() {
    let _l = lock();
    PLAIN.lock().clear();
    let rt = open_c(true);
    let m = add_model(16, 10_000, &[]);
    let io = Io::new(16, 1.0);
    let recorder = Recorder(Mutex::new(Vec::new()));
    let rec_addr = &recorder as *const Recorder as u64;

    // A queue-wide callback, or a hook, with reap delivery: refused at create.
    for with_hook in [false, true] {
        let st = with_config(
            |cfg| {
                assert_eq!(nrtq_queue_config_set_delivery(cfg, 1), NRTQ_OK);
                let set = if with_hook {
                    nrtq_queue_config_set_completion_hook(cfg, Some(record_hook), rec_addr)
                } else {
                    nrtq_queue_config_set_completion_callback(cfg, Some(record_plain))
                };
                assert_eq!(set, NRTQ_OK);
            },
            |cfg| create(rt, m, cfg),
        );
        assert_eq!(st, Err(NRTQ_ERR_INVALID));
        assert!(
            last_error().contains("never called in reap mode"),
            "{}",
            last_error()
        );
    }

    // A per-request callback to a reap-mode queue: refused at submit, nothing accepted,
    // no ticket consumed.
    let q = with_config(
        |cfg| assert_eq!(nrtq_queue_config_set_delivery(cfg, 1), NRTQ_OK),
        |cfg| create(rt, m, cfg),
    )
    .expect("a reap queue without callbacks");
    assert_eq!(submit(q, &io, Some(record_plain), 7), Err(NRTQ_ERR_INVALID));
    assert!(last_error().contains("reap mode"), "{}", last_error());
    assert_eq!(
        submit(q, &io, None, 8),
        Ok(1),
        "the refusal consumed no ticket"
    );
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    let got = reap_all(q);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].ticket, got[0].user_data, got[0].status),
        (1, 8, NRTQ_OK)
    );
    assert!(PLAIN.lock().is_empty() && recorder.0.lock().is_empty());
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    drop(io);
    unload(m);
    close_c(rt);
}

#[test]
fn an_empty_array_is_allowed_for_errors_in_both_modes_and_for_reap() {
    let _l = lock();
    let rt = open_c(true);
    // Every request fails, so the error log has something to give.
    let m = add_model(16, 10_000, &["error every=1 code=1004"]);
    let io = Io::new(16, 1.0);
    for delivery in [0u32, 1] {
        let q = with_config(
            |cfg| assert_eq!(nrtq_queue_config_set_delivery(cfg, delivery), NRTQ_OK),
            |cfg| create(rt, m, cfg),
        )
        .unwrap();
        assert_eq!(submit(q, &io, None, 1), Ok(1));
        assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
        let (mut n, mut dropped) = (99usize, 99u64);
        assert_eq!(
            nrtq_queue_errors(q, null_mut(), 0, &mut n, &mut dropped),
            NRTQ_OK,
            "{}",
            last_error()
        );
        assert_eq!(
            (n, dropped),
            (0, 0),
            "empty array: nothing drained, dropped written"
        );
        if delivery == 1 {
            let mut n = 99usize;
            assert_eq!(nrtq_queue_reap(q, null_mut(), 0, &mut n), NRTQ_OK);
            assert_eq!(n, 0);
            assert_eq!(reap_all(q).len(), 1, "the empty reap took nothing");
        }
        // The error the empty call left in the log is still there.
        let mut buf = [nrtq_completion {
            ticket: 0,
            user_data: 0,
            status: NRTQ_OK,
            nrt_status: 0,
        }; 4];
        assert_eq!(
            nrtq_queue_errors(q, buf.as_mut_ptr(), 4, &mut n, null_mut()),
            NRTQ_OK
        );
        assert_eq!(n, 1);
        assert_eq!((buf[0].status, buf[0].nrt_status), (NRTQ_ERR_EXEC, 1004));
        // NULL with a capacity is still an error.
        assert_eq!(
            nrtq_queue_errors(q, null_mut(), 1, &mut n, null_mut()),
            NRTQ_ERR_NULL
        );
        assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    }
    drop(io);
    unload(m);
    close_c(rt);
}

#[test]
fn a_refused_submit_consumes_no_ticket_and_names_the_raw_status() {
    let _l = lock();
    let rt = open_c(true);
    // The second schedule call is refused at once by libnrt with NRT_INVALID.
    let m = add_model(16, 10_000, &["reject nth=2 code=2"]);
    let io = Io::new(16, 1.0);
    let q = create(rt, m, std::ptr::null()).unwrap();
    assert_eq!(submit(q, &io, None, 0), Ok(1));
    assert_eq!(submit(q, &io, None, 0), Err(NRTQ_ERR_RUNTIME));
    let msg = last_error();
    assert!(msg.contains("NRT_INVALID (2)"), "{msg}");
    assert!(
        !msg.contains("NRT status"),
        "the raw status once, by name: {msg}"
    );
    // Other refusals: a NULL tensor set.
    let mut ticket = u64::MAX;
    assert_eq!(
        nrtq_queue_submit(q, std::ptr::null(), io.outputs.cast(), None, 0, &mut ticket),
        NRTQ_ERR_NULL
    );
    assert_eq!(ticket, u64::MAX);
    assert_eq!(
        submit(q, &io, None, 0),
        Ok(2),
        "the next accepted gets the next number"
    );
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);

    // A full backlog: refused "not now", no ticket consumed either.
    let slow = add_model(16, 300_000_000, &[]);
    let q = with_config(
        |cfg| {
            assert_eq!(nrtq_queue_config_set_depth(cfg, 1), NRTQ_OK);
            assert_eq!(nrtq_queue_config_set_max_depth(cfg, 1), NRTQ_OK);
            assert_eq!(nrtq_queue_config_set_backlog(cfg, 0), NRTQ_OK);
        },
        |cfg| create(rt, slow, cfg),
    )
    .unwrap();
    assert_eq!(submit(q, &io, None, 0), Ok(1));
    assert_eq!(submit(q, &io, None, 0), Err(NRTQ_BACKLOG_FULL));
    assert_eq!(nrtq_queue_wait(q, 1, 10_000_000), NRTQ_OK);
    assert_eq!(submit(q, &io, None, 0), Ok(2));
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    drop(io);
    unload(m);
    unload(slow);
    close_c(rt);
}

#[test]
fn a_queue_killed_by_its_deadline_refuses_submits_with_queue_failed() {
    let _l = lock();
    let rt = open_c(true);
    let io = Io::new(16, 1.0);
    // The first request hangs on the device (and so does everything behind it on this
    // execution unit until nrt_close).
    let hung = add_model(16, 10_000, &["hang seq=1"]);
    let q = with_config(
        |cfg| assert_eq!(nrtq_queue_config_set_deadline_us(cfg, 20_000), NRTQ_OK),
        |cfg| create(rt, hung, cfg),
    )
    .unwrap();
    assert_eq!(submit(q, &io, None, 0), Ok(1));
    assert_eq!(nrtq_queue_wait(q, 1, 10_000_000), NRTQ_OK, "watchdog: 10 s");
    let (mut failure, mut raw) = (NRTQ_OK, 0u32);
    assert_eq!(nrtq_queue_failure(q, &mut failure, &mut raw), NRTQ_OK);
    assert_eq!(failure, NRTQ_ERR_DEADLINE);
    assert_eq!(submit(q, &io, None, 0), Err(NRTQ_ERR_QUEUE_FAILED));
    let msg = last_error();
    assert!(
        msg.contains("NRTQ_ERR_DEADLINE") && msg.contains("NRT_TIMEOUT (5)"),
        "{msg}"
    );
    // The hung request already completed (as NRTQ_ERR_DEADLINE) though the device still
    // holds it: nothing is left for destroy to wait for.
    assert_eq!(
        nrtq_queue_destroy(q, 5_000_000),
        NRTQ_OK,
        "{}",
        last_error()
    );
    unload(hung);
    // The runtime nrtq owns stops the device: the hung request's sets may be freed after.
    close_c(rt);
    drop(io);
}

#[test]
fn a_queue_killed_by_a_dead_unit_refuses_submits_with_queue_failed() {
    let _l = lock();
    let rt = open_c(true);
    let io = Io::new(16, 1.0);
    let (mut failure, mut raw) = (NRTQ_OK, 0u32);
    // Request 2 kills the execution unit.
    let dies = add_model(16, 10_000, &["unrecoverable after=1"]);
    let q = create(rt, dies, std::ptr::null()).unwrap();
    assert_eq!(submit(q, &io, None, 0), Ok(1));
    assert_eq!(nrtq_queue_wait(q, 1, 10_000_000), NRTQ_OK);
    match submit(q, &io, None, 0) {
        // The unit died with this request: it was accepted and completes as failed.
        Ok(2) => {
            assert_eq!(nrtq_queue_wait(q, 2, 10_000_000), NRTQ_OK, "watchdog: 10 s");
            assert_eq!(submit(q, &io, None, 0), Err(NRTQ_ERR_QUEUE_FAILED));
        }
        other => panic!("submit 2: {other:?}"),
    }
    assert!(
        last_error().contains("NRT_EXEC_UNIT_UNRECOVERABLE (101)"),
        "{}",
        last_error()
    );
    assert_eq!(nrtq_queue_failure(q, &mut failure, &mut raw), NRTQ_OK);
    assert_eq!((failure, raw), (NRTQ_ERR_QUEUE_FAILED, 101));
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    drop(io);
    unload(dies);
    close_c(rt);
}

#[test]
fn the_completion_hook_carries_its_user_data_and_replaces_the_callback() {
    let _l = lock();
    let rt = open_c(true);
    let m = add_model(16, 10_000, &[]);
    let io = Io::new(16, 1.0);
    PLAIN.lock().clear();

    // Callback first, then the hook: the hook wins.
    let recorder = Box::new(Recorder(Mutex::new(Vec::new())));
    let rec_addr = &*recorder as *const Recorder as u64;
    let q = with_config(
        |cfg| {
            assert_eq!(
                nrtq_queue_config_set_completion_callback(cfg, Some(record_plain)),
                NRTQ_OK
            );
            assert_eq!(
                nrtq_queue_config_set_completion_hook(cfg, Some(record_hook), rec_addr),
                NRTQ_OK
            );
        },
        |cfg| create(rt, m, cfg),
    )
    .unwrap();
    for i in 0..5u64 {
        assert_eq!(submit(q, &io, None, 100 + i), Ok(i + 1));
    }
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    let got = recorder.0.lock().clone();
    assert_eq!(got.len(), 5);
    for (i, (c, user_data)) in got.iter().enumerate() {
        assert_eq!(*user_data, rec_addr, "the hook's own user_data");
        assert_eq!(
            (c.ticket, c.user_data, c.status),
            (i as u64 + 1, 100 + i as u64, NRTQ_OK)
        );
    }
    assert!(PLAIN.lock().is_empty(), "the replaced callback was called");
    assert!(io.output_ok());

    // The hook first, then the callback: the callback wins.
    recorder.0.lock().clear();
    let q = with_config(
        |cfg| {
            assert_eq!(
                nrtq_queue_config_set_completion_hook(cfg, Some(record_hook), rec_addr),
                NRTQ_OK
            );
            assert_eq!(
                nrtq_queue_config_set_completion_callback(cfg, Some(record_plain)),
                NRTQ_OK
            );
        },
        |cfg| create(rt, m, cfg),
    )
    .unwrap();
    assert_eq!(submit(q, &io, None, 9), Ok(1));
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    assert!(recorder.0.lock().is_empty(), "the replaced hook was called");
    assert_eq!(PLAIN.lock().len(), 1);
    drop(recorder);
    drop(io);
    unload(m);
    close_c(rt);
}

static FROM_CALLBACK: Mutex<Vec<nrtq_status>> = Mutex::new(Vec::new());

unsafe extern "C" fn destroy_own_queue(c: *const nrtq_completion) {
    // SAFETY: the record is valid for the call; its user_data is the queue's handle, which
    // the test destroys only after this callback has run.
    let q = unsafe { (*c).user_data } as *mut nrtq_queue;
    FROM_CALLBACK.lock().push(nrtq_queue_destroy(q, -1));
}

#[test]
fn destroy_and_close_leave_the_handle_valid_only_when_refused() {
    let _l = lock();
    let rt = open_c(true);
    let m = add_model(16, 10_000, &[]);
    let io = Io::new(16, 1.0);
    FROM_CALLBACK.lock().clear();
    let q = create(rt, m, std::ptr::null()).unwrap();
    // Close with a queue open: NRTQ_ERR_BUSY, and the runtime is still usable.
    assert_eq!(nrtq_runtime_close(rt), NRTQ_ERR_BUSY);
    let mut generation = nrtq_generation::NRTQ_GENERATION_OTHER;
    assert_eq!(nrtq_runtime_generation(rt, &mut generation), NRTQ_OK);
    assert_ne!(generation, nrtq_generation::NRTQ_GENERATION_OTHER);
    // Destroy from the queue's own callback: NRTQ_ERR_WOULD_DEADLOCK, handle still valid.
    assert_eq!(submit(q, &io, Some(destroy_own_queue), q as u64), Ok(1));
    assert_eq!(nrtq_queue_wait(q, 1, 10_000_000), NRTQ_OK);
    assert_eq!(*FROM_CALLBACK.lock(), vec![NRTQ_ERR_WOULD_DEADLOCK]);
    assert_eq!(
        submit(q, &io, None, 0),
        Ok(2),
        "the handle survived the refusal"
    );
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    drop(io);
    unload(m);
    close_c(rt);
}

#[test]
fn a_second_init_true_runtime_is_refused_and_init_false_ones_share_libnrt() {
    let _l = lock();
    let first = open_c(true);
    let mut second = std::ptr::dangling_mut::<nrtq_runtime>();
    assert_eq!(
        nrtq_runtime_open(library_c().as_ptr(), true, &mut second),
        NRTQ_ERR_INVALID
    );
    let msg = last_error();
    assert!(msg.contains("init=true is still open"), "{msg}");
    assert!(msg.contains("open this one with init=false"), "{msg}");
    assert_eq!(second, std::ptr::dangling_mut::<nrtq_runtime>());
    // The first runtime is untouched, and an init=false runtime shares the libnrt.
    let shared = open_c(false);
    let m = add_model(16, 10_000, &[]);
    let io = Io::new(16, 1.0);
    for rt in [first, shared] {
        let q = create(rt, m, std::ptr::null()).unwrap();
        assert_eq!(submit(q, &io, None, 0), Ok(1));
        assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
        assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
        assert!(io.output_ok());
        io.clear_output();
    }
    drop(io);
    unload(m);
    close_c(shared);
    close_c(first);
    // Once it is closed, another init=true runtime may open.
    close_c(open_c(true));
}

#[test]
fn init_true_after_the_application_initialised_libnrt_gets_a_hint() {
    let _l = lock();
    // SAFETY: nrt_init with a valid framework value and two NUL-terminated strings.
    let st = unsafe {
        (lib().core.nrt_init)(
            neuron_sys::NRT_FRAMEWORK_TYPE_NO_FW,
            c"".as_ptr(),
            c"".as_ptr(),
        )
    };
    assert_eq!(st, neuron_sys::NRT_SUCCESS);
    let mut rt = std::ptr::dangling_mut::<nrtq_runtime>();
    assert_eq!(
        nrtq_runtime_open(library_c().as_ptr(), true, &mut rt),
        NRTQ_ERR_RUNTIME
    );
    let msg = last_error();
    assert!(
        msg.contains("nrt_init failed with NRT_FAILURE (1)"),
        "{msg}"
    );
    assert!(
        msg.contains(
            "if the application already called nrt_init, open the runtime with init=false"
        ),
        "{msg}"
    );
    assert!(!msg.contains("NRT status"), "{msg}");
    assert_eq!(rt, std::ptr::dangling_mut::<nrtq_runtime>());
    // As the hint says: init=false works over the application's libnrt.
    let rt = open_c(false);
    let m = add_model(16, 10_000, &[]);
    let io = Io::new(16, 1.0);
    let q = create(rt, m, std::ptr::null()).unwrap();
    assert_eq!(submit(q, &io, None, 0), Ok(1));
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    assert!(io.output_ok());
    drop(io);
    unload(m);
    close_c(rt);
    // SAFETY: the application's own nrt_close, after nrtq let go of libnrt.
    unsafe { (lib().core.nrt_close)() };
}

#[test]
fn cancel_takes_back_only_what_has_not_reached_the_device_and_keeps_the_order() {
    let _l = lock();
    let rt = open_c(true);
    // Slow enough that everything below happens while ticket 1 is still on the device.
    let m = add_model(16, 20_000_000, &[]);
    let io = Io::new(16, 1.0);
    let q = with_config(
        |cfg| {
            assert_eq!(nrtq_queue_config_set_delivery(cfg, 1), NRTQ_OK);
            assert_eq!(nrtq_queue_config_set_depth(cfg, 1), NRTQ_OK);
            assert_eq!(nrtq_queue_config_set_max_depth(cfg, 1), NRTQ_OK);
        },
        |cfg| create(rt, m, cfg),
    )
    .unwrap();
    for t in 1..=4 {
        assert_eq!(submit(q, &io, None, t), Ok(t));
    }
    assert_eq!(nrtq_queue_cancel(q, 3), NRTQ_OK, "{}", last_error());
    assert_eq!(
        nrtq_queue_cancel(q, 3),
        NRTQ_ERR_TOO_LATE,
        "cancelled once only"
    );
    assert_eq!(nrtq_queue_cancel(q, 1), NRTQ_ERR_TOO_LATE);
    assert!(
        last_error().contains("cannot be recalled"),
        "{}",
        last_error()
    );
    assert_eq!(nrtq_queue_cancel(q, 99), NRTQ_ERR_UNKNOWN_TICKET);
    assert_eq!(nrtq_queue_cancel(q, 0), NRTQ_ERR_UNKNOWN_TICKET);
    assert_eq!(nrtq_queue_cancel(null_mut(), 2), NRTQ_ERR_NULL);
    assert_eq!(nrtq_queue_drain(q, 10_000_000), NRTQ_OK);
    let got: Vec<(u64, nrtq_status, u32)> = reap_all(q)
        .iter()
        .map(|c| (c.ticket, c.status, c.nrt_status))
        .collect();
    assert_eq!(
        got,
        [
            (1, NRTQ_OK, 0),
            (2, NRTQ_OK, 0),
            (3, NRTQ_ERR_CANCELLED, 0),
            (4, NRTQ_OK, 0)
        ],
        "the cancelled request completes once, in its place"
    );
    assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
    drop(io);
    unload(m);
    close_c(rt);
}

#[test]
fn the_reap_descriptor_is_closed_when_destroy_returns() {
    let _l = lock();
    let rt = open_c(true);
    let m = add_model(16, 1_000, &[]);
    let io = Io::new(16, 1.0);
    for with_work in [false, true] {
        let q = with_config(
            |cfg| assert_eq!(nrtq_queue_config_set_delivery(cfg, 1), NRTQ_OK),
            |cfg| create(rt, m, cfg),
        )
        .unwrap();
        let mut fd = -1;
        assert_eq!(nrtq_queue_reap_fd(q, &mut fd), NRTQ_OK);
        // SAFETY: F_GETFD on any integer is harmless.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(flags >= 0, "open while the queue lives");
        if with_work {
            assert_eq!(submit(q, &io, None, 1), Ok(1));
        }
        assert_eq!(nrtq_queue_destroy(q, -1), NRTQ_OK);
        // SAFETY: as above.
        let r = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        let errno = std::io::Error::last_os_error().raw_os_error();
        assert_eq!(
            (r, errno),
            (-1, Some(libc::EBADF)),
            "closed before destroy returned"
        );
    }
    drop(io);
    unload(m);
    close_c(rt);
}
