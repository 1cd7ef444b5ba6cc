// SPDX-License-Identifier: MIT
// The HTTP endpoint (libmicrohttpd): the web view's page, /metrics, /healthz, the JSON API, the live MJPEG and event streams, snapshots, the token.
//
// Design: we parse the listen string and create, bind and listen on the
// socket ourselves, then hand it to libmicrohttpd (MHD_OPTION_LISTEN_SOCKET).
// That way a taken port or a foreign address is reported with its errno and
// the address named, a ":0" port can be read back with getsockname, and no
// name is ever resolved (a host is a literal address or "localhost").
// libmicrohttpd runs a thread per connection (plus its accepting thread):
// the streams (MJPEG, Server-Sent Events) are responses from a callback that
// blocks its own connection's thread, at most ~1 s at a time so that it sees
// `stopping` and fp_http_server_destroy stays prompt. Ordinary bodies are
// built in memory with open_memstream before they are queued, so a client
// that reads slowly only holds its own connection, which the connection
// timeout eventually closes (streams are exempt from the timeout).
// This is not a per-frame path; allocating per request is fine.
#include "framepipe/http.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"
#include "upload_internal.h"
#include "header_watch.h"
#include "web_files.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ADDR_MAX 80 /* "[" + INET6_ADDRSTRLEN + "]:65535" */

struct FpHttpServer {
    struct MHD_Daemon *daemon;
    FpHttpHandlers h;
    int port;
    char addr[ADDR_MAX]; /* canonical "host:port" with the bound port */
    pthread_mutex_t events_lock; /* `events`, held while a request reads it */
    FpEventLog *events;          /* borrowed; NULL: /api/events is 404 */
    char *snapshot_dir;          /* owned copy of h.snapshot_dir */
    char *token;                 /* owned copy of h.token; NULL: no token needed */
    atomic_bool stopping;        /* set by destroy: the streams end */
    FpHeaderWatch *watch;        /* closes connections whose headers do not come (slowloris) */
};

/* ---- listen string ------------------------------------------------------ */

typedef struct ListenAddr {
    struct sockaddr_storage ss;
    socklen_t len;
    int family;
} ListenAddr;

static int parse_port(const char *spec, const char *p, uint16_t *port)
{
    if (!*p)
        return fp_error(FP_EINVALID, "http: listen address \"%s\": missing port after ':'", spec);
    unsigned long v = 0;
    for (const char *c = p; *c; c++) {
        if (*c < '0' || *c > '9')
            return fp_error(FP_EINVALID, "http: listen address \"%s\": port \"%s\" is not a number",
                            spec, p);
        v = v * 10 + (unsigned long)(*c - '0');
        if (v > 65535)
            return fp_error(FP_EINVALID,
                            "http: listen address \"%s\": port %s is out of range (0-65535)",
                            spec, p);
    }
    *port = (uint16_t)v;
    return 0;
}

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (see http.h); names `spec` in every error. */
static int parse_listen(const char *spec, ListenAddr *out)
{
    char host[INET6_ADDRSTRLEN + 8];
    const char *port_str;
    bool bracketed = false;

    memset(out, 0, sizeof(*out));
    if (spec[0] == '[') {
        const char *rb = strchr(spec, ']');
        if (!rb)
            return fp_error(FP_EINVALID, "http: listen address \"%s\": missing ']'", spec);
        size_t n = (size_t)(rb - spec - 1);
        if (n == 0 || n >= sizeof(host))
            return fp_error(FP_EINVALID, "http: listen address \"%s\": bad IPv6 address", spec);
        memcpy(host, spec + 1, n);
        host[n] = '\0';
        if (rb[1] != ':')
            return fp_error(FP_EINVALID,
                            "http: listen address \"%s\": expected \"[IPv6]:PORT\"", spec);
        port_str = rb + 2;
        bracketed = true;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon)
            return fp_error(FP_EINVALID,
                            "http: listen address \"%s\": expected HOST:PORT (e.g. 127.0.0.1:9090)",
                            spec);
        if (strchr(spec, ':') != colon)
            return fp_error(FP_EINVALID,
                            "http: listen address \"%s\": an IPv6 address needs brackets, "
                            "e.g. [::1]:9090",
                            spec);
        size_t n = (size_t)(colon - spec);
        if (n >= sizeof(host))
            return fp_error(FP_EINVALID, "http: listen address \"%s\": host is too long", spec);
        memcpy(host, spec, n);
        host[n] = '\0';
        port_str = colon + 1;
    }

    uint16_t port;
    int rc = parse_port(spec, port_str, &port);
    if (rc < 0)
        return rc;

    if (bracketed) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->ss;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return fp_error(FP_EINVALID,
                            "http: listen address \"%s\": \"%s\" is not an IPv6 address", spec,
                            host);
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        out->len = sizeof(*a6);
        out->family = AF_INET6;
        return 0;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)&out->ss;
    if (host[0] == '\0' || strcmp(host, "localhost") == 0) {
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1) {
        return fp_error(FP_EINVALID,
                        "http: listen address \"%s\": host \"%s\" is not an IP address "
                        "(use a literal address, [IPv6] or localhost; names are not resolved)",
                        spec, host);
    }
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    out->len = sizeof(*a4);
    out->family = AF_INET;
    return 0;
}

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
        snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(a6->sin6_port));
    } else {
        const struct sockaddr_in *a4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
        snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(a4->sin_port));
    }
}

