// SPDX-License-Identifier: MIT
// Logging from many threads at once, first use included (run under ThreadSanitizer in suite concurrent).
#include "fp_test.h"

#include "framepipe/log.h"

#include <pthread.h>

static pthread_barrier_t start;

static void *log_some(void *arg)
{
    pthread_barrier_wait(&start);
    for (int i = 0; i < 3; i++)
        fp_log_warn("test", "thread %d line %d (expected output)", (int)(intptr_t)arg, i);
    return NULL;
}

FP_TEST(log_first_use_from_many_threads)
{
    /* No fp_log call before the threads start: they race to initialise the logger. */
    pthread_t t[8];
    pthread_barrier_init(&start, NULL, 8);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, log_some, (void *)(intptr_t)i), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    CHECK(fp_log_get_level() <= FP_LOG_TRACE);
}
