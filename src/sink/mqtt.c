// SPDX-License-Identifier: MIT
// The MQTT transport of FpDelivery (libmosquitto): detections, events, per-class counts and availability with a last will.
//
// Design: the transport is driven by the one FpDelivery thread, but
// libmosquitto's network loop runs on its own thread (mosquitto_loop_start),
// so keepalive pings go out while no record is sent and the broker does not
// fire the last will on an idle but healthy connection. The two threads
// meet only in the callbacks: on_connect (the CONNACK's code), on_publish
// (a message id the broker acknowledged, or a QoS 0 message written) and
// on_disconnect (the connection is gone). They write into the transport's
// `st` block under `mu` and signal `cv`; connect and send wait on `cv` with
// the configured timeout (CLOCK_MONOTONIC).
//
// Acknowledged ids go into a small ring rather than a single slot: the
// PUBACK of a message can arrive before mosquitto_publish has returned its
// id to us.
//
// A lost connection is final for one mosquitto handle: on_disconnect marks
// it lost and calls mosquitto_disconnect, which makes libmosquitto's loop
// thread end instead of reconnecting on its own. Reconnecting is
// FpDelivery's job (disconnect, then connect again, with its backoff); the
// transport keeps no message across handles.
//
// disconnect never waits long: a healthy connection gets "offline" and a
// DISCONNECT packet; when the loop thread has not finished within a short
// grace (a stalled broker), the socket is shut down under it, so the join
// returns.
//
// Topics are built into one buffer of the transport: the prefix (at most
// TOPIC_MAX / 2 bytes, checked at create) and at most two name levels of
// LEVEL_MAX bytes, so a topic always fits and no name can make a record
// undeliverable (which would keep FpDelivery retrying it forever).
//
// Counts: for each camera a table of class name -> last published count
// (bounded: MAX_COUNT_CAMERAS cameras, MAX_COUNT_CLASSES classes each;
// beyond that new cameras or classes get no counts topic). A count is
// remembered only once its publish succeeded, so a failed send publishes it
// again after the reconnect.
//
// Messages name "mqtt HOST:PORT" and never the password.
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ACK_RING 64
#define MAX_COUNT_CAMERAS 256
#define MAX_COUNT_CLASSES 256
#define TOPIC_MAX 1024
#define LEVEL_MAX 200 /* a camera or class name in a topic is cut to this many bytes */
#define SYSTEM_CA_PATH "/etc/ssl/certs"
#define OFFLINE_WAIT_NS 1000000000LL /* disconnect's wait for "offline" and for the loop to end */

typedef struct CountClass {
    char *name; /* the class name as in the JSON ("class<N>" when null) */
    int count;  /* last published count */
} CountClass;

typedef struct CountCamera {
    char *camera;
    CountClass *classes;
    int n, cap;
} CountCamera;

/* A class seen in one frame. */
typedef struct FrameClass {
    const char *name; /* points into the cJSON tree or into `buf` */
    char buf[24];
    int count;
} FrameClass;

typedef struct MqttTransport {
    char *host, *client_id, *username, *password, *prefix, *ca_file;
    int port, qos, keepalive_s;
    bool counts, tls;
    int64_t timeout_ns;
    char where[300]; /* "mqtt HOST:PORT" */

    struct mosquitto *mosq; /* NULL while disconnected */
    bool loop_running;
    bool stalled;           /* a wait for the broker timed out on this handle */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct {                /* written by the callbacks (libmosquitto's thread), under mu */
        int connack;        /* -1 until the CONNACK */
        bool lost;          /* on_disconnect was called */
        int lost_rc;        /* its reason (a MOSQ_ERR_*) */
        int lost_errno;     /* errno in the loop thread at that time */
        int acked[ACK_RING];
        unsigned acked_next;
        char log_error[200]; /* libmosquitto's last error line (a TLS handshake failure: "OpenSSL Error...") */
    } st;

    CountCamera *cams;
    int n_cams;
    char topic[TOPIC_MAX];
} MqttTransport;

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;
static atomic_int transports_created;

