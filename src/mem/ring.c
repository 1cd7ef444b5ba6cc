// SPDX-License-Identifier: MIT
// FpRing: the shared-memory frame ring (one writer, many reader processes, seqlocked slots, futex wake-ups).
#include "mem/ring_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * Design note.
 *
 * Frame n (from 1) lives in slot (n - 1) % slot_count. The writer is the only
 * process that writes frames, so it counts them locally; write_seq in the
 * header publishes the count. Each slot descriptor carries a seqlock: the
 * writer stores 2n-1 before touching the slot for frame n and 2n after the
 * payload and metadata are complete; a reader that saw 2n before reading and
 * still sees 2n after (fp_ring_read_end) knows the bytes it read are frame n.
 *
 * Wake-ups are futexes on shared (not FUTEX_PRIVATE) 32-bit words: readers
 * sleep on `notify`, which the writer bumps after each commit and each state
 * change; a lossless writer sleeps on `read_progress`, which lossless readers
 * bump when they release a frame. The sleeper loads the word first, then
 * checks its condition, then sleeps only if the word is unchanged, so no
 * wake-up is lost. The writer wakes readers on every commit (a latest reader
 * maps the segment read-only and cannot announce that it sleeps); a reader
 * wakes the writer only when writer_waiting says it sleeps (seq_cst on both
 * sides: the Dekker pattern).
 *
 * A lossless reader's cursor is the last frame it released. Before writing
 * frame n into a slot the writer needs every active cursor >= n - slot_count.
 * Each entry stores the reader's pid and process start time; while blocked
 * the writer re-checks them every FP_RING_LIVENESS_NS and drops dead readers,
 * so a crashed reader cannot stall it.
 *
 * A restarted writer builds a new segment under a temporary name, renames it
 * over the old one, then marks the old one SUPERSEDED (with the new
 * generation) and wakes its readers; they re-open the name and report
 * FP_EGENERATION once. Values read from the header are validated once at
 * open and cached: a reader never trusts shared memory for sizes afterwards.
 */

/* The seqlock needs real fences; GCC warns that ThreadSanitizer does not model them. The
 * payload is shared between processes (or separate mappings), where TSan cannot see it anyway. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__SANITIZE_THREAD__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif

#define FP_RING_LIVENESS_NS (100 * 1000 * 1000LL)
#define SHM_DIR "/dev/shm"

struct FpRing {
    char name[FP_RING_NAME_MAX + 2]; /* "/name" */
    int is_writer;
    FpRingReaderMode mode;

    uint8_t *base;
    size_t map_size;
    FpRingHeader *hdr;
    FpRingControl *ctl;
    FpRingDesc *desc;
    uint8_t *slots;
    FpRingInfo info; /* validated copy of the header's shape */
    uint64_t slot_stride;

    /* writer */
    uint64_t next;   /* the frame number the next begin_write reserves */
    int write_open;

    /* reader */
    int entry;          /* lossless reader table index, -1 if none */
    uint64_t last_seq;  /* last frame returned (lossless: released) */
    int view_open;
    uint64_t view_seq;
    uint32_t view_slot;

    FpRingStats stats;
};

/* ---- small helpers ---------------------------------------------------- */

/* Local names (fp_pixel_format_name lives with the frame code; the ring does not depend on it). */
static const char *format_name(FpPixelFormat f)
{
    static const char *const names[] = {"none", "yuv420p", "nv12", "rgb24", "bgr24", "gray8"};
    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

static uint64_t page_align(uint64_t v)
{
    return (v + FP_RING_PAGE - 1) & ~(uint64_t)(FP_RING_PAGE - 1);
}

static uint64_t align64(uint64_t v)
{
    return (v + 63) & ~(uint64_t)63;
}

static int normalize_name(const char *name, char *out)
{
    if (!name || !*name)
        return fp_error(FP_EINVALID, "ring name is empty");
    const char *p = name[0] == '/' ? name + 1 : name;
    size_t len = strlen(p);
    if (len == 0 || len > FP_RING_NAME_MAX - 16)
        return fp_error(FP_EINVALID, "ring name \"%s\": length must be 1..%d", name,
                        FP_RING_NAME_MAX - 16);
    if (strchr(p, '/') || !strcmp(p, ".") || !strcmp(p, ".."))
        return fp_error(FP_EINVALID, "ring name \"%s\": no '/' allowed after the leading one", name);
    out[0] = '/';
    memcpy(out + 1, p, len + 1);
    return 0;
}

static int futex_wait(_Atomic uint32_t *word, uint32_t expected, int64_t timeout_ns)
{
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    /* Shared futex: the word is in a MAP_SHARED mapping seen by other processes. */
    long r = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0);
    return r < 0 ? -errno : 0;
}

