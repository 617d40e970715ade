/*
 * nrt.h - the Neuron Runtime C API (libnrt), as emulated by nrt-emu.
 *
 * ABI-identical to the vendor's SDK 2.28 header: the same names, values, struct
 * layouts and prototypes, so a program written against the vendor's headers compiles
 * unchanged against these, and a binary built with either runs on either library. The
 * wording is nrt-emu's own; where a comment says "nrt-emu:", it describes what the
 * emulator does where the vendor's documents are silent or where there is no device.
 *
 * Conventions
 *   - Every function returns an NRT_STATUS (nrt_status.h) unless stated otherwise.
 *   - Calls before nrt_init return NRT_UNINITIALIZED, calls after nrt_close
 *     NRT_CLOSED. Exempt: nrt_get_version, nrt_get_status_as_str,
 *     nrt_get_instance_info and the four core-count functions.
 *   - Out-parameters are written only on success.
 *   - nrt-emu: a NULL pointer argument, or a handle that is freed, unloaded or not a
 *     handle of that kind, returns NRT_INVALID (never a crash); the reason is printed
 *     on stderr (silence it with NEURON_RT_LOG_LEVEL=QUIET).
 *   - Logical core ("vnc") indices are relative to the process: its first visible core
 *     is 0 (see NEURON_RT_VISIBLE_CORES).
 *
 * Include with -I<include dir> as "nrt/nrt.h".
 */
#ifndef NRT_NRT_H
#define NRT_NRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nrt/nrt_status.h"
#include "ndl/neuron_driver_shared_tensor_batch_op.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Major and minor version of this API (not of the library: see nrt_get_version). */
#define NRT_MAJOR_VERSION 2
#define NRT_MINOR_VERSION 0

/** A loaded model (opaque). */
typedef struct nrt_model nrt_model_t;
/** A tensor: a named block of device or host memory (opaque). */
typedef struct nrt_tensor nrt_tensor_t;
/** A prepared standalone collective operation (opaque; see nrt_async.h). */
typedef struct nrt_cc_context nrt_cc_context_t;

/* Enum values below are ABI: never changed, only appended. */

/** Where a tensor's memory lives. */
typedef enum {
    NRT_TENSOR_PLACEMENT_DEVICE,  /* device memory of one logical core */
    NRT_TENSOR_PLACEMENT_HOST,    /* DMA-able host memory (deprecated) */
    NRT_TENSOR_PLACEMENT_VIRTUAL, /* ordinary host memory (removed in SDK 2.30) */
} nrt_tensor_placement_t;

/** Who calls the runtime (informational). */
typedef enum {
    NRT_FRAMEWORK_TYPE_INVALID = 0,
    NRT_FRAMEWORK_TYPE_NO_FW = 1, /* a program calling libnrt directly */
    NRT_FRAMEWORK_TYPE_TENSORFLOW,
    NRT_FRAMEWORK_TYPE_PYTORCH,
    NRT_FRAMEWORK_TYPE_MXNET,
    NRT_FRAMEWORK_TYPE_PRECHECK,  /* node precheck tool */
} nrt_framework_type_t;

/** Instance family (nrt_instance_info_t.family). */
enum {
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
    NRT_INSTANCE_TRN3PDS98 = 15
};

/** Instance size (nrt_instance_info_t.size). New sizes go right before UNKNOWN. */
enum {
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
    NRT_INSTANCE_SIZE_NUM = NRT_INSTANCE_SIZE_UNKNOWN,
};

/** Reduction of a collective. */
typedef enum nrt_op_type {
    NRT_OP_ADD = 0x0,
    NRT_OP_FMA = 0x1,
    NRT_OP_MAX = 0x2,
    NRT_OP_MIN = 0x3,
    NRT_OP_INVALID = 0xF,
} nrt_op_type_t;