static void lib_init(void)
{
    lib_rc = mosquitto_lib_init();
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits on t->cv (mu held) until the absolute monotonic deadline; false when it has passed. */
static bool wait_until(MqttTransport *t, int64_t deadline)
{
    if (now_ns() >= deadline)
        return false;
    struct timespec ts = {(time_t)(deadline / 1000000000LL), (long)(deadline % 1000000000LL)};
    int rc = pthread_cond_timedwait(&t->cv, &t->mu, &ts);
    return rc != ETIMEDOUT || now_ns() < deadline;
}

/* ---- callbacks (libmosquitto's loop thread) ---- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    MqttTransport *t = obj;
    pthread_mutex_lock(&t->mu);
    t->st.connack = rc;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void)mosq;
    MqttTransport *t = obj;
    pthread_mutex_lock(&t->mu);
    t->st.acked[t->st.acked_next++ % ACK_RING] = mid;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

/*
 * Keeps libmosquitto's error lines. A TLS handshake that fails (an unknown CA, a wrong host name) is only
 * logged: the loop thread ends without on_disconnect, so connect watches for this line rather than waiting
 * out its timeout.
 */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
    (void)mosq;
    if (level != MOSQ_LOG_ERR || !str)
        return;
    MqttTransport *t = obj;
    pthread_mutex_lock(&t->mu);
    snprintf(t->st.log_error, sizeof(t->st.log_error), "%s", str);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    MqttTransport *t = obj;
    int err = errno;
    pthread_mutex_lock(&t->mu);
    if (!t->st.lost) {
        t->st.lost = true;
        t->st.lost_rc = rc;
        t->st.lost_errno = err;
    }
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    /* The state "disconnecting" ends libmosquitto's loop thread instead of letting it reconnect by itself. */
    mosquitto_disconnect(mosq);
}

/* ---- topics ---- */

/*
 * The length of the UTF-8 sequence at s that MQTT accepts in a topic (libmosquitto checks what the broker
 * would: well-formed, no overlong form, no surrogate, no code point above U+10FFFF, no control character
 * U+0000..U+001F or U+007F..U+009F, no noncharacter), or 0 when it is not one.
 */
static int utf8_topic_char(const unsigned char *s)
{
    unsigned cp;
    int n;
    if (s[0] < 0x80) {
        cp = s[0];
        n = 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1Fu;
        n = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0Fu;
        n = 3;
    } else if ((s[0] & 0xF8) == 0xF0) {
        cp = s[0] & 0x07u;
        n = 4;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    if (cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F))
        return 0;
    if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE)
        return 0;
    return n;
}

/*
 * Appends name to buf at *pos as one topic level of at most LEVEL_MAX bytes: '/', '+', '#', control characters
 * and bytes that are not valid UTF-8 become '_' (so every name makes a topic the broker accepts, and a record is
 * never refused for its camera's name); an empty name becomes "_".
 */
static void put_level(char *buf, size_t *pos, const char *name)
{
    size_t p = *pos, end = p + LEVEL_MAX < TOPIC_MAX - 1 ? p + LEVEL_MAX : TOPIC_MAX - 1;
    if (!name[0] && p < end)
        buf[p++] = '_';
    const unsigned char *s = (const unsigned char *)name;
    while (*s && p < end) {
        int n = utf8_topic_char(s);
        if (n == 0 || *s == '/' || *s == '+' || *s == '#') {
            buf[p++] = '_';
            s++;
            continue;
        }
        if (p + (size_t)n > end)
            break; /* a character is never cut */
        memcpy(buf + p, s, (size_t)n);
        p += (size_t)n;
        s += n;
    }
    buf[p] = '\0';
    *pos = p;
}

static void put_text(char *buf, size_t *pos, const char *text)
{
    size_t n = strlen(text);
    if (*pos + n >= TOPIC_MAX)
        n = TOPIC_MAX - 1 - *pos;
    memcpy(buf + *pos, text, n);
    *pos += n;
    buf[*pos] = '\0';
}

/*
 * Builds "<prefix>/<level1>[/<level2>]/<leaf>" into t->topic (level2 and leaf may be NULL). Returns 0, or
 * FP_ETOO_LARGE when it does not fit.
 */
