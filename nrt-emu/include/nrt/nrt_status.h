/*
 * nrt_status.h - status codes of the Neuron Runtime C API, as emulated by nrt-emu.
 * ABI-identical to the vendor's SDK 2.28 header (names and values); the wording is
 * nrt-emu's own.
 *
 * Every API call returns an NRT_STATUS. The numbers are part of the ABI: values are
 * only ever added, never changed. Execution errors (1002 and up) come back from
 * nrt_execute, or asynchronously from the nrta_* API.
 */
#ifndef NRT_STATUS_H
#define NRT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    NRT_SUCCESS = 0,                        /* the call succeeded */
    NRT_FAILURE = 1,                        /* generic failure, when nothing more specific applies */
    NRT_INVALID = 2,                        /* bad argument or content (model, tensor name or size, range) */
    NRT_INVALID_HANDLE = 3,                 /* bad handle */
    NRT_RESOURCE = 4,                       /* a resource the operation needs could not be allocated */
    NRT_TIMEOUT = 5,                        /* the operation timed out */
    NRT_HW_ERROR = 6,                       /* hardware failure */
    NRT_QUEUE_FULL = 7,                     /* no room in the queue: retry after a completion */
    NRT_LOAD_NOT_ENOUGH_NC = 9,             /* not enough NeuronCores to load the model */
    NRT_UNSUPPORTED_NEFF_VERSION = 10,      /* model version not supported by this runtime */
    NRT_FAIL_HOST_MEM_ALLOC = 11,           /* host allocation failed (kept for compatibility) */
    NRT_UNINITIALIZED = 13,                 /* called before nrt_init */
    NRT_CLOSED = 14,                        /* called after nrt_close */
    NRT_QUEUE_EMPTY = 15,                   /* nothing to read from a queue */
    NRT_EXEC_UNIT_UNRECOVERABLE = 101,      /* the execution unit is dead until the runtime restarts */
    NRT_EXEC_BAD_INPUT = 1002,              /* invalid input to an execution */
    NRT_EXEC_COMPLETED_WITH_NUM_ERR = 1003, /* completed, but results contain NaN */
    NRT_EXEC_COMPLETED_WITH_ERR = 1004,     /* completed with other (logical or physical) errors */
    NRT_EXEC_NC_BUSY = 1005,                /* the NeuronCore is held by another model or process */
    NRT_EXEC_OOB = 1006,                    /* an indirect access went out of bounds */
    NRT_COLL_PENDING = 1100,                /* a collective operation is still pending */
    NRT_EXEC_HW_ERR_COLLECTIVES = 1200,     /* stuck in a collective: notifications missing */
    NRT_EXEC_HW_ERR_HBM_UE = 1201,          /* uncorrectable HBM error: results are wrong */
    NRT_EXEC_HW_ERR_NC_UE = 1202,           /* NeuronCore memory parity error: results are wrong */
    NRT_EXEC_HW_ERR_DMA_ABORT = 1203,       /* a DMA engine failed */
    NRT_EXEC_SW_NQ_OVERFLOW = 1204,         /* notification queue overflow */
    NRT_EXEC_HW_ERR_REPAIRABLE_HBM_UE = 1205, /* repairable uncorrectable HBM error: results are wrong */
    NRT_NETWORK_PROXY_FAILURE = 1206        /* an EFA network proxy operation failed */
} NRT_STATUS;

/**
 * A static, human-readable text for a status ("NRT_QUEUE_FULL: ..."). Never NULL; an
 * unknown number gives "unknown NRT_STATUS". The caller must not free it. Callable at
 * any time, also before nrt_init.
 * Note: the vendor's libnrt 2.31 declares but does not export this function; resolve
 * it at run time if you must also run on such a library.
 */
const char *nrt_get_status_as_str(NRT_STATUS status);

#ifdef __cplusplus
}
#endif

#endif /* NRT_STATUS_H */
