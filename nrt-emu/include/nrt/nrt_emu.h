/*
 * nrt_emu.h - functions only nrt-emu has (prefix nrtemu_, ELF version node
 * NRT_EMU_1.0): what the emulated device did, for tests and benchmarks. They exist in
 * every generation's library and never in the vendor's; resolve them with dlsym when a
 * program must also run on real hardware.
 *
 * All times are nanoseconds; absolute times are CLOCK_MONOTONIC, the clock an
 * application reads with clock_gettime(CLOCK_MONOTONIC, ...). Every function returns
 * NRT_SUCCESS, NRT_INVALID for a NULL or out-of-range argument, or
 * NRT_UNINITIALIZED/NRT_CLOSED outside nrt_init..nrt_close.
 *
 * The structs carry their own size so they can grow: set `struct_size` to
 * sizeof(the struct) before the call; the emulator fills at most that many bytes and
 * writes back how many it filled. Fields are only ever added at the end.
 */
#ifndef NRT_EMU_H
#define NRT_EMU_H

#include <stdint.h>

#include "nrt/nrt_status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The counters of one XU instance since nrt_init or the last nrtemu_reset_stats. */
typedef struct nrtemu_xu_stats {
    uint32_t struct_size;  /**< in: sizeof(nrtemu_xu_stats_t); out: bytes written */
    uint32_t lnc;          /**< logical core */
    uint32_t xu;           /**< XU type, in the loaded generation's numbering */
    uint32_t queue;        /**< queue */
    uint64_t issued;       /**< last sequence number accepted (never reset) */
    uint64_t completed;    /**< requests completed, any status */
    uint64_t errors;       /**< of those, completed with a status other than NRT_SUCCESS */
    uint64_t busy_ns;      /**< sum of the simulated costs of the requests that ran (exact) */
    uint64_t idle_ns;      /**< sum of the timeline gaps before each completed request */
    uint64_t in_flight;    /**< accepted and not yet completed, now */
    uint64_t queue_hwm;    /**< high-water mark of in_flight */
    uint64_t late_count;   /**< lateness samples: release time - simulated end, per request */
    uint64_t late_p50_ns;  /**< median lateness (log-linear histogram, within ~3%) */
    uint64_t late_p99_ns;  /**< 99th percentile lateness */
    uint64_t late_max_ns;  /**< largest lateness (exact) */
    uint32_t dead;         /**< 1 once the XU is unrecoverable */
    uint32_t reserved;     /**< 0 */
} nrtemu_xu_stats_t;

/** The device parameters in force (read from NRT_EMU_* at nrt_init). */
typedef struct nrtemu_config {
    uint32_t struct_size;       /**< in: sizeof(nrtemu_config_t); out: bytes written */
    uint32_t queue_depth;       /**< accepted, uncompleted requests per XU before NRT_QUEUE_FULL */
    uint64_t xfer_overhead_ns;  /**< fixed cost of each transfer */
    uint64_t xfer_bytes_per_us; /**< simulated transfer bandwidth */
    uint64_t spin_ns;           /**< the release thread spins this long before a deadline */
    uint32_t lnc_count;         /**< logical cores */
    uint32_t xu_type_count;     /**< NRTA_XU_TYPE_NUM of the generation */
} nrtemu_config_t;

/** Counters of XU (lnc, xu, queue); `xu` in the loaded generation's numbering. */
NRT_STATUS nrtemu_get_xu_stats(uint32_t lnc, uint32_t xu, int queue, nrtemu_xu_stats_t *stats);

/** Zero every XU's counters; busy and idle time count from now. */
NRT_STATUS nrtemu_reset_stats(void);

/** CPU time used by the emulator's own thread since nrt_init (it also does the emulated
 *  work: model outputs, byte copies), so a benchmark can subtract it. */
NRT_STATUS nrtemu_get_thread_cpu_ns(uint64_t *ns);

/** The device parameters; a transfer of n bytes costs
 *  xfer_overhead_ns + ceil(n * 1000 / xfer_bytes_per_us) ns. */
NRT_STATUS nrtemu_get_config(nrtemu_config_t *cfg);

/** For a completed request (among the last 4096 of its XU): its simulated end and the
 *  moment the emulator released it. NRT_INVALID when pending or forgotten. */
NRT_STATUS nrtemu_get_completion_time(uint64_t seq, uint64_t *sim_end_ns, uint64_t *release_ns);

#ifdef __cplusplus
}
#endif

#endif /* NRT_EMU_H */
