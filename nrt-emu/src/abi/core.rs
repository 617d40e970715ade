//! The generation-independent `nrt_*` entry points (nrt-abi.md §4.1–4.6, plus the
//! experimental and collective declarations of `nrt.h` / `nrt_experimental.h`).
//!
//! Every function checks each pointer before use, runs its body inside the panic
//! boundary ([`guard`]), and reports failures on stderr with a reason. Handles are
//! looked up in registries, never dereferenced (see `crate::handle`). Functions the
//! emulator cannot provide (EFA, dma-buf, HBM mmap, multi-worker collectives, tracing)
//! return the status the header documents for "unsupported", or `NRT_FAILURE`.
//!
//! [`export_core_symbols!`](crate::export_core_symbols) exports all of them from a
//! generation library.

use super::{guard, guard_or, need_runtime, non_null, opt_str, req_str, write_prefix};
use crate::error::Failure;
use crate::{config, device, error, model, runtime, tensor};
use neuron_sys::*;
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::time::Duration;

// ---------------------------------------------------------------------------------------
// §4.1 init, close, version, status strings, instance

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

// ---------------------------------------------------------------------------------------
// §4.2 core counts and topology

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

// ---------------------------------------------------------------------------------------
// §4.3 models

/// `nrt_load`: load an nrt-emu model file (see README.md). A real NEFF is refused
/// with `NRT_UNSUPPORTED_NEFF_VERSION` and a message; garbage or a cut file with
/// `NRT_INVALID`. `vnc` -1 picks the visible core with the fewest models;
/// `vnc_count` must be -1 (deprecated) or 1.
///
/// # Safety
/// `neff_bytes` is NULL or readable for `size` bytes (copied; not kept after the call);
/// `model` is NULL or a valid `nrt_model_t **`.
pub unsafe extern "C" fn nrt_load(
    neff_bytes: *const c_void,
    size: usize,
    vnc: i32,
    vnc_count: i32,
    model: *mut *mut nrt_model_t,
) -> NRT_STATUS {
    guard("nrt_load", || {
        // SAFETY: forwarded caller contract.
        unsafe { load(neff_bytes, size, vnc, vnc_count, model) }
    })
}

/// # Safety
/// As [`nrt_load`].
unsafe fn load(
    bytes: *const c_void,
    size: usize,
    vnc: i32,
    vnc_count: i32,
    model: *mut *mut nrt_model_t,
) -> Result<(), Failure> {
    non_null(bytes, "neff_bytes")?;
    non_null(model, "model")?;
    let rt = need_runtime()?;
    if size == 0 {
        return Err(Failure::invalid("size is 0: an empty file is not a model"));
    }
    if vnc_count != -1 && vnc_count != 1 {
        return Err(Failure::invalid(format!(
            "vnc_count {vnc_count}: pass -1 (deprecated argument)"
        )));
    }
    // SAFETY: non-NULL, `size` readable bytes per the caller; parsed before returning.
    let data = unsafe { std::slice::from_raw_parts(bytes as *const u8, size) };
    let spec = device::parse_model(data)?;
    let h = model::load(spec, vnc, rt.config.visible_cores)?;
    // SAFETY: non-NULL (checked), a valid out-pointer per the caller.
    unsafe { model.write(h as *mut nrt_model_t) };
    Ok(())
}

/// `nrt_load_collectives`: collectives are not emulated; the model loads as with
/// [`nrt_load`] once `ctx_device_id < ctx_device_count` holds.
///
/// # Safety
/// As [`nrt_load`].
pub unsafe extern "C" fn nrt_load_collectives(
    neff_bytes: *const c_void,
    size: usize,
    vnc: i32,
    vnc_count: i32,
    ctx_device_id: u32,
    ctx_device_count: u32,
    model: *mut *mut nrt_model_t,
) -> NRT_STATUS {
    guard("nrt_load_collectives", || {
        if ctx_device_id >= ctx_device_count {
            return Err(Failure::invalid(format!(
                "ctx_device_id {ctx_device_id} is not below ctx_device_count {ctx_device_count}"
            )));
        }
        // SAFETY: forwarded caller contract.
        unsafe { load(neff_bytes, size, vnc, vnc_count, model) }
    })
}

/// The live model behind a handle, after the lifecycle check.
fn live_model(p: *const nrt_model_t) -> Result<std::sync::Arc<model::Model>, Failure> {
    non_null(p, "model")?;
    need_runtime()?;
    model::lookup(p).map_err(|s| {
        Failure::new(
            s,
            "not a loaded model (unloaded, or not a model handle)".into(),
        )
    })
}

/// `nrt_unload`: the handle is dead afterwards; executions already scheduled finish.
///
/// # Safety
/// `model` is only looked up, never dereferenced.
pub unsafe extern "C" fn nrt_unload(model: *mut nrt_model_t) -> NRT_STATUS {
    guard("nrt_unload", || {
        live_model(model)?;
        model::unload(model as usize);
        Ok(())
    })
}

/// `nrt_get_model_info`: the model's core in `info->vnc`; `*info_size_out` bytes written.
///
/// # Safety
/// `info` is NULL or valid for `info_size_in` bytes; `info_size_out` NULL or valid.
pub unsafe extern "C" fn nrt_get_model_info(
    model: *const nrt_model_t,
    info: *mut nrt_model_info_t,
    info_size_in: usize,
    info_size_out: *mut usize,
) -> NRT_STATUS {
    guard("nrt_get_model_info", || {
        non_null(info, "info")?;
        non_null(info_size_out, "info_size_out")?;
        if info_size_in == 0 {
            return Err(Failure::invalid("info_size_in is 0"));
        }
        let m = live_model(model)?;
        let v = nrt_model_info_t { vnc: m.lnc() };
        // SAFETY: both non-NULL and valid per the caller.
        unsafe {
            let n = write_prefix(&v, info, info_size_in);
            info_size_out.write(n);
        }
        Ok(())
    })
}