/* Creates the listening socket; returns it or a negative code with the address named. */
static int open_listener(const char *spec, const ListenAddr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        int err = errno;
        return fp_error(-err, "http: listen address \"%s\": socket: %s", spec, fp_strerror(-err));
    }
    int on = 1;
    /* SO_REUSEADDR: restart while old connections sit in TIME_WAIT; Linux still refuses a
     * second listener on the same address and port. */
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (a->family == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *)&a->ss, a->len) < 0 || listen(fd, 64) < 0) {
        int err = errno;
        close(fd);
        const char *hint = err == EADDRINUSE      ? " (another process or server uses this port)"
                           : err == EADDRNOTAVAIL ? " (not an address of this machine)"
                           : err == EACCES        ? " (ports below 1024 need privileges)"
                                                  : "";
        return fp_error(-err, "http: cannot listen on \"%s\": %s%s", spec, fp_strerror(-err),
                        hint);
    }
    return fd;
}

/* ---- requests ----------------------------------------------------------- */

static const char INDEX_TXT[] =
    "framepipe endpoints\n"
    "/                               the live web view (HTML)\n"
    "/metrics                        Prometheus metrics\n"
    "/healthz                        ok, or 503 and the reason\n"
    "/api/cameras                    cameras (JSON)\n"
    "/api/sinks                      outputs (JSON)\n"
    "/api/events                     recent events (JSON; ?since=SEQ)\n"
    "/api/events/stream              events as Server-Sent Events\n"
    "/api/cameras/NAME/stream.mjpg   live MJPEG of a camera\n"
    "/api/cameras/NAME/frame.jpg     the latest JPEG of a camera\n"
    "/snapshots/NAME                 an event's snapshot\n";

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"

/*
 * The Set-Cookie header for a request that authenticated with ?token= (NULL
 * otherwise): on_request sets it around the dispatch, and every reply on
 * that connection's thread adds it. Thread-local because a connection's
 * replies are built on its own thread.
 */
static _Thread_local const char *tl_set_cookie;

/*
 * Adds the headers every answer carries (Content-Type, Cache-Control,
 * nosniff, the token cookie when this request set one, Allow when given),
 * queues `r` with `status` and releases our reference to it.
 */
static enum MHD_Result queue_response(struct MHD_Connection *c, struct MHD_Response *r, unsigned status,
                                      const char *type, const char *cache, const char *allow)
{
    enum MHD_Result ok = MHD_YES;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache) != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES) ||
        (tl_set_cookie && MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, tl_set_cookie) != MHD_YES))
        ok = MHD_NO;
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* Queues `len` bytes of `body` (taken over when `owned`, else static) with a status and type. */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, size_t len, bool owned, const char *allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO; /* MHD closes the connection */
    }
    return queue_response(c, r, status, type, "no-store", allow);
}

static enum MHD_Result reply_static(struct MHD_Connection *c, unsigned status, const char *type,
                                    const char *body, const char *allow)
{
    return reply(c, status, type, (char *)body, strlen(body), false, allow);
}

/* A body built by `fill` into a memory stream; a negative return of `fill` becomes a 500. */
typedef int (*FillFn)(FpHttpServer *s, FILE *out);

