// SPDX-License-Identifier: MIT
// Annotation sink: draws boxes, keypoints and labels into a copy of each frame and writes a video per camera or PNG frames.
#include "framepipe/sink.h"

#include "framepipe/error.h"
#include "framepipe/log.h"
#include "framepipe/source.h" /* fp_libav_init: libav log routing */
#include "sink_internal.h"

#include "fp_config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* -Dannotate=disabled: only the palette below is built, and the sink functions at the end fail with FP_EUNSUPPORTED. */
#if FP_HAVE_ANNOTATE
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

/*
 * Design. Each camera (told apart by name) has its own state and mutex: a
 * scratch RGB24 picture allocated once (re-made when the frame size
 * changes), the swscale contexts, and its encoder (and muxer, for video).
 * A write converts the read-only input frame into the scratch picture,
 * draws into it, and encodes it; cameras proceed in parallel, the sink
 * lock only guards the camera table. Drawing happens in RGB so colours
 * are exact; every pixel write goes through fill_rect, which clips to the
 * picture, so boxes at or beyond the edges (or absurd, or NaN) are safe.
 *
 * Video: the encoder is opened on the camera's first frame with that
 * frame's size rounded down to even (yuv420p needs it: the odd last
 * column/row is cropped). A later frame of another size is scaled to the
 * encoder's size. Timestamps come from pts_ns relative to the camera's
 * first frame; a timestamp that does not advance (images, raw frames)
 * is replaced by the previous one plus one frame at the nominal rate.
 *
 * A camera whose output failed keeps its error and message and returns
 * them from every later write; close returns the first error of all.
 *
 * Video frames whose size is the camera's first size are not converted to
 * RGB: the planes are copied (or, for NV12/RGB input, converted) straight
 * into the encoder's yuv420p picture and the boxes drawn there
 * (FpRgbCanvas in yuv420p mode); only PNG output and frames of another
 * size take the RGB scratch picture.
 *
 * Queue (fp_annotate_sink_set_queue): a write then only takes a reference
 * to the frame (never a copy of its pixels) and copies the detections into
 * a preallocated slot of a bounded ring; the sink's own thread draws and
 * encodes in write order. A write never waits for the encoder: when the
 * ring is full the frame is left out of the output and counted
 * (fp_annotate_sink_get_stats, and one warning at close). The slots' det
 * arrays grow only when a frame has more detections than any before.
 */

#define ANN_DEFAULT_FPS 25.0
#define ANN_LABEL_MAX 48

typedef enum AnnMode {
    ANN_VIDEO,
    ANN_PNG,
} AnnMode;

typedef struct AnnCamera {
    pthread_mutex_t lock;
    char *name;
    char *tag;  /* the camera's name made safe for a file name, unique within the sink */
    char *path; /* video file; PNG mode: scratch buffer for each frame's file name */
    size_t path_cap;
    int error; /* first failure; returned again by later writes */
    _Atomic int error_seen; /* `error`, published for queue-mode writes (set after error_msg) */
    char error_msg[512];
    bool finished;

    AVFrame *rgb; /* scratch picture, RGB24, the input frame's size */
    struct SwsContext *to_rgb;

    AVCodecContext *enc;
    AVPacket *pkt;
    /* video only */
    AVFrame *yuv; /* encoder-sized yuv420p */
    struct SwsContext *to_yuv;     /* input format -> yuv420p, same size */
    struct SwsContext *to_rgb_yuv; /* RGB scratch of another size -> the encoder's size */
    int first_w, first_h; /* size of the first frame (the encoder's size before rounding to even) */
    AVFormatContext *oc;
    AVStream *st;
    bool header_written;
    int64_t first_pts_ns;
    int64_t last_pts; /* in enc->time_base */
    int64_t frame_ticks; /* one frame at the nominal rate, in enc->time_base */
    uint64_t frames;
} AnnCamera;

typedef struct AnnJob {
    FpFrame *frame; /* our reference */
    AnnCamera *cam;
    FpFrameResult r; /* dets point at `dets`; frame at `frame` */
    FpDetection *dets;
    int cap_dets;
} AnnJob;

struct FpAnnotateSink {
    pthread_mutex_t lock; /* the camera table and `closed` */
    AnnMode mode;
    char *target;
    char *dir;        /* PNG: the directory, without trailing '/' */
    char *stem, *ext; /* video: "out/run", ".mp4" */
    double fps;
    const AVCodec *codec;
    AnnCamera **cams;
    int n_cams, cap_cams;
    bool closed;
    bool no_draw; /* fp_annotate_sink_set_draw(false) */
    int close_rc;
    _Atomic int first_error;
    char first_msg[512];
    /* queue (depth > 0): guarded by qlock */
    pthread_mutex_t qlock;
    pthread_cond_t qcond;
    pthread_t thread;
    bool thread_started, qstop, qhold;
    AnnJob *jobs;
    int depth, qhead, qlen;
    uint64_t queued, dropped, written;
};

#endif /* FP_HAVE_ANNOTATE */

/* ---- palette and drawing ---- */

