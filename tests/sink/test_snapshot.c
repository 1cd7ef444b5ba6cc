// SPDX-License-Identifier: MIT
// Snapshot writer: JPEGs decoded back with libturbojpeg's decoder; box colour, untouched pixels, the folder cap, a full queue, errors.
#include "fp_test.h"

#include "framepipe/sink.h"
#include "framepipe/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* ---- synthetic frames with a release callback ---- */

typedef struct Pic {
    FpFrame f;
    uint8_t *mem;
    atomic_int released;
    /* blocking release: signals `entered`, then waits for `go` */
    bool block;
    pthread_mutex_t m;
    pthread_cond_t cv;
    bool entered, go;
    /* the thread whose unref must not block (the test's own: it would wait for itself) */
    pthread_t owner;
    bool released_by_owner;
} Pic;

static void on_release(FpFrame *f, void *opaque)
{
    (void)f;
    Pic *p = opaque;
    if (p->block && pthread_equal(pthread_self(), p->owner)) {
        p->released_by_owner = true; /* the writer had already dropped its reference */
    } else if (p->block) {
        pthread_mutex_lock(&p->m);
        p->entered = true;
        pthread_cond_broadcast(&p->cv);
        while (!p->go)
            pthread_cond_wait(&p->cv, &p->m);
        pthread_mutex_unlock(&p->m);
    }
    atomic_fetch_add(&p->released, 1);
}

/* The test's own picture: YUV420P with a horizontal luma ramp and a vertical V ramp, or RGB24 with ramps per channel. */
static uint8_t ramp_y(int x, int y) { (void)y; return (uint8_t)(40 + (x * 170) / 1280); }
static uint8_t ramp_u(int x, int y) { (void)x; (void)y; return 110; }
static uint8_t ramp_v(int x, int y) { (void)x; return (uint8_t)(100 + (y * 60) / 720); }

static void pic_make(Pic *p, FpPixelFormat fmt, int w, int h, bool noise)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->m, NULL);
    pthread_cond_init(&p->cv, NULL);
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    int ls0 = (fmt == FP_PIX_RGB24 ? 3 * w : w) + 16, ls1 = cw + 8;
    size_t size = (size_t)ls0 * h + 2 * (size_t)ls1 * ch;
    p->mem = malloc(size);
    CHECK(p->mem);
    memset(p->mem, 0xEE, size);
    FpFrame *f = &p->f;
    f->width = w;
    f->height = h;
    f->format = fmt;
    f->data[0] = p->mem;
    f->linesize[0] = ls0;
    uint32_t seed = 12345;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *row = f->data[0] + (size_t)y * ls0;
            if (noise) {
                for (int k = 0; k < (fmt == FP_PIX_RGB24 ? 3 : 1); k++) {
                    seed = seed * 1664525u + 1013904223u;
                    row[(fmt == FP_PIX_RGB24 ? 3 * x : x) + k] = (uint8_t)(seed >> 24);
                }
            } else if (fmt == FP_PIX_RGB24) {
                row[3 * x] = (uint8_t)(30 + x * 190 / w);
                row[3 * x + 1] = (uint8_t)(200 - y * 150 / h);
                row[3 * x + 2] = 90;
            } else {
                row[x] = ramp_y(x, y);
            }
        }
    if (fmt == FP_PIX_YUV420P) {
        f->data[1] = p->mem + (size_t)ls0 * h;
        f->data[2] = f->data[1] + (size_t)ls1 * ch;
        f->linesize[1] = f->linesize[2] = ls1;
        for (int y = 0; y < ch; y++)
            for (int x = 0; x < cw; x++) {
                f->data[1][(size_t)y * ls1 + x] = ramp_u(2 * x, 2 * y);
                f->data[2][(size_t)y * ls1 + x] = ramp_v(2 * x, 2 * y);
            }
    }
    fp_frame_init_ref(f, on_release, p);
}

static void pic_free(Pic *p)
{
    free(p->mem);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->m);
}

