// SPDX-License-Identifier: MIT
// Multi-threaded tests of FpPool (also run under ThreadSanitizer): no lost or double-returned buffer, wake-ups, destroy with buffers out.
#include "fp_test.h"

#include "framepipe/clock.h"
#include "framepipe/pool.h"

#include <pthread.h>
#include <stdatomic.h>

/*
 * Producers acquire (blocking, on a pool bounded well below demand), stamp
 * the buffer and hand it through a bounded queue to consumers; a consumer
 * takes an extra reference (as a second stage would), verifies the stamp
 * and drops both references. The first 8 bytes of every buffer are an
 * "in flight" flag flipped with atomic exchanges: a buffer handed out twice
 * at once, or returned while still in flight, trips it.
 */
enum { N_PRODUCERS = 3, N_CONSUMERS = 3, PER_PRODUCER = 10000, MAX_BUFFERS = 5, QUEUE_CAP = 4 };
#define FLAG_FREE 0x0ull
#define FLAG_FLIGHT 0xF11947ull

typedef struct Queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    FpBuffer *items[QUEUE_CAP];
    int head, count, producers_left;
} Queue;

typedef struct Shared {
    FpPool *pool;
    Queue q;
    atomic_int double_handout, bad_stamp, errors;
    atomic_long consumed;
} Shared;

typedef struct Stamp {
    _Atomic uint64_t flag;
    uint32_t producer, seq;
    uint64_t check;
} Stamp;

static void queue_push(Queue *q, FpBuffer *b)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == QUEUE_CAP)
        pthread_cond_wait(&q->not_full, &q->lock);
    q->items[(q->head + q->count) % QUEUE_CAP] = b;
    q->count++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
}

static FpBuffer *queue_pop(Queue *q)
{
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && q->producers_left > 0)
        pthread_cond_wait(&q->not_empty, &q->lock);
    FpBuffer *b = NULL;
    if (q->count) {
        b = q->items[q->head];
        q->head = (q->head + 1) % QUEUE_CAP;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return b;
}

typedef struct ProducerArg {
    Shared *sh;
    uint32_t id;
} ProducerArg;

static void *producer(void *arg)
{
    ProducerArg *pa = arg;
    Shared *sh = pa->sh;
    for (uint32_t i = 0; i < PER_PRODUCER; i++) {
        FpBuffer *b = NULL;
        /* mix blocking forever, blocking with a timeout, and sizes of both classes */
        int64_t timeout = (i % 3 == 0) ? -1 : 5 * 1000000000LL;
        size_t size = (i % 2) ? 4096 : 100;
        if (fp_pool_acquire(sh->pool, size, timeout, &b) < 0) {
            atomic_fetch_add(&sh->errors, 1);
            continue;
        }
        Stamp *st = (Stamp *)fp_buffer_data(b);
        /* fresh memory from a miss holds garbage, never FLAG_FLIGHT */
        if (atomic_exchange(&st->flag, FLAG_FLIGHT) == FLAG_FLIGHT)
            atomic_fetch_add(&sh->double_handout, 1);
        st->producer = pa->id;
        st->seq = i;
        st->check = (uint64_t)pa->id * 1000003u + i;
        queue_push(&sh->q, b);
    }
    pthread_mutex_lock(&sh->q.lock);
    sh->q.producers_left--;
    pthread_cond_broadcast(&sh->q.not_empty);
    pthread_mutex_unlock(&sh->q.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    Shared *sh = arg;
    FpBuffer *b;
    while ((b = queue_pop(&sh->q)) != NULL) {
        FpBuffer *second = fp_buffer_ref(b);
        if (fp_buffer_is_writable(b))
            atomic_fetch_add(&sh->errors, 1);
        Stamp *st = (Stamp *)fp_buffer_data(second);
        if (st->check != (uint64_t)st->producer * 1000003u + st->seq)
            atomic_fetch_add(&sh->bad_stamp, 1);
        fp_buffer_unref(&b);
        if (atomic_exchange(&st->flag, FLAG_FREE) != FLAG_FLIGHT)
            atomic_fetch_add(&sh->double_handout, 1);
        fp_buffer_unref(&second);
        atomic_fetch_add(&sh->consumed, 1);
    }
    return NULL;
}

FP_TEST_TIMED(pool_threads_no_lost_or_double_returned_buffer, 120)
{
    static Shared sh;
    FpPoolConfig cfg = {0};
    cfg.name = "mt";
    cfg.class_size[0] = 128;
    cfg.class_size[1] = 4096;
    cfg.n_classes = 2;
    cfg.max_buffers = MAX_BUFFERS;
    cfg.idle_evict_ns = 1000000; /* evictions and cross-class steals race with everything else */
    cfg.grow_below_hit_rate = 0.5;
    cfg.shrink_idle_fraction = 0.5;
    cfg.tune_window = 16;
    CHECK_OK(fp_pool_create(&sh.pool, &cfg));
    pthread_mutex_init(&sh.q.lock, NULL);
    pthread_cond_init(&sh.q.not_empty, NULL);
    pthread_cond_init(&sh.q.not_full, NULL);
    sh.q.producers_left = N_PRODUCERS;

    pthread_t prod[N_PRODUCERS], cons[N_CONSUMERS];
    ProducerArg pa[N_PRODUCERS];
    for (int i = 0; i < N_CONSUMERS; i++)
        CHECK(pthread_create(&cons[i], NULL, consumer, &sh) == 0);
    for (int i = 0; i < N_PRODUCERS; i++) {
        pa[i] = (ProducerArg){&sh, (uint32_t)i};
        CHECK(pthread_create(&prod[i], NULL, producer, &pa[i]) == 0);
    }
    for (int i = 0; i < N_PRODUCERS; i++)
        pthread_join(prod[i], NULL);
    for (int i = 0; i < N_CONSUMERS; i++)
        pthread_join(cons[i], NULL);

    CHECK_EQ(atomic_load(&sh.errors), 0);
    CHECK_EQ(atomic_load(&sh.double_handout), 0);
    CHECK_EQ(atomic_load(&sh.bad_stamp), 0);
    CHECK_EQ(atomic_load(&sh.consumed), N_PRODUCERS * PER_PRODUCER);
    FpPoolStats s;
    fp_pool_get_stats(sh.pool, &s);
    CHECK_EQ(s.hits + s.misses, N_PRODUCERS * PER_PRODUCER);
    CHECK_EQ(s.timeouts, 0);
    CHECK_EQ(s.in_use, 0);
    CHECK(s.peak_in_use <= MAX_BUFFERS);
    CHECK(s.idle <= MAX_BUFFERS);
    CHECK_EQ(s.bytes_in_use, 0);
    /* every buffer in existence is home: bytes_total is made of idle buffers only */
    CHECK(s.bytes_total >= s.idle * 128 && s.bytes_total <= s.idle * 4096);
    CHECK(s.waits > 0); /* the bound really pushed back */
    fp_pool_destroy(&sh.pool);
}

typedef struct Waiter {
    FpPool *pool;
    int64_t timeout;
    int rc;
    FpBuffer *got;
} Waiter;

static void *waiter(void *arg)
{
    Waiter *w = arg;
    w->rc = fp_pool_acquire(w->pool, 64, w->timeout, &w->got);
    return NULL;
}

static void wait_for_waits(FpPool *p, uint64_t n)
{
    FpPoolStats s;
    for (int i = 0; i < 5000; i++) {
        fp_pool_get_stats(p, &s);
        if (s.waits >= n)
            return;
        fp_sleep_ns(1000000);
    }
    CHECK_MSG(0, "waiters never blocked");
}

FP_TEST(pool_threads_flushing_wakes_blocked_waiters)
{
    FpPoolConfig cfg = {.name = "flush", .class_size = {64}, .n_classes = 1, .prealloc = 1, .max_buffers = 1};
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *held = NULL;
    CHECK_OK(fp_pool_acquire(p, 64, 0, &held));
    Waiter w[3];
    pthread_t t[3];
    for (int i = 0; i < 3; i++) {
        w[i] = (Waiter){p, i == 0 ? -1 : 30 * 1000000000LL, 1, NULL};
        CHECK(pthread_create(&t[i], NULL, waiter, &w[i]) == 0);
    }
    wait_for_waits(p, 3);
    int64_t t0 = fp_clock_ns();
    fp_pool_set_flushing(p, 1);
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(w[i].rc, FP_EFLUSHING);
        CHECK(w[i].got == NULL);
    }
    CHECK(fp_clock_ns() - t0 < 10 * 1000000000LL); /* woken, not timed out */
    fp_pool_set_flushing(p, 0);
    fp_buffer_unref(&held);
    fp_pool_destroy(&p);
}

