//! The C enums other than `NRT_STATUS`, and the header constants (`nrt.h`,
//! `nrt_experimental.h`, `nrt_version.h`).
//!
//! Every C enum is taken as a `u32` type alias plus one `pub const` per enumerator: a value
//! coming from C that this crate does not know is then an ordinary number, never undefined
//! behaviour (gcc gives these enums `unsigned int` as the underlying type; all values are
//! non-negative).

macro_rules! c_enum {
    ($(#[$meta:meta])* $ty:ident { $($name:ident = $value:expr),* $(,)? }) => {
        $(#[$meta])*
        pub type $ty = u32;
        $(#[doc = concat!("`", stringify!($name), "` (", stringify!($value), ")")]
          pub const $name: $ty = $value;)*
    };
}

c_enum! {
    /// `nrt_tensor_placement_t`: where a tensor's storage lives.
    nrt_tensor_placement_t {
        NRT_TENSOR_PLACEMENT_DEVICE = 0,
        NRT_TENSOR_PLACEMENT_HOST = 1,
        NRT_TENSOR_PLACEMENT_VIRTUAL = 2,
    }
}

c_enum! {
    /// `nrt_tensor_usage_t`: whether a model tensor is an input or an output.
    nrt_tensor_usage_t {
        NRT_TENSOR_USAGE_INPUT = 0,
        NRT_TENSOR_USAGE_OUTPUT = 1,
    }
}

c_enum! {
    /// `nrt_framework_type_t`: who calls `nrt_init` (used only to identify the caller).
    nrt_framework_type_t {
        NRT_FRAMEWORK_TYPE_INVALID = 0,
        NRT_FRAMEWORK_TYPE_NO_FW = 1,
        NRT_FRAMEWORK_TYPE_TENSORFLOW = 2,
        NRT_FRAMEWORK_TYPE_PYTORCH = 3,
        NRT_FRAMEWORK_TYPE_MXNET = 4,
        NRT_FRAMEWORK_TYPE_PRECHECK = 5,
    }
}

c_enum! {
    /// `nrt_dtype_t` with the SDK 2.28 hardware codes (the pre-2.28 sequential numbering
    /// is a different ABI and is not represented here).
    nrt_dtype_t {
        NRT_DTYPE_UNKNOWN = 0,
        NRT_DTYPE_INVALID = 0,
        NRT_DTYPE_UINT64 = 1,
        NRT_DTYPE_INT8 = 2,
        NRT_DTYPE_UINT8 = 3,
        NRT_DTYPE_INT16 = 4,
        NRT_DTYPE_UINT16 = 5,
        NRT_DTYPE_BFLOAT16 = 6,
        NRT_DTYPE_FLOAT16 = 7,
        NRT_DTYPE_INT32 = 8,
        NRT_DTYPE_UINT32 = 9,
        NRT_DTYPE_FLOAT32 = 10,
        NRT_DTYPE_FP32R = 11,
        NRT_DTYPE_INT64 = 12,
        NRT_DTYPE_FP8_E3 = 13,
        NRT_DTYPE_FP8_E4 = 14,
        NRT_DTYPE_FP8_E5 = 15,
    }
}

c_enum! {
    /// `nrt_op_type_t`: the reduction of a collective.
    nrt_op_type_t {
        NRT_OP_ADD = 0,
        NRT_OP_FMA = 1,
        NRT_OP_MAX = 2,
        NRT_OP_MIN = 3,
        NRT_OP_INVALID = 15,
    }
}

c_enum! {
    /// `nrt_cc_op_type_t`: the kind of standalone collective.
    nrt_cc_op_type_t {
        NRT_CC_ALLGATHER = 0,
        NRT_CC_ALLREDUCE = 1,
        NRT_CC_REDUCESCATTER = 2,
    }
}

c_enum! {
    /// The anonymous instance-family enum: values of `nrt_instance_info_t::family`.
    nrt_instance_family_t {
        NRT_INSTANCE_UNKNOWN = 0,
        NRT_INSTANCE_INF1 = 1,
        NRT_INSTANCE_TRN1 = 2,
        NRT_INSTANCE_TRN1N = 3,
        NRT_INSTANCE_INF2 = 4,
        NRT_INSTANCE_TRN2 = 5,
        NRT_INSTANCE_TRN2N = 6,
        NRT_INSTANCE_INF2E = 7,
        NRT_INSTANCE_TRN2P = 8,
        NRT_INSTANCE_TRN2U = 9,
        NRT_INSTANCE_TRN2E = 10,
        NRT_INSTANCE_TRN2EU = 11,
        NRT_INSTANCE_TRN2AC = 12,
        NRT_INSTANCE_TRN2UAC = 13,
        NRT_INSTANCE_TRN3 = 14,
        NRT_INSTANCE_TRN3PDS98 = 15,
    }
}

c_enum! {
    /// The anonymous instance-size enum: values of `nrt_instance_info_t::size`. New sizes
    /// are inserted before `UNKNOWN`, so `UNKNOWN`/`NUM` move between SDK releases.
    nrt_instance_size_t {
        NRT_INSTANCE_SIZE_1XL = 0,
        NRT_INSTANCE_SIZE_2XL = 1,
        NRT_INSTANCE_SIZE_4XL = 2,
        NRT_INSTANCE_SIZE_6XL = 3,
        NRT_INSTANCE_SIZE_8XL = 4,
        NRT_INSTANCE_SIZE_24XL = 5,
        NRT_INSTANCE_SIZE_32XL = 6,
        NRT_INSTANCE_SIZE_48XL = 7,
        NRT_INSTANCE_SIZE_3XL = 8,
        NRT_INSTANCE_SIZE_UNKNOWN = 9,
        NRT_INSTANCE_SIZE_NUM = 9,
    }
}

/// `NRT_MAJOR_VERSION` (`nrt.h`): the header's API major version. It did not change with
/// the async API's 3.0 bump, so it says nothing about the async generation.
pub const NRT_MAJOR_VERSION: u32 = 2;
/// `NRT_MINOR_VERSION` (`nrt.h`).
pub const NRT_MINOR_VERSION: u32 = 0;
/// `NRT_TENSOR_NAME_MAX`: size of `nrt_tensor_info_t::name`, NUL included.
pub const NRT_TENSOR_NAME_MAX: usize = 256;
/// `RT_VERSION_DETAIL_LEN`: size of `nrt_version_t::rt_detail`.
pub const RT_VERSION_DETAIL_LEN: usize = 128;
/// `GIT_HASH_LEN`: size of `nrt_version_t::git_hash`.
pub const GIT_HASH_LEN: usize = 64;
