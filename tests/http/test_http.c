// SPDX-License-Identifier: MIT
// Tests of the HTTP endpoint: a real server on 127.0.0.1:0 fetched by a tiny HTTP/1.1 client over a socket.
#include "fp_test.h"
#include "fp_test_spawn.h"

#include "framepipe/http.h"
#include "framepipe/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a tiny HTTP client ------------------------------------------------- */

typedef struct Reply {
    int status;
    char headers[4096]; /* the raw header block, CRLF separated */
    char *body;         /* malloc'ed, NUL-terminated */
    size_t body_len;
} Reply;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A connected TCP socket to host:port (AF_INET or AF_INET6 literal), with a receive timeout. */
static int connect_to(const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    int family = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        CHECK(inet_pton(AF_INET6, host, &a->sin6_addr) == 1);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        CHECK(inet_pton(AF_INET, host, &a->sin_addr) == 1);
        len = sizeof(*a);
    }
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    CHECK_MSG(connect(fd, (struct sockaddr *)&ss, len) == 0, "connect %s:%d: %s", host, port,
              strerror(errno));
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        CHECK_MSG(n > 0, "send: %s", strerror(errno));
        data += n;
        len -= (size_t)n;
    }
}

/* Reads until the server closes the connection (or the 5 s receive timeout). */
static char *read_all(int fd, size_t *len_out)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    CHECK(buf);
    for (;;) {
        if (cap - len < 2048) {
            cap *= 2;
            buf = realloc(buf, cap);
            CHECK(buf);
        }
        ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
        if (n == 0)
            break;
        CHECK_MSG(n > 0, "recv: %s (server did not finish the response)", strerror(errno));
        len += (size_t)n;
    }
    buf[len] = '\0';
    *len_out = len;
    return buf;
}

/* Value of header `name` (case-insensitive) in r->headers, copied to `out`; false if absent. */
static bool header(const Reply *r, const char *name, char *out, size_t out_len)
{
    size_t nl = strlen(name);
    const char *p = r->headers;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t line_len = eol ? (size_t)(eol - p) : strlen(p);
        if (line_len > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = line_len - (size_t)(v - p);
            if (vl >= out_len)
                vl = out_len - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = eol ? eol + 2 : NULL;
    }
    return false;
}

/* Parses a complete HTTP/1.1 response (status line, headers, body by Content-Length). */
static void parse_reply(const char *raw, size_t raw_len, bool head, Reply *r)
{
    memset(r, 0, sizeof(*r));
    CHECK_MSG(sscanf(raw, "HTTP/1.%*d %d", &r->status) == 1, "bad status line in: %.200s", raw);
    const char *hdr = strstr(raw, "\r\n");
    const char *end = strstr(raw, "\r\n\r\n");
    CHECK(hdr && end);
    size_t hl = (size_t)(end - (hdr + 2));
    CHECK(hl < sizeof(r->headers));
    memcpy(r->headers, hdr + 2, hl);
    r->headers[hl] = '\0';
    const char *body = end + 4;
    r->body_len = raw_len - (size_t)(body - raw);
    r->body = malloc(r->body_len + 1);
    CHECK(r->body);
    memcpy(r->body, body, r->body_len);
    r->body[r->body_len] = '\0';
    char cl[32];
    CHECK_MSG(header(r, "Content-Length", cl, sizeof(cl)), "no Content-Length in:\n%s",
              r->headers);
    if (head)
        CHECK_EQ(r->body_len, 0);
    else
        CHECK_EQ(strtoull(cl, NULL, 10), r->body_len);
}

/* One request on a fresh connection ("Connection: close"); `extra` are more header lines/body. */
static void fetch_ex(const char *host, int port, const char *method, const char *path,
                     const char *extra, Reply *r)
{
    int fd = connect_to(host, port);
    char req[1024];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%s", method, path,
                     host, port, extra ? extra : "\r\n");
    CHECK(n > 0 && (size_t)n < sizeof(req));
    send_all(fd, req, (size_t)n);
    size_t len;
    char *raw = read_all(fd, &len);
    close(fd);
    parse_reply(raw, len, strcmp(method, "HEAD") == 0, r);
    free(raw);
}

static void fetch(int port, const char *method, const char *path, Reply *r)
{
    fetch_ex("127.0.0.1", port, method, path, NULL, r);
}

static void reply_free(Reply *r)
{
    free(r->body);
    r->body = NULL;
}

static void check_type(const Reply *r, const char *want)
{
    char ct[256];
    CHECK_MSG(header(r, "Content-Type", ct, sizeof(ct)), "no Content-Type in:\n%s", r->headers);
    CHECK_MSG(strcmp(ct, want) == 0, "Content-Type \"%s\", want \"%s\"", ct, want);
}

/* ---- fixtures ----------------------------------------------------------- */

