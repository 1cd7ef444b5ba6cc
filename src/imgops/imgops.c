// SPDX-License-Identifier: MIT
// Image operations on YUV planes in place (blur, Gaussian by box passes, pixelate, fill, area resize); plain C.
#include "framepipe/imgops.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "framepipe/error.h"

/*
 * Design: every operation is written once for one 8-bit channel (FpPlane,
 * with a byte step so NV12's interleaved chroma needs no deinterleave) and
 * the frame functions map a luma rectangle onto each plane. No SIMD: the
 * blur is two running sums (a few adds per sample whatever the radius)
 * and the redaction rectangles are small next to the frame; a vector
 * version would be added with a benchmark showing it pays.
 *
 * Box blur: a horizontal running sum per row into a uint16 buffer (the
 * window holds at most 255 samples of 255), then a vertical running sum of
 * those, divided with rounding half up. Reading only inside the rectangle
 * (reflect-101 at its edges) makes the result equal cv2.blur of the crop
 * and lets the vertical pass write in place: it reads the buffer only.
 */

void fp_img_scratch_deinit(FpImgScratch *s)
{
    if (!s)
        return;
    free(s->data);
    s->data = NULL;
    s->cap = 0;
}

static void *scratch_get(FpImgScratch *s, size_t bytes)
{
    if (s->cap < bytes) {
        void *p = realloc(s->data, bytes);
        if (!p)
            return NULL;
        s->data = p;
        s->cap = bytes;
    }
    return s->data;
}

static int reflect101(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n) {
        if (i < 0)
            i = -i;
        if (i >= n)
            i = 2 * n - 2 - i;
    }
    return i;
}

static int check_plane(const char *fn, FpPlane p)
{
    if (!p.data || p.width <= 0 || p.height <= 0 || p.step < 1 || p.step > 3 ||
        p.stride < p.width * p.step)
        return fp_error(FP_EINVALID, "%s: bad plane (%dx%d, stride %d, step %d)", fn, p.width, p.height,
                        p.stride, p.step);
    return 0;
}

/* Clips r to the plane; returns 0 when nothing is left. */
static int clip_rect(FpRect *r, int w, int h)
{
    int x0 = r->x < 0 ? 0 : r->x, y0 = r->y < 0 ? 0 : r->y;
    long x1 = (long)r->x + r->w, y1 = (long)r->y + r->h;
    if (x1 > w)
        x1 = w;
    if (y1 > h)
        y1 = h;
    if (r->w <= 0 || r->h <= 0 || x1 <= x0 || y1 <= y0)
        return 0;
    r->x = x0, r->y = y0, r->w = (int)(x1 - x0), r->h = (int)(y1 - y0);
    return 1;
}

static inline uint8_t *px(FpPlane p, int x, int y)
{
    return p.data + (size_t)y * p.stride + (size_t)x * p.step;
}

int fp_imgops_box_blur_plane(FpPlane p, FpRect r, int radius, FpImgScratch *s)
{
    int rc = check_plane("fp_imgops_box_blur_plane", p);
    if (rc < 0)
        return rc;
    if (radius < 1 || radius > 127 || !s)
        return fp_error(FP_EINVALID, "fp_imgops_box_blur_plane: radius %d (1..127) or no scratch", radius);
    if (!clip_rect(&r, p.width, p.height))
        return 0;
    int w = r.w, h = r.h, k = 2 * radius + 1;
    size_t hsum_bytes = (size_t)w * h * sizeof(uint16_t);
    size_t col_bytes = (size_t)w * sizeof(uint32_t);
    size_t ext_bytes = (size_t)(w + 2 * radius);
    uint8_t *base = scratch_get(s, hsum_bytes + col_bytes + ext_bytes + 16);
    if (!base)
        return fp_error(-ENOMEM, "fp_imgops_box_blur_plane: %zu bytes of scratch for a %dx%d rectangle",
                        hsum_bytes + col_bytes + ext_bytes, w, h);
    uint32_t *col = (uint32_t *)(void *)base;
    uint16_t *hsum = (uint16_t *)(void *)(base + col_bytes);
    uint8_t *ext = base + col_bytes + hsum_bytes;

    for (int y = 0; y < h; y++) {
        const uint8_t *row = px(p, r.x, r.y + y);
        for (int i = 0; i < w + 2 * radius; i++) {
            int j = i - radius;
            ext[i] = row[(size_t)(j >= 0 && j < w ? j : reflect101(j, w)) * p.step];
        }
        uint32_t acc = 0;
        for (int i = 0; i < k; i++)
            acc += ext[i];
        uint16_t *out = hsum + (size_t)y * w;
        out[0] = (uint16_t)acc;
        for (int x = 1; x < w; x++) {
            acc += (uint32_t)ext[x + k - 1] - ext[x - 1];
            out[x] = (uint16_t)acc;
        }
    }
    memset(col, 0, col_bytes);
    for (int i = -radius; i <= radius; i++) {
        const uint16_t *src = hsum + (size_t)reflect101(i, h) * w;
        for (int x = 0; x < w; x++)
            col[x] += src[x];
    }
    /* (sum + area/2) / area without a division per sample: sum < 2^25 and area <= 255^2, so a non-integer
     * quotient is at least 1/area (1.5e-5) away from the next integer while the double product errs by
     * < 1e-8: adding 1e-7 before truncating gives the exact quotient. */
    uint32_t area = (uint32_t)k * k, half = area / 2;
    const double inv = 1.0 / area;
    for (int y = 0; y < h; y++) {
        uint8_t *out = px(p, r.x, r.y + y);
        for (int x = 0; x < w; x++)
            out[(size_t)x * p.step] = (uint8_t)((double)(col[x] + half) * inv + 1e-7);
        if (y + 1 < h) {
            const uint16_t *add = hsum + (size_t)reflect101(y + 1 + radius, h) * w;
            const uint16_t *sub = hsum + (size_t)reflect101(y - radius, h) * w;
            for (int x = 0; x < w; x++)
                col[x] += (uint32_t)add[x] - sub[x];
        }
    }
    return 0;
}

