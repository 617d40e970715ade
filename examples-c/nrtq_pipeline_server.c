/*
 * A small server over an nrtq pipeline: requests arrive as host buffers, nrtq writes the
 * inputs to its own device tensors, runs the model, and reads the outputs back into the
 * request's host buffers; the completion callback checks every element.
 *
 *   nrtq_pipeline_server MODEL [CLIENTS] [ROUNDS]
 *
 * MODEL is an add_f32-style model (inputs `a`, `b`, output `out` = a + b, 1024 f32).
 * Each client thread owns a few requests' host buffers. Each round it fills them, submits
 * them, and waits for its last ticket: at completion a request's buffers may be reused
 * (the header's promise), so the next round refills the same memory at once.
 */
#include "nrtq_example.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define REQUESTS_PER_CLIENT 4

/* One request's host memory: a[i] = base + i, b[i] = 2i, so out[i] must be base + 3i. */
typedef struct host_request {
    float a[N_ELEMS], b[N_ELEMS], out[N_ELEMS];
    float base;
} host_request;

static nrtq_queue *pipeline;
static atomic_ulong verified, wrong_elems, failed, completions;

/* Runs on nrtq's completion thread once the outputs are in host memory. */
static void on_complete(const nrtq_completion *c) {
    const host_request *r = (const host_request *)(uintptr_t)c->user_data;
    atomic_fetch_add(&completions, 1);
    if (c->status != NRTQ_OK) {
        fprintf(stderr, "ticket %llu failed: %s (NRT_STATUS %u)\n",
                (unsigned long long)c->ticket, nrtq_status_str(c->status), c->nrt_status);
        atomic_fetch_add(&failed, 1);
        return;
    }
    unsigned long wrong = 0;
    for (int i = 0; i < N_ELEMS; i++)
        if (r->out[i] != r->base + 3.0f * (float)i) wrong++;
    atomic_fetch_add(&wrong_elems, wrong);
    if (wrong == 0) atomic_fetch_add(&verified, 1);
}

static void fill(host_request *r, float base) {
    r->base = base;
    for (int i = 0; i < N_ELEMS; i++) {
        r->a[i] = base + (float)i;
        r->b[i] = 2.0f * (float)i;
        r->out[i] = -1.0f;
    }
}

typedef struct client {
    pthread_t thread;
    int id, rounds;
    host_request *requests;
} client;

static void *serve(void *arg) {
    client *cl = arg;
    for (int round = 0; round < cl->rounds; round++) {
        uint64_t last = 0;
        for (int k = 0; k < REQUESTS_PER_CLIENT; k++) {
            host_request *r = &cl->requests[k];
            fill(r, (float)(cl->id * 100000 + round * 10 + k));
            /* Inputs by name, the output by index (0: the model's first output). */
            nrtq_host_buffer in[2] = {
                {.name = "a", .data = r->a, .size = sizeof r->a},
                {.name = "b", .data = r->b, .size = sizeof r->b},
            };
            nrtq_host_buffer out[1] = {{.name = NULL, .index = 0, .data = r->out, .size = sizeof r->out}};
            CHECK_NRTQ(nrtq_queue_submit_host_timeout(pipeline, in, 2, out, 1, on_complete,
                                                      (uint64_t)(uintptr_t)r, -1, &last));
        }
        /* Every request of ours has completed once our last one has been delivered (in
         * ticket order): the buffers are ours again. */
        CHECK_NRTQ(nrtq_queue_wait(pipeline, last, -1));
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [CLIENTS] [ROUNDS]\n", argv[0]);
        return 2;
    }
    int clients = argc > 2 ? atoi(argv[2]) : 4;
    int rounds = argc > 3 ? atoi(argv[3]) : 50;
    if (clients < 1 || clients > 64 || rounds < 1) {
        fprintf(stderr, "CLIENTS must be 1-64 and ROUNDS positive\n");
        return 2;
    }

    nrtq_runtime *rt = NULL;
    CHECK_NRTQ(nrtq_runtime_open(NULL, true, &rt));
    nrtq_generation gen = 0;
    CHECK_NRTQ(nrtq_runtime_generation(rt, &gen));
    printf("nrtq %s pipeline (async generation %u)\n", nrtq_version(), gen);

    nrt_model_t *model = example_load_model(argv[1], 0);
    void *models[1] = {model};
    nrtq_pipeline_config *pcfg = NULL;
    CHECK_NRTQ(nrtq_pipeline_config_new(&pcfg));
    CHECK_NRTQ(nrtq_pipeline_config_set_slots(pcfg, 16, 0));
    CHECK_NRTQ(nrtq_pipeline_create(rt, models, 1, NULL, pcfg, &pipeline));
    nrtq_pipeline_config_free(pcfg);

    /* A request whose buffer does not fit the model is refused, naming the tensor. */
    static float small[8];
    nrtq_host_buffer bad_in[2] = {{.name = "a", .data = small, .size = sizeof small},
                                  {.name = "b", .data = small, .size = sizeof small}};
    nrtq_host_buffer bad_out[1] = {{.name = "out", .data = small, .size = sizeof small}};
    nrtq_status st = nrtq_queue_submit_host(pipeline, bad_in, 2, bad_out, 1, NULL, 0, NULL);
    int refused = st == NRTQ_ERR_INVALID && strstr(nrtq_last_error(), "\"a\"") != NULL;
    printf("wrong size refused: %s (%s)\n", nrtq_status_str(st), nrtq_last_error());

    client *cls = calloc((size_t)clients, sizeof *cls);
    for (int t = 0; t < clients; t++) {
        cls[t].id = t;
        cls[t].rounds = rounds;
        cls[t].requests = calloc(REQUESTS_PER_CLIENT, sizeof(host_request));
    }
    for (int t = 0; t < clients; t++)
        if (pthread_create(&cls[t].thread, NULL, serve, &cls[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < clients; t++) pthread_join(cls[t].thread, NULL);
    CHECK_NRTQ(nrtq_queue_drain(pipeline, -1));

    nrtq_stage_stats stages[4];
    size_t n_stages = 0;
    CHECK_NRTQ(nrtq_queue_stage_stats(pipeline, stages, 4, &n_stages));
    static const char *names[] = {"none", "write", "execute", "read"};
    for (size_t s = 0; s < n_stages && s < 4; s++)
        printf("stage %s: %llu steps, busy %.1f ms, latency p50 %.1f us\n",
               names[stages[s].stage & 3], (unsigned long long)stages[s].retired,
               stages[s].busy_ns / 1e6, stages[s].latency_p50_ns / 1e3);
    nrtq_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_NRTQ(nrtq_queue_stats(pipeline, &stats));
    CHECK_NRTQ(nrtq_queue_destroy(pipeline, -1));

    unsigned long expected = (unsigned long)clients * (unsigned long)rounds * REQUESTS_PER_CLIENT;
    printf("callbacks %lu, verified %lu of %lu, wrong elements %lu, failed %lu\n",
           atomic_load(&completions), atomic_load(&verified), expected, atomic_load(&wrong_elems),
           atomic_load(&failed));

    for (int t = 0; t < clients; t++) free(cls[t].requests);
    free(cls);
    CHECK_NRT(nrt_unload(model));
    CHECK_NRTQ(nrtq_runtime_close(rt));

    int ok = refused && n_stages == 3 && atomic_load(&verified) == expected &&
             atomic_load(&completions) == expected && stats.submitted == expected;
    printf("%s: nrtq_pipeline_server\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
