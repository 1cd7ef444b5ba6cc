// SPDX-License-Identifier: MIT
// Tests of the YAML config loader: every key into the right field, defaults, path resolution, and FILE:LINE errors.
#include "fp_test.h"

#include "framepipe/config.h"
#include "framepipe/error.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static int streq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

#define CHECK_STR(a, b) CHECK_MSG(streq((a), (b)), "%s is '%s', expected '%s'", #a, (a) ? (a) : "(null)", (b))

/*
 * Parses `text` as "cams.yaml" and checks the failure: the code, that the
 * message starts with "cams.yaml:LINE:" and that it contains each of the
 * NULL-terminated needles (the key, the offending value...).
 */
static void expect_error_at(const char *text, int line, ...)
{
    FpConfigFile *cf = NULL;
    int rc = fp_config_parse(&cf, text, strlen(text), "cams.yaml");
    CHECK_MSG(rc == FP_ECONFIG, "expected FP_ECONFIG, got %d (%s)", rc, fp_err_name(rc));
    CHECK(cf == NULL);
    const char *msg = fp_error_detail(rc);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "cams.yaml:%d:", line);
    CHECK_MSG(!strncmp(msg, prefix, strlen(prefix)), "message '%s' does not start with '%s'", msg, prefix);
    va_list ap;
    va_start(ap, line);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        CHECK_MSG(strstr(msg, needle) != NULL, "message '%s' lacks '%s'", msg, needle);
    va_end(ap);
}

#define EXPECT_ERROR(text, line, ...) expect_error_at((text), (line), __VA_ARGS__, (const char *)NULL)

static const char full_config[] =
    "# every key\n"
    "cameras:\n"
    "  - name: door\n"
    "    url: rtsp://127.0.0.1:8554/a\n"
    "    kind: libav\n"
    "    live: true\n"
    "    policy: latest\n"
    "    queue_depth: 3\n"
    "    fps: 7.5\n"
    "    every_nth: 2\n"
    "    rtsp_transport: udp\n"
    "    open_timeout: 2s\n"
    "    stall_timeout: 3\n"
    "    backoff_min: 5ms\n"
    "    backoff_max: 1m\n"
    "    pool_timeout: 250us\n"
    "    hw: cuda\n"
    "    hw_device: \"0\"\n"
    "    decoder_threads: 2\n"
    "    roi: [10, 20, 300, 200]\n"
    "  - name: clip.1\n"
    "    url: /data/clip.mp4\n"
    "    live: no\n"
    "    policy: lossless\n"
    "    start: 1.5s\n"
    "    stop: 1m\n"
    "    loop: yes\n"
    "    hw: vaapi\n"
    "  - name: raw-in\n"
    "    url: \"-\"\n"
    "    kind: raw\n"
    "    live: auto\n"
    "    raw_width: 640\n"
    "    raw_height: 480\n"
    "    raw_format: nv12\n"
    "    raw_fps: 12.5\n"
    "model:\n"
    "  path: /models/yolov8n.onnx\n"
    "  family: yolov8\n"
    "  input: [640, 384]\n"
    "  labels: /models/coco.names\n"
    "  confidence: 0.4\n"
    "  iou: 0.6\n"
    "  max_detections: 50\n"
    "  threads: 4\n"
    "  provider: tensorrt\n"
    "  provider_fallback: on\n"
    "  workers: 3\n"
    "batch:\n"
    "  max_batch: 16\n"
    "  max_wait: 250us\n"
    "  per_camera: 2\n"
    "  latency_budget: 1.5s\n"
    "output:\n"
    "  jsonl: \"-\"\n"
    "  annotate: /out/ann/\n"
    "  http: 127.0.0.1:8080\n";

FP_TEST(config_full_file_round_trips_every_key)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cams.yaml", fp_test_tmpdir());
    write_file(path, full_config);
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_load(&cf, path));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_EQ(c->n_cameras, 3);

    const FpCameraConfig *a = &c->cameras[0];
    CHECK_STR(a->name, "door");
    CHECK_STR(a->source.name, "door");
    CHECK_EQ(a->source.camera, 0);
    CHECK_STR(a->source.url, "rtsp://127.0.0.1:8554/a");
    CHECK_EQ(a->source.kind, FP_SOURCE_LIBAV);
    CHECK_EQ(a->source.live, FP_LIVE_YES);
    CHECK_EQ(a->source.policy, FP_POLICY_LATEST);
    CHECK_EQ(a->source.queue_depth, 3);
    CHECK_NEAR(a->source.target_fps, 7.5, 0);
    CHECK_EQ(a->source.every_nth, 2);
    CHECK_EQ(a->source.rtsp_transport, FP_RTSP_UDP);
    CHECK_EQ(a->source.open_timeout_ns, 2000000000LL);
    CHECK_EQ(a->source.stall_timeout_ns, 3000000000LL);
    CHECK_EQ(a->source.backoff_min_ns, 5000000LL);
    CHECK_EQ(a->source.backoff_max_ns, 60000000000LL);
    CHECK_EQ(a->source.pool_timeout_ns, 250000LL);
    CHECK_EQ(a->source.hw, FP_HW_CUDA);
    CHECK_STR(a->source.hw_device, "0");
    CHECK_EQ(a->source.decoder_threads, 2);
    CHECK_EQ(a->roi_x, 10);
    CHECK_EQ(a->roi_y, 20);
    CHECK_EQ(a->roi_w, 300);
    CHECK_EQ(a->roi_h, 200);
    CHECK_EQ(a->source.loop, 0);

    const FpCameraConfig *b = &c->cameras[1];
    CHECK_STR(b->name, "clip.1");
    CHECK_EQ(b->source.camera, 1);
    CHECK_STR(b->source.url, "/data/clip.mp4");
    CHECK_EQ(b->source.kind, FP_SOURCE_AUTO);
    CHECK_EQ(b->source.live, FP_LIVE_NO);
    CHECK_EQ(b->source.policy, FP_POLICY_LOSSLESS);
    CHECK_NEAR(b->source.start_s, 1.5, 1e-12);
    CHECK_NEAR(b->source.stop_s, 60.0, 1e-12);
    CHECK_EQ(b->source.loop, 1);
    CHECK_EQ(b->source.hw, FP_HW_VAAPI);
    CHECK_EQ(b->roi_w, 0);

    const FpCameraConfig *r = &c->cameras[2];
    CHECK_STR(r->name, "raw-in");
    CHECK_EQ(r->source.camera, 2);
    CHECK_STR(r->source.url, "-");
    CHECK_EQ(r->source.kind, FP_SOURCE_RAW);
    CHECK_EQ(r->source.live, FP_LIVE_AUTO);
    CHECK_EQ(r->source.raw_width, 640);
    CHECK_EQ(r->source.raw_height, 480);
    CHECK_EQ(r->source.raw_format, FP_PIX_NV12);
    CHECK_NEAR(r->source.raw_fps, 12.5, 0);

    CHECK_STR(c->model.path, "/models/yolov8n.onnx");
    CHECK_EQ(c->model.family, FP_FAMILY_YOLOV8);
    CHECK_EQ(c->model.input_width, 640);
    CHECK_EQ(c->model.input_height, 384);
    CHECK_STR(c->model.labels, "/models/coco.names");
    CHECK_NEAR(c->model.confidence, 0.4, 1e-6);
    CHECK_NEAR(c->model.iou, 0.6, 1e-6);
    CHECK_EQ(c->model.max_detections, 50);
    CHECK_EQ(c->model.threads, 4);
    CHECK_EQ(c->model.provider, FP_PROVIDER_TENSORRT);
    CHECK(c->model.provider_fallback);
    CHECK_EQ(c->model.workers, 3);

    CHECK_EQ(c->batch.max_batch, 16);
    CHECK_EQ(c->batch.max_wait_ns, 250000LL);
    CHECK_EQ(c->batch.per_camera, 2);
    CHECK_EQ(c->batch.latency_budget_ns, 1500000000LL);

    CHECK_STR(c->output.jsonl, "-");
    CHECK_STR(c->output.annotate, "/out/ann/");
    CHECK_STR(c->output.http, "127.0.0.1:8080");

    fp_config_destroy(&cf);
    CHECK(cf == NULL);
    fp_config_destroy(&cf); /* no-op */
}

