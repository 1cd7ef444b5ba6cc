// SPDX-License-Identifier: MIT
// Drawing on a frame's own planes (YUV, grey or packed RGB): filled rectangles, box outlines, lines, keypoint discs, 5x7 text and labels.
#include "imgops_internal.h"

#include <math.h>
#include <string.h>

#include "framepipe/error.h"

/*
 * Every shape is made of filled rectangles, each written by fp_imgops_fill
 * (YUV: luma at the rectangle, chroma at the rectangle mapped to the
 * half-resolution planes; packed RGB: three channels with a step of 3), so
 * one geometry serves every format. The geometry is the one the annotation
 * sink drew in RGB before it moved here: src/sink/draw.c's pictures are
 * these functions' output on an RGB24 frame.
 */

int fp_imgops_fill_rect(FpFrame *f, int x0, int y0, int x1, int y1, const uint8_t c[3])
{
    if (x1 <= x0 || y1 <= y0)
        return 0;
    return fp_imgops_fill(f, (FpRect){x0, y0, x1 - x0, y1 - y0}, c[0], c[1], c[2]);
}

int fp_imgops_draw_box(FpFrame *f, int x1, int y1, int x2, int y2, int thick, const uint8_t c[3])
{
    if (thick < 1)
        return fp_error(FP_EINVALID, "fp_imgops_draw_box: thickness %d (at least 1)", thick);
    int rc = fp_imgops_fill_rect(f, x1, y1, x2 + 1, y1 + thick, c); /* top */
    if (rc == 0)
        rc = fp_imgops_fill_rect(f, x1, y2 - thick + 1, x2 + 1, y2 + 1, c); /* bottom */
    if (rc == 0)
        rc = fp_imgops_fill_rect(f, x1, y1, x1 + thick, y2 + 1, c); /* left */
    if (rc == 0)
        rc = fp_imgops_fill_rect(f, x2 - thick + 1, y1, x2 + 1, y2 + 1, c); /* right */
    return rc;
}

int fp_imgops_draw_line(FpFrame *f, float x0, float y0, float x1, float y1, int thick, const uint8_t c[3])
{
    if (thick < 1)
        return fp_error(FP_EINVALID, "fp_imgops_draw_line: thickness %d (at least 1)", thick);
    if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
        return 0;
    /* keep the step count bounded for far-away points: clamp into a margin around the picture */
    float lo = -(float)thick - 1.0f, hx = (float)f->width + (float)thick + 1.0f,
          hy = (float)f->height + (float)thick + 1.0f;
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
        int rc = fp_imgops_fill_rect(f, xi, yi, xi + thick, yi + thick, c);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int fp_imgops_draw_disc(FpFrame *f, int cx, int cy, int rad, const uint8_t c[3])
{
    if (rad < 0 || rad > 4096)
        return fp_error(FP_EINVALID, "fp_imgops_draw_disc: radius %d (0..4096)", rad);
    for (int dy = -rad; dy <= rad; dy++) /* one span per row */
        for (int dx = -rad; dx <= rad; dx++)
            if (dx * dx + dy * dy <= rad * rad + 1) {
                int rc = fp_imgops_fill_rect(f, cx + dx, cy + dy, cx + dx + 1, cy + dy + 1, c);
                if (rc < 0)
                    return rc;
            }
    return 0;
}

int fp_imgops_draw_text(FpFrame *f, int x, int y, int scale, const char *text, const uint8_t c[3])
{
    if (scale < 1 || scale > 64 || !text)
        return fp_error(FP_EINVALID, "fp_imgops_draw_text: scale %d (1..64), text %s", scale, text ? "given" : "NULL");
    for (const char *t = text; *t; t++, x += (FP_IMGOPS_FONT_W + 1) * scale) {
        unsigned ch = (unsigned char)*t;
        if (ch < FP_IMGOPS_FONT_FIRST || ch > FP_IMGOPS_FONT_LAST)
            ch = '?';
        const uint8_t *g = fp__font5x7[ch - FP_IMGOPS_FONT_FIRST];
        for (int col = 0; col < FP_IMGOPS_FONT_W; col++)
            for (int row = 0; row < FP_IMGOPS_FONT_H; row++)
                if (g[col] >> row & 1) {
                    int rc = fp_imgops_fill_rect(f, x + col * scale, y + row * scale, x + (col + 1) * scale,
                                                 y + (row + 1) * scale, c);
                    if (rc < 0)
                        return rc;
                }
    }
    return 0;
}

void fp_imgops_label_size(int len, int scale, int *w, int *h)
{
    int pad = scale;
    *w = len * (FP_IMGOPS_FONT_W + 1) * scale - scale + 2 * pad;
    *h = FP_IMGOPS_FONT_H * scale + 2 * pad;
}

int fp_imgops_draw_label(FpFrame *f, int x1, int y1, int scale, const char *text, const uint8_t c[3],
                         const uint8_t fg[3])
{
    if (scale < 1 || scale > 64 || !text)
        return fp_error(FP_EINVALID, "fp_imgops_draw_label: scale %d (1..64), text %s", scale, text ? "given" : "NULL");
    int lw, lh, pad = scale;
    fp_imgops_label_size((int)strlen(text), scale, &lw, &lh);
    int lx = x1 < 0 ? 0 : x1;
    if (lx + lw > f->width)
        lx = f->width - lw < 0 ? 0 : f->width - lw;
    int ly = y1 - lh;
    if (ly < 0)
        ly = y1 < 0 ? 0 : y1;
    int rc = fp_imgops_fill_rect(f, lx, ly, lx + lw, ly + lh, c);
    return rc < 0 ? rc : fp_imgops_draw_text(f, lx + pad, ly + pad, scale, text, fg);
}
