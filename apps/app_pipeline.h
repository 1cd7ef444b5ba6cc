// SPDX-License-Identifier: MIT
// What `framepipe detect` and `framepipe run` share: running a pipeline with its outputs, signals and summary.
#ifndef FP_APPS_APP_PIPELINE_H
#define FP_APPS_APP_PIPELINE_H

#include "framepipe/pipeline.h"

/* Exit codes of detect and run (docs/cli.md). */
enum {
    FP_EXIT_OK = 0,      /* every input processed, or stopped by a signal after draining */
    FP_EXIT_INPUT = 1,   /* an input failed (could not be opened or read) or an output failed */
    FP_EXIT_USAGE = 2,   /* bad command line or config file */
    FP_EXIT_MODEL = 3,   /* the model could not be loaded or matches no family */
    FP_EXIT_SIGNAL = 130 /* a second SIGINT/SIGTERM: exited at once without draining */
};

typedef struct FpAppRun {
    const FpPipelineConfig *cfg; /* outputs: cfg->output (jsonl, annotate, http) */
    const char *summary_path;    /* NULL, or a file for the JSON summary */
    double duration_s;           /* > 0: stop (draining) after this long */
    int progress;                /* 1: a progress bar on stderr (file inputs on a terminal) */
    int64_t total_frames;        /* for the progress bar (0: unknown) */
    int quiet;                   /* no human summary on stderr */
} FpAppRun;

/* Builds the pipeline and its sinks, runs it to the end (or a signal / the duration), prints the summary. Returns an exit code. */
int fp_app_run_pipeline(const FpAppRun *run);

#endif
