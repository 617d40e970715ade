/*
 * nrtq_soak: a long-running client written from include/nrtq.h alone (plus the plain libnrt
 * API for models and tensors), checking the header's promises under random faults.
 *
 * Each round opens a runtime over a fresh emulated device of 4 cores, with random faults:
 * libnrt refusing every K-th schedule call (NRT_EMU_FAULTS, read at nrt_init), every E-th
 * request of each core's model completing with an execution error, and, in some rounds,
 * one core's unit dying and another's hanging (queues there fail by their deadline).
 * Several threads each own two lanes and share one more; a lane is a queue that is created
 * (callback or reap delivery, random depth and backlog), fed in random bursts, sometimes
 * destroyed mid-stream with requests on the device and in the backlog, destroyed when it
 * fails, and created again (on a failed core too, now and then, so that queues are born on
 * a dead unit). The shared lane gets concurrent submits (and reaps) from every thread.
 *
 * Every completion is checked as it arrives: it belongs to a live queue, its ticket was
 * not delivered before, tickets arrive in increasing order within a queue (the header's
 * "completion order (which is submission order within a queue)"), its status is one a
 * completion may carry, with the raw status that goes with it. After each destroy: every
 * accepted request was delivered exactly once with its own user_data (in reap mode,
 * completions not reaped before destroy are discarded, as documented, and counted apart),
 * the fatal callback fired once for a failed queue, and a drain of a queue known to have
 * failed returned promptly. Exact counts are printed; any violation makes the exit status 1.
 *
 *   nrtq_soak                        size and seed from the environment:
 *   SOAK_REQUESTS=1000000            accepted requests to run (default 1000000)
 *   SOAK_SEED=12345                  seed (default: from the clock; always printed); it
 *                                    replays the faults and every thread's choices (the
 *                                    threads' interleaving is the scheduler's)
 *   SOAK_THREADS=3                   submitting threads (default 3)
 *   SOAK_ROUND=200000                accepted requests per round (runtime) (default 200000)
 *
 * Run it with the emulator's libnrt of a generation on the loader path, e.g.
 *   LD_LIBRARY_PATH=target/release/emu/2.30 NRT_EMU_API=2.30 ./nrtq_soak
 * (`make soak` at the top level runs every generation).
 */
#define _GNU_SOURCE
#include <nrt/nrt.h>
#include <nrtq.h>

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CORES 4
#define ELEMS 64
#define MAX_THREADS 16
#define LANES_PER_THREAD 2
#define MAX_INCARNATIONS (1u << 20)
#define DEADLINE_US 200000      /* a hung core fails its queue after 200 ms */
#define SLOW_WAIT_NS 500000000 /* a wait on a failed queue taking 0.5 s was not "prompt" */
#define DRAIN_US 1500000

/* NRT_STATUS values behind the completion statuses the soak injects. */
#define RAW_RESOURCE 4          /* NRT_RESOURCE: the injected schedule refusal */
#define RAW_TIMEOUT 5           /* NRT_TIMEOUT */
#define RAW_UNRECOVERABLE 101   /* NRT_EXEC_UNIT_UNRECOVERABLE */
#define RAW_EXEC_ERR 1004       /* NRT_EXEC_COMPLETED_WITH_ERR */

/* ---- randomness (splitmix64: seeded, so a failing run replays with its seed) ---- */

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A number in [lo, hi]. */
static uint64_t between(uint64_t *s, uint64_t lo, uint64_t hi) {
    return lo + splitmix(s) % (hi - lo + 1);
}

static bool one_in(uint64_t *s, uint64_t n) { return splitmix(s) % n == 0; }

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- counts ---- */

enum { C_OK, C_EXEC, C_QUEUE_FAILED, C_CANCELLED, C_DEADLINE, C_RUNTIME, C_OTHER, C_N };
static const char *const completion_names[C_N] = {
    "ok", "exec error", "queue failed", "cancelled", "deadline", "runtime (refused from backlog)",
    "other"};

enum { R_BACKLOG_FULL, R_QUEUE_FAILED, R_RUNTIME, R_CLOSED, R_DEADLINE, R_OTHER, R_N };
static const char *const refusal_names[R_N] = {
    "backlog full", "queue failed", "runtime", "closed",
    "deadline (not a documented submit result)", "other"};