static const uint8_t palette[20][3] = {
    {255, 56, 56},  {255, 157, 151}, {255, 112, 31}, {255, 178, 29}, {207, 210, 49},
    {72, 249, 10},  {146, 204, 23},  {61, 219, 134}, {26, 147, 52},  {0, 212, 187},
    {44, 153, 168}, {0, 194, 255},   {52, 69, 147},  {100, 115, 255}, {0, 24, 236},
    {132, 56, 255}, {82, 0, 133},    {203, 56, 255}, {255, 149, 200}, {255, 55, 199},
};

void fp_annotate_class_color(int class_id, uint8_t rgb[3])
{
    unsigned n = sizeof(palette) / sizeof(palette[0]);
    unsigned i = class_id < 0 ? (unsigned)(-(long long)class_id % n) : (unsigned)class_id % n;
    memcpy(rgb, palette[i], 3);
}

#if FP_HAVE_ANNOTATE

static void draw_detection(const FpRgbCanvas *pic, const FpFrameResult *r, const FpDetection *d, int thick, int scale)
{
    uint8_t c[3];
    fp_annotate_class_color(d->class_id, c);
    int x1, y1;
    if (!fp__canvas_box(pic, d->box, thick, scale, c, &x1, &y1))
        return;
    int nk = r->n_keypoints <= 0 ? 0 : d->n_keypoints < 0 ? 0 : d->n_keypoints;
    if (nk > FP_MAX_KEYPOINTS)
        nk = FP_MAX_KEYPOINTS;
    int rad = thick;
    for (int k = 0; k < nk; k++) {
        if (!isfinite(d->keypoints[k][0]) || !isfinite(d->keypoints[k][1]))
            continue;
        int kx = fp__canvas_floor(d->keypoints[k][0], pic->width, rad);
        int ky = fp__canvas_floor(d->keypoints[k][1], pic->height, rad);
        fp__canvas_disc(pic, kx, ky, rad, c);
    }
    /* label "name 0.93" on a filled background above the box (inside it at the top of the picture) */
    char label[ANN_LABEL_MAX + 16];
    const char *name = NULL;
    if (r->class_names && d->class_id >= 0 && d->class_id < r->n_classes)
        name = r->class_names[d->class_id];
    double score = isfinite(d->score) ? d->score : 0.0;
    if (name)
        snprintf(label, sizeof(label), "%.*s %.2f", ANN_LABEL_MAX, name, score);
    else
        snprintf(label, sizeof(label), "%d %.2f", d->class_id, score);
    fp__canvas_label(pic, x1, y1, scale, label, c);
}

static void draw_result(AVFrame *frame, const FpFrameResult *r)
{
    FpRgbCanvas pic = {frame->data[0], frame->linesize[0], frame->width, frame->height, NULL, NULL, 0};
    if (frame->format == AV_PIX_FMT_YUV420P) {
        pic.u = frame->data[1];
        pic.v = frame->data[2];
        pic.cstride = frame->linesize[1];
    }
    int thick, scale;
    fp__canvas_style(&pic, &thick, &scale);
    for (int i = 0; i < r->n_dets; i++)
        draw_detection(&pic, r, &r->dets[i], thick, scale);
}

/* ---- errors ---- */

static int code_of_averror(int averr)
{
    if (averr < 0 && averr > -4096)
        return averr; /* AVERROR(e) == -e */
    if (averr == AVERROR_ENCODER_NOT_FOUND || averr == AVERROR_MUXER_NOT_FOUND)
        return FP_EDEPENDENCY;
    return FP_EIO;
}

/* Records the camera's (first) failure and returns it. */
static int cam_fail(FpAnnotateSink *s, AnnCamera *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int cam_fail(FpAnnotateSink *s, AnnCamera *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->error_msg, sizeof(c->error_msg), fmt, ap);
    va_end(ap);
    c->error = code;
    atomic_store(&c->error_seen, code);
    int zero = 0;
    if (atomic_compare_exchange_strong(&s->first_error, &zero, code))
        snprintf(s->first_msg, sizeof(s->first_msg), "%s", c->error_msg);
    fp_log_error("annotate", "%s", c->error_msg);
    return fp_error(code, "%s", c->error_msg);
}

static int cam_av_fail(FpAnnotateSink *s, AnnCamera *c, int averr, const char *what, const char *file)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(averr, buf, sizeof(buf));
    return cam_fail(s, c, code_of_averror(averr), "annotate %s: %s: %s", file, what, buf);
}

/* ---- pixel formats ---- */

static enum AVPixelFormat av_format_of(FpPixelFormat f)
{
    switch (f) {
    case FP_PIX_YUV420P:
        return AV_PIX_FMT_YUV420P;
    case FP_PIX_NV12:
        return AV_PIX_FMT_NV12;
    case FP_PIX_RGB24:
        return AV_PIX_FMT_RGB24;
    case FP_PIX_BGR24:
        return AV_PIX_FMT_BGR24;
    case FP_PIX_GRAY8:
        return AV_PIX_FMT_GRAY8;
    default:
        return AV_PIX_FMT_NONE;
    }
}

