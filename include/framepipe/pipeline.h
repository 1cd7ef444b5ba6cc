// SPDX-License-Identifier: MIT
// FpPipeline: many cameras through one batched model (sources -> batcher -> prep -> infer -> post -> sinks), configured by framepipe/config.h.
#ifndef FRAMEPIPE_PIPELINE_H
#define FRAMEPIPE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "framepipe/config.h"
#include "framepipe/frame.h"
#include "framepipe/metrics.h"
#include "framepipe/sink.h"
#include "framepipe/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Running a pipeline. Threads: one per source (inside FpSource), and
 * `model.workers` inference workers; each worker takes a batch from the
 * shared batcher, fills its batch tensor (fused prep, in parallel), runs
 * the model, decodes, and hands each frame's result to the sinks in order
 * of registration. Workers run batches in parallel but deliver results in
 * the order the batches were formed, so the results of one camera reach the
 * sinks in sequence order whatever the number of workers.
 */
typedef struct FpPipeline FpPipeline;

/*
 * Builds sources, model sessions, pools and the batcher from `cfg` (copied).
 * Nothing runs until fp_pipeline_start. Errors name the camera or the model
 * (FP_ECONFIG, FP_EMODEL, ...); *out untouched on failure.
 */
int fp_pipeline_create(FpPipeline **out, const FpPipelineConfig *cfg);

/* Registers a sink (before start). Returns 0, FP_EINVALID after start. */
int fp_pipeline_add_sink(FpPipeline *p, FpSinkFn fn, void *opaque);

int fp_pipeline_start(FpPipeline *p);

/*
 * Waits until every source has ended and every frame is through (files),
 * or the timeout (< 0: forever). Returns 0 or FP_ETIMEOUT.
 */
int fp_pipeline_wait(FpPipeline *p, int64_t timeout_ns);

/*
 * Stops the sources. drain = true: frames already decoded are still
 * processed and delivered; false: dropped. Returns when the workers have
 * stopped. Any thread except a worker (not from a sink).
 */
void fp_pipeline_stop(FpPipeline *p, bool drain);

void fp_pipeline_destroy(FpPipeline **p);

/* The pipeline's metrics registry (per camera, queues, batches, stages, pool). Owned by the pipeline. */
FpMetrics *fp_pipeline_metrics(FpPipeline *p);

/* One camera's state: its source's status plus what the pipeline did with its frames. */
typedef struct FpCameraSummary {
    const char *name, *url;      /* owned by the pipeline */
    FpSourceStatus source;       /* frames, skipped, reconnects, state, last error, ... */
    uint64_t processed;          /* frames through the model */
    uint64_t detections;
    uint64_t errors;             /* frames that could not be pre-processed */
    double fps_in, fps_processed, fps_skipped; /* over the last second */
    FpHistogramSummary latency;  /* decoded -> delivered, ns */
    int ended;                   /* the batcher saw the source end */
    int end_code;                /* how: FP_EEND_OF_STREAM, FP_EFLUSHING or the source's error */
} FpCameraSummary;

int fp_pipeline_camera_count(const FpPipeline *p);

/* Fills *out for camera `index` (config order). 0 or FP_EINVALID. Any thread. */
int fp_pipeline_get_camera(FpPipeline *p, int index, FpCameraSummary *out);

/* Writes the cameras' status as a JSON array (name, url, state, fps in/processed/skipped, reconnects, last error). */
int fp_pipeline_write_cameras_json(FpPipeline *p, FILE *out);

typedef struct FpPipelineSummary {
    uint64_t frames;            /* processed */
    uint64_t skipped;           /* dropped by latest policies */
    uint64_t detections;
    double seconds;             /* since start */
    double fps;                 /* processed frames per second */
    FpHistogramSummary latency; /* decoded -> result delivered, ns */
    double pool_hit_rate;
    double batch_fill;          /* mean batch size / max_batch */
    uint64_t sink_errors;       /* sink calls that returned an error */
} FpPipelineSummary;

void fp_pipeline_get_summary(FpPipeline *p, FpPipelineSummary *out);

#ifdef __cplusplus
}
#endif
#endif