enum {
    V_UNKNOWN_QUEUE,  /* a completion whose user_data names no live queue of ours */
    V_BAD_TICKET,     /* ticket 0 or beyond any the queue can have issued */
    V_DUPLICATE,      /* a ticket delivered twice */
    V_OUT_OF_ORDER,   /* a ticket delivered after a later one of its queue */
    V_BAD_STATUS,     /* a status (or raw status) no completion may carry here */
    V_LOST,           /* accepted, never delivered (callback mode, or reaped after a drain) */
    V_PHANTOM,        /* delivered, never accepted */
    V_USER_DATA,      /* delivered with another request's user_data */
    V_SLOW_WAIT,      /* drain/destroy of a queue known to have failed took over 1 s */
    V_FATAL,          /* fatal callback not exactly once for a failed queue, or for a live one */
    V_CALL,           /* an nrtq call returned a status its documentation does not list */
    V_N
};
static const char *const violation_names[V_N] = {
    "completion for an unknown queue", "ticket out of range", "duplicate delivery",
    "out-of-order delivery", "unexpected status", "lost (accepted, never delivered)",
    "phantom (delivered, never accepted)", "wrong user_data", "slow wait on a failed queue",
    "fatal callback count", "undocumented call result"};

static _Atomic uint64_t completed[C_N];
static _Atomic uint64_t refused[R_N];
static _Atomic uint64_t violations[V_N];
static _Atomic uint64_t accepted_total, discarded_total, queues_created, queues_failed_dead,
    queues_failed_deadline, destroyed_midstream, destroy_timeouts, drains_on_failed,
    slowest_failed_wait_ns, drain_timeouts;
static _Atomic int examples_left[V_N]; /* examples printed per kind, at most 5 */

static void violation(int kind, const char *fmt, ...) {
    atomic_fetch_add(&violations[kind], 1);
    if (atomic_fetch_add(&examples_left[kind], 1) < 5) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "VIOLATION (%s): ", violation_names[kind]);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

static void note_max(_Atomic uint64_t *slot, uint64_t v) {
    uint64_t cur = atomic_load(slot);
    while (v > cur && !atomic_compare_exchange_weak(slot, &cur, v)) {
    }
}

/* ---- one queue's life ("incarnation") and what was delivered for it ---- */

typedef struct incarnation {
    uint32_t id;
    int core;
    bool reap;
    uint64_t cap;            /* tickets this incarnation may use: submits stop before */
    _Atomic uint64_t attempts; /* submits tried (an upper bound of tickets issued) */
    uint8_t *accepted;       /* [cap + 1], by the owning thread */
    uint32_t *sent_tag;      /* [cap + 1] low half of user_data given at submit */
    /* The delivery side, under `lock`: the header does not say which thread delivers a
     * teardown's cancellations, so two threads may deliver for one queue. */
    pthread_mutex_t lock;
    uint8_t *delivered;      /* [cap + 1] */
    uint32_t *got_tag;       /* [cap + 1] */
    uint64_t highest;        /* highest ticket delivered so far */
    uint64_t n_delivered;
    _Atomic uint32_t fatal_calls;
    _Atomic uint32_t fatal_status;
} incarnation;

static incarnation *_Atomic registry[MAX_INCARNATIONS];
static _Atomic uint32_t next_id = 1;

