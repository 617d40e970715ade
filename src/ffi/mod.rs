//! The C API of libnrtq: thin shims over the safe core, one file per header section.
//!
//! Every `extern "C"` function body is wrapped in [`ffi_boundary!`] (a test scans this
//! folder for one without it), checks every pointer in every build, answers NULL or
//! invalid arguments with a status and a thread-local message, and writes its outputs
//! only on success. Nothing here holds logic: conversions, checks and error mapping.
#![allow(non_camel_case_types)]
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "entry points check their raw pointers themselves, rustls-ffi style"
)]

pub mod config;
pub mod diag;
pub mod queue;
pub mod reap;
pub mod runtime;
pub mod stats;
pub mod status;

/// Run an entry point's body, turning a Rust panic into `$on_panic` (and a message) so
/// no unwinding crosses the C boundary.
macro_rules! ffi_boundary {
    ($on_panic:expr, $body:block) => {{
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => {
                $crate::ffi::diag::set_last_error(
                    "internal panic in nrtq, caught at the C boundary",
                );
                $on_panic
            }
        }
    }};
}
pub(crate) use ffi_boundary;

/// Return `NRTQ_ERR_NULL` (with a message naming `$name`) when `$ptr` is NULL.
macro_rules! check_null {
    ($ptr:expr, $name:literal) => {
        if $ptr.is_null() {
            return $crate::ffi::status::fail_msg(
                $crate::status::Status::NullArgument,
                concat!("argument `", $name, "` is NULL"),
            );
        }
    };
}
pub(crate) use check_null;

/// A timeout in µs from C: negative means "no limit".
pub(crate) fn timeout_from_us(us: i64) -> Option<std::time::Duration> {
    u64::try_from(us).ok().map(std::time::Duration::from_micros)
}
