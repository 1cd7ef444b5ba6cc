// SPDX-License-Identifier: MIT
// The camera role (`framepipe camera CONFIG`): sources -> fused letterbox to uint8 RGB at the model's input size -> JPEG (or raw) -> XADD frames MAXLEN ~ N.
//
// One thread sends for every camera. Each camera's FpSource keeps its own
// bounded queue: with the `latest` policy, while Redis is slow or away, the
// decoder drops the oldest frames and counts them as skipped (newest wins);
// with `lossless` it waits. Frames are numbered per camera from 0 as they
// are sent (seq), and an epoch (the role's start, wall ns) tells a restarted
// camera's numbers apart. The letterbox picture and the JPEG buffer
// (tjBufSize, filled by tjCompress2 with TJFLAG_NOREALLOC) are allocated
// once; the XADD's arguments point into them. One JPEG buffer is the whole
// pool: hiredis copies the arguments into its command buffer before the
// XADD returns, so the buffer is free again for the next frame. Nothing is
// allocated per frame in framepipe's code (tests/dist/test_camera_alloc.c
// counts); hiredis' command buffer and reply are the library's.
#include "dist_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/http.h"
#include "framepipe/log.h"
#include "framepipe/model.h"
#include "framepipe/prep.h"
#include "framepipe/source.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

typedef struct CamState {
    const FpCameraConfig *cc;
    FpSource *src;
    FpLetterbox *plan;
    int plan_w, plan_h;
    FpPixelFormat plan_fmt;
    uint64_t seq;
    bool ended;
} CamState;

typedef struct Camera {
    const FpPipelineConfig *cfg;
    FpBroker broker;
    FpMetrics *metrics;
    CamState *cams;
    int n;
    int in_w, in_h;
    float pad;
    uint8_t *picture;     /* in_w * in_h * 3, RGB */
    uint8_t *jpeg;        /* tjBufSize(in_w, in_h, 4:2:0) */
    unsigned long jpeg_cap;
    tjhandle tj;
    int64_t epoch;
    FpCounter sent, bytes, send_errors;
    FpHistogram h_prep, h_encode, h_send;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified;
} Camera;

static void on_frame(void *opaque)
{
    Camera *c = opaque;
    pthread_mutex_lock(&c->lock);
    c->notified = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* The model's input size and family (for the pad colour): the model is opened once, then closed. */
int fp__dist_model_geometry(const FpPipelineConfig *cfg, int *w, int *h, FpFamily *family)
{
    FpModelConfig mc;
    fp_model_config_init(&mc);
    mc.input_width = cfg->model.input_width;
    mc.input_height = cfg->model.input_height;
    FpModel *m = NULL;
    int rc = fp_model_create(&m, cfg->model.path, &mc);
    if (rc < 0)
        return rc;
    const FpModelInput *in = fp_model_input(m);
    FpFamilyInfo fi;
    *w = in->width, *h = in->height;
    rc = fp_model_require_family(m, &fi);
    *family = rc < 0 ? FP_FAMILY_UNKNOWN : fi.family;
    fp_model_destroy(&m);
    if (rc < 0)
        return rc;
    if (*w <= 0 || *h <= 0)
        return fp_error(FP_ECONFIG, "model %s: its input size is dynamic: set model.input", cfg->model.path);
    return 0;
}

static double gauge_skipped(void *opaque)
{
    const Camera *c = opaque;
    uint64_t s = 0;
    for (int i = 0; i < c->n; i++) {
        FpSourceStatus st;
        fp_source_get_status(c->cams[i].src, &st);
        s += st.skipped;
    }
    return (double)s;
}

static int camera_metrics(Camera *c)
{
    FpMetrics *m = c->metrics;
    int rc = fp_metrics_add_counter(m, "fp_dist_frames_sent_total", NULL, "frames XADDed to the frame stream",
                                    &c->sent, c);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_bytes_sent_total", NULL, "payload bytes sent", &c->bytes, c);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_send_errors_total", NULL, "XADDs that failed (resent)",
                                          &c->send_errors, c);
    rc = rc ? rc : fp__broker_metrics(&c->broker, m, false, c);
    rc = rc ? rc : fp_metrics_add_gauge(m, "fp_dist_frames_skipped", NULL,
                                        "frames the sources dropped while the sender was behind (latest policy)",
                                        gauge_skipped, c, c);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_dist_stage_seconds", "stage=\"prep\"",
                                            "camera role: letterbox, encode, XADD", &c->h_prep, 1, c);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_dist_stage_seconds", "stage=\"encode\"",
                                            "camera role: letterbox, encode, XADD", &c->h_encode, 1, c);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_dist_stage_seconds", "stage=\"send\"",
                                            "camera role: letterbox, encode, XADD", &c->h_send, 1, c);
    return rc;
}

