// SPDX-License-Identifier: MIT
// The Redis Streams transport against a real redis-server on 127.0.0.1 (read back with hiredis): fields, streams, trimming, db, AUTH, a dying server, URLs.
#include "fp_test.h"
#include "fp_test_spawn.h"

#include "framepipe/deliver.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#define REDIS_SERVER "/usr/bin/redis-server"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the server ---- */

typedef struct Server {
    pid_t pid;
    int port;
    char sock[256]; /* its unix socket */
} Server;

/* Starts redis-server on port (0: a free one) with extra "--name value" pairs; skips when it is not installed. */
static void server_start(Server *s, int port, const char *const extra[])
{
    if (access(REDIS_SERVER, X_OK) != 0)
        fp_test_skip("%s is not installed (Debian: redis-server)", REDIS_SERVER);
    s->port = port ? port : fp_test_free_port();
    snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", fp_test_tmpdir());
    char port_str[16], log[300];
    snprintf(port_str, sizeof(port_str), "%d", s->port);
    snprintf(log, sizeof(log), "%s/redis-%d.log", fp_test_tmpdir(), s->port);
    const char *argv[32] = {REDIS_SERVER, "--port", port_str, "--bind", "127.0.0.1", "--save", "",
                            "--appendonly", "no", "--unixsocket", s->sock, "--unixsocketperm", "700",
                            "--dir", fp_test_tmpdir()};
    int n = 15;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    FpTestSpawnOptions o = {.stdout_path = log, .stderr_path = NULL};
    s->pid = fp_test_spawn(argv, &o);
    int rc = fp_test_wait_port(s->pid, s->port, 10000);
    CHECK_MSG(rc == 0, "redis-server on port %d did not come up (%d); see %s", s->port, rc, log);
}

static void server_stop(Server *s)
{
    if (s->pid > 0)
        fp_test_stop(s->pid, 3000);
    s->pid = 0;
}

/* The test's own connection (db selected, authenticated when password is not NULL). */
static redisContext *client(const Server *s, int db, const char *password)
{
    redisContext *c = redisConnect("127.0.0.1", s->port);
    CHECK_MSG(c && !c->err, "test client: %s", c ? c->errstr : "out of memory");
    if (password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        CHECK(r && r->type != REDIS_REPLY_ERROR);
        freeReplyObject(r);
    }
    redisReply *r = redisCommand(c, "SELECT %d", db);
    CHECK(r && r->type != REDIS_REPLY_ERROR);
    freeReplyObject(r);
    return c;
}

