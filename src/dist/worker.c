// SPDX-License-Identifier: MIT
// The worker role (`framepipe worker CONFIG`): XREADGROUP up to max_batch frames, JPEG-decode each into its batch slot, one model run, boxes back to source pixels, XADD one result per frame, XACK.
//
// At-least-once: a frame is acknowledged only after its result is in the
// result stream, so a worker that dies leaves its frames pending; every
// worker claims (XAUTOCLAIM) entries idle longer than redis.claim_idle and
// runs them. A result may therefore be sent twice (a worker dying between
// XADD and XACK, a claimed frame its slow owner also finishes); the logic
// role drops the second one. Poison (a malformed entry, an undecodable JPEG,
// a picture that is not the model's input size) goes to the dead-letter
// stream with its reason and is acknowledged. A batch whose model run fails
// stays pending and is claimed again; a frame delivered redis.max_deliveries
// times (XPENDING's counter) is dead-lettered with the model's error. Each picture is decoded
// straight into its slot of the batch tensor (slot.h: libjpeg scanlines
// converted row by row, no intermediate picture); the batch tensor, the
// decoder's row, the detections and the packed results are allocated once.
#include "dist_internal.h"
#include "slot.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/http.h"
#include "framepipe/log.h"
#include "framepipe/model.h"
#include "framepipe/post.h"
#include "framepipe/prep.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef struct Worker {
    const FpPipelineConfig *cfg;
    const FpDistSection *d;
    FpBroker broker;
    char consumer[FP_DIST_NAME_MAX];
    FpModel *model;
    FpPost *post;
    FpFamilyInfo family;
    FpTensorView views[FP_POST_MAX_OUTPUTS];
    int n_outputs;
    int max_batch, max_det;
    int in_w, in_h;
    size_t slot_bytes;
    uint8_t *tensor;       /* max_batch slots */
    FpSlotDecoder *slots;  /* JPEG or raw RGB (in_w x in_h) -> a slot (dtype, layout, normalisation) */
    FpDetection *dets;     /* max_batch * max_det */
    uint8_t *packed;       /* max_det * FP_DIST_DET_BYTES */
    FpMetrics *metrics;
    FpCounter frames, batches, claimed, late, dead, results, model_failures;
    FpHistogram h_decode, h_infer, h_post, h_batch, h_age;
    int64_t next_claim_ns, next_backlog_ns;
} Worker;

/* one entry of a read batch */
typedef struct Item {
    const char *id;
    FpDistFrame m;
} Item;

static int worker_metrics(Worker *w)
{
    FpMetrics *m = w->metrics;
    int rc = fp_metrics_add_counter(m, "fp_dist_frames_total", NULL, "frames run through the model", &w->frames, w);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_batches_total", NULL, "model runs", &w->batches, w);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_results_sent_total", NULL, "results XADDed", &w->results, w);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_claimed_total", NULL,
                                          "frames claimed (XAUTOCLAIM) from consumers idle too long", &w->claimed, w);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_late_total", NULL,
                                          "frames older than redis.max_age: acknowledged, not run", &w->late, w);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_dead_lettered_total", NULL,
                                          "poison frames moved to the dead-letter stream", &w->dead, w);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_model_failures_total", NULL,
                                          "batches whose model run failed (their frames: retried, then dead-lettered)",
                                          &w->model_failures, w);
    rc = rc ? rc : fp__broker_metrics(&w->broker, m, true, w);
    static const char *stages[] = {"decode", "infer", "post"};
    FpHistogram *hs[] = {&w->h_decode, &w->h_infer, &w->h_post};
    for (int i = 0; i < 3 && !rc; i++) {
        char labels[48];
        snprintf(labels, sizeof(labels), "stage=\"%s\"", stages[i]);
        rc = fp_metrics_add_histogram(m, "fp_dist_stage_seconds", labels, "worker role: per batch", hs[i], 1, w);
    }
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_batch_size", NULL, "frames per batch", &w->h_batch, 0, w);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_dist_frame_age_seconds", NULL,
                                            "capture (camera wall clock) to the start of the model run", &w->h_age,
                                            1, w);
    return rc;
}

