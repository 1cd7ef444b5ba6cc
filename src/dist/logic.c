// SPDX-License-Identifier: MIT
// The logic role (`framepipe logic CONFIG`): reads the result stream as a consumer group, drops duplicates, puts each camera's results back in sequence, then tracking, rules, events and the outputs (the in-process code).
//
// Exactly once: results may arrive twice (a worker died between XADD and
// XACK; a claimed frame its owner also finished) and out of order (two
// workers). Per camera the role keeps the next sequence number it will
// deliver and a reorder window of FP_LOGIC_WINDOW results: a result below
// it, or one already waiting in the window, is a duplicate (acknowledged,
// counted, dropped). When a number is missing for longer than
// redis.reorder_wait (a frame trimmed away, dead-lettered or late), the
// window moves past it and the gap is counted. The delivered high-water
// mark is written to the hash "<results>:delivered" (camera -> "epoch seq")
// in the same round trip as the XACK, so a restarted logic role does not
// deliver again what its predecessor delivered. Results of a camera that
// restarted carry a newer epoch: the old sequence is flushed and the new
// one starts at 0.
#include "dist_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/http.h"
#include "framepipe/log.h"
#include "framepipe/model.h"
#include "framepipe/pipeline.h"
#include "framepipe/labels.h"
#include "framepipe/rules.h"
#include "framepipe/track.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FP_LOGIC_WINDOW 256

typedef struct Slot {
    bool used;
    FpDistResult r;
    FpDetection *dets;
    int dets_cap;
    char id[48];
    int64_t arrived_ns;
} Slot;

typedef struct Logic Logic;

typedef struct LCam {
    Logic *l;
    char name[FP_DIST_NAME_MAX];
    int index;
    int64_t epoch;
    uint64_t next;
    Slot *window;         /* FP_LOGIC_WINDOW, by seq % window */
    int waiting;          /* used slots */
    FpTracker *tracker;
    FpRules *rules;
    uint64_t *track_ids;
    int64_t t_last, t_offset;
    bool t_any;
    bool hwm_known;       /* the high-water mark was read back from Redis (retried until it was) */
    const FpFrameResult *current;
} LCam;

struct Logic {
    const FpPipelineConfig *cfg;
    const FpDistSection *d;
    const FpDistRoleOptions *opt;
    FpBroker broker;
    char consumer[FP_DIST_NAME_MAX];
    char hwm_key[256];
    char **class_names;
    int n_classes;
    LCam **cams; /* each allocated alone: the rules engines keep a pointer to theirs */
    int n_cams, cap_cams;
    FpDetection scratch[FP_DIST_MAX_DETS];
    FpMetrics *metrics;
    bool own_metrics;
    FpCounter delivered, duplicates, gaps, dead, claimed, events, sink_errors;
    FpHistogram h_latency, h_broker;
    int64_t next_claim_ns, next_backlog_ns;
};

static int logic_metrics(Logic *l)
{
    FpMetrics *m = l->metrics;
    int rc = fp_metrics_add_counter(m, "fp_dist_results_delivered_total", NULL,
                                    "results delivered to tracking, rules and outputs (once per frame)",
                                    &l->delivered, l);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_duplicates_total", NULL, "results dropped as duplicates",
                                          &l->duplicates, l);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_gaps_total", NULL,
                                          "sequence numbers skipped after redis.reorder_wait", &l->gaps, l);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_dead_lettered_total", NULL,
                                          "poison results moved to the dead-letter stream", &l->dead, l);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_claimed_total", NULL,
                                          "results claimed from logic consumers idle too long", &l->claimed, l);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_events_total", NULL, "events raised by the rules", &l->events, l);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_sink_errors_total", NULL, "sink calls that failed",
                                          &l->sink_errors, l);
    rc = rc ? rc : fp__broker_metrics(&l->broker, m, true, l);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_dist_latency_seconds", NULL,
                                            "capture (camera wall clock) to delivery at the logic role",
                                            &l->h_latency, 1, l);
    rc = rc ? rc : fp_metrics_add_histogram(m, "fp_dist_result_transit_seconds", NULL,
                                            "result sent by the worker to read by the logic role", &l->h_broker, 1,
                                            l);
    return rc;
}