static enum MHD_Result reply_built(struct MHD_Connection *c, FpHttpServer *s, const char *type,
                                   FillFn fill, const char *what)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out)
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "out of memory\n", NULL);
    int rc = fill(s, out);
    if (fclose(out) != 0 && rc >= 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(buf);
        const char *detail = fp_error_detail(rc);
        fp_log_warn("http", "%s failed: %s", what, detail);
        char *msg = NULL;
        int n = asprintf(&msg, "%s failed: %s\n", what, detail);
        if (n < 0)
            return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "internal error\n",
                                NULL);
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, msg, (size_t)n, true, NULL);
    }
    return reply(c, MHD_HTTP_OK, type, buf, len, true, NULL);
}

static int fill_metrics(FpHttpServer *s, FILE *out)
{
    return fp_metrics_write_prometheus(s->h.metrics, out);
}

static int fill_cameras(FpHttpServer *s, FILE *out)
{
    fp_error_clear();
    return s->h.write_cameras(s->h.opaque, out);
}

static int fill_sinks(FpHttpServer *s, FILE *out)
{
    fp_error_clear();
    return s->h.write_sinks(s->h.opaque, out);
}

static enum MHD_Result reply_health(struct MHD_Connection *c, FpHttpServer *s)
{
    if (!s->h.healthy)
        return reply_static(c, MHD_HTTP_OK, CT_TEXT, "ok\n", NULL);
    char why[512] = "";
    fp_error_clear();
    int rc = s->h.healthy(s->h.opaque, why, sizeof(why));
    why[sizeof(why) - 1] = '\0';
    if (rc < 0) {
        const char *detail = fp_error_detail(rc);
        fp_log_warn("http", "health check failed: %s", detail);
        char *msg = NULL;
        int n = asprintf(&msg, "health check failed: %s\n", detail);
        if (n < 0)
            return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "internal error\n",
                                NULL);
        return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, msg, (size_t)n, true, NULL);
    }
    if (rc > 0)
        return reply_static(c, MHD_HTTP_OK, CT_TEXT, "ok\n", NULL);
    char *msg = NULL;
    int n = asprintf(&msg, "unhealthy: %s\n", why[0] ? why : "(no reason given)");
    if (n < 0)
        return reply_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, "unhealthy\n", NULL);
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, msg, (size_t)n, true, NULL);
}

/* ?since=SEQ: decimal digits only, fits in uint64_t. */
static bool parse_since(const char *v, uint64_t *out)
{
    if (!v || !*v || strlen(v) > 20)
        return false;
    uint64_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (n > (UINT64_MAX - d) / 10)
            return false;
        n = n * 10 + d;
    }
    *out = n;
    return true;
}

/* GET /api/events: 404 without a log, 400 for a bad ?since=, else the log's entries newer than it. */
static enum MHD_Result reply_events(struct MHD_Connection *c, FpHttpServer *s)
{
    uint64_t since = 0;
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    if (v && !parse_since(v, &since))
        return reply_static(c, MHD_HTTP_BAD_REQUEST, CT_TEXT,
                            "bad since: expected a decimal event seq, e.g. /api/events?since=42\n", NULL);
    char *buf = NULL;
    size_t len = 0;
    pthread_mutex_lock(&s->events_lock);
    if (!s->events) {
        pthread_mutex_unlock(&s->events_lock);
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
    }
    FILE *out = open_memstream(&buf, &len);
    int rc = out ? fp_event_log_write_json(s->events, since, out) : -ENOMEM;
    pthread_mutex_unlock(&s->events_lock);
    if (out && fclose(out) != 0 && rc >= 0)
        rc = -ENOMEM;
    if (rc < 0) {
        free(buf);
        fp_log_warn("http", "events failed: %s", fp_error_detail(rc));
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "events failed\n", NULL);
    }
    return reply(c, MHD_HTTP_OK, CT_JSON, buf, len, true, NULL);
}

/* ---- token -------------------------------------------------------------- */

/* a == b without an early exit on the first difference (the length is not secret). */
static bool token_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++)
        d |= (unsigned char)((unsigned char)(i < la ? a[i] : 0) ^ (unsigned char)b[i]);
    return d == 0;
}

/* 1: the request carries the token (*set_cookie when it came as ?token=), 0: it does not. */
static bool token_ok(struct MHD_Connection *c, const FpHttpServer *s, bool *set_cookie)
{
    *set_cookie = false;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && token_equal(auth + 7, s->token))
        return true;
    const char *q = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    if (q && token_equal(q, s->token)) {
        *set_cookie = true;
        return true;
    }
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "fp_token");
    return cookie && token_equal(cookie, s->token);
}

