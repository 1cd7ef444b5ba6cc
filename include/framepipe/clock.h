// SPDX-License-Identifier: MIT
// Clocks: monotonic nanoseconds for latency, wall-clock nanoseconds for capture times.
#ifndef FRAMEPIPE_CLOCK_H
#define FRAMEPIPE_CLOCK_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CLOCK_MONOTONIC in nanoseconds: for intervals, deadlines and latencies. */
static inline int64_t fp_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_REALTIME in nanoseconds since the Unix epoch: for capture timestamps. */
static inline int64_t fp_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* An absolute CLOCK_MONOTONIC deadline `timeout_ns` from now (negative: none). */
static inline struct timespec fp_deadline_ts(int64_t timeout_ns)
{
    int64_t t = fp_clock_ns() + (timeout_ns < 0 ? 0 : timeout_ns);
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    return ts;
}

/* Sleeps for `ns` nanoseconds (restarting after signals). */
void fp_sleep_ns(int64_t ns);

#ifdef __cplusplus
}
#endif
#endif
