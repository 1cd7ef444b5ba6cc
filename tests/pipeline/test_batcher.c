// SPDX-License-Identifier: MIT
// Tests of FpBatcher: full and partial batches, max wait, per-camera limit, fairness, latency budget, end, stop, threads.
#include "fp_test.h"

#include "framepipe/batcher.h"
#include "framepipe/clock.h"

#include <pthread.h>
#include <stdatomic.h>

/* A test input: a queue of frames that a producer fills; frames count their release. */
typedef struct TestInput {
    pthread_mutex_t lock;
    FpFrame frames[256];
    int n, head; /* frames[head..n) wait */
    int closed;
    int camera;
    atomic_int released;
} TestInput;

static void frame_release(FpFrame *f, void *opaque)
{
    (void)f;
    atomic_fetch_add(&((TestInput *)opaque)->released, 1);
}

static void input_init(TestInput *in, int camera)
{
    memset(in, 0, sizeof(*in));
    pthread_mutex_init(&in->lock, NULL);
    in->camera = camera;
}

/* Queues one frame (decoded `age_ns` ago) and returns it. */
static FpFrame *input_push(TestInput *in, int64_t age_ns)
{
    pthread_mutex_lock(&in->lock);
    FpFrame *f = &in->frames[in->n];
    memset(f, 0, sizeof(*f));
    f->camera = in->camera;
    f->seq = (uint64_t)in->n;
    f->decoded_ns = fp_clock_ns() - age_ns;
    fp_frame_init_ref(f, frame_release, in);
    in->n++;
    pthread_mutex_unlock(&in->lock);
    return f;
}

static void input_close(TestInput *in)
{
    pthread_mutex_lock(&in->lock);
    in->closed = 1;
    pthread_mutex_unlock(&in->lock);
}

static int input_pull(void *opaque, FpFrame **out)
{
    TestInput *in = opaque;
    int rc;
    pthread_mutex_lock(&in->lock);
    if (in->head < in->n) {
        *out = &in->frames[in->head++];
        rc = 0;
    } else {
        rc = in->closed ? FP_EEND_OF_STREAM : FP_EWOULD_BLOCK;
    }
    pthread_mutex_unlock(&in->lock);
    return rc;
}

static FpBatcher *make(int max_batch, int64_t max_wait_ns, int per_camera, int64_t budget_ns)
{
    FpBatcherConfig c;
    fp_batcher_config_init(&c);
    c.max_batch = max_batch;
    c.max_wait_ns = max_wait_ns;
    c.per_camera = per_camera;
    c.latency_budget_ns = budget_ns;
    FpBatcher *b = NULL;
    CHECK_OK(fp_batcher_create(&b, &c));
    return b;
}

static void release_batch(FpBatch *bt)
{
    for (int i = 0; i < bt->n; i++)
        fp_frame_unref(&bt->frames[i]);
}

FP_TEST(batcher_full_batch_takes_round_robin_up_to_the_per_camera_limit)
{
    static TestInput in[3];
    FpBatcher *b = make(6, 10 * 1000000000LL, 2, 0);
    for (int c = 0; c < 3; c++) {
        input_init(&in[c], c);
        for (int k = 0; k < 10; k++)
            input_push(&in[c], 0);
        CHECK_EQ(fp_batcher_add_input(b, input_pull, &in[c]), c);
    }
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, 0), 6);
    /* one per camera per round: 0 1 2 0 1 2, in sequence order within a camera */
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(bt.inputs[i], i % 3);
        CHECK_EQ(bt.frames[i]->camera, i % 3);
        CHECK_EQ(bt.frames[i]->seq, (uint64_t)(i / 3));
    }
    release_batch(&bt);
    FpBatcherStats st;
    fp_batcher_get_stats(b, &st);
    CHECK_EQ(st.batches, 1);
    CHECK_EQ(st.frames, 6);
    CHECK_EQ(st.by_reason[FP_BATCH_FULL], 1);
    fp_batcher_destroy(&b);
    CHECK(b == NULL);
    for (int c = 0; c < 3; c++)
        CHECK_EQ(atomic_load(&in[c].released), 2);
}

