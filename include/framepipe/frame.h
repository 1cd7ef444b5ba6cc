// SPDX-License-Identifier: MIT
// FpFrame: a refcounted view of one decoded picture in pool memory (planes, strides, format, timing, camera).
#ifndef FRAMEPIPE_FRAME_H
#define FRAMEPIPE_FRAME_H

#include <stdatomic.h>
#include <stdint.h>

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

const char *fp_pixel_format_name(FpPixelFormat f);

/* Parses a name fp_pixel_format_name gives ("yuv420p", ...) into *out. Returns 0 or FP_EINVALID (named). */
int fp_pixel_format_parse(const char *name, FpPixelFormat *out);

#define FP_FRAME_MAX_PLANES 4

typedef struct FpFrame FpFrame;

/*
 * Frames are never copied: stages pass references. The producer (a source)
 * owns the FpFrame structs (usually a free list of its own) and sets
 * `release`, which runs once when the last reference is dropped; it must
 * drop the `buf` references and recycle the struct. Plain fields are
 * written by the producer before the frame is published and read-only
 * afterwards.
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
    void (*release)(FpFrame *frame, void *opaque);
    void *release_opaque;
    _Atomic int refcount;
};

/* Adds a reference; returns f. Any thread. */
static inline FpFrame *fp_frame_ref(FpFrame *f)
{
    atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
    return f;
}

/* Drops a reference, sets *f to NULL; the last one calls release. Any thread. */
static inline void fp_frame_unref(FpFrame **pf)
{
    FpFrame *f = *pf;
    *pf = 0;
    if (f && atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_acq_rel) == 1 && f->release)
        f->release(f, f->release_opaque);
}

#ifdef __cplusplus
}
#endif
#endif
