// SPDX-License-Identifier: MIT
// Levelled, line-atomic logging to stderr with monotonic timestamps, or to a callback the program sets.
//
// The callback and its opaque pointer change together under a read-write
// lock: fp_log holds it for reading while it calls the callback, so lines
// from many threads reach the callback in parallel, and fp_log_set_callback
// takes it for writing, which is what lets it promise that the previous
// callback has returned for good. A thread-local flag sends the lines a
// callback logs itself to stderr instead of into a recursive read lock
// (which a waiting writer could turn into a deadlock).
#include "framepipe/log.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_int log_level = -1;
static int64_t log_epoch_ns;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static pthread_rwlock_t cb_lock = PTHREAD_RWLOCK_INITIALIZER;
static FpLogFn cb_fn;          /* guarded by cb_lock */
static void *cb_opaque;        /* guarded by cb_lock */
static atomic_bool cb_set;     /* cb_fn != NULL, read without the lock to skip it for stderr */
static _Thread_local bool in_callback;

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

void fp_log_set_callback(FpLogFn fn, void *opaque)
{
    pthread_rwlock_wrlock(&cb_lock);
    cb_fn = fn;
    cb_opaque = opaque;
    atomic_store_explicit(&cb_set, fn != NULL, memory_order_release);
    pthread_rwlock_unlock(&cb_lock);
}

/* Hands the line to the callback; false when there is none (the caller writes stderr). */
static bool log_to_callback(FpLogLevel level, const char *component, const char *message)
{
    if (in_callback || !atomic_load_explicit(&cb_set, memory_order_acquire))
        return false;
    bool called = false;
    pthread_rwlock_rdlock(&cb_lock);
    if (cb_fn) {
        in_callback = true;
        cb_fn(cb_opaque, level, component, message);
        in_callback = false;
        called = true;
    }
    pthread_rwlock_unlock(&cb_lock);
    return called;
}

/*
 * Control characters in msg (a file name with a newline, a terminal escape)
 * become the text \n, \r, \t or \xHH in place, so that one call is one line
 * and a name cannot forge log lines. Cut at `cap` - 1 bytes. Returns the length.
 */
static size_t escape_controls(char *msg, size_t cap)
{
    size_t len = strlen(msg), ctrl = 0;
    for (size_t i = 0; i < len; i++)
        ctrl += (unsigned char)msg[i] < 0x20 || msg[i] == 0x7f;
    if (!ctrl)
        return len;
    char tmp[1024];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)msg[i];
        char esc[5];
        size_t k;
        if (ch >= 0x20 && ch != 0x7f) {
            esc[0] = (char)ch, k = 1;
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            esc[0] = '\\', esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't', k = 2;
        } else {
            static const char hex[] = "0123456789abcdef";
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[ch >> 4], esc[3] = hex[ch & 15], k = 4;
        }
        if (o + k >= cap || o + k >= sizeof(tmp))
            break;
        memcpy(tmp + o, esc, k);
        o += k;
    }
    memcpy(msg, tmp, o);
    msg[o] = '\0';
    return o;
}

void fp_log(FpLogLevel level, const char *component, const char *fmt, ...)
{
    if ((int)level > (int)fp_log_get_level())
        return;
    if ((int)level < 0)
        level = FP_LOG_ERROR;
    int saved = errno;
    char line[1024];
    int64_t t = fp_clock_ns() - log_epoch_ns;
    const char *comp = component ? component : "framepipe";
    int n = snprintf(line, sizeof(line), "[%5lld.%06lld] %c %s: ", (long long)(t / 1000000000),
                     (long long)(t % 1000000000) / 1000, level_letters[level], comp);
    if (n < 0 || (size_t)n >= sizeof(line) - 2) {
        errno = saved;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len] = '\0';
    len = (size_t)n + escape_controls(line + n, sizeof(line) - 1 - (size_t)n);
    if (!log_to_callback(level, comp, line + n)) {
        line[len++] = '\n';
        ssize_t w = write(STDERR_FILENO, line, len);
        (void)w;
    }
    errno = saved;
}
