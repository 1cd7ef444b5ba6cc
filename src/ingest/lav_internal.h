// SPDX-License-Identifier: MIT
// Private to ingest: libavcodec decoding straight into FpPool buffers (the get_buffer2 body lavsrc.c and imgdecode.c share).
#ifndef FP_INGEST_LAV_INTERNAL_H
#define FP_INGEST_LAV_INTERNAL_H

#include <stddef.h>

#include <libavcodec/avcodec.h>

#include "framepipe/frame.h"
#include "framepipe/pool.h"

/* Where the planes' memory comes from: 0 and *out, or a framepipe error code. */
typedef int (*FpLavAcquire)(void *opaque, size_t size, FpBuffer **out);

/*
 * The body of a get_buffer2 callback for a format fp__lav_native_format()
 * knows: one buffer from `acquire` holds every plane, laid out with the
 * alignment and padding libavcodec asks for; frame->buf[0] wraps it (its
 * opaque is the FpBuffer, released with the AVBufferRef). 0, the error
 * `acquire` returned, FP_EINVALID or -ENOMEM. Thread-safe if `acquire` is.
 */
int fp__lav_pool_get_buffer(AVCodecContext *avctx, AVFrame *frame, FpLavAcquire acquire, void *opaque);

/* The FpPixelFormat framepipe keeps for an AVPixelFormat natively, FP_PIX_NONE otherwise. */
FpPixelFormat fp__lav_native_format(int av_format);

/* The pool buffer a decoded software frame of a native format lies in (fp__lav_pool_get_buffer's), or NULL. */
FpBuffer *fp__lav_pool_buffer_of(const AVFrame *frame);

#endif
