//! The vendor-named C entry points. Each checks its arguments, catches panics and maps
//! errors to `NRT_STATUS`; the logic lives in the modules beside `abi`.
//!
//! The helpers here are the shared C edge: the one panic boundary every entry point
//! goes through ([`guard`], [`guard_or`] for those returning a value), argument checks
//! that become `NRT_INVALID` with a message, and C string conversion.

pub mod async_a;
pub mod async_b;
pub mod async_common;
pub mod core;
pub mod emu;
pub mod exports;

use crate::error::{self, Failure};
use crate::runtime::{self, Runtime};
use neuron_sys::{NRT_FAILURE, NRT_STATUS, NRT_SUCCESS, NRT_UNINITIALIZED};
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// The panic boundary of every C entry point that returns a status (core, async and
/// emulator-only alike). `Ok` is `NRT_SUCCESS`. A failure with a message is reported
/// (stderr unless `NEURON_RT_LOG_LEVEL=QUIET`, and the thread's last message) and its
/// status returned; a failure without one (`NRT_QUEUE_FULL` from a polling caller, a
/// call before `nrt_init` on the async path) is only returned, since it is not news.
/// A panic never unwinds into C: it is reported like any failure, naming the entry
/// point, and becomes `NRT_FAILURE`.
pub fn guard(function: &str, body: impl FnOnce() -> Result<(), Failure>) -> NRT_STATUS {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => NRT_SUCCESS,
        Ok(Err(f)) if f.message.is_empty() => f.status,
        Ok(Err(f)) => error::report(function, &f),
        Err(_) => report_panic(function),
    }
}

/// [`guard`] for an entry point that returns a value rather than a status
/// (`nrt_tensor_get_size`, `nrt_tensor_get_va`, `void` functions): `fallback` on panic,
/// reported the same way.
pub fn guard_or<T>(function: &str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(_) => {
            report_panic(function);
            fallback
        }
    }
}

fn report_panic(function: &str) -> NRT_STATUS {
    error::report(
        function,
        &Failure::new(NRT_FAILURE, "internal error (a panic was caught)".into()),
    )
}

/// The running runtime, or the lifecycle code with a message naming the problem.
pub fn need_runtime() -> Result<Arc<Runtime>, Failure> {
    runtime::current().map_err(|s| {
        let m = if s == NRT_UNINITIALIZED {
            "called before nrt_init"
        } else {
            "called after nrt_close"
        };
        Failure::new(s, m.into())
    })
}

/// `NRT_INVALID` naming the NULL argument `what`.
pub fn non_null<T>(p: *const T, what: &str) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::invalid(format!("{what} is NULL")))
    } else {
        Ok(())
    }
}

/// A C string argument that may be NULL (read as ""); invalid UTF-8 is replaced.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for the call.
pub unsafe fn opt_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// A C string argument that must not be NULL.
///
/// # Safety
/// As [`opt_str`].
pub unsafe fn req_str(p: *const c_char, what: &str) -> Result<String, Failure> {
    non_null(p, what)?;
    // SAFETY: non-NULL (checked) and NUL-terminated per the caller's contract.
    Ok(unsafe { opt_str(p) })
}

/// Copy `s` into a fixed C char array, truncated to leave a NUL.
pub(crate) fn copy_c_string(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    for d in dst[n..].iter_mut() {
        *d = 0;
    }
}

/// Copy the first `min(size, size_of::<T>())` bytes of `value` to `out`: the vendor's
/// versioned-struct rule (a caller built with an older, smaller struct gets its prefix).
/// Returns the bytes written.
///
/// # Safety
/// `out` must be valid for writes of `size` bytes.
pub unsafe fn write_prefix<T>(value: &T, out: *mut T, size: usize) -> usize {
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: `value` is n ≤ size_of::<T>() readable bytes; `out` has `size` ≥ n
    // writable bytes per the caller's contract; a local and a caller buffer never overlap.
    unsafe { std::ptr::copy_nonoverlapping(value as *const T as *const u8, out as *mut u8, n) };
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuron_sys::{NRT_INVALID, NRT_QUEUE_FULL};

    #[test]
    fn a_panic_becomes_nrt_failure_with_a_message_naming_the_entry_point() {
        assert_eq!(guard("nrt_guarded", || panic!("boom")), NRT_FAILURE);
        let last = error::last_message().expect("the panic was reported");
        assert!(last.starts_with("nrt_guarded: internal error"), "{last}");

        assert_eq!(guard_or("nrt_guarded_value", 7usize, || panic!("boom")), 7);
        let last = error::last_message().expect("the panic was reported");
        assert!(
            last.starts_with("nrt_guarded_value: internal error"),
            "{last}"
        );
    }

    #[test]
    fn a_failure_without_a_message_is_returned_but_not_reported() {
        assert_eq!(
            guard("nrt_reported", || Err(Failure::invalid("bad argument"))),
            NRT_INVALID
        );
        assert_eq!(
            guard("nrt_not_reported", || Err(Failure::new(
                NRT_QUEUE_FULL,
                String::new()
            ))),
            NRT_QUEUE_FULL
        );
        assert_eq!(
            error::last_message().as_deref(),
            Some("nrt_reported: bad argument")
        );
        assert_eq!(guard("nrt_ok", || Ok(())), NRT_SUCCESS);
    }
}
