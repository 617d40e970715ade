//! nrt-abi.md §4.1: `nrt_init`, `nrt_close`, the version, status strings and the
//! instance info (`nrt.h`, `nrt_version.h`, `nrt_status.h`).

use crate::abi::{copy_c_string, guard, guard_or, non_null, write_prefix};
use crate::error::Failure;
use crate::{config, runtime};
use neuron_sys::*;
use std::ffi::{c_char, CStr};

/// `nrt_init`: bring the emulated runtime up (see `runtime` for every lifecycle rule).
/// `fw_version` and `fal_version` are informational and may be NULL.
///
/// # Safety
/// The strings, when not NULL, are NUL-terminated.
pub unsafe extern "C" fn nrt_init(
    framework: nrt_framework_type_t,
    _fw_version: *const c_char,
    _fal_version: *const c_char,
) -> NRT_STATUS {
    guard("nrt_init", || runtime::init(framework))
}

/// `nrt_close`: complete what the device holds, then forget every model, tensor and set.
///
/// # Safety
/// No pointer arguments; `unsafe` only to match the vendor prototype's type.
pub unsafe extern "C" fn nrt_close() {
    guard_or("nrt_close", (), runtime::close)
}

/// `nrt_get_version`: works at any time. `size` is the caller's `sizeof(nrt_version_t)`;
/// a smaller (older) struct gets the leading fields that fit.
///
/// # Safety
/// `ver` is NULL or valid for writes of `size` bytes.
pub unsafe extern "C" fn nrt_get_version(ver: *mut nrt_version_t, size: usize) -> NRT_STATUS {
    guard("nrt_get_version", || {
        non_null(ver, "ver")?;
        if size == 0 {
            return Err(Failure::invalid("size is 0"));
        }
        let g = config::generation();
        let (major, minor, patch, maintenance) = runtime::version_numbers(g);
        let mut v = nrt_version_t {
            rt_major: major,
            rt_minor: minor,
            rt_patch: patch,
            rt_maintenance: maintenance,
            rt_detail: [0; RT_VERSION_DETAIL_LEN],
            git_hash: [0; GIT_HASH_LEN],
        };
        copy_c_string(&mut v.rt_detail, &runtime::version_detail(g));
        copy_c_string(
            &mut v.git_hash,
            concat!("nrt-emu-", env!("CARGO_PKG_VERSION")),
        );
        // SAFETY: `ver` is non-NULL with `size` writable bytes (caller contract).
        unsafe { write_prefix(&v, ver, size) };
        Ok(())
    })
}

/// `nrt_get_status_as_str`: a static string "NAME: description" for every code, and
/// "unknown NRT_STATUS" for any other number. Never NULL; never freed by the caller.
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_get_status_as_str(status: NRT_STATUS) -> *const c_char {
    status_text(status).as_ptr()
}

