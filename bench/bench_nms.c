// SPDX-License-Identifier: MIT
// Benchmark: YOLOv8 output [1, 84, 8400] to final detections (decode + confidence filter + class-aware NMS), framepipe vs a plain O(n^2) C reference.
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/post.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Input: a synthetic YOLOv8/v11 export output for a 640x640 input
 * ([1, 4 + 80, 8400]: 80x80 + 40x40 + 20x20 anchors), single thread.
 *   typical  conf 0.25: low background scores (0..0.02, as a trained model's
 *            sigmoid outputs), 30 objects each lighting up ~25 nearby anchors
 *            (0.3..0.95) for its class, a few for a second class.
 *   dense    conf 0.001 (the mAP-evaluation setting): random scores 0..0.05,
 *            so nearly every anchor is a candidate, max_det 300.
 * The reference is what one writes plainly: per anchor, walk its 80 class
 * scores (strided), keep the best if > conf, qsort by score, then for each
 * surviving box mark every later same-class box with IoU > threshold,
 * stopping at max_det. Both must produce the same detections.
 */

enum { NC = 80, N = 8400, CH = 4 + NC, IN = 640 };

typedef struct Cand {
    float x1, y1, x2, y2, score;
    int cls, index;
} Cand;

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)(rng >> 40) / 16777216.0f;
}

static void anchor_centre(int i, float *cx, float *cy)
{
    static const int strides[3] = {8, 16, 32};
    for (int s = 0; s < 3; s++) {
        int g = IN / strides[s];
        if (i < g * g) {
            *cx = ((float)(i % g) + 0.5f) * (float)strides[s];
            *cy = ((float)(i / g) + 0.5f) * (float)strides[s];
            return;
        }
        i -= g * g;
    }
}

static void make_output(float *x, int dense)
{
    for (int i = 0; i < N; i++) {
        float cx, cy;
        anchor_centre(i, &cx, &cy);
        x[i] = cx + (frand() - 0.5f) * 8;
        x[N + i] = cy + (frand() - 0.5f) * 8;
        x[2 * N + i] = 20 + frand() * 100;
        x[3 * N + i] = 20 + frand() * 100;
        for (int c = 0; c < NC; c++)
            x[(size_t)(4 + c) * N + i] = frand() * (dense ? 0.05f : 0.02f);
    }
    if (dense)
        return;
    for (int o = 0; o < 30; o++) {
        float ox = 40 + frand() * 560, oy = 40 + frand() * 560, ow = 30 + frand() * 200, oh = 30 + frand() * 200;
        int cls = (int)(frand() * NC), cls2 = (int)(frand() * NC);
        for (int k = 0; k < 25; k++) {
            /* a stride-8 or stride-16 anchor near the object's centre */
            int lvl = k % 2, g = lvl ? 40 : 80, st = lvl ? 16 : 8;
            int gx = (int)(ox / (float)st + (frand() - 0.5f) * 4), gy = (int)(oy / (float)st + (frand() - 0.5f) * 4);
            gx = gx < 0 ? 0 : gx >= g ? g - 1 : gx;
            gy = gy < 0 ? 0 : gy >= g ? g - 1 : gy;
            int i = (lvl ? 6400 : 0) + gy * g + gx;
            x[i] = ox + (frand() - 0.5f) * 10, x[N + i] = oy + (frand() - 0.5f) * 10;
            x[2 * N + i] = ow * (0.85f + frand() * 0.3f), x[3 * N + i] = oh * (0.85f + frand() * 0.3f);
            x[(size_t)(4 + cls) * N + i] = 0.3f + frand() * 0.65f;
            if (k % 5 == 0)
                x[(size_t)(4 + cls2) * N + i] = 0.26f + frand() * 0.3f;
        }
    }
}

/* ---- the plain reference ---- */

static int cand_cmp(const void *pa, const void *pb)
{
    const Cand *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->index - b->index;
}

static float plain_iou(const Cand *a, const Cand *b)
{
    float w = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1), h = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    if (w <= 0 || h <= 0)
        return 0;
    float inter = w * h;
    float u = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - inter;
    return u > 0 ? inter / u : 0;
}

