// SPDX-License-Identifier: MIT
// FpSnapshotWriter: queues frame references, draws one box and label into an RGB scratch, encodes JPEG (libturbojpeg) on its own thread, caps the folder.
//
// Design. Callers are inference workers, so fp_snapshot_write does only
// bookkeeping under the mutex: it takes a frame reference and copies the
// box, label and path into a preallocated slot of a fixed ring (no
// allocation per job). The one writer thread moves a job out of the ring
// (freeing the slot at once, so queue_depth jobs can wait while one is
// encoded), converts the frame into its scratch RGB picture (re-made only
// when the size grows), draws, encodes with tjCompress2 into a reused
// buffer, writes "<dir>/.<file>.tmp" and renames it into place.
//
// Why RGB scratch rather than tjCompressFromYUVPlanes on the frame's own
// planes: the box must be drawn and the frame is shared and read-only, so a
// copy is needed anyway; drawing in RGB gives the exact class colour (in
// 4:2:0 YUV a 2 px line would bleed into its neighbours), and every
// FpPixelFormat takes the same path. The cost is on the writer's thread.
//
// The folder cap: `files` lists the writer's files oldest first (those
// found at create sorted by mtime, then in write order); after each write
// the oldest are unlinked until the total is <= max_bytes, keeping the
// newest. Only the writer thread touches `files` after create.
#include "framepipe/snapshot.h"

#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/sink.h" /* fp_annotate_class_color */
#include "sink_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#define SNAP_NAME_MAX 200

typedef struct SnapJob {
    FpFrame *frame; /* our reference */
    FpBox box;
    bool has_box;
    int class_id;
    char label[FP_SNAPSHOT_LABEL_MAX];
    char file[NAME_MAX + 1]; /* "<prefix><name>.jpg" */
} SnapJob;

typedef struct SnapFile {
    char *name; /* file name within dir */
    uint64_t size;
    int64_t mtime_ns; /* create's scan only (sorting) */
} SnapFile;

struct FpSnapshotWriter {
    char *dir;
    char *prefix;
    uint64_t max_bytes;
    int quality;

    pthread_mutex_t lock; /* the ring, the counters, `stopping`, `busy`, `done_seq` */
    pthread_cond_t work;  /* a job was queued, or stopping */
    pthread_cond_t idle;  /* a job finished */
    SnapJob *ring;
    int depth, head, count;
    bool stopping;
    uint64_t queued_seq; /* jobs accepted since create */
    uint64_t done_seq;   /* jobs finished (written or failed) */
    FpSnapshotStats st;
    pthread_t thread;

    /* writer thread only */
    SnapFile *files;
    size_t n_files, cap_files;
    uint8_t *rgb;
    size_t rgb_cap;
    unsigned char *jpeg;
    unsigned long jpeg_cap;
    tjhandle tj;
};

/* ---- drawing into the RGB scratch ---- */

/* The box's pixels x1..x2, y1..y2 inclusive (as the annotation sink draws them), then the label above it. */
static void draw_job(const FpRgbCanvas *pic, const SnapJob *j)
{
    if (!j->has_box)
        return;
    int thick, scale, x1, y1;
    fp__canvas_style(pic, &thick, &scale);
    uint8_t c[3];
    fp_annotate_class_color(j->class_id, c);
    if (fp__canvas_box(pic, j->box, thick, scale, c, &x1, &y1) && j->label[0])
        fp__canvas_label(pic, x1, y1, scale, j->label, c);
}

/* ---- conversion to RGB ---- */