/** Element types (the hardware codes used since SDK 2.28). */
typedef enum nrt_dtype {
    NRT_DTYPE_UNKNOWN = 0x0,
    NRT_DTYPE_INVALID = 0x0,
    NRT_DTYPE_UINT64 = 0x1,
    NRT_DTYPE_INT8 = 0x2,
    NRT_DTYPE_UINT8 = 0x3,
    NRT_DTYPE_INT16 = 0x4,
    NRT_DTYPE_UINT16 = 0x5,
    NRT_DTYPE_BFLOAT16 = 0x6,
    NRT_DTYPE_FLOAT16 = 0x7,
    NRT_DTYPE_INT32 = 0x8,
    NRT_DTYPE_UINT32 = 0x9,
    NRT_DTYPE_FLOAT32 = 0xA,
    NRT_DTYPE_FP32R = 0xB,
    NRT_DTYPE_INT64 = 0xC,
    NRT_DTYPE_FP8_E3 = 0xD,
    NRT_DTYPE_FP8_E4 = 0xE,
    NRT_DTYPE_FP8_E5 = 0xF,
} nrt_dtype_t;

/** Kind of a standalone collective. */
typedef enum nrt_cc_op_type {
    NRT_CC_ALLGATHER,
    NRT_CC_ALLREDUCE,
    NRT_CC_REDUCESCATTER
} nrt_cc_op_type_t;

/** What instance the runtime runs on. Grows only at the end (8 bytes before 2.28). */
typedef struct nrt_instance_info {
    uint32_t family;           /* NRT_INSTANCE_* */
    uint32_t size;             /* NRT_INSTANCE_SIZE_* */
    char arch_name[16];        /* NUL-terminated */
    char device_revision[8];   /* NUL-terminated */
} nrt_instance_info_t;

/**
 * Fill *info; pass instance_info_len = sizeof(*info) (a smaller, older struct gets the
 * fields that fit). Callable at any time.
 * nrt-emu: a trn1 (arch_name "trn1", device_revision "emu"), size 2XL for 2 cores,
 * 32XL for 32, UNKNOWN otherwise (NRT_EMU_TOTAL_CORES sets the core count).
 */
NRT_STATUS nrt_get_instance_info(nrt_instance_info_t *info, size_t instance_info_len);

/**
 * Start the runtime: read the NEURON_RT_* environment and reserve the visible cores.
 * A program calling directly passes NRT_FRAMEWORK_TYPE_NO_FW, "", "".
 * nrt-emu: the version strings may be NULL. A second nrt_init while initialised fails
 * with NRT_FAILURE; nrt_init after nrt_close starts afresh. The framework must be
 * NO_FW..PRECHECK (NRT_INVALID otherwise). Fails with NRT_FAILURE when NRT_EMU_API
 * names another generation than this library's.
 */
NRT_STATUS nrt_init(nrt_framework_type_t framework, const char *fw_version, const char *fal_version);

/**
 * Stop the runtime and release its cores; later calls return NRT_CLOSED.
 * nrt-emu: work already scheduled completes (with NRT_CLOSED if it had not run yet),
 * then every model, tensor and tensor set is released; their handles are dead.
 */
void nrt_close(void);

/**
 * Load a model onto logical core vnc (-1: the runtime picks) and return its handle in
 * *model. vnc_count is deprecated: pass -1. The buffer is not kept after the call.
 * Errors: NRT_INVALID (bad model), NRT_UNSUPPORTED_NEFF_VERSION,
 * NRT_LOAD_NOT_ENOUGH_NC (vnc not visible), NRT_RESOURCE.
 * nrt-emu: loads nrt-emu model files (nrt-emu/README.md). A real NEFF is recognised and
 * refused with NRT_UNSUPPORTED_NEFF_VERSION (it needs a Neuron device); a truncated or
 * unreadable file gets NRT_INVALID with the reason on stderr. vnc -1 picks the visible
 * core with the fewest loaded models.
 */
NRT_STATUS nrt_load(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count, nrt_model_t **model);

/**
 * As nrt_load, for a model with collectives: ctx_device_id is this worker's rank and
 * ctx_device_count the world size for this model.
 * nrt-emu: collectives are not emulated; the model loads as with nrt_load once
 * ctx_device_id < ctx_device_count.
 */
NRT_STATUS nrt_load_collectives(const void *neff_bytes, size_t size, int32_t vnc, int32_t vnc_count,
                                uint32_t ctx_device_id, uint32_t ctx_device_count, nrt_model_t **model);

