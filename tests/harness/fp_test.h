// SPDX-License-Identifier: MIT
// Minimal test harness: every case runs in a forked child with a timeout; the run ends with "N passed, N failed".
#ifndef FP_TEST_H
#define FP_TEST_H

#include "framepipe/error.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * FP_TEST(name) { ... } defines and registers a case. A case fails when a
 * check fails, when it crashes or a sanitizer reports, when it leaks (ASan's
 * leak check runs at the child's exit), or when it outlives its timeout
 * (FP_TEST_TIMEOUT seconds, default 60, or FP_TEST_TIMED(name, seconds)).
 * The runner (fp_test_main.c) takes optional name filters (substrings),
 * `--list`, and `--no-fork` (run in-process, for a debugger).
 */
typedef void (*FpTestFn)(void);
void fp__test_register(const char *name, FpTestFn fn, int timeout_s);
void fp__test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

#define FP_TEST_TIMED(name, timeout_s)                                                   \
    static void name(void);                                                              \
    __attribute__((constructor)) static void fp__reg_##name(void)                        \
    {                                                                                    \
        fp__test_register(#name, name, timeout_s);                                       \
    }                                                                                    \
    static void name(void)

#define FP_TEST(name) FP_TEST_TIMED(name, 0)

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fp__test_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond);                \
    } while (0)

#define CHECK_MSG(cond, ...)                                                             \
    do {                                                                                 \
        if (!(cond))                                                                     \
            fp__test_fail(__FILE__, __LINE__, __VA_ARGS__);                              \
    } while (0)

#define CHECK_EQ(a, b)                                                                   \
    do {                                                                                 \
        long long fp__a = (long long)(a), fp__b = (long long)(b);                        \
        if (fp__a != fp__b)                                                              \
            fp__test_fail(__FILE__, __LINE__, "CHECK_EQ(%s, %s): %lld != %lld", #a, #b, \
                          fp__a, fp__b);                                                 \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                            \
    do {                                                                                 \
        double fp__a = (double)(a), fp__b = (double)(b);                                 \
        if (!(fp__a - fp__b <= (tol) && fp__b - fp__a <= (tol)))                         \
            fp__test_fail(__FILE__, __LINE__, "CHECK_NEAR(%s, %s): %.9g vs %.9g (tol %g)", \
                          #a, #b, fp__a, fp__b, (double)(tol));                          \
    } while (0)

/* Checks that an int-returning call succeeded (>= 0), printing fp_strerror otherwise. */
#define CHECK_OK(expr)                                                                   \
    do {                                                                                 \
        int fp__rc = (expr);                                                             \
        if (fp__rc < 0)                                                                  \
            fp__test_fail(__FILE__, __LINE__, "%s returned %d (%s)", #expr, fp__rc,      \
                          fp__test_strerror(fp__rc));                                    \
    } while (0)

const char *fp__test_strerror(int code);
/* How many cases this binary registered (the runner has no limit; the harness self-test checks it). */
int fp__test_count(void);

/* Paths given by the build: FP_SOURCE_DIR, FP_BUILD_DIR, FP_CACHE_DIR (env, with fallbacks). */
const char *fp_test_source_dir(void);
const char *fp_test_build_dir(void);
const char *fp_test_cache_dir(void);
/* A fresh private temporary directory for this case (removed by the runner afterwards). */
const char *fp_test_tmpdir(void);
/* Skips the rest of this case (counted as skipped, not passed) with a reason. */
void fp_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
