// SPDX-License-Identifier: MIT
// FpFrame: a refcounted view of one decoded picture in pool memory (planes, strides, format, timing, camera).
#ifndef FRAMEPIPE_FRAME_H
#define FRAMEPIPE_FRAME_H

#include <stdint.h>

#include "framepipe/atomic.h"
#include "framepipe/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum FpPixelFormat {
    FP_PIX_NONE = 0,
    FP_PIX_YUV420P, /* 3 planes: Y, U, V; chroma (w+1)/2 x (h+1)/2 */
    FP_PIX_NV12,    /* 2 planes: Y, interleaved UV; chroma (w+1)/2 x (h+1)/2 */
    FP_PIX_RGB24,   /* 1 plane, packed R,G,B */
    FP_PIX_BGR24,   /* 1 plane, packed B,G,R */
    FP_PIX_GRAY8,   /* 1 plane */
} FpPixelFormat;

/* "yuv420p", "nv12", ...; "unknown" for a value outside the enum. Static string; any thread. */
const char *fp_pixel_format_name(FpPixelFormat f);

/*
 * Parses a name fp_pixel_format_name gives ("yuv420p", ...) into *out. Returns 0 or FP_EINVALID
 * naming the input (fp_error_detail); *out untouched on failure. Any thread.
 */
int fp_pixel_format_parse(const char *name, FpPixelFormat *out);

#define FP_FRAME_MAX_PLANES 4

typedef struct FpFrame FpFrame;

/* Runs once, on the thread that drops the last reference; must drop the `buf` references and recycle the struct. */
typedef void (*FpFrameReleaseFn)(FpFrame *frame, void *opaque);

/*
 * Frames are never copied: stages pass references. The producer (a source)
 * owns the FpFrame structs (usually a free list of its own), fills the plain
 * fields and calls fp_frame_init_ref() before it publishes the frame; the
 * plain fields are read-only afterwards. The reference count is reached only
 * through fp_frame_ref/fp_frame_unref (framepipe/atomic.h says why).
 */
struct FpFrame {
    uint8_t *data[FP_FRAME_MAX_PLANES];
    int linesize[FP_FRAME_MAX_PLANES];
    int width, height;
    FpPixelFormat format;

    int camera;          /* camera / source index */
    uint64_t seq;        /* per-camera sequence number, from 0, no gaps at the source */
    int64_t pts_ns;      /* presentation time in the stream, ns */
    int64_t capture_ns;  /* wall clock when the frame was decoded, ns since epoch */
    int64_t decoded_ns;  /* monotonic clock when the frame was decoded (latency origin) */

    FpBuffer *buf[FP_FRAME_MAX_PLANES]; /* pool buffers backing the planes (may be NULL) */
    FpFrameReleaseFn release;
    void *release_opaque;
    FP_ATOMIC(int) refcount; /* private: fp_frame_init_ref / fp_frame_ref / fp_frame_unref only */
};

/*
 * Makes `f` a live frame: one reference, owned by the caller, and `release`
 * (may be NULL) called with `opaque` when the last reference is dropped.
 * Touches no other field. Only the producer, before the frame is published
 * to other threads (a live frame must not be re-initialised). Cannot fail.
 */
void fp_frame_init_ref(FpFrame *f, FpFrameReleaseFn release, void *opaque);

/*
 * Adds a reference, owned by the caller, and returns f (f must be live: the
 * caller already holds a reference). Any thread. Cannot fail.
 */
FpFrame *fp_frame_ref(FpFrame *f);

/*
 * Drops the caller's reference and sets *pf to NULL; the last reference runs
 * `release` on the calling thread. NULL or *pf == NULL: no-op. Any thread.
 */
void fp_frame_unref(FpFrame **pf);

#ifdef __cplusplus
}
#endif
#endif
