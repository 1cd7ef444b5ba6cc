// SPDX-License-Identifier: MIT
// libav backend: demux with libavformat (files, RTSP, HTTP/HLS, V4L2) and decode with libavcodec straight into FpPool buffers.
#include "source_internal.h"
#include "lav_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"

#include <libavcodec/avcodec.h>
#include <libavdevice/version.h>
#include <libavformat/avformat.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Zero copy. For decoders with AV_CODEC_CAP_DR1 that output a format
 * framepipe keeps natively (YUV420P/YUVJ420P, NV12, GRAY8, RGB24, BGR24),
 * get_buffer2 takes one FpBuffer per picture from the pool and lays the
 * planes out in it with the alignment libavcodec asks for
 * (avcodec_align_dimensions2, 64-byte strides, padding after each plane).
 * The AVBufferRef wrapping it is the one small allocation per frame that
 * remains (libavcodec owns AVBufferRef lifetimes; an AVBufferPool cannot be
 * used because it would recycle a buffer the consumer still holds). When a
 * decoded frame is handed out, the FpFrame takes its own FpBuffer
 * reference and the AVFrame is unreferenced at once.
 *
 * Copies, counted in the status: decoders without DR1, other pixel formats
 * (converted once with swscale into pool memory: yuv422p/444p/10-bit ->
 * YUV420P, RGBA/PAL8 -> RGB24, gray16 -> GRAY8) and hardware surfaces
 * (downloaded into pool memory with av_hwframe_transfer_data).
 */

struct FpLav {
    FpSource *src;
    const char *url;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int vidx;
    AVRational tb;
    int64_t start_pts; /* stream start, in tb */
    AVPacket *pkt;
    AVFrame *frm;
    AVFrame *xfer;     /* hardware download / copy destination */
    AVBufferRef *hw_dev;
    enum AVPixelFormat hw_fmt;
    struct SwsContext *sws;
    int dr1;
    int draining;
    int image;
    int64_t forced_pts;
    int64_t dec_ns;    /* time inside libavcodec since the last frame came out (decode_hist only) */
    int64_t open_deadline;
    int opening;
    uint64_t frames;     /* this session */
    uint64_t errors_logged;
    int64_t synth_pts;   /* when the stream has no timestamps */
    _Atomic int pool_error; /* set by get_buffer2 (any decoder thread) when the pool refuses */
    _Atomic unsigned log_errors; /* error lines libavcodec logged for this decoder (any thread) */
    unsigned log_errors_seen;
};

static int lav_get_buffer2(AVCodecContext *avctx, AVFrame *frame, int flags);
static enum AVPixelFormat lav_get_format(AVCodecContext *avctx, const enum AVPixelFormat *fmts);

/* ---- global: log routing ---- */

static void lav_log(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING)
        return;
    if (level <= AV_LOG_ERROR && avcl && *(const AVClass **)avcl == avcodec_get_class()) {
        /* A decoder of ours (recognised by its callbacks, also in frame-thread copies) saw damage. */
        AVCodecContext *avctx = avcl;
        if (avctx->get_buffer2 == lav_get_buffer2 || avctx->get_format == lav_get_format) {
            FpLav *c = avctx->opaque;
            atomic_fetch_add(&c->log_errors, 1);
        }
    }
    static _Thread_local int print_prefix = 1;
    char line[512];
    av_log_format_line2(avcl, level, fmt, vl, line, sizeof(line), &print_prefix);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (n)
        fp_log(FP_LOG_DEBUG, "ffmpeg", "%s", line); /* sources log their own, named lines */
}

static pthread_once_t lav_once = PTHREAD_ONCE_INIT;

static void lav_init_once(void)
{
    avformat_network_init();
    av_log_set_callback(lav_log);
}

void fp_libav_init(void)
{
    pthread_once(&lav_once, lav_init_once);
}

/*
 * libavdevice is loaded only when a source needs a device demuxer (a V4L2 camera, an explicit
 * `format` such as lavfi or x11grab): linked in, it and the libraries it pulls (libavfilter and
 * ~80 more) cost every run ~80 ms of dynamic loading before main (framepipe --version: 0.19 s
 * with it, 0.11 s without, on the 2-core bench machine), which is most of a short job's start-up.
 */
static pthread_once_t dev_once = PTHREAD_ONCE_INIT;
static char dev_error[256];

static void lav_devices_once(void)
{
    char so[32];
    snprintf(so, sizeof(so), "libavdevice.so.%d", LIBAVDEVICE_VERSION_MAJOR);
    void *h = dlopen(so, RTLD_NOW | RTLD_LOCAL);
    void (*reg)(void) = NULL;
    if (h)
        *(void **)&reg = dlsym(h, "avdevice_register_all");
    if (!reg) {
        const char *e = dlerror();
        snprintf(dev_error, sizeof(dev_error), "%s: %s", so, e ? e : "no avdevice_register_all");
        return; /* the handle stays open: nothing to undo */
    }
    reg();
}