static void futex_wake(_Atomic uint32_t *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Reads state letter and start time (clock ticks since boot) of a process; 0 if unreadable. */
static int proc_stat(pid_t pid, char *state, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may contain spaces and parentheses */
    if (!p || p[1] != ' ')
        return -EIO;
    p += 2;
    *state = *p;
    /* fields after comm: 3 state ... 22 starttime */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EIO;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

static uint64_t self_start_time(void)
{
    char st;
    uint64_t start = 0;
    proc_stat(getpid(), &st, &start);
    return start;
}

/* 1 if the process (pid, start time) still runs; 0 if it exited, is a zombie, or the pid was reused. */
static int process_alive(int32_t pid, uint64_t start)
{
    if (pid <= 0)
        return 0;
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return 0;
    char st;
    uint64_t now_start;
    if (proc_stat(pid, &st, &now_start) == 0) {
        if (st == 'Z' || st == 'X')
            return 0;
        if (start && now_start != start)
            return 0;
    }
    return 1;
}

int64_t fp_ring_frame_layout(int width, int height, FpPixelFormat format,
                             int linesize[FP_FRAME_MAX_PLANES],
                             uint64_t plane_offset[FP_FRAME_MAX_PLANES], int *plane_count)
{
    int ls[FP_FRAME_MAX_PLANES] = {0}, min_ls[FP_FRAME_MAX_PLANES] = {0}, rows[FP_FRAME_MAX_PLANES] = {0};
    int n = 0;
    if (format == FP_PIX_NONE) {
        if (width || height)
            return fp_error(FP_EINVALID, "frame geometry %dx%d given without a pixel format",
                            width, height);
        if (plane_count)
            *plane_count = 0;
        for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
            if (linesize)
                linesize[i] = 0;
            if (plane_offset)
                plane_offset[i] = 0;
        }
        return 0;
    }
    if (width <= 0 || height <= 0 || width > 65536 || height > 65536)
        return fp_error(FP_EINVALID, "frame size %dx%d: must be 1..65536 in each direction", width,
                        height);
    int cw = (width + 1) / 2, ch = (height + 1) / 2;
    switch (format) {
    case FP_PIX_YUV420P:
        n = 3;
        min_ls[0] = width, rows[0] = height;
        min_ls[1] = min_ls[2] = cw, rows[1] = rows[2] = ch;
        break;
    case FP_PIX_NV12:
        n = 2;
        min_ls[0] = width, rows[0] = height;
        min_ls[1] = 2 * cw, rows[1] = ch;
        break;
    case FP_PIX_RGB24:
    case FP_PIX_BGR24:
        n = 1;
        min_ls[0] = 3 * width, rows[0] = height;
        break;
    case FP_PIX_GRAY8:
        n = 1;
        min_ls[0] = width, rows[0] = height;
        break;
    default:
        return fp_error(FP_EINVALID, "pixel format %d is not one the ring knows", (int)format);
    }
    uint64_t off = 0, offs[FP_FRAME_MAX_PLANES] = {0};
    for (int i = 0; i < n; i++) {
        int want = linesize ? linesize[i] : 0;
        if (want == 0)
            want = min_ls[i];
        if (want < min_ls[i] || want > (1 << 20))
            return fp_error(FP_EINVALID, "%s %dx%d: linesize %d of plane %d is below %d or absurd",
                            format_name(format), width, height, want, i, min_ls[i]);
        ls[i] = want;
        off = align64(off);
        offs[i] = off;
        off += (uint64_t)want * (uint64_t)rows[i];
    }
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
        if (linesize)
            linesize[i] = ls[i];
        if (plane_offset)
            plane_offset[i] = offs[i];
    }
    if (plane_count)
        *plane_count = n;
    return (int64_t)off;
}

/* ---- header validation (reader side) ---------------------------------- */

static int validate_header(const FpRingHeader *h, uint64_t file_size, const char *name)
{
    if (memcmp(h->magic, FP_RING_MAGIC, 8) != 0)
        return fp_error(FP_EBAD_MAGIC, "segment %s: wrong magic (not a framepipe ring)", name);
    if (h->version != FP_RING_VERSION)
        return fp_error(FP_EBAD_VERSION, "segment %s: layout version %u, this build reads %u", name,
                        h->version, FP_RING_VERSION);
    if (h->header_size != FP_RING_PAGE || h->control_offset != FP_RING_PAGE ||
        h->desc_offset != 2 * FP_RING_PAGE)
        return fp_error(FP_ECORRUPT, "segment %s: header/control/descriptor offsets %u/%llu/%llu are wrong",
                        name, h->header_size, (unsigned long long)h->control_offset,
                        (unsigned long long)h->desc_offset);
    if (h->slot_count == 0 || h->slot_count > FP_RING_MAX_SLOTS)
        return fp_error(FP_ECORRUPT, "segment %s: slot count %u outside 1..%d", name, h->slot_count,
                        FP_RING_MAX_SLOTS);
    if (h->slot_size == 0 || h->slot_size > FP_RING_MAX_BYTES || h->slot_stride < h->slot_size ||
        h->slot_stride % FP_RING_PAGE || h->slot_stride > FP_RING_MAX_BYTES)
        return fp_error(FP_ECORRUPT, "segment %s: slot size %llu / stride %llu inconsistent", name,
                        (unsigned long long)h->slot_size, (unsigned long long)h->slot_stride);
    uint64_t slots_off = page_align(h->desc_offset + (uint64_t)h->slot_count * FP_RING_DESC_SIZE);
    if (h->slots_offset != slots_off ||
        h->total_size != slots_off + (uint64_t)h->slot_count * h->slot_stride)
        return fp_error(FP_ECORRUPT, "segment %s: slots offset %llu / total size %llu inconsistent",
                        name, (unsigned long long)h->slots_offset, (unsigned long long)h->total_size);
    if (h->max_readers != FP_RING_MAX_READERS)
        return fp_error(FP_ECORRUPT, "segment %s: reader table of %u entries, expected %d", name,
                        h->max_readers, FP_RING_MAX_READERS);
    if (file_size < h->total_size)
        return fp_error(FP_ETRUNCATED, "segment %s: %llu bytes, but its header describes %llu",
                        name, (unsigned long long)file_size, (unsigned long long)h->total_size);
    int ls[FP_FRAME_MAX_PLANES];
    uint64_t offs[FP_FRAME_MAX_PLANES];
    int planes = 0;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++)
        ls[i] = h->linesize[i] > INT_MAX ? INT_MAX : (int)h->linesize[i];
    if (h->width > 65536 || h->height > 65536 || h->format > FP_PIX_GRAY8)
        return fp_error(FP_ECORRUPT, "segment %s: geometry %ux%u format %u is invalid", name,
                        h->width, h->height, h->format);
    int64_t fsize = fp_ring_frame_layout((int)h->width, (int)h->height, (FpPixelFormat)h->format,
                                         ls, offs, &planes);
    if (fsize < 0)
        return fp_error(FP_ECORRUPT, "segment %s: geometry %ux%u %s is invalid", name, h->width,
                        h->height, format_name((FpPixelFormat)h->format));
    if ((uint64_t)fsize != h->frame_size || (uint32_t)planes != h->plane_count ||
        memcmp(offs, h->plane_offset, sizeof(offs)) != 0)
        return fp_error(FP_ECORRUPT, "segment %s: frame size / plane offsets do not match its geometry",
                        name);
    if (h->frame_size > h->slot_size)
        return fp_error(FP_ECORRUPT, "segment %s: slot size %llu is smaller than a %ux%u frame (%llu bytes)",
                        name, (unsigned long long)h->slot_size, h->width, h->height,
                        (unsigned long long)h->frame_size);
    return 0;
}