static void deliver(const nrtq_completion *c) {
    uint32_t id = (uint32_t)(c->user_data >> 32);
    incarnation *inc = id < MAX_INCARNATIONS ? atomic_load(&registry[id]) : NULL;
    if (!inc) {
        violation(V_UNKNOWN_QUEUE, "ticket %" PRIu64 " user_data %#" PRIx64, c->ticket,
                  c->user_data);
        return;
    }
    uint64_t t = c->ticket;
    if (t == 0 || t > inc->cap) {
        violation(V_BAD_TICKET, "queue %u: ticket %" PRIu64 " (cap %" PRIu64 ")", id, t, inc->cap);
        return;
    }
    pthread_mutex_lock(&inc->lock);
    bool again = inc->delivered[t]++ != 0;
    uint64_t highest = inc->highest;
    if (!again) {
        inc->got_tag[t] = (uint32_t)c->user_data;
        inc->n_delivered++;
        if (t > highest) inc->highest = t;
    }
    pthread_mutex_unlock(&inc->lock);
    if (again) {
        violation(V_DUPLICATE, "queue %u: ticket %" PRIu64 " delivered again (%s)", id, t,
                  nrtq_status_str(c->status));
        return;
    }
    if (t < highest)
        violation(V_OUT_OF_ORDER, "queue %u: ticket %" PRIu64 " (%s, raw %u) after ticket %" PRIu64,
                  id, t, nrtq_status_str(c->status), c->nrt_status, highest);

    int kind;
    bool raw_ok;
    switch (c->status) {
    case NRTQ_OK: kind = C_OK; raw_ok = c->nrt_status == 0; break;
    case NRTQ_ERR_EXEC: kind = C_EXEC; raw_ok = c->nrt_status == RAW_EXEC_ERR; break;
    case NRTQ_ERR_QUEUE_FAILED:
        kind = C_QUEUE_FAILED;
        raw_ok = c->nrt_status == RAW_UNRECOVERABLE;
        break;
    case NRTQ_ERR_CANCELLED: kind = C_CANCELLED; raw_ok = true; break;
    case NRTQ_ERR_DEADLINE: kind = C_DEADLINE; raw_ok = true; break;
    case NRTQ_ERR_RUNTIME: kind = C_RUNTIME; raw_ok = c->nrt_status == RAW_RESOURCE; break;
    default: kind = C_OTHER; raw_ok = false; break;
    }
    atomic_fetch_add(&completed[kind], 1);
    if (!raw_ok)
        violation(V_BAD_STATUS, "queue %u: ticket %" PRIu64 ": %s with raw %u", id, t,
                  nrtq_status_str(c->status), c->nrt_status);
}

static void on_complete(const nrtq_completion *c) { deliver(c); }

static void on_fatal(nrtq_queue *q, nrtq_status status, uint32_t nrt_status, uint64_t user_data) {
    (void)q;
    (void)nrt_status;
    incarnation *inc = user_data < MAX_INCARNATIONS ? atomic_load(&registry[user_data]) : NULL;
    if (!inc) {
        violation(V_UNKNOWN_QUEUE, "fatal callback for queue %" PRIu64, user_data);
        return;
    }
    atomic_fetch_add(&inc->fatal_calls, 1);
    atomic_store(&inc->fatal_status, (uint32_t)status);
}

/* ---- a round: one runtime, its models and tensors ---- */

typedef struct core_state {
    nrt_model_t *model;
    nrt_tensor_t *a, *b, *out;
    nrt_tensor_set_t *inputs, *outputs;
    _Atomic int failures; /* queues that failed here: after 3, no more queues here */
} core_state;

typedef struct lane {
    nrtq_queue *q;
    incarnation *inc;
    _Atomic bool failed;       /* a submit was refused because the queue failed terminally */
    _Atomic bool backlog_full; /* the last submit found the backlog full */
    /* Reaping and recording happen together under this lock: two reapers each get their
     * completions oldest first, but could record them interleaved. */
    pthread_mutex_t reap_lock;
} lane;

typedef struct round_ctx {
    nrtq_runtime *rt;
    core_state cores[CORES];
    uint64_t seed;
    uint64_t quota_per_thread;
    /* The lane every thread submits to. Nothing may use a queue during or after its
     * destroy, so submitters hold the lock for reading and destroy/create for writing. */
    lane shared;
    pthread_rwlock_t shared_lock;
} round_ctx;

typedef struct worker {
    round_ctx *round;
    int index;
    uint64_t rng;
    lane lanes[LANES_PER_THREAD];
    incarnation **all; /* every incarnation of this worker in the round, freed at its end */
    size_t n_all, cap_all;
    uint64_t accepted;
} worker;

static void fail_call(const char *call, nrtq_status s) {
    violation(V_CALL, "%s returned %s (%s)", call, nrtq_status_str(s), nrtq_last_error());
}

static void reap_all(lane *l) {
    nrtq_completion buf[64];
    pthread_mutex_lock(&l->reap_lock);
    for (;;) {
        size_t n = 0;
        nrtq_status s = nrtq_queue_reap(l->q, buf, 64, &n);
        if (s != NRTQ_OK) {
            fail_call("nrtq_queue_reap", s);
            break;
        }
        if (n == 0) break;
        for (size_t i = 0; i < n; i++) deliver(&buf[i]);
    }
    pthread_mutex_unlock(&l->reap_lock);
}

static int pick_core(worker *w) {
    for (int tries = 0; tries < 64; tries++) {
        int c = (int)between(&w->rng, 0, CORES - 1);
        int f = atomic_load(&w->round->cores[c].failures);
        if (f == 0) return c;
        /* A core whose queues failed gets two more now and then: queues created on a dead
         * unit (refused at their first submit), or behind a hung request. */
        if (f < 3 && one_in(&w->rng, 3)) return c;
    }
    return -1;
}

