// SPDX-License-Identifier: MIT
// A frame encoded as JPEG (libturbojpeg, from the YUV planes) or PNG (libavcodec), for redacted pictures.
#include "framepipe/imgops.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
#include <turbojpeg.h>

#include "framepipe/error.h"

static enum AVPixelFormat av_fmt(FpPixelFormat f)
{
    switch (f) {
    case FP_PIX_YUV420P: return AV_PIX_FMT_YUVJ420P; /* framepipe's decoded pictures keep JPEG's full range */
    case FP_PIX_NV12: return AV_PIX_FMT_NV12;
    case FP_PIX_RGB24: return AV_PIX_FMT_RGB24;
    case FP_PIX_BGR24: return AV_PIX_FMT_BGR24;
    case FP_PIX_GRAY8: return AV_PIX_FMT_GRAY8;
    default: return AV_PIX_FMT_NONE;
    }
}

/* f converted to `want` (RGB24 or YUV420P) in a new AVFrame. */
static AVFrame *convert(const FpFrame *f, enum AVPixelFormat want)
{
    AVFrame *o = av_frame_alloc();
    if (!o)
        return NULL;
    o->format = want, o->width = f->width, o->height = f->height;
    struct SwsContext *sws = NULL;
    if (av_frame_get_buffer(o, 64) < 0 ||
        !(sws = sws_getContext(f->width, f->height, av_fmt(f->format), f->width, f->height, want,
                               SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL))) {
        av_frame_free(&o);
        return NULL;
    }
    const uint8_t *src[4] = {f->data[0], f->data[1], f->data[2], NULL};
    int ls[4] = {f->linesize[0], f->linesize[1], f->linesize[2], 0};
    sws_scale(sws, src, ls, 0, f->height, o->data, o->linesize);
    sws_freeContext(sws);
    return o;
}

static int encode_jpeg(const FpFrame *f, int quality, uint8_t **out, size_t *len)
{
    tjhandle tj = tjInitCompress();
    if (!tj)
        return fp_error(FP_EINTERNAL, "JPEG: libturbojpeg: %s", tjGetErrorStr2(NULL));
    unsigned char *jpeg = NULL;
    unsigned long size = 0;
    int rc = -1;
    AVFrame *tmp = NULL;
    if (f->format == FP_PIX_YUV420P) {
        const unsigned char *planes[3] = {f->data[0], f->data[1], f->data[2]};
        int strides[3] = {f->linesize[0], f->linesize[1], f->linesize[2]};
        rc = tjCompressFromYUVPlanes(tj, planes, f->width, strides, f->height, TJSAMP_420, &jpeg, &size, quality, 0);
    } else if (f->format == FP_PIX_RGB24 || f->format == FP_PIX_BGR24 || f->format == FP_PIX_GRAY8) {
        int pf = f->format == FP_PIX_RGB24 ? TJPF_RGB : f->format == FP_PIX_BGR24 ? TJPF_BGR : TJPF_GRAY;
        rc = tjCompress2(tj, f->data[0], f->width, f->linesize[0], f->height, pf, &jpeg, &size,
                         f->format == FP_PIX_GRAY8 ? TJSAMP_GRAY : TJSAMP_420, quality, 0);
    } else if ((tmp = convert(f, AV_PIX_FMT_YUVJ420P))) { /* NV12 */
        const unsigned char *planes[3] = {tmp->data[0], tmp->data[1], tmp->data[2]};
        int strides[3] = {tmp->linesize[0], tmp->linesize[1], tmp->linesize[2]};
        rc = tjCompressFromYUVPlanes(tj, planes, f->width, strides, f->height, TJSAMP_420, &jpeg, &size, quality, 0);
    }
    av_frame_free(&tmp);
    if (rc != 0) {
        int code = fp_error(FP_EINTERNAL, "JPEG encoding of a %dx%d %s frame failed: %s", f->width, f->height,
                            fp_pixel_format_name(f->format), tjGetErrorStr2(tj));
        tjFree(jpeg);
        tjDestroy(tj);
        return code;
    }
    *out = malloc(size ? size : 1);
    if (*out)
        memcpy(*out, jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    if (!*out)
        return -ENOMEM;
    *len = size;
    return 0;
}

static int encode_png(const FpFrame *f, uint8_t **out, size_t *len)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_PNG);
    if (!codec)
        return fp_error(FP_EDEPENDENCY, "libavcodec has no PNG encoder");
    int gray = f->format == FP_PIX_GRAY8;
    AVCodecContext *ctx = avcodec_alloc_context3(codec);
    AVFrame *fr = NULL;
    AVPacket *pkt = av_packet_alloc();
    int rc = FP_EINTERNAL;
    if (!ctx || !pkt)
        goto done;
    ctx->width = f->width, ctx->height = f->height;
    ctx->pix_fmt = gray ? AV_PIX_FMT_GRAY8 : AV_PIX_FMT_RGB24;
    ctx->time_base = (AVRational){1, 25};
    ctx->compression_level = 3;
    if (avcodec_open2(ctx, codec, NULL) < 0)
        goto done;
    if (f->format == FP_PIX_RGB24 || gray) {
        fr = av_frame_alloc();
        if (!fr)
            goto done;
        fr->format = ctx->pix_fmt, fr->width = f->width, fr->height = f->height;
        fr->data[0] = f->data[0];
        fr->linesize[0] = f->linesize[0];
    } else {
        fr = convert(f, AV_PIX_FMT_RGB24);
        if (!fr)
            goto done;
    }
    if (avcodec_send_frame(ctx, fr) < 0 || avcodec_send_frame(ctx, NULL) < 0 || avcodec_receive_packet(ctx, pkt) < 0)
        goto done;
    *out = malloc((size_t)pkt->size);
    if (!*out) {
        rc = -ENOMEM;
        goto done;
    }
    memcpy(*out, pkt->data, (size_t)pkt->size);
    *len = (size_t)pkt->size;
    rc = 0;
done:
    if (rc == FP_EINTERNAL)
        fp_error(FP_EINTERNAL, "PNG encoding of a %dx%d %s frame failed", f->width, f->height,
                 fp_pixel_format_name(f->format));
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&ctx);
    return rc;
}

int fp_image_encode(const FpFrame *f, FpEncodeType type, int quality, uint8_t **out, size_t *len)
{
    if (!f || !out || !len || f->width <= 0 || f->height <= 0)
        return fp_error(FP_EINVALID, "fp_image_encode: no frame");
    if (av_fmt(f->format) == AV_PIX_FMT_NONE)
        return fp_error(FP_EUNSUPPORTED, "fp_image_encode: pixel format %s", fp_pixel_format_name(f->format));
    if (type == FP_ENCODE_JPEG)
        return encode_jpeg(f, quality < 1 ? 90 : quality > 100 ? 100 : quality, out, len);
    if (type == FP_ENCODE_PNG)
        return encode_png(f, out, len);
    return fp_error(FP_EINVALID, "fp_image_encode: type %d", (int)type);
}
