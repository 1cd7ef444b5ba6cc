// SPDX-License-Identifier: MIT
// src/imgops against OpenCV (tests/imgops/oracle.py: cv2.blur, cv2.resize INTER_AREA, numpy block means) and on YUV frames.
#include "fp_test.h"

#include "framepipe/error.h"
#include "framepipe/imgops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Tolerances, in 8-bit levels, against the oracle:
 *   blur, resize: max 1 (OpenCV's 8-bit paths round through fixed-point or
 *                 float reciprocals; framepipe divides exactly, half up);
 *   three blurs:  max 1 per pass where roundings meet, so 2 in all;
 *   pixelate:     exact (both are floor(mean + 0.5));
 *   Gaussian:     the three-box approximation is not a Gaussian: mean
 *                 absolute difference < 1 level, max < 8 (a loose sanity
 *                 bound that a wrong sigma or a missing pass breaks).
 * Everything outside the rectangle must be unchanged, exactly.
 */

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void require_opencv(void)
{
    struct stat st;
    if (stat("/usr/bin/python3", &st) != 0 ||
        system("/usr/bin/python3 -c 'import cv2, numpy' >/dev/null 2>&1") != 0)
        fp_test_skip("/usr/bin/python3 with cv2 (python3-opencv) is not installed");
    if (stat("/usr/share/doc/opencv-doc/examples/data/messi5.jpg", &st) != 0)
        fp_test_skip("opencv-doc sample images are not installed");
}