FP_TEST(config_enum_keys_take_every_spelling_the_docs_list)
{
    /* model.family, model.provider and cameras[].live are enums in the struct; the YAML keeps its words. */
    static const struct {
        const char *family;
        FpFamily want;
    } fams[] = {{"auto", FP_FAMILY_UNKNOWN},       {"AUTO", FP_FAMILY_UNKNOWN},    {"yolov5", FP_FAMILY_YOLOV5},
                {"yolov7", FP_FAMILY_YOLOV5},      {"yolov8", FP_FAMILY_YOLOV8},   {"yolov11", FP_FAMILY_YOLOV8},
                {"yolov8-raw", FP_FAMILY_YOLOV8_RAW}, {"blazeface", FP_FAMILY_BLAZEFACE}, {"ssd", FP_FAMILY_SSD}};
    static const struct {
        const char *live;
        FpLiveMode want;
    } lives[] = {{"auto", FP_LIVE_AUTO}, {"true", FP_LIVE_YES}, {"yes", FP_LIVE_YES}, {"on", FP_LIVE_YES},
                 {"false", FP_LIVE_NO},  {"no", FP_LIVE_NO},    {"off", FP_LIVE_NO}};
    static const struct {
        const char *provider;
        FpProvider want;
    } provs[] = {{"cpu", FP_PROVIDER_CPU}, {"cuda", FP_PROVIDER_CUDA}, {"tensorrt", FP_PROVIDER_TENSORRT}};
    for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "cameras:\n  - {name: a, url: /a.mp4, live: %s}\nmodel: {path: /m.onnx, family: %s, provider: %s}\n",
                 lives[k % 7].live, fams[k].family, provs[k % 3].provider);
        FpConfigFile *cf = NULL;
        CHECK_OK(fp_config_parse(&cf, text, strlen(text), "enums.yaml"));
        const FpPipelineConfig *c = fp_config_get(cf);
        CHECK_MSG(c->model.family == fams[k].want, "family %s: %d", fams[k].family, (int)c->model.family);
        CHECK_MSG(c->cameras[0].source.live == lives[k % 7].want, "live %s: %d", lives[k % 7].live,
                  (int)c->cameras[0].source.live);
        CHECK_MSG(c->model.provider == provs[k % 3].want, "provider %s: %d", provs[k % 3].provider,
                  (int)c->model.provider);
        fp_config_destroy(&cf);
    }
}

FP_TEST(config_absent_keys_take_the_documented_defaults)
{
    const char *text = "cameras:\n  - {name: a, url: rtsp://127.0.0.1/x}\nmodel: {path: /m.onnx}\n";
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), "min.yaml"));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_EQ(c->n_cameras, 1);
    const FpSourceConfig *s = &c->cameras[0].source;
    CHECK_EQ(s->kind, FP_SOURCE_AUTO);
    CHECK_EQ(s->live, FP_LIVE_AUTO);
    CHECK_EQ(s->policy, FP_POLICY_DEFAULT);
    CHECK_EQ(s->queue_depth, 0);
    CHECK_EQ(s->target_fps, 0);
    CHECK_EQ(s->every_nth, 0);
    CHECK_EQ(s->start_s, 0);
    CHECK_EQ(s->stop_s, 0);
    CHECK_EQ(s->loop, 0);
    CHECK_EQ(s->rtsp_transport, FP_RTSP_TCP);
    CHECK_EQ(s->open_timeout_ns, 10000000000LL);
    CHECK_EQ(s->stall_timeout_ns, 5000000000LL);
    CHECK_EQ(s->backoff_min_ns, 250000000LL);
    CHECK_EQ(s->backoff_max_ns, 10000000000LL);
    CHECK_EQ(s->pool_timeout_ns, 100000000LL);
    CHECK_EQ(s->hw, FP_HW_NONE);
    CHECK(s->hw_device == NULL);
    CHECK_EQ(s->decoder_threads, 0);
    CHECK_EQ(s->raw_width, 0);
    CHECK_EQ(s->raw_format, FP_PIX_NONE);
    CHECK_EQ(c->cameras[0].roi_w, 0);
    CHECK_EQ(c->model.family, FP_FAMILY_UNKNOWN);
    CHECK_EQ(c->model.input_width, 0);
    CHECK_EQ(c->model.input_height, 0);
    CHECK(c->model.labels == NULL);
    CHECK(c->model.confidence < 0);
    CHECK(c->model.iou < 0);
    CHECK_EQ(c->model.max_detections, 0);
    CHECK_EQ(c->model.threads, 0);
    CHECK_EQ(c->model.provider, FP_PROVIDER_CPU);
    CHECK(!c->model.provider_fallback);
    CHECK_EQ(c->model.workers, 1);
    CHECK_EQ(c->batch.max_batch, 8);
    CHECK_EQ(c->batch.max_wait_ns, 5000000LL);
    CHECK_EQ(c->batch.per_camera, 1);
    CHECK_EQ(c->batch.latency_budget_ns, 0);
    CHECK(c->output.jsonl == NULL && c->output.annotate == NULL && c->output.http == NULL);

    /* fp_pipeline_config_init gives the same values and numbers every camera */
    FpPipelineConfig d;
    fp_pipeline_config_init(&d);
    CHECK_EQ(d.n_cameras, 0);
    CHECK(d.model.path == NULL);
    CHECK_EQ(d.batch.max_batch, 8);
    CHECK_EQ(d.model.workers, 1);
    CHECK_EQ(d.cameras[5].source.camera, 5);
    CHECK_EQ(d.cameras[5].source.open_timeout_ns, 10000000000LL);
    fp_config_destroy(&cf);
}

