/*
 * raw_async_230.c - the SDK 2.30+ async API by hand: per-request statuses
 * (NRT_STATUS *ret written at completion), one eventfd registered for the COMPUTE unit,
 * poll() on it, and reaping by nrta_get_sequence after each wake-up (the eventfd is only
 * a hint: one signal may cover several completions).
 *
 * Built with -DNRT_ASYNC_API_VERSION=3 and linked against a 2.30+ libnrt.
 * Usage: raw_async_230 <model file> [requests]
 * With a model that injects errors (nrt-emu/models/add_f32_faults.nrtm) it reports the
 * failed requests it saw in their statuses; outputs are checked after the last request.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <nrt/nrt.h>
#include <nrt/nrt_async.h>
#include <nrt/nrt_experimental.h>

#if NRT_ASYNC_API_VERSION != 3
#error "build with -DNRT_ASYNC_API_VERSION=3"
#endif

#define CHECK(call)                                                                      \
    do {                                                                                 \
        NRT_STATUS s_ = (call);                                                          \
        if (s_ != NRT_SUCCESS) {                                                         \
            fprintf(stderr, "FAIL: %s returned %d (line %d)\n", #call, (int)s_, __LINE__); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define RING 16 /* statuses kept for requests in flight (>= the queue depth) */
#define UNSET 0xFFFFFFFFu

static void *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "FAIL: read %s\n", path); exit(1); }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s <model> [requests]\n", argv[0]); return 2; }
    int total = argc > 2 ? atoi(argv[2]) : 100;
    CHECK(nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    size_t size = 0;
    void *neff = read_file(argv[1], &size);
    nrt_model_t *model = NULL;
    CHECK(nrt_load(neff, size, 0, -1, &model));

    nrt_tensor_info_array_t *info = NULL;
    CHECK(nrt_get_model_tensor_info(model, &info));
    nrt_tensor_set_t *inputs = NULL, *outputs = NULL;
    CHECK(nrt_allocate_tensor_set(&inputs));
    CHECK(nrt_allocate_tensor_set(&outputs));
    nrt_tensor_t *in[2] = {NULL, NULL}, *out = NULL;
    size_t n_in = 0, bytes = 0;
    for (uint64_t i = 0; i < info->tensor_count; i++) {
        nrt_tensor_info_t *t = &info->tensor_array[i];
        nrt_tensor_t *tensor = NULL;
        CHECK(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, t->size, t->name, &tensor));
        if (t->usage == NRT_TENSOR_USAGE_INPUT && n_in < 2) {
            in[n_in++] = tensor;
            CHECK(nrt_add_tensor_to_tensor_set(inputs, t->name, tensor));
        } else {
            out = tensor;
            CHECK(nrt_add_tensor_to_tensor_set(outputs, t->name, tensor));
        }
        bytes = t->size;
    }
    CHECK(nrt_free_model_tensor_info(info));
    if (n_in != 2 || !out) { fprintf(stderr, "FAIL: expected a model with two inputs and one output\n"); return 1; }
    size_t n = bytes / sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes), *o = malloc(bytes);
    for (size_t i = 0; i < n; i++) { a[i] = (float)i; b[i] = 3.0f; }
    CHECK(nrt_tensor_write(in[0], a, 0, bytes));
    CHECK(nrt_tensor_write(in[1], b, 0, bytes));

    /* One eventfd for the COMPUTE unit, registered before anything is scheduled. */
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (efd < 0) { perror("eventfd"); return 1; }
    CHECK(nrta_event_register_xu_completion(0, NRTA_XU_COMPUTE, 0, efd));

    NRT_STATUS status[RING];
    nrta_seq_t ids[RING];
    uint64_t first_num = 0; /* sequence number of the oldest request in flight */
    int submitted = 0, reaped = 0, failed = 0, wakeups = 0;
    while (reaped < total) {
        /* Refill until the device says it is full (or all are submitted). */
        while (submitted < total && submitted - reaped < RING) {
            int slot = submitted % RING;
            status[slot] = UNSET;
            NRT_STATUS s = nrta_execute_schedule(model, inputs, outputs, 0, &status[slot], &ids[slot]);
            if (s == NRT_QUEUE_FULL) break;
            CHECK(s);
            if (submitted == 0) first_num = NRTA_SEQ_GET_SEQ_NUM(ids[slot]);
            submitted++;
        }
        /* Sleep until the unit signals, then reap everything the counter says is done. */
        struct pollfd p = {.fd = efd, .events = POLLIN, .revents = 0};
        if (poll(&p, 1, 10000) != 1) { fprintf(stderr, "FAIL: no completion signal in 10 s\n"); return 1; }
        uint64_t count;
        if (read(efd, &count, sizeof count) != sizeof count) { perror("read eventfd"); return 1; }
        wakeups++;
        nrta_seq_t done = 0;
        CHECK(nrta_get_sequence(0, NRTA_XU_COMPUTE, 0, &done));
        while (reaped < submitted && NRTA_SEQ_GET_SEQ_NUM(done) >= first_num + (uint64_t)reaped) {
            int slot = reaped % RING;
            if (status[slot] == UNSET) { fprintf(stderr, "FAIL: request completed without a status\n"); return 1; }
            if (status[slot] != NRT_SUCCESS) {
                printf("request 0x%016" PRIx64 " completed with status %u\n", ids[slot], (unsigned)status[slot]);
                failed++;
            }
            reaped++;
        }
    }
    CHECK(nrta_event_register_xu_completion(0, NRTA_XU_COMPUTE, 0, -1));
    close(efd);

    /* The last request succeeded in the fault models shipped (errors hit every 10th of
     * 100, and request 100's output is checked only if it succeeded). */
    CHECK(nrt_tensor_read(out, o, 0, bytes));
    int last_ok = status[(total - 1) % RING] == NRT_SUCCESS;
    for (size_t i = 0; last_ok && i < n; i++) {
        if (o[i] != a[i] + b[i]) { fprintf(stderr, "FAIL: out[%zu] = %g, expected %g\n", i, o[i], a[i] + b[i]); return 1; }
    }

    nrt_tensor_free(&in[0]);
    nrt_tensor_free(&in[1]);
    nrt_tensor_free(&out);
    nrt_destroy_tensor_set(&inputs);
    nrt_destroy_tensor_set(&outputs);
    CHECK(nrt_unload(model));
    nrt_close();
    free(neff); free(a); free(b); free(o);
    printf("PASS raw_async_230: %d requests, %d failed, %d wake-ups, outputs %s\n", total, failed, wakeups,
           last_ok ? "correct" : "not checked");
    return 0;
}
