// SPDX-License-Identifier: MIT
// `framepipe detect MODEL INPUT...`: one-shot detection on files, URLs and image folders; JSON lines, annotations, summary.
#include "app_pipeline.h"
#include "commands.h"

#include "framepipe/error.h"

#include <errno.h>
#include <libavformat/avformat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void detect_usage(FILE *out)
{
    fprintf(out,
            "usage: framepipe detect [options] MODEL INPUT...\n"
            "Runs MODEL (ONNX: YOLOv5/v8/v11, BlazeFace, SSD) on every frame of each INPUT (video file,\n"
            "rtsp:// or http(s):// URL, image file or folder, /dev/videoN, - for raw frames on stdin).\n"
            "Outputs:\n"
            "  -o, --output FILE     JSON lines, one per frame (default: - = stdout; docs/jsonl.md)\n"
            "  --annotate PATH       draw the detections: PATH.mp4|.mkv|.avi (a video per input) or DIR/ (PNGs)\n"
            "  --summary FILE        write the run's summary as JSON\n"
            "  --http HOST:PORT      serve /metrics, /healthz, /api/cameras while running\n"
            "  --quiet               no progress bar and no summary on stderr\n"
            "Model:\n"
            "  --family NAME         auto (default), yolov5, yolov8, yolov11, yolov8-raw, blazeface, ssd\n"
            "  --conf X  --iou X     confidence and NMS IoU thresholds (default: the family's)\n"
            "  --max-det N           detections per frame at most\n"
            "  --labels FILE         class names (default: from the model's metadata)\n"
            "  --input WxH           model input size when the model's is dynamic\n"
            "  --threads N           ONNX Runtime intra-op threads per worker (default: ORT's)\n"
            "  --provider NAME       cpu (default), cuda, tensorrt; --provider-fallback uses the CPU if missing\n"
            "Batching and inputs:\n"
            "  --batch N             frames per batch at most (default 8)\n"
            "  --max-wait MS         emit a partial batch this long after its first frame (default 5)\n"
            "  --per-camera N        frames of one input per batch at most (default: batch / inputs)\n"
            "  --workers N           inference workers, each with its own session (default 1; order is kept)\n"
            "  --policy P            lossless (default for files) or latest (default for live streams)\n"
            "  --fps X  --every-nth N   keep at most X frames per second / every Nth frame\n"
            "  --start S  --stop S   files: seconds to start and stop at\n"
            "  --loop                files: start again at the end (run until a signal)\n"
            "  --decoder-threads N   decoder threads per input (0: FFmpeg's choice)\n"
            "  --raw WxH:FORMAT      INPUT is raw frames (yuv420p, nv12, rgb24, bgr24, gray8)\n"
            "Exit codes: 0 done, 1 an input or output failed, 2 bad usage, 3 model error, 130 second signal.\n");
}

static int bad(const char *opt, const char *val, const char *what)
{
    fprintf(stderr, "framepipe detect: %s '%s': %s\n", opt, val ? val : "", what);
    return -1;
}

static int parse_long(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "expected a whole number from %ld to %ld", lo, hi);
        return bad(opt, s, what);
    }
    *out = v;
    return 0;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        char what[96];
        snprintf(what, sizeof(what), "expected a number from %g to %g", lo, hi);
        return bad(opt, s, what);
    }
    *out = v;
    return 0;
}

/* Frames in a file as its container says (0 when unknown or not a plain file). */
static int64_t count_frames(const char *url)
{
    if (strstr(url, "://") || !strcmp(url, "-"))
        return 0;
    AVFormatContext *fc = NULL;
    int64_t n = 0;
    if (avformat_open_input(&fc, url, NULL, NULL) < 0)
        return 0;
    if (avformat_find_stream_info(fc, NULL) >= 0) {
        int si = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        if (si >= 0) {
            AVStream *st = fc->streams[si];
            if (st->nb_frames > 0)
                n = st->nb_frames;
            else if (fc->duration > 0 && st->avg_frame_rate.den > 0)
                n = (int64_t)((double)fc->duration / AV_TIME_BASE * av_q2d(st->avg_frame_rate) + 0.5);
        }
    }
    avformat_close_input(&fc);
    return n;
}

