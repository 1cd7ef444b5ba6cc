// SPDX-License-Identifier: MIT
// FpPost: picks a family decoder, checks shapes once, sizes scratch, then decodes + filters + NMS + unmaps per slot.
#include "post_internal.h"

#include "framepipe/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * The per-slot path is: decoder->candidates() (confidence filter while
 * decoding, boxes in tensor pixels) -> fp__nms() (sort, optional top-k cap,
 * suppression, early exit at max_det) -> map the kept boxes and keypoints to
 * source pixels with the slot's FpTransform. Everything it touches was
 * allocated by fp_post_create(), sized for the decoder's cand_cap.
 */

static const FpDecoderType *const decoders[] = {
    &fp__decoder_yolov5, &fp__decoder_yolov8, &fp__decoder_yolov8_raw, &fp__decoder_blazeface, &fp__decoder_ssd,
};

enum { WSUM = 5 + 2 * FP_MAX_KEYPOINTS };

void fp_post_config_init(FpPostConfig *cfg, FpFamily family)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->family = family;
    cfg->conf_threshold = 0.25f;
    cfg->nms.iou_threshold = 0.45f;
    cfg->nms.max_det = 300;
    cfg->nms.class_agnostic = false;
    cfg->nms.mode = FP_NMS_HARD;
    cfg->reg_max = 16;
    cfg->strides[0] = 8, cfg->strides[1] = 16, cfg->strides[2] = 32;
    cfg->n_strides = 3;
    cfg->num_keypoints = 6;
    cfg->score_clip = 100.0f;
    cfg->box_format = FP_BOX_YXYX;
    cfg->box_normalized = true;
    cfg->background_class = -1;
    switch (family) {
    case FP_FAMILY_YOLOV8:
    case FP_FAMILY_YOLOV8_RAW:
        cfg->nms.iou_threshold = 0.7f;
        break;
    case FP_FAMILY_BLAZEFACE:
        cfg->conf_threshold = 0.5f;
        cfg->nms.iou_threshold = 0.3f;
        cfg->nms.mode = FP_NMS_WEIGHTED;
        cfg->nms.max_det = 100;
        break;
    case FP_FAMILY_SSD:
        cfg->conf_threshold = 0.5f;
        cfg->nms.iou_threshold = 0.5f;
        break;
    default:
        break;
    }
}

static int check_config(const FpPostConfig *c)
{
    if (!(c->conf_threshold >= 0.0f && c->conf_threshold <= 1.0f))
        return fp_error(FP_EINVALID, "post config: conf_threshold %g is outside [0, 1]",
                        (double)c->conf_threshold);
    int rc = fp__nms_check_params(&c->nms, "post config");
    if (rc < 0)
        return rc;
    if (c->max_candidates < 0)
        return fp_error(FP_EINVALID, "post config: max_candidates %d is negative", c->max_candidates);
    if (c->input_width < 0 || c->input_height < 0)
        return fp_error(FP_EINVALID, "post config: input size %dx%d is negative", c->input_width,
                        c->input_height);
    if (c->num_keypoints < 0 || c->num_keypoints > FP_MAX_KEYPOINTS)
        return fp_error(FP_EINVALID, "post config: num_keypoints %d is outside 0..%d", c->num_keypoints,
                        FP_MAX_KEYPOINTS);
    return 0;
}