static int build_topic(MqttTransport *t, const char *level1, const char *level2, const char *leaf)
{
    size_t pos = 0;
    t->topic[0] = '\0';
    put_text(t->topic, &pos, t->prefix);
    if (level1) {
        put_text(t->topic, &pos, "/");
        put_level(t->topic, &pos, level1);
    }
    if (level2) {
        put_text(t->topic, &pos, "/");
        put_level(t->topic, &pos, level2);
    }
    if (leaf) {
        put_text(t->topic, &pos, "/");
        put_text(t->topic, &pos, leaf);
    }
    if (pos >= TOPIC_MAX - 1)
        return fp_error(FP_ETOO_LARGE, "%s: the topic for camera \"%.64s\" is longer than %d bytes", t->where,
                        level1 ? level1 : "", TOPIC_MAX - 2);
    return 0;
}

/* ---- publishing ---- */

/* Why the connection ended, from on_disconnect's code and the loop thread's errno then (mu held). */
static const char *loss_reason(const MqttTransport *t)
{
    int rc = t->st.lost_rc, err = t->st.lost_errno;
    if ((rc == MOSQ_ERR_ERRNO || rc == MOSQ_ERR_CONN_LOST) && err && err != EAGAIN && err != EINTR)
        return strerror(err);
    if (rc == MOSQ_ERR_CONN_LOST)
        return "closed by the broker or the network";
    if (t->st.log_error[0])
        return t->st.log_error;
    return rc ? mosquitto_strerror(rc) : "disconnected";
}

/* The error for a connection found lost (mu held). */
static int lost_error(MqttTransport *t, const char *doing)
{
    return fp_error(FP_EIO, "%s: %s: the connection was lost (%s)", t->where, doing, loss_reason(t));
}

typedef enum AckResult { ACK_OK, ACK_LOST, ACK_TIMEOUT } AckResult;

/* Waits until the broker acknowledged mid, the connection is lost, or timeout_ns passes. Records no error. */
static AckResult await_ack(MqttTransport *t, int mid, int64_t timeout_ns)
{
    int64_t deadline = now_ns() + timeout_ns;
    AckResult r = ACK_TIMEOUT;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        bool found = false;
        for (int i = 0; i < ACK_RING && !found; i++) {
            if (t->st.acked[i] == mid) {
                t->st.acked[i] = 0; /* ids are 1..65535: 0 is never one */
                found = true;
            }
        }
        if (found) {
            r = ACK_OK;
            break;
        }
        if (t->st.lost) {
            r = ACK_LOST;
            break;
        }
        if (!wait_until(t, deadline))
            break;
    }
    pthread_mutex_unlock(&t->mu);
    if (r == ACK_TIMEOUT)
        t->stalled = true;
    return r;
}

