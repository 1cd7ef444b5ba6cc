// SPDX-License-Identifier: MIT
// BlazeFace decoder (MediaPipe face detection front 128 / back 256): SSD anchors, sigmoid scores, box + keypoints.
#include "post_internal.h"

#include "framepipe/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * Follows MediaPipe's TensorsToDetectionsCalculator with the options of its
 * face detection graphs: 896 anchors from SsdAnchorsCalculator (below),
 * reverse_output_order (regressor = x, y, w, h, then keypoint x, y pairs),
 * x/y/w/h scale = input size, no exponential on the size, score = sigmoid of
 * the logit clipped to +-100. With fixed-size anchors (w = h = 1) a box is
 *     centre = anchor centre * input size + (dx, dy),  size = (w, h)
 * in input pixels. The anchors are ordered as the model's outputs are
 * concatenated: the finer grid's (scores_a, regs_a) first.
 */

static float calculate_scale(float min_scale, float max_scale, int index, int count)
{
    if (count == 1)
        return (min_scale + max_scale) * 0.5f;
    return min_scale + (max_scale - min_scale) * (float)index / ((float)count - 1.0f);
}

int fp_post_ssd_anchors(const FpSsdAnchorOptions *o, FpAnchor *out, int cap)
{
    if (!o || (cap > 0 && !out) || cap < 0)
        return fp_error(FP_EINVALID, "ssd anchors: NULL options or output");
    if (o->num_layers < 1 || o->num_layers > FP_POST_MAX_STRIDES)
        return fp_error(FP_EINVALID, "ssd anchors: num_layers %d is outside 1..%d", o->num_layers,
                        FP_POST_MAX_STRIDES);
    if (o->input_width < 1 || o->input_height < 1)
        return fp_error(FP_EINVALID, "ssd anchors: input size %dx%d", o->input_width, o->input_height);
    if (o->n_aspect_ratios < 0 || o->n_aspect_ratios > 4)
        return fp_error(FP_EINVALID, "ssd anchors: %d aspect ratios (0..4)", o->n_aspect_ratios);
    for (int l = 0; l < o->num_layers; l++) {
        if (o->strides[l] < 1)
            return fp_error(FP_EINVALID, "ssd anchors: stride %d is %d", l, o->strides[l]);
    }
    for (int a = 0; a < o->n_aspect_ratios; a++) {
        if (!(o->aspect_ratios[a] > 0.0f))
            return fp_error(FP_EINVALID, "ssd anchors: aspect ratio %d is %g", a, (double)o->aspect_ratios[a]);
    }
    int count = 0;
    int layer = 0;
    while (layer < o->num_layers) {
        /* layers sharing a stride share one feature map: their anchors interleave per cell */
        float heights[3 * FP_POST_MAX_STRIDES * 6], widths[3 * FP_POST_MAX_STRIDES * 6];
        int na = 0;
        int last = layer;
        while (last < o->num_layers && o->strides[last] == o->strides[layer]) {
            float scale = calculate_scale(o->min_scale, o->max_scale, last, o->num_layers);
            float ratios[6], scales[6];
            int nr = 0;
            if (last == 0 && o->reduce_boxes_in_lowest_layer) {
                ratios[0] = 1.0f, scales[0] = 0.1f;
                ratios[1] = 2.0f, scales[1] = scale;
                ratios[2] = 0.5f, scales[2] = scale;
                nr = 3;
            } else {
                for (int a = 0; a < o->n_aspect_ratios; a++)
                    ratios[nr] = o->aspect_ratios[a], scales[nr] = scale, nr++;
                if (o->interpolated_scale_aspect_ratio > 0.0f) {
                    float next = last == o->num_layers - 1
                                     ? 1.0f
                                     : calculate_scale(o->min_scale, o->max_scale, last + 1, o->num_layers);
                    scales[nr] = sqrtf(scale * next);
                    ratios[nr] = o->interpolated_scale_aspect_ratio;
                    nr++;
                }
            }
            for (int r = 0; r < nr; r++) {
                float sq = sqrtf(ratios[r]);
                heights[na] = scales[r] / sq;
                widths[na] = scales[r] * sq;
                na++;
            }
            last++;
        }
        int st = o->strides[layer];
        int fh = (int)ceilf((float)o->input_height / (float)st);
        int fw = (int)ceilf((float)o->input_width / (float)st);
        for (int y = 0; y < fh; y++) {
            for (int x = 0; x < fw; x++) {
                for (int a = 0; a < na; a++) {
                    if (count < cap) {
                        FpAnchor *an = &out[count];
                        an->x_center = ((float)x + o->anchor_offset_x) / (float)fw;
                        an->y_center = ((float)y + o->anchor_offset_y) / (float)fh;
                        an->width = o->fixed_anchor_size ? 1.0f : widths[a];
                        an->height = o->fixed_anchor_size ? 1.0f : heights[a];
                    }
                    count++;
                }
            }
        }
        layer = last;
    }
    return count;
}

