// SPDX-License-Identifier: MIT
// FpPreview: per camera, the latest frame as a small annotated JPEG for the live web view, encoded on its own thread only while watched.
//
// Design. fp_preview_write runs on inference workers, so it only does
// bookkeeping under the one mutex: find the camera (a short array, compared
// by name), return unless it is watched and due (1/fps since the last
// accepted frame), else swap in a frame reference and copy the detections
// into the camera's pending slot (buffers grow, never shrink). The encoder
// thread takes a pending slot out (swapping buffers, so writes go on while
// it works), scales to RGB at the preview width by nearest neighbour (the
// picture is small; sampling beats converting the whole frame), draws, and
// encodes with tjCompress2 into its own buffer; then, under the mutex, copies
// the JPEG into the camera's latest buffer, bumps seq and broadcasts `fresh`.
// Viewers copy that buffer out under the mutex (a memcpy of tens of KiB).
// A camera nobody watches is never encoded: the cost while idle is zero.
#include "framepipe/preview.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"
#include "sink_internal.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <turbojpeg.h>

#define NAME_MAX_LEN 64
#define CLASS_NAME_MAX 32

typedef struct PendDet {
    FpDetection det;
    uint64_t track;
    char cls[CLASS_NAME_MAX];
} PendDet;

/* A frame waiting for the encoder: our reference plus copies of what is drawn. */
typedef struct Pending {
    FpFrame *frame;
    PendDet *dets;
    int n_dets, cap_dets;
} Pending;

typedef struct PreviewCam {
    char name[NAME_MAX_LEN];
    int viewers;
    int64_t last_accept_ns; /* fp_clock_ns of the last accepted frame; INT64_MIN: none */
    Pending pending;        /* pending.frame NULL: nothing to encode */
    FpZoneConfig *zones;
    int n_zones;
    uint8_t *jpeg; /* the latest JPEG */
    size_t jpeg_len, jpeg_cap;
    uint64_t seq; /* of the latest JPEG; 0: none yet */
} PreviewCam;

struct FpPreview {
    FpPreviewConfig cfg;
    int64_t min_gap_ns;
    pthread_mutex_t lock;
    pthread_cond_t work;  /* a frame is pending, or stopping */
    pthread_cond_t fresh; /* a camera got a new JPEG, or stopping (CLOCK_MONOTONIC) */
    PreviewCam cams[FP_PREVIEW_MAX_CAMERAS];
    int n_cams;
    bool stopping;
    FpPreviewStats st;
    pthread_t thread;
};

void fp_preview_config_init(FpPreviewConfig *cfg)
{
    cfg->fps = FP_PREVIEW_DEFAULT_FPS;
    cfg->width = FP_PREVIEW_DEFAULT_WIDTH;
    cfg->quality = FP_PREVIEW_DEFAULT_QUALITY;
}

/* The camera named `name`, or NULL. Lock held. */
static PreviewCam *find_cam(FpPreview *p, const char *name)
{
    for (int i = 0; i < p->n_cams; i++)
        if (strcmp(p->cams[i].name, name) == 0)
            return &p->cams[i];
    return NULL;
}