/**
 * Unload a model; the handle is dead afterwards (never unload twice).
 * nrt-emu: executions already scheduled still complete.
 */
NRT_STATUS nrt_unload(nrt_model_t *model);

/** Deprecated: logical cores a model uses (nrt-emu: always 1). */
NRT_STATUS nrt_get_model_nc_count(const nrt_model_t *model, uint32_t *vnc_count);

/** Deprecated: logical cores a model uses (nrt-emu: always 1). */
NRT_STATUS nrt_get_model_vnc_count(const nrt_model_t *model, uint32_t *vnc_count);

/** Deprecated alias of nrt_get_total_vnc_count. Callable before nrt_init. */
NRT_STATUS nrt_get_total_nc_count(uint32_t *vnc_count);

/**
 * Logical cores on the instance, whatever the core-selection variables say. Callable
 * before nrt_init. nrt-emu: NRT_EMU_TOTAL_CORES, default 2.
 */
NRT_STATUS nrt_get_total_vnc_count(uint32_t *vnc_count);

/** Deprecated alias of nrt_get_visible_vnc_count. Callable before nrt_init. */
NRT_STATUS nrt_get_visible_nc_count(uint32_t *vnc_count);

/**
 * Logical cores this process may use (after NEURON_RT_VISIBLE_CORES or
 * NEURON_RT_NUM_CORES). Callable before nrt_init, when it reports what nrt_init would
 * reserve.
 */
NRT_STATUS nrt_get_visible_vnc_count(uint32_t *vnc_count);

/** A name -> tensor map passed to executions (`void`, so handles are `void *`). */
typedef void nrt_tensor_set_t;

/** Allocate an empty tensor set; release it with nrt_destroy_tensor_set. */
NRT_STATUS nrt_allocate_tensor_set(nrt_tensor_set_t **result);

/**
 * Destroy a tensor set and set *tensor_set to NULL. The tensors in it are not freed:
 * the caller still owns them.
 */
void nrt_destroy_tensor_set(nrt_tensor_set_t **tensor_set);

/**
 * Add tensor under tensor_name, replacing an earlier one of that name. The name may
 * differ from the tensor's own. The tensor must stay allocated until the set is
 * destroyed.
 */
NRT_STATUS nrt_add_tensor_to_tensor_set(nrt_tensor_set_t *tensor_set, const char *tensor_name, nrt_tensor_t *tensor);

/**
 * Look tensor_name up: NRT_FAILURE, with *tensor untouched, when the set has no such
 * name.
 */
NRT_STATUS nrt_get_tensor_from_tensor_set(nrt_tensor_set_t *tensor_set, const char *tensor_name, nrt_tensor_t **tensor);

/**
 * Run the model once and wait for it. Inputs and outputs are matched to the model by
 * name in the two sets; a missing name or a tensor whose size differs from the
 * model's is NRT_INVALID. Execution errors are the NRT_EXEC_* codes.
 * nrt-emu: the execution takes the model's simulated time on its core's COMPUTE unit,
 * in line with asynchronous requests (see nrt_async.h), and shows in its counters.
 */
NRT_STATUS nrt_execute(nrt_model_t *model, const nrt_tensor_set_t *input_set, nrt_tensor_set_t *output_set);

/**
 * Run the model repeat_count times, each run's outputs feeding the next run's inputs
 * (needs a model compiled for it).
 * nrt-emu: repeat_count 1 is nrt_execute; larger counts return NRT_FAILURE (no
 * emulated model is compiled for repetition); below 1 is NRT_INVALID.
 */
NRT_STATUS nrt_execute_repeat(nrt_model_t *model, const nrt_tensor_set_t *input_set, nrt_tensor_set_t *output_set, int repeat_count);

/**
 * Build the global collectives communicator (g_device_count: largest world size).
 * nrt-emu: one worker only: world size 1 succeeds, anything larger is NRT_FAILURE.
 */
NRT_STATUS nrt_build_global_comm(int32_t vnc, uint32_t g_device_id, uint32_t g_device_count);