FP_TEST(config_null_values_and_empty_sections_mean_defaults)
{
    const char *text = "cameras:\n  - name: a\n    url: x.mp4\n    fps: ~\n    hw_device:\n"
                       "model:\n  path: /m.onnx\n  labels: null\nbatch:\noutput: {}\n";
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), "n.yaml"));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_EQ(c->cameras[0].source.target_fps, 0);
    CHECK(c->cameras[0].source.hw_device == NULL);
    CHECK(c->model.labels == NULL);
    CHECK_EQ(c->batch.max_batch, 8);
    fp_config_destroy(&cf);
}

FP_TEST(config_relative_paths_resolve_against_the_config_directory)
{
    char dir[PATH_MAX], path[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/sub", fp_test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(path, sizeof(path), "%s/cams.yaml", dir);
    write_file(path, "cameras:\n"
                     "  - {name: f, url: clips/a.mp4}\n"
                     "  - {name: d, url: ./frames/}\n"
                     "  - {name: r, url: rtsp://127.0.0.1/x}\n"
                     "  - {name: g, url: ring:cam0}\n"
                     "  - {name: s, url: '-', raw_width: 2, raw_height: 2, raw_format: gray8}\n"
                     "  - {name: v, url: /dev/video0}\n"
                     "  - {name: p, url: pipe:0}\n"
                     "  - {name: a, url: /abs/b.mp4}\n"
                     "model:\n  path: models/det.onnx\n  labels: ../coco.names\n"
                     "output:\n  jsonl: out/r.jsonl\n  annotate: ann/\n");
    /* load through a relative path: the result is still absolute */
    CHECK(chdir(fp_test_tmpdir()) == 0);
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_load(&cf, "sub/cams.yaml"));
    const FpPipelineConfig *c = fp_config_get(cf);
    char cwd[PATH_MAX], want[PATH_MAX + 64];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
    snprintf(want, sizeof(want), "%s/sub", cwd);
    CHECK_STR(fp_config_dir(cf), want);
#define CHECK_UNDER(got, rel)                                                            \
    do {                                                                                 \
        snprintf(want, sizeof(want), "%s/sub/%s", cwd, rel);                             \
        CHECK_STR(got, want);                                                            \
    } while (0)
    CHECK_UNDER(c->cameras[0].source.url, "clips/a.mp4");
    CHECK_UNDER(c->cameras[1].source.url, "frames/");
    CHECK_STR(c->cameras[2].source.url, "rtsp://127.0.0.1/x");
    CHECK_STR(c->cameras[3].source.url, "ring:cam0");
    CHECK_STR(c->cameras[4].source.url, "-");
    CHECK_STR(c->cameras[5].source.url, "/dev/video0");
    CHECK_STR(c->cameras[6].source.url, "pipe:0");
    CHECK_STR(c->cameras[7].source.url, "/abs/b.mp4");
    CHECK_UNDER(c->model.path, "models/det.onnx");
    CHECK_UNDER(c->model.labels, "../coco.names");
    CHECK_UNDER(c->output.jsonl, "out/r.jsonl");
    CHECK_UNDER(c->output.annotate, "ann/");
    fp_config_destroy(&cf);

    /* in memory: against the current directory */
    const char *text = "cameras: [{name: f, url: a.mp4}]\nmodel: {path: m.onnx}\n";
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), NULL));
    c = fp_config_get(cf);
    snprintf(want, sizeof(want), "%s/a.mp4", cwd);
    CHECK_STR(c->cameras[0].source.url, want);
    snprintf(want, sizeof(want), "%s/m.onnx", cwd);
    CHECK_STR(c->model.path, want);
    fp_config_destroy(&cf);
}

FP_TEST(config_durations_accept_every_unit)
{
    static const struct {
        const char *text;
        int64_t ns;
    } cases[] = {{"5ms", 5000000LL},      {"250us", 250000LL},   {"2s", 2000000000LL},
                 {"1.5s", 1500000000LL},  {"1m", 60000000000LL}, {"0.25", 250000000LL},
                 {"3", 3000000000LL},     {"100ns", 100},        {"1h", 3600000000000LL},
                 {"0", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "cameras: [{name: a, url: /a.mp4}]\nmodel: {path: /m}\n"
                                     "batch: {max_wait: %s}\n", cases[i].text);
        FpConfigFile *cf = NULL;
        CHECK_OK(fp_config_parse(&cf, text, strlen(text), "d.yaml"));
        CHECK_MSG(fp_config_get(cf)->batch.max_wait_ns == cases[i].ns, "%s -> %lld", cases[i].text,
                  (long long)fp_config_get(cf)->batch.max_wait_ns);
        fp_config_destroy(&cf);
    }
}

FP_TEST(config_camera_latency_budget_is_per_camera)
{
    static const char text[] = "cameras:\n  - {name: a, url: /a.mp4, latency_budget: 15ms}\n"
                               "  - {name: b, url: /b.mp4}\nmodel: {path: /m}\nbatch: {latency_budget: 80ms}\n";
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), "b.yaml"));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_EQ(c->cameras[0].latency_budget_ns, 15000000);
    CHECK_EQ(c->cameras[1].latency_budget_ns, 0);
    CHECK_EQ(c->batch.latency_budget_ns, 80000000);
    fp_config_destroy(&cf);
    static const char bad[] = "cameras:\n  - {name: a, url: /a.mp4, latency_budget: soon}\nmodel: {path: /m}\n";
    CHECK_EQ(fp_config_parse(&cf, bad, strlen(bad), "b.yaml"), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "b.yaml:2:"));
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "latency_budget"));
}