/* The class names, as `framepipe run` has them (pipeline.c): the labels file, else the model's metadata, else
 * the family's (BlazeFace: "face"). The model is opened once for them, then closed. */
static int load_classes(Logic *l)
{
    FpLabels *labels = NULL;
    int rc;
    if (l->cfg->model.labels && (rc = fp_labels_load(&labels, l->cfg->model.labels)) < 0)
        return rc;
    FpModelConfig mc;
    fp_model_config_init(&mc);
    mc.input_width = l->cfg->model.input_width;
    mc.input_height = l->cfg->model.input_height;
    FpModel *m = NULL;
    rc = fp_model_create(&m, l->cfg->model.path, &mc);
    if (rc < 0) {
        fp_labels_destroy(&labels);
        return rc;
    }
    FpFamilyInfo fi;
    bool blazeface = fp_model_family(m, &fi) == FP_FAMILY_BLAZEFACE;
    int n = labels ? fp_labels_count(labels) : fp_model_class_count(m);
    if (n <= 0 && blazeface)
        n = 1;
    if (n > 0) {
        l->class_names = calloc((size_t)n, sizeof(char *));
        if (!l->class_names) {
            fp_model_destroy(&m);
            fp_labels_destroy(&labels);
            return fp_error(-ENOMEM, "logic: out of memory");
        }
        l->n_classes = n;
        for (int i = 0; i < n; i++) {
            const char *s = labels ? fp_labels_name(labels, i) : fp_model_class_count(m) > 0 ? fp_model_class_name(m, i)
                                                                                             : "face";
            l->class_names[i] = s ? strdup(s) : NULL;
        }
    }
    fp_model_destroy(&m);
    fp_labels_destroy(&labels);
    return 0;
}

static void on_event(void *opaque, const FpEvent *ev)
{
    LCam *c = opaque;
    Logic *l = c->l;
    fp_counter_add(&l->events, 1);
    for (int s = 0; s < l->opt->n_event_sinks; s++)
        if (l->opt->event_sinks[s](l->opt->event_opaque[s], ev, c->current) < 0)
            fp_counter_add(&l->sink_errors, 1);
}

/* Tracker and rules of a camera of the config (by name); a camera the config does not list gets neither. */
static int cam_tracking(Logic *l, LCam *c)
{
    const FpPipelineConfig *cfg = l->cfg;
    int k = 0;
    while (k < cfg->n_cameras && strcmp(cfg->cameras[k].name, c->name))
        k++;
    if ((!cfg->tracker.enabled && cfg->n_rules == 0) || k == cfg->n_cameras)
        return 0;
    int rc = fp_tracker_create(&c->tracker, &cfg->tracker.tracker);
    if (rc < 0)
        return rc;
    c->track_ids = calloc(FP_DIST_MAX_DETS, sizeof(uint64_t));
    if (!c->track_ids)
        return fp_error(-ENOMEM, "logic: out of memory");
    FpRuleConfig rules[FP_PIPELINE_MAX_RULES];
    FpRulesConfig rc_cfg;
    int n = fp_pipeline_camera_rules(cfg, k, (const char *const *)l->class_names, l->n_classes, rules, &rc_cfg);
    if (n <= 0)
        return n;
    rc_cfg.camera_name = c->name;
    rc_cfg.camera_index = c->index;
    return fp_rules_create(&c->rules, &rc_cfg, on_event, c);
}

/* The last delivered (epoch, seq) of camera c, if an earlier logic role delivered some. 0 or FP_EIO. */
static int read_hwm(Logic *l, LCam *c)
{
    const char *argv[] = {"HGET", l->hwm_key, c->name};
    redisReply *r = fp__broker_cmd(&l->broker, 3, argv, NULL);
    if (!r)
        return FP_EIO;
    long long ep;
    unsigned long long sq;
    if (r->type == REDIS_REPLY_STRING && sscanf(r->str, "%lld %llu", &ep, &sq) == 2 &&
        (ep > c->epoch || (ep == c->epoch && sq + 1 > c->next))) {
        c->epoch = ep;
        c->next = sq + 1;
    }
    int rc = r->type == REDIS_REPLY_ERROR ? FP_EIO : 0;
    freeReplyObject(r);
    c->hwm_known = rc == 0;
    return rc;
}

