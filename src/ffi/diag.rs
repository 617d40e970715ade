//! Diagnostics: the thread-local last-error message, the library version and the log hook.
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::sync::Arc;

use super::ffi_boundary;
use super::status::{fail_msg, nrtq_status};
use crate::log::{self, Level};
use crate::status::Status;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// The message of the most recent failed nrtq call on the calling thread ("" if none).
///
/// The status code is the truth; this only adds detail (which argument, which libnrt
/// status, every place tried when loading). The pointer is owned by nrtq and stays valid
/// until the next nrtq call that fails on this thread; copy it to keep it. The message is
/// per OS thread, so Go callers must read it on the same locked OS thread as the failing
/// call (`runtime.LockOSThread`). Successful calls leave it unchanged.
#[no_mangle]
pub extern "C" fn nrtq_last_error() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), { LAST_ERROR.with(|e| e.borrow().as_ptr()) })
}

/// The library version, e.g. "0.1.0": a static NUL-terminated string (never free it).
/// Compare with the `NRTQ_VERSION_*` macros of the header you compiled against.
#[no_mangle]
pub extern "C" fn nrtq_version() -> *const c_char {
    ffi_boundary!(c"".as_ptr(), {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// Log severity (`level` argument of `nrtq_log_fn`; `max_level` of `nrtq_set_log_hook`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_log_level {
    /// Something failed.
    NRTQ_LOG_ERROR = 1,
    /// Something is wrong but was handled.
    NRTQ_LOG_WARN = 2,
    /// Lifecycle events (runtime opened, queue failed or destroyed).
    NRTQ_LOG_INFO = 3,
    /// Detail for debugging.
    NRTQ_LOG_DEBUG = 4,
}

/// A log sink: `level` is an `nrtq_log_level`, `message` a NUL-terminated string valid only
/// during the call, `user_data` the value given to `nrtq_set_log_hook`. Called from any
/// thread (including nrtq's completion threads), possibly concurrently; it must not call
/// `nrtq_set_log_hook` and must not throw (C++) or unwind.
pub type nrtq_log_fn =
    Option<unsafe extern "C" fn(level: u32, message: *const c_char, user_data: u64)>;

/// Install a process-wide log hook receiving messages up to `max_level` (an
/// `nrtq_log_level`), or remove it with `hook` = NULL. nrtq is silent by default; setting
/// `NRTQ_LOG=stderr` (or `stderr:debug`, …) in the environment logs to stderr until a hook
/// is set. Thread-safe.
///
/// Returns `NRTQ_OK`, or `NRTQ_ERR_INVALID` for an unknown `max_level`.
#[no_mangle]
pub extern "C" fn nrtq_set_log_hook(
    hook: nrtq_log_fn,
    max_level: u32,
    user_data: u64,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let Some(level) = Level::from_u32(max_level) else {
            return fail_msg(
                Status::InvalidArgument,
                "max_level is not an nrtq_log_level",
            );
        };
        let sink: Option<log::Hook> = hook.map(|f| {
            Arc::new(move |l: Level, m: &str| {
                let c = CString::new(m.replace('\0', " ")).unwrap_or_default();
                // SAFETY: `f` is the application's non-NULL log function, called with a
                // valid level, a NUL-terminated string alive for the call, and its data.
                unsafe { f(l as u32, c.as_ptr(), user_data) }
            }) as log::Hook
        });
        log::set_hook(sink, level);
        nrtq_status::NRTQ_OK
    })
}

/// Copy `s` into a caller buffer (NUL-terminated, truncated to fit); used by the
/// string getters. Returns the full length (excluding the NUL).
pub(crate) fn copy_out(s: &str, buf: *mut c_char, len: usize) -> usize {
    if !buf.is_null() && len > 0 {
        let n = s.len().min(len - 1);
        // SAFETY: the caller passed a writable buffer of `len` bytes (checked non-NULL and
        // non-empty); we write `n + 1 <= len` bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    s.len()
}

/// Read an optional NUL-terminated string from C.
pub(crate) fn opt_str<'a>(p: *const c_char) -> Result<Option<&'a str>, ()> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string alive for the call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map(Some)
        .map_err(|_| ())
}
