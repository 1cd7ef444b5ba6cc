// SPDX-License-Identifier: MIT
// FpPipeline: wires sources, the batcher, inference workers (prep -> model -> post) and sinks from an FpPipelineConfig.
//
// Threads: one per source (inside FpSource) and `model.workers` workers.
// Each source's own bounded queue is the per-camera queue (its policy,
// latest or lossless, decides what a slow model costs); sources notify the
// batcher, and each worker takes a batch, letterboxes every frame straight
// into its slot of a batch tensor taken from the pipeline's tensor pool,
// runs its own model session on it, decodes all slots and hands each frame's
// result to the sinks. Frames are references; the only pass over their
// pixels is the fused pre-processing.
//
// Shutdown: a draining stop stops the sources but keeps what they queued
// (fp_source_stop); the batcher then sees every input end, the workers
// finish the last batches and exit. A hard stop stops the batcher first.
#include "framepipe/pipeline.h"

#include "framepipe/batcher.h"
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/labels.h"
#include "framepipe/log.h"
#include "framepipe/model.h"
#include "framepipe/model_names.h"
#include "framepipe/post.h"
#include "framepipe/prep.h"
#include "framepipe/rules.h"
#include "framepipe/snapshot.h"
#include "framepipe/track.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SINKS 16
#define MAX_WORKERS 16
#define RATE_WINDOW_NS 1000000000LL

typedef struct Camera {
    FpPipeline *p;
    int index;
    char *name;
    char *url;
    int roi_x, roi_y, roi_w, roi_h;
    FpSource *src;
    int input;          /* batcher input index */
    FpCounter processed, detections, errors;
    FpHistogram latency; /* decoded -> delivered */
    /* rates over the last window, computed when read */
    pthread_mutex_t rate_lock;
    int64_t rate_t;
    uint64_t rate_in, rate_done, rate_skip;
    double fps_in, fps_done, fps_skip;
    _Atomic int64_t last_error_log_ns; /* several workers may drop this camera's frames */
    /* tracking and rules: used only inside the ordered delivery, so by one thread at a time */
    FpTracker *tracker;           /* NULL: tracking off */
    FpRules *rules;               /* NULL: no rule applies to this camera */
    uint64_t *track_ids;          /* max_det, the current frame's */
    int64_t t_last, t_offset;     /* stream time given to the tracker; offset after pts went back */
    int t_any;
    const FpFrameResult *current; /* the frame whose rules are running, for the event sinks */
} Camera;

/* A plan per camera; two so that a resolution change inside one batch keeps both geometries. */
typedef struct WorkerPlan {
    FpLetterbox *lb[2];
    int width[2], height[2];
    FpPixelFormat format[2];
    uint64_t used[2]; /* serial of the batch that last used it */
} WorkerPlan;

typedef struct Worker {
    FpPipeline *p;
    int index;
    pthread_t thread;
    int started;
    FpModel *model;
    FpPost *post;
    FpPrepPool *prep_pool;
    WorkerPlan *plans;      /* one per camera */
    FpDetection *dets;      /* max_batch * max_det */
    FpTransform tfs[FP_BATCH_MAX];
    int counts[FP_BATCH_MAX];
    uint64_t serial;
    /* the last batch's results, waiting for their turn to be delivered */
    const FpFrame *out_frames[FP_BATCH_MAX];
    int out_cams[FP_BATCH_MAX];
    int out_n;
    int64_t t[4]; /* prep start, infer start, post start, post end */
} Worker;

typedef struct Sink {
    FpSinkFn fn;
    void *opaque;
} Sink;

typedef struct EventSink {
    FpEventSinkFn fn;
    void *opaque;
} EventSink;

struct FpPipeline {
    FpModelSection model; /* a copy; its strings point to model_path and labels_path */
    FpBatchSection batch;
    char *model_path, *labels_path;
    Camera *cams;
    int n_cams;
    Worker workers[MAX_WORKERS];
    int n_workers;
    FpBatcher *batcher;
    FpPool *tensor_pool;
    size_t tensor_bytes;
    FpMetrics *metrics;
    Sink sinks[MAX_SINKS];
    int n_sinks;
    EventSink event_sinks[MAX_SINKS];
    int n_event_sinks;
    FpSnapshotWriter *snapshots; /* output.snapshots: a JPEG per event, written on its own thread */
    FpCounter events;

    /* what every worker's model agrees on */
    FpFamilyInfo family;
    FpPostConfig post_cfg;
    FpPrepOptions prep;
    int n_outputs;
    FpTensorView views[FP_POST_MAX_OUTPUTS];
    const char **class_names;
    int n_classes;
    FpLabels *labels;
    int max_det;

    FpHistogram h_decode, h_queue, h_prep, h_infer, h_post, h_output, h_total, h_batch;
    FpHistogram h_processing; /* taken into a batch -> delivered (total - queue), for the summary */
    FpCounter frames, dets_total, batches, sink_errors;

    /* results are delivered in the order batches were formed, whichever worker ran them */
    pthread_mutex_t turn_lock;
    pthread_cond_t turn_cond;
    uint64_t next_turn;

    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int running_workers;
    int started, stopped;
    int64_t start_ns, end_ns;
};

static const char *blazeface_names[] = {"face"};

/* Records `code` with "prefix: <the detail of cause>" (the detail is copied first: fp_error writes over it). */
static int wrap_error(int code, int cause, const char *prefix)
{
    char detail[400];
    snprintf(detail, sizeof(detail), "%s", fp_error_detail(cause));
    return prefix ? fp_error(code, "%s: %s", prefix, detail) : fp_error(code, "%s", detail);
}

/* ---- cameras ---- */

static int camera_pull(void *opaque, FpFrame **out)
{
    Camera *c = opaque;
    return fp_source_next(c->src, out, 0);
}

/* Refreshes the camera's rates when the window has passed. */
static void camera_rates(Camera *c, double *in, double *done, double *skip)
{
    FpSourceStatus st;
    fp_source_get_status(c->src, &st);
    uint64_t processed = fp_counter_get(&c->processed);
    int64_t now = fp_clock_ns();
    pthread_mutex_lock(&c->rate_lock);
    int64_t dt = now - c->rate_t;
    if (dt >= RATE_WINDOW_NS || c->rate_t == 0) {
        if (c->rate_t) {
            double s = (double)dt / 1e9;
            c->fps_in = (double)(st.frames - c->rate_in) / s;
            c->fps_done = (double)(processed - c->rate_done) / s;
            c->fps_skip = (double)(st.skipped - c->rate_skip) / s;
        }
        c->rate_t = now;
        c->rate_in = st.frames;
        c->rate_done = processed;
        c->rate_skip = st.skipped;
    }
    *in = c->fps_in;
    *done = c->fps_done;
    *skip = c->fps_skip;
    pthread_mutex_unlock(&c->rate_lock);
}

static double gauge_fps_in(void *opaque)
{
    double a, b, c;
    camera_rates(opaque, &a, &b, &c);
    return a;
}

static double gauge_fps_done(void *opaque)
{
    double a, b, c;
    camera_rates(opaque, &a, &b, &c);
    return b;
}