/* Finds or adds the camera; NULL when the table is full. Lock held. */
static PreviewCam *get_cam(FpPreview *p, const char *name)
{
    PreviewCam *c = find_cam(p, name);
    if (c || p->n_cams == FP_PREVIEW_MAX_CAMERAS)
        return c;
    c = &p->cams[p->n_cams++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->last_accept_ns = INT64_MIN;
    return c;
}

/* ---- drawing ---- */

/* Nearest-neighbour scale of any FpPixelFormat into a w x h RGB picture. */
static void scale_to_rgb(const FpFrame *f, uint8_t *dst, int w, int h)
{
    for (int y = 0; y < h; y++) {
        int sy = (int)((int64_t)y * f->height / h);
        const uint8_t *s0 = f->data[0] + (ptrdiff_t)sy * f->linesize[0];
        uint8_t *o = dst + (size_t)y * (size_t)w * 3;
        for (int x = 0; x < w; x++, o += 3) {
            int sx = (int)((int64_t)x * f->width / w);
            switch (f->format) {
            case FP_PIX_YUV420P:
                fp__yuv_px(s0[sx], f->data[1][(ptrdiff_t)(sy / 2) * f->linesize[1] + sx / 2],
                       f->data[2][(ptrdiff_t)(sy / 2) * f->linesize[2] + sx / 2], o);
                break;
            case FP_PIX_NV12: {
                const uint8_t *uv = f->data[1] + (ptrdiff_t)(sy / 2) * f->linesize[1] + sx / 2 * 2;
                fp__yuv_px(s0[sx], uv[0], uv[1], o);
                break;
            }
            case FP_PIX_RGB24: o[0] = s0[3 * sx], o[1] = s0[3 * sx + 1], o[2] = s0[3 * sx + 2]; break;
            case FP_PIX_BGR24: o[0] = s0[3 * sx + 2], o[1] = s0[3 * sx + 1], o[2] = s0[3 * sx]; break;
            case FP_PIX_GRAY8: o[0] = o[1] = o[2] = s0[sx]; break;
            default: break;
            }
        }
    }
}

static const uint8_t ZONE_COLOR[3] = {255, 255, 0};
static const uint8_t TITLE_COLOR[3] = {32, 32, 32};

/* Zones, boxes with their labels, then the camera name and time in the top-left corner. */
static void draw_overlay(const FpRgbCanvas *pic, const FpFrame *f, const PreviewCam *cam, const Pending *pd,
                         const char *cam_name)
{
    int thick, scale;
    fp__canvas_style(pic, &thick, &scale);
    if (pic->width >= 480 && scale < 2)
        scale = 2; /* a browser shows the picture small: labels legible at 640 px wide */
    float sx = (float)pic->width / (float)f->width, sy = (float)pic->height / (float)f->height;
    for (int z = 0; z < cam->n_zones; z++) {
        const FpZoneConfig *zc = &cam->zones[z];
        float kx = zc->normalized ? (float)pic->width : sx, ky = zc->normalized ? (float)pic->height : sy;
        for (int i = 0; i < zc->n_points; i++) {
            int j = (i + 1) % zc->n_points;
            fp__canvas_line(pic, zc->points[i][0] * kx, zc->points[i][1] * ky, zc->points[j][0] * kx,
                            zc->points[j][1] * ky, thick, ZONE_COLOR);
        }
    }
    for (int i = 0; i < pd->n_dets; i++) {
        const PendDet *d = &pd->dets[i];
        FpBox b = {d->det.box.x1 * sx, d->det.box.y1 * sy, d->det.box.x2 * sx, d->det.box.y2 * sy};
        uint8_t c[3];
        fp_annotate_class_color(d->det.class_id, c);
        int x1, y1;
        if (!fp__canvas_box(pic, b, thick, scale, c, &x1, &y1))
            continue;
        char label[80];
        if (d->track)
            snprintf(label, sizeof(label), "#%llu %s %.2f", (unsigned long long)d->track, d->cls, (double)d->det.score);
        else
            snprintf(label, sizeof(label), "%s %.2f", d->cls, (double)d->det.score);
        fp__canvas_label(pic, x1, y1, scale, label, c);
    }
    char title[NAME_MAX_LEN + 40];
    time_t secs = (time_t)(f->capture_ns > 0 ? f->capture_ns / 1000000000 : fp_wall_ns() / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(title, sizeof(title), "%s %04d-%02d-%02d %02d:%02d:%02dZ", cam_name, tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    fp__canvas_label(pic, 0, 0, scale, title, TITLE_COLOR);
}

/* ---- the encoder thread ---- */

typedef struct EncoderScratch {
    tjhandle tj;
    uint8_t *rgb;
    size_t rgb_cap;
    unsigned char *jpeg;
    unsigned long jpeg_cap;
    Pending pd; /* the slot taken out of a camera (buffers swapped with it) */
} EncoderScratch;

/* Converts, draws and encodes pd->frame into s->jpeg; returns its size or a negative code. */
static long encode(FpPreview *p, EncoderScratch *s, const PreviewCam *cam_copy, const char *name)
{
    const FpFrame *f = s->pd.frame;
    if (!fp__frame_convertible(f))
        return FP_EUNSUPPORTED;
    int w = f->width < p->cfg.width ? f->width : p->cfg.width;
    int h = (int)lround((double)f->height * w / f->width);
    if (h < 1)
        h = 1;
    size_t need = (size_t)w * (size_t)h * 3;
    if (need > s->rgb_cap) {
        uint8_t *n = realloc(s->rgb, need);
        if (!n)
            return -ENOMEM;
        s->rgb = n;
        s->rgb_cap = need;
    }
    scale_to_rgb(f, s->rgb, w, h);
    FpRgbCanvas pic = {s->rgb, (ptrdiff_t)w * 3, w, h, NULL, NULL, 0};
    draw_overlay(&pic, f, cam_copy, &s->pd, name);
    unsigned long bound = tjBufSize(w, h, TJSAMP_420);
    if (bound > s->jpeg_cap) {
        unsigned char *n = tjAlloc((int)(bound > INT_MAX ? INT_MAX : bound));
        if (!n)
            return -ENOMEM;
        tjFree(s->jpeg);
        s->jpeg = n;
        s->jpeg_cap = bound;
    }
    unsigned long size = s->jpeg_cap;
    if (tjCompress2(s->tj, s->rgb, w, w * 3, h, TJPF_RGB, &s->jpeg, &size, TJSAMP_420, p->cfg.quality,
                    TJFLAG_NOREALLOC | TJFLAG_FASTDCT) != 0)
        return fp_error(FP_EINTERNAL, "preview: camera %s: JPEG encoding failed: %s", name, tjGetErrorStr2(s->tj));
    return (long)size;
}

/* Takes one pending slot out (buffers swapped with the scratch's); the camera's index or -1. Lock held. */
static int take_pending(FpPreview *p, EncoderScratch *s)
{
    for (int i = 0; i < p->n_cams; i++) {
        PreviewCam *c = &p->cams[i];
        if (c->pending.frame) {
            Pending t = s->pd;
            s->pd = c->pending;
            c->pending = t;
            c->pending.frame = NULL;
            c->pending.n_dets = 0;
            return i;
        }
    }
    return -1;
}

static void *encoder_main(void *arg)
{
    FpPreview *p = arg;
    EncoderScratch s = {0};
    s.tj = tjInitCompress();
    if (!s.tj)
        fp_log_warn("preview", "libturbojpeg could not start a compressor: no preview frames");
    /* a copy of the camera's zones for drawing outside the lock */
    PreviewCam zones_copy;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        int idx;
        while (!p->stopping && (idx = take_pending(p, &s)) < 0)
            pthread_cond_wait(&p->work, &p->lock);
        if (p->stopping)
            break;
        PreviewCam *cam = &p->cams[idx];
        memset(&zones_copy, 0, sizeof(zones_copy));
        FpZoneConfig zbuf[FP_RULES_MAX_ZONES];
        zones_copy.n_zones = cam->n_zones;
        if (cam->n_zones)
            memcpy(zbuf, cam->zones, (size_t)cam->n_zones * sizeof(*zbuf));
        zones_copy.zones = zbuf;
        char name[NAME_MAX_LEN];
        memcpy(name, cam->name, sizeof(name));
        pthread_mutex_unlock(&p->lock);

        int64_t t0 = fp_clock_ns();
        long n = s.tj ? encode(p, &s, &zones_copy, name) : FP_EINTERNAL;
        int64_t dt = fp_clock_ns() - t0;
        fp_frame_unref(&s.pd.frame);

        pthread_mutex_lock(&p->lock);
        if (n < 0) {
            if (p->st.encode_errors++ == 0)
                fp_log_warn("preview", "camera %s: %s", name, fp_error_detail((int)n));
            continue;
        }
        cam = &p->cams[idx]; /* cameras are never removed: the index is stable */
        if ((size_t)n > cam->jpeg_cap) {
            uint8_t *b = realloc(cam->jpeg, (size_t)n);
            if (!b) {
                p->st.encode_errors++;
                continue;
            }
            cam->jpeg = b;
            cam->jpeg_cap = (size_t)n;
        }
        memcpy(cam->jpeg, s.jpeg, (size_t)n);
        cam->jpeg_len = (size_t)n;
        cam->seq++;
        p->st.frames_encoded++;
        p->st.encode_ns_total += (uint64_t)dt;
        p->st.encode_ns_last = (uint64_t)dt;
        pthread_cond_broadcast(&p->fresh);
    }
    pthread_mutex_unlock(&p->lock);
    fp_frame_unref(&s.pd.frame);
    free(s.pd.dets);
    free(s.rgb);
    tjFree(s.jpeg);
    if (s.tj)
        tjDestroy(s.tj);
    return NULL;
}

/* ---- public API ---- */

int fp_preview_create(FpPreview **out, const FpPreviewConfig *cfg)
{
    FpPreviewConfig c;
    fp_preview_config_init(&c);
    if (cfg) {
        if (cfg->fps != 0)
            c.fps = cfg->fps;
        if (cfg->width != 0)
            c.width = cfg->width;
        if (cfg->quality != 0)
            c.quality = cfg->quality;
    }
    if (!out)
        return fp_error(FP_EINVALID, "preview: fp_preview_create: out is NULL");
    if (!(c.fps > 0 && c.fps <= 1000))
        return fp_error(FP_EINVALID, "preview: fps %g is out of range (0, 1000]", c.fps);
    if (c.width < 16 || c.width > 4096)
        return fp_error(FP_EINVALID, "preview: width %d is out of range (16..4096)", c.width);
    if (c.quality < 1 || c.quality > 100)
        return fp_error(FP_EINVALID, "preview: quality %d is out of range (1..100)", c.quality);
    FpPreview *p = calloc(1, sizeof(*p));
    if (!p)
        return fp_error(-ENOMEM, "preview: out of memory");
    p->cfg = c;
    p->min_gap_ns = (int64_t)(1e9 / c.fps);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->fresh, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&p->thread, NULL, encoder_main, p);
    if (rc != 0) {
        pthread_cond_destroy(&p->fresh);
        pthread_cond_destroy(&p->work);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return fp_error(-rc, "preview: cannot start the encoder thread: %s", fp_strerror(-rc));
    }
    pthread_setname_np(p->thread, "fp-preview"); /* top, /proc/PID/task/TID/comm; bench_outputs.py reads its CPU */
    *out = p;
    return 0;
}

int fp_preview_write(void *preview, const FpFrameResult *r)
{
    FpPreview *p = preview;
    if (!p || !r || !r->frame)
        return fp_error(FP_EINVALID, "preview: fp_preview_write: preview, result and frame are required");
    char fallback[24];
    const char *name = r->camera_name;
    if (!name) {
        snprintf(fallback, sizeof(fallback), "cam%d", r->frame->camera);
        name = fallback;
    }
    FpFrame *old = NULL;
    int rc = 0;
    pthread_mutex_lock(&p->lock);
    PreviewCam *c = p->stopping ? NULL : get_cam(p, name);
    if (!c) {
        rc = p->stopping ? FP_EFLUSHING : FP_ETOO_LARGE;
        pthread_mutex_unlock(&p->lock);
        return rc == FP_EFLUSHING ? rc : fp_error(rc, "preview: camera %s: more than %d cameras", name, FP_PREVIEW_MAX_CAMERAS);
    }
    int64_t now = fp_clock_ns();
    if (c->viewers == 0 || (c->last_accept_ns != INT64_MIN && now - c->last_accept_ns < p->min_gap_ns)) {
        pthread_mutex_unlock(&p->lock);
        return 0;
    }
    int n = r->n_dets > 0 && r->dets ? r->n_dets : 0;
    if (n > c->pending.cap_dets) {
        PendDet *d = realloc(c->pending.dets, (size_t)n * sizeof(*d));
        if (!d) {
            pthread_mutex_unlock(&p->lock);
            return fp_error(-ENOMEM, "preview: camera %s: out of memory for %d detections", name, n);
        }
        c->pending.dets = d;
        c->pending.cap_dets = n;
    }
    for (int i = 0; i < n; i++) {
        PendDet *d = &c->pending.dets[i];
        d->det = r->dets[i];
        d->track = r->track_ids ? r->track_ids[i] : 0;
        int k = r->dets[i].class_id;
        if (r->class_names && k >= 0 && k < r->n_classes && r->class_names[k])
            snprintf(d->cls, sizeof(d->cls), "%s", r->class_names[k]);
        else
            snprintf(d->cls, sizeof(d->cls), "class%d", k);
    }
    c->pending.n_dets = n;
    if (c->pending.frame) {
        old = c->pending.frame;
        p->st.frames_replaced++;
    }
    c->pending.frame = fp_frame_ref((FpFrame *)r->frame);
    c->last_accept_ns = now;
    p->st.frames_accepted++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->lock);
    fp_frame_unref(&old); /* outside the lock: the release may take the pool's */
    return 0;
}

