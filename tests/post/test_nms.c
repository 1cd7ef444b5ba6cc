// SPDX-License-Identifier: MIT
// NMS golden tests: hand-made boxes that must survive or be suppressed, class-aware vs agnostic, weighted merge, and a plain O(n^2) reference.
#include "fp_test.h"

#include "framepipe/post.h"

#include <math.h>

static FpDetection det(float x1, float y1, float x2, float y2, float score, int cls)
{
    FpDetection d;
    memset(&d, 0, sizeof(d));
    d.box = (FpBox){x1, y1, x2, y2};
    d.score = score;
    d.class_id = cls;
    return d;
}

static FpNmsParams params(float iou, int max_det, bool agnostic, FpNmsMode mode)
{
    FpNmsParams p = {iou, max_det, agnostic, mode};
    return p;
}

FP_TEST(nms_iou_values)
{
    /* 10x10 and the same shifted by (1, 1): overlap 9x9 = 81, union 200 - 81 = 119 */
    CHECK_NEAR(fp_box_iou((FpBox){0, 0, 10, 10}, (FpBox){1, 1, 11, 11}), 81.0 / 119.0, 1e-6);
    CHECK_NEAR(fp_box_iou((FpBox){0, 0, 10, 10}, (FpBox){0, 0, 10, 5}), 0.5, 1e-7);
    CHECK_EQ(fp_box_iou((FpBox){0, 0, 10, 10}, (FpBox){10, 0, 20, 10}), 0); /* touching edges */
    CHECK_EQ(fp_box_iou((FpBox){0, 0, 0, 0}, (FpBox){0, 0, 0, 0}), 0);     /* empty boxes */
}

FP_TEST(nms_class_aware_keeps_other_classes)
{
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, 16));
    FpDetection d[5] = {
        det(1, 1, 11, 11, 0.8f, 0),       /* IoU 0.68 with the 0.9 box of class 0: suppressed */
        det(0, 0, 10, 10, 0.9f, 0),       /* best: survives */
        det(1, 1, 11, 11, 0.7f, 1),       /* same place, class 1: survives only class-aware */
        det(100, 100, 120, 120, 0.6f, 0), /* far away: survives */
        det(0, 0, 10, 5, 0.5f, 2),        /* alone in class 2 */
    };
    FpDetection a[5];
    memcpy(a, d, sizeof(d));
    FpNmsParams p = params(0.5f, 100, false, FP_NMS_HARD);
    int k = fp_nms_run(nms, &p, a, 5);
    CHECK_EQ(k, 4);
    CHECK_EQ(a[0].score, 0.9f);
    CHECK_EQ(a[1].score, 0.7f);
    CHECK_EQ(a[1].class_id, 1);
    CHECK_EQ(a[2].score, 0.6f);
    CHECK_EQ(a[3].score, 0.5f);

    /* class-agnostic: the class-1 box and the class-2 box (IoU 0.5 with the best: not > 0.5, kept) */
    memcpy(a, d, sizeof(d));
    p.class_agnostic = true;
    k = fp_nms_run(nms, &p, a, 5);
    CHECK_EQ(k, 3);
    CHECK_EQ(a[0].score, 0.9f);
    CHECK_EQ(a[1].score, 0.6f);
    CHECK_EQ(a[2].score, 0.5f); /* IoU exactly 0.5 is not above the threshold */

    /* a lower threshold drops the half box too */
    memcpy(a, d, sizeof(d));
    p.iou_threshold = 0.49f;
    CHECK_EQ(fp_nms_run(nms, &p, a, 5), 2);
    fp_nms_destroy(&nms);
    CHECK(nms == NULL);
}