static void to_rgb(const FpFrame *f, uint8_t *dst)
{
    int w = f->width, h = f->height;
    for (int y = 0; y < h; y++) {
        const uint8_t *s0 = f->data[0] + (ptrdiff_t)y * f->linesize[0];
        uint8_t *o = dst + (size_t)y * (size_t)w * 3;
        switch (f->format) {
        case FP_PIX_YUV420P: {
            const uint8_t *su = f->data[1] + (ptrdiff_t)(y / 2) * f->linesize[1];
            const uint8_t *sv = f->data[2] + (ptrdiff_t)(y / 2) * f->linesize[2];
            for (int x = 0; x < w; x++, o += 3)
                fp__yuv_px(s0[x], su[x / 2], sv[x / 2], o);
            break;
        }
        case FP_PIX_NV12: {
            const uint8_t *suv = f->data[1] + (ptrdiff_t)(y / 2) * f->linesize[1];
            for (int x = 0; x < w; x++, o += 3)
                fp__yuv_px(s0[x], suv[x / 2 * 2], suv[x / 2 * 2 + 1], o);
            break;
        }
        case FP_PIX_RGB24:
            memcpy(o, s0, (size_t)w * 3);
            break;
        case FP_PIX_BGR24:
            for (int x = 0; x < w; x++, o += 3)
                o[0] = s0[3 * x + 2], o[1] = s0[3 * x + 1], o[2] = s0[3 * x];
            break;
        case FP_PIX_GRAY8:
            for (int x = 0; x < w; x++, o += 3)
                o[0] = o[1] = o[2] = s0[x];
            break;
        default:
            break; /* refused by fp_snapshot_write */
        }
    }
}

/* ---- the folder's files ---- */

static bool owned_name(const FpSnapshotWriter *w, const char *name)
{
    size_t n = strlen(name), pl = strlen(w->prefix);
    return name[0] != '.' && n > pl + 4 && strncmp(name, w->prefix, pl) == 0 &&
           strcmp(name + n - 4, ".jpg") == 0;
}

