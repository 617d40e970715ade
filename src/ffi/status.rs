//! Status codes at the C edge: recording an error in the thread-local message behind
//! `nrtq_last_error` and returning its code, and `nrtq_status_str`.
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::ffi_boundary;
use crate::status::{Error, Status};

/// The C-ABI status enum, generated with [`Status`] from `src/status_codes.rs` (the header's
/// `enum nrtq_status` is written by build.rs from the same table).
pub use crate::status::nrtq_status;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Record `e` as this thread's last error and return its code.
pub(crate) fn fail(e: Error) -> nrtq_status {
    set_last_error(&e.to_string());
    e.status.into()
}

/// Record a message and return `status`'s code.
pub(crate) fn fail_msg(status: Status, msg: &str) -> nrtq_status {
    fail(Error::new(status, msg))
}

/// Record "argument `name` is NULL" and return `NRTQ_ERR_NULL`.
pub(crate) fn null_argument(name: &str) -> nrtq_status {
    fail_msg(Status::NullArgument, &format!("argument `{name}` is NULL"))
}

fn strings() -> &'static Vec<(u32, CString)> {
    static S: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
    S.get_or_init(|| {
        Status::all()
            .iter()
            .map(|s| {
                let (name, text) = s.describe();
                (
                    s.code(),
                    CString::new(format!("{name}: {text}")).expect("no NUL in status text"),
                )
            })
            .collect()
    })
}

/// A static, NUL-terminated description of `status` ("NRTQ_BACKLOG_FULL: not now: …").
///
/// Takes the code as a plain integer, so any value is accepted: an unknown one gives
/// "unknown nrtq status". The string is static (never free it) and needs no thread state.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_status_str(status: u32) -> *const c_char {
    ffi_boundary!(c"unknown nrtq status (panic)".as_ptr(), {
        strings()
            .iter()
            .find(|(c, _)| *c == status)
            .map_or(c"unknown nrtq status".as_ptr(), |(_, s)| s.as_ptr())
    })
}

/// The message of the most recent failed nrtq call on the calling thread ("" if none).
///
/// The status code is the truth; this only adds detail (which argument, which libnrt
/// status, every place tried when loading). The pointer is owned by nrtq and stays valid
/// until the next nrtq call that fails on this thread; copy it to keep it. The message is
/// per OS thread, so Go callers must read it on the same locked OS thread as the failing
/// call (`runtime.LockOSThread`). Successful calls leave it unchanged, with one exception:
/// a successful `nrtq_runtime_open` that had to ignore `NRTQ_LIBNRT` leaves a warning
/// starting "warning" there.
#[no_mangle]
pub extern "C" fn nrtq_last_error() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), { LAST_ERROR.with(|e| e.borrow().as_ptr()) })
}
