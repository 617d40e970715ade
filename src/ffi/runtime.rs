//! Runtime handles: opening libnrt, its generation and version, closing.
use std::ffi::c_char;
use std::path::PathBuf;

use super::diag::{copy_out, opt_str};
use super::status::{fail, fail_msg, nrtq_status};
use super::{check_null, ffi_boundary};
use crate::backend::Generation;
use crate::runtime::{OpenOptions, Runtime};
use crate::status::Status;

/// A runtime: one loaded libnrt and the completion thread serving its queues.
///
/// Created by `nrtq_runtime_open`, released by `nrtq_runtime_close` (which refuses while
/// queues are open). The getters may be called from any thread concurrently; close must not
/// race with any other use of the handle. Methods: `nrtq_runtime_open`,
/// `nrtq_runtime_close`, `nrtq_runtime_generation`, `nrtq_runtime_version`,
/// `nrtq_queue_create`.
pub struct nrtq_runtime {
    _private: [u8; 0],
}

/// The explicit-async generation of the loaded libnrt.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum nrtq_generation {
    /// Not a libnrt (nrtq's internal test device).
    NRTQ_GENERATION_OTHER = 0,
    /// SDK 2.28 (libnrt 2.30.x): error tracker, completion-handle fds.
    NRTQ_GENERATION_2_28 = 228,
    /// SDK 2.29 (libnrt 2.31.x): per-request status, no notification fd.
    NRTQ_GENERATION_2_29 = 229,
    /// SDK 2.30 and later: per-request status and eventfd registration.
    NRTQ_GENERATION_2_30 = 230,
}

pub(crate) fn runtime_ref<'a>(rt: *const nrtq_runtime) -> &'a Runtime {
    // SAFETY: callers check `rt` for NULL first; a non-NULL handle is, by the API contract,
    // a live pointer returned by nrtq_runtime_open (a Box<Runtime>).
    unsafe { &*rt.cast::<Runtime>() }
}

/// Open a runtime over libnrt and start its completion thread.
///
/// - `libnrt_path`: the libnrt to load, or NULL for the search order: symbols already in
///   the process, then `$NRTQ_LIBNRT`, then `libnrt.so.1` on the loader path, then
///   `/opt/aws/neuron/lib/libnrt.so.1`.
/// - `init`: when true nrtq calls `nrt_init` now and `nrt_close` at `nrtq_runtime_close`;
///   when false the application initialises libnrt itself (before creating queues) and
///   closes it after closing the runtime.
/// - `out`: receives the handle on success (untouched otherwise). Release it with
///   `nrtq_runtime_close`.
///
/// Returns `NRTQ_OK`; `NRTQ_ERR_NULL`; `NRTQ_ERR_INVALID` (path not UTF-8);
/// `NRTQ_ERR_LOAD` (the message lists every place tried and why); `NRTQ_ERR_UNSUPPORTED`
/// (no explicit async API); `NRTQ_ERR_RUNTIME` (`nrt_init` failed); `NRTQ_ERR_RESOURCE`.
#[no_mangle]
pub extern "C" fn nrtq_runtime_open(
    libnrt_path: *const c_char,
    init: bool,
    out: *mut *mut nrtq_runtime,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(out, "out");
        let Ok(path) = opt_str(libnrt_path) else {
            return fail_msg(Status::InvalidArgument, "libnrt_path is not valid UTF-8");
        };
        let opts = OpenOptions {
            library: path.map(PathBuf::from),
            init,
        };
        match Runtime::open(&opts) {
            Ok(rt) => {
                // SAFETY: `out` is non-NULL and, by contract, writable.
                unsafe { *out = Box::into_raw(Box::new(rt)).cast() };
                nrtq_status::NRTQ_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Close a runtime: stop its completion thread and (if it called `nrt_init`) close libnrt.
///
/// Refused with `NRTQ_ERR_BUSY` while queues created on it are still open (destroy them
/// first); the handle then stays valid. On `NRTQ_OK` the handle is released and must not be
/// used again. Must not be called from a completion callback (`NRTQ_ERR_WOULD_DEADLOCK`).
/// `rt` = NULL gives `NRTQ_ERR_NULL`.
#[no_mangle]
pub extern "C" fn nrtq_runtime_close(rt: *mut nrtq_runtime) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(rt, "rt");
        if let Err(e) = runtime_ref(rt).check_close() {
            return fail(e);
        }
        // SAFETY: `rt` is a live handle from nrtq_runtime_open (a Box<Runtime>) with no
        // queues left; ownership returns to Rust here and the handle dies.
        drop(unsafe { Box::from_raw(rt.cast::<Runtime>()) });
        nrtq_status::NRTQ_OK
    })
}

/// Write the loaded libnrt's async generation (an `nrtq_generation`) to `*out`.
/// Returns `NRTQ_OK` or `NRTQ_ERR_NULL`. Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_runtime_generation(
    rt: *const nrtq_runtime,
    out: *mut nrtq_generation,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(rt, "rt");
        check_null!(out, "out");
        let g = match runtime_ref(rt).generation() {
            Generation::Sdk2_28 => nrtq_generation::NRTQ_GENERATION_2_28,
            Generation::Sdk2_29 => nrtq_generation::NRTQ_GENERATION_2_29,
            Generation::Sdk2_30 => nrtq_generation::NRTQ_GENERATION_2_30,
            Generation::Mock => nrtq_generation::NRTQ_GENERATION_OTHER,
        };
        // SAFETY: `out` is non-NULL and, by contract, writable.
        unsafe { *out = g };
        nrtq_status::NRTQ_OK
    })
}

/// Copy the loaded libnrt's version ("2.30.50.0") into `buf` (`len` bytes, NUL-terminated,
/// truncated to fit) and its full length (without the NUL) into `*out_len` (may be NULL).
/// `buf` may be NULL when `len` is 0, to ask for the length. Returns `NRTQ_OK`,
/// `NRTQ_ERR_NULL` (`rt`, or `buf` with `len` > 0). Thread-safe.
#[no_mangle]
pub extern "C" fn nrtq_runtime_version(
    rt: *const nrtq_runtime,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        check_null!(rt, "rt");
        if buf.is_null() && len > 0 {
            return fail_msg(Status::NullArgument, "argument `buf` is NULL with len > 0");
        }
        let n = copy_out(&runtime_ref(rt).version(), buf, len);
        if !out_len.is_null() {
            // SAFETY: non-NULL and, by contract, writable.
            unsafe { *out_len = n };
        }
        nrtq_status::NRTQ_OK
    })
}
