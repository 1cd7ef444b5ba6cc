// SPDX-License-Identifier: MIT
// `framepipe serve MODEL`: the detection service without cameras: POST a picture to /api/detect (JSON) or /api/redact (the picture).
#include "app_options.h"
#include "app_pipeline.h"
#include "app_service.h"
#include "commands.h"

#include "framepipe/batcher.h"
#include "framepipe/config.h"
#include "framepipe/error.h"
#include "framepipe/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: framepipe serve [options] MODEL\n"
            "Serves MODEL (an ONNX file or a name of `framepipe models`, e.g. face) over HTTP (docs/service.md):\n"
            "  POST /api/detect   body: a JPEG, PNG or WebP picture, or raw pixels with ?width=&height=&format=;\n"
            "                     answer: the frame's JSON (docs/jsonl.md); ?conf= ?max_det= ?classes=a,b\n"
            "  POST /api/redact   the picture with the detections blurred (?mode=blur|pixelate|fill), as JPEG or\n"
            "                     PNG (?format=png|jpeg or Accept: image/png)\n"
            "  GET /metrics, /healthz, /api/cameras as in `framepipe run`. Runs until SIGINT/SIGTERM.\n"
            "  --listen ADDR:PORT    where to listen (default %s)\n"
            "  --max-body BYTES      larger bodies are refused with 413 before they are read (default 32 MiB)\n"
            "  --max-pixels WxH      larger pictures are refused with 422 (default 8192x8192)\n"
            "  --max-inflight N      requests at once; more get 503 + Retry-After (default 64)\n"
            "  --timeout S           a request's wait for its result before 504 (default 30)\n"
            "  --batch N             frames per inference batch (default 8)\n"
            "  --max-wait MS         a batch waits at most this long for more requests (default 5)\n"
            "  --workers N           inference workers (default 1)\n"
            "  --conf X              the model's confidence threshold (default: the family's)\n"
            "  --http-token T        every request but /healthz needs this token\n"
            "  --duration S          stop after S seconds (tests, benchmarks)\n"
            "  -q, --quiet           no summary on stderr\n"
            "Exit codes: 0 stopped by a signal, 2 bad usage, 3 model error.\n",
            FP_HTTP_DEFAULT_LISTEN);
}

enum {
    OPT_LISTEN = 256, OPT_MAX_BODY, OPT_MAX_PIXELS, OPT_MAX_INFLIGHT, OPT_TIMEOUT, OPT_BATCH, OPT_MAX_WAIT,
    OPT_WORKERS, OPT_CONF, OPT_TOKEN, OPT_DURATION
};

static const struct option serve_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"max-pixels", required_argument, NULL, OPT_MAX_PIXELS},
    {"max-inflight", required_argument, NULL, OPT_MAX_INFLIGHT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"max-wait", required_argument, NULL, OPT_MAX_WAIT},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"conf", required_argument, NULL, OPT_CONF},
    {"http-token", required_argument, NULL, OPT_TOKEN},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"quiet", no_argument, NULL, 'q'},
    {NULL, 0, NULL, 0},
};

int fp_cmd_serve(int argc, char **argv)
{
    static FpPipelineConfig cfg; /* large; one per process */
    fp_pipeline_config_init(&cfg);
    FpAppServiceConfig sc;
    fp_app_service_config_init(&sc);
    FpAppRun run = {.cfg = &cfg};
    const char *listen = FP_HTTP_DEFAULT_LISTEN;
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe serve", argc, argv, "hq", serve_options);
    int c;
    long lv;
    double dv;
    while ((c = fp_app_options_next(&o)) != -1) {
        switch (c) {
        case FP_APP_OPT_ERROR: return FP_EXIT_USAGE;
        case 'h': serve_usage(stdout); return FP_EXIT_OK;
        case 'q': run.quiet = 1; break;
        case OPT_LISTEN: listen = optarg; break;
        case OPT_TOKEN: run.http_token = optarg; break;
        case OPT_MAX_BODY:
            if (fp_app_parse_long(&o, 1024, 1L << 40, &lv) < 0)
                return FP_EXIT_USAGE;
            sc.max_body = (size_t)lv;
            break;
        case OPT_MAX_PIXELS: {
            int w = 0, h = 0;
            char tail = 0;
            if (sscanf(optarg, "%dx%d%c", &w, &h, &tail) != 2 || w < 16 || h < 16 || w > 65535 || h > 65535) {
                fp_app_bad_value(&o, "WxH, each 16..65535");
                return FP_EXIT_USAGE;
            }
            sc.max_width = w, sc.max_height = h;
            break;
        }
        case OPT_MAX_INFLIGHT:
            if (fp_app_parse_long(&o, 1, 1024, &lv) < 0)
                return FP_EXIT_USAGE;
            sc.max_inflight = (int)lv;
            break;
        case OPT_TIMEOUT:
            if (fp_app_parse_double(&o, 0.001, 3600, &dv) < 0)
                return FP_EXIT_USAGE;
            sc.timeout_ns = (int64_t)(dv * 1e9);
            break;
        case OPT_BATCH:
            if (fp_app_parse_long(&o, 1, FP_BATCH_MAX, &lv) < 0)
                return FP_EXIT_USAGE;
            cfg.batch.max_batch = (int)lv;
            break;
        case OPT_MAX_WAIT:
            if (fp_app_parse_double(&o, 0, 10000, &dv) < 0)
                return FP_EXIT_USAGE;
            cfg.batch.max_wait_ns = (int64_t)(dv * 1e6);
            break;
        case OPT_WORKERS:
            if (fp_app_parse_long(&o, 1, 16, &lv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.workers = (int)lv;
            break;
        case OPT_CONF:
            if (fp_app_parse_double(&o, 0, 1, &dv) < 0)
                return FP_EXIT_USAGE;
            cfg.model.confidence = (float)dv;
            break;
        case OPT_DURATION:
            if (fp_app_parse_double(&o, 0.001, 1e9, &dv) < 0)
                return FP_EXIT_USAGE;
            run.duration_s = dv;
            break;
        default: return FP_EXIT_USAGE;
        }
    }
    if (argc - optind != 1) {
        serve_usage(stderr);
        return FP_EXIT_USAGE;
    }
    cfg.model.path = argv[optind];
    cfg.output.http = listen;
    cfg.batch.per_camera = cfg.batch.max_batch; /* one camera: the requests fill whole batches */
    FpAppService *svc = NULL;
    int rc = fp_app_service_create(&svc, &sc);
    if (rc < 0 || (rc = fp_app_service_add_camera(svc, &cfg)) < 0) {
        fprintf(stderr, "framepipe serve: %s\n", fp_error_detail(rc));
        fp_app_service_destroy(&svc);
        return FP_EXIT_USAGE;
    }
    run.service = svc;
    int code = fp_app_run_pipeline(&run);
    fp_app_service_destroy(&svc);
    return code;
}
