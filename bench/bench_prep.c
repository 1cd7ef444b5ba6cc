// SPDX-License-Identifier: MIT
// Benchmark: framepipe's fused prep kernel (C, AVX2, AVX-512) vs a plain three-pass C version vs OpenCV, single thread.
/*
 * usage: bench_prep [--reps N] [--no-opencv] [--no-update]
 *
 * Work per frame: decoded frame (YUV420P, the decoder's output, or RGB24) ->
 * 640x640 float32 NCHW RGB letterbox (centred, pad 114, x/255). Peers, each
 * timed frame by frame in the same run on the same machine, one thread:
 *   fused-*    fp_letterbox_run with the variant forced (c, avx2, avx512, avx512vbmi)
 *   3-pass C   convert to an RGB image, resize it, then pad+normalise+transpose
 *              (preallocated buffers, precomputed tables: a fair plain-C peer)
 *   OpenCV     cv2.cvtColor + cv2.resize + cv2.copyMakeBorder +
 *              cv2.dnn.blobFromImage (bench/bench_prep_opencv.py, cv2.setNumThreads(1))
 * Prints a Markdown table of medians (min-max) and ratios and writes it to
 * bench/RESULTS.md through bench/update_results.py.
 */
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/prep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef FP_BENCH_SOURCE_DIR
#define FP_BENCH_SOURCE_DIR "."
#endif

#define DST 640
#define MAX_REPS 1000

typedef struct Stat {
    double med, min, max;
    int ok;
} Stat;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static Stat stat_of(double *t, int n)
{
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    Stat s = {n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0], t[n - 1], 1};
    return s;
}

/* ---------- synthetic frames: smooth gradients plus noise ---------- */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint8_t noise(void)
{
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (uint8_t)((rng * 0x2545F4914F6CDD1DULL) >> 59); /* 0..31 */
}

typedef struct Input {
    int w, h;
    FpPixelFormat fmt;
    uint8_t *buf;
    FpFrame f;
} Input;

static void input_make(Input *in, int w, int h, FpPixelFormat fmt)
{
    memset(in, 0, sizeof(*in));
    in->w = w, in->h = h, in->fmt = fmt;
    in->f.width = w, in->f.height = h, in->f.format = fmt;
    if (fmt == FP_PIX_YUV420P) {
        int cw = (w + 1) / 2, ch = (h + 1) / 2;
        in->buf = malloc((size_t)w * h + 2 * (size_t)cw * ch);
        uint8_t *y = in->buf, *u = y + (size_t)w * h, *v = u + (size_t)cw * ch;
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++)
                y[(size_t)j * w + i] = (uint8_t)(16 + (i * 180 / w + j * 20 / h) + noise() / 2);
        for (int j = 0; j < ch; j++)
            for (int i = 0; i < cw; i++) {
                u[(size_t)j * cw + i] = (uint8_t)(64 + j * 128 / ch + noise() / 4);
                v[(size_t)j * cw + i] = (uint8_t)(192 - i * 128 / cw + noise() / 4);
            }
        in->f.data[0] = y, in->f.data[1] = u, in->f.data[2] = v;
        in->f.linesize[0] = w, in->f.linesize[1] = cw, in->f.linesize[2] = cw;
    } else {
        in->buf = malloc((size_t)w * h * 3);
        for (int j = 0; j < h; j++)
            for (int i = 0; i < w; i++)
                for (int c = 0; c < 3; c++)
                    in->buf[((size_t)j * w + i) * 3 + c] = (uint8_t)((i * 200 / w + j * 50 / h + c * 20) + noise());
        in->f.data[0] = in->buf;
        in->f.linesize[0] = 3 * w;
    }
}

/* ---------- the plain three-pass C peer ---------- */

typedef struct ThreePass {
    int w, h, cw, ch, left, top;
    uint8_t *rgb;     /* w x h x 3 */
    uint8_t *small;   /* cw x ch x 3 */
    int *x0, *x1;
    float *fx;
} ThreePass;

