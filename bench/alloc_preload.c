// SPDX-License-Identifier: MIT
// LD_PRELOAD allocator-call counter for bench/run.py part 2 (memory): counts, does not estimate.
/*
 * LD_PRELOAD=build/release/bench/libfp_alloc_preload.so FP_ALLOC_COUNT_OUT=FILE PROGRAM ...
 *
 * Interposes malloc, calloc, realloc, free, posix_memalign, aligned_alloc,
 * memalign, valloc, pvalloc, mmap, mmap64 and munmap (the calls a program and
 * its libraries make through the dynamic symbol table; glibc's own internal
 * mmaps for large blocks are not separate calls), counts each in a relaxed
 * atomic and forwards it to the next definition (glibc). free(NULL) is not
 * counted. At exit it writes one JSON line to $FP_ALLOC_COUNT_OUT (appending;
 * nothing without the variable): {"pid":..,"malloc":..,"calloc":..,...,"allocs":..,"frees":..}
 * where allocs = the calls that obtain memory and frees = free + munmap.
 * calloc during dlsym's own start-up is served from a small static arena.
 */
#undef _FILE_OFFSET_BITS /* define mmap and mmap64 under their own names (x86-64: one and the same call) */
#include <dlfcn.h>
#include <malloc.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_MEMALIGN, C_MMAP, C_MUNMAP, C_N };
static const char *const names[C_N] = {"malloc", "calloc", "realloc", "free", "memalign", "mmap", "munmap"};
static atomic_ulong counts[C_N];

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);

static _Alignas(64) unsigned char arena[16384];
static size_t arena_used;
static int resolving;

static void count(int c)
{
    atomic_fetch_add_explicit(&counts[c], 1, memory_order_relaxed);
}

static void resolve(void)
{
    if (real_malloc || resolving)
        return;
    resolving = 1;
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    resolving = 0;
}

static int in_arena(const void *p)
{
    return (const unsigned char *)p >= arena && (const unsigned char *)p < arena + sizeof(arena);
}

void *malloc(size_t n)
{
    resolve();
    count(C_MALLOC);
    return real_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (!real_calloc) {
        resolve();
        if (!real_calloc) { /* dlsym itself asked: a zeroed block from the static arena */
            size_t want = (n * size + 63) & ~(size_t)63;
            if (arena_used + want > sizeof(arena))
                return NULL;
            void *p = arena + arena_used;
            arena_used += want;
            return p;
        }
    }
    count(C_CALLOC);
    return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    resolve();
    count(C_REALLOC);
    if (in_arena(p)) {
        void *q = real_malloc(n);
        if (q)
            memcpy(q, p, n < sizeof(arena) ? n : sizeof(arena));
        return q;
    }
    return real_realloc(p, n);
}

void free(void *p)
{
    if (!p || in_arena(p))
        return;
    resolve();
    count(C_FREE);
    real_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    resolve();
    count(C_MEMALIGN);
    return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    resolve();
    count(C_MEMALIGN);
    return real_aligned_alloc(align, n);
}

void *memalign(size_t align, size_t n)
{
    resolve();
    count(C_MEMALIGN);
    return real_memalign(align, n);
}

void *mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
    resolve();
    count(C_MMAP);
    return real_mmap(addr, n, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, n, prot, flags, fd, off);
}

int munmap(void *addr, size_t n)
{
    resolve();
    count(C_MUNMAP);
    return real_munmap(addr, n);
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("FP_ALLOC_COUNT_OUT");
    if (!path || !*path)
        return;
    unsigned long v[C_N];
    for (int i = 0; i < C_N; i++)
        v[i] = atomic_load_explicit(&counts[i], memory_order_relaxed);
    char line[512];
    int n = snprintf(line, sizeof(line), "{\"pid\":%d", (int)getpid());
    for (int i = 0; i < C_N; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, ",\"%s\":%lu", names[i], v[i]);
    n += snprintf(line + n, sizeof(line) - (size_t)n, ",\"allocs\":%lu,\"frees\":%lu}\n",
                  v[C_MALLOC] + v[C_CALLOC] + v[C_REALLOC] + v[C_MEMALIGN] + v[C_MMAP], v[C_FREE] + v[C_MUNMAP]);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}
