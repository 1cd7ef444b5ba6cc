// SPDX-License-Identifier: MIT
// The MQTT transport (src/sink/mqtt.c) against a real mosquitto broker on 127.0.0.1, checked by a second libmosquitto client.
//
// Each case starts its own broker (/usr/sbin/mosquitto with a generated
// config on a free port) and drives the transport's operations directly
// from one thread, as FpDelivery's thread does. The subscriber (QoS 1)
// records every message with its topic, payload and retain flag.
#include "fp_test.h"
#include "fp_test_spawn.h"

#include "framepipe/deliver.h"

#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MOSQUITTO "/usr/sbin/mosquitto"
#define MOSQUITTO_PASSWD "/usr/bin/mosquitto_passwd"
#define MAX_MSGS 2048

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the broker ---- */

typedef struct Broker {
    pid_t pid;
    int port;
    char conf[600], log[600];
} Broker;

static void need_broker(void)
{
    if (access(MOSQUITTO, X_OK) != 0)
        fp_test_skip(MOSQUITTO " is missing (Debian package mosquitto, scripts/apt-packages.txt)");
}

/* Starts mosquitto on port (0: a free one) with `extra` config lines; fails the case when it does not listen. */
static void broker_start(Broker *b, int port, const char *extra)
{
    need_broker();
    b->port = port ? port : fp_test_free_port();
    snprintf(b->conf, sizeof(b->conf), "%s/mosquitto-%d.conf", fp_test_tmpdir(), b->port);
    snprintf(b->log, sizeof(b->log), "%s/mosquitto-%d.log", fp_test_tmpdir(), b->port);
    FILE *f = fopen(b->conf, "w");
    CHECK(f);
    /* `user root`: run as root, mosquitto would switch to the user mosquitto, who cannot read the case's folder */
    fprintf(f, "listener %d 127.0.0.1\npersistence false\nuser root\n%s\n", b->port,
            extra ? extra : "allow_anonymous true");
    fclose(f);
    const char *argv[] = {MOSQUITTO, "-c", b->conf, NULL};
    FpTestSpawnOptions o = {.stdout_path = b->log, .stderr_path = b->log};
    b->pid = fp_test_spawn(argv, &o);
    int rc = fp_test_wait_port(b->pid, b->port, 10000);
    CHECK_MSG(rc == 0, "mosquitto did not listen on %d (%d): see %s", b->port, rc, b->log);
}

static void broker_stop(Broker *b)
{
    if (b->pid > 0)
        fp_test_stop(b->pid, 3000);
    b->pid = 0;
}

/* ---- the subscriber ---- */

typedef struct Msg {
    char *topic, *payload;
    bool retain;
} Msg;

typedef struct Sub {
    struct mosquitto *m;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool connected, subscribed;
    Msg msgs[MAX_MSGS];
    int n;
} Sub;