static enum MHD_Result reply_unauthorized(struct MHD_Connection *c)
{
    static const char body[] =
        "{\"error\":\"unauthorized: send Authorization: Bearer TOKEN, ?token=TOKEN or the fp_token cookie\"}\n";
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"framepipe\"") != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES)
        ok = MHD_NO;
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
    MHD_destroy_response(r);
    return ok;
}

/* ---- static page files and snapshots ------------------------------------ */

/* Queues one embedded page file (web/, see embed_web.py), byte for byte. */
static enum MHD_Result reply_web_file(struct MHD_Connection *c, const FpWebFile *f)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    return queue_response(c, r, MHD_HTTP_OK, f->content_type, "no-cache", NULL);
}

/* A snapshot's file name: [A-Za-z0-9._-]{1,200}, not starting with '.', without "..". */
static bool snapshot_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 200 || n[0] == '.' || strstr(n, ".."))
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

static enum MHD_Result reply_snapshot(struct MHD_Connection *c, FpHttpServer *s, const char *name)
{
    if (!s->snapshot_dir || !snapshot_name_ok(name))
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", s->snapshot_dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)st.st_size, fd); /* closes fd */
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    return queue_response(c, r, MHD_HTTP_OK, "image/jpeg", "max-age=3600", NULL);
}

/* ---- streams: MJPEG and Server-Sent Events ------------------------------- */

#define STREAM_WAIT_NS 1000000000LL /* the longest a reader blocks before it looks at `stopping` */
#define EVENT_POLL_NS 100000000LL   /* the event stream's poll of the log */
#define MJPEG_BOUNDARY "fpframe"

typedef enum StreamKind { STREAM_MJPEG, STREAM_EVENTS } StreamKind;

/* One open stream: what was fetched and not yet handed to libmicrohttpd. Its connection's thread only. */
typedef struct Stream {
    FpHttpServer *s;
    StreamKind kind;
    char camera[256];
    bool watching;
    uint64_t seq;  /* the last frame or event sent */
    uint8_t *jpeg; /* preview_next's buffer */
    size_t jpeg_cap, jpeg_len;
    char *out; /* bytes to send: out[off..len) */
    size_t out_len, out_off, out_cap;
    int64_t last_sent_ns;
    int fd; /* the connection's socket (libmicrohttpd's), polled for a hang-up while quiet; -1: unknown */
} Stream;

static int out_reserve(Stream *st, size_t n)
{
    if (n <= st->out_cap)
        return 0;
    char *b = realloc(st->out, n);
    if (!b)
        return -ENOMEM;
    st->out = b;
    st->out_cap = n;
    return 0;
}

/* The next MJPEG part into st->out: 1 ready, 0 nothing new yet, negative: end the stream. */
static int next_mjpeg_part(Stream *st)
{
    FpHttpServer *s = st->s;
    int rc = s->h.preview_next(s->h.opaque, st->camera, &st->seq, STREAM_WAIT_NS, &st->jpeg, &st->jpeg_cap,
                               &st->jpeg_len);
    if (rc <= 0)
        return rc;
    char head[160];
    int hn = snprintf(head, sizeof(head),
                      "--" MJPEG_BOUNDARY "\r\nContent-Type: image/jpeg\r\nContent-Length: %zu\r\n\r\n", st->jpeg_len);
    if (out_reserve(st, (size_t)hn + st->jpeg_len + 2) < 0)
        return -ENOMEM;
    memcpy(st->out, head, (size_t)hn);
    memcpy(st->out + hn, st->jpeg, st->jpeg_len);
    memcpy(st->out + (size_t)hn + st->jpeg_len, "\r\n", 2);
    st->out_len = (size_t)hn + st->jpeg_len + 2;
    st->out_off = 0;
    return 1;
}