int fp_post_create(FpPost **out, const FpPostConfig *cfg, const FpTensorView *outputs, int n_outputs)
{
    if (!out || !cfg || (!outputs && n_outputs > 0))
        return fp_error(FP_EINVALID, "fp_post_create: NULL argument");
    int rc = check_config(cfg);
    if (rc < 0)
        return rc;
    const FpDecoderType *type = NULL;
    for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++) {
        if (decoders[i]->family == cfg->family)
            type = decoders[i];
    }
    if (!type)
        return fp_error(FP_EINVALID, "post config: no decoder for model family %d (unknown family)",
                        (int)cfg->family);
    if (n_outputs != type->n_outputs)
        return fp_error(FP_EMODEL, "%s decoder: expected %d output tensors, got %d", type->name, type->n_outputs,
                        n_outputs);
    for (int i = 0; i < n_outputs; i++) {
        const FpTensorView *t = &outputs[i];
        if (t->rank < 2 || t->rank > FP_POST_MAX_DIMS)
            return fp_error(FP_EMODEL, "%s decoder: output %d has rank %d (expected 2..%d with a batch axis)",
                            type->name, i, t->rank, FP_POST_MAX_DIMS);
        for (int d = 1; d < t->rank; d++) {
            if (t->dims[d] <= 0 || t->dims[d] > (1 << 28))
                return fp_error(FP_EMODEL, "%s decoder: output %d axis %d has size %lld (must be fixed and > 0)",
                                type->name, i, d, (long long)t->dims[d]);
        }
    }
    FpPost *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->type = type;
    p->cfg = *cfg;
    p->n_outputs = n_outputs;
    for (int i = 0; i < n_outputs; i++) {
        p->shape[i] = outputs[i];
        p->shape[i].data = NULL;
        size_t e = 1;
        for (int d = 1; d < outputs[i].rank; d++)
            e *= (size_t)outputs[i].dims[d];
        p->item_elems[i] = e;
    }
    rc = type->init(p, p->shape);
    if (rc < 0)
        goto fail;
    size_t cap = (size_t)(p->cand_cap > 0 ? p->cand_cap : 1);
    size_t md = (size_t)cfg->nms.max_det;
    p->cand = fp__post_calloc(cap, sizeof(FpCandidate));
    p->keep = fp__post_calloc(md < cap ? md : cap, sizeof(int));
    p->wsum = fp__post_calloc(md < cap ? md : cap, sizeof(float) * WSUM);
    if (!p->cand || !p->keep || !p->wsum || fp__nms_scratch_init(&p->nms, (int)cap) < 0) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = p;
    return 0;
fail:
    fp_post_destroy(&p);
    return rc;
}

void fp_post_destroy(FpPost **pp)
{
    if (!pp || !*pp)
        return;
    FpPost *p = *pp;
    free(p->best);
    free(p->best_class);
    free(p->grid);
    free(p->anchors);
    free(p->cand);
    free(p->keep);
    free(p->wsum);
    fp__nms_scratch_deinit(&p->nms);
    free(p);
    *pp = NULL;
}

static int check_transform(const FpTransform *tf, int slot)
{
    if (!tf)
        return fp_error(FP_EINVALID, "post: transform of slot %d is NULL", slot);
    if (!(tf->scale_x > 0.0f && tf->scale_y > 0.0f && tf->scale_x < 1e30f && tf->scale_y < 1e30f))
        return fp_error(FP_EINVALID, "post: transform of slot %d has scale %g x %g (must be finite and > 0)", slot,
                        (double)tf->scale_x, (double)tf->scale_y);
    if (!(tf->clip_x0 <= tf->clip_x1 && tf->clip_y0 <= tf->clip_y1))
        return fp_error(FP_EINVALID, "post: transform of slot %d has an empty or NaN clip rectangle", slot);
    return 0;
}

