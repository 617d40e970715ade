//! `NRTQ_LIBNRT` set while the process already has a libnrt: nrtq uses the process's
//! library (search step 1) and says so, in the log and in `nrtq_last_error()`, instead of
//! ignoring the variable silently. Its own binary: it makes a libnrt global in the process.
use std::ffi::{c_char, CStr, CString};
use std::ptr::null_mut;

use nrtq::ffi::diag::*;
use nrtq::ffi::queue::nrtq_queue_drain;
use nrtq::ffi::runtime::*;
use nrtq::ffi::status::nrtq_status::*;
use parking_lot::Mutex;

fn last_error() -> String {
    // SAFETY: nrtq_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nrtq_last_error()) }
        .to_string_lossy()
        .into_owned()
}

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn keep_warnings(level: u32, message: *const c_char, _user_data: u64) {
    if level == nrtq_log_level::NRTQ_LOG_WARN as u32 {
        // SAFETY: the message is a NUL-terminated string valid for the call.
        let text = unsafe { CStr::from_ptr(message) };
        WARNINGS.lock().push(text.to_string_lossy().into_owned());
    }
}

fn open_searching() -> *mut nrtq_runtime {
    let mut rt = null_mut();
    assert_eq!(
        nrtq_runtime_open(std::ptr::null(), false, &mut rt),
        NRTQ_OK,
        "{}",
        last_error()
    );
    rt
}

#[test]
fn an_ignored_nrtq_libnrt_is_reported_in_the_log_and_the_last_error() {
    // The emulator's libnrt in the global scope, as a program linked with -lnrt has it.
    let library = nrt_emu::library_path(&nrt_emu::selected_generation());
    let path = CString::new(library.to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path; loading a library runs its initialisers, no more.
    let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    assert!(!handle.is_null(), "dlopen {}", library.display());
    assert_eq!(nrtq_set_log_hook(Some(keep_warnings), 4, 0), NRTQ_OK);

    // Without NRTQ_LIBNRT there is nothing to report: the last error is left alone.
    std::env::remove_var("NRTQ_LIBNRT");
    assert_eq!(nrtq_queue_drain(null_mut(), 0), NRTQ_ERR_NULL);
    let before = last_error();
    let rt = open_searching();
    assert_eq!(
        last_error(),
        before,
        "a plain successful open changed the last error"
    );
    assert!(WARNINGS.lock().is_empty(), "{:?}", WARNINGS.lock());
    assert_eq!(nrtq_runtime_close(rt), NRTQ_OK);

    // With it, the process's library is still the one used, and the open says so.
    std::env::set_var("NRTQ_LIBNRT", "/elsewhere/libnrt.so.1");
    let rt = open_searching();
    let note = last_error();
    assert!(note.starts_with("warning"), "{note}");
    assert!(
        note.contains("NRTQ_LIBNRT=/elsewhere/libnrt.so.1 was not used"),
        "{note}"
    );
    assert!(note.contains("already has a libnrt"), "{note}");
    let warnings = WARNINGS.lock().clone();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("NRTQ_LIBNRT=/elsewhere/libnrt.so.1")),
        "{warnings:?}"
    );
    let mut generation = nrtq_generation::NRTQ_GENERATION_OTHER;
    assert_eq!(nrtq_runtime_generation(rt, &mut generation), NRTQ_OK);
    assert_eq!(
        generation as u32,
        nrt_emu::selected_generation()
            .replace('.', "")
            .parse::<u32>()
            .unwrap(),
        "the process's library (the emulator) was used"
    );
    assert_eq!(nrtq_runtime_close(rt), NRTQ_OK);

    // neuron-sys's loader carries the same note in its result.
    let lib = neuron_sys::Libnrt::load().expect("the process's libnrt");
    assert!(
        lib.notes().iter().any(|n| n.contains("was not used")),
        "{:?}",
        lib.notes()
    );
    std::env::remove_var("NRTQ_LIBNRT");
    assert_eq!(nrtq_set_log_hook(None, 4, 0), NRTQ_OK);
}
