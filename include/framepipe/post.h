// SPDX-License-Identifier: MIT
// Post-processing: per-family output decoders, confidence filter, class-aware NMS, detections per batch slot.
#ifndef FRAMEPIPE_POST_H
#define FRAMEPIPE_POST_H

#include "framepipe/detect.h"
#include "framepipe/family.h"
#include "framepipe/geometry.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An FpPost turns the raw float outputs of one batch into FpDetection arrays,
 * one per batch slot, in source-frame pixels (each slot's FpTransform undoes
 * its letterbox). It knows nothing of ONNX Runtime: it reads plain float
 * arrays with their shapes (FpTensorView). A decoder is a constant table of
 * function pointers per family (FpDecoderType, in src/post/post_internal.h);
 * fp_post_create() picks it, checks the output shapes once and sizes every
 * scratch buffer for the largest candidate count, so fp_post_run() allocates
 * nothing.
 *
 * Outputs are given in the family's canonical order (FpFamilyInfo.outputs of
 * framepipe/model.h gives the mapping from a model's output indices):
 *   YOLOv5       [pred [B, N, 5 + C]]
 *   YOLOv8       [pred [B, 4 + C, N]]
 *   YOLOv8 raw   [pred [B, 4 * reg_max + C, N]]
 *   BlazeFace    [scores_a [B, Na, 1], scores_b [B, Nb, 1], regs_a [B, Na, K], regs_b [B, Nb, K]]
 *                (a: the finer grid, 16x16 x 2 anchors; b: 8x8 x 6; K >= 4 + 2 * keypoints)
 *   SSD          [boxes [B, N, 4] or [B, N, 1, 4], scores [B, N, C]]
 */

#define FP_POST_MAX_DIMS 8
#define FP_POST_MAX_OUTPUTS 4
#define FP_POST_MAX_STRIDES 8

/* A read-only view of one output tensor (float32, dense, row-major). dims[0] is the batch axis. */
typedef struct FpTensorView {
    const float *data; /* may be NULL for fp_post_create (only the shape is read) */
    int rank;
    int64_t dims[FP_POST_MAX_DIMS];
} FpTensorView;

typedef enum FpNmsMode {
    FP_NMS_HARD = 0, /* greedy: a box is dropped when it overlaps a kept one by IoU > threshold */
    FP_NMS_WEIGHTED, /* MediaPipe's: each kept box is the score-weighted mean of its overlap group */
} FpNmsMode;

typedef enum FpBoxFormat {
    FP_BOX_YXYX = 0, /* ymin, xmin, ymax, xmax (TensorFlow's SSD exports) */
    FP_BOX_XYXY,     /* xmin, ymin, xmax, ymax */
    FP_BOX_CXCYWH,   /* centre x, centre y, width, height */
} FpBoxFormat;

/* Thresholds of the NMS stage; shared by fp_post and the standalone fp_nms. */
typedef struct FpNmsParams {
    float iou_threshold; /* suppress when IoU > this (0..1) */
    int max_det;         /* keep at most this many per slot (>= 1) */
    bool class_agnostic; /* false: boxes of different classes never suppress each other */
    FpNmsMode mode;
} FpNmsParams;

/* MediaPipe's SsdAnchorsCalculatorOptions (the fields BlazeFace uses). */
typedef struct FpSsdAnchorOptions {
    int num_layers;
    float min_scale, max_scale;
    int input_width, input_height;
    float anchor_offset_x, anchor_offset_y;
    int strides[FP_POST_MAX_STRIDES];
    float aspect_ratios[4];
    int n_aspect_ratios;
    float interpolated_scale_aspect_ratio; /* > 0: one extra anchor per layer (MediaPipe default 1.0) */
    bool reduce_boxes_in_lowest_layer;
    bool fixed_anchor_size; /* true: every anchor has width = height = 1 */
} FpSsdAnchorOptions;

/* One SSD anchor, normalized to the input size (0..1). */
typedef struct FpAnchor {
    float x_center, y_center, width, height;
} FpAnchor;

typedef struct FpPostConfig {
    FpFamily family;
    float conf_threshold; /* keep candidates with score > this */
    FpNmsParams nms;
    int max_candidates;   /* at most this many candidates (best scores) enter NMS per slot;
                             0 = no cap (Ultralytics' max_nms is 30000) */
    int input_width;      /* model input size in pixels: needed by BlazeFace, the YOLOv8 raw */
    int input_height;     /* head and SSD with normalized boxes; 0 = unknown */
    int num_classes;      /* 0 = from the shapes; YOLOv8 raw needs it or reg_max */
    int reg_max;          /* YOLOv8 raw: DFL bins per side (default 16) */
    int strides[FP_POST_MAX_STRIDES]; /* YOLOv8 raw: anchor grid strides (default 8, 16, 32) */
    int n_strides;
    /* BlazeFace */
    FpSsdAnchorOptions anchors;    /* default: MediaPipe's options for the input size (128 or 256) */
    float box_scale;               /* regressor scale (MediaPipe x/y/w/h_scale); 0 = input size */
    int num_keypoints;             /* default 6 */
    float score_clip;              /* logits are clipped to +-this before the sigmoid (100) */
    /* SSD */
    FpBoxFormat box_format;        /* default FP_BOX_YXYX */
    bool box_normalized;           /* default true: boxes in 0..1 of the input size */
    int background_class;          /* a score column to ignore, or -1 (default) */
} FpPostConfig;