static int plain_post(const float *x, float conf, float iou, int max_det, Cand *c, char *dead, Cand *out)
{
    int n = 0;
    for (int i = 0; i < N; i++) {
        int best = 0;
        float bs = x[4 * N + i];
        for (int k = 1; k < NC; k++) {
            if (x[(size_t)(4 + k) * N + i] > bs)
                bs = x[(size_t)(4 + k) * N + i], best = k;
        }
        if (bs > conf) {
            float cx = x[i], cy = x[N + i], w = x[2 * N + i], h = x[3 * N + i];
            c[n++] = (Cand){cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, bs, best, i};
        }
    }
    qsort(c, (size_t)n, sizeof(Cand), cand_cmp);
    memset(dead, 0, (size_t)n);
    int k = 0;
    for (int i = 0; i < n && k < max_det; i++) {
        if (dead[i])
            continue;
        out[k++] = c[i];
        for (int j = i + 1; j < n; j++) {
            if (!dead[j] && c[j].cls == c[i].cls && plain_iou(&c[i], &c[j]) > iou)
                dead[j] = 1;
        }
    }
    return k;
}

/* The physical floor: stream the 80 score rows once (a max over all of them), nothing else. */
static float read_floor(const float *x)
{
    float m[8] = {0};
    const float *s = x + 4 * N;
    for (size_t i = 0; i < (size_t)NC * N; i += 8) {
        for (int k = 0; k < 8; k++)
            m[k] = m[k] > s[i + k] ? m[k] : s[i + k];
    }
    float r = 0;
    for (int k = 0; k < 8; k++)
        r = r > m[k] ? r : m[k];
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct Stats {
    double median, min, max;
} Stats;

static Stats stats(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    Stats s = {n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0], v[n - 1]};
    return s;
}

