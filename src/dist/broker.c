// SPDX-License-Identifier: MIT
// The distributed roles' Redis connection (FpBroker: connect, AUTH, SELECT, reconnect with backoff) and the stream helpers they share.
#include "dist_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/http.h"
#include "framepipe/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#define BACKOFF_MIN_NS (100 * 1000000LL)
#define BACKOFF_MAX_NS (5 * 1000000000LL)

void fp__broker_init(FpBroker *b, const FpRedisConfig *cfg, const char *role, volatile int *stop)
{
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->role = role;
    b->stop = stop;
    b->backoff_ns = BACKOFF_MIN_NS;
    atomic_init(&b->pending, -1);
    atomic_init(&b->lag, -1);
}

static double gauge_pending(void *o)
{
    return (double)atomic_load(&((FpBroker *)o)->pending);
}

static double gauge_lag(void *o)
{
    return (double)atomic_load(&((FpBroker *)o)->lag);
}

int fp__broker_metrics(FpBroker *b, FpMetrics *m, bool group, void *owner)
{
    int rc = fp_metrics_add_counter(m, "fp_dist_reconnects_total", NULL, "Redis connections made again",
                                    &b->reconnects, owner);
    rc = rc ? rc : fp_metrics_add_counter(m, "fp_dist_connection_failures_total", NULL,
                                          "failed connection attempts and dropped connections", &b->failures, owner);
    if (group) {
        rc = rc ? rc : fp_metrics_add_gauge(m, "fp_dist_group_pending", NULL,
                                            "entries delivered to the group and not acknowledged (XPENDING)",
                                            gauge_pending, b, owner);
        rc = rc ? rc : fp_metrics_add_gauge(m, "fp_dist_group_lag", NULL,
                                            "entries not yet delivered to the group (XINFO GROUPS lag)", gauge_lag,
                                            b, owner);
    }
    return rc;
}

bool fp__broker_stopped(const FpBroker *b)
{
    return b->stop && *b->stop;
}

void fp__broker_drop(FpBroker *b)
{
    if (b->ctx) {
        redisFree(b->ctx);
        b->ctx = NULL;
        fp_counter_add(&b->failures, 1);
    }
}

void fp__broker_deinit(FpBroker *b)
{
    if (b->ctx)
        redisFree(b->ctx);
    b->ctx = NULL;
}

static const char *where(const FpRedisConfig *c, char *buf, size_t cap)
{
    if (c->unix_socket)
        snprintf(buf, cap, "redis unix:%s", c->unix_socket);
    else
        snprintf(buf, cap, "redis %s:%d", c->host, c->port);
    return buf;
}

/* One attempt. 0, a transient -errno/FP_EIO, or FP_ECONFIG (refused credentials or db). */
static int connect_once(FpBroker *b)
{
    const FpRedisConfig *c = b->cfg;
    char w[300];
    struct timeval tv = {.tv_sec = c->timeout_ns / 1000000000LL, .tv_usec = (c->timeout_ns % 1000000000LL) / 1000};
    if (c->tls)
        return fp_error(FP_ECONFIG, "%s: tls is not supported by this hiredis", where(c, w, sizeof(w)));
    redisContext *ctx = c->unix_socket ? redisConnectUnixWithTimeout(c->unix_socket, tv)
                                       : redisConnectWithTimeout(c->host, c->port, tv);
    if (!ctx)
        return fp_error(-ENOMEM, "%s: out of memory", where(c, w, sizeof(w)));
    if (ctx->err) {
        int rc = fp_error(FP_EIO, "%s: %s", where(c, w, sizeof(w)), ctx->errstr);
        redisFree(ctx);
        return rc;
    }
    redisSetTimeout(ctx, tv);
    redisEnableKeepAlive(ctx);
    if (c->password) {
        redisReply *r = c->username ? redisCommand(ctx, "AUTH %s %s", c->username, c->password)
                                    : redisCommand(ctx, "AUTH %s", c->password);
        int rc = 0;
        if (!r)
            rc = fp_error(FP_EIO, "%s: AUTH: %s", where(c, w, sizeof(w)), ctx->errstr);
        else if (r->type == REDIS_REPLY_ERROR)
            rc = fp_error(FP_ECONFIG, "%s: AUTH refused: %s (check redis.password / username)",
                          where(c, w, sizeof(w)), r->str);
        if (r)
            freeReplyObject(r);
        if (rc < 0) {
            redisFree(ctx);
            return rc;
        }
    }
    redisReply *r = c->db ? redisCommand(ctx, "SELECT %d", c->db) : redisCommand(ctx, "PING");
    int rc = 0;
    if (!r)
        rc = fp_error(FP_EIO, "%s: %s", where(c, w, sizeof(w)), ctx->errstr);
    else if (r->type == REDIS_REPLY_ERROR)
        rc = fp_error(strncmp(r->str, "NOAUTH", 6) && strncmp(r->str, "ERR DB", 6) && strncmp(r->str, "ERR inv", 7)
                          ? FP_EIO
                          : FP_ECONFIG,
                      "%s: %s%s", where(c, w, sizeof(w)), r->str,
                      !strncmp(r->str, "NOAUTH", 6) ? " (set redis.password)" : "");
    if (r)
        freeReplyObject(r);
    if (rc < 0) {
        redisFree(ctx);
        return rc;
    }
    b->ctx = ctx;
    return 0;
}

