// SPDX-License-Identifier: MIT
// Pictures from memory (HTTP uploads): header probe (size before decoding), libavcodec decode into pool frames, raw wrap.
#include "framepipe/push.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "framepipe/error.h"
#include "lav_internal.h"

_Static_assert(FP_IMAGE_PADDING >= AV_INPUT_BUFFER_PADDING_SIZE, "FP_IMAGE_PADDING below libavcodec's padding");

/*
 * The size is read from the header before anything is decoded, so a
 * 60000x60000 PNG costs nothing but its first bytes; the decoder's own
 * max_pixels is set too, as a second guard. fp_image_decode_buffer() hands
 * the upload's own pool buffer (padded, refcounted through an AVBufferRef
 * that holds an FpBuffer reference) to libavcodec: no copy of the bytes.
 * The decoder writes its picture straight into a pool buffer (get_buffer2:
 * the same body as the video sources', lavsrc.c) when its format is one
 * framepipe keeps (JPEG 4:2:0 -> YUV420P, PNG RGB24, grey); other formats
 * (JPEG 4:2:2/4:4:4, RGBA, palette, 16-bit PNG) are decoded into
 * libavcodec's buffers and converted once by swscale into the pool.
 */

static int be32(const uint8_t *p)
{
    return (int)(((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) & 0x7fffffff);
}

int fp_image_probe(const uint8_t *d, size_t n, int *w, int *h)
{
    *w = *h = 0;
    if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8)) {
        if (n >= 24 && !memcmp(d + 12, "IHDR", 4))
            *w = be32(d + 16), *h = be32(d + 20);
        return FP_IMAGE_PNG;
    }
    if (n >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff) {
        size_t i = 2;
        while (i + 4 <= n) {
            if (d[i] != 0xff) {
                i++;
                continue;
            }
            uint8_t m = d[i + 1];
            if (m == 0xff) {
                i++;
                continue;
            }
            if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
                i += 2;
                continue;
            }
            size_t seg = (size_t)d[i + 2] << 8 | d[i + 3];
            /* SOF0..SOF15 except DHT (c4), JPG (c8), DAC (cc) */
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                if (i + 9 <= n)
                    *h = d[i + 5] << 8 | d[i + 6], *w = d[i + 7] << 8 | d[i + 8];
                break;
            }
            if (m == 0xda || m == 0xd9)
                break;
            i += 2 + seg;
        }
        return FP_IMAGE_JPEG;
    }
    if (n >= 16 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4)) {
        const uint8_t *c = d + 12;
        if (n >= 30 && !memcmp(c, "VP8 ", 4)) {
            *w = (c[14] | c[15] << 8) & 0x3fff, *h = (c[16] | c[17] << 8) & 0x3fff;
        } else if (n >= 25 && !memcmp(c, "VP8L", 4)) {
            uint32_t b = (uint32_t)c[9] | (uint32_t)c[10] << 8 | (uint32_t)c[11] << 16 | (uint32_t)c[12] << 24;
            *w = (int)(b & 0x3fff) + 1, *h = (int)((b >> 14) & 0x3fff) + 1;
        } else if (n >= 30 && !memcmp(c, "VP8X", 4)) {
            *w = (c[12] | c[13] << 8 | c[14] << 16) + 1, *h = (c[15] | c[16] << 8 | c[17] << 16) + 1;
        }
        return FP_IMAGE_WEBP;
    }
    return fp_error(FP_EUNSUPPORTED, "not a JPEG, PNG or WebP picture (first bytes %02x %02x %02x %02x)",
                    n > 0 ? d[0] : 0, n > 1 ? d[1] : 0, n > 2 ? d[2] : 0, n > 3 ? d[3] : 0);
}

static void limits_of(const FpImageLimits *lim, int *mw, int *mh)
{
    *mw = lim && lim->max_width > 0 ? lim->max_width : 8192;
    *mh = lim && lim->max_height > 0 ? lim->max_height : 8192;
}