/* The input's RGB at (x, y), by the BT.601 limited-range formula in floating point (independent of the writer's). */
static void expect_rgb(const Pic *p, int x, int y, double o[3])
{
    const FpFrame *f = &p->f;
    if (f->format == FP_PIX_RGB24) {
        const uint8_t *s = f->data[0] + (size_t)y * f->linesize[0] + 3 * x;
        o[0] = s[0], o[1] = s[1], o[2] = s[2];
        return;
    }
    double Y = f->data[0][(size_t)y * f->linesize[0] + x];
    double U = f->data[1][(size_t)(y / 2) * f->linesize[1] + x / 2] - 128.0;
    double V = f->data[2][(size_t)(y / 2) * f->linesize[2] + x / 2] - 128.0;
    double c = (Y - 16.0) * 255.0 / 219.0;
    o[0] = c + 255.0 / 112.0 * 0.701 * V;
    o[1] = c - 255.0 / 112.0 * (0.886 * 0.114 / 0.587 * U + 0.701 * 0.299 / 0.587 * V);
    o[2] = c + 255.0 / 112.0 * 0.886 * U;
    for (int k = 0; k < 3; k++)
        o[k] = o[k] < 0 ? 0 : o[k] > 255 ? 255 : o[k];
}

/* ---- decoding ---- */

typedef struct Jpeg {
    int w, h;
    uint8_t *rgb;
} Jpeg;

static void jpeg_read(const char *path, Jpeg *j)
{
    FILE *fp = fopen(path, "rb");
    CHECK_MSG(fp, "cannot open %s: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    CHECK(n > 0);
    unsigned char *buf = malloc((size_t)n);
    CHECK(buf && fread(buf, 1, (size_t)n, fp) == (size_t)n);
    fclose(fp);
    tjhandle d = tjInitDecompress();
    CHECK(d);
    int sub, cs;
    CHECK_MSG(tjDecompressHeader3(d, buf, (unsigned long)n, &j->w, &j->h, &sub, &cs) == 0, "%s: %s", path,
              tjGetErrorStr2(d));
    j->rgb = malloc((size_t)j->w * j->h * 3);
    CHECK(j->rgb);
    CHECK(tjDecompress2(d, buf, (unsigned long)n, j->rgb, j->w, j->w * 3, j->h, TJPF_RGB, 0) == 0);
    tjDestroy(d);
    free(buf);
}

static const uint8_t *jpeg_px(const Jpeg *j, int x, int y)
{
    return j->rgb + ((size_t)y * j->w + x) * 3;
}

static void check_px(const Jpeg *j, int x, int y, const double want[3], double tol, const char *what)
{
    const uint8_t *p = jpeg_px(j, x, y);
    for (int k = 0; k < 3; k++)
        CHECK_MSG(p[k] - want[k] <= tol && want[k] - p[k] <= tol,
                  "%s at (%d, %d): got (%d, %d, %d), want (%.0f, %.0f, %.0f) +- %.0f", what, x, y, p[0], p[1], p[2],
                  want[0], want[1], want[2], tol);
}

static FpSnapshotWriter *writer(const char *dir, uint64_t max_bytes, int quality, int depth)
{
    FpSnapshotConfig cfg;
    fp_snapshot_config_init(&cfg);
    cfg.dir = dir;
    cfg.max_bytes = max_bytes;
    cfg.quality = quality;
    cfg.queue_depth = depth;
    FpSnapshotWriter *w = NULL;
    CHECK_OK(fp_snapshot_create(&w, &cfg));
    CHECK(w);
    return w;
}

static const char *tmp(const char *name)
{
    static char path[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof(path[k]), "%s/%s", fp_test_tmpdir(), name);
    return path[k];
}

/* Writes one snapshot of `p` with a class-2 box 200,150 .. 600,450, decodes it and checks border and other pixels. */
static void round_trip(FpPixelFormat fmt)
{
    const char *dir = tmp("snaps"); /* missing: created by create */
    FpSnapshotWriter *w = writer(dir, 0, 95, 0);
    Pic p;
    pic_make(&p, fmt, 1280, 720, false);
    FpBox box = {200.0f, 150.0f, 600.0f, 450.0f};
    char path[1024];
    CHECK_OK(fp_snapshot_write(w, &p.f, &box, 2, "car 0.91 #7", "cam0-7-enter", path, sizeof(path)));
    char want_path[1100];
    snprintf(want_path, sizeof(want_path), "%s/snap-cam0-7-enter.jpg", dir);
    CHECK_MSG(strcmp(path, want_path) == 0, "path %s, want %s", path, want_path);
    FpFrame *mine = &p.f;
    fp_frame_unref(&mine); /* the writer's reference keeps the frame */
    CHECK_OK(fp_snapshot_flush(w));
    CHECK_EQ(atomic_load(&p.released), 1); /* dropped after encoding */
    FpSnapshotStats st;
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.written, 1);
    CHECK_EQ(st.errors, 0);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_EQ(st.bytes, sb.st_size);
    CHECK_EQ(st.dir_bytes, sb.st_size);
    char tmpf[1100];
    snprintf(tmpf, sizeof(tmpf), "%s/.snap-cam0-7-enter.jpg.tmp", dir);
    CHECK(access(tmpf, F_OK) != 0);

    Jpeg j;
    jpeg_read(path, &j);
    CHECK_EQ(j.w, 1280);
    CHECK_EQ(j.h, 720);
    uint8_t c8[3];
    fp_annotate_class_color(2, c8);
    double c[3] = {c8[0], c8[1], c8[2]};
    /* 720p: 3 px lines on pixels 200..599 x 150..449; the middle of each line */
    check_px(&j, 400, 151, c, 24, "top edge");
    check_px(&j, 400, 448, c, 24, "bottom edge");
    check_px(&j, 201, 300, c, 24, "left edge");
    check_px(&j, 598, 300, c, 24, "right edge");
    /* the label background (class colour) above the box: rows 132..149 from x 200 */
    check_px(&j, 203, 133, c, 30, "label background");
    /* pixels away from the box and the label match the input */
    int checked = 0;
    for (int y = 4; y < 720; y += 23)
        for (int x = 4; x < 1280; x += 29) {
            bool near_box = x >= 190 && x <= 610 && y >= 120 && y <= 460;
            bool inside = x >= 212 && x <= 588 && y >= 162 && y <= 438;
            if (near_box && !inside)
                continue;
            double e[3];
            expect_rgb(&p, x, y, e);
            check_px(&j, x, y, e, 8, "untouched pixel");
            checked++;
        }
    CHECK(checked > 1000);
    /* the checks can fail: a border pixel is not the input colour */
    double e[3];
    expect_rgb(&p, 400, 151, e);
    const uint8_t *b = jpeg_px(&j, 400, 151);
    CHECK(fabs(b[0] - e[0]) + fabs(b[1] - e[1]) + fabs(b[2] - e[2]) > 60);
    free(j.rgb);
    fp_snapshot_destroy(&w);
    CHECK(w == NULL);
    pic_free(&p);
}