typedef struct FpPost FpPost;

/*
 * Fills *cfg with the defaults for `family`: YOLOv5 conf 0.25 / IoU 0.45,
 * YOLOv8 conf 0.25 / IoU 0.7 (Ultralytics' predict defaults), BlazeFace conf
 * 0.5 / IoU 0.3 weighted (MediaPipe's face detection graph), SSD conf 0.5 /
 * IoU 0.5; max_det 300, class-aware, no candidate cap. Never fails.
 */
void fp_post_config_init(FpPostConfig *cfg, FpFamily family);

/*
 * Creates a post-processor for outputs shaped like `outputs` (canonical order
 * above; data pointers are not read; dims[0] is the largest batch; a batch
 * axis <= 0 (dynamic) counts as 1). Checks the shapes against the family and
 * config, builds anchor tables and allocates every scratch buffer. On success
 * *out owns them; release with fp_post_destroy(). Errors: FP_EINVALID (bad
 * config value, named), FP_EMODEL (shapes that do not fit the family: the
 * message names the output, its shape and what was expected), -ENOMEM.
 * *out is untouched on failure. Any thread.
 */
int fp_post_create(FpPost **out, const FpPostConfig *cfg, const FpTensorView *outputs, int n_outputs);

/*
 * Frees the post-processor and its scratch buffers; sets *post to NULL.
 * NULL or *post == NULL is a no-op. Any thread, once no fp_post_run or
 * fp_post_run_slot is running on it; the caller's outputs and dets are not
 * touched.
 */
void fp_post_destroy(FpPost **post);

/*
 * Decodes batch slot `slot` of `outputs` (same shapes as at create, except
 * that dims[0] may be any value > slot): candidates with score >
 * conf_threshold, NMS, at most min(cap, nms.max_det) detections written to
 * dets in descending score order, boxes and keypoints mapped to source pixels
 * through `tf` (boxes clipped to its clip rectangle). Returns the number of
 * detections (>= 0) or FP_EMODEL (shape mismatch, named) / FP_EINVALID (NULL
 * data, slot out of range, bad transform). No allocation. One thread at a
 * time per FpPost (it owns the scratch buffers); outputs and dets are the
 * caller's.
 */
int fp_post_run_slot(FpPost *post, const FpTensorView *outputs, int n_outputs, int slot,
                     const FpTransform *tf, FpDetection *dets, int cap);

/*
 * Decodes slots 0..batch-1: slot i's detections go to dets[i * stride ...],
 * their number to counts[i] (stride >= 1 entries per slot, e.g. nms.max_det).
 * Returns the total number of detections or a negative error as above (then
 * counts are unspecified). Same threading as fp_post_run_slot().
 */
int fp_post_run(FpPost *post, const FpTensorView *outputs, int n_outputs, int batch,
                const FpTransform *tfs, FpDetection *dets, int stride, int *counts);

/* Candidates per slot before the confidence filter (anchors / boxes N). These three: any thread. */
int fp_post_num_anchors(const FpPost *post);
/* Number of classes C decoded. */
int fp_post_num_classes(const FpPost *post);
/* The decoder's name ("yolov8", ...), static. */
const char *fp_post_decoder_name(const FpPost *post);

/*
 * MediaPipe's anchor options for the BlazeFace models: input 128 (front,
 * short range: strides 8, 16, 16, 16, min_scale 0.1484375) or 256 (back:
 * strides 16, 32, 32, 32, min_scale 0.15625); max_scale 0.75, offsets 0.5,
 * aspect ratio 1, interpolated ratio 1, fixed anchor size. Returns 0 or
 * FP_EINVALID for another size.
 */
int fp_post_blazeface_anchor_options(int input_size, FpSsdAnchorOptions *opt);

/*
 * Generates anchors as MediaPipe's SsdAnchorsCalculator does, into
 * out[0..cap). Returns the number of anchors (which may exceed cap: only cap
 * are written; out may be NULL with cap 0 to count) or FP_EINVALID (option
 * named). Pure; any thread.
 */
int fp_post_ssd_anchors(const FpSsdAnchorOptions *opt, FpAnchor *out, int cap);

/*
 * Standalone NMS over detections (e.g. merged from several models or tiles).
 * fp_nms_create() sizes scratch for up to max_candidates boxes; -ENOMEM or
 * FP_EINVALID. fp_nms_run() sorts dets[0..n) by descending score in place,
 * suppresses, and compacts the survivors (weighted mode: the merged boxes,
 * keypoints averaged too) to dets[0..k); returns k, or FP_ERANGE when n >
 * max_candidates, FP_EINVALID for bad params (dets untouched on either).
 * No allocation; one thread at a time per FpNms. fp_nms_create: *out owns
 * the scratch, untouched on failure; any thread. fp_nms_destroy frees it and
 * sets *nms to NULL (NULL: no-op).
 */
typedef struct FpNms FpNms;
int fp_nms_create(FpNms **out, int max_candidates);
void fp_nms_destroy(FpNms **nms);
int fp_nms_run(FpNms *nms, const FpNmsParams *params, FpDetection *dets, int n);

/* Intersection over union of two boxes (0 when either is empty). */
float fp_box_iou(FpBox a, FpBox b);

#ifdef __cplusplus
}
#endif
#endif