/* The model, the decoder and the conversion plan; the settings of the in-process pipeline (pipeline.c). */
static int worker_model(Worker *w)
{
    const FpModelSection *ms = &w->cfg->model;
    FpModelConfig mc;
    fp_model_config_init(&mc);
    mc.provider = ms->provider;
    mc.provider_fallback = ms->provider_fallback;
    mc.intra_threads = ms->threads;
    mc.max_batch = w->max_batch;
    mc.input_width = ms->input_width;
    mc.input_height = ms->input_height;
    int rc = fp_model_create(&w->model, ms->path, &mc);
    if (rc < 0 || (rc = fp_model_require_family(w->model, &w->family)) < 0)
        return rc;
    const FpModelInput *in = fp_model_input(w->model);
    const FpTensorInfo *ti = fp_model_input_info(w->model, 0);
    FpPrepOptions o;
    fp_prep_options_init(&o, in->width, in->height);
    o.layout = in->layout;
    o.type = in->dtype;
    if (in->channels != FP_PREP_CHANNELS || !fp_prep_writes_dtype(in->dtype) ||
        (in->layout != FP_LAYOUT_NCHW && in->layout != FP_LAYOUT_NHWC) || in->width <= 0 || in->height <= 0 ||
        ti->item_bytes != fp_prep_slot_bytes(&o))
        return fp_error(FP_EMODEL, "model %s: input '%s' is not a fixed-size 3-channel image the worker can fill",
                        ms->path, ti->name);
    if (o.type == FP_DTYPE_UINT8) {
        for (int c = 0; c < 3; c++)
            o.scale[c] = 1.f, o.offset[c] = 0.f;
    } else if (w->family.family == FP_FAMILY_BLAZEFACE) {
        for (int c = 0; c < 3; c++)
            o.scale[c] = 2.f / 255.f, o.offset[c] = -1.f, o.pad[c] = 0.f;
    }
    w->in_w = in->width, w->in_h = in->height;
    w->slot_bytes = fp_prep_slot_bytes(&o);
    /* the picture already has the input's size: decoded and converted into the slot, no resampling */
    if ((rc = fp__slot_decoder_create(&w->slots, &o)) < 0)
        return rc;
    FpPostConfig pc;
    fp_post_config_init(&pc, w->family.family);
    if (ms->confidence >= 0)
        pc.conf_threshold = ms->confidence;
    if (ms->iou >= 0)
        pc.nms.iou_threshold = ms->iou;
    if (ms->max_detections > 0)
        pc.nms.max_det = ms->max_detections;
    pc.input_width = in->width;
    pc.input_height = in->height;
    if (w->family.family == FP_FAMILY_YOLOV8_RAW) {
        pc.num_classes = w->family.num_classes;
        if (w->family.reg_max > 0)
            pc.reg_max = w->family.reg_max;
    }
    if (w->family.family == FP_FAMILY_BLAZEFACE &&
        (in->width != in->height || fp_post_blazeface_anchor_options(in->width, &pc.anchors) < 0))
        return fp_error(FP_EMODEL, "model %s: BlazeFace input %dx%d is neither 128 nor 256", ms->path, in->width,
                        in->height);
    w->max_det = pc.nms.max_det > FP_DIST_MAX_DETS ? FP_DIST_MAX_DETS : pc.nms.max_det;
    pc.nms.max_det = w->max_det;
    w->n_outputs = w->family.n_outputs;
    for (int k = 0; k < w->n_outputs; k++) {
        const FpTensorInfo *oi = fp_model_output_info(w->model, w->family.outputs[k]);
        if (oi->dtype != FP_DTYPE_FLOAT32)
            return fp_error(FP_EMODEL, "model %s: output '%s' is not float32", ms->path, oi->name);
        memset(&w->views[k], 0, sizeof(w->views[k]));
        w->views[k].rank = oi->rank;
        memcpy(w->views[k].dims, oi->dims, sizeof(int64_t) * (size_t)oi->rank);
        w->views[k].dims[0] = w->max_batch;
    }
    if ((rc = fp_post_create(&w->post, &pc, w->views, w->n_outputs)) < 0)
        return rc;
    w->tensor = aligned_alloc(64, (w->slot_bytes * (size_t)w->max_batch + 63) / 64 * 64);
    w->dets = calloc((size_t)w->max_batch * (size_t)w->max_det, sizeof(FpDetection));
    w->packed = malloc((size_t)w->max_det * FP_DIST_DET_BYTES);
    if (!w->tensor || !w->dets || !w->packed)
        return fp_error(-ENOMEM, "worker: out of memory");
    return 0;
}