int fp_post_run_slot(FpPost *p, const FpTensorView *outputs, int n_outputs, int slot, const FpTransform *tf,
                     FpDetection *dets, int cap)
{
    if (!p || !outputs || (!dets && cap > 0) || cap < 0)
        return fp_error(FP_EINVALID, "fp_post_run_slot: NULL argument or negative capacity");
    const char *name = p->type->name;
    if (n_outputs != p->n_outputs)
        return fp_error(FP_EMODEL, "%s decoder: given %d outputs, created for %d", name, n_outputs, p->n_outputs);
    int rc = check_transform(tf, slot);
    if (rc < 0)
        return rc;
    const float *item[FP_POST_MAX_OUTPUTS];
    for (int i = 0; i < n_outputs; i++) {
        const FpTensorView *t = &outputs[i], *c = &p->shape[i];
        if (!t->data)
            return fp_error(FP_EINVALID, "%s decoder: output %d has no data", name, i);
        if (t->rank != c->rank)
            return fp_error(FP_EMODEL, "%s decoder: output %d has rank %d, created for %d", name, i, t->rank,
                            c->rank);
        for (int d = 1; d < t->rank; d++) {
            if (t->dims[d] != c->dims[d])
                return fp_error(FP_EMODEL, "%s decoder: output %d axis %d is %lld, created for %lld", name, i, d,
                                (long long)t->dims[d], (long long)c->dims[d]);
        }
        if (slot < 0 || slot >= t->dims[0])
            return fp_error(FP_EINVALID, "%s decoder: slot %d is outside output %d's batch of %lld", name, slot, i,
                            (long long)t->dims[0]);
        item[i] = t->data + (size_t)slot * p->item_elems[i];
    }
    int n = p->type->candidates(p, item, p->cand);
    const FpNmsParams *np = &p->cfg.nms;
    int k = fp__nms(&p->nms, np, p->cand, n, p->cfg.max_candidates, p->keep);
    if (k > cap)
        k = cap;
    float kp[FP_MAX_KEYPOINTS][2];
    if (np->mode == FP_NMS_WEIGHTED) {
        float *ws = p->wsum;
        memset(ws, 0, (size_t)k * WSUM * sizeof(float));
        for (int j = 0; j < n; j++) {
            int g = p->nms.group[j];
            if (g < 0 || g >= k)
                continue;
            const FpCandidate *c = &p->cand[j];
            float w = c->score, *a = ws + (size_t)g * WSUM;
            a[0] += w;
            a[1] += w * c->box.x1, a[2] += w * c->box.y1, a[3] += w * c->box.x2, a[4] += w * c->box.y2;
            if (p->type->keypoints) {
                int nk = p->type->keypoints(p, item, c->index, kp);
                for (int q = 0; q < nk; q++)
                    a[5 + 2 * q] += w * kp[q][0], a[6 + 2 * q] += w * kp[q][1];
            }
        }
    }
    for (int i = 0; i < k; i++) {
        const FpCandidate *c = &p->cand[p->keep[i]];
        FpDetection *d = &dets[i];
        FpBox b = c->box;
        int nk = 0;
        if (p->type->keypoints)
            nk = p->type->keypoints(p, item, c->index, kp);
        if (np->mode == FP_NMS_WEIGHTED) {
            const float *a = p->wsum + (size_t)i * WSUM;
            if (a[0] > 0.0f) {
                b = (FpBox){a[1] / a[0], a[2] / a[0], a[3] / a[0], a[4] / a[0]};
                for (int q = 0; q < nk; q++)
                    kp[q][0] = a[5 + 2 * q] / a[0], kp[q][1] = a[6 + 2 * q] / a[0];
            }
        }
        d->box = fp_transform_box_to_source(tf, b);
        d->score = c->score;
        d->class_id = c->class_id;
        d->n_keypoints = nk;
        for (int q = 0; q < nk; q++)
            fp_transform_to_source(tf, kp[q][0], kp[q][1], &d->keypoints[q][0], &d->keypoints[q][1]);
        for (int q = nk; q < FP_MAX_KEYPOINTS; q++)
            d->keypoints[q][0] = d->keypoints[q][1] = 0.0f;
    }
    return k;
}

int fp_post_run(FpPost *p, const FpTensorView *outputs, int n_outputs, int batch, const FpTransform *tfs,
                FpDetection *dets, int stride, int *counts)
{
    if (!p || !tfs || !dets || !counts || batch < 0 || stride < 1)
        return fp_error(FP_EINVALID, "fp_post_run: NULL argument, negative batch or stride < 1");
    int total = 0;
    for (int s = 0; s < batch; s++) {
        int k = fp_post_run_slot(p, outputs, n_outputs, s, &tfs[s], dets + (size_t)s * (size_t)stride, stride);
        if (k < 0)
            return k;
        counts[s] = k;
        total += k;
    }
    return total;
}

int fp_post_num_anchors(const FpPost *p)
{
    return p ? p->num_anchors : 0;
}

int fp_post_num_classes(const FpPost *p)
{
    return p ? p->num_classes : 0;
}

const char *fp_post_decoder_name(const FpPost *p)
{
    return p ? p->type->name : "none";
}