int fp_post_blazeface_anchor_options(int input_size, FpSsdAnchorOptions *o)
{
    if (!o)
        return fp_error(FP_EINVALID, "blazeface anchors: NULL options");
    memset(o, 0, sizeof(*o));
    o->num_layers = 4;
    o->max_scale = 0.75f;
    o->input_width = o->input_height = input_size;
    o->anchor_offset_x = o->anchor_offset_y = 0.5f;
    o->aspect_ratios[0] = 1.0f;
    o->n_aspect_ratios = 1;
    o->interpolated_scale_aspect_ratio = 1.0f;
    o->fixed_anchor_size = true;
    if (input_size == 128) { /* face_detection_front (short range) */
        o->min_scale = 0.1484375f;
        o->strides[0] = 8, o->strides[1] = o->strides[2] = o->strides[3] = 16;
    } else if (input_size == 256) { /* face_detection_back */
        o->min_scale = 0.15625f;
        o->strides[0] = 16, o->strides[1] = o->strides[2] = o->strides[3] = 32;
    } else {
        return fp_error(FP_EINVALID, "blazeface anchors: no MediaPipe options for input size %d (128 or 256); "
                        "give the anchor options in the config", input_size);
    }
    return 0;
}

static int bf_init(FpPost *p, const FpTensorView *o)
{
    FpPostConfig *c = &p->cfg;
    for (int i = 0; i < 4; i++) {
        if (o[i].rank != 3)
            return fp_error(FP_EMODEL, "blazeface decoder: output %d must be rank 3 ([B, N, K]), got rank %d", i,
                            o[i].rank);
    }
    long na = (long)o[0].dims[1], nb = (long)o[1].dims[1], k = (long)o[2].dims[2];
    if (o[0].dims[2] != 1 || o[1].dims[2] != 1)
        return fp_error(FP_EMODEL, "blazeface decoder: outputs 0 and 1 must be scores [B, N, 1] (last axes %lld, %lld)",
                        (long long)o[0].dims[2], (long long)o[1].dims[2]);
    if (o[2].dims[1] != na || o[3].dims[1] != nb || o[3].dims[2] != k)
        return fp_error(FP_EMODEL, "blazeface decoder: regressors [B, %lld, %lld] and [B, %lld, %lld] do not match "
                        "scores [B, %ld, 1] and [B, %ld, 1]", (long long)o[2].dims[1], (long long)o[2].dims[2],
                        (long long)o[3].dims[1], (long long)o[3].dims[2], na, nb);
    int nk = c->num_keypoints;
    if (k < 4 + 2L * nk)
        return fp_error(FP_EMODEL, "blazeface decoder: regressors have %ld values, need 4 + 2 x %d keypoints", k, nk);
    if (c->anchors.num_layers == 0) {
        int size = c->input_width > 0 ? c->input_width : c->input_height;
        if (c->input_width != c->input_height)
            return fp_error(FP_EINVALID, "blazeface decoder: input %dx%d is not square: give the anchor options",
                            c->input_width, c->input_height);
        int rc = fp_post_blazeface_anchor_options(size, &c->anchors);
        if (rc < 0)
            return rc;
    }
    if (c->input_width <= 0)
        c->input_width = c->anchors.input_width;
    if (c->input_height <= 0)
        c->input_height = c->anchors.input_height;
    int count = fp_post_ssd_anchors(&c->anchors, NULL, 0);
    if (count < 0)
        return count;
    if (count != na + nb)
        return fp_error(FP_EMODEL, "blazeface decoder: the outputs hold %ld + %ld anchors, the anchor options give %d",
                        na, nb, count);
    p->anchors = fp__post_calloc((size_t)count, sizeof(FpAnchor));
    if (!p->anchors)
        return -ENOMEM;
    fp_post_ssd_anchors(&c->anchors, p->anchors, count);
    p->num_anchors = count;
    p->num_classes = 1;
    p->num_keypoints = nk;
    p->cand_cap = count;
    if (!(c->score_clip > 0.0f))
        c->score_clip = 100.0f;
    return 0;
}

