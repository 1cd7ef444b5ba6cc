// SPDX-License-Identifier: MIT
// `framepipe run CONFIG.yaml`: the long-running service for many cameras (YAML config, outputs, HTTP metrics), and --check.
#include "app_pipeline.h"
#include "commands.h"

#include "framepipe/config.h"
#include "framepipe/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            "  --quiet            no summary on stderr\n"
            "Exit codes: 0 done, 1 an input or output failed, 2 bad usage or config, 3 model error, 130 second signal.\n");
}

int fp_cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    int check = 0;
    FpAppRun run = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return FP_EXIT_OK;
        } else if (!strcmp(a, "--check")) {
            check = 1;
        } else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            run.quiet = 1;
        } else if (!strcmp(a, "--summary") && i + 1 < argc) {
            run.summary_path = argv[++i];
        } else if (!strcmp(a, "--duration") && i + 1 < argc) {
            char *end = NULL;
            const char *v = argv[++i];
            errno = 0;
            run.duration_s = strtod(v, &end);
            if (!*v || *end || errno || !isfinite(run.duration_s) || run.duration_s <= 0) {
                fprintf(stderr, "framepipe run: --duration '%s': expected seconds > 0\n", v);
                return FP_EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "framepipe run: unknown option or missing value '%s' (try --help)\n", a);
            return FP_EXIT_USAGE;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "framepipe run: one config file only ('%s' and '%s')\n", path, a);
            return FP_EXIT_USAGE;
        }
    }
    if (!path) {
        run_usage(stderr);
        return FP_EXIT_USAGE;
    }
    FpConfigFile *cf = NULL;
    int rc = fp_config_load(&cf, path);
    if (rc < 0) {
        fprintf(stderr, "framepipe run: %s\n", fp_error_detail(rc));
        return FP_EXIT_USAGE;
    }
    const FpPipelineConfig *cfg = fp_config_get(cf);
    int code;
    if (check) {
        /* Everything but running: cameras validated, the model loaded and matched to a family. */
        FpPipeline *p = NULL;
        rc = fp_pipeline_create(&p, cfg);
        if (rc < 0) {
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
        code = fp_app_run_pipeline(&run);
    }
    fp_config_destroy(&cf);
    return code;
}
