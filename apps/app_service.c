// SPDX-License-Identifier: MIT
// The detection service: POST /api/detect and /api/redact, a picture in, its frame through the pipeline's batcher, JSON or the redacted picture out.
#include "app_service.h"
#include "app_pipeline.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "framepipe/batcher.h"
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/imgops.h"
#include "framepipe/json.h"
#include "framepipe/log.h"
#include "framepipe/metrics.h"
#include "framepipe/pool.h"
#include "framepipe/push.h"
#include "framepipe/reply.h"

/*
 * One request, on its connection's thread (libmicrohttpd), from headers to
 * answer:
 *   begin   route, Content-Length (413 past max_body, before any byte of
 *           the body is read), query; a request slot (503 + Retry-After
 *           when max_inflight are in flight) and an "upload" pool buffer
 *           of Content-Length + FP_IMAGE_PADDING bytes;
 *   body    each piece copied into that buffer (the only copy of the body:
 *           libmicrohttpd's read buffer to the pool);
 *   finish  raw (?width=&height=&format=): the upload buffer *is* the
 *           frame (no copy); else libavcodec reads the upload buffer
 *           itself (fp_image_decode_buffer: no copy, a cached decoder
 *           context) and writes the picture into the "request-frames"
 *           pool; the frame goes to the push queue of
 *           the camera "api", so the pipeline's batcher takes it with the
 *           cameras' frames, and the thread waits on the reply board for
 *           its result (the sink matches it by its planes' address);
 *   end     the slot and buffers go back.
 * The inference workers never touch a socket: a slow client holds only its
 * own connection thread. Request slots, their JSON buffers and the blur
 * scratch are allocated once, decoder contexts are reused; per request
 * there remain libavcodec's small AVBufferRefs (packet and picture), the
 * FpFrame struct and, for /api/redact, the encoded picture (docs/service.md).
 */

#define JSON_CAP (256 * 1024)

enum { ROUTE_DETECT = 0, ROUTE_REDACT };
enum { MODE_BLUR = 1, MODE_PIXELATE, MODE_FILL };

typedef struct Req {
    FpAppService *svc;
    struct Req *next_free;
    int route;
    FpBuffer *body;
    size_t len, expect;
    float conf;
    int max_det;
    char classes[256]; /* ",a,b,3," */
    int raw, raw_w, raw_h;
    FpPixelFormat raw_fmt;
    int mode, png;
    char *json;
    uint8_t *img;
    FpImgScratch scratch;
    FpFrame copy; /* /api/redact: the picture redacted, a request-frames pool copy of the pipeline's frame */
} Req;

struct FpAppService {
    FpAppServiceConfig cfg;
    FpPushQueue *queue;
    FpReplyBoard *board;
    FpPool *upload_pool, *frame_pool;
    FpHttpPostHandlers post;
    pthread_mutex_t lock;
    Req *reqs, *free_reqs;
    FpCounter n_ok, n_busy, n_client_err, n_timeout, n_too_large;
    FpHistogram h_latency;
};

static _Thread_local char tl_err[1024];

void fp_app_service_config_init(FpAppServiceConfig *c)
{
    memset(c, 0, sizeof(*c));
    c->max_body = 32u << 20;
    c->max_width = c->max_height = 8192;
    c->max_inflight = 64;
    c->timeout_ns = 30 * 1000000000LL;
}

