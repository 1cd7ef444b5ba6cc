// SPDX-License-Identifier: MIT
// The detection service of `framepipe serve` and `run --api`: POST /api/detect and /api/redact into the pipeline's batcher.
#ifndef FP_APPS_APP_SERVICE_H
#define FP_APPS_APP_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/detect.h"
#include "framepipe/http.h"
#include "framepipe/imgops.h"
#include "framepipe/pipeline.h"

typedef struct FpAppServiceConfig {
    size_t max_body;          /* bytes; a larger Content-Length is 413 before the body is read (default 32 MiB) */
    int max_width, max_height; /* pixels; a larger picture is 422 (default 8192 x 8192) */
    int max_inflight;         /* requests between headers and answer; more: 503 + Retry-After (default 64) */
    int64_t timeout_ns;       /* a request's wait for its result; then 504 (default 30 s) */
} FpAppServiceConfig;

#define FP_APP_SERVICE_CAMERA "api" /* the push camera's name (and its queue's) */

void fp_app_service_config_init(FpAppServiceConfig *c);

typedef struct FpAppService FpAppService;

/* Everything a request needs is allocated here (pools, board, request slots). 0 or a negative code (message). */
int fp_app_service_create(FpAppService **out, const FpAppServiceConfig *c);

/* Appends the camera "api" (url push:api) to cfg: FP_ECONFIG when cfg has no room or a camera has that name. */
int fp_app_service_add_camera(FpAppService *s, FpPipelineConfig *cfg);

/* Registers the result sink (last, after the other sinks) and the service's metrics. Before fp_pipeline_start. */
int fp_app_service_attach(FpAppService *s, FpPipeline *p);

/* The POST routes for FpHttpHandlers.post (valid while the service lives). */
const FpHttpPostHandlers *fp_app_service_post(FpAppService *s);

/*
 * `run --api`: *copy = *cfg plus the camera "api"; a service with the default limits in *svc; run->cfg and
 * run->service set. cfg must have output.http. 0, or FP_ECONFIG / -ENOMEM with the message printed.
 */
struct FpAppRun;
int fp_app_service_for_run(struct FpAppRun *run, const FpPipelineConfig *cfg, FpPipelineConfig *copy,
                           FpAppService **svc);

/* Redaction modes (POST /api/redact ?mode=, detect --redact): 1 blur, 2 pixelate, 3 fill; 0 for an unknown word. */
int fp_app_redact_mode(const char *word);

/*
 * Blurs (Gaussian by three box passes, sigma = a quarter of the box's longer side), pixelates (cells of a quarter)
 * or fills (black) every detection's box grown by 15% a side, in f's own planes. 0 or a negative code.
 * scratch: the caller's (one thread at a time).
 */
int fp_app_redact(FpFrame *f, const FpDetection *dets, int n, int mode, FpImgScratch *scratch);

/* The pipeline stopped: requests waiting for a result get 503 at once (before the HTTP server is destroyed). */
void fp_app_service_shutdown(FpAppService *s);

/* After the HTTP server and the pipeline are gone. NULL-safe. */
void fp_app_service_destroy(FpAppService **s);

#endif
