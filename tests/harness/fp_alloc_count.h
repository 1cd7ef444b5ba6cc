// SPDX-License-Identifier: MIT
// Counting allocator calls made by framepipe's own objects, for the "zero allocations per frame" tests.
#ifndef FP_ALLOC_COUNT_H
#define FP_ALLOC_COUNT_H

/*
 * A test executable that depends on `fp_alloc_count_dep` (tests/meson.build)
 * is linked with -Wl,--wrap=malloc,calloc,realloc,free,posix_memalign,
 * aligned_alloc,mmap,mmap64,munmap: every such call made from the objects
 * linked into it (libframepipe and the test) goes through a counter first.
 * Calls made inside shared libraries (libc itself, libav*, ONNX Runtime) are
 * not wrapped and not counted. Counters are atomic: any thread may allocate.
 */
typedef struct FpAllocCounts {
    unsigned long allocs; /* malloc, calloc, realloc, posix_memalign, aligned_alloc */
    unsigned long frees;  /* free of a non-NULL pointer */
    unsigned long maps;   /* mmap, mmap64, munmap */
} FpAllocCounts;

void fp_alloc_counts(FpAllocCounts *out);

/* allocs + frees + maps so far. */
unsigned long fp_alloc_calls(void);

#endif