/* Decodes a frame's payload into batch slot s. 0, or FP_ECORRUPT with the reason (poison). */
static int decode(Worker *w, const FpDistFrame *m, int s)
{
    uint8_t *slot = w->tensor + (size_t)s * w->slot_bytes;
    if (m->tf.dst_width != w->in_w || m->tf.dst_height != w->in_h)
        return fp_error(FP_ECORRUPT, "frame is %dx%d, the model's input is %dx%d", m->tf.dst_width,
                        m->tf.dst_height, w->in_w, w->in_h);
    if (m->encoding == FP_DIST_RAW)
        return fp__slot_convert_raw(w->slots, m->payload, m->payload_len, slot);
    return fp__slot_decode_jpeg(w->slots, m->payload, m->payload_len, slot);
}

/* XADDs the results of items[0..n) (pipelined), then XACKs their ids. 0 or FP_EIO (connection lost). */
static int send_results(Worker *w, const Item *items, const int *counts, int n, int64_t infer_ns)
{
    const FpDistSection *d = w->d;
    redisContext *ctx = w->broker.ctx;
    char maxlen[24];
    snprintf(maxlen, sizeof(maxlen), "%d", d->maxlen);
    for (int i = 0; i < n; i++) {
        const FpDistFrame *m = &items[i].m;
        FpDistResult r;
        memset(&r, 0, sizeof(r));
        memcpy(r.camera, m->camera, sizeof(r.camera));
        memcpy(r.worker, w->consumer, sizeof(r.worker));
        r.epoch = m->epoch, r.seq = m->seq, r.frame = m->frame, r.pts_ns = m->pts_ns, r.capture_ns = m->capture_ns;
        r.src_width = m->tf.src_width, r.src_height = m->tf.src_height;
        r.batch = n, r.infer_ns = infer_ns, r.done_ns = fp_wall_ns();
        /* a model's NaN/inverted box would make the result unparseable downstream: left out, with a warning */
        FpDetection *fd = w->dets + (size_t)i * (size_t)w->max_det;
        int kept = 0;
        for (int k = 0; k < counts[i]; k++)
            if (fp_dist_detection_ok(&fd[k]))
                fd[kept++] = fd[k];
        if (kept < counts[i])
            fp_log_warn("dist", "worker: camera %s frame %" PRIu64 ": %d detection(s) with a non-finite or inverted "
                                "box left out", m->camera, m->seq, counts[i] - kept);
        r.n_dets = kept;
        FpDistFields f;
        int rc = fp_dist_result_encode(&r, fd, w->packed,
                                       (size_t)w->max_det * FP_DIST_DET_BYTES, &f);
        if (rc < 0)
            return rc;
        const char *argv[6 + 2 * FP_DIST_MAX_FIELDS];
        size_t lens[6 + 2 * FP_DIST_MAX_FIELDS];
        const char *head[] = {"XADD", d->results, "MAXLEN", "~", maxlen, "*"};
        int argc = 0;
        for (int k = 0; k < 6; k++)
            argv[argc] = head[k], lens[argc++] = strlen(head[k]);
        for (int k = 0; k < f.n; k++) {
            argv[argc] = f.name[k], lens[argc++] = f.name_len[k];
            argv[argc] = f.value[k], lens[argc++] = f.value_len[k];
        }
        if (redisAppendCommandArgv(ctx, argc, argv, lens) != REDIS_OK)
            return FP_EIO;
    }
    const char *ack[3 + 1024];
    ack[0] = "XACK", ack[1] = d->frames, ack[2] = d->worker_group;
    for (int i = 0; i < n; i++)
        ack[3 + i] = items[i].id;
    if (redisAppendCommandArgv(ctx, 3 + n, ack, NULL) != REDIS_OK)
        return FP_EIO;
    int rc = 0;
    for (int i = 0; i <= n; i++) {
        void *reply = NULL;
        if (redisGetReply(ctx, &reply) != REDIS_OK || !reply) {
            fp_log_warn("dist", "worker: redis: %s; reconnecting", ctx->errstr);
            fp__broker_drop(&w->broker);
            return FP_EIO;
        }
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR) {
            fp_log_warn("dist", "worker: %s: %s", i < n ? "XADD" : "XACK", r->str);
            rc = FP_EIO;
        } else if (i < n) {
            fp_counter_add(&w->results, 1);
        }
        freeReplyObject(r);
    }
    return rc;
}