typedef struct Fixture {
    FpMetrics *metrics;
    FpCounter frames;
    FpHistogram latency;
    atomic_int healthy;      /* what healthy() answers: 1, 0 or a negative code */
    atomic_int cameras_fail; /* write_cameras returns this when non-zero */
    atomic_int calls;        /* handler calls, any thread */
} Fixture;

static const uint64_t latency_ns[] = {300000, 3000000, 3000000, 30000000}; /* 0.3, 3, 3, 30 ms */

static int write_cameras(void *opaque, FILE *out)
{
    Fixture *f = opaque;
    atomic_fetch_add(&f->calls, 1);
    int fail = atomic_load(&f->cameras_fail);
    if (fail)
        return fp_error(fail, "cameras: registry is gone");
    fputs("[{\"id\":\"cam0\",\"url\":\"rtsp://127.0.0.1/a \\\"b\\\"\",\"fps\":25.0,\"frames\":42},"
          "{\"id\":\"cam1\",\"url\":\"file.mp4\",\"fps\":0,\"frames\":0}]",
          out);
    return 0;
}

static int healthy(void *opaque, char *why, size_t why_len)
{
    Fixture *f = opaque;
    atomic_fetch_add(&f->calls, 1);
    int h = atomic_load(&f->healthy);
    if (h == 0)
        snprintf(why, why_len, "camera cam1: no frame for 12.0 s");
    if (h < 0)
        return fp_error(h, "health: lock timed out");
    return h;
}

static void fixture_init(Fixture *f)
{
    memset(f, 0, sizeof(*f));
    atomic_store(&f->healthy, 1);
    CHECK_OK(fp_metrics_create(&f->metrics));
    fp_histogram_init(&f->latency);
    fp_counter_add(&f->frames, 42);
    for (size_t i = 0; i < sizeof(latency_ns) / sizeof(latency_ns[0]); i++)
        fp_histogram_record(&f->latency, latency_ns[i]);
    CHECK_OK(fp_metrics_add_counter(f->metrics, "fp_test_frames_total", "camera=\"cam0\"",
                                    "Frames decoded", &f->frames, f));
    CHECK_OK(fp_metrics_add_histogram(f->metrics, "fp_test_latency_seconds", "stage=\"infer\"",
                                      "Inference latency", &f->latency, 1, f));
}

static FpHttpHandlers handlers_of(Fixture *f)
{
    return (FpHttpHandlers){.metrics = f->metrics,
                            .write_cameras = write_cameras,
                            .healthy = healthy,
                            .opaque = f};
}

static FpHttpServer *start(Fixture *f, const char *listen)
{
    FpHttpHandlers h = handlers_of(f);
    FpHttpServer *s = NULL;
    CHECK_OK(fp_http_server_create(&s, listen, &h));
    CHECK(s != NULL);
    int port = fp_http_server_port(s);
    CHECK_MSG(port > 0 && port <= 65535, "port %d", port);
    return s;
}

static void fixture_deinit(Fixture *f)
{
    fp_metrics_destroy(&f->metrics);
}

/* ---- Prometheus text: an independent format check ----------------------- */

/*
 * Every line of the exposition format (0.0.4) is "# HELP name text", "# TYPE name
 * counter|gauge|histogram|summary|untyped", or a sample `name{label="value",...} value`.
 */
static void check_prometheus_format(const char *text)
{
    regex_t sample, help, type;
    CHECK(regcomp(&sample,
                  "^[a-zA-Z_:][a-zA-Z0-9_:]*"
                  "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
                  "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})?"
                  " ([-+]?[0-9]+(\\.[0-9]*)?([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)$",
                  REG_EXTENDED | REG_NOSUB) == 0);
    CHECK(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$", REG_EXTENDED | REG_NOSUB) == 0);
    CHECK(regcomp(&type,
                  "^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$",
                  REG_EXTENDED | REG_NOSUB) == 0);
    CHECK_MSG(*text && text[strlen(text) - 1] == '\n', "body does not end with a newline");
    char *copy = strdup(text), *save = NULL;
    CHECK(copy);
    int samples = 0;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            CHECK_MSG(regexec(&help, line, 0, NULL, 0) == 0 || regexec(&type, line, 0, NULL, 0) == 0,
                      "bad comment line: \"%s\"", line);
            continue;
        }
        CHECK_MSG(regexec(&sample, line, 0, NULL, 0) == 0, "bad sample line: \"%s\"", line);
        samples++;
    }
    CHECK(samples > 0);
    free(copy);
    regfree(&sample);
    regfree(&help);
    regfree(&type);
}

/* The value of the sample line that starts with `series` + ' ' (exact series match). */
static bool sample_value(const char *text, const char *series, double *value)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            *value = strtod(p + n + 1, NULL);
            return true;
        }
    }
    return false;
}

/* ---- tests -------------------------------------------------------------- */