fn model_count(model: *const nrt_model_t, out: *mut u32, what: &str) -> Result<(), Failure> {
    non_null(out, what)?;
    live_model(model)?;
    // SAFETY: non-NULL (checked), valid per the caller. Every emulated model uses one
    // core and is staged once.
    unsafe { out.write(1) };
    Ok(())
}

/// `nrt_get_model_vnc_count` (deprecated): always 1.
///
/// # Safety
/// `vnc_count` is NULL or a valid `uint32_t *`.
pub unsafe extern "C" fn nrt_get_model_vnc_count(
    model: *const nrt_model_t,
    vnc_count: *mut u32,
) -> NRT_STATUS {
    guard("nrt_get_model_vnc_count", || {
        model_count(model, vnc_count, "vnc_count")
    })
}

/// `nrt_get_model_nc_count` (deprecated): always 1.
///
/// # Safety
/// As [`nrt_get_model_vnc_count`].
pub unsafe extern "C" fn nrt_get_model_nc_count(
    model: *const nrt_model_t,
    vnc_count: *mut u32,
) -> NRT_STATUS {
    guard("nrt_get_model_nc_count", || {
        model_count(model, vnc_count, "vnc_count")
    })
}

/// `nrt_get_model_instance_count` (deprecated): always 1.
///
/// # Safety
/// `instance_count` is NULL or a valid `uint32_t *`.
pub unsafe extern "C" fn nrt_get_model_instance_count(
    model: *mut nrt_model_t,
    instance_count: *mut u32,
) -> NRT_STATUS {
    guard("nrt_get_model_instance_count", || {
        model_count(model, instance_count, "instance_count")
    })
}

/// Tensor-info arrays handed out and not yet freed (address → allocation size).
static INFO_ARRAYS: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

/// `nrt_get_model_tensor_info`: one `malloc`'d block holding the header, the entries
/// (inputs in file order, then outputs) and every shape array, so
/// [`nrt_free_model_tensor_info`] frees it all at once.
///
/// # Safety
/// `tensor_info` is NULL or a valid `nrt_tensor_info_array_t **`.
pub unsafe extern "C" fn nrt_get_model_tensor_info(
    model: *mut nrt_model_t,
    tensor_info: *mut *mut nrt_tensor_info_array_t,
) -> NRT_STATUS {
    guard("nrt_get_model_tensor_info", || {
        non_null(tensor_info, "tensor_info")?;
        let m = live_model(model)?;
        let spec = m.spec();
        let entries: Vec<(&model::TensorSpec, nrt_tensor_usage_t)> = spec
            .inputs
            .iter()
            .map(|t| (t, NRT_TENSOR_USAGE_INPUT))
            .chain(spec.outputs.iter().map(|t| (t, NRT_TENSOR_USAGE_OUTPUT)))
            .collect();
        let head = std::mem::size_of::<nrt_tensor_info_array_t>();
        let entry = std::mem::size_of::<nrt_tensor_info_t>();
        let dims: usize = entries.iter().map(|(t, _)| t.shape.len()).sum();
        let shapes_at = head + entry * entries.len();
        let total = shapes_at + 4 * dims;
        // SAFETY: malloc of a non-zero size; the result is checked for NULL. malloc's
        // alignment (16) covers u64, pointers and u32.
        let block = unsafe { libc::malloc(total) } as *mut u8;
        if block.is_null() {
            return Err(Failure::new(NRT_RESOURCE, "out of host memory".into()));
        }
        let array = block as *mut nrt_tensor_info_array_t;
        let mut shape_ptr = unsafe {
            // SAFETY: shapes_at ≤ total, inside the block.
            block.add(shapes_at)
        } as *mut u32;
        // SAFETY: the block holds `head` bytes for the count.
        unsafe { std::ptr::addr_of_mut!((*array).tensor_count).write(entries.len() as u64) };
        for (i, (t, usage)) in entries.iter().enumerate() {
            let mut info = nrt_tensor_info_t {
                usage: *usage,
                size: t.bytes() as usize,
                dtype: t.dtype.code(),
                shape: shape_ptr,
                ndim: t.shape.len() as u32,
                ..Default::default()
            };
            copy_c_string(&mut info.name, &t.name);
            // SAFETY: entry i lies at head + i*entry < shapes_at ≤ total; the shape
            // slots written next lie in [shapes_at, total) and are counted in `dims`.
            unsafe {
                (block.add(head + i * entry) as *mut nrt_tensor_info_t).write(info);
                for &d in &t.shape {
                    shape_ptr.write(d);
                    shape_ptr = shape_ptr.add(1);
                }
            }
        }
        INFO_ARRAYS.lock().insert(block as usize);
        // SAFETY: non-NULL (checked), a valid out-pointer per the caller.
        unsafe { tensor_info.write(array) };
        Ok(())
    })
}

