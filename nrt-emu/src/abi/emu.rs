//! The emulator-only C API (`nrt_emu.h`, symbols `nrtemu_*` under the ELF version node
//! `NRT_EMU_1.0`): per-XU counters and lateness, the emulator thread's CPU time, the
//! device parameters, and release times of single requests. Exported by every
//! generation's library; never in the vendor's `nrt_`/`nrta_` namespace.

use super::async_common::running;
use super::guard;
use crate::error::Failure;
use crate::observe::{nrtemu_config_t, nrtemu_xu_stats_t};
use neuron_sys::*;
use std::os::raw::c_int;

/// Copy a size-carrying struct out: at most the caller's `struct_size` bytes (which is
/// the first `u32` of both sides), then record how many were written.
///
/// # Safety
/// `out` must be non-NULL and writable for the `struct_size` it holds.
unsafe fn put_sized<T: Copy>(
    out: *mut T,
    mut value: T,
    size_of_value: fn(&mut T) -> &mut u32,
) -> Result<(), Failure> {
    // SAFETY: `out` is non-NULL and its first field is the caller's u32 struct_size.
    let caller = unsafe { *(out as *const u32) } as usize;
    if caller < 8 {
        return Err(Failure::invalid(
            "struct_size must be set to sizeof the struct (at least 8)",
        ));
    }
    let n = caller.min(std::mem::size_of::<T>());
    *size_of_value(&mut value) = n as u32;
    // SAFETY: the caller's struct holds `caller` >= n writable bytes; `value` holds
    // size_of::<T>() >= n readable bytes; they are distinct objects.
    unsafe {
        std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), out.cast::<u8>(), n)
    };
    Ok(())
}

/// `nrtemu_get_xu_stats`: the counters of XU (lnc, xu, queue), `xu` in the loaded
/// generation's numbering. Set `stats->struct_size = sizeof(nrtemu_xu_stats_t)` first.
///
/// # Safety
/// `stats` must be NULL or writable for the `struct_size` it holds.
pub unsafe extern "C" fn nrtemu_get_xu_stats(
    lnc: u32,
    xu: nrta_xu_t,
    queue: c_int,
    stats: *mut nrtemu_xu_stats_t,
) -> NRT_STATUS {
    guard("nrtemu_get_xu_stats", || {
        if stats.is_null() {
            return Err(Failure::invalid("stats is NULL"));
        }
        let rt = running()?;
        let q = u32::try_from(queue).map_err(|_| Failure::invalid("queue is negative"))?;
        let v = rt
            .device
            .xu_stats(lnc, xu, q)
            .map_err(|_| Failure::invalid(format!("no XU (lnc {lnc}, xu {xu}, queue {queue})")))?;
        // SAFETY: non-NULL checked; the caller's struct_size bounds what is written.
        unsafe { put_sized(stats, v, |s| &mut s.struct_size) }
    })
}

/// `nrtemu_reset_stats`: zero every XU's counters (completed, errors, busy, idle,
/// high-water mark, lateness); busy and idle time count again from now.
///
/// # Safety
/// No pointers.
pub unsafe extern "C" fn nrtemu_reset_stats() -> NRT_STATUS {
    guard("nrtemu_reset_stats", || {
        running()?.device.reset_stats();
        Ok(())
    })
}

/// `nrtemu_get_thread_cpu_ns`: CPU time used by the emulator's own thread (the
/// release thread, which also does the emulated work) since `nrt_init`.
///
/// # Safety
/// `ns` must be NULL or writable.
pub unsafe extern "C" fn nrtemu_get_thread_cpu_ns(ns: *mut u64) -> NRT_STATUS {
    guard("nrtemu_get_thread_cpu_ns", || {
        if ns.is_null() {
            return Err(Failure::invalid("ns is NULL"));
        }
        let v = running()?.device.thread_cpu_ns();
        // SAFETY: non-NULL checked; the caller passes a writable u64.
        unsafe { *ns = v };
        Ok(())
    })
}

/// `nrtemu_get_config`: the device parameters in force. Set
/// `cfg->struct_size = sizeof(nrtemu_config_t)` first.
///
/// # Safety
/// `cfg` must be NULL or writable for the `struct_size` it holds.
pub unsafe extern "C" fn nrtemu_get_config(cfg: *mut nrtemu_config_t) -> NRT_STATUS {
    guard("nrtemu_get_config", || {
        if cfg.is_null() {
            return Err(Failure::invalid("cfg is NULL"));
        }
        let rt = running()?;
        let c = rt.device.config();
        let v = nrtemu_config_t {
            struct_size: 0,
            queue_depth: c.queue_depth,
            xfer_overhead_ns: c.xfer_overhead_ns,
            xfer_bytes_per_us: c.xfer_bytes_per_us,
            spin_ns: c.spin_ns,
            lnc_count: c.lncs,
            xu_type_count: c.api.type_count(),
        };
        // SAFETY: non-NULL checked; the caller's struct_size bounds what is written.
        unsafe { put_sized(cfg, v, |s| &mut s.struct_size) }
    })
}

/// `nrtemu_get_completion_time`: for a recently completed request (the last 4096 per
/// XU), its simulated end and the moment the emulator released it, both in
/// `CLOCK_MONOTONIC` nanoseconds. `NRT_INVALID` when not completed or too old.
///
/// # Safety
/// `sim_end_ns` and `release_ns` must be NULL or writable.
pub unsafe extern "C" fn nrtemu_get_completion_time(
    seq: nrta_seq_t,
    sim_end_ns: *mut u64,
    release_ns: *mut u64,
) -> NRT_STATUS {
    guard("nrtemu_get_completion_time", || {
        if sim_end_ns.is_null() || release_ns.is_null() {
            return Err(Failure::invalid(
                "sim_end_ns and release_ns must not be NULL",
            ));
        }
        let (end, rel) = running()?
            .device
            .completion_time(seq)
            .map_err(Failure::status_only)?;
        // SAFETY: both non-NULL checked; the caller passes writable u64s.
        unsafe {
            *sim_end_ns = end;
            *release_ns = rel;
        }
        Ok(())
    })
}