FP_TEST(batcher_partial_batch_leaves_after_max_wait)
{
    static TestInput in;
    input_init(&in, 0);
    const int64_t wait = 30000000; /* 30 ms */
    FpBatcher *b = make(8, wait, 8, 0);
    fp_batcher_add_input(b, input_pull, &in);
    input_push(&in, 0);
    int64_t t0 = fp_clock_ns();
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, 5000000000LL), 1);
    int64_t waited = fp_clock_ns() - t0;
    /* It waited for more frames (at least max_wait), then gave up with a partial batch. */
    CHECK_MSG(waited >= wait, "emitted after %.1f ms, before max_wait", waited / 1e6);
    CHECK(bt.formed_ns - bt.first_ns >= wait);
    FpBatcherStats st;
    fp_batcher_get_stats(b, &st);
    CHECK_EQ(st.by_reason[FP_BATCH_WAIT], 1);
    release_batch(&bt);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_no_frame_times_out)
{
    static TestInput in;
    input_init(&in, 0);
    FpBatcher *b = make(4, 1000000, 1, 0);
    fp_batcher_add_input(b, input_pull, &in);
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, 0), FP_ETIMEOUT);
    int64_t t0 = fp_clock_ns();
    CHECK_EQ(fp_batcher_next(b, &bt, 20000000), FP_ETIMEOUT);
    CHECK(fp_clock_ns() - t0 >= 20000000);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_per_camera_limit_emits_at_once_when_nothing_can_be_added)
{
    static TestInput in;
    input_init(&in, 0);
    /* max_wait 60 s: a batcher that waited for the full batch would time the test out. */
    FpBatcher *b = make(8, 60 * 1000000000LL, 3, 0);
    fp_batcher_add_input(b, input_pull, &in);
    for (int k = 0; k < 10; k++)
        input_push(&in, 0);
    FpBatch bt;
    for (int round = 0; round < 3; round++) {
        CHECK_EQ(fp_batcher_next(b, &bt, -1), 3);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(bt.frames[i]->seq, (uint64_t)(round * 3 + i));
        release_batch(&bt);
    }
    FpBatcherStats st;
    fp_batcher_get_stats(b, &st);
    CHECK_EQ(st.by_reason[FP_BATCH_LIMIT], 3);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_fast_camera_cannot_starve_the_others)
{
    /* 5 cameras, batches of 2, one frame per camera per batch: the first camera rotates. */
    static TestInput in[5];
    FpBatcher *b = make(2, 60 * 1000000000LL, 1, 0);
    for (int c = 0; c < 5; c++) {
        input_init(&in[c], c);
        fp_batcher_add_input(b, input_pull, &in[c]);
    }
    for (int k = 0; k < 100; k++)
        input_push(&in[0], 0); /* camera 0 is very fast */
    for (int c = 1; c < 5; c++)
        for (int k = 0; k < 4; k++)
            input_push(&in[c], 0);
    int seen[5] = {0};
    FpBatch bt;
    for (int round = 0; round < 10; round++) {
        CHECK_EQ(fp_batcher_next(b, &bt, -1), 2);
        CHECK(bt.inputs[0] != bt.inputs[1]);
        for (int i = 0; i < 2; i++)
            seen[bt.inputs[i]]++;
        release_batch(&bt);
    }
    for (int c = 0; c < 5; c++)
        CHECK_MSG(seen[c] == 4, "camera %d had %d of 20 slots (expected 4)", c, seen[c]);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_latency_budget_forces_an_early_batch)
{
    static TestInput in;
    input_init(&in, 0);
    FpBatcher *b = make(8, 60 * 1000000000LL, 8, 50000000);
    fp_batcher_add_input(b, input_pull, &in);
    input_push(&in, 100000000); /* decoded 100 ms ago, budget 50 ms */
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, -1), 1);
    FpBatcherStats st;
    fp_batcher_get_stats(b, &st);
    CHECK_EQ(st.by_reason[FP_BATCH_BUDGET], 1);
    release_batch(&bt);
    /* A fresh frame waits until its budget runs out (not max_wait's 60 s). */
    input_push(&in, 0);
    int64_t t0 = fp_clock_ns();
    CHECK_EQ(fp_batcher_next(b, &bt, -1), 1);
    CHECK(fp_clock_ns() - t0 >= 40000000);
    release_batch(&bt);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_ends_when_every_input_has_ended_and_reports_how)
{
    static TestInput in[2];
    FpBatcher *b = make(4, 1000000, 4, 0);
    for (int c = 0; c < 2; c++) {
        input_init(&in[c], c);
        fp_batcher_add_input(b, input_pull, &in[c]);
    }
    input_push(&in[0], 0);
    input_push(&in[1], 0);
    input_push(&in[1], 0);
    input_close(&in[0]);
    input_close(&in[1]);
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, -1), 3);
    release_batch(&bt);
    CHECK_EQ(fp_batcher_next(b, &bt, -1), FP_EEND_OF_STREAM);
    CHECK_EQ(fp_batcher_next(b, &bt, -1), FP_EEND_OF_STREAM);
    int code = 0;
    CHECK_EQ(fp_batcher_input_ended(b, 1, &code), 1);
    CHECK_EQ(code, FP_EEND_OF_STREAM);
    /* inputs cannot be added once batching began */
    CHECK_EQ(fp_batcher_add_input(b, input_pull, &in[0]), FP_EINVALID);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_rejects_bad_config)
{
    FpBatcherConfig c;
    FpBatcher *b = NULL;
    fp_batcher_config_init(&c);
    c.max_batch = 0;
    CHECK_EQ(fp_batcher_create(&b, &c), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "max_batch"));
    fp_batcher_config_init(&c);
    c.per_camera = 65;
    CHECK_EQ(fp_batcher_create(&b, &c), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "per_camera"));
    fp_batcher_config_init(&c);
    c.max_wait_ns = -1;
    CHECK_EQ(fp_batcher_create(&b, &c), FP_EINVALID);
    CHECK(b == NULL);
}

