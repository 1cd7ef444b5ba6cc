// SPDX-License-Identifier: MIT
// FpPreview: the live view's sink: per camera, the latest frame (boxes, labels, zones drawn) as a small JPEG, encoded only while someone watches.
#ifndef FRAMEPIPE_PREVIEW_H
#define FRAMEPIPE_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/rules.h"
#include "framepipe/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * FpPreview: what the web view (docs/webview.md) shows. The pipeline calls
 * fp_preview_write (an FpSinkFn) for every frame; per camera it accepts at
 * most `fps` frames a second and only while at least one viewer watches
 * that camera (fp_preview_watch), so a preview nobody looks at costs a
 * mutex and a compare per frame. An accepted frame is kept by reference
 * (fp_frame_ref) with a copy of its detections, and the preview's own
 * encoder thread converts it to RGB at `width` pixels wide, draws the boxes
 * with "#<track> <class> <score>" labels, the camera's zones, its name and
 * the time, and encodes a JPEG (libturbojpeg) into the camera's latest-frame
 * buffer. Viewers wait for the next one with fp_preview_next.
 *
 * Threads: every function may be called from any thread, concurrently,
 * except destroy (see there).
 */
typedef struct FpPreview FpPreview;

#define FP_PREVIEW_MAX_CAMERAS 64
#define FP_PREVIEW_DEFAULT_FPS 10.0
#define FP_PREVIEW_DEFAULT_WIDTH 640
#define FP_PREVIEW_DEFAULT_QUALITY 75

typedef struct FpPreviewConfig {
    double fps;  /* frames per second per camera at most (> 0; default 10) */
    int width;   /* output width in pixels, 16..4096 (default 640); the height keeps the aspect; never upscaled */
    int quality; /* JPEG quality 1..100 (default 75) */
} FpPreviewConfig;

/* Fills *cfg with the defaults above. Any thread. */
void fp_preview_config_init(FpPreviewConfig *cfg);

/*
 * Creates a preview and starts its encoder thread. cfg NULL: the defaults;
 * a zero field: its default. Returns 0 and *out (the caller owns it:
 * fp_preview_destroy), FP_EINVALID (NULL out, a value out of range; the
 * message names the field), -ENOMEM, or -errno when the thread cannot start;
 * *out untouched on failure.
 */
int fp_preview_create(FpPreview **out, const FpPreviewConfig *cfg);

/*
 * FpSinkFn (`preview` is the FpPreview). Cameras are told apart by
 * r->camera_name ("cam<N>" when NULL); a camera first seen here is added.
 * Returns 0 at once when nobody watches the camera or less than 1/fps
 * passed since its last accepted frame; else it keeps a reference to
 * r->frame (dropping a still pending older one of that camera) and copies
 * the detections, track ids and class names, then wakes the encoder.
 * FP_EINVALID for NULL arguments, FP_ETOO_LARGE for more than
 * FP_PREVIEW_MAX_CAMERAS cameras, FP_EFLUSHING after destroy began.
 */
int fp_preview_write(void *preview, const FpFrameResult *r);

/*
 * Sets the polygons drawn for `camera` (copied; n 0..FP_RULES_MAX_ZONES,
 * zones may be NULL when n is 0): normalised 0..1 points are scaled to the
 * frame, pixel points are source-frame pixels. Also declares the camera, so
 * viewers may watch it before its first frame. Returns 0, FP_EINVALID or
 * FP_ETOO_LARGE (too many cameras).
 */
int fp_preview_set_zones(FpPreview *p, const char *camera, const FpZoneConfig *zones, int n);

/*
 * Adds (+1) or removes (-1) a viewer of `camera`. Returns the number of
 * viewers afterwards (>= 0), FP_ENOT_FOUND for a camera never seen by
 * write or set_zones, FP_EINVALID for NULL arguments or a delta other than
 * +1/-1 (a -1 below zero stays at 0).
 */
int fp_preview_watch(FpPreview *p, const char *camera, int delta);

/*
 * Waits up to timeout_ns (0: does not wait) for a JPEG of `camera` newer
 * than *seq (0: any), then copies it into *buf (grown with realloc as
 * needed; *cap its size; the caller owns and frees it), sets *len and *seq.
 * Returns 1 (a new frame), 0 (timed out, or destroy began), FP_ENOT_FOUND
 * (unknown camera), FP_EINVALID (NULL arguments) or -ENOMEM (buf untouched).
 * Call fp_preview_watch(+1) first, or no frame will come.
 */
int fp_preview_next(FpPreview *p, const char *camera, uint64_t *seq, int64_t timeout_ns, uint8_t **buf,
                    size_t *cap, size_t *len);

typedef struct FpPreviewStats {
    uint64_t frames_accepted; /* kept by write for the encoder */
    uint64_t frames_replaced; /* pending ones replaced before the encoder got to them */
    uint64_t frames_encoded;  /* JPEGs produced */
    uint64_t encode_errors;
    uint64_t encode_ns_total; /* conversion + drawing + encoding, summed */
    uint64_t encode_ns_last;
    int cameras, viewers;     /* known cameras, viewers over all cameras */
} FpPreviewStats;

/* Copies the counters into *st. 0 or FP_EINVALID. Any thread. */
int fp_preview_get_stats(FpPreview *p, FpPreviewStats *st);

/*
 * Stops the encoder thread, wakes every fp_preview_next waiter (they return
 * 0), drops the pending frames' references, frees the preview and sets *p to
 * NULL (NULL: no-op). Order: call it after the pipeline has stopped calling
 * fp_preview_write and after the HTTP server that calls fp_preview_next has
 * been destroyed, but BEFORE the pipeline (the owner of the frames' pool) is
 * destroyed, because the pending frames go back to that pool here.
 */
void fp_preview_destroy(FpPreview **p);

#ifdef __cplusplus
}
#endif
#endif
