// SPDX-License-Identifier: MIT
// The prep thread pool: parallel batches equal serial runs slot for slot, errors name their slot, concurrent callers are serialised.
#include "fp_test.h"
#include "prep_test_util.h"

#include "framepipe/error.h"
#include "framepipe/prep.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define NB 6

typedef struct Batch {
    PtFrame pf[NB];
    FpLetterbox *lb[NB];
    const FpFrame *frames[NB];
    size_t slot;
    uint8_t *expect; /* serial results */
} Batch;

static void batch_make(Batch *b, uint64_t seed)
{
    static const FpPixelFormat fmts[] = {FP_PIX_YUV420P, FP_PIX_NV12, FP_PIX_RGB24, FP_PIX_BGR24, FP_PIX_GRAY8};
    uint64_t s = seed;
    FpPrepOptions o;
    fp_prep_options_init(&o, 96, 64);
    for (int i = 0; i < NB; i++) {
        int w = pt_range(&s, 20, 300), h = pt_range(&s, 20, 200);
        FpPixelFormat f = fmts[i % 5];
        CHECK(pt_frame_alloc(&b->pf[i], w, h, f, NULL, 0) == 0);
        pt_fill_random(&b->pf[i], &s);
        b->frames[i] = &b->pf[i].f;
        b->lb[i] = NULL;
        CHECK_OK(fp_letterbox_create(&b->lb[i], w, h, f, &o));
    }
    b->slot = fp_letterbox_slot_bytes(b->lb[0]);
    b->expect = malloc(b->slot * NB);
    for (int i = 0; i < NB; i++)
        CHECK_OK(fp_letterbox_run(b->lb[i], b->frames[i], b->expect + i * b->slot, b->slot));
}

static void batch_free(Batch *b)
{
    for (int i = 0; i < NB; i++) {
        fp_letterbox_destroy(&b->lb[i]);
        pt_frame_free(&b->pf[i]);
    }
    free(b->expect);
}

FP_TEST(pool_batch_equals_serial)
{
    Batch b;
    batch_make(&b, 1);
    FpPrepPool *pool = NULL;
    CHECK_OK(fp_prep_pool_create(&pool, 3));
    uint8_t *tensor = malloc(b.slot * NB);
    for (int rep = 0; rep < 20; rep++) {
        memset(tensor, rep, b.slot * NB);
        int n = rep % 7 == 6 ? NB : 1 + rep % NB;
        CHECK_OK(fp_prep_batch(pool, b.lb, b.frames, n, tensor, b.slot * NB));
        CHECK(memcmp(tensor, b.expect, b.slot * (size_t)n) == 0);
    }
    /* serial (no pool) gives the same */
    memset(tensor, 0, b.slot * NB);
    CHECK_OK(fp_prep_batch(NULL, b.lb, b.frames, NB, tensor, b.slot * NB));
    CHECK(memcmp(tensor, b.expect, b.slot * NB) == 0);
    fp_prep_pool_destroy(&pool);
    CHECK(pool == NULL);
    fp_prep_pool_destroy(&pool);
    free(tensor);
    batch_free(&b);
}

FP_TEST(pool_errors_name_the_slot)
{
    Batch b;
    batch_make(&b, 2);
    FpPrepPool *pool = NULL;
    CHECK_EQ(fp_prep_pool_create(&pool, -1), FP_EINVALID);
    CHECK(pool == NULL);
    CHECK_OK(fp_prep_pool_create(&pool, 2));
    uint8_t *tensor = malloc(b.slot * NB);
    /* slot 3 gets a frame that does not match its plan */
    const FpFrame *frames[NB];
    memcpy(frames, b.frames, sizeof(frames));
    frames[3] = b.frames[4];
    CHECK_EQ(fp_prep_batch(pool, b.lb, frames, NB, tensor, b.slot * NB), FP_EINVALID);
    CHECK_MSG(strstr(fp_error_detail(FP_EINVALID), "batch slot 3") != NULL, "detail: %s",
              fp_error_detail(FP_EINVALID));
    CHECK_EQ(fp_prep_batch(pool, b.lb, b.frames, NB, tensor, b.slot * NB - 1), FP_ETOO_LARGE);
    CHECK_EQ(fp_prep_batch(pool, b.lb, b.frames, -1, tensor, b.slot * NB), FP_EINVALID);
    CHECK_EQ(fp_prep_batch(pool, b.lb, b.frames, 0, tensor, 0), 0);
    /* plans of different shapes cannot share a tensor */
    FpPrepOptions o;
    fp_prep_options_init(&o, 32, 32);
    FpLetterbox *other = NULL;
    CHECK_OK(fp_letterbox_create(&other, b.pf[1].f.width, b.pf[1].f.height, b.pf[1].f.format, &o));
    FpLetterbox *plans[NB];
    memcpy(plans, b.lb, sizeof(plans));
    plans[1] = other;
    CHECK_EQ(fp_prep_batch(pool, plans, b.frames, NB, tensor, b.slot * NB), FP_EINVALID);
    /* the pool still works after errors */
    CHECK_OK(fp_prep_batch(pool, b.lb, b.frames, NB, tensor, b.slot * NB));
    CHECK(memcmp(tensor, b.expect, b.slot * NB) == 0);
    fp_letterbox_destroy(&other);
    fp_prep_pool_destroy(&pool);
    free(tensor);
    batch_free(&b);
}