/* Times entry `id` has been delivered to the group (XPENDING's delivery counter); 0 when it is not pending,
 * FP_EIO when the connection dropped. */
static int64_t deliveries(Worker *w, const char *id)
{
    const char *argv[] = {"XPENDING", w->d->frames, w->d->worker_group, id, id, "1"};
    redisReply *r = fp__broker_cmd(&w->broker, 6, argv, NULL);
    if (!r)
        return FP_EIO;
    int64_t n = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
        r->element[0]->elements == 4 && r->element[0]->element[3]->type == REDIS_REPLY_INTEGER)
        n = r->element[0]->element[3]->integer;
    freeReplyObject(r);
    return n;
}

/*
 * The model run of a batch failed: its frames stay pending (another worker, or this one, claims them again
 * after redis.claim_idle), except those delivered redis.max_deliveries times or more: those go to the
 * dead-letter stream with the reason and are acknowledged. 0, or FP_EIO (connection lost).
 */
static int model_failed(Worker *w, const Item *items, int n, int err)
{
    fp_counter_add(&w->model_failures, 1);
    char detail[400], reason[512];
    snprintf(detail, sizeof(detail), "%s", fp_error_detail(err));
    int retried = 0;
    for (int i = 0; i < n; i++) {
        int64_t k = deliveries(w, items[i].id);
        if (k < 0)
            return (int)k;
        if (k < w->d->max_deliveries) {
            retried++;
            continue;
        }
        snprintf(reason, sizeof(reason), "model run failed in each of %lld deliveries (batch of %d): %s",
                 (long long)k, n, detail);
        fp_counter_add(&w->dead, 1);
        int rc = fp__dead_letter(&w->broker, w->d, w->d->frames, w->d->worker_group, items[i].id, reason);
        if (rc < 0)
            return rc;
    }
    if (retried)
        fp_log_warn("dist", "worker %s: model run failed for a batch of %d (%s); %d frame(s) stay pending, to be "
                    "claimed again (dead-lettered after %d deliveries)", w->consumer, n, detail, retried,
                    w->d->max_deliveries);
    return 0;
}

