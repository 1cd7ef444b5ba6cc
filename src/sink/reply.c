// SPDX-License-Identifier: MIT
// FpReplyBoard: the pipeline's result for one submitted frame, copied for the thread that waits for it.
#include "framepipe/reply.h"
#include "sink_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framepipe/clock.h"
#include "framepipe/error.h"

enum { SLOT_FREE = 0, SLOT_WAITING, SLOT_DONE };

typedef struct Slot {
    int state;
    const void *key;
    FpFrame frame; /* field copy of the pipeline's frame (never referenced through) */
    FpFrameResult result;
    FpDetection *dets;
} Slot;

struct FpReplyBoard {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int n, busy, max_det;
    int closed;
    Slot *slots;
    FpDetection *det_mem;
};

int fp_reply_board_create(FpReplyBoard **out, int slots, int max_det)
{
    if (!out || slots < 1 || slots > 4096 || max_det < 1 || max_det > 100000)
        return fp_error(FP_EINVALID, "fp_reply_board_create: slots %d (1..4096), max_det %d (1..100000)", slots,
                        max_det);
    FpReplyBoard *b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->slots = calloc((size_t)slots, sizeof(Slot));
    b->det_mem = calloc((size_t)slots * (size_t)max_det, sizeof(FpDetection));
    if (!b->slots || !b->det_mem) {
        free(b->slots), free(b->det_mem), free(b);
        return fp_error(-ENOMEM, "reply board: out of memory for %d slots", slots);
    }
    b->n = slots;
    b->max_det = max_det;
    for (int i = 0; i < slots; i++)
        b->slots[i].dets = b->det_mem + (size_t)i * (size_t)max_det;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = b;
    return 0;
}

int fp_reply_board_claim(FpReplyBoard *b, const void *key)
{
    pthread_mutex_lock(&b->lock);
    int found = FP_EWOULD_BLOCK;
    for (int i = 0; i < b->n; i++)
        if (b->slots[i].state == SLOT_FREE) {
            b->slots[i].state = SLOT_WAITING;
            b->slots[i].key = key;
            b->busy++;
            found = i;
            break;
        }
    pthread_mutex_unlock(&b->lock);
    return found;
}

int fp_reply_board_wait(FpReplyBoard *b, int slot, int64_t timeout_ns, FpReply *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + timeout_ns;
    ts.tv_sec = t / 1000000000LL;
    ts.tv_nsec = t % 1000000000LL;
    Slot *s = &b->slots[slot];
    pthread_mutex_lock(&b->lock);
    while (s->state != SLOT_DONE && !b->closed && pthread_cond_timedwait(&b->cond, &b->lock, &ts) == 0) {
    }
    int rc = s->state == SLOT_DONE ? 0 : b->closed ? FP_EFLUSHING : FP_ETIMEOUT;
    pthread_mutex_unlock(&b->lock);
    if (rc == 0) {
        out->result = s->result;
        out->result.frame = &s->frame;
        out->result.dets = s->dets;
        out->dets = s->dets;
    }
    return rc;
}

void fp_reply_board_close(FpReplyBoard *b)
{
    pthread_mutex_lock(&b->lock);
    b->closed = 1;
    pthread_cond_broadcast(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

void fp_reply_board_release(FpReplyBoard *b, int slot)
{
    pthread_mutex_lock(&b->lock);
    if (b->slots[slot].state != SLOT_FREE)
        b->busy--;
    b->slots[slot].state = SLOT_FREE;
    b->slots[slot].key = NULL;
    pthread_mutex_unlock(&b->lock);
}

int fp_reply_board_busy(FpReplyBoard *b)
{
    pthread_mutex_lock(&b->lock);
    int n = b->busy;
    pthread_mutex_unlock(&b->lock);
    return n;
}

int fp_reply_board_sink(void *board, const FpFrameResult *r)
{
    FpReplyBoard *b = board;
    const void *key = r->frame ? r->frame->data[0] : NULL;
    if (!key)
        return 0;
    pthread_mutex_lock(&b->lock);
    for (int i = 0; i < b->n; i++) {
        Slot *s = &b->slots[i];
        if (s->state != SLOT_WAITING || s->key != key)
            continue;
        memcpy(&s->frame, r->frame, sizeof(s->frame));
        s->result = *r;
        s->result.track_ids = NULL;
        int n = r->n_dets < b->max_det ? r->n_dets : b->max_det;
        memcpy(s->dets, r->dets, (size_t)n * sizeof(FpDetection));
        s->result.n_dets = n;
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&b->cond);
        break;
    }
    pthread_mutex_unlock(&b->lock);
    return 0;
}

int fp_frame_result_json(const FpFrameResult *r, char *buf, size_t cap, size_t *len)
{
    if (!fp__frame_json(r, fp_clock_ns(), buf, cap, len))
        return fp_error(FP_ETOO_LARGE, "the frame's JSON does not fit in %zu bytes", cap);
    return 0;
}

void fp_reply_board_destroy(FpReplyBoard **pb)
{
    if (!pb || !*pb)
        return;
    FpReplyBoard *b = *pb;
    *pb = NULL;
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
    free(b->slots), free(b->det_mem), free(b);
}