FP_TEST(http_metrics_prometheus_text)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);

    Reply r;
    fetch(port, "GET", "/metrics", &r);
    CHECK_EQ(r.status, 200);
    check_type(&r, "text/plain; version=0.0.4; charset=utf-8");
    check_prometheus_format(r.body);
    CHECK(strstr(r.body, "# TYPE fp_test_frames_total counter\n"));
    CHECK(strstr(r.body, "# TYPE fp_test_latency_seconds histogram\n"));
    double v;
    CHECK(sample_value(r.body, "fp_test_frames_total{camera=\"cam0\"}", &v));
    CHECK_EQ(v, 42);

    /* Histogram: cumulative buckets in seconds, +Inf = count, sum of the recorded values. */
    size_t n_samples = sizeof(latency_ns) / sizeof(latency_ns[0]);
    double sum_s = 0;
    for (size_t i = 0; i < n_samples; i++)
        sum_s += (double)latency_ns[i] * 1e-9;
    CHECK(sample_value(r.body, "fp_test_latency_seconds_count{stage=\"infer\"}", &v));
    CHECK_EQ(v, n_samples);
    CHECK(sample_value(r.body, "fp_test_latency_seconds_bucket{stage=\"infer\",le=\"+Inf\"}", &v));
    CHECK_EQ(v, n_samples);
    CHECK(sample_value(r.body, "fp_test_latency_seconds_sum{stage=\"infer\"}", &v));
    CHECK_NEAR(v, sum_s, 1e-9);
    int buckets = 0;
    double last_count = 0;
    const char *prefix = "fp_test_latency_seconds_bucket{stage=\"infer\",le=\"";
    for (const char *p = strstr(r.body, prefix); p; p = strstr(p + 1, prefix)) {
        const char *le = p + strlen(prefix);
        if (strncmp(le, "+Inf", 4) == 0)
            continue;
        double bound = strtod(le, NULL);
        const char *val = strstr(le, "} ");
        CHECK(val);
        double count = strtod(val + 2, NULL);
        double want = 0;
        for (size_t i = 0; i < n_samples; i++)
            want += (double)latency_ns[i] * 1e-9 <= bound;
        CHECK_MSG(count == want, "bucket le=%g holds %g, want %g", bound, count, want);
        CHECK(count >= last_count);
        last_count = count;
        buckets++;
    }
    CHECK(buckets >= 5);

    /* The body is what the registry writes, built per request: a later count shows up. */
    char *direct = NULL;
    size_t direct_len = 0;
    FILE *mem = open_memstream(&direct, &direct_len);
    CHECK(mem);
    CHECK_OK(fp_metrics_write_prometheus(f.metrics, mem));
    fclose(mem);
    CHECK_EQ(direct_len, r.body_len);
    CHECK(memcmp(direct, r.body, direct_len) == 0);
    free(direct);
    reply_free(&r);

    fp_counter_add(&f.frames, 1);
    fetch(port, "GET", "/metrics", &r);
    CHECK(sample_value(r.body, "fp_test_frames_total{camera=\"cam0\"}", &v));
    CHECK_EQ(v, 43);
    reply_free(&r);

    /* HEAD: same status and length, no body. */
    fetch(port, "GET", "/metrics", &r);
    size_t get_len = r.body_len;
    reply_free(&r);
    fetch(port, "HEAD", "/metrics", &r);
    CHECK_EQ(r.status, 200);
    char cl[32];
    CHECK(header(&r, "Content-Length", cl, sizeof(cl)));
    CHECK_EQ(strtoull(cl, NULL, 10), get_len);
    reply_free(&r);

    fp_http_server_destroy(&s);
    CHECK(s == NULL);
    fixture_deinit(&f);
}

FP_TEST(http_index_links_the_endpoints)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    Reply r;
    fetch(fp_http_server_port(s), "GET", "/", &r);
    CHECK_EQ(r.status, 200);
    check_type(&r, "text/html; charset=utf-8");
    CHECK(strstr(r.body, "<html"));
    CHECK(strstr(r.body, "href=\"metrics\""));
    CHECK(strstr(r.body, "href=\"healthz\""));
    CHECK(strstr(r.body, "src=\"app.js\""));
    reply_free(&r);
    fetch(fp_http_server_port(s), "GET", "/index.txt", &r);
    CHECK_EQ(r.status, 200);
    check_type(&r, "text/plain; charset=utf-8");
    CHECK(strstr(r.body, "/api/cameras"));
    CHECK(strstr(r.body, "/api/events/stream"));
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