/// The text behind [`nrt_get_status_as_str`].
pub fn status_text(status: NRT_STATUS) -> &'static CStr {
    match status {
        NRT_SUCCESS => c"NRT_SUCCESS: success",
        NRT_FAILURE => c"NRT_FAILURE: failure",
        NRT_INVALID => c"NRT_INVALID: invalid argument, model or tensor",
        NRT_INVALID_HANDLE => c"NRT_INVALID_HANDLE: invalid handle",
        NRT_RESOURCE => c"NRT_RESOURCE: could not allocate a resource",
        NRT_TIMEOUT => c"NRT_TIMEOUT: timed out",
        NRT_HW_ERROR => c"NRT_HW_ERROR: hardware error",
        NRT_QUEUE_FULL => c"NRT_QUEUE_FULL: queue full, retry after a completion",
        NRT_LOAD_NOT_ENOUGH_NC => c"NRT_LOAD_NOT_ENOUGH_NC: not enough NeuronCores to load",
        NRT_UNSUPPORTED_NEFF_VERSION => c"NRT_UNSUPPORTED_NEFF_VERSION: unsupported NEFF version",
        NRT_FAIL_HOST_MEM_ALLOC => c"NRT_FAIL_HOST_MEM_ALLOC: host memory allocation failed",
        NRT_UNINITIALIZED => c"NRT_UNINITIALIZED: called before nrt_init",
        NRT_CLOSED => c"NRT_CLOSED: called after nrt_close",
        NRT_QUEUE_EMPTY => c"NRT_QUEUE_EMPTY: queue empty",
        NRT_EXEC_UNIT_UNRECOVERABLE => {
            c"NRT_EXEC_UNIT_UNRECOVERABLE: execution unit failed and needs a runtime restart"
        }
        NRT_EXEC_BAD_INPUT => c"NRT_EXEC_BAD_INPUT: invalid input to an execution",
        NRT_EXEC_COMPLETED_WITH_NUM_ERR => {
            c"NRT_EXEC_COMPLETED_WITH_NUM_ERR: execution completed with numerical errors (NaN)"
        }
        NRT_EXEC_COMPLETED_WITH_ERR => {
            c"NRT_EXEC_COMPLETED_WITH_ERR: execution completed with errors"
        }
        NRT_EXEC_NC_BUSY => c"NRT_EXEC_NC_BUSY: NeuronCore busy (held by another model or process)",
        NRT_EXEC_OOB => c"NRT_EXEC_OOB: out-of-bounds indirect access",
        NRT_COLL_PENDING => c"NRT_COLL_PENDING: collective operation pending",
        NRT_EXEC_HW_ERR_COLLECTIVES => {
            c"NRT_EXEC_HW_ERR_COLLECTIVES: stuck in a collective (missing notifications)"
        }
        NRT_EXEC_HW_ERR_HBM_UE => c"NRT_EXEC_HW_ERR_HBM_UE: uncorrectable HBM error",
        NRT_EXEC_HW_ERR_NC_UE => c"NRT_EXEC_HW_ERR_NC_UE: NeuronCore memory parity error",
        NRT_EXEC_HW_ERR_DMA_ABORT => c"NRT_EXEC_HW_ERR_DMA_ABORT: DMA engine error",
        NRT_EXEC_SW_NQ_OVERFLOW => c"NRT_EXEC_SW_NQ_OVERFLOW: notification queue overflow",
        NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE => {
            c"NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE: repairable uncorrectable HBM error"
        }
        NRT_NETWORK_PROXY_FAILURE => c"NRT_NETWORK_PROXY_FAILURE: EFA network proxy failure",
        _ => c"unknown NRT_STATUS",
    }
}

/// `nrt_get_instance_info`: works at any time. The emulated instance is a trn1 sized by
/// its core count; `arch_name` "trn1", `device_revision` "emu".
///
/// # Safety
/// `info` is NULL or valid for writes of `instance_info_len` bytes.
pub unsafe extern "C" fn nrt_get_instance_info(
    info: *mut nrt_instance_info_t,
    instance_info_len: usize,
) -> NRT_STATUS {
    guard("nrt_get_instance_info", || {
        non_null(info, "info")?;
        if instance_info_len == 0 {
            return Err(Failure::invalid("instance_info_len is 0"));
        }
        let (family, size) = config::instance_kind(runtime::total_cores_now()?);
        let mut v = nrt_instance_info_t {
            family,
            size,
            arch_name: [0; 16],
            device_revision: [0; 8],
        };
        copy_c_string(&mut v.arch_name, "trn1");
        copy_c_string(&mut v.device_revision, "emu");
        // SAFETY: non-NULL with `instance_info_len` writable bytes (caller contract).
        unsafe { write_prefix(&v, info, instance_info_len) };
        Ok(())
    })
}

// The prototypes are checked against neuron-sys at compile time.
const _: nrt_init_fn = nrt_init;
const _: nrt_close_fn = nrt_close;
const _: nrt_get_version_fn = nrt_get_version;
const _: nrt_get_status_as_str_fn = nrt_get_status_as_str;
const _: nrt_get_instance_info_fn = nrt_get_instance_info;