/* 0 once libavdevice's demuxers are registered; FP_EDEPENDENCY naming the library otherwise. */
static int lav_devices(const char *source)
{
    pthread_once(&dev_once, lav_devices_once);
    if (dev_error[0])
        return fp_error(FP_EDEPENDENCY, "source %s: device inputs need libavdevice, which did not load (%s)", source,
                        dev_error);
    return 0;
}

/* ---- errors ---- */

static int lav_err(FpLav *c, int averr, const char *what)
{
    char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
    const char *name = fp_source_name(c->src);
    if (averr == AVERROR_EXIT) {
        if (fp__source_stopping(c->src))
            return FP_EFLUSHING;
        if (c->opening)
            return fp_error(FP_ETIMEOUT, "source %s: %s %s: no answer within %.1f s", name, what,
                            c->url, fp__source_cfg(c->src)->open_timeout_ns / 1e9);
        return fp_error(FP_ETIMEOUT, "source %s: stalled: no frame for %.1f s", name,
                        fp__source_cfg(c->src)->stall_timeout_ns / 1e9);
    }
    av_strerror(averr, buf, sizeof(buf));
    if (averr == AVERROR(ETIMEDOUT) && !c->opening)
        return fp_error(FP_ETIMEOUT, "source %s: stalled: no data from %s for %.1f s (%s)", name,
                        c->url, fp__source_cfg(c->src)->stall_timeout_ns / 1e9, buf);
    int code;
    if (averr == AVERROR_INVALIDDATA)
        code = FP_ECORRUPT;
    else if (averr == AVERROR_EOF)
        code = FP_EEND_OF_STREAM;
    else if (averr == AVERROR_PROTOCOL_NOT_FOUND || averr == AVERROR_DEMUXER_NOT_FOUND ||
             averr == AVERROR_DECODER_NOT_FOUND)
        code = FP_EUNSUPPORTED;
    else if (averr == AVERROR_HTTP_NOT_FOUND)
        code = FP_ENOT_FOUND;
    else if (averr < 0 && -averr < 4096)
        code = averr; /* AVERROR(errno) == -errno */
    else
        code = FP_EIO;
    return fp_error(code, "source %s: %s %s: %s", name, what, c->url, buf);
}

/* libavformat polls this during blocking I/O: stop, open timeout, stall. */
static int lav_interrupt(void *opaque)
{
    FpLav *c = opaque;
    if (fp__source_stopping(c->src))
        return 1;
    int64_t now = fp_clock_ns();
    if (c->opening)
        return now > c->open_deadline;
    if (fp__source_is_live(c->src))
        return now - fp__source_last_activity(c->src) > fp__source_cfg(c->src)->stall_timeout_ns;
    return 0;
}

/* ---- formats and layout ---- */

static FpPixelFormat map_format(int f)
{
    switch (f) {
    case AV_PIX_FMT_YUV420P:
    case AV_PIX_FMT_YUVJ420P: return FP_PIX_YUV420P;
    case AV_PIX_FMT_NV12: return FP_PIX_NV12;
    case AV_PIX_FMT_GRAY8: return FP_PIX_GRAY8;
    case AV_PIX_FMT_RGB24: return FP_PIX_RGB24;
    case AV_PIX_FMT_BGR24: return FP_PIX_BGR24;
    default: return FP_PIX_NONE;
    }
}

/* The native format a non-native one is converted to. */
static enum AVPixelFormat convert_target(int f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    if (d && (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL)))
        return AV_PIX_FMT_RGB24;
    if (d && d->nb_components <= 2)
        return AV_PIX_FMT_GRAY8;
    return AV_PIX_FMT_YUV420P;
}

/*
 * Plane layout inside one pool buffer: strides that are multiples of 64 and
 * of libavcodec's per-plane alignment, planes of `h` rows, each followed by
 * padding (FFmpeg reads up to 16 + STRIDE_ALIGN - 1 bytes past a plane).
 */
static int plane_layout(enum AVPixelFormat fmt, int w, int h, const int *align, int linesize[4],
                        size_t offset[4], size_t *total)
{
    int unaligned;
    do {
        int rc = av_image_fill_linesizes(linesize, fmt, w);
        if (rc < 0)
            return rc;
        unaligned = 0;
        for (int i = 0; i < 4; i++) {
            int a = align && align[i] > 64 ? align[i] : 64;
            unaligned |= linesize[i] % a;
        }
        w += w & ~(w - 1);
    } while (unaligned);
    ptrdiff_t ls[4] = {linesize[0], linesize[1], linesize[2], linesize[3]};
    size_t sizes[4];
    int rc = av_image_fill_plane_sizes(sizes, fmt, h, ls);
    if (rc < 0)
        return rc;
    size_t off = 0;
    for (int i = 0; i < 4; i++) {
        offset[i] = off;
        if (sizes[i])
            off += (sizes[i] + 16 + 64 - 1 + 63) & ~(size_t)63;
    }
    *total = off;
    return 0;
}

static void lav_buffer_free(void *opaque, uint8_t *data)
{
    (void)data;
    FpBuffer *b = opaque;
    fp_buffer_unref(&b);
}