/**
 * Allocate a tensor of size bytes on logical core vnc (pass -1 for host memory); name
 * is optional (logs only). Release with nrt_tensor_free.
 * nrt-emu: memory is zeroed; size 0 is NRT_INVALID; device memory per core is limited
 * by NRT_EMU_CORE_MEMORY_MB (NRT_RESOURCE beyond it); VIRTUAL is refused with
 * NRT_INVALID by the SDK 2.30 library, as that SDK removed it.
 */
NRT_STATUS nrt_tensor_allocate(nrt_tensor_placement_t tensor_placement, int vnc, size_t size, const char *name, nrt_tensor_t **tensor);

/**
 * Free a tensor and set *tensor to NULL. Storage shared with slices is released with
 * the last of them; an attached caller buffer is never freed.
 */
void nrt_tensor_free(nrt_tensor_t **tensor);

/** Copy tensor bytes [offset, offset+size) into buf (blocking). Out of range: NRT_INVALID. */
NRT_STATUS nrt_tensor_read(const nrt_tensor_t *tensor, void *buf, size_t offset, size_t size);

/** Copy size bytes from buf into the tensor at offset (blocking). Out of range: NRT_INVALID. */
NRT_STATUS nrt_tensor_write(nrt_tensor_t *tensor, const void *buf, size_t offset, size_t size);

/** A batch of transfers on one tensor (nrt_tensor_batch_op_t is in ndl/). */
typedef struct nrt_tensor_batch {
    const nrt_tensor_t *tensor;       /* the tensor */
    const nrt_tensor_batch_op_t *ops; /* num_ops transfers */
    uint32_t num_ops;
} nrt_tensor_batch_t;

/**
 * Many reads in one call. unsafe=true skips the runtime's in-use tracking.
 * nrt-emu: every batch and op is checked before any byte moves, so a bad entry
 * (NRT_INVALID) changes nothing; `unsafe` has no effect (nothing ever blocks).
 */
NRT_STATUS nrt_tensor_read_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe);

/** Many writes in one call; as nrt_tensor_read_batch. */
NRT_STATUS nrt_tensor_write_batch(const nrt_tensor_batch_t *batches, uint64_t num_batches, bool unsafe);

/**
 * Copy size bytes between tensors. Two device tensors must be on the same logical
 * core (NRT_INVALID otherwise).
 */
NRT_STATUS nrt_tensor_copy(const nrt_tensor_t *src, size_t src_offset, nrt_tensor_t *dst, size_t dst_offset, size_t size);

/** The tensor's size in bytes (returned directly; nrt-emu: 0 for an invalid handle). */
size_t nrt_tensor_get_size(const nrt_tensor_t *tensor);

/** Set size bytes at offset to (unsigned char)value. */
NRT_STATUS nrt_tensor_memset(nrt_tensor_t *tensor, uint64_t offset, int value, size_t size);

/** A tensor object with no storage; give it one with nrt_tensor_attach_buffer. */
NRT_STATUS nrt_tensor_allocate_empty(const char *name, nrt_tensor_t **tensor);

/**
 * Use the caller's buffer as the tensor's storage (placement becomes VIRTUAL). Storage
 * the tensor owned before is released. The buffer stays the caller's and must outlive
 * the tensor.
 */
NRT_STATUS nrt_tensor_attach_buffer(nrt_tensor_t *tensor, void *buffer, size_t size);

/**
 * A new tensor viewing [offset, offset+size) of tensor_source's storage, without a
 * copy. The storage is reference counted: either tensor may be freed first.
 */
NRT_STATUS nrt_tensor_allocate_slice(const nrt_tensor_t *tensor_source, size_t offset, size_t size, const char *name, nrt_tensor_t **tensor_slice);

/**
 * The host virtual address of the tensor's memory, or NULL on failure.
 * nrt-emu: emulated device memory is host memory, so this works for every placement;
 * NULL for a tensor without storage.
 */
void *nrt_tensor_get_va(const nrt_tensor_t *tensor);

/** Where a device tensor's memory is. */
typedef struct nrt_tensor_device_allocation_info {
    uint64_t physical_address; /* address in device memory */
    size_t size;               /* allocation size (may exceed the tensor's) */
    int hbm_index;             /* which HBM */
} nrt_tensor_device_allocation_info_t;

