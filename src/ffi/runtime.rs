//! Runtime handles: opening libnrt, its generation and version, closing.
#![allow(
    clippy::not_unsafe_ptr_arg_deref,
    reason = "C entry points only (see the ffi module docs)"
)]
use std::ffi::c_char;
use std::path::PathBuf;

use parking_lot::Mutex;

use super::diag::{open_failure, open_warning};
use super::ffi_boundary;
pub use super::handle::nrtq_runtime;
use super::handle::{box_free, box_into_handle, try_box_ref};
use super::out::{copy_str_out, opt_out, opt_str, try_out, try_out_slice};
use super::status::{fail, fail_msg, nrtq_status};
use crate::backend::Generation;
use crate::runtime::{OpenOptions, Runtime};
use crate::status::Status;

/// The address of the open runtime that nrtq opened with `init` = true (0: none). libnrt is
/// initialised once per process, and that runtime's close calls `nrt_close`, which would
/// pull libnrt from under any other; so a second one is refused here, whatever libnrt
/// would answer to a second `nrt_init` (which the vendor does not document).
static INIT_OWNER: Mutex<usize> = Mutex::new(0);

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

/// Open a runtime over libnrt and start its completion thread.
///
/// - `libnrt_path`: the path of the libnrt to load, or NULL for the search order: symbols
///   already in the process, then `$NRTQ_LIBNRT`, then `libnrt.so.1` on the loader path,
///   then `/opt/aws/neuron/lib/libnrt.so.1`. An empty string is refused with
///   `NRTQ_ERR_INVALID` (it is neither). When the process already has a libnrt, that one
///   is used even if `NRTQ_LIBNRT` is set: the open succeeds, logs a warning and leaves
///   the warning in `nrtq_last_error()`.
/// - `init`: when true nrtq calls `nrt_init` now and `nrt_close` at `nrtq_runtime_close`;
///   when false the application initialises libnrt itself (before creating queues) and
///   closes it after closing the runtime. libnrt is initialised once per process, so only
///   one `init` = true runtime can be open at a time: while one is open, another
///   `init` = true open is refused with `NRTQ_ERR_INVALID` (nothing is loaded or
///   initialised; the open one is untouched). When the application has called `nrt_init`
///   itself, an `init` = true open fails in libnrt's `nrt_init`: `NRTQ_ERR_RUNTIME`, with a
///   hint to use `init` = false. Any number of `init` = false runtimes may share the libnrt
///   that the application or an `init` = true runtime initialised.
/// - `out`: receives the handle on success (untouched otherwise). Release it with
///   `nrtq_runtime_close`.
///
/// Returns `NRTQ_OK`; `NRTQ_ERR_NULL`; `NRTQ_ERR_INVALID` (path empty or not UTF-8, or a
/// second `init` = true runtime);
/// `NRTQ_ERR_LOAD` (the message lists every place tried and why); `NRTQ_ERR_UNSUPPORTED`
/// (no explicit async API); `NRTQ_ERR_RUNTIME` (`nrt_init` failed; the message names its
/// `NRT_STATUS` and what to do); `NRTQ_ERR_RESOURCE`.
#[no_mangle]
pub extern "C" fn nrtq_runtime_open(
    libnrt_path: *const c_char,
    init: bool,
    out: *mut *mut nrtq_runtime,
) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let out = try_out!(out, "out");
        // SAFETY: the header's contract: NULL or a NUL-terminated string alive for the call.
        let path = match unsafe { opt_str(libnrt_path) } {
            Ok(path) => path,
            Err(()) => return fail_msg(Status::InvalidArgument, "libnrt_path is not valid UTF-8"),
        };
        if path == Some("") {
            return fail_msg(
                Status::InvalidArgument,
                "libnrt_path is empty: pass NULL to search the default places (process, \
                 NRTQ_LIBNRT, libnrt.so.1, /opt/aws/neuron/lib) or a path to libnrt.so.1",
            );
        }
        // Held through the open, so two init = true opens cannot both pass the check.
        let mut init_owner = INIT_OWNER.lock();
        if init && *init_owner != 0 {
            // A library that cannot be loaded is the first thing to hear of: try it
            // without initialising anything, and report that failure if there is one.
            let probe = OpenOptions {
                library: path.map(PathBuf::from),
                init: false,
            };
            if let Err(e) = Runtime::open(&probe) {
                return fail(e);
            }
            return fail_msg(
                Status::InvalidArgument,
                "another nrtq runtime opened with init=true is still open, and libnrt is \
                 initialised once per process: open this one with init=false, or close the \
                 other first",
            );
        }
        let opts = OpenOptions {
            library: path.map(PathBuf::from),
            init,
        };
        match Runtime::open(&opts) {
            Ok(rt) => {
                if path.is_none() {
                    open_warning();
                }
                let handle = box_into_handle::<nrtq_runtime>(rt);
                if init {
                    *init_owner = handle as usize;
                }
                out.write(handle);
                nrtq_status::NRTQ_OK
            }
            Err(e) => open_failure(e, init),
        }
    })
}

/// Close a runtime: stop its completion thread and (if it called `nrt_init`) close libnrt.
///
/// Refused with `NRTQ_ERR_BUSY` while queues created on it are still open (destroy them
/// first), with `NRTQ_ERR_WOULD_DEADLOCK` from a completion callback, and with
/// `NRTQ_ERR_NULL` for NULL: the handle is then untouched and still valid. Otherwise
/// (`NRTQ_OK`) the handle is consumed like `free()`: using it afterwards, including a
/// second close, is undefined behaviour. Nothing may use the handle concurrently with this
/// call. When it returns, the device holds nothing of this runtime's queues if nrtq owned
/// libnrt (`init` = true), so tensor sets of abandoned requests may be freed.
#[no_mangle]
pub extern "C" fn nrtq_runtime_close(rt: *mut nrtq_runtime) -> nrtq_status {
    ffi_boundary!(nrtq_status::NRTQ_ERR_PANIC, {
        let runtime = try_box_ref!(rt, "rt");
        if let Err(e) = runtime.check_close() {
            return fail(e);
        }
        // SAFETY: `rt` is a live handle with no queues left, and this call consumes it.
        drop(unsafe { box_free(rt) });
        // Only now, after its nrt_close: a new init = true runtime may initialise libnrt.
        let mut init_owner = INIT_OWNER.lock();
        if *init_owner == rt as usize {
            *init_owner = 0;
        }
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
        let runtime = try_box_ref!(rt, "rt");
        let out = try_out!(out, "out");
        let g = match runtime.generation() {
            Generation::Sdk2_28 => nrtq_generation::NRTQ_GENERATION_2_28,
            Generation::Sdk2_29 => nrtq_generation::NRTQ_GENERATION_2_29,
            Generation::Sdk2_30 => nrtq_generation::NRTQ_GENERATION_2_30,
            Generation::Mock => nrtq_generation::NRTQ_GENERATION_OTHER,
        };
        out.write(g);
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
        let runtime = try_box_ref!(rt, "rt");
        let buf = try_out_slice!(buf, len, "buf");
        let out_len = opt_out!(out_len);
        let n = copy_str_out(&runtime.version(), buf);
        if let Some(out) = out_len {
            out.write(n);
        }
        nrtq_status::NRTQ_OK
    })
}