/* A copy of the W x H grey picture in a plane with a padded stride and the given step (other bytes 0x5a). */
static uint8_t *plane_from(const uint8_t *g, int w, int h, int step, FpPlane *p)
{
    int stride = w * step + 13;
    uint8_t *buf = malloc((size_t)stride * h);
    memset(buf, 0x5a, (size_t)stride * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            buf[(size_t)y * stride + (size_t)x * step] = g[(size_t)y * w + x];
    *p = (FpPlane){buf, stride, step, w, h};
    return buf;
}

/* Compares plane p with the W x H expectation: max |diff|, mean |diff|; padding bytes must still be 0x5a. */
static void compare(const char *name, FpPlane p, const uint8_t *exp, int tol, double mean_tol)
{
    int maxd = 0;
    double sum = 0;
    int wx = 0, wy = 0;
    for (int y = 0; y < p.height; y++) {
        const uint8_t *row = p.data + (size_t)y * p.stride;
        for (int x = 0; x < p.width; x++) {
            int d = abs((int)row[(size_t)x * p.step] - exp[(size_t)y * p.width + x]);
            sum += d;
            if (d > maxd)
                maxd = d, wx = x, wy = y;
            if (p.step == 2)
                CHECK_MSG(row[(size_t)x * 2 + 1] == 0x5a, "%s: the other channel changed at (%d,%d)", name, x, y);
        }
        for (int b = p.width * p.step; b < p.stride; b++)
            CHECK_MSG(row[b] == 0x5a, "%s: padding changed at row %d byte %d", name, y, b);
    }
    double mean = sum / ((double)p.width * p.height);
    CHECK_MSG(maxd <= tol && mean <= mean_tol, "%s (step %d): max diff %d at (%d,%d) (tol %d), mean %.3f (tol %.3f)",
              name, p.step, maxd, wx, wy, tol, mean, mean_tol);
}

static void run_oracle(int step)
{
    require_opencv();
    const char *dir = fp_test_tmpdir();
    char cmd[2048], path[1024], line[256];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/imgops/oracle.py %s", fp_test_source_dir(), dir);
    CHECK_MSG(system(cmd) == 0, "oracle failed: %s", cmd);
    size_t n;
    snprintf(path, sizeof(path), "%s/src.info", dir);
    uint8_t *info = read_all(path, &n);
    CHECK(info);
    info[n] = 0;
    int w, h;
    CHECK(sscanf((char *)info, "%d %d", &w, &h) == 2);
    free(info);
    snprintf(path, sizeof(path), "%s/src.gray", dir);
    uint8_t *g = read_all(path, &n);
    CHECK(g && n == (size_t)w * h);

    snprintf(path, sizeof(path), "%s/cases.txt", dir);
    FILE *cases = fopen(path, "r");
    CHECK(cases);
    FpImgScratch s = {0};
    int count = 0;
    while (fgets(line, sizeof(line), cases)) {
        char op[32], name[64];
        int x, y, cw, ch, a, b, c;
        double sigma;
        CHECK(sscanf(line, "%31s %63s", op, name) == 2);
        snprintf(path, sizeof(path), "%s/%s.exp", dir, name);
        uint8_t *exp = read_all(path, &n);
        CHECK_MSG(exp, "no %s", path);
        FpPlane p;
        if (!strcmp(op, "resize")) {
            CHECK(sscanf(line, "%*s %*s %d %d", &a, &b) == 2);
            CHECK_EQ(n, (size_t)a * b);
            FpPlane sp;
            uint8_t *sb = plane_from(g, w, h, step, &sp);
            uint8_t *zero = calloc((size_t)a * b, 1);
            uint8_t *db = plane_from(zero, a, b, step, &p);
            CHECK_OK(fp_imgops_resize_area_plane(sp, p, &s));
            compare(name, p, exp, 1, 0.1);
            free(sb), free(db), free(zero);
        } else {
            uint8_t *buf = plane_from(g, w, h, step, &p);
            FpRect r;
            int tol = 0;
            double mean_tol = 0.1;
            if (!strcmp(op, "blur")) {
                CHECK(sscanf(line, "%*s %*s %d %d %d %d %d", &x, &y, &cw, &ch, &a) == 5);
                r = (FpRect){x, y, cw, ch};
                CHECK_OK(fp_imgops_box_blur_plane(p, r, a, &s));
                tol = 1;
            } else if (!strcmp(op, "blur3")) {
                CHECK(sscanf(line, "%*s %*s %d %d %d %d %d %d %d", &x, &y, &cw, &ch, &a, &b, &c) == 7);
                r = (FpRect){x, y, cw, ch};
                CHECK_OK(fp_imgops_box_blur_plane(p, r, a, &s));
                CHECK_OK(fp_imgops_box_blur_plane(p, r, b, &s));
                CHECK_OK(fp_imgops_box_blur_plane(p, r, c, &s));
                tol = 2;
            } else if (!strcmp(op, "pixelate")) {
                CHECK(sscanf(line, "%*s %*s %d %d %d %d %d", &x, &y, &cw, &ch, &a) == 5);
                r = (FpRect){x, y, cw, ch};
                CHECK_OK(fp_imgops_pixelate_plane(p, r, a));
                mean_tol = 0;
            } else {
                CHECK(!strcmp(op, "gauss"));
                CHECK(sscanf(line, "%*s %*s %d %d %d %d %lf", &x, &y, &cw, &ch, &sigma) == 5);
                r = (FpRect){x, y, cw, ch};
                int rad[3];
                CHECK_OK(fp_imgops_gauss_radii(sigma, rad));
                for (int i = 0; i < 3; i++)
                    CHECK_OK(fp_imgops_box_blur_plane(p, r, rad[i], &s));
                tol = 8, mean_tol = 1.0;
            }
            CHECK_EQ(n, (size_t)w * h);
            compare(name, p, exp, tol, mean_tol);
            free(buf);
        }
        free(exp);
        count++;
    }
    fclose(cases);
    CHECK(count >= 20);
    fp_img_scratch_deinit(&s);
    free(g);
}

FP_TEST(imgops_oracle_plane) { run_oracle(1); }
FP_TEST(imgops_oracle_interleaved) { run_oracle(2); }

FP_TEST(imgops_gauss_radii)
{
    int r[3];
    /* Kovesi's rule for sigma 2: ideal width sqrt(17) = 4.12 -> 3 and 5; m = round(24 / 16) = 2 -> 3, 3, 5 */
    CHECK_OK(fp_imgops_gauss_radii(2.0, r));
    CHECK(r[0] == 1 && r[1] == 1 && r[2] == 2);
    /* the variance of three boxes sum_i ((2r_i+1)^2 - 1) / 12 approximates sigma^2 */
    for (double sigma = 0.8; sigma < 40; sigma *= 1.37) {
        CHECK_OK(fp_imgops_gauss_radii(sigma, r));
        double var = 0;
        for (int i = 0; i < 3; i++)
            var += ((2.0 * r[i] + 1) * (2.0 * r[i] + 1) - 1) / 12.0;
        CHECK_MSG(fabs(sqrt(var) - sigma) < 0.5 + 0.05 * sigma, "sigma %g -> radii %d %d %d (sd %g)", sigma, r[0],
                  r[1], r[2], sqrt(var));
    }
    CHECK_EQ(fp_imgops_gauss_radii(0, r), FP_EINVALID);
    CHECK_EQ(fp_imgops_gauss_radii(NAN, r), FP_EINVALID);
}

/* A W x H frame of `fmt` with padded strides, filled with a deterministic pattern. */
typedef struct TFrame {
    FpFrame f;
    uint8_t *mem;
    size_t bytes;
} TFrame;

static void tframe(TFrame *t, int w, int h, FpPixelFormat fmt, const uint8_t *yuv420 /* I420 packed or NULL */)
{
    memset(t, 0, sizeof(*t));
    int cw = (w + 1) / 2, ch = (h + 1) / 2, ys = w + 7, cs = (fmt == FP_PIX_NV12 ? 2 * cw : cw) + 5;
    t->bytes = (size_t)ys * h + 2 * (size_t)cs * ch;
    t->mem = malloc(t->bytes);
    memset(t->mem, 0x33, t->bytes);
    t->f.width = w, t->f.height = h, t->f.format = fmt;
    t->f.data[0] = t->mem, t->f.linesize[0] = ys;
    t->f.data[1] = t->mem + (size_t)ys * h, t->f.linesize[1] = cs;
    t->f.data[2] = t->f.data[1] + (size_t)cs * ch, t->f.linesize[2] = cs;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            t->f.data[0][(size_t)y * ys + x] = yuv420 ? yuv420[(size_t)y * w + x] : (uint8_t)(x * 7 + y * 13 + (x * y) % 31);
    const uint8_t *up = yuv420 ? yuv420 + (size_t)w * h : NULL, *vp = up ? up + (size_t)cw * ch : NULL;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            uint8_t u = up ? up[(size_t)y * cw + x] : (uint8_t)(x * 3 + y * 5), v = vp ? vp[(size_t)y * cw + x] : (uint8_t)(200 - x - y * 2);
            if (fmt == FP_PIX_NV12) {
                t->f.data[1][(size_t)y * cs + 2 * x] = u;
                t->f.data[1][(size_t)y * cs + 2 * x + 1] = v;
            } else {
                t->f.data[1][(size_t)y * cs + x] = u;
                t->f.data[2][(size_t)y * cs + x] = v;
            }
        }
}