static bool lane_create(worker *w, lane *l) {
    int core = pick_core(w);
    if (core < 0) return false;
    incarnation *inc = calloc(1, sizeof *inc);
    pthread_mutex_init(&inc->lock, NULL);
    inc->id = atomic_fetch_add(&next_id, 1);
    if (inc->id >= MAX_INCARNATIONS) {
        fprintf(stderr, "too many queues for the registry\n");
        exit(2);
    }
    inc->core = core;
    inc->reap = one_in(&w->rng, 3);
    inc->cap = between(&w->rng, 500, 30000);
    inc->accepted = calloc(inc->cap + 1, 1);
    inc->delivered = calloc(inc->cap + 1, 1);
    inc->sent_tag = calloc(inc->cap + 1, sizeof(uint32_t));
    inc->got_tag = calloc(inc->cap + 1, sizeof(uint32_t));
    if (w->n_all == w->cap_all) {
        w->cap_all = w->cap_all ? 2 * w->cap_all : 64;
        w->all = realloc(w->all, w->cap_all * sizeof *w->all);
    }
    w->all[w->n_all++] = inc;
    atomic_store(&registry[inc->id], inc);

    nrtq_queue_config *cfg;
    if (nrtq_queue_config_new(&cfg) != NRTQ_OK) exit(2);
    uint32_t depth = (uint32_t)between(&w->rng, 1, 8);
    nrtq_queue_config_set_depth(cfg, depth);
    nrtq_queue_config_set_max_depth(cfg, one_in(&w->rng, 2) ? depth : 16);
    nrtq_queue_config_set_backlog(cfg, (uint32_t)between(&w->rng, 8, 512));
    nrtq_queue_config_set_deadline_us(cfg, DEADLINE_US);
    nrtq_queue_config_set_fatal_callback(cfg, on_fatal, inc->id);
    if (inc->reap)
        nrtq_queue_config_set_delivery(cfg, NRTQ_DELIVERY_REAP);
    else
        nrtq_queue_config_set_completion_callback(cfg, on_complete);
    nrtq_status s = nrtq_queue_create(w->round->rt, w->round->cores[core].model, cfg, &l->q);
    nrtq_queue_config_free(cfg);
    if (s != NRTQ_OK) {
        fail_call("nrtq_queue_create", s);
        l->q = NULL;
        return false;
    }
    atomic_fetch_add(&queues_created, 1);
    l->inc = inc;
    l->failed = false;
    l->backlog_full = false;
    return true;
}

/* Check an incarnation once its queue is destroyed: every completion was delivered. */
static void check_incarnation(incarnation *inc, bool may_discard) {
    uint64_t accepted = 0, discarded = 0;
    for (uint64_t t = 1; t <= inc->cap; t++) {
        if (inc->accepted[t]) accepted++;
        if (inc->accepted[t] && !inc->delivered[t]) {
            if (may_discard)
                discarded++;
            else
                violation(V_LOST, "queue %u (%s): ticket %" PRIu64 " never delivered", inc->id,
                          inc->reap ? "reap" : "callbacks", t);
        } else if (!inc->accepted[t] && inc->delivered[t]) {
            violation(V_PHANTOM, "queue %u: ticket %" PRIu64 " delivered, never accepted",
                      inc->id, t);
        } else if (inc->accepted[t] && inc->got_tag[t] != inc->sent_tag[t]) {
            violation(V_USER_DATA, "queue %u: ticket %" PRIu64 " came back with tag %u, sent %u",
                      inc->id, t, inc->got_tag[t], inc->sent_tag[t]);
        }
    }
    atomic_fetch_add(&accepted_total, accepted);
    atomic_fetch_add(&discarded_total, discarded);
}

enum finish_how { FINISH_DRAIN, FINISH_MIDSTREAM };