static void sub_on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    Sub *s = obj;
    pthread_mutex_lock(&s->mu);
    s->connected = rc == 0;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
    (void)m, (void)mid, (void)n, (void)granted;
    Sub *s = obj;
    pthread_mutex_lock(&s->mu);
    s->subscribed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void sub_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    Sub *s = obj;
    pthread_mutex_lock(&s->mu);
    if (s->n < MAX_MSGS) {
        Msg *d = &s->msgs[s->n++];
        d->topic = strdup(msg->topic);
        d->payload = calloc(1, (size_t)msg->payloadlen + 1);
        memcpy(d->payload, msg->payload, (size_t)msg->payloadlen);
        d->retain = msg->retain;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Connects a subscriber to pattern (QoS 1) and returns once the broker confirmed the subscription. */
static Sub *sub_open(int port, const char *pattern)
{
    mosquitto_lib_init();
    Sub *s = calloc(1, sizeof(*s));
    CHECK(s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->m = mosquitto_new(NULL, true, s);
    CHECK(s->m);
    mosquitto_connect_callback_set(s->m, sub_on_connect);
    mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
    mosquitto_message_callback_set(s->m, sub_on_message);
    CHECK_EQ(mosquitto_connect(s->m, "127.0.0.1", port, 30), MOSQ_ERR_SUCCESS);
    CHECK_EQ(mosquitto_loop_start(s->m), MOSQ_ERR_SUCCESS);
    int64_t end = now_ms() + 5000;
    pthread_mutex_lock(&s->mu);
    while (!s->connected && now_ms() < end) {
        pthread_mutex_unlock(&s->mu);
        usleep(5000);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    CHECK_MSG(s->connected, "the subscriber did not connect to %d", port);
    CHECK_EQ(mosquitto_subscribe(s->m, NULL, pattern, 1), MOSQ_ERR_SUCCESS);
    pthread_mutex_lock(&s->mu);
    while (!s->subscribed && now_ms() < end) {
        pthread_mutex_unlock(&s->mu);
        usleep(5000);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    CHECK_MSG(s->subscribed, "no SUBACK for %s", pattern);
    return s;
}

static void sub_close(Sub **ps)
{
    Sub *s = *ps;
    mosquitto_disconnect(s->m);
    mosquitto_loop_stop(s->m, false);
    mosquitto_destroy(s->m);
    for (int i = 0; i < s->n; i++) {
        free(s->msgs[i].topic);
        free(s->msgs[i].payload);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
    *ps = NULL;
}

/* How many messages on topic (payload too, when not NULL) have arrived. */
static int sub_count(Sub *s, const char *topic, const char *payload)
{
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->msgs[i].topic, topic) == 0 && (!payload || strcmp(s->msgs[i].payload, payload) == 0))
            n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Waits until at least n such messages arrived; true when they did within timeout_ms. */
static bool sub_wait(Sub *s, const char *topic, const char *payload, int n, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (sub_count(s, topic, payload) < n) {
        if (now_ms() >= end)
            return false;
        usleep(5000);
    }
    return true;
}

/* The payloads on topic, in arrival order, joined with '|' into buf. */
static const char *sub_payloads(Sub *s, const char *topic, char *buf, size_t size)
{
    size_t pos = 0;
    buf[0] = '\0';
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->msgs[i].topic, topic) == 0 && pos < size)
            pos += (size_t)snprintf(buf + pos, size - pos, "%s%s", pos ? "|" : "", s->msgs[i].payload);
    pthread_mutex_unlock(&s->mu);
    return buf;
}

/* The retain flag of the first message on topic (-1: none). */
static int sub_retain(Sub *s, const char *topic)
{
    int r = -1;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n && r < 0; i++)
        if (strcmp(s->msgs[i].topic, topic) == 0)
            r = s->msgs[i].retain;
    pthread_mutex_unlock(&s->mu);
    return r;
}

/* ---- the transport ---- */

typedef struct Tr {
    const FpTransportOps *ops;
    void *t;
} Tr;

static FpMqttConfig config_for(int port)
{
    FpMqttConfig cfg;
    fp_mqtt_config_init(&cfg);
    cfg.port = port;
    cfg.prefix = "fp";
    cfg.timeout_ns = 2000000000LL;
    return cfg;
}

static void tr_create(Tr *tr, const FpMqttConfig *cfg)
{
    CHECK_OK(fp_mqtt_transport_create(&tr->ops, &tr->t, cfg));
    CHECK(strcmp(tr->ops->kind, "mqtt") == 0);
}

static void tr_open(Tr *tr, const FpMqttConfig *cfg)
{
    tr_create(tr, cfg);
    int rc = tr->ops->connect(tr->t);
    CHECK_MSG(rc == 0, "connect: %d %s", rc, fp_error_detail(rc));
}

static void tr_close(Tr *tr)
{
    tr->ops->disconnect(tr->t);
    tr->ops->destroy(tr->t);
    tr->t = NULL;
}

static int send_json(Tr *tr, FpRecordKind kind, const char *camera, uint64_t seq, const char *json)
{
    FpRecord rec = {kind, camera, seq, json, strlen(json)};
    return tr->ops->send(tr->t, &rec);
}

static void send_ok(Tr *tr, FpRecordKind kind, const char *camera, uint64_t seq, const char *json)
{
    int rc = send_json(tr, kind, camera, seq, json);
    CHECK_MSG(rc == 0, "send %s %" PRIu64 ": %d %s", camera, seq, rc, fp_error_detail(rc));
}

/* A frame's JSON with detections of the given classes (NULL entries: "class":null with class_id 7). */
static void frame_json(char *buf, size_t size, const char *camera, uint64_t seq, const char *const *classes, int n)
{
    size_t pos = (size_t)snprintf(buf, size, "{\"camera\":\"%s\",\"seq\":%" PRIu64 ",\"detections\":[", camera, seq);
    for (int i = 0; i < n; i++) {
        if (classes[i])
            pos += (size_t)snprintf(buf + pos, size - pos, "%s{\"class_id\":0,\"class\":\"%s\",\"score\":0.9}",
                                    i ? "," : "", classes[i]);
        else
            pos += (size_t)snprintf(buf + pos, size - pos, "%s{\"class_id\":7,\"class\":null,\"score\":0.9}",
                                    i ? "," : "");
    }
    snprintf(buf + pos, size - pos, "]}");
}

/* ---- cases ---- */

FP_TEST(config_defaults_and_errors)
{
    FpMqttConfig cfg;
    fp_mqtt_config_init(&cfg);
    CHECK(strcmp(cfg.host, "127.0.0.1") == 0 && strcmp(cfg.prefix, "framepipe") == 0);
    CHECK(cfg.qos == 1 && !cfg.counts && !cfg.tls && cfg.keepalive_s == 30 && cfg.timeout_ns == 5000000000LL);
    CHECK(cfg.port == 0 && cfg.client_id == NULL); /* 0: 1883, or 8883 with tls */

    struct {
        const char *what;
        int qos, port, keepalive;
        const char *prefix;
    } bad[] = {
        {"qos 3", 3, 1883, 30, "fp"},       {"qos -1", -1, 1883, 30, "fp"},
        {"port 70000", 1, 70000, 30, "fp"}, {"port -1", 1, -1, 30, "fp"},
        {"empty prefix", 1, 1883, 30, ""},  {"NULL prefix", 1, 1883, 30, NULL},
        {"prefix +", 1, 1883, 30, "a/+/b"}, {"prefix #", 1, 1883, 30, "a/#"},
        {"keepalive 2", 1, 1883, 2, "fp"},  {"prefix not UTF-8", 1, 1883, 30, "fp\xff"},
        {"prefix with a control character", 1, 1883, 30, "fp\x01"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fp_mqtt_config_init(&cfg);
        cfg.qos = bad[i].qos;
        cfg.port = bad[i].port;
        cfg.keepalive_s = bad[i].keepalive;
        cfg.prefix = bad[i].prefix;
        const FpTransportOps *ops = NULL;
        void *t = NULL;
        int rc = fp_mqtt_transport_create(&ops, &t, &cfg);
        CHECK_MSG(rc == FP_ECONFIG, "%s: %d", bad[i].what, rc);
        CHECK_MSG(ops == NULL && t == NULL, "%s: outputs written", bad[i].what);
        CHECK_MSG(strstr(fp_error_detail(rc), "mqtt"), "%s: message %s", bad[i].what, fp_error_detail(rc));
    }
    fp_mqtt_config_init(&cfg);
    cfg.ca_file = "/nonexistent/ca.pem";
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    CHECK_EQ(fp_mqtt_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "/nonexistent/ca.pem"));

    /* valid: created without connecting; strings are copied (the caller's buffer changes afterwards) */
    char prefix[16] = "site1";
    fp_mqtt_config_init(&cfg);
    cfg.prefix = prefix;
    Tr tr;
    tr_create(&tr, &cfg);
    strcpy(prefix, "XX");
    CHECK_EQ(send_json(&tr, FP_RECORD_FRAME, "cam0", 1, "{}"), FP_EIO); /* not connected */
    CHECK(strstr(fp_error_detail(FP_EIO), "not connected"));
    tr.ops->disconnect(tr.t); /* disconnect without a connection: a no-op */
    tr.ops->destroy(tr.t);
}

FP_TEST(frames_of_two_cameras_arrive_complete_and_in_order)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/#");
    FpMqttConfig cfg = config_for(b.port);
    char prefix[8] = "fp", host[16] = "127.0.0.1"; /* copied by create: changed before connecting */
    cfg.prefix = prefix;
    cfg.host = host;
    Tr tr;
    tr_create(&tr, &cfg);
    strcpy(prefix, "zz");
    strcpy(host, "10.255.255.1");
    int crc = tr.ops->connect(tr.t);
    CHECK_MSG(crc == 0, "connect: %s", fp_error_detail(crc));
    enum { N = 100 };
    char json[256];
    for (uint64_t seq = 0; seq < N; seq++) {
        const char *cam = seq % 2 ? "yard" : "door";
        snprintf(json, sizeof(json), "{\"camera\":\"%s\",\"seq\":%" PRIu64 ",\"detections\":[]}", cam, seq);
        send_ok(&tr, FP_RECORD_FRAME, cam, seq, json);
    }
    CHECK(sub_wait(s, "fp/door/detections", NULL, N / 2, 5000));
    CHECK(sub_wait(s, "fp/yard/detections", NULL, N / 2, 5000));
    /* each camera's frames: all there, once, in order, byte-exact */
    uint64_t next[2] = {0, 1};
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        Msg *m = &s->msgs[i];
        int c = strcmp(m->topic, "fp/door/detections") == 0 ? 0 : strcmp(m->topic, "fp/yard/detections") == 0 ? 1 : -1;
        if (c < 0)
            continue;
        snprintf(json, sizeof(json), "{\"camera\":\"%s\",\"seq\":%" PRIu64 ",\"detections\":[]}",
                 c ? "yard" : "door", next[c]);
        CHECK_MSG(strcmp(m->payload, json) == 0, "message %d on %s: %s, expected %s", i, m->topic, m->payload, json);
        CHECK(!m->retain);
        next[c] += 2;
    }
    pthread_mutex_unlock(&s->mu);
    CHECK_EQ(next[0], N);
    CHECK_EQ(next[1], N + 1);
    CHECK_EQ(sub_count(s, "fp/events", NULL), 0); /* frames only on detections */
    tr_close(&tr);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(events_go_to_the_camera_topic_and_to_the_common_one)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/#");
    FpMqttConfig cfg = config_for(b.port);
    Tr tr;
    tr_open(&tr, &cfg);
    send_ok(&tr, FP_RECORD_EVENT, "door", 1, "{\"id\":1,\"type\":\"enter\",\"camera\":\"door\"}");
    send_ok(&tr, FP_RECORD_EVENT, "yard", 1, "{\"id\":1,\"type\":\"leave\",\"camera\":\"yard\"}");
    send_ok(&tr, FP_RECORD_EVENT, "door", 2, "{\"id\":2,\"type\":\"leave\",\"camera\":\"door\"}");
    CHECK(sub_wait(s, "fp/events", NULL, 3, 5000));
    CHECK(sub_wait(s, "fp/door/events", NULL, 2, 5000));
    CHECK(sub_wait(s, "fp/yard/events", NULL, 1, 5000));
    char buf[1024];
    CHECK_MSG(strcmp(sub_payloads(s, "fp/door/events", buf, sizeof(buf)),
                     "{\"id\":1,\"type\":\"enter\",\"camera\":\"door\"}|"
                     "{\"id\":2,\"type\":\"leave\",\"camera\":\"door\"}") == 0,
              "door: %s", buf);
    CHECK_MSG(strcmp(sub_payloads(s, "fp/events", buf, sizeof(buf)),
                     "{\"id\":1,\"type\":\"enter\",\"camera\":\"door\"}|"
                     "{\"id\":1,\"type\":\"leave\",\"camera\":\"yard\"}|"
                     "{\"id\":2,\"type\":\"leave\",\"camera\":\"door\"}") == 0,
              "all: %s", buf);
    CHECK_EQ(sub_count(s, "fp/door/detections", NULL), 0);
    tr_close(&tr);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(each_qos_delivers)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/#");
    for (int qos = 0; qos <= 2; qos++) {
        FpMqttConfig cfg = config_for(b.port);
        cfg.qos = qos;
        Tr tr;
        tr_open(&tr, &cfg);
        char json[64];
        snprintf(json, sizeof(json), "{\"qos\":%d}", qos);
        send_ok(&tr, FP_RECORD_FRAME, "cam", (uint64_t)qos, json);
        send_ok(&tr, FP_RECORD_EVENT, "cam", (uint64_t)qos, json);
        CHECK_MSG(sub_wait(s, "fp/cam/detections", json, 1, 5000), "qos %d frame", qos);
        CHECK_MSG(sub_wait(s, "fp/cam/events", json, 1, 5000), "qos %d event", qos);
        CHECK_MSG(sub_wait(s, "fp/events", json, 1, 5000), "qos %d event (all)", qos);
        tr_close(&tr);
    }
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(availability_online_is_retained_and_a_clean_disconnect_says_offline)
{
    Broker b;
    broker_start(&b, 0, NULL);
    FpMqttConfig cfg = config_for(b.port);
    Tr tr;
    tr_open(&tr, &cfg);
    /* a subscriber that comes afterwards still gets "online", flagged retained */
    Sub *s = sub_open(b.port, "fp/availability");
    CHECK(sub_wait(s, "fp/availability", "online", 1, 5000));
    CHECK_EQ(sub_retain(s, "fp/availability"), 1);
    tr.ops->disconnect(tr.t);
    CHECK(sub_wait(s, "fp/availability", "offline", 1, 5000));
    /* and it stays: a later subscriber reads "offline" */
    Sub *late = sub_open(b.port, "fp/availability");
    CHECK(sub_wait(late, "fp/availability", "offline", 1, 5000));
    CHECK_EQ(sub_count(late, "fp/availability", "online"), 0);
    /* connect again (FpDelivery's reconnect): "online" once more */
    int rc = tr.ops->connect(tr.t);
    CHECK_MSG(rc == 0, "reconnect: %s", fp_error_detail(rc));
    CHECK(sub_wait(late, "fp/availability", "online", 1, 5000));
    tr_close(&tr);
    sub_close(&late);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(a_process_that_dies_gets_offline_by_its_last_will)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/availability");
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        FpMqttConfig cfg = config_for(b.port);
        const FpTransportOps *ops;
        void *t;
        if (fp_mqtt_transport_create(&ops, &t, &cfg) != 0 || ops->connect(t) != 0)
            _exit(1);
        _exit(0); /* no disconnect: the socket just closes */
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child failed to connect (status %d)", status);
    CHECK(sub_wait(s, "fp/availability", "online", 1, 5000));
    CHECK_MSG(sub_wait(s, "fp/availability", "offline", 1, 5000), "no last will: %d messages", s->n);
    char buf[64];
    CHECK(strcmp(sub_payloads(s, "fp/availability", buf, sizeof(buf)), "online|offline") == 0);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(counts_are_published_retained_when_they_change)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/+/+/count");
    FpMqttConfig cfg = config_for(b.port);
    cfg.counts = true;
    Tr tr;
    tr_open(&tr, &cfg);
    char json[1024];
    const char *two[] = {"face", "face", NULL};
    const char *one[] = {"face"};
    frame_json(json, sizeof(json), "door", 1, two, 3);
    send_ok(&tr, FP_RECORD_FRAME, "door", 1, json);
    frame_json(json, sizeof(json), "door", 2, two, 3); /* unchanged: nothing new */
    send_ok(&tr, FP_RECORD_FRAME, "door", 2, json);
    frame_json(json, sizeof(json), "door", 3, one, 1);
    send_ok(&tr, FP_RECORD_FRAME, "door", 3, json);
    frame_json(json, sizeof(json), "door", 4, NULL, 0);
    send_ok(&tr, FP_RECORD_FRAME, "door", 4, json);
    frame_json(json, sizeof(json), "door", 5, NULL, 0); /* still none: no second 0 */
    send_ok(&tr, FP_RECORD_FRAME, "door", 5, json);
    /* another camera has its own table */
    frame_json(json, sizeof(json), "yard", 1, one, 1);
    send_ok(&tr, FP_RECORD_FRAME, "yard", 1, json);
    CHECK(sub_wait(s, "fp/door/face/count", "0", 1, 5000));
    CHECK(sub_wait(s, "fp/door/class7/count", "0", 1, 5000));
    CHECK(sub_wait(s, "fp/yard/face/count", "1", 1, 5000));
    char buf[256];
    CHECK_MSG(strcmp(sub_payloads(s, "fp/door/face/count", buf, sizeof(buf)), "2|1|0") == 0, "face: %s", buf);
    CHECK_MSG(strcmp(sub_payloads(s, "fp/door/class7/count", buf, sizeof(buf)), "1|0") == 0, "class7: %s", buf);
    CHECK(strcmp(sub_payloads(s, "fp/yard/face/count", buf, sizeof(buf)), "1") == 0);
    /* retained: a new subscriber reads the last values */
    Sub *late = sub_open(b.port, "fp/+/+/count");
    CHECK(sub_wait(late, "fp/door/face/count", "0", 1, 5000));
    CHECK(sub_wait(late, "fp/yard/face/count", "1", 1, 5000));
    CHECK_EQ(sub_retain(late, "fp/door/face/count"), 1);
    tr_close(&tr);
    sub_close(&late);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(camera_and_class_names_are_sanitised_in_topics)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/#");
    FpMqttConfig cfg = config_for(b.port);
    cfg.counts = true;
    Tr tr;
    tr_open(&tr, &cfg);
    const char *cls[] = {"a/b+c"};
    char json[512];
    frame_json(json, sizeof(json), "front/door+1#x", 1, cls, 1);
    send_ok(&tr, FP_RECORD_FRAME, "front/door+1#x", 1, json);
    send_ok(&tr, FP_RECORD_EVENT, "front/door+1#x", 1, "{\"id\":1}");
    send_ok(&tr, FP_RECORD_FRAME, "tab\there", 1, "{\"detections\":[]}");
    /* bytes that are not UTF-8 (the broker would refuse the topic, and the record would never be delivered),
     * a C1 control character; a name in UTF-8 stays as it is */
    send_ok(&tr, FP_RECORD_FRAME, "\xff\xfe\xc3" "bad\xc2\x85", 1, "{\"detections\":[]}");
    send_ok(&tr, FP_RECORD_FRAME, "caf\xc3\xa9", 1, "{\"detections\":[]}");
    send_ok(&tr, FP_RECORD_FRAME, "", 1, "{\"detections\":[]}");
    /* a long name is cut to 200 bytes */
    char longname[301], topic[300];
    memset(longname, 'x', 300);
    longname[300] = '\0';
    send_ok(&tr, FP_RECORD_EVENT, longname, 1, "{\"id\":2}");
    snprintf(topic, sizeof(topic), "fp/%.200s/events", longname);
    CHECK(sub_wait(s, "fp/front_door_1_x/detections", json, 1, 5000));
    CHECK(sub_wait(s, "fp/front_door_1_x/events", "{\"id\":1}", 1, 5000));
    CHECK(sub_wait(s, "fp/front_door_1_x/a_b_c/count", "1", 1, 5000));
    CHECK(sub_wait(s, "fp/tab_here/detections", NULL, 1, 5000));
    CHECK(sub_wait(s, "fp/___bad__/detections", NULL, 1, 5000));
    CHECK(sub_wait(s, "fp/caf\xc3\xa9/detections", NULL, 1, 5000));
    CHECK(sub_wait(s, "fp/_/detections", NULL, 1, 5000));
    CHECK(sub_wait(s, topic, "{\"id\":2}", 1, 5000));
    tr_close(&tr);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST_TIMED(a_killed_broker_fails_sends_and_a_restarted_one_works, 120)
{
    Broker b;
    broker_start(&b, 0, NULL);
    FpMqttConfig cfg = config_for(b.port);
    cfg.timeout_ns = 1000000000LL;
    Tr tr;
    tr_open(&tr, &cfg);
    send_ok(&tr, FP_RECORD_FRAME, "cam", 1, "{\"n\":1}");
    kill(b.pid, SIGKILL);
    fp_test_wait_exit(b.pid, 5000);
    b.pid = 0;
    /* the next sends fail (the loss may take one send to notice), each within the timeout, none hangs */
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) {
        int64_t t0 = now_ms();
        rc = send_json(&tr, FP_RECORD_EVENT, "cam", (uint64_t)i, "{\"n\":2}");
        int64_t took = now_ms() - t0;
        CHECK_MSG(took < 2500, "send %d took %lld ms", i, (long long)took);
        if (rc == 0)
            usleep(100000);
    }
    CHECK_MSG(rc < 0, "sends to a killed broker kept succeeding");
    CHECK_MSG(strstr(fp_error_detail(rc), "mqtt 127.0.0.1:"), "message: %s", fp_error_detail(rc));
    tr.ops->disconnect(tr.t);
    /* while it is down: connect is refused */
    int64_t t0 = now_ms();
    rc = tr.ops->connect(tr.t);
    CHECK_MSG(rc < 0, "connect to a dead broker succeeded");
    CHECK(now_ms() - t0 < 2500);
    /* the same port again */
    broker_start(&b, b.port, NULL);
    Sub *s = sub_open(b.port, "fp/#");
    rc = tr.ops->connect(tr.t);
    CHECK_MSG(rc == 0, "reconnect: %s", fp_error_detail(rc));
    send_ok(&tr, FP_RECORD_EVENT, "cam", 9, "{\"n\":9}");
    CHECK(sub_wait(s, "fp/cam/events", "{\"n\":9}", 1, 5000));
    tr_close(&tr);
    sub_close(&s);
    broker_stop(&b);
}