/* Converts the input frame into the camera's scratch RGB picture (re-made on a size change). */
static int to_scratch(FpAnnotateSink *s, AnnCamera *c, const FpFrame *f, const char *file)
{
    enum AVPixelFormat in = av_format_of(f->format);
    if (!c->rgb || c->rgb->width != f->width || c->rgb->height != f->height) {
        if (!c->rgb && !(c->rgb = av_frame_alloc()))
            return cam_fail(s, c, -ENOMEM, "annotate %s: out of memory", file);
        av_frame_unref(c->rgb);
        c->rgb->format = AV_PIX_FMT_RGB24;
        c->rgb->width = f->width;
        c->rgb->height = f->height;
        int err = av_frame_get_buffer(c->rgb, 0);
        if (err < 0)
            return cam_av_fail(s, c, err, "cannot allocate the scratch picture", file);
    } else {
        int err = av_frame_make_writable(c->rgb); /* an encoder may still hold the previous picture */
        if (err < 0)
            return cam_av_fail(s, c, err, "cannot allocate the scratch picture", file);
    }
    c->to_rgb = sws_getCachedContext(c->to_rgb, f->width, f->height, in, f->width, f->height, AV_PIX_FMT_RGB24,
                                     SWS_BILINEAR, NULL, NULL, NULL);
    if (!c->to_rgb)
        return cam_fail(s, c, FP_EUNSUPPORTED, "annotate %s: cannot convert %s %dx%d to RGB", file,
                        fp_pixel_format_name(f->format), f->width, f->height);
    sws_scale(c->to_rgb, (const uint8_t *const *)f->data, f->linesize, 0, f->height, c->rgb->data,
              c->rgb->linesize);
    return 0;
}

/* ---- file names ---- */

static char *file_tag(const FpAnnotateSink *s, const char *name)
{
    size_t n = strlen(name);
    char *t = malloc(n + 16);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                  ch == '_' || (ch == '.' && i > 0);
        t[i] = ok ? ch : '_';
    }
    if (n == 0)
        t[n++] = '_';
    t[n] = '\0';
    /* two names that sanitise alike ("a/b", "a b") get "-2", "-3", ... */
    for (int k = 2;; k++) {
        bool clash = false;
        for (int i = 0; i < s->n_cams && !clash; i++)
            clash = strcmp(s->cams[i]->tag, t) == 0;
        if (!clash)
            return t;
        snprintf(t + n, 16, "-%d", k);
    }
}

static AnnCamera *camera_new(FpAnnotateSink *s, const char *name)
{
    AnnCamera *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->name = strdup(name);
    c->tag = c->name ? file_tag(s, name) : NULL;
    if (!c->tag)
        goto fail;
    if (s->mode == ANN_VIDEO) {
        if (s->n_cams == 0) {
            c->path = strdup(s->target);
        } else {
            size_t n = strlen(s->stem) + strlen(c->tag) + strlen(s->ext) + 2;
            c->path = malloc(n);
            if (c->path)
                snprintf(c->path, n, "%s-%s%s", s->stem, c->tag, s->ext);
        }
    } else {
        c->path_cap = strlen(s->dir) + strlen(c->tag) + 32;
        c->path = malloc(c->path_cap);
    }
    if (!c->path)
        goto fail;
    pthread_mutex_init(&c->lock, NULL);
    return c;
fail:
    free(c->name);
    free(c->tag);
    free(c);
    return NULL;
}

/* ---- video ---- */

static int video_open(FpAnnotateSink *s, AnnCamera *c, int w, int h)
{
    const char *file = c->path;
    int ew = w & ~1, eh = h & ~1;
    if (ew < 2 || eh < 2)
        return cam_fail(s, c, FP_EUNSUPPORTED, "annotate %s: frame %dx%d of camera %s is too small to encode", file,
                        w, h, c->name);
    int err = avformat_alloc_output_context2(&c->oc, NULL, NULL, file);
    if (err < 0 || !c->oc)
        return cam_av_fail(s, c, err < 0 ? err : AVERROR_MUXER_NOT_FOUND, "no muxer for", file);
    c->enc = avcodec_alloc_context3(s->codec);
    c->pkt = av_packet_alloc();
    c->yuv = av_frame_alloc();
    if (!c->enc || !c->pkt || !c->yuv)
        return cam_fail(s, c, -ENOMEM, "annotate %s: out of memory", file);
    AVRational rate = av_d2q(s->fps, 65535);
    AVCodecContext *e = c->enc;
    e->width = ew;
    e->height = eh;
    e->pix_fmt = AV_PIX_FMT_YUV420P;
    e->framerate = rate;
    e->color_range = AVCOL_RANGE_MPEG;
    e->colorspace = AVCOL_SPC_SMPTE170M; /* swscale's default matrix (BT.601) */
    e->gop_size = (int)(s->fps * 2 + 0.5);
    bool x264 = strcmp(s->codec->name, "libx264") == 0;
    if (x264) {
        e->time_base = (AVRational){1, 90000};
        av_opt_set(e->priv_data, "preset", "ultrafast", 0);
        av_opt_set(e->priv_data, "crf", "20", 0);
    } else {
        e->time_base = av_inv_q(rate); /* MPEG-4 part 2 allows denominators up to 65535 only */
        e->flags |= AV_CODEC_FLAG_QSCALE;
        e->global_quality = FF_QP2LAMBDA * 3;
    }
    if (strcmp(c->oc->oformat->name, "avi") == 0)
        e->max_b_frames = 0; /* AVI stores no presentation order */
    if (c->oc->oformat->flags & AVFMT_GLOBALHEADER)
        e->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    err = avcodec_open2(e, s->codec, NULL);
    if (err < 0)
        return cam_av_fail(s, c, err, s->codec->name, file);
    c->frame_ticks = av_rescale_q(1, av_inv_q(rate), e->time_base);
    if (c->frame_ticks < 1)
        c->frame_ticks = 1;
    c->st = avformat_new_stream(c->oc, NULL);
    if (!c->st)
        return cam_fail(s, c, -ENOMEM, "annotate %s: out of memory", file);
    err = avcodec_parameters_from_context(c->st->codecpar, e);
    if (err < 0)
        return cam_av_fail(s, c, err, "codec parameters", file);
    c->st->time_base = e->time_base;
    c->st->avg_frame_rate = rate;
    if (!(c->oc->oformat->flags & AVFMT_NOFILE)) {
        err = avio_open(&c->oc->pb, file, AVIO_FLAG_WRITE);
        if (err < 0)
            return cam_av_fail(s, c, err, "cannot create", file);
    }
    err = avformat_write_header(c->oc, NULL);
    if (err < 0)
        return cam_av_fail(s, c, err, "cannot write the header of", file);
    c->header_written = true;
    c->yuv->format = AV_PIX_FMT_YUV420P;
    c->yuv->width = ew;
    c->yuv->height = eh;
    err = av_frame_get_buffer(c->yuv, 0);
    if (err < 0)
        return cam_av_fail(s, c, err, "cannot allocate a picture for", file);
    c->first_w = w;
    c->first_h = h;
    fp_log_info("annotate", "camera %s -> %s (%s, %dx%d)", c->name, file, s->codec->name, ew, eh);
    return 0;
}