static double gauge_fps_skip(void *opaque)
{
    double a, b, c;
    camera_rates(opaque, &a, &b, &c);
    return c;
}

static double gauge_pool_hit_rate(void *opaque)
{
    FpPoolStats st;
    fp_source_get_pool_stats(((Camera *)opaque)->src, &st);
    return st.hit_rate;
}

static double gauge_pool_bytes(void *opaque)
{
    FpPoolStats st;
    fp_source_get_pool_stats(((Camera *)opaque)->src, &st);
    return (double)st.bytes_total;
}

static int camera_metrics(FpPipeline *p, Camera *c)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "camera=\"%s\"", c->name);
    int rc = 0;
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_camera_input_fps", labels,
                                        "frames per second the camera delivered (last second)",
                                        gauge_fps_in, c, c);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_camera_processed_fps", labels,
                                        "frames per second through the model (last second)",
                                        gauge_fps_done, c, c);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_camera_skipped_fps", labels,
                                        "frames per second dropped by the latest policy (last second)",
                                        gauge_fps_skip, c, c);
    rc = rc ? rc : fp_metrics_add_counter(p->metrics, "fp_camera_processed_total", labels,
                                          "frames through the model", &c->processed, c);
    rc = rc ? rc : fp_metrics_add_counter(p->metrics, "fp_camera_detections_total", labels,
                                          "detections delivered", &c->detections, c);
    rc = rc ? rc : fp_metrics_add_counter(p->metrics, "fp_camera_frame_errors_total", labels,
                                          "frames dropped because they could not be pre-processed",
                                          &c->errors, c);
    rc = rc ? rc : fp_metrics_add_histogram(p->metrics, "fp_camera_latency_seconds", labels,
                                            "frame decoded to result delivered", &c->latency, 1, c);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_pool_hit_rate", labels,
                                        "frame pool: acquisitions served by an idle buffer",
                                        gauge_pool_hit_rate, c, c);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_pool_bytes", labels,
                                        "frame pool: bytes of all buffers", gauge_pool_bytes, c, c);
    rc = rc ? rc : fp_source_add_metrics(c->src, p->metrics);
    return rc;
}

/* ---- model-derived settings ---- */

/* "[N,4,64,64]": the declared shape, N for a dynamic axis. */
static void shape_text(const FpTensorInfo *ti, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < ti->rank && used < len; d++) {
        int w = ti->dims[d] < 0 ? snprintf(buf + used, len - used, "%sN", d ? "," : "[")
                                : snprintf(buf + used, len - used, "%s%lld", d ? "," : "[", (long long)ti->dims[d]);
        used += w > 0 ? (size_t)w : 0;
    }
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

/*
 * The model's image input must be exactly what pre-processing writes into a batch slot
 * (FP_PREP_CHANNELS channels of a type it writes, NCHW or NHWC, fp_prep_slot_bytes per item):
 * ONNX Runtime reads batch * item_bytes of the batch tensor, so any other input would read past
 * what was written or past the tensor. FP_EMODEL naming the model and what differs.
 */
static int check_model_input(const FpPipeline *p, const FpModel *model)
{
    const FpModelInput *in = fp_model_input(model);
    const FpTensorInfo *ti = fp_model_input_info(model, 0);
    char shape[128];
    shape_text(ti, shape, sizeof(shape));
    if (in->channels != FP_PREP_CHANNELS)
        return fp_error(FP_EMODEL, "model %s: input '%s' has %d channel%s %s; pre-processing writes %d (RGB/BGR)",
                        p->model_path, ti->name, in->channels, in->channels == 1 ? "" : "s", shape,
                        FP_PREP_CHANNELS);
    if (!fp_prep_writes_dtype(in->dtype))
        return fp_error(FP_EMODEL, "model %s: input '%s' is %s %s; pre-processing writes float32, float16 or uint8",
                        p->model_path, ti->name, fp_dtype_name(in->dtype), shape);
    if (in->layout != FP_LAYOUT_NCHW && in->layout != FP_LAYOUT_NHWC)
        return fp_error(FP_EMODEL, "model %s: input '%s' %s is neither NCHW nor NHWC; pre-processing writes those",
                        p->model_path, ti->name, shape);
    FpPrepOptions o;
    fp_prep_options_init(&o, in->width, in->height);
    o.type = in->dtype;
    size_t slot = fp_prep_slot_bytes(&o);
    if (slot == 0 || ti->item_bytes != slot)
        return fp_error(FP_EMODEL, "model %s: input '%s' %s holds %zu bytes per image; pre-processing writes %zu "
                        "(%dx%dx%d %s)", p->model_path, ti->name, shape, ti->item_bytes, slot, in->width,
                        in->height, FP_PREP_CHANNELS, fp_dtype_name(in->dtype));
    return 0;
}

/* Options for a model input check_model_input accepted. */
static void prep_for_family(FpPrepOptions *o, const FpModelInput *in, FpFamily family)
{
    fp_prep_options_init(o, in->width, in->height);
    o->layout = in->layout;
    o->type = in->dtype;
    if (o->type == FP_DTYPE_UINT8) {
        for (int c = 0; c < 3; c++) {
            o->scale[c] = 1.f;
            o->offset[c] = 0.f;
        }
    } else if (family == FP_FAMILY_BLAZEFACE) {
        /* MediaPipe: RGB in [-1, 1], letterboxed with black. */
        for (int c = 0; c < 3; c++) {
            o->scale[c] = 2.f / 255.f;
            o->offset[c] = -1.f;
            o->pad[c] = 0.f;
        }
    }
}

static double gauge_batch_fill(void *opaque)
{
    FpPipeline *p = opaque;
    FpBatcherStats st;
    fp_batcher_get_stats(p->batcher, &st);
    return st.batches ? (double)st.frames / (double)st.batches / p->batch.max_batch : 0.0;
}

static double gauge_tensor_hit_rate(void *opaque)
{
    FpPoolStats st;
    fp_pool_get_stats(((FpPipeline *)opaque)->tensor_pool, &st);
    return st.hit_rate;
}

static double gauge_tensor_bytes(void *opaque)
{
    FpPoolStats st;
    fp_pool_get_stats(((FpPipeline *)opaque)->tensor_pool, &st);
    return (double)st.bytes_total;
}

