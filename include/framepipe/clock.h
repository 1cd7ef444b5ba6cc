// SPDX-License-Identifier: MIT
// Clocks: monotonic nanoseconds for latency, wall-clock nanoseconds for capture times.
#ifndef FRAMEPIPE_CLOCK_H
#define FRAMEPIPE_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The clock readers are out of line: CLOCK_MONOTONIC and clock_gettime are
 * POSIX, not C11, and this header must compile in a strict `-std=c11` or C++
 * program that defines no feature-test macro. None of them can fail; any
 * thread may call them.
 */

/* CLOCK_MONOTONIC in nanoseconds: for intervals, deadlines and latencies. */
int64_t fp_clock_ns(void);

/* CLOCK_REALTIME in nanoseconds since the Unix epoch: for capture timestamps. */
int64_t fp_wall_ns(void);

/* An absolute CLOCK_MONOTONIC deadline `timeout_ns` from now (negative: now), for pthread_cond_timedwait on a monotonic condvar. */
struct timespec fp_deadline_ts(int64_t timeout_ns);

/* Sleeps for `ns` nanoseconds (restarting after signals); ns <= 0 returns at once. */
void fp_sleep_ns(int64_t ns);

#ifdef __cplusplus
}
#endif
#endif
