// SPDX-License-Identifier: MIT
// Zero allocations per frame after warm-up, across the whole pipeline: decode into pools, batch, prep, infer, post, JSON sink; also with tracking, every kind of rule and the events sink.
#include "fp_alloc_count.h"
#include "fp_test.h"
#include "media.h"

#include "framepipe/pipeline.h"
#include "framepipe/sink.h"

#include <stdatomic.h>
#include <unistd.h>

#define WARM 60
#define COUNTED 100

/* Counts framepipe's allocator calls between result WARM and result WARM + COUNTED, on the worker thread. */
typedef struct Window {
    FpJsonlSink *jsonl;
    atomic_int results;
    unsigned long at_start, at_end;
} Window;

static int window_sink(void *opaque, const FpFrameResult *r)
{
    Window *w = opaque;
    int rc = fp_jsonl_sink_write(w->jsonl, r);
    int k = atomic_fetch_add(&w->results, 1);
    if (k == WARM)
        w->at_start = fp_alloc_calls();
    if (k == WARM + COUNTED)
        w->at_end = fp_alloc_calls();
    return rc;
}

static int count_event(void *opaque, const FpEvent *ev, const FpFrameResult *r)
{
    (void)ev;
    (void)r;
    atomic_fetch_add((atomic_int *)opaque, 1);
    return 0;
}

/* A zone over the whole frame and one rule of every kind, on every camera. */
static void add_rules(FpPipelineConfig *cfg)
{
    static const FpZoneConfig all = {
        .name = "all", .n_points = 4, .points = {{0, 0}, {1, 0}, {1, 1}, {0, 1}}, .normalized = true};
    for (int i = 0; i < cfg->n_cameras; i++) {
        cfg->cameras[i].zones = &all;
        cfg->cameras[i].n_zones = 1;
    }
    static const char *names[] = {"enter", "leave", "dwell", "count", "line", "speed", "down", "absent"};
    for (int k = 0; k <= FP_RULE_ABSENT; k++) {
        FpRuleSection *r = &cfg->rules[k];
        fp_rule_config_init(&r->rule, (FpRuleKind)k);
        r->rule.name = names[k];
        r->rule.zone = k == FP_RULE_LINE ? NULL : "all";
        r->rule.line_normalized = true;
        r->rule.line[0][0] = 0.5f, r->rule.line[0][1] = 0.f, r->rule.line[1][0] = 0.5f, r->rule.line[1][1] = 1.f;
        r->rule.speed = 1.f;
        r->rule.threshold = 0;
    }
    cfg->n_rules = FP_RULE_ABSENT + 1;
    cfg->tracker.enabled = true;
}

static void run_counted(const char *model, int max_batch, int cameras, bool rules)
{
    char *clip = fp_media_clip("h264", 320, 240, 200, 25, "mp4");
    static FpPipelineConfig cfg;
    fp_pipeline_config_init(&cfg);
    cfg.model.path = model;
    cfg.model.threads = 1;
    cfg.batch.max_batch = max_batch;
    cfg.batch.per_camera = max_batch;
    static const char *names[] = {"a", "b", "c", "d"};
    for (int i = 0; i < cameras; i++) {
        cfg.cameras[i].name = names[i];
        cfg.cameras[i].source.url = clip;
    }
    cfg.n_cameras = cameras;
    if (rules)
        add_rules(&cfg);
    Window w = {0};
    atomic_int events = 0;
    CHECK_OK(fp_jsonl_sink_create(&w.jsonl, "/dev/null"));
    FpPipeline *p = NULL;
    CHECK_OK(fp_pipeline_create(&p, &cfg));
    CHECK_OK(fp_pipeline_add_sink(p, window_sink, &w));
    FpEventsJsonl *ej = NULL;
    if (rules) {
        CHECK_OK(fp_events_jsonl_create(&ej, "/dev/null"));
        CHECK_OK(fp_pipeline_add_event_sink(p, fp_events_jsonl_write, ej));
        CHECK_OK(fp_pipeline_add_event_sink(p, count_event, &events));
    }
    CHECK_OK(fp_pipeline_start(p));
    CHECK_OK(fp_pipeline_wait(p, -1));
    CHECK(atomic_load(&w.results) > WARM + COUNTED);
    unsigned long calls = w.at_end - w.at_start;
    CHECK_MSG(calls == 0, "%s: %lu allocator calls in framepipe's code over %d frames after warm-up", model, calls,
              COUNTED);
    if (rules)
        printf("%s: %d events\n", model, atomic_load(&events));
    fp_pipeline_destroy(&p);
    fp_jsonl_sink_destroy(&w.jsonl);
    fp_events_jsonl_destroy(&ej);
    free(clip);
}

FP_TEST_TIMED(pipeline_steady_state_allocates_nothing_blazeface, 180)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access(path, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", path);
    run_counted(path, 4, 1, false);
}

FP_TEST_TIMED(pipeline_steady_state_allocates_nothing_yolo_two_cameras, 180)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/models/yolov8_test_320.onnx", fp_test_source_dir());
    run_counted(path, 4, 2, false);
}

FP_TEST_TIMED(pipeline_steady_state_allocates_nothing_with_tracking_and_rules, 180)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/models/yolov8_test_320.onnx", fp_test_source_dir());
    run_counted(path, 4, 2, true);
}