/* A JSON error answer {"error": msg, "status": N} in buf. */
static void json_error(FpHttpReply *rep, char *buf, size_t cap, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void json_error(FpHttpReply *rep, char *buf, size_t cap, unsigned status, const char *fmt, ...)
{
    char msg[512], esc[6 * 512 + 8];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t el = fp_json_escape(esc, sizeof(esc) - 1, msg); /* no NUL of its own; always fits */
    esc[el < sizeof(esc) - 1 ? el : sizeof(esc) - 1] = 0;
    int n = snprintf(buf, cap, "{\"error\":%s,\"status\":%u}\n", esc, status);
    *rep = (FpHttpReply){.status = status, .type = "application/json", .body = buf,
                         .len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1};
}

static int parse_query(Req *r, const FpHttpPost *req, char *why, size_t why_len)
{
    const char *v;
    char *end;
    r->conf = 0;
    r->max_det = 1 << 30;
    r->classes[0] = 0;
    r->raw = 0;
    r->mode = MODE_BLUR;
    r->png = 0;
    if ((v = fp_http_post_arg(req, "conf"))) {
        double d = strtod(v, &end);
        if (*end || !(d >= 0 && d <= 1))
            return snprintf(why, why_len, "conf=%s: a number from 0 to 1", v), -1;
        r->conf = (float)d;
    }
    if ((v = fp_http_post_arg(req, "max_det"))) {
        long n = strtol(v, &end, 10);
        if (*end || n < 0 || n > 100000)
            return snprintf(why, why_len, "max_det=%s: a count from 0 to 100000", v), -1;
        r->max_det = (int)n;
    }
    if ((v = fp_http_post_arg(req, "classes"))) {
        if (strlen(v) + 3 > sizeof(r->classes))
            return snprintf(why, why_len, "classes: longer than %zu bytes", sizeof(r->classes) - 3), -1;
        snprintf(r->classes, sizeof(r->classes), ",%s,", v);
    }
    const char *w = fp_http_post_arg(req, "width"), *h = fp_http_post_arg(req, "height"),
               *f = fp_http_post_arg(req, "format");
    if (r->route == ROUTE_REDACT && f && (!strcmp(f, "png") || !strcmp(f, "jpeg") || !strcmp(f, "jpg")))
        f = NULL; /* ?format= names the answer's type there (below) */
    if (w || h) {
        long wv = w ? strtol(w, &end, 10) : 0;
        if (!w || *end || wv <= 0 || wv > 65535)
            return snprintf(why, why_len, "width=%s: raw frames need width and height (1..65535)", w ? w : ""), -1;
        long hv = h ? strtol(h, &end, 10) : 0;
        if (!h || *end || hv <= 0 || hv > 65535)
            return snprintf(why, why_len, "height=%s: raw frames need width and height (1..65535)", h ? h : ""), -1;
        r->raw = 1, r->raw_w = (int)wv, r->raw_h = (int)hv;
        r->raw_fmt = FP_PIX_NV12;
        if (f && fp_pixel_format_parse(f, &r->raw_fmt) < 0)
            return snprintf(why, why_len, "format=%s: one of yuv420p, nv12, rgb24, bgr24, gray8", f), -1;
    } else if (r->route == ROUTE_DETECT && f) {
        return snprintf(why, why_len, "format=%s given without width and height", f), -1;
    }
    if (r->route == ROUTE_REDACT) {
        if ((v = fp_http_post_arg(req, "mode")) && !(r->mode = fp_app_redact_mode(v)))
            return snprintf(why, why_len, "mode=%s: blur, pixelate or fill", v), -1;
        const char *out = fp_http_post_arg(req, "format");
        if (out && strcmp(out, "png") && strcmp(out, "jpeg") && strcmp(out, "jpg"))
            out = NULL; /* a raw frame's pixel format */
        const char *accept = fp_http_post_header(req, "Accept");
        if (out) {
            if (strcmp(out, "png") && strcmp(out, "jpeg") && strcmp(out, "jpg"))
                return snprintf(why, why_len, "format=%s: png or jpeg", out), -1;
            r->png = !strcmp(out, "png");
        } else if (accept && strstr(accept, "image/png") && !strstr(accept, "image/jpeg")) {
            r->png = 1;
        }
    }
    return 0;
}

static int begin(void *opaque, const FpHttpPost *req, void **ctx, FpHttpReply *rep)
{
    FpAppService *s = opaque;
    const char *path = fp_http_post_path(req);
    int route = !strcmp(path, "/api/detect") ? ROUTE_DETECT : !strcmp(path, "/api/redact") ? ROUTE_REDACT : -1;
    if (route < 0) {
        json_error(rep, tl_err, sizeof(tl_err), 404, "no POST route %s (POST /api/detect or /api/redact)", path);
        return 0;
    }
    int64_t n = fp_http_post_length(req);
    if (n < 0) {
        fp_counter_add(&s->n_client_err, 1);
        json_error(rep, tl_err, sizeof(tl_err), 411, "Content-Length is required (the picture's size in bytes)");
        return 0;
    }
    if ((uint64_t)n > s->cfg.max_body) {
        fp_counter_add(&s->n_too_large, 1);
        json_error(rep, tl_err, sizeof(tl_err), 413, "body of %lld bytes is larger than the limit of %zu bytes",
                   (long long)n, s->cfg.max_body);
        return 0;
    }
    pthread_mutex_lock(&s->lock);
    Req *r = s->free_reqs;
    if (r)
        s->free_reqs = r->next_free;
    pthread_mutex_unlock(&s->lock);
    if (!r) {
        fp_counter_add(&s->n_busy, 1);
        json_error(rep, tl_err, sizeof(tl_err), 503, "busy: %d requests in flight (the limit)", s->cfg.max_inflight);
        rep->retry_after_s = 1;
        return 0;
    }
    r->route = route;
    r->len = 0;
    r->expect = (size_t)n;
    r->body = NULL;
    r->img = NULL;
    char why[400];
    if (parse_query(r, req, why, sizeof(why)) < 0) {
        fp_counter_add(&s->n_client_err, 1);
        json_error(rep, tl_err, sizeof(tl_err), 400, "%s", why);
        goto refuse;
    }
    if (n > 0) {
        int rc = fp_pool_acquire(s->upload_pool, (size_t)n + FP_IMAGE_PADDING, 0, &r->body);
        if (rc < 0) {
            fp_counter_add(&s->n_busy, 1);
            json_error(rep, tl_err, sizeof(tl_err), 503, "busy: no upload buffer free (%s)", fp_error_detail(rc));
            rep->retry_after_s = 1;
            goto refuse;
        }
    }
    *ctx = r;
    return 1;
refuse:
    pthread_mutex_lock(&s->lock);
    r->next_free = s->free_reqs;
    s->free_reqs = r;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int body(void *ctx, const uint8_t *data, size_t len, FpHttpReply *rep)
{
    Req *r = ctx;
    if (len > r->expect - r->len) {
        json_error(rep, r->json, JSON_CAP, 413, "body longer than its Content-Length of %zu bytes", r->expect);
        return -1;
    }
    memcpy(fp_buffer_data(r->body) + r->len, data, len);
    r->len += len;
    return 0;
}

static int class_wanted(const Req *r, const FpFrameResult *res, int class_id)
{
    if (!r->classes[0])
        return 1;
    char key[96];
    snprintf(key, sizeof(key), ",%d,", class_id);
    if (strstr(r->classes, key))
        return 1;
    if (res->class_names && class_id >= 0 && class_id < res->n_classes && res->class_names[class_id]) {
        snprintf(key, sizeof(key), ",%s,", res->class_names[class_id]);
        return strstr(r->classes, key) != NULL;
    }
    return 0;
}

/* The detection's box grown by 15% a side (BlazeFace's box is tight: hair, chin and ears stay outside), in pixels. */
static FpRect redact_rect(const FpDetection *d, const FpFrame *f)
{
    float w = d->box.x2 - d->box.x1, h = d->box.y2 - d->box.y1;
    float x1 = d->box.x1 - 0.15f * w, y1 = d->box.y1 - 0.15f * h, x2 = d->box.x2 + 0.15f * w, y2 = d->box.y2 + 0.15f * h;
    int ix1 = (int)floorf(x1 < 0 ? 0 : x1), iy1 = (int)floorf(y1 < 0 ? 0 : y1);
    int ix2 = (int)ceilf(x2 > f->width ? (float)f->width : x2), iy2 = (int)ceilf(y2 > f->height ? (float)f->height : y2);
    return (FpRect){ix1, iy1, ix2 - ix1, iy2 - iy1};
}

int fp_app_redact_mode(const char *w)
{
    return !strcmp(w, "blur") ? MODE_BLUR : !strcmp(w, "pixelate") ? MODE_PIXELATE : !strcmp(w, "fill") ? MODE_FILL : 0;
}

int fp_app_redact(FpFrame *f, const FpDetection *dets, int n, int mode, FpImgScratch *scratch)
{
    for (int i = 0; i < n; i++) {
        FpRect rr = redact_rect(&dets[i], f);
        if (rr.w <= 0 || rr.h <= 0)
            continue;
        int big = rr.w > rr.h ? rr.w : rr.h, rc;
        if (mode == MODE_PIXELATE) {
            int block = big / 4;
            rc = fp_imgops_pixelate(f, rr, block < 4 ? 4 : block);
        } else if (mode == MODE_FILL) {
            int rgb = f->format == FP_PIX_RGB24 || f->format == FP_PIX_BGR24;
            rc = fp_imgops_fill(f, rr, 0, rgb ? 0 : 128, rgb ? 0 : 128);
        } else {
            double sigma = big / 4.0;
            rc = fp_imgops_gaussian(f, rr, sigma < 2 ? 2 : sigma > 60 ? 60 : sigma, scratch);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void copy_release(FpFrame *f, void *opaque)
{
    (void)opaque;
    fp_buffer_unref(&f->buf[0]);
}

/*
 * /api/redact changes a copy, never the frame the pipeline had: the
 * outputs (the live view of the camera "api", frame deliveries) may still
 * hold that one and read it on their own threads, and they must see the
 * picture as posted, never half redacted. The copy keeps the frame's
 * strides; its struct is the request slot's, its buffer the pool's.
 */
static int copy_frame(FpPool *pool, const FpFrame *f, FpFrame *out)
{
    int ch = (f->height + 1) / 2;
    int rows[FP_FRAME_MAX_PLANES] = {f->height, 0, 0, 0};
    if (f->format == FP_PIX_YUV420P)
        rows[1] = rows[2] = ch;
    else if (f->format == FP_PIX_NV12)
        rows[1] = ch;
    size_t off[FP_FRAME_MAX_PLANES], total = 0;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++) {
        off[i] = total;
        total += ((size_t)f->linesize[i] * (size_t)rows[i] + 63) & ~(size_t)63;
    }
    FpBuffer *b = NULL;
    int rc = fp_pool_acquire(pool, total, 0, &b);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < FP_FRAME_MAX_PLANES && rows[i]; i++) {
        out->data[i] = fp_buffer_data(b) + off[i];
        out->linesize[i] = f->linesize[i];
        memcpy(out->data[i], f->data[i], (size_t)f->linesize[i] * (size_t)rows[i]);
    }
    out->width = f->width, out->height = f->height, out->format = f->format;
    out->buf[0] = b;
    fp_frame_init_ref(out, copy_release, NULL);
    return 0;
}

static void finish(void *ctx, const FpHttpPost *req, FpHttpReply *rep)
{
    (void)req;
    Req *r = ctx;
    FpAppService *s = r->svc;
    int64_t t0 = fp_clock_ns();
    FpFrame *f = NULL;
    int slot = -1, rc;
    if (r->len != r->expect) {
        fp_counter_add(&s->n_client_err, 1);
        json_error(rep, r->json, JSON_CAP, 400, "body of %zu bytes, Content-Length said %zu", r->len, r->expect);
        goto out;
    }
    if (r->len == 0) {
        fp_counter_add(&s->n_client_err, 1);
        json_error(rep, r->json, JSON_CAP, 400, "empty body: POST the picture's bytes");
        goto out;
    }
    FpImageLimits lim = {s->cfg.max_width, s->cfg.max_height};
    if (r->raw) {
        rc = fp_image_wrap_raw(r->body, r->len, r->raw_w, r->raw_h, r->raw_fmt, &lim, &f);
        if (rc == 0)
            r->body = NULL; /* the frame owns the upload buffer now */
    } else {
        rc = fp_image_decode_buffer(r->body, r->len, s->frame_pool, &lim, &f);
        fp_buffer_unref(&r->body); /* decoded: the bytes are no longer needed */
    }
    if (rc < 0) {
        unsigned status = rc == FP_EUNSUPPORTED ? 415
                          : rc == FP_ERANGE || rc == FP_ECORRUPT ? 422
                          : rc == FP_EINVALID ? 400
                          : rc == FP_EWOULD_BLOCK || rc == FP_ETIMEOUT ? 503
                                                                       : 500;
        if (status == 503)
            rep->retry_after_s = 1;
        fp_counter_add(status == 503 ? &s->n_busy : &s->n_client_err, 1);
        json_error(rep, r->json, JSON_CAP, status, "%s", fp_error_detail(rc));
        if (status == 503)
            rep->retry_after_s = 1;
        goto out;
    }
    slot = fp_reply_board_claim(s->board, f->data[0]);
    if (slot < 0 || (rc = fp_push_queue_submit(s->queue, f)) < 0) {
        fp_counter_add(&s->n_busy, 1);
        json_error(rep, r->json, JSON_CAP, 503, "busy: the pipeline's request queue is full");
        rep->retry_after_s = 1;
        goto out;
    }
    FpReply res;
    if ((rc = fp_reply_board_wait(s->board, slot, s->cfg.timeout_ns, &res)) == FP_EFLUSHING) {
        json_error(rep, r->json, JSON_CAP, 503, "shutting down");
        goto out;
    }
    if (rc < 0) {
        fp_counter_add(&s->n_timeout, 1);
        json_error(rep, r->json, JSON_CAP, 504, "no result within %.1f s", (double)s->cfg.timeout_ns / 1e9);
        goto out;
    }
    int n = 0;
    for (int i = 0; i < res.result.n_dets && n < r->max_det; i++) {
        const FpDetection *d = &res.dets[i];
        if (d->score < r->conf || !class_wanted(r, &res.result, d->class_id))
            continue;
        res.dets[n++] = *d;
    }
    res.result.n_dets = n;
    if (r->route == ROUTE_DETECT) {
        size_t len = 0;
        if ((rc = fp_frame_result_json(&res.result, r->json, JSON_CAP, &len)) < 0) {
            json_error(rep, r->json, JSON_CAP, 500, "%s", fp_error_detail(rc));
            goto out;
        }
        r->json[len++] = '\n';
        *rep = (FpHttpReply){.status = 200, .type = "application/json", .body = r->json, .len = len};
    } else {
        size_t len = 0;
        if ((rc = copy_frame(s->frame_pool, f, &r->copy)) < 0) {
            unsigned status = rc == FP_EWOULD_BLOCK || rc == FP_ETIMEOUT ? 503 : 500;
            fp_counter_add(status == 503 ? &s->n_busy : &s->n_client_err, 1);
            json_error(rep, r->json, JSON_CAP, status, "no frame buffer for the redacted copy: %s", fp_error_detail(rc));
            rep->retry_after_s = status == 503;
            goto out;
        }
        FpFrame *copy = &r->copy;
        rc = fp_app_redact(copy, res.dets, n, r->mode, &r->scratch);
        if (rc >= 0)
            rc = fp_image_encode(copy, r->png ? FP_ENCODE_PNG : FP_ENCODE_JPEG, 90, &r->img, &len);
        fp_frame_unref(&copy);
        if (rc < 0) {
            json_error(rep, r->json, JSON_CAP, 500, "%s", fp_error_detail(rc));
            goto out;
        }
        *rep = (FpHttpReply){.status = 200, .type = r->png ? "image/png" : "image/jpeg", .body = r->img, .len = len};
    }
    fp_counter_add(&s->n_ok, 1);
    fp_histogram_record(&s->h_latency, (uint64_t)(fp_clock_ns() - t0));
out:
    if (slot >= 0)
        fp_reply_board_release(s->board, slot);
    fp_frame_unref(&f);
}

static void end(void *ctx)
{
    Req *r = ctx;
    FpAppService *s = r->svc;
    if (r->body)
        fp_buffer_unref(&r->body);
    free(r->img);
    r->img = NULL;
    pthread_mutex_lock(&s->lock);
    r->next_free = s->free_reqs;
    s->free_reqs = r;
    pthread_mutex_unlock(&s->lock);
}

int fp_app_service_create(FpAppService **out, const FpAppServiceConfig *c)
{
    if (c->max_body < 1024 || c->max_width < 16 || c->max_height < 16 || c->max_width > 65535 ||
        c->max_height > 65535 || c->max_inflight < 1 || c->max_inflight > 1024 || c->timeout_ns <= 0)
        return fp_error(FP_ECONFIG,
                        "service: max_body %zu (>= 1024), max pixels %dx%d (16..65535), max_inflight %d (1..1024)",
                        c->max_body, c->max_width, c->max_height, c->max_inflight);
    FpAppService *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->cfg = *c;
    pthread_mutex_init(&s->lock, NULL);
    fp_histogram_init(&s->h_latency);
    s->reqs = calloc((size_t)c->max_inflight, sizeof(Req));
    int rc = s->reqs ? 0 : -ENOMEM;
    for (int i = 0; rc == 0 && i < c->max_inflight; i++) {
        Req *r = &s->reqs[i];
        r->svc = s;
        if (!(r->json = malloc(JSON_CAP)))
            rc = -ENOMEM;
        r->next_free = s->free_reqs;
        s->free_reqs = r;
    }
    /* upload buffers: classes up to max_body; frames: up to an RGB24 picture of the largest size allowed */
    FpPoolConfig pc = {0};
    pc.name = "upload";
    size_t sizes[] = {256u << 10, 2u << 20, 8u << 20};
    for (size_t i = 0; i < 3; i++)
        if (sizes[i] < c->max_body)
            pc.class_size[pc.n_classes++] = sizes[i];
    pc.class_size[pc.n_classes++] = c->max_body + FP_IMAGE_PADDING;
    pc.max_buffers = (unsigned)c->max_inflight;
    pc.idle_evict_ns = 10 * 1000000000LL;
    if (rc == 0)
        rc = fp_pool_create(&s->upload_pool, &pc);
    FpPoolConfig fc = {0};
    fc.name = "request-frames";
    /* libavcodec's layout: rows rounded up to 64 pixels, height to its block size, padding after each plane */
    size_t biggest = (size_t)(3 * (c->max_width + 64) + 64) * (size_t)(c->max_height + 64) + 4096;
    size_t fsizes[] = {1u << 20, 4u << 20, 16u << 20};
    for (size_t i = 0; i < 3; i++)
        if (fsizes[i] < biggest)
            fc.class_size[fc.n_classes++] = fsizes[i];
    fc.class_size[fc.n_classes++] = biggest;
    fc.max_buffers = 2 * (unsigned)c->max_inflight; /* a picture and, for /api/redact, its redacted copy */
    fc.idle_evict_ns = 10 * 1000000000LL;
    if (rc == 0)
        rc = fp_pool_create(&s->frame_pool, &fc);
    if (rc == 0)
        rc = fp_reply_board_create(&s->board, c->max_inflight, 1024);
    if (rc == 0)
        rc = fp_push_queue_create(&s->queue, FP_APP_SERVICE_CAMERA, c->max_inflight);
    if (rc < 0) {
        fp_app_service_destroy(&s);
        return rc;
    }
    s->post = (FpHttpPostHandlers){.begin = begin, .body = body, .finish = finish, .end = end, .opaque = s};
    *out = s;
    return 0;
}

int fp_app_service_add_camera(FpAppService *s, FpPipelineConfig *cfg)
{
    (void)s;
    if (cfg->n_cameras >= FP_PIPELINE_MAX_CAMERAS)
        return fp_error(FP_ECONFIG, "--api: the config has %d cameras already, the most there can be",
                        cfg->n_cameras);
    for (int i = 0; i < cfg->n_cameras; i++)
        if (cfg->cameras[i].name && !strcmp(cfg->cameras[i].name, FP_APP_SERVICE_CAMERA))
            return fp_error(FP_ECONFIG, "--api: a camera is named \"%s\" already (the requests' camera)",
                            FP_APP_SERVICE_CAMERA);
    FpCameraConfig *c = &cfg->cameras[cfg->n_cameras++];
    memset(c, 0, sizeof(*c));
    c->name = FP_APP_SERVICE_CAMERA;
    fp_source_config_init(&c->source);
    c->source.url = "push:" FP_APP_SERVICE_CAMERA;
    c->source.policy = FP_POLICY_LOSSLESS;
    c->source.queue_depth = FP_BATCH_MAX;
    return 0;
}

static double inflight_gauge(void *opaque)
{
    return fp_reply_board_busy(((FpAppService *)opaque)->board);
}

int fp_app_service_attach(FpAppService *s, FpPipeline *p)
{
    int rc = fp_pipeline_add_sink(p, fp_reply_board_sink, s->board);
    FpMetrics *m = fp_pipeline_metrics(p);
    static const char help[] = "POST /api/detect and /api/redact requests by result";
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_api_requests_total", "result=\"ok\"", help, &s->n_ok, s);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_api_requests_total", "result=\"busy\"", help, &s->n_busy, s);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_api_requests_total", "result=\"too_large\"", help, &s->n_too_large, s);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_api_requests_total", "result=\"bad_request\"", help, &s->n_client_err, s);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_api_requests_total", "result=\"timeout\"", help, &s->n_timeout, s);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_api_request_seconds", NULL,
                                            "decode + queue + inference + answer of a POST, seconds", &s->h_latency, 1, s);
    rc = rc ? rc : fp_metrics_add_gauge(m, "fp_api_inflight", NULL, "requests waiting for their result", inflight_gauge, s, s);
    return rc;
}

