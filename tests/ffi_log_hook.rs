//! The log-hook contract of include/nrtq.h: when `nrtq_set_log_hook` returns, the previous
//! hook is not running on any thread and will not be called again (so its `user_data` may
//! be freed at once); called from inside a hook it returns `NRTQ_ERR_WOULD_DEADLOCK`.
//! The hook is process-wide, so the tests of this binary take turns.
use std::ffi::{c_char, CStr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use nrtq::ffi::diag::*;
use nrtq::ffi::status::nrtq_status::{self, *};
use nrtq::log::{emit, Level};
use parking_lot::{Condvar, Mutex};

static TURN: Mutex<()> = Mutex::new(());
/// Orders events across threads: each records the next number when it happens.
static SEQ: AtomicU64 = AtomicU64::new(1);

const DEBUG: u32 = nrtq_log_level::NRTQ_LOG_DEBUG as u32;

/// A hook's state, reached through its `user_data`.
#[derive(Default)]
struct Gate {
    calls: AtomicU32,
    entered: Mutex<bool>,
    entered_cv: Condvar,
    released: Mutex<bool>,
    released_cv: Condvar,
    /// SEQ when the hook returned.
    returned_at: AtomicU64,
    /// The hook waited 10 s without being released (the test failed to release it).
    gave_up: AtomicU32,
}

/// Signals that it is running, then blocks until the test releases it.
unsafe extern "C" fn blocking_hook(_level: u32, _message: *const c_char, user_data: u64) {
    // SAFETY: user_data is the address of a Gate the test keeps alive until the hook is
    // replaced (which the contract says waits for this call to return).
    let gate = unsafe { &*(user_data as *const Gate) };
    gate.calls.fetch_add(1, Ordering::SeqCst);
    *gate.entered.lock() = true;
    gate.entered_cv.notify_all();
    let mut released = gate.released.lock();
    while !*released {
        if gate
            .released_cv
            .wait_for(&mut released, Duration::from_secs(10))
            .timed_out()
        {
            gate.gave_up.store(1, Ordering::SeqCst);
            break;
        }
    }
    gate.returned_at
        .store(SEQ.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst);
}

#[test]
fn replacing_the_hook_waits_for_calls_in_progress_and_ends_the_old_hook() {
    let _turn = TURN.lock();
    let gate = Box::new(Gate::default());
    let addr = &*gate as *const Gate as u64;
    assert_eq!(nrtq_set_log_hook(Some(blocking_hook), DEBUG, addr), NRTQ_OK);

    // One thread is inside the hook, blocked there.
    let logger = std::thread::spawn(|| emit(Level::Warn, "a message for the blocking hook"));
    {
        let mut entered = gate.entered.lock();
        while !*entered {
            assert!(
                !gate
                    .entered_cv
                    .wait_for(&mut entered, Duration::from_secs(10))
                    .timed_out(),
                "watchdog: the hook was never called"
            );
        }
    }

    // Another removes the hook.
    let (tx, rx) = mpsc::channel();
    let setter = std::thread::spawn(move || {
        let status = nrtq_set_log_hook(None, DEBUG, 0);
        let at = SEQ.fetch_add(1, Ordering::SeqCst);
        tx.send((status, at)).unwrap();
    });
    // While the hook runs, the setter must not return. (If it could, it would almost
    // always do so within this window; the order check below is the exact one.)
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "nrtq_set_log_hook returned while the old hook was still running"
    );

    *gate.released.lock() = true;
    gate.released_cv.notify_all();
    let (status, set_returned_at) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("watchdog: nrtq_set_log_hook never returned");
    assert_eq!(status, NRTQ_OK);
    setter.join().unwrap();
    logger.join().unwrap();
    assert_eq!(gate.gave_up.load(Ordering::SeqCst), 0);
    let hook_returned_at = gate.returned_at.load(Ordering::SeqCst);
    assert!(
        hook_returned_at != 0 && hook_returned_at < set_returned_at,
        "the hook returned at {hook_returned_at}, after set returned at {set_returned_at}"
    );

    // The old hook is never called again; its state can go.
    emit(Level::Error, "after removal");
    assert_eq!(gate.calls.load(Ordering::SeqCst), 1);
    drop(gate);
}

static INSIDE: Mutex<Vec<nrtq_status>> = Mutex::new(Vec::new());
static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Tries to replace the hook from inside itself, and logs from inside itself.
unsafe extern "C" fn reentrant_hook(_level: u32, message: *const c_char, _user_data: u64) {
    // SAFETY: the message is a NUL-terminated string valid for the call.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    let first = !text.starts_with("nested");
    MESSAGES.lock().push(text);
    if first {
        INSIDE.lock().push(nrtq_set_log_hook(None, DEBUG, 0));
        emit(Level::Info, "nested message");
    }
}

#[test]
fn a_hook_cannot_replace_itself_and_may_log() {
    let _turn = TURN.lock();
    INSIDE.lock().clear();
    MESSAGES.lock().clear();
    assert_eq!(nrtq_set_log_hook(Some(reentrant_hook), DEBUG, 0), NRTQ_OK);
    emit(Level::Warn, "outer message");
    assert_eq!(*INSIDE.lock(), vec![NRTQ_ERR_WOULD_DEADLOCK]);
    assert_eq!(
        *MESSAGES.lock(),
        vec!["outer message".to_string(), "nested message".to_string()]
    );
    // The refused call changed nothing: the hook is still installed.
    emit(Level::Warn, "nested, second");
    assert_eq!(MESSAGES.lock().len(), 3);
    assert_eq!(nrtq_set_log_hook(None, DEBUG, 0), NRTQ_OK);
    emit(Level::Warn, "after removal");
    assert_eq!(MESSAGES.lock().len(), 3);
}