int fp_preview_set_zones(FpPreview *p, const char *camera, const FpZoneConfig *zones, int n)
{
    if (!p || !camera || n < 0 || n > FP_RULES_MAX_ZONES || (n > 0 && !zones))
        return fp_error(FP_EINVALID, "preview: fp_preview_set_zones: bad arguments (camera %s, %d zones)",
                        camera ? camera : "(null)", n);
    FpZoneConfig *copy = NULL;
    if (n > 0) {
        copy = malloc((size_t)n * sizeof(*copy));
        if (!copy)
            return fp_error(-ENOMEM, "preview: camera %s: out of memory for %d zones", camera, n);
        memcpy(copy, zones, (size_t)n * sizeof(*copy));
        for (int i = 0; i < n; i++) {
            copy[i].name = NULL; /* not drawn; not kept */
            if (copy[i].n_points < 0 || copy[i].n_points > FP_ZONE_MAX_POINTS)
                copy[i].n_points = 0;
        }
    }
    pthread_mutex_lock(&p->lock);
    PreviewCam *c = get_cam(p, camera);
    if (!c) {
        pthread_mutex_unlock(&p->lock);
        free(copy);
        return fp_error(FP_ETOO_LARGE, "preview: camera %s: more than %d cameras", camera, FP_PREVIEW_MAX_CAMERAS);
    }
    FpZoneConfig *old = c->zones;
    c->zones = copy;
    c->n_zones = n;
    pthread_mutex_unlock(&p->lock);
    free(old);
    return 0;
}

