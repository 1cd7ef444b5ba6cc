// SPDX-License-Identifier: MIT
// The webhook transport against tests/harness/webhook_receiver.py on 127.0.0.1: bodies and headers, 500, a hanging receiver, 401, refused, config errors.
#include "fp_test.h"
#include "fp_test_spawn.h"

#include "framepipe/deliver.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PYTHON "/usr/bin/python3"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A proxy from the environment would take loopback requests elsewhere: tests talk to 127.0.0.1 only. */
static void no_proxy(void)
{
    static const char *const vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                                       "ALL_PROXY"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

/* ---- the receiver ---- */

typedef struct Receiver {
    pid_t pid;
    int port;
    char out[300]; /* its JSON lines */
    char url[64];  /* http://127.0.0.1:PORT/hook */
} Receiver;

static void receiver_start(Receiver *r, const char *token)
{
    if (access(PYTHON, X_OK) != 0)
        fp_test_skip("%s is missing", PYTHON);
    no_proxy();
    r->port = fp_test_free_port();
    snprintf(r->out, sizeof(r->out), "%s/posts-%d.jsonl", fp_test_tmpdir(), r->port);
    snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/hook", r->port);
    char script[512], port[16], log[300];
    snprintf(script, sizeof(script), "%s/tests/harness/webhook_receiver.py", fp_test_source_dir());
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s/receiver-%d.log", fp_test_tmpdir(), r->port);
    const char *argv[11] = {PYTHON, script, "--port", port, "--out", r->out, "--hang-seconds", "4"};
    if (token) {
        argv[8] = "--token";
        argv[9] = token;
    }
    FpTestSpawnOptions o = {.stdout_path = log};
    r->pid = fp_test_spawn(argv, &o);
    int rc = fp_test_wait_line(r->pid, log, "listening", 15000);
    CHECK_MSG(rc == 0, "webhook_receiver.py did not start (%d); see %s", rc, log);
}

static void receiver_stop(Receiver *r)
{
    if (r->pid > 0)
        fp_test_stop(r->pid, 3000);
    r->pid = 0;
}

static size_t discard(char *p, size_t size, size_t n, void *o)
{
    (void)p;
    (void)o;
    return size * n;
}

/* POST /_mode with `mode` (the test's own curl request). */
static void receiver_mode(const Receiver *r, const char *mode)
{
    char url[80];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/_mode", r->port);
    CURL *c = curl_easy_init();
    CHECK(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, mode);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    CHECK_MSG(rc == CURLE_OK && status == 200, "setting mode %s: %s, %ld", mode, curl_easy_strerror(rc), status);
}

/* The receiver's records (a cJSON array the caller deletes). */
static cJSON *receiver_posts(const Receiver *r)
{
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(r->out, "r");
    if (!f)
        return all;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        CHECK_MSG(o, "receiver wrote a line that is not JSON: %s", line);
        cJSON_AddItemToArray(all, o);
    }
    free(line);
    fclose(f);
    return all;
}

static const char *str_at(const cJSON *post, const char *header)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(post, "headers"), header);
    return cJSON_IsString(h) ? h->valuestring : NULL;
}

/* ---- the transport ---- */

typedef struct Tx {
    const FpTransportOps *ops;
    void *t;
} Tx;