FP_TEST(config_decode_options_skip_loop_filter_and_skip_frames)
{
    static const char text[] = "cameras:\n  - {name: a, url: /a.mp4, skip_loop_filter: yes, skip_frames: nonkey}\n"
                               "  - {name: b, url: /b.mp4, skip_frames: nonref}\n  - {name: c, url: /c.mp4}\n"
                               "model: {path: /m}\n";
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), "d.yaml"));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_EQ(c->cameras[0].source.skip_loop_filter, 1);
    CHECK_EQ(c->cameras[0].source.skip_frames, FP_SKIP_NONKEY);
    CHECK_EQ(c->cameras[1].source.skip_loop_filter, 0);
    CHECK_EQ(c->cameras[1].source.skip_frames, FP_SKIP_NONREF);
    CHECK_EQ(c->cameras[2].source.skip_frames, FP_SKIP_NONE);
    fp_config_destroy(&cf);
    static const char bad[] = "cameras:\n  - {name: a, url: /a.mp4, skip_frames: bframes}\nmodel: {path: /m}\n";
    CHECK_EQ(fp_config_parse(&cf, bad, strlen(bad), "d.yaml"), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "d.yaml:2:"));
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "none, nonref, nonkey"));
}

/* ---- errors: one per kind, each naming the file, the line and the key ---- */

#define GOOD_MODEL "model:\n  path: /m.onnx\n"

FP_TEST(config_error_bad_number_names_line_and_key)
{
    EXPECT_ERROR("cameras:\n"
                 "  - name: a\n"
                 "    url: /a.mp4\n"
                 "  - name: b\n"
                 "    url: /b.mp4\n"
                 "\n"
                 "    fps: fast\n" GOOD_MODEL,
                 7, "cameras[1].fps", "expected a number > 0 and at most 1e6", "'fast'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    fps: 0\n" GOOD_MODEL, 4, "cameras[0].fps");
    /* too large reads as too large, not as a wrong sign (issue 16, fault 11) */
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    fps: 1e300\n" GOOD_MODEL, 4, "cameras[0].fps",
                 "a number > 0 and at most 1e6", "'1e300'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    open_timeout: 1e300s\n" GOOD_MODEL, 4,
                 "cameras[0].open_timeout", "a duration > 0 and at most 1e9 s", "'1e300s'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    queue_depth: -1\n" GOOD_MODEL, 4,
                 "cameras[0].queue_depth", "'-1'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    every_nth: 1.5\n" GOOD_MODEL, 4,
                 "cameras[0].every_nth");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  confidence: 1.5\n", 4,
                 "model.confidence", "0..1");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  workers: 17\n", 4, "model.workers",
                 "1..16");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "batch:\n  max_batch: 65\n", 5,
                 "batch.max_batch", "'65'");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "batch:\n  per_camera: 0\n", 5,
                 "batch.per_camera");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  input: [640, 0]\n", 4,
                 "model.input[1]");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  input: [640]\n", 4, "model.input",
                 "list of 1");
}

FP_TEST(config_error_bad_values_of_other_types)
{
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    open_timeout: soon\n" GOOD_MODEL, 4,
                 "cameras[0].open_timeout", "duration", "'soon'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    stall_timeout: 0s\n" GOOD_MODEL, 4,
                 "cameras[0].stall_timeout", "> 0");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    start: -1s\n" GOOD_MODEL, 4, "cameras[0].start");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    loop: maybe\n" GOOD_MODEL, 4, "cameras[0].loop",
                 "boolean");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    policy: newest\n" GOOD_MODEL, 4,
                 "cameras[0].policy", "latest", "'newest'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    roi: [1, 2, 3]\n" GOOD_MODEL, 4, "cameras[0].roi");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    roi: [1, 2, 0, 5]\n" GOOD_MODEL, 4,
                 "cameras[0].roi[2]");
    EXPECT_ERROR("cameras:\n  - name: 'a b'\n    url: /a.mp4\n" GOOD_MODEL, 2, "cameras[0].name", "'a b'");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  family: yolov9\n", 4,
                 "model.family", "'yolov9'");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  provider: rocm\n", 4,
                 "model.provider", "tensorrt");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  http: 127.0.0.1:70000\n", 5,
                 "output.http", "65535");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  http: 8080\n", 5, "output.http");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    start: 10s\n    stop: 5s\n" GOOD_MODEL, 5,
                 "cameras[0].stop", "after start");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    backoff_min: 2s\n    backoff_max: 1s\n" GOOD_MODEL,
                 5, "cameras[0].backoff_max");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: \"-\"\n" GOOD_MODEL, 2, "cameras[0]", "raw_width");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a\n    kind: ring\n" GOOD_MODEL, 3, "cameras[0].url", "ring:NAME");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m\n  input: [640, 640]\n"
                 "  input_width: 320\n", 5, "model.input_width", "not both");
}

FP_TEST(config_error_unknown_key_lists_the_known_ones)
{
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n"
                 "model:\n"
                 "  path: /m.onnx\n"
                 "  treshold: 0.5\n",
                 4, "model: unknown key 'treshold'", "known: path, family", "workers");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    fsp: 5\n" GOOD_MODEL, 4,
                 "cameras[0]: unknown key 'fsp'", "did you mean 'fps'", "raw_format");
    EXPECT_ERROR("camera:\n  - name: a\n" GOOD_MODEL, 1, "top level: unknown key 'camera'",
                 "did you mean 'cameras'");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  json: x\n", 5,
                 "output: unknown key 'json'");
}

FP_TEST(config_error_duplicate_camera_names_and_keys)
{
    EXPECT_ERROR("cameras:\n"
                 "  - name: door\n"
                 "    url: /a.mp4\n"
                 "  - name: yard\n"
                 "    url: /b.mp4\n"
                 "  - url: /c.mp4\n"
                 "    name: door\n" GOOD_MODEL,
                 7, "cameras[2].name", "duplicate camera name 'door'", "cameras[0]");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  path: /m.onnx\n  path: /n.onnx\n", 4,
                 "model: duplicate key 'path'", "line 3");
}

