// SPDX-License-Identifier: MIT
// FpPool: bounded, preallocated, refcounted buffer pool with size classes, LRU idle eviction, self-tuning size and hit-rate stats.
#ifndef FRAMEPIPE_POOL_H
#define FRAMEPIPE_POOL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Rules (FFmpeg's AVBufferPool, GStreamer's bounded GstBufferPool):
 * - A buffer is acquired with refcount 1 and is writable only while its
 *   refcount is 1. fp_buffer_ref() adds a reference; the last
 *   fp_buffer_unref() hands the buffer back to its pool.
 * - fp_pool_destroy() drops the caller's handle; the pool itself lives on
 *   until the last outstanding buffer comes home, then frees everything.
 * - The pool is bounded (max_buffers / max_bytes): when full, acquire
 *   blocks up to its timeout (FP_ETIMEOUT) or, with timeout 0, returns
 *   FP_EWOULD_BLOCK at once. A flushing pool returns FP_EFLUSHING.
 * - Buffer memory is aligned to `alignment` (default 64 B) and may be
 *   handed to ONNX Runtime as tensor memory. With `shm_name`, all buffer
 *   memory lives in one POSIX shared-memory segment that another process
 *   can map; fp_buffer_shm_offset() says where each buffer is.
 * - After warm-up, acquire/release make no heap allocations.
 */

#define FP_POOL_MAX_CLASSES 8
/* Largest accepted class size (1 TiB): anything larger is a configuration mistake. */
#define FP_POOL_MAX_CLASS_SIZE ((size_t)1 << 40)
/* Largest accepted alignment (one page, so shm slots stay aligned in any mapping). */
#define FP_POOL_MAX_ALIGNMENT 4096
/* Bytes reserved at the start of a shm segment for its header (docs/pool.md). */
#define FP_POOL_SHM_HEADER_SIZE 4096
#define FP_POOL_SHM_MAGIC "FPPOOL\0\0"
#define FP_POOL_SHM_VERSION 1

typedef struct FpPool FpPool;
typedef struct FpBuffer FpBuffer;

typedef struct FpPoolConfig {
    const char *name;                          /* for logs and metrics; copied */
    size_t class_size[FP_POOL_MAX_CLASSES];    /* buffer sizes, ascending; a request takes the smallest class that fits */
    unsigned n_classes;                        /* 1..FP_POOL_MAX_CLASSES */
    unsigned prealloc;                         /* buffers made per class at create */
    unsigned min_buffers;                      /* per class: never shrink below (default: prealloc) */
    unsigned max_buffers;                      /* total bound over all classes (0: no count bound) */
    size_t max_bytes;                          /* total bound over all classes (0: no byte bound) */
    size_t alignment;                          /* power of two >= 16; 0 means 64 */
    const char *shm_name;                      /* NULL, or a POSIX shm name ("/fp-pool-x"): back all memory by it */
    int64_t idle_evict_ns;                     /* free buffers idle longer than this, LRU first (0: never) */
    double grow_below_hit_rate;                /* tuning: grow prealloc when a window's hit rate is below (0: off) */
    unsigned tune_window;                      /* acquisitions per class per tuning window (0: 256) */
    double shrink_idle_fraction;               /* tuning: shrink a class when at least this fraction of its
                                                  buffers sat idle through a whole window (0: off) */
} FpPoolConfig;

typedef struct FpPoolStats {
    uint64_t hits;          /* acquisitions served by an idle buffer */
    uint64_t misses;        /* acquisitions that had to allocate, wait, or failed (would-block/timeout) */
    double hit_rate;        /* hits / (hits + misses), 0 when none */
    uint64_t waits;         /* acquisitions that blocked on the bound */
    uint64_t timeouts;      /* acquisitions that gave up (timeout or would-block) */
    uint64_t evictions;     /* idle buffers freed by LRU eviction, shrinking, or to make room for another class */
    unsigned in_use;        /* buffers currently out */
    unsigned idle;          /* buffers currently home */
    unsigned peak_in_use;
    size_t bytes_total;     /* bytes of all buffers in existence */
    size_t bytes_in_use;
    uint64_t grows;         /* tuning windows that raised a class's target */
    uint64_t shrinks;       /* tuning windows that lowered a class's target */
    unsigned target;        /* sum over classes of the preallocated target */
} FpPoolStats;

