/*
 * raw_async_228.c - the vendor's documented SDK 2.28 async pattern, written by hand
 * against libnrt (the emulator by default, a real install with NEURON_ROOT):
 *   load a model, fill its inputs, schedule executions until NRT_QUEUE_FULL, wait for
 *   the last one on its completion handle and on nrta_get_sequence, read the error
 *   tracker, check every output element, print PASS.
 *
 * Usage: raw_async_228 <model file>     (nrt-emu/models/add_f32.nrtm: out = a + b)
 */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nrt/nrt.h>
#include <nrt/nrt_async.h>
#include <nrt/nrt_experimental.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        NRT_STATUS s_ = (call);                                                          \
        if (s_ != NRT_SUCCESS) {                                                         \
            fprintf(stderr, "FAIL: %s returned %d (line %d)\n", #call, (int)s_, __LINE__); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

#define MAX_REQ 64

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
    if (argc != 2) { fprintf(stderr, "usage: %s <model>\n", argv[0]); return 2; }
    CHECK(nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, "", ""));
    size_t size = 0;
    void *neff = read_file(argv[1], &size);
    nrt_model_t *model = NULL;
    CHECK(nrt_load(neff, size, 0, -1, &model));

    /* Inputs and output by the model's own tensor names. */
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
    if (n_in != 2 || !out) { fprintf(stderr, "FAIL: expected a model with inputs a, b and one output\n"); return 1; }
    size_t n = bytes / sizeof(float);
    float *a = malloc(bytes), *b = malloc(bytes), *o = malloc(bytes);
    for (size_t i = 0; i < n; i++) { a[i] = (float)i; b[i] = 0.5f * (float)i; }
    CHECK(nrt_tensor_write(in[0], a, 0, bytes));
    CHECK(nrt_tensor_write(in[1], b, 0, bytes));

    /* Schedule until the queue is full. */
    nrta_error_tracker_t *tracker = NULL;
    CHECK(nrta_error_tracker_create(0, &tracker));
    nrta_seq_t last = 0;
    int scheduled = 0;
    for (int r = 0; r < MAX_REQ; r++) {
        nrta_seq_t seq = 0;
        NRT_STATUS s = nrta_execute_schedule(model, inputs, outputs, 0, tracker, &seq);
        if (s == NRT_QUEUE_FULL) break;
        CHECK(s);
        last = seq;
        scheduled++;
    }
    printf("scheduled %d requests before NRT_QUEUE_FULL (last id 0x%016" PRIx64 ")\n", scheduled, last);
    if (scheduled == 0 || scheduled == MAX_REQ) { fprintf(stderr, "FAIL: never saw NRT_QUEUE_FULL\n"); return 1; }

    /* Wait for the last one: its completion handle, then the sequence counter. */
    int fd = -1;
    CHECK(nrta_get_completion_handle(last, &fd));
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 10000) != 1) { fprintf(stderr, "FAIL: completion handle never became readable\n"); return 1; }
    close(fd);
    nrta_seq_t done = 0;
    CHECK(nrta_get_sequence(0, NRTA_XU_COMPUTE, 0, &done));
    if (done < last || NRTA_SEQ_GET_XU_ID(done) != NRTA_SEQ_GET_XU_ID(last)) {
        fprintf(stderr, "FAIL: get_sequence 0x%016" PRIx64 " < last 0x%016" PRIx64 "\n", done, last);
        return 1;
    }
    printf("completed through 0x%016" PRIx64 "\n", done);

    /* Errors, after learning what completed. */
    const nrta_error_t *errs = NULL;
    size_t n_err = 0;
    CHECK(nrta_error_tracker_get_list(tracker, &errs, &n_err));
    for (size_t i = 0; i < n_err; i++)
        printf("request 0x%016" PRIx64 " failed with %" PRIu64 "\n", errs[i].seq_id, errs[i].error_code);
    if (n_err != 0) { fprintf(stderr, "FAIL: %zu requests failed\n", n_err); return 1; }

    /* Outputs, element by element. */
    CHECK(nrt_tensor_read(out, o, 0, bytes));
    for (size_t i = 0; i < n; i++) {
        if (o[i] != a[i] + b[i]) { fprintf(stderr, "FAIL: out[%zu] = %g, expected %g\n", i, o[i], a[i] + b[i]); return 1; }
    }
    printf("checked %zu output elements\n", n);

    nrta_error_tracker_destroy(tracker);
    nrt_tensor_free(&in[0]);
    nrt_tensor_free(&in[1]);
    nrt_tensor_free(&out);
    nrt_destroy_tensor_set(&inputs);
    nrt_destroy_tensor_set(&outputs);
    CHECK(nrt_unload(model));
    nrt_close();
    free(neff); free(a); free(b); free(o);
    printf("PASS raw_async_228: %d requests, outputs correct\n", scheduled);
    return 0;
}