static int pipeline_metrics(FpPipeline *p)
{
    static const struct {
        const char *stage;
        size_t off;
    } stages[] = {
        {"decode", offsetof(FpPipeline, h_decode)}, {"queue", offsetof(FpPipeline, h_queue)},
        {"prep", offsetof(FpPipeline, h_prep)},
        {"infer", offsetof(FpPipeline, h_infer)}, {"post", offsetof(FpPipeline, h_post)},
        {"output", offsetof(FpPipeline, h_output)}, {"total", offsetof(FpPipeline, h_total)},
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof(stages) / sizeof(stages[0]) && !rc; i++) {
        char labels[64];
        snprintf(labels, sizeof(labels), "stage=\"%s\"", stages[i].stage);
        rc = fp_metrics_add_histogram(p->metrics, "fp_stage_latency_seconds", labels,
                                      "per-stage latency (decode: in libavcodec per frame; queue: "
                                      "decoded to batched; output: the sinks of one frame; total: "
                                      "decoded to delivered)",
                                      (FpHistogram *)((char *)p + stages[i].off), 1, p);
    }
    rc = rc ? rc : fp_metrics_add_histogram(p->metrics, "fp_batch_size", NULL,
                                            "frames per batch", &p->h_batch, 0, p);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_batch_fill_ratio", NULL,
                                        "mean batch size / max_batch", gauge_batch_fill, p, p);
    rc = rc ? rc : fp_metrics_add_counter(p->metrics, "fp_batches_total", NULL, "batches run",
                                          &p->batches, p);
    rc = rc ? rc : fp_metrics_add_counter(p->metrics, "fp_frames_total", NULL,
                                          "frames through the model", &p->frames, p);
    rc = rc ? rc : fp_metrics_add_counter(p->metrics, "fp_sink_errors_total", NULL,
                                          "sink calls that failed", &p->sink_errors, p);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_pool_hit_rate", "pool=\"tensor\"",
                                        "tensor pool: acquisitions served by an idle buffer",
                                        gauge_tensor_hit_rate, p, p);
    rc = rc ? rc : fp_metrics_add_gauge(p->metrics, "fp_pool_bytes", "pool=\"tensor\"",
                                        "tensor pool: bytes of all buffers", gauge_tensor_bytes, p,
                                        p);
    return rc;
}

/* The family from the outputs; an explicit model.family must agree with it. */
static int settle_family(FpPipeline *p, const FpModel *model)
{
    FpFamily fam = p->model.family;
    int rc = fp_model_require_family(model, &p->family);
    if (rc < 0)
        return rc;
    /* yolov8 and yolov8-raw agree: the outputs say which head the export has, and the decoder
     * follows them, never the name. */
    int v8 = (fam == FP_FAMILY_YOLOV8 || fam == FP_FAMILY_YOLOV8_RAW) &&
             (p->family.family == FP_FAMILY_YOLOV8 || p->family.family == FP_FAMILY_YOLOV8_RAW);
    if (fam != FP_FAMILY_UNKNOWN && fam != p->family.family && !v8)
        return fp_error(FP_ECONFIG, "model %s: model.family %s does not match its outputs (%s)", p->model_path,
                        fp_family_name(fam), fp_family_name(p->family.family));
    return 0;
}

/* The decoder's settings: the family's defaults, the config's overrides, the model's input. */
static int settle_post_config(FpPipeline *p, const FpModelInput *in)
{
    const FpModelSection *ms = &p->model;
    FpPostConfig *pc = &p->post_cfg;
    fp_post_config_init(pc, p->family.family);
    if (ms->confidence >= 0)
        pc->conf_threshold = ms->confidence;
    if (ms->iou >= 0)
        pc->nms.iou_threshold = ms->iou;
    if (ms->max_detections > 0)
        pc->nms.max_det = ms->max_detections;
    pc->input_width = in->width;
    pc->input_height = in->height;
    if (p->family.family == FP_FAMILY_YOLOV8_RAW) {
        pc->num_classes = p->family.num_classes;
        if (p->family.reg_max > 0)
            pc->reg_max = p->family.reg_max;
    }
    if (p->family.family == FP_FAMILY_BLAZEFACE &&
        (in->width != in->height || fp_post_blazeface_anchor_options(in->width, &pc->anchors) < 0))
        return fp_error(FP_EMODEL, "model %s: BlazeFace input %dx%d is neither 128 nor 256", p->model_path,
                        in->width, in->height);
    p->max_det = pc->nms.max_det;
    return 0;
}

/* What every worker shares, fixed from the first worker's model: input check, family, prep, post, output views. */
static int settle_shared(FpPipeline *p, const FpModel *model)
{
    const FpModelInput *in = fp_model_input(model);
    int rc = check_model_input(p, model);
    if (rc < 0 || (rc = settle_family(p, model)) < 0)
        return rc;
    if (in->width <= 0 || in->height <= 0)
        return fp_error(FP_ECONFIG, "model %s: its input size is dynamic: set model.input", p->model_path);
    prep_for_family(&p->prep, in, p->family.family);
    if ((rc = settle_post_config(p, in)) < 0)
        return rc;
    p->n_outputs = p->family.n_outputs;
    for (int k = 0; k < p->n_outputs; k++) {
        const FpTensorInfo *ti = fp_model_output_info(model, p->family.outputs[k]);
        if (ti->dtype != FP_DTYPE_FLOAT32)
            return fp_error(FP_EMODEL, "model %s: output '%s' is %s; framepipe decodes float32", p->model_path,
                            ti->name, fp_dtype_name(ti->dtype));
        FpTensorView *v = &p->views[k];
        memset(v, 0, sizeof(*v));
        v->rank = ti->rank;
        memcpy(v->dims, ti->dims, sizeof(int64_t) * (size_t)ti->rank);
        v->dims[0] = p->batch.max_batch;
    }
    return 0;
}

/*
 * Loads worker w's session and post-processor; the first worker also fixes the shared settings.
 * On failure what was made stays in *w for worker_deinit (fp_pipeline_destroy).
 */
static int worker_init(FpPipeline *p, Worker *w)
{
    const FpModelSection *ms = &p->model;
    FpModelConfig mc;
    fp_model_config_init(&mc);
    mc.provider = ms->provider;
    mc.provider_fallback = ms->provider_fallback;
    mc.intra_threads = ms->threads;
    mc.max_batch = p->batch.max_batch;
    mc.input_width = ms->input_width;
    mc.input_height = ms->input_height;
    int rc = fp_model_create(&w->model, p->model_path, &mc);
    if (rc < 0 || (w->index == 0 && (rc = settle_shared(p, w->model)) < 0))
        return rc;
    rc = fp_post_create(&w->post, &p->post_cfg, p->views, p->n_outputs);
    if (rc < 0)
        return strstr(fp_error_detail(rc), p->model_path) ? rc : wrap_error(rc, rc, p->model_path);
    /* Two threads fill a batch's slots with more than one slot: the worker and one helper. */
    rc = fp_prep_pool_create(&w->prep_pool, p->batch.max_batch > 1 ? 1 : 0);
    if (rc < 0)
        return rc;
    w->plans = calloc((size_t)p->n_cams, sizeof(WorkerPlan));
    w->dets = calloc((size_t)p->batch.max_batch * (size_t)p->max_det, sizeof(FpDetection));
    if (!w->plans || !w->dets)
        return fp_error(-ENOMEM, "pipeline: out of memory");
    return 0;
}

static void worker_deinit(Worker *w)
{
    if (w->plans) {
        for (int c = 0; c < w->p->n_cams; c++)
            for (int k = 0; k < 2; k++)
                fp_letterbox_destroy(&w->plans[c].lb[k]);
    }
    free(w->plans);
    free(w->dets);
    fp_prep_pool_destroy(&w->prep_pool);
    fp_post_destroy(&w->post);
    fp_model_destroy(&w->model);
}

