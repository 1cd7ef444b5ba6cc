// SPDX-License-Identifier: MIT
// The HTTP endpoint (libmicrohttpd): /metrics, /healthz, /api/cameras, /api/events and an index, bodies from callbacks and the event log.
//
// Design: we parse the listen string and create, bind and listen on the
// socket ourselves, then hand it to libmicrohttpd (MHD_OPTION_LISTEN_SOCKET).
// That way a taken port or a foreign address is reported with its errno and
// the address named, a ":0" port can be read back with getsockname, and no
// name is ever resolved (a host is a literal address or "localhost").
// libmicrohttpd runs one internal, event-driven thread (epoll/poll): every
// handler runs there, serialised, and every body is built in memory with
// open_memstream before it is queued, so a client that reads slowly only
// holds its own connection, which the connection timeout eventually closes.
// This is not a per-frame path; allocating per request is fine.
#include "framepipe/http.h"

#include "framepipe/error.h"
#include "framepipe/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define ADDR_MAX 80 /* "[" + INET6_ADDRSTRLEN + "]:65535" */

struct FpHttpServer {
    struct MHD_Daemon *daemon;
    FpHttpHandlers h;
    int port;
    char addr[ADDR_MAX]; /* canonical "host:port" with the bound port */
    pthread_mutex_t events_lock; /* `events`, held while a request reads it */
    FpEventLog *events;          /* borrowed; NULL: /api/events is 404 */
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

static const char INDEX_HTML[] =
    "<!DOCTYPE html>\n"
    "<html><head><meta charset=\"utf-8\"><title>framepipe</title></head><body>\n"
    "<h1>framepipe</h1>\n"
    "<ul>\n"
    "<li><a href=\"metrics\">/metrics</a> (Prometheus)</li>\n"
    "<li><a href=\"healthz\">/healthz</a></li>\n"
    "<li><a href=\"api/cameras\">/api/cameras</a> (JSON)</li>\n"
    "<li><a href=\"api/events\">/api/events</a> (JSON, recent events)</li>\n"
    "</ul>\n"
    "</body></html>\n";

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_PROMETHEUS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON "application/json"
#define CT_HTML "text/html; charset=utf-8"

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
    enum MHD_Result ok = MHD_YES;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        (allow && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES))
        ok = MHD_NO;
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
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

/*
 * libmicrohttpd's access handler, on the server thread. Called once the
 * request headers are in; every answer is queued on that first call (no
 * request here has a body worth reading), so a request with a body gets its
 * 405 at once and libmicrohttpd closes the connection instead of reading it.
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    FpHttpServer *s = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply_static(c, MHD_HTTP_METHOD_NOT_ALLOWED, CT_TEXT,
                            "method not allowed (use GET or HEAD)\n", "GET, HEAD");
    if (strcmp(url, "/") == 0)
        return reply_static(c, MHD_HTTP_OK, CT_HTML, INDEX_HTML, NULL);
    if (strcmp(url, "/metrics") == 0 && s->h.metrics)
        return reply_built(c, s, CT_PROMETHEUS, fill_metrics, "metrics");
    if (strcmp(url, "/healthz") == 0)
        return reply_health(c, s);
    if (strcmp(url, "/api/cameras") == 0 && s->h.write_cameras)
        return reply_built(c, s, CT_JSON, fill_cameras, "cameras");
    if (strcmp(url, "/api/events") == 0)
        return reply_events(c, s);
    return reply_static(c, MHD_HTTP_NOT_FOUND, CT_TEXT, "not found\n", NULL);
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
    pthread_mutex_init(&s->events_lock, NULL);

    int fd = open_listener(spec, &a);
    if (fd < 0) {
        pthread_mutex_destroy(&s->events_lock);
        free(s);
        return fd;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) < 0) {
        int err = errno;
        close(fd);
        pthread_mutex_destroy(&s->events_lock);
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
        free(s);
        return fp_error(-err, "http: \"%s\": %s", spec, fp_strerror(-err));
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (a.family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, (void *)s,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)FP_HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)FP_HTTP_MAX_CONNECTIONS, MHD_OPTION_END);
    if (!s->daemon) {
        if (same_socket(mhd_fd, st.st_ino))
            close(mhd_fd);
        close(fd);
        pthread_mutex_destroy(&s->events_lock);
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
        fp_log_info("http", "serving http://%s/ (/metrics, /healthz, /api/cameras, /api/events)", s->addr);
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
    /* Joins the server thread (a running handler finishes first) and closes every connection
     * and the listening socket. */
    MHD_stop_daemon(s->daemon);
    fp_log_debug("http", "stopped http://%s/", s->addr);
    pthread_mutex_destroy(&s->events_lock);
    free(s);
    *sp = NULL;
}
