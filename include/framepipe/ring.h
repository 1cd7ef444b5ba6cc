// SPDX-License-Identifier: MIT
// FpRing: a named POSIX shared-memory frame ring, one writer process and many reader processes, zero copy.
#ifndef FRAMEPIPE_RING_H
#define FRAMEPIPE_RING_H

#include <stddef.h>
#include <stdint.h>

#include "framepipe/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One writer creates the ring under a name ("/cam0"); readers in other
 * processes open it by that name and get pointers straight into the shared
 * mapping (no copy). The byte layout is documented in docs/shm-ring.md so
 * that non-C processes (clients/python/fp_ring.py) can map it too.
 *
 * Timeouts are in nanoseconds: a negative timeout waits forever, 0 never
 * waits (FP_EWOULD_BLOCK when the call would have to), a positive one waits
 * at most that long (FP_ETIMEOUT). Waiting is a futex sleep, never a spin.
 *
 * Every error records a detail message naming the segment (fp_error_detail).
 * A handle is used by one thread at a time; different handles (in one or
 * many processes) are independent.
 */

#define FP_RING_MAX_SLOTS 4096           /* more slots than this is refused as absurd */
#define FP_RING_MAX_BYTES (1ull << 40)   /* a segment larger than 1 TiB is refused */
#define FP_RING_MAX_READERS 32           /* lossless readers per ring */
#define FP_RING_NAME_MAX 200

typedef struct FpRing FpRing;

typedef enum FpRingReaderMode {
    /* The writer never waits for this reader; each read returns the newest
     * frame and counts the frames passed over in FpRingView.skipped. */
    FP_RING_LATEST = 0,
    /* The writer waits for this reader (at most slot_count frames ahead of
     * it); every frame is delivered in order. A dead reader is dropped. */
    FP_RING_LOSSLESS = 1,
} FpRingReaderMode;

typedef struct FpRingConfig {
    uint32_t slot_count;    /* capacity in frames, 1..FP_RING_MAX_SLOTS */
    uint64_t slot_size;     /* payload bytes per slot; 0: the frame size of the geometry */
    /* Geometry of the frames carried (all 0 / FP_PIX_NONE for opaque payloads). */
    int width, height;
    FpPixelFormat format;
    int linesize[FP_FRAME_MAX_PLANES]; /* 0: packed (width * bytes per pixel) */
} FpRingConfig;

/* What a reader (or the writer) knows about the ring's shape. */
typedef struct FpRingInfo {
    char name[FP_RING_NAME_MAX + 2];
    uint64_t generation;    /* bumped each time a writer re-creates the name */
    uint32_t slot_count;
    uint64_t slot_size;
    uint64_t frame_size;    /* bytes of one frame of the geometry (0 if opaque) */
    uint64_t total_size;    /* bytes of the whole segment */
    int width, height;
    FpPixelFormat format;
    int plane_count;
    int linesize[FP_FRAME_MAX_PLANES];
    uint64_t plane_offset[FP_FRAME_MAX_PLANES]; /* byte offset of each plane inside a slot */
} FpRingInfo;

/* A frame being read: valid from fp_ring_read() until fp_ring_read_end(). */
typedef struct FpRingView {
    const uint8_t *data;    /* the slot payload inside the mapping (64-byte, in fact page, aligned) */
    size_t size;            /* bytes the writer committed */
    uint64_t seq;           /* frame number, from 1, no gaps on the writer side */
    int64_t pts_ns;         /* as given to fp_ring_commit() */
    uint64_t user;          /* as given to fp_ring_commit() (e.g. source frame number) */
    int64_t commit_ns;      /* CLOCK_MONOTONIC when the writer committed it */
    uint64_t skipped;       /* frames passed over just before this one (latest mode) */
    uint32_t slot;
    const uint8_t *planes[FP_FRAME_MAX_PLANES]; /* per the ring's geometry; NULL past plane_count */
    int linesize[FP_FRAME_MAX_PLANES];
    int width, height;
    FpPixelFormat format;
} FpRingView;