FP_TEST(nms_suppressed_box_does_not_suppress)
{
    /* A (best) suppresses B; B would suppress C, but C does not overlap A enough: C survives. */
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, 8));
    FpDetection a[3] = {
        det(0, 0, 10, 10, 0.9f, 0),
        det(3, 0, 13, 10, 0.8f, 0), /* IoU with A = 70 / 130 = 0.54 */
        det(6, 0, 16, 10, 0.7f, 0), /* IoU with A = 40 / 160 = 0.25, with B = 0.54 */
    };
    FpNmsParams p = params(0.5f, 10, false, FP_NMS_HARD);
    CHECK_EQ(fp_nms_run(nms, &p, a, 3), 2);
    CHECK_EQ(a[0].box.x1, 0);
    CHECK_EQ(a[1].box.x1, 6);
    fp_nms_destroy(&nms);
}

FP_TEST(nms_max_det_keeps_the_best)
{
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, 64));
    FpDetection a[10];
    for (int i = 0; i < 10; i++) /* disjoint boxes, scores shuffled */
        a[i] = det(20.0f * i, 0, 20.0f * i + 10, 10, (float)((i * 7) % 10) / 10.0f + 0.05f, 0);
    FpNmsParams p = params(0.5f, 3, false, FP_NMS_HARD);
    CHECK_EQ(fp_nms_run(nms, &p, a, 10), 3);
    CHECK_NEAR(a[0].score, 0.95, 1e-6);
    CHECK_NEAR(a[1].score, 0.85, 1e-6);
    CHECK_NEAR(a[2].score, 0.75, 1e-6);
    fp_nms_destroy(&nms);
}

FP_TEST(nms_weighted_merges_groups)
{
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, 8));
    FpDetection a[3] = {
        det(0, 0, 10, 10, 0.75f, 0),
        det(2, 0, 12, 10, 0.25f, 0),      /* IoU 80 / 120 = 0.67 with the first: merged into it */
        det(50, 50, 60, 60, 0.5f, 0),     /* alone */
    };
    a[0].n_keypoints = a[1].n_keypoints = 1;
    a[0].keypoints[0][0] = 4, a[0].keypoints[0][1] = 4;
    a[1].keypoints[0][0] = 8, a[1].keypoints[0][1] = 0;
    FpNmsParams p = params(0.3f, 10, false, FP_NMS_WEIGHTED);
    CHECK_EQ(fp_nms_run(nms, &p, a, 3), 2);
    /* weights 0.75 and 0.25 (sum 1): x1 = 0.25 * 2, x2 = 0.75 * 10 + 0.25 * 12 */
    CHECK_NEAR(a[0].box.x1, 0.5, 1e-5);
    CHECK_NEAR(a[0].box.x2, 10.5, 1e-5);
    CHECK_NEAR(a[0].box.y1, 0.0, 1e-6);
    CHECK_NEAR(a[0].box.y2, 10.0, 1e-5);
    CHECK_NEAR(a[0].keypoints[0][0], 5.0, 1e-5);
    CHECK_NEAR(a[0].keypoints[0][1], 3.0, 1e-5);
    CHECK_EQ(a[0].score, 0.75f); /* the group's best score, not a mean */
    CHECK_EQ(a[1].box.x1, 50);
    fp_nms_destroy(&nms);
}

FP_TEST(nms_drops_nan_and_rejects_bad_params)
{
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, 4));
    FpDetection a[3] = {det(0, 0, 10, 10, NAN, 0), det(NAN, 0, 10, 10, 0.9f, 0), det(0, 0, 5, 5, 0.4f, 0)};
    FpNmsParams p = params(0.5f, 10, false, FP_NMS_HARD);
    CHECK_EQ(fp_nms_run(nms, &p, a, 3), 1);
    CHECK_EQ(a[0].score, 0.4f);
    FpDetection big[5];
    memset(big, 0, sizeof(big));
    CHECK_EQ(fp_nms_run(nms, &p, big, 5), FP_ERANGE);
    CHECK(strstr(fp_error_detail(FP_ERANGE), "capacity of 4") != NULL);
    p.iou_threshold = 1.5f;
    CHECK_EQ(fp_nms_run(nms, &p, a, 1), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "iou_threshold") != NULL);
    p.iou_threshold = 0.5f;
    p.max_det = 0;
    CHECK_EQ(fp_nms_run(nms, &p, a, 1), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "max_det") != NULL);
    CHECK_EQ(fp_nms_create(&nms, 0), FP_EINVALID);
    fp_nms_destroy(&nms);
    fp_nms_destroy(&nms); /* second destroy of a NULLed handle is a no-op */
}