/* Waits (timeout_ns) for the broker's acknowledgement of mid. 0, FP_EIO (lost) or FP_ETIMEOUT. */
static int wait_ack(MqttTransport *t, int mid, int64_t timeout_ns, const char *doing)
{
    AckResult r = await_ack(t, mid, timeout_ns);
    if (r == ACK_OK)
        return 0;
    if (r == ACK_TIMEOUT)
        return fp_error(FP_ETIMEOUT, "%s: %s: no acknowledgement from the broker within %lld ms", t->where, doing,
                        (long long)(timeout_ns / 1000000));
    pthread_mutex_lock(&t->mu);
    int rc = lost_error(t, doing);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

/*
 * Publishes payload on t->topic with qos and retain; with qos >= 1 returns 0 only once the broker acknowledged
 * it, with qos 0 once libmosquitto accepted it. `doing` names the record in messages.
 */
static int publish(MqttTransport *t, const void *payload, size_t len, int qos, bool retain, int64_t timeout_ns,
                   const char *doing)
{
    if (!t->mosq)
        return fp_error(FP_EIO, "%s: %s: not connected", t->where, doing);
    pthread_mutex_lock(&t->mu);
    if (t->st.lost) {
        int rc = lost_error(t, doing);
        pthread_mutex_unlock(&t->mu);
        return rc;
    }
    pthread_mutex_unlock(&t->mu);
    if (len > 268435455u) /* MQTT's largest payload */
        return fp_error(FP_ETOO_LARGE, "%s: %s: a %zu-byte payload is larger than MQTT allows", t->where, doing,
                        len);
    int mid = 0;
    int rc = mosquitto_publish(t->mosq, &mid, t->topic, (int)len, payload, qos, retain);
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
        return fp_error(FP_EIO, "%s: %s: the connection was lost (%s)", t->where, doing, mosquitto_strerror(rc));
    if (rc == MOSQ_ERR_NOMEM)
        return fp_error(-ENOMEM, "%s: %s: out of memory", t->where, doing);
    if (rc != MOSQ_ERR_SUCCESS)
        return fp_error(FP_EIO, "%s: %s: publish on \"%s\" failed: %s", t->where, doing, t->topic,
                        rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    if (qos == 0)
        return 0;
    return wait_ack(t, mid, timeout_ns, doing);
}

/* ---- counts ---- */

static void count_camera_free(CountCamera *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->classes[i].name);
    free(c->classes);
    free(c->camera);
}

/* The camera's table, added when new; NULL when the table is full (no counts for it) or out of memory. */
static CountCamera *count_camera(MqttTransport *t, const char *camera)
{
    for (int i = 0; i < t->n_cams; i++)
        if (strcmp(t->cams[i].camera, camera) == 0)
            return &t->cams[i];
    if (t->n_cams >= MAX_COUNT_CAMERAS)
        return NULL;
    if (!t->cams) {
        t->cams = calloc(MAX_COUNT_CAMERAS, sizeof(*t->cams));
        if (!t->cams)
            return NULL;
    }
    CountCamera *c = &t->cams[t->n_cams];
    c->camera = strdup(camera);
    if (!c->camera)
        return NULL;
    t->n_cams++;
    return c;
}

/* The class's entry in c (added with count -1, "never published", when new); NULL when full or out of memory. */
static CountClass *count_class(CountCamera *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->classes[i].name, name) == 0)
            return &c->classes[i];
    if (c->n >= MAX_COUNT_CLASSES)
        return NULL;
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 8;
        CountClass *grown = realloc(c->classes, (size_t)cap * sizeof(*grown));
        if (!grown)
            return NULL;
        c->classes = grown;
        c->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return NULL;
    c->classes[c->n] = (CountClass){copy, -1};
    return &c->classes[c->n++];
}

/* Publishes (retained) the count of one class of rec's camera on P/<camera>/<class>/count; records it on success. */
static int publish_count(MqttTransport *t, const FpRecord *rec, CountClass *cls, int count)
{
    int rc = build_topic(t, rec->camera, cls->name, "count");
    if (rc < 0)
        return rc;
    char payload[16];
    int n = snprintf(payload, sizeof(payload), "%d", count);
    char doing[96];
    snprintf(doing, sizeof(doing), "count of frame %" PRIu64 " of camera \"%.40s\"", rec->seq, rec->camera);
    rc = publish(t, payload, (size_t)n, t->qos, true, t->timeout_ns, doing);
    if (rc == 0)
        cls->count = count;
    return rc;
}

/*
 * Counts the detections of a frame by class and publishes the counts that changed since the camera's last frame
 * (0 for a class seen before and absent now). A frame whose JSON has no "detections" array publishes nothing.
 */