typedef struct FpRingStats {
    uint64_t written;         /* writer: frames committed by this handle */
    uint64_t writer_waits;    /* writer: begin_write calls that had to wait for a lossless reader */
    uint64_t dropped_readers; /* writer: dead lossless readers whose cursors were dropped */
    uint64_t read;            /* reader: views handed out */
    uint64_t skipped;         /* reader: frames passed over (latest mode, or after a restart) */
    uint64_t overwritten;     /* reader: views the writer overwrote before read_end (FP_EOVERWRITTEN) */
    uint64_t generations;     /* reader: writer restarts seen (FP_EGENERATION) */
    uint64_t generation;      /* the ring's current generation */
} FpRingStats;

/*
 * Writer: creates the segment `name` (a leading '/' is optional; no other
 * '/'), mode 0600, sized and fully allocated (posix_fallocate) for
 * cfg->slot_count slots, so a full /dev/shm fails here with -ENOSPC naming
 * the segment and size instead of a SIGBUS later. The segment is built under
 * a temporary name and renamed into place, so readers never see it half
 * built. An existing segment of that name whose writer is dead (a crashed
 * run) is replaced, with generation = old generation + 1, and readers
 * still mapping it are told (FP_EGENERATION). Errors: FP_EEXISTS (a live
 * writer holds the name), FP_EBAD_MAGIC (the name holds something that is
 * not a ring), FP_EBAD_VERSION (a ring of another layout version; either
 * way that segment is left alone), FP_EINVALID / FP_ERANGE / FP_ETOO_LARGE
 * (bad name or config), -errno (shm_open, ftruncate, fallocate, mmap,
 * rename), -ENOMEM.
 * On success *out owns the handle (fp_ring_destroy); on failure *out is
 * untouched, no temporary segment is left and the old segment stays -
 * except on a final -ENOMEM for the handle, when the new segment had
 * already replaced the old one (whose readers were told) and is unlinked.
 * Any thread, but not two creates of one name at once in one process (they
 * share the temporary name NAME.new-PID). The handle is the writer: one
 * thread at a time uses it; readers use their own handles concurrently.
 */
int fp_ring_create(FpRing **out, const char *name, const FpRingConfig *cfg);

/*
 * Reader: maps the ring `name`. A latest reader maps everything read-only;
 * a lossless reader also claims a cursor in the reader table (its pid is
 * stored so the writer can drop it if it dies). The first read returns the
 * newest committed frame (latest) or the next frame committed after open
 * (lossless). Errors: -ENOENT (no such segment), -EACCES, FP_EBAD_MAGIC,
 * FP_EBAD_VERSION, FP_ETRUNCATED, FP_ECORRUPT (inconsistent header, or
 * replaced while being opened: try again), FP_ERANGE (reader table full),
 * FP_EINVALID (bad name or mode, NULL out), -ENOMEM. On failure *out is
 * untouched and nothing stays mapped or claimed. Any thread; the handle is
 * then used by one thread at a time (one process may hold several readers
 * of one ring, each with its own handle).
 */
int fp_ring_open(FpRing **out, const char *name, FpRingReaderMode mode);

/*
 * Writer: reserves the slot of the next frame and returns its payload in
 * *slot (slot_size bytes, writable until commit). With lossless readers it
 * waits (futex on the read-progress word) until the slowest of them has
 * released the frame that slot holds; dead readers are dropped meanwhile.
 * Returns 0, FP_EWOULD_BLOCK / FP_ETIMEOUT (nothing reserved), or
 * FP_EINVALID (a write is already open, a reader handle, NULL); *slot is
 * untouched on failure. From the moment it succeeds the frame the slot held
 * is gone (a reader still holding it gets FP_EOVERWRITTEN). Writer handle
 * only, on the thread using it; readers run concurrently.
 */
int fp_ring_begin_write(FpRing *ring, uint8_t **slot, int64_t timeout_ns);

