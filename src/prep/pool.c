// SPDX-License-Identifier: MIT
// FpPrepPool: a small fixed thread pool that fills the slots of a batch tensor in parallel.

/*
 * One batch at a time: the caller publishes the job under the lock, bumps
 * the generation and wakes the workers; everybody (caller included) takes
 * slot indices from an atomic counter until they run out; each worker
 * checks in once per generation, and the caller returns after all have
 * checked in, so no worker touches the job after fp_prep_batch returns.
 * The first error wins; its detail message is copied so the caller's
 * thread can report it.
 */

#include "prep_internal.h"

#include "framepipe/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct FpPrepPool {
    pthread_mutex_t batch_lock; /* serialises fp_prep_batch calls */
    pthread_mutex_t lock;
    pthread_cond_t work, done;
    pthread_t *threads;
    int nthreads;
    int stop;
    uint64_t gen;
    int pending; /* workers yet to check in for this generation */

    FpLetterbox *const *plans;
    const FpFrame *const *frames;
    int n;
    uint8_t *tensor;
    size_t slot;
    atomic_int next;
    int err;
    char errmsg[256];
};

static void run_slots(FpPrepPool *p)
{
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n)
            return;
        int rc = fp_letterbox_run(p->plans[i], p->frames[i], p->tensor + (size_t)i * p->slot, p->slot);
        if (rc < 0) {
            pthread_mutex_lock(&p->lock);
            if (!p->err) {
                p->err = rc;
                snprintf(p->errmsg, sizeof(p->errmsg), "batch slot %d: %s", i, fp_error_detail(rc));
            }
            pthread_mutex_unlock(&p->lock);
        }
    }
}

static void *worker(void *arg)
{
    FpPrepPool *p = arg;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stop)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->lock);
        run_slots(p);
        pthread_mutex_lock(&p->lock);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int fp_prep_pool_create(FpPrepPool **out, int threads)
{
    if (!out)
        return fp_error(FP_EINVALID, "fp_prep_pool_create: out is NULL");
    *out = NULL;
    if (threads < 0 || threads > 64)
        return fp_error(FP_EINVALID, "fp_prep_pool_create: %d threads: must be 0..64", threads);
    FpPrepPool *p = calloc(1, sizeof(*p));
    if (!p)
        return fp_error(-ENOMEM, "fp_prep_pool_create: out of memory");
    pthread_mutex_init(&p->batch_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    if (threads > 0) {
        p->threads = calloc((size_t)threads, sizeof(pthread_t));
        if (!p->threads) {
            fp_prep_pool_destroy(&p);
            return fp_error(-ENOMEM, "fp_prep_pool_create: out of memory");
        }
    }
    for (int i = 0; i < threads; i++) {
        int rc = pthread_create(&p->threads[i], NULL, worker, p);
        if (rc) {
            fp_prep_pool_destroy(&p);
            return fp_error(-rc, "fp_prep_pool_create: starting worker %d: %s", i, strerror(rc));
        }
        p->nthreads++;
    }
    *out = p;
    return 0;
}

void fp_prep_pool_destroy(FpPrepPool **pp)
{
    if (!pp || !*pp)
        return;
    FpPrepPool *p = *pp;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->batch_lock);
    free(p);
    *pp = NULL;
}

static int batch_serial(FpLetterbox *const plans[], const FpFrame *const frames[], int n, uint8_t *tensor,
                        size_t slot)
{
    for (int i = 0; i < n; i++) {
        int rc = fp_letterbox_run(plans[i], frames[i], tensor + (size_t)i * slot, slot);
        if (rc < 0)
            return fp_error(rc, "batch slot %d: %s", i, fp_error_detail(rc));
    }
    return 0;
}

int fp_prep_batch(FpPrepPool *pool, FpLetterbox *const plans[], const FpFrame *const frames[], int n,
                  void *tensor, size_t tensor_bytes)
{
    if (n < 0)
        return fp_error(FP_EINVALID, "fp_prep_batch: batch size %d: negative", n);
    if (n == 0)
        return 0;
    if (!plans || !frames || !tensor)
        return fp_error(FP_EINVALID, "fp_prep_batch: plans, frames or tensor is NULL");
    for (int i = 0; i < n; i++)
        if (!plans[i])
            return fp_error(FP_EINVALID, "fp_prep_batch: plan of slot %d is NULL", i);
    size_t slot = plans[0]->slot_bytes;
    for (int i = 1; i < n; i++)
        if (plans[i]->slot_bytes != slot)
            return fp_error(FP_EINVALID, "fp_prep_batch: slot %d is %zu bytes, slot 0 is %zu: plans must share one tensor shape",
                            i, plans[i]->slot_bytes, slot);
    if (tensor_bytes / slot < (size_t)n)
        return fp_error(FP_ETOO_LARGE, "fp_prep_batch: tensor has %zu bytes, %d slots of %zu need %zu", tensor_bytes,
                        n, slot, slot * (size_t)n);
    if (!pool || pool->nthreads == 0 || n == 1)
        return batch_serial(plans, frames, n, tensor, slot);

    pthread_mutex_lock(&pool->batch_lock);
    pthread_mutex_lock(&pool->lock);
    pool->plans = plans, pool->frames = frames, pool->n = n;
    pool->tensor = tensor, pool->slot = slot;
    pool->err = 0, pool->errmsg[0] = 0;
    atomic_store_explicit(&pool->next, 0, memory_order_relaxed);
    pool->pending = pool->nthreads;
    pool->gen++;
    pthread_cond_broadcast(&pool->work);
    pthread_mutex_unlock(&pool->lock);

    run_slots(pool);

    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0)
        pthread_cond_wait(&pool->done, &pool->lock);
    int rc = pool->err;
    char msg[256];
    memcpy(msg, pool->errmsg, sizeof(msg));
    pthread_mutex_unlock(&pool->lock);
    pthread_mutex_unlock(&pool->batch_lock);
    if (rc < 0)
        return fp_error(rc, "%s", msg);
    return 0;
}