static int publish_counts(MqttTransport *t, const FpRecord *rec)
{
    cJSON *root = cJSON_ParseWithLength(rec->json, rec->len);
    if (!root)
        return 0; /* not ours to judge: the record itself was delivered */
    const cJSON *dets = cJSON_GetObjectItemCaseSensitive(root, "detections");
    int rc = 0;
    FrameClass *seen = NULL;
    int n_seen = 0;
    CountCamera *cam = cJSON_IsArray(dets) ? count_camera(t, rec->camera) : NULL;
    if (!cam)
        goto done;
    int n_dets = cJSON_GetArraySize(dets);
    if (n_dets > 0) {
        seen = calloc((size_t)n_dets, sizeof(*seen));
        if (!seen) {
            rc = fp_error(-ENOMEM, "%s: counts of camera \"%s\": out of memory", t->where, rec->camera);
            goto done;
        }
    }
    const cJSON *det;
    cJSON_ArrayForEach(det, dets)
    {
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(det, "class");
        FrameClass key = {0};
        if (cJSON_IsString(cls) && cls->valuestring) {
            key.name = cls->valuestring;
        } else {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(det, "class_id");
            snprintf(key.buf, sizeof(key.buf), "class%d", cJSON_IsNumber(id) ? id->valueint : 0);
        }
        const char *name = key.name ? key.name : key.buf;
        int i = 0;
        while (i < n_seen && strcmp(seen[i].name ? seen[i].name : seen[i].buf, name) != 0)
            i++;
        if (i == n_seen) {
            seen[n_seen] = key;
            n_seen++;
        }
        seen[i].count++;
    }
    for (int i = 0; i < n_seen && rc == 0; i++) {
        CountClass *entry = count_class(cam, seen[i].name ? seen[i].name : seen[i].buf);
        if (entry && entry->count != seen[i].count)
            rc = publish_count(t, rec, entry, seen[i].count);
    }
    for (int j = 0; j < cam->n && rc == 0; j++) {
        CountClass *entry = &cam->classes[j];
        if (entry->count <= 0)
            continue;
        bool present = false;
        for (int i = 0; i < n_seen && !present; i++)
            present = strcmp(seen[i].name ? seen[i].name : seen[i].buf, entry->name) == 0;
        if (!present)
            rc = publish_count(t, rec, entry, 0);
    }
done:
    free(seen);
    cJSON_Delete(root);
    return rc;
}

/* ---- operations ---- */

/*
 * Ends the handle: with `graceful` and a healthy connection, "offline" (retained) with a short wait; then
 * DISCONNECT, the loop thread's end (the socket is shut down under it when it does not end within the grace),
 * mosquitto_destroy. A no-op when disconnected.
 */
static void teardown(MqttTransport *t, bool graceful)
{
    if (!t->mosq)
        return;
    pthread_mutex_lock(&t->mu);
    bool healthy = t->st.connack == 0 && !t->st.lost && !t->stalled;
    pthread_mutex_unlock(&t->mu);
    /* no fp_error from here on: FpDelivery may read the message of the failure that led to this call after it */
    int mid = 0;
    if (graceful && healthy && build_topic(t, NULL, NULL, "availability") == 0 &&
        mosquitto_publish(t->mosq, &mid, t->topic, 7, "offline", 1, true) == MOSQ_ERR_SUCCESS)
        (void)await_ack(t, mid, t->timeout_ns < OFFLINE_WAIT_NS ? t->timeout_ns : OFFLINE_WAIT_NS);
    mosquitto_disconnect(t->mosq);
    if (t->loop_running) {
        /* A clean DISCONNECT ends the loop at once (on_disconnect follows it); a stalled one gets a grace. */
        int64_t deadline = now_ns() + OFFLINE_WAIT_NS;
        pthread_mutex_lock(&t->mu);
        while (!t->st.lost && t->st.connack >= 0 && wait_until(t, deadline)) {
        }
        bool ended = t->st.lost;
        pthread_mutex_unlock(&t->mu);
        if (!ended) {
            int fd = mosquitto_socket(t->mosq);
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
        }
        mosquitto_loop_stop(t->mosq, false);
        t->loop_running = false;
    }
    mosquitto_destroy(t->mosq);
    t->mosq = NULL;
}

/* FpTransportOps.disconnect: "offline" when it can, then drops the connection. Never fails; never waits long. */
static void mqtt_disconnect(void *p)
{
    teardown(p, true);
}

/* The error for a connection that ended before or at its CONNACK (mu held). */
static int connect_error(MqttTransport *t)
{
    int connack = t->st.connack;
    if (connack > 0) {
        int code = (connack == 4 || connack == 5) ? -EACCES : FP_EIO;
        return fp_error(code, "%s: the broker refused the connection: %s", t->where,
                        mosquitto_connack_string(connack));
    }
    if (!t->st.lost && t->st.log_error[0])
        return fp_error(FP_EIO, "%s: the connection failed: %s", t->where, t->st.log_error);
    if (t->st.lost_rc == MOSQ_ERR_ERRNO && t->st.lost_errno == ECONNREFUSED)
        return fp_error(-ECONNREFUSED, "%s: connection refused (is the broker running?)", t->where);
    return fp_error(FP_EIO, "%s: the connection was closed before the broker answered (%s)", t->where,
                    loss_reason(t));
}