FP_TEST(http_healthz_ok_unhealthy_and_failing)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);
    Reply r;

    fetch(port, "GET", "/healthz", &r);
    CHECK_EQ(r.status, 200);
    check_type(&r, "text/plain; charset=utf-8");
    CHECK(strcmp(r.body, "ok\n") == 0);
    reply_free(&r);

    atomic_store(&f.healthy, 0);
    fetch(port, "GET", "/healthz", &r);
    CHECK_EQ(r.status, 503);
    CHECK_MSG(strstr(r.body, "camera cam1: no frame for 12.0 s"), "503 body: %s", r.body);
    reply_free(&r);

    atomic_store(&f.healthy, FP_ETIMEOUT);
    fetch(port, "GET", "/healthz", &r);
    CHECK_EQ(r.status, 500);
    CHECK_MSG(strstr(r.body, "lock timed out"), "500 body: %s", r.body);
    reply_free(&r);

    atomic_store(&f.healthy, 1);
    fetch(port, "GET", "/healthz", &r);
    CHECK_EQ(r.status, 200);
    reply_free(&r);
    fp_http_server_destroy(&s);

    /* No callback: the server answering is the health signal. */
    FpHttpHandlers h = {.metrics = f.metrics};
    CHECK_OK(fp_http_server_create(&s, "127.0.0.1:0", &h));
    fetch(fp_http_server_port(s), "GET", "/healthz", &r);
    CHECK_EQ(r.status, 200);
    CHECK(strcmp(r.body, "ok\n") == 0);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

/* Runs Debian's python3 on `json` (stdin) with `check` (a Python expression on `d`); its exit status. */
static int python_json_check(const char *json, const char *check, bool quiet)
{
    char script[512];
    snprintf(script, sizeof(script),
             "import json,sys\nd=json.load(sys.stdin)\nsys.exit(0 if (%s) else 3)", check);
    int in[2];
    CHECK(pipe(in) == 0);
    const char *argv[] = {"/usr/bin/python3", "-c", script, NULL};
    FpTestSpawnOptions o = {.stdin_fd = in[0], .stderr_path = quiet ? "/dev/null" : NULL};
    pid_t pid = fp_test_spawn(argv, &o);
    close(in[0]);
    size_t len = strlen(json);
    CHECK(write(in[1], json, len) == (ssize_t)len);
    close(in[1]);
    return fp_test_wait_exit(pid, -1);
}

FP_TEST(http_cameras_json)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);
    Reply r;

    fetch(port, "GET", "/api/cameras", &r);
    CHECK_EQ(r.status, 200);
    check_type(&r, "application/json");
    int rc = python_json_check(r.body, "isinstance(d, list) and len(d) == 2 and "
                                       "d[0]['id'] == 'cam0' and d[0]['url'].endswith('\"b\"') "
                                       "and d[1]['frames'] == 0",
                                false);
    CHECK_MSG(rc == 0, "python3 rejected the JSON (status %d): %s", rc, r.body);
    /* the checker can fail: a truncated document is rejected */
    CHECK(python_json_check("[{\"id\":", "True", true) != 0);
    reply_free(&r);

    atomic_store(&f.cameras_fail, FP_EFLUSHING);
    fetch(port, "GET", "/api/cameras", &r);
    CHECK_EQ(r.status, 500);
    CHECK_MSG(strstr(r.body, "registry is gone"), "500 body: %s", r.body);
    reply_free(&r);

    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

FP_TEST(http_unknown_paths_404)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);
    const char *paths[] = {"/nope", "/metrics/", "/api", "/api/cameras/x", "/healthz.json",
                           "/index.htm", "/snapshots/x.jpg", "/api/events/stream", "/api/sinks",
                           "/api/cameras/cam1/stream.mjpg", "/api/cameras/cam1/frame.jpg",
                           /* an encoded NUL does not end the path (issue 16, fault 6) */
                           "/metrics%00.txt", "/healthz%00anything", "/api/cameras%00"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        Reply r;
        fetch(port, "GET", paths[i], &r);
        CHECK_MSG(r.status == 404, "GET %s: %d", paths[i], r.status);
        reply_free(&r);
    }
    /* A query string does not change the resource. */
    Reply r;
    fetch(port, "GET", "/metrics?x=1", &r);
    CHECK_EQ(r.status, 200);
    reply_free(&r);
    /* other escapes still decode: %6D is 'm' */
    fetch(port, "GET", "/%6Detrics", &r);
    CHECK_EQ(r.status, 200);
    reply_free(&r);
    fp_http_server_destroy(&s);

    /* Endpoints without a handler are absent. */
    FpHttpHandlers h = {0};
    CHECK_OK(fp_http_server_create(&s, "127.0.0.1:0", &h));
    port = fp_http_server_port(s);
    fetch(port, "GET", "/metrics", &r);
    CHECK_EQ(r.status, 404);
    reply_free(&r);
    fetch(port, "GET", "/api/cameras", &r);
    CHECK_EQ(r.status, 404);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