static uint8_t sample(const FpFrame *f, int plane, int x, int y)
{
    if (plane == 0)
        return f->data[0][(size_t)y * f->linesize[0] + x];
    if (f->format == FP_PIX_NV12)
        return f->data[1][(size_t)y * f->linesize[1] + 2 * x + (plane - 1)];
    return f->data[plane][(size_t)y * f->linesize[plane] + x];
}

/* NV12 and I420 give the same samples for every operation; samples outside the (mapped) rectangle are unchanged. */
FP_TEST(imgops_frames_nv12_equals_i420_and_outside_unchanged)
{
    const int w = 91, h = 67;
    FpRect r = {13, 9, 41, 30};
    FpImgScratch s = {0};
    for (int op = 0; op < 4; op++) {
        TFrame a, b, orig;
        tframe(&a, w, h, FP_PIX_YUV420P, NULL);
        tframe(&b, w, h, FP_PIX_NV12, NULL);
        tframe(&orig, w, h, FP_PIX_YUV420P, NULL);
        for (TFrame *t = &a; t; t = t == &a ? &b : NULL) {
            if (op == 0)
                CHECK_OK(fp_imgops_blur(&t->f, r, 6, &s));
            else if (op == 1)
                CHECK_OK(fp_imgops_gaussian(&t->f, r, 5.0, &s));
            else if (op == 2)
                CHECK_OK(fp_imgops_pixelate(&t->f, r, 8));
            else
                CHECK_OK(fp_imgops_fill(&t->f, r, 16, 128, 128));
        }
        int changed = 0;
        for (int p = 0; p < 3; p++) {
            int pw = p ? (w + 1) / 2 : w, ph = p ? (h + 1) / 2 : h, sh = p ? 1 : 0;
            int x0 = r.x >> sh, y0 = r.y >> sh, x1 = (r.x + r.w + sh) >> sh, y1 = (r.y + r.h + sh) >> sh;
            for (int y = 0; y < ph; y++)
                for (int x = 0; x < pw; x++) {
                    uint8_t va = sample(&a.f, p, x, y), vb = sample(&b.f, p, x, y), vo = sample(&orig.f, p, x, y);
                    CHECK_MSG(va == vb, "op %d plane %d (%d,%d): i420 %d nv12 %d", op, p, x, y, va, vb);
                    int inside = x >= x0 && x < x1 && y >= y0 && y < y1;
                    if (!inside)
                        CHECK_MSG(va == vo, "op %d plane %d (%d,%d) outside the rectangle changed", op, p, x, y);
                    else
                        changed += va != vo;
                }
        }
        CHECK_MSG(changed > 500, "op %d changed only %d samples", op, changed);
        free(a.mem), free(b.mem), free(orig.mem);
    }
    fp_img_scratch_deinit(&s);
}