int fp_preview_watch(FpPreview *p, const char *camera, int delta)
{
    if (!p || !camera || (delta != 1 && delta != -1))
        return fp_error(FP_EINVALID, "preview: fp_preview_watch: bad arguments");
    pthread_mutex_lock(&p->lock);
    PreviewCam *c = find_cam(p, camera);
    int rc;
    if (!c) {
        rc = FP_ENOT_FOUND;
    } else {
        c->viewers += delta;
        if (c->viewers < 0)
            c->viewers = 0;
        if (delta > 0 && c->viewers == 1)
            c->last_accept_ns = INT64_MIN; /* the first viewer gets the next frame at once */
        rc = c->viewers;
    }
    pthread_mutex_unlock(&p->lock);
    return rc == FP_ENOT_FOUND ? fp_error(rc, "preview: no camera named \"%s\"", camera) : rc;
}

int fp_preview_next(FpPreview *p, const char *camera, uint64_t *seq, int64_t timeout_ns, uint8_t **buf, size_t *cap,
                    size_t *len)
{
    if (!p || !camera || !seq || !buf || !cap || !len)
        return fp_error(FP_EINVALID, "preview: fp_preview_next: bad arguments");
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t t = (int64_t)dl.tv_sec * 1000000000 + dl.tv_nsec + (timeout_ns > 0 ? timeout_ns : 0);
    dl.tv_sec = (time_t)(t / 1000000000);
    dl.tv_nsec = (long)(t % 1000000000);
    pthread_mutex_lock(&p->lock);
    PreviewCam *c = find_cam(p, camera);
    if (!c) {
        pthread_mutex_unlock(&p->lock);
        return fp_error(FP_ENOT_FOUND, "preview: no camera named \"%s\"", camera);
    }
    while (!p->stopping && c->seq <= *seq) {
        if (timeout_ns <= 0 || pthread_cond_timedwait(&p->fresh, &p->lock, &dl) == ETIMEDOUT)
            break;
    }
    int rc = 0;
    if (!p->stopping && c->seq > *seq) {
        if (c->jpeg_len > *cap) {
            uint8_t *b = realloc(*buf, c->jpeg_len);
            if (!b) {
                pthread_mutex_unlock(&p->lock);
                return fp_error(-ENOMEM, "preview: out of memory for a %zu-byte frame", c->jpeg_len);
            }
            *buf = b;
            *cap = c->jpeg_len;
        }
        memcpy(*buf, c->jpeg, c->jpeg_len);
        *len = c->jpeg_len;
        *seq = c->seq;
        rc = 1;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int fp_preview_get_stats(FpPreview *p, FpPreviewStats *st)
{
    if (!p || !st)
        return fp_error(FP_EINVALID, "preview: fp_preview_get_stats: bad arguments");
    pthread_mutex_lock(&p->lock);
    *st = p->st;
    st->cameras = p->n_cams;
    st->viewers = 0;
    for (int i = 0; i < p->n_cams; i++)
        st->viewers += p->cams[i].viewers;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void fp_preview_destroy(FpPreview **pp)
{
    if (!pp || !*pp)
        return;
    FpPreview *p = *pp;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_cond_broadcast(&p->fresh);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    for (int i = 0; i < p->n_cams; i++) {
        PreviewCam *c = &p->cams[i];
        fp_frame_unref(&c->pending.frame);
        free(c->pending.dets);
        free(c->zones);
        free(c->jpeg);
    }
    pthread_cond_destroy(&p->fresh);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}