/* ---- plain O(n^2) reference: sort (score desc, index asc), mark suppressed ---- */

typedef struct RefItem {
    FpDetection d;
    int index;
} RefItem;

static int ref_cmp(const void *pa, const void *pb)
{
    const RefItem *a = pa, *b = pb;
    if (a->d.score != b->d.score)
        return a->d.score > b->d.score ? -1 : 1;
    return a->index - b->index;
}

static double ref_iou(FpBox a, FpBox b)
{
    double ix = fmin(a.x2, b.x2) - fmax(a.x1, b.x1), iy = fmin(a.y2, b.y2) - fmax(a.y1, b.y1);
    if (ix <= 0 || iy <= 0)
        return 0;
    double inter = ix * iy;
    double u = (double)(a.x2 - a.x1) * (a.y2 - a.y1) + (double)(b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return inter / u;
}

static int ref_nms(RefItem *it, int n, double thr, int max_det, bool agnostic, int *keep)
{
    qsort(it, (size_t)n, sizeof(*it), ref_cmp);
    char *dead = calloc((size_t)n, 1);
    int k = 0;
    for (int i = 0; i < n && k < max_det; i++) {
        if (dead[i])
            continue;
        keep[k++] = it[i].index;
        for (int j = i + 1; j < n; j++) {
            if (!dead[j] && (agnostic || it[j].d.class_id == it[i].d.class_id) && ref_iou(it[i].d.box, it[j].d.box) > thr)
                dead[j] = 1;
        }
    }
    free(dead);
    return k;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

FP_TEST(nms_matches_plain_reference_on_random_clusters)
{
    enum { N = 3000 };
    static FpDetection d[N], a[N];
    static RefItem it[N];
    static int keep[N];
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, N));
    for (int round = 0; round < 8; round++) {
        int n = round < 4 ? N : 40 + round; /* radix path and insertion path */
        for (int i = 0; i < n; i++) {
            /* 40 clusters of jittered boxes, 5 classes, coarse scores so that ties occur */
            int c = (int)(urand() * 40);
            float cx = (float)(c % 8) * 80 + 40, cy = (float)(c / 8) * 80 + 40;
            float x = cx + (float)(urand() * 30 - 15), y = cy + (float)(urand() * 30 - 15);
            float w = (float)(urand() * 40 + 20), h = (float)(urand() * 40 + 20);
            d[i] = det(x - w / 2, y - h / 2, x + w / 2, y + h / 2, (float)((int)(urand() * 200) + 1) / 200.0f,
                       (int)(urand() * 5));
            d[i].n_keypoints = 1;
            d[i].keypoints[0][0] = (float)i; /* tag: which input it was */
        }
        for (int mode = 0; mode < 4; mode++) {
            bool agnostic = mode & 1;
            int max_det = mode & 2 ? 25 : 1000;
            float thr = round % 2 ? 0.45f : 0.7f;
            memcpy(a, d, sizeof(FpDetection) * (size_t)n);
            for (int i = 0; i < n; i++)
                it[i] = (RefItem){d[i], i};
            int kr = ref_nms(it, n, thr, max_det, agnostic, keep);
            FpNmsParams p = params(thr, max_det, agnostic, FP_NMS_HARD);
            int k = fp_nms_run(nms, &p, a, n);
            CHECK_MSG(k == kr, "round %d mode %d: kept %d, reference %d", round, mode, k, kr);
            for (int i = 0; i < k; i++)
                CHECK_MSG((int)a[i].keypoints[0][0] == keep[i], "round %d mode %d: rank %d is input %d, reference %d",
                          round, mode, i, (int)a[i].keypoints[0][0], keep[i]);
        }
    }
    fp_nms_destroy(&nms);
}

