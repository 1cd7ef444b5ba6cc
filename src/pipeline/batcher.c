// SPDX-License-Identifier: MIT
// FpBatcher: forms batches across cameras from non-blocking pulls, woken by producers' notifications.
//
// Design: one mutex guards everything. A "turn" flag lets one caller of
// fp_batcher_next assemble at a time while others wait on `turn_cond`; the
// assembler pulls rounds (one frame per input per round) under the mutex and
// sleeps on `cond` between rounds. Producers bump `gen` under the mutex in
// fp_batcher_notify; the assembler sleeps only while `gen` is unchanged since
// its last round began, so a frame queued after a pull is never missed (its
// notify happens after the queueing, and either before the round - the pull
// sees it - or after, when gen moves).
#include "framepipe/batcher.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct BatchInput {
    FpBatchPullFn pull;
    void *opaque;
    int ended;
    int end_code;
    int64_t budget_ns; /* 0: cfg.latency_budget_ns */
} BatchInput;

struct FpBatcher {
    FpBatcherConfig cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond;      /* notifications, stop */
    pthread_cond_t turn_cond; /* the assembler's turn was released */
    BatchInput inputs[FP_BATCHER_MAX_INPUTS];
    int n_inputs;
    int n_ended;
    int started;
    int assembling;
    int stopping;
    uint64_t gen;
    int rr; /* input that goes first in the next batch */
    FpBatcherStats stats;
};

void fp_batcher_config_init(FpBatcherConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_batch = 8;
    cfg->max_wait_ns = 5000000;
    cfg->per_camera = 1;
}