FP_TEST(config_error_missing_required_keys_point_at_the_mapping)
{
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n  - name: b\n    fps: 5\n" GOOD_MODEL, 4,
                 "cameras[1]: missing required key 'url'");
    EXPECT_ERROR("cameras:\n  - url: /a.mp4\n" GOOD_MODEL, 2, "cameras[0]: missing required key 'name'");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  family: yolov8\n", 3,
                 "model: missing required key 'path'");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nbatch: {max_batch: 2}\n", 1,
                 "top level: missing required key 'model'");
    EXPECT_ERROR("# no cameras\n" GOOD_MODEL, 2, "top level: missing required key 'cameras'");
    EXPECT_ERROR("cameras:\n" GOOD_MODEL, 1, "cameras", "an empty value");
    EXPECT_ERROR("cameras: []\n" GOOD_MODEL, 1, "cameras", "at least one camera");
    EXPECT_ERROR("cameras:\n  - name: a\n    url:\n" GOOD_MODEL, 3, "cameras[0].url", "an empty value");
}

FP_TEST(config_error_wrong_node_type)
{
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\nmodel:\n  - path: /m.onnx\n", 3, "model",
                 "expected a mapping, got a list");
    EXPECT_ERROR("cameras:\n  name: a\n  url: /a.mp4\n" GOOD_MODEL, 2, "cameras", "expected a list of cameras",
                 "a mapping");
    EXPECT_ERROR("cameras:\n  - cam0\n" GOOD_MODEL, 2, "cameras[0]", "expected a mapping", "'cam0'");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: [/a.mp4]\n" GOOD_MODEL, 3, "cameras[0].url", "got a list");
    EXPECT_ERROR("- a\n- b\n", 1, "top level", "expected a mapping", "a list");
}

FP_TEST(config_error_empty_file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/empty.yaml", fp_test_tmpdir());
    write_file(path, "");
    FpConfigFile *cf = NULL;
    int rc = fp_config_load(&cf, path);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK(cf == NULL);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, path) == msg && strstr(msg, ":1:1:") && strstr(msg, "empty"), "%s", msg);
    EXPECT_ERROR("# only a comment\n\n", 1, "empty");
    EXPECT_ERROR("---\n", 1, "empty");
}

FP_TEST(config_error_yaml_syntax_reports_libyaml_problem_and_position)
{
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n   bad indent: [\n" GOOD_MODEL, 4, "YAML syntax error");
    /* libyaml notices the missing ']' where the next token starts */
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}\nmodel: {path: /m}\n", 2, "YAML syntax error",
                 "while parsing a flow");
    /* an unclosed quote runs to the end; the context names where it started */
    EXPECT_ERROR("cameras:\n  - name: \"a\n", 3, "YAML syntax error", "quoted scalar at line 2");
    /* invalid UTF-8 is a reader error: still FILE:LINE:COL */
    EXPECT_ERROR("cameras:\n  - name: a\xff\n", 2, "YAML");
}

FP_TEST(config_error_too_many_cameras_points_at_the_first_extra)
{
    size_t cap = 64 * 1024;
    char *text = malloc(cap);
    CHECK(text != NULL);
    size_t n = (size_t)snprintf(text, cap, "cameras:\n");
    for (int i = 0; i < FP_PIPELINE_MAX_CAMERAS + 1; i++)
        n += (size_t)snprintf(text + n, cap - n, "  - name: c%d\n    url: /v%d.mp4\n", i, i);
    snprintf(text + n, cap - n, GOOD_MODEL);
    /* camera 64 (the 65th) starts on line 2 + 64 * 2 */
    expect_error_at(text, 2 + FP_PIPELINE_MAX_CAMERAS * 2, "cameras", "too many cameras: 65", "at most 64",
                    (const char *)NULL);
    free(text);
}

FP_TEST(config_error_aliases_are_rejected)
{
    EXPECT_ERROR("defaults: &d {name: a, url: /a.mp4}\ncameras:\n  - *d\n" GOOD_MODEL, 1, "anchors (&d)");
}

/* Tags are refused, not read as their text (issue 16, fault 12): !!binary would otherwise be base64 taken as a path. */
FP_TEST(config_error_tags_are_rejected)
{
    EXPECT_ERROR("cameras:\n  - name: a\n    url: !!binary L2EubXA0\n" GOOD_MODEL, 3, "tags (!!binary)");
    EXPECT_ERROR("cameras: !mine\n  - {name: a, url: /a.mp4}\n" GOOD_MODEL, 1, "tags (!mine)");
    /* !!str changes nothing a config reads: accepted */
    FpConfigFile *cf = NULL;
    const char ok[] = "cameras:\n  - name: !!str a\n    url: /a.mp4\n" GOOD_MODEL;
    CHECK_OK(fp_config_parse(&cf, ok, strlen(ok), "cams.yaml"));
    fp_config_destroy(&cf);
}

/* A nesting bomb ends at the depth cap with a clear error, at once (issue 16, fault 2: it was quadratic). */
FP_TEST(config_error_deep_nesting_is_capped)
{
    size_t n = 100000, len = 0;
    char *text = malloc(n * 4 + 64);
    CHECK(text != NULL);
    for (size_t i = 0; i < n; i++) /* 100,000 nested mappings, 400 KB: "{a: {a: {a: ..." */
        len += (size_t)sprintf(text + len, "{a: ");
    EXPECT_ERROR(text, 1, "nested deeper than 64 levels");
    len = 0;
    len += (size_t)sprintf(text, "cameras: ");
    for (size_t i = 0; i < n * 2 && len < n * 4; i++) /* 200 KB of [[[... */
        text[len++] = '[';
    text[len] = 0;
    EXPECT_ERROR(text, 1, "nested deeper than 64 levels");
    free(text);
    /* 64 levels are fine for the scanner; the loader then says what is wrong */
    len = (size_t)sprintf(text = malloc(4096), "cameras: ");
    for (int i = 0; i < 63; i++)
        text[len++] = '[';
    for (int i = 0; i < 63; i++)
        text[len++] = ']';
    text[len++] = '\n';
    text[len] = 0;
    FpConfigFile *cf = NULL;
    int rc = fp_config_parse(&cf, text, strlen(text), "cams.yaml");
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK_MSG(!strstr(fp_error_detail(rc), "nested deeper"), "%s", fp_error_detail(rc));
    free(text);
}

