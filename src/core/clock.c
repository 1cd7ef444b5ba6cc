// SPDX-License-Identifier: MIT
// Reading the monotonic and wall clocks, and sleeping on the monotonic one.
#include "framepipe/clock.h"

#include <errno.h>

int64_t fp_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t fp_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct timespec fp_deadline_ts(int64_t timeout_ns)
{
    int64_t t = fp_clock_ns() + (timeout_ns < 0 ? 0 : timeout_ns);
    struct timespec ts = {(time_t)(t / 1000000000), (long)(t % 1000000000)};
    return ts;
}

void fp_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
