// SPDX-License-Identifier: MIT
// Drawing boxes, lines, keypoint discs and labels into packed RGB (or yuv420p) pictures for the annotation sink, the snapshot writer and the live view: a thin layer over src/imgops's drawing.
#include "sink_internal.h"

#include <math.h>
#include <string.h>

#include "framepipe/imgops.h"

/* The canvas as an RGB24 (or, with chroma planes, YUV420P) frame for imgops (no reference counting: it lives for
 * one call). */
static FpFrame as_frame(const FpRgbCanvas *pic)
{
    FpFrame f;
    memset(&f, 0, sizeof(f));
    f.data[0] = pic->data;
    f.linesize[0] = (int)pic->stride;
    f.width = pic->width;
    f.height = pic->height;
    f.format = FP_PIX_RGB24;
    if (pic->u) {
        f.format = FP_PIX_YUV420P;
        f.data[1] = pic->u;
        f.data[2] = pic->v;
        f.linesize[1] = f.linesize[2] = (int)pic->cstride;
    }
    return f;
}

/* Colour c (R, G, B) in the canvas's channel order: BT.601 limited range for yuv420p (swscale's default matrix). */
static void colour(const FpRgbCanvas *pic, const uint8_t c[3], uint8_t out[3])
{
    if (!pic->u) {
        out[0] = c[0], out[1] = c[1], out[2] = c[2];
        return;
    }
    int r = c[0], g = c[1], b = c[2];
    out[0] = fp__clamp_u8(16 + ((66 * r + 129 * g + 25 * b + 128) >> 8));
    out[1] = fp__clamp_u8(128 + ((-38 * r - 74 * g + 112 * b + 128) >> 8));
    out[2] = fp__clamp_u8(128 + ((112 * r - 94 * g - 18 * b + 128) >> 8));
}

void fp__canvas_style(const FpRgbCanvas *pic, int *thick, int *scale)
{
    int short_side = pic->width < pic->height ? pic->width : pic->height;
    *thick = short_side >= 720 ? 3 : 2;
    *scale = short_side >= 720 ? 2 : 1;
}

void fp__canvas_fill(const FpRgbCanvas *pic, int x0, int y0, int x1, int y1, const uint8_t c[3])
{
    FpFrame f = as_frame(pic);
    uint8_t cc[3];
    colour(pic, c, cc);
    (void)fp_imgops_fill_rect(&f, x0, y0, x1, y1, cc);
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
    FpFrame f = as_frame(pic);
    uint8_t cc[3];
    colour(pic, c, cc);
    (void)fp_imgops_draw_box(&f, x1, y1, x2, y2, thick, cc);
    *x1o = x1;
    *y1o = y1;
    return true;
}

void fp__canvas_line(const FpRgbCanvas *pic, float x0, float y0, float x1, float y1, int thick, const uint8_t c[3])
{
    FpFrame f = as_frame(pic);
    uint8_t cc[3];
    colour(pic, c, cc);
    (void)fp_imgops_draw_line(&f, x0, y0, x1, y1, thick, cc);
}

void fp__canvas_disc(const FpRgbCanvas *pic, int cx, int cy, int rad, const uint8_t c[3])
{
    FpFrame f = as_frame(pic);
    uint8_t cc[3];
    colour(pic, c, cc);
    (void)fp_imgops_draw_disc(&f, cx, cy, rad, cc);
}

void fp__canvas_label(const FpRgbCanvas *pic, int x1, int y1, int scale, const char *label, const uint8_t c[3])
{
    int luma = (299 * c[0] + 587 * c[1] + 114 * c[2]) / 1000;
    static const uint8_t black[3] = {0, 0, 0}, white[3] = {255, 255, 255};
    FpFrame f = as_frame(pic);
    uint8_t cc[3], fg[3];
    colour(pic, c, cc);
    colour(pic, luma > 140 ? black : white, fg);
    (void)fp_imgops_draw_label(&f, x1, y1, scale, label, cc, fg);
}
