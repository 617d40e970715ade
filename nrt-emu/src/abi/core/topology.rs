//! nrt-abi.md §4.2: core counts, device ids and topology, memory statistics, and the
//! memory-mapping and EFA calls the emulator cannot provide.

use crate::abi::{guard, need_runtime, non_null, write_prefix};
use crate::error::Failure;
use crate::{config, runtime};
use neuron_sys::*;
use std::ffi::{c_char, c_int, c_void};

/// Write `value` to the out-pointer `out` after the NULL check.
fn put_u32(out: *mut u32, value: Result<u32, Failure>) -> Result<(), Failure> {
    non_null(out, "vnc_count")?;
    let v = value?;
    // SAFETY: non-NULL (checked); the caller passes a valid `uint32_t *`.
    unsafe { out.write(v) };
    Ok(())
}

/// `nrt_get_total_vnc_count`: logical cores on the instance (any time).
///
/// # Safety
/// `vnc_count` is NULL or a valid `uint32_t *`.
pub unsafe extern "C" fn nrt_get_total_vnc_count(vnc_count: *mut u32) -> NRT_STATUS {
    guard("nrt_get_total_vnc_count", || {
        put_u32(vnc_count, runtime::total_cores_now())
    })
}

/// `nrt_get_total_nc_count`: deprecated alias of [`nrt_get_total_vnc_count`].
///
/// # Safety
/// As [`nrt_get_total_vnc_count`].
pub unsafe extern "C" fn nrt_get_total_nc_count(vnc_count: *mut u32) -> NRT_STATUS {
    guard("nrt_get_total_nc_count", || {
        put_u32(vnc_count, runtime::total_cores_now())
    })
}

/// `nrt_get_visible_vnc_count`: cores this process may use (any time; before
/// `nrt_init` it is what `nrt_init` would choose from the environment).
///
/// # Safety
/// `vnc_count` is NULL or a valid `uint32_t *`.
pub unsafe extern "C" fn nrt_get_visible_vnc_count(vnc_count: *mut u32) -> NRT_STATUS {
    guard("nrt_get_visible_vnc_count", || {
        put_u32(vnc_count, runtime::visible_cores())
    })
}

/// `nrt_get_visible_nc_count`: deprecated alias of [`nrt_get_visible_vnc_count`].
///
/// # Safety
/// As [`nrt_get_visible_vnc_count`].
pub unsafe extern "C" fn nrt_get_visible_nc_count(vnc_count: *mut u32) -> NRT_STATUS {
    guard("nrt_get_visible_nc_count", || {
        put_u32(vnc_count, runtime::visible_cores())
    })
}

fn device_count(rt: &runtime::Runtime) -> u32 {
    rt.config.total_cores.div_ceil(config::CORES_PER_DEVICE)
}

/// `nrt_host_device_id_get`: emulated devices are not containerised, so the host id
/// is the device id; `NRT_INVALID` for a device the instance does not have.
///
/// # Safety
/// `host_device_id` is NULL or a valid `uint32_t *`.
pub unsafe extern "C" fn nrt_host_device_id_get(
    neuron_dev: c_int,
    host_device_id: *mut u32,
) -> NRT_STATUS {
    guard("nrt_host_device_id_get", || {
        non_null(host_device_id, "host_device_id")?;
        let rt = need_runtime()?;
        let n = device_count(&rt);
        if neuron_dev < 0 || neuron_dev as u32 >= n {
            return Err(Failure::invalid(format!(
                "device {neuron_dev} does not exist (0..{n})"
            )));
        }
        // SAFETY: non-NULL (checked), a valid `uint32_t *` per the caller.
        unsafe { host_device_id.write(neuron_dev as u32) };
        Ok(())
    })
}

/// `nrt_host_device_id_rid_map_get`: routing id = host device id. `*count` is the
/// table's capacity on entry (`NRT_INVALID` when smaller than the device count) and
/// the number of entries written on return.
///
/// # Safety
/// `count` is NULL or valid; `host_did_to_rid_map` is NULL or holds `*count` entries.
pub unsafe extern "C" fn nrt_host_device_id_rid_map_get(
    count: *mut u32,
    host_did_to_rid_map: *mut u32,
) -> NRT_STATUS {
    guard("nrt_host_device_id_rid_map_get", || {
        non_null(count, "count")?;
        non_null(host_did_to_rid_map, "host_did_to_rid_map")?;
        let rt = need_runtime()?;
        let n = device_count(&rt);
        // SAFETY: non-NULL (checked), valid per the caller.
        let cap = unsafe { count.read() };
        if cap < n {
            return Err(Failure::invalid(format!(
                "the table holds {cap} entries, {n} needed"
            )));
        }
        for i in 0..n {
            // SAFETY: i < n ≤ cap, the table's capacity per the caller.
            unsafe { host_did_to_rid_map.add(i as usize).write(i) };
        }
        // SAFETY: as above.
        unsafe { count.write(n) };
        Ok(())
    })
}