FP_TEST(snapshot_yuv420p_box_and_untouched_pixels)
{
    round_trip(FP_PIX_YUV420P);
}

FP_TEST(snapshot_rgb24_box_and_untouched_pixels)
{
    round_trip(FP_PIX_RGB24);
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static void make_file(const char *path, size_t n, time_t mtime)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    char buf[1000];
    memset(buf, 'x', sizeof(buf));
    for (size_t k = 0; k < n; k += sizeof(buf))
        CHECK(write(fd, buf, n - k < sizeof(buf) ? n - k : sizeof(buf)) > 0);
    close(fd);
    struct timespec ts[2] = {{mtime, 0}, {mtime, 0}};
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

FP_TEST(snapshot_cap_removes_the_oldest_of_its_own_files)
{
    Pic p;
    pic_make(&p, FP_PIX_RGB24, 64, 64, true);
    char path[1024];

    /* the size S of this frame's snapshot (encoding is deterministic) */
    const char *probe = tmp("probe");
    FpSnapshotWriter *w = writer(probe, 0, 85, 0);
    CHECK_OK(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "s", path, sizeof(path)));
    fp_snapshot_destroy(&w); /* drains: the file is there */
    int64_t S = file_size(path);
    CHECK_MSG(S > 2000, "noise snapshot of %lld bytes", (long long)S);

    const char *dir = tmp("capped");
    CHECK(mkdir(dir, 0755) == 0);
    time_t now = time(NULL);
    char old1[1100], old2[1100], other[1100];
    snprintf(old1, sizeof(old1), "%s/snap-zzz-old.jpg", dir); /* oldest by time, last by name */
    snprintf(old2, sizeof(old2), "%s/snap-aaa-newer.jpg", dir);
    snprintf(other, sizeof(other), "%s/holiday.jpg", dir); /* not the writer's */
    make_file(old1, 1000, now - 100);
    make_file(old2, 1000, now - 50);
    make_file(other, 50000, now - 200);

    w = writer(dir, (uint64_t)S + 1500, 85, 0);
    FpSnapshotStats st;
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.dir_bytes, 2000); /* found at create, not removed yet */
    CHECK_OK(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "a", path, sizeof(path)));
    CHECK_OK(fp_snapshot_flush(w));
    CHECK(access(old1, F_OK) != 0); /* 2000 + S > S + 1500: the oldest goes */
    CHECK(access(old2, F_OK) == 0);
    CHECK(file_size(path) == S);
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.dir_bytes, 1000 + S);
    CHECK_EQ(st.removed, 1);

    char pb[1024];
    CHECK_OK(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "b", pb, sizeof(pb)));
    CHECK_OK(fp_snapshot_flush(w));
    CHECK(access(old2, F_OK) != 0);
    CHECK(access(path, F_OK) != 0); /* 1000 + 2S, then 2S > S + 1500: "a" goes too */
    CHECK(file_size(pb) == S);
    CHECK(file_size(other) == 50000);
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.dir_bytes, S);
    CHECK_EQ(st.removed, 3);
    CHECK_EQ(st.written, 2);

    /* the same name again replaces the file and is not counted twice */
    CHECK_OK(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "b", pb, sizeof(pb)));
    CHECK_OK(fp_snapshot_flush(w));
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.dir_bytes, S);
    CHECK(file_size(pb) == S);
    fp_snapshot_destroy(&w);
    FpFrame *mine = &p.f;
    fp_frame_unref(&mine);
    CHECK_EQ(atomic_load(&p.released), 1);
    pic_free(&p);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

