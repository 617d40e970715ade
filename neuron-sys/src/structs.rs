//! The `#[repr(C)]` structs and opaque handle types of the libnrt headers, with the C
//! names and field names. Layouts are those of x86-64 Linux (`nrt-abi.md` §3) and are
//! checked field by field in `tests/layout.rs` and against the C compiler in `tests/c_layout.rs`.

use crate::enums::{
    nrt_dtype_t, nrt_tensor_usage_t, GIT_HASH_LEN, NRT_TENSOR_NAME_MAX, RT_VERSION_DETAIL_LEN,
};
use crate::seq::nrta_seq_t;
use crate::status::NRT_STATUS;
use std::ffi::{c_char, c_int, c_void};

macro_rules! opaque {
    ($($(#[$meta:meta])* $name:ident;)*) => {
        $($(#[$meta])*
        ///
        /// Opaque: only ever handled through pointers the runtime hands out.
        #[repr(C)]
        pub struct $name {
            _private: [u8; 0],
        })*
    };
}

opaque! {
    /// `nrt_model_t` (`struct nrt_model`): a loaded model.
    nrt_model_t;
    /// `nrt_tensor_t` (`struct nrt_tensor`): a tensor.
    nrt_tensor_t;
    /// `nrta_error_tracker_t` (SDK 2.28 only): collects asynchronous errors of one core.
    nrta_error_tracker_t;
    /// `nrt_cc_context_t`: a prepared standalone collective.
    nrt_cc_context_t;
    /// `nrt_async_sendrecv_comm_t`: a send/recv communicator.
    nrt_async_sendrecv_comm_t;
    /// `nrt_async_sendrecv_request_t`: one send/recv transfer.
    nrt_async_sendrecv_request_t;
}

/// `nrt_tensor_set_t` is a typedef of `void` in C, so `nrt_tensor_set_t *` is `void *`.
pub type nrt_tensor_set_t = c_void;

/// `NRT_ASYNC_EXEC_STATUS_CALLBACK` (legacy implicit-async mode):
/// `(params, model_id, vnc, job_id, status)`. `Option` because C may pass NULL.
pub type NRT_ASYNC_EXEC_STATUS_CALLBACK =
    Option<unsafe extern "C" fn(*mut c_void, u32, u32, u64, NRT_STATUS)>;

/// `nrt_version_t` (`nrt_version.h`): the libnrt version (not the SDK version).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_version_t {
    pub rt_major: u64,
    pub rt_minor: u64,
    pub rt_patch: u64,
    pub rt_maintenance: u64,
    /// NUL-terminated description.
    pub rt_detail: [c_char; RT_VERSION_DETAIL_LEN],
    /// NUL-terminated git hash.
    pub git_hash: [c_char; GIT_HASH_LEN],
}

impl Default for nrt_version_t {
    fn default() -> Self {
        Self {
            rt_major: 0,
            rt_minor: 0,
            rt_patch: 0,
            rt_maintenance: 0,
            rt_detail: [0; RT_VERSION_DETAIL_LEN],
            git_hash: [0; GIT_HASH_LEN],
        }
    }
}

/// `nrt_instance_info_t` (`nrt.h`): the instance family and size (SDK 2.28 layout; it was
/// 8 bytes, `family` and `size` only, before 2.28 — the caller passes its size).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrt_instance_info_t {
    /// One of the `NRT_INSTANCE_*` family constants.
    pub family: u32,
    /// One of the `NRT_INSTANCE_SIZE_*` constants.
    pub size: u32,
    pub arch_name: [c_char; 16],
    pub device_revision: [c_char; 8],
}

/// `nrt_tensor_info_t` (`nrt_experimental.h`): one input or output of a model.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_tensor_info_t {
    /// NUL-terminated tensor name: the key `nrt_execute` expects in a tensor set.
    pub name: [c_char; NRT_TENSOR_NAME_MAX],
    pub usage: nrt_tensor_usage_t,
    /// Size in bytes.
    pub size: usize,
    pub dtype: nrt_dtype_t,
    /// `ndim` entries.
    pub shape: *mut u32,
    pub ndim: u32,
}

impl Default for nrt_tensor_info_t {
    fn default() -> Self {
        Self {
            name: [0; NRT_TENSOR_NAME_MAX],
            usage: 0,
            size: 0,
            dtype: 0,
            shape: std::ptr::null_mut(),
            ndim: 0,
        }
    }
}

/// `nrt_tensor_info_array_t`: a count followed by a C flexible array member. Only ever
/// read through a pointer the runtime allocated; entry `i` is at
/// `tensor_array.as_ptr().add(i)`.
#[repr(C)]
#[derive(Debug)]
pub struct nrt_tensor_info_array_t {
    pub tensor_count: u64,
    pub tensor_array: [nrt_tensor_info_t; 0],
}

/// `nrt_model_info_t`: fields are only ever appended; the caller passes its size.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrt_model_info_t {
    /// The logical core the model is loaded on.
    pub vnc: u32,
}

/// `nrt_tensor_batch_op_t` (`ndl/neuron_driver_shared_tensor_batch_op.h`): one transfer
/// of a batch.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_tensor_batch_op_t {
    pub offset: u64,
    pub size: u64,
    pub buffer: *mut c_void,
}

/// `nrt_tensor_batch_t`: one tensor and its transfers.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_tensor_batch_t {
    pub tensor: *const nrt_tensor_t,
    pub ops: *const nrt_tensor_batch_op_t,
    pub num_ops: u32,
}

/// `nrt_tensor_device_allocation_info_t`: where a device tensor lives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrt_tensor_device_allocation_info_t {
    pub physical_address: u64,
    /// Allocation size; may exceed the tensor size.
    pub size: usize,
    pub hbm_index: c_int,
}

/// `nrt_vnc_memory_stats_t`: fields are only ever appended; the caller passes its size.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct nrt_vnc_memory_stats_t {
    pub bytes_used: usize,
    pub bytes_limit: usize,
}

/// `nrt_cc_comm_t`: the group of a standalone collective.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_cc_comm_t {
    /// `rank_n` participants.
    pub replica_group: *mut u32,
    pub rank: u32,
    pub rank_n: u32,
    pub ctx_device_id: u32,
    pub ctx_device_count: u32,
    pub vnc: u32,
}

/// `nrt_tensor_list_t`: an array of tensor pointers.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_tensor_list_t {
    pub tensors: *mut *mut nrt_tensor_t,
    pub num_tensors: usize,
}

/// `nrta_error_t` (SDK 2.28 only): one entry of an error tracker.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct nrta_error_t {
    /// The request that failed.
    pub seq_id: nrta_seq_t,
    /// An `NRT_STATUS` widened to 64 bits.
    pub error_code: u64,
}

/// `nrt_ucode_img`: one microcode image.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_ucode_img {
    pub bin: *mut u8,
    pub size: usize,
}

/// `nrt_ucode_info`: the pool engine's microcode (`nrt_set_pool_eng_ucode`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct nrt_ucode_info {
    pub iram: nrt_ucode_img,
    pub dram: nrt_ucode_img,
}