int fp_imgops_pixelate_plane(FpPlane p, FpRect r, int block)
{
    int rc = check_plane("fp_imgops_pixelate_plane", p);
    if (rc < 0)
        return rc;
    if (block < 1 || block > 4096)
        return fp_error(FP_EINVALID, "fp_imgops_pixelate_plane: block %d (1..4096)", block);
    if (!clip_rect(&r, p.width, p.height))
        return 0;
    for (int by = 0; by < r.h; by += block) {
        int bh = r.h - by < block ? r.h - by : block;
        for (int bx = 0; bx < r.w; bx += block) {
            int bw = r.w - bx < block ? r.w - bx : block;
            uint64_t sum = 0;
            for (int y = 0; y < bh; y++) {
                const uint8_t *row = px(p, r.x + bx, r.y + by + y);
                for (int x = 0; x < bw; x++)
                    sum += row[(size_t)x * p.step];
            }
            uint64_t n = (uint64_t)bw * bh;
            uint8_t v = (uint8_t)((sum + n / 2) / n);
            for (int y = 0; y < bh; y++) {
                uint8_t *row = px(p, r.x + bx, r.y + by + y);
                for (int x = 0; x < bw; x++)
                    row[(size_t)x * p.step] = v;
            }
        }
    }
    return 0;
}

int fp_imgops_fill_plane(FpPlane p, FpRect r, uint8_t v)
{
    int rc = check_plane("fp_imgops_fill_plane", p);
    if (rc < 0)
        return rc;
    if (!clip_rect(&r, p.width, p.height))
        return 0;
    for (int y = 0; y < r.h; y++) {
        uint8_t *row = px(p, r.x, r.y + y);
        if (p.step == 1)
            memset(row, v, (size_t)r.w);
        else
            for (int x = 0; x < r.w; x++)
                row[(size_t)x * p.step] = v;
    }
    return 0;
}

/*
 * OpenCV's area table (imgproc/resize.cpp, computeResizeAreaTab): dst
 * sample d covers source [d*scale, (d+1)*scale); each source sample it
 * touches gets its overlap divided by the cell width. Fills idx/wt for
 * every d and start[d] .. start[d+1]; returns the entry count.
 */
static int area_table(int ssize, int dsize, int *start, int *idx, float *wt)
{
    double scale = (double)ssize / dsize;
    int n = 0;
    for (int d = 0; d < dsize; d++) {
        start[d] = n;
        double fs1 = d * scale, fs2 = fs1 + scale;
        double cell = scale < ssize - fs1 ? scale : ssize - fs1;
        int s1 = (int)ceil(fs1), s2 = (int)floor(fs2);
        if (s2 > ssize - 1)
            s2 = ssize - 1;
        if (s1 > s2)
            s1 = s2;
        if (s1 - fs1 > 1e-3)
            idx[n] = s1 - 1, wt[n++] = (float)((s1 - fs1) / cell);
        for (int s = s1; s < s2; s++)
            idx[n] = s, wt[n++] = (float)(1.0 / cell);
        if (fs2 - s2 > 1e-3) {
            double part = fs2 - s2 < 1.0 ? fs2 - s2 : 1.0;
            if (part > cell)
                part = cell;
            idx[n] = s2, wt[n++] = (float)(part / cell);
        }
    }
    start[dsize] = n;
    return n;
}

