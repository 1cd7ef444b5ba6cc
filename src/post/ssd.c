// SPDX-License-Identifier: MIT
// SSD-style decoder: a boxes tensor [B, N, 4] (or [B, N, 1, 4]) and a scores tensor [B, N, C], boxes already decoded.
#include "post_internal.h"

#include "framepipe/error.h"

#include <stdlib.h>

/*
 * For exports with post-processed boxes (TensorFlow's SSD exports,
 * torchvision-style heads): each of N boxes carries C class scores
 * (probabilities). A box's class is its best score outside
 * background_class. Coordinates follow cfg.box_format, in 0..1 of the input
 * (box_normalized) or in input pixels.
 */

static int ssd_init(FpPost *p, const FpTensorView *o)
{
    const FpPostConfig *c = &p->cfg;
    const FpTensorView *b = &o[0], *s = &o[1];
    int boxes_ok = (b->rank == 3 && b->dims[2] == 4) || (b->rank == 4 && b->dims[2] == 1 && b->dims[3] == 4);
    if (!boxes_ok)
        return fp_error(FP_EMODEL, "ssd decoder: output 0 (boxes) must be [B, N, 4] or [B, N, 1, 4] (rank %d, last "
                        "axis %lld)", b->rank, (long long)b->dims[b->rank - 1]);
    if (s->rank != 3 || s->dims[1] != b->dims[1])
        return fp_error(FP_EMODEL, "ssd decoder: output 1 (scores) must be [B, %lld, C] (rank %d, N %lld)",
                        (long long)b->dims[1], s->rank, (long long)s->dims[1]);
    p->num_anchors = (int)b->dims[1];
    p->num_classes = (int)s->dims[2];
    if (c->num_classes > 0 && c->num_classes != p->num_classes)
        return fp_error(FP_EMODEL, "ssd decoder: scores hold %d classes, config says %d", p->num_classes,
                        c->num_classes);
    if (c->background_class >= p->num_classes || (c->background_class >= 0 && p->num_classes < 2))
        return fp_error(FP_EINVALID, "ssd decoder: background_class %d with %d score columns", c->background_class,
                        p->num_classes);
    if (c->box_format != FP_BOX_YXYX && c->box_format != FP_BOX_XYXY && c->box_format != FP_BOX_CXCYWH)
        return fp_error(FP_EINVALID, "ssd decoder: unknown box format %d", (int)c->box_format);
    if (c->box_normalized && (c->input_width <= 0 || c->input_height <= 0))
        return fp_error(FP_EINVALID, "ssd decoder: normalized boxes need the model input size "
                        "(config input_width/input_height)");
    p->cand_cap = p->num_anchors;
    return 0;
}

static int ssd_candidates(FpPost *p, const float *const *item, FpCandidate *cand)
{
    const FpPostConfig *c = &p->cfg;
    const int n = p->num_anchors, nc = p->num_classes, bg = c->background_class;
    const float conf = c->conf_threshold;
    const float sx = c->box_normalized ? (float)c->input_width : 1.0f;
    const float sy = c->box_normalized ? (float)c->input_height : 1.0f;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const float *sc = item[1] + (size_t)i * nc;
        int best = -1;
        float bs = 0.0f;
        for (int k = 0; k < nc; k++) {
            if (k != bg && (best < 0 || sc[k] > bs))
                bs = sc[k], best = k;
        }
        if (!(bs > conf))
            continue;
        const float *v = item[0] + (size_t)i * 4;
        float x1, y1, x2, y2;
        switch (c->box_format) {
        case FP_BOX_YXYX:
            y1 = v[0], x1 = v[1], y2 = v[2], x2 = v[3];
            break;
        case FP_BOX_XYXY:
            x1 = v[0], y1 = v[1], x2 = v[2], y2 = v[3];
            break;
        default:
            x1 = v[0] - v[2] * 0.5f, y1 = v[1] - v[3] * 0.5f, x2 = v[0] + v[2] * 0.5f, y2 = v[1] + v[3] * 0.5f;
            break;
        }
        FpCandidate *cd = &cand[m];
        if (!fp__box_make(&cd->box, x1 * sx, y1 * sy, x2 * sx, y2 * sy))
            continue;
        cd->score = bs;
        cd->class_id = best;
        cd->index = i;
        m++;
    }
    return m;
}

const FpDecoderType fp__decoder_ssd = {
    .name = "ssd",
    .family = FP_FAMILY_SSD,
    .n_outputs = 2,
    .init = ssd_init,
    .candidates = ssd_candidates,
    .keypoints = NULL,
};