/* Letterboxes f into c->picture with camera k's plan (made again when the frame's size or format changes). */
static int prep_frame(Camera *c, CamState *k, const FpFrame *f, FpTransform *tf)
{
    if (!k->plan || k->plan_w != f->width || k->plan_h != f->height || k->plan_fmt != f->format) {
        fp_letterbox_destroy(&k->plan);
        FpPrepOptions o;
        fp_prep_options_init(&o, c->in_w, c->in_h);
        o.type = FP_DTYPE_UINT8;
        o.layout = FP_LAYOUT_NHWC;
        for (int i = 0; i < 3; i++)
            o.scale[i] = 1.f, o.offset[i] = 0.f, o.pad[i] = c->pad;
        o.roi_x = k->cc->roi_x, o.roi_y = k->cc->roi_y, o.roi_w = k->cc->roi_w, o.roi_h = k->cc->roi_h;
        int rc = fp_letterbox_create(&k->plan, f->width, f->height, f->format, &o);
        if (rc < 0)
            return rc;
        k->plan_w = f->width, k->plan_h = f->height, k->plan_fmt = f->format;
    }
    int rc = fp_letterbox_run(k->plan, f, c->picture, (size_t)c->in_w * (size_t)c->in_h * 3);
    if (rc < 0)
        return rc;
    *tf = *fp_letterbox_transform(k->plan);
    return 0;
}

/* Sends one frame; retries across reconnects until sent or stopped. */
static int send_frame(Camera *c, CamState *k, const FpFrame *f)
{
    const FpDistSection *d = &c->cfg->dist;
    FpDistFrame m;
    memset(&m, 0, sizeof(m));
    int64_t t0 = fp_clock_ns();
    int rc = prep_frame(c, k, f, &m.tf);
    if (rc < 0)
        return rc;
    int64_t t1 = fp_clock_ns();
    snprintf(m.camera, sizeof(m.camera), "%s", k->cc->name);
    m.epoch = c->epoch;
    m.seq = k->seq;
    m.frame = f->seq;
    m.pts_ns = f->pts_ns;
    m.capture_ns = f->capture_ns;
    m.encoding = (FpDistEncoding)d->encoding;
    if (m.encoding == FP_DIST_JPEG) {
        unsigned long len = c->jpeg_cap;
        if (tjCompress2(c->tj, c->picture, c->in_w, 0, c->in_h, TJPF_RGB, &c->jpeg, &len, TJSAMP_420,
                        d->jpeg_quality, TJFLAG_NOREALLOC | TJFLAG_FASTDCT) != 0)
            return fp_error(FP_EIO, "camera %s: JPEG encode: %s", k->cc->name, tjGetErrorStr2(c->tj));
        m.payload = c->jpeg, m.payload_len = len;
    } else {
        m.payload = c->picture, m.payload_len = (size_t)c->in_w * (size_t)c->in_h * 3;
    }
    int64_t t2 = fp_clock_ns();
    FpDistFields fl;
    if ((rc = fp_dist_frame_encode(&m, &fl)) < 0)
        return rc;
    const char *argv[6 + 2 * FP_DIST_MAX_FIELDS];
    size_t lens[6 + 2 * FP_DIST_MAX_FIELDS];
    char maxlen[24];
    int ml = snprintf(maxlen, sizeof(maxlen), "%d", d->maxlen);
    const char *head[] = {"XADD", d->frames, "MAXLEN", "~", maxlen, "*"};
    int argc = 0;
    for (int i = 0; i < 6; i++)
        argv[argc] = head[i], lens[argc++] = i == 4 ? (size_t)ml : strlen(head[i]);
    for (int i = 0; i < fl.n; i++) {
        argv[argc] = fl.name[i], lens[argc++] = fl.name_len[i];
        argv[argc] = fl.value[i], lens[argc++] = fl.value_len[i];
    }
    for (;;) {
        if ((rc = fp__broker_ensure(&c->broker)) < 0)
            return rc;
        redisReply *r = fp__broker_cmd(&c->broker, argc, argv, lens);
        if (r && r->type != REDIS_REPLY_ERROR) {
            freeReplyObject(r);
            break;
        }
        fp_counter_add(&c->send_errors, 1);
        if (r) {
            fp_log_warn("dist", "camera %s: XADD %s: %s", k->cc->name, d->frames, r->str);
            freeReplyObject(r);
            fp__broker_drop(&c->broker);
        }
    }
    int64_t t3 = fp_clock_ns();
    k->seq++;
    fp_counter_add(&c->sent, 1);
    fp_counter_add(&c->bytes, m.payload_len);
    fp_histogram_record(&c->h_prep, (uint64_t)(t1 - t0));
    fp_histogram_record(&c->h_encode, (uint64_t)(t2 - t1));
    fp_histogram_record(&c->h_send, (uint64_t)(t3 - t2));
    return 0;
}