static int files_push(FpSnapshotWriter *w, const char *name, uint64_t size, int64_t mtime_ns)
{
    if (w->n_files == w->cap_files) {
        size_t cap = w->cap_files ? 2 * w->cap_files : 64;
        SnapFile *nf = realloc(w->files, cap * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        w->files = nf;
        w->cap_files = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    w->files[w->n_files++] = (SnapFile){copy, size, mtime_ns};
    return 0;
}

static int by_mtime(const void *a, const void *b)
{
    const SnapFile *x = a, *y = b;
    if (x->mtime_ns != y->mtime_ns)
        return x->mtime_ns < y->mtime_ns ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Lists the writer's existing files, oldest first; adds their sizes to dir_bytes. */
static int scan_dir(FpSnapshotWriter *w)
{
    DIR *d = opendir(w->dir);
    if (!d) {
        int err = errno;
        return fp_error(-err, "snapshot: cannot read the folder \"%s\": %s", w->dir, fp_strerror(-err));
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!owned_name(w, e->d_name))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        int64_t t = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        if ((rc = files_push(w, e->d_name, (uint64_t)st.st_size, t)) < 0) {
            rc = fp_error(rc, "snapshot: \"%s\": out of memory", w->dir);
            break;
        }
        w->st.dir_bytes += (uint64_t)st.st_size;
    }
    closedir(d);
    if (rc == 0 && w->n_files > 1)
        qsort(w->files, w->n_files, sizeof(*w->files), by_mtime);
    return rc;
}

static void files_remove_at(FpSnapshotWriter *w, size_t i)
{
    free(w->files[i].name);
    memmove(&w->files[i], &w->files[i + 1], (w->n_files - i - 1) * sizeof(*w->files));
    w->n_files--;
}

/* Records a file just written (replacing an entry of the same name), then enforces max_bytes. */
static void account_and_cap(FpSnapshotWriter *w, const char *file, uint64_t size)
{
    uint64_t gone = 0, removed = 0;
    for (size_t i = 0; i < w->n_files; i++)
        if (strcmp(w->files[i].name, file) == 0) {
            gone += w->files[i].size;
            files_remove_at(w, i);
            break;
        }
    bool listed = files_push(w, file, size, 0) == 0;
    if (!listed)
        fp_log_warn("snapshot", "%s/%s: out of memory: the file is not counted towards the cap", w->dir,
                    file);
    pthread_mutex_lock(&w->lock);
    w->st.dir_bytes = w->st.dir_bytes - gone + (listed ? size : 0);
    uint64_t total = w->st.dir_bytes;
    pthread_mutex_unlock(&w->lock);

    while (total > w->max_bytes && w->n_files > 1) {
        SnapFile *old = &w->files[0];
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", w->dir, old->name);
        if (unlink(path) != 0 && errno != ENOENT)
            fp_log_warn("snapshot", "cannot remove %s: %s", path, fp_strerror(-errno));
        else
            removed++;
        total -= old->size;
        gone = old->size;
        files_remove_at(w, 0);
        pthread_mutex_lock(&w->lock);
        w->st.dir_bytes -= gone;
        pthread_mutex_unlock(&w->lock);
    }
    if (removed) {
        pthread_mutex_lock(&w->lock);
        w->st.removed += removed;
        pthread_mutex_unlock(&w->lock);
    }
}

/* ---- the writer thread ---- */

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Converts, draws, encodes and writes one job; returns the file's size or a negative code (logged). */
static int64_t run_job(FpSnapshotWriter *w, const SnapJob *j)
{
    const FpFrame *f = j->frame;
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", w->dir, j->file);
    snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", w->dir, j->file);

    size_t need = (size_t)f->width * (size_t)f->height * 3;
    if (need > w->rgb_cap) {
        uint8_t *p = realloc(w->rgb, need);
        if (!p) {
            fp_log_warn("snapshot", "%s: out of memory for a %dx%d picture", path, f->width, f->height);
            return -ENOMEM;
        }
        w->rgb = p;
        w->rgb_cap = need;
    }
    to_rgb(f, w->rgb);
    FpRgbCanvas pic = {w->rgb, (ptrdiff_t)f->width * 3, f->width, f->height, NULL, NULL, 0};
    draw_job(&pic, j);

    unsigned long bound = tjBufSize(f->width, f->height, TJSAMP_444);
    if (bound == (unsigned long)-1) {
        fp_log_warn("snapshot", "%s: a %dx%d picture is too large for JPEG", path, f->width, f->height);
        return FP_ETOO_LARGE;
    }
    if (bound > w->jpeg_cap) {
        unsigned char *p = tjAlloc((int)(bound > INT_MAX ? INT_MAX : bound));
        if (!p || bound > INT_MAX) {
            tjFree(p);
            fp_log_warn("snapshot", "%s: out of memory for the JPEG", path);
            return -ENOMEM;
        }
        tjFree(w->jpeg);
        w->jpeg = p;
        w->jpeg_cap = bound;
    }
    unsigned long size = w->jpeg_cap;
    if (tjCompress2(w->tj, w->rgb, f->width, f->width * 3, f->height, TJPF_RGB, &w->jpeg, &size,
                    TJSAMP_444, w->quality, TJFLAG_NOREALLOC) != 0) {
        fp_log_warn("snapshot", "%s: JPEG encoding failed: %s", path, tjGetErrorStr2(w->tj));
        return FP_EINTERNAL;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int err = -errno;
        fp_log_warn("snapshot", "cannot create %s: %s", tmp, fp_strerror(err));
        return err;
    }
    int rc = write_all(fd, w->jpeg, size);
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0) {
        fp_log_warn("snapshot", "cannot write %s: %s", path, fp_strerror(rc));
        unlink(tmp);
        return rc;
    }
    return (int64_t)size;
}

static void *writer_main(void *arg)
{
    FpSnapshotWriter *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->count == 0 && !w->stopping)
            pthread_cond_wait(&w->work, &w->lock);
        if (w->count == 0)
            break; /* stopping and drained */
        SnapJob j = w->ring[w->head];
        w->head = (w->head + 1) % w->depth;
        w->count--;
        pthread_mutex_unlock(&w->lock);

        int64_t size = run_job(w, &j);
        fp_frame_unref(&j.frame);
        if (size >= 0)
            account_and_cap(w, j.file, (uint64_t)size);

        pthread_mutex_lock(&w->lock);
        if (size >= 0) {
            w->st.written++;
            w->st.bytes += (uint64_t)size;
        } else {
            w->st.errors++;
        }
        w->done_seq++;
        pthread_cond_broadcast(&w->idle);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---- API ---- */

void fp_snapshot_config_init(FpSnapshotConfig *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof(*cfg));
    cfg->prefix = FP_SNAPSHOT_DEFAULT_PREFIX;
    cfg->max_bytes = FP_SNAPSHOT_DEFAULT_MAX_BYTES;
    cfg->quality = FP_SNAPSHOT_DEFAULT_QUALITY;
    cfg->queue_depth = FP_SNAPSHOT_DEFAULT_QUEUE;
}

static void writer_free(FpSnapshotWriter *w)
{
    for (size_t i = 0; i < w->n_files; i++)
        free(w->files[i].name);
    free(w->files);
    free(w->rgb);
    tjFree(w->jpeg);
    if (w->tj)
        tjDestroy(w->tj);
    free(w->ring);
    free(w->dir);
    free(w->prefix);
    free(w);
}

