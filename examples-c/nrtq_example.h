/*
 * Helpers shared by the nrtq examples: loading a model file and making the tensor sets
 * of the `add_f32` family of models (inputs `a`, `b`; output `out` = a + b, 1024 f32).
 * Everything here is the plain libnrt API; the nrtq calls are in the examples themselves.
 */
#ifndef NRTQ_EXAMPLE_H
#define NRTQ_EXAMPLE_H

#include <nrt/nrt.h>
#include <nrtq.h>
#include <stdio.h>
#include <stdlib.h>

#define N_ELEMS 1024

/* Exit with a message when an nrtq call fails: the code is the truth, the thread's last
 * error message adds the detail. */
#define CHECK_NRTQ(call)                                                             \
    do {                                                                             \
        nrtq_status st_ = (call);                                                    \
        if (st_ != NRTQ_OK) {                                                        \
            fprintf(stderr, "%s:%d: %s -> %s (%s)\n", __FILE__, __LINE__, #call,     \
                    nrtq_status_str(st_), nrtq_last_error());                        \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_NRT(call)                                                              \
    do {                                                                             \
        NRT_STATUS st_ = (call);                                                     \
        if (st_ != NRT_SUCCESS) {                                                    \
            fprintf(stderr, "%s:%d: %s -> NRT_STATUS %d\n", __FILE__, __LINE__, #call, \
                    (int)st_);                                                       \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

/* One request's buffers: its own input and output sets, which must stay alive and
 * unchanged until the request completes. */
typedef struct example_slot {
    nrt_tensor_t *a, *b, *out;
    nrt_tensor_set_t *inputs, *outputs;
    float base; /* a[i] = base + i, b[i] = 2 * i, so out[i] must be base + 3 * i */
} example_slot;

/* Load a model file onto logical core `vnc`. */
static inline nrt_model_t *example_load_model(const char *path, int vnc) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *bytes = malloc((size_t)size);
    if (!bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    nrt_model_t *model = NULL;
    CHECK_NRT(nrt_load(bytes, (size_t)size, vnc, -1, &model));
    free(bytes);
    return model;
}

/* Allocate a slot's tensors on logical core `vnc` (the model's). */
static inline void example_slot_init(example_slot *s, int vnc) {
    const size_t bytes = N_ELEMS * sizeof(float);
    CHECK_NRT(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, vnc, bytes, "a", &s->a));
    CHECK_NRT(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, vnc, bytes, "b", &s->b));
    CHECK_NRT(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, vnc, bytes, "out", &s->out));
    CHECK_NRT(nrt_allocate_tensor_set(&s->inputs));
    CHECK_NRT(nrt_allocate_tensor_set(&s->outputs));
    CHECK_NRT(nrt_add_tensor_to_tensor_set(s->inputs, "a", s->a));
    CHECK_NRT(nrt_add_tensor_to_tensor_set(s->inputs, "b", s->b));
    CHECK_NRT(nrt_add_tensor_to_tensor_set(s->outputs, "out", s->out));
    float b[N_ELEMS];
    for (int i = 0; i < N_ELEMS; i++) b[i] = 2.0f * (float)i;
    CHECK_NRT(nrt_tensor_write(s->b, b, 0, sizeof b));
}

/* Fill the slot's `a` for a new request. */
static inline void example_slot_fill(example_slot *s, float base) {
    float a[N_ELEMS];
    for (int i = 0; i < N_ELEMS; i++) a[i] = base + (float)i;
    CHECK_NRT(nrt_tensor_write(s->a, a, 0, sizeof a));
    s->base = base;
}

/* Read the output back and check every element; returns the number of wrong elements. */
static inline int example_slot_verify(const example_slot *s) {
    float out[N_ELEMS];
    CHECK_NRT(nrt_tensor_read(s->out, out, 0, sizeof out));
    int wrong = 0;
    for (int i = 0; i < N_ELEMS; i++)
        if (out[i] != s->base + 3.0f * (float)i) wrong++;
    return wrong;
}

static inline void example_slot_free(example_slot *s) {
    nrt_destroy_tensor_set(&s->inputs);
    nrt_destroy_tensor_set(&s->outputs);
    nrt_tensor_free(&s->a);
    nrt_tensor_free(&s->b);
    nrt_tensor_free(&s->out);
}

#endif
