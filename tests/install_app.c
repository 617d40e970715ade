/*
 * A user's program, as the README's C section has it: tests/install.rs copies it out of
 * the repository and builds it against the installed nrtq with pkg-config alone,
 *
 *     cc app.c $(pkg-config --cflags --libs nrtq)
 *
 * then runs it on a model file. It loads the model with libnrt, pushes ROUNDS x SLOTS
 * requests through one nrtq queue, and checks every output element (out = a + b). It
 * prints which libnrtq and libnrt the process loaded (the test checks they are the
 * installed ones) and ends with a PASS line; any failure exits non-zero with the reason.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <nrt/nrt.h>
#include <nrtq.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELEMS 1024
#define SLOTS 4
#define ROUNDS 25

static atomic_int succeeded;
static atomic_int failed;

static void fail(const char *what, const char *detail) {
    fprintf(stderr, "FAIL: %s: %s\n", what, detail);
    exit(1);
}

static void check_nrtq(nrtq_status st, const char *what) {
    if (st != NRTQ_OK)
        fail(what, nrtq_last_error());
}

static void check_nrt(NRT_STATUS st, const char *what) {
    if (st != NRT_SUCCESS) {
        char detail[32];
        snprintf(detail, sizeof detail, "NRT_STATUS %d", (int)st);
        fail(what, detail);
    }
}

static void done(const nrtq_completion *c) {
    if (c->status == NRTQ_OK) {
        atomic_fetch_add(&succeeded, 1);
    } else {
        fprintf(stderr, "request %llu: %s (NRT status %u)\n", (unsigned long long)c->ticket,
                nrtq_status_str(c->status), c->nrt_status);
        atomic_fetch_add(&failed, 1);
    }
}

/* The file a symbol was loaded from, to prove which library the loader picked. */
static const char *library_of(void *symbol) {
    Dl_info info;
    if (!dladdr(symbol, &info) || !info.dli_fname)
        return "?";
    return info.dli_fname;
}

static nrt_model_t *load_model(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f)
        fail("open model", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *bytes = malloc((size_t)size);
    if (!bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size)
        fail("read model", path);
    fclose(f);
    nrt_model_t *model = NULL;
    check_nrt(nrt_load(bytes, (size_t)size, 0, -1, &model), "nrt_load");
    free(bytes);
    return model;
}

typedef struct slot {
    nrt_tensor_t *a, *b, *out;
    nrt_tensor_set_t *inputs, *outputs;
} slot;

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.nrtm (an add model: out = a + b, %d f32)\n", argv[0],
                ELEMS);
        return 2;
    }

    /* The header this program was compiled against and the library it runs on agree. */
    char header_version[32];
    snprintf(header_version, sizeof header_version, "%d.%d.%d", NRTQ_VERSION_MAJOR,
             NRTQ_VERSION_MINOR, NRTQ_VERSION_PATCH);
    if (strcmp(header_version, nrtq_version()) != 0)
        fail("version", "nrtq.h and libnrtq disagree");
    printf("nrtq %s\n", nrtq_version());
    printf("libnrtq: %s\n", library_of((void *)nrtq_version));
    printf("libnrt: %s\n", library_of((void *)nrt_load));

    nrtq_runtime *rt = NULL;
    check_nrtq(nrtq_runtime_open(NULL, true, &rt), "nrtq_runtime_open");
    nrt_model_t *model = load_model(argv[1]);

    slot slots[SLOTS];
    const size_t bytes = ELEMS * sizeof(float);
    float b[ELEMS];
    for (int i = 0; i < ELEMS; i++)
        b[i] = 2.0f * (float)i;
    for (int s = 0; s < SLOTS; s++) {
        slot *sl = &slots[s];
        check_nrt(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, bytes, "a", &sl->a), "alloc a");
        check_nrt(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, bytes, "b", &sl->b), "alloc b");
        check_nrt(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, 0, bytes, "out", &sl->out),
                  "alloc out");
        check_nrt(nrt_allocate_tensor_set(&sl->inputs), "input set");
        check_nrt(nrt_allocate_tensor_set(&sl->outputs), "output set");
        check_nrt(nrt_add_tensor_to_tensor_set(sl->inputs, "a", sl->a), "add a");
        check_nrt(nrt_add_tensor_to_tensor_set(sl->inputs, "b", sl->b), "add b");
        check_nrt(nrt_add_tensor_to_tensor_set(sl->outputs, "out", sl->out), "add out");
        check_nrt(nrt_tensor_write(sl->b, b, 0, bytes), "write b");
    }

    nrtq_queue *q = NULL;
    check_nrtq(nrtq_queue_create(rt, model, NULL, &q), "nrtq_queue_create");
    int wrong = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* Every slot gets its own a = base + i, so a mixed-up output shows. */
        for (int s = 0; s < SLOTS; s++) {
            float a[ELEMS];
            float base = (float)(round * SLOTS + s) * 1000.0f;
            for (int i = 0; i < ELEMS; i++)
                a[i] = base + (float)i;
            check_nrt(nrt_tensor_write(slots[s].a, a, 0, bytes), "write a");
            check_nrtq(nrtq_queue_submit(q, slots[s].inputs, slots[s].outputs, done,
                                         (uint64_t)s, NULL),
                       "nrtq_queue_submit");
        }
        check_nrtq(nrtq_queue_drain(q, 10 * 1000 * 1000), "nrtq_queue_drain");
        for (int s = 0; s < SLOTS; s++) {
            float out[ELEMS];
            float base = (float)(round * SLOTS + s) * 1000.0f;
            check_nrt(nrt_tensor_read(slots[s].out, out, 0, bytes), "read out");
            for (int i = 0; i < ELEMS; i++)
                if (out[i] != base + 3.0f * (float)i)
                    wrong++;
        }
    }
    check_nrtq(nrtq_queue_destroy(q, 10 * 1000 * 1000), "nrtq_queue_destroy");

    for (int s = 0; s < SLOTS; s++) {
        nrt_destroy_tensor_set(&slots[s].inputs);
        nrt_destroy_tensor_set(&slots[s].outputs);
        nrt_tensor_free(&slots[s].a);
        nrt_tensor_free(&slots[s].b);
        nrt_tensor_free(&slots[s].out);
    }
    nrt_unload(model);
    nrtq_runtime_close(rt);

    int ok = atomic_load(&succeeded), bad = atomic_load(&failed);
    if (ok != ROUNDS * SLOTS || bad != 0 || wrong != 0) {
        fprintf(stderr, "FAIL: %d completed, %d failed, %d wrong output elements (want %d, 0, 0)\n",
                ok, bad, wrong, ROUNDS * SLOTS);
        return 1;
    }
    printf("PASS: %d requests, every output checked\n", ok);
    return 0;
}
