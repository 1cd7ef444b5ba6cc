// SPDX-License-Identifier: MIT
// Non-maximum suppression: radix sort by score, greedy per-class suppression with early exit, MediaPipe's weighted variant.
#include "post_internal.h"

#include "framepipe/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design. Candidates arrive already confidence-filtered, so n is usually a
 * few hundred, but with a low threshold (mAP evaluation uses 0.001) it is
 * every anchor. Sorting is an LSD radix sort on the score's bits (a float's
 * bit pattern orders like an integer once the sign is folded in), 8 bits a
 * pass, skipping passes where all keys share the byte: scores in (0.25, 1]
 * share their top byte. It is stable, so ties keep the decoder's anchor
 * order and the result equals a comparison sort on (score desc, position).
 *
 * Hard NMS walks the sorted list once; a candidate is compared only with the
 * boxes kept so far in its class (kept boxes are chained per class bucket),
 * never with other candidates, so the cost is n x kept-per-class and the
 * walk stops as soon as max_det boxes are kept. This is the same greedy
 * result as the textbook O(n^2) suppression (a dropped box never suppresses).
 *
 * Weighted NMS follows MediaPipe's WeightedNonMaxSuppression: the best
 * remaining box takes every remaining box overlapping it by IoU > threshold
 * (itself included) as its group; the group is merged by score-weighted mean
 * by the caller (using group[]), with the best box's score.
 */

#define NMS_BUCKETS 256 /* class chains; classes sharing a bucket are told apart by class id */

void *fp__post_calloc(size_t n, size_t sz)
{
    if (n == 0)
        n = 1;
    if (sz && n > SIZE_MAX / sz)
        return NULL;
    return calloc(n, sz);
}

int fp__nms_scratch_init(FpNmsScratch *s, int cap)
{
    memset(s, 0, sizeof(*s));
    if (cap < 1)
        cap = 1;
    s->cap = cap;
    size_t n = (size_t)cap;
    s->keys = fp__post_calloc(n, sizeof(uint32_t));
    s->keys_tmp = fp__post_calloc(n, sizeof(uint32_t));
    s->order = fp__post_calloc(n, sizeof(int));
    s->order_tmp = fp__post_calloc(n, sizeof(int));
    s->kept_box = fp__post_calloc(n, sizeof(FpBox));
    s->kept_area = fp__post_calloc(n, sizeof(float));
    s->kept_class = fp__post_calloc(n, sizeof(int));
    s->kept_next = fp__post_calloc(n, sizeof(int));
    s->group = fp__post_calloc(n, sizeof(int));
    if (!s->keys || !s->keys_tmp || !s->order || !s->order_tmp || !s->kept_box || !s->kept_area ||
        !s->kept_class || !s->kept_next || !s->group) {
        fp__nms_scratch_deinit(s);
        return -ENOMEM;
    }
    return 0;
}

void fp__nms_scratch_deinit(FpNmsScratch *s)
{
    free(s->keys);
    free(s->keys_tmp);
    free(s->order);
    free(s->order_tmp);
    free(s->kept_box);
    free(s->kept_area);
    free(s->kept_class);
    free(s->kept_next);
    free(s->group);
    memset(s, 0, sizeof(*s));
}

/* Maps a score to a key that sorts ascending when scores sort descending. */
static inline uint32_t desc_key(float score)
{
    uint32_t u;
    memcpy(&u, &score, sizeof(u));
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u); /* ascending order of floats */
    return ~u;
}

const int *fp__nms_sort(FpNmsScratch *s, const FpCandidate *c, int n)
{
    uint32_t *k = s->keys, *kt = s->keys_tmp;
    int *o = s->order, *ot = s->order_tmp;
    for (int i = 0; i < n; i++) {
        k[i] = desc_key(c[i].score);
        o[i] = i;
    }
    if (n < 48) { /* insertion sort: stable, cheaper than 4 histogram passes */
        for (int i = 1; i < n; i++) {
            uint32_t key = k[i];
            int idx = o[i], j = i - 1;
            while (j >= 0 && k[j] > key) {
                k[j + 1] = k[j];
                o[j + 1] = o[j];
                j--;
            }
            k[j + 1] = key;
            o[j + 1] = idx;
        }
        return s->order;
    }
    for (int shift = 0; shift < 32; shift += 8) {
        int count[257] = {0};
        for (int i = 0; i < n; i++)
            count[((k[i] >> shift) & 0xff) + 1]++;
        if (count[((k[0] >> shift) & 0xff) + 1] == n)
            continue; /* every key has this byte: the pass would not move anything */
        for (int b = 0; b < 256; b++)
            count[b + 1] += count[b];
        for (int i = 0; i < n; i++) {
            int pos = count[(k[i] >> shift) & 0xff]++;
            kt[pos] = k[i];
            ot[pos] = o[i];
        }
        uint32_t *tk = k;
        k = kt, kt = tk;
        int *to = o;
        o = ot, ot = to;
    }
    /* after an odd number of moving passes the result sits in the tmp arrays */
    if (o != s->order) {
        memcpy(s->order, o, (size_t)n * sizeof(int));
        memcpy(s->keys, k, (size_t)n * sizeof(uint32_t));
    }
    return s->order;
}