FP_TEST(a_wrong_password_is_refused_as_not_authorised)
{
    need_broker();
    if (access(MOSQUITTO_PASSWD, X_OK) != 0)
        fp_test_skip(MOSQUITTO_PASSWD " is missing: no password file for the broker");
    char pwfile[600], out[600];
    snprintf(pwfile, sizeof(pwfile), "%s/passwd", fp_test_tmpdir());
    snprintf(out, sizeof(out), "%s/passwd.log", fp_test_tmpdir());
    const char *argv[] = {MOSQUITTO_PASSWD, "-b", "-c", pwfile, "user", "pass", NULL};
    CHECK_EQ(fp_test_run(argv, out, out), 0);
    char extra[800];
    snprintf(extra, sizeof(extra), "allow_anonymous false\npassword_file %s", pwfile);
    Broker b;
    broker_start(&b, 0, extra);
    FpMqttConfig cfg = config_for(b.port);
    cfg.username = "user";
    cfg.password = "wrong";
    Tr tr;
    tr_create(&tr, &cfg);
    int rc = tr.ops->connect(tr.t);
    CHECK_MSG(rc < 0, "a wrong password connected");
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "not authorised") && strstr(msg, "mqtt 127.0.0.1:"), "message: %s", msg);
    CHECK_MSG(!strstr(msg, "wrong"), "the password is in the message: %s", msg);
    tr.ops->destroy(tr.t);
    /* no credentials at all: refused too */
    cfg.username = cfg.password = NULL;
    tr_create(&tr, &cfg);
    CHECK(tr.ops->connect(tr.t) < 0);
    tr.ops->destroy(tr.t);
    /* the right one works */
    cfg.username = "user";
    cfg.password = "pass";
    tr_open(&tr, &cfg);
    send_ok(&tr, FP_RECORD_FRAME, "cam", 1, "{}");
    tr_close(&tr);
    broker_stop(&b);
}