static void lane_finish(worker *w, lane *l, enum finish_how how) {
    incarnation *inc = l->inc;
    core_state *core = &w->round->cores[inc->core];
    bool drained = false;
    if (how == FINISH_DRAIN) {
        uint64_t t0 = now_ns();
        nrtq_status s = nrtq_queue_drain(l->q, DRAIN_US);
        uint64_t took = now_ns() - t0;
        if (s == NRTQ_OK)
            drained = true;
        else if (s == NRTQ_TIMEOUT)
            atomic_fetch_add(&drain_timeouts, 1); /* e.g. a new queue behind a hung request */
        else
            fail_call("nrtq_queue_drain", s);
        if (l->failed) {
            atomic_fetch_add(&drains_on_failed, 1);
            note_max(&slowest_failed_wait_ns, took);
            if (took > SLOW_WAIT_NS)
                violation(V_SLOW_WAIT, "drain of queue %u, failed before the drain, took %.3f s (%s)",
                          inc->id, took / 1e9, nrtq_status_str(s));
        }
        if (inc->reap) reap_all(l);
    } else {
        atomic_fetch_add(&destroyed_midstream, 1);
    }
    nrtq_status fs = NRTQ_OK;
    uint32_t fraw = 0;
    nrtq_status qs = nrtq_queue_failure(l->q, &fs, &fraw);
    if (qs != NRTQ_OK) fail_call("nrtq_queue_failure", qs);
    bool known_failed = fs != NRTQ_OK;

    int64_t timeout = how == FINISH_MIDSTREAM ? (int64_t[]){-1, 0, 2000, 100000}[between(&w->rng, 0, 3)]
                                              : 2000000;
    uint64_t t0 = now_ns();
    nrtq_status s = nrtq_queue_destroy(l->q, timeout);
    uint64_t took = now_ns() - t0;
    if (s == NRTQ_TIMEOUT)
        atomic_fetch_add(&destroy_timeouts, 1);
    else if (s != NRTQ_OK)
        fail_call("nrtq_queue_destroy", s);
    if (l->failed && how == FINISH_DRAIN) {
        note_max(&slowest_failed_wait_ns, took);
        if (took > SLOW_WAIT_NS)
            violation(V_SLOW_WAIT, "destroy of failed queue %u took %.3f s", inc->id, took / 1e9);
    }
    /* Destroy has delivered everything (callback mode); what was not reaped in reap mode
     * is discarded, as documented, unless a completed drain and reap preceded it. */
    check_incarnation(inc, inc->reap && !drained);

    uint32_t fatal = atomic_load(&inc->fatal_calls);
    if (known_failed || l->failed) {
        if (fatal != 1)
            violation(V_FATAL, "queue %u failed (%s) with %u fatal callbacks", inc->id,
                      nrtq_status_str(fs), fatal);
        if (fs == NRTQ_ERR_DEADLINE)
            atomic_fetch_add(&queues_failed_deadline, 1);
        else
            atomic_fetch_add(&queues_failed_dead, 1);
        atomic_fetch_add(&core->failures, 1);
    } else if (fatal > 1) {
        violation(V_FATAL, "queue %u: %u fatal callbacks", inc->id, fatal);
    }
    l->q = NULL;
    l->inc = NULL;
}

/* Submit one request; returns whether to go on with the burst. */
static bool submit_one(worker *w, lane *l) {
    incarnation *inc = l->inc;
    core_state *core = &w->round->cores[inc->core];
    uint32_t tag = (uint32_t)splitmix(&w->rng);
    uint64_t user_data = ((uint64_t)inc->id << 32) | tag;
    /* In callback mode, half the requests name the callback and half use the queue-wide
     * one; in reap mode a callback is refused (NRTQ_ERR_INVALID), so none is named. */
    nrtq_completion_fn cb = !inc->reap && one_in(&w->rng, 2) ? on_complete : NULL;
    uint64_t ticket = 0;
    nrtq_status s;
    if (atomic_fetch_add(&inc->attempts, 1) >= inc->cap) return false;
    if (!inc->reap && (l->backlog_full || one_in(&w->rng, 4)))
        s = nrtq_queue_submit_timeout(l->q, core->inputs, core->outputs, cb, user_data, 50000,
                                      &ticket);
    else
        s = nrtq_queue_submit(l->q, core->inputs, core->outputs, cb, user_data, &ticket);
    l->backlog_full = s == NRTQ_BACKLOG_FULL;
    switch (s) {
    case NRTQ_OK:
        if (ticket == 0 || ticket > inc->cap || inc->accepted[ticket]) {
            violation(V_BAD_TICKET, "queue %u: submit gave ticket %" PRIu64, inc->id, ticket);
            return false;
        }
        inc->sent_tag[ticket] = tag;
        inc->accepted[ticket] = 1;
        w->accepted++;
        return true;
    case NRTQ_BACKLOG_FULL:
        atomic_fetch_add(&refused[R_BACKLOG_FULL], 1);
        if (inc->reap) {
            /* Wait for completions on the reap descriptor rather than spin. */
            int fd = -1;
            nrtq_status fs = nrtq_queue_reap_fd(l->q, &fd);
            if (fs != NRTQ_OK) {
                fail_call("nrtq_queue_reap_fd", fs);
            } else {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                poll(&p, 1, 5);
            }
            reap_all(l);
        }
        return false;
    case NRTQ_ERR_QUEUE_FAILED:
        atomic_fetch_add(&refused[R_QUEUE_FAILED], 1);
        l->failed = true;
        return false;
    case NRTQ_ERR_RUNTIME:
        atomic_fetch_add(&refused[R_RUNTIME], 1);
        return true;
    case NRTQ_ERR_DEADLINE:
        /* The header documents NRTQ_ERR_QUEUE_FAILED as the refusal of a terminal queue. */
        atomic_fetch_add(&refused[R_DEADLINE], 1);
        if (!l->failed) fail_call("nrtq_queue_submit (a failed queue)", s);
        l->failed = true;
        return false;
    case NRTQ_ERR_CLOSED:
        atomic_fetch_add(&refused[R_CLOSED], 1);
        fail_call("nrtq_queue_submit (nobody is destroying this queue)", s);
        return false;
    default:
        atomic_fetch_add(&refused[R_OTHER], 1);
        fail_call("nrtq_queue_submit", s);
        return false;
    }
}

