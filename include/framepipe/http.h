// SPDX-License-Identifier: MIT
// The HTTP endpoint of `framepipe run`: /metrics (Prometheus), /healthz and /api/cameras, served from callbacks.
#ifndef FRAMEPIPE_HTTP_H
#define FRAMEPIPE_HTTP_H

#include "framepipe/metrics.h"
#include "framepipe/rules.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * FpHttpServer: a small HTTP/1.1 server (libmicrohttpd) that knows nothing of
 * the pipeline; every body is produced by the handlers below, per request.
 *
 *   GET /             200 the web view's page (web/index.html, embedded at build time; docs/webview.md)
 *   GET /app.js, /style.css   the page's other files (embedded too, served byte for byte)
 *   GET /index.txt    200 text/plain       a list of the endpoints
 *   GET /metrics      200 text/plain; version=0.0.4   fp_metrics_write_prometheus
 *   GET /healthz      200 "ok" or 503 + the reason    healthy() (never needs the token)
 *   GET /api/cameras  200 application/json            write_cameras()
 *   GET /api/sinks    200 application/json            write_sinks() (404 when NULL)
 *   GET /api/events   200 application/json            the FpEventLog set with fp_http_server_set_event_log
 *                     (?since=SEQ: only newer entries; a bad SEQ: 400)
 *   GET /api/events/stream   text/event-stream: "id: SEQ\ndata: {event}\n\n" per new entry after
 *                     Last-Event-ID or ?since= (default: the newest entry at connect), ": keepalive"
 *                     every FP_HTTP_KEEPALIVE_S seconds
 *   GET /api/cameras/NAME/stream.mjpg   multipart/x-mixed-replace; boundary=fpframe: a JPEG part per
 *                     new preview frame (preview_watch +1 while open, -1 when it ends)
 *   GET /api/cameras/NAME/frame.jpg     one preview JPEG (waits up to 2 s; 503 when none came)
 *                     (both: 404 for an unknown camera or without preview_next)
 *   GET /snapshots/NAME   a file of snapshot_dir as image/jpeg; NAME only [A-Za-z0-9._-], no ".."; else 404
 *   other paths       404;  methods other than GET/HEAD: 405 with "Allow: GET, HEAD"
 *   a handler failing 500 with the error text
 *
 * Token: when h->token is set, every request except /healthz must carry it
 * as "Authorization: Bearer TOKEN", as ?token=TOKEN (the reply then sets the
 * cookie "fp_token=TOKEN; HttpOnly; SameSite=Strict; Path=/" so the page's
 * own requests pass) or as that cookie; else 401 with a JSON error. Compared
 * in constant time.
 *
 * Threads: a thread per connection (libmicrohttpd's
 * MHD_USE_THREAD_PER_CONNECTION, plus its internal thread accepting
 * connections), so handlers of different connections run CONCURRENTLY and
 * must be thread-safe with respect to whatever they read (FpMetrics is;
 * write_cameras, write_sinks and healthy may run at the same time as each
 * other). The streams block their connection's thread in preview_next (1 s
 * at a time) or polling the event log, never another connection's. At most
 * FP_HTTP_MAX_CONNECTIONS connections (so threads) are open at once, at most
 * FP_HTTP_MAX_PER_IP of them from one address still sending their request
 * headers (so that one client trickling headers on many sockets cannot starve
 * /healthz for the others; busy clients behind one address are not capped), and a
 * connection whose request headers are not complete FP_HTTP_HEADER_TIMEOUT_S
 * seconds after it opened is closed however slowly it trickles. An idle
 * or stalled connection is closed after FP_HTTP_CONNECTION_TIMEOUT_S seconds
 * without traffic (the streams are exempt; they end when the client goes or
 * the server stops).
 */
typedef struct FpHttpServer FpHttpServer;

#define FP_HTTP_DEFAULT_LISTEN "127.0.0.1:9090"
#define FP_HTTP_CONNECTION_TIMEOUT_S 10
#define FP_HTTP_MAX_CONNECTIONS 256
#define FP_HTTP_MAX_PER_IP 64
#define FP_HTTP_HEADER_TIMEOUT_S 10 /* a connection without complete request headers by then is closed */
#define FP_HTTP_KEEPALIVE_S 15 /* the event stream's comment line while no event comes */

/*
 * POST with a body (the app's routes: POST /api/detect and /api/redact in
 * `framepipe serve` and `run`, docs/service.md). The server reads the body
 * on the connection's thread and hands it over piece by piece; nothing of
 * it is buffered by the server. A request is an FpHttpPost, valid from
 * begin() to end() on that one thread.
 */
typedef struct FpHttpPost FpHttpPost;
/* The path ("/api/detect"), a query argument (?conf=0.5: "0.5"; NULL when absent), a request header (NULL). */
const char *fp_http_post_path(const FpHttpPost *r);
const char *fp_http_post_arg(const FpHttpPost *r, const char *key);
const char *fp_http_post_header(const FpHttpPost *r, const char *name);
/* Content-Length, or -1 when the request has none (chunked). */
int64_t fp_http_post_length(const FpHttpPost *r);