FP_TEST(config_error_missing_file_is_enoent_naming_the_path)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/nope.yaml", fp_test_tmpdir());
    FpConfigFile *cf = NULL;
    int rc = fp_config_load(&cf, path);
    CHECK_EQ(rc, -ENOENT);
    CHECK(cf == NULL);
    CHECK_MSG(strstr(fp_error_detail(rc), path) != NULL, "%s", fp_error_detail(rc));
    rc = fp_config_load(&cf, fp_test_tmpdir());
    CHECK_EQ(rc, -EISDIR);
    CHECK(strstr(fp_error_detail(rc), fp_test_tmpdir()) != NULL);
}

FP_TEST(config_error_in_a_file_names_the_file)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/cams.yaml", fp_test_tmpdir());
    write_file(path, "cameras:\n  - name: a\n    url: a.mp4\n    every_nth: 0\n" GOOD_MODEL);
    FpConfigFile *cf = NULL;
    int rc = fp_config_load(&cf, path);
    CHECK_EQ(rc, FP_ECONFIG);
    char want[PATH_MAX + 64];
    snprintf(want, sizeof(want), "%s:4:16: cameras[0].every_nth: expected an integer >= 1, got '0'", path);
    CHECK_STR(fp_error_detail(rc), want);
}

/* ---- tracker, zones, rules, output.events ---- */

static const char events_config[] =
    "cameras:\n"
    "  - name: gate\n"
    "    url: /a.mp4\n"
    "    meters_per_pixel: 0.02\n"
    "    zones:\n"
    "      - name: door\n"
    "        points: [[100, 100], [300, 100], [300, 300], [100, 300]]\n"
    "      - name: park\n"
    "        points: [[0.5, 0.6], [1, 0.6], [1, 1.0]]\n"
    "      - name: tiny\n"
    "        normalized: false\n"
    "        points: [[0, 0], [1, 0], [1, 1]]\n"
    "  - name: yard\n"
    "    url: /b.mp4\n"
    "    zones:\n"
    "      - {name: door, points: [[0, 0], [0.5, 0], [0.5, 0.5]]}\n"
    "model:\n"
    "  path: /m.onnx\n"
    "output:\n"
    "  events: /out/events.jsonl\n"
    "tracker:\n"
    "  high_threshold: 0.7\n"
    "  low_threshold: 0.2\n"
    "  new_track_threshold: 0.75\n"
    "  match_iou: 0.3\n"
    "  low_match_iou: 0.4\n"
    "  min_hits: 2\n"
    "  max_age: 1500ms\n"
    "  per_class: false\n"
    "  max_tracks: 100\n"
    "  present_n: 2\n"
    "  present_m: 4\n"
    "  box_alpha: 0.5\n"
    "  anchor: center\n"
    "rules:\n"
    "  - {name: at_door, kind: enter, zone: door, class: person, cooldown: 5s}\n"
    "  - {name: loiter, camera: gate, kind: dwell, zone: park, class: 0, duration: 30s}\n"
    "  - {name: crowd, camera: gate, kind: count, zone: door, threshold: 5, op: below, duration: 1m}\n"
    "  - name: inbound\n"
    "    camera: gate\n"
    "    kind: line\n"
    "    line: [[0, 0.5], [1, 0.5]]\n"
    "    direction: b_to_a\n"
    "  - {name: fast, camera: yard, kind: speed, speed: 8.5, from_velocity: true}\n"
    "  - {name: fell, camera: gate, kind: down, ratio: 1.5}\n"
    "  - {name: gone, camera: gate, kind: absent, zone: tiny, duration: 2s}\n"
    "  - {name: out, camera: yard, kind: leave, zone: door}\n";

FP_TEST(config_tracker_zones_rules_and_events_into_their_fields)
{
    FpConfigFile *cf = NULL;
    int rc = fp_config_parse(&cf, events_config, strlen(events_config), "cams.yaml");
    CHECK_MSG(rc == 0, "%s", fp_error_detail(rc));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_STR(c->output.events, "/out/events.jsonl");
    CHECK(c->tracker.enabled); /* rules exist */
    CHECK_NEAR(c->tracker.tracker.high_threshold, 0.7, 1e-6);
    CHECK_NEAR(c->tracker.tracker.low_threshold, 0.2, 1e-6);
    CHECK_NEAR(c->tracker.tracker.new_track_threshold, 0.75, 1e-6);
    CHECK_NEAR(c->tracker.tracker.match_iou, 0.3, 1e-6);
    CHECK_NEAR(c->tracker.tracker.low_match_iou, 0.4, 1e-6);
    CHECK_EQ(c->tracker.tracker.min_hits, 2);
    CHECK_EQ(c->tracker.tracker.max_age_ns, 1500000000LL);
    CHECK(!c->tracker.tracker.per_class);
    CHECK_EQ(c->tracker.tracker.max_tracks, 100);
    CHECK_EQ(c->tracker.present_n, 2);
    CHECK_EQ(c->tracker.present_m, 4);
    CHECK_NEAR(c->tracker.box_alpha, 0.5, 1e-6);
    CHECK_EQ(c->tracker.anchor, FP_TRACK_ANCHOR_CENTER);

    CHECK_NEAR(c->cameras[0].meters_per_pixel, 0.02, 1e-7);
    CHECK_EQ(c->cameras[1].meters_per_pixel, 0);
    CHECK_EQ(c->cameras[0].n_zones, 3);
    const FpZoneConfig *z = c->cameras[0].zones;
    CHECK_STR(z[0].name, "door");
    CHECK_EQ(z[0].n_points, 4);
    CHECK_EQ(z[0].normalized, false); /* values above 1: pixels */
    CHECK_NEAR(z[0].points[2][0], 300, 0);
    CHECK_NEAR(z[0].points[2][1], 300, 0);
    CHECK_STR(z[1].name, "park");
    CHECK_EQ(z[1].n_points, 3);
    CHECK_EQ(z[1].normalized, true); /* every value in [0, 1] */
    CHECK_NEAR(z[1].points[0][1], 0.6, 1e-6);
    CHECK_EQ(z[2].normalized, false); /* said so */
    CHECK_EQ(c->cameras[1].n_zones, 1);
    CHECK(c->cameras[1].zones[0].normalized);

    CHECK_EQ(c->n_rules, 8);
    const FpRuleSection *r = c->rules;
    CHECK_STR(r[0].rule.name, "at_door");
    CHECK_EQ(r[0].rule.kind, FP_RULE_ENTER);
    CHECK(r[0].camera == NULL);
    CHECK_STR(r[0].rule.zone, "door");
    CHECK_STR(r[0].class_name, "person");
    CHECK_EQ(r[0].rule.cooldown_ns, 5000000000LL);
    CHECK_EQ(r[1].rule.kind, FP_RULE_DWELL);
    CHECK_STR(r[1].camera, "gate");
    CHECK(r[1].class_name == NULL);
    CHECK_EQ(r[1].rule.class_id, 0);
    CHECK_EQ(r[1].rule.duration_ns, 30000000000LL);
    CHECK_EQ(r[2].rule.kind, FP_RULE_COUNT);
    CHECK_EQ(r[2].rule.threshold, 5);
    CHECK_EQ(r[2].rule.count_op, FP_COUNT_BELOW);
    CHECK_EQ(r[2].rule.duration_ns, 60000000000LL);
    CHECK_EQ(r[2].rule.class_id, -1); /* no class: any */
    CHECK_EQ(r[3].rule.kind, FP_RULE_LINE);
    CHECK_NEAR(r[3].rule.line[1][0], 1, 0);
    CHECK_NEAR(r[3].rule.line[1][1], 0.5, 0);
    CHECK(r[3].rule.line_normalized);
    CHECK_EQ(r[3].rule.direction, FP_LINE_B_TO_A);
    CHECK_EQ(r[4].rule.kind, FP_RULE_SPEED);
    CHECK_NEAR(r[4].rule.speed, 8.5, 1e-6);
    CHECK(r[4].rule.speed_from_velocity);
    CHECK(r[4].rule.zone == NULL);
    CHECK_EQ(r[5].rule.kind, FP_RULE_DOWN);
    CHECK_NEAR(r[5].rule.down_ratio, 1.5, 1e-6);
    CHECK_EQ(r[5].rule.duration_ns, 1000000000LL); /* down's default */
    CHECK_EQ(r[6].rule.kind, FP_RULE_ABSENT);
    CHECK_EQ(r[7].rule.kind, FP_RULE_LEAVE);
    fp_config_destroy(&cf);
}

