//! The C API of libnrtq: thin shims over the safe core, one file per header section.
//!
//! Every `extern "C"` function body is wrapped in `ffi_boundary!` (a test scans this
//! folder for one without it), checks every pointer in every build, answers NULL or
//! invalid arguments with a status and a thread-local message, and writes its outputs
//! only on success. Nothing here holds logic: conversions, checks and error mapping.
//!
//! Layout:
//! - `handle`: each opaque handle's Rust value and ownership, NULL check and cast in one
//!   step; `out`: out-parameters, caller buffers and C strings, likewise;
//! - [`completion`]: the completion record, the callback types and the one C-to-Rust
//!   callback wrapper;
//! - the entry points, one file per header section: [`config`], [`queue`], [`reap`],
//!   [`runtime`], [`stats`], [`diag`], [`status`], [`pipeline`].
//!
//! The entry-point files allow `clippy::not_unsafe_ptr_arg_deref` (a C entry point takes
//! raw pointers by nature and its header states what they must be); they hold nothing but
//! `extern "C"` functions and types, which `tests/ffi_null.rs` checks, so the allowance
//! never covers a safe Rust helper that writes through a raw pointer. Such helpers live in
//! `handle` and `out` as `unsafe fn`s.
#![allow(non_camel_case_types)]

pub mod completion;
pub mod config;
pub mod diag;
pub(crate) mod handle;
pub(crate) mod out;
pub mod pipeline;
mod pipeline_buffers;
pub mod pool;
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
                $crate::ffi::status::set_last_error(
                    "internal panic in nrtq, caught at the C boundary",
                );
                $on_panic
            }
        }
    }};
}
pub(crate) use ffi_boundary;

/// Return `NRTQ_ERR_NULL` (with a message naming `$name`) when `$ptr` is NULL: for
/// pointers nrtq passes on to libnrt without reading them (models, tensor sets).
macro_rules! check_null {
    ($ptr:expr, $name:literal) => {
        if $ptr.is_null() {
            return $crate::ffi::status::null_argument($name);
        }
    };
}
pub(crate) use check_null;

/// A timeout in µs from C: negative means "no limit".
pub(crate) fn timeout_from_us(us: i64) -> Option<std::time::Duration> {
    u64::try_from(us).ok().map(std::time::Duration::from_micros)
}
