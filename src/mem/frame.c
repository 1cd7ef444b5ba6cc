// SPDX-License-Identifier: MIT
// FpFrame helpers: the reference count, pixel format names and their parser.
//
// The reference count follows FFmpeg's AVBuffer: increments are relaxed (the
// caller already holds a reference, so nothing can be released meanwhile),
// the decrement is acq_rel so the thread that runs `release` sees every write
// other holders made before they dropped theirs. ref/unref are out of line
// (not static inline in frame.h) so that C++ programs never touch the
// FP_ATOMIC member (framepipe/atomic.h); the cost is one direct call next to
// a locked read-modify-write, a few per frame.
#include "framepipe/frame.h"

#include "framepipe/error.h"

#include <stdatomic.h>
#include <string.h>

/* The C++ view of FpFrame declares the count as alignas(int) int: same size and alignment required. */
_Static_assert(sizeof(_Atomic int) == sizeof(int) && _Alignof(_Atomic int) == sizeof(int),
               "FP_ATOMIC(int) must have one layout in C and C++");

void fp_frame_init_ref(FpFrame *f, FpFrameReleaseFn release, void *opaque)
{
    f->release = release;
    f->release_opaque = opaque;
    atomic_init(&f->refcount, 1);
}

FpFrame *fp_frame_ref(FpFrame *f)
{
    atomic_fetch_add_explicit(&f->refcount, 1, memory_order_relaxed);
    return f;
}

void fp_frame_unref(FpFrame **pf)
{
    if (!pf || !*pf)
        return;
    FpFrame *f = *pf;
    *pf = NULL;
    if (atomic_fetch_sub_explicit(&f->refcount, 1, memory_order_acq_rel) == 1 && f->release)
        f->release(f, f->release_opaque);
}

const char *fp_pixel_format_name(FpPixelFormat f)
{
    switch (f) {
    case FP_PIX_NONE:
        return "none";
    case FP_PIX_YUV420P:
        return "yuv420p";
    case FP_PIX_NV12:
        return "nv12";
    case FP_PIX_RGB24:
        return "rgb24";
    case FP_PIX_BGR24:
        return "bgr24";
    case FP_PIX_GRAY8:
        return "gray8";
    }
    return "unknown";
}

int fp_pixel_format_parse(const char *name, FpPixelFormat *out)
{
    for (FpPixelFormat f = FP_PIX_YUV420P; f <= FP_PIX_GRAY8; f++) {
        if (name && !strcmp(name, fp_pixel_format_name(f))) {
            *out = f;
            return 0;
        }
    }
    return fp_error(FP_EINVALID, "pixel format '%s' is not yuv420p, nv12, rgb24, bgr24 or gray8",
                    name ? name : "");
}
