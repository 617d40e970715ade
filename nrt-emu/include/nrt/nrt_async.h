/*
 * nrt_async.h - the explicit asynchronous API of the Neuron Runtime (nrta_*), as
 * emulated by nrt-emu. ABI-identical to the vendor's header of the generation chosen
 * below; the wording is nrt-emu's own.
 *
 * Choosing the generation
 * -----------------------
 * The async API changed shape in SDK 2.29 ("async API 3.0"): the XU types were
 * renumbered, the error tracker and the completion handle were removed, every schedule
 * call takes an `NRT_STATUS *ret` written when the request completes, and the tensor
 * calls gained an `int lnc_idx` before `int queue`. SDK 2.30 added eventfd
 * registration. A program selects the prototypes it is written against with
 *
 *     #define NRT_ASYNC_API_VERSION 3     (or -DNRT_ASYNC_API_VERSION=3)
 *
 * before including this header:
 *   - 2 (the default): SDK 2.28, matching the vendor's 2.28 header;
 *   - 3: SDK 2.29 and later. The two nrta_event_register_* functions are declared too,
 *     but exist only in libraries from SDK 2.30 on: a program that calls them links and
 *     runs only against such a library (nrt-emu: target/<profile>/emu/2.30).
 * The library must match: a 2.28 library does not export the 3.0 symbols, and the
 * reverse, so a mismatch fails at link or load time instead of corrupting memory.
 *
 * Sequence ids
 * ------------
 * `nrta_seq_t` holds an XU id in bits 63..48 and a per-XU number in bits 47..0 that
 * starts at 1 and increases by one per accepted request. In nrt-emu the XU id is
 * (logical core << 8) | (XU type << 4) | queue. Requests on one XU queue complete in
 * order; there is no order between XUs.
 *
 * Threading: the calls may be made from any thread. Memory handed to a schedule call
 * (host buffers, tensors, `*ret`) must stay valid until the request completes.
 */
#ifndef NRT_ASYNC_H
#define NRT_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nrt/nrt.h"
#include "nrt/nrt_status.h"

#ifndef NRT_ASYNC_API_VERSION
#define NRT_ASYNC_API_VERSION 2
#endif
#if NRT_ASYNC_API_VERSION != 2 && NRT_ASYNC_API_VERSION != 3
#error "NRT_ASYNC_API_VERSION must be 2 (SDK 2.28) or 3 (SDK 2.29 and later)"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** A request's id: XU id in bits 63..48, sequence number in bits 47..0. */
typedef uint64_t nrta_seq_t;
/** The 16-bit XU-instance id of a sequence id. */
typedef uint16_t nrta_xu_id_t;

/** Largest sequence number (2^48 - 1). */
#define NRTA_SEQ_NUM_MAX ((1ull << 48) - 1)
/** Mask selecting the sequence number of an id. */
#define NRTA_SEQ_NUM_MASK NRTA_SEQ_NUM_MAX
/** The sequence number (low 48 bits) of id `s`. */
#define NRTA_SEQ_GET_SEQ_NUM(s) ((s) & NRTA_SEQ_NUM_MASK)
/** The XU id (top 16 bits) of id `s`. */
#define NRTA_SEQ_GET_XU_ID(s) ((s) >> 48)

#if NRT_ASYNC_API_VERSION == 2

/** Execution-unit types of SDK 2.28. New types are only ever added before _TYPE_NUM. */
typedef enum nrta_xu {
    NRTA_XU_TENSOR_READ = 0,  /**< device-to-host transfers (2 queues in nrt-emu) */
    NRTA_XU_TENSOR_WRITE = 1, /**< host-to-device transfers (2 queues in nrt-emu) */
    NRTA_XU_TENSOR_OP = 2,    /**< tensor copies (2 queues in nrt-emu) */
    NRTA_XU_COMPUTE = 3,      /**< model executions (1 queue) */
    NRTA_XU_COLLECTIVES = 4,  /**< standalone collectives (3 queues) */
    NRTA_XU_TYPE_NUM = 5
} nrta_xu_t;

/** Collects the errors of requests that fail after they were accepted (one core). */
typedef struct nrta_error_tracker nrta_error_tracker_t;

/** One tracker entry: the failed request and its status widened to 64 bits. */
typedef struct nrta_error {
    nrta_seq_t seq_id;
    uint64_t error_code;
} nrta_error_t;

