// SPDX-License-Identifier: MIT
// Network outputs that never lose an event: FpDelivery (a bounded queue, a thread and an on-disk spool per output) over a transport (Redis Streams, MQTT, webhook).
#ifndef FRAMEPIPE_DELIVER_H
#define FRAMEPIPE_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "framepipe/metrics.h"
#include "framepipe/sink.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The split (docs/outputs.md):
 *
 *   worker threads --FpSinkFn / FpEventSinkFn--> FpDelivery (format JSON, enqueue; never blocks)
 *        FpDelivery's thread --FpTransport.send--> Redis / MQTT / webhook
 *                            \--when the destination is down: events --> spool file (fsync'd) --> replayed in order
 *
 * A transport only knows how to (re)connect and send one record, blocking
 * with its own timeouts; FpDelivery owns the queue, the thread, the retry
 * schedule (exponential backoff), the spool and the statistics.
 */

typedef enum FpRecordKind {
    FP_RECORD_FRAME = 0, /* one frame's result: the JSON object of docs/jsonl.md (no newline) */
    FP_RECORD_EVENT = 1, /* one event: fp_event_to_json's object */
} FpRecordKind;

/* One record handed to a transport; everything is borrowed for the send call only. */
typedef struct FpRecord {
    FpRecordKind kind;
    const char *camera; /* the camera's name (never NULL; "cam<N>" when the camera had none) */
    uint64_t seq;       /* frames: the frame's seq; events: the event's id (per camera) */
    const char *json;   /* one JSON object, NUL-terminated, no newline */
    size_t len;         /* strlen(json) */
} FpRecord;

/*
 * A transport. All calls come from the one FpDelivery thread that owns it,
 * so a transport needs no locking of its own. Each returns 0 or a negative
 * code with a message (fp_error) naming the destination and what went wrong
 * (the message becomes the output's last_error).
 */
typedef struct FpTransportOps {
    const char *kind; /* "redis", "mqtt", "webhook": the sink="..." label of the metrics */
    /* Connects (or reconnects after a failure: disconnect was called before). Blocks at most the
     * transport's connect timeout. */
    int (*connect)(void *t);
    /* Delivers one record; 0 only once the destination has it (Redis: XADD replied; MQTT QoS >= 1:
     * acknowledged; webhook: a 2xx answer). Any failure: the record is not delivered and will be tried
     * again after a reconnect (so the destination may see it twice in the rare case where it got the
     * record but the acknowledgement was lost: consumers dedupe on camera + seq/id). */
    int (*send)(void *t, const FpRecord *rec);
    /* Drops the connection (after a failed send, and before destroy). Never fails. */
    void (*disconnect)(void *t);
    /* Frees the transport. */
    void (*destroy)(void *t);
} FpTransportOps;

typedef struct FpDeliveryConfig {
    const char *name;          /* the output's name in logs, metrics and /api/sinks (default: ops->kind) */
    bool frames;               /* forward per-frame results (default true) */
    bool events;               /* forward events (default true) */
    int frame_queue;           /* frames waiting in memory; when full the oldest is dropped and counted (default 64) */
    int event_queue;           /* events waiting in memory before the thread spools them (default 1024; never dropped:
                                  beyond it they wait in an overflow list) */
    const char *spool_path;    /* the spool file (created with its folder's parent existing); NULL: no spool,
                                  undeliverable events stay in memory (lost on exit, counted in `dropped`) */
    int64_t spool_max_bytes;   /* beyond it new events are dropped and counted, with an error (default 1 GiB) */
    int64_t retry_initial_ns;  /* first reconnect delay (default 100 ms); doubles up to retry_max_ns */
    int64_t retry_max_ns;      /* default 5 s */
    int64_t drain_timeout_ns;  /* at destroy: how long to keep delivering what is queued (default 2 s); events
                                  not delivered by then are spooled */
} FpDeliveryConfig;

/* Fills *cfg with the defaults above. Any thread. */
void fp_delivery_config_init(FpDeliveryConfig *cfg);

typedef struct FpDeliveryStats {
    uint64_t sent_frames, sent_events; /* delivered (replayed events included) */
    uint64_t failed;                   /* sends and connects that failed */
    uint64_t retried;                  /* events sent again after a failure (from the spool or memory) */
    uint64_t dropped;                  /* frames dropped (queue full, destination down); events only without a spool
                                          or beyond spool_max_bytes */
    uint64_t spooled;                  /* events written to the spool */
    uint64_t replayed;                 /* events delivered from the spool */
    int64_t backlog;                   /* frames + events queued in memory + events in the spool, now */
    bool connected;
    char last_error[256];              /* "" when none yet */
} FpDeliveryStats;

typedef struct FpDelivery FpDelivery;

/*
 * Starts an output over transport `t` with operations `ops` (FpDelivery
 * takes `t` over: it is destroyed with the output, and also when create
 * fails). cfg NULL: the defaults. Opens (or creates) the spool and checks
 * it: records left by an earlier run are delivered first, in order; a torn
 * last record (a crash mid-write) is cut off with a warning; a corrupt
 * record ends the readable part (warning naming the offset). Starts the
 * thread, which connects in the background (a destination that is down is
 * not an error here: events are spooled until it comes up). Returns 0 and
 * *out (the caller owns it: fp_delivery_destroy), FP_EINVALID, -errno for
 * a spool that cannot be opened (message names it), or -ENOMEM; *out
 * untouched on failure. Any thread.
 */
int fp_delivery_create(FpDelivery **out, const FpTransportOps *ops, void *t, const FpDeliveryConfig *cfg);

/*
 * FpSinkFn: formats r as docs/jsonl.md's object and queues it (when
 * cfg.frames). Never blocks on the network; no allocation once warm. A full
 * queue drops its oldest frame (counted). Returns 0 or FP_EINVALID. Any
 * thread.
 */
int fp_delivery_frame(void *d, const FpFrameResult *r);

/*
 * FpEventSinkFn: formats ev (fp_event_to_json) and queues it (when
 * cfg.events); the event is delivered, or spooled, or (without a spool)
 * counted as dropped at exit, never silently lost. frame_result is not read.
 * Returns 0, FP_EINVALID or -ENOMEM. Any thread.
 */
int fp_delivery_event(void *d, const FpEvent *ev, const FpFrameResult *frame_result);

/* A snapshot of the counters. Any thread. */
void fp_delivery_get_stats(FpDelivery *d, FpDeliveryStats *st);

/* The output's name (cfg.name or the transport kind). */
const char *fp_delivery_name(const FpDelivery *d);

/*
 * Registers framepipe_output_* series (sent, failed, retried, dropped,
 * spooled, replayed, backlog, connected; labels output="<name>",sink="<kind>")
 * in m, owned by d. fp_delivery_destroy removes them. Returns 0 or the
 * registry's error. Any thread.
 */
int fp_delivery_register_metrics(FpDelivery *d, FpMetrics *m);

/* Writes one JSON object of the stats ({"name":..,"kind":..,"sent_frames":..,...}) to out. 0 or -EIO. */
int fp_delivery_write_json(FpDelivery *d, FILE *out);

/*
 * Waits until everything queued in memory and in the spool has been
 * delivered, or timeout_ns passes. Returns 0 (all delivered) or
 * FP_ETIMEOUT. For tests and orderly shutdown. Any thread.
 */
int fp_delivery_flush(FpDelivery *d, int64_t timeout_ns);

/*
 * Stops the output: keeps delivering for up to cfg.drain_timeout_ns, then
 * spools the events still queued (frames still queued are dropped and
 * counted), joins the thread, disconnects and destroys the transport, closes
 * the spool and frees; sets *d to NULL (NULL: no-op). No frame or event call
 * may be in progress or start (stop the pipeline first). The registry given
 * to fp_delivery_register_metrics must still be alive: its series are
 * removed here.
 */
void fp_delivery_destroy(FpDelivery **d);

/* ---- transports ---- */

/*
 * Redis Streams (hiredis). Each record is one XADD:
 *   XADD <stream> MAXLEN ~ <maxlen> * camera <name> seq <n> kind frame|event data <json>
 * to stream_frames or stream_events.
 */
typedef struct FpRedisConfig {
    const char *host;          /* literal address or name (default "127.0.0.1") */
    int port;                  /* default 6379 */
    const char *unix_socket;   /* not NULL: connect to this socket instead of host:port */
    const char *password;      /* NULL: no AUTH; with `username` (Redis 6 ACL): AUTH username password */
    const char *username;
    int db;                    /* SELECT db when > 0 (default 0) */
    bool tls;                  /* requires a hiredis with TLS; Debian 12's hiredis 0.14 has none: FP_ECONFIG */
    const char *stream_frames; /* default "framepipe:frames" */
    const char *stream_events; /* default "framepipe:events" */
    long maxlen;               /* MAXLEN ~ N of both streams (default 100000; 0: no trimming) */
    int64_t timeout_ns;        /* connect and command timeout (default 2 s) */
} FpRedisConfig;

void fp_redis_config_init(FpRedisConfig *cfg);

/*
 * Parses "redis://[[user]:password@]host[:port][/db]" or "unix:///path[?db=N]" into cfg (strings point
 * into a copy the caller frees with free(*storage)). Returns 0 or FP_ECONFIG naming the URL; "rediss://"
 * sets tls. Any thread.
 */
int fp_redis_config_parse_url(FpRedisConfig *cfg, const char *url, char **storage);

/*
 * Creates the Redis transport (no connection yet; the FpDelivery thread connects). Strings are copied.
 * Returns 0, *ops and *t, or FP_ECONFIG (tls without TLS support, empty stream names, bad port or db),
 * FP_EUNSUPPORTED in a build without hiredis, -ENOMEM. Any thread.
 */
int fp_redis_transport_create(const FpTransportOps **ops, void **t, const FpRedisConfig *cfg);

/*
 * MQTT (libmosquitto). Topics, with prefix P (default "framepipe"):
 *   P/<camera>/detections   each frame's JSON
 *   P/<camera>/events       each event's JSON, and also
 *   P/events                every event (all cameras)
 *   P/<camera>/<class>/count the number of detections of each class in the frame, as a decimal (retained;
 *                           only when `counts`, and only when the number changed)
 *   P/availability          "online" (retained) once connected; the broker publishes "offline" (retained,
 *                           the last will) when the connection dies, and it is published on a clean stop
 * Camera and class names are put into topics with '/', '+', '#' replaced by '_'.
 */
typedef struct FpMqttConfig {
    const char *host;        /* default "127.0.0.1" */
    int port;                /* 0 (the default): 1883, or 8883 with tls */
    const char *client_id;   /* default "framepipe-<pid>" */
    const char *username, *password;
    const char *prefix;      /* default "framepipe" */
    int qos;                 /* 0, 1 (default) or 2; events wait for the broker's acknowledgement when >= 1 */
    bool counts;             /* publish per-class counts topics (default false) */
    bool tls;                /* TLS with the system CAs (libmosquitto built with TLS) */
    const char *ca_file;     /* optional CA bundle for tls */
    int keepalive_s;         /* default 30 */
    int64_t timeout_ns;      /* connect and acknowledgement timeout (default 5 s) */
} FpMqttConfig;

void fp_mqtt_config_init(FpMqttConfig *cfg);

/* Creates the MQTT transport. Returns 0, FP_ECONFIG (qos out of range; an empty prefix, one with '+' or '#', or
 * not UTF-8; a bad port; a keepalive of 1..4 s; an unreadable ca_file), FP_EUNSUPPORTED in a build without
 * libmosquitto, -ENOMEM. Any thread. */
int fp_mqtt_transport_create(const FpTransportOps **ops, void **t, const FpMqttConfig *cfg);

/*
 * Webhook (libcurl): each record is one POST of its JSON (Content-Type: application/json) to `url`, with the
 * configured headers, "Authorization: Bearer <token>" and X-Framepipe-Kind, X-Framepipe-Camera, X-Framepipe-Seq
 * (for deduplication). A 2xx answer delivers it; anything else (another status, a timeout, a refused
 * connection) fails it, and FpDelivery retries with backoff. connect only prepares the handle (no I/O); the
 * connection is opened by the first send and kept alive.
 */
#define FP_WEBHOOK_MAX_HEADERS 16
typedef struct FpWebhookConfig {
    const char *url;                              /* http:// or https:// */
    const char *headers[FP_WEBHOOK_MAX_HEADERS];  /* "Name: value" */
    int n_headers;
    const char *bearer_token;                     /* NULL: no Authorization header */
    int64_t timeout_ns;                           /* whole-request timeout (default 5 s) */
    int64_t connect_timeout_ns;                   /* default 2 s */
} FpWebhookConfig;

void fp_webhook_config_init(FpWebhookConfig *cfg);

/* Creates the webhook transport. Returns 0, FP_ECONFIG (no url, a scheme other than http/https, a header
 * without ':'), FP_EUNSUPPORTED in a build without libcurl, -ENOMEM. Any thread. */
int fp_webhook_transport_create(const FpTransportOps **ops, void **t, const FpWebhookConfig *cfg);

#ifdef __cplusplus
}
#endif
#endif
