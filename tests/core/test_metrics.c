// SPDX-License-Identifier: MIT
// Tests of FpHistogram quantiles against an exact sorted reference, and of the Prometheus writer.
#include "fp_test.h"

#include "framepipe/metrics.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

FP_TEST(histogram_quantiles_within_bucket_precision)
{
    static FpHistogram h;
    fp_histogram_init(&h);
    enum { N = 20000 };
    static uint64_t v[N];
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* latencies between 1 us and ~100 ms, log-spread */
        v[i] = 1000 + (x % 1000) * (1ull << (x >> 60) % 17);
        fp_histogram_record(&h, v[i]);
    }
    qsort(v, N, sizeof(v[0]), cmp_u64);
    const double qs[] = {0.5, 0.9, 0.99};
    for (int k = 0; k < 3; k++) {
        uint64_t exact = v[(size_t)(qs[k] * N) - 1];
        uint64_t got = fp_histogram_quantile(&h, qs[k]);
        CHECK_MSG((double)got >= exact * (1 - 1.0 / 16) && (double)got <= exact * (1 + 1.0 / 16),
                  "q=%.2f exact %llu got %llu", qs[k], (unsigned long long)exact,
                  (unsigned long long)got);
    }
    CHECK_EQ(fp_histogram_quantile(&h, 1.0), v[N - 1]);
    CHECK_EQ(fp_histogram_quantile(&h, 0.0), v[0]);
    CHECK_EQ(fp_histogram_count(&h), N);
    FpHistogramSummary s;
    fp_histogram_summary(&h, &s);
    CHECK_EQ(s.max, v[N - 1]);
    CHECK(s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max);
}

FP_TEST(histogram_empty_and_small_values)
{
    FpHistogram h;
    fp_histogram_init(&h);
    CHECK_EQ(fp_histogram_quantile(&h, 0.5), 0);
    for (uint64_t i = 0; i < 10; i++)
        fp_histogram_record(&h, i);
    CHECK_EQ(fp_histogram_quantile(&h, 0.5), 4); /* exact buckets below 16 */
    CHECK_EQ(fp_histogram_count_le(&h, 3), 4);
}

FP_TEST(prometheus_text_format)
{
    FpMetrics *m;
    CHECK_OK(fp_metrics_create(&m));
    FpCounter frames = {0};
    fp_counter_add(&frames, 42);
    static FpHistogram lat;
    fp_histogram_init(&lat);
    fp_histogram_record(&lat, 2000000); /* 2 ms */
    fp_histogram_record(&lat, 20000000); /* 20 ms */
    int owner;
    CHECK_OK(fp_metrics_add_counter(m, "fp_frames_total", "camera=\"cam0\"", "Frames decoded",
                                    &frames, &owner));
    CHECK_OK(fp_metrics_add_histogram(m, "fp_latency_seconds", NULL, "Latency", &lat, 1, &owner));
    CHECK_EQ(fp_metrics_add_counter(m, "bad name", NULL, NULL, &frames, &owner), FP_EINVALID);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK_OK(fp_metrics_write_prometheus(m, f));
    fclose(f);
    CHECK(strstr(buf, "# TYPE fp_frames_total counter\n"));
    CHECK(strstr(buf, "fp_frames_total{camera=\"cam0\"} 42\n"));
    CHECK(strstr(buf, "fp_latency_seconds_bucket{le=\"0.001\"} 0\n"));
    CHECK(strstr(buf, "fp_latency_seconds_bucket{le=\"0.0025\"} 1\n"));
    CHECK(strstr(buf, "fp_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
    CHECK(strstr(buf, "fp_latency_seconds_count 2\n"));
    free(buf);

    /* a count-valued histogram (frames per batch) gets count buckets, not latency ones (issue 16, fault 9) */
    static FpHistogram batch;
    fp_histogram_init(&batch);
    for (int v = 1; v <= 32; v++)
        fp_histogram_record(&batch, (uint64_t)v);
    CHECK_OK(fp_metrics_add_histogram(m, "fp_batch_size", NULL, "frames per batch", &batch, 0, &owner));
    f = open_memstream(&buf, &len);
    CHECK_OK(fp_metrics_write_prometheus(m, f));
    fclose(f);
    CHECK(strstr(buf, "fp_batch_size_bucket{le=\"1\"} 1\n"));
    CHECK(strstr(buf, "fp_batch_size_bucket{le=\"8\"} 8\n"));
    CHECK(strstr(buf, "fp_batch_size_bucket{le=\"32\"} 32\n"));
    CHECK(!strstr(buf, "fp_batch_size_bucket{le=\"0.0001\"}"));
    free(buf);

    fp_metrics_remove_owner(m, &owner);
    f = open_memstream(&buf, &len);
    CHECK_OK(fp_metrics_write_prometheus(m, f));
    fclose(f);
    CHECK_EQ(len, 0);
    free(buf);
    fp_metrics_destroy(&m);
    CHECK(m == NULL);
}
