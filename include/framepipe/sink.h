// SPDX-License-Identifier: MIT
// Result sinks: the FpSinkFn and FpEventSinkFn interfaces the pipeline feeds; JSON lines (one line per frame, one per event) and annotated output (boxes drawn into a video per camera or PNG frames).
#ifndef FRAMEPIPE_SINK_H
#define FRAMEPIPE_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "framepipe/detect.h"
#include "framepipe/frame.h"
#include "framepipe/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The sink interface: the pipeline (and anything else that produces
 * results) hands each processed frame to every registered FpSinkFn.
 */
/* Per-frame result handed to sinks. Everything is borrowed for the duration of the call only. */
typedef struct FpFrameResult {
    const FpFrame *frame;           /* the decoded frame (camera, seq, pts, capture time, pixels) */
    const char *camera_name;
    const FpDetection *dets;
    int n_dets;
    const char *const *class_names; /* n_classes names (may be NULL) */
    int n_classes;
    int n_keypoints;                /* per detection, 0 when the model has none */
    /* per-stage latencies, ns: decoded -> taken into a batch, prep, inference, post */
    int64_t queue_ns, prep_ns, infer_ns, post_ns;
    int batch_size;                 /* frames in the batch this one ran in */
    const uint64_t *track_ids;      /* n_dets track ids (0: the detection has none), NULL when tracking is off */
} FpFrameResult;

/* A sink: called on a worker thread for every processed frame. Returns 0 or a negative error (logged). */
typedef int (*FpSinkFn)(void *opaque, const FpFrameResult *result);

/*
 * An event sink: called on the delivering worker thread for every event a
 * camera's rules raise, in the order raised, with the result of the frame
 * the event fired on (its detections and track ids; a snapshot sink can
 * encode its pixels). Both are borrowed for the call only. Returns 0 or a
 * negative error (logged and counted as a sink error).
 */
typedef int (*FpEventSinkFn)(void *opaque, const FpEvent *ev, const FpFrameResult *frame_result);

/*
 * Every sink here is an opaque, thread-safe handle whose write function has
 * the FpSinkFn signature, so the pipeline registers it with
 * fp_pipeline_add_sink(p, fp_jsonl_sink_write, sink). Write functions may be
 * called from several worker threads at once; they read the FpFrameResult
 * (and its frame) and never modify or keep it.
 */

/* ---- JSON lines (docs/jsonl.md) ---- */

typedef struct FpJsonlSink FpJsonlSink;

/*
 * Opens a JSON lines sink on `path`: "-" is standard output (not closed by
 * destroy), anything else a file created or truncated. The path is copied.
 * Returns 0 and *out (the caller owns it: fp_jsonl_sink_destroy), or
 * -errno / FP_EINVALID / -ENOMEM with a message naming the path
 * (fp_error_detail); *out is untouched and no file is created on failure.
 * Any thread.
 */
int fp_jsonl_sink_create(FpJsonlSink **out, const char *path);

/*
 * FpSinkFn: writes one line for `r` (schema in docs/jsonl.md) with a single
 * write(2), so a reader sees it at once and lines from several threads never
 * interleave. No allocation after the first frames (the line buffer only
 * grows when a frame needs more room than any before). Any thread. Returns 0,
 * or -errno of the failed write (-ENOSPC, -EPIPE: a closed pipe never raises
 * SIGPIPE) with a message naming the path; later calls try again.
 */
int fp_jsonl_sink_write(void *sink, const FpFrameResult *r);

/* Lines written completely so far. Any thread. */
uint64_t fp_jsonl_sink_lines(const FpJsonlSink *s);

/* True once a write found the reader of the pipe or socket gone (-EPIPE): no later write can succeed. Any thread. */
bool fp_jsonl_sink_gone(const FpJsonlSink *s);

/*
 * Closes the file (not stdout) and frees the sink; sets *s to NULL (NULL:
 * no-op). A close error is logged, not returned. Any thread, once no write
 * is in progress and none can start (stop the pipeline that calls it first).
 */
void fp_jsonl_sink_destroy(FpJsonlSink **s);

/* ---- events as JSON lines (docs/events.md "## Events") ---- */

typedef struct FpEventsJsonl FpEventsJsonl;

/*
 * Opens an events sink on `path`: "-" is standard output (not closed by
 * destroy), anything else a file created or truncated. The path is copied.
 * Returns 0 and *out (the caller owns it: fp_events_jsonl_destroy), or
 * -errno / FP_EINVALID / -ENOMEM with a message naming the path; *out is
 * untouched and no file is created on failure. Any thread.
 */
int fp_events_jsonl_create(FpEventsJsonl **out, const char *path);

/*
 * FpEventSinkFn: writes `ev` as one line (fp_event_to_json plus a newline)
 * with a single write(2). frame_result is not read (may be NULL). No
 * allocation (lines up to 4 KiB are formatted on the stack; a longer one,
 * from very long names, is allocated for that call). Any thread. Returns 0,
 * -errno of the failed write (message names the path), -ENOMEM, or
 * FP_EINVALID (NULL sink or event).
 */
int fp_events_jsonl_write(void *sink, const FpEvent *ev, const FpFrameResult *frame_result);

/* Lines written completely so far. Any thread. */
uint64_t fp_events_jsonl_lines(const FpEventsJsonl *s);

/* True once a write found the reader of the pipe or socket gone (-EPIPE): no later write can succeed. Any thread. */
bool fp_events_jsonl_gone(const FpEventsJsonl *s);

/* Closes the file (not stdout) and frees the sink; sets *s to NULL (NULL: no-op). Once no write can run. */
void fp_events_jsonl_destroy(FpEventsJsonl **s);

