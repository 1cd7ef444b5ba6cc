// SPDX-License-Identifier: MIT
// FpBatcher: dynamic batching of frames from many cameras (max batch, max wait, round-robin with a per-camera limit).
#ifndef FRAMEPIPE_BATCHER_H
#define FRAMEPIPE_BATCHER_H

#include <stdint.h>

#include "framepipe/frame.h"
#include "framepipe/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The batcher does not own queues: each input (a camera) is a pull function
 * over a queue that already exists (the FpSource's own bounded queue, whose
 * policy decides what happens when the consumer is slow). Producers call
 * fp_batcher_notify() after queueing, and the batcher pulls without
 * blocking. A batch is emitted when
 *   - it holds max_batch frames, or
 *   - max_wait_ns has passed since its first frame was taken, or
 *   - a frame in it is older than its input's latency budget (decoded_ns to
 *     now; the config's latency_budget_ns unless the input has its own), or
 *   - no input can add a frame (each is at its per-camera limit or ended).
 * Frames are taken round-robin, one per camera per round, at most
 * per_camera of one camera in a batch; the camera that goes first rotates
 * from batch to batch, so a fast camera cannot starve the others and with
 * more cameras than max_batch every camera gets its turn.
 */
#define FP_BATCH_MAX 64
#define FP_BATCHER_MAX_INPUTS 256

typedef struct FpBatcherConfig {
    int max_batch;             /* 1..FP_BATCH_MAX (default 8) */
    int64_t max_wait_ns;       /* >= 0 (default 5 ms) */
    int per_camera;            /* 1..FP_BATCH_MAX (default 1) */
    int64_t latency_budget_ns; /* > 0: a frame this old forces the batch out; 0: off (default) */
} FpBatcherConfig;

/* Fills the defaults above. Never fails. */
void fp_batcher_config_init(FpBatcherConfig *cfg);

/*
 * A non-blocking pull: returns 0 with one frame reference in *out (passed
 * to the batcher), FP_ETIMEOUT or FP_EWOULD_BLOCK when the input has nothing
 * now, or any other negative code when the input has ended for good
 * (FP_EEND_OF_STREAM, FP_EFLUSHING, or its error). Called with the
 * batcher's lock held: it must not call into the batcher.
 */
typedef int (*FpBatchPullFn)(void *opaque, FpFrame **out);

typedef struct FpBatcher FpBatcher;

/* One emitted batch. frames[i] came from input inputs[i]; the caller owns one reference to each. */
typedef struct FpBatch {
    int n;
    FpFrame *frames[FP_BATCH_MAX];
    int inputs[FP_BATCH_MAX];
    int64_t first_ns;  /* monotonic time the first frame was taken */
    int64_t formed_ns; /* monotonic time the batch was emitted */
    uint64_t serial;   /* batches are numbered from 0 in the order they were formed */
} FpBatch;

typedef enum FpBatchReason {
    FP_BATCH_FULL = 0,  /* max_batch frames */
    FP_BATCH_WAIT,      /* max_wait passed */
    FP_BATCH_BUDGET,    /* a frame's latency budget */
    FP_BATCH_LIMIT,     /* no input could add a frame (per-camera limits, ended inputs) */
    FP_BATCH_REASONS
} FpBatchReason;

typedef struct FpBatcherStats {
    uint64_t batches, frames;
    uint64_t by_reason[FP_BATCH_REASONS];
} FpBatcherStats;

/*
 * Creates a batcher; *out owns it (fp_batcher_destroy); cfg is copied.
 * Returns 0, FP_EINVALID (NULL out or cfg, or a bad field, named) or
 * -ENOMEM; *out untouched on failure. Any thread. The batcher is
 * thread-safe (one mutex): each function below says who may call it.
 */
int fp_batcher_create(FpBatcher **out, const FpBatcherConfig *cfg);

/*
 * Adds an input; returns its index (>= 0) or FP_EINVALID (after the first
 * fp_batcher_next, or more than FP_BATCHER_MAX_INPUTS). The owner's thread.
 */
int fp_batcher_add_input(FpBatcher *b, FpBatchPullFn pull, void *opaque);

/* An input may have a frame (or has ended): wakes a waiting fp_batcher_next. Any thread; cheap. */
void fp_batcher_notify(void *batcher);

/*
 * Forms the next batch, waiting up to timeout_ns (< 0: forever) for its
 * first frame. Returns the batch size (> 0) with the frames in *out,
 * FP_ETIMEOUT (nothing arrived), FP_EEND_OF_STREAM (every input has ended
 * and nothing is left), or FP_EFLUSHING (fp_batcher_stop). Several threads
 * may call it: one assembles at a time, the others wait their turn.
 */
int fp_batcher_next(FpBatcher *b, FpBatch *out, int64_t timeout_ns);

/*
 * Gives input `index` its own latency budget (> 0; 0: the config's), e.g. a
 * camera whose results are needed sooner than the others'. Before the first
 * fp_batcher_next only. Returns 0, or FP_EINVALID (after the first
 * fp_batcher_next, NULL b, a bad index, a negative value) changing nothing.
 * Any thread (it takes the batcher's lock); normally the owner's, between
 * fp_batcher_add_input and the first fp_batcher_next.
 */
int fp_batcher_set_input_budget(FpBatcher *b, int index, int64_t budget_ns);

/* Makes fp_batcher_next return FP_EFLUSHING from now on (frames held are dropped). Any thread. */
void fp_batcher_stop(FpBatcher *b);

/*
 * 1 once input `index` has ended (its pull returned an end code), else 0.
 * For a valid index *code (if non-NULL) gets the input's end code (0 while
 * it has not ended); for an index out of range it returns 0 and leaves
 * *code untouched. `b` must not be NULL. Any thread, also while
 * fp_batcher_next runs (it takes the batcher's lock).
 */
int fp_batcher_input_ended(FpBatcher *b, int index, int *code);

/* Counters since create. Any thread. */
void fp_batcher_get_stats(FpBatcher *b, FpBatcherStats *out);

/*
 * Destroys the batcher and sets *b to NULL (NULL or *b == NULL: no-op). The
 * batcher holds no frames between calls (they wait in the inputs' own queues
 * or are in batches already returned, which stay the caller's), so nothing
 * is dropped. Any thread, once no call on the batcher is running and none can
 * start: fp_batcher_stop, join the callers of fp_batcher_next, and stop the
 * producers that call fp_batcher_notify.
 */
void fp_batcher_destroy(FpBatcher **b);

#ifdef __cplusplus
}
#endif
#endif