/* Runs the entries of a read or claim reply: parse, drop late, decode, model, post, results, acks. */
static int run_entries(Worker *w, const redisReply *entries)
{
    Item items[1024];
    int counts[1024];
    int n = 0;
    int64_t now = fp_wall_ns(), decode_ns = 0;
    char reason[512];
    for (size_t e = 0; e < entries->elements; e++) {
        const redisReply *ent = entries->element[e];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 2 || ent->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = ent->element[0]->str;
        if (ent->element[1]->type == REDIS_REPLY_NIL) { /* trimmed away while pending: nothing to run */
            const char *ack[] = {"XACK", w->d->frames, w->d->worker_group, id};
            redisReply *r = fp__broker_cmd(&w->broker, 4, ack, NULL);
            if (!r)
                return FP_EIO;
            freeReplyObject(r);
            continue;
        }
        FpDistFields f;
        int rc = fp__entry_fields(ent->element[1], &f);
        Item *it = &items[n];
        if (rc == 0)
            rc = fp_dist_frame_parse(&f, &it->m);
        if (rc == 0 && w->d->max_age_ns > 0 && now - it->m.capture_ns > w->d->max_age_ns) {
            fp_counter_add(&w->late, 1);
            const char *ack[] = {"XACK", w->d->frames, w->d->worker_group, id};
            redisReply *r = fp__broker_cmd(&w->broker, 4, ack, NULL);
            if (!r)
                return FP_EIO;
            freeReplyObject(r);
            continue;
        }
        if (rc == 0) {
            int64_t d0 = fp_clock_ns();
            rc = decode(w, &it->m, n);
            decode_ns += fp_clock_ns() - d0;
        }
        if (rc < 0) {
            snprintf(reason, sizeof(reason), "%s", fp_error_detail(rc));
            fp_counter_add(&w->dead, 1);
            if ((rc = fp__dead_letter(&w->broker, w->d, w->d->frames, w->d->worker_group, id, reason)) < 0)
                return rc;
            continue;
        }
        it->id = id;
        n++;
        if (n == w->max_batch || n == 1024)
            break; /* XAUTOCLAIM may hand more than a batch: the rest stays pending and is claimed again */
    }
    if (n == 0)
        return 0;
    for (int i = 0; i < n; i++)
        fp_histogram_record(&w->h_age, (uint64_t)(now > items[i].m.capture_ns ? now - items[i].m.capture_ns : 0));
    int64_t t1 = fp_clock_ns();
    int rc = fp_model_run(w->model, w->tensor, n);
    int64_t t2 = fp_clock_ns();
    if (rc < 0)
        return model_failed(w, items, n, rc);
    FpTensorView views[FP_POST_MAX_OUTPUTS];
    FpTransform tfs[1024];
    for (int k = 0; k < w->n_outputs; k++) {
        views[k] = w->views[k];
        views[k].data = fp_model_output_data(w->model, w->family.outputs[k]);
        views[k].dims[0] = n;
    }
    for (int i = 0; i < n; i++)
        tfs[i] = items[i].m.tf;
    rc = fp_post_run(w->post, views, w->n_outputs, n, tfs, w->dets, w->max_det, counts);
    int64_t t3 = fp_clock_ns();
    if (rc < 0)
        return rc;
    fp_histogram_record(&w->h_decode, (uint64_t)decode_ns); /* JPEG decode + conversion into the slots */
    fp_histogram_record(&w->h_infer, (uint64_t)(t2 - t1));
    fp_histogram_record(&w->h_post, (uint64_t)(t3 - t2));
    fp_histogram_record(&w->h_batch, (uint64_t)n);
    fp_counter_add(&w->frames, (uint64_t)n);
    fp_counter_add(&w->batches, 1);
    return send_results(w, items, counts, n, t2 - t1);
}

static int worker_step(Worker *w)
{
    const FpDistSection *d = w->d;
    int64_t now = fp_clock_ns();
    char count[16], idle[24];
    snprintf(count, sizeof(count), "%d", w->max_batch);
    if (now >= w->next_claim_ns) {
        w->next_claim_ns = now + d->claim_idle_ns / 2;
        snprintf(idle, sizeof(idle), "%lld", (long long)(d->claim_idle_ns / 1000000));
        const char *argv[] = {"XAUTOCLAIM", d->frames, d->worker_group, w->consumer, idle, "0-0", "COUNT", count};
        redisReply *r = fp__broker_cmd(&w->broker, 8, argv, NULL);
        if (!r)
            return FP_EIO;
        const redisReply *ents = fp__claim_entries(r);
        int rc = 0;
        if (ents && ents->elements > 0) {
            fp_counter_add(&w->claimed, ents->elements);
            fp_log_info("dist", "worker %s: claimed %zu frames idle > %s ms", w->consumer, ents->elements, idle);
            rc = run_entries(w, ents);
            if (ents->elements >= (size_t)w->max_batch)
                w->next_claim_ns = now; /* more may wait */
        }
        freeReplyObject(r);
        if (rc < 0)
            return rc;
    }
    if (now >= w->next_backlog_ns) {
        w->next_backlog_ns = now + 1000000000LL;
        fp__group_backlog(&w->broker, d->frames, d->worker_group);
        if (!w->broker.ctx)
            return FP_EIO;
    }
    redisReply *r = NULL;
    int rc = fp__read_group(&w->broker, d, d->frames, d->worker_group, w->consumer, w->max_batch, "worker", &r);
    if (rc < 0 || !r)
        return rc;
    const redisReply *ents = fp__read_entries(r);
    if (ents)
        rc = run_entries(w, ents);
    freeReplyObject(r);
    return rc;
}