int main(int argc, char **argv)
{
    int reps = 200;
    const char *md_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--md") == 0 && i + 1 < argc)
            md_path = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--reps N] [--md BODY.md]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 3)
        reps = 3;
    float *x = malloc(sizeof(float) * CH * N);
    Cand *c = malloc(sizeof(Cand) * N), *ref = malloc(sizeof(Cand) * N);
    char *dead = malloc(N);
    FpDetection *d = malloc(sizeof(FpDetection) * 1000);
    double *tf = malloc(sizeof(double) * (size_t)reps), *tr = malloc(sizeof(double) * (size_t)reps);
    double *tm = malloc(sizeof(double) * (size_t)reps);
    volatile float sink = 0;
    if (!x || !c || !ref || !dead || !d || !tf || !tr || !tm)
        return 1;
    char table[4096];
    int len = snprintf(table, sizeof(table),
                       "YOLOv8 output [1, 84, 8400] (640x640, 80 classes) to final detections: decode, "
                       "confidence filter, class-aware NMS (IoU 0.7), single thread; framepipe `fp_post_run_slot` "
                       "vs a plain C reference (strided per-anchor argmax, qsort, O(n^2) suppression); "
                       "the floor is one streaming read of the 80 x 8400 scores (a max, nothing else). "
                       "%d repetitions each, interleaved; times in microseconds, median (min-max).\n\n"
                       "| scenario | candidates | kept | framepipe us | plain C us | speed-up | read-only floor us | same result |\n"
                       "|---|---|---|---|---|---|---|---|\n",
                       reps);
    int ok_all = 1;
    for (int dense = 0; dense < 2; dense++) {
        make_output(x, dense);
        FpPostConfig cfg;
        fp_post_config_init(&cfg, FP_FAMILY_YOLOV8);
        cfg.conf_threshold = dense ? 0.001f : 0.25f;
        cfg.nms.iou_threshold = 0.7f;
        cfg.nms.max_det = 300;
        FpTensorView v = {x, 3, {1, CH, N}};
        FpPost *post;
        if (fp_post_create(&post, &cfg, &v, 1) < 0) {
            fprintf(stderr, "fp_post_create: %s\n", fp_error_detail(FP_EMODEL));
            return 1;
        }
        FpTransform id = {1, 1, 0, 0, 0, 0, IN, IN, IN, IN, IN, IN};
        int kf = 0, kr = 0;
        for (int r = 0; r < reps; r++) {
            int64_t t0 = fp_clock_ns();
            kf = fp_post_run_slot(post, &v, 1, 0, &id, d, 1000);
            int64_t t1 = fp_clock_ns();
            kr = plain_post(x, cfg.conf_threshold, cfg.nms.iou_threshold, cfg.nms.max_det, c, dead, ref);
            int64_t t2 = fp_clock_ns();
            sink = read_floor(x);
            int64_t t3 = fp_clock_ns();
            tm[r] = (double)(t3 - t2) / 1e3;
            tf[r] = (double)(t1 - t0) / 1e3;
            tr[r] = (double)(t2 - t1) / 1e3;
        }
        int n_cand = 0;
        for (int i = 0; i < N; i++) {
            float bs = 0;
            for (int k = 0; k < NC; k++)
                bs = fmaxf(bs, x[(size_t)(4 + k) * N + i]);
            n_cand += bs > cfg.conf_threshold;
        }
        for (int i = 0; i < kr; i++) { /* framepipe clips to the frame; so does the reference's output */
            ref[i].x1 = fminf(fmaxf(ref[i].x1, 0), IN), ref[i].x2 = fminf(fmaxf(ref[i].x2, 0), IN);
            ref[i].y1 = fminf(fmaxf(ref[i].y1, 0), IN), ref[i].y2 = fminf(fmaxf(ref[i].y2, 0), IN);
        }
        int same = kf == kr;
        for (int i = 0; same && i < kf; i++) {
            same = d[i].class_id == ref[i].cls && d[i].score == ref[i].score && fabsf(d[i].box.x1 - ref[i].x1) < 1e-3f &&
                   fabsf(d[i].box.y2 - ref[i].y2) < 1e-3f;
        }
        for (int i = 0; !same && i < kf && i < kr; i++) {
            if (d[i].class_id != ref[i].cls || d[i].score != ref[i].score || fabsf(d[i].box.x1 - ref[i].x1) >= 1e-3f) {
                fprintf(stderr, "first difference at rank %d: %d %.9g (%g %g) vs %d %.9g (%g %g) idx %d\n", i, d[i].class_id,
                        (double)d[i].score, (double)d[i].box.x1, (double)d[i].box.y1, ref[i].cls, (double)ref[i].score,
                        (double)ref[i].x1, (double)ref[i].y1, ref[i].index);
                break;
            }
        }
        ok_all &= same;
        Stats sf = stats(tf, reps), sr = stats(tr, reps), sm = stats(tm, reps);
        len += snprintf(table + len, sizeof(table) - (size_t)len,
                        "| %s (conf %s) | %d | %d | **%.1f** (%.1f-%.1f) | %.1f (%.1f-%.1f) | %.1fx | %.1f | %s |\n",
                        dense ? "dense" : "typical", dense ? "0.001" : "0.25", n_cand, kf, sf.median, sf.min, sf.max,
                        sr.median, sr.min, sr.max, sr.median / sf.median, sm.median, same ? "yes" : "NO");
        fp_post_destroy(&post);
    }
    len += snprintf(table + len, sizeof(table) - (size_t)len,
                    "\nTarget: under 500 us for the typical case. Re-run: `ninja -C build/release bench/bench_nms && "
                    "build/release/bench/bench_nms --md /tmp/nms.md && bench/update_results.py nms /tmp/nms.md`.\n");
    fputs(table, stdout);
    if (md_path) {
        FILE *f = fopen(md_path, "w");
        if (!f || fputs(table, f) < 0) {
            perror(md_path);
            return 1;
        }
        fclose(f);
    }
    (void)sink;
    free(x), free(c), free(ref), free(dead), free(d), free(tf), free(tr), free(tm);
    return ok_all ? 0 : 1;
}