/// `nrt_free_model_tensor_info`: frees an array from [`nrt_get_model_tensor_info`]
/// (also after `nrt_close`); anything else, or a second free, is `NRT_INVALID`.
///
/// # Safety
/// `tensor_info` is only compared against the arrays handed out.
pub unsafe extern "C" fn nrt_free_model_tensor_info(
    tensor_info: *mut nrt_tensor_info_array_t,
) -> NRT_STATUS {
    guard("nrt_free_model_tensor_info", || {
        non_null(tensor_info, "tensor_info")?;
        if !INFO_ARRAYS.lock().remove(&(tensor_info as usize)) {
            return Err(Failure::invalid(
                "not an array from nrt_get_model_tensor_info, or already freed",
            ));
        }
        // SAFETY: the address came from libc::malloc in nrt_get_model_tensor_info and
        // was just removed from the live set, so this is its only free.
        unsafe { libc::free(tensor_info as *mut c_void) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// §4.4 tensors

fn live_tensor(
    p: *const nrt_tensor_t,
    what: &str,
) -> Result<std::sync::Arc<tensor::Tensor>, Failure> {
    non_null(p, what)?;
    need_runtime()?;
    tensor::lookup(p).map_err(|s| {
        Failure::new(
            s,
            format!("{what} is not a live tensor (freed, or not a tensor handle)"),
        )
    })
}

fn out_of_bounds(what: &str, offset: u64, size: u64, len: usize) -> Failure {
    Failure::invalid(format!(
        "{what}: offset {offset} + size {size} is beyond the tensor's {len} bytes"
    ))
}

/// `nrt_tensor_allocate`: DEVICE on a visible core; HOST or VIRTUAL with vnc -1 (or
/// any visible core, ignored). VIRTUAL is refused on the 2.30 library (the SDK removed
/// it). Memory is zeroed. Size 0 is `NRT_INVALID`.
///
/// # Safety
/// `name` is NULL or NUL-terminated; `tensor` NULL or a valid `nrt_tensor_t **`.
pub unsafe extern "C" fn nrt_tensor_allocate(
    tensor_placement: nrt_tensor_placement_t,
    vnc: c_int,
    size: usize,
    name: *const c_char,
    tensor: *mut *mut nrt_tensor_t,
) -> NRT_STATUS {
    guard("nrt_tensor_allocate", || {
        non_null(tensor, "tensor")?;
        let rt = need_runtime()?;
        // SAFETY: NULL or NUL-terminated per the caller.
        let name = unsafe { opt_str(name) };
        let virtual_ok = rt.config.generation != Generation::Sdk2_30;
        let h = tensor::allocate(
            tensor_placement,
            vnc,
            size,
            &name,
            &rt.memory,
            rt.config.visible_cores,
            virtual_ok,
        )?;
        // SAFETY: non-NULL (checked), valid per the caller.
        unsafe { tensor.write(h as *mut nrt_tensor_t) };
        Ok(())
    })
}

/// `nrt_tensor_free`: release the handle and set `*tensor = NULL`. Storage shared with
/// slices, or used by scheduled work, lives until its last user. A NULL, dead or
/// foreign handle only gets `*tensor = NULL`.
///
/// # Safety
/// `tensor` is NULL or a valid `nrt_tensor_t **`.
pub unsafe extern "C" fn nrt_tensor_free(tensor: *mut *mut nrt_tensor_t) {
    guard_or("nrt_tensor_free", (), || {
        if tensor.is_null() {
            return;
        }
        // SAFETY: non-NULL, valid per the caller.
        let h = unsafe { tensor.read() };
        if !h.is_null() {
            tensor::free(h as usize);
        }
        // SAFETY: as above.
        unsafe { tensor.write(std::ptr::null_mut()) };
    })
}

/// `nrt_tensor_read`: copy tensor bytes `[offset, offset+size)` to `buf` (blocking).
/// Size 0 succeeds with any `buf`.
///
/// # Safety
/// `buf` is NULL or writable for `size` bytes.
pub unsafe extern "C" fn nrt_tensor_read(
    tensor: *const nrt_tensor_t,
    buf: *mut c_void,
    offset: usize,
    size: usize,
) -> NRT_STATUS {
    guard("nrt_tensor_read", || {
        let t = live_tensor(tensor, "tensor")?;
        if size > 0 {
            non_null(buf, "buf")?;
        }
        let v = t.view();
        // SAFETY: `buf` is writable for `size` bytes per the caller (unused when 0).
        unsafe { v.read_raw(offset, buf as *mut u8, size) }
            .map_err(|_| out_of_bounds("read", offset as u64, size as u64, v.len()))
    })
}

/// `nrt_tensor_write`: copy `size` bytes from `buf` into the tensor at `offset`.
///
/// # Safety
/// `buf` is NULL or readable for `size` bytes.
pub unsafe extern "C" fn nrt_tensor_write(
    tensor: *mut nrt_tensor_t,
    buf: *const c_void,
    offset: usize,
    size: usize,
) -> NRT_STATUS {
    guard("nrt_tensor_write", || {
        let t = live_tensor(tensor, "tensor")?;
        if size > 0 {
            non_null(buf, "buf")?;
        }
        let v = t.view();
        // SAFETY: `buf` is readable for `size` bytes per the caller (unused when 0).
        unsafe { v.write_raw(offset, buf as *const u8, size) }
            .map_err(|_| out_of_bounds("write", offset as u64, size as u64, v.len()))
    })
}

/// `nrt_tensor_copy`: two device tensors must be on the same core (`NRT_INVALID`
/// otherwise, as the header says); host and virtual tensors copy anywhere.
///
/// # Safety
/// Handles are only looked up.
pub unsafe extern "C" fn nrt_tensor_copy(
    src: *const nrt_tensor_t,
    src_offset: usize,
    dst: *mut nrt_tensor_t,
    dst_offset: usize,
    size: usize,
) -> NRT_STATUS {
    guard("nrt_tensor_copy", || {
        let s = live_tensor(src, "src")?;
        let d = live_tensor(dst, "dst")?;
        if let (Some(a), Some(b)) = (s.lnc(), d.lnc()) {
            if a != b {
                return Err(Failure::invalid(format!(
                    "src is on core {a} and dst on core {b}: device copies stay on one core"
                )));
            }
        }
        let (sv, dv) = (s.view(), d.view());
        if !sv.contains(src_offset, size) {
            return Err(out_of_bounds(
                "src",
                src_offset as u64,
                size as u64,
                sv.len(),
            ));
        }
        if !dv.contains(dst_offset, size) {
            return Err(out_of_bounds(
                "dst",
                dst_offset as u64,
                size as u64,
                dv.len(),
            ));
        }
        sv.copy_to(src_offset, &dv, dst_offset, size)
            .map_err(|s| Failure::new(s, "copy failed".into()))
    })
}

/// `nrt_tensor_memset`: set `size` bytes at `offset` to `(unsigned char)value`.
///
/// # Safety
/// The handle is only looked up.
pub unsafe extern "C" fn nrt_tensor_memset(
    tensor: *mut nrt_tensor_t,
    offset: u64,
    value: c_int,
    size: usize,
) -> NRT_STATUS {
    guard("nrt_tensor_memset", || {
        let t = live_tensor(tensor, "tensor")?;
        let v = t.view();
        let off = usize::try_from(offset)
            .map_err(|_| out_of_bounds("memset", offset, size as u64, v.len()))?;
        v.fill(off, size, value as u8)
            .map_err(|_| out_of_bounds("memset", offset, size as u64, v.len()))
    })
}

/// One batch op, checked.
struct BatchOp {
    view: tensor::TensorView,
    offset: usize,
    size: usize,
    buffer: *mut u8,
}

/// Check every batch and op before any byte moves, so a bad entry changes nothing.
///
/// # Safety
/// `batches` is NULL or holds `num_batches` entries whose `ops` hold `num_ops` each.
unsafe fn check_batches(
    batches: *const nrt_tensor_batch_t,
    num_batches: u64,
) -> Result<Vec<BatchOp>, Failure> {
    need_runtime()?;
    if num_batches == 0 {
        return Ok(Vec::new());
    }
    non_null(batches, "batches")?;
    let mut ops = Vec::new();
    for i in 0..num_batches as usize {
        // SAFETY: i < num_batches entries per the caller.
        let b = unsafe { batches.add(i).read() };
        let t = live_tensor(b.tensor, &format!("batches[{i}].tensor"))?;
        let v = t.view();
        if b.num_ops > 0 {
            non_null(b.ops, &format!("batches[{i}].ops"))?;
        }
        for j in 0..b.num_ops as usize {
            // SAFETY: j < num_ops entries per the caller.
            let op = unsafe { b.ops.add(j).read() };
            let what = format!("batches[{i}].ops[{j}]");
            if op.size > 0 {
                non_null(op.buffer, &format!("{what}.buffer"))?;
            }
            let (Ok(offset), Ok(size)) = (usize::try_from(op.offset), usize::try_from(op.size))
            else {
                return Err(out_of_bounds(&what, op.offset, op.size, v.len()));
            };
            if !v.contains(offset, size) {
                return Err(out_of_bounds(&what, op.offset, op.size, v.len()));
            }
            ops.push(BatchOp {
                view: v.clone(),
                offset,
                size,
                buffer: op.buffer as *mut u8,
            });
        }
    }
    Ok(ops)
}

/// `nrt_tensor_read_batch`: every op of every batch, after all were checked.
/// `unsafe_` (skip in-use tracking) changes nothing here: the emulator never blocks a
/// transfer on in-flight work.
///
/// # Safety
/// As [`check_batches`]; each op's buffer writable for its size.
pub unsafe extern "C" fn nrt_tensor_read_batch(
    batches: *const nrt_tensor_batch_t,
    num_batches: u64,
    _unsafe: bool,
) -> NRT_STATUS {
    guard("nrt_tensor_read_batch", || {
        // SAFETY: forwarded caller contract.
        for op in unsafe { check_batches(batches, num_batches)? } {
            // SAFETY: the buffer holds op.size bytes per the caller; bounds checked.
            unsafe { op.view.read_raw(op.offset, op.buffer, op.size) }
                .map_err(|s| Failure::new(s, "read failed".into()))?;
        }
        Ok(())
    })
}

/// `nrt_tensor_write_batch`: as [`nrt_tensor_read_batch`], host → tensor.
///
/// # Safety
/// As [`check_batches`]; each op's buffer readable for its size.
pub unsafe extern "C" fn nrt_tensor_write_batch(
    batches: *const nrt_tensor_batch_t,
    num_batches: u64,
    _unsafe: bool,
) -> NRT_STATUS {
    guard("nrt_tensor_write_batch", || {
        // SAFETY: forwarded caller contract.
        for op in unsafe { check_batches(batches, num_batches)? } {
            // SAFETY: the buffer holds op.size bytes per the caller; bounds checked.
            unsafe { op.view.write_raw(op.offset, op.buffer, op.size) }
                .map_err(|s| Failure::new(s, "write failed".into()))?;
        }
        Ok(())
    })
}

/// `nrt_tensor_get_size`: bytes, or 0 for a NULL/dead handle or outside init..close.
///
/// # Safety
/// The handle is only looked up.
pub unsafe extern "C" fn nrt_tensor_get_size(tensor: *const nrt_tensor_t) -> usize {
    guard_or("nrt_tensor_get_size", 0, || {
        match live_tensor(tensor, "tensor") {
            Ok(t) => t.size(),
            Err(f) => {
                error::report("nrt_tensor_get_size", &f);
                0
            }
        }
    })
}

/// `nrt_tensor_get_va`: the address of the tensor's bytes (ordinary host memory in the
/// emulator), or NULL for an empty, NULL or dead tensor.
///
/// # Safety
/// The handle is only looked up.
pub unsafe extern "C" fn nrt_tensor_get_va(tensor: *const nrt_tensor_t) -> *mut c_void {
    guard_or(
        "nrt_tensor_get_va",
        std::ptr::null_mut(),
        || match live_tensor(tensor, "tensor") {
            Ok(t) => t.view().as_ptr() as *mut c_void,
            Err(f) => {
                error::report("nrt_tensor_get_va", &f);
                std::ptr::null_mut()
            }
        },
    )
}

/// `nrt_tensor_get_device_allocation_info`: for device tensors only (`NRT_INVALID`
/// otherwise); the "physical address" is the emulated memory's host address and the
/// HBM index 0.
///
/// # Safety
/// `alloc_info` is NULL or a valid out-pointer.
pub unsafe extern "C" fn nrt_tensor_get_device_allocation_info(
    tensor: *const nrt_tensor_t,
    alloc_info: *mut nrt_tensor_device_allocation_info_t,
) -> NRT_STATUS {
    guard("nrt_tensor_get_device_allocation_info", || {
        non_null(alloc_info, "alloc_info")?;
        let t = live_tensor(tensor, "tensor")?;
        if t.lnc().is_none() {
            return Err(Failure::invalid("not a device tensor"));
        }
        let v = t.view();
        let info = nrt_tensor_device_allocation_info_t {
            physical_address: v.as_ptr() as u64,
            size: v.allocation_size(),
            hbm_index: 0,
        };
        // SAFETY: non-NULL (checked), valid per the caller.
        unsafe { alloc_info.write(info) };
        Ok(())
    })
}

/// `nrt_tensor_allocate_empty`: a tensor with no storage (size 0, VA NULL) until
/// [`nrt_tensor_attach_buffer`].
///
/// # Safety
/// `name` is NULL or NUL-terminated; `tensor` NULL or a valid out-pointer.
pub unsafe extern "C" fn nrt_tensor_allocate_empty(
    name: *const c_char,
    tensor: *mut *mut nrt_tensor_t,
) -> NRT_STATUS {
    guard("nrt_tensor_allocate_empty", || {
        non_null(tensor, "tensor")?;
        need_runtime()?;
        // SAFETY: NULL or NUL-terminated per the caller.
        let h = tensor::allocate_empty(&unsafe { opt_str(name) });
        // SAFETY: non-NULL (checked), valid per the caller.
        unsafe { tensor.write(h as *mut nrt_tensor_t) };
        Ok(())
    })
}

/// `nrt_tensor_attach_buffer`: the caller's buffer becomes the storage (placement
/// VIRTUAL); the previous storage is released once unused. The buffer is never freed.
///
/// # Safety
/// `buffer` is NULL or valid for reads and writes of `size` bytes for the tensor's life.
pub unsafe extern "C" fn nrt_tensor_attach_buffer(
    tensor: *mut nrt_tensor_t,
    buffer: *mut c_void,
    size: usize,
) -> NRT_STATUS {
    guard("nrt_tensor_attach_buffer", || {
        live_tensor(tensor, "tensor")?;
        non_null(buffer, "buffer")?;
        // SAFETY: forwarded caller contract on `buffer`.
        unsafe { tensor::attach_buffer(tensor as usize, buffer as *mut u8, size) }
    })
}

/// `nrt_tensor_allocate_slice`: a tensor sharing `[offset, offset+size)` of the
/// source's storage (reference counted: either may be freed first).
///
/// # Safety
/// `name` is NULL or NUL-terminated; `tensor_slice` NULL or a valid out-pointer.
pub unsafe extern "C" fn nrt_tensor_allocate_slice(
    tensor_source: *const nrt_tensor_t,
    offset: usize,
    size: usize,
    name: *const c_char,
    tensor_slice: *mut *mut nrt_tensor_t,
) -> NRT_STATUS {
    guard("nrt_tensor_allocate_slice", || {
        non_null(tensor_slice, "tensor_slice")?;
        live_tensor(tensor_source, "tensor_source")?;
        // SAFETY: NULL or NUL-terminated per the caller.
        let name = unsafe { opt_str(name) };
        let h = tensor::allocate_slice(tensor_source as usize, offset, size, &name)?;
        // SAFETY: non-NULL (checked), valid per the caller.
        unsafe { tensor_slice.write(h as *mut nrt_tensor_t) };
        Ok(())
    })
}

/// `nrt_tensor_check_output_completion`: wait until executions have written the
/// tensor as an output `expected_completion_count` times. `timeout` in µs; negative
/// waits without limit (but returns `NRT_CLOSED` if the runtime closes meanwhile).
///
/// # Safety
/// The handle is only looked up.
pub unsafe extern "C" fn nrt_tensor_check_output_completion(
    output_tensor: *const nrt_tensor_t,
    timeout: i64,
    expected_completion_count: u64,
) -> NRT_STATUS {
    guard("nrt_tensor_check_output_completion", || {
        let t = live_tensor(output_tensor, "output_tensor")?;
        let limit = u64::try_from(timeout).ok().map(Duration::from_micros);
        let alive = || runtime::current().is_ok();
        if t.wait_completion(expected_completion_count, limit, alive) {
            return Ok(());
        }
        need_runtime()?;
        Err(Failure::new(
            NRT_TIMEOUT,
            format!(
                "{} of {expected_completion_count} completions after {timeout} µs",
                t.completion_count()
            ),
        ))
    })
}

/// `nrt_tensor_reset_output_completion`: set the completion counter to 0.
///
/// # Safety
/// The handle is only looked up.
pub unsafe extern "C" fn nrt_tensor_reset_output_completion(
    output_tensor: *mut nrt_tensor_t,
) -> NRT_STATUS {
    guard("nrt_tensor_reset_output_completion", || {
        live_tensor(output_tensor, "output_tensor")?.reset_completion();
        Ok(())
    })
}

/// `nrt_memcpy_to_device`: `dest` must lie inside a live tensor's memory (from
/// `nrt_tensor_get_va`); anything else is `NRT_INVALID`, never a blind write.
///
/// # Safety
/// `src` is NULL or readable for `size` bytes.
pub unsafe extern "C" fn nrt_memcpy_to_device(
    dest: *mut c_void,
    src: *const c_void,
    size: usize,
) -> NRT_STATUS {
    guard("nrt_memcpy_to_device", || {
        non_null(dest, "dest")?;
        non_null(src, "src")?;
        need_runtime()?;
        if size == 0 {
            return Ok(());
        }
        let v = tensor::find_by_address(dest as *const u8, size).ok_or_else(|| {
            Failure::invalid(format!(
                "dest {dest:p} + {size} bytes is not inside a live tensor"
            ))
        })?;
        let offset = dest as usize - v.as_ptr() as usize;
        // SAFETY: `src` readable for `size` bytes per the caller; range inside the view.
        unsafe { v.write_raw(offset, src as *const u8, size) }
            .map_err(|s| Failure::new(s, "copy failed".into()))
    })
}

// ---------------------------------------------------------------------------------------
// §4.5 tensor sets

/// `nrt_allocate_tensor_set`: a new empty name → tensor map.
///
/// # Safety
/// `result` is NULL or a valid out-pointer.
pub unsafe extern "C" fn nrt_allocate_tensor_set(result: *mut *mut nrt_tensor_set_t) -> NRT_STATUS {
    guard("nrt_allocate_tensor_set", || {
        non_null(result, "result")?;
        need_runtime()?;
        let h = tensor::set_allocate();
        // SAFETY: non-NULL (checked), valid per the caller.
        unsafe { result.write(h as *mut nrt_tensor_set_t) };
        Ok(())
    })
}

/// `nrt_destroy_tensor_set`: destroy the set (not its tensors) and set `*tensor_set =
/// NULL`; NULL, dead or foreign sets only get the NULL.
///
/// # Safety
/// `tensor_set` is NULL or a valid `nrt_tensor_set_t **`.
pub unsafe extern "C" fn nrt_destroy_tensor_set(tensor_set: *mut *mut nrt_tensor_set_t) {
    guard_or("nrt_destroy_tensor_set", (), || {
        if tensor_set.is_null() {
            return;
        }
        // SAFETY: non-NULL, valid per the caller.
        let h = unsafe { tensor_set.read() };
        if !h.is_null() {
            tensor::set_destroy(h as usize);
        }
        // SAFETY: as above.
        unsafe { tensor_set.write(std::ptr::null_mut()) };
    })
}

fn live_set(p: *const nrt_tensor_set_t) -> Result<std::sync::Arc<tensor::TensorSet>, Failure> {
    non_null(p, "tensor_set")?;
    need_runtime()?;
    tensor::set_lookup(p).map_err(|s| Failure::new(s, "not a live tensor set".into()))
}

/// `nrt_add_tensor_to_tensor_set`: add or replace `tensor_name` → `tensor` (the set
/// does not own the tensor).
///
/// # Safety
/// `tensor_name` is NULL or NUL-terminated.
pub unsafe extern "C" fn nrt_add_tensor_to_tensor_set(
    tensor_set: *mut nrt_tensor_set_t,
    tensor_name: *const c_char,
    tensor: *mut nrt_tensor_t,
) -> NRT_STATUS {
    guard("nrt_add_tensor_to_tensor_set", || {
        let set = live_set(tensor_set)?;
        // SAFETY: NULL or NUL-terminated per the caller.
        let name = unsafe { req_str(tensor_name, "tensor_name") }?;
        live_tensor(tensor, "tensor")?;
        set.add(&name, tensor as usize);
        Ok(())
    })
}

/// `nrt_get_tensor_from_tensor_set`: `NRT_FAILURE` with `*tensor` untouched when the
/// name is absent (documented behaviour).
///
/// # Safety
/// `tensor_name` is NULL or NUL-terminated; `tensor` NULL or a valid out-pointer.
pub unsafe extern "C" fn nrt_get_tensor_from_tensor_set(
    tensor_set: *mut nrt_tensor_set_t,
    tensor_name: *const c_char,
    tensor: *mut *mut nrt_tensor_t,
) -> NRT_STATUS {
    guard("nrt_get_tensor_from_tensor_set", || {
        non_null(tensor, "tensor")?;
        let set = live_set(tensor_set)?;
        // SAFETY: NULL or NUL-terminated per the caller.
        let name = unsafe { req_str(tensor_name, "tensor_name") }?;
        let h = set.get(&name).ok_or_else(|| {
            Failure::new(NRT_FAILURE, format!("no tensor named '{name}' in the set"))
        })?;
        // SAFETY: non-NULL (checked), valid per the caller.
        unsafe { tensor.write(h as *mut nrt_tensor_t) };
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------
// §4.6 synchronous execution and the legacy implicit-async helpers

/// `nrt_execute`: bind the sets (errors are synchronous `NRT_INVALID`), then run as one
/// request on the model core's COMPUTE unit — the same timeline and counters as async
/// requests — and block until it completes; returns the execution's status.
///
/// # Safety
/// Handles are only looked up.
pub unsafe extern "C" fn nrt_execute(
    model: *mut nrt_model_t,
    input_set: *const nrt_tensor_set_t,
    output_set: *mut nrt_tensor_set_t,
) -> NRT_STATUS {
    guard("nrt_execute", || execute(model, input_set, output_set))
}

fn execute(
    model: *mut nrt_model_t,
    input_set: *const nrt_tensor_set_t,
    output_set: *mut nrt_tensor_set_t,
) -> Result<(), Failure> {
    let m = live_model(model)?;
    non_null(input_set, "input_set")?;
    non_null(output_set, "output_set")?;
    let rt = need_runtime()?;
    let bound = m.bind_checked(input_set, output_set)?;
    match rt.device.execute_blocking(&m, bound) {
        NRT_SUCCESS => Ok(()),
        s => Err(Failure::new(
            s,
            format!(
                "model '{}' completed with {}",
                m.name(),
                status_name(s).unwrap_or("an unknown status")
            ),
        )),
    }
}

/// `nrt_execute_repeat`: `repeat_count` 1 is [`nrt_execute`]; more needs a NEFF
/// compiled for repetition, which no emulator model is (`NRT_FAILURE`).
///
/// # Safety
/// Handles are only looked up.
pub unsafe extern "C" fn nrt_execute_repeat(
    model: *mut nrt_model_t,
    input_set: *const nrt_tensor_set_t,
    output_set: *mut nrt_tensor_set_t,
    repeat_count: c_int,
) -> NRT_STATUS {
    guard("nrt_execute_repeat", || match repeat_count {
        1 => execute(model, input_set, output_set),
        n if n < 1 => Err(Failure::invalid(format!("repeat_count {n} is below 1"))),
        _ => {
            live_model(model)?;
            Err(Failure::new(
                NRT_FAILURE,
                "repeated execution needs a NEFF compiled for it; nrt-emu models run once per call"
                    .into(),
            ))
        }
    })
}

/// The registered legacy callback and its parameter, kept but never called: the
/// implicit async mode is not emulated, so no execution is ever asynchronous.
static ASYNC_CALLBACK: Mutex<Option<(usize, usize)>> = Mutex::new(None);

/// `nrt_register_async_exec_callback`: stored, replacing any earlier one; `NRT_INVALID`
/// for a NULL callback.
///
/// # Safety
/// No pointer is dereferenced.
pub unsafe extern "C" fn nrt_register_async_exec_callback(
    callback: NRT_ASYNC_EXEC_STATUS_CALLBACK,
    params: *mut c_void,
) -> NRT_STATUS {
    guard("nrt_register_async_exec_callback", || {
        let Some(cb) = callback else {
            return Err(Failure::invalid("callback is NULL"));
        };
        need_runtime()?;
        *ASYNC_CALLBACK.lock() = Some((cb as usize, params as usize));
        Ok(())
    })
}

/// `nrt_async_drain_queued_execs`: nothing is ever queued in the (unemulated) implicit
/// mode, so this returns at once for a visible core.
///
/// # Safety
/// No pointer arguments.
pub unsafe extern "C" fn nrt_async_drain_queued_execs(vnc: i32) -> NRT_STATUS {
    guard("nrt_async_drain_queued_execs", || {
        visible_core(vnc)?;
        Ok(())
    })
}

fn visible_core(vnc: i32) -> Result<u32, Failure> {
    let rt = need_runtime()?;
    if vnc < 0 || vnc as u32 >= rt.config.visible_cores {
        return Err(Failure::invalid(format!(
            "core {vnc} is not visible (0..{})",
            rt.config.visible_cores
        )));
    }
    Ok(vnc as u32)
}

// ---------------------------------------------------------------------------------------
// Experimental and collective declarations (nrt_experimental.h, nrt.h)

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

// ---------------------------------------------------------------------------------------
// Helpers

/// Copy `s` into a fixed C char array, truncated to leave a NUL.
fn copy_c_string(dst: &mut [c_char], s: &str) {
    let n = s.len().min(dst.len().saturating_sub(1));
    for (d, b) in dst.iter_mut().zip(s.as_bytes()[..n].iter()) {
        *d = *b as c_char;
    }
    for d in dst[n..].iter_mut() {
        *d = 0;
    }
}

// Compile-time proof that each entry point has the vendor's prototype as neuron-sys
// declares it.
const _: nrt_init_fn = nrt_init;
const _: nrt_close_fn = nrt_close;
const _: nrt_get_version_fn = nrt_get_version;
const _: nrt_get_status_as_str_fn = nrt_get_status_as_str;
const _: nrt_get_instance_info_fn = nrt_get_instance_info;
const _: nrt_get_total_vnc_count_fn = nrt_get_total_vnc_count;
const _: nrt_get_total_nc_count_fn = nrt_get_total_nc_count;
const _: nrt_get_visible_vnc_count_fn = nrt_get_visible_vnc_count;
const _: nrt_get_visible_nc_count_fn = nrt_get_visible_nc_count;
const _: nrt_host_device_id_get_fn = nrt_host_device_id_get;
const _: nrt_get_vnc_memory_stats_fn = nrt_get_vnc_memory_stats;
const _: nrt_load_fn = nrt_load;
const _: nrt_load_collectives_fn = nrt_load_collectives;
const _: nrt_unload_fn = nrt_unload;
const _: nrt_get_model_info_fn = nrt_get_model_info;
const _: nrt_get_model_vnc_count_fn = nrt_get_model_vnc_count;
const _: nrt_get_model_nc_count_fn = nrt_get_model_nc_count;
const _: nrt_get_model_instance_count_fn = nrt_get_model_instance_count;
const _: nrt_get_model_tensor_info_fn = nrt_get_model_tensor_info;
const _: nrt_free_model_tensor_info_fn = nrt_free_model_tensor_info;
const _: nrt_tensor_allocate_fn = nrt_tensor_allocate;
const _: nrt_tensor_free_fn = nrt_tensor_free;
const _: nrt_tensor_read_fn = nrt_tensor_read;
const _: nrt_tensor_write_fn = nrt_tensor_write;
const _: nrt_tensor_copy_fn = nrt_tensor_copy;
const _: nrt_tensor_memset_fn = nrt_tensor_memset;
const _: nrt_tensor_read_batch_fn = nrt_tensor_read_batch;
const _: nrt_tensor_write_batch_fn = nrt_tensor_write_batch;
const _: nrt_tensor_get_size_fn = nrt_tensor_get_size;
const _: nrt_tensor_get_va_fn = nrt_tensor_get_va;
const _: nrt_tensor_get_device_allocation_info_fn = nrt_tensor_get_device_allocation_info;
const _: nrt_tensor_allocate_empty_fn = nrt_tensor_allocate_empty;
const _: nrt_tensor_attach_buffer_fn = nrt_tensor_attach_buffer;
const _: nrt_tensor_allocate_slice_fn = nrt_tensor_allocate_slice;
const _: nrt_tensor_check_output_completion_fn = nrt_tensor_check_output_completion;
const _: nrt_tensor_reset_output_completion_fn = nrt_tensor_reset_output_completion;
const _: nrt_allocate_tensor_set_fn = nrt_allocate_tensor_set;
const _: nrt_destroy_tensor_set_fn = nrt_destroy_tensor_set;
const _: nrt_add_tensor_to_tensor_set_fn = nrt_add_tensor_to_tensor_set;
const _: nrt_get_tensor_from_tensor_set_fn = nrt_get_tensor_from_tensor_set;
const _: nrt_execute_fn = nrt_execute;
const _: nrt_execute_repeat_fn = nrt_execute_repeat;
const _: nrt_register_async_exec_callback_fn = nrt_register_async_exec_callback;
const _: nrt_async_drain_queued_execs_fn = nrt_async_drain_queued_execs;
const _: nrt_set_pool_eng_ucode_fn = nrt_set_pool_eng_ucode;

/// Export every `nrt_*` entry point of this module from a generation library (called
/// once in each `gen-*/src/lib.rs`).
#[macro_export]
macro_rules! export_core_symbols {
    () => {
        $crate::export_core_symbols!(@each
            nrt_init, nrt_close, nrt_get_version, nrt_get_status_as_str, nrt_get_instance_info,
            nrt_get_total_vnc_count, nrt_get_total_nc_count, nrt_get_visible_vnc_count,
            nrt_get_visible_nc_count, nrt_host_device_id_get, nrt_host_device_id_rid_map_get,
            nrt_get_hbm_mmap_va, nrt_get_vnc_memory_stats, nrt_get_attached_efa_bdf,
            nrt_get_dmabuf_fd, nrt_load, nrt_load_collectives, nrt_unload, nrt_get_model_info,
            nrt_get_model_vnc_count, nrt_get_model_nc_count, nrt_get_model_instance_count,
            nrt_get_model_tensor_info, nrt_free_model_tensor_info, nrt_tensor_allocate,
            nrt_tensor_free, nrt_tensor_read, nrt_tensor_write, nrt_tensor_copy,
            nrt_tensor_memset, nrt_tensor_read_batch, nrt_tensor_write_batch,
            nrt_tensor_get_size, nrt_tensor_get_va, nrt_tensor_get_device_allocation_info,
            nrt_tensor_allocate_empty, nrt_tensor_attach_buffer, nrt_tensor_allocate_slice,
            nrt_tensor_check_output_completion, nrt_tensor_reset_output_completion,
            nrt_memcpy_to_device, nrt_allocate_tensor_set, nrt_destroy_tensor_set,
            nrt_add_tensor_to_tensor_set, nrt_get_tensor_from_tensor_set, nrt_execute,
            nrt_execute_repeat, nrt_register_async_exec_callback, nrt_async_drain_queued_execs,
            nrt_trace_start, nrt_trace_stop, nrt_get_libnccl_net, nrt_set_pool_eng_ucode,
            nrt_build_global_comm, nrt_cc_global_comm_init, nrt_barrier, nrt_all_gather
        );
    };
    (@each $($f:ident),* $(,)?) => {
        $( $crate::export_symbol!($f => $crate::abi::core::$f); )*
    };
}

/// The C names [`export_core_symbols!`] exports (for the exported-symbol tests).
pub const CORE_SYMBOLS: &[&str] = &[
    "nrt_init",
    "nrt_close",
    "nrt_get_version",
    "nrt_get_status_as_str",
    "nrt_get_instance_info",
    "nrt_get_total_vnc_count",
    "nrt_get_total_nc_count",
    "nrt_get_visible_vnc_count",
    "nrt_get_visible_nc_count",
    "nrt_host_device_id_get",
    "nrt_host_device_id_rid_map_get",
    "nrt_get_hbm_mmap_va",
    "nrt_get_vnc_memory_stats",
    "nrt_get_attached_efa_bdf",
    "nrt_get_dmabuf_fd",
    "nrt_load",
    "nrt_load_collectives",
    "nrt_unload",
    "nrt_get_model_info",
    "nrt_get_model_vnc_count",
    "nrt_get_model_nc_count",
    "nrt_get_model_instance_count",
    "nrt_get_model_tensor_info",
    "nrt_free_model_tensor_info",
    "nrt_tensor_allocate",
    "nrt_tensor_free",
    "nrt_tensor_read",
    "nrt_tensor_write",
    "nrt_tensor_copy",
    "nrt_tensor_memset",
    "nrt_tensor_read_batch",
    "nrt_tensor_write_batch",
    "nrt_tensor_get_size",
    "nrt_tensor_get_va",
    "nrt_tensor_get_device_allocation_info",
    "nrt_tensor_allocate_empty",
    "nrt_tensor_attach_buffer",
    "nrt_tensor_allocate_slice",
    "nrt_tensor_check_output_completion",
    "nrt_tensor_reset_output_completion",
    "nrt_memcpy_to_device",
    "nrt_allocate_tensor_set",
    "nrt_destroy_tensor_set",
    "nrt_add_tensor_to_tensor_set",
    "nrt_get_tensor_from_tensor_set",
    "nrt_execute",
    "nrt_execute_repeat",
    "nrt_register_async_exec_callback",
    "nrt_async_drain_queued_execs",
    "nrt_trace_start",
    "nrt_trace_stop",
    "nrt_get_libnccl_net",
    "nrt_set_pool_eng_ucode",
    "nrt_build_global_comm",
    "nrt_cc_global_comm_init",
    "nrt_barrier",
    "nrt_all_gather",
];
