/*
 * A server-style nrtq program: several producer threads submit into one auto-refilling
 * queue, each request's callback checks its output on nrtq's completion thread, and the
 * main thread drains the queue and prints what happened.
 *
 *   nrtq_server MODEL [THREADS] [ROUNDS]
 *
 * Every producer owns a few request slots (input and output tensor sets). Each round it
 * fills its slots, submits them with a callback, and waits for the last one's ticket
 * before reusing them. The queue keeps the device busy from the backlog meanwhile.
 */
#include "nrtq_example.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#define SLOTS_PER_PRODUCER 4

static nrtq_queue *queue;
static atomic_ulong verified, wrong_elems, failed, completions;

/* Runs on nrtq's completion thread, one request at a time, in completion order. */
static void on_complete(const nrtq_completion *c) {
    const example_slot *slot = (const example_slot *)(uintptr_t)c->user_data;
    atomic_fetch_add(&completions, 1);
    if (c->status != NRTQ_OK) {
        fprintf(stderr, "ticket %llu failed: %s (NRT_STATUS %u)\n",
                (unsigned long long)c->ticket, nrtq_status_str(c->status), c->nrt_status);
        atomic_fetch_add(&failed, 1);
        return;
    }
    int wrong = example_slot_verify(slot);
    atomic_fetch_add(&wrong_elems, (unsigned long)wrong);
    if (wrong == 0) atomic_fetch_add(&verified, 1);
}

typedef struct producer {
    pthread_t thread;
    int id, rounds;
    example_slot slots[SLOTS_PER_PRODUCER];
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    for (int round = 0; round < p->rounds; round++) {
        uint64_t last = 0;
        for (int s = 0; s < SLOTS_PER_PRODUCER; s++) {
            example_slot *slot = &p->slots[s];
            example_slot_fill(slot, (float)(p->id * 100000 + round * 10 + s));
            /* Blocks only while the backlog is full (it never is here: 1024 by default). */
            CHECK_NRTQ(nrtq_queue_submit_timeout(queue, slot->inputs, slot->outputs, on_complete,
                                                 (uint64_t)(uintptr_t)slot, -1, &last));
        }
        /* Our slots are free again once our last request has been delivered. */
        CHECK_NRTQ(nrtq_queue_wait(queue, last, -1));
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [THREADS] [ROUNDS]\n", argv[0]);
        return 2;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    int rounds = argc > 3 ? atoi(argv[3]) : 50;
    if (threads < 1 || threads > 64 || rounds < 1) {
        fprintf(stderr, "THREADS must be 1-64 and ROUNDS positive\n");
        return 2;
    }

    /* nrtq finds the libnrt this program links; `true`: nrtq calls nrt_init/nrt_close. */
    nrtq_runtime *rt = NULL;
    CHECK_NRTQ(nrtq_runtime_open(NULL, true, &rt));
    nrtq_generation gen = 0;
    char version[64];
    CHECK_NRTQ(nrtq_runtime_generation(rt, &gen));
    CHECK_NRTQ(nrtq_runtime_version(rt, version, sizeof version, NULL));
    printf("nrtq %s over libnrt %s (async generation %u)\n", nrtq_version(), version, gen);

    nrt_model_t *model = example_load_model(argv[1], 0);
    nrtq_queue_config *cfg = NULL;
    CHECK_NRTQ(nrtq_queue_config_new(&cfg));
    CHECK_NRTQ(nrtq_queue_config_set_depth(cfg, 3));
    CHECK_NRTQ(nrtq_queue_create(rt, model, cfg, &queue));
    nrtq_queue_config_free(cfg);

    producer *producers = calloc((size_t)threads, sizeof *producers);
    for (int t = 0; t < threads; t++) {
        producers[t].id = t;
        producers[t].rounds = rounds;
        for (int s = 0; s < SLOTS_PER_PRODUCER; s++) example_slot_init(&producers[t].slots[s], 0);
    }
    for (int t = 0; t < threads; t++)
        if (pthread_create(&producers[t].thread, NULL, produce, &producers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    for (int t = 0; t < threads; t++) pthread_join(producers[t].thread, NULL);
    CHECK_NRTQ(nrtq_queue_drain(queue, -1));

    nrtq_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_NRTQ(nrtq_queue_stats(queue, &stats));
    CHECK_NRTQ(nrtq_queue_destroy(queue, -1));

    unsigned long expected = (unsigned long)threads * (unsigned long)rounds * SLOTS_PER_PRODUCER;
    printf("submitted %llu, completed %llu, failed %llu, queue-full absorbed %llu\n",
           (unsigned long long)stats.submitted, (unsigned long long)stats.completed,
           (unsigned long long)stats.failed, (unsigned long long)stats.queue_full);
    printf("submit->complete p50 %.1f us p99 %.1f us; complete->callback p50 %.1f us p99 %.1f us\n",
           stats.submit_to_complete_p50_ns / 1e3, stats.submit_to_complete_p99_ns / 1e3,
           stats.complete_to_notify_p50_ns / 1e3, stats.complete_to_notify_p99_ns / 1e3);
    printf("callbacks %lu, verified %lu of %lu, wrong elements %lu, failed %lu\n",
           atomic_load(&completions), atomic_load(&verified), expected, atomic_load(&wrong_elems),
           atomic_load(&failed));

    for (int t = 0; t < threads; t++)
        for (int s = 0; s < SLOTS_PER_PRODUCER; s++) example_slot_free(&producers[t].slots[s]);
    free(producers);
    CHECK_NRT(nrt_unload(model));
    CHECK_NRTQ(nrtq_runtime_close(rt));

    int ok = atomic_load(&verified) == expected && atomic_load(&completions) == expected &&
             stats.submitted == expected && stats.completed == expected;
    printf("%s: nrtq_server\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