static inline float box_area(FpBox b)
{
    return (b.x2 - b.x1) * (b.y2 - b.y1);
}

static inline float iou_area(FpBox a, float area_a, FpBox b, float area_b)
{
    float w = (a.x2 < b.x2 ? a.x2 : b.x2) - (a.x1 > b.x1 ? a.x1 : b.x1);
    float h = (a.y2 < b.y2 ? a.y2 : b.y2) - (a.y1 > b.y1 ? a.y1 : b.y1);
    if (w <= 0.0f || h <= 0.0f)
        return 0.0f;
    float inter = w * h;
    float uni = area_a + area_b - inter;
    return uni > 0.0f ? inter / uni : 0.0f;
}

float fp_box_iou(FpBox a, FpBox b)
{
    return iou_area(a, box_area(a), b, box_area(b));
}

static int nms_hard(FpNmsScratch *s, const FpNmsParams *p, const FpCandidate *c, const int *order, int n,
                    int *keep)
{
    int head[NMS_BUCKETS];
    for (int b = 0; b < NMS_BUCKETS; b++)
        head[b] = -1;
    int kept = 0;
    const float thr = p->iou_threshold;
    for (int r = 0; r < n && kept < p->max_det; r++) {
        const FpCandidate *cd = &c[order[r]];
        float area = box_area(cd->box);
        int bucket = p->class_agnostic ? 0 : (int)((unsigned)cd->class_id % NMS_BUCKETS);
        int suppressed = 0;
        for (int k = head[bucket]; k >= 0; k = s->kept_next[k]) {
            if (!p->class_agnostic && s->kept_class[k] != cd->class_id)
                continue;
            if (iou_area(cd->box, area, s->kept_box[k], s->kept_area[k]) > thr) {
                suppressed = 1;
                break;
            }
        }
        if (suppressed)
            continue;
        s->kept_box[kept] = cd->box;
        s->kept_area[kept] = area;
        s->kept_class[kept] = cd->class_id;
        s->kept_next[kept] = head[bucket];
        head[bucket] = kept;
        keep[kept++] = order[r];
    }
    return kept;
}

static int nms_weighted(FpNmsScratch *s, const FpNmsParams *p, const FpCandidate *c, const int *order, int n,
                        int *keep)
{
    int *group = s->group; /* indexed by candidate position; reset by fp__nms */
    int kept = 0;
    const float thr = p->iou_threshold;
    for (int r = 0; r < n && kept < p->max_det; r++) {
        int h = order[r];
        if (group[h] >= 0)
            continue;
        const FpCandidate *hd = &c[h];
        float area = box_area(hd->box);
        group[h] = kept;
        for (int q = r + 1; q < n; q++) {
            int j = order[q];
            if (group[j] >= 0 || (!p->class_agnostic && c[j].class_id != hd->class_id))
                continue;
            if (iou_area(hd->box, area, c[j].box, box_area(c[j].box)) > thr)
                group[j] = kept;
        }
        keep[kept++] = h;
    }
    return kept;
}

int fp__nms(FpNmsScratch *s, const FpNmsParams *p, const FpCandidate *c, int n, int max_candidates, int *keep)
{
    if (n <= 0)
        return 0;
    const int *order = fp__nms_sort(s, c, n);
    if (p->mode == FP_NMS_WEIGHTED) {
        for (int i = 0; i < n; i++)
            s->group[i] = -1; /* candidates cut by max_candidates stay out of every group */
    }
    if (max_candidates > 0 && n > max_candidates)
        n = max_candidates;
    if (p->mode == FP_NMS_WEIGHTED)
        return nms_weighted(s, p, c, order, n, keep);
    return nms_hard(s, p, c, order, n, keep);
}

/* ---- standalone NMS over FpDetection arrays ---- */

struct FpNms {
    FpNmsScratch s;
    FpCandidate *cand;
    FpDetection *copy;
    int *keep;
    float *wsum;
};

int fp_nms_create(FpNms **out, int max_candidates)
{
    if (!out || max_candidates < 1)
        return fp_error(FP_EINVALID, "fp_nms_create: max_candidates must be >= 1 (got %d)", max_candidates);
    FpNms *nms = calloc(1, sizeof(*nms));
    if (!nms)
        return -ENOMEM;
    size_t n = (size_t)max_candidates;
    int rc = fp__nms_scratch_init(&nms->s, max_candidates);
    nms->cand = fp__post_calloc(n, sizeof(FpCandidate));
    nms->copy = fp__post_calloc(n, sizeof(FpDetection));
    nms->keep = fp__post_calloc(n, sizeof(int));
    nms->wsum = fp__post_calloc(n, sizeof(float) * (5 + 2 * FP_MAX_KEYPOINTS));
    if (rc < 0 || !nms->cand || !nms->copy || !nms->keep || !nms->wsum) {
        fp_nms_destroy(&nms);
        return -ENOMEM;
    }
    *out = nms;
    return 0;
}

