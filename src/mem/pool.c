// SPDX-License-Identifier: MIT
// FpPool: a bounded, preallocated, refcounted buffer pool with size classes, LRU idle eviction, self-tuning and optional shm backing.
#include "mem/pool_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Design (docs/pool.md has the user-facing version):
 * - One mutex guards every list and counter (FFmpeg's AVBufferPool went
 *   back to a mutex; a pool operation is a few pointer moves, so the lock is
 *   held for tens of nanoseconds). Each size class has its own condition
 *   variable so a returned buffer wakes a waiter that can use it.
 * - Refcounts are atomics outside the lock: increments relaxed, the final
 *   decrement acq_rel so every write made through any reference happens
 *   before the buffer is handed out again.
 * - The pool holds one implicit reference for its creator plus one per
 *   buffer out (counted as `in_use`): after fp_pool_destroy() the last
 *   buffer to come home frees the pool.
 * - Heap allocation and free never happen under the lock: a miss reserves
 *   its slot in the bounds (count, bytes) under the lock, allocates after
 *   unlocking, and gives the reservation back if the allocation fails.
 *   Evicted buffers are collected on a private chain and freed after unlock.
 * - Idle buffers sit on a per-class list with the most recently returned at
 *   the head: acquire takes the head (warm in cache), eviction the tail
 *   (least recently used).
 * - Shm mode: the segment is a fixed arena with `max_buffers` slots per
 *   class, reserved (posix_fallocate) at create. "Allocating" takes a spare
 *   slot and "freeing" returns it; memory is never given back to the system
 *   before the pool dies.
 */

#define LOG_COMPONENT "pool"

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static unsigned umax(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

/* ---- idle lists (pool->lock held) ---- */

static void idle_unlink(FpPoolClass *c, FpBuffer *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        c->head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        c->tail = b->prev;
    b->prev = b->next = NULL;
    b->home = 0;
    c->idle--;
}

static void idle_push_head(FpPoolClass *c, FpBuffer *b)
{
    b->prev = NULL;
    b->next = c->head;
    if (c->head)
        c->head->prev = b;
    else
        c->tail = b;
    c->head = b;
    b->home = 1;
    c->idle++;
}

static int room_for(const FpPool *p, size_t size)
{
    if (p->max_buffers && p->n_total >= p->max_buffers)
        return 0;
    if (p->max_bytes && (p->bytes_total > p->max_bytes || size > p->max_bytes - p->bytes_total))
        return 0;
    return 1;
}

/* Counts a new buffer of class ci against the bounds. In shm mode returns its slot; else NULL (the caller allocates). */
static FpBuffer *reserve(FpPool *p, unsigned ci)
{
    FpPoolClass *c = &p->cls[ci];
    c->count++;
    p->n_total++;
    p->bytes_total += c->size;
    FpBuffer *slot = c->spare;
    if (slot) {
        c->spare = slot->next;
        slot->next = NULL;
    }
    return slot;
}

static void unreserve(FpPool *p, unsigned ci)
{
    FpPoolClass *c = &p->cls[ci];
    c->count--;
    p->n_total--;
    p->bytes_total -= c->size;
}

/* Takes a buffer out of existence (already off the idle list): shm slots go back to the spare list, heap buffers onto *chain to be freed after unlock. */
static void retire(FpPool *p, FpBuffer *b, FpBuffer **chain)
{
    FpPoolClass *c = &p->cls[b->cls];
    unreserve(p, b->cls);
    if (p->shm_base) {
        b->next = c->spare;
        c->spare = b;
    } else {
        b->next = *chain;
        *chain = b;
    }
}

static void free_chain(FpBuffer *chain)
{
    while (chain) {
        FpBuffer *next = chain->next;
        if (chain->map_len)
            munmap(chain, chain->map_len);
        else
            free(chain); /* header and data are one block */
        chain = next;
    }
}

static void evict_one(FpPool *p, unsigned ci, FpBuffer **chain)
{
    FpPoolClass *c = &p->cls[ci];
    FpBuffer *b = c->tail;
    idle_unlink(c, b);
    retire(p, b, chain);
    p->evictions++;
    if (c->target > c->count)
        c->target = umax(c->count, c->min);
}

/* Wakes waiters that could now make a new buffer because room was freed. */
static void wake_for_room(FpPool *p)
{
    for (unsigned i = 0; i < p->n_classes; i++)
        if (p->cls[i].waiters)
            pthread_cond_broadcast(&p->cls[i].cond);
}

/* Evicts idle buffers idle longer than idle_evict_ns, LRU first, never below min. Returns how many. */
static int evict_expired(FpPool *p, int64_t now, FpBuffer **chain)
{
    if (p->idle_evict_ns <= 0)
        return 0;
    int n = 0;
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        while (c->tail && c->count > c->min && now - c->tail->idle_since_ns > p->idle_evict_ns) {
            evict_one(p, i, chain);
            n++;
        }
    }
    return n;
}