/* ---- threads ---- */

typedef struct Producer {
    FpBatcher *b;
    TestInput *in;
    int frames;
    int64_t gap_ns;
} Producer;

static void *producer_main(void *arg)
{
    Producer *pr = arg;
    for (int k = 0; k < pr->frames; k++) {
        if (pr->gap_ns)
            fp_sleep_ns(pr->gap_ns);
        input_push(pr->in, 0);
        fp_batcher_notify(pr->b);
    }
    input_close(pr->in);
    fp_batcher_notify(pr->b);
    return NULL;
}

FP_TEST(batcher_notify_wakes_a_waiting_consumer)
{
    static TestInput in;
    input_init(&in, 0);
    FpBatcher *b = make(1, 0, 1, 0);
    fp_batcher_add_input(b, input_pull, &in);
    Producer pr = {b, &in, 1, 50000000};
    pthread_t t;
    pthread_create(&t, NULL, producer_main, &pr);
    FpBatch bt;
    /* forever: only the notification can end this wait */
    CHECK_EQ(fp_batcher_next(b, &bt, -1), 1);
    release_batch(&bt);
    CHECK_EQ(fp_batcher_next(b, &bt, -1), FP_EEND_OF_STREAM);
    pthread_join(t, NULL);
    fp_batcher_destroy(&b);
}

static void *stopper_main(void *arg)
{
    fp_sleep_ns(50000000);
    fp_batcher_stop(arg);
    return NULL;
}

FP_TEST(batcher_stop_wakes_a_waiting_consumer)
{
    static TestInput in;
    input_init(&in, 0);
    FpBatcher *b = make(4, 0, 1, 0);
    fp_batcher_add_input(b, input_pull, &in);
    pthread_t t;
    pthread_create(&t, NULL, stopper_main, b);
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, -1), FP_EFLUSHING);
    pthread_join(t, NULL);
    fp_batcher_destroy(&b);
}