FP_TEST(config_tracker_is_off_by_default_and_on_when_asked)
{
    static const char none[] = "cameras:\n  - {name: a, url: /a.mp4}\n" GOOD_MODEL;
    FpConfigFile *cf = NULL;
    CHECK_EQ(fp_config_parse(&cf, none, strlen(none), "cams.yaml"), 0);
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK(!c->tracker.enabled);
    CHECK_EQ(c->n_rules, 0);
    CHECK(c->output.events == NULL);
    FpTrackerConfig d;
    fp_tracker_config_init(&d);
    CHECK_NEAR(c->tracker.tracker.high_threshold, d.high_threshold, 0);
    CHECK_EQ(c->tracker.tracker.max_age_ns, d.max_age_ns);
    CHECK_EQ(c->tracker.present_n, 3);
    CHECK_EQ(c->tracker.present_m, 5);
    CHECK_EQ(c->tracker.anchor, FP_TRACK_ANCHOR_BOTTOM_CENTER);
    fp_config_destroy(&cf);
    static const char on[] = "cameras:\n  - {name: a, url: /a.mp4}\n" GOOD_MODEL "tracker: {enabled: true}\n";
    CHECK_EQ(fp_config_parse(&cf, on, strlen(on), "cams.yaml"), 0);
    CHECK(fp_config_get(cf)->tracker.enabled);
    fp_config_destroy(&cf);
}

#define ZONE_CAM "cameras:\n  - name: a\n    url: /a.mp4\n    zones:\n      - {name: door, points: [[0, 0], [1, 0], [1, 1]]}\n"

FP_TEST(config_error_zones_rules_and_tracker_name_line_and_key)
{
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    zones:\n      - {name: z, points: [[0, 0], [1, 1]]}\n"
                 GOOD_MODEL,
                 5, "cameras[0].zones[0].points", "3 to 32 points", "got 2 points");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    zones:\n"
                 "      - {name: z, normalized: true, points: [[0, 0], [2, 0], [1, 1]]}\n" GOOD_MODEL,
                 5, "cameras[0].zones[0].points", "within [0, 1]");
    EXPECT_ERROR("cameras:\n  - name: a\n    url: /a.mp4\n    zones:\n      - {name: z, points: [[0, 0], [1, x], [1, 1]]}\n"
                 GOOD_MODEL,
                 5, "cameras[0].zones[0].points[1]", "'x'");
    EXPECT_ERROR(ZONE_CAM "      - {name: door, points: [[0, 0], [1, 0], [1, 1]]}\n" GOOD_MODEL, 6,
                 "cameras[0].zones[1].name", "duplicate zone name 'door'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: hall}\n", 9, "rules[0].zone",
                 "camera 'a' has no zone 'hall'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: dwell, zone: door, duration: -5s}\n", 9,
                 "rules[0].duration", "a duration from 0 to 1e9 s", "'-5s'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: door, cooldown: -1}\n", 9,
                 "rules[0].cooldown", "'-1'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter}\n", 9, "rules[0]", "needs 'zone'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: wander, zone: door}\n", 9, "rules[0].kind",
                 "one of enter, leave");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: door, camera: b}\n", 9,
                 "rules[0].camera", "no camera is named 'b'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: door}\n"
                                     "  - {name: r, kind: leave, zone: door}\n",
                 10, "rules[1].name", "duplicate rule name 'r'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: count, zone: door}\n", 9, "rules[0]",
                 "needs 'threshold'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: line}\n", 9, "rules[0]", "needs 'line");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: line, line: [[0, 0]]}\n", 9, "rules[0].line",
                 "got 1 point");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: door, speed: 3}\n", 9,
                 "rules[0].speed", "only a speed rule");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: door, class: -2}\n", 9,
                 "rules[0].class", "'-2'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "rules:\n  - {name: r, kind: enter, zone: door}\ntracker: {enabled: false}\n",
                 10, "tracker.enabled", "need the tracker");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "tracker: {max_age: -1s}\n", 8, "tracker.max_age", "'-1s'");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "tracker: {high_threshold: 0.3, low_threshold: 0.4}\n", 8,
                 "tracker.low_threshold", "above high_threshold");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "tracker: {present_n: 5, present_m: 3}\n", 8, "tracker.present_n");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "tracker: {anchor: feet}\n", 8, "tracker.anchor", "bottom-center");
    EXPECT_ERROR(ZONE_CAM GOOD_MODEL "output: {events: \"\"}\n", 8, "output.events");
}

