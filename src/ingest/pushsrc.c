// SPDX-License-Identifier: MIT
// The push: source: frames submitted by the application (HTTP uploads) through an FpPushQueue, emitted like a camera's.
#include "framepipe/push.h"
#include "source_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framepipe/clock.h"
#include "framepipe/error.h"

/*
 * A ring of frame pointers under one mutex and a condition variable (the
 * producers are HTTP threads, the consumer the source's thread). Queues
 * live in a small process-wide list so that a source config can name one
 * ("push:api"); a reference count keeps a queue alive while its source
 * reads it.
 */

#define MAX_QUEUES 16

struct FpPushQueue {
    char name[64];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    FpFrame **ring;
    int cap, head, count;
    int closed;
    int refs; /* registry's + sources'; under reg_lock */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static FpPushQueue *registry[MAX_QUEUES];

int fp_push_queue_create(FpPushQueue **out, const char *name, int capacity)
{
    if (!out || !name || !name[0] || strlen(name) > 63 || capacity < 1 || capacity > 4096)
        return fp_error(FP_EINVALID, "fp_push_queue_create: name \"%s\" (1..63 bytes), capacity %d (1..4096)",
                        name ? name : "(null)", capacity);
    FpPushQueue *q = calloc(1, sizeof(*q));
    if (!q || !(q->ring = calloc((size_t)capacity, sizeof(FpFrame *)))) {
        free(q);
        return fp_error(-ENOMEM, "push queue %s: out of memory", name);
    }
    snprintf(q->name, sizeof(q->name), "%s", name);
    q->cap = capacity;
    q->refs = 1;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&reg_lock);
    int slot = -1;
    for (int i = 0; i < MAX_QUEUES; i++) {
        if (registry[i] && !strcmp(registry[i]->name, name)) {
            pthread_mutex_unlock(&reg_lock);
            free(q->ring), free(q);
            return fp_error(FP_EEXISTS, "push queue %s: exists already", name);
        }
        if (!registry[i] && slot < 0)
            slot = i;
    }
    if (slot < 0) {
        pthread_mutex_unlock(&reg_lock);
        free(q->ring), free(q);
        return fp_error(FP_EINVALID, "push queue %s: more than %d queues", name, MAX_QUEUES);
    }
    registry[slot] = q;
    pthread_mutex_unlock(&reg_lock);
    *out = q;
    return 0;
}

int fp_push_queue_submit(FpPushQueue *q, FpFrame *frame)
{
    if (!q || !frame)
        return fp_error(FP_EINVALID, "fp_push_queue_submit: NULL argument");
    pthread_mutex_lock(&q->lock);
    if (q->closed) {
        pthread_mutex_unlock(&q->lock);
        return FP_EFLUSHING;
    }
    if (q->count == q->cap) {
        pthread_mutex_unlock(&q->lock);
        return FP_EWOULD_BLOCK;
    }
    q->ring[(q->head + q->count) % q->cap] = fp_frame_ref(frame);
    q->count++;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int fp_push_queue_depth(FpPushQueue *q)
{
    pthread_mutex_lock(&q->lock);
    int n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

int fp__push_queue_take(FpPushQueue *q, FpFrame **out, int64_t timeout_ns)
{
    pthread_mutex_lock(&q->lock);
    if (!q->count && !q->closed && timeout_ns > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t t = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec + timeout_ns;
        ts.tv_sec = t / 1000000000LL;
        ts.tv_nsec = t % 1000000000LL;
        while (!q->count && !q->closed && pthread_cond_timedwait(&q->cond, &q->lock, &ts) == 0) {
        }
    }
    int rc = 0;
    if (q->count) {
        *out = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
        rc = 1;
    } else if (q->closed) {
        rc = FP_EFLUSHING;
    }
    pthread_mutex_unlock(&q->lock);
    return rc;
}

FpPushQueue *fp__push_queue_find(const char *name)
{
    FpPushQueue *q = NULL;
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_QUEUES && !q; i++)
        if (registry[i] && !strcmp(registry[i]->name, name))
            q = registry[i];
    if (q)
        q->refs++;
    pthread_mutex_unlock(&reg_lock);
    return q;
}

static void queue_free(FpPushQueue *q)
{
    while (q->count) {
        fp_frame_unref(&q->ring[q->head]);
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
    free(q->ring);
    free(q);
}

void fp__push_queue_release(FpPushQueue *q)
{
    pthread_mutex_lock(&reg_lock);
    int last = --q->refs == 0;
    pthread_mutex_unlock(&reg_lock);
    if (last)
        queue_free(q);
}

void fp_push_queue_destroy(FpPushQueue **pq)
{
    if (!pq || !*pq)
        return;
    FpPushQueue *q = *pq;
    *pq = NULL;
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
    pthread_mutex_lock(&reg_lock);
    for (int i = 0; i < MAX_QUEUES; i++)
        if (registry[i] == q)
            registry[i] = NULL;
    pthread_mutex_unlock(&reg_lock);
    fp__push_queue_release(q);
}

/* ---- the source backend ---- */

static int push_open(FpSource *src, void **priv)
{
    const char *url = fp__source_cfg(src)->url;
    FpPushQueue *q = fp__push_queue_find(url + 5);
    if (!q)
        return fp_error(FP_ENOT_FOUND, "source %s: no push queue named \"%s\"", fp_source_name(src), url + 5);
    *priv = q;
    return 0;
}

/* Takes one submitted frame (waiting at most 100 ms, so stopping is noticed) and emits its planes as the source's. */
static int push_pump(FpSource *src, void *priv)
{
    FpPushQueue *q = priv;
    fp__source_touch(src); /* waiting for uploads is not a stall */
    if (fp__source_stopping(src))
        return FP_EFLUSHING;
    FpFrame *in = NULL;
    int rc = fp__push_queue_take(q, &in, 100000000LL);
    if (rc <= 0)
        return rc == FP_EFLUSHING ? FP_EEND_OF_STREAM : 0;
    FpFrame *f = fp__source_frame_get(src);
    if (!f) {
        fp_frame_unref(&in);
        return fp_error(-ENOMEM, "source %s: out of memory", fp_source_name(src));
    }
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
        f->data[i] = in->data[i];
        f->linesize[i] = in->linesize[i];
        f->buf[i] = in->buf[i] ? fp_buffer_ref(in->buf[i]) : NULL;
    }
    f->width = in->width;
    f->height = in->height;
    f->format = in->format;
    f->pts_ns = fp_clock_ns();
    fp_frame_unref(&in);
    rc = fp__source_emit(src, f);
    return rc == FP_EFLUSHING ? FP_EFLUSHING : rc < 0 && rc != FP_EEND_OF_STREAM ? rc : 0;
}

static void push_close(FpSource *src, void **priv)
{
    (void)src;
    if (*priv)
        fp__push_queue_release(*priv);
    *priv = NULL;
}

const FpSourceBackend fp__source_push = {"push", push_open, push_pump, NULL, push_close};
