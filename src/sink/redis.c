// SPDX-License-Identifier: MIT
// The Redis Streams transport of FpDelivery (hiredis): connect, AUTH, SELECT, and one XADD per record.
//
// Design: the transport is driven by the one FpDelivery thread, so it has
// no lock. It uses hiredis' blocking API with a timeout on connect and on
// every command (redisSetTimeout), so no call blocks longer than
// cfg.timeout_ns per round trip. connect ends with a PING, so a server that
// wants a password we do not have (NOAUTH) or is still loading fails the
// connect rather than the first record.
//
// A record is one binary-safe XADD through redisCommandArgv: the arguments
// are pointers into the record and into buffers of the transport (the seq
// number, MAXLEN's count), so a send allocates nothing beyond hiredis' own
// command buffer and reply.
//
// hiredis writes with write(2), which raises SIGPIPE when the server has
// gone: around each command SIGPIPE is blocked for the calling thread and a
// SIGPIPE the command raised is consumed (src/sink/line_out.c does the
// same), so a dead server is a failed send, never a dead process.
//
// Messages name "redis HOST:PORT" (or "redis unix:PATH") and never the
// password.
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#define XADD_MAX_ARGS 14 /* XADD stream MAXLEN ~ N * and 4 field-value pairs */

typedef struct RedisTransport {
    char *host, *unix_socket, *username, *password, *stream_frames, *stream_events;
    int port, db;
    long maxlen;
    int64_t timeout_ns;
    char where[300];    /* "redis HOST:PORT" / "redis unix:PATH" for messages */
    char maxlen_str[24];
    redisContext *ctx;  /* NULL while disconnected */
} RedisTransport;

/* Blocks SIGPIPE for the calling thread; *was_pending says whether one was already waiting. */
static void sigpipe_block(sigset_t *old, bool *was_pending)
{
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, old);
    sigpending(&pending);
    *was_pending = sigismember(&pending, SIGPIPE) == 1;
}

/* Consumes a SIGPIPE raised since sigpipe_block (none that was pending before) and restores the mask. */
static void sigpipe_unblock(const sigset_t *old, bool was_pending)
{
    if (!was_pending) {
        sigset_t set, pending;
        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE) == 1) {
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
            }
        }
    }
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

/* Runs one command with SIGPIPE held off; the reply (NULL when the connection failed: see ctx->errstr). */
static redisReply *command(RedisTransport *r, int argc, const char **argv, const size_t *argvlen)
{
    sigset_t old;
    bool was_pending;
    sigpipe_block(&old, &was_pending);
    redisReply *reply = redisCommandArgv(r->ctx, argc, argv, argvlen);
    sigpipe_unblock(&old, was_pending);
    return reply;
}

/* The context's I/O error in words: hiredis says "Resource temporarily unavailable" for a timed-out read. */
static int context_error(const RedisTransport *r, const char *doing)
{
    const char *e = r->ctx && r->ctx->errstr[0] ? r->ctx->errstr : "connection lost";
    if (r->ctx && r->ctx->err == REDIS_ERR_IO && (strstr(e, "temporarily unavailable") || strstr(e, "timed out")))
        return fp_error(FP_ETIMEOUT, "%s: %s: no answer within %lld ms (%s)", r->where, doing,
                        (long long)(r->timeout_ns / 1000000), e);
    return fp_error(FP_EIO, "%s: %s: %s", r->where, doing, e);
}

/* Runs a command whose reply must not be an error; 0 or a message naming `doing` and the server's reply. */
static int command_ok(RedisTransport *r, const char *doing, int argc, const char **argv)
{
    size_t len[4];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    redisReply *reply = command(r, argc, argv, len);
    if (!reply)
        return context_error(r, doing);
    int rc = 0;
    if (reply->type == REDIS_REPLY_ERROR)
        rc = fp_error(FP_EIO, "%s: %s: the server answered \"%.*s\"", r->where, doing,
                      (int)(reply->len > 200 ? 200 : reply->len), reply->str);
    freeReplyObject(reply);
    return rc;
}

