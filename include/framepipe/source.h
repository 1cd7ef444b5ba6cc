// SPDX-License-Identifier: MIT
// FpSource: one camera or file (video file, RTSP, HTTP/HLS, V4L2, images, raw frames) decoded on its own thread into pool memory.
#ifndef FRAMEPIPE_SOURCE_H
#define FRAMEPIPE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"
#include "framepipe/metrics.h"
#include "framepipe/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A source runs one thread that demuxes and decodes; the decoder writes
 * straight into FpPool buffers (libavcodec get_buffer2), and finished frames
 * wait in a small bounded per-source queue:
 *   - lossless: the decoding thread blocks while the queue is full (files);
 *   - latest:   the oldest queued frame is dropped and counted (live).
 * A live source that errors or stalls is closed and reopened with
 * exponential backoff; other sources are never blocked by it (one thread
 * each). The backend (libav, images, raw, ring) is a constant table picked
 * from the URL or the config (see docs/ingest.md).
 *
 * Frame timing: pts_ns is the stream's timestamp (its time base converted
 * to ns) relative to the stream start; it keeps increasing across file loops
 * and live reconnects (offset to continue after the last frame).
 * capture_ns is the wall clock when the frame left the decoder.
 */

typedef struct FpSource FpSource;

typedef enum FpSourceKind {
    FP_SOURCE_AUTO = 0, /* guess from the URL: scheme, /dev/video*, folder, image extension, "-" */
    FP_SOURCE_LIBAV,    /* anything libavformat opens: files, rtsp://, http(s)://, HLS, v4l2 */
    FP_SOURCE_IMAGES,   /* one image file or a folder of images (sorted by name) */
    FP_SOURCE_RAW,      /* raw frames of raw_width x raw_height x raw_format: "-" (stdin), "fd:N" or a path */
    FP_SOURCE_RING,     /* "ring:NAME": an FpRing written by another process (one copy into the pool) */
    FP_SOURCE_PUSH,     /* "push:NAME": frames the application submits to the FpPushQueue NAME (framepipe/push.h) */
} FpSourceKind;

typedef enum FpSourcePolicy {
    FP_POLICY_DEFAULT = 0, /* lossless for files, images and raw; latest for live streams */
    FP_POLICY_LATEST,
    FP_POLICY_LOSSLESS,
} FpSourcePolicy;

typedef enum FpHwDecode {
    FP_HW_NONE = 0,
    FP_HW_AUTO,  /* try CUDA, then VAAPI; software when neither works */
    FP_HW_CUDA,
    FP_HW_VAAPI,
} FpHwDecode;

typedef enum FpRtspTransport {
    FP_RTSP_TCP = 0,
    FP_RTSP_UDP,
} FpRtspTransport;

/* Whether a source is live (reconnects, never ends, latest policy by default) or read to its end. */
typedef enum FpLiveMode {
    FP_LIVE_AUTO = 0, /* from the URL: rtsp/rtmp/udp/srt/http(s)/v4l2 and ring sources are live */
    FP_LIVE_YES,      /* live whatever the URL */
    FP_LIVE_NO,       /* read to the end whatever the URL (a VOD playlist, a file over HTTPS) */
} FpLiveMode;

/* Frames the decoder may leave undecoded (libavcodec's skip_frame), to save CPU when sampling below the stream rate. */
typedef enum FpSkipFrames {
    FP_SKIP_NONE = 0, /* decode every frame (default) */
    FP_SKIP_NONREF,   /* leave out frames no other frame refers to (B-frames, mostly) */
    FP_SKIP_NONKEY,   /* key frames only */
} FpSkipFrames;