FP_TEST(a_closed_port_is_refused_quickly)
{
    int port = fp_test_free_port();
    FpMqttConfig cfg = config_for(port);
    Tr tr;
    tr_create(&tr, &cfg);
    int64_t t0 = now_ms();
    int rc = tr.ops->connect(tr.t);
    int64_t took = now_ms() - t0;
    CHECK_EQ(rc, -ECONNREFUSED);
    CHECK_MSG(took < 1000, "took %lld ms", (long long)took);
    char where[64];
    snprintf(where, sizeof(where), "mqtt 127.0.0.1:%d", port);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, where) && strstr(msg, "refused"), "message: %s", msg);
    CHECK_EQ(send_json(&tr, FP_RECORD_FRAME, "cam", 1, "{}"), FP_EIO);
    tr.ops->destroy(tr.t);
}

FP_TEST(a_server_that_never_answers_times_out)
{
    /* a listening socket nobody accepts from: TCP connects, CONNECT goes unanswered */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t len = sizeof(a);
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    CHECK(listen(fd, 4) == 0);
    FpMqttConfig cfg = config_for(ntohs(a.sin_port));
    cfg.timeout_ns = 500000000LL;
    Tr tr;
    tr_create(&tr, &cfg);
    int64_t t0 = now_ms();
    int rc = tr.ops->connect(tr.t);
    int64_t took = now_ms() - t0;
    CHECK_EQ(rc, FP_ETIMEOUT);
    CHECK_MSG(took >= 450 && took < 3000, "took %lld ms", (long long)took);
    CHECK_MSG(strstr(fp_error_detail(rc), "500 ms"), "message: %s", fp_error_detail(rc));
    tr.ops->destroy(tr.t);
    close(fd);
}