static long long xlen(redisContext *c, const char *stream)
{
    redisReply *r = redisCommand(c, "XLEN %s", stream);
    CHECK_MSG(r && r->type == REDIS_REPLY_INTEGER, "XLEN %s: %s", stream, r && r->str ? r->str : "no reply");
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* ---- the transport ---- */

typedef struct Tx {
    const FpTransportOps *ops;
    void *t;
} Tx;

static FpRedisConfig base_config(const Server *s)
{
    FpRedisConfig cfg;
    fp_redis_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = s->port;
    cfg.timeout_ns = 500000000LL;
    return cfg;
}

static Tx tx_create(const FpRedisConfig *cfg)
{
    Tx x = {0};
    CHECK_OK(fp_redis_transport_create(&x.ops, &x.t, cfg));
    CHECK(x.ops && x.t);
    CHECK(strcmp(x.ops->kind, "redis") == 0);
    return x;
}

static void tx_destroy(Tx *x)
{
    x->ops->disconnect(x->t);
    x->ops->destroy(x->t);
    x->t = NULL;
}

static int tx_send(Tx *x, FpRecordKind kind, const char *camera, uint64_t seq, const char *json)
{
    FpRecord rec = {.kind = kind, .camera = camera, .seq = seq, .json = json, .len = strlen(json)};
    return x->ops->send(x->t, &rec);
}

/* ---- reading a stream back ---- */

typedef struct Entry {
    char camera[64], kind[16], data[512];
    unsigned long long seq;
    int n_fields;
} Entry;

/* XRANGE stream - + into e[0..max); returns the count. Every entry must have exactly the 4 fields, in order. */
static int read_stream(redisContext *c, const char *stream, Entry *e, int max)
{
    const char *argv[4] = {"XRANGE", stream, "-", "+"};
    redisReply *r = redisCommandArgv(c, 4, argv, NULL);
    CHECK_MSG(r && r->type == REDIS_REPLY_ARRAY, "XRANGE %s failed", stream);
    int n = (int)r->elements;
    CHECK(n <= max);
    for (int i = 0; i < n; i++) {
        redisReply *entry = r->element[i];
        CHECK(entry->type == REDIS_REPLY_ARRAY && entry->elements == 2);
        redisReply *f = entry->element[1];
        CHECK(f->type == REDIS_REPLY_ARRAY);
        CHECK_EQ(f->elements, 8);
        static const char *const names[4] = {"camera", "seq", "kind", "data"};
        for (int k = 0; k < 4; k++)
            CHECK_MSG(strcmp(f->element[2 * k]->str, names[k]) == 0, "field %d is %s, not %s", k,
                      f->element[2 * k]->str, names[k]);
        memset(&e[i], 0, sizeof(e[i]));
        e[i].n_fields = (int)f->elements / 2;
        CHECK(f->element[1]->len < sizeof(e[i].camera) && f->element[7]->len < sizeof(e[i].data));
        memcpy(e[i].camera, f->element[1]->str, f->element[1]->len);
        e[i].seq = strtoull(f->element[3]->str, NULL, 10);
        snprintf(e[i].kind, sizeof(e[i].kind), "%s", f->element[5]->str);
        CHECK_EQ(f->element[7]->len, strlen(f->element[7]->str)); /* no NUL inside */
        memcpy(e[i].data, f->element[7]->str, f->element[7]->len);
    }
    freeReplyObject(r);
    return n;
}

/* ---- cases ---- */

FP_TEST(redis_records_of_several_cameras_arrive_complete_and_in_order)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    /* unicode, quotes, backslashes, RESP-looking text and spaces: XADD must carry them byte for byte */
    static const char *const special =
        "{\"label\":\"caf\xc3\xa9 \\\"quoted\\\" \xe2\x9c\x93 \xf0\x9f\x9a\x97\",\"raw\":\"*3\\r\\n$4\\r\\nXADD\","
        "\"path\":\"C:\\\\x\",\"n\":-1.5e3}";
    static const char *const cams[3] = {"front door", "cam1", "h\xc3\xb6""f"};
    char json[256];
    for (int i = 0; i < 60; i++) {
        int cam = i % 3;
        if (i == 31)
            snprintf(json, sizeof(json), "%s", special);
        else
            snprintf(json, sizeof(json), "{\"camera\":\"%d\",\"seq\":%d,\"dets\":[]}", cam, i / 3);
        CHECK_OK(tx_send(&x, FP_RECORD_FRAME, cams[cam], (uint64_t)(i / 3) + 1000000000000ULL, json));
    }
    redisContext *c = client(&s, 0, NULL);
    static Entry e[100];
    int n = read_stream(c, "framepipe:frames", e, 100);
    CHECK_EQ(n, 60);
    for (int i = 0; i < 60; i++) {
        int cam = i % 3;
        CHECK_MSG(strcmp(e[i].camera, cams[cam]) == 0, "entry %d: camera \"%s\"", i, e[i].camera);
        CHECK(e[i].seq == (uint64_t)(i / 3) + 1000000000000ULL);
        CHECK(strcmp(e[i].kind, "frame") == 0);
        if (i == 31) {
            CHECK_MSG(strcmp(e[i].data, special) == 0, "data not byte-exact: %s", e[i].data);
        } else {
            snprintf(json, sizeof(json), "{\"camera\":\"%d\",\"seq\":%d,\"dets\":[]}", cam, i / 3);
            CHECK_MSG(strcmp(e[i].data, json) == 0, "entry %d: %s", i, e[i].data);
        }
    }
    CHECK_EQ(xlen(c, "framepipe:events"), 0);
    redisFree(c);
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST(redis_frames_and_events_go_to_their_streams)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    cfg.stream_frames = "site:a:frames";
    cfg.stream_events = "site:a:events";
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    for (int i = 0; i < 10; i++) {
        char json[64];
        snprintf(json, sizeof(json), "{\"i\":%d}", i);
        CHECK_OK(tx_send(&x, i % 3 == 0 ? FP_RECORD_EVENT : FP_RECORD_FRAME, "cam0", (uint64_t)i, json));
    }
    redisContext *c = client(&s, 0, NULL);
    static Entry e[16];
    int n = read_stream(c, "site:a:events", e, 16);
    CHECK_EQ(n, 4); /* 0, 3, 6, 9 */
    for (int k = 0; k < n; k++) {
        CHECK(strcmp(e[k].kind, "event") == 0);
        CHECK_EQ(e[k].seq, 3 * k);
    }
    n = read_stream(c, "site:a:frames", e, 16);
    CHECK_EQ(n, 6);
    for (int k = 0; k < n; k++)
        CHECK(strcmp(e[k].kind, "frame") == 0 && e[k].seq % 3 != 0);
    CHECK_EQ(xlen(c, "framepipe:frames"), 0);
    CHECK_EQ(xlen(c, "framepipe:events"), 0);
    redisFree(c);
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST_TIMED(redis_maxlen_trims_and_zero_does_not, 120)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    cfg.maxlen = 100;
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    for (int i = 0; i < 5000; i++)
        CHECK_OK(tx_send(&x, FP_RECORD_FRAME, "cam0", (uint64_t)i, "{\"dets\":[]}"));
    redisContext *c = client(&s, 0, NULL);
    long long n = xlen(c, "framepipe:frames");
    CHECK_MSG(n >= 100 && n < 500, "XLEN after 5000 with MAXLEN ~ 100: %lld", n);
    tx_destroy(&x);

    cfg.maxlen = 0; /* no MAXLEN arguments at all */
    cfg.stream_frames = "untrimmed";
    x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    for (int i = 0; i < 300; i++)
        CHECK_OK(tx_send(&x, FP_RECORD_FRAME, "cam0", (uint64_t)i, "{}"));
    CHECK_EQ(xlen(c, "untrimmed"), 300);
    redisFree(c);
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST(redis_selects_the_configured_db)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    cfg.db = 3;
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{\"id\":1}"));
    CHECK_OK(tx_send(&x, FP_RECORD_FRAME, "cam0", 7, "{\"seq\":7}"));
    redisContext *c3 = client(&s, 3, NULL), *c0 = client(&s, 0, NULL);
    CHECK_EQ(xlen(c3, "framepipe:events"), 1);
    CHECK_EQ(xlen(c3, "framepipe:frames"), 1);
    redisReply *r = redisCommand(c0, "DBSIZE");
    CHECK(r && r->type == REDIS_REPLY_INTEGER);
    CHECK_EQ(r->integer, 0);
    freeReplyObject(r);
    redisFree(c3);
    redisFree(c0);
    tx_destroy(&x);

    cfg.db = 100000; /* more than the server has: SELECT's error names it */
    x = tx_create(&cfg);
    int rc = x.ops->connect(x.t);
    CHECK(rc < 0);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "SELECT 100000") && strstr(msg, "ERR"), "message: %s", msg);
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST(redis_auth_right_wrong_and_missing_password)
{
    Server s;
    const char *const extra[] = {"--requirepass", "s3cret pw", NULL};
    server_start(&s, 0, extra);
    FpRedisConfig cfg = base_config(&s);

    cfg.password = "s3cret pw";
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{}"));
    tx_destroy(&x);

    cfg.password = "wrong-pw-xyz";
    x = tx_create(&cfg);
    int rc = x.ops->connect(x.t);
    CHECK(rc < 0);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "AUTH") && (strstr(msg, "WRONGPASS") || strstr(msg, "invalid password")),
              "message: %s", msg);
    CHECK_MSG(strstr(msg, "redis 127.0.0.1:"), "message: %s", msg);
    CHECK_MSG(!strstr(msg, "wrong-pw-xyz"), "the password is in the message: %s", msg);
    CHECK(tx_send(&x, FP_RECORD_EVENT, "cam0", 2, "{}") < 0); /* not connected */
    tx_destroy(&x);

    cfg.password = NULL;
    x = tx_create(&cfg);
    rc = x.ops->connect(x.t);
    CHECK(rc < 0);
    msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "NOAUTH"), "message: %s", msg);
    tx_destroy(&x);

    /* Redis 6 ACL: AUTH username password */
    redisContext *c = client(&s, 0, "s3cret pw");
    redisReply *r = redisCommand(c, "ACL SETUSER camwriter on >campw ~framepipe:* +xadd +ping +select");
    CHECK_MSG(r && r->type != REDIS_REPLY_ERROR, "ACL SETUSER: %s", r && r->str ? r->str : "no reply");
    freeReplyObject(r);
    cfg.username = "camwriter";
    cfg.password = "campw";
    x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 3, "{}"));
    tx_destroy(&x);
    CHECK_EQ(xlen(c, "framepipe:events"), 2);
    redisFree(c);
    server_stop(&s);
}