int fp_snapshot_create(FpSnapshotWriter **out, const FpSnapshotConfig *cfg)
{
    if (!out || !cfg || !cfg->dir || !cfg->dir[0])
        return fp_error(FP_EINVALID, "snapshot: fp_snapshot_create: out, cfg and cfg->dir are required");
    const char *dir = cfg->dir;
    const char *prefix = cfg->prefix ? cfg->prefix : FP_SNAPSHOT_DEFAULT_PREFIX;
    int quality = cfg->quality ? cfg->quality : FP_SNAPSHOT_DEFAULT_QUALITY;
    int depth = cfg->queue_depth ? cfg->queue_depth : FP_SNAPSHOT_DEFAULT_QUEUE;
    if (strchr(prefix, '/') || prefix[0] == '.' || strlen(prefix) > 64)
        return fp_error(FP_EINVALID, "snapshot \"%s\": prefix \"%s\" must not contain '/', start with '.' "
                        "or be longer than 64 bytes", dir, prefix);
    if (quality < 1 || quality > 100)
        return fp_error(FP_EINVALID, "snapshot \"%s\": quality %d is out of range (1..100)", dir, quality);
    if (depth < 1 || depth > FP_SNAPSHOT_MAX_QUEUE)
        return fp_error(FP_EINVALID, "snapshot \"%s\": queue depth %d is out of range (1..%d)", dir, depth,
                        FP_SNAPSHOT_MAX_QUEUE);
    if (strlen(dir) > PATH_MAX - NAME_MAX - 8)
        return fp_error(FP_EINVALID, "snapshot: the folder name \"%.64s...\" is too long", dir);

    struct stat st;
    if (stat(dir, &st) != 0) {
        int err = errno;
        if (err != ENOENT)
            return fp_error(-err, "snapshot: folder \"%s\": %s", dir, fp_strerror(-err));
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            err = errno;
            return fp_error(-err, "snapshot: cannot create the folder \"%s\": %s%s", dir, fp_strerror(-err),
                            err == ENOENT ? " (its parent folder does not exist)" : "");
        }
    } else if (!S_ISDIR(st.st_mode)) {
        return fp_error(-ENOTDIR, "snapshot: \"%s\" exists and is not a folder", dir);
    }
    if (access(dir, W_OK | X_OK) != 0) {
        int err = errno;
        return fp_error(-err, "snapshot: cannot write into the folder \"%s\": %s", dir, fp_strerror(-err));
    }

    FpSnapshotWriter *w = calloc(1, sizeof(*w));
    if (!w)
        return fp_error(-ENOMEM, "snapshot \"%s\": out of memory", dir);
    w->dir = strdup(dir);
    w->prefix = strdup(prefix);
    w->ring = calloc((size_t)depth, sizeof(*w->ring));
    if (!w->dir || !w->prefix || !w->ring) {
        writer_free(w);
        return fp_error(-ENOMEM, "snapshot \"%s\": out of memory", dir);
    }
    size_t dl = strlen(w->dir);
    while (dl > 1 && w->dir[dl - 1] == '/')
        w->dir[--dl] = '\0';
    w->depth = depth;
    w->quality = quality;
    w->max_bytes = cfg->max_bytes ? cfg->max_bytes : FP_SNAPSHOT_DEFAULT_MAX_BYTES;
    w->tj = tjInitCompress();
    if (!w->tj) {
        writer_free(w);
        return fp_error(FP_EDEPENDENCY, "snapshot \"%s\": libturbojpeg: %s", dir, tjGetErrorStr2(NULL));
    }
    int rc = scan_dir(w);
    if (rc < 0) {
        writer_free(w);
        return rc;
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->work, NULL);
    pthread_cond_init(&w->idle, NULL);
    rc = pthread_create(&w->thread, NULL, writer_main, w);
    if (rc != 0) {
        pthread_cond_destroy(&w->idle);
        pthread_cond_destroy(&w->work);
        pthread_mutex_destroy(&w->lock);
        writer_free(w);
        return fp_error(-rc, "snapshot \"%s\": cannot start the writer thread: %s", dir, fp_strerror(-rc));
    }
    fp_log_debug("snapshot", "writing snapshots into %s (%zu existing files, %llu bytes; cap %llu)", w->dir,
                 w->n_files, (unsigned long long)w->st.dir_bytes, (unsigned long long)w->max_bytes);
    *out = w;
    return 0;
}