/* The next event (or a keepalive comment) into st->out: 1 ready, 0 nothing yet, negative: end. */
static int next_event(Stream *st)
{
    FpHttpServer *s = st->s;
    int64_t until = fp_clock_ns() + STREAM_WAIT_NS;
    char json[FP_EVENT_LOG_SLOT + 64];
    for (;;) {
        int n = 0;
        uint64_t seq = 0;
        pthread_mutex_lock(&s->events_lock);
        if (!s->events)
            n = FP_ENOT_FOUND;
        else
            n = fp_event_log_next(s->events, st->seq, &seq, json, sizeof(json));
        pthread_mutex_unlock(&s->events_lock);
        if (n < 0)
            return n;
        if (n > 0) {
            if (out_reserve(st, (size_t)n + 64) < 0)
                return -ENOMEM;
            int k = snprintf(st->out, st->out_cap, "id: %" PRIu64 "\ndata: %s\n\n", seq, json);
            st->out_len = (size_t)k;
            st->out_off = 0;
            st->seq = seq;
            return 1;
        }
        int64_t now = fp_clock_ns();
        if (now - st->last_sent_ns >= (int64_t)FP_HTTP_KEEPALIVE_S * 1000000000LL) {
            if (out_reserve(st, 32) < 0)
                return -ENOMEM;
            st->out_len = (size_t)snprintf(st->out, st->out_cap, ": keepalive\n\n");
            st->out_off = 0;
            return 1;
        }
        if (now >= until || atomic_load(&s->stopping))
            return 0;
        struct timespec ts = {0, EVENT_POLL_NS};
        nanosleep(&ts, NULL);
    }
}

/*
 * True when the client has closed its side: a quiet stream (a camera with no
 * new frame, no event) would otherwise notice only at its next write, and
 * hold its thread and its viewer count until then.
 */
static bool peer_gone(int fd)
{
    if (fd < 0)
        return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* libmicrohttpd's content reader, on the connection's thread; blocks at most ~1 s per call. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    Stream *st = cls;
    for (;;) {
        if (atomic_load(&st->s->stopping))
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (st->out_off < st->out_len) {
            size_t n = st->out_len - st->out_off;
            if (n > max)
                n = max;
            memcpy(buf, st->out + st->out_off, n);
            st->out_off += n;
            st->last_sent_ns = fp_clock_ns();
            return (ssize_t)n;
        }
        int rc = st->kind == STREAM_MJPEG ? next_mjpeg_part(st) : next_event(st);
        if (rc < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (rc == 0 && (atomic_load(&st->s->stopping) || peer_gone(st->fd)))
            return MHD_CONTENT_READER_END_OF_STREAM;
        /* rc == 0: nothing new within ~1 s; loop (the thread is this connection's own, so blocking is
         * fine; returning 0 would make libmicrohttpd call again at once) */
    }
}

static void stream_free(void *cls)
{
    Stream *st = cls;
    if (st->watching)
        st->s->h.preview_watch(st->s->h.opaque, st->camera, -1);
    free(st->jpeg);
    free(st->out);
    free(st);
}

static enum MHD_Result queue_stream(struct MHD_Connection *c, Stream *st, const char *type)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    st->fd = ci ? (int)ci->connect_fd : -1;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, st,
                                                               stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    /* a stream may be quiet longer than the idle timeout (an event stream between keepalives) */
    MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned int)0);
    return queue_response(c, r, MHD_HTTP_OK, type, "no-store", NULL);
}

/* GET /api/cameras/NAME/stream.mjpg */
static enum MHD_Result reply_mjpeg(struct MHD_Connection *c, FpHttpServer *s, const char *camera)
{
    if (!s->h.preview_next || !s->h.preview_watch)
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found: no live view\n", NULL);
    Stream *st = calloc(1, sizeof(*st));
    if (!st)
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "out of memory\n", NULL);
    st->s = s;
    st->kind = STREAM_MJPEG;
    snprintf(st->camera, sizeof(st->camera), "%s", camera);
    if (s->h.preview_watch(s->h.opaque, st->camera, +1) < 0) {
        free(st);
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found: no such camera\n", NULL);
    }
    st->watching = true;
    return queue_stream(c, st, "multipart/x-mixed-replace; boundary=" MJPEG_BOUNDARY);
}

/* GET /api/cameras/NAME/frame.jpg: one JPEG, waiting up to 2 s for the first. */
static enum MHD_Result reply_frame(struct MHD_Connection *c, FpHttpServer *s, const char *camera)
{
    if (!s->h.preview_next || !s->h.preview_watch)
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found: no live view\n", NULL);
    if (s->h.preview_watch(s->h.opaque, camera, +1) < 0)
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found: no such camera\n", NULL);
    uint64_t seq = 0;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = s->h.preview_next(s->h.opaque, camera, &seq, 2 * STREAM_WAIT_NS, &buf, &cap, &len);
    s->h.preview_watch(s->h.opaque, camera, -1);
    if (rc <= 0) {
        free(buf);
        return reply_static(c, MHD_HTTP_SERVICE_UNAVAILABLE, CT_TEXT, "no frame yet\n", NULL);
    }
    return reply(c, MHD_HTTP_OK, "image/jpeg", (char *)buf, len, true, NULL);
}