FP_TEST(redis_dead_server_fails_the_send_and_a_restart_recovers)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{\"id\":1}"));
    int port = s.port;
    kill(s.pid, SIGKILL);
    fp_test_wait_exit(s.pid, 5000);
    s.pid = 0;
    int64_t t0 = now_ms();
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) /* a write may still succeed into the dead socket's buffer */
        rc = tx_send(&x, FP_RECORD_EVENT, "cam0", 2, "{\"id\":2}");
    CHECK(rc < 0);
    CHECK_MSG(now_ms() - t0 < 3000, "the failed send took %lld ms", (long long)(now_ms() - t0));
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "redis 127.0.0.1:") && strstr(msg, "XADD"), "message: %s", msg);
    x.ops->disconnect(x.t);
    rc = x.ops->connect(x.t);
    CHECK(rc < 0); /* still down */
    CHECK_MSG(strstr(fp_error_detail(rc), "refused"), "message: %s", fp_error_detail(rc));

    server_start(&s, port, NULL); /* the same port */
    x.ops->disconnect(x.t);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 2, "{\"id\":2}"));
    redisContext *c = client(&s, 0, NULL);
    CHECK_EQ(xlen(c, "framepipe:events"), 1); /* a fresh server without persistence */
    redisFree(c);
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST(redis_dead_server_under_a_large_record_is_epipe_not_sigpipe)
{
    /* a 4 MiB XADD takes many write(2) calls: after the first the peer's RST arrives, the next write gets
       EPIPE and raises SIGPIPE, which must not end the process (SIGPIPE is not ignored in this test) */
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    kill(s.pid, SIGKILL);
    fp_test_wait_exit(s.pid, 5000);
    s.pid = 0;
    size_t n = 4u << 20;
    char *json = malloc(n + 1);
    CHECK(json);
    memset(json, 'x', n);
    json[0] = '"';
    json[n - 1] = '"';
    json[n] = '\0';
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = tx_send(&x, FP_RECORD_FRAME, "cam0", 1, json);
    CHECK(rc < 0);
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE)); /* consumed, not left pending */
    free(json);
    tx_destroy(&x);
}

