// SPDX-License-Identifier: MIT
// `framepipe detect MODEL INPUT...`: one-shot detection on files, URLs and image folders; JSON lines, annotations, summary.
#include "app_pipeline.h"
#include "app_service.h"
#include "commands.h"

#include "framepipe/error.h"

#include <stdio.h>
#include <string.h>

static void detect_usage(FILE *out)
{
    fprintf(out,
            "usage: framepipe detect [options] MODEL INPUT...\n"
            "Runs MODEL (ONNX: YOLOv5/v8/v11, BlazeFace, SSD) on every frame of each INPUT (video file,\n"
            "rtsp:// or http(s):// URL, image file or folder, /dev/videoN, - for raw frames on stdin).\n"
            "Outputs:\n"
            "  -o, --output FILE     JSON lines, one per frame (default: - = stdout; docs/jsonl.md)\n"
            "  --annotate PATH       draw the detections: PATH.mp4|.mkv|.avi (a video per input) or DIR/ (PNGs)\n"
            "  --redact MODE         blur, pixelate or fill the detections (boxes grown by 15%%) in the --annotate\n"
            "                        output, which then draws no boxes (docs/service.md)\n"
            "  --summary FILE        write the run's summary as JSON\n"
            "  --http HOST:PORT      serve /metrics, /healthz, /api/cameras while running\n"
            "  -q, --quiet           no progress bar and no summary on stderr\n"
            "Tracking and events (docs/events.md):\n"
            "  --track               track objects: a \"track_id\" per detection in the JSON lines\n"
            "  --rules FILE.yaml     zones and rules for every input (tracker, zones, rules, events keys);\n"
            "                        implies --track\n"
            "  --events FILE         events as JSON lines (- = stdout; overrides the rules file's events)\n"
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
            "  --skip-loop-filter    skip the deblocking filter (less CPU, blockier edges)\n"
            "  --skip-frames M       none, nonref (leave out B-frames) or nonkey (key frames only)\n"
            "  --raw WxH:FORMAT      INPUT is raw frames (yuv420p, nv12, rgb24, bgr24, gray8)\n"
            "  --protocols LIST      libavformat protocols the inputs may use (default: by each URL's scheme;\n"
            "                        e.g. file,concat to read concat:a.mp4|b.mp4)\n"
            "Options end at --; - (stdin) may be given once.\n"
            "Exit codes: 0 done, 1 an input or output failed, 2 bad usage, 3 model error, 130 second signal.\n");
}

/* Options without a short form; the values start above any character. */
enum {
    OPT_ANNOTATE = 256, OPT_SUMMARY, OPT_HTTP, OPT_FAMILY, OPT_CONF, OPT_IOU, OPT_MAX_DET, OPT_LABELS,
    OPT_INPUT, OPT_THREADS, OPT_PROVIDER, OPT_PROVIDER_FALLBACK, OPT_BATCH, OPT_MAX_WAIT, OPT_PER_CAMERA,
    OPT_WORKERS, OPT_POLICY, OPT_FPS, OPT_EVERY_NTH, OPT_START, OPT_STOP, OPT_LOOP, OPT_DECODER_THREADS,
    OPT_SKIP_LOOP_FILTER, OPT_SKIP_FRAMES, OPT_RAW, OPT_TRACK, OPT_RULES, OPT_EVENTS, OPT_REDACT, OPT_PROTOCOLS,
};

static const struct option detect_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"output", required_argument, NULL, 'o'},
    {"annotate", required_argument, NULL, OPT_ANNOTATE},
    {"redact", required_argument, NULL, OPT_REDACT},
    {"summary", required_argument, NULL, OPT_SUMMARY},
    {"http", required_argument, NULL, OPT_HTTP},
    {"quiet", no_argument, NULL, 'q'},
    {"family", required_argument, NULL, OPT_FAMILY},
    {"conf", required_argument, NULL, OPT_CONF},
    {"iou", required_argument, NULL, OPT_IOU},
    {"max-det", required_argument, NULL, OPT_MAX_DET},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"input", required_argument, NULL, OPT_INPUT},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"provider", required_argument, NULL, OPT_PROVIDER},
    {"provider-fallback", no_argument, NULL, OPT_PROVIDER_FALLBACK},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"max-wait", required_argument, NULL, OPT_MAX_WAIT},
    {"per-camera", required_argument, NULL, OPT_PER_CAMERA},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"fps", required_argument, NULL, OPT_FPS},
    {"every-nth", required_argument, NULL, OPT_EVERY_NTH},
    {"start", required_argument, NULL, OPT_START},
    {"stop", required_argument, NULL, OPT_STOP},
    {"loop", no_argument, NULL, OPT_LOOP},
    {"decoder-threads", required_argument, NULL, OPT_DECODER_THREADS},
    {"skip-loop-filter", no_argument, NULL, OPT_SKIP_LOOP_FILTER},
    {"skip-frames", required_argument, NULL, OPT_SKIP_FRAMES},
    {"raw", required_argument, NULL, OPT_RAW},
    {"track", no_argument, NULL, OPT_TRACK},
    {"rules", required_argument, NULL, OPT_RULES},
    {"events", required_argument, NULL, OPT_EVENTS},
    {"protocols", required_argument, NULL, OPT_PROTOCOLS},
    {NULL, 0, NULL, 0},
};