/*
 * FpTransportOps.connect: a new handle with the last will, credentials and TLS; CONNECT; waits for the CONNACK
 * (timeout_ns); publishes "online" (retained, QoS 1, acknowledged). Returns 0, -ECONNREFUSED, -EACCES (bad
 * credentials), FP_ETIMEOUT, FP_ECONFIG (TLS settings), FP_EIO or -ENOMEM; on failure nothing is left open.
 */
static int mqtt_connect(void *p)
{
    MqttTransport *t = p;
    teardown(t, false);
    pthread_once(&lib_once, lib_init);
    if (lib_rc != MOSQ_ERR_SUCCESS)
        return fp_error(FP_EDEPENDENCY, "%s: libmosquitto failed to initialise: %s", t->where,
                        mosquitto_strerror(lib_rc));
    pthread_mutex_lock(&t->mu);
    memset(&t->st, 0, sizeof(t->st));
    t->st.connack = -1;
    pthread_mutex_unlock(&t->mu);
    t->stalled = false;

    errno = 0;
    t->mosq = mosquitto_new(t->client_id, true, t);
    if (!t->mosq)
        return errno == ENOMEM ? fp_error(-ENOMEM, "%s: out of memory", t->where)
                               : fp_error(FP_ECONFIG, "%s: client id \"%s\" rejected", t->where, t->client_id);
    mosquitto_connect_callback_set(t->mosq, on_connect);
    mosquitto_disconnect_callback_set(t->mosq, on_disconnect);
    mosquitto_publish_callback_set(t->mosq, on_publish);
    mosquitto_log_callback_set(t->mosq, on_log);

    int rc = build_topic(t, NULL, NULL, "availability");
    if (rc < 0)
        goto fail;
    int mrc = mosquitto_will_set(t->mosq, t->topic, 7, "offline", 1, true);
    if (mrc != MOSQ_ERR_SUCCESS) {
        rc = fp_error(FP_ECONFIG, "%s: last will on \"%s\": %s", t->where, t->topic, mosquitto_strerror(mrc));
        goto fail;
    }
    if (t->username || t->password) {
        mrc = mosquitto_username_pw_set(t->mosq, t->username ? t->username : "", t->password);
        if (mrc != MOSQ_ERR_SUCCESS) {
            rc = fp_error(FP_ECONFIG, "%s: user name: %s", t->where, mosquitto_strerror(mrc));
            goto fail;
        }
    }
    if (t->tls) {
        mrc = mosquitto_tls_set(t->mosq, t->ca_file, t->ca_file ? NULL : SYSTEM_CA_PATH, NULL, NULL, NULL);
        if (mrc != MOSQ_ERR_SUCCESS) {
            rc = fp_error(FP_ECONFIG, "%s: TLS with %s %s: %s", t->where, t->ca_file ? "CA file" : "CA path",
                          t->ca_file ? t->ca_file : SYSTEM_CA_PATH,
                          mrc == MOSQ_ERR_NOT_SUPPORTED ? "libmosquitto was built without TLS"
                                                        : mosquitto_strerror(mrc));
            goto fail;
        }
    }

    int64_t deadline = now_ns() + t->timeout_ns;
    errno = 0;
    mrc = mosquitto_connect_async(t->mosq, t->host, t->port, t->keepalive_s);
    if (mrc != MOSQ_ERR_SUCCESS) {
        int err = errno;
        if (mrc == MOSQ_ERR_ERRNO && err == ECONNREFUSED)
            rc = fp_error(-ECONNREFUSED, "%s: connection refused (is the broker running?)", t->where);
        else if (mrc == MOSQ_ERR_ERRNO && err)
            rc = fp_error(-err, "%s: cannot connect: %s", t->where, strerror(err));
        else if (mrc == MOSQ_ERR_EAI)
            rc = fp_error(FP_EIO, "%s: cannot resolve the host name", t->where);
        else if (t->st.log_error[0]) /* a TLS handshake that failed at once: OpenSSL's reason */
            rc = fp_error(FP_EIO, "%s: cannot connect: %s", t->where, t->st.log_error);
        else
            rc = fp_error(FP_EIO, "%s: cannot connect: %s", t->where, mosquitto_strerror(mrc));
        goto fail;
    }
    mrc = mosquitto_loop_start(t->mosq);
    if (mrc != MOSQ_ERR_SUCCESS) {
        rc = fp_error(FP_EIO, "%s: cannot start libmosquitto's network thread: %s", t->where,
                      mosquitto_strerror(mrc));
        goto fail;
    }
    t->loop_running = true;

    pthread_mutex_lock(&t->mu);
    while (t->st.connack < 0 && !t->st.lost && !t->st.log_error[0] && wait_until(t, deadline)) {
    }
    if (t->st.connack != 0 || t->st.lost) {
        if (t->st.connack < 0 && !t->st.lost && !t->st.log_error[0]) {
            t->stalled = true;
            rc = fp_error(FP_ETIMEOUT, "%s: no answer (CONNACK) from the broker within %lld ms", t->where,
                          (long long)(t->timeout_ns / 1000000));
        } else {
            rc = connect_error(t);
        }
        pthread_mutex_unlock(&t->mu);
        goto fail;
    }
    pthread_mutex_unlock(&t->mu);

    rc = build_topic(t, NULL, NULL, "availability");
    if (rc == 0)
        rc = publish(t, "online", 6, 1, true, t->timeout_ns, "availability \"online\"");
    if (rc < 0)
        goto fail;
    return 0;

fail:
    /* teardown records nothing with fp_error: rc's message stays the thread's last one */
    teardown(t, false);
    return rc;
}