FP_TEST(redis_stalled_server_times_out)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg = base_config(&s);
    cfg.timeout_ns = 300000000LL;
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    kill(s.pid, SIGSTOP);
    int64_t t0 = now_ms();
    int rc = tx_send(&x, FP_RECORD_FRAME, "cam0", 1, "{}");
    int64_t took = now_ms() - t0;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", fp_error_detail(rc));
    CHECK_MSG(strstr(msg, "XADD of a frame: no answer within 300 ms"), "message: %s", msg);
    /* a connect to the stopped server: the kernel accepts, the PING gets no answer */
    x.ops->disconnect(x.t);
    int64_t t1 = now_ms();
    int crc = x.ops->connect(x.t);
    int64_t connect_took = now_ms() - t1;
    kill(s.pid, SIGCONT);
    CHECK_EQ(crc, FP_ETIMEOUT);
    CHECK_MSG(connect_took < 3000, "the connect took %lld ms", (long long)connect_took);
    CHECK(rc < 0);
    CHECK_MSG(took >= 250 && took < 3000, "the send took %lld ms", (long long)took);
    CHECK_EQ(rc, FP_ETIMEOUT);
    x.ops->disconnect(x.t);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_FRAME, "cam0", 1, "{}"));
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST(redis_closed_port_is_refused_quickly)
{
    if (access(REDIS_SERVER, X_OK) != 0) /* needs no server, but belongs with the ones that do */
        fp_test_skip("%s is not installed (Debian: redis-server)", REDIS_SERVER);
    Server s = {.port = fp_test_free_port()};
    FpRedisConfig cfg = base_config(&s);
    Tx x = tx_create(&cfg);
    int64_t t0 = now_ms();
    int rc = x.ops->connect(x.t);
    CHECK(rc < 0);
    CHECK(now_ms() - t0 < 1000);
    const char *msg = fp_error_detail(rc);
    char where[64];
    snprintf(where, sizeof(where), "redis 127.0.0.1:%d", s.port);
    CHECK_MSG(strstr(msg, "refused") && strstr(msg, where), "message: %s", msg);
    tx_destroy(&x);
}

