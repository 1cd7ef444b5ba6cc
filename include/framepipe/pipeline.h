// SPDX-License-Identifier: MIT
// FpPipeline: many cameras through one batched model (sources -> batcher -> prep -> infer -> post -> sinks), and its config.
#ifndef FRAMEPIPE_PIPELINE_H
#define FRAMEPIPE_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "framepipe/detect.h"
#include "framepipe/frame.h"
#include "framepipe/metrics.h"
#include "framepipe/source.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Configuration. Plain value types; the strings are owned by whoever fills
 * the struct (the YAML loader keeps them in storage it owns;
 * fp_pipeline_create copies what it keeps). Every field has a default from
 * fp_pipeline_config_init; the YAML keys are the field names (docs/config.md).
 */
#define FP_PIPELINE_MAX_CAMERAS 64

typedef struct FpCameraConfig {
    const char *name;         /* required, unique: "cam0" */
    FpSourceConfig source;    /* url, policy, fps, every_nth, loop, timeouts, hw, rtsp transport, ... */
    int roi_x, roi_y, roi_w, roi_h; /* region of interest in source pixels; roi_w == 0: whole frame */
    int64_t latency_budget_ns; /* > 0: a frame of this camera this old forces its batch out
                                  (overrides batch.latency_budget for this camera) */
} FpCameraConfig;

typedef struct FpModelSection {
    const char *path;         /* required: ONNX file */
    const char *family;       /* NULL or "auto": from the outputs; else yolov5|yolov8|yolov11|yolov8-raw|blazeface|ssd */
    int input_width, input_height; /* 0: from the model */
    const char *labels;       /* NULL: class names from metadata; else a labels file */
    float confidence;         /* < 0: the family's default */
    float iou;                /* < 0: the family's default */
    int max_detections;       /* 0: the family's default */
    int threads;              /* ORT intra-op threads per worker (0: default) */
    const char *provider;     /* "cpu" (default), "cuda", "tensorrt" */
    bool provider_fallback;   /* use the CPU with a warning when the provider is missing */
    int workers;              /* inference workers, each with its own session (default 1) */
} FpModelSection;

typedef struct FpBatchSection {
    int max_batch;             /* default 8 */
    int64_t max_wait_ns;       /* emit a partial batch this long after its first frame (default 5 ms) */
    int per_camera;            /* at most this many frames of one camera per batch (default 1) */
    int64_t latency_budget_ns; /* > 0: a frame older than this forces an early batch */
} FpBatchSection;

typedef struct FpOutputSection {
    const char *jsonl;        /* NULL: none; "-": stdout; else a file path */
    const char *annotate;     /* NULL: none; "*.mp4": an annotated video per camera; "dir/": PNG frames */
    const char *http;         /* NULL: off; "127.0.0.1:8080" */
} FpOutputSection;

typedef struct FpPipelineConfig {
    FpCameraConfig cameras[FP_PIPELINE_MAX_CAMERAS];
    int n_cameras;
    FpModelSection model;
    FpBatchSection batch;
    FpOutputSection output;
} FpPipelineConfig;

/* Fills every default; n_cameras = 0, model.path = NULL. */
void fp_pipeline_config_init(FpPipelineConfig *cfg);

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

/* Per-frame result handed to sinks. Everything is borrowed for the duration of the call only. */
typedef struct FpFrameResult {
    const FpFrame *frame;           /* the decoded frame (camera, seq, pts, capture time, pixels) */
    const char *camera_name;
    const FpDetection *dets;
    int n_dets;
    const char *const *class_names; /* n_classes names (may be NULL) */
    int n_classes;
    int n_keypoints;                /* per detection, 0 when the model has none */
    /* per-stage latencies, ns: decoded -> taken into a batch, prep, inference, post */
    int64_t queue_ns, prep_ns, infer_ns, post_ns;
    int batch_size;                 /* frames in the batch this one ran in */
} FpFrameResult;

/* A sink: called on a worker thread for every processed frame. Returns 0 or a negative error (logged). */
typedef int (*FpSinkFn)(void *opaque, const FpFrameResult *result);

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