typedef struct FpSourceConfig {
    const char *url;          /* required; copied */
    const char *name;         /* for logs and status (default: the URL); copied */
    int camera;               /* copied into every frame */
    FpSourceKind kind;
    FpLiveMode live;          /* default FP_LIVE_AUTO */
    FpSourcePolicy policy;
    unsigned queue_depth;     /* frames waiting for the consumer (0: 2 when latest, 4 when lossless) */

    double target_fps;        /* > 0: keep at most this many frames per second of stream time */
    unsigned every_nth;       /* > 1: keep every Nth decoded frame */
    double start_s, stop_s;   /* files: seek to start_s, end at stop_s (0: the end) */
    int loop;                 /* files: start again at the end (pts keep increasing) */

    FpRtspTransport rtsp_transport;
    int64_t open_timeout_ns;    /* opening a stream (default 10 s) */
    int64_t stall_timeout_ns;   /* live: no frame for this long = stalled, reconnect (default 5 s) */
    int64_t backoff_min_ns;     /* first reconnect delay (default 250 ms) */
    int64_t backoff_max_ns;     /* cap of the doubling delay (default 10 s) */
    int64_t pool_timeout_ns;    /* how long one pool acquire waits before retrying (default 100 ms) */

    FpHwDecode hw;            /* hardware decoding; falls back to software with a log line */
    const char *hw_device;    /* e.g. "/dev/dri/renderD128" or "0"; NULL: default; copied */
    int decoder_threads;      /* 0: libavcodec picks (frame+slice threads); 1: no threads */
    /* libavformat protocols the URL may use, comma-separated (e.g. "file,concat"); NULL: by the URL's
     * scheme (a path: file; rtsp: rtsp, rtp, udp, tcp, tls; http: http, https, tcp, tls; docs/ingest.md); copied */
    const char *protocols;
    int skip_loop_filter;     /* 1: skip the in-loop deblocking filter (H.264/HEVC/VP9...): less CPU, blockier edges */
    FpSkipFrames skip_frames; /* FP_SKIP_NONE; leaving frames out changes what target_fps/every_nth pick from */

    int raw_width, raw_height;   /* FP_SOURCE_RAW */
    FpPixelFormat raw_format;
    double raw_fps;              /* pts spacing of raw frames and images (default 25 / 1) */

    /* NULL, or a histogram each decoded frame's time inside libavcodec (ns, on the source thread:
       the send_packet and receive_frame calls since the previous frame came out) is recorded into;
       the pipeline's stage="decode". Not owned: must outlive the source. */
    FpHistogram *decode_hist;
} FpSourceConfig;

/* Fills a caller-owned config with the defaults above (url NULL). Any thread; never fails. */
void fp_source_config_init(FpSourceConfig *cfg);

typedef enum FpSourceState {
    FP_SOURCE_IDLE = 0,     /* opened, not started */
    FP_SOURCE_OPENING,
    FP_SOURCE_RUNNING,
    FP_SOURCE_RECONNECTING, /* waiting out the backoff before reopening */
    FP_SOURCE_ENDED,        /* end of file (after the queue drains: FP_EEND_OF_STREAM) */
    FP_SOURCE_FAILED,       /* a file that cannot be read; last_error says why */
    FP_SOURCE_STOPPED,
} FpSourceState;

/* "running", "reconnecting", ...: a static string, never NULL. */
const char *fp_source_state_name(FpSourceState s);

typedef struct FpSourceStatus {
    FpSourceState state;
    FpSourcePolicy policy;    /* the effective policy (latest or lossless) */
    int live;                 /* 1 for a live source (reconnects, never ends) */
    uint64_t frames;          /* frames handed to the queue (seq of the next frame) */
    uint64_t decoded;         /* frames out of the decoder (before fps / every-Nth decimation) */
    uint64_t decimated;       /* decoded frames not kept by target_fps / every_nth / start_s */
    uint64_t skipped;         /* frames dropped by the latest policy (queue full) */
    uint64_t copies;          /* frames that had to be copied or converted into pool memory */
    uint64_t decode_errors;   /* packets the decoder rejected (corrupt data), source kept going */
    uint64_t reconnects;      /* reopen attempts after a failure or stall */
    uint64_t resolution_changes;
    /*
     * Frames the input holds, known once the source thread has opened it
     * (before its first frame is queued): a file's video stream frame count
     * (its nb_frames, else duration x average frame rate; not a duration
     * libavformat only estimated from the bit rate), or the number of image
     * files of an image source. 0 when unknown: not opened yet, live streams,
     * raw frames, rings, files that say neither. One pass of the whole input:
     * start_s/stop_s, target_fps, every_nth and loop are not applied, and an
     * image that does not decode still counts. Compare with `decoded` (frames
     * out of the decoder). Progress display only; a truncated file decodes
     * fewer (see last_error).
     */
    int64_t frames_expected;
    unsigned queued;          /* frames waiting now */
    int width, height;        /* of the last frame */
    FpPixelFormat format;
    int hw_active;            /* 1 when a hardware decoder is in use */
    int last_error_code;      /* 0 or the last error */
    char last_error[256];     /* text of the last error, naming the source */
    char decoder[32];         /* codec name in use */
} FpSourceStatus;