/* Everything the command line says; cfg is the one static config (large). */
typedef struct DetectArgs {
    FpPipelineConfig *cfg;
    FpAppRun run;
    FpSourceConfig proto; /* every input's source config but its URL */
    int per_camera;       /* 0: batch / inputs */
    const char *model;
    const char *inputs[FP_PIPELINE_MAX_CAMERAS];
    int n_inputs;
    const char *rules_path; /* --rules */
    const char *events;     /* --events */
} DetectArgs;

/* Outputs and model options. 0, 1 when `c` is not one of them, FP_APP_OPT_ERROR. */
static int model_option(FpAppOptions *o, int c, DetectArgs *d)
{
    FpPipelineConfig *cfg = d->cfg;
    long lv = 0;
    double dv = 0;
    switch (c) {
    case 'o': cfg->output.jsonl = optarg; return 0;
    case OPT_ANNOTATE: cfg->output.annotate = optarg; return 0;
    case OPT_REDACT:
        if (!(d->run.redact = fp_app_redact_mode(optarg)))
            return fp_app_bad_value(o, "expected blur, pixelate or fill");
        return 0;
    case OPT_SUMMARY: d->run.summary_path = optarg; return 0;
    case OPT_HTTP: cfg->output.http = optarg; return 0;
    case 'q': d->run.quiet = 1; d->run.progress = 0; return 0;
    case OPT_TRACK: cfg->tracker.enabled = true; return 0;
    case OPT_RULES: d->rules_path = optarg; return 0;
    case OPT_EVENTS: d->events = optarg; return 0;
    case OPT_FAMILY:
        if (strcmp(optarg, "auto") == 0)
            cfg->model.family = FP_FAMILY_UNKNOWN; /* from the model's outputs */
        else if (fp_family_parse(optarg, &cfg->model.family) < 0)
            return fp_app_bad_value(o, "expected auto, yolov5, yolov7, yolov8, yolov11, yolov8-raw, blazeface or ssd");
        return 0;
    case OPT_LABELS: cfg->model.labels = optarg; return 0;
    case OPT_PROVIDER:
        if (fp_provider_parse(optarg, &cfg->model.provider) < 0)
            return fp_app_bad_value(o, "expected cpu, cuda or tensorrt");
        return 0;
    case OPT_PROVIDER_FALLBACK: cfg->model.provider_fallback = true; return 0;
    case OPT_CONF:
    case OPT_IOU:
        if (fp_app_parse_double(o, 0, 1, &dv) < 0)
            return FP_APP_OPT_ERROR;
        *(c == OPT_CONF ? &cfg->model.confidence : &cfg->model.iou) = (float)dv;
        return 0;
    case OPT_MAX_DET:
        if (fp_app_parse_long(o, 1, 100000, &lv) < 0)
            return FP_APP_OPT_ERROR;
        cfg->model.max_detections = (int)lv;
        return 0;
    case OPT_THREADS:
        if (fp_app_parse_long(o, 0, 256, &lv) < 0)
            return FP_APP_OPT_ERROR;
        cfg->model.threads = (int)lv;
        return 0;
    case OPT_INPUT: {
        int w = 0, h = 0;
        char tail = 0;
        if (sscanf(optarg, "%dx%d%c", &w, &h, &tail) != 2 || w <= 0 || h <= 0 || w > 8192 || h > 8192)
            return fp_app_bad_value(o, "expected WxH, e.g. 640x640");
        cfg->model.input_width = w;
        cfg->model.input_height = h;
        return 0;
    }
    default: return 1;
    }
}