/* The plan for this frame of camera `cam`, (re)made when its geometry changed. NULL + logged error. */
static FpLetterbox *plan_for(Worker *w, int cam, const FpFrame *f)
{
    FpPipeline *p = w->p;
    WorkerPlan *wp = &w->plans[cam];
    for (int k = 0; k < 2; k++) {
        if (wp->lb[k] && wp->width[k] == f->width && wp->height[k] == f->height &&
            wp->format[k] == f->format) {
            wp->used[k] = w->serial;
            return wp->lb[k];
        }
    }
    /* Re-plan a slot this batch has not used: the other may still serve an earlier frame of it. */
    int k = !wp->lb[0] ? 0 : !wp->lb[1] ? 1 : wp->used[0] == w->serial ? 1 : 0;
    Camera *c = &p->cams[cam];
    FpPrepOptions o = p->prep;
    o.roi_x = c->roi_x;
    o.roi_y = c->roi_y;
    o.roi_w = c->roi_w;
    o.roi_h = c->roi_h;
    int rc = wp->lb[k] ? fp_letterbox_set_source(wp->lb[k], f->width, f->height, f->format)
                       : fp_letterbox_create(&wp->lb[k], f->width, f->height, f->format, &o);
    if (rc < 0) {
        int64_t now = fp_clock_ns();
        int64_t last = atomic_load_explicit(&c->last_error_log_ns, memory_order_relaxed);
        if ((!last || now - last > 5000000000LL) &&
            atomic_compare_exchange_strong(&c->last_error_log_ns, &last, now)) {
            fp_log_error("pipeline", "camera %s: cannot pre-process a %dx%d %s frame: %s", c->name,
                         f->width, f->height, fp_pixel_format_name(f->format), fp_error_detail(rc));
        }
        return NULL;
    }
    wp->width[k] = f->width;
    wp->height[k] = f->height;
    wp->format[k] = f->format;
    wp->used[k] = w->serial;
    return wp->lb[k];
}

/* Passes one event to every event sink (on the delivering thread, inside fp_rules_update). */
static void on_event(void *opaque, const FpEvent *ev)
{
    Camera *c = opaque;
    FpPipeline *p = c->p;
    fp_counter_add(&p->events, 1);
    FpEvent e = *ev; /* the sinks see the snapshot's path */
    if (p->snapshots && c->current && c->current->frame) {
        char name[96];
        snprintf(name, sizeof(name), "%s-%" PRIu64 "-%s", c->name, e.id, e.kind == FP_EVENT_END ? "end" : "start");
        for (char *q = name; *q; q++) /* a camera name is free text: keep the file name plain */
            if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.'))
                *q = '_';
        /* FP_EWOULD_BLOCK (queue full) is counted by the writer; the event goes out without a snapshot. */
        if (fp_snapshot_write(p->snapshots, c->current->frame, &e.box, e.class_id, e.rule, name, e.snapshot,
                              sizeof(e.snapshot)) < 0)
            e.snapshot[0] = 0;
    }
    for (int s = 0; s < p->n_event_sinks; s++) {
        int rc = p->event_sinks[s].fn(p->event_sinks[s].opaque, &e, c->current);
        if (rc < 0) {
            if (fp_counter_get(&p->sink_errors) == 0)
                fp_log_error("pipeline", "event sink %d: %s", s, fp_error_detail(rc));
            fp_counter_add(&p->sink_errors, 1);
        }
    }
}

/*
 * Tracks camera c's frame r (its detections, at its pts) and runs the camera's rules, whose events reach
 * the event sinks before r reaches the frame sinks; sets r->track_ids. Stream time must not go back for
 * the tracker: when pts does (a looping file, a restarted stream), time continues 1 ms after the last.
 * Called in delivery order, so one thread at a time per camera. Allocates nothing.
 */
static void track_frame(Camera *c, FpFrameResult *r)
{
    int64_t t = r->frame->pts_ns + c->t_offset;
    if (c->t_any && t < c->t_last) {
        c->t_offset += c->t_last - t + 1000000;
        t = c->t_last + 1000000;
    }
    c->t_any = 1;
    c->t_last = t;
    int n = fp_tracker_update(c->tracker, r->dets, r->n_dets, t, c->track_ids);
    if (n < 0) {
        fp_log_error("pipeline", "camera %s: tracker: %s", c->name, fp_error_detail(n));
        return;
    }
    r->track_ids = c->track_ids;
    if (!c->rules)
        return;
    const FpTrack *tracks;
    int nt = fp_tracker_tracks(c->tracker, &tracks);
    c->current = r;
    int rc = fp_rules_update(c->rules, tracks, nt, r->frame->width, r->frame->height, t);
    c->current = NULL;
    if (rc < 0)
        fp_log_error("pipeline", "camera %s: rules: %s", c->name, fp_error_detail(rc));
}

static void deliver(FpPipeline *p, Worker *w, const FpBatch *b)
{
    const FpFrame *const *frames = w->out_frames;
    const int *cams = w->out_cams;
    const int n = w->out_n;
    const int64_t t0 = w->t[0], t1 = w->t[1], t2 = w->t[2], t3 = w->t[3];
    for (int i = 0; i < n; i++) {
        Camera *c = &p->cams[cams[i]];
        FpFrameResult r = {
            .frame = frames[i],
            .camera_name = c->name,
            .dets = w->dets + (size_t)i * (size_t)p->max_det,
            .n_dets = w->counts[i],
            .class_names = p->class_names,
            .n_classes = p->n_classes,
            .n_keypoints = p->family.family == FP_FAMILY_BLAZEFACE ? p->post_cfg.num_keypoints : 0,
            .queue_ns = b->formed_ns - frames[i]->decoded_ns,
            .prep_ns = t1 - t0,
            .infer_ns = t2 - t1,
            .post_ns = t3 - t2,
            .batch_size = n,
        };
        if (r.queue_ns < 0)
            r.queue_ns = 0;
        if (c->tracker)
            track_frame(c, &r);
        int64_t t_out = fp_clock_ns();
        for (int s = 0; s < p->n_sinks; s++) {
            int rc = p->sinks[s].fn(p->sinks[s].opaque, &r);
            if (rc < 0) {
                if (fp_counter_get(&p->sink_errors) == 0)
                    fp_log_error("pipeline", "sink %d: %s", s, fp_error_detail(rc));
                fp_counter_add(&p->sink_errors, 1);
            }
        }
        int64_t t_done = fp_clock_ns();
        int64_t total = t_done - frames[i]->decoded_ns;
        fp_histogram_record(&p->h_output, (uint64_t)(t_done - t_out));
        fp_histogram_record(&p->h_queue, (uint64_t)r.queue_ns);
        fp_histogram_record(&p->h_total, (uint64_t)(total > 0 ? total : 0));
        fp_histogram_record(&p->h_processing, (uint64_t)(total > r.queue_ns ? total - r.queue_ns : 0));
        fp_histogram_record(&c->latency, (uint64_t)(total > 0 ? total : 0));
        fp_counter_add(&c->processed, 1);
        fp_counter_add(&c->detections, (uint64_t)r.n_dets);
        fp_counter_add(&p->frames, 1);
        fp_counter_add(&p->dets_total, (uint64_t)r.n_dets);
    }
}

