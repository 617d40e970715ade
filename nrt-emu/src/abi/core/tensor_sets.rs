//! nrt-abi.md §4.5: tensor sets (`nrt_tensor_set_t`), the named inputs and outputs of
//! an execution.

use super::tensors::live_tensor;
use crate::abi::{guard, guard_or, need_runtime, non_null, req_str};
use crate::error::Failure;
use crate::tensor;
use neuron_sys::*;
use std::ffi::c_char;

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

// The prototypes are checked against neuron-sys at compile time.
const _: nrt_allocate_tensor_set_fn = nrt_allocate_tensor_set;
const _: nrt_destroy_tensor_set_fn = nrt_destroy_tensor_set;
const _: nrt_add_tensor_to_tensor_set_fn = nrt_add_tensor_to_tensor_set;
const _: nrt_get_tensor_from_tensor_set_fn = nrt_get_tensor_from_tensor_set;