static void threepass_init(ThreePass *p, int w, int h)
{
    double s = fmin((double)DST / w, (double)DST / h);
    p->w = w, p->h = h;
    p->cw = (int)floor(w * s + 0.5), p->ch = (int)floor(h * s + 0.5);
    p->left = (DST - p->cw) / 2, p->top = (DST - p->ch) / 2;
    p->rgb = malloc((size_t)w * h * 3);
    p->small = malloc((size_t)p->cw * p->ch * 3);
    p->x0 = malloc(sizeof(int) * (size_t)p->cw);
    p->x1 = malloc(sizeof(int) * (size_t)p->cw);
    p->fx = malloc(sizeof(float) * (size_t)p->cw);
    double inv = (double)w / p->cw;
    for (int x = 0; x < p->cw; x++) {
        double f = (x + 0.5) * inv - 0.5;
        int i = (int)floor(f);
        f -= i;
        if (i < 0)
            i = 0, f = 0;
        if (i >= w - 1)
            i = w - 1, f = 0;
        p->x0[x] = i, p->x1[x] = i + 1 < w ? i + 1 : w - 1, p->fx[x] = (float)f;
    }
}

static void threepass_free(ThreePass *p)
{
    free(p->rgb), free(p->small), free(p->x0), free(p->x1), free(p->fx);
}

