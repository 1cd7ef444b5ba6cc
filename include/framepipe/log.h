// SPDX-License-Identifier: MIT
// Levelled logging to stderr, stamped with the monotonic clock and the component that speaks.
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
 * info, debug, trace; default info) on first use. Thread-safe: each line is
 * written with one write(2) call, so lines from threads never interleave.
 */
void fp_log_set_level(FpLogLevel level);
FpLogLevel fp_log_get_level(void);

/* Parses "error", "warn", ... into *out. Returns 0 or FP_EINVALID. */
int fp_log_level_parse(const char *name, FpLogLevel *out);

/* Writes "[   12.345678] W component: message\n" when level <= threshold. */
void fp_log(FpLogLevel level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define fp_log_error(comp, ...) fp_log(FP_LOG_ERROR, comp, __VA_ARGS__)
#define fp_log_warn(comp, ...) fp_log(FP_LOG_WARN, comp, __VA_ARGS__)
#define fp_log_info(comp, ...) fp_log(FP_LOG_INFO, comp, __VA_ARGS__)
#define fp_log_debug(comp, ...) fp_log(FP_LOG_DEBUG, comp, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