FP_TEST(redis_unix_socket_url)
{
    Server s;
    server_start(&s, 0, NULL);
    FpRedisConfig cfg;
    fp_redis_config_init(&cfg);
    char url[400], *storage = NULL;
    snprintf(url, sizeof(url), "unix://%s?db=2", s.sock);
    CHECK_OK(fp_redis_config_parse_url(&cfg, url, &storage));
    Tx x = tx_create(&cfg);
    free(storage); /* create copied the strings */
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_FRAME, "cam0", 5, "{\"seq\":5}"));
    redisContext *c = client(&s, 2, NULL);
    CHECK_EQ(xlen(c, "framepipe:frames"), 1);
    redisFree(c);
    tx_destroy(&x);
    server_stop(&s);
}

FP_TEST(redis_tls_and_bad_settings_are_config_errors)
{
    FpRedisConfig cfg;
    fp_redis_config_init(&cfg);
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    cfg.tls = true;
    int rc = fp_redis_transport_create(&ops, &t, &cfg);
    CHECK_EQ(rc, FP_ECONFIG);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "0.14") || strstr(msg, "hiredis ("), "message: %s", msg);
    CHECK_MSG(strstr(msg, "stunnel") && strstr(msg, "docs/outputs.md"), "message: %s", msg);
    CHECK(ops == NULL && t == NULL);

    fp_redis_config_init(&cfg);
    cfg.stream_events = "";
    CHECK_EQ(fp_redis_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    fp_redis_config_init(&cfg);
    cfg.port = 70000;
    CHECK_EQ(fp_redis_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    CHECK(strstr(fp_error_detail(FP_ECONFIG), "70000"));
    fp_redis_config_init(&cfg);
    cfg.db = -1;
    CHECK_EQ(fp_redis_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    fp_redis_config_init(&cfg);
    cfg.host = "";
    CHECK_EQ(fp_redis_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    CHECK(ops == NULL && t == NULL);
}

FP_TEST(redis_url_table)
{
    static const struct {
        const char *url;
        const char *host, *user, *password, *sock;
        int port, db;
        bool tls;
    } good[] = {
        {"redis://localhost", "localhost", NULL, NULL, NULL, 6379, 0, false},
        {"redis://10.0.0.5:6380", "10.0.0.5", NULL, NULL, NULL, 6380, 0, false},
        {"redis://10.0.0.5:6380/", "10.0.0.5", NULL, NULL, NULL, 6380, 0, false},
        {"redis://:pw@host/4", "host", NULL, "pw", NULL, 6379, 4, false},
        {"redis://alice:p%40ss%3Aw@redis.lan:7000/15", "redis.lan", "alice", "p@ss:w", NULL, 7000, 15, false},
        {"redis://u:p@ss@h", "h", "u", "p@ss", NULL, 6379, 0, false},
        {"redis://[::1]:6390/2", "::1", NULL, NULL, NULL, 6390, 2, false},
        {"redis://[fe80::1]", "fe80::1", NULL, NULL, NULL, 6379, 0, false},
        {"rediss://:pw@secure.example:6380", "secure.example", NULL, "pw", NULL, 6380, 0, true},
        {"unix:///run/redis/redis.sock", "127.0.0.1", NULL, NULL, "/run/redis/redis.sock", 6379, 0, false},
        {"unix:///tmp/r%20s.sock?db=9&password=x%26y", "127.0.0.1", NULL, "x&y", "/tmp/r s.sock", 6379, 9, false},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        FpRedisConfig cfg;
        fp_redis_config_init(&cfg);
        char *storage = NULL;
        int rc = fp_redis_config_parse_url(&cfg, good[i].url, &storage);
        CHECK_MSG(rc == 0, "%s: %s", good[i].url, fp_error_detail(rc));
        CHECK_MSG(strcmp(cfg.host, good[i].host) == 0, "%s: host %s", good[i].url, cfg.host);
        CHECK_MSG(cfg.port == good[i].port && cfg.db == good[i].db && cfg.tls == good[i].tls,
                  "%s: port %d db %d tls %d", good[i].url, cfg.port, cfg.db, cfg.tls);
#define SAME(a, b) ((a) == NULL ? (b) == NULL : (b) != NULL && strcmp((a), (b)) == 0)
        CHECK_MSG(SAME(good[i].user, cfg.username), "%s: user %s", good[i].url, cfg.username ? cfg.username : "-");
        CHECK_MSG(SAME(good[i].password, cfg.password), "%s: password %s", good[i].url,
                  cfg.password ? cfg.password : "-");
        CHECK_MSG(SAME(good[i].sock, cfg.unix_socket), "%s: socket %s", good[i].url,
                  cfg.unix_socket ? cfg.unix_socket : "-");
#undef SAME
        CHECK(strcmp(cfg.stream_frames, "framepipe:frames") == 0); /* untouched */
        free(storage);
    }

    static const struct {
        const char *url, *says;
    } bad[] = {
        {"http://host", "scheme"},
        {"redis:/host", "scheme"},
        {"redis://", "no host"},
        {"redis://:6379", "no host"},
        {"redis://host:0", "port"},
        {"redis://host:65536", "port"},
        {"redis://host:12x", "port"},
        {"redis://host:", "port"},
        {"redis://host/x", "database"},
        {"redis://host/-1", "database"},
        {"redis://host/1/2", "database"},
        {"redis://host?db=1", "not allowed"},
        {"redis://topsecret@host", "without ':'"},
        {"redis://user:@host", "empty password"},
        {"redis://:p%zzw@host", "escape"},
        {"redis://[::1", "']'"},
        {"redis://[::1]x", "after the IPv6"},
        {"unix://relative.sock", "absolute"},
        {"unix:///", "no socket path"},
        {"unix:///s.sock?db=x", "db"},
        {"unix:///s.sock?timeout=1", "unknown query item"},
        {"unix:///s.sock?db", "name=value"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FpRedisConfig cfg;
        fp_redis_config_init(&cfg);
        FpRedisConfig before = cfg;
        char *storage = (char *)"untouched";
        int rc = fp_redis_config_parse_url(&cfg, bad[i].url, &storage);
        CHECK_MSG(rc == FP_ECONFIG, "%s: rc %d", bad[i].url, rc);
        const char *msg = fp_error_detail(rc);
        CHECK_MSG(strstr(msg, bad[i].says), "%s: message \"%s\" does not say \"%s\"", bad[i].url, msg, bad[i].says);
        CHECK_MSG(strstr(msg, "redis URL \""), "%s: message \"%s\" does not name the URL", bad[i].url, msg);
        CHECK(strcmp(storage, "untouched") == 0);
        CHECK(memcmp(&cfg, &before, sizeof(cfg)) == 0);
    }

    /* the password never appears in a message */
    FpRedisConfig cfg;
    fp_redis_config_init(&cfg);
    char *storage = NULL;
    int rc = fp_redis_config_parse_url(&cfg, "redis://u:hunter2@host:99999", &storage);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK_MSG(!strstr(fp_error_detail(rc), "hunter2") && strstr(fp_error_detail(rc), "u:***@host"), "message: %s",
              fp_error_detail(rc));
    rc = fp_redis_config_parse_url(&cfg, "unix:///s.sock?password=hunter2&db=x", &storage);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK_MSG(!strstr(fp_error_detail(rc), "hunter2"), "message: %s", fp_error_detail(rc));
}