int fp_imgops_resize_area_plane(FpPlane src, FpPlane dst, FpImgScratch *s)
{
    int rc = check_plane("fp_imgops_resize_area_plane (src)", src);
    if (rc < 0)
        return rc;
    if ((rc = check_plane("fp_imgops_resize_area_plane (dst)", dst)) < 0)
        return rc;
    if (dst.width > src.width || dst.height > src.height || !s)
        return fp_error(FP_EINVALID, "fp_imgops_resize_area_plane: %dx%d -> %dx%d is not a downscale",
                        src.width, src.height, dst.width, dst.height);
    int sw = src.width, sh = src.height, dw = dst.width, dh = dst.height;
    /* entries per axis <= ssize + 2 * dsize */
    size_t nx = (size_t)sw + 2 * (size_t)dw, ny = (size_t)sh + 2 * (size_t)dh;
    size_t bytes = (size_t)(dw + 1 + dh + 1) * sizeof(int) + (nx + ny) * (sizeof(int) + sizeof(float)) +
                   (size_t)dw * sizeof(float) * 2 + 64;
    uint8_t *b = scratch_get(s, bytes);
    if (!b)
        return fp_error(-ENOMEM, "fp_imgops_resize_area_plane: %zu bytes of scratch", bytes);
    float *xw = (float *)(void *)b;
    float *yw = xw + nx;
    float *hrow = yw + ny;
    float *acc = hrow + dw;
    int *xs = (int *)(void *)(acc + dw);
    int *ys = xs + dw + 1;
    int *xi = ys + dh + 1;
    int *yi = xi + nx;
    area_table(sw, dw, xs, xi, xw);
    area_table(sh, dh, ys, yi, yw);

    for (int dy = 0; dy < dh; dy++) {
        for (int x = 0; x < dw; x++)
            acc[x] = 0.f;
        for (int j = ys[dy]; j < ys[dy + 1]; j++) {
            const uint8_t *row = src.data + (size_t)yi[j] * src.stride;
            for (int dx = 0; dx < dw; dx++) {
                float v = 0.f;
                for (int i = xs[dx]; i < xs[dx + 1]; i++)
                    v += row[(size_t)xi[i] * src.step] * xw[i];
                hrow[dx] = v;
            }
            float wy = yw[j];
            for (int dx = 0; dx < dw; dx++)
                acc[dx] += hrow[dx] * wy;
        }
        uint8_t *out = dst.data + (size_t)dy * dst.stride;
        for (int dx = 0; dx < dw; dx++) {
            long v = (long)floorf(acc[dx] + 0.5f); /* half up, as OpenCV's integer-scale path */
            out[(size_t)dx * dst.step] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
    return 0;
}

int fp_imgops_gauss_radii(double sigma, int radius[3])
{
    if (!(sigma > 0 && sigma <= 60))
        return fp_error(FP_EINVALID, "fp_imgops_gauss_radii: sigma %g (0 < sigma <= 60)", sigma);
    const int n = 3;
    double ideal = sqrt(12.0 * sigma * sigma / n + 1.0);
    int wl = (int)floor(ideal);
    if (wl % 2 == 0)
        wl--;
    int wu = wl + 2;
    double mi = (12.0 * sigma * sigma - n * wl * wl - 4.0 * n * wl - 3.0 * n) / (-4.0 * wl - 4.0);
    int m = (int)lround(mi);
    for (int i = 0; i < n; i++) {
        int size = i < m ? wl : wu;
        radius[i] = (size - 1) / 2;
    }
    return 0;
}

/* The planes of f as channels (up to 3) and their subsampling shift; returns the count or FP_EUNSUPPORTED. */
static int frame_planes(const FpFrame *f, FpPlane pl[3], int shift[3])
{
    switch (f->format) {
    case FP_PIX_GRAY8:
        pl[0] = (FpPlane){f->data[0], f->linesize[0], 1, f->width, f->height};
        shift[0] = 0;
        return 1;
    case FP_PIX_YUV420P: {
        int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
        pl[0] = (FpPlane){f->data[0], f->linesize[0], 1, f->width, f->height};
        pl[1] = (FpPlane){f->data[1], f->linesize[1], 1, cw, ch};
        pl[2] = (FpPlane){f->data[2], f->linesize[2], 1, cw, ch};
        shift[0] = 0, shift[1] = shift[2] = 1;
        return 3;
    }
    case FP_PIX_NV12: {
        int cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
        pl[0] = (FpPlane){f->data[0], f->linesize[0], 1, f->width, f->height};
        pl[1] = (FpPlane){f->data[1], f->linesize[1], 2, cw, ch};
        pl[2] = (FpPlane){f->data[1] ? f->data[1] + 1 : NULL, f->linesize[1], 2, cw, ch};
        shift[0] = 0, shift[1] = shift[2] = 1;
        return 3;
    }
    case FP_PIX_RGB24:
    case FP_PIX_BGR24:
        for (int i = 0; i < 3; i++) {
            pl[i] = (FpPlane){f->data[0] ? f->data[0] + i : NULL, f->linesize[0], 3, f->width, f->height};
            shift[i] = 0;
        }
        return 3;
    default:
        return fp_error(FP_EUNSUPPORTED, "imgops: pixel format %s (GRAY8, YUV420P, NV12, RGB24 or BGR24 only)",
                        fp_pixel_format_name(f->format));
    }
}

/* The luma rectangle r on a plane subsampled by `shift`: covers every chroma sample a luma pixel of r uses. */
static FpRect plane_rect(FpRect r, int shift)
{
    if (!shift || r.w <= 0 || r.h <= 0)
        return r;
    int x0 = r.x >> 1, y0 = r.y >> 1, x1 = (r.x + r.w + 1) >> 1, y1 = (r.y + r.h + 1) >> 1;
    return (FpRect){x0, y0, x1 - x0, y1 - y0};
}

int fp_imgops_blur(FpFrame *f, FpRect r, int radius, FpImgScratch *s)
{
    FpPlane pl[3];
    int shift[3], n = frame_planes(f, pl, shift);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        int rad = shift[i] && radius >= 1 ? (radius + 1) / 2 : radius;
        int rc = fp_imgops_box_blur_plane(pl[i], plane_rect(r, shift[i]), rad, s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fp_imgops_gaussian(FpFrame *f, FpRect r, double sigma, FpImgScratch *s)
{
    FpPlane pl[3];
    int shift[3], n = frame_planes(f, pl, shift);
    if (n < 0)
        return n;
    for (int i = 0; i < n; i++) {
        int rad[3];
        int rc = fp_imgops_gauss_radii(shift[i] ? sigma / 2 < 0.5 ? 0.5 : sigma / 2 : sigma, rad);
        if (rc < 0)
            return rc;
        for (int pass = 0; pass < 3; pass++)
            if (rad[pass] > 0 &&
                (rc = fp_imgops_box_blur_plane(pl[i], plane_rect(r, shift[i]), rad[pass], s)) < 0)
                return rc;
    }
    return 0;
}

int fp_imgops_pixelate(FpFrame *f, FpRect r, int block)
{
    FpPlane pl[3];
    int shift[3], n = frame_planes(f, pl, shift);
    if (n < 0)
        return n;
    if (block < 2)
        return fp_error(FP_EINVALID, "fp_imgops_pixelate: block %d (at least 2 luma pixels)", block);
    for (int i = 0; i < n; i++) {
        FpRect pr = plane_rect(r, shift[i]);
        int rc = fp_imgops_pixelate_plane(pl[i], pr, shift[i] ? block / 2 : block);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fp_imgops_fill(FpFrame *f, FpRect r, uint8_t y, uint8_t u, uint8_t v)
{
    FpPlane pl[3];
    int shift[3], n = frame_planes(f, pl, shift);
    if (n < 0)
        return n;
    const uint8_t val[3] = {y, u, v};
    for (int i = 0; i < n; i++) {
        int rc = fp_imgops_fill_plane(pl[i], plane_rect(r, shift[i]), val[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fp_imgops_resize_area(const FpFrame *src, FpFrame *dst, FpImgScratch *s)
{
    if (src->format != dst->format)
        return fp_error(FP_EINVALID, "fp_imgops_resize_area: formats differ (%s -> %s)",
                        fp_pixel_format_name(src->format), fp_pixel_format_name(dst->format));
    FpPlane sp[3], dp[3];
    int shift[3], n = frame_planes(src, sp, shift);
    if (n < 0)
        return n;
    if (frame_planes(dst, dp, shift) < 0)
        return FP_EINVALID;
    for (int i = 0; i < n; i++) {
        int rc = fp_imgops_resize_area_plane(sp[i], dp[i], s);
        if (rc < 0)
            return rc;
    }
    return 0;
}