FP_TEST(snapshot_full_queue_would_block_without_blocking)
{
    /* The writer thread is stalled in the release of a's last reference. Whose unref is last is a race:
       the writer may encode a and drop its reference before this thread drops its own; then a's release
       runs here (and must not block), and the stall is set up again with a fresh writer. */
    FpSnapshotWriter *w = NULL;
    Pic a, b;
    char path[1024];
    for (int attempt = 0;; attempt++) {
        CHECK_MSG(attempt < 200, "the writer dropped a before this thread did on %d attempts", attempt);
        w = writer(tmp("q"), 0, 85, 2);
        pic_make(&a, FP_PIX_RGB24, 32, 32, false);
        a.owner = pthread_self();
        a.block = true; /* the writer thread stalls in a's release, after encoding it */
        CHECK_OK(fp_snapshot_write(w, &a.f, NULL, 0, NULL, "a", path, sizeof(path)));
        FpFrame *mine = &a.f;
        fp_frame_unref(&mine);
        if (!a.released_by_owner)
            break; /* the writer's unref is the last one: it stalls in on_release */
        CHECK_OK(fp_snapshot_flush(w));
        fp_snapshot_destroy(&w);
        pic_free(&a);
    }
    pic_make(&b, FP_PIX_RGB24, 32, 32, false);
    pthread_mutex_lock(&a.m);
    while (!a.entered)
        pthread_cond_wait(&a.cv, &a.m);
    pthread_mutex_unlock(&a.m);

    /* the writer is stuck: two jobs fit, the third is refused at once */
    CHECK_OK(fp_snapshot_write(w, &b.f, NULL, 0, NULL, "b1", path, sizeof(path)));
    CHECK_OK(fp_snapshot_write(w, &b.f, NULL, 0, NULL, "b2", path, sizeof(path)));
    strcpy(path, "untouched");
    double t0 = now_s();
    int rc = fp_snapshot_write(w, &b.f, NULL, 0, NULL, "b3", path, sizeof(path));
    double took = now_s() - t0;
    CHECK_EQ(rc, FP_EWOULD_BLOCK);
    CHECK_MSG(took < 0.05, "a refused write took %.3f s", took);
    CHECK(strcmp(path, "untouched") == 0);
    FpSnapshotStats st;
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.dropped, 1);
    CHECK_EQ(st.queued, 2);

    pthread_mutex_lock(&a.m);
    a.go = true;
    pthread_cond_broadcast(&a.cv);
    pthread_mutex_unlock(&a.m);
    CHECK_OK(fp_snapshot_flush(w));
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.written, 3);
    CHECK_EQ(st.queued, 0);
    CHECK_EQ(atomic_load(&a.released), 1);
    fp_snapshot_destroy(&w);
    FpFrame *mine = &b.f;
    fp_frame_unref(&mine);
    CHECK_EQ(atomic_load(&b.released), 1); /* both of the writer's references were dropped */
    pic_free(&a);
    pic_free(&b);
}