/*
 * Writer: publishes the slot reserved by fp_ring_begin_write() as the next
 * frame (size bytes, with pts and a user value) and wakes waiting readers.
 * Returns 0, FP_ETOO_LARGE (size > slot_size; nothing is published, the
 * write stays open) or FP_EINVALID (no write open, a reader handle).
 * Writer handle only, on the thread using it.
 */
int fp_ring_commit(FpRing *ring, size_t size, int64_t pts_ns, uint64_t user);

/*
 * Writer: abandons the write opened by fp_ring_begin_write(); nothing is
 * published and the next begin_write reserves the same slot. The frame the
 * slot held before stays unreadable. No-op without an open write, on a
 * reader handle or NULL. Writer handle only, on the thread using it.
 */
void fp_ring_cancel(FpRing *ring);

/*
 * Writer: begin_write + memcpy of `size` bytes from `data` + commit. Same
 * errors as those two, but FP_ETOO_LARGE is checked first: on any failure
 * nothing is published and no write of its own stays open. Writer handle
 * only, on the thread using it.
 */
int fp_ring_write(FpRing *ring, const void *data, size_t size, int64_t pts_ns, uint64_t user,
                  int64_t timeout_ns);

/*
 * Reader: waits for a frame (per the reader mode) and fills *view with
 * pointers into the mapping. Pair it with fp_ring_read_end(). Returns 0,
 * FP_EWOULD_BLOCK / FP_ETIMEOUT, FP_EEND_OF_STREAM (the writer closed the
 * ring and every frame this reader may still get has been read),
 * FP_EGENERATION (the writer restarted: the reader re-mapped the new
 * segment, reported once; the next read continues with the new frames and
 * geometry), FP_EINVALID (a view is still open, or a writer handle), or an
 * open error if the restarted segment cannot be mapped (retried next call).
 * *view is untouched on failure. Reader handle only, on the thread using
 * it; the writer and other readers run concurrently in any process.
 */
int fp_ring_read(FpRing *ring, FpRingView *view, int64_t timeout_ns);

/*
 * Reader: ends a view. Returns 0 when the bytes read were not touched by the
 * writer meanwhile, FP_EOVERWRITTEN when the writer lapped the reader (the
 * data read may be torn: discard it), or FP_EINVALID (no open view on this
 * handle, or a view of another read). With 0 and FP_EOVERWRITTEN alike the
 * view is ended: a lossless reader's cursor advances here (waking a waiting
 * writer) and the view's pointers are invalid afterwards. Reader handle
 * only, on the thread using it.
 */
int fp_ring_read_end(FpRing *ring, FpRingView *view);

/* Shape of the ring as this handle maps it now (a reader's changes with FP_EGENERATION), copied to *info.
 * Any handle, on the thread using it. Cannot fail; neither pointer may be NULL. */
void fp_ring_get_info(const FpRing *ring, FpRingInfo *info);

/* Counters of this handle, copied to *stats. On the thread using the handle. Cannot fail; neither pointer may be NULL. */
void fp_ring_get_stats(const FpRing *ring, FpRingStats *stats);

/*
 * Closes a handle and sets *ring to NULL (NULL is fine). A writer abandons
 * an open write, marks the ring closed (readers drain what is left, then get
 * FP_EEND_OF_STREAM) and unlinks the name (unless a newer writer already
 * replaced the segment); a lossless reader frees its cursor; an open view
 * becomes invalid. Never fails. On the thread using the handle, with no
 * other call on it running; other handles are not affected.
 */
void fp_ring_destroy(FpRing **ring);

/* Same as fp_ring_destroy (the reader-side spelling), with the same thread rule. */
void fp_ring_close(FpRing **ring);

/* Bytes of one frame of the given geometry, plane offsets and packed linesizes
 * filled in when the pointers are non-NULL. Returns the size, or a negative
 * error (FP_EINVALID) for a bad geometry. Any thread. */
int64_t fp_ring_frame_layout(int width, int height, FpPixelFormat format,
                             int linesize[FP_FRAME_MAX_PLANES],
                             uint64_t plane_offset[FP_FRAME_MAX_PLANES], int *plane_count);

#ifdef __cplusplus
}
#endif
#endif
