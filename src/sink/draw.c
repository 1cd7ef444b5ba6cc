// SPDX-License-Identifier: MIT
// Drawing boxes, lines, keypoint discs and labels into packed RGB (or yuv420p) pictures: the one drawing code of the annotation sink and the snapshot writer.
#include "sink_internal.h"

#include <math.h>
#include <string.h>

void fp__canvas_style(const FpRgbCanvas *pic, int *thick, int *scale)
{
    int short_side = pic->width < pic->height ? pic->width : pic->height;
    *thick = short_side >= 720 ? 3 : 2;
    *scale = short_side >= 720 ? 2 : 1;
}

void fp__canvas_fill(const FpRgbCanvas *pic, int x0, int y0, int x1, int y1, const uint8_t c[3])
{
    if (x0 < 0)
        x0 = 0;
    if (y0 < 0)
        y0 = 0;
    if (x1 > pic->width)
        x1 = pic->width;
    if (y1 > pic->height)
        y1 = pic->height;
    if (x0 >= x1 || y0 >= y1)
        return;
    if (pic->u) {
        /* BT.601 limited range, 8.8 fixed point (as swscale's default matrix) */
        int r = c[0], g = c[1], b = c[2];
        uint8_t yy = fp__clamp_u8(16 + ((66 * r + 129 * g + 25 * b + 128) >> 8));
        uint8_t uu = fp__clamp_u8(128 + ((-38 * r - 74 * g + 112 * b + 128) >> 8));
        uint8_t vv = fp__clamp_u8(128 + ((112 * r - 94 * g - 18 * b + 128) >> 8));
        for (int y = y0; y < y1; y++)
            memset(pic->data + (ptrdiff_t)y * pic->stride + x0, yy, (size_t)(x1 - x0));
        int cx0 = x0 >> 1, cx1 = (x1 + 1) >> 1;
        for (int y = y0 >> 1; y < (y1 + 1) >> 1; y++) {
            memset(pic->u + (ptrdiff_t)y * pic->cstride + cx0, uu, (size_t)(cx1 - cx0));
            memset(pic->v + (ptrdiff_t)y * pic->cstride + cx0, vv, (size_t)(cx1 - cx0));
        }
        return;
    }
    for (int y = y0; y < y1; y++) {
        uint8_t *p = pic->data + (ptrdiff_t)y * pic->stride + 3 * (ptrdiff_t)x0;
        for (int x = x0; x < x1; x++, p += 3) {
            p[0] = c[0];
            p[1] = c[1];
            p[2] = c[2];
        }
    }
}

int fp__canvas_floor(float v, int size, int margin)
{
    float lo = (float)(-margin - 1), hi = (float)(size + margin + 1);
    if (v < lo)
        return (int)lo;
    if (v > hi)
        return (int)hi;
    return (int)floorf(v);
}

bool fp__canvas_box(const FpRgbCanvas *pic, FpBox b, int thick, int scale, const uint8_t c[3], int *x1o, int *y1o)
{
    if (!isfinite(b.x1) || !isfinite(b.y1) || !isfinite(b.x2) || !isfinite(b.y2))
        return false;
    if (b.x2 < b.x1) {
        float t = b.x1;
        b.x1 = b.x2;
        b.x2 = t;
    }
    if (b.y2 < b.y1) {
        float t = b.y1;
        b.y1 = b.y2;
        b.y2 = t;
    }
    int w = pic->width, h = pic->height, m = 64 * scale;
    int x1 = fp__canvas_floor(b.x1, w, m), y1 = fp__canvas_floor(b.y1, h, m);
    int x2 = fp__canvas_floor(ceilf(b.x2) - 1.0f, w, m), y2 = fp__canvas_floor(ceilf(b.y2) - 1.0f, h, m);
    if (x2 < x1)
        x2 = x1;
    if (y2 < y1)
        y2 = y1;
    fp__canvas_fill(pic, x1, y1, x2 + 1, y1 + thick, c);         /* top */
    fp__canvas_fill(pic, x1, y2 - thick + 1, x2 + 1, y2 + 1, c); /* bottom */
    fp__canvas_fill(pic, x1, y1, x1 + thick, y2 + 1, c);         /* left */
    fp__canvas_fill(pic, x2 - thick + 1, y1, x2 + 1, y2 + 1, c); /* right */
    *x1o = x1;
    *y1o = y1;
    return true;
}

void fp__canvas_line(const FpRgbCanvas *pic, float x0, float y0, float x1, float y1, int thick, const uint8_t c[3])
{
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return;
    /* keep the step count bounded for far-away points: clamp into a margin around the picture */
    float lo = -(float)thick - 1.0f, hx = (float)pic->width + (float)thick + 1.0f, hy = (float)pic->height + (float)thick + 1.0f;
    float dx = x1 - x0, dy = y1 - y0;
    float len = fabsf(dx) > fabsf(dy) ? fabsf(dx) : fabsf(dy);
    int steps = len > 8192.0f ? 8192 : (int)ceilf(len);
    int half = thick / 2;
    for (int i = 0; i <= steps; i++) {
        float t = steps ? (float)i / (float)steps : 0.0f;
        float x = x0 + dx * t, y = y0 + dy * t;
        if (x < lo || y < lo || x > hx || y > hy)
            continue;
        int xi = (int)floorf(x) - half, yi = (int)floorf(y) - half;
        fp__canvas_fill(pic, xi, yi, xi + thick, yi + thick, c);
    }
}

static void draw_text(const FpRgbCanvas *pic, int x, int y, int scale, const char *text, const uint8_t c[3])
{
    for (const char *t = text; *t; t++, x += (FP__FONT_W + 1) * scale) {
        unsigned ch = (unsigned char)*t;
        if (ch < FP__FONT_FIRST || ch > FP__FONT_LAST)
            ch = '?';
        const uint8_t *g = fp__font5x7[ch - FP__FONT_FIRST];
        for (int col = 0; col < FP__FONT_W; col++)
            for (int row = 0; row < FP__FONT_H; row++)
                if (g[col] >> row & 1)
                    fp__canvas_fill(pic, x + col * scale, y + row * scale, x + (col + 1) * scale,
                                    y + (row + 1) * scale, c);
    }
}

void fp__canvas_label(const FpRgbCanvas *pic, int x1, int y1, int scale, const char *label, const uint8_t c[3])
{
    int len = (int)strlen(label), pad = scale;
    int lw = len * (FP__FONT_W + 1) * scale - scale + 2 * pad, lh = FP__FONT_H * scale + 2 * pad;
    int lx = x1 < 0 ? 0 : x1;
    if (lx + lw > pic->width)
        lx = pic->width - lw < 0 ? 0 : pic->width - lw;
    int ly = y1 - lh;
    if (ly < 0)
        ly = y1 < 0 ? 0 : y1;
    fp__canvas_fill(pic, lx, ly, lx + lw, ly + lh, c);
    int luma = (299 * c[0] + 587 * c[1] + 114 * c[2]) / 1000;
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    draw_text(pic, lx + pad, ly + pad, scale, label, luma > 140 ? black : white);
}