static inline uint8_t sat(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

static void threepass_run(ThreePass *p, const FpFrame *f, float *out)
{
    int w = p->w, h = p->h;
    /* pass 1: colour conversion to a full-size RGB image (BT.601 limited, 16-bit fixed point) */
    if (f->format == FP_PIX_YUV420P) {
        for (int j = 0; j < h; j++) {
            const uint8_t *y = f->data[0] + (size_t)j * f->linesize[0];
            const uint8_t *u = f->data[1] + (size_t)(j / 2) * f->linesize[1];
            const uint8_t *v = f->data[2] + (size_t)(j / 2) * f->linesize[2];
            uint8_t *d = p->rgb + (size_t)j * w * 3;
            for (int i = 0; i < w; i++) {
                int c = (y[i] - 16) * 76309, U = u[i / 2] - 128, V = v[i / 2] - 128;
                d[3 * i + 0] = sat((c + 104597 * V + 32768) >> 16);
                d[3 * i + 1] = sat((c - 25675 * U - 53279 * V + 32768) >> 16);
                d[3 * i + 2] = sat((c + 132201 * U + 32768) >> 16);
            }
        }
    } else {
        for (int j = 0; j < h; j++)
            memcpy(p->rgb + (size_t)j * w * 3, f->data[0] + (size_t)j * f->linesize[0], (size_t)w * 3);
    }
    /* pass 2: bilinear resize (half-pixel centres) to the content size */
    double inv = (double)h / p->ch;
    for (int j = 0; j < p->ch; j++) {
        double fy = (j + 0.5) * inv - 0.5;
        int y0 = (int)floor(fy);
        fy -= y0;
        if (y0 < 0)
            y0 = 0, fy = 0;
        if (y0 >= h - 1)
            y0 = h - 1, fy = 0;
        int y1 = y0 + 1 < h ? y0 + 1 : h - 1;
        const uint8_t *r0 = p->rgb + (size_t)y0 * w * 3, *r1 = p->rgb + (size_t)y1 * w * 3;
        uint8_t *d = p->small + (size_t)j * p->cw * 3;
        float wy = (float)fy;
        for (int i = 0; i < p->cw; i++) {
            int a = p->x0[i] * 3, b = p->x1[i] * 3;
            float wx = p->fx[i];
            for (int c = 0; c < 3; c++) {
                float top = r0[a + c] + (r0[b + c] - r0[a + c]) * wx;
                float bot = r1[a + c] + (r1[b + c] - r1[a + c]) * wx;
                d[3 * i + c] = (uint8_t)(top + (bot - top) * wy + 0.5f);
            }
        }
    }
    /* pass 3: pad, normalise, HWC -> CHW */
    const float pad = 114.0f / 255.0f;
    for (int c = 0; c < 3; c++) {
        float *plane = out + (size_t)c * DST * DST;
        for (int j = 0; j < DST; j++) {
            float *o = plane + (size_t)j * DST;
            int sj = j - p->top;
            if (sj < 0 || sj >= p->ch) {
                for (int i = 0; i < DST; i++)
                    o[i] = pad;
                continue;
            }
            const uint8_t *s = p->small + (size_t)sj * p->cw * 3;
            for (int i = 0; i < DST; i++) {
                int si = i - p->left;
                o[i] = si < 0 || si >= p->cw ? pad : s[3 * si + c] * (1.0f / 255.0f);
            }
        }
    }
}

/* ---------- OpenCV through the Python script ---------- */

typedef struct Case {
    const char *name;
    int w, h;
    FpPixelFormat fmt;
    Stat fused[5]; /* index = FpPrepIsa (C, AVX2, AVX512, AVX512VBMI) */
    Stat three, cv;
} Case;

static void run_opencv(Case *cases, int n, int reps)
{
    char cmd[4096];
    int k = snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/bench/bench_prep_opencv.py %d", FP_BENCH_SOURCE_DIR, reps);
    for (int i = 0; i < n; i++)
        k += snprintf(cmd + k, sizeof(cmd) - (size_t)k, " %d:%d:%s", cases[i].w, cases[i].h,
                      cases[i].fmt == FP_PIX_YUV420P ? "yuv420p" : "rgb24");
    FILE *pp = popen(cmd, "r");
    if (!pp) {
        fprintf(stderr, "bench_prep: cannot run %s\n", cmd);
        return;
    }
    static char line[1 << 16];
    int i = 0;
    while (i < n && fgets(line, sizeof(line), pp)) {
        char *t = strstr(line, "\"times_ms\": [");
        if (!t)
            continue;
        t += strlen("\"times_ms\": [");
        static double v[MAX_REPS];
        int m = 0;
        while (m < MAX_REPS && *t && *t != ']') {
            char *end;
            v[m] = strtod(t, &end);
            if (end == t)
                break;
            m++;
            t = end;
            while (*t == ',' || *t == ' ')
                t++;
        }
        if (m > 0)
            cases[i].cv = stat_of(v, m);
        i++;
    }
    if (pclose(pp) != 0)
        fprintf(stderr, "bench_prep: the OpenCV script failed (is python3-opencv installed?)\n");
}

static void fmt_stat(char *b, size_t n, Stat s)
{
    if (!s.ok)
        snprintf(b, n, "n/a");
    else
        snprintf(b, n, "%.3f (%.3f-%.3f)", s.med, s.min, s.max);
}

int main(int argc, char **argv)
{
    int reps = 40, opencv = 1, update = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-opencv"))
            opencv = 0;
        else if (!strcmp(argv[i], "--no-update"))
            update = 0;
        else {
            fprintf(stderr, "usage: %s [--reps N] [--no-opencv] [--no-update]\n", argv[0]);
            return 2;
        }
    }
    if (reps < 3 || reps > MAX_REPS)
        reps = 40;

    Case cases[4];
    memset(cases, 0, sizeof(cases));
    cases[0] = (Case){.name = "720p YUV420P", .w = 1280, .h = 720, .fmt = FP_PIX_YUV420P};
    cases[1] = (Case){.name = "1080p YUV420P", .w = 1920, .h = 1080, .fmt = FP_PIX_YUV420P};
    cases[2] = (Case){.name = "4K YUV420P", .w = 3840, .h = 2160, .fmt = FP_PIX_YUV420P};
    cases[3] = (Case){.name = "1080p RGB24", .w = 1920, .h = 1080, .fmt = FP_PIX_RGB24};
    int n = (int)(sizeof(cases) / sizeof(cases[0]));
    float *out = malloc((size_t)DST * DST * 3 * sizeof(float));
    static double t[MAX_REPS];

    for (int ci = 0; ci < n; ci++) {
        Case *c = &cases[ci];
        Input in;
        input_make(&in, c->w, c->h, c->fmt);
        FpPrepOptions o;
        fp_prep_options_init(&o, DST, DST);
        FpLetterbox *lb = NULL;
        if (fp_letterbox_create(&lb, c->w, c->h, c->fmt, &o) < 0) {
            fprintf(stderr, "bench_prep: %s\n", fp_error_detail(FP_EINVALID));
            return 1;
        }
        /* round-robin: repetition k times every peer once, so load changes hit all peers alike */
        ThreePass tp;
        threepass_init(&tp, c->w, c->h);
        static double tv[6][MAX_REPS];
        int nv[6] = {0};
        size_t bytes = (size_t)DST * DST * 3 * 4;
        for (int k = -2; k < reps; k++) {
            for (int isa = FP_PREP_ISA_C; isa <= FP_PREP_ISA_AVX512VBMI; isa++) {
                if (isa == FP_PREP_ISA_C && k >= 10)
                    continue; /* slow peers: fewer frames */
                if (fp_letterbox_set_isa(lb, (FpPrepIsa)isa) < 0)
                    continue;
                int64_t t0 = fp_clock_ns();
                fp_letterbox_run(lb, &in.f, out, bytes);
                if (k >= 0)
                    tv[isa][nv[isa]++] = (double)(fp_clock_ns() - t0) / 1e6;
            }
            if (k < 15) {
                int64_t t0 = fp_clock_ns();
                threepass_run(&tp, &in.f, out);
                if (k >= 0)
                    tv[0][nv[0]++] = (double)(fp_clock_ns() - t0) / 1e6;
            }
        }
        for (int isa = FP_PREP_ISA_C; isa <= FP_PREP_ISA_AVX512VBMI; isa++)
            if (nv[isa] > 0)
                c->fused[isa] = stat_of(tv[isa], nv[isa]);
        c->three = stat_of(tv[0], nv[0]);
        threepass_free(&tp);
        fp_letterbox_destroy(&lb);
        free(in.buf);
        fprintf(stderr, "%s: fused %s %.3f ms\n", c->name, fp_prep_isa_name(fp_prep_cpu_isa()),
                c->fused[fp_prep_cpu_isa()].med);
    }
    if (opencv)
        run_opencv(cases, n, reps);

    /* a batch of BATCH 1080p YUV420P frames through fp_prep_batch: serial vs the thread pool */
    enum { BATCH = 8 };
    int nthreads[] = {0, 1, 3};
    Stat bst[3];
    {
        Input in;
        input_make(&in, 1920, 1080, FP_PIX_YUV420P);
        FpPrepOptions o;
        fp_prep_options_init(&o, DST, DST);
        FpLetterbox *plans[BATCH];
        const FpFrame *frames[BATCH];
        for (int i = 0; i < BATCH; i++) {
            plans[i] = NULL;
            fp_letterbox_create(&plans[i], 1920, 1080, FP_PIX_YUV420P, &o);
            frames[i] = &in.f;
        }
        size_t bytes = (size_t)BATCH * DST * DST * 3 * 4;
        float *tensor = malloc(bytes);
        for (int ti = 0; ti < 3; ti++) {
            FpPrepPool *pool = NULL;
            fp_prep_pool_create(&pool, nthreads[ti]);
            int r = reps < 20 ? reps : 20;
            for (int k = 0; k < 2; k++)
                fp_prep_batch(pool, plans, frames, BATCH, tensor, bytes);
            for (int k = 0; k < r; k++) {
                int64_t t0 = fp_clock_ns();
                fp_prep_batch(pool, plans, frames, BATCH, tensor, bytes);
                t[k] = (double)(fp_clock_ns() - t0) / 1e6;
            }
            bst[ti] = stat_of(t, r);
            fp_prep_pool_destroy(&pool);
        }
        for (int i = 0; i < BATCH; i++)
            fp_letterbox_destroy(&plans[i]);
        free(tensor);
        free(in.buf);
    }

    FpPrepIsa best = fp_prep_cpu_isa();
    char md[8192];
    int k = 0;
    k += snprintf(md + k, sizeof(md) - (size_t)k,
                  "## prep: frame -> 640x640 float32 NCHW letterbox, one thread\n\n"
                  "`bench_prep` (bench/bench_prep.c + bench/bench_prep_opencv.py), %d frames per cell "
                  "(fused C: 10, 3-pass C: 15; the C-side peers are timed round-robin, frame by frame; OpenCV runs "
                  "in its own process right after), milliseconds per frame, median (min-max). "
                  "Ratios are medians: peer / fused-%s.\n\n"
                  "| input | fused %s | fused avx512 | fused avx2 | fused c | 3-pass C | OpenCV | OpenCV / fused | 3-pass / fused |\n"
                  "|---|---|---|---|---|---|---|---|---|\n",
                  reps, fp_prep_isa_name(best), fp_prep_isa_name(best));
    for (int ci = 0; ci < n; ci++) {
        Case *c = &cases[ci];
        char a[64], a5[64], b[64], d[64], e[64], f[64], r1[32], r2[32];
        fmt_stat(a, sizeof(a), c->fused[best]);
        fmt_stat(a5, sizeof(a5), c->fused[FP_PREP_ISA_AVX512]);
        fmt_stat(b, sizeof(b), c->fused[FP_PREP_ISA_AVX2]);
        fmt_stat(d, sizeof(d), c->fused[FP_PREP_ISA_C]);
        fmt_stat(e, sizeof(e), c->three);
        fmt_stat(f, sizeof(f), c->cv);
        snprintf(r1, sizeof(r1), c->cv.ok ? "%.1fx" : "n/a", c->cv.med / c->fused[best].med);
        snprintf(r2, sizeof(r2), "%.1fx", c->three.med / c->fused[best].med);
        k += snprintf(md + k, sizeof(md) - (size_t)k, "| %s %dx%d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                      c->name, c->w, c->h, a, a5, b, d, e, f, r1, r2);
    }
    k += snprintf(md + k, sizeof(md) - (size_t)k,
                  "\nTargets: fused 1080p YUV420P under 0.5 ms, and at least 3x faster than OpenCV. "
                  "The machine was shared with other builds while this ran; numbers are noisy.\n\n"
                  "Batch of %d 1080p YUV420P frames (fp_prep_batch, %ld CPUs online), ms per batch, median (min-max). "
                  "The 8 slots are 39 MB of tensor, so one thread per batch is slower per frame than the "
                  "single-frame rows above (4.9 MB, reused); on a shared machine more threads also win a larger "
                  "share of the CPUs from other processes. Both inflate the speed-ups:\n\n"
                  "| threads | ms per batch | speed-up vs 1 thread |\n|---|---|---|\n",
                  BATCH, sysconf(_SC_NPROCESSORS_ONLN));
    for (int ti = 0; ti < 3; ti++) {
        char a[64];
        fmt_stat(a, sizeof(a), bst[ti]);
        k += snprintf(md + k, sizeof(md) - (size_t)k, "| %d (caller + %d workers) | %s | %.2fx |\n", nthreads[ti] + 1,
                      nthreads[ti], a, bst[0].med / bst[ti].med);
    }
    fputs(md, stdout);
    free(out);

    if (update) {
        char path[1024], cmd[2048];
        snprintf(path, sizeof(path), "/tmp/bench_prep_%d.md", (int)getpid());
        FILE *fp = fopen(path, "w");
        if (fp) {
            fputs(md, fp);
            fclose(fp);
            snprintf(cmd, sizeof(cmd), "python3 %s/bench/update_results.py prep %s", FP_BENCH_SOURCE_DIR, path);
            if (system(cmd) != 0)
                fprintf(stderr, "bench_prep: update_results.py failed\n");
            remove(path);
        }
    }
    return 0;
}
