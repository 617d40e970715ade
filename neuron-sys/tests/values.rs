//! Every enum value and constant against `nrt-abi.md` §2 (the numbers are ABI).

use neuron_sys::*;

#[test]
fn status_codes_and_names() {
    let table: &[(NRT_STATUS, NRT_STATUS, &str)] = &[
        (NRT_SUCCESS, 0, "NRT_SUCCESS"),
        (NRT_FAILURE, 1, "NRT_FAILURE"),
        (NRT_INVALID, 2, "NRT_INVALID"),
        (NRT_INVALID_HANDLE, 3, "NRT_INVALID_HANDLE"),
        (NRT_RESOURCE, 4, "NRT_RESOURCE"),
        (NRT_TIMEOUT, 5, "NRT_TIMEOUT"),
        (NRT_HW_ERROR, 6, "NRT_HW_ERROR"),
        (NRT_QUEUE_FULL, 7, "NRT_QUEUE_FULL"),
        (NRT_LOAD_NOT_ENOUGH_NC, 9, "NRT_LOAD_NOT_ENOUGH_NC"),
        (
            NRT_UNSUPPORTED_NEFF_VERSION,
            10,
            "NRT_UNSUPPORTED_NEFF_VERSION",
        ),
        (NRT_FAIL_HOST_MEM_ALLOC, 11, "NRT_FAIL_HOST_MEM_ALLOC"),
        (NRT_UNINITIALIZED, 13, "NRT_UNINITIALIZED"),
        (NRT_CLOSED, 14, "NRT_CLOSED"),
        (NRT_QUEUE_EMPTY, 15, "NRT_QUEUE_EMPTY"),
        (
            NRT_EXEC_UNIT_UNRECOVERABLE,
            101,
            "NRT_EXEC_UNIT_UNRECOVERABLE",
        ),
        (NRT_EXEC_BAD_INPUT, 1002, "NRT_EXEC_BAD_INPUT"),
        (
            NRT_EXEC_COMPLETED_WITH_NUM_ERR,
            1003,
            "NRT_EXEC_COMPLETED_WITH_NUM_ERR",
        ),
        (
            NRT_EXEC_COMPLETED_WITH_ERR,
            1004,
            "NRT_EXEC_COMPLETED_WITH_ERR",
        ),
        (NRT_EXEC_NC_BUSY, 1005, "NRT_EXEC_NC_BUSY"),
        (NRT_EXEC_OOB, 1006, "NRT_EXEC_OOB"),
        (NRT_COLL_PENDING, 1100, "NRT_COLL_PENDING"),
        (
            NRT_EXEC_HW_ERR_COLLECTIVES,
            1200,
            "NRT_EXEC_HW_ERR_COLLECTIVES",
        ),
        (NRT_EXEC_HW_ERR_HBM_UE, 1201, "NRT_EXEC_HW_ERR_HBM_UE"),
        (NRT_EXEC_HW_ERR_NC_UE, 1202, "NRT_EXEC_HW_ERR_NC_UE"),
        (NRT_EXEC_HW_ERR_DMA_ABORT, 1203, "NRT_EXEC_HW_ERR_DMA_ABORT"),
        (NRT_EXEC_SW_NQ_OVERFLOW, 1204, "NRT_EXEC_SW_NQ_OVERFLOW"),
        (
            NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE,
            1205,
            "NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE",
        ),
        (NRT_NETWORK_PROXY_FAILURE, 1206, "NRT_NETWORK_PROXY_FAILURE"),
    ];
    assert_eq!(table.len(), 28, "every code of nrt-abi.md §2.1");
    for &(constant, value, name) in table {
        assert_eq!(constant, value, "{name}");
        assert_eq!(status_name(value), Some(name));
    }
    // The unused numbers and anything else outside the set have no name.
    let known: Vec<NRT_STATUS> = table.iter().map(|t| t.1).collect();
    let unnamed = (0..2000)
        .filter(|v| !known.contains(v))
        .filter(|&v| status_name(v).is_some());
    assert_eq!(unnamed.count(), 0);
    assert_eq!(status_name(8), None);
    assert_eq!(status_name(12), None);
    assert_eq!(status_name(u32::MAX), None);
}

