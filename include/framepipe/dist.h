// SPDX-License-Identifier: MIT
// The distributed roles' wire format: frame and result messages as Redis Stream field/value lists (encode, strict parse), and the camera, worker and logic roles over Redis Streams (docs/distributed.md).
#ifndef FRAMEPIPE_DIST_H
#define FRAMEPIPE_DIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepipe/config.h"
#include "framepipe/detect.h"
#include "framepipe/geometry.h"
#include "framepipe/metrics.h"
#include "framepipe/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Messages. A frame message (camera -> worker) and a result message (worker
 * -> logic) are the field/value pairs of one stream entry. Field names and
 * value formats are in docs/distributed.md ("Messages"); every message
 * carries "v" = FP_DIST_VERSION. Both parsers are pure functions over the
 * field/value arrays (no I/O, no allocation, no global state except the
 * per-thread error message) and strict: a missing, repeated or unknown
 * field, a number out of range or with stray characters, a payload of the
 * wrong size is FP_ECORRUPT with a message naming the field and what is
 * wrong (fp_error_detail), the value shown escaped and cut to 40 bytes.
 */
#define FP_DIST_VERSION 1
#define FP_DIST_MAX_FIELDS 20
#define FP_DIST_NAME_MAX 64   /* camera and worker names: [A-Za-z0-9_.-]{1,63} */
#define FP_DIST_MAX_SIDE 16384 /* largest source or tensor side */
#define FP_DIST_MAX_DETS 1024  /* detections in one result */
#define FP_DIST_DET_BYTES 92   /* one packed detection (docs/distributed.md) */

typedef enum FpDistEncoding {
    FP_DIST_JPEG = 0, /* "jpeg": baseline JPEG of the letterboxed tensor picture (RGB, dst size) */
    FP_DIST_RAW,      /* "raw": dst_width * dst_height * 3 bytes, RGB, row-major */
} FpDistEncoding;

/* A stream entry's fields: pointers into the reply or the encoder's text, borrowed. */
typedef struct FpDistFields {
    int n;
    const char *name[FP_DIST_MAX_FIELDS];
    size_t name_len[FP_DIST_MAX_FIELDS];
    const char *value[FP_DIST_MAX_FIELDS];
    size_t value_len[FP_DIST_MAX_FIELDS];
    char text[FP_DIST_MAX_FIELDS][128]; /* the encoders' number text (8 floats as %.9g: at most 127) */
} FpDistFields;

/* One frame, letterboxed to the model's input, as the camera role sends it. */
typedef struct FpDistFrame {
    char camera[FP_DIST_NAME_MAX];
    int64_t epoch;       /* the camera role's start (wall clock ns): a restarted camera starts a new sequence */
    uint64_t seq;        /* per camera and epoch: 0, 1, 2, ... one per frame sent */
    uint64_t frame;      /* the source's frame number (FpFrame.seq; gaps where the camera skipped) */
    int64_t pts_ns;      /* stream time */
    int64_t capture_ns;  /* wall clock ns when decoded (the latency origin across machines) */
    FpTransform tf;      /* source <-> tensor; src_* the source size, dst_* the picture's size */
    FpDistEncoding encoding;
    const uint8_t *payload; /* borrowed */
    size_t payload_len;
} FpDistFrame;

/* One frame's result, as the worker role sends it. */
typedef struct FpDistResult {
    char camera[FP_DIST_NAME_MAX];
    int64_t epoch;
    uint64_t seq, frame;
    int64_t pts_ns, capture_ns;
    int src_width, src_height;
    char worker[FP_DIST_NAME_MAX]; /* the consumer that ran it */
    int batch;                     /* frames in its batch (1..FP_DIST_MAX_DETS) */
    int64_t infer_ns;              /* the batch's model run */
    int64_t done_ns;               /* wall clock ns when the worker sent it */
    int n_dets;
} FpDistResult;