/* MediaPipe's WeightedNonMaxSuppression loop, written plainly with "remained" and "candidates" lists. */
static int ref_weighted(RefItem *it, int n, double thr, int max_det, FpDetection *out)
{
    qsort(it, (size_t)n, sizeof(*it), ref_cmp);
    int *remained = malloc(sizeof(int) * (size_t)n), *next = malloc(sizeof(int) * (size_t)n);
    int nr = n, k = 0;
    for (int i = 0; i < n; i++)
        remained[i] = i;
    while (nr > 0 && k < max_det) {
        const FpDetection *top = &it[remained[0]].d;
        double w = 0, x1 = 0, y1 = 0, x2 = 0, y2 = 0, kx = 0, ky = 0;
        int nn = 0;
        for (int q = 0; q < nr; q++) {
            const FpDetection *c = &it[remained[q]].d;
            if (ref_iou(c->box, top->box) > thr) {
                double s = c->score;
                w += s, x1 += s * c->box.x1, y1 += s * c->box.y1, x2 += s * c->box.x2, y2 += s * c->box.y2;
                kx += s * c->keypoints[0][0], ky += s * c->keypoints[0][1];
            } else {
                next[nn++] = remained[q];
            }
        }
        out[k] = *top;
        if (w > 0) {
            out[k].box = (FpBox){(float)(x1 / w), (float)(y1 / w), (float)(x2 / w), (float)(y2 / w)};
            out[k].keypoints[0][0] = (float)(kx / w), out[k].keypoints[0][1] = (float)(ky / w);
        }
        k++;
        memcpy(remained, next, sizeof(int) * (size_t)nn);
        nr = nn;
    }
    free(remained);
    free(next);
    return k;
}

FP_TEST(nms_weighted_matches_mediapipe_loop_on_random_faces)
{
    enum { N = 400 };
    static FpDetection d[N], a[N], r[N];
    static RefItem it[N];
    FpNms *nms;
    CHECK_OK(fp_nms_create(&nms, N));
    for (int round = 0; round < 10; round++) {
        int n = round % 2 ? N : 30;
        for (int i = 0; i < n; i++) {
            /* faces at 12 places, each seen by several anchors with jitter */
            int f = (int)(urand() * 12);
            float cx = (float)(f % 4) * 60 + 30, cy = (float)(f / 4) * 60 + 30, s = 30 + (float)(f % 3) * 10;
            float x = cx + (float)(urand() * 12 - 6), y = cy + (float)(urand() * 12 - 6);
            d[i] = det(x - s / 2, y - s / 2, x + s / 2, y + s / 2, 0.5f + (float)urand() * 0.5f, 0);
            d[i].n_keypoints = 1;
            d[i].keypoints[0][0] = x + 3, d[i].keypoints[0][1] = y - 3;
        }
        int max_det = round < 6 ? 100 : 5;
        memcpy(a, d, sizeof(FpDetection) * (size_t)n);
        for (int i = 0; i < n; i++)
            it[i] = (RefItem){d[i], i};
        int kr = ref_weighted(it, n, 0.3, max_det, r);
        FpNmsParams p = params(0.3f, max_det, true, FP_NMS_WEIGHTED);
        int k = fp_nms_run(nms, &p, a, n);
        CHECK_MSG(k == kr, "round %d: %d groups, reference %d", round, k, kr);
        for (int i = 0; i < k; i++) {
            CHECK_EQ(a[i].score, r[i].score);
            CHECK_NEAR(a[i].box.x1, r[i].box.x1, 1e-3);
            CHECK_NEAR(a[i].box.y1, r[i].box.y1, 1e-3);
            CHECK_NEAR(a[i].box.x2, r[i].box.x2, 1e-3);
            CHECK_NEAR(a[i].box.y2, r[i].box.y2, 1e-3);
            CHECK_NEAR(a[i].keypoints[0][0], r[i].keypoints[0][0], 1e-3);
            CHECK_NEAR(a[i].keypoints[0][1], r[i].keypoints[0][1], 1e-3);
        }
    }
    fp_nms_destroy(&nms);
}