static int camera_loop(Camera *c, const FpDistRoleOptions *opt)
{
    int live = c->n;
    while (live > 0) {
        if (opt && opt->stop && *opt->stop)
            return 0;
        bool any = false;
        for (int i = 0; i < c->n; i++) {
            CamState *k = &c->cams[i];
            if (k->ended)
                continue;
            FpFrame *f = NULL;
            int rc = fp_source_next(k->src, &f, 0);
            if (rc == FP_ETIMEOUT)
                continue;
            if (rc < 0) {
                k->ended = true;
                live--;
                if (rc != FP_EEND_OF_STREAM)
                    fp_log_error("dist", "camera %s: %s", k->cc->name, fp_error_detail(rc));
                else
                    fp_log_info("dist", "camera %s: end of stream after %llu frames", k->cc->name,
                                (unsigned long long)k->seq);
                continue;
            }
            any = true;
            rc = send_frame(c, k, f);
            fp_frame_unref(&f);
            if (rc == FP_EFLUSHING)
                return 0;
            if (rc == FP_ECONFIG)
                return rc;
            if (rc < 0)
                fp_log_error("dist", "camera %s: frame not sent: %s", k->cc->name, fp_error_detail(rc));
        }
        if (!any) {
            pthread_mutex_lock(&c->lock);
            if (!c->notified) {
                struct timespec ts = fp_deadline_ts(50000000LL);
                pthread_cond_timedwait(&c->cond, &c->lock, &ts);
            }
            c->notified = 0;
            pthread_mutex_unlock(&c->lock);
        }
    }
    return 0;
}

int fp_dist_camera_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt)
{
    if (!cfg->dist.enabled)
        return fp_error(FP_ECONFIG, "camera: the config has no redis: section (see docs/distributed.md)");
    if (cfg->n_cameras < 1)
        return fp_error(FP_ECONFIG, "camera: the config has no cameras");
    Camera *c = calloc(1, sizeof(*c));
    if (!c)
        return fp_error(-ENOMEM, "camera: out of memory");
    c->cfg = cfg;
    pthread_mutex_init(&c->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    fp_histogram_init(&c->h_prep), fp_histogram_init(&c->h_encode), fp_histogram_init(&c->h_send);
    fp__broker_init(&c->broker, &cfg->dist.redis, "camera", opt ? opt->stop : NULL);
    c->broker.give_up_ns = opt ? opt->connect_give_up_ns : 0;
    c->epoch = fp_wall_ns();
    FpHttpServer *http = NULL;
    FpFamily family;
    /* Redis first: a refused password or a stop while waiting ends the role before the model loads */
    int rc = fp__broker_ensure(&c->broker);
    if (rc < 0 || (rc = fp__dist_model_geometry(cfg, &c->in_w, &c->in_h, &family)) < 0)
        goto done;
    c->pad = family == FP_FAMILY_BLAZEFACE ? 0.f : 114.f;
    c->jpeg_cap = tjBufSize(c->in_w, c->in_h, TJSAMP_420);
    c->picture = malloc((size_t)c->in_w * (size_t)c->in_h * 3);
    c->jpeg = tjAlloc((int)c->jpeg_cap);
    c->tj = tjInitCompress();
    c->cams = calloc((size_t)cfg->n_cameras, sizeof(CamState));
    if (!c->picture || !c->jpeg || !c->tj || !c->cams) {
        rc = fp_error(-ENOMEM, "camera: out of memory");
        goto done;
    }
    if ((rc = fp_metrics_create(&c->metrics)) < 0 || (rc = camera_metrics(c)) < 0)
        goto done;
    for (int i = 0; i < cfg->n_cameras; i++) {
        CamState *k = &c->cams[i];
        k->cc = &cfg->cameras[i];
        FpSourceConfig sc = k->cc->source;
        sc.name = k->cc->name;
        sc.camera = i;
        if ((rc = fp_source_open(&k->src, &sc, NULL)) < 0 || (rc = fp_source_set_notify(k->src, on_frame, c)) < 0 ||
            (rc = fp_source_add_metrics(k->src, c->metrics)) < 0)
            goto done;
        c->n++;
    }
    if ((rc = fp__role_http(&http, opt ? opt->http : NULL, c->metrics)) < 0)
        goto done;
    for (int i = 0; i < c->n; i++)
        if ((rc = fp_source_start(c->cams[i].src)) < 0)
            goto done;
    rc = camera_loop(c, opt);
    FpHistogramSummary hp, he, hs;
    fp_histogram_summary(&c->h_prep, &hp), fp_histogram_summary(&c->h_encode, &he);
    fp_histogram_summary(&c->h_send, &hs);
    fp_log_info("dist", "camera: sent %llu frames, %llu bytes, %.0f skipped; per frame: letterbox %.3f ms, "
                "encode %.3f ms, XADD %.3f ms (means)",
                (unsigned long long)fp_counter_get(&c->sent), (unsigned long long)fp_counter_get(&c->bytes),
                gauge_skipped(c), hp.mean / 1e6, he.mean / 1e6, hs.mean / 1e6);
done:
    if (rc == FP_EFLUSHING) /* stopped while waiting for Redis */
        rc = 0;
    fp_http_server_destroy(&http);
    for (int i = 0; i < c->n; i++) {
        fp_source_stop(c->cams[i].src);
        fp_source_close(&c->cams[i].src);
        fp_letterbox_destroy(&c->cams[i].plan);
    }
    fp_metrics_destroy(&c->metrics);
    fp__broker_deinit(&c->broker);
    if (c->tj)
        tjDestroy(c->tj);
    tjFree(c->jpeg);
    free(c->picture);
    free(c->cams);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return rc;
}