/* An answer: the body is copied by the server when it is queued. */
typedef struct FpHttpReply {
    unsigned status;
    const char *type;   /* Content-Type (NULL: application/json) */
    const void *body;
    size_t len;
    int retry_after_s;  /* > 0: a Retry-After header */
} FpHttpReply;

typedef struct FpHttpPostHandlers {
    /* Headers in, body not read: return 1 with *ctx set to read the body, or 0 to answer *reply at
     * once (413, 404, 503...): libmicrohttpd then never reads the body and closes the connection. */
    int (*begin)(void *opaque, const FpHttpPost *req, void **ctx, FpHttpReply *reply);
    /* The next piece of the body: 0, or negative to answer *reply at once (the rest is not read). */
    int (*body)(void *ctx, const uint8_t *data, size_t len, FpHttpReply *reply);
    /* The whole body is in: fill *reply (its body must stay valid until end()). May block (waits for
     * the pipeline); it holds only this connection's thread. */
    void (*finish)(void *ctx, const FpHttpPost *req, FpHttpReply *reply);
    /* Last, once per request begin() accepted, whatever happened (answered or the client left). */
    void (*end)(void *ctx);
    void *opaque; /* passed to begin() */
} FpHttpPostHandlers;

typedef struct FpHttpHandlers {
    /* /metrics: written with fp_metrics_write_prometheus. NULL: /metrics answers 404. */
    FpMetrics *metrics;
    /* /api/cameras: writes a JSON array to `out`; returns 0 or a negative code (-> 500).
     * NULL: /api/cameras answers 404. */
    int (*write_cameras)(void *opaque, FILE *out);
    /* /healthz: returns 1 when healthy (200 "ok"), 0 when not (503 with the NUL-terminated
     * reason written to `why`, at most why_len bytes), or a negative code (-> 500).
     * NULL: always healthy (the server answering is the health signal). */
    int (*healthy)(void *opaque, char *why, size_t why_len);
    /* /api/sinks: writes a JSON array to `out` (the app's outputs and their figures); 0 or a
     * negative code (-> 500). NULL: /api/sinks answers 404. */
    int (*write_sinks)(void *opaque, FILE *out);
    /* The live view (the app adapts an FpPreview; see framepipe/preview.h for the contracts):
     * preview_watch adds (+1) or removes (-1) a viewer of `camera`, returning the viewers left
     * or FP_ENOT_FOUND; preview_next waits up to timeout_ns for a JPEG newer than *seq and
     * copies it into the growable *buf (1: a frame, 0: timeout, FP_ENOT_FOUND, another negative
     * code). Both NULL: the camera streams answer 404. Called on connection threads. */
    int (*preview_watch)(void *opaque, const char *camera, int delta);
    int (*preview_next)(void *opaque, const char *camera, uint64_t *seq, int64_t timeout_ns, uint8_t **buf,
                        size_t *cap, size_t *len);
    /* GET /snapshots/NAME serves NAME from this folder (copied); NULL: 404. */
    const char *snapshot_dir;
    /* Not NULL and not empty: the token every request but /healthz must carry (copied). */
    const char *token;
    /* POST routes (borrowed: must outlive the server); NULL: POST answers 405. Token-checked. */
    const FpHttpPostHandlers *post;
    void *opaque; /* passed to the callbacks */
} FpHttpHandlers;

/*
 * Starts a server listening on `listen`:
 *   "HOST:PORT"   HOST is a literal IPv4 address, "[IPv6]" in brackets, or "localhost"
 *                 (127.0.0.1; never looked up); PORT is 0..65535, 0 = any free port
 *                 (read it back with fp_http_server_port)
 *   ":PORT"       127.0.0.1:PORT
 *   NULL          FP_HTTP_DEFAULT_LISTEN ("127.0.0.1:9090")
 * The server is reachable from other machines only when asked explicitly
 * ("0.0.0.0:PORT", "[::]:PORT" or an interface's address).
 *
 * `h` is copied (with its strings); h->metrics and h->opaque must stay valid until
 * fp_http_server_destroy() returns. On success *out owns the server (release
 * it with fp_http_server_destroy) and it is already serving. On failure *out
 * is untouched and nothing is left listening; the return value is
 * FP_EINVALID for a malformed listen string or NULL out/h, -EADDRINUSE when
 * the port is taken, -EADDRNOTAVAIL for an address this machine does not
 * have, -EACCES for a privileged port, FP_EINTERNAL when libmicrohttpd cannot
 * start, or another -errno; fp_error_detail() names the listen address.
 * Any thread may call it.
 */
int fp_http_server_create(FpHttpServer **out, const char *listen, const FpHttpHandlers *h);

/* The bound TCP port (the chosen one for "HOST:0"); FP_EINVALID for NULL. Any thread. */
int fp_http_server_port(const FpHttpServer *s);

