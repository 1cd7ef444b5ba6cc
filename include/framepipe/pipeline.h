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
#include "framepipe/rules.h"
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
 * Builds sources, model sessions, pools and the batcher from `cfg` (copied:
 * the caller keeps ownership of cfg and its strings), and with tracking on
 * (cfg->tracker.enabled or any rule) an FpTracker per camera and an FpRules
 * per camera some rule applies to; rule class names are resolved against
 * the model's class names here (an unknown one: FP_ECONFIG naming the
 * rule). Nothing runs until
 * fp_pipeline_start. On success *out owns the pipeline (release it with
 * fp_pipeline_destroy). Errors name the camera or the model (FP_ECONFIG,
 * FP_EMODEL, -ENOMEM, ...); *out untouched on failure and nothing is left
 * running or allocated. Any thread.
 */
int fp_pipeline_create(FpPipeline **out, const FpPipelineConfig *cfg);

/*
 * The class id of rule `rs` (rules[index] of a config): its class_id, or its class
 * name looked up in names[0..n_names) (the model's class names; NULL entries
 * skipped). FP_ECONFIG naming the rule when the name is not there. Used by the
 * in-process pipeline and the logic role alike. Any thread.
 */
int fp_pipeline_rule_class(const FpRuleSection *rs, int index, const char *const *names, int n_names,
                           int *class_id);

/*
 * The rules engine settings of camera k of cfg: the rules that apply to it
 * (those with no camera and those naming it) copied into rules[] with their
 * class ids resolved (fp_pipeline_rule_class), its zones and meters_per_pixel,
 * and the tracker section's smoothing. *out points into rules[] and cfg; its
 * camera_name is cfg's (callers that keep their own copy of the name put it
 * there). Returns how many rules apply (0: the camera needs no engine, *out
 * untouched) or FP_ECONFIG naming the rule or the zones. Any thread.
 */
int fp_pipeline_camera_rules(const FpPipelineConfig *cfg, int k, const char *const *names, int n_names,
                             FpRuleConfig rules[FP_PIPELINE_MAX_RULES], FpRulesConfig *out);

/*
 * Registers a sink, called on the worker threads for every processed frame
 * (framepipe/sink.h). `opaque` stays the caller's and must stay valid until
 * fp_pipeline_stop or fp_pipeline_destroy has returned. Before
 * fp_pipeline_start only, from the thread that owns `p`. Returns 0, or
 * FP_EINVALID (NULL argument, already started, more than 16 sinks) with
 * nothing registered.
 */
int fp_pipeline_add_sink(FpPipeline *p, FpSinkFn fn, void *opaque);

/*
 * Registers an event sink, called for every event the cameras' rules raise
 * (config `rules:`; none without rules), on the worker delivering the frame
 * the event fired on, in the order raised, before that frame reaches the
 * frame sinks; one event sink after another in order of registration.
 * Tracking and rules run inside the ordered delivery, so each camera's
 * events come in stream order. `opaque` as for fp_pipeline_add_sink. Before
 * fp_pipeline_start only, from the thread that owns `p`. Returns 0, or
 * FP_EINVALID (NULL argument, already started, more than 16 event sinks)
 * with nothing registered.
 */
int fp_pipeline_add_event_sink(FpPipeline *p, FpEventSinkFn fn, void *opaque);

/*
 * Starts every camera's source thread (in config order), then the
 * `model.workers` inference workers; from then on sinks are called on the
 * workers. Once per pipeline, from the thread that owns `p`. Returns 0, or
 * FP_EINVALID (NULL, or already started: a second call, even after a failed
 * one), or the error of the first source or worker that could not start
 * (fp_error_detail names it).
 *
 * A failed start is not undone: the pipeline counts as started, the sources
 * before the failing one are running (decoding into their queues), and when
 * a worker failed, the workers before it are running and may already be
 * calling the sinks. The caller must then call fp_pipeline_destroy (or
 * fp_pipeline_stop first), which stops and joins whatever did start; the
 * sinks' opaque pointers must stay valid until it has returned.
 */
int fp_pipeline_start(FpPipeline *p);

/*
 * Waits until every source has ended and every frame is through (files),
 * or the timeout (< 0: forever). Returns 0 or FP_ETIMEOUT (the pipeline keeps
 * running). Returns 0 at once when no worker runs (not started, stopped, or
 * a start that failed before its first worker). Any thread except a worker
 * (not from a sink); `p` must be a pipeline, not NULL.
 */
int fp_pipeline_wait(FpPipeline *p, int64_t timeout_ns);

/*
 * Stops the sources. drain = true: frames already decoded are still
 * processed and delivered; false: dropped. Returns when the workers have
 * stopped, so no sink is called afterwards; summaries and camera status stay
 * readable until destroy. NULL, or a second call: no-op. One thread at a
 * time, any thread except a worker (not from a sink). Cannot fail.
 */
void fp_pipeline_stop(FpPipeline *p, bool drain);

/*
 * Stops the pipeline if it was started (as fp_pipeline_stop(p, false) would,
 * also after a failed start), closes the sources and frees everything,
 * the metrics registry included (destroy an HTTP server serving it first);
 * sets *p to NULL. NULL or *p == NULL: no-op. Not from a worker or a sink,
 * and not while another thread uses the pipeline.
 */
void fp_pipeline_destroy(FpPipeline **p);

/*
 * The pipeline's metrics registry (per camera, queues, batches, stages, pool).
 * Owned by the pipeline: valid until fp_pipeline_destroy. Any thread (the
 * registry is thread-safe). Never NULL for a pipeline that was created.
 */
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

/* Number of cameras (fixed at create). Any thread. */
int fp_pipeline_camera_count(const FpPipeline *p);

/*
 * Fills *out for camera `index` (config order); the strings in it are owned
 * by the pipeline (valid until destroy). Returns 0, or FP_EINVALID for a
 * NULL pipeline or an index out of range, *out untouched. Any thread, also
 * while the pipeline runs (from the HTTP server's thread, for example).
 */
int fp_pipeline_get_camera(FpPipeline *p, int index, FpCameraSummary *out);

/*
 * Writes the cameras' status as a JSON array (name, url, state, fps in/processed/skipped, reconnects, last error)
 * to `out` (the caller's stream). Returns 0, or -EIO when the stream reports an error (part of the array may
 * have been written). Any thread, also while the pipeline runs.
 */
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
    uint64_t sink_errors;       /* sink calls (frame and event sinks) that returned an error */
    uint64_t events;            /* events raised by the rules */
    /* latency split in two, ns: queueing (decoded -> taken into a batch: waiting behind other frames, which is
     * most of it for a file read as fast as possible) and processing (taken into a batch -> delivered) */
    FpHistogramSummary queue, processing;
} FpPipelineSummary;

/* Fills *out (counters so far; `seconds` runs until stop). Any thread, also while the pipeline runs. Cannot fail. */
void fp_pipeline_get_summary(FpPipeline *p, FpPipelineSummary *out);

#ifdef __cplusplus
}
#endif
#endif