/*
 * When the bounds are reached and class ci has no idle buffer, frees the
 * least recently used idle buffer of another class (above its min) if
 * freeing all such buffers could make room. Returns 1 when one was freed.
 */
static int steal(FpPool *p, unsigned ci, FpBuffer **chain)
{
    unsigned n_free = 0;
    size_t bytes_free = 0;
    int best = -1;
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        if (i == ci || !c->tail || c->count <= c->min)
            continue;
        unsigned avail = c->count - c->min < c->idle ? c->count - c->min : c->idle;
        n_free += avail;
        bytes_free += (size_t)avail * c->size;
        if (best < 0 || c->tail->idle_since_ns < p->cls[best].tail->idle_since_ns)
            best = (int)i;
    }
    if (best < 0)
        return 0;
    size_t need = p->cls[ci].size;
    if (p->max_bytes && p->bytes_total - bytes_free + need > p->max_bytes)
        return 0;
    if (p->max_buffers && p->n_total - n_free >= p->max_buffers)
        return 0;
    evict_one(p, (unsigned)best, chain);
    return 1;
}

/* The largest target a class can have under the bounds. */
static unsigned target_cap(const FpPool *p, const FpPoolClass *c)
{
    unsigned cap = p->max_buffers ? p->max_buffers : UINT_MAX;
    if (p->max_bytes && p->max_bytes / c->size < cap)
        cap = (unsigned)(p->max_bytes / c->size);
    return cap;
}

/*
 * Tuning window bookkeeping after an acquisition of class ci (lock held).
 * At the end of a window: grow (raise the target to the window's peak in
 * use plus 25 % headroom, and reserve the buffers to preallocate: shm slots
 * go home at once, heap ones are counted in *prealloc_n for the caller to
 * allocate after unlock) or shrink (free half of the buffers that sat idle
 * through the whole window, LRU first, never below min).
 */
static void tune(FpPool *p, unsigned ci, int hit, int64_t now, FpBuffer **chain, unsigned *prealloc_n)
{
    FpPoolClass *c = &p->cls[ci];
    c->win_n++;
    c->win_hits += hit != 0;
    if (c->idle < c->win_min_idle)
        c->win_min_idle = c->idle;
    if (c->in_use > c->win_peak)
        c->win_peak = c->in_use;
    if (c->win_n < p->window)
        return;
    double rate = (double)c->win_hits / c->win_n;
    if (p->grow_below > 0 && rate < p->grow_below) {
        unsigned want = umax(c->target, c->win_peak);
        want += umax(1, want / 4);
        unsigned cap = target_cap(p, c);
        if (want > cap)
            want = cap;
        if (want > c->target) {
            c->target = want;
            p->grows++;
        }
        while (c->count < c->target && room_for(p, c->size)) {
            FpBuffer *slot = reserve(p, ci);
            if (slot) {
                slot->idle_since_ns = now;
                idle_push_head(c, slot);
            } else {
                (*prealloc_n)++;
            }
        }
    } else if (p->shrink_idle > 0 && c->win_min_idle > 0 && c->win_min_idle <= c->count &&
               c->win_min_idle >= p->shrink_idle * c->count) {
        unsigned drop = (c->win_min_idle + 1) / 2;
        unsigned keep = umax(c->min, c->count - drop);
        unsigned freed = 0;
        while (c->count > keep && c->tail) {
            evict_one(p, ci, chain);
            freed++;
        }
        if (c->target > c->count)
            c->target = umax(c->count, c->min);
        if (freed) {
            p->shrinks++;
            wake_for_room(p);
        }
    }
    c->win_n = c->win_hits = 0;
    c->win_min_idle = UINT_MAX;
    c->win_peak = c->in_use;
}

/* ---- buffers ---- */

/* Transparent huge pages for large buffers (FP_POOL_HUGE_MIN and up; off with FP_POOL_NO_HUGEPAGES=1).
   A buffer of at least one huge page gets its own anonymous mapping, started on a 2 MiB boundary and
   advised MADV_HUGEPAGE; its length is only rounded to whole 4 KiB pages (no memory is added: the
   tail past the last whole huge page stays in small pages). A 1080p yuv420p frame is then one huge
   page plus ~280 small ones instead of ~760 small pages: half the page faults when the pool is
   filled, and fewer TLB misses for the decoder writing it and pre-processing reading it. Where the
   kernel has THP off the advice is ignored and the mapping behaves as ordinary memory. */
