// SPDX-License-Identifier: MIT
// FpPipeline end to end with real decoding and real models: lossless order, several cameras, faces, failures, latest policy.
#include "fp_test.h"
#include "infer_util.h"
#include "media.h"

#include "framepipe/clock.h"
#include "framepipe/pipeline.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#define MAX_FRAMES 4096

/* A sink that records what a user of the results relies on: order, frame identity, detections. */
typedef struct Collect {
    pthread_mutex_t lock;
    int n[4];
    uint64_t seq[4][MAX_FRAMES];
    int counter[4][MAX_FRAMES]; /* the frame counter burned into the picture */
    int n_dets[4][MAX_FRAMES];
    int width[4][MAX_FRAMES];
    FpDetection first_det[4];
    int total_dets[4];
    FpBox box_bounds[4];    /* the union of every box of the camera */
    FpBox centre_bounds[4]; /* the range of the box centres */
    int max_batch_seen;
    int64_t max_queue_ns;
    int64_t max_total_ns;
    const char *names[4];
    int jitter; /* sleep 0-3 ms before recording: makes a worker that delivers early visible */
} Collect;

static int collect_sink(void *opaque, const FpFrameResult *r)
{
    Collect *c = opaque;
    if (c->jitter)
        fp_sleep_ns((int64_t)((r->frame->seq * 7919u + (unsigned)r->frame->camera) % 4u) * 1000000);
    pthread_mutex_lock(&c->lock);
    int cam = r->frame->camera;
    if (cam >= 0 && cam < 4 && c->n[cam] < MAX_FRAMES) {
        int k = c->n[cam]++;
        c->seq[cam][k] = r->frame->seq;
        c->counter[cam][k] = fp_media_counter(r->frame);
        c->n_dets[cam][k] = r->n_dets;
        c->width[cam][k] = r->frame->width;
        if (k == 0 && r->n_dets > 0)
            c->first_det[cam] = r->dets[0];
        for (int d = 0; d < r->n_dets; d++) {
            FpBox b = r->dets[d].box;
            FpBox m = {(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2, (b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2};
            FpBox *bb = &c->box_bounds[cam], *cb = &c->centre_bounds[cam];
            if (c->total_dets[cam]++ == 0) {
                *bb = b;
                *cb = m;
            }
            bb->x1 = fminf(bb->x1, b.x1), bb->y1 = fminf(bb->y1, b.y1);
            bb->x2 = fmaxf(bb->x2, b.x2), bb->y2 = fmaxf(bb->y2, b.y2);
            cb->x1 = fminf(cb->x1, m.x1), cb->y1 = fminf(cb->y1, m.y1);
            cb->x2 = fmaxf(cb->x2, m.x2), cb->y2 = fmaxf(cb->y2, m.y2);
        }
        c->names[cam] = r->camera_name;
    }
    if (r->batch_size > c->max_batch_seen)
        c->max_batch_seen = r->batch_size;
    if (r->queue_ns > c->max_queue_ns)
        c->max_queue_ns = r->queue_ns;
    int64_t total = fp_clock_ns() - r->frame->decoded_ns;
    if (total > c->max_total_ns)
        c->max_total_ns = total;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static void collect_init(Collect *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
}

static void add_camera(FpPipelineConfig *cfg, const char *name, const char *url)
{
    FpCameraConfig *c = &cfg->cameras[cfg->n_cameras++];
    c->name = name;
    c->source.url = url;
}

static FpPipelineConfig *new_config(const char *model)
{
    static FpPipelineConfig cfg;
    fp_pipeline_config_init(&cfg);
    cfg.model.path = model;
    cfg.model.threads = 2;
    return &cfg;
}

/* Runs a pipeline over files to the end. */
static FpPipeline *run_to_end(const FpPipelineConfig *cfg, Collect *col)
{
    FpPipeline *p = NULL;
    CHECK_OK(fp_pipeline_create(&p, cfg));
    CHECK_OK(fp_pipeline_add_sink(p, collect_sink, col));
    CHECK_OK(fp_pipeline_start(p));
    CHECK_OK(fp_pipeline_wait(p, -1));
    return p;
}

FP_TEST_TIMED(pipeline_file_lossless_every_frame_once_in_order, 180)
{
    char *clip = fp_media_clip("h264", 320, 240, 37, 25, "mp4");
    FpPipelineConfig *cfg = new_config(test_blazeface(128));
    add_camera(cfg, "clip", clip);
    cfg->batch.per_camera = 8;
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    CHECK_EQ(col.n[0], 37);
    for (int k = 0; k < 37; k++) {
        CHECK_EQ(col.seq[0][k], (uint64_t)k);
        CHECK_MSG(col.counter[0][k] == k, "result %d shows frame %d", k, col.counter[0][k]);
    }
    CHECK(!strcmp(col.names[0], "clip"));
    FpPipelineSummary s;
    fp_pipeline_get_summary(p, &s);
    CHECK_EQ(s.frames, 37);
    CHECK_EQ(s.skipped, 0);
    CHECK_EQ(s.latency.count, 37);
    CHECK(s.pool_hit_rate > 0.5);
    FpCameraSummary cs;
    CHECK_OK(fp_pipeline_get_camera(p, 0, &cs));
    CHECK_EQ(cs.processed, 37);
    CHECK_EQ(cs.ended, 1);
    CHECK_EQ(cs.end_code, FP_EEND_OF_STREAM);
    fp_pipeline_destroy(&p);
    CHECK(p == NULL);
    free(clip);
}

/*
 * Every histogram's buckets fit its unit (issue 16, fault 9): *_seconds ones
 * are times (1 us .. 60 s), the others counts (whole numbers from 1), and a
 * count histogram holds every observation below its largest finite bound.
 */
static void check_histogram_buckets(const char *text)
{
    int histograms = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        const char *b = strstr(line, "_bucket{");
        const char *eol = strchr(line, '\n');
        if (!b || (eol && b > eol) || line[0] == '#')
            continue;
        char name[128];
        size_t nlen = (size_t)(b - line);
        CHECK(nlen < sizeof(name));
        memcpy(name, line, nlen);
        name[nlen] = 0;
        const char *le = strstr(b, "le=\"");
        CHECK(le && (!eol || le < eol));
        le += 4;
        if (!strncmp(le, "+Inf", 4))
            continue;
        histograms++;
        double v = strtod(le, NULL);
        size_t l = strlen(name);
        if (l > 8 && !strcmp(name + l - 8, "_seconds"))
            CHECK_MSG(v >= 1e-6 && v <= 60, "%s: bucket le=%g is not a sensible time in seconds", name, v);
        else
            CHECK_MSG(v >= 1 && v == floor(v), "%s: bucket le=%g is not a count", name, v);
    }
    CHECK(histograms > 0);
    /* fp_batch_size: batches of 1..4 frames all fall in finite buckets */
    const char *inf = strstr(text, "fp_batch_size_bucket{le=\"+Inf\"} ");
    const char *four = strstr(text, "fp_batch_size_bucket{le=\"4\"} ");
    CHECK(inf && four);
    CHECK_EQ(strtoull(four + strlen("fp_batch_size_bucket{le=\"4\"} "), NULL, 10),
             strtoull(inf + strlen("fp_batch_size_bucket{le=\"+Inf\"} "), NULL, 10));
}

FP_TEST_TIMED(pipeline_three_cameras_batched_each_in_order, 240)
{
    char *a = fp_media_clip("h264", 320, 240, 30, 25, "mp4");
    char *b = fp_media_clip("hevc", 352, 288, 21, 25, "mkv");
    char *c = fp_media_clip("mjpeg", 256, 192, 12, 25, "avi");
    FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320.onnx"));
    add_camera(cfg, "a", a);
    add_camera(cfg, "b", b);
    add_camera(cfg, "c", c);
    cfg->batch.max_batch = 4;
    cfg->batch.per_camera = 2;
    cfg->batch.max_wait_ns = 50000000;
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    const int want[3] = {30, 21, 12};
    for (int cam = 0; cam < 3; cam++) {
        CHECK_MSG(col.n[cam] == want[cam], "camera %d: %d results, expected %d", cam, col.n[cam], want[cam]);
        for (int k = 0; k < want[cam]; k++) {
            CHECK_EQ(col.seq[cam][k], (uint64_t)k);
            CHECK_EQ(col.counter[cam][k], k);
        }
    }
    /* dynamic batch axis: frames of different cameras (and sizes) ran together */
    CHECK_MSG(col.max_batch_seen > 1, "largest batch %d", col.max_batch_seen);
    CHECK(col.max_batch_seen <= 4);
    /* the cameras are in /metrics and /api/cameras */
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    CHECK_OK(fp_metrics_write_prometheus(fp_pipeline_metrics(p), m));
    fclose(m);
    CHECK(strstr(text, "fp_camera_processed_total{camera=\"b\"} 21"));
    CHECK(strstr(text, "fp_stage_latency_seconds_bucket{stage=\"infer\""));
    /* the output stage (the sinks) is timed once per frame: 30 + 21 + 12 */
    CHECK_MSG(strstr(text, "fp_stage_latency_seconds_count{stage=\"output\"} 63\n"), "%s", text);
    /* and decoding once per decoded frame (all of them were kept) */
    CHECK_MSG(strstr(text, "fp_stage_latency_seconds_count{stage=\"decode\"} 63\n"), "%s", text);
    CHECK(strstr(text, "fp_batch_fill_ratio"));
    check_histogram_buckets(text);
    free(text);
    m = open_memstream(&text, &len);
    CHECK_OK(fp_pipeline_write_cameras_json(p, m));
    fclose(m);
    CHECK(strstr(text, "\"name\":\"c\""));
    CHECK(strstr(text, "\"processed\":12"));
    free(text);
    fp_pipeline_destroy(&p);
    free(a);
    free(b);
    free(c);
}

FP_TEST_TIMED(pipeline_resolution_change_inside_a_batch_keeps_every_frame, 180)
{
    /* 30 frames of 320x240 then 30 of 640x480 in one stream; batches of 8 straddle the change. */
    char *path = fp_media_switch_clip(320, 240, 30, 640, 480, 30, "switch.h264");
    FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320.onnx"));
    add_camera(cfg, "switch", path);
    cfg->batch.max_batch = 8;
    cfg->batch.per_camera = 8;
    cfg->batch.max_wait_ns = 200000000;
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    CHECK_EQ(col.n[0], 60);
    for (int k = 0; k < 60; k++) {
        CHECK_EQ(col.seq[0][k], (uint64_t)k);
        CHECK_EQ(col.counter[0][k], k % 30);
        CHECK_EQ(col.width[0][k], k < 30 ? 320 : 640);
    }
    FpCameraSummary cs;
    CHECK_OK(fp_pipeline_get_camera(p, 0, &cs));
    CHECK_EQ(cs.errors, 0);
    CHECK_EQ(cs.source.resolution_changes, 1);
    fp_pipeline_destroy(&p);
    free(path);
}

FP_TEST_TIMED(pipeline_two_workers_keep_each_camera_in_order, 240)
{
    /* Two sessions run batches in parallel; results must still reach the sinks in sequence order. */
    char *a = fp_media_clip("h264", 320, 240, 120, 25, "mp4");
    char *b = fp_media_clip("h264", 352, 288, 90, 25, "mp4");
    FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320.onnx"));
    add_camera(cfg, "a", a);
    add_camera(cfg, "b", b);
    cfg->model.workers = 2;
    cfg->model.threads = 1;
    cfg->batch.max_batch = 3;
    cfg->batch.per_camera = 2;
    cfg->batch.max_wait_ns = 1000000;
    Collect col;
    collect_init(&col);
    col.jitter = 1;
    FpPipeline *p = run_to_end(cfg, &col);
    const int want[2] = {120, 90};
    for (int cam = 0; cam < 2; cam++) {
        CHECK_EQ(col.n[cam], want[cam]);
        for (int k = 0; k < want[cam]; k++) {
            CHECK_MSG(col.seq[cam][k] == (uint64_t)k, "camera %d: result %d is frame %llu", cam, k,
                      (unsigned long long)col.seq[cam][k]);
            CHECK_EQ(col.counter[cam][k], k);
        }
    }
    fp_pipeline_destroy(&p);
    free(a), free(b);
}

FP_TEST_TIMED(pipeline_blazeface_finds_the_face_in_a_photo, 120)
{
    const char *lena = "/usr/share/doc/opencv-doc/opencv4/html/faceDetection.png";
    if (access(lena, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", lena);
    FpPipelineConfig *cfg = new_config(test_blazeface(128));
    add_camera(cfg, "lena", lena);
    add_camera(cfg, "fruits", test_sample("fruits.jpg"));
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    CHECK_EQ(col.n[0], 1);
    CHECK_EQ(col.n[1], 1);
    CHECK_EQ(col.n_dets[0][0], 1);
    CHECK_EQ(col.n_dets[1][0], 0);
    /* where a person saw the face (tests/infer/test_face.c), +-14 px */
    FpDetection d = col.first_det[0];
    CHECK_NEAR(d.box.x1, 174.4, 14);
    CHECK_NEAR(d.box.y1, 219.2, 14);
    CHECK_NEAR(d.box.x2, 368.0, 14);
    CHECK_NEAR(d.box.y2, 412.9, 14);
    CHECK_EQ(d.n_keypoints, 6);
    fp_pipeline_destroy(&p);
}

FP_TEST_TIMED(pipeline_a_failed_input_does_not_stop_the_others, 180)
{
    char *clip = fp_media_clip("h264", 320, 240, 20, 25, "mp4");
    char bad[512];
    snprintf(bad, sizeof(bad), "%s/not-a-video.mp4", fp_test_tmpdir());
    CHECK_OK(fp_media_write_file(bad, "this is not a video file\n", 25));
    FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320.onnx"));
    add_camera(cfg, "bad", bad);
    add_camera(cfg, "good", clip);
    add_camera(cfg, "missing", "/nonexistent/clip.mp4");
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    CHECK_EQ(col.n[1], 20);
    CHECK_EQ(col.n[0], 0);
    CHECK_EQ(col.n[2], 0);
    FpCameraSummary cs;
    CHECK_OK(fp_pipeline_get_camera(p, 0, &cs));
    CHECK_EQ(cs.source.state, FP_SOURCE_FAILED);
    CHECK_MSG(strstr(cs.source.last_error, "not-a-video.mp4"), "error: %s", cs.source.last_error);
    CHECK_OK(fp_pipeline_get_camera(p, 2, &cs));
    CHECK_EQ(cs.source.state, FP_SOURCE_FAILED);
    CHECK_MSG(strstr(cs.source.last_error, "/nonexistent/clip.mp4"), "error: %s", cs.source.last_error);
    CHECK(cs.end_code < 0 && cs.end_code != FP_EEND_OF_STREAM);
    fp_pipeline_destroy(&p);
    free(clip);
}

FP_TEST_TIMED(pipeline_region_of_interest_crops_and_a_bad_one_drops_only_its_camera, 180)
{
    char *clip = fp_media_clip("h264", 320, 240, 15, 25, "mp4");
    FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320.onnx"));
    add_camera(cfg, "crop", clip);
    cfg->cameras[0].roi_x = 160;
    cfg->cameras[0].roi_y = 120;
    cfg->cameras[0].roi_w = 160;
    cfg->cameras[0].roi_h = 120;
    add_camera(cfg, "outside", clip);
    cfg->cameras[1].roi_w = 1000; /* wider than the frame */
    cfg->cameras[1].roi_h = 100;
    cfg->model.confidence = 0.01f; /* random weights: boxes in every frame */
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    CHECK_EQ(col.n[0], 15);
    CHECK_EQ(col.n[1], 0);
    /* Random weights at confidence 0.01 keep hundreds of boxes per frame, so there is always
     * something to check: every box of every frame is in source pixels inside the region, and the
     * box centres spread over both halves of it each way (a region offset left out of the
     * transform would put the boxes at 0..160 x 0..120, clipped onto the region's top-left edges). */
    CHECK_MSG(col.total_dets[0] >= 15, "only %d detections in 15 frames", col.total_dets[0]);
    FpBox bb = col.box_bounds[0], cb = col.centre_bounds[0];
    CHECK_MSG(bb.x1 >= 160 && bb.x2 <= 320 && bb.y1 >= 120 && bb.y2 <= 240, "boxes span %.1f,%.1f-%.1f,%.1f",
              bb.x1, bb.y1, bb.x2, bb.y2);
    CHECK_MSG(cb.x1 < 240 && cb.x2 > 240 && cb.y1 < 180 && cb.y2 > 180, "box centres span %.1f,%.1f-%.1f,%.1f",
              cb.x1, cb.y1, cb.x2, cb.y2);
    FpCameraSummary cs;
    CHECK_OK(fp_pipeline_get_camera(p, 1, &cs));
    CHECK_EQ(cs.errors, 15);
    CHECK_EQ(cs.processed, 0);
    CHECK_OK(fp_pipeline_get_camera(p, 0, &cs));
    CHECK_EQ(cs.errors, 0);
    fp_pipeline_destroy(&p);
    free(clip);
}

FP_TEST_TIMED(pipeline_latest_policy_skips_instead_of_queueing, 180)
{
    /* A 320x240 clip decodes far faster than BlazeFace 256 runs on one thread: with the latest
     * policy the backlog must not grow; frames are skipped and counted instead. */
    char *clip = fp_media_clip("h264", 320, 240, 400, 25, "mp4");
    FpPipelineConfig *cfg = new_config(test_blazeface(256));
    add_camera(cfg, "fast", clip);
    cfg->cameras[0].source.policy = FP_POLICY_LATEST;
    cfg->model.threads = 1;
    cfg->batch.max_batch = 1;
    Collect col;
    collect_init(&col);
    FpPipeline *p = run_to_end(cfg, &col);
    FpCameraSummary cs;
    CHECK_OK(fp_pipeline_get_camera(p, 0, &cs));
    CHECK_EQ(cs.source.frames, 400);
    CHECK_MSG(cs.source.skipped > 0, "nothing skipped: %llu processed", (unsigned long long)cs.processed);
    /* every frame the source queued was either processed or skipped: none is lost or left behind */
    CHECK_EQ(cs.processed + cs.source.skipped, cs.source.frames);
    CHECK_EQ((uint64_t)col.n[0], cs.processed);
    /* what was processed is in order, the newest frames win (the last one always gets through) */
    for (int k = 1; k < col.n[0]; k++)
        CHECK(col.counter[0][k] > col.counter[0][k - 1]);
    CHECK_EQ(col.counter[0][col.n[0] - 1], 399);
    /* the latest queue holds 2 frames: a frame waits for about 2 model runs, never for the backlog */
    FpPipelineSummary s;
    fp_pipeline_get_summary(p, &s);
    CHECK(s.skipped == cs.source.skipped);
    /* a backlog of this clip would be seconds; the bound leaves room for a loaded machine */
    CHECK_MSG(col.max_queue_ns < 4 * (int64_t)s.latency.p50 + 1000000000,
              "max queue wait %.1f ms vs median latency %.1f ms", col.max_queue_ns / 1e6, s.latency.p50 / 1e6);
    fp_pipeline_destroy(&p);
    free(clip);
}

FP_TEST_TIMED(pipeline_family_name_yolov8_on_a_raw_head_keeps_the_raw_decoder, 180)
{
    /* "yolov8" for an export with the raw DFL head: the outputs pick the decoder, so the results are
     * those of family auto (the decoded-head decoder would read the DFL bins as class scores). */
    char *clip = fp_media_clip("h264", 320, 240, 8, 25, "mp4");
    static Collect col[2];
    const FpFamily families[2] = {FP_FAMILY_UNKNOWN, FP_FAMILY_YOLOV8};
    for (int k = 0; k < 2; k++) {
        FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320_raw.onnx"));
        add_camera(cfg, "raw", clip);
        cfg->model.family = families[k];
        cfg->model.confidence = 0.01f; /* random weights: keep enough boxes to compare */
        collect_init(&col[k]);
        FpPipeline *p = run_to_end(cfg, &col[k]);
        fp_pipeline_destroy(&p);
    }
    CHECK_EQ(col[0].n[0], 8);
    CHECK_EQ(col[1].n[0], 8);
    int total = 0;
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(col[1].n_dets[0][i], col[0].n_dets[0][i]);
        total += col[0].n_dets[0][i];
    }
    CHECK_MSG(total > 0, "no detections to compare");
    CHECK_NEAR(col[1].first_det[0].box.x1, col[0].first_det[0].box.x1, 1e-3);
    CHECK_NEAR(col[1].first_det[0].score, col[0].first_det[0].score, 1e-6);
    free(clip);
}

FP_TEST(pipeline_bad_config_and_models_are_clear_errors)
{
    FpPipeline *p = NULL;
    FpPipelineConfig *cfg = new_config(test_model_path("yolov8_test_320.onnx"));
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG); /* no cameras */
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "cameras"));
    add_camera(cfg, "x", "a.mp4");
    add_camera(cfg, "x", "b.mp4");
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "'x' is used twice"));
    cfg->n_cameras = 1;
    cfg->model.provider = (FpProvider)7; /* not a provider: a C caller's mistake, refused up front */
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "model.provider"));
    cfg->model.provider = FP_PROVIDER_CPU;
    cfg->model.family = FP_FAMILY_BLAZEFACE; /* a YOLO layout */
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "does not match"));
    cfg->model.family = (FpFamily)42;
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "model.family"));
    cfg->model.family = FP_FAMILY_UNKNOWN;
    cfg->model.path = test_model_path("tiny_unknown_family.onnx");
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG); /* a dynamic input size needs model.input */
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "dynamic"));
    cfg->model.input_width = cfg->model.input_height = 64;
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_EMODEL);
    CHECK(strstr(fp_error_detail(FP_EMODEL), "tiny_unknown_family.onnx"));
    cfg->model.input_width = cfg->model.input_height = 0;
    cfg->model.path = "/nonexistent/model.onnx";
    int rc = fp_pipeline_create(&p, cfg);
    CHECK(rc < 0);
    CHECK(strstr(fp_error_detail(rc), "/nonexistent/model.onnx"));
    cfg->model.path = test_model_path("yolov8_test_320.onnx");
    cfg->batch.max_batch = 0;
    CHECK_EQ(fp_pipeline_create(&p, cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "max_batch"));
    CHECK(p == NULL);
}