/* The camera named `name`, made on first sight (its high-water mark read back from Redis); NULL on failure. */
static LCam *camera(Logic *l, const char *name, int *err)
{
    *err = 0;
    for (int i = 0; i < l->n_cams; i++)
        if (!strcmp(l->cams[i]->name, name)) {
            LCam *c = l->cams[i];
            if (!c->hwm_known)
                *err = read_hwm(l, c);
            return c;
        }
    if (l->n_cams == l->cap_cams) {
        int cap = l->cap_cams ? l->cap_cams * 2 : 16;
        LCam **n = realloc(l->cams, (size_t)cap * sizeof(LCam *));
        if (!n) {
            *err = fp_error(-ENOMEM, "logic: out of memory");
            return NULL;
        }
        l->cams = n;
        l->cap_cams = cap;
    }
    LCam *c = calloc(1, sizeof(LCam));
    if (!c) {
        *err = fp_error(-ENOMEM, "logic: out of memory");
        return NULL;
    }
    l->cams[l->n_cams++] = c;
    c->l = l;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->index = l->cfg->n_cameras + l->n_cams - 1; /* a camera the config does not list: after those it does */
    for (int k = 0; k < l->cfg->n_cameras; k++)
        if (!strcmp(l->cfg->cameras[k].name, name))
            c->index = k;
    c->window = calloc(FP_LOGIC_WINDOW, sizeof(Slot));
    if (!c->window) {
        *err = fp_error(-ENOMEM, "logic: out of memory");
        return NULL;
    }
    if ((*err = cam_tracking(l, c)) < 0)
        return NULL;
    *err = read_hwm(l, c);
    return c;
}

/* Tracking, rules (events to the event sinks), then the frame sinks; then XACK and the high-water mark. */
static int deliver(Logic *l, LCam *c, const FpDistResult *r, const FpDetection *dets, const char *id)
{
    int64_t wall = fp_wall_ns(), mono = fp_clock_ns();
    FpFrame f;
    memset(&f, 0, sizeof(f));
    f.width = r->src_width, f.height = r->src_height;
    f.format = FP_PIX_RGB24;
    f.camera = c->index;
    f.seq = r->frame;
    f.pts_ns = r->pts_ns;
    f.capture_ns = r->capture_ns;
    f.decoded_ns = mono - (wall - r->capture_ns); /* the capture instant on this machine's monotonic clock */
    FpFrameResult fr = {.frame = &f,
                        .camera_name = c->name,
                        .dets = dets,
                        .n_dets = r->n_dets,
                        .class_names = (const char *const *)l->class_names,
                        .n_classes = l->n_classes,
                        .n_keypoints = r->n_dets > 0 ? dets[0].n_keypoints : 0,
                        .infer_ns = r->infer_ns,
                        .batch_size = r->batch};
    if (c->tracker) {
        int64_t t = r->pts_ns + c->t_offset;
        if (c->t_any && t < c->t_last) {
            c->t_offset += c->t_last - t + 1000000;
            t = c->t_last + 1000000;
        }
        c->t_any = true;
        c->t_last = t;
        int n = fp_tracker_update(c->tracker, dets, r->n_dets, t, c->track_ids);
        if (n >= 0) {
            fr.track_ids = c->track_ids;
            if (c->rules) {
                const FpTrack *tracks;
                int nt = fp_tracker_tracks(c->tracker, &tracks);
                c->current = &fr;
                int rc = fp_rules_update(c->rules, tracks, nt, r->src_width, r->src_height, t);
                c->current = NULL;
                if (rc < 0)
                    fp_log_error("dist", "logic: camera %s: rules: %s", c->name, fp_error_detail(rc));
            }
        } else {
            fp_log_error("dist", "logic: camera %s: tracker: %s", c->name, fp_error_detail(n));
        }
    }
    for (int s = 0; s < l->opt->n_sinks; s++)
        if (l->opt->sinks[s](l->opt->sink_opaque[s], &fr) < 0)
            fp_counter_add(&l->sink_errors, 1);
    fp_counter_add(&l->delivered, 1);
    fp_histogram_record(&l->h_latency, (uint64_t)(wall > r->capture_ns ? wall - r->capture_ns : 0));
    char hwm[64];
    snprintf(hwm, sizeof(hwm), "%" PRId64 " %" PRIu64, r->epoch, r->seq);
    c->epoch = r->epoch;
    c->next = r->seq + 1;
    const char *hset[] = {"HSET", l->hwm_key, c->name, hwm};
    const char *ack[] = {"XACK", l->d->results, l->d->logic_group, id};
    redisContext *ctx = l->broker.ctx;
    if (!ctx || redisAppendCommandArgv(ctx, 4, hset, NULL) != REDIS_OK ||
        redisAppendCommandArgv(ctx, 4, ack, NULL) != REDIS_OK)
        return FP_EIO;
    for (int i = 0; i < 2; i++) {
        void *reply = NULL;
        if (redisGetReply(ctx, &reply) != REDIS_OK || !reply) {
            fp__broker_drop(&l->broker);
            return FP_EIO;
        }
        freeReplyObject(reply);
    }
    return 0;
}