/*
 * FpTransportOps.send: frames on P/<camera>/detections (and their counts), events on P/<camera>/events and
 * P/events. 0 once every publish was acknowledged (QoS >= 1) or accepted (QoS 0).
 */
static int mqtt_send(void *p, const FpRecord *rec)
{
    MqttTransport *t = p;
    if (!rec || !rec->camera || !rec->json)
        return fp_error(FP_EINVALID, "%s: send: a record without camera or JSON", t->where);
    char doing[96];
    int rc;
    if (rec->kind == FP_RECORD_FRAME) {
        snprintf(doing, sizeof(doing), "frame %" PRIu64 " of camera \"%.40s\"", rec->seq, rec->camera);
        rc = build_topic(t, rec->camera, NULL, "detections");
        if (rc == 0)
            rc = publish(t, rec->json, rec->len, t->qos, false, t->timeout_ns, doing);
        if (rc == 0 && t->counts)
            rc = publish_counts(t, rec);
        return rc;
    }
    snprintf(doing, sizeof(doing), "event %" PRIu64 " of camera \"%.40s\"", rec->seq, rec->camera);
    rc = build_topic(t, rec->camera, NULL, "events");
    if (rc == 0)
        rc = publish(t, rec->json, rec->len, t->qos, false, t->timeout_ns, doing);
    if (rc == 0)
        rc = build_topic(t, "events", NULL, NULL);
    if (rc == 0) {
        /* "events" as a level of its own: P/events, not a camera's level */
        rc = publish(t, rec->json, rec->len, t->qos, false, t->timeout_ns, doing);
    }
    return rc;
}