FP_TEST(pool_threads_release_wakes_timed_waiter)
{
    FpPoolConfig cfg = {.name = "wake", .class_size = {64}, .n_classes = 1, .prealloc = 1, .max_buffers = 1};
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    FpBuffer *held = NULL;
    CHECK_OK(fp_pool_acquire(p, 64, 0, &held));
    uint8_t *data = fp_buffer_data(held);
    Waiter w = {p, 30 * 1000000000LL, 1, NULL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, waiter, &w) == 0);
    wait_for_waits(p, 1);
    fp_buffer_unref(&held);
    pthread_join(t, NULL);
    CHECK_OK(w.rc);
    CHECK(fp_buffer_data(w.got) == data);
    FpPoolStats s;
    fp_pool_get_stats(p, &s);
    CHECK_EQ(s.waits, 1);
    CHECK_EQ(s.timeouts, 0);
    fp_buffer_unref(&w.got);
    fp_pool_destroy(&p);
}

typedef struct Holder {
    FpBuffer *buf;
    int rounds;
} Holder;

static void *holder(void *arg)
{
    Holder *h = arg;
    /* keep passing references around after the pool handle is gone */
    for (int i = 0; i < h->rounds; i++) {
        FpBuffer *r = fp_buffer_ref(h->buf);
        fp_buffer_data(r)[i % 64] = (uint8_t)i;
        fp_buffer_unref(&r);
    }
    fp_buffer_unref(&h->buf);
    return NULL;
}

FP_TEST(pool_threads_destroy_while_buffers_are_out)
{
    FpPoolConfig cfg = {.name = "late", .class_size = {64}, .n_classes = 1, .prealloc = 2};
    FpPool *p = NULL;
    CHECK_OK(fp_pool_create(&p, &cfg));
    enum { N = 4 };
    Holder h[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        h[i].rounds = 20000;
        CHECK_OK(fp_pool_acquire(p, 64, 0, &h[i].buf));
        fp_buffer_ref(h[i].buf); /* two references each: the thread drops one, we drop the other */
    }
    FpBuffer *ours[N];
    for (int i = 0; i < N; i++)
        ours[i] = h[i].buf;
    for (int i = 0; i < N; i++)
        CHECK(pthread_create(&t[i], NULL, holder, &h[i]) == 0);
    fp_pool_destroy(&p); /* races with the threads' last references; ASan/TSan and the leak check judge */
    for (int i = 0; i < N; i++)
        fp_buffer_unref(&ours[i]);
    for (int i = 0; i < N; i++)
        pthread_join(t[i], NULL);
}