static int ack(Logic *l, const char *id)
{
    const char *argv[] = {"XACK", l->d->results, l->d->logic_group, id};
    redisReply *r = fp__broker_cmd(&l->broker, 4, argv, NULL);
    if (!r)
        return FP_EIO;
    freeReplyObject(r);
    return 0;
}

/* Delivers the results waiting at c->next, c->next + 1, ... */
static int drain(Logic *l, LCam *c)
{
    for (;;) {
        Slot *s = &c->window[c->next % FP_LOGIC_WINDOW];
        if (!s->used || s->r.seq != c->next || s->r.epoch != c->epoch)
            return 0;
        s->used = false;
        c->waiting--;
        int rc = deliver(l, c, &s->r, s->dets, s->id);
        if (rc < 0)
            return rc;
    }
}

/* Moves c->next past missing numbers to the lowest waiting result and delivers from there. */
static int skip_gap(Logic *l, LCam *c)
{
    uint64_t low = UINT64_MAX;
    for (int i = 0; i < FP_LOGIC_WINDOW; i++)
        if (c->window[i].used && c->window[i].r.seq < low)
            low = c->window[i].r.seq;
    if (low == UINT64_MAX)
        return 0;
    fp_counter_add(&l->gaps, low - c->next);
    fp_log_warn("dist", "logic: camera %s: sequence %" PRIu64 "..%" PRIu64 " never came; going on", c->name, c->next,
                low - 1);
    c->next = low;
    return drain(l, c);
}

/* Flushes every waiting result of c (in order, over gaps). */
static int flush(Logic *l, LCam *c)
{
    int rc = 0;
    while (c->waiting > 0 && rc == 0)
        rc = skip_gap(l, c);
    return rc;
}

static int on_result(Logic *l, const char *id, const FpDistResult *r, const FpDetection *dets)
{
    int rc;
    LCam *c = camera(l, r->camera, &rc);
    if (!c || rc < 0)
        return rc;
    if (r->epoch < c->epoch || (r->epoch == c->epoch && r->seq < c->next)) {
        fp_counter_add(&l->duplicates, 1);
        return ack(l, id);
    }
    if (r->epoch > c->epoch) { /* the camera restarted: what is left of the old run goes out first */
        if (c->waiting && (rc = flush(l, c)) < 0)
            return rc;
        c->epoch = r->epoch;
        c->next = 0;
    }
    if (r->seq == c->next) {
        if ((rc = deliver(l, c, r, dets, id)) < 0)
            return rc;
        return drain(l, c);
    }
    if (r->seq >= c->next + FP_LOGIC_WINDOW) { /* too far ahead to wait for the numbers between */
        if ((rc = flush(l, c)) < 0)
            return rc;
        fp_counter_add(&l->gaps, r->seq - c->next);
        c->next = r->seq;
        if ((rc = deliver(l, c, r, dets, id)) < 0)
            return rc;
        return drain(l, c);
    }
    Slot *s = &c->window[r->seq % FP_LOGIC_WINDOW];
    if (s->used && s->r.seq == r->seq && s->r.epoch == r->epoch) {
        if (!strcmp(s->id, id)) /* our own waiting entry, claimed back after claim_idle: it stays pending */
            return 0;
        fp_counter_add(&l->duplicates, 1);
        return ack(l, id);
    }
    if (s->dets_cap < r->n_dets) {
        FpDetection *n = realloc(s->dets, (size_t)r->n_dets * sizeof(FpDetection));
        if (!n)
            return fp_error(-ENOMEM, "logic: out of memory");
        s->dets = n;
        s->dets_cap = r->n_dets;
    }
    if (r->n_dets)
        memcpy(s->dets, dets, (size_t)r->n_dets * sizeof(FpDetection));
    s->r = *r;
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->arrived_ns = fp_clock_ns();
    s->used = true;
    c->waiting++;
    return 0;
}