int fp__broker_ensure(FpBroker *b)
{
    int64_t t0 = fp_clock_ns();
    while (!b->ctx) {
        if (fp__broker_stopped(b))
            return fp_error(FP_EFLUSHING, "%s: stopped", b->role);
        int rc = connect_once(b);
        if (rc == 0) {
            char w[300];
            if (b->connected_once)
                fp_counter_add(&b->reconnects, 1);
            fp_log_info("dist", "%s: connected to %s%s", b->role, where(b->cfg, w, sizeof(w)),
                        b->connected_once ? " again" : "");
            b->connected_once = true;
            b->backoff_ns = BACKOFF_MIN_NS;
            return 0;
        }
        if (rc == FP_ECONFIG || rc == -ENOMEM)
            return rc;
        fp_counter_add(&b->failures, 1);
        if (!b->connected_once && b->give_up_ns > 0 && fp_clock_ns() - t0 >= b->give_up_ns)
            return fp_error(FP_EIO, "%s", fp_error_detail(rc));
        fp_log_warn("dist", "%s: %s; retrying in %.1f s", b->role, fp_error_detail(rc), (double)b->backoff_ns / 1e9);
        for (int64_t slept = 0; slept < b->backoff_ns && !fp__broker_stopped(b); slept += 50000000LL)
            fp_sleep_ns(50000000LL);
        b->backoff_ns = b->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : b->backoff_ns * 2;
    }
    return 0;
}

redisReply *fp__broker_cmd(FpBroker *b, int argc, const char **argv, const size_t *lens)
{
    if (!b->ctx)
        return NULL;
    redisReply *r = redisCommandArgv(b->ctx, argc, argv, lens);
    if (!r) {
        fp_log_warn("dist", "%s: redis: %s (%s); reconnecting", b->role, b->ctx->errstr, argv[0]);
        fp__broker_drop(b);
    }
    return r;
}

void fp__consumer_name(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt, char *buf, size_t cap)
{
    const char *given = opt && opt->consumer ? opt->consumer : cfg->dist.consumer;
    if (given) {
        snprintf(buf, cap, "%s", given);
        return;
    }
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_' || *p == '.'))
            *p = '_';
    snprintf(buf, cap, "%.40s-%ld", host, (long)getpid());
}

int fp__ensure_group(FpBroker *b, const char *stream, const char *group)
{
    const char *argv[] = {"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"};
    redisReply *r = fp__broker_cmd(b, 6, argv, NULL);
    if (!r)
        return FP_EIO;
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9))
        rc = fp_error(FP_EIO, "XGROUP CREATE %s %s: %s", stream, group, r->str);
    freeReplyObject(r);
    return rc;
}

int fp__read_group(FpBroker *b, const FpDistSection *d, const char *stream, const char *group, const char *consumer,
                   int count, const char *who, redisReply **out)
{
    *out = NULL;
    char cnt[16], block[24];
    snprintf(cnt, sizeof(cnt), "%d", count);
    /* BLOCK stays under the command timeout, or every idle read would count as a lost connection */
    int64_t block_ns = d->block_ns < d->redis.timeout_ns / 2 ? d->block_ns : d->redis.timeout_ns / 2;
    snprintf(block, sizeof(block), "%lld", (long long)(block_ns / 1000000 > 0 ? block_ns / 1000000 : 1));
    const char *argv[] = {"XREADGROUP", "GROUP", group, consumer, "COUNT", cnt, "BLOCK", block, "STREAMS", stream, ">"};
    redisReply *r = fp__broker_cmd(b, 11, argv, NULL);
    if (!r)
        return FP_EIO;
    if (r->type != REDIS_REPLY_ERROR) {
        *out = r;
        return 0;
    }
    /* NOGROUP: the stream or group went away (a Redis restarted without persistence) */
    fp_log_warn("dist", "%s %s: XREADGROUP: %s", who, consumer, r->str);
    freeReplyObject(r);
    int rc = fp__ensure_group(b, stream, group);
    if (rc == 0)
        fp_sleep_ns(100000000LL);
    return rc;
}