int fp_app_service_for_run(FpAppRun *run, const FpPipelineConfig *cfg, FpPipelineConfig *copy, FpAppService **svc)
{
    int rc;
    if (!cfg->output.http || !cfg->output.http[0]) {
        rc = fp_error(FP_ECONFIG, "--api needs the HTTP endpoint (output.http in the config)");
    } else {
        *copy = *cfg;
        FpAppServiceConfig sc;
        fp_app_service_config_init(&sc);
        if ((rc = fp_app_service_create(svc, &sc)) == 0 && (rc = fp_app_service_add_camera(*svc, copy)) < 0)
            fp_app_service_destroy(svc);
    }
    if (rc < 0) {
        fprintf(stderr, "framepipe run: %s\n", fp_error_detail(rc));
        return rc;
    }
    run->cfg = copy;
    run->service = *svc;
    return 0;
}

void fp_app_service_shutdown(FpAppService *s)
{
    if (s)
        fp_reply_board_close(s->board);
}

const FpHttpPostHandlers *fp_app_service_post(FpAppService *s)
{
    return &s->post;
}

void fp_app_service_destroy(FpAppService **ps)
{
    if (!ps || !*ps)
        return;
    FpAppService *s = *ps;
    *ps = NULL;
    fp_push_queue_destroy(&s->queue);
    fp_reply_board_destroy(&s->board);
    for (int i = 0; s->reqs && i < s->cfg.max_inflight; i++) {
        free(s->reqs[i].json);
        fp_img_scratch_deinit(&s->reqs[i].scratch);
    }
    free(s->reqs);
    fp_pool_destroy(&s->upload_pool);
    fp_pool_destroy(&s->frame_pool);
    fp_image_decoders_free();
    pthread_mutex_destroy(&s->lock);
    free(s);
}