/* One burst of submits on `l`; returns how the lane must finish now, or -1 to keep it. */
static int burst_on(worker *w, lane *l) {
    uint64_t burst = between(&w->rng, 1, 64);
    for (uint64_t i = 0; i < burst; i++)
        if (!submit_one(w, l)) break;
    if (l->inc->reap) reap_all(l);
    if (atomic_load(&l->failed) || atomic_load(&l->inc->attempts) >= l->inc->cap)
        return FINISH_DRAIN;
    if (!l->inc->reap && one_in(&w->rng, 128)) return FINISH_MIDSTREAM;
    return -1;
}

/* A burst on the shared lane; whoever finds it finished (or missing) destroys and
 * recreates it, unless another thread did so meanwhile. */
static void shared_turn(worker *w) {
    round_ctx *rc = w->round;
    pthread_rwlock_rdlock(&rc->shared_lock);
    incarnation *inc = rc->shared.inc;
    int how = inc ? burst_on(w, &rc->shared) : FINISH_DRAIN;
    pthread_rwlock_unlock(&rc->shared_lock);
    if (inc && how < 0) return;
    pthread_rwlock_wrlock(&rc->shared_lock);
    if (rc->shared.inc == inc) { /* incarnations are freed at the round's end only */
        if (inc) lane_finish(w, &rc->shared, (enum finish_how)how);
        lane_create(w, &rc->shared);
    }
    pthread_rwlock_unlock(&rc->shared_lock);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    while (w->accepted < w->round->quota_per_thread) {
        if (one_in(&w->rng, 4)) {
            shared_turn(w);
            continue;
        }
        lane *l = &w->lanes[between(&w->rng, 0, LANES_PER_THREAD - 1)];
        if (!l->q && !lane_create(w, l)) {
            sched_yield(); /* every core has failed: the others' lanes will finish the round */
            bool any_core = false;
            for (int c = 0; c < CORES; c++)
                any_core |= atomic_load(&w->round->cores[c].failures) < 3;
            if (!any_core) break;
            continue;
        }
        int how = burst_on(w, l);
        if (how >= 0) lane_finish(w, l, (enum finish_how)how);
    }
    for (int i = 0; i < LANES_PER_THREAD; i++)
        if (w->lanes[i].q) lane_finish(w, &w->lanes[i], FINISH_DRAIN);
    return NULL;
}

static void die_nrt(const char *what, NRT_STATUS s) {
    fprintf(stderr, "%s failed: NRT_STATUS %d\n", what, (int)s);
    exit(2);
}