FP_TEST(imgops_resize_frame_and_bad_input)
{
    FpImgScratch s = {0};
    TFrame a, d;
    tframe(&a, 64, 48, FP_PIX_NV12, NULL);
    tframe(&d, 32, 24, FP_PIX_NV12, NULL);
    CHECK_OK(fp_imgops_resize_area(&a.f, &d.f, &s));
    /* 2x: every output sample is the rounded mean of its 2x2 cell */
    for (int p = 0; p < 3; p++) {
        int pw = p ? 16 : 32, ph = p ? 12 : 24;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                int sum = sample(&a.f, p, 2 * x, 2 * y) + sample(&a.f, p, 2 * x + 1, 2 * y) +
                          sample(&a.f, p, 2 * x, 2 * y + 1) + sample(&a.f, p, 2 * x + 1, 2 * y + 1);
                CHECK_NEAR(sample(&d.f, p, x, y), sum / 4.0, 0.5001);
            }
    }
    /* upscale, format mismatch, RGB, bad radius/block: errors naming the argument, pixels untouched */
    CHECK_EQ(fp_imgops_resize_area(&d.f, &a.f, &s), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "not a downscale"));
    a.f.format = FP_PIX_YUV420P;
    CHECK_EQ(fp_imgops_resize_area(&a.f, &d.f, &s), FP_EINVALID);
    a.f.format = FP_PIX_NONE;
    CHECK_EQ(fp_imgops_blur(&a.f, (FpRect){0, 0, 8, 8}, 2, &s), FP_EUNSUPPORTED);
    CHECK(strstr(fp_error_detail(FP_EUNSUPPORTED), "pixel format"));
    d.f.format = FP_PIX_NV12;
    CHECK_EQ(fp_imgops_blur(&d.f, (FpRect){0, 0, 8, 8}, 0, &s), FP_EINVALID);
    CHECK_EQ(fp_imgops_blur(&d.f, (FpRect){0, 0, 8, 8}, 300, &s), FP_EINVALID);
    CHECK_EQ(fp_imgops_pixelate(&d.f, (FpRect){0, 0, 8, 8}, 1), FP_EINVALID);
    /* an empty or fully outside rectangle is a no-op */
    TFrame o;
    tframe(&o, 32, 24, FP_PIX_NV12, NULL);
    memcpy(o.mem, d.mem, d.bytes);
    CHECK_OK(fp_imgops_blur(&d.f, (FpRect){100, 100, 8, 8}, 3, &s));
    CHECK_OK(fp_imgops_fill(&d.f, (FpRect){-20, -20, 10, 10}, 0, 0, 0));
    CHECK_OK(fp_imgops_pixelate(&d.f, (FpRect){5, 5, 0, 4}, 4));
    CHECK(memcmp(o.mem, d.mem, d.bytes) == 0);
    free(a.mem), free(d.mem), free(o.mem);
    fp_img_scratch_deinit(&s);
}

