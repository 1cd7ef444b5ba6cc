// SPDX-License-Identifier: MIT
// Sleeping on the monotonic clock.
#include "framepipe/clock.h"

#include <errno.h>

void fp_sleep_ns(int64_t ns)
{
    if (ns <= 0)
        return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