static void core_setup(core_state *c, int core, uint64_t *rng, const char *extra_fault) {
    char text[1024];
    static const unsigned times_ns[] = {0, 0, 2000, 5000};
    int n = snprintf(text, sizeof text,
                     "nrt-emu-model 1\nname soak%d\ntime_ns %u\ninput a f32 %d\ninput b f32 %d\n"
                     "output out f32 %d\nop add out a b\nfault error every=%" PRIu64
                     " code=1004\n%s%s\nend\n",
                     core, times_ns[between(rng, 0, 3)], ELEMS, ELEMS, ELEMS,
                     between(rng, 50, 500), extra_fault ? "fault " : "",
                     extra_fault ? extra_fault : "");
    NRT_STATUS s = nrt_load(text, (size_t)n, core, 1, &c->model);
    if (s != NRT_SUCCESS) die_nrt("nrt_load", s);
    const size_t bytes = ELEMS * sizeof(float);
    if ((s = nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, core, bytes, "a", &c->a)) ||
        (s = nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, core, bytes, "b", &c->b)) ||
        (s = nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, core, bytes, "out", &c->out)) ||
        (s = nrt_allocate_tensor_set(&c->inputs)) || (s = nrt_allocate_tensor_set(&c->outputs)) ||
        (s = nrt_add_tensor_to_tensor_set(c->inputs, "a", c->a)) ||
        (s = nrt_add_tensor_to_tensor_set(c->inputs, "b", c->b)) ||
        (s = nrt_add_tensor_to_tensor_set(c->outputs, "out", c->out)))
        die_nrt("tensor setup", s);
    atomic_store(&c->failures, 0);
}

static void core_teardown(core_state *c) {
    nrt_destroy_tensor_set(&c->inputs);
    nrt_destroy_tensor_set(&c->outputs);
    nrt_tensor_free(&c->a);
    nrt_tensor_free(&c->b);
    nrt_tensor_free(&c->out);
    nrt_unload(c->model);
}

static void run_round(uint64_t seed, int round, int threads, uint64_t quota) {
    uint64_t rng = seed ^ (0xA5A5A5A5ull * (uint64_t)(round + 1));
    splitmix(&rng);
    char faults[128];
    snprintf(faults, sizeof faults, "reject every=%" PRIu64 " code=4", between(&rng, 40, 400));
    setenv("NRT_EMU_FAULTS", faults, 1); /* read by nrt_init, inside nrtq_runtime_open */

    round_ctx rc = {.seed = seed, .quota_per_thread = quota / (uint64_t)threads + 1};
    pthread_rwlock_init(&rc.shared_lock, NULL);
    pthread_mutex_init(&rc.shared.reap_lock, NULL);
    nrtq_status s = nrtq_runtime_open(NULL, true, &rc.rt);
    if (s != NRTQ_OK) {
        fprintf(stderr, "nrtq_runtime_open: %s (%s)\n", nrtq_status_str(s), nrtq_last_error());
        exit(2);
    }
    /* Some rounds kill one core's unit and hang another's, at a random request. */
    int dying = one_in(&rng, 2) ? (int)between(&rng, 0, CORES - 1) : -1;
    int hanging = one_in(&rng, 2) ? (int)between(&rng, 0, CORES - 1) : -1;
    if (hanging == dying) hanging = -1;
    char killer[CORES][64];
    for (int c = 0; c < CORES; c++) {
        killer[c][0] = 0;
        if (c == dying)
            snprintf(killer[c], sizeof killer[c], "unrecoverable after=%" PRIu64,
                     between(&rng, 1000, 20000));
        else if (c == hanging)
            snprintf(killer[c], sizeof killer[c], "hang seq=%" PRIu64, between(&rng, 1000, 20000));
        core_setup(&rc.cores[c], c, &rng, killer[c][0] ? killer[c] : NULL);
    }
    printf("round %d: %s; core faults:", round, faults);
    for (int c = 0; c < CORES; c++) printf(" [%d] %s", c, killer[c][0] ? killer[c] : "errors only");
    printf("\n");
    fflush(stdout);

    worker ws[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].round = &rc;
        ws[i].index = i;
        ws[i].rng = rng ^ (0x1234567ull * (uint64_t)(i + 1));
        splitmix(&ws[i].rng);
        for (int k = 0; k < LANES_PER_THREAD; k++) pthread_mutex_init(&ws[i].lanes[k].reap_lock, NULL);
        pthread_create(&tids[i], NULL, worker_main, &ws[i]);
    }
    for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
    if (rc.shared.q) lane_finish(&ws[0], &rc.shared, FINISH_DRAIN);

    s = nrtq_runtime_close(rc.rt);
    if (s != NRTQ_OK) fail_call("nrtq_runtime_close", s);
    /* nrt_close (inside) completed what the device held; everything can go now. */
    for (int c = 0; c < CORES; c++) core_teardown(&rc.cores[c]);
    for (int i = 0; i < threads; i++) {
        for (size_t k = 0; k < ws[i].n_all; k++) {
            incarnation *inc = ws[i].all[k];
            atomic_store(&registry[inc->id], NULL);
            free(inc->accepted);
            free(inc->delivered);
            free(inc->sent_tag);
            free(inc->got_tag);
            pthread_mutex_destroy(&inc->lock);
            free(inc);
        }
        free(ws[i].all);
        for (int k = 0; k < LANES_PER_THREAD; k++) pthread_mutex_destroy(&ws[i].lanes[k].reap_lock);
    }
    pthread_mutex_destroy(&rc.shared.reap_lock);
    pthread_rwlock_destroy(&rc.shared_lock);
}