static const float *bf_reg(const FpPost *p, const float *const *item, int i)
{
    int na = (int)p->shape[0].dims[1], k = (int)p->shape[2].dims[2];
    return i < na ? item[2] + (size_t)i * k : item[3] + (size_t)(i - na) * k;
}

static int bf_candidates(FpPost *p, const float *const *item, FpCandidate *cand)
{
    const FpPostConfig *c = &p->cfg;
    const int na = (int)p->shape[0].dims[1];
    const float conf = c->conf_threshold, clip = c->score_clip;
    const float w_in = (float)c->input_width, h_in = (float)c->input_height;
    const float sx = c->box_scale > 0.0f ? c->box_scale : w_in, sy = c->box_scale > 0.0f ? c->box_scale : h_in;
    float lthr = conf <= 0.0f ? -INFINITY : conf >= 1.0f ? INFINITY : logf(conf / (1.0f - conf)) - 1e-4f;
    int m = 0;
    for (int i = 0; i < p->num_anchors; i++) {
        float logit = i < na ? item[0][i] : item[1][i - na];
        logit = logit < -clip ? -clip : logit > clip ? clip : logit;
        if (!(logit > lthr))
            continue;
        float score = 1.0f / (1.0f + expf(-logit));
        if (!(score > conf))
            continue;
        const FpAnchor *a = &p->anchors[i];
        const float *r = bf_reg(p, item, i);
        /* normalized centre and size, then input pixels */
        float xc = r[0] / sx * a->width + a->x_center, yc = r[1] / sy * a->height + a->y_center;
        float w = r[2] / sx * a->width, h = r[3] / sy * a->height;
        FpCandidate *cd = &cand[m];
        if (!fp__box_make(&cd->box, (xc - w * 0.5f) * w_in, (yc - h * 0.5f) * h_in, (xc + w * 0.5f) * w_in,
                          (yc + h * 0.5f) * h_in))
            continue;
        cd->score = score;
        cd->class_id = 0;
        cd->index = i;
        m++;
    }
    return m;
}

static int bf_keypoints(const FpPost *p, const float *const *item, int index, float (*kp)[2])
{
    const FpPostConfig *c = &p->cfg;
    const float w_in = (float)c->input_width, h_in = (float)c->input_height;
    const float sx = c->box_scale > 0.0f ? c->box_scale : w_in, sy = c->box_scale > 0.0f ? c->box_scale : h_in;
    const FpAnchor *a = &p->anchors[index];
    const float *r = bf_reg(p, item, index) + 4;
    for (int q = 0; q < p->num_keypoints; q++) {
        kp[q][0] = (r[2 * q] / sx * a->width + a->x_center) * w_in;
        kp[q][1] = (r[2 * q + 1] / sy * a->height + a->y_center) * h_in;
    }
    return p->num_keypoints;
}

const FpDecoderType fp__decoder_blazeface = {
    .name = "blazeface",
    .family = FP_FAMILY_BLAZEFACE,
    .n_outputs = 4,
    .init = bf_init,
    .candidates = bf_candidates,
    .keypoints = bf_keypoints,
};
