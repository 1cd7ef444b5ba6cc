// SPDX-License-Identifier: MIT
// Private to src/sink: the drawing of boxes and labels into packed RGB pictures (through src/imgops), line outputs.
#ifndef FRAMEPIPE_SINK_INTERNAL_H
#define FRAMEPIPE_SINK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"
#include "framepipe/geometry.h"

/*
 * The output of a JSON lines sink (frames, events): a file created or
 * truncated, or standard output for "-" (not closed). A line goes out with
 * write(2) calls on the whole buffer; on a pipe or socket SIGPIPE is blocked
 * for the calling thread around the write and a SIGPIPE it raised is
 * consumed, so a closed reader gives -EPIPE instead of killing the process.
 */
typedef struct FpLineOut {
    int fd;
    bool owns_fd;
    bool is_pipe;
} FpLineOut;

/* Opens `path` ("-": stdout; O_APPEND when `append`). 0 or -errno (no message recorded); *o untouched on failure. */
int fp__line_out_open(FpLineOut *o, const char *path, bool append);
/* Writes p[0..n) whole (EINTR retried). 0 or -errno (-EPIPE for a closed reader). Any thread. */
int fp__line_out_write(const FpLineOut *o, const char *p, size_t n);
/* Closes the file (not stdout). 0 or -errno of close(2). */
int fp__line_out_close(FpLineOut *o);

/*
 * Formats r as the JSON object of docs/jsonl.md (no newline) into
 * buf[0..cap) with a NUL, timing "total" against now_ns. Returns false when
 * it does not fit (retry with a larger buffer), else true and the length
 * without the NUL in *len. No allocation. Any thread.
 */
struct FpFrameResult;
bool fp__frame_json(const struct FpFrameResult *r, int64_t now_ns, char *buf, size_t cap, size_t *len);

/*
 * A packed RGB24 picture to draw on (the annotation sink's scratch frame,
 * the snapshot writer's copy). Every write goes through fp__canvas_fill,
 * which clips to the picture, so any coordinates are safe.
 */
typedef struct FpRgbCanvas {
    uint8_t *data;
    ptrdiff_t stride; /* bytes per row */
    int width, height;
    /*
     * yuv420p instead (the annotation sink draws straight into its encoder's
     * picture, no RGB round trip): `data`/`stride` are the Y plane, u/v the
     * chroma planes. Colours stay given in RGB and are converted to BT.601
     * limited range; a chroma sample is set when any of its 2x2 luma pixels
     * is filled, so colour edges may spread by one pixel.
     */
    uint8_t *u, *v;
    ptrdiff_t cstride;
} FpRgbCanvas;

/* Line thickness and label scale for a picture this size (3 px and 2x from a 720-pixel short side). */
void fp__canvas_style(const FpRgbCanvas *pic, int *thick, int *scale);

/* Fills [x0, x1) x [y0, y1) with colour c (RGB), clipped to the picture (packed RGB, or yuv420p when pic->u is set). */
void fp__canvas_fill(const FpRgbCanvas *pic, int x0, int y0, int x1, int y1, const uint8_t c[3]);

/* floor(v), clamped to just outside [0, size) by margin + 1, so a far edge stays invisible and the int is safe. */
int fp__canvas_floor(float v, int size, int margin);

/*
 * Draws the outline of box b (pixels x1..x2, y1..y2 inclusive, corners in
 * any order), `thick` pixels wide, in colour c. Returns false (nothing
 * drawn) when a coordinate is not finite; else true with the outline's
 * top-left pixel in *x1, *y1 (for the label).
 */
bool fp__canvas_box(const FpRgbCanvas *pic, FpBox b, int thick, int scale, const uint8_t c[3], int *x1, int *y1);

/*
 * Draws the segment (x0, y0)-(x1, y1) (pixel coordinates, any values:
 * clipped; non-finite ones draw nothing) as `thick`-pixel squares stepped
 * along its longer axis, in colour c. The zone outlines of the preview.
 */
void fp__canvas_line(const FpRgbCanvas *pic, float x0, float y0, float x1, float y1, int thick, const uint8_t c[3]);

/* A keypoint: the pixels (cx + dx, cy + dy) with dx^2 + dy^2 <= rad^2 + 1, in colour c. */
void fp__canvas_disc(const FpRgbCanvas *pic, int cx, int cy, int rad, const uint8_t c[3]);

/* Draws `label` on a filled background of colour c above (x1, y1), inside the picture at its top edge. */
void fp__canvas_label(const FpRgbCanvas *pic, int x1, int y1, int scale, const char *label, const uint8_t c[3]);

/* ---- pixels (the snapshot writer and the preview convert frames to RGB) ---- */

static inline uint8_t fp__clamp_u8(int v)
{
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* One BT.601 limited-range YUV pixel to RGB, 16.16 fixed point (the decoders' default). */
static inline void fp__yuv_px(int y, int u, int v, uint8_t *o)
{
    int c = (y - 16) * 76309, d = u - 128, e = v - 128;
    o[0] = fp__clamp_u8((c + 104597 * e + 32768) >> 16);
    o[1] = fp__clamp_u8((c - 25675 * d - 53279 * e + 32768) >> 16);
    o[2] = fp__clamp_u8((c + 132201 * d + 32768) >> 16);
}

/* True when f has a size and the planes its pixel format needs. */
static inline bool fp__frame_convertible(const FpFrame *f)
{
    if (f->width < 1 || f->height < 1 || !f->data[0])
        return false;
    switch (f->format) {
    case FP_PIX_YUV420P:
        return f->data[1] && f->data[2];
    case FP_PIX_NV12:
        return f->data[1] != NULL;
    case FP_PIX_RGB24:
    case FP_PIX_BGR24:
    case FP_PIX_GRAY8:
        return true;
    default:
        return false;
    }
}

#endif