FP_TEST(snapshot_errors_name_the_folder)
{
    FpSnapshotConfig cfg;
    fp_snapshot_config_init(&cfg);
    static char sentinel;
    FpSnapshotWriter *w = (FpSnapshotWriter *)&sentinel; /* must stay untouched */
    const char *bad = tmp("no/such/dir");
    cfg.dir = bad;
    int rc = fp_snapshot_create(&w, &cfg);
    CHECK_EQ(rc, -ENOENT);
    CHECK(w == (FpSnapshotWriter *)&sentinel);
    CHECK_MSG(strstr(fp_error_detail(rc), bad), "detail: %s", fp_error_detail(rc));

    const char *file = tmp("plain");
    make_file(file, 10, time(NULL));
    cfg.dir = file;
    rc = fp_snapshot_create(&w, &cfg);
    CHECK_EQ(rc, -ENOTDIR);
    CHECK_MSG(strstr(fp_error_detail(rc), file), "detail: %s", fp_error_detail(rc));

    cfg.dir = tmp("ok");
    cfg.quality = 101;
    CHECK_EQ(fp_snapshot_create(&w, &cfg), FP_EINVALID);
    cfg.quality = 0;
    cfg.prefix = "a/b";
    CHECK_EQ(fp_snapshot_create(&w, &cfg), FP_EINVALID);
    CHECK(w == (FpSnapshotWriter *)&sentinel);

    w = writer(tmp("ok"), 0, 0, 0);
    Pic p;
    pic_make(&p, FP_PIX_RGB24, 16, 16, false);
    char path[16] = "untouched";
    CHECK_EQ(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "../x", path, sizeof(path)), FP_EINVALID);
    CHECK_EQ(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "", path, sizeof(path)), FP_EINVALID);
    CHECK_EQ(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "fine", path, sizeof(path)), FP_ETOO_LARGE);
    CHECK(strcmp(path, "untouched") == 0);
    p.f.format = FP_PIX_NONE;
    CHECK_EQ(fp_snapshot_write(w, &p.f, NULL, 0, NULL, "fine", path, sizeof(path)), FP_EINVALID);
    FpSnapshotStats st;
    fp_snapshot_stats(w, &st);
    CHECK_EQ(st.queued + st.written + st.dropped, 0);
    fp_snapshot_destroy(&w);
    FpFrame *mine = &p.f;
    fp_frame_unref(&mine);
    CHECK_EQ(atomic_load(&p.released), 1); /* no failed call kept a reference */
    pic_free(&p);
}

FP_TEST(snapshot_destroy_drains_the_queue)
{
    const char *dir = tmp("drain");
    FpSnapshotWriter *w = writer(dir, 0, 0, 8);
    Pic p;
    pic_make(&p, FP_PIX_YUV420P, 320, 240, false);
    char path[8][1024];
    for (int i = 0; i < 8; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%d", i);
        FpBox box = {10.0f + i, 10.0f, 100.0f, 100.0f};
        CHECK_OK(fp_snapshot_write(w, &p.f, &box, i, "x", name, path[i], sizeof(path[i])));
    }
    fp_snapshot_destroy(&w);
    for (int i = 0; i < 8; i++) {
        Jpeg j;
        jpeg_read(path[i], &j);
        CHECK_EQ(j.w, 320);
        CHECK_EQ(j.h, 240);
        free(j.rgb);
    }
    FpFrame *mine = &p.f;
    fp_frame_unref(&mine);
    CHECK_EQ(atomic_load(&p.released), 1);
    pic_free(&p);
}
