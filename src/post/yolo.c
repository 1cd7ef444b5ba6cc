// SPDX-License-Identifier: MIT
// YOLO decoders: v5/v7 [B,N,5+C] (objectness x class), v8/v11 [B,4+C,N], and the raw v8 head [B,4*reg_max+C,N] with DFL.
#include "post_internal.h"

#include "framepipe/error.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/*
 * All three produce one candidate per anchor: its best class (Ultralytics'
 * predict default, multi_label off), kept when that score > conf_threshold.
 * Boxes come out in input-tensor pixels.
 *
 * The v8 layouts are channel-major ([C, N] per slot), so the best class is
 * found row by row over all anchors at once (a running max + argmax over N,
 * which vectorizes), never by a strided walk down each anchor's column.
 * The raw head's class rows are logits: they are compared with
 * logit(conf_threshold) and only survivors pay for a sigmoid and for the DFL
 * (softmax over reg_max bins per side -> expected distance l, t, r, b in
 * grid cells, box = anchor centre -/+ distance, times the level's stride).
 */

/* ---- YOLOv5 / v7: [B, N, 5 + C], rows cx, cy, w, h, obj, cls... ---- */

static int v5_init(FpPost *p, const FpTensorView *o)
{
    if (o[0].rank != 3 || o[0].dims[2] < 6)
        return fp_error(FP_EMODEL, "yolov5 decoder: output 0 must be [B, N, 5 + C] with C >= 1 (rank %d, last axis %lld)",
                        o[0].rank, (long long)o[0].dims[o[0].rank - 1]);
    p->num_anchors = (int)o[0].dims[1];
    p->num_classes = (int)o[0].dims[2] - 5;
    if (p->cfg.num_classes > 0 && p->cfg.num_classes != p->num_classes)
        return fp_error(FP_EMODEL, "yolov5 decoder: output 0 [B, %d, %d] holds %d classes, config says %d",
                        p->num_anchors, p->num_classes + 5, p->num_classes, p->cfg.num_classes);
    p->cand_cap = p->num_anchors;
    return 0;
}

static int v5_candidates(FpPost *p, const float *const *item, FpCandidate *cand)
{
    const int n = p->num_anchors, nc = p->num_classes, row = nc + 5;
    const float conf = p->cfg.conf_threshold;
    int m = 0;
    for (int i = 0; i < n; i++) {
        const float *r = item[0] + (size_t)i * row;
        float obj = r[4];
        if (!(obj > conf)) /* class scores are <= 1, so obj * cls <= obj */
            continue;
        int best = 0;
        float bs = r[5];
        for (int c = 1; c < nc; c++) {
            if (r[5 + c] > bs)
                bs = r[5 + c], best = c;
        }
        float score = obj * bs;
        if (!(score > conf))
            continue;
        float hw = r[2] * 0.5f, hh = r[3] * 0.5f;
        FpCandidate *cd = &cand[m];
        if (!fp__box_make(&cd->box, r[0] - hw, r[1] - hh, r[0] + hw, r[1] + hh))
            continue;
        cd->score = score;
        cd->class_id = best;
        cd->index = i;
        m++;
    }
    return m;
}

const FpDecoderType fp__decoder_yolov5 = {
    .name = "yolov5",
    .family = FP_FAMILY_YOLOV5,
    .n_outputs = 1,
    .init = v5_init,
    .candidates = v5_candidates,
    .keypoints = NULL,
};

/* ---- shared: running max + argmax over class rows ---- */

/* best[i] = max over c of rows[c * n + i], best_class[i] = first c reaching it, for i in [i0, i1). */
static void best_class_block(const float *rows, int nc, size_t n, int i0, int i1, float *best, int *best_class)
{
    memcpy(best + i0, rows + i0, (size_t)(i1 - i0) * sizeof(float));
    memset(best_class + i0, 0, (size_t)(i1 - i0) * sizeof(int));
    for (int c = 1; c < nc; c++) {
        const float *r = rows + (size_t)c * n;
        int i = i0;
#ifdef __SSE2__
        const __m128i cv = _mm_set1_epi32(c);
        for (; i + 4 <= i1; i += 4) {
            __m128 s = _mm_loadu_ps(r + i), b = _mm_loadu_ps(best + i);
            __m128 gt = _mm_cmpgt_ps(s, b);
            __m128i gi = _mm_castps_si128(gt);
            __m128i bc = _mm_loadu_si128((const __m128i *)(best_class + i));
            bc = _mm_or_si128(_mm_and_si128(gi, cv), _mm_andnot_si128(gi, bc));
            _mm_storeu_si128((__m128i *)(best_class + i), bc);
            _mm_storeu_ps(best + i, _mm_or_ps(_mm_and_ps(gt, s), _mm_andnot_ps(gt, b)));
        }
#endif
        for (; i < i1; i++) {
            if (r[i] > best[i])
                best[i] = r[i], best_class[i] = c;
        }
    }
}

/* Running max only (no class): the cheap first pass; best[i0..i1) must hold row 0 already. */
static void max_block(const float *rows, int nc, size_t n, int i0, int i1, float *best)
{
    for (int c = 1; c < nc; c++) {
        const float *r = rows + (size_t)c * n;
        int i = i0;
#ifdef __SSE2__
        for (; i + 4 <= i1; i += 4)
            _mm_storeu_ps(best + i, _mm_max_ps(_mm_loadu_ps(r + i), _mm_loadu_ps(best + i))); /* r > best ? r : best */
#endif
        for (; i < i1; i++)
            best[i] = r[i] > best[i] ? r[i] : best[i];
    }
}

/*
 * best[i] / best_class[i] over the whole [C, N] score block, walked in anchor
 * blocks of 512 so that the running arrays stay in L1 while the class rows
 * stream past. A block first gets a max-only pass (a third of the work of
 * max + argmax); only anchors whose max clears `thr` need their class, found
 * by a short walk down their column (rows still in cache). A block where
 * many anchors clear it (a low threshold) is redone with the max + argmax
 * pass, and so are the next blocks while they stay crowded. NaN scores never
 * clear the threshold.
 */
static void best_class_rows(const float *rows, int nc, int n, float thr, float *best, int *best_class)
{
    enum { BLOCK = 512, FEW = 128 };
    int dense = 0; /* the previous block had many survivors: expect the same, skip the max-only pass */
    for (int i0 = 0; i0 < n; i0 += BLOCK) {
        int i1 = i0 + BLOCK < n ? i0 + BLOCK : n;
        int pass = 0;
        if (dense) {
            best_class_block(rows, nc, (size_t)n, i0, i1, best, best_class);
            for (int i = i0; i < i1; i++)
                pass += best[i] > thr;
            dense = pass > FEW;
            continue;
        }
        memcpy(best + i0, rows + i0, (size_t)(i1 - i0) * sizeof(float));
        max_block(rows, nc, (size_t)n, i0, i1, best);
        for (int i = i0; i < i1; i++)
            pass += best[i] > thr;
        if (pass > FEW) {
            best_class_block(rows, nc, (size_t)n, i0, i1, best, best_class);
            dense = 1;
            continue;
        }
        for (int i = i0; i < i1; i++) {
            if (!(best[i] > thr))
                continue;
            int c = 0;
            while (c < nc - 1 && !(rows[(size_t)c * n + i] == best[i]))
                c++;
            best_class[i] = c;
        }
    }
}

static int v8_check(FpPost *p, const FpTensorView *o, const char *name)
{
    if (o[0].rank != 3)
        return fp_error(FP_EMODEL, "%s decoder: output 0 must be [B, channels, N] (rank 3, got %d)", name,
                        o[0].rank);
    p->num_anchors = (int)o[0].dims[2];
    p->cand_cap = p->num_anchors;
    p->best = fp__post_calloc((size_t)p->num_anchors, sizeof(float));
    p->best_class = fp__post_calloc((size_t)p->num_anchors, sizeof(int));
    return p->best && p->best_class ? 0 : -ENOMEM;
}

/* ---- YOLOv8 / v11 exported: [B, 4 + C, N], rows cx, cy, w, h, sigmoid class scores ---- */

static int v8_init(FpPost *p, const FpTensorView *o)
{
    int rc = v8_check(p, o, "yolov8");
    if (rc < 0)
        return rc;
    long ch = (long)o[0].dims[1];
    if (ch < 5)
        return fp_error(FP_EMODEL, "yolov8 decoder: output 0 [B, %ld, %d] has %ld channels (expected 4 + C, C >= 1)",
                        ch, p->num_anchors, ch);
    p->num_classes = (int)(ch - 4);
    if (p->cfg.num_classes > 0 && p->cfg.num_classes != p->num_classes)
        return fp_error(FP_EMODEL, "yolov8 decoder: output 0 [B, %ld, %d] holds %d classes, config says %d", ch,
                        p->num_anchors, p->num_classes, p->cfg.num_classes);
    return 0;
}

static int v8_candidates(FpPost *p, const float *const *item, FpCandidate *cand)
{
    const int n = p->num_anchors;
    const float conf = p->cfg.conf_threshold, *x = item[0];
    best_class_rows(x + 4 * (size_t)n, p->num_classes, n, conf, p->best, p->best_class);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!(p->best[i] > conf))
            continue;
        float cx = x[i], cy = x[n + i], hw = x[2 * (size_t)n + i] * 0.5f, hh = x[3 * (size_t)n + i] * 0.5f;
        FpCandidate *cd = &cand[m];
        if (!fp__box_make(&cd->box, cx - hw, cy - hh, cx + hw, cy + hh))
            continue;
        cd->score = p->best[i];
        cd->class_id = p->best_class[i];
        cd->index = i;
        m++;
    }
    return m;
}

