// SPDX-License-Identifier: MIT
// Latency histograms (p50/p90/p99/max), counters and gauges, and a registry that writes Prometheus text.
#ifndef FRAMEPIPE_METRICS_H
#define FRAMEPIPE_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "framepipe/atomic.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * FpHistogram: a log-linear histogram of non-negative integer values
 * (nanoseconds, bytes, ...). 16 sub-buckets per power of two, so a reported
 * quantile is within 1/16 (6.25%) of the true sample; min, max, count and sum
 * are exact. Recording is lock-free (relaxed atomics) and allocation-free, so
 * any thread may record while another reads. A value type: embed it and
 * call fp_histogram_init(); its members are FP_ATOMIC (framepipe/atomic.h):
 * read and write them only through the functions below.
 */
#define FP_HISTOGRAM_SUB_BITS 4
#define FP_HISTOGRAM_BUCKETS (16 + (64 - FP_HISTOGRAM_SUB_BITS) * 16)

typedef struct FpHistogram {
    FP_ATOMIC(uint64_t) count;
    FP_ATOMIC(uint64_t) sum;
    FP_ATOMIC(uint64_t) min;
    FP_ATOMIC(uint64_t) max;
    FP_ATOMIC(uint64_t) buckets[FP_HISTOGRAM_BUCKETS];
} FpHistogram;

/* Empties `h` (no samples). Only before `h` is shared with other threads. Cannot fail. */
void fp_histogram_init(FpHistogram *h);
/* Adds one sample. Lock-free and allocation-free; any thread, concurrently with readers. */
void fp_histogram_record(FpHistogram *h, uint64_t value);
/* Value at quantile q in [0,1] (0 with no samples); q=1 returns the exact max. Any thread. */
uint64_t fp_histogram_quantile(const FpHistogram *h, double q);
/* Samples recorded so far. Any thread. */
uint64_t fp_histogram_count(const FpHistogram *h);
/* Number of samples <= value (bucket resolution). Any thread. */
uint64_t fp_histogram_count_le(const FpHistogram *h, uint64_t value);

/* Summary of a histogram in one call. */
typedef struct FpHistogramSummary {
    uint64_t count, min, max, p50, p90, p99;
    double mean;
} FpHistogramSummary;
/* Fills *out (all zero with no samples). Any thread; samples recorded meanwhile may be half counted. */
void fp_histogram_summary(const FpHistogram *h, FpHistogramSummary *out);

/*
 * A monotonically increasing counter (Prometheus "counter"). Zeroed storage
 * (static, calloc, `= {0}`) is a counter at 0. The member is FP_ATOMIC: use
 * fp_counter_add/fp_counter_get only.
 */
typedef struct FpCounter {
    FP_ATOMIC(uint64_t) value;
} FpCounter;

/* Adds n (relaxed: a statistic, not a synchronisation point). Any thread. */
void fp_counter_add(FpCounter *c, uint64_t n);
/* The current value. Any thread. */
uint64_t fp_counter_get(const FpCounter *c);

/* A gauge read at export time through a callback (queue depth, bytes in use, ...). */
typedef double (*FpGaugeFn)(void *opaque);

typedef enum FpMetricType {
    FP_METRIC_COUNTER,
    FP_METRIC_GAUGE,
    FP_METRIC_HISTOGRAM,
} FpMetricType;

/*
 * FpMetrics: a registry of named metrics that writes the Prometheus text
 * exposition format. The registry does not own the metric storage: the
 * owner of each counter/histogram keeps it alive until it unregisters
 * (fp_metrics_remove_owner) or destroys the registry. Thread-safe.
 */
typedef struct FpMetrics FpMetrics;

/* An empty registry; *out owns it. Returns 0 or -ENOMEM, *out untouched on failure. Any thread. */
int fp_metrics_create(FpMetrics **out);
/* Frees the registry (not the metrics it points to) and sets *m to NULL; NULL or *m == NULL: no-op. No other thread may use it. */
void fp_metrics_destroy(FpMetrics **m);

/*
 * Registers one series. `name` must match [a-zA-Z_:][a-zA-Z0-9_:]*; `labels`
 * is either NULL or a label set without braces, e.g. `camera="cam0"`; `help`
 * may be NULL. `owner` is an arbitrary tag used by fp_metrics_remove_owner.
 * Histograms are exported in seconds when `unit_ns` is set (values recorded
 * in ns; buckets 0.0001..2.5 s); without it they hold counts (frames per
 * batch) and get count buckets 1, 2, 4, ... 1024, 4096 (values recorded as is).
 * The strings are copied; `c`, `h`, `fn` and `opaque` stay the
 * caller's and must stay valid until the series is removed. Returns 0,
 * FP_EINVALID for a bad name, -ENOMEM; nothing is registered on failure.
 * Any thread.
 */
int fp_metrics_add_counter(FpMetrics *m, const char *name, const char *labels,
                           const char *help, FpCounter *c, const void *owner);
int fp_metrics_add_gauge(FpMetrics *m, const char *name, const char *labels, const char *help,
                         FpGaugeFn fn, void *opaque, const void *owner);
int fp_metrics_add_histogram(FpMetrics *m, const char *name, const char *labels,
                             const char *help, FpHistogram *h, int unit_ns, const void *owner);
/* Removes every series registered with `owner`; when it returns, the registry no longer reads their storage. NULL m: no-op. Any thread. */
void fp_metrics_remove_owner(FpMetrics *m, const void *owner);

/*
 * Writes all series in Prometheus text format (version 0.0.4) to `out` (the caller's stream), calling
 * the gauge callbacks on this thread. Returns 0, -ENOMEM, or -EIO when the stream reports an error (part
 * of the text may have been written). Any thread.
 */
int fp_metrics_write_prometheus(FpMetrics *m, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