/* The naive definition: every output the rounded mean of its (2r+1)^2 window, reflect-101 inside the rectangle. */
static int refl(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* Exact against the naive definition (the OpenCV oracle allows 1 level; this one allows none). */
FP_TEST(imgops_box_blur_equals_the_naive_definition_exactly)
{
    unsigned seed = 12345;
    FpImgScratch s = {0};
    const int sizes[][2] = {{1, 1}, {1, 9}, {7, 1}, {13, 11}, {64, 40}, {200, 3}};
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        int w = sizes[si][0], h = sizes[si][1];
        for (int radius = 1; radius <= 127; radius = radius * 3 + 1) {
            uint8_t *a = malloc((size_t)w * h), *ref = malloc((size_t)w * h);
            for (int i = 0; i < w * h; i++) {
                seed = seed * 1103515245u + 12345u;
                a[i] = (uint8_t)(i % 3 == 0 ? 255 : seed >> 24); /* many 255s: the largest sums */
            }
            int k = 2 * radius + 1;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    unsigned sum = 0;
                    for (int dy = -radius; dy <= radius; dy++)
                        for (int dx = -radius; dx <= radius; dx++)
                            sum += a[refl(y + dy, h) * w + refl(x + dx, w)];
                    ref[y * w + x] = (uint8_t)((sum + (unsigned)(k * k) / 2) / (unsigned)(k * k));
                }
            FpPlane p = {a, w, 1, w, h};
            CHECK_OK(fp_imgops_box_blur_plane(p, (FpRect){0, 0, w, h}, radius, &s));
            for (int i = 0; i < w * h; i++)
                CHECK_MSG(a[i] == ref[i], "%dx%d r %d at %d: %d, the definition says %d", w, h, radius, i, a[i],
                          ref[i]);
            free(a), free(ref);
        }
    }
    fp_img_scratch_deinit(&s);
}

/*
 * Drawing: every shape on YUV420P and NV12 touches exactly the luma pixels it touches on an RGB24
 * frame (one geometry for every format: src/sink/draw.c draws its RGB pictures with it), each
 * chroma sample exactly when a luma pixel of its 2x2 block is touched, NV12 = I420, nothing else
 * written. Box and disc are also checked against their definitions pixel by pixel.
 */
static void draw_all(FpFrame *f, const uint8_t c[3], const uint8_t fg[3])
{
    CHECK_OK(fp_imgops_draw_box(f, 10, 8, 60, 50, 3, c));
    CHECK_OK(fp_imgops_draw_box(f, -20, -20, 30, 5, 2, c)); /* partly outside: clipped */
    CHECK_OK(fp_imgops_draw_disc(f, 75, 12, 3, c));
    CHECK_OK(fp_imgops_draw_line(f, 5.5f, 62.0f, 88.0f, 20.25f, 2, c));
    CHECK_OK(fp_imgops_draw_label(f, 20, 30, 1, "face 0.93", c, fg));
}

static int in_box(int x, int y, int x1, int y1, int x2, int y2, int t)
{
    return x >= x1 && x <= x2 && y >= y1 && y <= y2 && (x < x1 + t || x > x2 - t || y < y1 + t || y > y2 - t);
}