/*
 * Fills *f with the fields of frame message m (values point into m, its
 * payload and f->text; valid while both live). Returns 0, or FP_EINVALID
 * (bad camera name, sizes, non-finite transform) with *f unspecified.
 * Pure; any thread.
 */
int fp_dist_frame_encode(const FpDistFrame *m, FpDistFields *f);

/*
 * Parses a frame message. On success 0 and *out (payload points into the
 * values). FP_ECORRUPT (message names the field) or FP_EINVALID (NULL
 * argument); *out unspecified on failure. Pure; any thread.
 */
int fp_dist_frame_parse(const FpDistFields *f, FpDistFrame *out);

/*
 * Fills *f with the fields of result r and its r->n_dets detections dets[]
 * packed into buf[0..cap) (FP_DIST_DET_BYTES each). Returns 0, FP_EINVALID
 * (bad names, counts) or FP_ETOO_LARGE (buf too small). Pure; any thread.
 */
int fp_dist_result_encode(const FpDistResult *r, const FpDetection *dets, uint8_t *buf, size_t cap,
                          FpDistFields *f);

/*
 * Parses a result message: *out and its out->n_dets detections into
 * dets[0..cap) (more than cap: FP_ECORRUPT). Returns 0, FP_ECORRUPT naming
 * the field, FP_EINVALID (NULL argument). Pure; any thread.
 */
int fp_dist_result_parse(const FpDistFields *f, FpDistResult *out, FpDetection *dets, int cap);

/*
 * Whether a detection can travel in a result message: finite box, score and
 * keypoints (0..FP_MAX_KEYPOINTS), x2 >= x1, y2 >= y1, class >= 0 (what
 * fp_dist_result_parse accepts; fp_dist_result_encode refuses the rest with
 * FP_EINVALID). Pure; any thread.
 */
bool fp_dist_detection_ok(const FpDetection *d);

/* "jpeg" / "raw"; parse: 0 or FP_EINVALID. */
const char *fp_dist_encoding_name(FpDistEncoding e);
int fp_dist_encoding_parse(const char *name, FpDistEncoding *out);

/*
 * The roles (docs/distributed.md). Each connects to cfg->dist.redis,
 * reconnecting with backoff (100 ms doubling to 5 s) while Redis is away,
 * and runs until *stop becomes non-zero (a signal handler sets it) or, for
 * the camera role, until every source has ended. `http` (NULL: off) is a
 * HOST:PORT for /metrics and /healthz. Each returns 0, or a negative code
 * with fp_error_detail naming the cause: FP_ECONFIG (no `redis:` section,
 * a bad setting, AUTH refused), FP_EMODEL, the source's or the HTTP
 * server's error. Main thread; one role per process.
 */
#define FP_DIST_MAX_SINKS 16

typedef struct FpDistRoleOptions {
    const char *http;          /* NULL: no HTTP server */
    const char *consumer;      /* NULL: the config's redis.consumer, else "<host>-<pid>" */
    const char *results_jsonl; /* logic: NULL: the config's output.jsonl */
    volatile int *stop;        /* not NULL: polled; non-zero stops the role */
    int64_t connect_give_up_ns; /* > 0: fail with FP_EIO when the first connection is not made by then */
    /* logic: the outputs, called on the role's thread, each camera's results in sequence, a frame's events
     * before the frame (the contract of fp_pipeline_add_sink / add_event_sink; the FpFrame has no pixels) */
    FpSinkFn sinks[FP_DIST_MAX_SINKS];
    void *sink_opaque[FP_DIST_MAX_SINKS];
    int n_sinks;
    FpEventSinkFn event_sinks[FP_DIST_MAX_SINKS];
    void *event_opaque[FP_DIST_MAX_SINKS];
    int n_event_sinks;
    FpMetrics *metrics;        /* not NULL: the role registers its series here (and serves it on `http`) */
} FpDistRoleOptions;

int fp_dist_camera_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt);
int fp_dist_worker_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt);
int fp_dist_logic_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt);

#ifdef __cplusplus
}
#endif
#endif