static int check_size(int w, int h, const FpImageLimits *lim)
{
    int mw, mh;
    limits_of(lim, &mw, &mh);
    if (w > mw || h > mh)
        return fp_error(FP_ERANGE, "the picture is %dx%d, larger than the limit %dx%d", w, h, mw, mh);
    if (w <= 0 || h <= 0)
        return fp_error(FP_ECORRUPT, "the picture's size %dx%d is invalid", w, h);
    return 0;
}

/* A frame struct of its own (malloc'ed, freed with its last reference) over one pool buffer. */
static void frame_free(FpFrame *f, void *opaque)
{
    (void)opaque;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++)
        if (f->buf[i])
            fp_buffer_unref(&f->buf[i]);
    free(f);
}

/* Plane layout of a w x h frame of fmt in one buffer (64-byte aligned rows); returns the bytes. */
static size_t layout(FpPixelFormat fmt, int w, int h, int linesize[3], size_t offset[3], int packed)
{
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
#define AL(x) (packed ? (x) : (((x) + 63) & ~63))
    memset(linesize, 0, 3 * sizeof(int));
    switch (fmt) {
    case FP_PIX_YUV420P:
        linesize[0] = AL(w), linesize[1] = linesize[2] = AL(cw);
        offset[0] = 0, offset[1] = (size_t)linesize[0] * h, offset[2] = offset[1] + (size_t)linesize[1] * ch;
        return offset[2] + (size_t)linesize[2] * ch;
    case FP_PIX_NV12:
        linesize[0] = AL(w), linesize[1] = AL(2 * cw);
        offset[0] = 0, offset[1] = (size_t)linesize[0] * h;
        return offset[1] + (size_t)linesize[1] * ch;
    case FP_PIX_RGB24:
    case FP_PIX_BGR24:
        linesize[0] = AL(3 * w), offset[0] = 0;
        return (size_t)linesize[0] * h;
    case FP_PIX_GRAY8:
        linesize[0] = AL(w), offset[0] = 0;
        return (size_t)linesize[0] * h;
    default:
        return 0;
    }
#undef AL
}

static int planes_of(FpPixelFormat fmt)
{
    return fmt == FP_PIX_YUV420P ? 3 : fmt == FP_PIX_NV12 ? 2 : 1;
}

static FpFrame *frame_over(FpBuffer *buf, FpPixelFormat fmt, int w, int h, int packed)
{
    FpFrame *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    int ls[3];
    size_t off[3];
    layout(fmt, w, h, ls, off, packed);
    uint8_t *base = fp_buffer_data(buf);
    for (int i = 0; i < planes_of(fmt); i++) {
        f->data[i] = base + off[i];
        f->linesize[i] = ls[i];
    }
    f->buf[0] = buf;
    f->width = w, f->height = h, f->format = fmt;
    fp_frame_init_ref(f, frame_free, NULL);
    return f;
}

int fp_image_wrap_raw(FpBuffer *buf, size_t len, int w, int h, FpPixelFormat fmt, const FpImageLimits *lim,
                      FpFrame **out)
{
    if (!buf || !out || w <= 0 || h <= 0 || w > 65535 || h > 65535)
        return fp_error(FP_EINVALID, "raw frame: width %d and height %d must be 1..65535", w, h);
    int rc = check_size(w, h, lim);
    if (rc < 0)
        return rc;
    int ls[3];
    size_t off[3], need = layout(fmt, w, h, ls, off, 1);
    if (!need)
        return fp_error(FP_EINVALID, "raw frame: format %s is not one framepipe reads", fp_pixel_format_name(fmt));
    if (len != need)
        return fp_error(FP_EINVALID, "raw frame: %zu bytes, but a %dx%d %s frame is %zu", len, w, h,
                        fp_pixel_format_name(fmt), need);
    FpFrame *f = frame_over(buf, fmt, w, h, 1);
    if (!f)
        return -ENOMEM;
    *out = f;
    return 0;
}

