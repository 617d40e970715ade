/*
 * Serving on every NeuronCore with one nrtq pool: the model is loaded on each core the
 * process sees, requests go to whichever core will finish them first, and a core whose
 * execution unit dies leaves the pool while the others serve on.
 *
 *   nrtq_pool MODEL [REQUESTS]
 *
 * On the emulator, kill a core mid-run with a fault rule, for example
 *   NRT_EMU_TOTAL_CORES=4 NRT_EMU_FAULTS="unrecoverable after=300 lnc=1" nrtq_pool m.nrtm 4000
 *
 * The pool is a pool of pipelines: a request brings host buffers (two inputs, one output)
 * and nrtq writes them to the device of whichever core takes it, runs the model there and
 * reads the output back; each core's device memory is nrtq's own. Requests are submitted
 * in rounds of SLOTS, one set of host buffers per slot, and each round is drained before
 * its buffers are reused. Each completion is counted per request, so the program can
 * check that every request was delivered exactly once, and its output is verified element
 * by element. Requests that were on the dying core's device complete with its failure
 * (the pool is not marked retry-safe); every other one runs on a live core.
 */
#include "nrtq_example.h"

#include <stdatomic.h>
#include <string.h>

#define SLOTS 64
#define MAX_CORES 256

/* One request's host memory: out = a + b. */
typedef struct host_slot {
    float a[N_ELEMS], b[N_ELEMS], out[N_ELEMS];
} host_slot;

static host_slot slots[SLOTS];

static void slot_fill(host_slot *s, float base) {
    for (int i = 0; i < N_ELEMS; i++) {
        s->a[i] = base + (float)i;
        s->b[i] = 2.0f * (float)i;
        s->out[i] = -1.0f;
    }
}

static int slot_verify(const host_slot *s) {
    int wrong = 0;
    for (int i = 0; i < N_ELEMS; i++) wrong += s->out[i] != s->a[i] + s->b[i];
    return wrong;
}
static atomic_uchar *seen;
static atomic_ulong verified, wrong_elems, failed, delivered;

/* Pool-wide completion hook: runs on nrtq's completion thread, with no lock held. */
static void on_complete(const nrtq_completion *c, uint64_t user_data) {
    (void)user_data;
    atomic_fetch_add(&seen[c->user_data], 1);
    atomic_fetch_add(&delivered, 1);
    if (c->status != NRTQ_OK) {
        atomic_fetch_add(&failed, 1);
        return;
    }
    int wrong = slot_verify(&slots[c->user_data % SLOTS]);
    atomic_fetch_add(&wrong_elems, (unsigned long)wrong);
    if (wrong == 0) atomic_fetch_add(&verified, 1);
}

/* A core left the pool: say which and why. The pool serves on with the others. */
static void on_core_left(uint32_t core, nrtq_status status, uint32_t nrt_status, uint64_t user_data) {
    (void)user_data;
    printf("core %u left: %s (NRT_STATUS %u)\n", core, nrtq_status_str(status), nrt_status);
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [REQUESTS]\n", argv[0]);
        return 2;
    }
    const char *model_path = argv[1];
    unsigned long requests = argc > 2 ? strtoul(argv[2], NULL, 10) : 4000;
    seen = calloc(requests, sizeof *seen);
    if (!seen) return 1;

    nrtq_runtime *rt = NULL;
    CHECK_NRTQ(nrtq_runtime_open(NULL, true, &rt));

    nrtq_pool_config *cfg = NULL;
    CHECK_NRTQ(nrtq_pool_config_new(&cfg));
    /* Host buffers in, host buffers out: each core's queue is a pipeline (default slots). */
    nrtq_pipeline_config *pipeline = NULL;
    CHECK_NRTQ(nrtq_pipeline_config_new(&pipeline));
    CHECK_NRTQ(nrtq_pool_config_set_pipeline(cfg, pipeline));
    nrtq_pipeline_config_free(pipeline);
    CHECK_NRTQ(nrtq_pool_config_set_completion_hook(cfg, on_complete, 0));
    CHECK_NRTQ(nrtq_pool_config_set_core_left_callback(cfg, on_core_left, 0));
    nrtq_pool *pool = NULL;
    /* No core list: every core the process sees. nrtq loads the model on each. */
    CHECK_NRTQ(nrtq_pool_create(rt, model_path, cfg, &pool));
    nrtq_pool_config_free(cfg);

    size_t cores = 0, written = 0;
    CHECK_NRTQ(nrtq_pool_cores(pool, NULL, 0, &written, &cores));
    printf("pool on %zu cores\n", cores);

    for (unsigned long next = 0; next < requests;) {
        unsigned long round_end = next + SLOTS < requests ? next + SLOTS : requests;
        for (; next < round_end; next++) {
            host_slot *slot = &slots[next % SLOTS];
            slot_fill(slot, (float)next);
            nrtq_host_buffer in[2] = {
                {.name = "a", .data = slot->a, .size = sizeof slot->a},
                {.name = "b", .data = slot->b, .size = sizeof slot->b},
            };
            nrtq_host_buffer out[1] = {{.name = "out", .data = slot->out, .size = sizeof slot->out}};
            nrtq_status st = nrtq_pool_submit_host(pool, in, 2, out, 1, NULL, next, NULL);
            if (st != NRTQ_OK) {
                fprintf(stderr, "submit %lu: %s (%s)\n", next, nrtq_status_str(st), nrtq_last_error());
                return 1;
            }
        }
        CHECK_NRTQ(nrtq_pool_drain(pool, -1));
    }

    uint32_t state = 0;
    nrtq_status why = NRTQ_OK;
    CHECK_NRTQ(nrtq_pool_state(pool, &state, &why, NULL));
    nrtq_pool_counts counts;
    memset(&counts, 0, sizeof counts);
    counts.struct_size = sizeof counts;
    CHECK_NRTQ(nrtq_pool_stats(pool, &counts));
    nrtq_pool_core list[MAX_CORES];
    CHECK_NRTQ(nrtq_pool_cores(pool, list, MAX_CORES, &written, NULL));
    for (size_t i = 0; i < written; i++)
        printf("core %u: %s, routed %llu, device time %llu ns\n", list[i].index,
               list[i].healthy ? "serving" : nrtq_status_str((nrtq_status)list[i].status),
               (unsigned long long)list[i].routed, (unsigned long long)list[i].device_ns);

    unsigned long once = 0;
    for (unsigned long i = 0; i < requests; i++) once += atomic_load(&seen[i]) == 1;
    printf("requests %lu, delivered %lu of %lu exactly once, verified %lu, wrong elements %lu, "
           "failed %lu, rerouted %llu\n",
           requests, once, requests, atomic_load(&verified), atomic_load(&wrong_elems),
           atomic_load(&failed), (unsigned long long)counts.rerouted);
    printf("cores serving %llu of %llu, pool %s\n", (unsigned long long)counts.cores_alive,
           (unsigned long long)counts.cores,
           state == NRTQ_POOL_SERVING ? "serving" : "failed");

    CHECK_NRTQ(nrtq_pool_destroy(pool, -1));
    CHECK_NRTQ(nrtq_runtime_close(rt));

    int ok = once == requests && atomic_load(&verified) + atomic_load(&failed) == requests &&
             atomic_load(&wrong_elems) == 0 && state == NRTQ_POOL_SERVING;
    free(seen);
    if (!ok) {
        printf("FAIL: nrtq_pool\n");
        return 1;
    }
    printf("PASS: nrtq_pool\n");
    return 0;
}
