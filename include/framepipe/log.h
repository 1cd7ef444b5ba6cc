// SPDX-License-Identifier: MIT
// Levelled logging to stderr (or to a callback the program sets), stamped with the monotonic clock and the component that speaks.
#ifndef FRAMEPIPE_LOG_H
#define FRAMEPIPE_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FpLogLevel {
    FP_LOG_ERROR = 0,
    FP_LOG_WARN,
    FP_LOG_INFO,
    FP_LOG_DEBUG,
    FP_LOG_TRACE,
} FpLogLevel;

/*
 * The threshold starts from the FP_LOG environment variable (error, warn,
 * info, debug, trace; default info) on first use; lines above it are dropped
 * before they are formatted, whether they would go to stderr or to a
 * callback. Any thread may call these; a change is seen by the next fp_log
 * call on every thread.
 */
void fp_log_set_level(FpLogLevel level);
FpLogLevel fp_log_get_level(void);

/* Parses "error", "warn", ... into *out. Returns 0 or FP_EINVALID; *out untouched on failure. Any thread. */
int fp_log_level_parse(const char *name, FpLogLevel *out);

/*
 * Formats one line and, when level <= threshold, hands it to the callback
 * set with fp_log_set_callback or, with none, writes
 * "[   12.345678] W component: message\n" to stderr with one write(2) call,
 * so lines from threads never interleave. `component` NULL is "framepipe".
 * Control characters in the message (a newline in a file name) are written
 * as the text \n, \r, \t or \xHH, so one call is always one line, also for
 * the callback. Messages longer than about 1000 bytes are cut. Never fails (a failed
 * write to stderr is ignored, errno is preserved). Any thread.
 */
void fp_log(FpLogLevel level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Receives one log line: `component` and `message` (no timestamp, no
 * trailing newline) are NUL-terminated and borrowed: valid during the call
 * only. Called on the thread that logs, possibly on several threads at once,
 * so it must be thread-safe; each call carries one whole line.
 */
typedef void (*FpLogFn)(void *opaque, FpLogLevel level, const char *component, const char *message);

/*
 * Sends every line that passes the threshold to fn(opaque, ...) instead of
 * stderr (libav's log lines included: framepipe routes them through fp_log);
 * fn NULL restores stderr. Like av_log_set_callback, for programs with a
 * logger of their own. Any thread may call it, but not `fn` itself (it would
 * wait for itself).
 *
 * When it returns, no call of the previous callback is still running and
 * none will start, so the caller may free the previous opaque at once. A
 * callback that logs (calls fp_log) does not recurse: lines logged from
 * inside a callback go to stderr. Cannot fail.
 */
void fp_log_set_callback(FpLogFn fn, void *opaque);

#define fp_log_error(comp, ...) fp_log(FP_LOG_ERROR, comp, __VA_ARGS__)
#define fp_log_warn(comp, ...) fp_log(FP_LOG_WARN, comp, __VA_ARGS__)
#define fp_log_info(comp, ...) fp_log(FP_LOG_INFO, comp, __VA_ARGS__)
#define fp_log_debug(comp, ...) fp_log(FP_LOG_DEBUG, comp, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
