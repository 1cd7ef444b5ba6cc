// SPDX-License-Identifier: MIT
// Tests of the error table (fp_strerror, names, per-thread detail) and logging levels.
#include "fp_test.h"

#include "framepipe/error.h"
#include "framepipe/log.h"

#include <errno.h>
#include <pthread.h>

FP_TEST(error_codes_are_negative_and_distinct)
{
    CHECK(FP_EWOULD_BLOCK < 0);
    CHECK(FP_EINTERNAL < 0);
    CHECK(FP_EWOULD_BLOCK != FP_ETIMEOUT);
    /* framepipe's range never collides with -errno */
    CHECK(FP_EWOULD_BLOCK < -4096);
    CHECK(strcmp(fp_strerror(FP_ETIMEOUT), "timed out") == 0);
    CHECK(strcmp(fp_err_name(FP_EFLUSHING), "FP_EFLUSHING") == 0);
    CHECK(strcmp(fp_err_name(FP_EWOULD_BLOCK), "FP_EWOULD_BLOCK") == 0);
    CHECK(strcmp(fp_err_name(0), "OK") == 0);
}

FP_TEST(error_errno_passthrough)
{
    CHECK(strcmp(fp_err_name(-ENOSPC), "ENOSPC") == 0);
    CHECK(strstr(fp_strerror(-ENOSPC), "space") != NULL);
    CHECK(strcmp(fp_strerror(-99999999), "unknown error") == 0);
}

FP_TEST(error_detail_names_the_input)
{
    int rc = fp_error(FP_ECORRUPT, "clip.mp4: bad NAL at byte %d", 1234);
    CHECK_EQ(rc, FP_ECORRUPT);
    CHECK(strcmp(fp_error_detail(FP_ECORRUPT), "clip.mp4: bad NAL at byte 1234") == 0);
    /* a detail recorded for another code is not reused */
    CHECK(strcmp(fp_error_detail(FP_ETIMEOUT), "timed out") == 0);
    fp_error_clear();
    CHECK(strcmp(fp_error_detail(FP_ECORRUPT), fp_strerror(FP_ECORRUPT)) == 0);
}

static void *other_thread(void *arg)
{
    (void)arg;
    fp_error(FP_EIO, "other thread");
    return NULL;
}

FP_TEST(error_detail_is_per_thread)
{
    fp_error(FP_EIO, "main thread");
    pthread_t t;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, NULL);
    CHECK(strcmp(fp_error_detail(FP_EIO), "main thread") == 0);
}

FP_TEST(log_level_parse)
{
    FpLogLevel l;
    CHECK_EQ(fp_log_level_parse("debug", &l), 0);
    CHECK_EQ(l, FP_LOG_DEBUG);
    CHECK_EQ(fp_log_level_parse("loud", &l), FP_EINVALID);
    fp_log_set_level(FP_LOG_WARN);
    CHECK_EQ(fp_log_get_level(), FP_LOG_WARN);
}