typedef struct Caller {
    FpPrepPool *pool;
    Batch *b;
    int ok;
} Caller;

static void *caller(void *arg)
{
    Caller *c = arg;
    uint8_t *tensor = malloc(c->b->slot * NB);
    c->ok = 1;
    for (int rep = 0; rep < 15; rep++) {
        if (fp_prep_batch(c->pool, c->b->lb, c->b->frames, NB, tensor, c->b->slot * NB) != 0 ||
            memcmp(tensor, c->b->expect, c->b->slot * NB) != 0)
            c->ok = 0;
    }
    free(tensor);
    return NULL;
}

/* Two threads sharing one pool (and the same plans): batches are serialised, results stay exact. */
FP_TEST(pool_concurrent_callers)
{
    Batch b;
    batch_make(&b, 3);
    FpPrepPool *pool = NULL;
    CHECK_OK(fp_prep_pool_create(&pool, 2));
    Caller c[2] = {{pool, &b, 0}, {pool, &b, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&t[i], NULL, caller, &c[i]) == 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(c[0].ok && c[1].ok);
    fp_prep_pool_destroy(&pool);
    batch_free(&b);
}

/* Creating and destroying pools repeatedly joins every worker (no leaks, no hangs). */
FP_TEST(pool_create_destroy_cycles)
{
    for (int i = 0; i < 20; i++) {
        FpPrepPool *pool = NULL;
        CHECK_OK(fp_prep_pool_create(&pool, i % 4));
        fp_prep_pool_destroy(&pool);
        CHECK(pool == NULL);
    }
}

/* ---------- zero allocations per frame ---------- */

/* Provided by the ASan and TSan runtimes (the builds these tests run in); weak so other builds skip. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *)) __attribute__((weak));

static _Atomic long n_mallocs;
static void count_malloc(const volatile void *p, size_t n)
{
    (void)p, (void)n;
    atomic_fetch_add(&n_mallocs, 1);
}
static void ignore_free(const volatile void *p)
{
    (void)p;
}

/* After the plans and the pool exist, filling slots and whole batches allocates nothing, on any thread. */
FP_TEST(pool_no_allocation_per_frame)
{
    if (!__sanitizer_install_malloc_and_free_hooks)
        fp_test_skip("allocation hooks need the ASan or TSan runtime");
    Batch b;
    batch_make(&b, 4);
    FpPrepPool *pool = NULL;
    CHECK_OK(fp_prep_pool_create(&pool, 2));
    uint8_t *tensor = malloc(b.slot * NB);
    CHECK_OK(fp_prep_batch(pool, b.lb, b.frames, NB, tensor, b.slot * NB)); /* warm-up */
    CHECK(__sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free) != 0);
    atomic_store(&n_mallocs, 0);
    for (int rep = 0; rep < 10; rep++) {
        CHECK_OK(fp_prep_batch(pool, b.lb, b.frames, NB, tensor, b.slot * NB));
        for (int i = 0; i < NB; i++)
            CHECK_OK(fp_letterbox_run(b.lb[i], b.frames[i], tensor + i * b.slot, b.slot));
        CHECK_OK(fp_letterbox_set_source(b.lb[0], b.frames[0]->width, b.frames[0]->height, b.frames[0]->format));
    }
    long n = atomic_load(&n_mallocs);
    CHECK_MSG(n == 0, "%ld allocations during 10 batches and 60 single runs", n);
    /* the hook does count: one malloc here is seen */
    void *volatile probe = malloc(32); /* volatile: the compiler may not drop the pair */
    CHECK(atomic_load(&n_mallocs) >= 1);
    free(probe);
    fp_prep_pool_destroy(&pool);
    free(tensor);
    batch_free(&b);
}