FP_TEST(http_other_methods_405_with_allow)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);
    const char *cases[][2] = {{"POST", "/metrics"}, {"DELETE", "/"},       {"PUT", "/api/cameras"},
                              {"OPTIONS", "/healthz"}, {"PATCH", "/nope"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        Reply r;
        fetch(port, cases[i][0], cases[i][1], &r);
        CHECK_MSG(r.status == 405, "%s %s: %d", cases[i][0], cases[i][1], r.status);
        char allow[64];
        CHECK_MSG(header(&r, "Allow", allow, sizeof(allow)), "no Allow header in:\n%s", r.headers);
        CHECK_MSG(strcmp(allow, "GET, HEAD") == 0, "Allow: %s", allow);
        reply_free(&r);
    }
    /* A POST with a body gets its 405 too, and the server carries on. */
    Reply r;
    fetch_ex("127.0.0.1", port, "POST", "/metrics",
             "Content-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world", &r);
    CHECK_EQ(r.status, 405);
    reply_free(&r);
    fetch(port, "GET", "/healthz", &r);
    CHECK_EQ(r.status, 200);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

FP_TEST(http_port_in_use_names_the_address)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", fp_http_server_port(s));
    FpHttpHandlers h = handlers_of(&f);
    FpHttpServer *second = (FpHttpServer *)&h; /* a failed call leaves *out untouched */
    int rc = fp_http_server_create(&second, listen, &h);
    CHECK_EQ(rc, -EADDRINUSE);
    CHECK(second == (FpHttpServer *)&h);
    const char *detail = fp_error_detail(rc);
    CHECK_MSG(strstr(detail, listen), "detail \"%s\" does not name %s", detail, listen);
    /* "localhost" is the same address. */
    snprintf(listen, sizeof(listen), "localhost:%d", fp_http_server_port(s));
    CHECK_EQ(fp_http_server_create(&second, listen, &h), -EADDRINUSE);
    /* The first server is unharmed. */
    Reply r;
    fetch(fp_http_server_port(s), "GET", "/healthz", &r);
    CHECK_EQ(r.status, 200);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

FP_TEST(http_bad_listen_strings_fail_clearly)
{
    FpHttpHandlers h = {0};
    static const struct {
        const char *listen;
        int code;
        const char *says;
    } cases[] = {
        {"nohost:x", FP_EINVALID, "not a number"},
        {"127.0.0.1:70000", FP_EINVALID, "out of range"},
        {"127.0.0.1:99999999999999999999", FP_EINVALID, "out of range"},
        {"nohost:8080", FP_EINVALID, "not an IP address"},
        {"example.com:80", FP_EINVALID, "not an IP address"},
        {"127.0.0.1", FP_EINVALID, "HOST:PORT"},
        {"127.0.0.1:", FP_EINVALID, "missing port"},
        {"127.0.0.1:-1", FP_EINVALID, "not a number"},
        {"127.0.0.1:80x", FP_EINVALID, "not a number"},
        {"256.0.0.1:80", FP_EINVALID, "not an IP address"},
        {"::1:8080", FP_EINVALID, "brackets"},
        {"[::1:8080", FP_EINVALID, "']'"},
        {"[::1]8080", FP_EINVALID, "[IPv6]:PORT"},
        {"[nohost]:80", FP_EINVALID, "not an IPv6 address"},
        {"", FP_EINVALID, "HOST:PORT"},
        {"192.0.2.1:0", -EADDRNOTAVAIL, "not an address of this machine"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FpHttpServer *s = NULL;
        int rc = fp_http_server_create(&s, cases[i].listen, &h);
        CHECK_MSG(rc == cases[i].code, "\"%s\": %d (%s), want %d", cases[i].listen, rc,
                  fp_err_name(rc), cases[i].code);
        CHECK(s == NULL);
        const char *detail = fp_error_detail(rc);
        char quoted[80];
        snprintf(quoted, sizeof(quoted), "\"%s\"", cases[i].listen);
        CHECK_MSG(strstr(detail, quoted), "\"%s\": detail \"%s\" does not name it",
                  cases[i].listen, detail);
        CHECK_MSG(strstr(detail, cases[i].says), "\"%s\": detail \"%s\" lacks \"%s\"",
                  cases[i].listen, detail, cases[i].says);
    }
    FpHttpServer *s = NULL;
    CHECK_EQ(fp_http_server_create(&s, "127.0.0.1:0", NULL), FP_EINVALID);
    CHECK_EQ(fp_http_server_create(NULL, "127.0.0.1:0", &h), FP_EINVALID);
    fp_http_server_destroy(&s);  /* NULL: no-op */
    fp_http_server_destroy(NULL);
}

/* Local address (hex, as /proc/net/tcp writes it) of the socket listening on `port`, or "". */
static void listening_address(const char *table, int port, char *out, size_t out_len)
{
    out[0] = '\0';
    FILE *fp = fopen(table, "r");
    if (!fp)
        return;
    char line[512];
    while (fgets(line, sizeof(line), fp)) {
        char local[64];
        unsigned lport, state;
        if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x", local, &lport, &state) != 3)
            continue;
        if ((int)lport == port && state == 0x0A /* TCP_LISTEN */) {
            snprintf(out, out_len, "%s", local);
            break;
        }
    }
    fclose(fp);
}

FP_TEST(http_binds_loopback_unless_asked)
{
    if (access("/proc/net/tcp", R_OK) != 0)
        fp_test_skip("/proc/net/tcp is not readable");
    Fixture f;
    fixture_init(&f);
    static const struct {
        const char *listen;
        const char *hex;
    } cases[] = {{"127.0.0.1:0", "0100007F"}, {":0", "0100007F"}, {"localhost:0", "0100007F"},
                 {"0.0.0.0:0", "00000000"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        FpHttpServer *s = start(&f, cases[i].listen);
        char local[64];
        listening_address("/proc/net/tcp", fp_http_server_port(s), local, sizeof(local));
        CHECK_MSG(strcmp(local, cases[i].hex) == 0, "\"%s\" listens on %s, want %s",
                  cases[i].listen, local[0] ? local : "(nothing)", cases[i].hex);
        Reply r;
        fetch(fp_http_server_port(s), "GET", "/healthz", &r);
        CHECK_EQ(r.status, 200);
        reply_free(&r);
        fp_http_server_destroy(&s);
    }

    /* NULL: the documented default, 127.0.0.1:9090 (skipped when something else holds it). */
    FpHttpHandlers h = handlers_of(&f);
    FpHttpServer *s = NULL;
    int rc = fp_http_server_create(&s, NULL, &h);
    if (rc == -EADDRINUSE) {
        fixture_deinit(&f);
        fp_test_skip("127.0.0.1:9090 is in use here; the default listen address is untested");
    }
    CHECK_OK(rc);
    CHECK_EQ(fp_http_server_port(s), 9090);
    char local[64];
    listening_address("/proc/net/tcp", 9090, local, sizeof(local));
    CHECK_MSG(strcmp(local, "0100007F") == 0, "default listens on %s", local);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

FP_TEST(http_ipv6_loopback)
{
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    if (probe < 0)
        fp_test_skip("no IPv6 sockets here");
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int ok = bind(probe, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(probe);
    if (!ok)
        fp_test_skip("::1 is not configured here");
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "[::1]:0");
    Reply r;
    fetch_ex("::1", fp_http_server_port(s), "GET", "/metrics", NULL, &r);
    CHECK_EQ(r.status, 200);
    double v;
    CHECK(sample_value(r.body, "fp_test_frames_total{camera=\"cam0\"}", &v));
    CHECK_EQ(v, 42);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

/* True when the server closed `fd` (EOF or reset) within `timeout_s`. */
static bool closed_within(int fd, double timeout_s)
{
    struct timeval tv = {.tv_sec = (time_t)timeout_s,
                         .tv_usec = (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
        if (n < 0)
            return false; /* timeout */
    }
}

FP_TEST_TIMED(http_destroy_with_open_connections_is_prompt, 30)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);

    int idle = connect_to("127.0.0.1", port); /* connected, sent nothing */
    int partial = connect_to("127.0.0.1", port);
    const char *half = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"; /* headers unfinished */
    send_all(partial, half, strlen(half));
    int kept = connect_to("127.0.0.1", port); /* a keep-alive connection after a response */
    const char *req = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    send_all(kept, req, strlen(req));
    char buf[1024];
    ssize_t n = recv(kept, buf, sizeof(buf) - 1, 0);
    CHECK(n > 0);
    buf[n] = '\0';
    CHECK_MSG(strncmp(buf, "HTTP/1.1 200", 12) == 0, "keep-alive reply: %s", buf);
    usleep(100 * 1000); /* let the server pick up the idle and partial connections */

    double t0 = now_s();
    fp_http_server_destroy(&s);
    double took = now_s() - t0;
    CHECK_MSG(took < 2.0, "destroy took %.2f s with three open connections", took);
    CHECK(s == NULL);
    CHECK(closed_within(idle, 2.0));
    CHECK(closed_within(partial, 2.0));
    CHECK(closed_within(kept, 2.0));
    close(idle);
    close(partial);
    close(kept);
    fixture_deinit(&f);
}

FP_TEST_TIMED(http_stalled_client_does_not_block_and_times_out, 45)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);

    int stalled = connect_to("127.0.0.1", port);
    const char *half = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    send_all(stalled, half, strlen(half));
    int silent = connect_to("127.0.0.1", port);

    /* Other clients are served at once while those two hang. */
    for (int i = 0; i < 5; i++) {
        double t0 = now_s();
        Reply r;
        fetch(port, "GET", "/metrics", &r);
        CHECK_EQ(r.status, 200);
        reply_free(&r);
        CHECK_MSG(now_s() - t0 < 1.0, "a request took %.2f s next to a stalled client",
                  now_s() - t0);
    }
    /* The server drops the stalled connections after its timeout (plus scheduling slack). */
    double t0 = now_s();
    CHECK_MSG(closed_within(stalled, FP_HTTP_CONNECTION_TIMEOUT_S + 10.0),
              "a stalled client was kept for more than %d s", FP_HTTP_CONNECTION_TIMEOUT_S + 10);
    double waited = now_s() - t0;
    CHECK_MSG(waited > FP_HTTP_CONNECTION_TIMEOUT_S - 2.0, "closed after %.1f s: too early",
              waited);
    CHECK(closed_within(silent, 5.0));
    close(stalled);
    close(silent);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

typedef struct Hammer {
    int port;
    int ok;
    Fixture *f;
} Hammer;

static void *hammer(void *arg)
{
    Hammer *h = arg;
    static const char *const paths[] = {"/metrics", "/healthz", "/api/cameras", "/"};
    for (int i = 0; i < 40; i++) {
        Reply r;
        fetch(h->port, "GET", paths[i % 4], &r);
        h->ok += r.status == 200;
        reply_free(&r);
        fp_counter_add(&h->f->frames, 1);
        fp_histogram_record(&h->f->latency, 1000000);
    }
    return NULL;
}

FP_TEST_TIMED(http_concurrent_clients, 60)
{
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    pthread_t t[4];
    Hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (Hammer){.port = fp_http_server_port(s), .f = &f};
        CHECK(pthread_create(&t[i], NULL, hammer, &h[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(h[i].ok, 40);
    }
    Reply r;
    fetch(fp_http_server_port(s), "GET", "/metrics", &r);
    double v;
    CHECK(sample_value(r.body, "fp_test_frames_total{camera=\"cam0\"}", &v));
    CHECK_EQ(v, 42 + 4 * 40);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

/* ---- /api/events and FpEventLog ---------------------------------------- */

static FpEvent event_of(uint64_t id, const char *rule)
{
    FpEvent ev;
    memset(&ev, 0, sizeof(ev));
    ev.id = id;
    ev.camera_index = 1;
    ev.camera_name = "gate";
    ev.rule = rule;
    ev.rule_kind = FP_RULE_ENTER;
    ev.kind = FP_EVENT_START;
    ev.track_id = 40 + id;
    ev.score = 0.5f;
    ev.zone = "door";
    ev.start_ns = ev.end_ns = (int64_t)id * 1000000000;
    ev.box = (FpBox){1, 2, 3, 4};
    snprintf(ev.snapshot, sizeof(ev.snapshot), "/snaps/snap-%llu.jpg", (unsigned long long)id);
    return ev;
}

/* The "seq" values of a body, in order; returns how many (at most max). */
static int seqs_of(const char *body, uint64_t *seq, int max)
{
    int n = 0;
    for (const char *p = strstr(body, "{\"seq\":"); p && n < max; p = strstr(p + 1, "{\"seq\":"))
        seq[n++] = strtoull(p + 7, NULL, 10);
    return n;
}

FP_TEST(http_events_json_since_and_capacity)
{
    if (access("/usr/bin/python3", X_OK) != 0)
        fp_test_skip("/usr/bin/python3 is missing");
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);
    Reply r;
    fetch(port, "GET", "/api/events", &r); /* no log yet */
    CHECK_EQ(r.status, 404);
    reply_free(&r);

    FpEventLog *log = NULL;
    CHECK_EQ(fp_event_log_create(&log, -1), FP_EINVALID);
    CHECK(log == NULL);
    CHECK_OK(fp_event_log_create(&log, 5));
    CHECK_OK(fp_http_server_set_event_log(s, log));
    fetch(port, "GET", "/api/events", &r);
    CHECK_EQ(r.status, 200);
    check_type(&r, "application/json");
    CHECK(strcmp(r.body, "[]") == 0);
    reply_free(&r);

    for (uint64_t i = 1; i <= 3; i++) {
        FpEvent ev = event_of(i, i == 2 ? "say \"hi\"" : "enter-door");
        CHECK_EQ(fp_event_log_add(log, &ev), (int64_t)i);
    }
    fetch(port, "GET", "/api/events", &r);
    CHECK_EQ(r.status, 200);
    int rc = python_json_check(r.body, "isinstance(d, list) and [e['seq'] for e in d] == [1, 2, 3] and "
                                       "[e['id'] for e in d] == [1, 2, 3] and d[1]['rule'] == 'say \"hi\"' and "
                                       "d[2]['camera_name'] == 'gate' and d[2]['snapshot'] == '/snaps/snap-3.jpg' "
                                       "and d[0]['box'] == [1, 2, 3, 4]",
                               false);
    CHECK_MSG(rc == 0, "python3 rejected the JSON (status %d): %s", rc, r.body);
    reply_free(&r);

    fetch(port, "GET", "/api/events?since=2", &r);
    CHECK_EQ(r.status, 200);
    rc = python_json_check(r.body, "[e['seq'] for e in d] == [3]", false);
    CHECK_MSG(rc == 0, "since=2: %s", r.body);
    reply_free(&r);
    fetch(port, "GET", "/api/events?since=3", &r);
    CHECK(strcmp(r.body, "[]") == 0);
    reply_free(&r);
    const char *bad[] = {"/api/events?since=abc", "/api/events?since=-1", "/api/events?since=",
                         "/api/events?since=99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fetch(port, "GET", bad[i], &r);
        CHECK_MSG(r.status == 400, "%s: %d", bad[i], r.status);
        reply_free(&r);
    }

    /* 7 events in a log of 5: the two oldest are gone */
    for (uint64_t i = 4; i <= 7; i++) {
        FpEvent ev = event_of(i, "enter-door");
        CHECK_EQ(fp_event_log_add(log, &ev), (int64_t)i);
    }
    fetch(port, "GET", "/api/events", &r);
    rc = python_json_check(r.body, "[e['seq'] for e in d] == [3, 4, 5, 6, 7]", false);
    CHECK_MSG(rc == 0, "after overwriting: %s", r.body);
    reply_free(&r);
    fetch(port, "GET", "/api/events?since=1", &r); /* older than the oldest kept: all of them */
    rc = python_json_check(r.body, "[e['seq'] for e in d] == [3, 4, 5, 6, 7]", false);
    CHECK_MSG(rc == 0, "since=1: %s", r.body);
    reply_free(&r);
    fetch(port, "GET", "/api/events?since=5", &r);
    rc = python_json_check(r.body, "[e['seq'] for e in d] == [6, 7] and d[1]['id'] == 7", false);
    CHECK_MSG(rc == 0, "since=5: %s", r.body);
    reply_free(&r);
    fetch(port, "HEAD", "/api/events", &r);
    CHECK_EQ(r.status, 200);
    reply_free(&r);

    /* an event whose JSON does not fit a slot is refused and counted */
    char *huge = malloc(FP_EVENT_LOG_SLOT + 10);
    CHECK(huge);
    memset(huge, 'x', FP_EVENT_LOG_SLOT + 9);
    huge[FP_EVENT_LOG_SLOT + 9] = '\0';
    FpEvent ev = event_of(8, huge);
    CHECK_EQ(fp_event_log_add(log, &ev), FP_ETOO_LARGE);
    CHECK_EQ(fp_event_log_dropped(log), 1);
    CHECK_EQ(fp_event_log_last_seq(log), 7);
    free(huge);

    CHECK_OK(fp_http_server_set_event_log(s, NULL));
    fetch(port, "GET", "/api/events", &r);
    CHECK_EQ(r.status, 404);
    reply_free(&r);
    fp_event_log_destroy(&log);
    CHECK(log == NULL);
    fp_http_server_destroy(&s);
    fixture_deinit(&f);
}

typedef struct Adder {
    FpEventLog *log;
    int n;
} Adder;

static void *adder(void *arg)
{
    Adder *a = arg;
    for (int i = 0; i < a->n; i++) {
        FpEvent ev = event_of((uint64_t)i + 1, "line-cross");
        CHECK(fp_event_log_add(a->log, &ev) > 0);
    }
    return NULL;
}

FP_TEST_TIMED(http_events_concurrent_adds_while_serving, 60)
{
    enum { CAP = 50, THREADS = 4, PER = 20000 };
    Fixture f;
    fixture_init(&f);
    FpHttpServer *s = start(&f, "127.0.0.1:0");
    int port = fp_http_server_port(s);
    FpEventLog *log = NULL;
    CHECK_OK(fp_event_log_create(&log, CAP));
    CHECK_OK(fp_http_server_set_event_log(s, log));
    pthread_t t[THREADS];
    Adder a[THREADS];
    for (int i = 0; i < THREADS; i++) {
        a[i] = (Adder){log, PER};
        CHECK(pthread_create(&t[i], NULL, adder, &a[i]) == 0);
    }
    /* every answer while adding: a JSON array of consecutive seqs, at most CAP, never going back */
    uint64_t seq[CAP + 1], last_newest = 0;
    int answers = 0, during = 0;
    while (fp_event_log_last_seq(log) < THREADS * PER || answers < 5) {
        Reply r;
        during += fp_event_log_last_seq(log) < THREADS * PER;
        fetch(port, "GET", "/api/events", &r);
        CHECK_EQ(r.status, 200);
        CHECK(r.body_len >= 2 && r.body[0] == '[' && r.body[r.body_len - 1] == ']');
        int n = seqs_of(r.body, seq, CAP + 1);
        CHECK(n <= CAP);
        for (int i = 1; i < n; i++)
            CHECK_MSG(seq[i] == seq[i - 1] + 1, "seq %llu after %llu", (unsigned long long)seq[i],
                      (unsigned long long)seq[i - 1]);
        if (n > 0) {
            CHECK(seq[n - 1] >= last_newest);
            last_newest = seq[n - 1];
        }
        reply_free(&r);
        answers++;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "%d answers, %d of them while adding\n", answers, during);
    CHECK_EQ(fp_event_log_last_seq(log), THREADS * PER);
    Reply r;
    fetch(port, "GET", "/api/events", &r);
    int n = seqs_of(r.body, seq, CAP + 1);
    CHECK_EQ(n, CAP);
    CHECK_EQ(seq[0], THREADS * PER - CAP + 1);
    CHECK_EQ(seq[CAP - 1], THREADS * PER);
    reply_free(&r);
    fp_http_server_destroy(&s);
    fp_event_log_destroy(&log);
    fixture_deinit(&f);
}