static Tx tx_create(const FpWebhookConfig *cfg)
{
    Tx x = {0};
    CHECK_OK(fp_webhook_transport_create(&x.ops, &x.t, cfg));
    CHECK(x.ops && x.t && strcmp(x.ops->kind, "webhook") == 0);
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

/* ---- cases ---- */

FP_TEST(webhook_posts_arrive_in_order_with_their_headers)
{
    Receiver r;
    receiver_start(&r, "tok-123");
    FpWebhookConfig cfg;
    fp_webhook_config_init(&cfg);
    cfg.url = r.url;
    cfg.headers[0] = "X-Site: north";
    cfg.headers[1] = "X-Api-Key:k1";
    cfg.n_headers = 2;
    cfg.bearer_token = "tok-123";
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    static const char *const special = "{\"label\":\"caf\xc3\xa9 \\\"q\\\" \xe2\x9c\x93 \xf0\x9f\x9a\x97\",\"n\":1}";
    static const char *const cams[3] = {"front door", "cam1", "bad\r\nX-Evil: 1"};
    char json[20][128];
    for (int i = 0; i < 20; i++) {
        if (i == 7)
            snprintf(json[i], sizeof(json[i]), "%s", special);
        else
            snprintf(json[i], sizeof(json[i]), "{\"i\":%d,\"pad\":\"%0*d\"}", i, 1 + i * 5, 0);
        CHECK_OK(tx_send(&x, i % 4 == 0 ? FP_RECORD_EVENT : FP_RECORD_FRAME, cams[i % 3], 1000 + (uint64_t)i,
                         json[i]));
    }
    cJSON *posts = receiver_posts(&r);
    CHECK_EQ(cJSON_GetArraySize(posts), 20);
    double port0 = 0;
    for (int i = 0; i < 20; i++) {
        const cJSON *p = cJSON_GetArrayItem(posts, i);
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(p, "body");
        CHECK_MSG(cJSON_IsString(body) && strcmp(body->valuestring, json[i]) == 0, "post %d: body %s", i,
                  cJSON_IsString(body) ? body->valuestring : "?");
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(p, "path")->valuestring, "/hook") == 0);
        CHECK(str_at(p, "authorization") && strcmp(str_at(p, "authorization"), "Bearer tok-123") == 0);
        CHECK(str_at(p, "x-site") && strcmp(str_at(p, "x-site"), "north") == 0);
        CHECK(str_at(p, "x-api-key") && strcmp(str_at(p, "x-api-key"), "k1") == 0);
        CHECK(str_at(p, "content-type") && strcmp(str_at(p, "content-type"), "application/json") == 0);
        CHECK(!str_at(p, "expect"));
        CHECK(!str_at(p, "x-evil")); /* a camera name cannot add headers */
        CHECK(strcmp(str_at(p, "x-framepipe-kind"), i % 4 == 0 ? "event" : "frame") == 0);
        const char *cam = str_at(p, "x-framepipe-camera");
        CHECK_MSG(cam && strcmp(cam, i % 3 == 2 ? "bad__X-Evil: 1" : cams[i % 3]) == 0, "post %d: camera %s", i,
                  cam ? cam : "-");
        char seq[24];
        snprintf(seq, sizeof(seq), "%d", 1000 + i);
        CHECK(strcmp(str_at(p, "x-framepipe-seq"), seq) == 0);
        /* keep-alive: every POST came over the first one's connection */
        double port = cJSON_GetObjectItemCaseSensitive(p, "remote_port")->valuedouble;
        if (i == 0)
            port0 = port;
        CHECK_MSG(port == port0, "post %d came from port %.0f, the first from %.0f", i, port, port0);
    }
    cJSON_Delete(posts);
    tx_destroy(&x);
    receiver_stop(&r);
}

FP_TEST(webhook_500_fails_with_the_status_and_recovers)
{
    Receiver r;
    receiver_start(&r, NULL);
    FpWebhookConfig cfg;
    fp_webhook_config_init(&cfg);
    cfg.url = r.url;
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{\"id\":1}"));
    receiver_mode(&r, "fail");
    int rc = tx_send(&x, FP_RECORD_EVENT, "cam0", 2, "{\"id\":2}");
    CHECK(rc < 0);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "answered 500") && strstr(msg, r.url) && strstr(msg, "receiver told to fail"),
              "message: %s", msg);
    receiver_mode(&r, "ok");
    x.ops->disconnect(x.t); /* what FpDelivery does after a failure */
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 2, "{\"id\":2}"));
    cJSON *posts = receiver_posts(&r);
    CHECK_EQ(cJSON_GetArraySize(posts), 3);
    CHECK_EQ(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(posts, 1), "answered")->valueint, 500);
    CHECK_EQ(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(posts, 2), "answered")->valueint, 200);
    CHECK(!str_at(cJSON_GetArrayItem(posts, 0), "authorization")); /* no token configured */
    cJSON_Delete(posts);
    tx_destroy(&x);
    receiver_stop(&r);
}

FP_TEST(webhook_hanging_receiver_times_out)
{
    Receiver r;
    receiver_start(&r, NULL);
    FpWebhookConfig cfg;
    fp_webhook_config_init(&cfg);
    cfg.url = r.url;
    cfg.timeout_ns = 500000000LL;
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    receiver_mode(&r, "hang");
    int64_t t0 = now_ms();
    int rc = tx_send(&x, FP_RECORD_FRAME, "cam0", 1, "{}");
    int64_t took = now_ms() - t0;
    CHECK(rc < 0);
    CHECK_MSG(took >= 400 && took < 3000, "the send took %lld ms", (long long)took);
    CHECK_EQ(rc, FP_ETIMEOUT);
    CHECK_MSG(strstr(fp_error_detail(rc), r.url), "message: %s", fp_error_detail(rc));
    tx_destroy(&x);
    receiver_stop(&r);
}

