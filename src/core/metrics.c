// SPDX-License-Identifier: MIT
// Log-linear latency histograms and the Prometheus metrics registry.
//
// Design: the histogram maps a value v to a bucket by its highest set bit e
// and the next FP_HISTOGRAM_SUB_BITS bits below it, so every power of two is
// cut into 16 equal sub-buckets (HdrHistogram's idea, at fixed precision).
// Values below 16 get exact buckets. Each bucket is a relaxed atomic counter,
// so recording costs one clz, one shift and three atomic adds.
//
// The counter and histogram members are FP_ATOMIC (framepipe/atomic.h) so
// that metrics.h parses as C++ too; every access goes through the functions
// here, out of line: a direct call costs about a nanosecond next to the
// locked add it wraps, and a counter is bumped a few times per frame.
#include "framepipe/metrics.h"

#include "framepipe/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SUB (1u << FP_HISTOGRAM_SUB_BITS)

/* The C++ view declares FP_ATOMIC(uint64_t) as alignas(8) uint64_t: same size and alignment required. */
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t) &&
                   _Alignof(_Atomic uint64_t) == sizeof(uint64_t),
               "FP_ATOMIC(uint64_t) must have one layout in C and C++");

void fp_counter_add(FpCounter *c, uint64_t n)
{
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

uint64_t fp_counter_get(const FpCounter *c)
{
    return atomic_load_explicit(&((FpCounter *)c)->value, memory_order_relaxed);
}

static unsigned bucket_index(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned sub = (unsigned)(v >> (e - FP_HISTOGRAM_SUB_BITS)) & (SUB - 1);
    return SUB + (e - FP_HISTOGRAM_SUB_BITS) * SUB + sub;
}

/* Smallest and largest value that map to bucket i. */
static void bucket_bounds(unsigned i, uint64_t *lo, uint64_t *hi)
{
    if (i < SUB) {
        *lo = *hi = i;
        return;
    }
    unsigned e = (i - SUB) / SUB + FP_HISTOGRAM_SUB_BITS;
    unsigned sub = (i - SUB) % SUB;
    uint64_t width = 1ull << (e - FP_HISTOGRAM_SUB_BITS);
    *lo = (1ull << e) + sub * width;
    *hi = *lo + width - 1;
}

void fp_histogram_init(FpHistogram *h)
{
    memset(h, 0, sizeof(*h));
    atomic_store(&h->min, UINT64_MAX);
}

void fp_histogram_record(FpHistogram *h, uint64_t v)
{
    atomic_fetch_add_explicit(&h->buckets[bucket_index(v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (v > cur && !atomic_compare_exchange_weak_explicit(&h->max, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
    cur = atomic_load_explicit(&h->min, memory_order_relaxed);
    while (v < cur && !atomic_compare_exchange_weak_explicit(&h->min, &cur, v, memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
    /* count last: a reader that sees count N sees at least N bucket hits. */
    atomic_fetch_add_explicit(&h->count, 1, memory_order_release);
}

uint64_t fp_histogram_count(const FpHistogram *h)
{
    return atomic_load_explicit(&((FpHistogram *)h)->count, memory_order_acquire);
}

uint64_t fp_histogram_quantile(const FpHistogram *hc, double q)
{
    FpHistogram *h = (FpHistogram *)hc;
    uint64_t n = fp_histogram_count(h);
    if (n == 0)
        return 0;
    uint64_t mx = atomic_load_explicit(&h->max, memory_order_relaxed);
    uint64_t mn = atomic_load_explicit(&h->min, memory_order_relaxed);
    if (q >= 1.0)
        return mx;
    if (q <= 0.0)
        return mn;
    /* rank of the sample wanted, 1-based: ceil(q * n) */
    uint64_t rank = (uint64_t)(q * (double)n);
    if ((double)rank < q * (double)n)
        rank++;
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < FP_HISTOGRAM_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (seen >= rank) {
            uint64_t lo, hi;
            bucket_bounds(i, &lo, &hi);
            uint64_t mid = lo + (hi - lo) / 2;
            if (mid > mx)
                mid = mx;
            if (mid < mn)
                mid = mn;
            return mid;
        }
    }
    return mx;
}

uint64_t fp_histogram_count_le(const FpHistogram *hc, uint64_t value)
{
    FpHistogram *h = (FpHistogram *)hc;
    uint64_t n = 0;
    unsigned last = bucket_index(value);
    for (unsigned i = 0; i <= last; i++)
        n += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
    return n;
}

void fp_histogram_summary(const FpHistogram *h, FpHistogramSummary *out)
{
    memset(out, 0, sizeof(*out));
    out->count = fp_histogram_count(h);
    if (!out->count)
        return;
    out->min = atomic_load(&((FpHistogram *)h)->min);
    out->max = atomic_load(&((FpHistogram *)h)->max);
    out->p50 = fp_histogram_quantile(h, 0.50);
    out->p90 = fp_histogram_quantile(h, 0.90);
    out->p99 = fp_histogram_quantile(h, 0.99);
    out->mean = (double)atomic_load(&((FpHistogram *)h)->sum) / (double)out->count;
}

/* ---- registry ---- */

typedef struct Series {
    FpMetricType type;
    char *name;
    char *labels; /* may be NULL */
    char *help;   /* may be NULL */
    const void *owner;
    FpCounter *counter;
    FpGaugeFn gauge_fn;
    void *gauge_opaque;
    FpHistogram *hist;
    int unit_ns;
} Series;

struct FpMetrics {
    pthread_mutex_t lock;
    Series *series;
    size_t count, cap;
};

int fp_metrics_create(FpMetrics **out)
{
    FpMetrics *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

static void series_free(Series *s)
{
    free(s->name);
    free(s->labels);
    free(s->help);
}

void fp_metrics_destroy(FpMetrics **pm)
{
    FpMetrics *m = pm ? *pm : NULL;
    if (!m)
        return;
    for (size_t i = 0; i < m->count; i++)
        series_free(&m->series[i]);
    free(m->series);
    pthread_mutex_destroy(&m->lock);
    free(m);
    *pm = NULL;
}

static int valid_name(const char *n)
{
    if (!n || !*n)
        return 0;
    for (const char *p = n; *p; p++) {
        int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':' ||
                 (p != n && *p >= '0' && *p <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int add_series(FpMetrics *m, const Series *tmpl)
{
    if (!m || !valid_name(tmpl->name))
        return fp_error(FP_EINVALID, "metrics: invalid metric name '%s'",
                        tmpl->name ? tmpl->name : "(null)");
    Series s = *tmpl;
    s.name = strdup(tmpl->name);
    s.labels = tmpl->labels ? strdup(tmpl->labels) : NULL;
    s.help = tmpl->help ? strdup(tmpl->help) : NULL;
    if (!s.name || (tmpl->labels && !s.labels) || (tmpl->help && !s.help)) {
        series_free(&s);
        return -ENOMEM;
    }
    pthread_mutex_lock(&m->lock);
    if (m->count == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 32;
        Series *ns = realloc(m->series, ncap * sizeof(*ns));
        if (!ns) {
            pthread_mutex_unlock(&m->lock);
            series_free(&s);
            return -ENOMEM;
        }
        m->series = ns;
        m->cap = ncap;
    }
    m->series[m->count++] = s;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

int fp_metrics_add_counter(FpMetrics *m, const char *name, const char *labels,
                           const char *help, FpCounter *c, const void *owner)
{
    Series s = {.type = FP_METRIC_COUNTER, .name = (char *)name, .labels = (char *)labels,
                .help = (char *)help, .owner = owner, .counter = c};
    return add_series(m, &s);
}

int fp_metrics_add_gauge(FpMetrics *m, const char *name, const char *labels, const char *help,
                         FpGaugeFn fn, void *opaque, const void *owner)
{
    Series s = {.type = FP_METRIC_GAUGE, .name = (char *)name, .labels = (char *)labels,
                .help = (char *)help, .owner = owner, .gauge_fn = fn, .gauge_opaque = opaque};
    return add_series(m, &s);
}

int fp_metrics_add_histogram(FpMetrics *m, const char *name, const char *labels,
                             const char *help, FpHistogram *h, int unit_ns, const void *owner)
{
    Series s = {.type = FP_METRIC_HISTOGRAM, .name = (char *)name, .labels = (char *)labels,
                .help = (char *)help, .owner = owner, .hist = h, .unit_ns = unit_ns};
    return add_series(m, &s);
}

void fp_metrics_remove_owner(FpMetrics *m, const void *owner)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    size_t j = 0;
    for (size_t i = 0; i < m->count; i++) {
        if (m->series[i].owner == owner)
            series_free(&m->series[i]);
        else
            m->series[j++] = m->series[i];
    }
    m->count = j;
    pthread_mutex_unlock(&m->lock);
}

/* Histogram bucket bounds for export: seconds for time histograms (unit_ns, recorded in ns)... */
static const double export_bounds_s[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
/* ...and counts for the others (frames per batch, detections per frame: whole numbers from 1). */
static const double export_bounds_count[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

static void write_labels(FILE *out, const char *labels, const char *extra)
{
    int has = labels && *labels;
    if (!has && !extra)
        return;
    fputc('{', out);
    if (has)
        fputs(labels, out);
    if (extra) {
        if (has)
            fputc(',', out);
        fputs(extra, out);
    }
    fputc('}', out);
}

static int cmp_series(const void *a, const void *b)
{
    return strcmp(((const Series *)a)->name, ((const Series *)b)->name);
}

int fp_metrics_write_prometheus(FpMetrics *m, FILE *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&m->lock);
    /* Stable sort by name keeps one HELP/TYPE header per family. */
    Series *sorted = malloc((m->count ? m->count : 1) * sizeof(*sorted));
    if (!sorted) {
        pthread_mutex_unlock(&m->lock);
        return -ENOMEM;
    }
    for (size_t i = 0; i < m->count; i++)
        sorted[i] = m->series[i];
    /* insertion sort: stable, registries are small */
    for (size_t i = 1; i < m->count; i++) {
        Series key = sorted[i];
        size_t j = i;
        while (j > 0 && cmp_series(&sorted[j - 1], &key) > 0) {
            sorted[j] = sorted[j - 1];
            j--;
        }
        sorted[j] = key;
    }
    const char *last = NULL;
    for (size_t i = 0; i < m->count; i++) {
        const Series *s = &sorted[i];
        if (!last || strcmp(last, s->name) != 0) {
            if (s->help)
                fprintf(out, "# HELP %s %s\n", s->name, s->help);
            fprintf(out, "# TYPE %s %s\n", s->name, type_names[s->type]);
            last = s->name;
        }
        switch (s->type) {
        case FP_METRIC_COUNTER:
            fputs(s->name, out);
            write_labels(out, s->labels, NULL);
            fprintf(out, " %llu\n", (unsigned long long)fp_counter_get(s->counter));
            break;
        case FP_METRIC_GAUGE:
            fputs(s->name, out);
            write_labels(out, s->labels, NULL);
            fprintf(out, " %.17g\n", s->gauge_fn(s->gauge_opaque));
            break;
        case FP_METRIC_HISTOGRAM: {
            double scale = s->unit_ns ? 1e-9 : 1.0;
            uint64_t n = fp_histogram_count(s->hist);
            char le[64];
            const double *bounds = s->unit_ns ? export_bounds_s : export_bounds_count;
            size_t n_bounds = s->unit_ns ? sizeof(export_bounds_s) / sizeof(export_bounds_s[0])
                                         : sizeof(export_bounds_count) / sizeof(export_bounds_count[0]);
            for (size_t b = 0; b < n_bounds; b++) {
                double bound = bounds[b];
                uint64_t raw = (uint64_t)(bound / scale);
                snprintf(le, sizeof(le), "le=\"%g\"", bound);
                fprintf(out, "%s_bucket", s->name);
                write_labels(out, s->labels, le);
                fprintf(out, " %llu\n", (unsigned long long)fp_histogram_count_le(s->hist, raw));
            }
            fprintf(out, "%s_bucket", s->name);
            write_labels(out, s->labels, "le=\"+Inf\"");
            fprintf(out, " %llu\n", (unsigned long long)n);
            fprintf(out, "%s_sum", s->name);
            write_labels(out, s->labels, NULL);
            fprintf(out, " %.9g\n", (double)atomic_load(&s->hist->sum) * scale);
            fprintf(out, "%s_count", s->name);
            write_labels(out, s->labels, NULL);
            fprintf(out, " %llu\n", (unsigned long long)n);
            break;
        }
        }
    }
    pthread_mutex_unlock(&m->lock);
    free(sorted);
    return ferror(out) ? -EIO : 0;
}