/// `nrt_get_hbm_mmap_va`: emulated HBM cannot be mapped; `NRT_INVALID`, the header's
/// code for an unsupported interface.
///
/// # Safety
/// Pointers are only checked, never written.
pub unsafe extern "C" fn nrt_get_hbm_mmap_va(
    _device_id: c_int,
    _hbm_idx: c_int,
    addr: *mut *mut c_void,
    size: *mut usize,
) -> NRT_STATUS {
    guard("nrt_get_hbm_mmap_va", || {
        non_null(addr, "addr")?;
        non_null(size, "size")?;
        need_runtime()?;
        Err(Failure::invalid("HBM mmap is not supported by nrt-emu"))
    })
}

/// `nrt_get_vnc_memory_stats`: device memory used and the per-core limit.
///
/// # Safety
/// `stats` is NULL or valid for `stats_size_in` bytes; `stats_size_out` NULL or valid.
pub unsafe extern "C" fn nrt_get_vnc_memory_stats(
    vnc: u32,
    stats: *mut nrt_vnc_memory_stats_t,
    stats_size_in: usize,
    stats_size_out: *mut usize,
) -> NRT_STATUS {
    guard("nrt_get_vnc_memory_stats", || {
        non_null(stats, "stats")?;
        non_null(stats_size_out, "stats_size_out")?;
        if stats_size_in == 0 {
            return Err(Failure::invalid("stats_size_in is 0"));
        }
        let rt = need_runtime()?;
        if vnc >= rt.config.visible_cores {
            return Err(Failure::invalid(format!("core {vnc} is not visible")));
        }
        let v = nrt_vnc_memory_stats_t {
            bytes_used: rt.memory.used(vnc) as usize,
            bytes_limit: rt.memory.limit() as usize,
        };
        // SAFETY: both pointers non-NULL and valid per the caller.
        unsafe {
            let n = write_prefix(&v, stats, stats_size_in);
            stats_size_out.write(n);
        }
        Ok(())
    })
}

/// `nrt_get_attached_efa_bdf`: there is no EFA device; `NRT_FAILURE`.
///
/// # Safety
/// Pointers are only checked.
pub unsafe extern "C" fn nrt_get_attached_efa_bdf(
    va: *const c_void,
    efa_bdf: *mut c_char,
    len: *mut usize,
) -> NRT_STATUS {
    guard("nrt_get_attached_efa_bdf", || {
        non_null(va, "va")?;
        non_null(efa_bdf, "efa_bdf")?;
        non_null(len, "len")?;
        need_runtime()?;
        Err(Failure::new(
            NRT_FAILURE,
            "no EFA device is attached to an emulated device".into(),
        ))
    })
}

/// `nrt_get_dmabuf_fd`: no memory is registered for EFA peer-direct; `NRT_FAILURE`.
///
/// # Safety
/// `fd` is only checked.
pub unsafe extern "C" fn nrt_get_dmabuf_fd(_va: u64, _size: u64, fd: *mut c_int) -> NRT_STATUS {
    guard("nrt_get_dmabuf_fd", || {
        non_null(fd, "fd")?;
        need_runtime()?;
        Err(Failure::new(
            NRT_FAILURE,
            "dma-buf export is not supported by nrt-emu".into(),
        ))
    })
}

// The prototypes are checked against neuron-sys at compile time.
const _: nrt_get_total_vnc_count_fn = nrt_get_total_vnc_count;
const _: nrt_get_total_nc_count_fn = nrt_get_total_nc_count;
const _: nrt_get_visible_vnc_count_fn = nrt_get_visible_vnc_count;
const _: nrt_get_visible_nc_count_fn = nrt_get_visible_nc_count;
const _: nrt_host_device_id_get_fn = nrt_host_device_id_get;
const _: nrt_get_vnc_memory_stats_fn = nrt_get_vnc_memory_stats;