/* GET /api/events/stream: from Last-Event-ID, else ?since=, else the newest entry now. */
static enum MHD_Result reply_event_stream(struct MHD_Connection *c, FpHttpServer *s)
{
    uint64_t since = 0;
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
    if ((last && !parse_since(last, &since)) || (!last && v && !parse_since(v, &since)))
        return reply_static(c, MHD_HTTP_BAD_REQUEST, CT_TEXT,
                            "bad Last-Event-ID or since: expected a decimal event seq\n", NULL);
    pthread_mutex_lock(&s->events_lock);
    bool have = s->events != NULL;
    if (have && !last && !v)
        since = fp_event_log_last_seq(s->events);
    pthread_mutex_unlock(&s->events_lock);
    if (!have)
        return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
    Stream *st = calloc(1, sizeof(*st));
    if (!st)
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "out of memory\n", NULL);
    st->s = s;
    st->kind = STREAM_EVENTS;
    st->seq = since;
    /* a first comment so the client sees the stream open at once */
    if (out_reserve(st, 32) < 0) {
        free(st);
        return reply_static(c, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_TEXT, "out of memory\n", NULL);
    }
    st->out_len = (size_t)snprintf(st->out, st->out_cap, ": stream\n\n");
    st->last_sent_ns = fp_clock_ns();
    return queue_stream(c, st, "text/event-stream");
}

/* "/api/cameras/NAME/LEAF" -> NAME into `name` when LEAF matches; false otherwise. */
static bool camera_path(const char *url, const char *leaf, char *name, size_t cap)
{
    static const char prefix[] = "/api/cameras/";
    size_t pl = sizeof(prefix) - 1, ll = strlen(leaf), ul = strlen(url);
    if (ul <= pl + ll + 1 || strncmp(url, prefix, pl) != 0 || strcmp(url + ul - ll, leaf) != 0 ||
        url[ul - ll - 1] != '/')
        return false;
    size_t n = ul - ll - 1 - pl;
    if (n == 0 || n >= cap)
        return false;
    memcpy(name, url + pl, n);
    name[n] = '\0';
    return strchr(name, '/') == NULL;
}

static enum MHD_Result dispatch(struct MHD_Connection *c, FpHttpServer *s, const char *url);

/* *con_cls of a GET/HEAD whose headers are in (keep-alive: answered on the next call) */
static char get_headers_in;

/* libmicrohttpd's end of a request: a POST's upload state is upload.c's to free; a GET's marker is no state. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    if (con_cls && *con_cls == &get_headers_in) {
        *con_cls = NULL;
        return;
    }
    fp__http_post_completed(cls, c, con_cls, toe);
}

/*
 * libmicrohttpd's access handler, on the connection's own thread. Called once the
 * request headers are in (the header watch is told), then for each piece of a
 * body, then once more. POST to a route the app registered (h.post) is read
 * piece by piece by upload.c; any other method but GET/HEAD gets its 405 at
 * once (libmicrohttpd then closes the connection); GET/HEAD are answered on the
 * last call, so keep-alive connections stay usable.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    FpHttpServer *s = cls;
    if (!*con_cls)
        fp__header_watch_done(s->watch, c); /* the headers are in */
    if (s->h.post && strcmp(method, MHD_HTTP_METHOD_POST) == 0) { /* the app's POST routes (upload.c) */
        bool unused_cookie = false;
        if (!*con_cls && s->token && !token_ok(c, s, &unused_cookie))
            return reply_unauthorized(c);
        return fp__http_post(c, s->h.post, url, upload_data, upload_data_size, con_cls);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s->h.post ? reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, CT_TEXT,
                                        "method not allowed (use GET, HEAD or POST)\n", "GET, HEAD, POST")
                         : reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, CT_TEXT,
                                        "method not allowed (use GET or HEAD)\n", "GET, HEAD");
    /*
     * Keep-alive: a GET/HEAD is answered on the call after the headers, once
     * libmicrohttpd has the whole request (a body, if sent, is dropped), so
     * the connection stays open for the next request. An answer queued on
     * the first call would leave the request unread and close it.
     */
    if (!*con_cls) {
        *con_cls = &get_headers_in;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/healthz") == 0)
        return reply_health(c, s);
    bool set_cookie = false;
    if (s->token && !token_ok(c, s, &set_cookie))
        return reply_unauthorized(c);
    char cookie[512];
    if (set_cookie) {
        snprintf(cookie, sizeof(cookie), "fp_token=%s; HttpOnly; SameSite=Strict; Path=/", s->token);
        tl_set_cookie = cookie;
    }
    enum MHD_Result res = dispatch(c, s, url);
    tl_set_cookie = NULL;
    return res;
}