FP_TEST(a_stalled_broker_times_out_sends_and_disconnect_does_not_hang)
{
    Broker b;
    broker_start(&b, 0, NULL);
    FpMqttConfig cfg = config_for(b.port);
    cfg.timeout_ns = 500000000LL;
    Tr tr;
    tr_open(&tr, &cfg);
    send_ok(&tr, FP_RECORD_FRAME, "cam", 1, "{\"n\":1}");
    kill(b.pid, SIGSTOP); /* the connection stays up; nothing is acknowledged */
    int64_t t0 = now_ms();
    int rc = send_json(&tr, FP_RECORD_EVENT, "cam", 2, "{\"n\":2}");
    int64_t took = now_ms() - t0;
    CHECK_MSG(rc == FP_ETIMEOUT, "send to a stalled broker: %d %s", rc, fp_error_detail(rc));
    CHECK_MSG(took >= 450 && took < 2000, "took %lld ms", (long long)took);
    CHECK_MSG(strstr(fp_error_detail(rc), "no acknowledgement") && strstr(fp_error_detail(rc), "event 2"),
              "message: %s", fp_error_detail(rc));
    t0 = now_ms();
    tr.ops->disconnect(tr.t);
    took = now_ms() - t0;
    CHECK_MSG(took < 2500, "disconnect took %lld ms", (long long)took);
    kill(b.pid, SIGCONT);
    /* after it wakes up, the transport connects again */
    rc = tr.ops->connect(tr.t);
    CHECK_MSG(rc == 0, "reconnect: %s", fp_error_detail(rc));
    send_ok(&tr, FP_RECORD_EVENT, "cam", 3, "{\"n\":3}");
    tr_close(&tr);
    broker_stop(&b);
}