/* Batching options. 0, 1 when `c` is not one of them, FP_APP_OPT_ERROR. */
static int batch_option(FpAppOptions *o, int c, DetectArgs *d)
{
    long lv = 0;
    double dv = 0;
    switch (c) {
    case OPT_BATCH:
        if (fp_app_parse_long(o, 1, 64, &lv) < 0)
            return FP_APP_OPT_ERROR;
        d->cfg->batch.max_batch = (int)lv;
        return 0;
    case OPT_MAX_WAIT:
        if (fp_app_parse_double(o, 0, 60000, &dv) < 0)
            return FP_APP_OPT_ERROR;
        d->cfg->batch.max_wait_ns = (int64_t)(dv * 1e6);
        return 0;
    case OPT_PER_CAMERA:
        if (fp_app_parse_long(o, 1, 64, &lv) < 0)
            return FP_APP_OPT_ERROR;
        d->per_camera = (int)lv;
        return 0;
    case OPT_WORKERS:
        if (fp_app_parse_long(o, 1, 16, &lv) < 0)
            return FP_APP_OPT_ERROR;
        d->cfg->model.workers = (int)lv;
        return 0;
    default: return 1;
    }
}

/* Input (source) options. 0, 1 when `c` is not one of them, FP_APP_OPT_ERROR. */
static int input_option(FpAppOptions *o, int c, FpSourceConfig *proto)
{
    long lv = 0;
    double dv = 0;
    switch (c) {
    case OPT_POLICY:
        if (!strcmp(optarg, "latest"))
            proto->policy = FP_POLICY_LATEST;
        else if (!strcmp(optarg, "lossless"))
            proto->policy = FP_POLICY_LOSSLESS;
        else
            return fp_app_bad_value(o, "expected latest or lossless");
        return 0;
    case OPT_FPS:
        if (fp_app_parse_double(o, 0.001, 1000, &dv) < 0)
            return FP_APP_OPT_ERROR;
        proto->target_fps = dv;
        return 0;
    case OPT_EVERY_NTH:
        if (fp_app_parse_long(o, 1, 1000000, &lv) < 0)
            return FP_APP_OPT_ERROR;
        proto->every_nth = (unsigned)lv;
        return 0;
    case OPT_START:
    case OPT_STOP:
        if (fp_app_parse_double(o, 0, 1e9, &dv) < 0)
            return FP_APP_OPT_ERROR;
        *(c == OPT_START ? &proto->start_s : &proto->stop_s) = dv;
        return 0;
    case OPT_LOOP: proto->loop = 1; return 0;
    case OPT_DECODER_THREADS:
        if (fp_app_parse_long(o, 0, 64, &lv) < 0)
            return FP_APP_OPT_ERROR;
        proto->decoder_threads = (int)lv;
        return 0;
    case OPT_SKIP_LOOP_FILTER: proto->skip_loop_filter = 1; return 0;
    case OPT_SKIP_FRAMES:
        if (!strcmp(optarg, "none"))
            proto->skip_frames = FP_SKIP_NONE;
        else if (!strcmp(optarg, "nonref"))
            proto->skip_frames = FP_SKIP_NONREF;
        else if (!strcmp(optarg, "nonkey"))
            proto->skip_frames = FP_SKIP_NONKEY;
        else
            return fp_app_bad_value(o, "expected none, nonref or nonkey");
        return 0;
    case OPT_RAW: return fp_app_parse_raw(o, proto);
    case OPT_PROTOCOLS: proto->protocols = optarg; return 0;
    default: return 1;
    }
}

/*
 * Parses argv into *d. Returns 0, 1 after --help (usage printed) or
 * FP_APP_OPT_ERROR (message printed). MODEL and INPUT... are the
 * positionals in order, wherever they stood among the options.
 */
