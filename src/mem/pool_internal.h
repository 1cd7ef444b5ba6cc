// SPDX-License-Identifier: MIT
// Private layout of FpPool and FpBuffer, and of the shared-memory segment header (see docs/pool.md).
#ifndef FRAMEPIPE_POOL_INTERNAL_H
#define FRAMEPIPE_POOL_INTERNAL_H

#include "framepipe/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/*
 * One buffer. Heap mode: header and data come from one posix_memalign()
 * block (the header first, the data at the next `alignment` boundary).
 * Shm mode: headers live in a private array (never in the segment, so a
 * mapping process cannot corrupt the pool's lists) and `data` points into
 * the segment.
 */
struct FpBuffer {
    uint8_t *data;
    size_t size;            /* class size */
    FpPool *pool;
    _Atomic int refcount;
    unsigned cls;
    int home;               /* on its class's idle list (guarded by pool->lock) */
    FpBuffer *prev, *next;  /* idle list (head: most recently used), spare or free chain */
    int64_t idle_since_ns;  /* monotonic time of the last return */
    int64_t shm_offset;     /* -1 in heap mode */
    size_t map_len;         /* heap mode: 0 = from posix_memalign, else the length of its own mmap (huge pages) */
};

typedef struct FpPoolClass {
    size_t size;
    size_t stride;          /* shm slot stride (size rounded up to the alignment) */
    FpBuffer *head, *tail;  /* idle buffers, MRU at head, LRU at tail */
    unsigned idle;
    unsigned count;         /* buffers of this class in existence (idle + out + being made) */
    unsigned target;        /* preallocated target (tuning) */
    unsigned min;           /* floor for eviction and shrinking */
    unsigned waiters;
    pthread_cond_t cond;
    FpBuffer *spare;        /* shm mode: unused slots */
    /* current tuning window */
    unsigned win_n, win_hits, win_min_idle, win_peak;
    unsigned in_use;
} FpPoolClass;

struct FpPool {
    char name[64];
    pthread_mutex_t lock;
    FpPoolClass cls[FP_POOL_MAX_CLASSES];
    unsigned n_classes;
    size_t alignment;
    size_t header_stride;   /* heap mode: header bytes before the data */
    unsigned max_buffers;
    size_t max_bytes;
    int64_t idle_evict_ns;
    double grow_below, shrink_idle;
    unsigned window;

    unsigned n_total, in_use, peak_in_use;
    size_t bytes_total, bytes_in_use;
    uint64_t hits, misses, waits, timeouts, evictions, grows, shrinks;
    int flushing, destroyed;
    int bypass;             /* FP_POOL_BYPASS=1 (heap pools): no reuse, malloc/free per buffer (bench/run.py) */
    int huge_pages;         /* heap buffers of 2 MiB and more in their own THP-advised mapping (FP_POOL_NO_HUGEPAGES=1: off) */

    /* shm backing */
    char shm_name[256];
    uint8_t *shm_base;
    size_t shm_size;
    FpBuffer *slots;        /* n_classes * max_buffers headers */
};

/* The segment header at offset 0 (all fields native-endian; x86-64: little). */
typedef struct FpPoolShmClass {
    uint64_t size;          /* buffer size of the class */
    uint64_t stride;        /* distance between slots */
    uint64_t slots;         /* number of slots */
    uint64_t first_offset;  /* offset of slot 0 from the segment start */
} FpPoolShmClass;

typedef struct FpPoolShmHeader {
    char magic[8];          /* "FPPOOL\0\0" */
    uint32_t version;       /* FP_POOL_SHM_VERSION */
    uint32_t header_size;   /* FP_POOL_SHM_HEADER_SIZE */
    uint64_t generation;    /* CLOCK_REALTIME ns at creation: differs per creation */
    uint64_t segment_size;
    int32_t creator_pid;
    uint32_t n_classes;
    uint32_t alignment;
    uint32_t reserved;
    FpPoolShmClass cls[FP_POOL_MAX_CLASSES]; /* offset 48, 32 bytes each */
    char name[64];                           /* offset 304: pool name, NUL-terminated */
} FpPoolShmHeader;

_Static_assert(sizeof(FpPoolShmHeader) == 368, "shm header layout is documented in docs/pool.md");

#endif