/* Runs a command that must succeed (its output to the case's folder). */
static void run_ok(const char *const argv[])
{
    char log[600];
    snprintf(log, sizeof(log), "%s/cmd.log", fp_test_tmpdir());
    int rc = fp_test_run(argv, log, log);
    CHECK_MSG(rc == 0, "%s exited with %d (see %s)", argv[0], rc, log);
}

FP_TEST(tls_with_a_ca_file_connects_and_without_it_the_certificate_is_refused)
{
    need_broker();
    if (access("/usr/bin/openssl", X_OK) != 0)
        fp_test_skip("/usr/bin/openssl is missing: no certificates for the TLS listener");
    const char *d = fp_test_tmpdir();
    char ca_key[600], ca_crt[600], key[600], csr[600], crt[600], ext[600];
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", d);
    snprintf(ca_crt, sizeof(ca_crt), "%s/ca.crt", d);
    snprintf(key, sizeof(key), "%s/server.key", d);
    snprintf(csr, sizeof(csr), "%s/server.csr", d);
    snprintf(crt, sizeof(crt), "%s/server.crt", d);
    snprintf(ext, sizeof(ext), "%s/server.ext", d);
    FILE *f = fopen(ext, "w");
    CHECK(f);
    fprintf(f, "subjectAltName=IP:127.0.0.1\n");
    fclose(f);
    const char *ca_argv[] = {"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", ca_key, "-out", ca_crt,
                             "-days", "1", "-subj", "/CN=framepipe test CA", NULL};
    run_ok(ca_argv);
    const char *csr_argv[] = {"/usr/bin/openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                              "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1", NULL};
    run_ok(csr_argv);
    const char *sign_argv[] = {"/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                               "-CAcreateserial", "-out", crt, "-days", "1", "-extfile", ext, NULL};
    run_ok(sign_argv);
    char extra[2400];
    snprintf(extra, sizeof(extra), "allow_anonymous true\ncafile %s\ncertfile %s\nkeyfile %s", ca_crt, crt, key);
    Broker b;
    broker_start(&b, 0, extra);

    FpMqttConfig cfg = config_for(b.port);
    cfg.tls = true;
    cfg.ca_file = ca_crt;
    Tr tr;
    tr_open(&tr, &cfg);
    send_ok(&tr, FP_RECORD_EVENT, "cam", 1, "{\"id\":1}"); /* QoS 1: acknowledged over TLS */
    tr_close(&tr);

    /* the system CAs do not know the test CA: refused during the handshake, with a message */
    cfg.ca_file = NULL;
    tr_create(&tr, &cfg);
    int64_t t0 = now_ms();
    int rc = tr.ops->connect(tr.t);
    int64_t took = now_ms() - t0;
    CHECK_MSG(rc < 0, "a certificate of an unknown CA was accepted");
    /* at once, not after the 2 s timeout: libmosquitto only logs a failed handshake */
    CHECK_MSG(took < 1500, "took %lld ms", (long long)took);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "mqtt 127.0.0.1:") && strstr(msg, "certificate verify failed"), "message: %s", msg);
    tr.ops->destroy(tr.t);

    /* plain MQTT to a TLS listener fails too, within the timeout */
    cfg.tls = false;
    tr_create(&tr, &cfg);
    t0 = now_ms();
    CHECK(tr.ops->connect(tr.t) < 0);
    CHECK(now_ms() - t0 < 2500);
    tr.ops->destroy(tr.t);
    broker_stop(&b);
}

