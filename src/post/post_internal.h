// SPDX-License-Identifier: MIT
// Internals of src/post: candidates, the NMS core with its scratch, the decoder table type and FpPost itself.
#ifndef FRAMEPIPE_POST_INTERNAL_H
#define FRAMEPIPE_POST_INTERNAL_H

#include "framepipe/post.h"

#include <stddef.h>

/* A box that passed the confidence filter, in tensor pixels; index is the anchor it came from. */
typedef struct FpCandidate {
    FpBox box;
    float score;
    int class_id;
    int index;
} FpCandidate;

/*
 * Scratch of the NMS core, sized once for `cap` candidates. After fp__nms(),
 * group[i] (weighted mode) is the output ordinal that absorbed candidate i,
 * or -1.
 */
typedef struct FpNmsScratch {
    int cap;
    uint32_t *keys, *keys_tmp;
    int *order, *order_tmp;
    FpBox *kept_box;
    float *kept_area;
    int *kept_class, *kept_next;
    int *group;
} FpNmsScratch;

int fp__nms_scratch_init(FpNmsScratch *s, int cap);
void fp__nms_scratch_deinit(FpNmsScratch *s);

/*
 * Sorts c[0..n) by descending score (ties: lower position first), keeps at
 * most `max_candidates` (0 = all) best, suppresses, and writes the positions
 * (into c) of at most params->max_det survivors, best first, to keep[].
 * Returns their number. n <= s->cap; keep holds >= max_det entries.
 */
int fp__nms(FpNmsScratch *s, const FpNmsParams *params, const FpCandidate *c, int n, int max_candidates,
            int *keep);

/* Checks NMS parameters; FP_EINVALID with a message prefixed by `who`. */
int fp__nms_check_params(const FpNmsParams *p, const char *who);

/* Descending-score order of c[0..n) into s->order (stable); returns s->order. */
const int *fp__nms_sort(FpNmsScratch *s, const FpCandidate *c, int n);

typedef struct FpPost FpPost;

/*
 * One model family's decoder: a constant table (FFmpeg's HWContextType idea).
 * init() checks the output shapes (canonical order), sets num_anchors /
 * num_classes / cand_cap and may allocate tables in FpPost (freed by
 * fp_post_destroy). candidates() reads one slot (item[i]: output i's data for
 * that slot) and writes the boxes with score > conf_threshold, in tensor
 * pixels, returning their number (<= cand_cap). keypoints() (NULL when the
 * family has none) writes the keypoints of anchor `index` in tensor pixels
 * and returns their number.
 */
typedef struct FpDecoderType {
    const char *name;
    FpFamily family;
    int n_outputs;
    int (*init)(FpPost *p, const FpTensorView *outs);
    int (*candidates)(FpPost *p, const float *const *item, FpCandidate *cand);
    int (*keypoints)(const FpPost *p, const float *const *item, int index, float (*kp)[2]);
} FpDecoderType;

extern const FpDecoderType fp__decoder_yolov5;
extern const FpDecoderType fp__decoder_yolov8;
extern const FpDecoderType fp__decoder_yolov8_raw;
extern const FpDecoderType fp__decoder_blazeface;
extern const FpDecoderType fp__decoder_ssd;

struct FpPost {
    const FpDecoderType *type;
    FpPostConfig cfg;
    int n_outputs;
    FpTensorView shape[FP_POST_MAX_OUTPUTS]; /* as created; dims[0] ignored */
    size_t item_elems[FP_POST_MAX_OUTPUTS];  /* floats per batch slot */
    int num_anchors, num_classes, cand_cap;
    int num_keypoints;
    /* decoder tables and scratch */
    float *best;       /* YOLOv8: per-anchor best class score */
    int *best_class;   /* YOLOv8: per-anchor best class */
    float *grid;       /* YOLOv8 raw: (x centre, y centre, stride) per anchor, in grid units */
    FpAnchor *anchors; /* BlazeFace */
    /* shared */
    FpCandidate *cand;
    int *keep;
    float *wsum; /* weighted NMS accumulators: max_det x (5 + 2 * FP_MAX_KEYPOINTS) */
    FpNmsScratch nms;
};

/* Allocation helper: zeroed array of n elements of size sz; NULL when n * sz overflows or on ENOMEM. */
void *fp__post_calloc(size_t n, size_t sz);

/* Builds an ordered, finite box from two corners; returns false (box rejected) for NaN or infinity. */
static inline int fp__box_make(FpBox *b, float x1, float y1, float x2, float y2)
{
    if (!(x1 - x1 == 0.0f && y1 - y1 == 0.0f && x2 - x2 == 0.0f && y2 - y2 == 0.0f))
        return 0;
    b->x1 = x1 < x2 ? x1 : x2;
    b->x2 = x1 < x2 ? x2 : x1;
    b->y1 = y1 < y2 ? y1 : y2;
    b->y2 = y1 < y2 ? y2 : y1;
    return 1;
}

#endif