const FpDecoderType fp__decoder_yolov8 = {
    .name = "yolov8",
    .family = FP_FAMILY_YOLOV8,
    .n_outputs = 1,
    .init = v8_init,
    .candidates = v8_candidates,
    .keypoints = NULL,
};

/* ---- YOLOv8 raw head: [B, 4 * reg_max + C, N], DFL logits (l, t, r, b) then class logits ---- */

static int raw_init(FpPost *p, const FpTensorView *o)
{
    int rc = v8_check(p, o, "yolov8-raw");
    if (rc < 0)
        return rc;
    const FpPostConfig *c = &p->cfg;
    long ch = (long)o[0].dims[1];
    int reg_max = c->reg_max > 0 ? c->reg_max : 16;
    if (c->num_classes > 0 && ch != 4L * reg_max + c->num_classes)
        return fp_error(FP_EMODEL, "yolov8-raw decoder: output 0 has %ld channels, expected 4 * reg_max (%d) + %d classes",
                        ch, reg_max, c->num_classes);
    if (ch <= 4L * reg_max)
        return fp_error(FP_EMODEL, "yolov8-raw decoder: output 0 has %ld channels, not more than 4 * reg_max (%d)", ch,
                        reg_max);
    if (reg_max > 64)
        return fp_error(FP_EINVALID, "yolov8-raw decoder: reg_max %d is over 64", reg_max);
    p->cfg.reg_max = reg_max;
    p->num_classes = (int)(ch - 4L * reg_max);
    if (c->input_width <= 0 || c->input_height <= 0)
        return fp_error(FP_EINVALID, "yolov8-raw decoder: the model input size is needed to lay out the anchor grid "
                        "(config input_width/input_height)");
    if (c->n_strides < 1 || c->n_strides > FP_POST_MAX_STRIDES)
        return fp_error(FP_EINVALID, "yolov8-raw decoder: %d strides (expected 1..%d)", c->n_strides,
                        FP_POST_MAX_STRIDES);
    long total = 0;
    for (int s = 0; s < c->n_strides; s++) {
        int st = c->strides[s];
        if (st < 1)
            return fp_error(FP_EINVALID, "yolov8-raw decoder: stride %d is %d", s, st);
        total += (long)((c->input_height + st - 1) / st) * ((c->input_width + st - 1) / st);
    }
    if (total != p->num_anchors)
        return fp_error(FP_EMODEL, "yolov8-raw decoder: output 0 has %d anchors, but a %dx%d input with %d strides "
                        "gives %ld", p->num_anchors, c->input_width, c->input_height, c->n_strides, total);
    p->grid = fp__post_calloc((size_t)p->num_anchors * 3, sizeof(float));
    if (!p->grid)
        return -ENOMEM;
    float *g = p->grid;
    for (int s = 0; s < c->n_strides; s++) {
        int st = c->strides[s], gh = (c->input_height + st - 1) / st, gw = (c->input_width + st - 1) / st;
        for (int y = 0; y < gh; y++) {
            for (int x = 0; x < gw; x++) {
                *g++ = (float)x + 0.5f;
                *g++ = (float)y + 0.5f;
                *g++ = (float)st;
            }
        }
    }
    return 0;
}

