// SPDX-License-Identifier: MIT
// FpTransform: the affine map between source-frame pixels and model-tensor pixels (letterbox, stretch, crop, ROI).
#ifndef FRAMEPIPE_GEOMETRY_H
#define FRAMEPIPE_GEOMETRY_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Pre-processing maps a source point (sx, sy), in source pixel coordinates
 * (continuous: the top-left corner of pixel (0,0) is (0,0), its centre is
 * (0.5,0.5)), to tensor coordinates:
 *     tx = sx * scale_x + offset_x,   ty = sy * scale_y + offset_y
 * Letterbox: scale_x == scale_y, offset = padding; a region of interest or a
 * centre crop at (cx, cy) folds in as offset -= c * scale. Post-processing
 * uses the inverse to put detections back into source pixels and clips them
 * to the visible source rectangle [clip_x0, clip_x1) x [clip_y0, clip_y1)
 * (the ROI or crop, or the whole frame).
 */
typedef struct FpTransform {
    float scale_x, scale_y;
    float offset_x, offset_y;
    float clip_x0, clip_y0, clip_x1, clip_y1; /* source pixels */
    int src_width, src_height;               /* source frame size */
    int dst_width, dst_height;               /* tensor size (model input) */
} FpTransform;

/* Source pixel point -> tensor pixel point. Pure: any thread, cannot fail. */
static inline void fp_transform_to_tensor(const FpTransform *t, float sx, float sy, float *tx, float *ty)
{
    *tx = sx * t->scale_x + t->offset_x;
    *ty = sy * t->scale_y + t->offset_y;
}

/* Tensor pixel point -> source pixel point (unclipped). Pure: any thread, cannot fail. */
static inline void fp_transform_to_source(const FpTransform *t, float tx, float ty, float *sx, float *sy)
{
    *sx = (tx - t->offset_x) / t->scale_x;
    *sy = (ty - t->offset_y) / t->scale_y;
}

/* An axis-aligned box in pixels: (x1, y1) top-left, (x2, y2) bottom-right, x2 >= x1, y2 >= y1. */
typedef struct FpBox {
    float x1, y1, x2, y2;
} FpBox;

/* Tensor-space box -> source-space box, clipped to the transform's clip rectangle. Pure; any thread. */
static inline FpBox fp_transform_box_to_source(const FpTransform *t, FpBox b)
{
    FpBox r;
    fp_transform_to_source(t, b.x1, b.y1, &r.x1, &r.y1);
    fp_transform_to_source(t, b.x2, b.y2, &r.x2, &r.y2);
    r.x1 = r.x1 < t->clip_x0 ? t->clip_x0 : r.x1 > t->clip_x1 ? t->clip_x1 : r.x1;
    r.x2 = r.x2 < t->clip_x0 ? t->clip_x0 : r.x2 > t->clip_x1 ? t->clip_x1 : r.x2;
    r.y1 = r.y1 < t->clip_y0 ? t->clip_y0 : r.y1 > t->clip_y1 ? t->clip_y1 : r.y1;
    r.y2 = r.y2 < t->clip_y0 ? t->clip_y0 : r.y2 > t->clip_y1 ? t->clip_y1 : r.y2;
    return r;
}

/* Source-space box -> tensor-space box (unclipped). Pure; any thread. */
static inline FpBox fp_transform_box_to_tensor(const FpTransform *t, FpBox b)
{
    FpBox r;
    fp_transform_to_tensor(t, b.x1, b.y1, &r.x1, &r.y1);
    fp_transform_to_tensor(t, b.x2, b.y2, &r.x2, &r.y2);
    return r;
}

#ifdef __cplusplus
}
#endif
#endif