#define FP_HUGE_PAGE ((size_t)2 << 20)
#define FP_POOL_HUGE_MIN FP_HUGE_PAGE
/* Under AddressSanitizer every buffer stays a malloc block, so overruns of frame buffers are caught. */
#if defined(__SANITIZE_ADDRESS__)
#define FP_POOL_HUGE_BUILD 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FP_POOL_HUGE_BUILD 0
#endif
#endif
#ifndef FP_POOL_HUGE_BUILD
#define FP_POOL_HUGE_BUILD 1
#endif

static void *huge_map(size_t len, size_t *map_len)
{
    size_t want = (len + 4095) & ~(size_t)4095;
    uint8_t *raw = mmap(NULL, want + FP_HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)raw + FP_HUGE_PAGE - 1) & ~(uintptr_t)(FP_HUGE_PAGE - 1);
    size_t head = a - (uintptr_t)raw, tail = FP_HUGE_PAGE - head;
    if (head)
        munmap(raw, head);
    if (tail)
        munmap((uint8_t *)a + want, tail);
    (void)madvise((void *)a, want, MADV_HUGEPAGE); /* advice only: EINVAL where THP is compiled out */
    *map_len = want;
    return (void *)a;
}

static FpBuffer *heap_buffer_new(FpPool *p, unsigned ci)
{
    void *mem = NULL;
    size_t len = p->header_stride + p->cls[ci].size, map_len = 0;
    if (p->huge_pages && len >= FP_POOL_HUGE_MIN)
        mem = huge_map(len, &map_len);
    if (!mem && posix_memalign(&mem, p->alignment, len) != 0)
        return NULL;
    FpBuffer *b = mem;
    memset(b, 0, sizeof(*b));
    b->map_len = map_len;
    b->data = (uint8_t *)mem + p->header_stride;
    b->size = p->cls[ci].size;
    b->pool = p;
    b->cls = ci;
    b->shm_offset = -1;
    return b;
}

static void pool_free(FpPool *p)
{
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        if (!p->shm_base) {
            FpBuffer *chain = NULL;
            while (c->tail) {
                FpBuffer *b = c->tail;
                idle_unlink(c, b);
                b->next = chain;
                chain = b;
            }
            free_chain(chain);
        }
        pthread_cond_destroy(&c->cond);
    }
    pthread_mutex_destroy(&p->lock);
    if (p->shm_base) {
        munmap(p->shm_base, p->shm_size);
        if (shm_unlink(p->shm_name) < 0 && errno != ENOENT)
            fp_log_warn(LOG_COMPONENT, "pool '%s': shm_unlink(%s): %s", p->name, p->shm_name,
                        strerror(errno));
    }
    free(p->slots);
    free(p);
}

/* ---- shared memory ---- */

/* Returns 1 when an existing segment `name` is a framepipe pool whose creator is dead, else a negative code with a message. */
static int shm_check_stale(const char *name)
{
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1; /* vanished meanwhile: just retry */
        return fp_error(FP_EEXISTS, "shm_name '%s': a segment of that name exists and cannot be opened (%s)",
                        name, strerror(errno));
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(FpPoolShmHeader)) {
        rc = fp_error(FP_EEXISTS,
                      "shm_name '%s': a segment of that name exists (%lld bytes) and is not a framepipe pool; "
                      "not removing it (delete /dev/shm%s if it is stale)",
                      name, (long long)st.st_size, name);
        close(fd);
        return rc;
    }
    const FpPoolShmHeader *h = mmap(NULL, sizeof(*h), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (h == MAP_FAILED)
        return fp_error(FP_EEXISTS, "shm_name '%s': a segment of that name exists and cannot be mapped (%s)",
                        name, strerror(errno));
    if (memcmp(h->magic, FP_POOL_SHM_MAGIC, 8) != 0) {
        rc = fp_error(FP_EEXISTS,
                      "shm_name '%s': a segment of that name exists and is not a framepipe pool (bad magic); "
                      "not removing it (delete /dev/shm%s if it is stale)",
                      name, name);
    } else {
        pid_t pid = h->creator_pid;
        if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH) {
            fp_log_warn(LOG_COMPONENT, "shm_name '%s': replacing a stale pool segment of dead pid %d", name,
                        (int)pid);
            rc = 1;
        } else {
            rc = fp_error(FP_EEXISTS, "shm_name '%s': in use by pool '%.63s' of live pid %d", name, h->name,
                          (int)pid);
        }
    }
    munmap((void *)h, sizeof(*h));
    return rc;
}

