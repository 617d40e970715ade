//! Diagnostics: the hints and warnings the last-error message carries (the message itself
//! is kept in `status`), the library version and the log hook.
use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::ffi_boundary;
pub use super::status::nrtq_last_error;
use super::status::{fail, fail_msg, nrtq_status, set_last_error};
use crate::log::{self, log, Level};
use crate::status::{Error, Status};

/// A failed `nrtq_runtime_open`: the error, plus a hint for the common mistake of asking
/// nrtq to initialise a libnrt that the application already initialised.
pub(crate) fn open_failure(e: Error, init: bool) -> nrtq_status {
    // With init = true, a Runtime error can only come from nrt_init (loading fails with
    // LoadFailed/Unsupported); NRT_FAILURE is its generic refusal, the emulator's answer to
    // a second initialisation.
    if init && e.status == Status::Runtime && e.nrt_status == neuron_sys::NRT_FAILURE {
        let message = format!(
            "{e}; if the application already called nrt_init, open the runtime with init=false"
        );
        set_last_error(&message);
        return e.status.into();
    }
    fail(e)
}

/// After a successful `nrtq_runtime_open` that searched (NULL path): when `NRTQ_LIBNRT`
/// was set but the libnrt already in the process was used, say so in the log and in
/// `nrtq_last_error()` instead of ignoring the variable silently.
pub(crate) fn open_warning() {
    if let Some(note) = neuron_sys::env_library_ignored() {
        log!(Level::Warn, "{note}");
        set_last_error(&format!("warning (the runtime opened): {note}"));
    }
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
/// thread (including nrtq's completion threads), possibly concurrently. It must not throw
/// (C++) or unwind. It may call nrtq functions, except `nrtq_set_log_hook` (which returns
/// `NRTQ_ERR_WOULD_DEADLOCK` from inside a hook); it must not wait for a thread that is
/// calling `nrtq_set_log_hook` (that call waits for the hook to return).
pub type nrtq_log_fn =
    Option<unsafe extern "C" fn(level: u32, message: *const c_char, user_data: u64)>;

/// Install a process-wide log hook receiving messages up to `max_level` (an
/// `nrtq_log_level`), or remove it with `hook` = NULL. nrtq is silent by default; setting
/// `NRTQ_LOG=stderr` (or `stderr:debug`, …) in the environment logs to stderr until a hook
/// is set. Thread-safe.
///
/// When this returns, the previous hook is not running on any thread and will not be
/// called again, so its `user_data` may be freed at once: the call waits for calls of the
/// previous hook in progress on other threads to return.
///
/// Returns `NRTQ_OK`; `NRTQ_ERR_INVALID` for an unknown `max_level`;
/// `NRTQ_ERR_WOULD_DEADLOCK` when called from inside a log hook (nothing changes).
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
        match log::set_hook(sink, level) {
            Ok(()) => nrtq_status::NRTQ_OK,
            Err(e) => fail(e),
        }
    })
}
