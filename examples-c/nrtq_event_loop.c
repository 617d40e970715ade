/*
 * An event-loop nrtq program: a reap-mode queue whose descriptor sits in an epoll set, as
 * it would beside sockets in a server (or under a Go runtime's netpoller). No callbacks:
 * the loop reaps completions in batches, checks each output, and resubmits into the freed
 * slot until every request has been served.
 *
 *   nrtq_event_loop MODEL [REQUESTS] [SLOTS]
 */
#include "nrtq_example.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL [REQUESTS] [SLOTS]\n", argv[0]);
        return 2;
    }
    long total = argc > 2 ? atol(argv[2]) : 2000;
    int nslots = argc > 3 ? atoi(argv[3]) : 8;
    if (total < 1 || nslots < 1 || nslots > 256) {
        fprintf(stderr, "REQUESTS must be positive and SLOTS 1-256\n");
        return 2;
    }

    nrtq_runtime *rt = NULL;
    CHECK_NRTQ(nrtq_runtime_open(NULL, true, &rt));
    nrt_model_t *model = example_load_model(argv[1], 0);

    nrtq_queue_config *cfg = NULL;
    CHECK_NRTQ(nrtq_queue_config_new(&cfg));
    CHECK_NRTQ(nrtq_queue_config_set_delivery(cfg, NRTQ_DELIVERY_REAP));
    nrtq_queue *q = NULL;
    CHECK_NRTQ(nrtq_queue_create(rt, model, cfg, &q));
    nrtq_queue_config_free(cfg);

    int reap_fd = -1;
    CHECK_NRTQ(nrtq_queue_reap_fd(q, &reap_fd));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = reap_fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, reap_fd, &ev) != 0) {
        perror("epoll");
        return 1;
    }

    example_slot *slots = calloc((size_t)nslots, sizeof *slots);
    long submitted = 0, reaped = 0, verified = 0, wakeups = 0, batches_over_one = 0;
    for (int s = 0; s < nslots && submitted < total; s++, submitted++) {
        example_slot_init(&slots[s], 0);
        example_slot_fill(&slots[s], (float)submitted);
        CHECK_NRTQ(nrtq_queue_submit(q, slots[s].inputs, slots[s].outputs, NULL, (uint64_t)s, NULL));
    }

    nrtq_completion batch[32];
    while (reaped < total) {
        struct epoll_event got;
        int n = epoll_wait(ep, &got, 1, 10000);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fprintf(stderr, "no completion within 10 s\n");
            return 1;
        }
        wakeups++;
        /* Readable is a hint: reap until nothing is left. */
        for (;;) {
            size_t count = 0;
            CHECK_NRTQ(nrtq_queue_reap(q, batch, sizeof batch / sizeof batch[0], &count));
            if (count == 0) break;
            if (count > 1) batches_over_one++;
            for (size_t i = 0; i < count; i++) {
                example_slot *slot = &slots[batch[i].user_data];
                reaped++;
                if (batch[i].status != NRTQ_OK)
                    fprintf(stderr, "ticket %llu: %s\n", (unsigned long long)batch[i].ticket,
                            nrtq_status_str(batch[i].status));
                else if (example_slot_verify(slot) == 0)
                    verified++;
                if (submitted < total) {
                    example_slot_fill(slot, (float)submitted++);
                    CHECK_NRTQ(nrtq_queue_submit(q, slot->inputs, slot->outputs, NULL,
                                                 batch[i].user_data, NULL));
                }
            }
        }
    }

    nrtq_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_NRTQ(nrtq_queue_stats(q, &stats));
    printf("requests %ld, reaped %ld, verified %ld, epoll wake-ups %ld (%ld reaped more than one)\n",
           total, reaped, verified, wakeups, batches_over_one);
    printf("completion->reap p50 %.1f us p99 %.1f us\n", stats.complete_to_notify_p50_ns / 1e3,
           stats.complete_to_notify_p99_ns / 1e3);

    CHECK_NRTQ(nrtq_queue_destroy(q, -1));
    close(ep);
    for (int s = 0; s < nslots && s < total; s++) example_slot_free(&slots[s]);
    free(slots);
    CHECK_NRT(nrt_unload(model));
    CHECK_NRTQ(nrtq_runtime_close(rt));

    int ok = reaped == total && verified == total && stats.completed == (uint64_t)total;
    printf("%s: nrtq_event_loop\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