typedef struct Consumer {
    FpBatcher *b;
    int got[4];
    uint64_t last_seq[4];
    int order_ok;
    int max_n;
} Consumer;

static void *consumer_main(void *arg)
{
    Consumer *c = arg;
    FpBatch bt;
    c->order_ok = 1;
    for (;;) {
        int n = fp_batcher_next(c->b, &bt, -1);
        if (n < 0)
            break;
        if (n > c->max_n)
            c->max_n = n;
        for (int i = 0; i < n; i++)
            c->got[bt.inputs[i]]++;
        release_batch(&bt);
    }
    return NULL;
}

FP_TEST(batcher_many_producers_two_consumers_deliver_every_frame_once)
{
    static TestInput in[4];
    FpBatcher *b = make(4, 2000000, 2, 0);
    Producer pr[4];
    pthread_t pt[4], ct[2];
    Consumer cons[2];
    memset(cons, 0, sizeof(cons));
    for (int c = 0; c < 4; c++) {
        input_init(&in[c], c);
        fp_batcher_add_input(b, input_pull, &in[c]);
        pr[c] = (Producer){b, &in[c], 200, c * 20000};
    }
    for (int k = 0; k < 2; k++) {
        cons[k].b = b;
        pthread_create(&ct[k], NULL, consumer_main, &cons[k]);
    }
    for (int c = 0; c < 4; c++)
        pthread_create(&pt[c], NULL, producer_main, &pr[c]);
    for (int c = 0; c < 4; c++)
        pthread_join(pt[c], NULL);
    for (int k = 0; k < 2; k++)
        pthread_join(ct[k], NULL);
    for (int c = 0; c < 4; c++) {
        CHECK_EQ(cons[0].got[c] + cons[1].got[c], 200);
        CHECK_EQ(atomic_load(&in[c].released), 200);
    }
    CHECK(cons[0].max_n <= 4 && cons[1].max_n <= 4);
    fp_batcher_destroy(&b);
}

FP_TEST(batcher_per_camera_latency_budget_overrides_the_default)
{
    static TestInput in[2];
    FpBatcher *b = make(8, 200000000, 8, 0); /* max_wait 200 ms, no default budget */
    for (int c = 0; c < 2; c++) {
        input_init(&in[c], c);
        fp_batcher_add_input(b, input_pull, &in[c]);
    }
    CHECK_OK(fp_batcher_set_input_budget(b, 1, 30000000)); /* camera 1: 30 ms */
    CHECK_EQ(fp_batcher_set_input_budget(b, 2, 1000), FP_EINVALID);
    CHECK_EQ(fp_batcher_set_input_budget(b, 0, -1), FP_EINVALID);
    /* camera 0 has no budget: even an old frame waits for max_wait */
    input_push(&in[0], 1000000000);
    FpBatch bt;
    CHECK_EQ(fp_batcher_next(b, &bt, -1), 1);
    FpBatcherStats st;
    fp_batcher_get_stats(b, &st);
    CHECK_EQ(st.by_reason[FP_BATCH_WAIT], 1);
    release_batch(&bt);
    /* camera 1's fresh frame leaves when its 30 ms are up, long before max_wait */
    input_push(&in[1], 0);
    int64_t t0 = fp_clock_ns();
    CHECK_EQ(fp_batcher_next(b, &bt, -1), 1);
    int64_t waited = fp_clock_ns() - t0;
    CHECK_MSG(waited >= 25000000, "left after %.1f ms", waited / 1e6);
    fp_batcher_get_stats(b, &st);
    CHECK_EQ(st.by_reason[FP_BATCH_BUDGET], 1);
    release_batch(&bt);
    /* budgets are fixed once batching began */
    CHECK_EQ(fp_batcher_set_input_budget(b, 0, 1000), FP_EINVALID);
    fp_batcher_destroy(&b);
}
