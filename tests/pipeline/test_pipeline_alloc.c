// SPDX-License-Identifier: MIT
// Zero allocations per frame after warm-up, across the whole pipeline: decode into pools, batch, prep, infer, post, JSON sink.
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

static void run_counted(const char *model, int max_batch, int cameras)
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
    Window w = {0};
    CHECK_OK(fp_jsonl_sink_create(&w.jsonl, "/dev/null"));
    FpPipeline *p = NULL;
    CHECK_OK(fp_pipeline_create(&p, &cfg));
    CHECK_OK(fp_pipeline_add_sink(p, window_sink, &w));
    CHECK_OK(fp_pipeline_start(p));
    CHECK_OK(fp_pipeline_wait(p, -1));
    CHECK(atomic_load(&w.results) > WARM + COUNTED);
    unsigned long calls = w.at_end - w.at_start;
    CHECK_MSG(calls == 0, "%s: %lu allocator calls in framepipe's code over %d frames after warm-up", model, calls,
              COUNTED);
    fp_pipeline_destroy(&p);
    fp_jsonl_sink_destroy(&w.jsonl);
    free(clip);
}

FP_TEST_TIMED(pipeline_steady_state_allocates_nothing_blazeface, 180)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access(path, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", path);
    run_counted(path, 4, 1);
}

FP_TEST_TIMED(pipeline_steady_state_allocates_nothing_yolo_two_cameras, 180)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/models/yolov8_test_320.onnx", fp_test_source_dir());
    run_counted(path, 4, 2);
}