/*
 * Validates the config and prepares a source; nothing is opened until
 * fp_source_start(). `pool` supplies frame memory and is borrowed: it must
 * outlive the source and every frame it produced. Pass NULL for a private
 * pool sized from the first frame. The config's strings are copied. On
 * success *out owns the source (fp_source_close). Returns 0, FP_EINVALID /
 * FP_ECONFIG (message names the field), -ENOMEM. On failure *out is
 * untouched and nothing stays allocated. Any thread; the handle then
 * belongs to one owner thread (start, close), the other functions say
 * which threads may call them.
 */
int fp_source_open(FpSource **out, const FpSourceConfig *cfg, FpPool *pool);

/*
 * Starts the source's thread (once, by the handle's owner). Returns 0,
 * FP_EINVALID when already started, -errno when the thread cannot start
 * (the source stays usable for fp_source_close()).
 */
int fp_source_start(FpSource *src);

/*
 * Takes the next frame, waiting up to timeout_ns (0: do not wait; < 0:
 * forever). On success *out holds one reference the caller must drop with
 * fp_frame_unref(). Returns 0, FP_ETIMEOUT, FP_EEND_OF_STREAM once a
 * finished source's queue is empty, or the error of a failed source (with
 * fp_error_detail() naming the source), FP_EINVALID before fp_source_start;
 * *out untouched on failure. One consumer thread at a time.
 * A call waiting while fp_source_close() runs on another thread returns
 * FP_EFLUSHING; no new call may start once close has begun.
 */
int fp_source_next(FpSource *src, FpFrame **out, int64_t timeout_ns);

/*
 * Registers `fn`, called on the source's thread (no lock held) after each
 * frame is queued and once when the source finishes, so that one consumer
 * can wait for many sources (the pipeline's batcher) instead of blocking in
 * fp_source_next on each. `fn` must be quick and must not call back into
 * this source. Before fp_source_start only: FP_EINVALID afterwards.
 */
int fp_source_set_notify(FpSource *src, void (*fn)(void *opaque), void *opaque);

/* Copies a snapshot of counters and state into the caller's *out. Any thread; never fails. */
void fp_source_get_status(FpSource *src, FpSourceStatus *out);

/*
 * Copies the stats of the pool the source's frames live in (the borrowed
 * pool, or the private one once the first frame sized it) into *out.
 * Returns 0, or FP_ENOT_FOUND (zeroed *out) before a private pool exists.
 * Any thread.
 */
int fp_source_get_pool_stats(FpSource *src, FpPoolStats *out);

/* The source's name (config name, else its URL); owned by the source, valid until close. */
const char *fp_source_name(const FpSource *src);

/*
 * Registers the source's status with a metrics registry, labelled
 * source="NAME",camera="N": fp_source_frames, _decoded, _decimated,
 * _skipped, _copies (frames copied or converted into pool memory: 0 on the
 * zero-copy path), _decode_errors, _reconnects, _queued, _state (the
 * FpSourceState number). Read at export time. fp_source_close() removes
 * them; the registry must outlive the source. One registry per source.
 * Returns 0, FP_EINVALID (NULL, or already registered), or the registry's
 * error, with none of the source's series left registered. The owner's
 * thread, before or after start, not concurrently with fp_source_close;
 * the gauges are read on whatever thread exports the registry (they take
 * the source's lock).
 */
int fp_source_add_metrics(FpSource *src, FpMetrics *metrics);

/*
 * Stops decoding and joins the source's thread, but keeps the frames already
 * queued: fp_source_next still returns them, then FP_EFLUSHING. For a
 * draining shutdown (stop every source, process what was decoded, then
 * close). Idempotent. Any thread except the source's own and except from its
 * notify callback.
 */
void fp_source_stop(FpSource *src);

/*
 * Stops the thread, drops queued frames and the caller's handle, and sets
 * *src to NULL. Frames still held by the caller stay valid; the last one
 * frees the remaining bookkeeping. Any thread except the source's own.
 */
void fp_source_close(FpSource **src);

/*
 * The one-time libav set-up every libav user in framepipe calls first
 * (sources, the annotation sink): devices registered, network initialised,
 * libav's own log messages routed through fp_log (debug level; a source's
 * decoder errors are also counted for its status). Idempotent, any thread.
 */
void fp_libav_init(void);

#ifdef __cplusplus
}
#endif
#endif
