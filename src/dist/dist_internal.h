// SPDX-License-Identifier: MIT
// Private to src/dist: FpBroker, the roles' one hiredis connection with reconnect backoff, and what the roles share.
#ifndef FRAMEPIPE_DIST_INTERNAL_H
#define FRAMEPIPE_DIST_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "framepipe/dist.h"
#include "framepipe/metrics.h"

/*
 * One connection, used by one thread. fp__broker_ensure connects (AUTH,
 * SELECT) and, while Redis is away, retries with a backoff doubling from
 * 100 ms to 5 s (sleeping in 50 ms steps so a stop request is seen), logging
 * each failure once per attempt. A command that fails on the connection
 * (I/O error, timeout) drops it; the next ensure reconnects and counts it.
 */
typedef struct FpBroker {
    const FpRedisConfig *cfg;
    redisContext *ctx;
    volatile int *stop;
    const char *role;
    int64_t backoff_ns;
    bool connected_once;
    FpCounter reconnects;  /* connections made after the first */
    FpCounter failures;    /* failed connection attempts and dropped connections */
    int64_t give_up_ns;    /* > 0: the first connection must be made within this long */
    _Atomic int64_t pending, lag; /* the role's consumer group, from fp__group_backlog (-1: unknown) */
} FpBroker;

void fp__broker_init(FpBroker *b, const FpRedisConfig *cfg, const char *role, volatile int *stop);
/* Registers the connection counters (fp_dist_reconnects_total, fp_dist_connection_failures_total) and, with
 * group, the consumer group's gauges (fp_dist_group_pending, fp_dist_group_lag), all owned by `owner`. */
int fp__broker_metrics(FpBroker *b, FpMetrics *m, bool group, void *owner);
/* 0 when connected; FP_EFLUSHING when stopped while waiting; FP_ECONFIG for a refused AUTH/SELECT (permanent);
 * FP_EIO when give_up_ns passed before the first connection. */
int fp__broker_ensure(FpBroker *b);
/* Runs a command; NULL after an I/O error (the connection is dropped). The reply is the caller's (freeReplyObject). */
redisReply *fp__broker_cmd(FpBroker *b, int argc, const char **argv, const size_t *lens);
void fp__broker_drop(FpBroker *b);
void fp__broker_deinit(FpBroker *b);
/* True when *stop is set. */
bool fp__broker_stopped(const FpBroker *b);

/* "<host>-<pid>" into buf, or opt->consumer / cfg consumer when given. */
void fp__consumer_name(const FpPipelineConfig *cfg, const FpDistRoleOptions *opt, char *buf, size_t cap);

/* XGROUP CREATE stream group 0 MKSTREAM (an existing group is fine). 0, or a negative code (connection dropped). */
int fp__ensure_group(FpBroker *b, const char *stream, const char *group);

/*
 * XREADGROUP GROUP group consumer COUNT count BLOCK (d->block, kept under the
 * command timeout) STREAMS stream >. 0 with *out the reply (entries:
 * fp__read_entries; the caller frees it), or 0 with *out NULL after an error
 * reply (the group is created again, then a 100 ms pause); FP_EIO when the
 * connection was lost. `who` ("worker", "logic") names the role in the log.
 */
int fp__read_group(FpBroker *b, const FpDistSection *d, const char *stream, const char *group, const char *consumer,
                   int count, const char *who, redisReply **out);

/* Moves entry `id` of `stream` to the dead-letter stream with its reason and acknowledges it for `group`. */
int fp__dead_letter(FpBroker *b, const FpDistSection *d, const char *stream, const char *group, const char *id,
                    const char *reason);

/* The fields of a stream entry reply ([name, value, ...]) into f (FP_ECORRUPT when it is not such an array). */
int fp__entry_fields(const redisReply *fields, FpDistFields *f);

/* Stream entries of an XREADGROUP reply (the first stream's) or an XAUTOCLAIM reply; NULL when none. */
const redisReply *fp__read_entries(const redisReply *r);
const redisReply *fp__claim_entries(const redisReply *r);

/* A role's HTTP server for /metrics (NULL listen: none). */
struct FpHttpServer;
int fp__role_http(struct FpHttpServer **out, const char *listen, FpMetrics *m);

/* pending entries of the group (XPENDING summary) and its lag (XINFO GROUPS, Redis >= 7; -1 unknown), into
 * b->pending and b->lag (the gauges of fp__broker_metrics) */
void fp__group_backlog(FpBroker *b, const char *stream, const char *group);

/* The model's input size and family (opened once, then closed): what the camera role letterboxes to. */
int fp__dist_model_geometry(const FpPipelineConfig *cfg, int *w, int *h, FpFamily *family);

#endif