/* Routes an authorised GET/HEAD to its handler. */
static enum MHD_Result dispatch(struct MHD_Connection *c, FpHttpServer *s, const char *url)
{
    const FpWebFile *wf = fp__web_file(strcmp(url, "/") == 0 ? "/index.html" : url);
    if (wf)
        return reply_web_file(c, wf);
    if (strcmp(url, "/index.txt") == 0)
        return reply_static(c, MHD_HTTP_OK, CT_TEXT, INDEX_TXT, NULL);
    if (strcmp(url, "/metrics") == 0 && s->h.metrics)
        return reply_built(c, s, CT_PROMETHEUS, fill_metrics, "metrics");
    if (strcmp(url, "/api/cameras") == 0 && s->h.write_cameras)
        return reply_built(c, s, CT_JSON, fill_cameras, "cameras");
    if (strcmp(url, "/api/sinks") == 0 && s->h.write_sinks)
        return reply_built(c, s, CT_JSON, fill_sinks, "sinks");
    if (strcmp(url, "/api/events") == 0)
        return reply_events(c, s);
    if (strcmp(url, "/api/events/stream") == 0)
        return reply_event_stream(c, s);
    if (strncmp(url, "/snapshots/", 11) == 0)
        return reply_snapshot(c, s, url + 11);
    char name[256];
    if (camera_path(url, "stream.mjpg", name, sizeof(name)))
        return reply_mjpeg(c, s, name);
    if (camera_path(url, "frame.jpg", name, sizeof(name)))
        return reply_frame(c, s, name);
    return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
}

/*
 * libmicrohttpd's unescaping of the path and the query arguments, with one
 * change: a text whose unescaped form holds a NUL ("%00") is left as sent, so
 * "/metrics%00.txt" stays that (and is 404) instead of reading as "/metrics"
 * to every strcmp after it.
 */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *text)
{
    (void)cls;
    (void)c;
    size_t len = strlen(text);
    if (!memchr(text, '%', len))
        return len;
    char *orig = strdup(text);
    size_t n = MHD_http_unescape(text);
    if (memchr(text, '\0', n)) {
        if (!orig) { /* cannot restore: make the text match nothing */
            text[0] = '\0';
            return 0;
        }
        memcpy(text, orig, len + 1);
        n = len;
    }
    free(orig);
    return n;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    fp_log_warn("http", "libmicrohttpd: %s", line);
}

/* ---- server ------------------------------------------------------------- */

/* True when `fd` still refers to the socket with inode `ino` (see fp_http_server_create). */
static bool same_socket(int fd, ino_t ino)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_ino == ino;
}

static void free_strings(FpHttpServer *s)
{
    free(s->snapshot_dir);
    free(s->token);
}