/* ---- decoders, reused ---- */

/*
 * A small process-wide cache of opened decoder contexts (with their packet,
 * frame and swscale context), each taken by one thread at a time with a
 * compare-and-swap: a request reuses a context of its codec when one is
 * free, takes over an idle one of another codec otherwise, and only when
 * all DEC_SLOTS are busy opens a context of its own for that one picture.
 * Between pictures a context is flushed (avcodec_flush_buffers); one that
 * saw a damaged picture is closed rather than reused. PNG contexts are not
 * reused: libavcodec 59's PNG decoder keeps the previous picture's last row
 * and a second picture's first row (filter "up") came out different
 * (tests/ingest/test_push.c caught it), so they are opened per picture.
 */
#define DEC_SLOTS 16

typedef struct DecSlot {
    _Atomic int busy;
    enum AVCodecID id;
    AVCodecContext *ctx;
    AVPacket *pkt;
    AVFrame *fr;
    struct SwsContext *sws;
    FpPool *pool;   /* the current picture's */
    int pool_error; /* set by dec_get_buffer2 */
} DecSlot;

static DecSlot dec_slots[DEC_SLOTS];

static void slot_close(DecSlot *d)
{
    sws_freeContext(d->sws);
    d->sws = NULL;
    av_frame_free(&d->fr);
    av_packet_free(&d->pkt);
    avcodec_free_context(&d->ctx);
    d->id = AV_CODEC_ID_NONE;
}

static int dec_acquire(void *opaque, size_t size, FpBuffer **out)
{
    DecSlot *d = opaque;
    return fp_pool_acquire(d->pool, size, 0, out);
}

/* The picture straight into request-pool memory when its format is one framepipe keeps (lavsrc.c's get_buffer2 body). */
static int dec_get_buffer2(AVCodecContext *avctx, AVFrame *frame, int flags)
{
    DecSlot *d = avctx->opaque;
    if (fp__lav_native_format(frame->format) == FP_PIX_NONE)
        return avcodec_default_get_buffer2(avctx, frame, flags);
    int rc = fp__lav_pool_get_buffer(avctx, frame, dec_acquire, d);
    if (rc < 0) {
        d->pool_error = rc;
        return AVERROR(ENOMEM);
    }
    return 0;
}

