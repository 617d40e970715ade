//! nrt-abi.md §4.3: loading and unloading models, model info and the model's tensor
//! info array.

use crate::abi::{copy_c_string, guard, need_runtime, non_null, write_prefix};
use crate::error::Failure;
use crate::{device, model};
use neuron_sys::*;
use parking_lot::Mutex;
use std::collections::BTreeSet;
use std::ffi::c_void;

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
pub(super) fn live_model(p: *const nrt_model_t) -> Result<std::sync::Arc<model::Model>, Failure> {
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

// The prototypes are checked against neuron-sys at compile time.
const _: nrt_load_fn = nrt_load;
const _: nrt_load_collectives_fn = nrt_load_collectives;
const _: nrt_unload_fn = nrt_unload;
const _: nrt_get_model_info_fn = nrt_get_model_info;
const _: nrt_get_model_vnc_count_fn = nrt_get_model_vnc_count;
const _: nrt_get_model_nc_count_fn = nrt_get_model_nc_count;
const _: nrt_get_model_instance_count_fn = nrt_get_model_instance_count;
const _: nrt_get_model_tensor_info_fn = nrt_get_model_tensor_info;
const _: nrt_free_model_tensor_info_fn = nrt_free_model_tensor_info;