FP_TEST(counts_are_bounded_and_a_frame_without_detections_has_none)
{
    Broker b;
    broker_start(&b, 0, NULL);
    Sub *s = sub_open(b.port, "fp/#");
    FpMqttConfig cfg = config_for(b.port);
    cfg.counts = true;
    Tr tr;
    tr_open(&tr, &cfg);
    /* a frame that is not JSON, or has no "detections": delivered, and no counts */
    send_ok(&tr, FP_RECORD_FRAME, "cam", 1, "not json");
    send_ok(&tr, FP_RECORD_FRAME, "cam", 2, "{\"seq\":2}");
    CHECK(sub_wait(s, "fp/cam/detections", "{\"seq\":2}", 1, 5000));
    /* 300 classes in one frame: the first 256 get a topic, the rest none (the table is bounded) */
    enum { N = 300 };
    static char json[N * 40 + 64];
    size_t pos = (size_t)snprintf(json, sizeof(json), "{\"detections\":[");
    for (int i = 0; i < N; i++)
        pos += (size_t)snprintf(json + pos, sizeof(json) - pos, "%s{\"class\":\"k%d\",\"class_id\":%d}", i ? "," : "",
                                i, i);
    snprintf(json + pos, sizeof(json) - pos, "]}");
    send_ok(&tr, FP_RECORD_FRAME, "cam", 3, json);
    CHECK(sub_wait(s, "fp/cam/k255/count", "1", 1, 5000));
    usleep(200000);
    int counts = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++)
        counts += strstr(s->msgs[i].topic, "/count") != NULL;
    pthread_mutex_unlock(&s->mu);
    CHECK_EQ(counts, 256);
    CHECK_EQ(sub_count(s, "fp/cam/k256/count", NULL), 0);
    tr_close(&tr);
    sub_close(&s);
    broker_stop(&b);
}
