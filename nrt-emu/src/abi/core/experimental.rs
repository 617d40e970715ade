//! The experimental and collective declarations of `nrt_experimental.h` and `nrt.h`:
//! runtime tracing, the NCCL net plugin, pool-engine microcode, and single-worker
//! collectives.

use super::execute::visible_core;
use crate::abi::{guard, guard_or, need_runtime, non_null};
use crate::error::Failure;
use crate::runtime;
use neuron_sys::*;
use std::ffi::{c_char, c_int, c_void};

/// `nrt_trace_start`: runtime tracing is not emulated (`NRT_FAILURE`; the device
/// trace is `NRT_EMU_TRACE`, see README.md).
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_trace_start(_trace_mem: bool) -> NRT_STATUS {
    guard("nrt_trace_start", || {
        need_runtime()?;
        Err(Failure::new(
            NRT_FAILURE,
            "nrt_trace is not supported by nrt-emu".into(),
        ))
    })
}

/// `nrt_trace_stop`: as [`nrt_trace_start`].
///
/// # Safety
/// `filename` is NULL or NUL-terminated (only checked).
pub unsafe extern "C" fn nrt_trace_stop(filename: *const c_char) -> NRT_STATUS {
    guard("nrt_trace_stop", || {
        non_null(filename, "filename")?;
        need_runtime()?;
        Err(Failure::new(
            NRT_FAILURE,
            "nrt_trace is not supported by nrt-emu".into(),
        ))
    })
}

/// `nrt_get_libnccl_net`: there is no NCCL network plugin; returns NULL with
/// `*err = 1` and a message in `err_msg` (each when not NULL).
///
/// # Safety
/// `err` is NULL or valid; `err_msg` NULL or writable for `err_msg_size` bytes.
pub unsafe extern "C" fn nrt_get_libnccl_net(
    err: *mut c_int,
    err_msg: *mut c_char,
    err_msg_size: usize,
) -> *mut c_void {
    guard_or("nrt_get_libnccl_net", std::ptr::null_mut(), || {
        if !err.is_null() {
            // SAFETY: non-NULL, valid per the caller.
            unsafe { err.write(1) };
        }
        if !err_msg.is_null() && err_msg_size > 0 {
            let msg = b"nrt-emu has no NCCL network plugin";
            let n = msg.len().min(err_msg_size - 1);
            // SAFETY: err_msg has err_msg_size ≥ n + 1 writable bytes per the caller.
            unsafe {
                std::ptr::copy_nonoverlapping(msg.as_ptr(), err_msg as *mut u8, n);
                err_msg.add(n).write(0);
            }
        }
        std::ptr::null_mut()
    })
}

/// `nrt_set_pool_eng_ucode`: accepted (and ignored: there is no pooling engine) before
/// `nrt_init`; `NRT_FAILURE` afterwards, since the vendor loads ucode only at init.
///
/// # Safety
/// `ucode_info` is only checked for NULL.
pub unsafe extern "C" fn nrt_set_pool_eng_ucode(ucode_info: *const nrt_ucode_info) -> NRT_STATUS {
    guard("nrt_set_pool_eng_ucode", || {
        non_null(ucode_info, "ucode_info")?;
        if runtime::current().is_ok() {
            return Err(Failure::new(
                NRT_FAILURE,
                "must be called before nrt_init".into(),
            ));
        }
        Ok(())
    })
}

/// The emulator has one worker: a collective with world size 1 and rank 0 succeeds
/// (trivially), anything larger is `NRT_FAILURE`.
fn single_worker(vnc: i32, g_device_id: u32, g_device_count: u32) -> Result<(), Failure> {
    visible_core(vnc)?;
    if g_device_id >= g_device_count {
        return Err(Failure::invalid(format!(
            "g_device_id {g_device_id} is not below g_device_count {g_device_count}"
        )));
    }
    if g_device_count > 1 {
        return Err(Failure::new(
            NRT_FAILURE,
            format!(
                "collectives across {g_device_count} workers are not emulated (world size 1 only)"
            ),
        ));
    }
    Ok(())
}

/// `nrt_build_global_comm`: world size 1 only.
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_build_global_comm(
    vnc: i32,
    g_device_id: u32,
    g_device_count: u32,
) -> NRT_STATUS {
    guard("nrt_build_global_comm", || {
        single_worker(vnc, g_device_id, g_device_count)
    })
}

/// `nrt_cc_global_comm_init`: world size 1 only.
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_cc_global_comm_init(
    vnc: u32,
    g_device_id: u32,
    g_device_count: u32,
) -> NRT_STATUS {
    guard("nrt_cc_global_comm_init", || {
        let v = i32::try_from(vnc)
            .map_err(|_| Failure::invalid(format!("core {vnc} is not visible")))?;
        single_worker(v, g_device_id, g_device_count)
    })
}

/// `nrt_barrier`: world size 1 only (returns at once).
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_barrier(
    vnc: i32,
    g_device_id: u32,
    g_device_count: u32,
) -> NRT_STATUS {
    guard("nrt_barrier", || {
        single_worker(vnc, g_device_id, g_device_count)
    })
}

/// `nrt_all_gather`: world size 1 only: `output` = `input`.
///
/// # Safety
/// `input` is NULL or readable, `output` NULL or writable, for
/// `g_device_count * rank_input_size` bytes.
pub unsafe extern "C" fn nrt_all_gather(
    vnc: i32,
    g_device_id: u32,
    g_device_count: u32,
    rank_input_size: u32,
    input: *mut c_void,
    output: *mut c_void,
) -> NRT_STATUS {
    guard("nrt_all_gather", || {
        non_null(input, "input")?;
        non_null(output, "output")?;
        single_worker(vnc, g_device_id, g_device_count)?;
        // SAFETY: both hold rank_input_size bytes (world size 1) per the caller; `copy`
        // tolerates a caller passing overlapping buffers.
        unsafe {
            std::ptr::copy(
                input as *const u8,
                output as *mut u8,
                rank_input_size as usize,
            )
        };
        Ok(())
    })
}

// The prototypes are checked against neuron-sys at compile time.
const _: nrt_set_pool_eng_ucode_fn = nrt_set_pool_eng_ucode;