static bool name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= SNAP_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

int fp_snapshot_write(FpSnapshotWriter *w, const FpFrame *frame, const FpBox *box, int class_id,
                      const char *label, const char *name, char *path_out, size_t path_cap)
{
    if (!w || !frame || !name || !path_out)
        return fp_error(FP_EINVALID, "snapshot: fp_snapshot_write: writer, frame, name and path_out are required");
    if (!name_ok(name))
        return fp_error(FP_EINVALID, "snapshot %s: bad name \"%.*s\" (1..%d bytes, no '/', not . or ..)",
                        w->dir, SNAP_NAME_MAX, name, SNAP_NAME_MAX);
    if (!fp__frame_convertible(frame))
        return fp_error(FP_EINVALID, "snapshot %s/%s%s.jpg: frame %dx%d of format %s cannot be written", w->dir,
                        w->prefix, name, frame->width, frame->height, fp_pixel_format_name(frame->format));
    char file[NAME_MAX + 1];
    int fl = snprintf(file, sizeof(file), "%s%s.jpg", w->prefix, name);
    if (fl < 0 || (size_t)fl >= sizeof(file) - 6) /* room for the ".<file>.tmp" name too */
        return fp_error(FP_EINVALID, "snapshot %s: name \"%s\" is too long", w->dir, name);
    size_t need = strlen(w->dir) + 1 + (size_t)fl + 1;
    if (need > path_cap)
        return fp_error(FP_ETOO_LARGE, "snapshot %s/%s: the path needs %zu bytes, path_cap is %zu", w->dir, file,
                        need, path_cap);

    pthread_mutex_lock(&w->lock);
    if (w->stopping) {
        pthread_mutex_unlock(&w->lock);
        return fp_error(FP_EFLUSHING, "snapshot %s: the writer is being destroyed", w->dir);
    }
    if (w->count == w->depth) {
        w->st.dropped++;
        pthread_mutex_unlock(&w->lock);
        return FP_EWOULD_BLOCK;
    }
    SnapJob *j = &w->ring[(w->head + w->count) % w->depth];
    /* the reference: the refcount is atomic, the rest of the frame stays read-only */
    j->frame = fp_frame_ref((FpFrame *)frame);
    j->has_box = box != NULL;
    j->box = box ? *box : (FpBox){0, 0, 0, 0};
    j->class_id = class_id;
    snprintf(j->label, sizeof(j->label), "%s", label ? label : "");
    memcpy(j->file, file, (size_t)fl + 1);
    w->count++;
    w->queued_seq++;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    snprintf(path_out, path_cap, "%s/%s", w->dir, file);
    return 0;
}

int fp_snapshot_flush(FpSnapshotWriter *w)
{
    if (!w)
        return FP_EINVALID;
    pthread_mutex_lock(&w->lock);
    uint64_t target = w->queued_seq;
    while (w->done_seq < target)
        pthread_cond_wait(&w->idle, &w->lock);
    pthread_mutex_unlock(&w->lock);
    return 0;
}

void fp_snapshot_stats(const FpSnapshotWriter *cw, FpSnapshotStats *out)
{
    if (!cw || !out)
        return;
    FpSnapshotWriter *w = (FpSnapshotWriter *)cw; /* the lock only */
    pthread_mutex_lock(&w->lock);
    *out = w->st;
    out->queued = (uint64_t)w->count;
    pthread_mutex_unlock(&w->lock);
}

void fp_snapshot_destroy(FpSnapshotWriter **pw)
{
    if (!pw || !*pw)
        return;
    FpSnapshotWriter *w = *pw;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->work);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL); /* the thread drains the ring before it returns */
    fp_log_debug("snapshot", "%s: %llu written, %llu dropped, %llu errors", w->dir,
                 (unsigned long long)w->st.written, (unsigned long long)w->st.dropped,
                 (unsigned long long)w->st.errors);
    pthread_cond_destroy(&w->idle);
    pthread_cond_destroy(&w->work);
    pthread_mutex_destroy(&w->lock);
    writer_free(w);
    *pw = NULL;
}
