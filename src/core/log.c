// SPDX-License-Identifier: MIT
// Levelled, line-atomic logging to stderr with monotonic timestamps.
#include "framepipe/log.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = -1;
static int64_t log_epoch_ns;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

/* Reads FP_LOG and fixes the timestamp origin, once, whichever thread logs first. */
static void log_init(void)
{
    FpLogLevel parsed = FP_LOG_INFO;
    const char *env = getenv("FP_LOG");
    if (env && fp_log_level_parse(env, &parsed) < 0)
        parsed = FP_LOG_INFO;
    log_epoch_ns = fp_clock_ns();
    int expected = -1;
    atomic_compare_exchange_strong(&log_level, &expected, (int)parsed);
}

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char level_letters[] = "EWIDT";

int fp_log_level_parse(const char *name, FpLogLevel *out)
{
    for (int i = 0; i <= FP_LOG_TRACE; i++) {
        if (name && strcmp(name, level_names[i]) == 0) {
            *out = (FpLogLevel)i;
            return 0;
        }
    }
    return FP_EINVALID;
}

FpLogLevel fp_log_get_level(void)
{
    pthread_once(&log_once, log_init);
    return (FpLogLevel)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void fp_log_set_level(FpLogLevel level)
{
    pthread_once(&log_once, log_init);
    atomic_store(&log_level, (int)level);
}

void fp_log(FpLogLevel level, const char *component, const char *fmt, ...)
{
    if ((int)level > (int)fp_log_get_level())
        return;
    char line[1024];
    int64_t t = fp_clock_ns() - log_epoch_ns;
    int n = snprintf(line, sizeof(line), "[%5lld.%06lld] %c %s: ", (long long)(t / 1000000000),
                     (long long)(t % 1000000000) / 1000, level_letters[level],
                     component ? component : "framepipe");
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    int saved = errno;
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
    errno = saved;
}