int fp_dist_worker_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt)
{
    if (!cfg->dist.enabled)
        return fp_error(FP_ECONFIG, "worker: the config has no redis: section (see docs/distributed.md)");
    Worker *w = calloc(1, sizeof(*w));
    if (!w)
        return fp_error(-ENOMEM, "worker: out of memory");
    w->cfg = cfg;
    w->d = &cfg->dist;
    w->max_batch = cfg->batch.max_batch < 1 ? 1 : cfg->batch.max_batch > 1024 ? 1024 : cfg->batch.max_batch;
    fp_histogram_init(&w->h_decode), fp_histogram_init(&w->h_infer), fp_histogram_init(&w->h_post);
    fp_histogram_init(&w->h_batch), fp_histogram_init(&w->h_age);
    fp__consumer_name(cfg, opt, w->consumer, sizeof(w->consumer));
    fp__broker_init(&w->broker, &cfg->dist.redis, "worker", opt ? opt->stop : NULL);
    w->broker.give_up_ns = opt ? opt->connect_give_up_ns : 0;
    FpHttpServer *http = NULL;
    /* Redis first: a refused password or a stop while waiting ends the role before the model loads */
    int rc = fp__broker_ensure(&w->broker);
    if (rc < 0 || (rc = worker_model(w)) < 0 || (rc = fp_metrics_create(&w->metrics)) < 0 || (rc = worker_metrics(w)) < 0 ||
        (rc = fp__role_http(&http, opt ? opt->http : NULL, w->metrics)) < 0)
        goto done;
    fp_log_info("dist", "worker %s: %s, batch up to %d, %dx%d", w->consumer, cfg->model.path, w->max_batch, w->in_w,
                w->in_h);
    bool grouped = false;
    while (!fp__broker_stopped(&w->broker)) {
        if ((rc = fp__broker_ensure(&w->broker)) < 0)
            break;
        if (!grouped && (rc = fp__ensure_group(&w->broker, w->d->frames, w->d->worker_group)) < 0) {
            fp__broker_drop(&w->broker);
            continue;
        }
        grouped = true;
        rc = worker_step(w);
        if (rc == FP_EIO) {
            grouped = false; /* after a reconnect: the group may have to be made again */
            continue;
        }
        if (rc < 0)
            fp_log_error("dist", "worker %s: %s", w->consumer, fp_error_detail(rc));
    }
    if (rc == FP_EFLUSHING || fp__broker_stopped(&w->broker))
        rc = 0;
    fp_log_info("dist", "worker %s: %llu frames, %llu batches, %llu claimed, %llu late, %llu dead-lettered, "
                "%llu failed model runs",
                w->consumer, (unsigned long long)fp_counter_get(&w->frames),
                (unsigned long long)fp_counter_get(&w->batches), (unsigned long long)fp_counter_get(&w->claimed),
                (unsigned long long)fp_counter_get(&w->late), (unsigned long long)fp_counter_get(&w->dead),
                (unsigned long long)fp_counter_get(&w->model_failures));
done:
    if (rc == FP_EFLUSHING) /* stopped while waiting for Redis */
        rc = 0;
    fp_http_server_destroy(&http);
    fp_metrics_destroy(&w->metrics);
    fp__broker_deinit(&w->broker);
    fp_post_destroy(&w->post);
    fp__slot_decoder_destroy(&w->slots);
    fp_model_destroy(&w->model);
    free(w->tensor);
    free(w->dets);
    free(w->packed);
    free(w);
    return rc;
}
