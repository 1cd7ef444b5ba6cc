// SPDX-License-Identifier: MIT
// The config's top-level redis: section (FpDistSection) of the distributed roles: defaults, every key, the url, and errors at FILE:LINE:COL.
#include "fp_test.h"

#include "framepipe/config.h"
#include "framepipe/error.h"

#include <string.h>

#define HEAD "cameras:\n  - {name: a, url: a.mp4}\nmodel: {path: m.onnx}\n"

static int streq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static const FpPipelineConfig *load(FpConfigFile **cf, const char *text)
{
    int rc = fp_config_parse(cf, text, strlen(text), "d.yaml");
    CHECK_MSG(rc == 0, "parse failed: %s", fp_error_detail(rc));
    return fp_config_get(*cf);
}

static void expect_error(const char *text, const char *prefix, const char *needle)
{
    FpConfigFile *cf = NULL;
    int rc = fp_config_parse(&cf, text, strlen(text), "d.yaml");
    CHECK_EQ(rc, FP_ECONFIG);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(!strncmp(msg, prefix, strlen(prefix)) && strstr(msg, needle), "'%s' lacks '%s' / '%s'", msg, prefix,
              needle);
}

FP_TEST(no_section_means_disabled_with_defaults)
{
    FpConfigFile *cf = NULL;
    const FpDistSection *d = &load(&cf, HEAD)->dist;
    CHECK(!d->enabled);
    CHECK(streq(d->frames, "framepipe:dist:frames") && streq(d->results, "framepipe:dist:results"));
    CHECK(streq(d->dead_letter, "framepipe:dist:dead") && streq(d->worker_group, "workers"));
    CHECK(streq(d->logic_group, "logic") && d->consumer == NULL);
    CHECK(d->maxlen == 10000 && d->encoding == 0 && d->jpeg_quality == 85);
    CHECK(d->block_ns == 100000000LL && d->claim_idle_ns == 5000000000LL && d->max_age_ns == 0);
    CHECK(d->reorder_wait_ns == 10000000000LL && d->max_deliveries == 3);
    CHECK(streq(d->redis.host, "127.0.0.1") && d->redis.port == 6379);
    fp_config_destroy(&cf);
}

FP_TEST(every_key_and_the_url)
{
    FpConfigFile *cf = NULL;
    const FpDistSection *d =
        &load(&cf, HEAD "redis:\n  url: redis://u:p%40ss@10.0.0.2:7000/3\n  frames: f\n  results: r\n"
                        "  dead_letter: dl\n  maxlen: 500\n  worker_group: wg\n  logic_group: lg\n"
                        "  consumer: gpu-1\n  encoding: raw\n  jpeg_quality: 70\n  block: 20ms\n"
                        "  claim_idle: 2s\n  max_age: 1.5s\n  reorder_wait: 3s\n  timeout: 1s\n"
                        "  max_deliveries: 7\n")
             ->dist;
    CHECK(d->enabled);
    CHECK(streq(d->redis.host, "10.0.0.2") && d->redis.port == 7000 && d->redis.db == 3);
    CHECK(streq(d->redis.username, "u") && streq(d->redis.password, "p@ss"));
    CHECK(streq(d->frames, "f") && streq(d->results, "r") && streq(d->dead_letter, "dl") && d->maxlen == 500);
    CHECK(streq(d->worker_group, "wg") && streq(d->logic_group, "lg") && streq(d->consumer, "gpu-1"));
    CHECK(d->encoding == 1 && d->jpeg_quality == 70 && d->block_ns == 20000000LL);
    CHECK(d->claim_idle_ns == 2000000000LL && d->max_age_ns == 1500000000LL && d->reorder_wait_ns == 3000000000LL);
    CHECK(d->redis.timeout_ns == 1000000000LL && d->max_deliveries == 7);
    fp_config_destroy(&cf);
    /* a password key next to the url wins; host/port keys */
    d = &load(&cf, HEAD "redis: {url: 'redis://:a@h', password: b}\n")->dist;
    CHECK(streq(d->redis.password, "b") && streq(d->redis.host, "h"));
    fp_config_destroy(&cf);
    d = &load(&cf, HEAD "redis: {host: r.local, port: 6380}\n")->dist;
    CHECK(d->enabled && streq(d->redis.host, "r.local") && d->redis.port == 6380);
    fp_config_destroy(&cf);
    /* an empty section: on, with the defaults */
    d = &load(&cf, HEAD "redis: {}\n")->dist;
    CHECK(d->enabled && d->redis.port == 6379);
    fp_config_destroy(&cf);
}

FP_TEST(bad_values_are_named_at_their_line)
{
    expect_error(HEAD "redis:\n  claim_idel: 1s\n", "d.yaml:5:", "claim_idel");
    expect_error(HEAD "redis:\n  encoding: png\n", "d.yaml:5:", "jpeg or raw");
    expect_error(HEAD "redis:\n  jpeg_quality: 101\n", "d.yaml:5:", "1..100");
    expect_error(HEAD "redis:\n  maxlen: 0\n", "d.yaml:5:", "maxlen");
    expect_error(HEAD "redis:\n  consumer: 'a b'\n", "d.yaml:5:", "consumer");
    expect_error(HEAD "redis:\n  url: http://x\n", "d.yaml:5:", "redis.url");
    expect_error(HEAD "redis:\n  url: redis://h\n  port: 1\n", "d.yaml:5:", "either url or host/port");
    expect_error(HEAD "redis:\n  block: 0\n", "d.yaml:5:", "block");
    expect_error(HEAD "redis:\n  max_deliveries: 0\n", "d.yaml:5:", "max_deliveries");
    expect_error(HEAD "redis: 5\n", "d.yaml:4:", "redis");
}