static int shm_setup(FpPool *p)
{
    const char *name = p->shm_name;
    size_t off = FP_POOL_SHM_HEADER_SIZE;
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        c->stride = round_up(c->size, p->alignment);
        if (c->stride > ((size_t)INT64_MAX - off) / p->max_buffers)
            return fp_error(FP_EINVALID, "pool '%s': shm segment for %u slots of class_size[%u]=%zu is too large",
                            p->name, p->max_buffers, i, c->size);
        off += c->stride * p->max_buffers;
    }
    p->shm_size = off;
    p->slots = calloc((size_t)p->n_classes * p->max_buffers, sizeof(FpBuffer));
    if (!p->slots)
        return fp_error(-ENOMEM, "pool '%s': no memory for %u slot headers", p->name,
                        p->n_classes * p->max_buffers);

    int fd = -1;
    for (int attempt = 0; attempt < 3 && fd < 0; attempt++) {
        fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0)
            break;
        if (errno != EEXIST)
            return fp_error(-errno, "shm_name '%s': shm_open: %s", name, strerror(errno));
        int rc = shm_check_stale(name);
        if (rc < 0)
            return rc;
        shm_unlink(name);
    }
    if (fd < 0)
        return fp_error(FP_EEXISTS, "shm_name '%s': keeps reappearing while replacing a stale segment", name);

    int rc = 0;
    if (ftruncate(fd, (off_t)p->shm_size) < 0) {
        rc = fp_error(-errno, "shm_name '%s': ftruncate to %zu bytes: %s", name, p->shm_size, strerror(errno));
        goto fail;
    }
    /* Reserve every page now: a full /dev/shm fails here, not as SIGBUS on first touch. */
    int err = posix_fallocate(fd, 0, (off_t)p->shm_size);
    if (err == ENOSPC) {
        rc = fp_error(-ENOSPC, "shm_name '%s': no room in /dev/shm for the pool segment of %zu bytes (%.1f MiB)",
                      name, p->shm_size, p->shm_size / 1048576.0);
        goto fail;
    } else if (err) {
        rc = fp_error(-err, "shm_name '%s': posix_fallocate of %zu bytes: %s", name, p->shm_size, strerror(err));
        goto fail;
    }
    void *base = mmap(NULL, p->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = fp_error(-errno, "shm_name '%s': mmap of %zu bytes: %s", name, p->shm_size, strerror(errno));
        goto fail;
    }
    close(fd);
    p->shm_base = base;

    FpPoolShmHeader *h = base;
    h->version = FP_POOL_SHM_VERSION;
    h->header_size = FP_POOL_SHM_HEADER_SIZE;
    h->generation = (uint64_t)fp_wall_ns();
    h->segment_size = p->shm_size;
    h->creator_pid = (int32_t)getpid();
    h->n_classes = p->n_classes;
    h->alignment = (uint32_t)p->alignment;
    snprintf(h->name, sizeof(h->name), "%s", p->name);
    off = FP_POOL_SHM_HEADER_SIZE;
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        h->cls[i] = (FpPoolShmClass){c->size, c->stride, p->max_buffers, off};
        /* spare list in slot order: slot 0 is taken first */
        for (unsigned k = p->max_buffers; k-- > 0;) {
            FpBuffer *b = &p->slots[(size_t)i * p->max_buffers + k];
            b->data = (uint8_t *)base + off + (size_t)k * c->stride;
            b->size = c->size;
            b->pool = p;
            b->cls = i;
            b->shm_offset = (int64_t)(off + (size_t)k * c->stride);
            b->next = c->spare;
            c->spare = b;
        }
        off += c->stride * p->max_buffers;
    }
    memcpy(h->magic, FP_POOL_SHM_MAGIC, 8);
    return 0;

fail:
    close(fd);
    shm_unlink(name);
    return rc;
}

/* ---- configuration ---- */