#ifdef __cplusplus
static_assert(sizeof(nrta_error_t) == 16, "nrta_error_t is 16 bytes");
#else
_Static_assert(sizeof(nrta_error_t) == 16, "nrta_error_t is 16 bytes");
#endif

/**
 * Schedule a copy of `size` bytes from `buf` into `tensor` at `offset` on the
 * TENSOR_WRITE unit of the tensor's core, queue `queue`. `buf` is read when the
 * request runs: keep it valid and unchanged until completion. `err` may be NULL (no
 * error reporting) or a tracker of the same core. On NRT_SUCCESS `*req_sequence` is
 * the request's id; on any error nothing was scheduled and `*req_sequence` is
 * untouched. NRT_QUEUE_FULL: the XU holds its maximum of accepted, uncompleted
 * requests (nrt-emu: NRT_EMU_QUEUE_DEPTH, default 8); wait for a completion and retry.
 * NRT_EXEC_UNIT_UNRECOVERABLE: the XU is dead for the rest of the process.
 */
NRT_STATUS nrta_tensor_write(nrt_tensor_t *tensor, const void *buf, uint64_t offset, uint64_t size,
                             int queue, nrta_error_tracker_t *err, nrta_seq_t *req_sequence);

/** As nrta_tensor_write, from `tensor` into `buf`, on the TENSOR_READ unit. */
NRT_STATUS nrta_tensor_read(void *buf, nrt_tensor_t *tensor, uint64_t offset, uint64_t size,
                            int queue, nrta_error_tracker_t *err, nrta_seq_t *req_sequence);

/** Schedule a tensor-to-tensor copy on the TENSOR_OP unit; device tensors must share a
 *  core. Both tensors must stay allocated until it completes. */
NRT_STATUS nrta_tensor_copy(nrt_tensor_t *src, uint64_t src_offset, nrt_tensor_t *dst,
                            uint64_t dst_offset, uint64_t size, int queue,
                            nrta_error_tracker_t *err, nrta_seq_t *req_sequence);

/** Schedule one execution of `model` on its core's COMPUTE unit (`queue` must be 0).
 *  The sets must name every model tensor with the right size (else NRT_INVALID now)
 *  and stay valid until completion. */
NRT_STATUS nrta_execute_schedule(nrt_model_t *model, const nrt_tensor_set_t *input,
                                 nrt_tensor_set_t *output, int queue, nrta_error_tracker_t *err,
                                 nrta_seq_t *req_sequence);

/** Schedule a prepared collective (`queue` must be 0). nrt-emu: not emulated, so no
 *  context can exist; answers NRT_INVALID. */
NRT_STATUS nrta_cc_schedule(nrt_cc_context_t **cc_ctx, int queue, nrta_error_tracker_t *err,
                            nrta_seq_t *req_sequence);

/**
 * A new file descriptor that becomes readable once request `seq` has completed (at once
 * if it already has) and stays readable until closed. Only poll/select/epoll and close
 * may be used on it; the caller must close it. nrt-emu: an eventfd; nrt_close completes
 * every request, so every handle turns readable by then.
 */
NRT_STATUS nrta_get_completion_handle(nrta_seq_t seq, int *fd);

/** Create an error tracker for logical core `lnc_idx`. Destroy it with
 *  nrta_error_tracker_destroy. */
NRT_STATUS nrta_error_tracker_create(uint32_t lnc_idx, nrta_error_tracker_t **error_tracker);

/** Destroy a tracker (NULL is ignored). Requests still in flight with it are unaffected. */
void nrta_error_tracker_destroy(nrta_error_tracker_t *error_tracker);

/**
 * The errors recorded since the previous call (get-and-clear), in completion order:
 * `*list` points at `*error_count` entries owned by the tracker, valid until the next
 * call or destroy. Call it after learning which requests completed. One thread per
 * tracker at a time. nrt-emu keeps at most 65536 unread entries; later ones are dropped
 * with a warning.
 */
NRT_STATUS nrta_error_tracker_get_list(nrta_error_tracker_t *error_tracker, const nrta_error_t **list,
                                       size_t *error_count);

#else /* NRT_ASYNC_API_VERSION == 3 */

/** Execution-unit types of SDK 2.29 and later. */
typedef enum nrta_xu {
    NRTA_XU_TENSOR_OP = 0,   /**< reads, writes and copies (2 queues) */
    NRTA_XU_COMPUTE = 1,     /**< model executions (1 queue) */
    NRTA_XU_COLLECTIVES = 2, /**< standalone collectives (3 queues) */
    NRTA_XU_TYPE_NUM = 3
} nrta_xu_t;