static void fill_info(FpRing *r)
{
    const FpRingHeader *h = r->hdr;
    FpRingInfo *in = &r->info;
    snprintf(in->name, sizeof(in->name), "%s", r->name);
    in->generation = h->generation;
    in->slot_count = h->slot_count;
    in->slot_size = h->slot_size;
    in->frame_size = h->frame_size;
    in->total_size = h->total_size;
    in->width = (int)h->width;
    in->height = (int)h->height;
    in->format = (FpPixelFormat)h->format;
    in->plane_count = (int)h->plane_count;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
        in->linesize[i] = (int)h->linesize[i];
        in->plane_offset[i] = h->plane_offset[i];
    }
    r->slot_stride = h->slot_stride;
    r->ctl = (FpRingControl *)(r->base + h->control_offset);
    r->desc = (FpRingDesc *)(r->base + h->desc_offset);
    r->slots = r->base + h->slots_offset;
}

/* ---- lossless reader table --------------------------------------------- */

static void drop_entry(FpRingControl *ctl, int i)
{
    atomic_store(&ctl->readers[i].pid, 0);
    atomic_store(&ctl->readers[i].state, FP_RING_READER_FREE);
}

/* Claims a reader-table entry for this process; its cursor starts at the current write_seq. */
static int claim_entry(FpRing *r)
{
    FpRingControl *ctl = r->ctl;
    int32_t me = (int32_t)getpid();
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < FP_RING_MAX_READERS; i++) {
            FpRingReaderEntry *e = &ctl->readers[i];
            uint32_t want = FP_RING_READER_FREE;
            if (pass == 1) {
                /* second pass: reclaim entries of dead readers */
                want = atomic_load(&e->state);
                if (want == FP_RING_READER_FREE || process_alive(atomic_load(&e->pid), e->start_time))
                    continue;
            }
            if (!atomic_compare_exchange_strong(&e->state, &want, FP_RING_READER_CLAIMED))
                continue;
            atomic_store(&e->pid, me);
            e->start_time = self_start_time();
            e->joined_ns = fp_wall_ns();
            uint64_t c0 = atomic_load(&r->hdr->write_seq);
            atomic_store(&e->cursor, c0);
            atomic_store(&e->state, FP_RING_READER_ACTIVE);
            /* Frames committed before the writer could see us are not ours: start after them. */
            uint64_t c1 = atomic_load(&r->hdr->write_seq);
            atomic_store(&e->cursor, c1);
            atomic_fetch_add(&ctl->read_progress, 1); /* a writer that saw c0 may go on */
            if (atomic_load(&ctl->writer_waiting))
                futex_wake(&ctl->read_progress);
            r->entry = i;
            r->last_seq = c1;
            return 0;
        }
    }
    return fp_error(FP_ERANGE, "segment %s: all %d lossless reader entries are taken by live readers",
                    r->name, FP_RING_MAX_READERS);
}

static void release_entry(FpRing *r)
{
    if (r->entry < 0)
        return;
    FpRingReaderEntry *e = &r->ctl->readers[r->entry];
    if (atomic_load(&e->pid) == (int32_t)getpid())
        drop_entry(r->ctl, r->entry);
    atomic_fetch_add(&r->ctl->read_progress, 1);
    if (atomic_load(&r->ctl->writer_waiting))
        futex_wake(&r->ctl->read_progress);
    r->entry = -1;
}

/* ---- open / map ---------------------------------------------------------- */

/* Maps segment `name` for reading into r (base, hdr, info, reader entry); on failure nothing
 * stays mapped and r's mapping fields are not to be used. */