static int run_entries(Logic *l, const redisReply *entries)
{
    char reason[512];
    for (size_t e = 0; e < entries->elements; e++) {
        const redisReply *ent = entries->element[e];
        if (ent->type != REDIS_REPLY_ARRAY || ent->elements < 2 || ent->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *id = ent->element[0]->str;
        if (ent->element[1]->type == REDIS_REPLY_NIL) {
            int rc = ack(l, id);
            if (rc < 0)
                return rc;
            continue;
        }
        FpDistFields f;
        FpDistResult r;
        int rc = fp__entry_fields(ent->element[1], &f);
        if (rc == 0)
            rc = fp_dist_result_parse(&f, &r, l->scratch, FP_DIST_MAX_DETS);
        if (rc < 0) {
            snprintf(reason, sizeof(reason), "%s", fp_error_detail(rc));
            fp_counter_add(&l->dead, 1);
            if ((rc = fp__dead_letter(&l->broker, l->d, l->d->results, l->d->logic_group, id, reason)) < 0)
                return rc;
            continue;
        }
        int64_t wall = fp_wall_ns();
        fp_histogram_record(&l->h_broker, (uint64_t)(wall > r.done_ns ? wall - r.done_ns : 0));
        if ((rc = on_result(l, id, &r, l->scratch)) < 0)
            return rc;
    }
    return 0;
}

static int logic_step(Logic *l)
{
    const FpDistSection *d = l->d;
    int64_t now = fp_clock_ns();
    char idle[24];
    if (now >= l->next_claim_ns) {
        l->next_claim_ns = now + d->claim_idle_ns / 2;
        snprintf(idle, sizeof(idle), "%lld", (long long)(d->claim_idle_ns / 1000000));
        const char *argv[] = {"XAUTOCLAIM", d->results, d->logic_group, l->consumer, idle, "0-0", "COUNT", "256"};
        redisReply *r = fp__broker_cmd(&l->broker, 8, argv, NULL);
        if (!r)
            return FP_EIO;
        const redisReply *ents = fp__claim_entries(r);
        int rc = 0;
        /* our own waiting results are pending too: a claim of those is not a dead consumer's */
        if (ents && ents->elements > 0) {
            size_t foreign = 0;
            for (size_t i = 0; i < ents->elements; i++) {
                const redisReply *ent = ents->element[i];
                bool mine = false;
                for (int k = 0; k < l->n_cams && !mine && ent->type == REDIS_REPLY_ARRAY && ent->elements >= 1; k++)
                    for (int s = 0; s < FP_LOGIC_WINDOW && !mine; s++)
                        mine = l->cams[k]->window[s].used && !strcmp(l->cams[k]->window[s].id, ent->element[0]->str);
                if (!mine)
                    foreign++;
            }
            fp_counter_add(&l->claimed, foreign);
            rc = run_entries(l, ents);
        }
        freeReplyObject(r);
        if (rc < 0)
            return rc;
    }
    if (now >= l->next_backlog_ns) {
        l->next_backlog_ns = now + 1000000000LL;
        fp__group_backlog(&l->broker, d->results, d->logic_group);
        if (!l->broker.ctx)
            return FP_EIO;
    }
    for (int i = 0; i < l->n_cams; i++) {
        LCam *c = l->cams[i];
        if (!c->waiting)
            continue;
        int64_t oldest = INT64_MAX;
        for (int s = 0; s < FP_LOGIC_WINDOW; s++)
            if (c->window[s].used && c->window[s].arrived_ns < oldest)
                oldest = c->window[s].arrived_ns;
        int rc;
        if (now - oldest > d->reorder_wait_ns && (rc = skip_gap(l, c)) < 0)
            return rc;
    }
    redisReply *r = NULL;
    int rc = fp__read_group(&l->broker, d, d->results, d->logic_group, l->consumer, 256, "logic", &r);
    if (rc < 0 || !r)
        return rc;
    const redisReply *ents = fp__read_entries(r);
    if (ents)
        rc = run_entries(l, ents);
    freeReplyObject(r);
    return rc;
}

int fp_dist_logic_run(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt)
{
    if (!cfg->dist.enabled)
        return fp_error(FP_ECONFIG, "logic: the config has no redis: section (see docs/distributed.md)");
    static const FpDistRoleOptions none;
    Logic *l = calloc(1, sizeof(*l));
    if (!l)
        return fp_error(-ENOMEM, "logic: out of memory");
    l->cfg = cfg;
    l->d = &cfg->dist;
    l->opt = opt ? opt : &none;
    fp_histogram_init(&l->h_latency);
    fp_histogram_init(&l->h_broker);
    snprintf(l->hwm_key, sizeof(l->hwm_key), "%s:delivered", cfg->dist.results);
    fp__consumer_name(cfg, opt, l->consumer, sizeof(l->consumer));
    fp__broker_init(&l->broker, &cfg->dist.redis, "logic", l->opt->stop);
    l->broker.give_up_ns = l->opt->connect_give_up_ns;
    FpHttpServer *http = NULL;
    /* Redis first: a refused password or a stop while waiting ends the role before the model loads */
    int rc = fp__broker_ensure(&l->broker);
    if (rc < 0 || (rc = load_classes(l)) < 0)
        goto done;
    for (int i = 0; i < cfg->n_rules; i++) { /* class names and cameras checked before any result comes */
        int id;
        if ((rc = fp_pipeline_rule_class(&cfg->rules[i], i, (const char *const *)l->class_names, l->n_classes,
                                         &id)) < 0)
            goto done;
    }
    l->metrics = l->opt->metrics;
    if (!l->metrics) {
        if ((rc = fp_metrics_create(&l->metrics)) < 0)
            goto done;
        l->own_metrics = true;
    }
    if ((rc = logic_metrics(l)) < 0 || (rc = fp__role_http(&http, l->opt->http, l->metrics)) < 0)
        goto done;
    bool grouped = false;
    while (!fp__broker_stopped(&l->broker)) {
        if ((rc = fp__broker_ensure(&l->broker)) < 0)
            break;
        if (!grouped && (rc = fp__ensure_group(&l->broker, l->d->results, l->d->logic_group)) < 0) {
            fp__broker_drop(&l->broker);
            continue;
        }
        grouped = true;
        rc = logic_step(l);
        if (rc == FP_EIO) {
            grouped = false;
            continue;
        }
        if (rc < 0)
            fp_log_error("dist", "logic %s: %s", l->consumer, fp_error_detail(rc));
    }
    if (rc == FP_EFLUSHING || fp__broker_stopped(&l->broker))
        rc = 0;
    fp_log_info("dist", "logic %s: %llu results delivered, %llu duplicates dropped, %llu gaps, %llu dead-lettered",
                l->consumer, (unsigned long long)fp_counter_get(&l->delivered),
                (unsigned long long)fp_counter_get(&l->duplicates), (unsigned long long)fp_counter_get(&l->gaps),
                (unsigned long long)fp_counter_get(&l->dead));
done:
    if (rc == FP_EFLUSHING) /* stopped while waiting for Redis */
        rc = 0;
    fp_http_server_destroy(&http);
    if (l->metrics)
        fp_metrics_remove_owner(l->metrics, l);
    if (l->own_metrics)
        fp_metrics_destroy(&l->metrics);
    fp__broker_deinit(&l->broker);
    for (int i = 0; i < l->n_cams; i++) {
        LCam *c = l->cams[i];
        for (int s = 0; s < FP_LOGIC_WINDOW && c->window; s++)
            free(c->window[s].dets);
        free(c->window);
        fp_rules_destroy(&c->rules);
        fp_tracker_destroy(&c->tracker);
        free(c->track_ids);
        free(c);
    }
    free(l->cams);
    for (int i = 0; i < l->n_classes; i++)
        free(l->class_names[i]);
    free(l->class_names);
    free(l);
    return rc;
}
