/*
 * What an application sees when things go wrong, through nrtq.
 *
 *   nrtq_errors FAULTY_MODEL DYING_MODEL
 *
 * 1. FAULTY_MODEL fails some executions on the device (add_f32_faults: every 10th with
 *    NRT_EXEC_COMPLETED_WITH_ERR). Each failed request arrives with its own completion,
 *    status NRTQ_ERR_EXEC and the raw NRT status; nrtq_queue_errors drains them as a batch.
 * 2. DYING_MODEL kills its execution unit (add_f32_dies: NRT_EXEC_UNIT_UNRECOVERABLE after
 *    5 requests). The queue turns terminally failed: the fatal callback fires once, every
 *    request still queued completes with NRTQ_ERR_QUEUE_FAILED, later submits are refused
 *    with it — and the process carries on.
 * Every submitted request completes exactly once in both parts.
 */
#include "nrtq_example.h"

#include <stdatomic.h>
#include <string.h>

#define REQUESTS 40

static atomic_int ok_count, exec_errors, queue_failed, other, fatal_calls;
static atomic_uint fatal_nrt_status;
static atomic_int seen[2 * REQUESTS + 1];

static void on_complete(const nrtq_completion *c) {
    if (c->user_data < sizeof seen / sizeof seen[0]) atomic_fetch_add(&seen[c->user_data], 1);
    switch (c->status) {
    case NRTQ_OK: atomic_fetch_add(&ok_count, 1); break;
    case NRTQ_ERR_EXEC: atomic_fetch_add(&exec_errors, 1); break;
    case NRTQ_ERR_QUEUE_FAILED: atomic_fetch_add(&queue_failed, 1); break;
    default: atomic_fetch_add(&other, 1); break;
    }
}

static void on_fatal(nrtq_queue *q, nrtq_status status, uint32_t nrt_status, uint64_t user_data) {
    (void)q;
    (void)user_data;
    atomic_fetch_add(&fatal_calls, 1);
    atomic_store(&fatal_nrt_status, nrt_status);
    printf("  fatal callback: %s, NRT_STATUS %u\n", nrtq_status_str(status), nrt_status);
}

