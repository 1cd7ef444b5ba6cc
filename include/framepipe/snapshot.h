// SPDX-License-Identifier: MIT
// FpSnapshotWriter: JPEG snapshots of frames with one box and label drawn, encoded on a background thread into a size-capped folder.
#ifndef FRAMEPIPE_SNAPSHOT_H
#define FRAMEPIPE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"
#include "framepipe/geometry.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The rules engine raises an event on an inference worker; the worker asks
 * for a snapshot and must not pay for it. fp_snapshot_write only takes a
 * reference to the frame (no pixel is copied or read on the caller's
 * thread), puts a job in a bounded queue and returns the file's final path
 * at once, so the event's JSON can name the file before it exists. The
 * writer's own thread then converts the frame into a private RGB scratch
 * picture (any FpPixelFormat; YUV is BT.601 limited range, as decoders
 * give it), draws the box (2 px, 3 px when the short side is >= 720) and
 * the label in the class colour (fp_annotate_class_color), encodes it with
 * libturbojpeg (4:4:4, so thin coloured lines keep their colour), writes
 * "<dir>/.<file>.tmp" and renames it to "<dir>/<prefix><name>.jpg" (a
 * reader never sees half a file), drops the frame reference, and removes
 * the oldest of its own files until the folder's total is at most
 * max_bytes (the newest file is always kept).
 *
 * "Its own files" are the *.jpg files of `dir` whose names start with
 * `prefix`: those found at create (oldest first by modification time) and
 * those it writes afterwards. Other files in the folder are never touched.
 *
 * Holding a frame reference keeps its pool buffer busy until the job is
 * encoded: at most queue_depth + 1 frames are held at a time.
 */
typedef struct FpSnapshotWriter FpSnapshotWriter;

#define FP_SNAPSHOT_DEFAULT_MAX_BYTES (256ull << 20) /* 256 MiB */
#define FP_SNAPSHOT_DEFAULT_QUALITY 85
#define FP_SNAPSHOT_DEFAULT_QUEUE 16
#define FP_SNAPSHOT_DEFAULT_PREFIX "snap-"
#define FP_SNAPSHOT_MAX_QUEUE 4096
#define FP_SNAPSHOT_LABEL_MAX 64 /* longer labels are cut */

typedef struct FpSnapshotConfig {
    const char *dir;    /* required; created (one level) when missing and its parent exists; copied */
    const char *prefix; /* names the writer's files; NULL: FP_SNAPSHOT_DEFAULT_PREFIX; "" owns every *.jpg of dir; copied */
    uint64_t max_bytes; /* cap of the total size of the writer's files; 0: FP_SNAPSHOT_DEFAULT_MAX_BYTES */
    int quality;        /* JPEG quality 1..100; 0: FP_SNAPSHOT_DEFAULT_QUALITY */
    int queue_depth;    /* jobs waiting at most, 1..FP_SNAPSHOT_MAX_QUEUE; 0: FP_SNAPSHOT_DEFAULT_QUEUE */
} FpSnapshotConfig;

/* Counters since create. */
typedef struct FpSnapshotStats {
    uint64_t written;   /* files written completely (renamed into place) */
    uint64_t dropped;   /* writes refused with FP_EWOULD_BLOCK (queue full) */
    uint64_t errors;    /* jobs that failed (conversion, encoding, file system; each logged naming the file) */
    uint64_t bytes;     /* bytes of the files written */
    uint64_t removed;   /* files removed to keep the folder under max_bytes */
    uint64_t dir_bytes; /* the writer's files in the folder now (found at create plus written, minus removed) */
    uint64_t queued;    /* jobs waiting now */
} FpSnapshotStats;

/* Fills *cfg with the defaults (dir NULL: set it). Any thread. */
void fp_snapshot_config_init(FpSnapshotConfig *cfg);

/*
 * Creates a writer and starts its thread. cfg is copied. The folder is
 * created when missing (mode 0755; only its last component) and scanned for
 * the writer's existing files, which count towards max_bytes (the oldest are
 * removed by the first write that goes over the cap, not here).
 * Returns 0 and *out (the caller owns it: fp_snapshot_destroy), or
 * FP_EINVALID (out or cfg NULL, no dir, a prefix with '/', a value out of
 * range), -ENOENT (the parent folder is missing), -ENOTDIR, -EACCES or
 * another -errno naming the folder (fp_error_detail), or -ENOMEM / -EAGAIN
 * (no thread). *out is untouched on failure; a folder it created stays.
 * Any thread.
 */
int fp_snapshot_create(FpSnapshotWriter **out, const FpSnapshotConfig *cfg);

/*
 * Queues a snapshot of `frame` with `box` (source pixels; NULL: no box) in
 * the colour of class_id (any int; see fp_annotate_class_color) and `label`
 * (NULL or "": none; cut to FP_SNAPSHOT_LABEL_MAX - 1 bytes, non-ASCII shown
 * as '?') drawn above it, to be written as "<dir>/<prefix><name>.jpg".
 * `name` is 1..200 bytes without '/' and not "." or "..", and
 * "<prefix><name>.jpg" at most NAME_MAX - 6 bytes (an existing file of that
 * name is replaced). The frame must be live (initialised with
 * fp_frame_init_ref; the caller holds a reference): the writer takes its own
 * reference and drops it after encoding, so the caller may drop its
 * reference at once; the pixels must not change until then (pool frames do
 * not). No pixel is read here; nothing blocks but a short mutex.
 * On success writes the final path, NUL-terminated, into path_out (the file
 * appears later; fp_snapshot_flush waits for it) and returns 0.
 * Returns FP_EWOULD_BLOCK when queue_depth jobs are waiting (counted in
 * `dropped`, not logged: the caller decides), FP_ETOO_LARGE when the path
 * does not fit in path_cap, FP_EINVALID (NULL w, frame, name or path_out, a
 * bad name, a frame of unknown format or size < 1), FP_EFLUSHING while
 * destroy runs; on failure nothing is queued, no reference is kept and
 * path_out is untouched. Any thread, concurrently.
 */
int fp_snapshot_write(FpSnapshotWriter *w, const FpFrame *frame, const FpBox *box, int class_id,
                      const char *label, const char *name, char *path_out, size_t path_cap);

/*
 * Waits until every job queued before the call has been written (or has
 * failed). Returns 0, or FP_EINVALID for NULL. Any thread but the
 * writer's; jobs queued meanwhile by other threads may be waited for too.
 */
int fp_snapshot_flush(FpSnapshotWriter *w);

/* Copies the counters into *out (a consistent snapshot of them). Any thread. No-op for NULL arguments. */
void fp_snapshot_stats(const FpSnapshotWriter *w, FpSnapshotStats *out);

/*
 * Writes every job still queued (destroy drains; a caller that must not
 * wait for them stops queueing first and accepts the delay of at most
 * queue_depth encodes), joins the thread, drops every frame reference and
 * frees the writer; sets *w to NULL. NULL or *w == NULL: no-op. Writes that
 * race with destroy get FP_EFLUSHING until it returns; none may start
 * after. Any thread but the writer's, once per writer.
 */
void fp_snapshot_destroy(FpSnapshotWriter **w);

#ifdef __cplusplus
}
#endif
#endif
