// SPDX-License-Identifier: MIT
// libFuzzer target: framepipe's HTTP request handling, every endpoint, as a `run --api` user gets it.
//
// LLVMFuzzerInitialize starts the real app (apps/cmd_run.c: `framepipe run --quiet --api CONFIG`) on a thread, on
// a free 127.0.0.1 port, with BlazeFace front-128, one camera (raw frames from a silent pipe) with a zone, a rule (so /api/events exists) and
// a snapshot folder holding one file: GET /, /app.js, /style.css, /index.txt, /metrics, /healthz, /api/cameras,
// /api/sinks, /api/events(/stream), the camera's stream.mjpg and frame.jpg, /snapshots/NAME, and POST /api/detect
// and /api/redact into the pipeline; and `framepipe run --http-token fuzz` (no --api: the push queue "api" is one
// per process) with a camera `hall` (a silent pipe too) on another port, so that the token is checked (header, ?token=, cookie). Each input is raw bytes written to a new connection to
// each server (request lines, headers, bodies, several pipelined requests), then the write side is shut; the
// answer is read until the server closes (at most 500 ms: a stream never ends). Checks: every response's status line parses (HTTP/1.x, 100..599), its
// Content-Length (or chunked framing) matches the body, nothing but whole responses comes back (a stream may be
// cut by the deadline), and afterwards a plain GET /healthz on a new connection still gets 200 or 503.
// FUZZ_WHY=1 prints each response's status line. FP_FUZZ_MODEL: the model (default: the setup's BlazeFace
// front-128; without it the target exits 77, "skipped").
#include "fuzz_common.h"

#include "app_options.h" /* FP_EXIT_* */
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);

static int port;      /* the server exchange() talks to: ports[0] or ports[1] */
static int ports[2];  /* run --api (no token), run --http-token fuzz */
static unsigned long mhd_repeated_headers; /* libmicrohttpd's repeated error headers (check_responses) */
static pthread_t app_thread, serve_thread;
static int app_exit = -1, serve_exit = -1;
static bool app_up, serve_up; /* answered /healthz */
static char model[512];
static char dir[64];
static char cfg_path[128], cfg2_path[128];

static void fail(const char *what, const uint8_t *resp, size_t n)
{
    fprintf(stderr, "fuzz_http: %s\n--- response (%zu bytes) ---\n%.*s\n---\n", what, n, (int)(n < 2000 ? n : 2000),
            (const char *)resp);
    __builtin_trap();
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes `req`, shuts the write side, reads until close or `deadline_ms`. Returns the bytes (malloc'ed). */
static uint8_t *exchange(const uint8_t *req, size_t len, int deadline_ms, size_t *out_len, bool *closed)
{
    *out_len = 0;
    *closed = false;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return NULL;
    }
    int64_t end = now_ms() + deadline_ms;
    size_t off = 0, cap = 65536, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        struct pollfd p = {fd, (short)(POLLIN | (off < len ? POLLOUT : 0)), 0};
        int64_t left = end - now_ms();
        if (left <= 0)
            break;
        int pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR)
            continue; /* libFuzzer's timer (SIGALRM, -timeout) interrupts it every few seconds */
        if (pr <= 0)
            break;
        if ((p.revents & POLLOUT) && off < len) {
            ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                off += (size_t)w;
            if (w < 0 && errno != EAGAIN && errno != EINTR)
                off = len; /* the server closed its side: read what it said */
            if (off == len)
                shutdown(fd, SHUT_WR);
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            if (n == cap) {
                uint8_t *b = realloc(buf, cap * 2);
                if (!b)
                    break;
                buf = b, cap *= 2;
            }
            ssize_t r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                *closed = true;
                break;
            }
            if (r > 0)
                n += (size_t)r;
        }
    }
    if (len == 0 && off == 0)
        shutdown(fd, SHUT_WR);
    close(fd);
    *out_len = n;
    return buf;
}

static const uint8_t *find(const uint8_t *p, const uint8_t *end, const char *s)
{
    size_t k = strlen(s);
    for (; p + k <= end; p++) {
        if (memcmp(p, s, k) == 0)
            return p;
    }
    return NULL;
}

