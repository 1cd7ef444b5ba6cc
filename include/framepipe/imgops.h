// SPDX-License-Identifier: MIT
// Image operations on YUV planes in place: box blur, Gaussian by three box passes, pixelate, fill, INTER_AREA resize, drawing.
#ifndef FRAMEPIPE_IMGOPS_H
#define FRAMEPIPE_IMGOPS_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Everything here works on the frame's own planes (GRAY8, YUV420P, NV12),
 * never through RGB: luma at the rectangle given, chroma at the rectangle
 * mapped to the half-resolution planes (x0/2 .. (x1+1)/2), NV12's
 * interleaved U and V handled as two channels with a step of 2 bytes.
 *
 * The plane operations follow OpenCV so that tests can use it as the
 * oracle: fp_imgops_box_blur_plane on a rectangle equals cv2.blur(crop,
 * (2r+1, 2r+1)) of that crop alone (BORDER_REFLECT_101 at the crop's
 * edges, so nothing outside the rectangle is read or written), and
 * fp_imgops_resize_area_plane equals cv2.resize(..., INTER_AREA) for a
 * downscale; both within 1 level (rounding).
 *
 * Operations that need temporary memory take an FpImgScratch, which grows
 * on first use and is kept: a caller that reuses one scratch allocates
 * nothing after warm-up. A scratch belongs to one thread at a time.
 * Every function returns 0 or a negative code (FP_EINVALID naming the bad
 * argument, -ENOMEM); on failure the pixels are untouched.
 */

typedef struct FpRect {
    int x, y, w, h;
} FpRect;

typedef struct FpImgScratch {
    void *data;
    size_t cap;
} FpImgScratch;

/* Frees the scratch memory; the scratch can be used again (it starts empty). NULL-safe. */
void fp_img_scratch_deinit(FpImgScratch *s);

/* One 8-bit channel: `step` bytes between horizontally adjacent samples (1, or 2 for NV12's U/V). */
typedef struct FpPlane {
    uint8_t *data;
    int stride;
    int step;
    int width, height;
} FpPlane;

/* Box blur of window (2*radius+1)^2 inside r (clipped to the plane), BORDER_REFLECT_101 at r's edges. radius 1..127. */
int fp_imgops_box_blur_plane(FpPlane p, FpRect r, int radius, FpImgScratch *s);

/* Replaces each block x block cell of r (aligned to r's corner; partial at the far edges) by its rounded mean. */
int fp_imgops_pixelate_plane(FpPlane p, FpRect r, int block);

/* Sets every sample of r to v. */
int fp_imgops_fill_plane(FpPlane p, FpRect r, uint8_t v);

/* dst = src shrunk by area averaging (cv2 INTER_AREA); dst must not be larger than src in either dimension. */
int fp_imgops_resize_area_plane(FpPlane src, FpPlane dst, FpImgScratch *s);

/*
 * The three box sizes (odd, each 2*radius+1) whose repeated blur
 * approximates a Gaussian of standard deviation sigma (Kovesi's rule);
 * writes the radii to radius[3]. sigma in (0, 60].
 */
int fp_imgops_gauss_radii(double sigma, int radius[3]);

/* Frame operations: GRAY8, YUV420P or NV12; r in luma pixels, clipped to the frame. */
int fp_imgops_blur(FpFrame *f, FpRect r, int radius, FpImgScratch *s);
int fp_imgops_gaussian(FpFrame *f, FpRect r, double sigma, FpImgScratch *s);
int fp_imgops_pixelate(FpFrame *f, FpRect r, int block);
int fp_imgops_fill(FpFrame *f, FpRect r, uint8_t y, uint8_t u, uint8_t v);
/* Same format both; dst's width/height give the size (each <= src's); planes resized independently. */
int fp_imgops_resize_area(const FpFrame *src, FpFrame *dst, FpImgScratch *s);

/*
 * Drawing, on the frame's own planes (GRAY8, YUV420P, NV12, RGB24, BGR24):
 * c[] holds one value per channel in the frame's order (Y, U, V; R, G, B;
 * B, G, R; GRAY8 uses c[0]). Every shape is a set of filled rectangles in
 * luma pixels, each written like fp_imgops_fill (chroma: the rectangle
 * mapped to the half-resolution planes), clipped to the frame; the
 * annotation, snapshot and live-view pictures (src/sink/draw.c, packed RGB)
 * are drawn with these same functions.
 *
 *   fill_rect  [x0, x1) x [y0, y1)
 *   box        the outline of the pixels x1..x2, y1..y2 (inclusive), `thick`
 *              pixels wide, inward
 *   line       a `thick` x `thick` square brush stepped from (x0, y0) to
 *              (x1, y1) (one step per pixel of the longer axis, at most
 *              8192), each square's corner at floor(point) - thick/2
 *   disc       the pixels (cx + dx, cy + dy) with dx^2 + dy^2 <= rad^2 + 1
 *              (a keypoint)
 *   text       ASCII in the built-in 5x7 font (other bytes drawn as '?'),
 *              each font pixel a scale x scale square, characters
 *              (FP_IMGOPS_FONT_W + 1) * scale apart, top-left at (x, y)
 *   label      `text` in colour fg on a filled background of colour c, one
 *              scale of padding round it, above (x1, y1) (at y1 when there
 *              is no room above), moved left to stay inside the frame
 */
#define FP_IMGOPS_FONT_FIRST 32 /* ' ' */
#define FP_IMGOPS_FONT_LAST 126 /* '~' */
#define FP_IMGOPS_FONT_W 5
#define FP_IMGOPS_FONT_H 7

int fp_imgops_fill_rect(FpFrame *f, int x0, int y0, int x1, int y1, const uint8_t c[3]);
int fp_imgops_draw_box(FpFrame *f, int x1, int y1, int x2, int y2, int thick, const uint8_t c[3]);
int fp_imgops_draw_line(FpFrame *f, float x0, float y0, float x1, float y1, int thick, const uint8_t c[3]);
int fp_imgops_draw_disc(FpFrame *f, int cx, int cy, int rad, const uint8_t c[3]);
int fp_imgops_draw_text(FpFrame *f, int x, int y, int scale, const char *text, const uint8_t c[3]);
/* The label's size in pixels for `len` characters at `scale` (background included). */
void fp_imgops_label_size(int len, int scale, int *w, int *h);
int fp_imgops_draw_label(FpFrame *f, int x1, int y1, int scale, const char *text, const uint8_t c[3],
                         const uint8_t fg[3]);

/*
 * RGB24/BGR24 frames are accepted by the frame operations too: one plane,
 * three channels with a step of 3 (so a PNG decoded to RGB24 is redacted
 * and written back without a colour conversion: pixels outside the
 * rectangles stay exactly as they were).
 */

typedef enum FpEncodeType {
    FP_ENCODE_JPEG = 1,
    FP_ENCODE_PNG,
} FpEncodeType;

/*
 * Encodes f (YUV420P, NV12, RGB24, BGR24 or GRAY8) as JPEG (libturbojpeg;
 * YUV420P straight from the planes, quality 1..100) or PNG (libavcodec;
 * RGB24 and GRAY8 written as they are, YUV converted to RGB24 by swscale).
 * *out is malloc'ed (the caller frees it), *len its size. 0,
 * FP_EUNSUPPORTED (format), FP_EINTERNAL (the encoder failed) or -ENOMEM.
 */
int fp_image_encode(const FpFrame *f, FpEncodeType type, int quality, uint8_t **out, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