/**
 * Schedule a copy of `size` bytes from `buf` into `tensor` at `offset`, performed by
 * logical core `lnc_idx`'s TENSOR_OP unit, queue `queue`. `buf` is read when the
 * request runs: keep it valid and unchanged until completion. `*ret` (may be NULL) is
 * written exactly once, with the final status, before the request counts as complete;
 * read it only after seeing the completion. On any error from this call nothing was
 * scheduled and neither `*ret` nor `*req_sequence` is touched.
 */
NRT_STATUS nrta_tensor_write(nrt_tensor_t *tensor, const void *buf, uint64_t offset, uint64_t size,
                             int lnc_idx, int queue, NRT_STATUS *ret, nrta_seq_t *req_sequence);

/** As nrta_tensor_write, from `tensor` into `buf`. */
NRT_STATUS nrta_tensor_read(void *buf, nrt_tensor_t *tensor, uint64_t offset, uint64_t size,
                            int lnc_idx, int queue, NRT_STATUS *ret, nrta_seq_t *req_sequence);

/** A tensor-to-tensor copy on core `lnc_idx`'s TENSOR_OP unit. */
NRT_STATUS nrta_tensor_copy(nrt_tensor_t *src, uint64_t src_offset, nrt_tensor_t *dst,
                            uint64_t dst_offset, uint64_t size, int lnc_idx, int queue,
                            NRT_STATUS *ret, nrta_seq_t *req_sequence);

/** One execution of `model` on its core's COMPUTE unit (`queue` must be 0). */
NRT_STATUS nrta_execute_schedule(nrt_model_t *model, const nrt_tensor_set_t *input,
                                 nrt_tensor_set_t *output, int queue, NRT_STATUS *ret,
                                 nrta_seq_t *req_sequence);

/** A prepared collective (`queue` must be 0). nrt-emu: not emulated; NRT_INVALID. */
NRT_STATUS nrta_cc_schedule(nrt_cc_context_t **cc_ctx, int queue, NRT_STATUS *ret,
                            nrta_seq_t *req_sequence);

/**
 * SDK 2.30+. Write 1 to the caller's eventfd `fd` once, when request `seq` completes (at
 * once if it already has). One-shot. `fd = -1` cancels pending registrations of `seq`.
 * The runtime keeps its own duplicate of `fd`; the caller still owns and closes `fd`.
 */
NRT_STATUS nrta_event_register_seq_id_completion(nrta_seq_t seq, int fd);

/**
 * SDK 2.30+. Write 1 to the caller's eventfd `fd` whenever requests on (lnc, xu, queue)
 * complete (one write may cover several completions: reap by nrta_get_sequence).
 * Persistent until replaced by another registration for the same XU or removed with
 * `fd = -1`. No signal is sent at registration: register before scheduling, or check
 * nrta_get_sequence after registering.
 */
NRT_STATUS nrta_event_register_xu_completion(int lnc, nrta_xu_t xu, int queue, int fd);

#endif /* NRT_ASYNC_API_VERSION */

/** Prepare a standalone collective. nrt-emu: not emulated; answers NRT_FAILURE. */
NRT_STATUS nrta_cc_prepare(nrt_cc_comm_t *comm, nrt_tensor_list_t *input, nrt_tensor_list_t *output,
                           nrt_dtype_t dtype, nrt_op_type_t op, nrt_cc_op_type_t cc_op,
                           nrt_cc_context_t **cc_ctx);

/**
 * Whether request `seq` has completed: NRT_SUCCESS with *is_completed false while
 * pending. NRT_INVALID for an id whose XU does not exist or whose number was never
 * issued. Number 0 (what nrta_get_sequence reports before any completion) counts as
 * completed.
 */
NRT_STATUS nrta_is_completed(nrta_seq_t seq, bool *is_completed);

/**
 * The id of the last completed request on (lnc, xu, queue) — the XU id with number 0
 * before any. Every request with a number at or below it has completed, so
 * `*seq >= my_seq` means "mine is done".
 */
NRT_STATUS nrta_get_sequence(uint32_t lnc, nrta_xu_t xu, int queue, nrta_seq_t *seq);

#ifdef __cplusplus
}
#endif

#endif /* NRT_ASYNC_H */