static int map_reader(FpRing *r, const char *name, FpRingReaderMode mode)
{
    int lossless = mode == FP_RING_LOSSLESS;
    int fd = shm_open(name, (lossless ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return fp_error(-ENOENT, "segment %s: no such ring (is the writer running?)", name);
        if (e == EACCES)
            return fp_error(-EACCES, "segment %s: permission denied (%s access; segments are mode 0600 of the writer's user)",
                            name, lossless ? "read-write" : "read");
        return fp_error(-e, "segment %s: shm_open: %s", name, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return fp_error(-e, "segment %s: fstat: %s", name, strerror(e));
    }
    if ((uint64_t)st.st_size < FP_RING_PAGE) {
        close(fd);
        return fp_error(FP_ETRUNCATED, "segment %s: %lld bytes, smaller than the %u-byte ring header",
                        name, (long long)st.st_size, FP_RING_PAGE);
    }
    FpRingHeader *h = mmap(NULL, FP_RING_PAGE, PROT_READ, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        int e = errno;
        close(fd);
        return fp_error(-e, "segment %s: mmap of the header: %s", name, strerror(e));
    }
    int rc = validate_header(h, (uint64_t)st.st_size, name);
    uint64_t total = h->total_size;
    munmap(h, FP_RING_PAGE);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    uint8_t *base = mmap(NULL, total, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        return fp_error(-e, "segment %s: mmap of %llu bytes: %s", name, (unsigned long long)total,
                        strerror(e));
    }
    close(fd);
    /* Validate again on the mapping we keep (the name may have been replaced in between). */
    rc = validate_header((FpRingHeader *)base, total, name);
    if (rc == 0 && ((FpRingHeader *)base)->total_size != total)
        rc = fp_error(FP_ECORRUPT, "segment %s: replaced while being opened; try again", name);
    if (rc == 0 && lossless &&
        mprotect(base + FP_RING_PAGE, FP_RING_PAGE, PROT_READ | PROT_WRITE) < 0)
        rc = fp_error(-errno, "segment %s: cannot make the reader table writable: %s", name,
                      strerror(errno));
    if (rc < 0) {
        munmap(base, total);
        return rc;
    }
    r->base = base;
    r->map_size = total;
    r->hdr = (FpRingHeader *)base;
    fill_info(r);
    r->entry = -1;
    if (lossless) {
        rc = claim_entry(r);
        if (rc < 0) {
            munmap(base, total);
            r->base = NULL;
            r->hdr = NULL;
            return rc;
        }
    } else {
        uint64_t w = atomic_load_explicit(&r->hdr->write_seq, memory_order_acquire);
        r->last_seq = w ? w - 1 : 0; /* the first read returns the newest frame */
    }
    r->stats.generation = r->hdr->generation;
    return 0;
}

int fp_ring_open(FpRing **out, const char *name, FpRingReaderMode mode)
{
    if (!out)
        return fp_error(FP_EINVALID, "fp_ring_open: out is NULL");
    if (mode != FP_RING_LATEST && mode != FP_RING_LOSSLESS)
        return fp_error(FP_EINVALID, "ring %s: unknown reader mode %d", name ? name : "(null)",
                        (int)mode);
    FpRing *r = calloc(1, sizeof(*r));
    if (!r)
        return fp_error(-ENOMEM, "ring %s: out of memory", name ? name : "(null)");
    int rc = normalize_name(name, r->name);
    if (rc == 0)
        rc = map_reader(r, r->name, mode);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->mode = mode;
    *out = r;
    return 0;
}

/* The segment this reader maps was replaced by a restarted writer: map the new one. */
static int reopen(FpRing *r)
{
    FpRing fresh = *r;
    int rc = map_reader(&fresh, r->name, r->mode);
    if (rc < 0)
        return rc;
    if (fresh.hdr->generation == r->info.generation) {
        /* Cannot happen with a well-behaved writer (it renames before it marks). */
        release_entry(&fresh);
        munmap(fresh.base, fresh.map_size);
        return fp_error(FP_ECORRUPT, "ring %s: marked superseded but the name holds the same generation",
                        r->name);
    }
    /* The old segment is dead: its reader entry does not matter any more. */
    munmap(r->base, r->map_size);
    uint64_t old_gen = r->info.generation;
    *r = fresh;
    r->stats.generations++;
    r->stats.generation = r->info.generation;
    return fp_error(FP_EGENERATION, "ring %s: writer restarted (generation %llu -> %llu, %llu bytes)",
                    r->name, (unsigned long long)old_gen, (unsigned long long)r->info.generation,
                    (unsigned long long)r->map_size);
}

/* ---- writer ---------------------------------------------------------------- */

/* Looks at an existing segment `name` before replacing it. Sets *old (mapped header page, or NULL) and *old_gen. */
static int inspect_existing(const char *name, FpRingHeader **old, uint64_t *old_gen)
{
    *old = NULL;
    *old_gen = 0;
    int fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        int e = errno;
        return fp_error(-e, "segment %s: exists but cannot be opened to check it: %s", name, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < FP_RING_PAGE) {
        close(fd); /* empty or truncated: left by an interrupted run, replace it */
        return 0;
    }
    FpRingHeader *h = mmap(NULL, FP_RING_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (h == MAP_FAILED)
        return fp_error(-errno, "segment %s: mmap of the existing header: %s", name, strerror(errno));
    static const char zero[8];
    if (memcmp(h->magic, zero, 8) == 0) {
        munmap(h, FP_RING_PAGE);
        return 0;
    }
    int rc = 0;
    if (memcmp(h->magic, FP_RING_MAGIC, 8) != 0)
        rc = fp_error(FP_EBAD_MAGIC, "segment %s: exists and is not a framepipe ring (wrong magic); "
                      "remove " SHM_DIR "%s if it is stale", name, name);
    else if (h->version != FP_RING_VERSION)
        rc = fp_error(FP_EBAD_VERSION, "segment %s: exists with layout version %u (this build: %u); "
                      "remove " SHM_DIR "%s if its writer is gone", name, h->version, FP_RING_VERSION, name);
    else if (atomic_load(&h->state) == FP_RING_STATE_LIVE && process_alive(h->writer_pid, h->writer_start))
        rc = fp_error(FP_EEXISTS, "segment %s: a live writer (pid %d) already publishes it", name,
                      (int)h->writer_pid);
    if (rc < 0) {
        munmap(h, FP_RING_PAGE);
        return rc;
    }
    *old = h;
    *old_gen = h->generation;
    return 0;
}

/* Removes "<name>.new-<pid>" build leftovers of creates that crashed (their pid is gone). */
static void remove_stale_builds(const char *name)
{
    DIR *dir = opendir(SHM_DIR);
    if (!dir)
        return;
    char prefix[FP_RING_NAME_MAX + 8];
    int plen = snprintf(prefix, sizeof(prefix), "%s.new-", name + 1);
    struct dirent *de;
    while ((de = readdir(dir))) {
        if (strncmp(de->d_name, prefix, (size_t)plen) != 0)
            continue;
        char *end;
        long pid = strtol(de->d_name + plen, &end, 10);
        if (*end || pid <= 0 || pid > INT_MAX || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue;
        char victim[FP_RING_NAME_MAX + 64];
        snprintf(victim, sizeof(victim), "/%s", de->d_name);
        shm_unlink(victim);
    }
    closedir(dir);
}

static int validate_config(const char *name, const FpRingConfig *cfg, FpRingInfo *in, uint64_t *stride)
{
    if (!cfg)
        return fp_error(FP_EINVALID, "ring %s: config is NULL", name);
    if (cfg->slot_count == 0)
        return fp_error(FP_EINVALID, "ring %s: slot count is 0", name);
    if (cfg->slot_count > FP_RING_MAX_SLOTS)
        return fp_error(FP_ERANGE, "ring %s: slot count %u is absurd (at most %d)", name,
                        cfg->slot_count, FP_RING_MAX_SLOTS);
    memset(in, 0, sizeof(*in));
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++)
        in->linesize[i] = cfg->linesize[i];
    int64_t fsize = fp_ring_frame_layout(cfg->width, cfg->height, cfg->format, in->linesize,
                                         in->plane_offset, &in->plane_count);
    if (fsize < 0) {
        char why[256];
        snprintf(why, sizeof(why), "%s", fp_error_detail((int)fsize));
        return fp_error((int)fsize, "ring %s: %s", name, why);
    }
    uint64_t slot = cfg->slot_size ? cfg->slot_size : (uint64_t)fsize;
    if (slot == 0)
        return fp_error(FP_EINVALID, "ring %s: slot size is 0 (give slot_size or a frame geometry)", name);
    if (slot < (uint64_t)fsize)
        return fp_error(FP_ETOO_LARGE, "ring %s: slot size %llu is too small for a %dx%d %s frame (%lld bytes)",
                        name, (unsigned long long)slot, cfg->width, cfg->height,
                        format_name(cfg->format), (long long)fsize);
    if (slot > FP_RING_MAX_BYTES)
        return fp_error(FP_ERANGE, "ring %s: slot size %llu is absurd", name, (unsigned long long)slot);
    *stride = page_align(slot);
    uint64_t slots_off = page_align(2 * FP_RING_PAGE + (uint64_t)cfg->slot_count * FP_RING_DESC_SIZE);
    uint64_t total = slots_off + (uint64_t)cfg->slot_count * *stride;
    if (total > FP_RING_MAX_BYTES || total > (uint64_t)SIZE_MAX / 2)
        return fp_error(FP_ERANGE, "ring %s: %u slots of %llu bytes make an absurd segment (%llu bytes)",
                        name, cfg->slot_count, (unsigned long long)slot, (unsigned long long)total);
    in->slot_count = cfg->slot_count;
    in->slot_size = slot;
    in->frame_size = (uint64_t)fsize;
    in->total_size = total;
    in->width = cfg->width;
    in->height = cfg->height;
    in->format = cfg->format;
    return 0;
}

int fp_ring_create(FpRing **out, const char *name, const FpRingConfig *cfg)
{
    if (!out)
        return fp_error(FP_EINVALID, "fp_ring_create: out is NULL");
    char nm[FP_RING_NAME_MAX + 2], tmp[FP_RING_NAME_MAX + 40], tmp_path[FP_RING_NAME_MAX + 64],
        path[FP_RING_NAME_MAX + 64];
    int rc = normalize_name(name, nm);
    if (rc < 0)
        return rc;
    FpRingInfo in;
    uint64_t stride = 0;
    rc = validate_config(nm, cfg, &in, &stride);
    if (rc < 0)
        return rc;

    FpRingHeader *old = NULL;
    uint64_t old_gen = 0;
    rc = inspect_existing(nm, &old, &old_gen);
    if (rc < 0)
        return rc;

    snprintf(tmp, sizeof(tmp), "%s.new-%d", nm, (int)getpid());
    snprintf(tmp_path, sizeof(tmp_path), SHM_DIR "%s", tmp);
    snprintf(path, sizeof(path), SHM_DIR "%s", nm);
    shm_unlink(tmp); /* a leftover of an earlier crash of a process with our pid */
    remove_stale_builds(nm);
    int fd = shm_open(tmp, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = fp_error(-errno, "segment %s: cannot create (as %s): %s", nm, tmp, strerror(errno));
        goto fail_old;
    }
    if (fchmod(fd, 0600) < 0 || ftruncate(fd, (off_t)in.total_size) < 0) {
        rc = fp_error(-errno, "segment %s: cannot size it to %llu bytes: %s", nm,
                      (unsigned long long)in.total_size, strerror(errno));
        goto fail_fd;
    }
    /* Allocate every page now: a full /dev/shm must fail here, not SIGBUS a reader later. */
    int e = posix_fallocate(fd, 0, (off_t)in.total_size);
    if (e) {
        struct statvfs vfs;
        unsigned long long avail = 0;
        if (statvfs(SHM_DIR, &vfs) == 0)
            avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
        if (e == ENOSPC)
            rc = fp_error(-ENOSPC, "segment %s: no space in " SHM_DIR " for %llu bytes (%u slots of %llu; %llu bytes free)",
                          nm, (unsigned long long)in.total_size, in.slot_count,
                          (unsigned long long)in.slot_size, avail);
        else
            rc = fp_error(-e, "segment %s: cannot allocate %llu bytes: %s", nm,
                          (unsigned long long)in.total_size, strerror(e));
        goto fail_fd;
    }
    uint8_t *base = mmap(NULL, in.total_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (base == MAP_FAILED) {
        rc = fp_error(-errno, "segment %s: mmap of %llu bytes: %s", nm, (unsigned long long)in.total_size,
                      strerror(errno));
        goto fail_fd;
    }
    FpRingHeader *h = (FpRingHeader *)base;
    h->version = FP_RING_VERSION;
    h->header_size = FP_RING_PAGE;
    h->generation = old_gen + 1;
    h->slot_count = in.slot_count;
    h->slot_size = in.slot_size;
    h->slot_stride = stride;
    h->control_offset = FP_RING_PAGE;
    h->desc_offset = 2 * FP_RING_PAGE;
    h->slots_offset = page_align(2 * FP_RING_PAGE + (uint64_t)in.slot_count * FP_RING_DESC_SIZE);
    h->total_size = in.total_size;
    h->width = (uint32_t)in.width;
    h->height = (uint32_t)in.height;
    h->format = (uint32_t)in.format;
    h->plane_count = (uint32_t)in.plane_count;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
        h->linesize[i] = (uint32_t)in.linesize[i];
        h->plane_offset[i] = in.plane_offset[i];
    }
    h->frame_size = in.frame_size;
    h->writer_pid = (int32_t)getpid();
    h->max_readers = FP_RING_MAX_READERS;
    h->writer_start = self_start_time();
    h->created_ns = fp_wall_ns();
    atomic_store(&h->state, FP_RING_STATE_LIVE);
    atomic_thread_fence(memory_order_release);
    memcpy(h->magic, FP_RING_MAGIC, 8);
    if (rename(tmp_path, path) < 0) {
        rc = fp_error(-errno, "segment %s: cannot move %s into place: %s", nm, tmp_path, strerror(errno));
        munmap(base, in.total_size);
        goto fail_fd;
    }
    close(fd);
    if (old) {
        /* Tell readers of the replaced segment to re-open the name. */
        atomic_store(&old->superseded_by, old_gen + 1);
        atomic_store(&old->state, FP_RING_STATE_SUPERSEDED);
        atomic_fetch_add(&old->notify, 1);
        futex_wake(&old->notify);
        munmap(old, FP_RING_PAGE);
    }

    FpRing *r = calloc(1, sizeof(*r));
    if (!r) {
        /* The segment is in place; without a handle nobody would unlink it. */
        shm_unlink(nm);
        munmap(base, in.total_size);
        return fp_error(-ENOMEM, "ring %s: out of memory", nm);
    }
    memcpy(r->name, nm, sizeof(nm));
    r->is_writer = 1;
    r->base = base;
    r->map_size = in.total_size;
    r->hdr = h;
    fill_info(r);
    r->entry = -1;
    r->next = 1;
    r->stats.generation = h->generation;
    *out = r;
    return 0;

fail_fd:
    close(fd);
    shm_unlink(tmp);
fail_old:
    if (old)
        munmap(old, FP_RING_PAGE);
    return rc;
}

/* 1 if a live lossless reader still needs frame `need` (cursor < need); drops dead ones when `reap`. */
static int writer_blocked(FpRing *r, uint64_t need, int reap)
{
    int blocked = 0;
    for (int i = 0; i < FP_RING_MAX_READERS; i++) {
        FpRingReaderEntry *e = &r->ctl->readers[i];
        if (atomic_load(&e->state) != FP_RING_READER_ACTIVE)
            continue;
        if (atomic_load(&e->cursor) >= need)
            continue;
        if (reap && !process_alive(atomic_load(&e->pid), e->start_time)) {
            uint32_t want = FP_RING_READER_ACTIVE;
            if (atomic_compare_exchange_strong(&e->state, &want, FP_RING_READER_CLAIMED)) {
                drop_entry(r->ctl, i);
                r->stats.dropped_readers++;
                atomic_fetch_add(&r->hdr->dropped_readers, 1);
            }
            continue;
        }
        blocked = 1;
    }
    return blocked;
}

int fp_ring_begin_write(FpRing *ring, uint8_t **slot, int64_t timeout_ns)
{
    if (!ring || !slot || !ring->is_writer)
        return fp_error(FP_EINVALID, "fp_ring_begin_write: needs a writer handle and a slot pointer");
    if (ring->write_open)
        return fp_error(FP_EINVALID, "ring %s: a write is already open (commit or cancel it first)",
                        ring->name);
    uint64_t n = ring->next;
    uint32_t count = ring->info.slot_count;
    if (n > count) {
        uint64_t need = n - count; /* the frame this slot holds now must be released */
        int64_t deadline = timeout_ns > 0 ? fp_clock_ns() + timeout_ns : 0;
        int64_t next_reap = 0;
        int waited = 0;
        for (;;) {
            int64_t now = fp_clock_ns();
            int reap = now >= next_reap;
            if (reap)
                next_reap = now + FP_RING_LIVENESS_NS;
            if (!writer_blocked(ring, need, reap))
                break;
            if (timeout_ns == 0)
                return fp_error(FP_EWOULD_BLOCK, "ring %s: a lossless reader still holds frame %llu",
                                ring->name, (unsigned long long)need);
            if (timeout_ns > 0 && now >= deadline)
                return fp_error(FP_ETIMEOUT, "ring %s: timed out waiting for a lossless reader to release frame %llu",
                                ring->name, (unsigned long long)need);
            atomic_store(&ring->ctl->writer_waiting, 1);
            uint32_t progress = atomic_load(&ring->ctl->read_progress);
            if (writer_blocked(ring, need, 0)) {
                int64_t wait = next_reap - now;
                if (timeout_ns > 0 && deadline - now < wait)
                    wait = deadline - now;
                if (wait < 0)
                    wait = 0;
                futex_wait(&ring->ctl->read_progress, progress, wait);
                waited = 1;
            }
            atomic_store(&ring->ctl->writer_waiting, 0);
        }
        if (waited)
            ring->stats.writer_waits++;
    }
    uint32_t s = (uint32_t)((n - 1) % count);
    atomic_store_explicit(&ring->desc[s].seq, 2 * n - 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    *slot = ring->slots + (uint64_t)s * ring->slot_stride;
    ring->write_open = 1;
    return 0;
}

int fp_ring_commit(FpRing *ring, size_t size, int64_t pts_ns, uint64_t user)
{
    if (!ring || !ring->is_writer || !ring->write_open)
        return fp_error(FP_EINVALID, "fp_ring_commit: no write is open on this handle");
    if (size > ring->info.slot_size)
        return fp_error(FP_ETOO_LARGE, "ring %s: a %zu-byte frame does not fit a %llu-byte slot",
                        ring->name, size, (unsigned long long)ring->info.slot_size);
    uint64_t n = ring->next;
    FpRingDesc *d = &ring->desc[(n - 1) % ring->info.slot_count];
    d->size = size;
    d->pts_ns = pts_ns;
    d->user = user;
    d->commit_ns = fp_clock_ns();
    atomic_store_explicit(&d->seq, 2 * n, memory_order_release);
    atomic_store_explicit(&ring->hdr->write_seq, n, memory_order_release);
    atomic_fetch_add_explicit(&ring->hdr->notify, 1, memory_order_release);
    futex_wake(&ring->hdr->notify);
    ring->next = n + 1;
    ring->write_open = 0;
    ring->stats.written++;
    return 0;
}

void fp_ring_cancel(FpRing *ring)
{
    /* The slot stays marked "being written": readers of its previous frame see it overwritten. */
    if (ring && ring->is_writer)
        ring->write_open = 0;
}

int fp_ring_write(FpRing *ring, const void *data, size_t size, int64_t pts_ns, uint64_t user,
                  int64_t timeout_ns)
{
    if (ring && ring->is_writer && size > ring->info.slot_size)
        return fp_error(FP_ETOO_LARGE, "ring %s: a %zu-byte frame does not fit a %llu-byte slot",
                        ring->name, size, (unsigned long long)ring->info.slot_size);
    uint8_t *slot;
    int rc = fp_ring_begin_write(ring, &slot, timeout_ns);
    if (rc < 0)
        return rc;
    if (size)
        memcpy(slot, data, size);
    return fp_ring_commit(ring, size, pts_ns, user);
}

/* ---- reader ------------------------------------------------------------------ */

/* A lossless reader found its next frame gone (it was dropped as dead, or lapped): catch up. */
static int lossless_catch_up(FpRing *ring)
{
    uint64_t now_w = atomic_load(&ring->hdr->write_seq);
    uint64_t oldest = now_w >= ring->info.slot_count ? now_w - ring->info.slot_count : 0;
    if (oldest > ring->last_seq) {
        ring->stats.skipped += oldest - ring->last_seq;
        ring->last_seq = oldest;
    }
    FpRingReaderEntry *e = ring->entry >= 0 ? &ring->ctl->readers[ring->entry] : NULL;
    if (!e || atomic_load(&e->pid) != (int32_t)getpid() ||
        atomic_load(&e->state) != FP_RING_READER_ACTIVE) {
        uint64_t before = ring->last_seq;
        int rc = claim_entry(ring); /* join again, from now */
        if (rc < 0)
            return rc;
        if (ring->last_seq > before)
            ring->stats.skipped += ring->last_seq - before;
        return 0;
    }
    atomic_store(&e->cursor, ring->last_seq);
    return 0;
}

static void fill_view(FpRing *ring, FpRingView *view, uint64_t target, uint32_t s)
{
    const FpRingDesc *d = &ring->desc[s];
    uint64_t size = d->size; /* validated with the rest at fp_ring_read_end */
    view->data = ring->slots + (uint64_t)s * ring->slot_stride;
    view->size = (size_t)(size > ring->info.slot_size ? ring->info.slot_size : size);
    view->seq = target;
    view->pts_ns = d->pts_ns;
    view->user = d->user;
    view->commit_ns = d->commit_ns;
    view->skipped = target - ring->last_seq - 1;
    view->slot = s;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
        view->planes[i] = i < ring->info.plane_count ? view->data + ring->info.plane_offset[i] : NULL;
        view->linesize[i] = ring->info.linesize[i];
    }
    view->width = ring->info.width;
    view->height = ring->info.height;
    view->format = ring->info.format;
    ring->stats.skipped += view->skipped;
    ring->stats.read++;
    ring->last_seq = target;
    ring->view_open = 1;
    ring->view_seq = target;
    ring->view_slot = s;
}

int fp_ring_read(FpRing *ring, FpRingView *view, int64_t timeout_ns)
{
    if (!ring || !view || ring->is_writer)
        return fp_error(FP_EINVALID, "fp_ring_read: needs a reader handle and a view");
    if (ring->view_open)
        return fp_error(FP_EINVALID, "ring %s: the previous view is still open (call fp_ring_read_end)",
                        ring->name);
    int64_t deadline = timeout_ns > 0 ? fp_clock_ns() + timeout_ns : 0;
    uint64_t raced_w = 0; /* write_seq at the last failed slot check */
    for (;;) {
        FpRingHeader *h = ring->hdr;
        uint32_t state = atomic_load_explicit(&h->state, memory_order_acquire);
        if (state == FP_RING_STATE_SUPERSEDED)
            return reopen(ring); /* FP_EGENERATION, or why the new segment cannot be mapped */
        uint32_t nv = atomic_load_explicit(&h->notify, memory_order_acquire);
        uint64_t w = atomic_load_explicit(&h->write_seq, memory_order_acquire);
        if (w > ring->last_seq) {
            uint64_t target = ring->mode == FP_RING_LATEST ? w : ring->last_seq + 1;
            uint32_t s = (uint32_t)((target - 1) % ring->info.slot_count);
            uint64_t s1 = atomic_load_explicit(&ring->desc[s].seq, memory_order_acquire);
            if (s1 == 2 * target) {
                fill_view(ring, view, target, s);
                return 0;
            }
            if (w != raced_w) {
                /* The writer is already past `target`: look again at what is there now. */
                raced_w = w;
                if (ring->mode == FP_RING_LOSSLESS) {
                    int rc = lossless_catch_up(ring);
                    if (rc < 0)
                        return rc;
                }
                continue;
            }
            /* write_seq did not move, yet the slot does not hold the frame: an inconsistent
             * segment. Never spin on it: wait as if there were no frame. */
        }
        if (state == FP_RING_STATE_CLOSED)
            return fp_error(FP_EEND_OF_STREAM, "ring %s: the writer closed the ring", ring->name);
        int64_t wait = -1;
        if (timeout_ns == 0)
            return fp_error(FP_EWOULD_BLOCK, "ring %s: no new frame yet", ring->name);
        if (timeout_ns > 0) {
            wait = deadline - fp_clock_ns();
            if (wait <= 0)
                return fp_error(FP_ETIMEOUT, "ring %s: no new frame within %lld ms", ring->name,
                                (long long)(timeout_ns / 1000000));
        }
        futex_wait(&h->notify, nv, wait);
    }
}

int fp_ring_read_end(FpRing *ring, FpRingView *view)
{
    if (!ring || !view || !ring->view_open || view->seq != ring->view_seq)
        return fp_error(FP_EINVALID, "fp_ring_read_end: no open view of this handle");
    atomic_thread_fence(memory_order_acquire);
    uint64_t s2 = atomic_load_explicit(&ring->desc[ring->view_slot].seq, memory_order_relaxed);
    ring->view_open = 0;
    if (ring->mode == FP_RING_LOSSLESS && ring->entry >= 0) {
        FpRingReaderEntry *e = &ring->ctl->readers[ring->entry];
        atomic_store(&e->cursor, ring->view_seq);
        atomic_fetch_add(&ring->ctl->read_progress, 1);
        if (atomic_load(&ring->ctl->writer_waiting))
            futex_wake(&ring->ctl->read_progress);
    }
    view->data = NULL;
    if (s2 != 2 * ring->view_seq) {
        ring->stats.overwritten++;
        return fp_error(FP_EOVERWRITTEN, "ring %s: frame %llu was overwritten while being read",
                        ring->name, (unsigned long long)ring->view_seq);
    }
    return 0;
}

/* ---- common -------------------------------------------------------------------- */

void fp_ring_get_info(const FpRing *ring, FpRingInfo *info)
{
    *info = ring->info;
}

void fp_ring_get_stats(const FpRing *ring, FpRingStats *stats)
{
    *stats = ring->stats;
}

void fp_ring_destroy(FpRing **pring)
{
    FpRing *r = pring ? *pring : NULL;
    if (!r)
        return;
    *pring = NULL;
    if (r->is_writer) {
        uint32_t live = FP_RING_STATE_LIVE;
        if (atomic_compare_exchange_strong(&r->hdr->state, &live, FP_RING_STATE_CLOSED))
            shm_unlink(r->name); /* still ours (not superseded): take the name away */
        atomic_fetch_add(&r->hdr->notify, 1);
        futex_wake(&r->hdr->notify);
    } else {
        release_entry(r);
    }
    munmap(r->base, r->map_size);
    free(r);
}

void fp_ring_close(FpRing **ring)
{
    fp_ring_destroy(ring);
}