/* FpTransportOps.disconnect: frees the hiredis context (and closes its socket); a no-op when disconnected. */
static void redis_disconnect(void *t)
{
    RedisTransport *r = t;
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

/*
 * FpTransportOps.connect: drops any old connection, connects within timeout_ns, sets the command timeout,
 * AUTH, SELECT, PING. 0, or FP_EIO / FP_ETIMEOUT / -ENOMEM with a message naming the server and its
 * answer; on failure nothing stays connected.
 */
static int redis_connect(void *t)
{
    RedisTransport *r = t;
    redis_disconnect(r);
    struct timeval tv = {.tv_sec = (time_t)(r->timeout_ns / 1000000000),
                         .tv_usec = (suseconds_t)(r->timeout_ns % 1000000000 / 1000)};
    r->ctx = r->unix_socket ? redisConnectUnixWithTimeout(r->unix_socket, tv)
                            : redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->ctx)
        return fp_error(-ENOMEM, "%s: connect: out of memory", r->where);
    int rc = 0;
    if (r->ctx->err) {
        /* hiredis says "Connection timed out" / "Connection refused" / "Name or service not known" */
        rc = fp_error(r->ctx->err == REDIS_ERR_IO && strstr(r->ctx->errstr, "timed out") ? FP_ETIMEOUT : FP_EIO,
                      "%s: connect: %s", r->where, r->ctx->errstr);
        goto fail;
    }
    if (redisSetTimeout(r->ctx, tv) != REDIS_OK) {
        rc = fp_error(FP_EIO, "%s: setting the command timeout: %s", r->where, r->ctx->errstr);
        goto fail;
    }
    if (r->password) {
        const char *argv[3] = {"AUTH", r->username ? r->username : r->password, r->password};
        rc = command_ok(r, r->username ? "AUTH (username and password)" : "AUTH (password)",
                        r->username ? 3 : 2, argv);
        if (rc < 0)
            goto fail;
    }
    if (r->db > 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        const char *argv[2] = {"SELECT", db};
        char doing[32];
        snprintf(doing, sizeof(doing), "SELECT %d", r->db);
        rc = command_ok(r, doing, 2, argv);
        if (rc < 0)
            goto fail;
    }
    const char *ping[1] = {"PING"};
    rc = command_ok(r, r->password ? "PING" : "PING (no password configured)", 1, ping);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    redis_disconnect(r);
    return rc;
}

/*
 * FpTransportOps.send: one XADD of rec. 0 once Redis replied with the entry ID; FP_EIO for an error reply,
 * a lost connection or no connection, FP_ETIMEOUT when no reply came within timeout_ns. The connection is
 * left as it is (FpDelivery calls disconnect after a failure).
 */
static int redis_send(void *t, const FpRecord *rec)
{
    RedisTransport *r = t;
    if (!rec || !rec->json || !rec->camera)
        return fp_error(FP_EINVALID, "%s: send: NULL record", r->where);
    if (!r->ctx)
        return fp_error(FP_EIO, "%s: send: not connected", r->where);
    bool event = rec->kind == FP_RECORD_EVENT;
    char seq[24];
    int seq_len = snprintf(seq, sizeof(seq), "%" PRIu64, rec->seq);
    const char *argv[XADD_MAX_ARGS];
    size_t len[XADD_MAX_ARGS];
    int n = 0;
#define ARG(s, l) (argv[n] = (s), len[n] = (l), n++)
    ARG("XADD", 4);
    const char *stream = event ? r->stream_events : r->stream_frames;
    ARG(stream, strlen(stream));
    if (r->maxlen > 0) {
        ARG("MAXLEN", 6);
        ARG("~", 1);
        ARG(r->maxlen_str, strlen(r->maxlen_str));
    }
    ARG("*", 1);
    ARG("camera", 6);
    ARG(rec->camera, strlen(rec->camera));
    ARG("seq", 3);
    ARG(seq, (size_t)seq_len);
    ARG("kind", 4);
    ARG(event ? "event" : "frame", 5);
    ARG("data", 4);
    ARG(rec->json, rec->len);
#undef ARG
    redisReply *reply = command(r, n, argv, len);
    if (!reply)
        return context_error(r, event ? "XADD of an event" : "XADD of a frame");
    int rc = 0;
    if (reply->type == REDIS_REPLY_ERROR)
        rc = fp_error(FP_EIO, "%s: XADD %s: the server answered \"%.*s\"", r->where, stream,
                      (int)(reply->len > 200 ? 200 : reply->len), reply->str);
    freeReplyObject(reply);
    return rc;
}