/**
 * Fill *alloc_info for a device tensor.
 * nrt-emu: NRT_INVALID for host tensors; the address is the emulated memory's host
 * address and hbm_index is 0.
 */
NRT_STATUS nrt_tensor_get_device_allocation_info(const nrt_tensor_t *tensor, nrt_tensor_device_allocation_info_t *alloc_info);

/**
 * Wait until executions have written output_tensor expected_completion_count times.
 * timeout in microseconds; negative waits without limit. NRT_TIMEOUT when the count is
 * not reached in time, NRT_INVALID for a NULL tensor.
 */
NRT_STATUS nrt_tensor_check_output_completion(const nrt_tensor_t *output_tensor, int64_t timeout, uint64_t expected_completion_count);

/** Set output_tensor's completion counter to 0. */
NRT_STATUS nrt_tensor_reset_output_completion(nrt_tensor_t *output_tensor);

/**
 * The dma-buf fd of a device range registered for EFA peer-direct.
 * nrt-emu: unsupported, NRT_FAILURE.
 */
NRT_STATUS nrt_get_dmabuf_fd(uint64_t va, uint64_t size, int *fd);

/**
 * The host device id of a (possibly container-relative) device id; NRT_INVALID for a
 * device that does not exist. nrt-emu: the same id (one device per 2 cores).
 */
NRT_STATUS nrt_host_device_id_get(int neuron_dev, uint32_t *host_device_id);

/**
 * Fill host_did_to_rid_map with the routing id of each host device id. *count is the
 * table's capacity on entry and the number of entries written on return.
 * nrt-emu: routing id = device id; a table smaller than the device count is NRT_INVALID.
 */
NRT_STATUS nrt_host_device_id_rid_map_get(uint32_t *count, uint32_t *host_did_to_rid_map);

/**
 * Map one HBM region of a device: NRT_INVALID_HANDLE when there are no more regions,
 * NRT_INVALID when unsupported or for bad arguments.
 * nrt-emu: unsupported, NRT_INVALID.
 */
NRT_STATUS nrt_get_hbm_mmap_va(int device_id, int hbm_idx, void **addr, size_t *size);

/** Device memory use of one logical core. Grows only at the end. */
typedef struct nrt_vnc_memory_stats {
    size_t bytes_used;
    size_t bytes_limit;
} nrt_vnc_memory_stats_t;

/**
 * Fill *stats for core vnc; stats_size_in is the caller's sizeof(*stats) and
 * *stats_size_out the bytes written.
 * nrt-emu: bytes of live device tensors on the core, against NRT_EMU_CORE_MEMORY_MB.
 */
NRT_STATUS nrt_get_vnc_memory_stats(uint32_t vnc, nrt_vnc_memory_stats_t *stats, size_t stats_size_in, size_t *stats_size_out);

/**
 * The PCI BDF of the EFA NIC next to the device holding va. *len: buffer length with
 * the NUL on entry, string length without it on return. NRT_RESOURCE when too small.
 * nrt-emu: there is no EFA device, NRT_FAILURE.
 */
NRT_STATUS nrt_get_attached_efa_bdf(const void *va, char *efa_bdf, size_t *len);

/* Out-of-model collectives (see nrt_async.h for scheduling them). */

/** A communicator for a standalone collective. */
typedef struct nrt_cc_comm {
    uint32_t *replica_group;   /* the participants */
    uint32_t rank;             /* own rank in replica_group */
    uint32_t rank_n;           /* size of replica_group */
    uint32_t ctx_device_id;
    uint32_t ctx_device_count;
    uint32_t vnc;
} nrt_cc_comm_t;

/** A list of tensors. */
typedef struct nrt_tensor_list {
    nrt_tensor_t **tensors;
    size_t num_tensors;
} nrt_tensor_list_t;

/**
 * Build the communicator for host-driven collectives.
 * nrt-emu: one worker only: world size 1 succeeds, anything larger is NRT_FAILURE.
 */
NRT_STATUS nrt_cc_global_comm_init(uint32_t vnc, uint32_t g_device_id, uint32_t g_device_count);

#ifdef __cplusplus
}
#endif

#endif /* NRT_NRT_H */