/* ---- annotated video / PNG frames (docs/annotate.md) ---- */

typedef struct FpAnnotateSink FpAnnotateSink;

/*
 * Opens an annotation sink. `target`:
 *  - "*.mp4", "*.mkv", "*.avi", "*.mov": one video per camera; the first
 *    camera writes `target` itself, each later one `target` with
 *    "-<camera name>" inserted before the extension (out.mp4 -> out-cam1.mp4).
 *    libx264 when libavcodec has it, else mpeg4 (FP_ANNOTATE_ENCODER in the
 *    environment names another encoder); yuv420p; timestamps from pts_ns.
 *    `fps` (<= 0: 25) sets the nominal frame rate.
 *  - ending in "/" (created when its parent exists) or an existing
 *    directory: PNG frames "<dir>/<camera>-<seq, 6 digits>.png".
 * Files are opened when a camera's first frame arrives; the directory is
 * checked (and in PNG mode created) here. Returns 0 and *out (the caller
 * owns it: fp_annotate_sink_destroy), or FP_ECONFIG / -errno /
 * FP_EDEPENDENCY (libav lacks the muxer or encoder) / FP_EINVALID (no
 * target) / -ENOMEM with a message naming the target or its directory, or
 * FP_EUNSUPPORTED in a build without annotation. *out untouched on failure;
 * a directory it created stays. Any thread.
 */
int fp_annotate_sink_create(FpAnnotateSink **out, const char *target, double fps);

/*
 * FpSinkFn: copies or converts the frame (any FpPixelFormat) into a picture
 * of its camera (the encoder's yuv420p one for video, RGB for PNG), draws
 * boxes (a colour per class), keypoints and labels, and encodes it; in
 * queue mode (fp_annotate_sink_set_queue) that happens on the sink's thread
 * and the write only queues a frame reference. The input frame is only read. Cameras are told apart by
 * camera_name (or "cam<N>" when NULL). Any thread; frames of different
 * cameras are drawn and encoded in parallel, one camera's in call order.
 * Returns 0 or a negative code with a message naming the output file; a
 * camera whose output failed returns that error from then on. After
 * fp_annotate_sink_close: FP_EFLUSHING.
 */
int fp_annotate_sink_write(void *sink, const FpFrameResult *r);

/*
 * draw false: frames are written as they come, without boxes, keypoints or
 * labels (`framepipe detect --redact`, whose redaction sink changed the
 * pixels before). Default true. Before the first write. NULL: no-op.
 */
void fp_annotate_sink_set_draw(FpAnnotateSink *s, bool draw);

/*
 * Queue mode (`framepipe detect --annotate` uses it): depth > 0 starts the
 * sink's own thread; a write then only checks the camera's earlier error,
 * takes a reference to the frame (fp_frame_ref: the frame must be live, as
 * the pipeline's are; its pixels are never copied, so they must not change
 * afterwards), copies the detections into a preallocated slot and returns;
 * the thread draws into the encoder's picture and encodes, in write order,
 * and drops the reference. A write never waits for the encoder: when
 * `depth` frames are already waiting, the frame is left out of the output,
 * counted in FpAnnotateStats.dropped, and the write returns 0; close logs
 * one warning with the count. Errors of the thread's writes are kept by
 * their camera: the camera's next write and close return them. Held frames
 * count against their source's buffer pool, so a slow encoder also slows
 * the decoder a little before frames are dropped. class_names must outlive
 * close. Once, before the first write. Returns 0, FP_EINVALID (depth outside
 * 0..4096, or called late), -ENOMEM, -errno (thread), FP_EUNSUPPORTED
 * without annotation. 0: synchronous writes (the default).
 */
int fp_annotate_sink_set_queue(FpAnnotateSink *s, int depth);

typedef struct FpAnnotateStats {
    int depth;       /* 0: not in queue mode (all fields 0) */
    int pending;     /* frames waiting now */
    uint64_t queued; /* frames taken into the queue */
    uint64_t written; /* of those, drawn and encoded (or failed with their camera's error) */
    uint64_t dropped; /* frames left out because the queue was full */
} FpAnnotateStats;

/* Queue counters (zeros for NULL or without a queue). Any thread. */
void fp_annotate_sink_get_stats(FpAnnotateSink *s, FpAnnotateStats *st);

/*
 * Queue mode: hold true stops the thread taking frames (writes still queue,
 * and drop when full); false lets it go on; close always releases it. For
 * tests of a full queue, and to pause output. No-op without a queue.
 */
void fp_annotate_sink_hold(FpAnnotateSink *s, bool hold);

/*
 * Finishes every output: flushes the encoders, writes the trailers, closes
 * the files. Returns 0 or the first error met (naming its file), including
 * an earlier failed write; FP_EINVALID for NULL; FP_EUNSUPPORTED in a build
 * without annotation. Idempotent (later calls return the same code); the
 * sink stays allocated until destroy and later writes get FP_EFLUSHING.
 * Any thread, and closes may race each other (the sink's lock), but no write
 * may be in progress or start while it runs: a write that got past the
 * "closed" check would reopen the camera's output.
 */
int fp_annotate_sink_close(FpAnnotateSink *s);

/*
 * Closes (when not yet closed; that error is dropped: call
 * fp_annotate_sink_close first to see it) and frees the sink; sets *s to
 * NULL (NULL: no-op). Any thread, once no write or close is in progress and
 * none can start.
 */
void fp_annotate_sink_destroy(FpAnnotateSink **s);

/* The colour boxes of `class_id` are drawn in (any int; the palette repeats), written to rgb. Any thread; built also with -Dannotate=disabled. */
void fp_annotate_class_color(int class_id, uint8_t rgb[3]);

#ifdef __cplusplus
}
#endif
#endif
