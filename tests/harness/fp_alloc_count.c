// SPDX-License-Identifier: MIT
// Link-time wrappers (-Wl,--wrap) that count allocator and mapping calls; see fp_alloc_count.h.
#include "fp_alloc_count.h"

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
int __real_posix_memalign(void **out, size_t align, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
int __wrap_posix_memalign(void **out, size_t align, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);

static atomic_ulong n_allocs, n_frees, n_maps;

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    if (p)
        atomic_fetch_add(&n_frees, 1);
    __real_free(p);
}
int __wrap_posix_memalign(void **out, size_t align, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_posix_memalign(out, align, n);
}
void *__wrap_aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add(&n_allocs, 1);
    return __real_aligned_alloc(align, n);
}
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    atomic_fetch_add(&n_maps, 1);
    return __real_mmap(addr, len, prot, flags, fd, off);
}
/* with _FILE_OFFSET_BITS=64 (Meson's default) glibc's headers bind mmap to mmap64 */
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    atomic_fetch_add(&n_maps, 1);
    return __real_mmap64(addr, len, prot, flags, fd, off);
}
int __wrap_munmap(void *addr, size_t len)
{
    atomic_fetch_add(&n_maps, 1);
    return __real_munmap(addr, len);
}

void fp_alloc_counts(FpAllocCounts *out)
{
    out->allocs = atomic_load(&n_allocs);
    out->frees = atomic_load(&n_frees);
    out->maps = atomic_load(&n_maps);
}

unsigned long fp_alloc_calls(void)
{
    return atomic_load(&n_allocs) + atomic_load(&n_frees) + atomic_load(&n_maps);
}