FP_TEST_TIMED(pipeline_refuses_a_model_whose_input_is_not_what_prep_writes, 120)
{
    /* Pre-processing writes 3 channels (RGB/BGR) of float32, float16 or uint8. A model declaring 1 or
     * 4 channels, or int8, would be handed batch * its item size of a tensor sized for 3 channels:
     * ONNX Runtime would read past the batch tensor. The pipeline must refuse it up front, naming the
     * model and what differs. (Accepted by mistake, the batch of 8 is run: ASan reports the overread.) */
    static const struct {
        const char *file, *what;
    } cases[] = {
        {"tiny_input_4ch.onnx", "has 4 channels [N,4,64,64]"},
        {"tiny_input_1ch.onnx", "has 1 channel [N,1,64,64]"},
        {"tiny_input_int8.onnx", "is int8 [N,3,64,64]"},
    };
    char *clip = fp_media_clip("h264", 320, 240, 16, 25, "mp4");
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        FpPipelineConfig *cfg = new_config(test_model_path(cases[k].file));
        add_camera(cfg, "cam", clip);
        cfg->batch.max_batch = 8;
        cfg->batch.per_camera = 8;
        cfg->batch.max_wait_ns = 200000000;
        FpPipeline *p = NULL;
        int rc = fp_pipeline_create(&p, cfg);
        if (rc == 0) {
            Collect col;
            collect_init(&col);
            CHECK_OK(fp_pipeline_add_sink(p, collect_sink, &col));
            CHECK_OK(fp_pipeline_start(p));
            CHECK_OK(fp_pipeline_wait(p, -1));
            fp_pipeline_destroy(&p);
        }
        CHECK_MSG(rc == FP_EMODEL, "%s: fp_pipeline_create returned %d, expected FP_EMODEL", cases[k].file, rc);
        CHECK(p == NULL);
        const char *msg = fp_error_detail(FP_EMODEL);
        CHECK_MSG(strstr(msg, cases[k].file) && strstr(msg, "input 'images'") && strstr(msg, cases[k].what) &&
                      strstr(msg, "pre-processing writes"),
                  "%s: message '%s'", cases[k].file, msg);
    }
    free(clip);
}
