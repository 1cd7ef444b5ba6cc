// SPDX-License-Identifier: MIT
// `framepipe run CONFIG.yaml`: the long-running service for many cameras (YAML config, outputs, HTTP metrics), and --check.
#include "app_pipeline.h"
#include "app_service.h"
#include "commands.h"

#include "framepipe/config.h"
#include "framepipe/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: framepipe run [options] CONFIG.yaml\n"
            "Runs the cameras, model, batching and outputs described in CONFIG.yaml (docs/config.md)\n"
            "until every input has ended or SIGINT/SIGTERM (the first drains in-flight frames and exits 0,\n"
            "a second exits at once).\n"
            "  --check            validate the config (and load the model) without running; exit 0 when good\n"
            "  --duration S       stop (draining) after S seconds\n"
            "  --summary FILE     write the run's summary as JSON at the end\n"
            "  --http-token T     every HTTP request but /healthz needs this token (overrides output.http_token)\n"
            "  --redact MODE      blur, pixelate or fill the detections in the frames the outputs see (the live\n"
            "                     view, output.annotate without boxes); not with output.snapshots\n"
            "  --api              also serve POST /api/detect and /api/redact on output.http (docs/service.md):\n"
            "                     the pictures join the cameras' batches as the camera \"api\" (--redact leaves\n"
            "                     them alone: /api/redact redacts a copy in its own mode)\n"
            "  -q, --quiet        no summary on stderr\n"
            "Exit codes: 0 done, 1 an input or output failed, 2 bad usage or config, 3 model error, 130 second signal.\n");
}

enum { OPT_CHECK = 256, OPT_DURATION, OPT_SUMMARY, OPT_HTTP_TOKEN, OPT_API, OPT_REDACT };

static const struct option run_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"check", no_argument, NULL, OPT_CHECK},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"summary", required_argument, NULL, OPT_SUMMARY},
    {"http-token", required_argument, NULL, OPT_HTTP_TOKEN},
    {"api", no_argument, NULL, OPT_API},
    {"redact", required_argument, NULL, OPT_REDACT},
    {"quiet", no_argument, NULL, 'q'},
    {NULL, 0, NULL, 0},
};

/* A finite number of seconds > 0 into *out: 0, or -1 (*out untouched). */
static int parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* Parses argv into *run, *check and *path. 0, 1 after --help (usage printed), FP_APP_OPT_ERROR (message printed). */
static int parse_run_args(int argc, char **argv, FpAppRun *run, int *check, int *api, const char **path)
{
    FpAppOptions o;
    fp_app_options_init(&o, "framepipe run", argc, argv, "hq", run_options);
    int c;
    while ((c = fp_app_options_next(&o)) != -1) {
        switch (c) {
        case 'h': run_usage(stdout); return 1;
        case OPT_CHECK: *check = 1; break;
        case 'q': run->quiet = 1; break;
        case OPT_SUMMARY: run->summary_path = optarg; break;
        case OPT_API: *api = 1; break;
        case OPT_REDACT:
            if (!(run->redact = fp_app_redact_mode(optarg)))
                return fp_app_bad_value(&o, "expected blur, pixelate or fill");
            break;
        case OPT_HTTP_TOKEN:
            if (!optarg[0])
                return fp_app_bad_value(&o, "expected a non-empty token");
            run->http_token = optarg;
            break;
        case OPT_DURATION:
            if (parse_seconds(optarg, &run->duration_s) < 0)
                return fp_app_bad_value(&o, "expected seconds > 0");
            break;
        default: return FP_APP_OPT_ERROR;
        }
    }
    if (optind >= argc) {
        run_usage(stderr);
        return FP_APP_OPT_ERROR;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "framepipe run: one config file only ('%s' and '%s')\n", argv[optind], argv[optind + 1]);
        return FP_APP_OPT_ERROR;
    }
    *path = argv[optind];
    return 0;
}

int fp_cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0, api = 0;
    FpAppRun run = {0};
    int prc = parse_run_args(argc, argv, &run, &check, &api, &path);
    if (prc != 0)
        return prc == 1 ? FP_EXIT_OK : FP_EXIT_USAGE;
    FpConfigFile *cf = NULL;
    int rc = fp_config_load(&cf, path);
    if (rc < 0) {
        fprintf(stderr, "framepipe run: %s\n", fp_error_detail(rc));
        return FP_EXIT_USAGE;
    }
    const FpPipelineConfig *cfg = fp_config_get(cf);
    int code;
    if (run.redact && cfg->output.snapshots) {
        /* the snapshot writer encodes its frames on its own thread while the redaction would change them */
        fprintf(stderr, "framepipe run: --redact does not go with output.snapshots (%s)\n", path);
        fp_config_destroy(&cf);
        return FP_EXIT_USAGE;
    }
    if (check) {
        /* Everything but running: cameras validated, the model loaded and matched to a family. */
        FpPipeline *p = NULL;
        rc = fp_app_check_outputs(cfg);
        if (rc < 0) {
            fprintf(stderr, "framepipe run --check: %s: %s\n", path, fp_error_detail(rc));
            code = FP_EXIT_USAGE;
        } else if ((rc = fp_pipeline_create(&p, cfg)) < 0) {
            fprintf(stderr, "framepipe run --check: %s: %s\n", path, fp_error_detail(rc));
            code = rc == FP_ECONFIG || rc == FP_EINVALID ? FP_EXIT_USAGE : FP_EXIT_MODEL;
        } else {
            printf("%s: ok (%d camera%s, model %s, batch %d, %d worker%s)\n", path, cfg->n_cameras,
                   cfg->n_cameras == 1 ? "" : "s", cfg->model.path, cfg->batch.max_batch,
                   cfg->model.workers, cfg->model.workers == 1 ? "" : "s");
            code = FP_EXIT_OK;
        }
        fp_pipeline_destroy(&p);
    } else {
        run.cfg = cfg;
        static FpPipelineConfig with_api; /* --api: the config plus the camera "api" */
        FpAppService *svc = NULL;
        code = api && fp_app_service_for_run(&run, cfg, &with_api, &svc) < 0 ? FP_EXIT_USAGE
                                                                                  : fp_app_run_pipeline(&run);
        fp_app_service_destroy(&svc);
    }
    fp_config_destroy(&cf);
    return code;
}