/* Runs prep, the model and post on a batch; the results wait in w->out_* for deliver(). */
static int run_batch(Worker *w, FpBatch *b)
{
    FpPipeline *p = w->p;
    FpLetterbox *plans[FP_BATCH_MAX];
    const FpFrame **frames = w->out_frames;
    int *cams = w->out_cams;
    int n = 0;
    w->out_n = 0;
    w->serial++;
    int64_t t0 = fp_clock_ns();
    for (int i = 0; i < b->n; i++) {
        int cam = b->inputs[i];
        FpLetterbox *lb = plan_for(w, cam, b->frames[i]);
        if (!lb) {
            fp_counter_add(&p->cams[cam].errors, 1);
            continue;
        }
        plans[n] = lb;
        frames[n] = b->frames[i];
        cams[n] = cam;
        n++;
    }
    if (!n)
        return 0;
    FpBuffer *tensor = NULL;
    int rc = fp_pool_acquire(p->tensor_pool, p->tensor_bytes, -1, &tensor);
    if (rc < 0)
        return rc;
    uint8_t *data = fp_buffer_data(tensor);
    rc = fp_prep_batch(w->prep_pool, plans, frames, n, data, p->tensor_bytes);
    if (rc < 0) {
        fp_buffer_unref(&tensor);
        return rc;
    }
    for (int i = 0; i < n; i++)
        w->tfs[i] = *fp_letterbox_transform(plans[i]);
    int64_t t1 = fp_clock_ns();
    rc = fp_model_run(w->model, data, n);
    int64_t t2 = fp_clock_ns();
    if (rc < 0) {
        fp_buffer_unref(&tensor);
        return rc;
    }
    FpTensorView views[FP_POST_MAX_OUTPUTS];
    for (int k = 0; k < p->n_outputs; k++) {
        views[k] = p->views[k];
        views[k].data = fp_model_output_data(w->model, p->family.outputs[k]);
        views[k].dims[0] = n;
    }
    rc = fp_post_run(w->post, views, p->n_outputs, n, w->tfs, w->dets, p->max_det, w->counts);
    int64_t t3 = fp_clock_ns();
    fp_buffer_unref(&tensor);
    if (rc < 0)
        return rc;
    fp_histogram_record(&p->h_prep, (uint64_t)(t1 - t0));
    fp_histogram_record(&p->h_infer, (uint64_t)(t2 - t1));
    fp_histogram_record(&p->h_post, (uint64_t)(t3 - t2));
    fp_histogram_record(&p->h_batch, (uint64_t)n);
    fp_counter_add(&p->batches, 1);
    w->out_n = n;
    w->t[0] = t0;
    w->t[1] = t1;
    w->t[2] = t2;
    w->t[3] = t3;
    return 0;
}

/* Waits until every batch formed before `serial` was delivered (or dropped by a failure). */
static void turn_wait(FpPipeline *p, uint64_t serial)
{
    pthread_mutex_lock(&p->turn_lock);
    while (p->next_turn != serial)
        pthread_cond_wait(&p->turn_cond, &p->turn_lock);
    pthread_mutex_unlock(&p->turn_lock);
}

static void turn_done(FpPipeline *p)
{
    pthread_mutex_lock(&p->turn_lock);
    p->next_turn++;
    pthread_cond_broadcast(&p->turn_cond);
    pthread_mutex_unlock(&p->turn_lock);
}