/* A camera name from an input: its last path component, made unique with "-N". */
static void input_name(char *buf, size_t len, const char *url, int index, char names[][64])
{
    const char *b = strrchr(url, '/');
    b = b && b[1] ? b + 1 : url;
    snprintf(buf, len, "%s", !strcmp(url, "-") ? "stdin" : b);
    for (int j = 0; j < index; j++) {
        if (!strcmp(names[j], buf)) {
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%.50s-%d", buf, index);
            snprintf(buf, len, "%s", tmp);
            break;
        }
    }
}

int fp_cmd_detect(int argc, char **argv)
{
    static FpPipelineConfig cfg; /* large; one per process */
    static char names[FP_PIPELINE_MAX_CAMERAS][64];
    fp_pipeline_config_init(&cfg);
    cfg.output.jsonl = "-";
    FpAppRun run = {.cfg = &cfg, .progress = 1};
    FpSourceConfig proto;
    fp_source_config_init(&proto);
    const char *model = NULL;
    const char *inputs[FP_PIPELINE_MAX_CAMERAS];
    int n_inputs = 0, per_camera = 0;
    long lv;
    double dv;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                          \
    do {                                                                      \
        if (!v) {                                                             \
            fprintf(stderr, "framepipe detect: %s needs a value\n", a);       \
            return FP_EXIT_USAGE;                                             \
        }                                                                     \
        i++;                                                                  \
    } while (0)
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            detect_usage(stdout);
            return FP_EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            NEED_VALUE();
            cfg.output.jsonl = v;
        } else if (!strcmp(a, "--annotate")) {
            NEED_VALUE();
            cfg.output.annotate = v;
        } else if (!strcmp(a, "--summary")) {
            NEED_VALUE();
            run.summary_path = v;
        } else if (!strcmp(a, "--http")) {
            NEED_VALUE();
            cfg.output.http = v;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            run.quiet = 1;
            run.progress = 0;
        } else if (!strcmp(a, "--family")) {
            NEED_VALUE();
            if (strcmp(v, "auto") == 0) {
                cfg.model.family = FP_FAMILY_UNKNOWN;
            } else if (fp_family_parse(v, &cfg.model.family) < 0) {
                bad(a, v, "expected auto, yolov5, yolov7, yolov8, yolov11, yolov8-raw, blazeface or ssd");
                return FP_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--conf")) {
            NEED_VALUE();
            if (parse_double(a, v, 0, 1, &dv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.confidence = (float)dv;
        } else if (!strcmp(a, "--iou")) {
            NEED_VALUE();
            if (parse_double(a, v, 0, 1, &dv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.iou = (float)dv;
        } else if (!strcmp(a, "--max-det")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 100000, &lv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.max_detections = (int)lv;
        } else if (!strcmp(a, "--labels")) {
            NEED_VALUE();
            cfg.model.labels = v;
        } else if (!strcmp(a, "--input")) {
            NEED_VALUE();
            int w = 0, h = 0;
            char tail = 0;
            if (sscanf(v, "%dx%d%c", &w, &h, &tail) != 2 || w <= 0 || h <= 0 || w > 8192 || h > 8192) {
                bad(a, v, "expected WxH, e.g. 640x640");
                return FP_EXIT_USAGE;
            }
            cfg.model.input_width = w;
            cfg.model.input_height = h;
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE();
            if (parse_long(a, v, 0, 256, &lv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.threads = (int)lv;
        } else if (!strcmp(a, "--provider")) {
            NEED_VALUE();
            if (fp_provider_parse(v, &cfg.model.provider) < 0) {
                bad(a, v, "expected cpu, cuda or tensorrt");
                return FP_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--provider-fallback")) {
            cfg.model.provider_fallback = true;
        } else if (!strcmp(a, "--batch")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 64, &lv) < 0)
                return FP_EXIT_USAGE;
            cfg.batch.max_batch = (int)lv;
        } else if (!strcmp(a, "--max-wait")) {
            NEED_VALUE();
            if (parse_double(a, v, 0, 60000, &dv) < 0)
                return FP_EXIT_USAGE;
            cfg.batch.max_wait_ns = (int64_t)(dv * 1e6);
        } else if (!strcmp(a, "--per-camera")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 64, &lv) < 0)
                return FP_EXIT_USAGE;
            per_camera = (int)lv;
        } else if (!strcmp(a, "--workers")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 16, &lv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.workers = (int)lv;
        } else if (!strcmp(a, "--policy")) {
            NEED_VALUE();
            if (!strcmp(v, "latest"))
                proto.policy = FP_POLICY_LATEST;
            else if (!strcmp(v, "lossless"))
                proto.policy = FP_POLICY_LOSSLESS;
            else {
                bad(a, v, "expected latest or lossless");
                return FP_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--fps")) {
            NEED_VALUE();
            if (parse_double(a, v, 0.001, 1000, &dv) < 0)
                return FP_EXIT_USAGE;
            proto.target_fps = dv;
        } else if (!strcmp(a, "--every-nth")) {
            NEED_VALUE();
            if (parse_long(a, v, 1, 1000000, &lv) < 0)
                return FP_EXIT_USAGE;
            proto.every_nth = (unsigned)lv;
        } else if (!strcmp(a, "--start")) {
            NEED_VALUE();
            if (parse_double(a, v, 0, 1e9, &dv) < 0)
                return FP_EXIT_USAGE;
            proto.start_s = dv;
        } else if (!strcmp(a, "--stop")) {
            NEED_VALUE();
            if (parse_double(a, v, 0, 1e9, &dv) < 0)
                return FP_EXIT_USAGE;
            proto.stop_s = dv;
        } else if (!strcmp(a, "--loop")) {
            proto.loop = 1;
        } else if (!strcmp(a, "--decoder-threads")) {
            NEED_VALUE();
            if (parse_long(a, v, 0, 64, &lv) < 0)
                return FP_EXIT_USAGE;
            proto.decoder_threads = (int)lv;
        } else if (!strcmp(a, "--raw")) {
            NEED_VALUE();
            int w = 0, h = 0;
            char fmt[16] = {0};
            if (sscanf(v, "%dx%d:%15s", &w, &h, fmt) != 3 || w <= 0 || h <= 0 ||
                fp_pixel_format_parse(fmt, &proto.raw_format) < 0) {
                bad(a, v, "expected WxH:FORMAT with FORMAT yuv420p, nv12, rgb24, bgr24 or gray8");
                return FP_EXIT_USAGE;
            }
            proto.kind = FP_SOURCE_RAW;
            proto.raw_width = w;
            proto.raw_height = h;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "framepipe detect: unknown option '%s' (try --help)\n", a);
            return FP_EXIT_USAGE;
        } else if (!model) {
            model = a;
        } else if (n_inputs >= FP_PIPELINE_MAX_CAMERAS) {
            fprintf(stderr, "framepipe detect: more than %d inputs\n", FP_PIPELINE_MAX_CAMERAS);
            return FP_EXIT_USAGE;
        } else {
            inputs[n_inputs++] = a;
        }
#undef NEED_VALUE
    }
    if (!model || !n_inputs) {
        detect_usage(stderr);
        return FP_EXIT_USAGE;
    }
    cfg.model.path = model;
    cfg.n_cameras = n_inputs;
    cfg.batch.per_camera = per_camera ? per_camera
                                      : (cfg.batch.max_batch + n_inputs - 1) / n_inputs;
    if (cfg.batch.per_camera > cfg.batch.max_batch)
        cfg.batch.per_camera = cfg.batch.max_batch;
    for (int i = 0; i < n_inputs; i++) {
        FpCameraConfig *c = &cfg.cameras[i];
        input_name(names[i], sizeof(names[i]), inputs[i], i, names);
        c->name = names[i];
        c->source = proto;
        c->source.url = inputs[i];
        if (run.progress && !proto.loop && isatty(STDERR_FILENO))
            run.total_frames += count_frames(inputs[i]);
    }
    return fp_app_run_pipeline(&run);
}