/*
 * Creates a pool; the config is copied (the caller keeps its strings). On
 * success *out owns the pool until fp_pool_destroy(). Returns 0,
 * FP_EINVALID (the message names the field), -ENOMEM, FP_EEXISTS (a live
 * or foreign shm segment of that name exists; a stale one left by a dead
 * framepipe process is replaced), -ENOSPC (shm full: the message names the
 * segment and its size), or another -errno from shm_open/ftruncate/mmap.
 * On failure *out is untouched and nothing is left behind (a stale segment
 * it replaced stays removed). Any thread. The pool is thread-safe (one
 * mutex): the functions below say who may call them.
 */
int fp_pool_create(FpPool **out, const FpPoolConfig *cfg);

/*
 * Drops the creator's handle and sets *pool to NULL; idle buffers are freed
 * now, the rest when they come home, then the pool itself (and its shm
 * name is unlinked). Any thread, but no other thread may still be inside
 * fp_pool_acquire() on this pool (set flushing and join them first).
 */
void fp_pool_destroy(FpPool **pool);

/*
 * Takes a buffer of at least `size` bytes. timeout_ns: 0 = never wait
 * (FP_EWOULD_BLOCK when full), < 0 = wait forever, > 0 = wait at most that
 * long (FP_ETIMEOUT). FP_ETOO_LARGE when no class fits, FP_EFLUSHING while
 * flushing, -ENOMEM when a new buffer cannot be allocated, FP_EINVALID for
 * NULL arguments; error messages name the pool. Thread-safe. On success
 * *out holds one reference owned by the caller; on failure *out is
 * untouched. After warm-up it makes no heap allocation.
 */
int fp_pool_acquire(FpPool *pool, size_t size, int64_t timeout_ns, FpBuffer **out);

/* Flushing wakes all waiters with FP_EFLUSHING and fails new acquires until cleared. Any thread. */
void fp_pool_set_flushing(FpPool *pool, int flushing);

/* Frees idle buffers idle longer than idle_evict_ns (LRU first, never below min_buffers) now; returns
 * how many (0 when idle_evict_ns is 0), or FP_EINVALID for NULL. Also done inside acquire/release. Any thread. */
int fp_pool_evict_idle(FpPool *pool);

/* A consistent snapshot of the counters (taken under the pool lock). Any thread. */
void fp_pool_get_stats(FpPool *pool, FpPoolStats *out);
/* The pool's name (the config's, or "pool"); valid while the pool lives. Any thread. */
const char *fp_pool_name(const FpPool *pool);
/* Total size of the shm segment in bytes (header included), or 0 when not shm-backed. Any thread. */
size_t fp_pool_shm_size(const FpPool *pool);

/* Adds a reference (relaxed increment); returns b, now also owned by the caller. Any thread. */
FpBuffer *fp_buffer_ref(FpBuffer *b);
/* Drops a reference (acq_rel) and sets *b to NULL; the last one returns the buffer to its pool
 * (and frees the pool if it was destroyed and this was its last buffer). NULL is a no-op. Any thread. */
void fp_buffer_unref(FpBuffer **b);

/* Buffer memory, `alignment`-aligned; valid until the caller's reference is dropped. These four: any thread holding a reference. */
uint8_t *fp_buffer_data(const FpBuffer *b);
size_t fp_buffer_size(const FpBuffer *b);          /* capacity (the class size) */
/*
 * 1 when the refcount is 1 (an acquire load), else 0 (also for NULL). Any
 * thread holding a reference; the answer holds only for the sole holder
 * (nobody else can add a reference then), another holder's "0" may be stale.
 */
int fp_buffer_is_writable(const FpBuffer *b);
/* Offset of the buffer's data in the pool's shm segment (fixed for the buffer's life), or -1 when not
 * shm-backed or b is NULL. Any thread holding a reference. */
int64_t fp_buffer_shm_offset(const FpBuffer *b);

#ifdef __cplusplus
}
#endif
#endif