/* The value of header `name` in [h, e) (the header block), copied into out; false when absent. */
static bool header(const uint8_t *h, const uint8_t *e, const char *name, char *out, size_t cap)
{
    size_t k = strlen(name);
    for (const uint8_t *line = h; line < e;) {
        const uint8_t *nl = find(line, e, "\r\n");
        if (!nl)
            nl = e;
        if ((size_t)(nl - line) > k && strncasecmp((const char *)line, name, k) == 0 && line[k] == ':') {
            const uint8_t *v = line + k + 1;
            while (v < nl && *v == ' ')
                v++;
            size_t n = (size_t)(nl - v) < cap - 1 ? (size_t)(nl - v) : cap - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        line = nl + 2;
    }
    return false;
}

/*
 * Checks the responses in [p, p + n): whole, well-formed HTTP/1.x responses; the last may be cut short only when
 * `cut` (the deadline came first: a stream, or a slow answer on a loaded machine). `head` says the input had a HEAD request (no bodies then).
 * Returns the number of responses.
 */
static int check_responses(const uint8_t *resp, size_t n, bool cut, bool head)
{
    const uint8_t *p = resp, *end = resp + n;
    int count = 0;
    while (p < end) {
        const uint8_t *he = find(p, end, "\r\n\r\n");
        if (!he) {
            if (cut)
                return count;
            fail("a response without the end of its headers", resp, n);
        }
        unsigned status = 0;
        int minor = -1;
        char reason;
        if (sscanf((const char *)p, "HTTP/1.%1d %3u%c", &minor, &status, &reason) != 3 || minor < 0 ||
            status < 100 || status > 599 || reason != ' ')
            fail("a status line that does not parse", resp, n);
        if (getenv("FUZZ_WHY")) {
            const uint8_t *nl = find(p, he + 2, "\r\n");
            fprintf(stderr, "fuzz_http: %.*s\n", (int)(nl - p), (const char *)p);
        }
        const uint8_t *hs = find(p, he + 2, "\r\n") + 2, *body = he + 4;
        count++;
        /*
         * libmicrohttpd 0.9.75 (Debian 12) sends the header block of its own error replies twice when it closes
         * the connection (seen with a Content-Length past 2^64: "413 Content Too Large", headers, the same headers
         * again, then the body): its defect, before framepipe sees the request (fuzz/known-crashes/README.md).
         * The exact repeat of a 4xx header block that says "Connection: close" is skipped, and counted.
         */
        size_t hlen = (size_t)(body - p);
        if (status >= 400 && status < 500 && (size_t)(end - body) >= hlen && memcmp(body, p, hlen) == 0 &&
            find(hs, he + 2, "Connection: close\r\n")) {
            mhd_repeated_headers++;
            body += hlen;
        }
        char v[128], type[128] = "";
        header(hs, he + 2, "Content-Type", type, sizeof(type));
        bool stream = strstr(type, "multipart/x-mixed-replace") || strstr(type, "text/event-stream");
        if (status < 200 || status == 204 || status == 304) {
            p = body;
            continue;
        }
        if (header(hs, he + 2, "Transfer-Encoding", v, sizeof(v))) {
            if (strcasecmp(v, "chunked") != 0)
                fail("a Transfer-Encoding other than chunked", resp, n);
            /* chunks: HEX\r\n DATA\r\n ... 0\r\n\r\n */
            const uint8_t *c = body;
            for (;;) {
                const uint8_t *nl = find(c, end, "\r\n");
                if (!nl) {
                    if (cut)
                        return count;
                    fail("a chunk without its size line", resp, n);
                }
                char *e = NULL;
                unsigned long sz = strtoul((const char *)c, &e, 16);
                if (e == (const char *)c || (e != (const char *)nl && *e != ';'))
                    fail("a chunk size that does not parse", resp, n);
                c = nl + 2;
                if (sz == 0) {
                    const uint8_t *t = find(c, end, "\r\n"); /* no trailers from this server */
                    if (t != c) {
                        if (cut && !t)
                            return count;
                        fail("a last chunk without its end", resp, n);
                    }
                    c += 2;
                    break;
                }
                if ((size_t)(end - c) < sz + 2) {
                    if (cut)
                        return count;
                    fail("a chunk cut short", resp, n);
                }
                if (memcmp(c + sz, "\r\n", 2) != 0)
                    fail("a chunk longer than its size", resp, n);
                c += sz + 2;
            }
            p = c;
            continue;
        }
        if (!header(hs, he + 2, "Content-Length", v, sizeof(v))) {
            if (stream && cut)
                return count; /* (streams are chunked; kept for a server that sends them unframed) */
            fail("a response with neither Content-Length nor chunked", resp, n);
        }
        char *e = NULL;
        unsigned long long cl = strtoull(v, &e, 10);
        if (!*v || *e)
            fail("a Content-Length that does not parse", resp, n);
        size_t left = (size_t)(end - body);
        if (head && (left == 0 || (left >= 5 && memcmp(body, "HTTP/", 5) == 0))) {
            p = body; /* the answer to a HEAD: the length of the body it would have */
            continue;
        }
        if (left < cl) {
            if (cut)
                return count; /* still coming when the deadline came (a loaded machine) */
            fail("a body shorter than its Content-Length", resp, n);
        }
        p = body + cl;
    }
    return count;
}

static void *run_app(void *arg)
{
    (void)arg;
    char *args[] = {"run", "--quiet", "--api", cfg_path, NULL};
    app_exit = fp_cmd_run(4, args);
    return NULL;
}

static void *run_serve(void *arg)
{
    (void)arg;
    char *args[] = {"run", "--quiet", "--http-token", "fuzz", cfg2_path, NULL};
    serve_exit = fp_cmd_run(5, args);
    return NULL;
}

static void remove_dir(void)
{
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_http: could not remove %s\n", dir);
}

static void stop_app(void)
{
    if (mhd_repeated_headers)
        fprintf(stderr, "fuzz_http: libmicrohttpd repeated an error reply's headers %lu times (known, not framepipe's)\n",
                mhd_repeated_headers);
    /* the apps' SIGTERM handler (one for both) drains and stops them; only once both answered (installed) */
    if (app_up && serve_up) {
        raise(SIGTERM);
        pthread_join(app_thread, NULL);
        pthread_join(serve_thread, NULL);
    }
    remove_dir();
}

static char healthz_why[160]; /* what the last /healthz that failed got */

static bool healthz(int *status)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n";
    size_t n = 0;
    bool closed;
    int64_t t0 = now_ms();
    uint8_t *r = exchange((const uint8_t *)req, sizeof(req) - 1, 5000, &n, &closed);
    bool ok = r && n > 12 && sscanf((const char *)r, "HTTP/1.1 %d", status) == 1;
    if (!ok)
        snprintf(healthz_why, sizeof(healthz_why), "%s after %lld ms, %zu bytes: %.*s",
                 !r ? "no connection" : closed ? "closed" : "nothing", (long long)(now_ms() - t0), n,
                 (int)(n < 40 ? n : 40), r ? (const char *)r : "");
    free(r);
    return ok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fuzz_quiet();
    const char *env = getenv("FP_FUZZ_MODEL"), *cache = getenv("FP_CACHE_DIR"), *home = getenv("HOME");
    if (env)
        snprintf(model, sizeof(model), "%s", env);
    else if (cache)
        snprintf(model, sizeof(model), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx", cache);
    else
        snprintf(model, sizeof(model), "%s/.cache/framepipe/models/blazeface/face_detection_front_128x128_barracuda.onnx",
                 home ? home : "");
    if (access(model, R_OK) != 0) {
        fprintf(stderr, "fuzz_http: no model %s (scripts/setup.sh fetches it; or set FP_FUZZ_MODEL); skipping\n", model);
        exit(77);
    }
    snprintf(dir, sizeof(dir), "/tmp/fuzz_http.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("fuzz_http: mkdtemp");
        exit(1);
    }
    /* free ports: bound, read back, released (the harness's way too) */
    int held[2];
    for (int i = 0; i < 2; i++) {
        held[i] = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t al = sizeof(a);
        if (held[i] < 0 || bind(held[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            getsockname(held[i], (struct sockaddr *)&a, &al) < 0) {
            perror("fuzz_http: a free port");
            exit(1);
        }
        ports[i] = ntohs(a.sin_port);
    }
    close(held[0]);
    close(held[1]);
    port = ports[0];
    char snaps[128], snap[160];
    snprintf(snaps, sizeof(snaps), "%s/snaps", dir);
    snprintf(snap, sizeof(snap), "%s/door-1.jpg", snaps);
    snprintf(cfg_path, sizeof(cfg_path), "%s/run.yaml", dir);
    FILE *f = NULL;
    if (mkdir(snaps, 0700) != 0 || !(f = fopen(snap, "wb")) || fputs("\xff\xd8\xff\xe0 not a whole JPEG", f) < 0 ||
        fclose(f) != 0 || !(f = fopen(cfg_path, "w"))) {
        perror("fuzz_http: the config");
        exit(1);
    }
    /* the cameras read raw frames from pipes that stay open and silent: live sources that cost nothing */
    int silent[2][2];
    if (pipe(silent[0]) != 0 || pipe(silent[1]) != 0) {
        perror("fuzz_http: pipe");
        exit(1);
    }
    fprintf(f,
            "cameras:\n"
            "  - name: door\n"
            "    url: fd:%d\n"
            "    raw_width: 320\n    raw_height: 240\n    raw_format: rgb24\n"
            "    zones:\n"
            "      - {name: right, points: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
            "model: {path: %s}\n"
            "batch: {max_batch: 2, max_wait: 5ms}\n"
            "rules:\n"
            "  - {name: arrives, kind: enter, camera: door, zone: right, class: face}\n"
            "output:\n"
            "  http: 127.0.0.1:%d\n"
            "  snapshots: %s\n",
            silent[0][0], model, port, snaps);
    fclose(f);
    snprintf(cfg2_path, sizeof(cfg2_path), "%s/token.yaml", dir);
    if (!(f = fopen(cfg2_path, "w"))) {
        perror("fuzz_http: the config");
        exit(1);
    }
    fprintf(f,
            "cameras:\n  - name: hall\n    url: fd:%d\n    raw_width: 64\n    raw_height: 48\n    raw_format: gray8\n"
            "model: {path: %s}\noutput:\n  http: 127.0.0.1:%d\n",
            silent[1][0], model, ports[1]);
    fclose(f);
    if (pthread_create(&app_thread, NULL, run_app, NULL) != 0) {
        perror("fuzz_http: pthread_create");
        exit(1);
    }
    atexit(stop_app);
    /* one app at a time: both parse their options with getopt's globals */
    for (int k = 0; k < 2; k++) {
        port = ports[k];
        if (k == 1 && pthread_create(&serve_thread, NULL, run_serve, NULL) != 0) {
            perror("fuzz_http: pthread_create");
            exit(1);
        }
        int status = 0;
        for (int i = 0; i < 300 && !healthz(&status); i++) {
            int code = k == 0 ? app_exit : serve_exit;
            if (code != -1) {
                fprintf(stderr, "fuzz_http: framepipe run (%s) exited %d before it answered%s\n",
                        k ? cfg2_path : cfg_path, code,
                        code == FP_EXIT_MODEL ? ": the model cannot be loaded here (ONNX Runtime?); skipping" : "");
                remove_dir();
                _exit(code == FP_EXIT_MODEL ? 77 : 1); /* the other app may be running: no atexit */
            }
            usleep(100000);
        }
        if (status != 200 && status != 503) {
            fprintf(stderr, "fuzz_http: /healthz does not answer on 127.0.0.1:%d\n", port);
            remove_dir();
            _exit(1); /* an app may still be starting: no atexit */
        }
        *(k == 0 ? &app_up : &serve_up) = true;
    }
    fprintf(stderr, "fuzz_http: framepipe run --api on 127.0.0.1:%d (%s), framepipe run --http-token fuzz on "
            "127.0.0.1:%d (%s)\n", ports[0], cfg_path, ports[1], cfg2_path);
    return 0;
}

static void one_server(const uint8_t *data, size_t size)
{
    size_t n = 0;
    bool closed = false;
    uint8_t *resp = exchange(data, size, 500, &n, &closed);
    if (!resp)
        fail("no connection to the server", (const uint8_t *)"", 0);
    bool head = find(data, data + size, "HEAD") != NULL;
    check_responses(resp, n, !closed, head);
    free(resp);
    int status = 0;
    if (!healthz(&status) || (status != 200 && status != 503)) {
        int64_t t0 = now_ms();
        int fds = 0;
        for (int fd = 0; fd < 4096; fd++)
            fds += fcntl(fd, F_GETFD) != -1;
        bool back = false;
        for (int i = 0; i < 30 && !back; i++)
            back = healthz(&status) && (status == 200 || status == 503);
        fprintf(stderr, "fuzz_http: /healthz on port %d: %s; %s after %lld ms more (%d fds open)\n", port,
                healthz_why, back ? "answered" : "still none", (long long)(now_ms() - t0), fds);
        fail("/healthz stopped answering after this input", (const uint8_t *)"", 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int k = 0; k < 2; k++) {
        port = ports[k];
        one_server(data, size);
    }
    return 0;
}