static void mqtt_free(MqttTransport *t)
{
    for (int i = 0; i < t->n_cams; i++)
        count_camera_free(&t->cams[i]);
    free(t->cams);
    free(t->host);
    free(t->client_id);
    free(t->username);
    free(t->password);
    free(t->prefix);
    free(t->ca_file);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* FpTransportOps.destroy: drops a connection still open (without "offline": disconnect is the place) and frees. */
static void mqtt_destroy(void *p)
{
    MqttTransport *t = p;
    if (!t)
        return;
    teardown(t, false);
    mqtt_free(t);
}

static const FpTransportOps mqtt_ops = {
    .kind = "mqtt",
    .connect = mqtt_connect,
    .send = mqtt_send,
    .disconnect = mqtt_disconnect,
    .destroy = mqtt_destroy,
};

/* strdup of s, or NULL for NULL; *failed is set when the copy failed. */
static char *copy(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *failed = true;
    return c;
}

int fp_mqtt_transport_create(const FpTransportOps **ops, void **out, const FpMqttConfig *cfg)
{
    if (!ops || !out || !cfg)
        return fp_error(FP_EINVALID, "mqtt: fp_mqtt_transport_create: NULL argument");
    const char *host = cfg->host ? cfg->host : "127.0.0.1";
    int port = cfg->port ? cfg->port : (cfg->tls ? 8883 : 1883);
    if (!host[0])
        return fp_error(FP_ECONFIG, "mqtt: empty host");
    if (cfg->port < 0 || cfg->port > 65535)
        return fp_error(FP_ECONFIG, "mqtt %s: port %d is out of range (1..65535)", host, cfg->port);
    if (cfg->qos < 0 || cfg->qos > 2)
        return fp_error(FP_ECONFIG, "mqtt %s:%d: qos %d is not 0, 1 or 2", host, port, cfg->qos);
    if (!cfg->prefix || !cfg->prefix[0])
        return fp_error(FP_ECONFIG, "mqtt %s:%d: empty topic prefix", host, port);
    if (strpbrk(cfg->prefix, "+#"))
        return fp_error(FP_ECONFIG, "mqtt %s:%d: topic prefix \"%s\" contains a wildcard ('+' or '#')", host, port,
                        cfg->prefix);
    if (strlen(cfg->prefix) > TOPIC_MAX / 2)
        return fp_error(FP_ECONFIG, "mqtt %s:%d: topic prefix is longer than %d bytes", host, port, TOPIC_MAX / 2);
    if (mosquitto_validate_utf8(cfg->prefix, (int)strlen(cfg->prefix)) != MOSQ_ERR_SUCCESS)
        return fp_error(FP_ECONFIG, "mqtt %s:%d: topic prefix is not valid UTF-8 or has control characters", host,
                        port);
    if (cfg->keepalive_s != 0 && (cfg->keepalive_s < 5 || cfg->keepalive_s > 65535))
        return fp_error(FP_ECONFIG, "mqtt %s:%d: keepalive %d s is out of range (0 or 5..65535)", host, port,
                        cfg->keepalive_s);
    if (cfg->timeout_ns <= 0)
        return fp_error(FP_ECONFIG, "mqtt %s:%d: the timeout must be positive", host, port);
    if (cfg->client_id && !cfg->client_id[0])
        return fp_error(FP_ECONFIG, "mqtt %s:%d: empty client id", host, port);
    if (cfg->ca_file && access(cfg->ca_file, R_OK) != 0)
        return fp_error(FP_ECONFIG, "mqtt %s:%d: CA file %s: %s", host, port, cfg->ca_file, strerror(errno));

    MqttTransport *t = calloc(1, sizeof(*t));
    if (!t)
        return fp_error(-ENOMEM, "mqtt %s:%d: out of memory", host, port);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&t->mu, NULL);
    bool failed = false;
    t->host = copy(host, &failed);
    t->username = copy(cfg->username, &failed);
    t->password = copy(cfg->password, &failed);
    t->prefix = copy(cfg->prefix, &failed);
    t->ca_file = copy(cfg->ca_file, &failed);
    if (cfg->client_id) {
        t->client_id = copy(cfg->client_id, &failed);
    } else {
        /* "framepipe-<pid>"; a second transport of the same process gets "-<n>": equal ids would push each other off */
        int n = atomic_fetch_add(&transports_created, 1);
        char id[48];
        if (n == 0)
            snprintf(id, sizeof(id), "framepipe-%ld", (long)getpid());
        else
            snprintf(id, sizeof(id), "framepipe-%ld-%d", (long)getpid(), n + 1);
        t->client_id = copy(id, &failed);
    }
    if (failed) {
        mqtt_free(t);
        return fp_error(-ENOMEM, "mqtt %s:%d: out of memory", host, port);
    }
    t->port = port;
    t->qos = cfg->qos;
    t->keepalive_s = cfg->keepalive_s;
    t->counts = cfg->counts;
    t->tls = cfg->tls;
    t->timeout_ns = cfg->timeout_ns;
    snprintf(t->where, sizeof(t->where), "mqtt %.255s:%d", host, port);
    *ops = &mqtt_ops;
    *out = t;
    return 0;
}