/* Sends `frame` (NULL: flush) and writes every packet the encoder gives back. */
static int video_encode(FpAnnotateSink *s, AnnCamera *c, AVFrame *frame)
{
    int err = avcodec_send_frame(c->enc, frame);
    if (err < 0)
        return cam_av_fail(s, c, err, "encoding failed for", c->path);
    for (;;) {
        err = avcodec_receive_packet(c->enc, c->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF)
            return 0;
        if (err < 0)
            return cam_av_fail(s, c, err, "encoding failed for", c->path);
        av_packet_rescale_ts(c->pkt, c->enc->time_base, c->st->time_base);
        c->pkt->stream_index = c->st->index;
        err = av_interleaved_write_frame(c->oc, c->pkt); /* takes the packet's data */
        if (err < 0)
            return cam_av_fail(s, c, err, "cannot write to", c->path);
    }
}

/* The frame has the camera's first size: copied or converted straight into the encoder's picture, drawn there. */
static int video_direct(FpAnnotateSink *s, AnnCamera *c, const FpFrame *f, const FpFrameResult *r)
{
    int err;
    if ((err = av_frame_make_writable(c->yuv)) < 0)
        return cam_av_fail(s, c, err, "cannot allocate a picture for", c->path);
    int w = c->enc->width, h = c->enc->height;
    if (f->format == FP_PIX_YUV420P) {
        for (int p = 0; p < 3; p++) {
            int pw = p ? (w + 1) / 2 : w, ph = p ? (h + 1) / 2 : h;
            av_image_copy_plane(c->yuv->data[p], c->yuv->linesize[p], f->data[p], f->linesize[p], pw, ph);
        }
    } else {
        enum AVPixelFormat in = av_format_of(f->format);
        c->to_yuv = sws_getCachedContext(c->to_yuv, w, h, in, w, h, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL,
                                         NULL);
        if (!c->to_yuv)
            return cam_fail(s, c, FP_EUNSUPPORTED, "annotate %s: cannot convert %s %dx%d to the video", c->path,
                            fp_pixel_format_name(f->format), w, h);
        sws_scale(c->to_yuv, (const uint8_t *const *)f->data, f->linesize, 0, h, c->yuv->data, c->yuv->linesize);
    }
    if (!s->no_draw)
        draw_result(c->yuv, r);
    return 0;
}