static int validate(const FpPoolConfig *cfg, const char *name)
{
    if (cfg->n_classes < 1 || cfg->n_classes > FP_POOL_MAX_CLASSES)
        return fp_error(FP_EINVALID, "pool '%s': n_classes is %u, must be 1..%d", name, cfg->n_classes,
                        FP_POOL_MAX_CLASSES);
    for (unsigned i = 0; i < cfg->n_classes; i++) {
        size_t s = cfg->class_size[i];
        if (s == 0)
            return fp_error(FP_EINVALID, "pool '%s': class_size[%u] is 0", name, i);
        if (s > FP_POOL_MAX_CLASS_SIZE)
            return fp_error(FP_EINVALID, "pool '%s': class_size[%u] is %zu bytes, more than the %zu-byte limit",
                            name, i, s, FP_POOL_MAX_CLASS_SIZE);
        if (i > 0 && s <= cfg->class_size[i - 1])
            return fp_error(FP_EINVALID, "pool '%s': class_size[%u] (%zu) must be greater than class_size[%u] (%zu)",
                            name, i, s, i - 1, cfg->class_size[i - 1]);
    }
    size_t a = cfg->alignment;
    if (a != 0 && (a < 16 || a > FP_POOL_MAX_ALIGNMENT || (a & (a - 1)) != 0))
        return fp_error(FP_EINVALID, "pool '%s': alignment %zu is not a power of two in 16..%d", name, a,
                        FP_POOL_MAX_ALIGNMENT);
    unsigned per_class = umax(cfg->prealloc, cfg->min_buffers);
    if (cfg->max_buffers && (uint64_t)per_class * cfg->n_classes > cfg->max_buffers)
        return fp_error(FP_EINVALID, "pool '%s': prealloc/min_buffers %u x %u classes exceeds max_buffers %u", name,
                        per_class, cfg->n_classes, cfg->max_buffers);
    if (cfg->min_buffers > 0 && cfg->prealloc > 0 && cfg->min_buffers > cfg->prealloc)
        fp_log_debug(LOG_COMPONENT, "pool '%s': min_buffers %u > prealloc %u: preallocating %u", name,
                     cfg->min_buffers, cfg->prealloc, cfg->min_buffers);
    double want = 0;
    for (unsigned i = 0; i < cfg->n_classes; i++)
        want += (double)per_class * (double)cfg->class_size[i];
    if (cfg->max_bytes && want > (double)cfg->max_bytes)
        return fp_error(FP_EINVALID, "pool '%s': max_bytes %zu is less than the %.0f bytes preallocated", name,
                        cfg->max_bytes, want);
    if (cfg->max_bytes && cfg->max_bytes < cfg->class_size[0])
        return fp_error(FP_EINVALID, "pool '%s': max_bytes %zu is less than class_size[0] %zu", name,
                        cfg->max_bytes, cfg->class_size[0]);
    if (want > (double)FP_POOL_MAX_CLASS_SIZE)
        return fp_error(FP_EINVALID, "pool '%s': prealloc of %.0f bytes is absurd (limit %zu)", name, want,
                        FP_POOL_MAX_CLASS_SIZE);
    if (cfg->idle_evict_ns < 0)
        return fp_error(FP_EINVALID, "pool '%s': idle_evict_ns is negative (%lld)", name,
                        (long long)cfg->idle_evict_ns);
    if (!(cfg->grow_below_hit_rate >= 0 && cfg->grow_below_hit_rate <= 1))
        return fp_error(FP_EINVALID, "pool '%s': grow_below_hit_rate %g is not in 0..1", name,
                        cfg->grow_below_hit_rate);
    if (!(cfg->shrink_idle_fraction >= 0 && cfg->shrink_idle_fraction <= 1))
        return fp_error(FP_EINVALID, "pool '%s': shrink_idle_fraction %g is not in 0..1", name,
                        cfg->shrink_idle_fraction);
    if (cfg->shm_name) {
        size_t n = strlen(cfg->shm_name);
        if (n < 2 || n > 250 || cfg->shm_name[0] != '/' || strchr(cfg->shm_name + 1, '/'))
            return fp_error(FP_EINVALID, "pool '%s': shm_name '%s' must be '/' followed by 1..249 characters, no other '/'",
                            name, cfg->shm_name);
        if (!cfg->max_buffers)
            return fp_error(FP_EINVALID, "pool '%s': max_buffers must be set with shm_name (it sizes the fixed segment)",
                            name);
        if (cfg->max_buffers > (1u << 20))
            return fp_error(FP_EINVALID, "pool '%s': max_buffers %u is too many shm slots (limit %u)", name,
                            cfg->max_buffers, 1u << 20);
    }
    return 0;
}

/* ---- public API ---- */

