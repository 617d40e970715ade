//! Size, alignment and every field offset of every struct against `nrt-abi.md` §3
//! (x86-64 Linux, gcc 12.2). Other targets are not described by that table.
#![cfg(all(target_arch = "x86_64", target_os = "linux"))]

use neuron_sys::*;
use std::mem::{align_of, offset_of, size_of};

macro_rules! check_layout {
    ($ty:ty, size $size:expr, align $align:expr, { $($field:ident : $offset:expr),* $(,)? }) => {{
        assert_eq!(size_of::<$ty>(), $size, concat!("sizeof ", stringify!($ty)));
        assert_eq!(align_of::<$ty>(), $align, concat!("alignof ", stringify!($ty)));
        $(assert_eq!(
            offset_of!($ty, $field),
            $offset,
            concat!("offsetof(", stringify!($ty), ", ", stringify!($field), ")")
        );)*
    }};
}

#[test]
fn nrt_instance_info_t() {
    check_layout!(nrt_instance_info_t, size 32, align 4,
        { family: 0, size: 4, arch_name: 8, device_revision: 24 });
}

#[test]
fn tensor_batches() {
    check_layout!(nrt_tensor_batch_op_t, size 24, align 8, { offset: 0, size: 8, buffer: 16 });
    check_layout!(nrt_tensor_batch_t, size 24, align 8, { tensor: 0, ops: 8, num_ops: 16 });
}

#[test]
fn device_allocation_and_memory_stats() {
    check_layout!(nrt_tensor_device_allocation_info_t, size 24, align 8,
        { physical_address: 0, size: 8, hbm_index: 16 });
    check_layout!(nrt_vnc_memory_stats_t, size 16, align 8, { bytes_used: 0, bytes_limit: 8 });
}

#[test]
fn collectives() {
    check_layout!(nrt_cc_comm_t, size 32, align 8, {
        replica_group: 0, rank: 8, rank_n: 12, ctx_device_id: 16, ctx_device_count: 20, vnc: 24,
    });
    check_layout!(nrt_tensor_list_t, size 16, align 8, { tensors: 0, num_tensors: 8 });
}

#[test]
fn nrt_version_t() {
    check_layout!(nrt_version_t, size 224, align 8, {
        rt_major: 0, rt_minor: 8, rt_patch: 16, rt_maintenance: 24, rt_detail: 32, git_hash: 160,
    });
}

#[test]
fn nrta_error_t() {
    check_layout!(nrta_error_t, size 16, align 8, { seq_id: 0, error_code: 8 });
}

#[test]
fn tensor_info() {
    check_layout!(nrt_tensor_info_t, size 296, align 8,
        { name: 0, usage: 256, size: 264, dtype: 272, shape: 280, ndim: 288 });
    check_layout!(nrt_tensor_info_array_t, size 8, align 8, { tensor_count: 0, tensor_array: 8 });
    // The flexible array's element stride: n entries occupy 8 + 296 * n bytes.
    assert_eq!(size_of::<[nrt_tensor_info_t; 3]>(), 3 * 296);
    check_layout!(nrt_model_info_t, size 4, align 4, { vnc: 0 });
}

#[test]
fn ucode() {
    check_layout!(nrt_ucode_img, size 16, align 8, { bin: 0, size: 8 });
    check_layout!(nrt_ucode_info, size 32, align 8, { iram: 0, dram: 16 });
}

#[test]
fn opaque_and_scalar_types() {
    // Opaque handles are zero-sized: only pointers to them exist.
    assert_eq!(size_of::<nrt_model_t>(), 0);
    assert_eq!(size_of::<nrt_tensor_t>(), 0);
    assert_eq!(size_of::<nrta_error_tracker_t>(), 0);
    assert_eq!(size_of::<nrt_cc_context_t>(), 0);
    // nrt_tensor_set_t is void, so a set pointer is a void pointer.
    let _: *mut std::ffi::c_void = std::ptr::null_mut::<nrt_tensor_set_t>();
    // Every C enum is 4 bytes, 4-aligned.
    assert_eq!((size_of::<NRT_STATUS>(), align_of::<NRT_STATUS>()), (4, 4));
    assert_eq!(size_of::<nrt_dtype_t>(), 4);
    assert_eq!(size_of::<nrta_seq_t>(), 8);
    // Function-pointer types are thin pointers; Option of one is NULL-able at the same size.
    assert_eq!(size_of::<Option<nrt_init_fn>>(), 8);
    assert_eq!(size_of::<NRT_ASYNC_EXEC_STATUS_CALLBACK>(), 8);
}