static int video_write(FpAnnotateSink *s, AnnCamera *c, const FpFrame *f, const FpFrameResult *r)
{
    int err;
    if (!c->enc) {
        if ((err = video_open(s, c, f->width, f->height)) < 0)
            return err;
        c->first_pts_ns = f->pts_ns;
    }
    int64_t pts = av_rescale_q(f->pts_ns - c->first_pts_ns, (AVRational){1, 1000000000}, c->enc->time_base);
    if (c->frames > 0 && pts <= c->last_pts)
        pts = c->last_pts + c->frame_ticks;
    /* the first frame's own size is cropped to even and drawn in place; any other size goes through RGB and is
     * scaled to the encoder's */
    if (f->width == c->first_w && f->height == c->first_h) {
        if ((err = video_direct(s, c, f, r)) < 0)
            return err;
    } else {
        if ((err = to_scratch(s, c, f, c->path)) < 0)
            return err;
        if (!s->no_draw)
            draw_result(c->rgb, r);
        int sw = f->width, sh = f->height;
        c->to_rgb_yuv = sws_getCachedContext(c->to_rgb_yuv, sw, sh, AV_PIX_FMT_RGB24, c->enc->width,
                                             c->enc->height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
        if (!c->to_rgb_yuv)
            return cam_fail(s, c, FP_EUNSUPPORTED, "annotate %s: cannot convert %dx%d RGB to the video", c->path, sw,
                            sh);
        if ((err = av_frame_make_writable(c->yuv)) < 0)
            return cam_av_fail(s, c, err, "cannot allocate a picture for", c->path);
        sws_scale(c->to_rgb_yuv, (const uint8_t *const *)c->rgb->data, c->rgb->linesize, 0, sh, c->yuv->data,
                  c->yuv->linesize);
    }
    c->yuv->pts = pts;
    if ((err = video_encode(s, c, c->yuv)) < 0)
        return err;
    c->last_pts = pts;
    c->frames++;
    return 0;
}

/* ---- PNG ---- */

static int png_write(FpAnnotateSink *s, AnnCamera *c, const FpFrame *f, const FpFrameResult *r)
{
    int err;
    if ((err = to_scratch(s, c, f, s->dir)) < 0)
        return err;
    if (!s->no_draw)
        draw_result(c->rgb, r);
    snprintf(c->path, c->path_cap, "%s/%s-%06" PRIu64 ".png", s->dir, c->tag, f->seq);
    const char *file = c->path;
    if (c->enc && (c->enc->width != f->width || c->enc->height != f->height))
        avcodec_free_context(&c->enc);
    if (!c->enc) {
        if (!c->pkt && !(c->pkt = av_packet_alloc()))
            return cam_fail(s, c, -ENOMEM, "annotate %s: out of memory", file);
        if (!(c->enc = avcodec_alloc_context3(s->codec)))
            return cam_fail(s, c, -ENOMEM, "annotate %s: out of memory", file);
        c->enc->width = f->width;
        c->enc->height = f->height;
        c->enc->pix_fmt = AV_PIX_FMT_RGB24;
        c->enc->time_base = (AVRational){1, 25};
        if ((err = avcodec_open2(c->enc, s->codec, NULL)) < 0)
            return cam_av_fail(s, c, err, "png encoder for", file);
    }
    if ((err = avcodec_send_frame(c->enc, c->rgb)) < 0 || (err = avcodec_receive_packet(c->enc, c->pkt)) < 0)
        return cam_av_fail(s, c, err, "PNG encoding failed for", file);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    int rc = 0;
    if (fd < 0) {
        rc = -errno;
    } else {
        const uint8_t *p = c->pkt->data;
        size_t n = (size_t)c->pkt->size;
        while (n > 0) {
            ssize_t w = write(fd, p, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                rc = -errno;
                break;
            }
            p += w;
            n -= (size_t)w;
        }
        if (close(fd) != 0 && rc == 0)
            rc = -errno;
    }
    av_packet_unref(c->pkt);
    if (rc < 0)
        return cam_fail(s, c, rc, "annotate %s: cannot write: %s", file, fp_strerror(rc));
    c->frames++;
    return 0;
}

/* ---- the sink ---- */

/* Draws and encodes one result into its camera's output (the caller holds no lock). */
static int camera_write(FpAnnotateSink *s, AnnCamera *c, const FpFrameResult *r)
{
    pthread_mutex_lock(&c->lock);
    int rc;
    if (c->error)
        rc = fp_error(c->error, "%s", c->error_msg);
    else
        rc = s->mode == ANN_VIDEO ? video_write(s, c, r->frame, r) : png_write(s, c, r->frame, r);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* The sink's thread (queue mode): takes the jobs in order, draws and encodes them, drops the frame references. */
static void *ann_thread(void *arg)
{
    FpAnnotateSink *s = arg;
    pthread_mutex_lock(&s->qlock);
    for (;;) {
        while (!s->qstop && (s->qlen == 0 || s->qhold))
            pthread_cond_wait(&s->qcond, &s->qlock);
        if (s->qlen == 0)
            break; /* stopping and drained */
        AnnJob *j = &s->jobs[s->qhead];
        pthread_mutex_unlock(&s->qlock);
        camera_write(s, j->cam, &j->r); /* an error is kept by the camera and returned by later writes and close */
        fp_frame_unref(&j->frame);
        pthread_mutex_lock(&s->qlock);
        s->qhead = (s->qhead + 1) % s->depth;
        s->qlen--;
        s->written++;
        pthread_cond_broadcast(&s->qcond);
    }
    pthread_mutex_unlock(&s->qlock);
    return NULL;
}

/* Queue mode: copies the result into a free slot with a reference to its frame, or counts it dropped. */
static int enqueue(FpAnnotateSink *s, AnnCamera *c, const FpFrameResult *r)
{
    pthread_mutex_lock(&s->qlock);
    if (s->qlen == s->depth) {
        s->dropped++;
        pthread_mutex_unlock(&s->qlock);
        return 0;
    }
    AnnJob *j = &s->jobs[(s->qhead + s->qlen) % s->depth];
    if (r->n_dets > j->cap_dets) { /* only when a frame has more detections than any before in this slot */
        int cap = r->n_dets < 16 ? 16 : r->n_dets;
        FpDetection *d = realloc(j->dets, (size_t)cap * sizeof(*d));
        if (!d) {
            pthread_mutex_unlock(&s->qlock);
            return fp_error(-ENOMEM, "annotate %s: out of memory for %d detections", c->path, r->n_dets);
        }
        j->dets = d;
        j->cap_dets = cap;
    }
    if (r->n_dets > 0)
        memcpy(j->dets, r->dets, (size_t)r->n_dets * sizeof(*j->dets));
    j->frame = fp_frame_ref((FpFrame *)(uintptr_t)r->frame); /* the pipeline's frames are live; never copied */
    j->cam = c;
    j->r = *r;
    j->r.frame = j->frame;
    j->r.dets = j->dets;
    j->r.track_ids = NULL; /* not drawn */
    s->qlen++;
    s->queued++;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    return 0;
}

int fp_annotate_sink_write(void *sink, const FpFrameResult *r)
{
    FpAnnotateSink *s = sink;
    if (!s || !r || !r->frame || r->n_dets < 0 || (r->n_dets > 0 && !r->dets))
        return fp_error(FP_EINVALID, "annotate %s: invalid frame result", s ? s->target : "(null)");
    const FpFrame *f = r->frame;
    if (av_format_of(f->format) == AV_PIX_FMT_NONE || f->width <= 0 || f->height <= 0 || !f->data[0])
        return fp_error(FP_EUNSUPPORTED, "annotate %s: camera %s: cannot draw a %s %dx%d frame", s->target,
                        r->camera_name ? r->camera_name : "?", fp_pixel_format_name(f->format), f->width, f->height);
    char fallback[32];
    const char *name = r->camera_name;
    if (!name) {
        snprintf(fallback, sizeof(fallback), "cam%d", f->camera);
        name = fallback;
    }

    pthread_mutex_lock(&s->lock);
    if (s->closed) {
        pthread_mutex_unlock(&s->lock);
        return fp_error(FP_EFLUSHING, "annotate %s: the sink is closed", s->target);
    }
    AnnCamera *c = NULL;
    for (int i = 0; i < s->n_cams && !c; i++)
        if (strcmp(s->cams[i]->name, name) == 0)
            c = s->cams[i];
    if (!c) {
        if (s->n_cams == s->cap_cams) {
            int cap = s->cap_cams ? 2 * s->cap_cams : 8;
            AnnCamera **bigger = realloc(s->cams, (size_t)cap * sizeof(*bigger));
            if (!bigger) {
                pthread_mutex_unlock(&s->lock);
                return fp_error(-ENOMEM, "annotate %s: out of memory for camera %s", s->target, name);
            }
            s->cams = bigger;
            s->cap_cams = cap;
        }
        if (!(c = camera_new(s, name))) {
            pthread_mutex_unlock(&s->lock);
            return fp_error(-ENOMEM, "annotate %s: out of memory for camera %s", s->target, name);
        }
        s->cams[s->n_cams++] = c;
    }
    pthread_mutex_unlock(&s->lock);

    if (!s->depth)
        return camera_write(s, c, r);
    int err = atomic_load(&c->error_seen);
    if (err)
        return fp_error(err, "%s", c->error_msg);
    return enqueue(s, c, r);
}

/* Queue mode: lets the thread finish every queued frame and stop. */
static void stop_thread(FpAnnotateSink *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->qlock);
    s->qstop = true;
    s->qhold = false;
    pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

int fp_annotate_sink_set_queue(FpAnnotateSink *s, int depth)
{
    if (!s || depth < 0 || depth > 4096)
        return fp_error(FP_EINVALID, "annotate %s: queue depth %d out of range 0..4096", s ? s->target : "(null)",
                        depth);
    if (s->depth || s->n_cams || s->closed)
        return fp_error(FP_EINVALID, "annotate %s: the queue is set once, before the first write", s->target);
    if (depth == 0)
        return 0;
    if (!(s->jobs = calloc((size_t)depth, sizeof(*s->jobs))))
        return fp_error(-ENOMEM, "annotate %s: out of memory for a queue of %d frames", s->target, depth);
    s->depth = depth;
    int err = pthread_create(&s->thread, NULL, ann_thread, s);
    if (err) {
        free(s->jobs);
        s->jobs = NULL;
        s->depth = 0;
        return fp_error(-err, "annotate %s: cannot start its thread: %s", s->target, fp_strerror(-err));
    }
    s->thread_started = true;
    return 0;
}

void fp_annotate_sink_hold(FpAnnotateSink *s, bool hold)
{
    if (!s || !s->depth)
        return;
    pthread_mutex_lock(&s->qlock);
    s->qhold = hold;
    pthread_cond_broadcast(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
}

void fp_annotate_sink_get_stats(FpAnnotateSink *s, FpAnnotateStats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    if (!s || !s->depth)
        return;
    pthread_mutex_lock(&s->qlock);
    st->depth = s->depth;
    st->queued = s->queued;
    st->dropped = s->dropped;
    st->written = s->written;
    st->pending = s->qlen;
    pthread_mutex_unlock(&s->qlock);
}

/* Flushes and closes one camera's output; frees its codec state. Returns 0 or its (first) error. */
static int camera_finish(FpAnnotateSink *s, AnnCamera *c)
{
    if (c->finished)
        return c->error;
    c->finished = true;
    if (s->mode == ANN_VIDEO && c->header_written) {
        if (!c->error)
            video_encode(s, c, NULL);
        int err = av_write_trailer(c->oc);
        if (err < 0 && !c->error)
            cam_av_fail(s, c, err, "cannot finish", c->path);
    }
    if (c->oc) {
        if (!(c->oc->oformat->flags & AVFMT_NOFILE) && c->oc->pb) {
            avio_flush(c->oc->pb);
            int werr = c->oc->pb->error;
            int err = avio_closep(&c->oc->pb);
            if (werr < 0 && !c->error)
                cam_av_fail(s, c, werr, "cannot write to", c->path);
            else if (err < 0 && !c->error)
                cam_av_fail(s, c, err, "cannot close", c->path);
        }
        avformat_free_context(c->oc);
        c->oc = NULL;
    }
    if (!c->error && s->mode == ANN_VIDEO && c->frames)
        fp_log_info("annotate", "camera %s: %" PRIu64 " frames in %s", c->name, c->frames, c->path);
    avcodec_free_context(&c->enc);
    av_packet_free(&c->pkt);
    av_frame_free(&c->yuv);
    av_frame_free(&c->rgb);
    sws_freeContext(c->to_rgb);
    sws_freeContext(c->to_yuv);
    sws_freeContext(c->to_rgb_yuv);
    c->to_rgb = c->to_yuv = c->to_rgb_yuv = NULL;
    return c->error;
}

int fp_annotate_sink_close(FpAnnotateSink *s)
{
    if (!s)
        return FP_EINVALID;
    pthread_mutex_lock(&s->lock);
    if (!s->closed) {
        s->closed = true;
        pthread_mutex_unlock(&s->lock);
        stop_thread(s); /* every queued frame is written first; no write may be in progress */
        pthread_mutex_lock(&s->lock);
        if (s->dropped)
            fp_log_warn("annotate", "%s: %" PRIu64 " of %" PRIu64 " frames left out: the queue of %d was full "
                        "(the encoder is slower than the pipeline)", s->target, s->dropped, s->dropped + s->queued,
                        s->depth);
        for (int i = 0; i < s->n_cams; i++) {
            pthread_mutex_lock(&s->cams[i]->lock);
            camera_finish(s, s->cams[i]);
            pthread_mutex_unlock(&s->cams[i]->lock);
        }
        s->close_rc = atomic_load(&s->first_error);
    }
    int rc = s->close_rc;
    pthread_mutex_unlock(&s->lock);
    if (rc < 0)
        fp_error(rc, "%s", s->first_msg);
    return rc;
}

void fp_annotate_sink_destroy(FpAnnotateSink **ps)
{
    if (!ps || !*ps)
        return;
    FpAnnotateSink *s = *ps;
    fp_annotate_sink_close(s);
    for (int i = 0; i < s->n_cams; i++) {
        AnnCamera *c = s->cams[i];
        pthread_mutex_destroy(&c->lock);
        free(c->name);
        free(c->tag);
        free(c->path);
        free(c);
    }
    free(s->cams);
    for (int i = 0; i < s->depth; i++)
        free(s->jobs[i].dets);
    free(s->jobs);
    pthread_mutex_destroy(&s->qlock);
    pthread_cond_destroy(&s->qcond);
    pthread_mutex_destroy(&s->lock);
    free(s->target);
    free(s->dir);
    free(s->stem);
    free(s->ext);
    free(s);
    *ps = NULL;
}

/* The video extension of `target` (".mp4", ...), or NULL. */
static const char *video_ext(const char *target)
{
    static const char *const exts[] = {".mp4", ".mkv", ".avi", ".mov"};
    const char *dot = strrchr(target, '.');
    const char *slash = strrchr(target, '/');
    if (!dot || (slash && dot < slash) || dot == target || (slash && dot == slash + 1))
        return NULL;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return dot;
    return NULL;
}

static int setup_png(FpAnnotateSink *s, const char *target)
{
    size_t n = strlen(target);
    while (n > 1 && target[n - 1] == '/')
        n--;
    if (!(s->dir = strndup(target, n)))
        return fp_error(-ENOMEM, "annotate %s: out of memory", target);
    struct stat st;
    if (stat(s->dir, &st) != 0) {
        if (errno != ENOENT || mkdir(s->dir, 0777) != 0) {
            int rc = -errno;
            return fp_error(rc, "annotate %s: cannot create the directory %s: %s", target, s->dir, fp_strerror(rc));
        }
    } else if (!S_ISDIR(st.st_mode)) {
        return fp_error(FP_ECONFIG, "annotate %s: %s exists and is not a directory", target, s->dir);
    }
    if (access(s->dir, W_OK | X_OK) != 0) {
        int rc = -errno;
        return fp_error(rc, "annotate %s: cannot write into the directory %s: %s", target, s->dir, fp_strerror(rc));
    }
    s->codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!s->codec)
        return fp_error(FP_EDEPENDENCY, "annotate %s: libavcodec has no PNG encoder", target);
    return 0;
}

static int setup_video(FpAnnotateSink *s, const char *target, const char *ext)
{
    size_t stem_len = (size_t)(ext - target);
    s->stem = strndup(target, stem_len);
    s->ext = strdup(ext);
    const char *slash = strrchr(target, '/');
    char *dir = slash ? (slash == target ? strdup("/") : strndup(target, (size_t)(slash - target))) : strdup(".");
    if (!s->stem || !s->ext || !dir) {
        free(dir);
        return fp_error(-ENOMEM, "annotate %s: out of memory", target);
    }
    struct stat st;
    int rc = 0;
    if (stat(dir, &st) != 0) {
        rc = -errno;
        rc = fp_error(rc, "annotate %s: the directory %s does not exist: %s", target, dir, fp_strerror(rc));
    } else if (!S_ISDIR(st.st_mode)) {
        rc = fp_error(-ENOTDIR, "annotate %s: %s is not a directory", target, dir);
    } else if (access(dir, W_OK | X_OK) != 0) {
        rc = -errno;
        rc = fp_error(rc, "annotate %s: cannot write into the directory %s: %s", target, dir, fp_strerror(rc));
    }
    free(dir);
    if (rc < 0)
        return rc;
    if (!av_guess_format(NULL, target, NULL))
        return fp_error(FP_EDEPENDENCY, "annotate %s: libavformat has no muxer for %s files", target, ext);
    const char *want = getenv("FP_ANNOTATE_ENCODER");
    if (want && want[0]) {
        s->codec = avcodec_find_encoder_by_name(want);
        if (!s->codec || s->codec->type != AVMEDIA_TYPE_VIDEO)
            return fp_error(FP_EDEPENDENCY, "annotate %s: libavcodec has no video encoder '%s' (FP_ANNOTATE_ENCODER)",
                            target, want);
    } else {
        s->codec = avcodec_find_encoder_by_name("libx264");
        if (!s->codec)
            s->codec = avcodec_find_encoder(AV_CODEC_ID_MPEG4);
        if (!s->codec)
            return fp_error(FP_EDEPENDENCY, "annotate %s: libavcodec has neither libx264 nor an MPEG-4 encoder",
                            target);
    }
    return 0;
}

int fp_annotate_sink_create(FpAnnotateSink **out, const char *target, double fps)
{
    if (!out || !target || !target[0])
        return fp_error(FP_EINVALID, "annotate: no target given");
    FpAnnotateSink *s = calloc(1, sizeof(*s));
    if (!s || !(s->target = strdup(target))) {
        free(s);
        return fp_error(-ENOMEM, "annotate %s: out of memory", target);
    }
    fp_libav_init(); /* libav's own messages go through fp_log, as the sources' do */
    s->fps = fps > 0 && isfinite(fps) && fps <= 1000 ? fps : ANN_DEFAULT_FPS;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_cond_init(&s->qcond, NULL);
    atomic_init(&s->first_error, 0);
    size_t n = strlen(target);
    struct stat st;
    const char *ext = video_ext(target);
    int rc;
    if (target[n - 1] == '/' || (stat(target, &st) == 0 && S_ISDIR(st.st_mode))) {
        s->mode = ANN_PNG;
        rc = setup_png(s, target);
    } else if (ext) {
        s->mode = ANN_VIDEO;
        rc = setup_video(s, target, ext);
    } else {
        rc = fp_error(FP_ECONFIG,
                      "annotate %s: not a video file (.mp4, .mkv, .avi, .mov) nor a directory (end it with '/')",
                      target);
    }
    if (rc < 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", fp_error_detail(rc));
        s->closed = true; /* nothing to finish */
        fp_annotate_sink_destroy(&s);
        return fp_error(rc, "%s", msg);
    }
    *out = s;
    return 0;
}

void fp_annotate_sink_set_draw(FpAnnotateSink *s, bool draw)
{
    if (s)
        s->no_draw = !draw;
}

#else /* !FP_HAVE_ANNOTATE */

int fp_annotate_sink_create(FpAnnotateSink **out, const char *target, double fps)
{
    (void)out;
    (void)fps;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without annotation support (%s): cannot write %s",
                    FP_ANNOTATE_WITHOUT, target ? target : "(null)");
}

int fp_annotate_sink_write(void *sink, const FpFrameResult *r)
{
    (void)sink;
    (void)r;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without annotation support (%s)", FP_ANNOTATE_WITHOUT);
}

int fp_annotate_sink_close(FpAnnotateSink *s)
{
    (void)s;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without annotation support (%s)", FP_ANNOTATE_WITHOUT);
}

void fp_annotate_sink_destroy(FpAnnotateSink **ps)
{
    if (ps)
        *ps = NULL;
}

void fp_annotate_sink_set_draw(FpAnnotateSink *s, bool draw)
{
    (void)s;
    (void)draw;
}

int fp_annotate_sink_set_queue(FpAnnotateSink *s, int depth)
{
    (void)s;
    (void)depth;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without annotation support (%s)", FP_ANNOTATE_WITHOUT);
}

void fp_annotate_sink_hold(FpAnnotateSink *s, bool hold)
{
    (void)s;
    (void)hold;
}

void fp_annotate_sink_get_stats(FpAnnotateSink *s, FpAnnotateStats *st)
{
    (void)s;
    if (st)
        memset(st, 0, sizeof(*st));
}

#endif /* FP_HAVE_ANNOTATE */