int fp_pool_create(FpPool **out, const FpPoolConfig *cfg)
{
    if (!out)
        return fp_error(FP_EINVALID, "fp_pool_create: out is NULL");
    if (!cfg)
        return fp_error(FP_EINVALID, "fp_pool_create: cfg is NULL");
    const char *name = cfg->name && *cfg->name ? cfg->name : "pool";
    int rc = validate(cfg, name);
    if (rc < 0)
        return rc;

    FpPool *p = calloc(1, sizeof(*p));
    if (!p)
        return fp_error(-ENOMEM, "pool '%s': no memory for the pool", name);
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->n_classes = cfg->n_classes;
    p->alignment = cfg->alignment ? cfg->alignment : 64;
    p->header_stride = round_up(sizeof(FpBuffer), p->alignment);
    p->max_buffers = cfg->max_buffers;
    p->max_bytes = cfg->max_bytes;
    p->idle_evict_ns = cfg->idle_evict_ns;
    p->grow_below = cfg->grow_below_hit_rate;
    p->shrink_idle = cfg->shrink_idle_fraction;
    p->window = cfg->tune_window ? cfg->tune_window : 256;
    /* The benchmark's baseline (bench/run.py, docs/pool.md): every acquire allocates, every last unref frees. */
    const char *bypass = getenv("FP_POOL_BYPASS");
    p->bypass = !cfg->shm_name && bypass && strcmp(bypass, "1") == 0;
    const char *no_huge = getenv("FP_POOL_NO_HUGEPAGES");
    p->huge_pages = FP_POOL_HUGE_BUILD && !p->bypass && !(no_huge && strcmp(no_huge, "1") == 0); /* bypass: malloc, as a plain program does */
    if (p->bypass) {
        p->grow_below = 0;
        fp_log_info(LOG_COMPONENT, "pool '%s': FP_POOL_BYPASS=1: no reuse, each buffer is allocated and freed", name);
    }

    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    unsigned per_class = p->bypass ? 0 : umax(cfg->prealloc, cfg->min_buffers);
    unsigned min = p->bypass ? 0 : cfg->min_buffers ? cfg->min_buffers : cfg->prealloc;
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        c->size = cfg->class_size[i];
        c->target = per_class;
        c->min = min;
        c->win_min_idle = UINT_MAX;
        pthread_cond_init(&c->cond, &ca);
    }
    pthread_condattr_destroy(&ca);

    if (cfg->shm_name) {
        snprintf(p->shm_name, sizeof(p->shm_name), "%s", cfg->shm_name);
        rc = shm_setup(p);
        if (rc < 0) {
            free(p->slots);
            p->slots = NULL;
            p->shm_base = NULL;
            goto fail;
        }
    }

    int64_t now = fp_clock_ns();
    for (unsigned i = 0; i < p->n_classes; i++) {
        for (unsigned k = 0; k < per_class; k++) {
            FpBuffer *b = reserve(p, i);
            if (!b)
                b = heap_buffer_new(p, i);
            if (!b) {
                unreserve(p, i);
                rc = fp_error(-ENOMEM, "pool '%s': no memory to preallocate buffer %u of class_size[%u]=%zu", p->name,
                              k, i, p->cls[i].size);
                goto fail;
            }
            b->idle_since_ns = now;
            idle_push_head(&p->cls[i], b);
        }
    }
    *out = p;
    return 0;

fail:
    pool_free(p);
    return rc;
}

void fp_pool_destroy(FpPool **pp)
{
    if (!pp || !*pp)
        return;
    FpPool *p = *pp;
    *pp = NULL;
    FpBuffer *chain = NULL;
    pthread_mutex_lock(&p->lock);
    p->destroyed = 1;
    p->flushing = 1;
    for (unsigned i = 0; i < p->n_classes; i++) {
        FpPoolClass *c = &p->cls[i];
        while (c->tail) {
            FpBuffer *b = c->tail;
            idle_unlink(c, b);
            retire(p, b, &chain);
        }
        pthread_cond_broadcast(&c->cond);
    }
    int last = p->in_use == 0;
    pthread_mutex_unlock(&p->lock);
    free_chain(chain);
    if (last)
        pool_free(p);
}

static int find_class(const FpPool *p, size_t size)
{
    for (unsigned i = 0; i < p->n_classes; i++)
        if (size <= p->cls[i].size)
            return (int)i;
    return -1;
}