FP_TEST(imgops_drawing_one_geometry_for_yuv_and_rgb)
{
    const int w = 91, h = 67;
    const uint8_t c[3] = {200, 50, 220}, fg[3] = {16, 128, 128};
    /* RGB24 reference frame: background 0x33, the shapes in colour c (fg for the text) */
    int rs = 3 * w + 5;
    uint8_t *rgb = malloc((size_t)rs * h);
    memset(rgb, 0x33, (size_t)rs * h);
    FpFrame rf = {0};
    rf.data[0] = rgb, rf.linesize[0] = rs, rf.width = w, rf.height = h, rf.format = FP_PIX_RGB24;
    draw_all(&rf, c, fg);
    uint8_t *mask = calloc((size_t)w * h, 1);
    int touched = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = rgb + (size_t)y * rs + 3 * x;
            mask[y * w + x] = p[0] != 0x33;
            touched += mask[y * w + x];
            CHECK_MSG((p[0] == 0x33 && p[1] == 0x33 && p[2] == 0x33) || (p[0] == c[0] && p[1] == c[1] && p[2] == c[2]) ||
                          (p[0] == fg[0] && p[1] == fg[1] && p[2] == fg[2]),
                      "RGB pixel (%d, %d) = %d %d %d: not the background nor a colour drawn", x, y, p[0], p[1], p[2]);
        }
    CHECK(touched > 500);
    /* the definitions: the box outline and the disc are in the mask (the label and line may add pixels elsewhere) */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            if (in_box(x, y, 10, 8, 60, 50, 3) || in_box(x, y, -20, -20, 30, 5, 2) ||
                (x - 75) * (x - 75) + (y - 12) * (y - 12) <= 10)
                CHECK_MSG(mask[y * w + x], "pixel (%d, %d) of the box or disc not drawn", x, y);
            /* inside the box, away from the label, the line and the outline: untouched */
            if (x >= 14 && x <= 56 && y >= 12 && y <= 20)
                CHECK_MSG(!mask[y * w + x], "pixel (%d, %d) inside the box drawn", x, y);
        }
    const FpPixelFormat fmts[2] = {FP_PIX_YUV420P, FP_PIX_NV12};
    TFrame t[2];
    for (int k = 0; k < 2; k++) {
        tframe(&t[k], w, h, fmts[k], NULL);
        memset(t[k].mem, 0x33, t[k].bytes);
        draw_all(&t[k].f, c, fg);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                CHECK_MSG((sample(&t[k].f, 0, x, y) != 0x33) == mask[y * w + x], "%s luma (%d, %d) differs from RGB",
                          fp_pixel_format_name(fmts[k]), x, y);
        for (int y = 0; y < (h + 1) / 2; y++)
            for (int x = 0; x < (w + 1) / 2; x++) {
                int any = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        if (2 * x + dx < w && 2 * y + dy < h)
                            any |= mask[(2 * y + dy) * w + 2 * x + dx];
                for (int pl = 1; pl < 3; pl++)
                    CHECK_MSG((sample(&t[k].f, pl, x, y) != 0x33) == any, "%s chroma %d (%d, %d): %d, luma block %d",
                              fp_pixel_format_name(fmts[k]), pl, x, y, sample(&t[k].f, pl, x, y), any);
            }
    }
    for (int pl = 0; pl < 3; pl++)
        for (int y = 0; y < (pl ? (h + 1) / 2 : h); y++)
            for (int x = 0; x < (pl ? (w + 1) / 2 : w); x++)
                CHECK(sample(&t[0].f, pl, x, y) == sample(&t[1].f, pl, x, y));
    /* bad arguments: a clear error, nothing drawn */
    CHECK_EQ(fp_imgops_draw_box(&rf, 0, 0, 5, 5, 0, c), FP_EINVALID);
    CHECK(strstr(fp_error_detail(FP_EINVALID), "thickness 0"));
    CHECK_EQ(fp_imgops_draw_text(&rf, 0, 0, 0, "x", c), FP_EINVALID);
    for (int k = 0; k < 2; k++)
        free(t[k].mem);
    free(mask);
    free(rgb);
}