static float dfl_side(const float *x, size_t n, int reg_max)
{
    float mx = x[0];
    for (int j = 1; j < reg_max; j++)
        mx = x[(size_t)j * n] > mx ? x[(size_t)j * n] : mx;
    float sum = 0.0f, acc = 0.0f;
    for (int j = 0; j < reg_max; j++) {
        float e = expf(x[(size_t)j * n] - mx);
        sum += e;
        acc += e * (float)j;
    }
    return acc / sum;
}

static int raw_candidates(FpPost *p, const float *const *item, FpCandidate *cand)
{
    const int n = p->num_anchors, R = p->cfg.reg_max;
    const float conf = p->cfg.conf_threshold, *x = item[0];
    /* logit(conf), a little low so that the exact test below decides ties */
    float lthr = conf <= 0.0f ? -INFINITY : conf >= 1.0f ? INFINITY : logf(conf / (1.0f - conf)) - 1e-4f;
    best_class_rows(x + (size_t)4 * R * n, p->num_classes, n, lthr, p->best, p->best_class);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (!(p->best[i] > lthr))
            continue;
        float score = 1.0f / (1.0f + expf(-p->best[i]));
        if (!(score > conf))
            continue;
        const float *g = p->grid + (size_t)i * 3;
        const float *b = x + i;
        float l = dfl_side(b, (size_t)n, R), t = dfl_side(b + (size_t)R * n, (size_t)n, R);
        float r = dfl_side(b + (size_t)2 * R * n, (size_t)n, R), d = dfl_side(b + (size_t)3 * R * n, (size_t)n, R);
        FpCandidate *cd = &cand[m];
        if (!fp__box_make(&cd->box, (g[0] - l) * g[2], (g[1] - t) * g[2], (g[0] + r) * g[2], (g[1] + d) * g[2]))
            continue;
        cd->score = score;
        cd->class_id = p->best_class[i];
        cd->index = i;
        m++;
    }
    return m;
}

const FpDecoderType fp__decoder_yolov8_raw = {
    .name = "yolov8-raw",
    .family = FP_FAMILY_YOLOV8_RAW,
    .n_outputs = 1,
    .init = raw_init,
    .candidates = raw_candidates,
    .keypoints = NULL,
};