int fp_pool_acquire(FpPool *p, size_t size, int64_t timeout_ns, FpBuffer **out)
{
    if (!p || !out)
        return fp_error(FP_EINVALID, "fp_pool_acquire: %s is NULL", !p ? "pool" : "out");
    int ci_found = find_class(p, size);
    if (ci_found < 0)
        return fp_error(FP_ETOO_LARGE, "pool '%s': no class holds %zu bytes (largest is %zu)", p->name, size,
                        p->cls[p->n_classes - 1].size);
    unsigned ci = (unsigned)ci_found;
    FpPoolClass *c = &p->cls[ci];
    FpBuffer *chain = NULL, *b = NULL;
    unsigned prealloc_n = 0;
    int rc = 0, made = 0, hit = 0, waited = 0, expired = 0, freed = 0;
    struct timespec deadline = {0, 0};
    int64_t now = p->idle_evict_ns > 0 ? fp_clock_ns() : 0;

    pthread_mutex_lock(&p->lock);
    if (p->flushing) {
        pthread_mutex_unlock(&p->lock);
        return fp_error(FP_EFLUSHING, "pool '%s': flushing", p->name);
    }
    freed = evict_expired(p, now, &chain);
    for (;;) {
        if (p->flushing) {
            rc = FP_EFLUSHING;
            break;
        }
        if (c->head) {
            b = c->head;
            idle_unlink(c, b);
            hit = !waited;
            break;
        }
        if (room_for(p, c->size)) {
            b = reserve(p, ci);
            made = 1;
            break;
        }
        if (steal(p, ci, &chain)) {
            freed = 1;
            continue;
        }
        if (timeout_ns == 0) {
            rc = FP_EWOULD_BLOCK;
            break;
        }
        if (expired) {
            rc = FP_ETIMEOUT;
            break;
        }
        if (!waited) {
            waited = 1;
            p->waits++;
            if (timeout_ns > 0)
                deadline = fp_deadline_ts(timeout_ns);
        }
        c->waiters++;
        int w = timeout_ns > 0 ? pthread_cond_timedwait(&c->cond, &p->lock, &deadline)
                               : pthread_cond_wait(&c->cond, &p->lock);
        c->waiters--;
        if (w == ETIMEDOUT)
            expired = 1; /* one more look, then FP_ETIMEOUT */
    }
    if (rc != FP_EFLUSHING) {
        if (hit)
            p->hits++;
        else
            p->misses++;
        if (rc == 0) {
            c->in_use++;
            p->in_use++;
            p->bytes_in_use += c->size;
            if (p->in_use > p->peak_in_use)
                p->peak_in_use = p->in_use;
        } else {
            p->timeouts++;
        }
        tune(p, ci, hit, now, &chain, &prealloc_n);
    }
    if (freed || chain)
        wake_for_room(p);
    unsigned n_total = p->n_total;
    size_t bytes_total = p->bytes_total;
    pthread_mutex_unlock(&p->lock);
    free_chain(chain);

    if (rc == FP_EWOULD_BLOCK)
        return fp_error(rc, "pool '%s': all buffers in use (%u of max_buffers %u, %zu of max_bytes %zu)", p->name,
                        n_total, p->max_buffers, bytes_total, p->max_bytes);
    if (rc == FP_ETIMEOUT)
        return fp_error(rc, "pool '%s': no buffer of %zu bytes within %lld ns", p->name, c->size,
                        (long long)timeout_ns);
    if (rc == FP_EFLUSHING)
        return fp_error(rc, "pool '%s': flushing", p->name);

    if (made && !b) {
        b = heap_buffer_new(p, ci);
        if (!b) {
            pthread_mutex_lock(&p->lock);
            unreserve(p, ci);
            c->in_use--;
            p->in_use--;
            p->bytes_in_use -= c->size;
            wake_for_room(p);
            pthread_mutex_unlock(&p->lock);
            return fp_error(-ENOMEM, "pool '%s': no memory for a buffer of %zu bytes", p->name, c->size);
        }
    }
    atomic_store_explicit(&b->refcount, 1, memory_order_relaxed);
    *out = b;

    if (prealloc_n) {
        /* The tuner raised the target: make the reserved buffers now, outside the lock. */
        FpBuffer *made_chain = NULL;
        unsigned failed = 0;
        for (unsigned k = 0; k < prealloc_n; k++) {
            FpBuffer *nb = heap_buffer_new(p, ci);
            if (!nb) {
                failed++;
                continue;
            }
            nb->next = made_chain;
            made_chain = nb;
        }
        pthread_mutex_lock(&p->lock);
        int64_t t = fp_clock_ns();
        while (made_chain) {
            FpBuffer *nb = made_chain;
            made_chain = nb->next;
            nb->idle_since_ns = t;
            idle_push_head(c, nb);
        }
        for (unsigned k = 0; k < failed; k++)
            unreserve(p, ci);
        if (c->waiters)
            pthread_cond_broadcast(&c->cond);
        if (failed)
            wake_for_room(p);
        pthread_mutex_unlock(&p->lock);
        if (failed)
            fp_log_warn(LOG_COMPONENT, "pool '%s': growing: no memory for %u of %u buffers", p->name, failed,
                        prealloc_n);
    }
    return 0;
}

