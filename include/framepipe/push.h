// SPDX-License-Identifier: MIT
// Pictures handed in by the application (HTTP uploads): the push: source's queue, image decoding from memory into pool frames.
#ifndef FRAMEPIPE_PUSH_H
#define FRAMEPIPE_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"
#include "framepipe/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * FpPushQueue: a bounded queue of frames from the application to a source
 * whose url is "push:NAME" (FP_SOURCE_PUSH). The source's thread takes each
 * frame, re-wraps its planes (the same pool buffers, referenced: no pixel
 * copy) in one of its own frames and emits it like a camera's, so it joins
 * the pipeline's batcher with the live cameras. The source's frame has the
 * same data[0] pointer as the submitted one, which is how the application
 * finds its result among the sinks' frames.
 *
 * Queues are found by NAME in a process-wide registry: create the queue
 * before the pipeline opens the source. Thread-safe: any thread may submit.
 */
typedef struct FpPushQueue FpPushQueue;

/*
 * Creates and registers the queue NAME (1..63 bytes) holding at most
 * `capacity` frames (1..4096). 0, FP_EINVALID, FP_EEXISTS (a queue of
 * that name exists) or -ENOMEM; *out untouched on failure.
 */
int fp_push_queue_create(FpPushQueue **out, const char *name, int capacity);

/*
 * Adds a reference to `frame` and queues it. 0; FP_EWOULD_BLOCK when the
 * queue is full (the caller answers "busy"); FP_EFLUSHING once closed.
 * Never blocks. The frame's planes must stay unchanged until its last
 * reference is dropped.
 */
int fp_push_queue_submit(FpPushQueue *q, FpFrame *frame);

/* Frames waiting. Any thread. */
int fp_push_queue_depth(FpPushQueue *q);

/*
 * Closes the queue (submit returns FP_EFLUSHING, the source ends), drops
 * the frames still queued, unregisters and frees it; *q = NULL. The source
 * reading it must be closed first. NULL-safe.
 */
void fp_push_queue_destroy(FpPushQueue **q);

/* Internal to ingest's push source: the queue named NAME with one more reference, or NULL. */
FpPushQueue *fp__push_queue_find(const char *name);
void fp__push_queue_release(FpPushQueue *q);
/* Waits up to timeout_ns for a frame (the caller owns its reference). 1, 0 on timeout, FP_EFLUSHING. */
int fp__push_queue_take(FpPushQueue *q, FpFrame **out, int64_t timeout_ns);

/* ---- images from memory ---- */

typedef struct FpImageLimits {
    int max_width, max_height; /* default 8192 x 8192 */
} FpImageLimits;

typedef enum FpImageType {
    FP_IMAGE_UNKNOWN = 0,
    FP_IMAGE_JPEG,
    FP_IMAGE_PNG,
    FP_IMAGE_WEBP,
} FpImageType;

/*
 * Reads the type and the size from the first bytes of an encoded picture
 * (JPEG SOF, PNG IHDR, WebP VP8/VP8L/VP8X), without decoding. Returns the
 * type (> 0) with *w, *h set (0 when the header holding them is missing),
 * or FP_EUNSUPPORTED for bytes that are none of the three. Any thread.
 */
int fp_image_probe(const uint8_t *data, size_t len, int *w, int *h);

/*
 * Decodes a JPEG, PNG or WebP picture from memory (libavcodec) into a new
 * frame in `pool` memory: YUV420P for JPEG/WebP, RGB24 for PNG (so a PNG
 * round trip keeps its pixels exactly), GRAY8 for grey pictures. The size
 * is checked from the header first: larger than `lim` is FP_ERANGE naming
 * the size and the limit, nothing decoded. Not a picture: FP_EUNSUPPORTED;
 * a truncated or corrupt one: FP_ECORRUPT; the pool exhausted: FP_EWOULD_BLOCK.
 * The bytes are copied once into a padded buffer for libavcodec
 * (fp_image_decode_buffer() avoids that copy). On success *out holds one reference (fp_frame_unref frees it).
 * Any thread, concurrently.
 */
int fp_image_decode(const uint8_t *data, size_t len, FpPool *pool, const FpImageLimits *lim, FpFrame **out);

/*
 * The bytes past an encoded picture that fp_image_decode_buffer() needs in
 * its buffer (libavcodec's AV_INPUT_BUFFER_PADDING_SIZE; they are zeroed).
 */
#define FP_IMAGE_PADDING 64

/*
 * fp_image_decode() without any copy of the bytes: `body` is the pool
 * buffer the picture was received into, its first `len` bytes the picture,
 * and at least FP_IMAGE_PADDING more bytes of room (FP_EINVALID otherwise).
 * libavcodec reads the buffer itself (it takes a reference while decoding)
 * and writes the picture into `pool` memory. Decoder contexts are kept in a
 * small process-wide cache and reused (fp_image_decoders_free() closes the
 * idle ones). The caller keeps its reference to `body`. Any thread.
 */
int fp_image_decode_buffer(FpBuffer *body, size_t len, FpPool *pool, const FpImageLimits *lim, FpFrame **out);

/* Closes the cached decoder contexts not in use (at shutdown). Any thread. */
void fp_image_decoders_free(void);

/*
 * Wraps raw pixels already in a pool buffer (tightly packed planes: the
 * layout of framepipe's raw source) as a frame, without a copy. Takes over
 * the caller's reference to `buf` on success. FP_EINVALID when `len` is not
 * the size of a width x height frame of `format`, or FP_ERANGE past `lim`.
 */
int fp_image_wrap_raw(FpBuffer *buf, size_t len, int width, int height, FpPixelFormat format,
                      const FpImageLimits *lim, FpFrame **out);

#ifdef __cplusplus
}
#endif
#endif