int fp_batcher_create(FpBatcher **out, const FpBatcherConfig *cfg)
{
    if (!out || !cfg)
        return fp_error(FP_EINVALID, "fp_batcher_create: NULL argument");
    if (cfg->max_batch < 1 || cfg->max_batch > FP_BATCH_MAX)
        return fp_error(FP_EINVALID, "batch: max_batch %d is outside 1..%d", cfg->max_batch,
                        FP_BATCH_MAX);
    if (cfg->per_camera < 1 || cfg->per_camera > FP_BATCH_MAX)
        return fp_error(FP_EINVALID, "batch: per_camera %d is outside 1..%d", cfg->per_camera,
                        FP_BATCH_MAX);
    if (cfg->max_wait_ns < 0)
        return fp_error(FP_EINVALID, "batch: max_wait must not be negative");
    if (cfg->latency_budget_ns < 0)
        return fp_error(FP_EINVALID, "batch: latency_budget must not be negative");
    FpBatcher *b = calloc(1, sizeof(*b));
    if (!b)
        return fp_error(-ENOMEM, "batcher: out of memory");
    b->cfg = *cfg;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_cond_init(&b->turn_cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = b;
    return 0;
}

int fp_batcher_add_input(FpBatcher *b, FpBatchPullFn pull, void *opaque)
{
    if (!b || !pull)
        return fp_error(FP_EINVALID, "fp_batcher_add_input: NULL argument");
    pthread_mutex_lock(&b->lock);
    int idx;
    if (b->started) {
        idx = fp_error(FP_EINVALID, "batcher: inputs must be added before the first batch");
    } else if (b->n_inputs >= FP_BATCHER_MAX_INPUTS) {
        idx = fp_error(FP_EINVALID, "batcher: more than %d inputs", FP_BATCHER_MAX_INPUTS);
    } else {
        idx = b->n_inputs++;
        b->inputs[idx] = (BatchInput){.pull = pull, .opaque = opaque};
    }
    pthread_mutex_unlock(&b->lock);
    return idx;
}

int fp_batcher_set_input_budget(FpBatcher *b, int index, int64_t budget_ns)
{
    if (!b)
        return fp_error(FP_EINVALID, "fp_batcher_set_input_budget: no batcher");
    int rc = 0;
    pthread_mutex_lock(&b->lock);
    if (b->started)
        rc = fp_error(FP_EINVALID, "batcher: budgets must be set before the first batch");
    else if (index < 0 || index >= b->n_inputs)
        rc = fp_error(FP_EINVALID, "batcher: no input %d", index);
    else if (budget_ns < 0)
        rc = fp_error(FP_EINVALID, "batcher: input %d: latency budget must not be negative", index);
    else
        b->inputs[index].budget_ns = budget_ns;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void fp_batcher_notify(void *batcher)
{
    FpBatcher *b = batcher;
    pthread_mutex_lock(&b->lock);
    b->gen++;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

/* One pull from input i into the batch; returns 1 when a frame was taken. Lock held. */
static int pull_one(FpBatcher *b, int i, FpBatch *out)
{
    BatchInput *in = &b->inputs[i];
    if (in->ended)
        return 0;
    FpFrame *f = NULL;
    int rc = in->pull(in->opaque, &f);
    if (rc == 0 && f) {
        out->frames[out->n] = f;
        out->inputs[out->n] = i;
        out->n++;
        return 1;
    }
    if (rc != FP_ETIMEOUT && rc != FP_EWOULD_BLOCK && rc != 0) {
        in->ended = 1;
        in->end_code = rc;
        b->n_ended++;
    }
    return 0;
}

/*
 * Pulls rounds (one frame per input per round, starting at b->rr) until the
 * batch is full or a round adds nothing. Sets *room to whether some input
 * could still add a frame later. Lock held.
 */
static void pull_rounds(FpBatcher *b, FpBatch *out, int *taken, int *room)
{
    const int n = b->n_inputs;
    for (;;) {
        int added = 0;
        for (int k = 0; k < n && out->n < b->cfg.max_batch; k++) {
            int i = (b->rr + k) % n;
            if (taken[i] < b->cfg.per_camera && pull_one(b, i, out)) {
                taken[i]++;
                added++;
            }
        }
        if (!added || out->n >= b->cfg.max_batch)
            break;
    }
    *room = 0;
    for (int i = 0; i < n; i++)
        if (!b->inputs[i].ended && taken[i] < b->cfg.per_camera)
            *room = 1;
}

static void drop_batch(FpBatch *out)
{
    for (int i = 0; i < out->n; i++)
        fp_frame_unref(&out->frames[i]);
    out->n = 0;
}

int fp_batcher_next(FpBatcher *b, FpBatch *out, int64_t timeout_ns)
{
    if (!b || !out)
        return fp_error(FP_EINVALID, "fp_batcher_next: NULL argument");
    const int64_t start = fp_clock_ns();
    const int64_t first_deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
    out->n = 0;
    pthread_mutex_lock(&b->lock);
    b->started = 1;
    while (b->assembling && !b->stopping)
        pthread_cond_wait(&b->turn_cond, &b->lock);
    if (b->stopping) {
        pthread_mutex_unlock(&b->lock);
        return FP_EFLUSHING;
    }
    b->assembling = 1;

    int taken[FP_BATCHER_MAX_INPUTS];
    memset(taken, 0, sizeof(int) * (size_t)(b->n_inputs > 0 ? b->n_inputs : 1));
    int rc = 0;
    FpBatchReason reason = FP_BATCH_LIMIT;
    for (;;) {
        uint64_t gen = b->gen;
        int room = 0;
        int had = out->n;
        pull_rounds(b, out, taken, &room);
        int64_t now = fp_clock_ns();
        if (had == 0 && out->n > 0)
            out->first_ns = now;
        if (b->stopping) {
            drop_batch(out);
            rc = FP_EFLUSHING;
            break;
        }
        if (out->n >= b->cfg.max_batch) {
            reason = FP_BATCH_FULL;
            break;
        }
        if (out->n > 0 && !room) {
            reason = FP_BATCH_LIMIT;
            break;
        }
        if (out->n == 0 && b->n_ended == b->n_inputs) {
            rc = FP_EEND_OF_STREAM;
            break;
        }
        int64_t deadline;
        if (out->n > 0) {
            deadline = out->first_ns + b->cfg.max_wait_ns;
            if (now >= deadline) {
                reason = FP_BATCH_WAIT;
                break;
            }
            /* the earliest latency budget among the frames taken (each input's own, or the config's) */
            int64_t due = INT64_MAX;
            for (int i = 0; i < out->n; i++) {
                int64_t budget = b->inputs[out->inputs[i]].budget_ns;
                if (budget <= 0)
                    budget = b->cfg.latency_budget_ns;
                if (budget > 0 && out->frames[i]->decoded_ns + budget < due)
                    due = out->frames[i]->decoded_ns + budget;
            }
            if (now >= due) {
                reason = FP_BATCH_BUDGET;
                break;
            }
            if (due < deadline)
                deadline = due;
        } else {
            deadline = first_deadline;
            if (now >= deadline) {
                rc = FP_ETIMEOUT;
                break;
            }
        }
        if (gen == b->gen) {
            if (deadline == INT64_MAX) {
                pthread_cond_wait(&b->cond, &b->lock);
            } else {
                struct timespec ts = {(time_t)(deadline / 1000000000), (long)(deadline % 1000000000)};
                pthread_cond_timedwait(&b->cond, &b->lock, &ts);
            }
        }
    }
    if (rc == 0) {
        out->formed_ns = fp_clock_ns();
        out->serial = b->stats.batches;
        b->rr = b->n_inputs ? (b->rr + 1) % b->n_inputs : 0;
        b->stats.batches++;
        b->stats.frames += (uint64_t)out->n;
        b->stats.by_reason[reason]++;
        rc = out->n;
    }
    b->assembling = 0;
    pthread_cond_signal(&b->turn_cond);
    /* Another caller may be waiting for its turn while producers already signalled `cond`. */
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void fp_batcher_stop(FpBatcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_cond_broadcast(&b->turn_cond);
    pthread_mutex_unlock(&b->lock);
}

int fp_batcher_input_ended(FpBatcher *b, int index, int *code)
{
    int ended = 0;
    pthread_mutex_lock(&b->lock);
    if (index >= 0 && index < b->n_inputs) {
        ended = b->inputs[index].ended;
        if (code)
            *code = b->inputs[index].end_code;
    }
    pthread_mutex_unlock(&b->lock);
    return ended;
}

void fp_batcher_get_stats(FpBatcher *b, FpBatcherStats *out)
{
    pthread_mutex_lock(&b->lock);
    *out = b->stats;
    pthread_mutex_unlock(&b->lock);
}

void fp_batcher_destroy(FpBatcher **pb)
{
    FpBatcher *b = pb ? *pb : NULL;
    if (!b)
        return;
    *pb = NULL;
    pthread_cond_destroy(&b->cond);
    pthread_cond_destroy(&b->turn_cond);
    pthread_mutex_destroy(&b->lock);
    free(b);
}