/* Fills an AVFrame's planes with pool memory; returns the FpBuffer in *fb. */
static int pool_frame_planes(AVFrame *frame, enum AVPixelFormat fmt, int w, int h, const int *align,
                             FpLavAcquire acquire, void *opaque, FpBuffer **fb)
{
    int linesize[4];
    size_t offset[4], total;
    if (plane_layout(fmt, w, h, align, linesize, offset, &total) < 0)
        return FP_EINVALID;
    int rc = acquire(opaque, total, fb);
    if (rc < 0)
        return rc;
    uint8_t *base = fp_buffer_data(*fb);
    memset(frame->data, 0, sizeof(frame->data));
    memset(frame->linesize, 0, sizeof(frame->linesize));
    for (int i = 0; i < 4 && linesize[i]; i++) {
        frame->data[i] = base + offset[i];
        frame->linesize[i] = linesize[i];
    }
    return 0;
}

int fp__lav_pool_get_buffer(AVCodecContext *avctx, AVFrame *frame, FpLavAcquire acquire, void *opaque)
{
    int w = frame->width, h = frame->height;
    int align[AV_NUM_DATA_POINTERS];
    avcodec_align_dimensions2(avctx, &w, &h, align);
    FpBuffer *fb = NULL;
    int rc = pool_frame_planes(frame, frame->format, w, h, align, acquire, opaque, &fb);
    if (rc < 0)
        return rc;
    frame->buf[0] = av_buffer_create(fp_buffer_data(fb), fp_buffer_size(fb), lav_buffer_free, fb, 0);
    if (!frame->buf[0]) {
        fp_buffer_unref(&fb);
        return -ENOMEM;
    }
    frame->extended_data = frame->data;
    return 0;
}

FpPixelFormat fp__lav_native_format(int av_format)
{
    return map_format(av_format);
}

FpBuffer *fp__lav_pool_buffer_of(const AVFrame *f)
{
    if (map_format(f->format) == FP_PIX_NONE || f->hw_frames_ctx || !f->buf[0])
        return NULL;
    FpBuffer *fb = av_buffer_get_opaque(f->buf[0]);
    return f->data[0] >= fp_buffer_data(fb) && f->data[0] < fp_buffer_data(fb) + fp_buffer_size(fb) ? fb : NULL;
}

static int lav_acquire(void *opaque, size_t size, FpBuffer **out)
{
    return fp__source_acquire(opaque, size, out);
}

static int lav_get_buffer2(AVCodecContext *avctx, AVFrame *frame, int flags)
{
    FpLav *c = avctx->opaque;
    if (map_format(frame->format) == FP_PIX_NONE || avctx->hw_frames_ctx)
        return avcodec_default_get_buffer2(avctx, frame, flags);
    int rc = fp__lav_pool_get_buffer(avctx, frame, lav_acquire, c->src);
    if (rc < 0) {
        if (rc != FP_EFLUSHING)
            atomic_store(&c->pool_error, rc);
        return rc == FP_EFLUSHING ? AVERROR_EXIT : AVERROR(ENOMEM);
    }
    return 0;
}

/* ---- hardware ---- */

static enum AVPixelFormat lav_get_format(AVCodecContext *avctx, const enum AVPixelFormat *fmts)
{
    FpLav *c = avctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == c->hw_fmt)
            return *p;
    fp_log_warn("ingest", "%s: the hardware decoder cannot take this stream; decoding in software",
                fp_source_name(c->src));
    return avcodec_default_get_format(avctx, fmts);
}