int fp__dead_letter(FpBroker *b, const FpDistSection *d, const char *stream, const char *group, const char *id,
                    const char *reason)
{
    char maxlen[24];
    snprintf(maxlen, sizeof(maxlen), "%d", d->maxlen);
    const char *argv[] = {"XADD", d->dead_letter, "MAXLEN", "~", maxlen, "*", "stream", stream, "id", id,
                          "reason", reason};
    redisReply *r = fp__broker_cmd(b, 12, argv, NULL);
    if (!r)
        return FP_EIO;
    freeReplyObject(r);
    const char *ack[] = {"XACK", stream, group, id};
    r = fp__broker_cmd(b, 4, ack, NULL);
    if (!r)
        return FP_EIO;
    freeReplyObject(r);
    fp_log_warn("dist", "%s: entry %s of %s dead-lettered: %s", b->role, id, stream, reason);
    return 0;
}

int fp__entry_fields(const redisReply *fields, FpDistFields *f)
{
    f->n = 0;
    if (!fields || fields->type != REDIS_REPLY_ARRAY || fields->elements % 2)
        return fp_error(FP_ECORRUPT, "stream entry: its fields are not name/value pairs");
    if (fields->elements / 2 > FP_DIST_MAX_FIELDS)
        return fp_error(FP_ECORRUPT, "stream entry: %zu fields (at most %d)", fields->elements / 2,
                        FP_DIST_MAX_FIELDS);
    for (size_t i = 0; i < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return fp_error(FP_ECORRUPT, "stream entry: field %zu is not a string", i / 2);
        f->name[f->n] = k->str;
        f->name_len[f->n] = k->len;
        f->value[f->n] = v->str;
        f->value_len[f->n] = v->len;
        f->n++;
    }
    return 0;
}

const redisReply *fp__read_entries(const redisReply *r)
{
    /* [[stream, [[id, [f, v, ...]], ...]]] */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return NULL;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements < 2 || s->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    return s->element[1];
}

const redisReply *fp__claim_entries(const redisReply *r)
{
    /* [next-id, [[id, [f, v, ...]], ...], (deleted ids)] */
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    return r->element[1];
}

int fp__role_http(FpHttpServer **out, const char *listen, FpMetrics *m)
{
    *out = NULL;
    if (!listen)
        return 0;
    FpHttpHandlers h = {.metrics = m};
    return fp_http_server_create(out, listen, &h);
}

void fp__group_backlog(FpBroker *b, const char *stream, const char *group)
{
    int64_t pending_v = -1, lag_v = -1, *pending = &pending_v, *lag = &lag_v;
    const char *xp[] = {"XPENDING", stream, group};
    redisReply *r = fp__broker_cmd(b, 3, xp, NULL);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER)
        *pending = r->element[0]->integer;
    if (r)
        freeReplyObject(r);
    const char *xi[] = {"XINFO", "GROUPS", stream};
    r = fp__broker_cmd(b, 3, xi, NULL);
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *g = r->element[i];
            if (g->type != REDIS_REPLY_ARRAY)
                continue;
            bool mine = false;
            int64_t l = -1;
            for (size_t k = 0; k + 1 < g->elements; k += 2) {
                const redisReply *key = g->element[k], *val = g->element[k + 1];
                if (key->type != REDIS_REPLY_STRING)
                    continue;
                if (!strcmp(key->str, "name") && val->type == REDIS_REPLY_STRING && !strcmp(val->str, group))
                    mine = true;
                if (!strcmp(key->str, "lag") && val->type == REDIS_REPLY_INTEGER)
                    l = val->integer;
            }
            if (mine)
                *lag = l;
        }
    }
    if (r)
        freeReplyObject(r);
    atomic_store(&b->pending, pending_v);
    atomic_store(&b->lag, lag_v);
}