/* FpTransportOps.destroy: disconnects and frees everything (the password's copy is wiped first); NULL: no-op. */
static void redis_destroy(void *t)
{
    RedisTransport *r = t;
    if (!r)
        return;
    redis_disconnect(r);
    free(r->host);
    free(r->unix_socket);
    free(r->username);
    if (r->password) { /* do not leave the password in freed memory */
        volatile char *p = r->password;
        while (*p)
            *p++ = 0;
    }
    free(r->password);
    free(r->stream_frames);
    free(r->stream_events);
    free(r);
}

static const FpTransportOps redis_ops = {
    .kind = "redis",
    .connect = redis_connect,
    .send = redis_send,
    .disconnect = redis_disconnect,
    .destroy = redis_destroy,
};

/* strdup that keeps NULL; false when out of memory. */
static bool copy_str(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

int fp_redis_transport_create(const FpTransportOps **ops, void **t, const FpRedisConfig *cfg)
{
    if (!ops || !t || !cfg)
        return fp_error(FP_EINVALID, "redis: NULL argument");
    char where[300];
    if (cfg->unix_socket)
        snprintf(where, sizeof(where), "redis unix:%s", cfg->unix_socket);
    else
        snprintf(where, sizeof(where), strchr(cfg->host ? cfg->host : "", ':') ? "redis [%s]:%d" : "redis %s:%d",
                 cfg->host ? cfg->host : "(null)", cfg->port);
    if (cfg->tls)
        return fp_error(FP_ECONFIG,
                        "%s: TLS was asked for (rediss:// or tls), but this hiredis (%d.%d) has no TLS support; "
                        "front Redis with a TLS proxy such as stunnel or spiped and connect to its local plain end "
                        "(see docs/outputs.md)", where, HIREDIS_MAJOR, HIREDIS_MINOR);
    if (cfg->unix_socket && !cfg->unix_socket[0])
        return fp_error(FP_ECONFIG, "redis: empty unix socket path");
    if (!cfg->unix_socket && (!cfg->host || !cfg->host[0]))
        return fp_error(FP_ECONFIG, "redis: no host");
    if (!cfg->unix_socket && (cfg->port < 1 || cfg->port > 65535))
        return fp_error(FP_ECONFIG, "%s: port %d is out of range (1-65535)", where, cfg->port);
    if (cfg->db < 0)
        return fp_error(FP_ECONFIG, "%s: db %d is negative", where, cfg->db);
    if (!cfg->stream_frames || !cfg->stream_frames[0] || !cfg->stream_events || !cfg->stream_events[0])
        return fp_error(FP_ECONFIG, "%s: empty stream name (stream_frames, stream_events)", where);
    if (cfg->maxlen < 0)
        return fp_error(FP_ECONFIG, "%s: maxlen %ld is negative (0: no trimming)", where, cfg->maxlen);
    if (cfg->timeout_ns <= 0)
        return fp_error(FP_ECONFIG, "%s: timeout must be > 0", where);
    if (cfg->username && !cfg->password)
        return fp_error(FP_ECONFIG, "%s: a username needs a password", where);

    RedisTransport *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (!copy_str(&r->host, cfg->unix_socket ? NULL : cfg->host) || !copy_str(&r->unix_socket, cfg->unix_socket) ||
        !copy_str(&r->username, cfg->username) || !copy_str(&r->password, cfg->password) ||
        !copy_str(&r->stream_frames, cfg->stream_frames) || !copy_str(&r->stream_events, cfg->stream_events)) {
        redis_destroy(r);
        return -ENOMEM;
    }
    r->port = cfg->port;
    r->db = cfg->db;
    r->maxlen = cfg->maxlen;
    r->timeout_ns = cfg->timeout_ns;
    snprintf(r->where, sizeof(r->where), "%s", where);
    snprintf(r->maxlen_str, sizeof(r->maxlen_str), "%ld", cfg->maxlen);
    *ops = &redis_ops;
    *t = r;
    return 0;
}