static int try_hw(FpLav *c, const AVCodec *codec, enum AVHWDeviceType type)
{
    enum AVPixelFormat hw_fmt = AV_PIX_FMT_NONE;
    for (int i = 0;; i++) {
        const AVCodecHWConfig *hc = avcodec_get_hw_config(codec, i);
        if (!hc)
            break;
        if ((hc->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && hc->device_type == type) {
            hw_fmt = hc->pix_fmt;
            break;
        }
    }
    const char *tname = av_hwdevice_get_type_name(type);
    if (hw_fmt == AV_PIX_FMT_NONE) {
        fp_log_info("ingest", "%s: decoder %s has no %s support", fp_source_name(c->src),
                    codec->name, tname);
        return -1;
    }
    int rc = av_hwdevice_ctx_create(&c->hw_dev, type, fp__source_cfg(c->src)->hw_device, NULL, 0);
    if (rc < 0) {
        char buf[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(rc, buf, sizeof(buf));
        fp_log_info("ingest", "%s: no %s device (%s)", fp_source_name(c->src), tname, buf);
        return -1;
    }
    c->hw_fmt = hw_fmt;
    return 0;
}

static void setup_hw(FpLav *c, const AVCodec *codec)
{
    FpHwDecode want = fp__source_cfg(c->src)->hw;
    if (want == FP_HW_NONE || c->image)
        return;
    int ok = -1;
    if (want == FP_HW_CUDA || want == FP_HW_AUTO)
        ok = try_hw(c, codec, AV_HWDEVICE_TYPE_CUDA);
    if (ok < 0 && (want == FP_HW_VAAPI || want == FP_HW_AUTO))
        ok = try_hw(c, codec, AV_HWDEVICE_TYPE_VAAPI);
    if (ok < 0) {
        fp_log_warn("ingest", "%s: hardware decoding (%s) is not available here; using software %s",
                    fp_source_name(c->src),
                    want == FP_HW_CUDA ? "cuda" : want == FP_HW_VAAPI ? "vaapi" : "auto",
                    codec->name);
        return;
    }
    c->dec->hw_device_ctx = av_buffer_ref(c->hw_dev);
    c->dec->get_format = lav_get_format;
    fp_log_info("ingest", "%s: hardware decoding with %s", fp_source_name(c->src),
                av_hwdevice_get_type_name(((AVHWDeviceContext *)c->hw_dev->data)->type));
}

/* ---- open / close ---- */

/*
 * Frames of a file's video stream as its container says: nb_frames, else
 * duration x average frame rate; 0 when neither is known or the duration is
 * only libavformat's guess from the bit rate.
 */
static int64_t frames_in_file(const AVFormatContext *fmt, const AVStream *st)
{
    if (st->nb_frames > 0)
        return st->nb_frames;
    if (fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE)
        return 0;
    AVRational rate = st->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0)
        return 0;
    double secs = 0;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
        secs = (double)st->duration * av_q2d(st->time_base);
    else if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        secs = (double)fmt->duration / AV_TIME_BASE;
    return secs > 0 ? (int64_t)(secs * av_q2d(rate) + 0.5) : 0;
}

void fp__lav_close(FpLav **pc)
{
    FpLav *c = *pc;
    if (!c)
        return;
    *pc = NULL;
    avcodec_free_context(&c->dec);
    avformat_close_input(&c->fmt);
    av_packet_free(&c->pkt);
    av_frame_free(&c->frm);
    av_frame_free(&c->xfer);
    av_buffer_unref(&c->hw_dev);
    sws_freeContext(c->sws);
    free(c);
}

/*
 * The libavformat protocols a source may use (AVOption protocol_whitelist):
 * those the source's config names, else a set by the URL's own protocol, so
 * that a file name cannot reach concat:, subfile:, data: and the like.
 */
static const struct {
    const char *protocol; /* what avio_find_protocol_name says the URL uses */
    const char *allowed;  /* it and what it opens underneath */
} lav_protocols[] = {
    {"file", "file"},
    {"rtsp", "rtsp,rtsps,rtp,srtp,udp,tcp,tls"},
    {"rtsps", "rtsp,rtsps,rtp,srtp,udp,tcp,tls"},
    {"http", "http,https,tcp,tls,crypto"},
    {"https", "http,https,tcp,tls,crypto"},
    {"udp", "udp,rtp"},
    {"rtp", "rtp,srtp,udp"},
    {"tcp", "tcp"},
    {"srt", "srt"},
};

/* 1 when `name` is an item of the comma-separated `list`. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n))
            return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

/* The whitelist for `url` into *allowed: 0, or FP_EUNSUPPORTED naming the protocol that is not allowed. */
static int check_protocol(FpLav *c, const char *url, const char **allowed)
{
    /* RTSP is a demuxer, not a protocol: for it (and any scheme avio does not know) the scheme names it */
    char scheme[16] = "";
    const char *colon = strstr(url, "://");
    if (colon && colon > url && (size_t)(colon - url) < sizeof(scheme))
        snprintf(scheme, sizeof(scheme), "%.*s", (int)(colon - url), url);
    const char *proto = avio_find_protocol_name(url);
    if (!proto && scheme[0])
        proto = scheme;
    const char *configured = fp__source_cfg(c->src)->protocols;
    *allowed = configured;
    for (size_t i = 0; !configured && proto && i < sizeof(lav_protocols) / sizeof(lav_protocols[0]); i++)
        if (!strcmp(proto, lav_protocols[i].protocol))
            *allowed = lav_protocols[i].allowed;
    if (!proto)
        return fp_error(FP_EUNSUPPORTED, "source %s: %s names no protocol libavformat has", fp_source_name(c->src),
                        url);
    if (!*allowed || !in_list(*allowed, proto))
        return fp_error(FP_EUNSUPPORTED,
                        "source %s: %s uses the '%s' protocol, which is not allowed here (allowed: %s; "
                        "list it in the source's protocols to use it)",
                        fp_source_name(c->src), url, proto,
                        configured ? configured : "file, rtsp, rtsps, http, https, udp, rtp, tcp, srt");
    return 0;
}

/* The largest picture decoded, in pixels: 8K and a margin, so a damaged header cannot claim gigabytes. */
#define LAV_MAX_PIXELS 40000000

int fp__lav_open(FpSource *src, const char *url, const char *format, int image, FpLav **out)
{
    const FpSourceConfig *cfg = fp__source_cfg(src);
    const char *name = fp_source_name(src);
    FpLav *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->src = src;
    c->url = url;
    c->image = image;
    c->forced_pts = -1;
    c->pkt = av_packet_alloc();
    c->frm = av_frame_alloc();
    c->xfer = av_frame_alloc();
    c->fmt = avformat_alloc_context();
    int rc = -ENOMEM;
    if (!c->pkt || !c->frm || !c->xfer || !c->fmt)
        goto fail;
    c->fmt->interrupt_callback.callback = lav_interrupt;
    c->fmt->interrupt_callback.opaque = c;
    c->opening = 1;
    c->open_deadline = fp_clock_ns() + cfg->open_timeout_ns;

    AVDictionary *opts = NULL;
    const AVInputFormat *ifmt = NULL;
    /* a V4L2 URL, or a format libavformat alone does not have (lavfi, x11grab, ...): libavdevice's */
    bool device = !strncmp(url, "v4l2://", 7) || !strncmp(url, "/dev/video", 10) ||
                  (format && !av_find_input_format(format));
    if (device && (rc = lav_devices(name)) < 0)
        goto fail;
    if (format) {
        ifmt = av_find_input_format(format);
        if (!ifmt) {
            rc = fp_error(FP_EDEPENDENCY, "source %s: libavformat has no '%s' demuxer", name, format);
            goto fail;
        }
    }
    if (!strncmp(url, "rtsp", 4)) {
        av_dict_set(&opts, "rtsp_transport", cfg->rtsp_transport == FP_RTSP_UDP ? "udp" : "tcp", 0);
        av_dict_set_int(&opts, "timeout", cfg->stall_timeout_ns / 1000, 0);
    }
    if (!strncmp(url, "v4l2://", 7)) {
        url += 7;
        ifmt = av_find_input_format("video4linux2");
    } else if (!strncmp(url, "/dev/video", 10)) {
        ifmt = av_find_input_format("video4linux2");
    }
    if (!ifmt || !(ifmt->flags & AVFMT_NOFILE)) { /* a device demuxer (v4l2) opens no protocol */
        const char *allowed = NULL;
        if ((rc = check_protocol(c, url, &allowed)) < 0) {
            av_dict_free(&opts);
            goto fail;
        }
        av_dict_set(&opts, "protocol_whitelist", allowed, 0);
    }
    if (image)
        av_dict_set(&opts, "pattern_type", "none", 0);
    if (fp__source_is_live(src)) {
        av_dict_set(&opts, "fflags", "nobuffer", 0);
        av_dict_set_int(&opts, "analyzeduration", 1000000, 0);
    }
    int err = avformat_open_input(&c->fmt, url, ifmt, &opts);
    av_dict_free(&opts);
    if (err < 0) {
        /* avformat_open_input frees the context on failure */
        rc = lav_err(c, err, "cannot open");
        goto fail;
    }
    err = avformat_find_stream_info(c->fmt, NULL);
    if (err < 0) {
        rc = lav_err(c, err, "cannot read stream info of");
        goto fail;
    }
    const AVCodec *codec = NULL;
    c->vidx = av_find_best_stream(c->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (c->vidx < 0) {
        if (c->vidx == AVERROR_DECODER_NOT_FOUND) {
            int vi = av_find_best_stream(c->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
            rc = fp_error(FP_EUNSUPPORTED, "source %s: %s: no decoder for video codec '%s'", name,
                          url, vi >= 0 ? avcodec_get_name(c->fmt->streams[vi]->codecpar->codec_id) : "?");
        } else {
            rc = fp_error(FP_EUNSUPPORTED, "source %s: %s has no video stream (%u stream(s), format %s)",
                          name, url, c->fmt->nb_streams, c->fmt->iformat->name);
        }
        goto fail;
    }
    for (unsigned i = 0; i < c->fmt->nb_streams; i++)
        if ((int)i != c->vidx)
            c->fmt->streams[i]->discard = AVDISCARD_ALL;
    AVStream *st = c->fmt->streams[c->vidx];
    if ((int64_t)st->codecpar->width * st->codecpar->height > LAV_MAX_PIXELS) {
        rc = fp_error(FP_EUNSUPPORTED, "source %s: %s is %dx%d (%.0f megapixels), more than the %d-megapixel limit",
                      name, url, st->codecpar->width, st->codecpar->height,
                      (double)st->codecpar->width * st->codecpar->height / 1e6, LAV_MAX_PIXELS / 1000000);
        goto fail;
    }
    c->tb = st->time_base;
    c->start_pts = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
    c->dec = avcodec_alloc_context3(codec);
    if (!c->dec)
        goto fail;
    err = avcodec_parameters_to_context(c->dec, st->codecpar);
    if (err < 0) {
        rc = lav_err(c, err, "bad codec parameters in");
        goto fail;
    }
    c->dec->opaque = c;
    c->dec->pkt_timebase = st->time_base;
    c->dec->thread_count = cfg->decoder_threads > 0 ? cfg->decoder_threads : 0;
    if (cfg->skip_loop_filter) /* docs/ingest.md "Decode options" */
        c->dec->skip_loop_filter = AVDISCARD_ALL;
    if (cfg->skip_frames != FP_SKIP_NONE)
        c->dec->skip_frame = cfg->skip_frames == FP_SKIP_NONKEY ? AVDISCARD_NONKEY : AVDISCARD_NONREF;
    c->dec->max_pixels = LAV_MAX_PIXELS; /* a damaged header (or a frame after a size change) cannot claim more */
    c->dr1 = (codec->capabilities & AV_CODEC_CAP_DR1) != 0;
    setup_hw(c, codec);
    if (c->dr1) {
        c->dec->get_buffer2 = lav_get_buffer2;
#if FF_API_THREAD_SAFE_CALLBACKS
        /* libavcodec 59 still asks for this flag with frame threads; lav_get_buffer2 is thread-safe. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        c->dec->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
    }
    err = avcodec_open2(c->dec, codec, NULL);
    if (err < 0) {
        rc = lav_err(c, err, "cannot open the decoder for");
        goto fail;
    }
    fp__source_set_decoder(src, codec->name, c->hw_dev != NULL);
    if (!image && !fp__source_is_live(src))
        fp__source_set_frames_expected(src, frames_in_file(c->fmt, st));
    c->opening = 0;
    fp__source_touch(src);
    if (!image)
        fp_log_info("ingest", "%s: opened %s (%s, %s %dx%d%s)", name, url, c->fmt->iformat->name,
                    codec->name, c->dec->width, c->dec->height, c->hw_dev ? ", hardware" : "");
    if (!fp__source_is_live(src) && cfg->start_s > 0 && !image) {
        int64_t ts = (int64_t)(cfg->start_s * AV_TIME_BASE) +
                     (c->fmt->start_time != AV_NOPTS_VALUE ? c->fmt->start_time : 0);
        err = avformat_seek_file(c->fmt, -1, INT64_MIN, ts, ts, 0);
        if (err < 0)
            fp_log_warn("ingest", "%s: cannot seek to %.3f s; decoding from the start", name,
                        cfg->start_s);
    }
    *out = c;
    return 0;
fail:
    if (rc == -ENOMEM)
        rc = fp_error(-ENOMEM, "source %s: out of memory opening %s", name, url);
    fp__lav_close(&c);
    return rc;
}

uint64_t fp__lav_frames(const FpLav *c)
{
    return c->frames;
}

uint64_t fp__lav_errors(const FpLav *c)
{
    return c->errors_logged;
}

void fp__lav_set_pts(FpLav *c, int64_t pts_ns)
{
    c->forced_pts = pts_ns;
}

int fp__lav_rewind(FpLav *c)
{
    const FpSourceConfig *cfg = fp__source_cfg(c->src);
    int64_t ts = (int64_t)(cfg->start_s * AV_TIME_BASE) +
                 (c->fmt->start_time != AV_NOPTS_VALUE ? c->fmt->start_time : 0);
    int err = avformat_seek_file(c->fmt, -1, INT64_MIN, ts, ts, 0);
    if (err < 0)
        err = av_seek_frame(c->fmt, c->vidx, c->start_pts, AVSEEK_FLAG_BACKWARD);
    if (err < 0)
        return lav_err(c, err, "cannot seek back to the start of");
    avcodec_flush_buffers(c->dec);
    c->draining = 0;
    c->synth_pts = 0;
    return 0;
}

/* ---- decode ---- */

static void note_decode_error(FpLav *c, const char *what, int averr)
{
    if (fp__source_stopping(c->src))
        return; /* a decode cut short by close() is not damage */
    fp__source_count_decode_error(c->src);
    c->errors_logged++;
    if (c->errors_logged <= 5 || c->errors_logged % 100 == 0) {
        char buf[AV_ERROR_MAX_STRING_SIZE] = "damaged picture";
        if (averr)
            av_strerror(averr, buf, sizeof(buf));
        char msg[256];
        snprintf(msg, sizeof(msg), "source %s: corrupt data in %s (%s); error %llu, continuing",
                 fp_source_name(c->src), what, buf, (unsigned long long)c->errors_logged);
        fp_log_warn("ingest", "%s", msg);
        fp__source_note_error(c->src, FP_ECORRUPT, msg);
    }
}

/* Copies or converts a frame the decoder did not put in pool memory. */
static int copy_to_pool(FpLav *c, AVFrame *in, FpFrame *out)
{
    AVFrame *src_frame = in;
    if (in->hw_frames_ctx) {
        /* Download into pool memory directly when the surface's software format is native. */
        AVHWFramesContext *hfc = (AVHWFramesContext *)in->hw_frames_ctx->data;
        av_frame_unref(c->xfer);
        if (map_format(hfc->sw_format) != FP_PIX_NONE) {
            FpBuffer *fb = NULL;
            int rc = pool_frame_planes(c->xfer, hfc->sw_format, in->width, in->height, NULL, lav_acquire, c->src, &fb);
            if (rc < 0)
                return rc;
            c->xfer->format = hfc->sw_format;
            c->xfer->width = in->width;
            c->xfer->height = in->height;
            /* buf[0] set: av_hwframe_transfer_data writes into these planes instead of allocating */
            FpBuffer *extra = fp_buffer_ref(fb);
            c->xfer->buf[0] = av_buffer_create(fp_buffer_data(fb), fp_buffer_size(fb),
                                               lav_buffer_free, extra, 0);
            if (!c->xfer->buf[0]) {
                fp_buffer_unref(&extra);
                fp_buffer_unref(&fb);
                return fp_error(-ENOMEM, "source %s: out of memory", fp_source_name(c->src));
            }
            int err = av_hwframe_transfer_data(c->xfer, in, 0);
            if (err < 0 || c->xfer->data[0] < fp_buffer_data(fb) ||
                c->xfer->data[0] >= fp_buffer_data(fb) + fp_buffer_size(fb)) {
                av_frame_unref(c->xfer);
                fp_buffer_unref(&fb);
                return lav_err(c, err < 0 ? err : AVERROR_BUG, "cannot download a hardware frame of");
            }
            for (int i = 0; i < 4; i++) {
                out->data[i] = c->xfer->data[i];
                out->linesize[i] = c->xfer->linesize[i];
            }
            av_frame_unref(c->xfer); /* drops the extra reference; the FpFrame keeps fb */
            out->buf[0] = fb;
            out->format = map_format(hfc->sw_format);
            out->width = in->width;
            out->height = in->height;
            fp__source_count_copy(c->src);
            return 0;
        }
        int err = av_hwframe_transfer_data(c->xfer, in, 0);
        if (err < 0)
            return lav_err(c, err, "cannot download a hardware frame of");
        src_frame = c->xfer;
    }
    enum AVPixelFormat target = map_format(src_frame->format) != FP_PIX_NONE
                                    ? (enum AVPixelFormat)src_frame->format
                                    : convert_target(src_frame->format);
    AVFrame dst = {0};
    FpBuffer *fb = NULL;
    int rc = pool_frame_planes(&dst, target, src_frame->width, src_frame->height, NULL, lav_acquire, c->src, &fb);
    if (rc < 0)
        return rc;
    if (target == src_frame->format) {
        av_image_copy(dst.data, dst.linesize, (const uint8_t **)src_frame->data, src_frame->linesize,
                      target, src_frame->width, src_frame->height);
    } else {
        c->sws = sws_getCachedContext(c->sws, src_frame->width, src_frame->height, src_frame->format,
                                      src_frame->width, src_frame->height, target, SWS_BILINEAR,
                                      NULL, NULL, NULL);
        if (!c->sws) {
            fp_buffer_unref(&fb);
            return fp_error(FP_EUNSUPPORTED, "source %s: cannot convert %s to %s",
                            fp_source_name(c->src), av_get_pix_fmt_name(src_frame->format),
                            av_get_pix_fmt_name(target));
        }
        sws_scale(c->sws, (const uint8_t *const *)src_frame->data, src_frame->linesize, 0,
                  src_frame->height, dst.data, dst.linesize);
    }
    for (int i = 0; i < 4; i++) {
        out->data[i] = dst.data[i];
        out->linesize[i] = dst.linesize[i];
    }
    out->buf[0] = fb;
    out->format = map_format(target);
    out->width = src_frame->width;
    out->height = src_frame->height;
    av_frame_unref(c->xfer);
    fp__source_count_copy(c->src);
    return 0;
}

static int deliver(FpLav *c, AVFrame *f)
{
    if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT))
        note_decode_error(c, "a picture", 0);
    FpFrame *out = fp__source_frame_get(c->src);
    if (!out) {
        av_frame_unref(f);
        return fp_error(-ENOMEM, "source %s: out of memory for a frame", fp_source_name(c->src));
    }
    int rc = 0;
    FpBuffer *fb = c->dr1 && !f->hw_frames_ctx && map_format(f->format) != FP_PIX_NONE && f->buf[0]
                       ? av_buffer_get_opaque(f->buf[0])
                       : NULL;
    if (fb && f->data[0] >= fp_buffer_data(fb) &&
        f->data[0] < fp_buffer_data(fb) + fp_buffer_size(fb)) {
        /* Zero copy: the decoder wrote into this pool buffer. */
        for (int i = 0; i < 4; i++) {
            out->data[i] = f->data[i];
            out->linesize[i] = f->linesize[i];
        }
        out->buf[0] = fp_buffer_ref(fb);
        out->format = map_format(f->format);
        out->width = f->width;
        out->height = f->height;
    } else {
        rc = copy_to_pool(c, f, out);
    }
    int64_t ts = f->best_effort_timestamp;
    av_frame_unref(f);
    if (rc < 0) {
        fp_frame_unref(&out);
        return rc;
    }
    if (c->forced_pts >= 0) {
        out->pts_ns = c->forced_pts;
    } else if (ts != AV_NOPTS_VALUE) {
        out->pts_ns = av_rescale_q(ts - c->start_pts, c->tb, (AVRational){1, 1000000000});
        c->synth_pts = out->pts_ns;
    } else {
        /* no timestamps (raw H.264 over some transports): use the frame rate */
        AVRational fr = c->fmt->streams[c->vidx]->avg_frame_rate;
        int64_t step = fr.num > 0 && fr.den > 0 ? av_rescale(1000000000, fr.den, fr.num) : 40000000;
        out->pts_ns = c->frames ? c->synth_pts + step : 0;
        c->synth_pts = out->pts_ns;
    }
    c->frames++;
    return fp__source_emit(c->src, out);
}

/* The pool refused a frame (too large, pool error): fatal for this session; the status has the text. */
static int pool_failure(FpLav *c)
{
    FpSourceStatus st;
    fp_source_get_status(c->src, &st);
    return fp_error(atomic_load(&c->pool_error), "%s", st.last_error);
}

static void check_logged_errors(FpLav *c)
{
    unsigned n = atomic_load(&c->log_errors);
    if (n != c->log_errors_seen) {
        c->log_errors_seen = n;
        note_decode_error(c, "the bitstream", AVERROR_INVALIDDATA);
    }
}

static int receive_all(FpLav *c)
{
    for (;;) {
        check_logged_errors(c);
        FpHistogram *hist = fp__source_cfg(c->src)->decode_hist;
        int64_t t0 = hist ? fp_clock_ns() : 0;
        int err = avcodec_receive_frame(c->dec, c->frm);
        if (hist) {
            c->dec_ns += fp_clock_ns() - t0;
            if (err >= 0) {
                fp_histogram_record(hist, (uint64_t)c->dec_ns);
                c->dec_ns = 0;
            }
        }
        if (err == AVERROR(EAGAIN))
            return 0;
        if (err == AVERROR_EOF)
            return FP_EEND_OF_STREAM;
        if (err == AVERROR_EXIT && fp__source_stopping(c->src))
            return FP_EFLUSHING;
        if (atomic_load(&c->pool_error))
            return pool_failure(c);
        if (err < 0) {
            note_decode_error(c, "a frame", err);
            continue;
        }
        int rc = deliver(c, c->frm);
        if (rc < 0)
            return rc;
    }
}

static void report_short_file(FpLav *c)
{
    const FpSourceConfig *cfg = fp__source_cfg(c->src);
    AVStream *st = c->fmt->streams[c->vidx];
    if (c->image || fp__source_is_live(c->src) || cfg->start_s > 0 || cfg->stop_s > 0)
        return;
    if (st->nb_frames > 0 && (int64_t)c->frames < st->nb_frames) {
        char msg[256];
        snprintf(msg, sizeof(msg), "source %s: %s ended after %llu of %lld frames (truncated file?)",
                 fp_source_name(c->src), c->url, (unsigned long long)c->frames,
                 (long long)st->nb_frames);
        fp_log_warn("ingest", "%s", msg);
        fp__source_note_error(c->src, FP_ETRUNCATED, msg);
    }
}

int fp__lav_pump(FpLav *c)
{
    if (!c->draining) {
        int err = av_read_frame(c->fmt, c->pkt);
        if (err < 0) {
            if (err == AVERROR_EXIT || fp__source_is_live(c->src))
                return lav_err(c, err == AVERROR_EOF ? AVERROR_EOF : err, "reading");
            if (err != AVERROR_EOF) {
                /* A file that breaks off: decode what we have, then end. */
                char buf[AV_ERROR_MAX_STRING_SIZE];
                av_strerror(err, buf, sizeof(buf));
                char msg[256];
                snprintf(msg, sizeof(msg), "source %s: read error in %s after %llu frames (%s); "
                         "ending the file", fp_source_name(c->src), c->url,
                         (unsigned long long)c->frames, buf);
                fp_log_warn("ingest", "%s", msg);
                fp__source_note_error(c->src, FP_ETRUNCATED, msg);
            }
            c->draining = 1;
            avcodec_send_packet(c->dec, NULL);
        } else {
            if (c->pkt->stream_index != c->vidx) {
                av_packet_unref(c->pkt);
                return 0;
            }
            FpHistogram *hist = fp__source_cfg(c->src)->decode_hist;
            int64_t t0 = hist ? fp_clock_ns() : 0;
            err = avcodec_send_packet(c->dec, c->pkt);
            if (hist)
                c->dec_ns += fp_clock_ns() - t0;
            av_packet_unref(c->pkt);
            if (err == AVERROR_EXIT && fp__source_stopping(c->src))
                return FP_EFLUSHING;
            if (atomic_load(&c->pool_error))
                return pool_failure(c);
            if (err < 0 && err != AVERROR(EAGAIN))
                note_decode_error(c, "a packet", err);
        }
    }
    int rc = receive_all(c);
    if (rc == FP_EEND_OF_STREAM) {
        report_short_file(c);
        if (fp__source_is_live(c->src))
            return lav_err(c, AVERROR_EOF, "end of stream from");
    }
    return rc;
}

/* ---- the backend table ---- */

static int libav_open(FpSource *src, void **priv)
{
    FpLav *c = NULL;
    int rc = fp__lav_open(src, fp__source_cfg(src)->url, NULL, 0, &c);
    *priv = c;
    return rc;
}

static int libav_pump(FpSource *src, void *priv)
{
    (void)src;
    return fp__lav_pump(priv);
}

static int libav_rewind(FpSource *src, void *priv)
{
    (void)src;
    return fp__lav_rewind(priv);
}

static void libav_close(FpSource *src, void **priv)
{
    (void)src;
    FpLav *c = *priv;
    fp__lav_close(&c);
    *priv = NULL;
}

const FpSourceBackend fp__source_libav = {
    .name = "libav",
    .open = libav_open,
    .pump = libav_pump,
    .rewind = libav_rewind,
    .close = libav_close,
};