static uint64_t env_u64(const char *name, uint64_t dflt) {
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 0) : dflt;
}

int main(void) {
    uint64_t requests = env_u64("SOAK_REQUESTS", 1000000);
    uint64_t seed = env_u64("SOAK_SEED", now_ns() ^ (uint64_t)getpid());
    int threads = (int)env_u64("SOAK_THREADS", 3);
    uint64_t per_round = env_u64("SOAK_ROUND", 200000);
    if (threads < 1 || threads > MAX_THREADS || per_round == 0) {
        fprintf(stderr, "SOAK_THREADS must be 1..%d, SOAK_ROUND > 0\n", MAX_THREADS);
        return 2;
    }
    setenv("NRT_EMU_TOTAL_CORES", "4", 1);
    setenv("NEURON_RT_LOG_LEVEL", "QUIET", 0);
    const char *api = getenv("NRT_EMU_API");
    printf("nrtq_soak: generation %s, %" PRIu64 " requests, %d threads, %" PRIu64
           " per round, seed %" PRIu64 "\n(replay: SOAK_SEED=%" PRIu64 " SOAK_REQUESTS=%" PRIu64
           " SOAK_THREADS=%d SOAK_ROUND=%" PRIu64 ")\n",
           api ? api : "(default)", requests, threads, per_round, seed, seed, requests, threads,
           per_round);
    fflush(stdout);

    uint64_t t0 = now_ns();
    int rounds = (int)((requests + per_round - 1) / per_round);
    for (int r = 0; r < rounds; r++) {
        uint64_t quota = r == rounds - 1 ? requests - per_round * (uint64_t)r : per_round;
        run_round(seed, r, threads, quota);
    }
    double secs = (now_ns() - t0) / 1e9;

    uint64_t done = 0;
    for (int k = 0; k < C_N; k++) done += completed[k];
    uint64_t acc = accepted_total, disc = discarded_total;
    printf("\naccepted %" PRIu64 ", completed %" PRIu64 ", discarded unreaped at destroy (reap "
           "mode, documented) %" PRIu64 " in %.1f s (%.0f requests/s)\n",
           acc, done, disc, secs, acc / secs);
    printf("completed by status:");
    for (int k = 0; k < C_N; k++) printf(" %s %" PRIu64 ";", completion_names[k], completed[k]);
    printf("\nrefused submits:");
    for (int k = 0; k < R_N; k++) printf(" %s %" PRIu64 ";", refusal_names[k], refused[k]);
    printf("\nqueues: created %" PRIu64 ", failed by a dead unit %" PRIu64
           ", failed by a deadline %" PRIu64 ", destroyed mid-stream %" PRIu64
           ", destroys that timed out %" PRIu64 ", drains that timed out %" PRIu64
           "; drains of failed queues %" PRIu64 ", slowest wait on a failed queue %.3f s\n",
           queues_created, queues_failed_dead, queues_failed_deadline, destroyed_midstream,
           destroy_timeouts, drain_timeouts, drains_on_failed, slowest_failed_wait_ns / 1e9);
    uint64_t bad = 0;
    printf("violations:");
    for (int k = 0; k < V_N; k++) {
        printf(" %s %" PRIu64 ";", violation_names[k], violations[k]);
        bad += violations[k];
    }
    printf("\n");
    if (acc != done + disc) {
        printf("accepted (%" PRIu64 ") != completed (%" PRIu64 ") + discarded (%" PRIu64 ")\n", acc,
               done, disc);
        bad++;
    }
    if (acc < requests) {
        printf("only %" PRIu64 " of %" PRIu64 " requests were accepted\n", acc, requests);
        bad++;
    }
    printf("%s: nrtq_soak %s seed %" PRIu64 "\n", bad ? "FAIL" : "PASS", api ? api : "", seed);
    return bad ? 1 : 0;
}
