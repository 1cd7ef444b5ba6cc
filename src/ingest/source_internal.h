// SPDX-License-Identifier: MIT
// Private interface between the generic source (thread, queue, reconnect) and its backends (libav, images, raw).
#ifndef FP_INGEST_SOURCE_INTERNAL_H
#define FP_INGEST_SOURCE_INTERNAL_H

#include "framepipe/source.h"

#include <stdatomic.h>

/*
 * A backend is a constant table (FFmpeg's HWContextType idea). One
 * "session" is open -> pump* -> close; the generic code reopens a live
 * source after an error. pump() produces zero or more frames through
 * fp__source_emit() and returns 0 to be called again, FP_EEND_OF_STREAM
 * at the end of the input, or an error (message recorded with fp_error()
 * on the calling thread, naming the source).
 */
typedef struct FpSourceBackend {
    const char *name;
    int (*open)(FpSource *src, void **priv);
    int (*pump)(FpSource *src, void *priv);
    int (*rewind)(FpSource *src, void *priv); /* optional: back to start_s (loop) */
    void (*close)(FpSource *src, void **priv);
} FpSourceBackend;

extern const FpSourceBackend fp__source_libav;
extern const FpSourceBackend fp__source_images;
extern const FpSourceBackend fp__source_raw;
extern const FpSourceBackend fp__source_ring;
extern const FpSourceBackend fp__source_push;

/* The effective, copied configuration (strings owned by the source). */
const FpSourceConfig *fp__source_cfg(const FpSource *src);
int fp__source_is_live(const FpSource *src);
/* 1 once fp_source_close() asked the thread to stop (any thread). */
int fp__source_stopping(const FpSource *src);

/*
 * Takes a pool buffer of `size` bytes for the source, waiting in slices of
 * pool_timeout_ns while the pool is exhausted and the source is not
 * stopping. Thread-safe (libavcodec frame threads call it). Returns 0,
 * FP_EFLUSHING when stopping, FP_ETOO_LARGE (recorded in the status).
 */
int fp__source_acquire(FpSource *src, size_t size, FpBuffer **out);

/* A frame struct from the source's free list, refcount 1, release set; NULL on ENOMEM. */
FpFrame *fp__source_frame_get(FpSource *src);

/*
 * Hands a filled frame (planes, buf, size, format, pts_ns) to the source:
 * applies start/stop/fps/every-Nth, stamps camera/seq/clocks, queues it by
 * policy (blocking when lossless). Consumes the caller's reference in every
 * case. Returns 0, FP_EEND_OF_STREAM (stop_s reached) or FP_EFLUSHING
 * (stopping).
 */
int fp__source_emit(FpSource *src, FpFrame *frame);

/* Counters bumped by backends (any thread). */
void fp__source_count_copy(FpSource *src);
void fp__source_count_decode_error(FpSource *src);
/* Records an error text in the status without ending the session (any thread). */
void fp__source_note_error(FpSource *src, int code, const char *msg);
void fp__source_set_decoder(FpSource *src, const char *name, int hw_active);
/* Sets FpSourceStatus.frames_expected (backends, after opening the input; n <= 0: unknown). Any thread. */
void fp__source_set_frames_expected(FpSource *src, int64_t n);
/* Monotonic time of the last frame out of the decoder (or of the open); stall detection. */
int64_t fp__source_last_activity(const FpSource *src);
void fp__source_touch(FpSource *src);

/* libav helpers shared with the images backend. */
typedef struct FpLav FpLav;
/* Opens `url` with libavformat (format: NULL or a demuxer name) and its best video stream's decoder. */
int fp__lav_open(FpSource *src, const char *url, const char *format, int image, FpLav **out);
/* Reads, decodes and emits; 0, FP_EEND_OF_STREAM or an error. */
int fp__lav_pump(FpLav *lav);
int fp__lav_rewind(FpLav *lav);
/* Forces every frame's pts (images). */
void fp__lav_set_pts(FpLav *lav, int64_t pts_ns);
void fp__lav_close(FpLav **lav);
/* Frames emitted and decode errors seen by this FpLav. */
uint64_t fp__lav_frames(const FpLav *lav);
uint64_t fp__lav_errors(const FpLav *lav);

#endif
