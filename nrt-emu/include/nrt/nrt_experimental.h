/*
 * nrt_experimental.h - model tensor information and experimental entry points of the
 * Neuron Runtime, as emulated by nrt-emu. ABI-identical to the vendor's SDK 2.28
 * header; the wording is nrt-emu's own. Conventions: see nrt.h.
 */
#ifndef NRT_EXPERIMENTAL_H
#define NRT_EXPERIMENTAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nrt/nrt_status.h"
#include "nrt/nrt.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Whether a model tensor is read or written by the model. */
typedef enum nrt_tensor_usage {
    NRT_TENSOR_USAGE_INPUT = 0,
    NRT_TENSOR_USAGE_OUTPUT,
} nrt_tensor_usage_t;

/** Size of nrt_tensor_info_t.name, NUL included. */
#define NRT_TENSOR_NAME_MAX 256

/** One input or output of a model. */
typedef struct nrt_tensor_info {
    char name[NRT_TENSOR_NAME_MAX]; /* the key nrt_execute expects in a tensor set */
    nrt_tensor_usage_t usage;
    size_t size;                    /* bytes */
    nrt_dtype_t dtype;
    uint32_t *shape;                /* ndim dimensions */
    uint32_t ndim;
} nrt_tensor_info_t;

/** Every input and output of a model (a count and a flexible array). */
typedef struct nrt_tensor_info_array {
    uint64_t tensor_count;
    nrt_tensor_info_t tensor_array[];
} nrt_tensor_info_array_t;

/** Legacy implicit-async completion callback: (params, model_id, vnc, job_id, status). */
typedef void (*NRT_ASYNC_EXEC_STATUS_CALLBACK)(void *params, uint32_t model_id, uint32_t vnc, uint64_t job_id, NRT_STATUS status);

/**
 * Describe every input and output of a model in one array the runtime allocates;
 * release it with nrt_free_model_tensor_info (only, and only once).
 * nrt-emu: inputs in model-file order, then outputs; the shape arrays live in the same
 * allocation and are freed with it.
 */
NRT_STATUS nrt_get_model_tensor_info(nrt_model_t *model, nrt_tensor_info_array_t **tensor_info);

/**
 * Deprecated: how many threads can usefully call nrt_execute on the model at once.
 * nrt-emu: always 1.
 */
NRT_STATUS nrt_get_model_instance_count(nrt_model_t *model, uint32_t *instance_count);

/**
 * Release an array from nrt_get_model_tensor_info.
 * nrt-emu: anything else, or a second release, is NRT_INVALID; works after nrt_close.
 */
NRT_STATUS nrt_free_model_tensor_info(nrt_tensor_info_array_t *tensor_info);

/**
 * Start tracing every visible core (trace_mem: also allocations).
 * nrt-emu: unsupported, NRT_FAILURE (the device trace is NRT_EMU_TRACE; see the README).
 */
NRT_STATUS nrt_trace_start(bool trace_mem);

/** Write the trace to filename and stop. nrt-emu: unsupported, NRT_FAILURE. */
NRT_STATUS nrt_trace_stop(const char *filename);

/**
 * Temporary entry point for the NCCL network plugin.
 * nrt-emu: there is none: returns NULL, sets *err to 1 and writes a message.
 */
void *nrt_get_libnccl_net(int *err, char *err_msg, size_t err_msg_size);

/** A microcode image. */
typedef struct nrt_ucode_img {
    uint8_t *bin;
    size_t size;
} nrt_ucode_img;

/** Pooling-engine microcode images. */
typedef struct nrt_ucode_info {
    nrt_ucode_img iram;
    nrt_ucode_img dram;
} nrt_ucode_info;

/**
 * Pooling-engine microcode for nrt_init to load; must be called before nrt_init.
 * nrt-emu: accepted and ignored before nrt_init, NRT_FAILURE afterwards.
 */
NRT_STATUS nrt_set_pool_eng_ucode(const nrt_ucode_info *ucode_info);

/**
 * Copy size bytes to memory-mapped device memory.
 * nrt-emu: dest must lie inside a live tensor's memory (nrt_tensor_get_va);
 * anything else is NRT_INVALID.
 */
NRT_STATUS nrt_memcpy_to_device(void *dest, const void *src, size_t size);

/**
 * Legacy implicit-async mode: register the completion callback (replacing an earlier
 * one); params may be NULL.
 * nrt-emu: the implicit mode is not emulated (nrt_execute is always synchronous), so
 * the callback is stored but never called. NULL callback: NRT_INVALID.
 */
NRT_STATUS nrt_register_async_exec_callback(NRT_ASYNC_EXEC_STATUS_CALLBACK callback, void *params);

/**
 * A barrier over all workers (a tiny all-reduce).
 * nrt-emu: one worker only: world size 1 returns at once, larger is NRT_FAILURE.
 */
NRT_STATUS nrt_barrier(int32_t vnc, uint32_t g_device_id, uint32_t g_device_count);

/**
 * Gather rank_input_size bytes from every worker into output
 * (g_device_count * rank_input_size bytes).
 * nrt-emu: one worker only: world size 1 copies input to output; larger is NRT_FAILURE.
 */
NRT_STATUS nrt_all_gather(int32_t vnc, uint32_t g_device_id, uint32_t g_device_count,
                          uint32_t rank_input_size, void *input, void *output);

/**
 * Legacy implicit-async mode: wait until the core's queued executions are done.
 * nrt-emu: nothing is ever queued in that mode; returns at once for a visible core.
 */
NRT_STATUS nrt_async_drain_queued_execs(int32_t vnc);

/** Facts about a loaded model. Fields are only appended. */
typedef struct nrt_model_info {
    uint32_t vnc; /* the logical core it is loaded on */
} nrt_model_info_t;

/**
 * Fill *info; info_size_in is the caller's sizeof(*info) and *info_size_out the bytes
 * written.
 */
NRT_STATUS nrt_get_model_info(const nrt_model_t *model, nrt_model_info_t *info, size_t info_size_in, size_t *info_size_out);

#ifdef __cplusplus
}
#endif

#endif /* NRT_EXPERIMENTAL_H */