static void *worker_main(void *arg)
{
    Worker *w = arg;
    FpPipeline *p = w->p;
    FpBatch b;
    for (;;) {
        int rc = fp_batcher_next(p->batcher, &b, 200000000);
        if (rc == FP_ETIMEOUT)
            continue;
        if (rc < 0)
            break;
        rc = run_batch(w, &b);
        if (rc < 0)
            fp_log_error("pipeline", "worker %d: a batch of %d frames failed: %s", w->index, b.n,
                         fp_error_detail(rc));
        /* Inference ran in parallel; results go out in batch order, so each camera's stay in sequence. */
        turn_wait(p, b.serial);
        if (rc == 0)
            deliver(p, w, &b);
        turn_done(p);
        for (int i = 0; i < b.n; i++)
            fp_frame_unref(&b.frames[i]);
    }
    pthread_mutex_lock(&p->lock);
    if (--p->running_workers == 0) {
        p->end_ns = fp_clock_ns();
        pthread_cond_broadcast(&p->done_cond);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- lifecycle ---- */

static char *dup_str(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int check_config(const FpPipelineConfig *cfg)
{
    if (cfg->n_cameras < 1 || cfg->n_cameras > FP_PIPELINE_MAX_CAMERAS)
        return fp_error(FP_ECONFIG, "cameras: %d cameras (1..%d)", cfg->n_cameras,
                        FP_PIPELINE_MAX_CAMERAS);
    if (!cfg->model.path || !cfg->model.path[0])
        return fp_error(FP_ECONFIG, "model.path: missing");
    if ((int)cfg->model.provider < FP_PROVIDER_CPU || cfg->model.provider > FP_PROVIDER_TENSORRT)
        return fp_error(FP_ECONFIG, "model.provider: %d is not cpu, cuda or tensorrt (FpProvider)",
                        (int)cfg->model.provider);
    if ((int)cfg->model.family < FP_FAMILY_UNKNOWN || cfg->model.family > FP_FAMILY_SSD)
        return fp_error(FP_ECONFIG, "model.family: %d is not a family (FpFamily)", (int)cfg->model.family);
    if (cfg->model.workers < 1 || cfg->model.workers > MAX_WORKERS)
        return fp_error(FP_ECONFIG, "model.workers: %d is outside 1..%d", cfg->model.workers,
                        MAX_WORKERS);
    for (int i = 0; i < cfg->n_cameras; i++) {
        const FpCameraConfig *c = &cfg->cameras[i];
        if (!c->name || !c->name[0])
            return fp_error(FP_ECONFIG, "cameras[%d].name: missing", i);
        if (!c->source.url || !c->source.url[0])
            return fp_error(FP_ECONFIG, "cameras[%d] (%s).url: missing", i, c->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->cameras[j].name, c->name))
                return fp_error(FP_ECONFIG, "cameras[%d].name: '%s' is used twice", i, c->name);
        if (c->roi_x < 0 || c->roi_y < 0 || c->roi_w < 0 || c->roi_h < 0)
            return fp_error(FP_ECONFIG, "cameras[%d] (%s).roi: negative value", i, c->name);
    }
    return 0;
}

/*
 * Step 1: the pipeline object with its locks, histograms, copies of the model's strings and the
 * camera array; nothing opened. On failure nothing is left (*out untouched).
 */
static int pipeline_alloc(FpPipeline **out, const FpPipelineConfig *cfg)
{
    FpPipeline *p = calloc(1, sizeof(*p));
    if (!p)
        return fp_error(-ENOMEM, "pipeline: out of memory");
    p->model = cfg->model;
    p->batch = cfg->batch;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->turn_lock, NULL);
    pthread_cond_init(&p->turn_cond, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->done_cond, &ca);
    pthread_condattr_destroy(&ca);
    FpHistogram *hs[] = {&p->h_decode, &p->h_queue,  &p->h_prep,  &p->h_infer,     &p->h_post,
                         &p->h_output, &p->h_total, &p->h_batch, &p->h_processing};
    for (size_t i = 0; i < sizeof(hs) / sizeof(hs[0]); i++)
        fp_histogram_init(hs[i]);
    char named[1024]; /* a named model ("face") becomes its installed path */
    int nrc = fp_model_resolve(cfg->model.path, named, sizeof(named));
    if (nrc < 0) {
        fp_pipeline_destroy(&p);
        return nrc;
    }
    p->model_path = dup_str(nrc == 1 ? named : cfg->model.path);
    p->labels_path = dup_str(cfg->model.labels);
    p->model.path = p->model_path;
    p->model.labels = p->labels_path;
    p->n_workers = cfg->model.workers;
    p->n_cams = cfg->n_cameras;
    p->cams = calloc((size_t)p->n_cams, sizeof(Camera));
    if (!p->cams || (!p->model_path) != (!cfg->model.path) || (!p->labels_path) != (!cfg->model.labels)) {
        fp_pipeline_destroy(&p);
        return fp_error(-ENOMEM, "pipeline: out of memory");
    }
    *out = p;
    return 0;
}

/* Step 2: the metrics registry, the batcher and every worker's session (models before cameras). */
static int open_models(FpPipeline *p)
{
    int rc = fp_metrics_create(&p->metrics);
    if (rc < 0)
        return rc;
    FpBatcherConfig bc = {
        .max_batch = p->batch.max_batch,
        .max_wait_ns = p->batch.max_wait_ns,
        .per_camera = p->batch.per_camera,
        .latency_budget_ns = p->batch.latency_budget_ns,
    };
    rc = fp_batcher_create(&p->batcher, &bc);
    if (rc < 0)
        return wrap_error(FP_ECONFIG, rc, NULL);
    for (int i = 0; i < p->n_workers; i++) {
        Worker *w = &p->workers[i];
        w->p = p;
        w->index = i;
        if ((rc = worker_init(p, w)) < 0)
            return rc;
    }
    return 0;
}

/* Step 3: class names: a labels file, else the model's metadata, else the family's. */
static int load_class_names(FpPipeline *p)
{
    if (p->labels_path) {
        int rc = fp_labels_load(&p->labels, p->labels_path);
        if (rc < 0)
            return rc;
    }
    const FpModel *m = p->workers[0].model;
    int n = p->labels ? fp_labels_count(p->labels) : fp_model_class_count(m);
    if (n > 0) {
        p->class_names = calloc((size_t)n, sizeof(char *));
        if (!p->class_names)
            return fp_error(-ENOMEM, "pipeline: out of memory");
        for (int i = 0; i < n; i++)
            p->class_names[i] = p->labels ? fp_labels_name(p->labels, i) : fp_model_class_name(m, i);
        p->n_classes = n;
    } else if (p->family.family == FP_FAMILY_BLAZEFACE) {
        p->class_names = blazeface_names;
        p->n_classes = 1;
    }
    return 0;
}

/*
 * Step 4: the batch tensors, pool memory, one or two per worker, as large as the model reads:
 * its declared item bytes (check_model_input made them what pre-processing writes) times the
 * larger of max_batch and the model's fixed batch.
 */
static int create_tensor_pool(FpPipeline *p)
{
    const FpModel *m = p->workers[0].model;
    int items = fp_model_max_batch(m) > p->batch.max_batch ? fp_model_max_batch(m) : p->batch.max_batch;
    p->tensor_bytes = (size_t)items * fp_model_input_info(m, 0)->item_bytes;
    FpPoolConfig pc = {0};
    pc.name = "tensor";
    pc.class_size[0] = p->tensor_bytes;
    pc.n_classes = 1;
    pc.prealloc = (unsigned)p->n_workers;
    pc.max_buffers = 2 * (unsigned)p->n_workers;
    return fp_pool_create(&p->tensor_pool, &pc);
}

/* Step 5: camera i's source, registered with the batcher and the metrics. */
static int open_camera(FpPipeline *p, const FpCameraConfig *cc, int i)
{
    Camera *c = &p->cams[i];
    c->p = p;
    c->index = i;
    pthread_mutex_init(&c->rate_lock, NULL);
    fp_histogram_init(&c->latency);
    c->roi_x = cc->roi_x;
    c->roi_y = cc->roi_y;
    c->roi_w = cc->roi_w;
    c->roi_h = cc->roi_h;
    c->name = dup_str(cc->name);
    c->url = dup_str(cc->source.url);
    if (!c->name || !c->url)
        return fp_error(-ENOMEM, "pipeline: out of memory");
    /* The source copies its strings. A camera must be able to queue its share of a batch. */
    FpSourceConfig sc = cc->source;
    sc.name = c->name;
    sc.camera = i;
    sc.decode_hist = &p->h_decode;
    if (sc.queue_depth == 0 && p->batch.per_camera > 4)
        sc.queue_depth = (unsigned)p->batch.per_camera;
    int rc = fp_source_open(&c->src, &sc, NULL);
    if (rc < 0) {
        char what[96];
        snprintf(what, sizeof(what), "camera %s", c->name);
        return wrap_error(FP_ECONFIG, rc, what);
    }
    if ((rc = fp_source_set_notify(c->src, fp_batcher_notify, p->batcher)) < 0)
        return rc;
    c->input = fp_batcher_add_input(p->batcher, camera_pull, c);
    if (c->input < 0)
        return c->input;
    if (cc->latency_budget_ns < 0)
        return fp_error(FP_ECONFIG, "cameras[%d] (%s).latency_budget: negative", i, c->name);
    if (cc->latency_budget_ns > 0 &&
        (rc = fp_batcher_set_input_budget(p->batcher, c->input, cc->latency_budget_ns)) < 0)
        return rc;
    return camera_metrics(p, c);
}

int fp_pipeline_rule_class(const FpRuleSection *rs, int index, const char *const *names, int n_names,
                           int *class_id)
{
    if (!rs || !class_id || (n_names > 0 && !names))
        return fp_error(FP_EINVALID, "fp_pipeline_rule_class: NULL argument");
    if (!rs->class_name) {
        *class_id = rs->rule.class_id;
        return 0;
    }
    for (int k = 0; k < n_names; k++) {
        if (names[k] && !strcmp(names[k], rs->class_name)) {
            *class_id = k;
            return 0;
        }
    }
    return fp_error(FP_ECONFIG, "rules[%d] (%s): class '%s' is not one of the model's %d class names%s", index,
                    rs->rule.name ? rs->rule.name : "?", rs->class_name, n_names,
                    n_names ? "" : " (it has none: use a class id)");
}

int fp_pipeline_camera_rules(const FpPipelineConfig *cfg, int k, const char *const *names, int n_names,
                             FpRuleConfig rules[FP_PIPELINE_MAX_RULES], FpRulesConfig *out)
{
    if (!cfg || !rules || !out || k < 0 || k >= cfg->n_cameras)
        return fp_error(FP_EINVALID, "fp_pipeline_camera_rules: NULL argument or camera %d out of range", k);
    const FpCameraConfig *cc = &cfg->cameras[k];
    int n = 0;
    for (int i = 0; i < cfg->n_rules && i < FP_PIPELINE_MAX_RULES; i++) {
        const FpRuleSection *rs = &cfg->rules[i];
        if (rs->camera && (!cc->name || strcmp(rs->camera, cc->name) != 0))
            continue;
        rules[n] = rs->rule;
        int rc = fp_pipeline_rule_class(rs, i, names, n_names, &rules[n].class_id);
        if (rc < 0)
            return rc;
        n++;
    }
    if (n == 0)
        return 0;
    if (cc->n_zones < 0 || cc->n_zones > FP_RULES_MAX_ZONES || (cc->n_zones && !cc->zones))
        return fp_error(FP_ECONFIG, "cameras[%d] (%s).zones: %d zones (0..%d)", k, cc->name ? cc->name : "?",
                        cc->n_zones, FP_RULES_MAX_ZONES);
    fp_rules_config_init(out);
    out->camera_name = cc->name;
    out->camera_index = k;
    out->zones = cc->zones;
    out->n_zones = cc->n_zones;
    out->rules = rules;
    out->n_rules = n;
    out->max_tracks = cfg->tracker.tracker.max_tracks;
    out->present_n = cfg->tracker.present_n;
    out->present_m = cfg->tracker.present_m;
    out->box_alpha = cfg->tracker.box_alpha;
    out->anchor = cfg->tracker.anchor;
    out->meters_per_pixel = cc->meters_per_pixel;
    return n;
}

/* Step 3b, before any camera opens: every rule's camera exists and its class name is one of the model's. */
static int check_rules(const FpPipeline *p, const FpPipelineConfig *cfg)
{
    if (cfg->n_rules < 0 || cfg->n_rules > FP_PIPELINE_MAX_RULES)
        return fp_error(FP_ECONFIG, "rules: %d rules (0..%d)", cfg->n_rules, FP_PIPELINE_MAX_RULES);
    for (int i = 0; i < cfg->n_rules; i++) {
        const FpRuleSection *rs = &cfg->rules[i];
        if (rs->camera) {
            int found = 0;
            for (int k = 0; k < cfg->n_cameras && !found; k++)
                found = cfg->cameras[k].name && !strcmp(cfg->cameras[k].name, rs->camera);
            if (!found)
                return fp_error(FP_ECONFIG, "rules[%d] (%s): no camera is named '%s'", i,
                                rs->rule.name ? rs->rule.name : "?", rs->camera);
        }
        int class_id;
        int rc = fp_pipeline_rule_class(rs, i, p->class_names, p->n_classes, &class_id);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/*
 * Step 6: with tracking on (tracker.enabled or any rule), a tracker per camera and its track id buffer,
 * and an engine per camera that some rule applies to (rules naming the camera, or no camera).
 */
static int setup_tracking(FpPipeline *p, const FpPipelineConfig *cfg)
{
    if (!cfg->tracker.enabled && cfg->n_rules == 0)
        return 0;
    FpRuleConfig rules[FP_PIPELINE_MAX_RULES];
    for (int k = 0; k < p->n_cams; k++) {
        Camera *c = &p->cams[k];
        int rc = fp_tracker_create(&c->tracker, &cfg->tracker.tracker);
        if (rc < 0) {
            char what[96];
            snprintf(what, sizeof(what), "camera %s: tracker", c->name);
            return wrap_error(FP_ECONFIG, rc, what);
        }
        c->track_ids = calloc((size_t)(p->max_det > 0 ? p->max_det : 1), sizeof(uint64_t));
        if (!c->track_ids)
            return fp_error(-ENOMEM, "pipeline: out of memory");
        FpRulesConfig rc_cfg;
        int n = fp_pipeline_camera_rules(cfg, k, p->class_names, p->n_classes, rules, &rc_cfg);
        if (n <= 0) {
            if (n < 0)
                return n;
            continue;
        }
        rc_cfg.camera_name = c->name;
        if ((rc = fp_rules_create(&c->rules, &rc_cfg, on_event, c)) < 0)
            return rc; /* FP_ECONFIG names the camera and the zone or rule */
    }
    return 0;
}

/* output.snapshots: the writer of the events' JPEGs (only when some camera has rules). */
static int open_snapshots(FpPipeline *p, const FpPipelineConfig *cfg)
{
    if (!cfg->output.snapshots || !cfg->output.snapshots[0] || cfg->n_rules == 0)
        return 0;
    FpSnapshotConfig sc;
    fp_snapshot_config_init(&sc);
    sc.dir = cfg->output.snapshots;
    if (cfg->output.snapshots_max_mb > 0)
        sc.max_bytes = (uint64_t)cfg->output.snapshots_max_mb << 20;
    return fp_snapshot_create(&p->snapshots, &sc); /* names the folder on failure */
}

int fp_pipeline_create(FpPipeline **out, const FpPipelineConfig *cfg)
{
    if (!out || !cfg)
        return fp_error(FP_EINVALID, "fp_pipeline_create: NULL argument");
    int rc = check_config(cfg);
    FpPipeline *p = NULL;
    if (rc < 0 || (rc = pipeline_alloc(&p, cfg)) < 0)
        return rc;
    /* Models first: a bad model fails before any camera is opened. fp_pipeline_destroy takes a
     * pipeline built up to any step apart, so one label serves every step. */
    if ((rc = open_models(p)) < 0 || (rc = load_class_names(p)) < 0 || (rc = check_rules(p, cfg)) < 0 ||
        (rc = create_tensor_pool(p)) < 0)
        goto fail;
    for (int i = 0; i < p->n_cams; i++) {
        if ((rc = open_camera(p, &cfg->cameras[i], i)) < 0)
            goto fail;
    }
    if ((rc = setup_tracking(p, cfg)) < 0 || (rc = open_snapshots(p, cfg)) < 0 || (rc = pipeline_metrics(p)) < 0)
        goto fail;
    fp_log_info("pipeline", "%d camera(s), model %s (%s, input %dx%d), batch %d, %d worker(s)", p->n_cams,
                p->model_path, fp_family_name(p->family.family), p->prep.dst_width, p->prep.dst_height,
                p->batch.max_batch, p->n_workers);
    *out = p;
    return 0;
fail:
    fp_pipeline_destroy(&p);
    return rc;
}

int fp_pipeline_add_sink(FpPipeline *p, FpSinkFn fn, void *opaque)
{
    if (!p || !fn)
        return fp_error(FP_EINVALID, "fp_pipeline_add_sink: NULL argument");
    if (p->started)
        return fp_error(FP_EINVALID, "pipeline: sinks must be added before start");
    if (p->n_sinks >= MAX_SINKS)
        return fp_error(FP_EINVALID, "pipeline: more than %d sinks", MAX_SINKS);
    p->sinks[p->n_sinks++] = (Sink){fn, opaque};
    return 0;
}

int fp_pipeline_add_event_sink(FpPipeline *p, FpEventSinkFn fn, void *opaque)
{
    if (!p || !fn)
        return fp_error(FP_EINVALID, "fp_pipeline_add_event_sink: NULL argument");
    if (p->started)
        return fp_error(FP_EINVALID, "pipeline: event sinks must be added before start");
    if (p->n_event_sinks >= MAX_SINKS)
        return fp_error(FP_EINVALID, "pipeline: more than %d event sinks", MAX_SINKS);
    p->event_sinks[p->n_event_sinks++] = (EventSink){fn, opaque};
    return 0;
}

int fp_pipeline_start(FpPipeline *p)
{
    if (!p)
        return fp_error(FP_EINVALID, "fp_pipeline_start: no pipeline");
    if (p->started)
        return fp_error(FP_EINVALID, "pipeline: already started");
    p->started = 1;
    p->start_ns = fp_clock_ns();
    /* Sources first: a pull from a source not yet started would read as its end. */
    for (int i = 0; i < p->n_cams; i++) {
        int rc = fp_source_start(p->cams[i].src);
        if (rc < 0)
            return rc;
    }
    pthread_mutex_lock(&p->lock);
    for (int i = 0; i < p->n_workers; i++) {
        int rc = pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]);
        if (rc) {
            pthread_mutex_unlock(&p->lock);
            return fp_error(-rc, "pipeline: cannot start worker %d: %s", i, strerror(rc));
        }
        p->workers[i].started = 1;
        p->running_workers++;
    }
    pthread_mutex_unlock(&p->lock);
    return 0;
}

int fp_pipeline_wait(FpPipeline *p, int64_t timeout_ns)
{
    struct timespec dl = fp_deadline_ts(timeout_ns);
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    while (p->running_workers > 0) {
        if (timeout_ns < 0) {
            pthread_cond_wait(&p->done_cond, &p->lock);
        } else if (pthread_cond_timedwait(&p->done_cond, &p->lock, &dl) == ETIMEDOUT) {
            rc = p->running_workers > 0 ? FP_ETIMEOUT : 0;
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void fp_pipeline_stop(FpPipeline *p, bool drain)
{
    if (!p || p->stopped)
        return;
    p->stopped = 1;
    if (drain) {
        for (int i = 0; i < p->n_cams; i++)
            fp_source_stop(p->cams[i].src);
    } else {
        fp_batcher_stop(p->batcher);
        fp_pool_set_flushing(p->tensor_pool, 1);
    }
    for (int i = 0; i < p->n_workers; i++) {
        if (p->workers[i].started) {
            pthread_join(p->workers[i].thread, NULL);
            p->workers[i].started = 0;
        }
    }
    if (!p->end_ns)
        p->end_ns = fp_clock_ns();
}

void fp_pipeline_destroy(FpPipeline **pp)
{
    FpPipeline *p = pp ? *pp : NULL;
    if (!p)
        return;
    *pp = NULL;
    if (p->started)
        fp_pipeline_stop(p, false);
    fp_snapshot_destroy(&p->snapshots); /* writes what is queued and drops its frame references first */
    if (p->cams) {
        for (int i = 0; i < p->n_cams; i++) {
            Camera *c = &p->cams[i];
            if (p->metrics)
                fp_metrics_remove_owner(p->metrics, c);
            fp_source_close(&c->src);
            fp_rules_destroy(&c->rules);
            fp_tracker_destroy(&c->tracker);
            free(c->track_ids);
            free(c->name);
            free(c->url);
            if (c->p)
                pthread_mutex_destroy(&c->rate_lock);
        }
    }
    for (int i = 0; i < p->n_workers; i++)
        if (p->workers[i].p)
            worker_deinit(&p->workers[i]);
    fp_pool_destroy(&p->tensor_pool);
    fp_batcher_destroy(&p->batcher);
    if (p->class_names != blazeface_names)
        free((void *)p->class_names);
    fp_labels_destroy(&p->labels);
    fp_metrics_destroy(&p->metrics);
    free(p->cams);
    free(p->model_path);
    free(p->labels_path);
    pthread_cond_destroy(&p->done_cond);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->turn_cond);
    pthread_mutex_destroy(&p->turn_lock);
    free(p);
}

FpMetrics *fp_pipeline_metrics(FpPipeline *p)
{
    return p->metrics;
}

int fp_pipeline_camera_count(const FpPipeline *p)
{
    return p->n_cams;
}

int fp_pipeline_get_camera(FpPipeline *p, int index, FpCameraSummary *out)
{
    if (!p || index < 0 || index >= p->n_cams)
        return fp_error(FP_EINVALID, "pipeline: no camera %d", index);
    Camera *c = &p->cams[index];
    memset(out, 0, sizeof(*out));
    out->name = c->name;
    out->url = c->url;
    fp_source_get_status(c->src, &out->source);
    out->processed = fp_counter_get(&c->processed);
    out->detections = fp_counter_get(&c->detections);
    out->errors = fp_counter_get(&c->errors);
    camera_rates(c, &out->fps_in, &out->fps_processed, &out->fps_skipped);
    fp_histogram_summary(&c->latency, &out->latency);
    int ended_code = 0;
    out->ended = fp_batcher_input_ended(p->batcher, c->input, &ended_code);
    out->end_code = ended_code;
    return 0;
}

void fp_pipeline_get_summary(FpPipeline *p, FpPipelineSummary *out)
{
    memset(out, 0, sizeof(*out));
    out->frames = fp_counter_get(&p->frames);
    out->detections = fp_counter_get(&p->dets_total);
    uint64_t hits = 0, misses = 0;
    for (int i = 0; i < p->n_cams; i++) {
        FpSourceStatus st;
        fp_source_get_status(p->cams[i].src, &st);
        out->skipped += st.skipped;
        FpPoolStats ps;
        if (fp_source_get_pool_stats(p->cams[i].src, &ps) == 0) {
            hits += ps.hits;
            misses += ps.misses;
        }
    }
    FpPoolStats ts;
    fp_pool_get_stats(p->tensor_pool, &ts);
    hits += ts.hits;
    misses += ts.misses;
    out->pool_hit_rate = hits + misses ? (double)hits / (double)(hits + misses) : 0.0;
    int64_t end = p->end_ns ? p->end_ns : fp_clock_ns();
    out->seconds = p->started ? (double)(end - p->start_ns) / 1e9 : 0.0;
    out->fps = out->seconds > 0 ? (double)out->frames / out->seconds : 0.0;
    fp_histogram_summary(&p->h_total, &out->latency);
    fp_histogram_summary(&p->h_queue, &out->queue);
    fp_histogram_summary(&p->h_processing, &out->processing);
    out->batch_fill = gauge_batch_fill(p);
    out->sink_errors = fp_counter_get(&p->sink_errors);
    out->events = fp_counter_get(&p->events);
}