/*
 * Stops the server: closes the listening socket and every open connection
 * (a client holding a connection open does not delay it; an open stream
 * sees the server's stopping flag within about a second, the longest a
 * stream waits in preview_next or between event-log polls), waits for the
 * handlers that are running to return, frees the server and sets *s to NULL.
 * After it returns no handler runs again, so h->metrics and h->opaque may be
 * freed. NULL or *s == NULL: no-op. Any thread except a handler's (it would
 * wait for itself), once per server, with no other call on the server
 * (fp_http_server_port) running.
 */
void fp_http_server_destroy(FpHttpServer **s);

/*
 * FpEventLog: the most recent events of the rules engines, kept in memory
 * for GET /api/events. A fixed ring of `capacity` preallocated slots of
 * FP_EVENT_LOG_SLOT bytes, each holding one event's JSON
 * (fp_event_to_json); adding never allocates and overwrites the oldest
 * entry when the ring is full. Every entry gets a sequence number `seq`
 * (from 1, increasing, unique in the log across cameras: FpEvent.id is only
 * unique per camera's engine), which ?since= compares against.
 * The log needs no HTTP support: it works (and is tested) in a build
 * without libmicrohttpd too. Thread-safe: one mutex, held for a memcpy by
 * fp_event_log_add and while fp_event_log_write_json copies the entries out.
 */
typedef struct FpEventLog FpEventLog;

#define FP_EVENT_LOG_DEFAULT_CAPACITY 100
#define FP_EVENT_LOG_MAX_CAPACITY 100000
#define FP_EVENT_LOG_SLOT 4096 /* bytes of JSON per entry; longer events are counted in `dropped`, not stored */

/*
 * Creates a log of `capacity` entries (0: FP_EVENT_LOG_DEFAULT_CAPACITY;
 * 1..FP_EVENT_LOG_MAX_CAPACITY), allocating every slot here. Returns 0 and
 * *out (the caller owns it: fp_event_log_destroy), FP_EINVALID (NULL out,
 * capacity out of range) or -ENOMEM; *out untouched on failure. Any thread.
 */
int fp_event_log_create(FpEventLog **out, int capacity);

/*
 * Stores ev's JSON as the newest entry (ev is borrowed for the call) and
 * returns its seq (> 0); the oldest entry is overwritten when the log is
 * full. FP_EINVALID for NULL arguments; FP_ETOO_LARGE when the JSON needs
 * more than FP_EVENT_LOG_SLOT - 1 bytes (counted in fp_event_log_dropped;
 * nothing stored). No allocation. Any thread, concurrently (e.g. inside an
 * FpEventFn callback on an inference worker).
 */
int64_t fp_event_log_add(FpEventLog *log, const FpEvent *ev);

/*
 * Writes the stored entries with seq > since, oldest first (newest last), to
 * `out` as one JSON array: each element is the event's object with
 * "seq":N as its first field ([] when there are none). The entries are
 * copied under the lock into a buffer allocated here, then written, so a
 * slow `out` never holds up fp_event_log_add. Returns 0, FP_EINVALID (NULL
 * arguments), -ENOMEM, or -EIO when writing to `out` fails. Any thread.
 */
int fp_event_log_write_json(FpEventLog *log, uint64_t since, FILE *out);

/*
 * Copies the oldest stored entry with seq > after (its JSON as
 * fp_event_log_write_json writes an element, with "seq" first) into
 * buf[0..cap) with a NUL and its seq into *seq. Returns the length (> 0),
 * 0 when there is none, FP_ETOO_LARGE when cap is too small (nothing
 * copied) or FP_EINVALID. Entries overwritten since `after` are skipped.
 * Any thread; the lock is held for the copy only.
 */
int fp_event_log_next(FpEventLog *log, uint64_t after, uint64_t *seq, char *buf, size_t cap);

/* The seq of the newest entry (0 when none was added). Any thread. */
uint64_t fp_event_log_last_seq(const FpEventLog *log);

/* Events refused with FP_ETOO_LARGE since create. Any thread. */
uint64_t fp_event_log_dropped(const FpEventLog *log);

/* Frees the log; sets *log to NULL. NULL or *log == NULL: no-op. Once nothing else uses it (unset it from the server first). */
void fp_event_log_destroy(FpEventLog **log);

/*
 * Serves `log` (borrowed; NULL: /api/events answers 404 again, the default)
 * at GET /api/events from the next request on. The log must stay alive
 * until it is replaced or unset here, or the server is destroyed. Returns 0
 * or FP_EINVALID (s NULL); FP_EUNSUPPORTED in a build without HTTP. When it
 * returns no request uses the previous log any more (it waits for one being
 * served), so that log may be destroyed. Any thread but a handler's.
 */
int fp_http_server_set_event_log(FpHttpServer *s, FpEventLog *log);

#ifdef __cplusplus
}
#endif
#endif