/* output.redis / output.mqtt / output.webhook / output.spool into FpOutputSection (docs/config.md, docs/outputs.md). */
FP_TEST(config_network_outputs_into_their_fields)
{
    static const char text[] = "cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL
                               "output:\n"
                               "  spool: /var/spool/fp\n"
                               "  redis:\n"
                               "    url: redis://bob:s3cret@10.0.0.5:6380/2\n"
                               "    stream_events: alerts\n"
                               "    maxlen: 500\n"
                               "    frames: false\n"
                               "    timeout: 250ms\n"
                               "  mqtt: {host: broker.lan, port: 1884, qos: 2, counts: yes, prefix: site1/fp, "
                               "username: u, password: p, queue: 16}\n"
                               "  webhook:\n"
                               "    url: https://hooks.example/in\n"
                               "    bearer_token: tok\n"
                               "    timeout: 3s\n"
                               "    headers: {X-Site: north, X-Env: test}\n";
    FpConfigFile *cf = NULL;
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), "out.yaml"));
    const FpOutputSection *o = &fp_config_get(cf)->output;
    CHECK_STR(o->spool, "/var/spool/fp");
    CHECK(o->redis.enabled && !o->redis.frames && o->redis.events);
    CHECK_STR(o->redis_cfg.host, "10.0.0.5");
    CHECK_EQ(o->redis_cfg.port, 6380);
    CHECK_EQ(o->redis_cfg.db, 2);
    CHECK_STR(o->redis_cfg.username, "bob");
    CHECK_STR(o->redis_cfg.password, "s3cret");
    CHECK_STR(o->redis_cfg.stream_events, "alerts");
    CHECK_STR(o->redis_cfg.stream_frames, "framepipe:frames");
    CHECK_EQ(o->redis_cfg.maxlen, 500);
    CHECK_EQ(o->redis_cfg.timeout_ns, 250000000);
    CHECK(o->mqtt.enabled && o->mqtt.frames && o->mqtt.events);
    CHECK_EQ(o->mqtt.queue, 16);
    CHECK_STR(o->mqtt_cfg.host, "broker.lan");
    CHECK_EQ(o->mqtt_cfg.port, 1884);
    CHECK_EQ(o->mqtt_cfg.qos, 2);
    CHECK(o->mqtt_cfg.counts);
    CHECK_STR(o->mqtt_cfg.prefix, "site1/fp");
    CHECK(o->webhook.enabled && !o->webhook.frames && o->webhook.events);
    CHECK_STR(o->webhook_cfg.url, "https://hooks.example/in");
    CHECK_STR(o->webhook_cfg.bearer_token, "tok");
    CHECK_EQ(o->webhook_cfg.timeout_ns, 3000000000LL);
    CHECK_EQ(o->webhook_cfg.n_headers, 2);
    CHECK_STR(o->webhook_cfg.headers[0], "X-Site: north");
    CHECK_STR(o->webhook_cfg.headers[1], "X-Env: test");
    fp_config_destroy(&cf);

    /* absent: off, with the transports' defaults */
    static const char none[] = "cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL;
    CHECK_OK(fp_config_parse(&cf, none, strlen(none), "out.yaml"));
    o = &fp_config_get(cf)->output;
    CHECK(!o->redis.enabled && !o->mqtt.enabled && !o->webhook.enabled);
    CHECK(o->spool == NULL);
    CHECK_EQ(o->mqtt_cfg.qos, 1);
    fp_config_destroy(&cf);
}

FP_TEST(config_error_network_outputs_name_line_and_key)
{
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  redis: {url: 'http://x'}\n", 5,
                 "output.redis.url");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  redis: {url: 'redis://h', port: 7}\n",
                 5, "output.redis.url", "not both");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  redis:\n    maxlen: -1\n", 6,
                 "output.redis.maxlen");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  mqtt:\n    qos: 3\n", 6,
                 "output.mqtt.qos", "0, 1 or 2");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  mqtt:\n    prefix: 'a/#'\n", 6,
                 "output.mqtt.prefix");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  mqtt:\n    qso: 1\n", 6,
                 "output.mqtt", "qso");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  webhook: {timeout: 1s}\n", 5,
                 "output.webhook", "url");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  webhook: {url: 'ftp://x/y'}\n", 5,
                 "output.webhook.url");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL
                 "output:\n  webhook:\n    url: http://h/\n    headers: {'Bad Name': x}\n",
                 7, "output.webhook.headers");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  kafka: {url: x}\n", 5, "output",
                 "kafka");
}

/* ---- the web view's keys (docs/webview.md) ---- */

FP_TEST(config_output_preview_and_http_token)
{
    FpConfigFile *cf = NULL;
    const char *text = "cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL
                       "output:\n  http: 127.0.0.1:8080\n  preview_fps: 2.5\n  preview_width: 320\n"
                       "  http_token: s3cret\n";
    CHECK_OK(fp_config_parse(&cf, text, strlen(text), "web.yaml"));
    const FpPipelineConfig *c = fp_config_get(cf);
    CHECK_NEAR(c->output.preview_fps, 2.5, 1e-9);
    CHECK_EQ(c->output.preview_width, 320);
    CHECK_STR(c->output.http_token, "s3cret");
    fp_config_destroy(&cf);
    const char *min = "cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL;
    CHECK_OK(fp_config_parse(&cf, min, strlen(min), "min.yaml"));
    c = fp_config_get(cf);
    CHECK_NEAR(c->output.preview_fps, 10.0, 1e-9);
    CHECK_EQ(c->output.preview_width, 640);
    CHECK(c->output.http_token == NULL);
    fp_config_destroy(&cf);
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  preview_fps: 0\n", 5, "output.preview_fps");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  preview_width: 8\n", 5,
                 "output.preview_width", "16..4096");
    EXPECT_ERROR("cameras: [{name: a, url: /a.mp4}]\n" GOOD_MODEL "output:\n  http_token: \"\"\n", 5, "output.http_token");
}