FP_TEST(webhook_wrong_token_gets_401_and_is_never_shown)
{
    Receiver r;
    receiver_start(&r, "right-token");
    FpWebhookConfig cfg;
    fp_webhook_config_init(&cfg);
    cfg.url = r.url;
    cfg.bearer_token = "wrong-token-abc";
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    int rc = tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{}");
    CHECK(rc < 0);
    const char *msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "answered 401") && !strstr(msg, "wrong-token-abc"), "message: %s", msg);
    tx_destroy(&x);

    cfg.bearer_token = "right-token";
    x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t));
    CHECK_OK(tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{}"));
    receiver_mode(&r, "401"); /* the receiver turns everyone away */
    rc = tx_send(&x, FP_RECORD_EVENT, "cam0", 2, "{}");
    CHECK(rc < 0);
    msg = fp_error_detail(rc);
    CHECK_MSG(strstr(msg, "answered 401") && !strstr(msg, "right-token"), "message: %s", msg);
    tx_destroy(&x);
    receiver_stop(&r);
}

FP_TEST(webhook_refused_connection_fails_quickly)
{
    no_proxy();
    int port = fp_test_free_port();
    char url[128];
    snprintf(url, sizeof(url), "http://user:pw-xyz@127.0.0.1:%d/hook?key=secret-xyz", port);
    FpWebhookConfig cfg;
    fp_webhook_config_init(&cfg);
    cfg.url = url;
    cfg.bearer_token = "tok-xyz";
    Tx x = tx_create(&cfg);
    CHECK_OK(x.ops->connect(x.t)); /* HTTP has no session: the send connects */
    int64_t t0 = now_ms();
    int rc = tx_send(&x, FP_RECORD_EVENT, "cam0", 1, "{}");
    CHECK(rc < 0);
    CHECK(now_ms() - t0 < 1500);
    const char *msg = fp_error_detail(rc);
    char where[80];
    snprintf(where, sizeof(where), "http://user:***@127.0.0.1:%d/hook?***", port);
    CHECK_MSG(strstr(msg, where) && (strstr(msg, "connect") || strstr(msg, "refused")), "message: %s", msg);
    CHECK_MSG(!strstr(msg, "xyz"), "a secret is in the message: %s", msg);
    tx_destroy(&x);
}

FP_TEST(webhook_config_errors)
{
    FpWebhookConfig cfg;
    const FpTransportOps *ops = NULL;
    void *t = NULL;
    static const struct {
        const char *url, *header, *token, *says;
    } bad[] = {
        {NULL, NULL, NULL, "no url"},
        {"", NULL, NULL, "no url"},
        {"ftp://host/x", NULL, NULL, "http:// or https://"},
        {"file:///etc/passwd", NULL, NULL, "http:// or https://"},
        {"127.0.0.1:8080/hook", NULL, NULL, "http:// or https://"},
        {"http://host/a b", NULL, NULL, "control"},
        {"http://host/x", "X-No-Colon", NULL, "Name: value"},
        {"http://host/x", ": no name", NULL, "Name: value"},
        {"http://host/x", "X-A: 1\r\nX-B: 2", NULL, "CR or LF"},
        {"http://host/x", NULL, "tok\r\nX-Injected: 1", "CR or LF"},
        {"http://host/x", NULL, "", "empty"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fp_webhook_config_init(&cfg);
        cfg.url = bad[i].url;
        if (bad[i].header) {
            cfg.headers[0] = bad[i].header;
            cfg.n_headers = 1;
        }
        cfg.bearer_token = bad[i].token;
        int rc = fp_webhook_transport_create(&ops, &t, &cfg);
        CHECK_MSG(rc == FP_ECONFIG, "case %zu: rc %d", i, rc);
        const char *msg = fp_error_detail(rc);
        CHECK_MSG(strstr(msg, bad[i].says), "case %zu: message \"%s\" does not say \"%s\"", i, msg, bad[i].says);
        CHECK_MSG(!strstr(msg, "X-Injected"), "case %zu: the token is in the message: %s", i, msg);
        CHECK(ops == NULL && t == NULL);
    }
    fp_webhook_config_init(&cfg);
    cfg.url = "https://example.invalid/x";
    cfg.n_headers = FP_WEBHOOK_MAX_HEADERS + 1;
    CHECK_EQ(fp_webhook_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    cfg.n_headers = 0;
    cfg.timeout_ns = 0;
    CHECK_EQ(fp_webhook_transport_create(&ops, &t, &cfg), FP_ECONFIG);
    /* a good configuration creates without any network access; destroy without connect */
    fp_webhook_config_init(&cfg);
    cfg.url = "HTTPS://example.invalid/x";
    CHECK_OK(fp_webhook_transport_create(&ops, &t, &cfg));
    ops->destroy(t);
}