static int parse_detect_args(int argc, char **argv, DetectArgs *d)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe detect", argc, argv, "ho:q", detect_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        if (c == FP_APP_OPT_ERROR)
            return FP_APP_OPT_ERROR;
        if (c == 'h') {
            detect_usage(stdout);
            return 1;
        }
        int rc = model_option(&o, c, d);
        if (rc == 1)
            rc = batch_option(&o, c, d);
        if (rc == 1)
            rc = input_option(&o, c, &d->proto);
        if (rc != 0)
            return FP_APP_OPT_ERROR; /* rc == 1 would be a table entry without a case: a bug */
    }
    if (optind < argc)
        d->model = argv[optind++];
    if (argc - optind > FP_PIPELINE_MAX_CAMERAS) {
        fprintf(stderr, "framepipe detect: more than %d inputs\n", FP_PIPELINE_MAX_CAMERAS);
        return FP_APP_OPT_ERROR;
    }
    int stdin_inputs = 0;
    while (optind < argc) {
        stdin_inputs += !strcmp(argv[optind], "-");
        d->inputs[d->n_inputs++] = argv[optind++];
    }
    if (stdin_inputs > 1) {
        fprintf(stderr, "framepipe detect: - (stdin) is given %d times: there is one standard input\n", stdin_inputs);
        return FP_APP_OPT_ERROR;
    }
    if (!d->model || !d->n_inputs) {
        detect_usage(stderr);
        return FP_APP_OPT_ERROR;
    }
    if (d->run.redact && !d->cfg->output.annotate) {
        fprintf(stderr, "framepipe detect: --redact needs --annotate PATH (where the redacted video or PNGs go)\n");
        return FP_APP_OPT_ERROR;
    }
    return 0;
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

/*
 * The pipeline config from the arguments: one camera per input (named after
 * it), per-camera share of the batch. The progress bar shows a total only
 * when the sources' frame counts (FpSourceStatus.frames_expected) are what
 * the pipeline will process: inputs that end, read whole, every frame kept.
 */
static void detect_config(DetectArgs *d)
{
    static char names[FP_PIPELINE_MAX_CAMERAS][64];
    FpPipelineConfig *cfg = d->cfg;
    const FpSourceConfig *p = &d->proto;
    cfg->model.path = d->model;
    cfg->n_cameras = d->n_inputs;
    cfg->batch.per_camera = d->per_camera ? d->per_camera
                                          : (cfg->batch.max_batch + d->n_inputs - 1) / d->n_inputs;
    if (cfg->batch.per_camera > cfg->batch.max_batch)
        cfg->batch.per_camera = cfg->batch.max_batch;
    for (int i = 0; i < d->n_inputs; i++) {
        FpCameraConfig *c = &cfg->cameras[i];
        input_name(names[i], sizeof(names[i]), d->inputs[i], i, names);
        c->name = names[i];
        c->source = *p;
        c->source.url = d->inputs[i];
    }
    d->run.progress_total = !p->loop && p->start_s <= 0 && p->stop_s <= 0 && p->target_fps <= 0 &&
                            p->every_nth <= 1;
}

/*
 * --rules FILE: its tracker settings, rules and events path into the config, its zones to every input.
 * *out keeps the strings the config now points to. 0, or -1 with the message printed.
 */
static int apply_rules(DetectArgs *d, FpConfigFile **out)
{
    int rc = fp_config_load_rules(out, d->rules_path);
    if (rc < 0) {
        fprintf(stderr, "framepipe detect: %s\n", fp_error_detail(rc));
        return -1;
    }
    const FpPipelineConfig *r = fp_config_get(*out);
    FpPipelineConfig *cfg = d->cfg;
    bool track = cfg->tracker.enabled;
    cfg->tracker = r->tracker;
    cfg->tracker.enabled = cfg->tracker.enabled || track;
    memcpy(cfg->rules, r->rules, sizeof(r->rules[0]) * (size_t)r->n_rules);
    cfg->n_rules = r->n_rules;
    cfg->output.events = r->output.events;
    for (int i = 0; i < cfg->n_cameras; i++) {
        cfg->cameras[i].zones = r->cameras[0].zones;
        cfg->cameras[i].n_zones = r->cameras[0].n_zones;
    }
    return 0;
}

int fp_cmd_detect(int argc, char **argv)
{
    static FpPipelineConfig cfg; /* large; one per process */
    fp_pipeline_config_init(&cfg);
    cfg.output.jsonl = "-";
    DetectArgs d = {.cfg = &cfg, .run = {.cfg = &cfg, .progress = 1}};
    fp_source_config_init(&d.proto);
    int rc = parse_detect_args(argc, argv, &d);
    if (rc != 0)
        return rc == 1 ? FP_EXIT_OK : FP_EXIT_USAGE;
    detect_config(&d);
    FpConfigFile *rules = NULL;
    if (d.rules_path && apply_rules(&d, &rules) < 0)
        return FP_EXIT_USAGE;
    if (d.events)
        cfg.output.events = d.events;
    int code = fp_app_run_pipeline(&d.run);
    fp_config_destroy(&rules); /* after the pipeline: cfg points into it */
    return code;
}