void fp_nms_destroy(FpNms **pn)
{
    if (!pn || !*pn)
        return;
    FpNms *nms = *pn;
    fp__nms_scratch_deinit(&nms->s);
    free(nms->cand);
    free(nms->copy);
    free(nms->keep);
    free(nms->wsum);
    free(nms);
    *pn = NULL;
}

static int check_params(const FpNmsParams *p, const char *who)
{
    if (!p)
        return fp_error(FP_EINVALID, "%s: NMS parameters are NULL", who);
    if (!(p->iou_threshold >= 0.0f && p->iou_threshold <= 1.0f))
        return fp_error(FP_EINVALID, "%s: iou_threshold %g is outside [0, 1]", who, (double)p->iou_threshold);
    if (p->max_det < 1)
        return fp_error(FP_EINVALID, "%s: max_det must be >= 1 (got %d)", who, p->max_det);
    if (p->mode != FP_NMS_HARD && p->mode != FP_NMS_WEIGHTED)
        return fp_error(FP_EINVALID, "%s: unknown NMS mode %d", who, (int)p->mode);
    return 0;
}

int fp__nms_check_params(const FpNmsParams *p, const char *who)
{
    return check_params(p, who);
}

int fp_nms_run(FpNms *nms, const FpNmsParams *p, FpDetection *dets, int n)
{
    if (!nms || (!dets && n > 0) || n < 0)
        return fp_error(FP_EINVALID, "fp_nms_run: NULL object or detections, or negative count %d", n);
    int rc = check_params(p, "fp_nms_run");
    if (rc < 0)
        return rc;
    if (n > nms->s.cap)
        return fp_error(FP_ERANGE, "fp_nms_run: %d detections exceed the capacity of %d given at create", n,
                        nms->s.cap);
    int m = 0;
    for (int i = 0; i < n; i++) {
        FpBox b;
        if (!(dets[i].score == dets[i].score) ||
            !fp__box_make(&b, dets[i].box.x1, dets[i].box.y1, dets[i].box.x2, dets[i].box.y2))
            continue; /* NaN score or box: never kept */
        nms->cand[m] = (FpCandidate){b, dets[i].score, dets[i].class_id, i};
        nms->copy[m] = dets[i];
        m++;
    }
    int k = fp__nms(&nms->s, p, nms->cand, m, 0, nms->keep);
    if (p->mode == FP_NMS_WEIGHTED) {
        enum { W = 5 + 2 * FP_MAX_KEYPOINTS };
        float *ws = nms->wsum;
        memset(ws, 0, (size_t)k * W * sizeof(float));
        for (int j = 0; j < m; j++) {
            int g = nms->s.group[j];
            if (g < 0)
                continue;
            float w = nms->cand[j].score;
            float *a = ws + (size_t)g * W;
            a[0] += w;
            a[1] += w * nms->cand[j].box.x1, a[2] += w * nms->cand[j].box.y1;
            a[3] += w * nms->cand[j].box.x2, a[4] += w * nms->cand[j].box.y2;
            const FpDetection *d = &nms->copy[j];
            int nk = d->n_keypoints < 0 ? 0 : d->n_keypoints > FP_MAX_KEYPOINTS ? FP_MAX_KEYPOINTS : d->n_keypoints;
            for (int q = 0; q < nk; q++) {
                a[5 + 2 * q] += w * d->keypoints[q][0];
                a[6 + 2 * q] += w * d->keypoints[q][1];
            }
        }
        for (int i = 0; i < k; i++) {
            FpDetection d = nms->copy[nms->keep[i]];
            const float *a = ws + (size_t)i * W;
            if (a[0] > 0.0f) {
                d.box = (FpBox){a[1] / a[0], a[2] / a[0], a[3] / a[0], a[4] / a[0]};
                int nk = d.n_keypoints < 0 ? 0 : d.n_keypoints > FP_MAX_KEYPOINTS ? FP_MAX_KEYPOINTS : d.n_keypoints;
                for (int q = 0; q < nk; q++) {
                    d.keypoints[q][0] = a[5 + 2 * q] / a[0];
                    d.keypoints[q][1] = a[6 + 2 * q] / a[0];
                }
            }
            dets[i] = d;
        }
    } else {
        for (int i = 0; i < k; i++)
            dets[i] = nms->copy[nms->keep[i]];
    }
    return k;
}
