// SPDX-License-Identifier: MIT
// What `framepipe detect` and `framepipe run` share: running a pipeline with its outputs, signals and summary.
#ifndef FP_APPS_APP_PIPELINE_H
#define FP_APPS_APP_PIPELINE_H

#include "app_options.h"

#include "framepipe/pipeline.h"

typedef struct FpAppRun {
    const FpPipelineConfig *cfg; /* outputs: cfg->output (jsonl, annotate, http) */
    const char *summary_path;    /* NULL, or a file for the JSON summary */
    double duration_s;           /* > 0: stop (draining) after this long */
    int progress;                /* 1: a progress line on stderr (when stderr is a terminal) */
    int progress_total;          /* 1: the line is a bar to the sum of the sources' frames_expected */
    int quiet;                   /* no human summary on stderr */
    const char *http_token;      /* NULL, or the HTTP token (overrides cfg->output.http_token) */
    struct FpAppService *service; /* NULL, or POST /api/detect and /api/redact (app_service.h) on the HTTP endpoint */
    int redact;                  /* detect --redact: 0 off, else fp_app_redact_mode's; before the annotation, undrawn */
} FpAppRun;

/*
 * Builds the pipeline and its sinks from run->cfg (borrowed for the call),
 * runs it to the end (or a signal / the duration), prints the summary and
 * writes run->summary_path. Main thread; installs SIGINT/SIGTERM handlers
 * for the process. Returns an exit code (FP_EXIT_*), with the reason on stderr.
 */
int fp_app_run_pipeline(const FpAppRun *run);

/* `run --check`: the network outputs' settings as their transports see them (no connection is made).
 * 0 or the transport's error (FP_ECONFIG, FP_EUNSUPPORTED) with its message. */
int fp_app_check_outputs(const FpPipelineConfig *cfg);

/*
 * The configured network outputs (output.redis, output.mqtt, output.webhook): each FpDelivery created into
 * d[*n] (room for 3), its metrics registered, and handed to add(target, d, frames, events) to register as a
 * frame and/or event sink. What `run` and the `logic` role share. 0 or the first error (what was made stays
 * in d for fp_app_close_deliveries).
 */
typedef int (*FpAppAddDelivery)(void *target, FpDelivery *d, bool frames, bool events);
int fp_app_open_deliveries(const FpPipelineConfig *cfg, FpMetrics *metrics, FpDelivery **d, int *n,
                           FpAppAddDelivery add, void *target);
/* Stops and frees d[0..*n) (each delivers what is queued for up to 2 s, then spools its events); *n = 0. */
void fp_app_close_deliveries(FpDelivery **d, int *n);

#endif