static int slot_open(DecSlot *d, enum AVCodecID id)
{
    const AVCodec *codec = avcodec_find_decoder(id);
    if (!codec)
        return fp_error(FP_EDEPENDENCY, "libavcodec has no %s decoder", avcodec_get_name(id));
    d->ctx = avcodec_alloc_context3(codec);
    d->pkt = av_packet_alloc();
    d->fr = av_frame_alloc();
    if (!d->ctx || !d->pkt || !d->fr) {
        slot_close(d);
        return fp_error(-ENOMEM, "decoding a picture: out of memory");
    }
    d->ctx->opaque = d;
    d->ctx->thread_count = 1;
    d->ctx->err_recognition = AV_EF_EXPLODE | AV_EF_BUFFER | AV_EF_CRCCHECK;
    if (codec->capabilities & AV_CODEC_CAP_DR1) {
        d->ctx->get_buffer2 = dec_get_buffer2;
#if FF_API_THREAD_SAFE_CALLBACKS
        /* libavcodec 59 still asks for this flag; dec_get_buffer2 is thread-safe (the pool is) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        d->ctx->thread_safe_callbacks = 1;
#pragma GCC diagnostic pop
#endif
    }
    if (avcodec_open2(d->ctx, codec, NULL) < 0) {
        slot_close(d);
        return fp_error(FP_EINTERNAL, "cannot open the %s decoder", codec->name);
    }
    d->id = id;
    return 0;
}

/*
 * A free slot, preferably with an open decoder of `id`; NULL when all are
 * busy. A slot's fields are read only by the thread that took it.
 */
static DecSlot *slot_take(enum AVCodecID id)
{
    for (int pass = 0; pass < 3; pass++) /* 0: an open decoder of id; 1: an empty slot; 2: any idle one */
        for (int i = 0; i < DEC_SLOTS; i++) {
            DecSlot *d = &dec_slots[i];
            int idle = 0;
            if (!atomic_compare_exchange_strong(&d->busy, &idle, 1))
                continue;
            if (pass == 2 || (pass == 0 && d->ctx && d->id == id) || (pass == 1 && !d->ctx))
                return d;
            atomic_store(&d->busy, 0);
        }
    return NULL;
}

void fp_image_decoders_free(void)
{
    for (int i = 0; i < DEC_SLOTS; i++) {
        DecSlot *d = &dec_slots[i];
        int idle = 0;
        if (atomic_compare_exchange_strong(&d->busy, &idle, 1)) {
            slot_close(d);
            atomic_store(&d->busy, 0);
        }
    }
}

static int convert_to_pool(DecSlot *d, AVFrame *fr, FpPool *pool, FpFrame **out);

static void pkt_buffer_free(void *opaque, uint8_t *data)
{
    (void)data;
    FpBuffer *b = opaque;
    fp_buffer_unref(&b);
}

static void av_buffer_free_cb(void *opaque, uint8_t *data)
{
    (void)opaque;
    av_free(data);
}

/* Decodes pkt (refcounted, padded) with d's context into a new pool frame. */
static int decode_with(DecSlot *d, const char *kind, size_t len, FpPool *pool, const FpImageLimits *lim,
                       FpFrame **out)
{
    AVFrame *fr = d->fr;
    int mw, mh, rc;
    limits_of(lim, &mw, &mh);
    d->ctx->max_pixels = (int64_t)mw * mh;
    d->pool = pool;
    d->pool_error = 0;
    int ar = avcodec_send_packet(d->ctx, d->pkt);
    av_packet_unref(d->pkt);
    if (ar >= 0)
        ar = avcodec_receive_frame(d->ctx, fr);
    if (ar == AVERROR(EAGAIN)) {
        ar = avcodec_send_packet(d->ctx, NULL);
        if (ar >= 0 || ar == AVERROR_EOF)
            ar = avcodec_receive_frame(d->ctx, fr);
    }
    if (d->pool_error) {
        rc = d->pool_error == FP_ETOO_LARGE
                 ? fp_error(FP_ERANGE, "a %dx%d picture needs more than the pool's largest buffer", d->ctx->width,
                            d->ctx->height)
             : d->pool_error == FP_EWOULD_BLOCK || d->pool_error == FP_ETIMEOUT
                 ? fp_error(FP_EWOULD_BLOCK, "no frame buffer free for the decoded picture")
                 : d->pool_error;
        goto fail;
    }
    if (ar < 0 || fr->width <= 0 || fr->height <= 0 || (fr->decode_error_flags) ||
        (fr->flags & AV_FRAME_FLAG_CORRUPT)) {
        char e[AV_ERROR_MAX_STRING_SIZE] = "";
        av_strerror(ar, e, sizeof(e));
        rc = fp_error(FP_ECORRUPT, "the %s picture (%zu bytes) does not decode%s%s", kind, len,
                      ar < 0 ? ": " : " cleanly", ar < 0 ? e : "");
        goto fail;
    }
    if ((rc = check_size(fr->width, fr->height, lim)) < 0)
        goto fail;
    FpFrame *f = NULL;
    FpBuffer *fb = fp__lav_pool_buffer_of(fr);
    if (fb) {
        /* zero copy: the decoder wrote into this pool buffer */
        if (!(f = calloc(1, sizeof(*f)))) {
            rc = -ENOMEM;
            goto fail;
        }
        for (int i = 0; i < 4; i++) {
            f->data[i] = fr->data[i];
            f->linesize[i] = fr->linesize[i];
        }
        f->buf[0] = fp_buffer_ref(fb);
        f->width = fr->width, f->height = fr->height, f->format = fp__lav_native_format(fr->format);
        fp_frame_init_ref(f, frame_free, NULL);
    } else if ((rc = convert_to_pool(d, fr, pool, &f)) < 0) {
        goto fail;
    }
    av_frame_unref(fr);
    if (d->id == AV_CODEC_ID_PNG)
        slot_close(d); /* see "reused" above */
    else
        avcodec_flush_buffers(d->ctx);
    *out = f;
    return 0;
fail:
    av_frame_unref(fr);
    slot_close(d); /* damaged state is not carried to the next picture */
    return rc;
}

/* Formats libavcodec does not write natively (JPEG 4:2:2/4:4:4, RGBA, palette, 16-bit): one swscale pass into the pool. */
static int convert_to_pool(DecSlot *d, AVFrame *fr, FpPool *pool, FpFrame **out)
{
    enum AVPixelFormat src = fr->format, dst;
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(src);
    FpPixelFormat fmt;
    if (src == AV_PIX_FMT_GRAY8 || (desc && desc->nb_components == 1 && !(desc->flags & AV_PIX_FMT_FLAG_PAL))) {
        fmt = FP_PIX_GRAY8, dst = AV_PIX_FMT_GRAY8;
    } else if (desc && (desc->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL))) {
        fmt = FP_PIX_RGB24, dst = AV_PIX_FMT_RGB24;
    } else {
        fmt = FP_PIX_YUV420P;
        dst = (src == AV_PIX_FMT_YUVJ420P || src == AV_PIX_FMT_YUVJ422P || src == AV_PIX_FMT_YUVJ444P ||
               fr->color_range == AVCOL_RANGE_JPEG)
                  ? AV_PIX_FMT_YUVJ420P
                  : AV_PIX_FMT_YUV420P;
    }
    int ls[3], rc;
    size_t off[3], need = layout(fmt, fr->width, fr->height, ls, off, 0);
    FpBuffer *buf = NULL;
    if ((rc = fp_pool_acquire(pool, need, 0, &buf)) < 0)
        return rc == FP_ETOO_LARGE ? fp_error(FP_ERANGE, "a %dx%d picture needs %zu bytes, more than the pool's "
                                                         "largest buffer", fr->width, fr->height, need)
                                   : rc;
    uint8_t *base = fp_buffer_data(buf);
    uint8_t *dp[4] = {base + off[0], planes_of(fmt) > 1 ? base + off[1] : NULL,
                      planes_of(fmt) > 2 ? base + off[2] : NULL, NULL};
    int dl[4] = {ls[0], ls[1], ls[2], 0};
    d->sws = sws_getCachedContext(d->sws, fr->width, fr->height, src, fr->width, fr->height, dst,
                                  SWS_BILINEAR | SWS_ACCURATE_RND, NULL, NULL, NULL);
    if (!d->sws) {
        fp_buffer_unref(&buf);
        return fp_error(FP_EUNSUPPORTED, "cannot convert a %s picture", av_get_pix_fmt_name(src));
    }
    sws_scale(d->sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dp, dl);
    FpFrame *f = frame_over(buf, fmt, fr->width, fr->height, 0);
    if (!f) {
        fp_buffer_unref(&buf);
        return -ENOMEM;
    }
    *out = f;
    return 0;
}

/* Probe, size check, a decoder; then decode the packet `wrap` fills (it takes the bytes' reference). */
static int decode_packet(const uint8_t *data, size_t len, FpPool *pool, const FpImageLimits *lim, FpFrame **out,
                         int (*wrap)(AVPacket *pkt, void *opaque), void *opaque)
{
    if (len == 0)
        return fp_error(FP_EUNSUPPORTED, "empty body: no picture");
    int w, h, type = fp_image_probe(data, len, &w, &h);
    if (type < 0)
        return type;
    if (!w || !h)
        return fp_error(FP_ECORRUPT, "%s picture without its size header (truncated?)",
                        type == FP_IMAGE_JPEG ? "JPEG" : type == FP_IMAGE_PNG ? "PNG" : "WebP");
    int rc = check_size(w, h, lim);
    if (rc < 0)
        return rc;
    if (len > INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
        return fp_error(FP_ERANGE, "picture of %zu bytes is too large", len);
    enum AVCodecID id = type == FP_IMAGE_JPEG ? AV_CODEC_ID_MJPEG : type == FP_IMAGE_PNG ? AV_CODEC_ID_PNG
                                                                                        : AV_CODEC_ID_WEBP;
    DecSlot own = {0}, *d = slot_take(id);
    if (!d)
        d = &own; /* every cached decoder busy: one for this picture only */
    if (d->ctx && d->id != id)
        slot_close(d); /* an idle decoder of another codec: replaced */
    if (!d->ctx && (rc = slot_open(d, id)) < 0)
        goto out;
    if ((rc = wrap(d->pkt, opaque)) < 0)
        goto out;
    d->pkt->size = (int)len;
    rc = decode_with(d, avcodec_get_name(id), len, pool, lim, out);
out:
    if (d == &own)
        slot_close(d);
    else
        atomic_store(&d->busy, 0);
    return rc;
}

static int wrap_pool_buffer(AVPacket *pkt, void *opaque)
{
    FpBuffer *b = opaque, *ref = fp_buffer_ref(b); /* the packet's own reference */
    pkt->buf = av_buffer_create(fp_buffer_data(b), fp_buffer_size(b), pkt_buffer_free, ref, AV_BUFFER_FLAG_READONLY);
    if (!pkt->buf) {
        fp_buffer_unref(&ref);
        return fp_error(-ENOMEM, "decoding a picture: out of memory");
    }
    pkt->data = fp_buffer_data(b);
    return 0;
}

typedef struct CopyIn {
    const uint8_t *data;
    size_t len;
} CopyIn;

static int wrap_copy(AVPacket *pkt, void *opaque)
{
    const CopyIn *c = opaque;
    uint8_t *copy = av_malloc(c->len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (copy) {
        memcpy(copy, c->data, c->len);
        memset(copy + c->len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        pkt->buf = av_buffer_create(copy, c->len + AV_INPUT_BUFFER_PADDING_SIZE, av_buffer_free_cb, NULL, 0);
    }
    if (!copy || !pkt->buf) {
        av_free(copy);
        return fp_error(-ENOMEM, "decoding a picture of %zu bytes: out of memory", c->len);
    }
    pkt->data = copy;
    return 0;
}

int fp_image_decode(const uint8_t *data, size_t len, FpPool *pool, const FpImageLimits *lim, FpFrame **out)
{
    if (!data || !pool || !out)
        return fp_error(FP_EINVALID, "fp_image_decode: NULL argument");
    CopyIn c = {data, len};
    return decode_packet(data, len, pool, lim, out, wrap_copy, &c);
}

int fp_image_decode_buffer(FpBuffer *body, size_t len, FpPool *pool, const FpImageLimits *lim, FpFrame **out)
{
    if (!body || !pool || !out)
        return fp_error(FP_EINVALID, "fp_image_decode_buffer: NULL argument");
    if (fp_buffer_size(body) < len + FP_IMAGE_PADDING)
        return fp_error(FP_EINVALID, "fp_image_decode_buffer: a buffer of %zu bytes cannot hold %zu bytes and the "
                        "decoder's %d bytes of padding", fp_buffer_size(body), len, FP_IMAGE_PADDING);
    uint8_t *data = fp_buffer_data(body);
    memset(data + len, 0, FP_IMAGE_PADDING);
    return decode_packet(data, len, pool, lim, out, wrap_pool_buffer, body);
}