static void reset_counts(void) {
    atomic_store(&ok_count, 0);
    atomic_store(&exec_errors, 0);
    atomic_store(&queue_failed, 0);
    atomic_store(&other, 0);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s FAULTY_MODEL DYING_MODEL\n", argv[0]);
        return 2;
    }
    nrtq_runtime *rt = NULL;
    CHECK_NRTQ(nrtq_runtime_open(NULL, true, &rt));
    /* Sequence numbers, and so the emulator's fault rules, count per execution unit:
     * each part runs on its own logical core so that part 1 does not age part 2's unit. */
    example_slot slot, slot2;
    example_slot_init(&slot, 0);
    example_slot_fill(&slot, 1.0f);
    example_slot_init(&slot2, 1);
    example_slot_fill(&slot2, 1.0f);
    int ok = 1;

    /* Part 1: execution errors ride with their requests. */
    {
        nrt_model_t *model = example_load_model(argv[1], 0);
        nrtq_queue_config *cfg = NULL;
        CHECK_NRTQ(nrtq_queue_config_new(&cfg));
        CHECK_NRTQ(nrtq_queue_config_set_completion_callback(cfg, on_complete));
        nrtq_queue *q = NULL;
        CHECK_NRTQ(nrtq_queue_create(rt, model, cfg, &q));
        nrtq_queue_config_free(cfg);
        /* All requests share one slot: the output is not checked in this part. */
        for (uint64_t i = 1; i <= REQUESTS; i++)
            CHECK_NRTQ(nrtq_queue_submit(q, slot.inputs, slot.outputs, NULL, i, NULL));
        CHECK_NRTQ(nrtq_queue_drain(q, -1));

        nrtq_completion errs[64];
        size_t n = 0;
        uint64_t dropped = 0;
        CHECK_NRTQ(nrtq_queue_errors(q, errs, 64, &n, &dropped));
        printf("part 1 (faulty model): %d ok, %d NRTQ_ERR_EXEC, %d other; error log: %zu entries\n",
               atomic_load(&ok_count), atomic_load(&exec_errors), atomic_load(&other), n);
        for (size_t i = 0; i < n; i++)
            printf("  ticket %llu (user_data %llu): %s, NRT_STATUS %u\n",
                   (unsigned long long)errs[i].ticket, (unsigned long long)errs[i].user_data,
                   nrtq_status_str(errs[i].status), errs[i].nrt_status);
        ok &= atomic_load(&exec_errors) == REQUESTS / 10 && (int)n == REQUESTS / 10 &&
              atomic_load(&ok_count) + atomic_load(&exec_errors) == REQUESTS;
        for (size_t i = 0; i < n; i++) ok &= errs[i].status == NRTQ_ERR_EXEC && errs[i].nrt_status == 1004;
        CHECK_NRTQ(nrtq_queue_destroy(q, -1));
        CHECK_NRT(nrt_unload(model));
    }

    /* Part 2: a dead execution unit fails the queue cleanly. */
    reset_counts();
    {
        nrt_model_t *model = example_load_model(argv[2], 1);
        nrtq_queue_config *cfg = NULL;
        CHECK_NRTQ(nrtq_queue_config_new(&cfg));
        CHECK_NRTQ(nrtq_queue_config_set_completion_callback(cfg, on_complete));
        CHECK_NRTQ(nrtq_queue_config_set_fatal_callback(cfg, on_fatal, 0));
        nrtq_queue *q = NULL;
        CHECK_NRTQ(nrtq_queue_create(rt, model, cfg, &q));
        nrtq_queue_config_free(cfg);
        int accepted = 0, refused = 0;
        printf("part 2 (dying execution unit):\n");
        for (uint64_t i = REQUESTS + 1; i <= 2 * REQUESTS; i++) {
            nrtq_status st = nrtq_queue_submit(q, slot2.inputs, slot2.outputs, NULL, i, NULL);
            if (st == NRTQ_OK) {
                accepted++;
            } else if (st == NRTQ_ERR_QUEUE_FAILED) {
                refused++;
            } else {
                fprintf(stderr, "unexpected submit status %s\n", nrtq_status_str(st));
                ok = 0;
            }
        }
        CHECK_NRTQ(nrtq_queue_drain(q, -1));
        /* Once failed, the queue refuses new work with the same status. */
        nrtq_status late = nrtq_queue_submit(q, slot2.inputs, slot2.outputs, NULL, 0, NULL);
        nrtq_status failure = NRTQ_OK;
        uint32_t raw = 0;
        CHECK_NRTQ(nrtq_queue_failure(q, &failure, &raw));
        printf("  accepted %d, refused at submit %d; completions: %d ok, %d NRTQ_ERR_QUEUE_FAILED, %d other\n",
               accepted, refused, atomic_load(&ok_count), atomic_load(&queue_failed), atomic_load(&other));
        printf("  queue state: %s (NRT_STATUS %u); a later submit: %s\n", nrtq_status_str(failure), raw,
               nrtq_status_str(late));
        ok &= atomic_load(&fatal_calls) == 1 && atomic_load(&fatal_nrt_status) == 101;
        ok &= failure == NRTQ_ERR_QUEUE_FAILED && raw == 101 && late == NRTQ_ERR_QUEUE_FAILED;
        ok &= atomic_load(&ok_count) == 5 && atomic_load(&ok_count) + atomic_load(&queue_failed) == accepted;
        ok &= accepted + refused == REQUESTS && atomic_load(&other) == 0;
        CHECK_NRTQ(nrtq_queue_destroy(q, -1));
        CHECK_NRT(nrt_unload(model));
    }

    /* Exactly once: every accepted request's user_data was seen by exactly one callback. */
    int dup = 0;
    for (size_t i = 1; i < sizeof seen / sizeof seen[0]; i++) dup += atomic_load(&seen[i]) > 1;
    ok &= dup == 0;

    example_slot_free(&slot);
    example_slot_free(&slot2);
    CHECK_NRTQ(nrtq_runtime_close(rt));
    printf("%s: nrtq_errors\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