int fp_http_server_create(FpHttpServer **out, const char *listen_spec, const FpHttpHandlers *h)
{
    if (!out || !h)
        return fp_error(FP_EINVALID, "http: fp_http_server_create: out and handlers are required");
    const char *spec = listen_spec ? listen_spec : FP_HTTP_DEFAULT_LISTEN;
    ListenAddr a;
    int rc = parse_listen(spec, &a);
    if (rc < 0)
        return rc;

    FpHttpServer *s = calloc(1, sizeof(*s));
    if (!s)
        return fp_error(-ENOMEM, "http: \"%s\": out of memory", spec);
    s->h = *h;
    s->snapshot_dir = h->snapshot_dir ? strdup(h->snapshot_dir) : NULL;
    s->token = h->token && h->token[0] ? strdup(h->token) : NULL;
    if ((h->snapshot_dir && !s->snapshot_dir) || (h->token && h->token[0] && !s->token)) {
        free(s->snapshot_dir);
        free(s->token);
        free(s);
        return fp_error(-ENOMEM, "http: \"%s\": out of memory", spec);
    }
    s->h.snapshot_dir = s->snapshot_dir;
    s->h.token = s->token;
    atomic_init(&s->stopping, false);
    pthread_mutex_init(&s->events_lock, NULL);

    int fd = open_listener(spec, &a);
    if (fd < 0) {
        pthread_mutex_destroy(&s->events_lock);
        free_strings(s);
        free(s);
        return fd;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
        int err = errno;
        close(fd);
        pthread_mutex_destroy(&s->events_lock);
        free_strings(s);
        free(s);
        return fp_error(-err, "http: \"%s\": getsockname: %s", spec, fp_strerror(-err));
    }
    format_addr(&bound, s->addr, sizeof(s->addr));
    s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);

    /* libmicrohttpd takes the socket over and closes it in MHD_stop_daemon. Whether it closes
     * it when MHD_start_daemon fails differs between versions, so we give it a duplicate and,
     * on failure, close the duplicate only while it is still our socket (same inode as `fd`). */
    struct stat st;
    int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mhd_fd < 0 || fstat(fd, &st) < 0) {
        int err = errno;
        if (mhd_fd >= 0)
            close(mhd_fd);
        close(fd);
        pthread_mutex_destroy(&s->events_lock);
        free_strings(s);
        free(s);
        return fp_error(-err, "http: \"%s\": %s", spec, fp_strerror(-err));
    }
    if ((rc = fp__header_watch_create(&s->watch, (int64_t)FP_HTTP_HEADER_TIMEOUT_S * 1000000000)) < 0) {
        close(mhd_fd);
        close(fd);
        pthread_mutex_destroy(&s->events_lock);
        free_strings(s);
        free(s);
        return fp_error(rc, "http: \"%s\": %s", spec, fp_strerror(rc));
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (a.family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, fp__header_watch_admit, (void *)s->watch, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)FP_HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)FP_HTTP_MAX_CONNECTIONS, MHD_OPTION_NOTIFY_CONNECTION, fp__header_watch_notify, (void *)s->watch,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape_keep_nul, (void *)NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)NULL,
        MHD_OPTION_END);
    if (!s->daemon) {
        fp__header_watch_destroy(&s->watch);
        if (same_socket(mhd_fd, st.st_ino))
            close(mhd_fd);
        close(fd);
        pthread_mutex_destroy(&s->events_lock);
        free_strings(s);
        free(s);
        return fp_error(FP_EINTERNAL, "http: libmicrohttpd could not start a server on \"%s\"",
                        spec);
    }
    close(fd); /* the duplicate, now libmicrohttpd's, keeps the socket open */

    bool anywhere = (a.family == AF_INET &&
                     ((struct sockaddr_in *)&a.ss)->sin_addr.s_addr == htonl(INADDR_ANY)) ||
                    (a.family == AF_INET6 &&
                     IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&a.ss)->sin6_addr));
    if (anywhere)
        fp_log_warn("http", "serving http://%s/ on every interface (reachable from other machines)",
                    s->addr);
    else
        fp_log_info("http", "serving http://%s/ (the live view; /index.txt lists the endpoints)%s", s->addr,
                    s->token ? "; a token is required" : "");
    *out = s;
    return 0;
}

int fp_http_server_set_event_log(FpHttpServer *s, FpEventLog *log)
{
    if (!s)
        return fp_error(FP_EINVALID, "http: fp_http_server_set_event_log: server is NULL");
    pthread_mutex_lock(&s->events_lock); /* waits for a request reading the previous log */
    s->events = log;
    pthread_mutex_unlock(&s->events_lock);
    return 0;
}

int fp_http_server_port(const FpHttpServer *s)
{
    return s ? s->port : FP_EINVALID;
}

void fp_http_server_destroy(FpHttpServer **sp)
{
    if (!sp || !*sp)
        return;
    FpHttpServer *s = *sp;
    /* The streams see `stopping` within a second and end; MHD_stop_daemon then joins the
     * connection threads and the accepting thread and closes every socket. */
    atomic_store(&s->stopping, true);
    MHD_stop_daemon(s->daemon);
    fp__header_watch_destroy(&s->watch); /* after: no connection is left to report */
    fp_log_debug("http", "stopped http://%s/", s->addr);
    pthread_mutex_destroy(&s->events_lock);
    free_strings(s);
    free(s);
    *sp = NULL;
}