#[test]
fn tensor_model_and_framework_enums() {
    assert_eq!(
        [
            NRT_TENSOR_PLACEMENT_DEVICE,
            NRT_TENSOR_PLACEMENT_HOST,
            NRT_TENSOR_PLACEMENT_VIRTUAL
        ],
        [0, 1, 2]
    );
    assert_eq!([NRT_TENSOR_USAGE_INPUT, NRT_TENSOR_USAGE_OUTPUT], [0, 1]);
    assert_eq!(
        [
            NRT_FRAMEWORK_TYPE_INVALID,
            NRT_FRAMEWORK_TYPE_NO_FW,
            NRT_FRAMEWORK_TYPE_TENSORFLOW,
            NRT_FRAMEWORK_TYPE_PYTORCH,
            NRT_FRAMEWORK_TYPE_MXNET,
            NRT_FRAMEWORK_TYPE_PRECHECK,
        ],
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(
        [
            NRT_OP_ADD,
            NRT_OP_FMA,
            NRT_OP_MAX,
            NRT_OP_MIN,
            NRT_OP_INVALID
        ],
        [0, 1, 2, 3, 15]
    );
    assert_eq!(
        [NRT_CC_ALLGATHER, NRT_CC_ALLREDUCE, NRT_CC_REDUCESCATTER],
        [0, 1, 2]
    );
}

#[test]
fn dtype_hardware_codes() {
    // The SDK 2.28 codes, not the older sequential numbering (FLOAT32 was 1 there).
    let codes: [(nrt_dtype_t, u32); 17] = [
        (NRT_DTYPE_UNKNOWN, 0),
        (NRT_DTYPE_INVALID, 0),
        (NRT_DTYPE_UINT64, 1),
        (NRT_DTYPE_INT8, 2),
        (NRT_DTYPE_UINT8, 3),
        (NRT_DTYPE_INT16, 4),
        (NRT_DTYPE_UINT16, 5),
        (NRT_DTYPE_BFLOAT16, 6),
        (NRT_DTYPE_FLOAT16, 7),
        (NRT_DTYPE_INT32, 8),
        (NRT_DTYPE_UINT32, 9),
        (NRT_DTYPE_FLOAT32, 10),
        (NRT_DTYPE_FP32R, 11),
        (NRT_DTYPE_INT64, 12),
        (NRT_DTYPE_FP8_E3, 13),
        (NRT_DTYPE_FP8_E4, 14),
        (NRT_DTYPE_FP8_E5, 15),
    ];
    for (i, (constant, value)) in codes.into_iter().enumerate() {
        assert_eq!(constant, value, "dtype entry {i}");
    }
}

#[test]
fn instance_family_and_size() {
    let families = [
        NRT_INSTANCE_UNKNOWN,
        NRT_INSTANCE_INF1,
        NRT_INSTANCE_TRN1,
        NRT_INSTANCE_TRN1N,
        NRT_INSTANCE_INF2,
        NRT_INSTANCE_TRN2,
        NRT_INSTANCE_TRN2N,
        NRT_INSTANCE_INF2E,
        NRT_INSTANCE_TRN2P,
        NRT_INSTANCE_TRN2U,
        NRT_INSTANCE_TRN2E,
        NRT_INSTANCE_TRN2EU,
        NRT_INSTANCE_TRN2AC,
        NRT_INSTANCE_TRN2UAC,
        NRT_INSTANCE_TRN3,
        NRT_INSTANCE_TRN3PDS98,
    ];
    assert_eq!(families, std::array::from_fn::<u32, 16, _>(|i| i as u32));
    let sizes = [
        NRT_INSTANCE_SIZE_1XL,
        NRT_INSTANCE_SIZE_2XL,
        NRT_INSTANCE_SIZE_4XL,
        NRT_INSTANCE_SIZE_6XL,
        NRT_INSTANCE_SIZE_8XL,
        NRT_INSTANCE_SIZE_24XL,
        NRT_INSTANCE_SIZE_32XL,
        NRT_INSTANCE_SIZE_48XL,
        NRT_INSTANCE_SIZE_3XL,
        NRT_INSTANCE_SIZE_UNKNOWN,
    ];
    assert_eq!(sizes, std::array::from_fn::<u32, 10, _>(|i| i as u32));
    assert_eq!(NRT_INSTANCE_SIZE_NUM, NRT_INSTANCE_SIZE_UNKNOWN);
}

#[test]
fn xu_numbering_per_generation() {
    use neuron_sys::{gen_a, gen_b};
    assert_eq!(
        [
            gen_a::NRTA_XU_TENSOR_READ,
            gen_a::NRTA_XU_TENSOR_WRITE,
            gen_a::NRTA_XU_TENSOR_OP,
            gen_a::NRTA_XU_COMPUTE,
            gen_a::NRTA_XU_COLLECTIVES,
            gen_a::NRTA_XU_TYPE_NUM,
        ],
        [0, 1, 2, 3, 4, 5]
    );
    assert_eq!(
        [
            gen_b::NRTA_XU_TENSOR_OP,
            gen_b::NRTA_XU_COMPUTE,
            gen_b::NRTA_XU_COLLECTIVES,
            gen_b::NRTA_XU_TYPE_NUM,
        ],
        [0, 1, 2, 3]
    );
}

#[test]
fn header_constants() {
    assert_eq!((NRT_MAJOR_VERSION, NRT_MINOR_VERSION), (2, 0));
    assert_eq!(NRT_TENSOR_NAME_MAX, 256);
    assert_eq!(RT_VERSION_DETAIL_LEN, 128);
    assert_eq!(GIT_HASH_LEN, 64);
}

#[test]
fn sequence_ids() {
    assert_eq!(NRTA_SEQ_NUM_MAX, 0xFFFF_FFFF_FFFF);
    assert_eq!(NRTA_SEQ_NUM_MASK, NRTA_SEQ_NUM_MAX);
    let seq: nrta_seq_t = (0xBEEFu64 << 48) | 0x1234_5678_9ABC;
    assert_eq!(nrta_seq_get_xu_id(seq), 0xBEEF);
    assert_eq!(nrta_seq_get_seq_num(seq), 0x1234_5678_9ABC);
    assert_eq!(nrta_seq_get_xu_id(u64::MAX), u16::MAX);
    assert_eq!(nrta_seq_get_seq_num(u64::MAX), NRTA_SEQ_NUM_MAX);
    assert_eq!(nrta_seq_get_xu_id(NRTA_SEQ_NUM_MAX), 0);
    // Usable in constant context, as the C macros are.
    const XU: nrta_xu_id_t = nrta_seq_get_xu_id(1 << 48);
    assert_eq!(XU, 1);
    assert_eq!(std::mem::size_of::<nrta_xu_id_t>(), 2);
    assert_eq!(std::mem::size_of::<nrta_xu_t>(), 4);
}

#[test]
fn generation_names() {
    let names: Vec<String> = Generation::ALL.iter().map(|g| g.to_string()).collect();
    assert_eq!(names, ["2.28", "2.29", "2.30"]);
    for g in Generation::ALL {
        assert_eq!(Generation::from_name(g.as_str()), Some(g));
    }
    assert_eq!(Generation::from_name("2.31"), None);
}
