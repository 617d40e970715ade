//! nrt-abi.md §4.4: tensor allocation, synchronous reads, writes, copies and batches,
//! slices, attached buffers and output-completion counters.

use crate::abi::{guard, guard_or, need_runtime, non_null, opt_str};
use crate::device::clock;
use crate::error::Failure;
use crate::{error, runtime, tensor};
use neuron_sys::*;
use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

pub(super) fn live_tensor(
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

/// When a synchronous copy of `size` bytes to (`to_device`) or from `t` is done: for a
/// tensor in a core's device memory, when the core's host link has carried it at the
/// emulated bandwidth (`NRT_EMU_DMA_GBPS`); host and virtual tensors copy at once.
fn sync_transfer_deadline(
    t: &tensor::Tensor,
    size: usize,
    to_device: bool,
) -> Result<Option<u64>, Failure> {
    match t.lnc() {
        Some(lnc) if size > 0 => {
            let end = need_runtime()?
                .device
                .sync_transfer_end(lnc, to_device, size as u64);
            Ok(Some(end))
        }
        _ => Ok(None),
    }
}

/// Returns when the copy that ends at `done_at` is done.
fn block_until_transferred(done_at: Option<u64>) {
    if let (Some(t), Ok(rt)) = (done_at, need_runtime()) {
        clock::block_until(t, rt.device.config().spin_ns);
    }
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
        let done_at = sync_transfer_deadline(&t, size, false)?;
        // SAFETY: `buf` is writable for `size` bytes per the caller (unused when 0).
        unsafe { v.read_raw(offset, buf as *mut u8, size) }
            .map_err(|_| out_of_bounds("read", offset as u64, size as u64, v.len()))?;
        block_until_transferred(done_at);
        Ok(())
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
        let done_at = sync_transfer_deadline(&t, size, true)?;
        // SAFETY: `buf` is readable for `size` bytes per the caller (unused when 0).
        unsafe { v.write_raw(offset, buf as *const u8, size) }
            .map_err(|_| out_of_bounds("write", offset as u64, size as u64, v.len()))?;
        block_until_transferred(done_at);
        Ok(())
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

// The prototypes are checked against neuron-sys at compile time.
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