/* The last reference is gone: the buffer goes home (or away, after destroy). */
static void pool_return(FpBuffer *b)
{
    FpPool *p = b->pool;
    FpPoolClass *c = &p->cls[b->cls];
    FpBuffer *chain = NULL;
    int64_t now = p->idle_evict_ns > 0 ? fp_clock_ns() : 0;
    pthread_mutex_lock(&p->lock);
    c->in_use--;
    p->in_use--;
    p->bytes_in_use -= c->size;
    int freed = 0;
    if (p->destroyed || p->bypass) {
        retire(p, b, &chain);
        if (p->bypass)
            wake_for_room(p); /* the freed buffer is room for a waiter of any class */
    } else {
        b->idle_since_ns = now;
        idle_push_head(c, b);
        freed = evict_expired(p, now, &chain);
        if (c->waiters) {
            pthread_cond_signal(&c->cond);
        } else {
            /* waiters of other classes may free this buffer to make room (rare: bounds hit across classes) */
            for (unsigned i = 0; i < p->n_classes; i++)
                if (p->cls[i].waiters)
                    pthread_cond_broadcast(&p->cls[i].cond);
        }
        if (freed)
            wake_for_room(p);
    }
    int last = p->destroyed && p->in_use == 0;
    pthread_mutex_unlock(&p->lock);
    free_chain(chain);
    if (last)
        pool_free(p);
}

void fp_pool_set_flushing(FpPool *p, int flushing)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->flushing = flushing != 0;
    if (p->flushing)
        for (unsigned i = 0; i < p->n_classes; i++)
            pthread_cond_broadcast(&p->cls[i].cond);
    pthread_mutex_unlock(&p->lock);
}

int fp_pool_evict_idle(FpPool *p)
{
    if (!p)
        return fp_error(FP_EINVALID, "fp_pool_evict_idle: pool is NULL");
    FpBuffer *chain = NULL;
    int64_t now = fp_clock_ns();
    pthread_mutex_lock(&p->lock);
    int n = evict_expired(p, now, &chain);
    if (n)
        wake_for_room(p);
    pthread_mutex_unlock(&p->lock);
    free_chain(chain);
    return n;
}

void fp_pool_get_stats(FpPool *p, FpPoolStats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof(*out));
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    out->hits = p->hits;
    out->misses = p->misses;
    out->hit_rate = p->hits + p->misses ? (double)p->hits / (double)(p->hits + p->misses) : 0;
    out->waits = p->waits;
    out->timeouts = p->timeouts;
    out->evictions = p->evictions;
    out->in_use = p->in_use;
    for (unsigned i = 0; i < p->n_classes; i++) {
        out->idle += p->cls[i].idle;
        out->target += p->cls[i].target;
    }
    out->peak_in_use = p->peak_in_use;
    out->bytes_total = p->bytes_total;
    out->bytes_in_use = p->bytes_in_use;
    out->grows = p->grows;
    out->shrinks = p->shrinks;
    pthread_mutex_unlock(&p->lock);
}

const char *fp_pool_name(const FpPool *p)
{
    return p ? p->name : "(null)";
}

size_t fp_pool_shm_size(const FpPool *p)
{
    return p && p->shm_base ? p->shm_size : 0;
}

FpBuffer *fp_buffer_ref(FpBuffer *b)
{
    if (b)
        atomic_fetch_add_explicit(&b->refcount, 1, memory_order_relaxed);
    return b;
}

void fp_buffer_unref(FpBuffer **pb)
{
    if (!pb || !*pb)
        return;
    FpBuffer *b = *pb;
    *pb = NULL;
    int old = atomic_fetch_sub_explicit(&b->refcount, 1, memory_order_acq_rel);
    if (old == 1)
        pool_return(b);
    else if (old <= 0)
        fp_log_error(LOG_COMPONENT, "pool '%s': buffer %p released more often than referenced (refcount %d)",
                     b->pool->name, (void *)b, old - 1);
}

uint8_t *fp_buffer_data(const FpBuffer *b)
{
    return b ? b->data : NULL;
}

size_t fp_buffer_size(const FpBuffer *b)
{
    return b ? b->size : 0;
}

int fp_buffer_is_writable(const FpBuffer *b)
{
    return b && atomic_load_explicit(&((FpBuffer *)b)->refcount, memory_order_acquire) == 1;
}

int64_t fp_buffer_shm_offset(const FpBuffer *b)
{
    return b ? b->shm_offset : -1;
}
