// SPDX-License-Identifier: MIT
// Pre-processing: one fused pass from a decoded frame (YUV420P/NV12/RGB24/BGR24/GRAY8) to one slot of a model's batch tensor.
#ifndef FRAMEPIPE_PREP_H
#define FRAMEPIPE_PREP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"
#include "framepipe/geometry.h"
#include "framepipe/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * An FpLetterbox is a plan made once per (source geometry, model input)
 * pair: per-output-column source offsets and weights, per-output-row source
 * rows and weights, colour matrix and normalisation constants. Running it on
 * a frame reads the source planes once and writes the tensor slot once:
 * colour conversion, bilinear resampling (half-pixel centres, edge
 * replicated, the same sampling as cv2.resize INTER_LINEAR), padding,
 * normalisation and layout all happen in the same loop. No allocation
 * happens after fp_letterbox_create().
 *
 * Geometry model: the region of interest (ROI, default the whole frame) is
 * resized to `content` pixels and placed at an offset in the tensor canvas;
 * whatever the content does not cover is padding.
 *   LETTERBOX: content = round(roi * min(dst_w/roi_w, dst_h/roi_h)), placed
 *              centred (floor) or at the top-left; aspect kept.
 *   STRETCH:   content = the whole canvas; aspect not kept.
 *   CROP:      content = round(roi * max(...)), centred (floor), so the canvas
 *              shows the centre of the ROI; nothing is padded.
 *
 * YUV input: chroma is upsampled by replication (each chroma sample covers
 * its 2x2 luma block, as cv2.cvtColor COLOR_YUV2RGB_I420/NV12 does), luma
 * below 16 counts as 16 in limited range (as cvtColor's max(0, Y-16)), each of
 * the 4 bilinear taps is converted to RGB and clamped to [0, 255], then the
 * taps are blended. The result equals cvtColor + resize computed in exact
 * arithmetic (OpenCV rounds to 8 bits after each step; framepipe does not).
 *
 * Values: every tensor value is v = pixel * a[c] + b[c] with pixel in
 * [0, 255] and the per-channel a, b given by the normalisation; uint8 output
 * is that value rounded to nearest (ties to even) and saturated to [0, 255].
 * All per-channel arrays are indexed by tensor channel (after the RGB/BGR
 * order is applied).
 */
typedef struct FpLetterbox FpLetterbox;

typedef enum FpChannelOrder {
    FP_ORDER_RGB = 0,
    FP_ORDER_BGR,
} FpChannelOrder;

typedef enum FpResizeMode {
    FP_RESIZE_LETTERBOX = 0,
    FP_RESIZE_STRETCH,
    FP_RESIZE_CROP,
} FpResizeMode;

typedef enum FpLetterboxAnchor {
    FP_ANCHOR_CENTER = 0,
    FP_ANCHOR_TOP_LEFT,
} FpLetterboxAnchor;

typedef enum FpNormalize {
    FP_NORM_SCALE = 0, /* v = pixel * scale[c] + offset[c] */
    FP_NORM_MEAN_STD,  /* v = (pixel / 255 - mean[c]) / std[c] */
} FpNormalize;

typedef enum FpYuvMatrix {
    FP_YUV_BT601 = 0, /* BT.601 limited range (what cv2.cvtColor YUV2RGB_I420/NV12 uses) */
    FP_YUV_BT709,     /* BT.709 limited range (HD video) */
    FP_YUV_BT601_FULL /* BT.601 full range (JPEG, "yuvj420p") */
} FpYuvMatrix;

/* Everything about the model input and how to fill it. Plain value type. */
typedef struct FpPrepOptions {
    int dst_width, dst_height;  /* model input W x H */
    FpDtype type;               /* FLOAT32 (default), FLOAT16 or UINT8 */
    FpLayout layout;            /* default NCHW (FP_LAYOUT_UNKNOWN is rejected) */
    FpChannelOrder order;       /* default RGB */
    FpResizeMode resize;        /* default LETTERBOX */
    FpLetterboxAnchor anchor;   /* default CENTER */
    float pad[3];               /* pad colour in pixel units [0,255] per tensor channel; default 114 */
    FpNormalize norm;           /* default SCALE with scale 1/255, offset 0 */
    float scale[3], offset[3];  /* FP_NORM_SCALE */
    float mean[3], std[3];      /* FP_NORM_MEAN_STD (std != 0) */
    int roi_x, roi_y, roi_w, roi_h; /* source rectangle; roi_w == 0 or roi_h == 0: the whole frame */
    FpYuvMatrix matrix;         /* default BT601 (limited) */
} FpPrepOptions;

/* Instruction-set variants of the kernel. */
typedef enum FpPrepIsa {
    FP_PREP_ISA_AUTO = 0, /* the best the CPU has (or FP_PREP_ISA=c|avx2|avx512|avx512vbmi from the environment) */
    FP_PREP_ISA_C,
    FP_PREP_ISA_AVX2,
    FP_PREP_ISA_AVX512,     /* AVX-512 F/BW/DQ/VL: gathers */
    FP_PREP_ISA_AVX512VBMI, /* + VBMI (Ice Lake, Zen 4 and later): byte permutes instead of gathers */
} FpPrepIsa;

/* Fills *o (caller-owned) with the defaults above for a dst_width x dst_height model input. Never fails; any thread. */
void fp_prep_options_init(FpPrepOptions *o, int dst_width, int dst_height);

/* Channels of every tensor slot pre-processing writes: R, G, B (or B, G, R with FP_ORDER_BGR). */
#define FP_PREP_CHANNELS 3

/* True for the element types pre-processing writes: FP_DTYPE_FLOAT32, FLOAT16 and UINT8. Any thread. */
bool fp_prep_writes_dtype(FpDtype type);

/*
 * Bytes of one tensor slot for `o`: dst_width * dst_height * FP_PREP_CHANNELS
 * * element size, in either layout; 0 when the size is not positive or
 * o->type is not one fp_prep_writes_dtype accepts. A model's image input
 * must hold exactly this per batch item. Never fails; any thread.
 */
size_t fp_prep_slot_bytes(const FpPrepOptions *o);

/*
 * Creates a plan for frames of src_width x src_height in `format`.
 * On success *out owns a new plan (free it with fp_letterbox_destroy); on
 * failure *out is untouched and the return is FP_EINVALID (bad size, bad enum,
 * std == 0), FP_ERANGE (ROI outside the frame, size too large),
 * FP_EUNSUPPORTED (pixel format, or uint8 output with mean/std) or -ENOMEM,
 * with a detail naming the field (fp_error_detail). Any thread.
 */
int fp_letterbox_create(FpLetterbox **out, int src_width, int src_height, FpPixelFormat format,
                        const FpPrepOptions *opt);

/*
 * Frees the plan and sets *lb to NULL; NULL or *lb == NULL is a no-op. The
 * transform fp_letterbox_transform returned dies with it. Any thread, once
 * no run, fp_prep_batch or accessor is using the plan.
 */
void fp_letterbox_destroy(FpLetterbox **lb);

/*
 * Re-plans for another source size/format with the same options, without
 * allocating (the tables depend only on the model input size). Returns 0,
 * or fails like fp_letterbox_create (FP_EINVALID, also for a NULL plan;
 * FP_ERANGE; FP_EUNSUPPORTED; never -ENOMEM) and then leaves the plan
 * unchanged. On success the transform follows the new source (the pointer
 * fp_letterbox_transform gave stays valid, its values change). The plan is
 * not locked: one thread, while no other uses the plan (no run,
 * fp_prep_batch or accessor).
 */
int fp_letterbox_set_source(FpLetterbox *lb, int src_width, int src_height, FpPixelFormat format);

/*
 * Forces an instruction-set variant for this plan. AUTO: the CPU's best
 * (fp_prep_cpu_isa; unlike fp_letterbox_create, FP_PREP_ISA in the
 * environment is not consulted). Returns 0, FP_EUNSUPPORTED when the CPU
 * lacks the variant, or FP_EINVALID (NULL plan, unknown value); the plan is
 * unchanged on failure. The plan is not locked: one thread, while no other
 * uses the plan (no run, fp_prep_batch or accessor).
 */
int fp_letterbox_set_isa(FpLetterbox *lb, FpPrepIsa isa);

/* The variant this plan runs. Any thread. */
FpPrepIsa fp_letterbox_isa(const FpLetterbox *lb);

/*
 * The source<->tensor transform of this plan: owned by the plan, valid until
 * it is destroyed or re-planned (fp_letterbox_set_source), unchanged by
 * runs. Any thread. Post-processing maps detections back with
 * fp_transform_box_to_source (include/framepipe/geometry.h).
 */
const FpTransform *fp_letterbox_transform(const FpLetterbox *lb);

/* Bytes of one tensor slot: dst_w * dst_h * 3 * element size. Any thread. */
size_t fp_letterbox_slot_bytes(const FpLetterbox *lb);

/*
 * Runs the plan on `frame` and writes one full tensor slot at `dst`
 * (dst_bytes >= fp_letterbox_slot_bytes; no alignment needed). Reads the
 * frame's planes (data/linesize; negative linesizes are fine), never writes
 * them; writes only dst[0, slot_bytes). Fails with FP_EINVALID (NULL
 * pointers, frame size/format differ from the plan, linesize too small for
 * the width) or FP_ETOO_LARGE (dst too small), writing nothing. Any number
 * of threads may run one plan at once on different destinations.
 */
int fp_letterbox_run(const FpLetterbox *lb, const FpFrame *frame, void *dst, size_t dst_bytes);

/*
 * Source box -> tensor box (unclipped), and tensor box -> source box
 * clipped to the visible source rectangle: the FpTransform helpers applied
 * to this plan's transform. Round trip within half a pixel. Any thread.
 */
FpBox fp_letterbox_box_to_tensor(const FpLetterbox *lb, FpBox source_box);
FpBox fp_letterbox_box_to_source(const FpLetterbox *lb, FpBox tensor_box);

/* The best variant this CPU supports (ignores the environment). Any thread. */
FpPrepIsa fp_prep_cpu_isa(void);

/* Name of a variant ("c", "avx2", "avx512", "avx512vbmi", "auto"); static, never NULL. Any thread. */
const char *fp_prep_isa_name(FpPrepIsa isa);

/* Whether this CPU can run `isa` (C and AUTO: always). Any thread. */
int fp_prep_isa_supported(FpPrepIsa isa);

/*
 * A small thread pool that fills the slots of a batch in parallel.
 * fp_prep_pool_create starts `threads` workers (0: run everything on the
 * caller's thread); *out owns the pool; fails with FP_EINVALID (threads < 0
 * or > 64) or -errno from pthread_create, *out untouched and no thread left
 * running. Any thread. Destroy joins the workers and sets *pool to NULL
 * (NULL: no-op); not while a fill is running on the pool.
 */
typedef struct FpPrepPool FpPrepPool;
int fp_prep_pool_create(FpPrepPool **out, int threads);
void fp_prep_pool_destroy(FpPrepPool **pool);

/*
 * Fills slots 0..n-1 of `tensor`: slot i = fp_letterbox_run(plans[i],
 * frames[i]) at tensor + i * slot_bytes. All plans must have the same
 * slot size (FP_EINVALID otherwise), tensor_bytes >= n * slot_bytes
 * (FP_ETOO_LARGE). The caller's thread takes part; returns when every slot
 * is written, 0 or the first error (with its detail on the caller's thread).
 * pool may be NULL (serial). One batch at a time per pool (calls from several
 * threads are serialised).
 */
int fp_prep_batch(FpPrepPool *pool, FpLetterbox *const plans[], const FpFrame *const frames[], int n,
                  void *tensor, size_t tensor_bytes);

#ifdef __cplusplus
}
#endif
#endif
