// SPDX-License-Identifier: MIT
// Tests of the HTTP server's live view: MJPEG stream and frame.jpg from an FpPreview the test feeds, the event stream (SSE), the token, /snapshots, destroy with open streams.
#include "fp_test.h"

#include "framepipe/clock.h"
#include "framepipe/http.h"
#include "framepipe/preview.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>

/* ---- a raw HTTP/1.0 client: the server cannot use chunked encoding, a stream is the plain bytes ---- */

static int connect_port(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK_MSG(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect: %s", strerror(errno));
    return fd;
}

/* Sends "GET path HTTP/1.0" with extra header lines (each ending in \r\n, may be NULL). */
static int open_get(int port, const char *path, const char *extra)
{
    int fd = connect_port(port);
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", path, extra ? extra : "");
    CHECK(send(fd, req, (size_t)n, MSG_NOSIGNAL) == n);
    return fd;
}

typedef struct Buf {
    char *p;
    size_t len, cap;
} Buf;

/* Appends what arrives until `want` is in the buffer (true), the peer closes or `secs` pass (false). */
static bool read_until(int fd, Buf *b, const char *want, double secs)
{
    int64_t end = fp_clock_ns() + (int64_t)(secs * 1e9);
    for (;;) {
        if (b->len && want && memmem(b->p, b->len, want, strlen(want)))
            return true;
        if (fp_clock_ns() > end)
            return false;
        if (b->cap - b->len < 65536) {
            b->cap = b->cap ? 2 * b->cap : 131072;
            b->p = realloc(b->p, b->cap + 1);
            CHECK(b->p);
        }
        ssize_t n = recv(fd, b->p + b->len, b->cap - b->len, 0);
        if (n <= 0)
            return want == NULL;
        b->len += (size_t)n;
        b->p[b->len] = '\0';
    }
}

/* One recv into b; false when the peer closed or the receive timed out. */
static bool read_more(int fd, Buf *b)
{
    if (b->cap - b->len < 65536) {
        b->cap = b->cap ? 2 * b->cap : 131072;
        b->p = realloc(b->p, b->cap + 1);
        CHECK(b->p);
    }
    ssize_t n = recv(fd, b->p + b->len, b->cap - b->len, 0);
    if (n <= 0)
        return false;
    b->len += (size_t)n;
    b->p[b->len] = '\0';
    return true;
}

static int status_of(const Buf *b)
{
    int st = 0;
    CHECK_MSG(b->len > 12 && sscanf(b->p, "HTTP/1.%*d %d", &st) == 1, "no status line in: %.200s", b->p ? b->p : "");
    return st;
}

/* A whole response to GET path (extra headers as open_get); the connection is closed after. */
static void get(int port, const char *path, const char *extra, Buf *b)
{
    memset(b, 0, sizeof(*b));
    int fd = open_get(port, path, extra);
    CHECK(read_until(fd, b, NULL, 5));
    close(fd);
    CHECK(b->len > 0);
}

static const char *body_of(const Buf *b)
{
    const char *e = strstr(b->p, "\r\n\r\n");
    CHECK(e);
    return e + 4;
}

static bool decodes(const uint8_t *jpeg, size_t len, int *w, int *h)
{
    tjhandle tj = tjInitDecompress();
    CHECK(tj);
    int sub, cs;
    bool ok = tjDecompressHeader3(tj, jpeg, (unsigned long)len, w, h, &sub, &cs) == 0;
    if (ok) {
        uint8_t *rgb = malloc((size_t)*w * *h * 3);
        CHECK(rgb);
        ok = tjDecompress2(tj, jpeg, (unsigned long)len, rgb, *w, *w * 3, *h, TJPF_RGB, 0) == 0;
        free(rgb);
    }
    tjDestroy(tj);
    return ok;
}

/* ---- a preview fed by a thread: frames of changing grey with a moving box ---- */

typedef struct Feeder {
    FpPreview *pv;
    FpFrame f[2];
    uint8_t *mem[2];
    atomic_bool stop;
    pthread_t thread;
} Feeder;

static void *feed_main(void *arg)
{
    Feeder *fd = arg;
    static const char *const names[] = {"face"};
    for (int i = 0; !atomic_load(&fd->stop); i++) {
        FpDetection det = {.box = {(float)(10 + 5 * (i % 20)), 20, (float)(90 + 5 * (i % 20)), 100}, .score = 0.9f};
        uint64_t track = 7;
        FpFrameResult r = {.frame = &fd->f[i & 1], .camera_name = "cam1", .dets = &det, .n_dets = 1,
                           .class_names = names, .n_classes = 1, .track_ids = &track};
        fp_preview_write(fd->pv, &r);
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void feeder_start(Feeder *fd)
{
    memset(fd, 0, sizeof(*fd));
    FpPreviewConfig cfg = {.fps = 20, .width = 160};
    CHECK_OK(fp_preview_create(&fd->pv, &cfg));
    CHECK_OK(fp_preview_set_zones(fd->pv, "cam1", NULL, 0));
    for (int k = 0; k < 2; k++) {
        fd->mem[k] = malloc(160 * 120 * 3);
        CHECK(fd->mem[k]);
        memset(fd->mem[k], k ? 200 : 60, 160 * 120 * 3);
        fd->f[k] = (FpFrame){.width = 160, .height = 120, .format = FP_PIX_RGB24, .data = {fd->mem[k]},
                             .linesize = {480}};
        fp_frame_init_ref(&fd->f[k], NULL, NULL);
    }
    CHECK(pthread_create(&fd->thread, NULL, feed_main, fd) == 0);
}

static void feeder_stop(Feeder *fd)
{
    atomic_store(&fd->stop, true);
    pthread_join(fd->thread, NULL);
    fp_preview_destroy(&fd->pv);
    for (int k = 0; k < 2; k++) {
        FpFrame *f = &fd->f[k];
        fp_frame_unref(&f);
        free(fd->mem[k]);
    }
}

static int watch_cb(void *opaque, const char *camera, int delta)
{
    return fp_preview_watch(opaque, camera, delta);
}

static int next_cb(void *opaque, const char *camera, uint64_t *seq, int64_t timeout_ns, uint8_t **buf, size_t *cap,
                   size_t *len)
{
    return fp_preview_next(opaque, camera, seq, timeout_ns, buf, cap, len);
}

static FpHttpServer *start_server(FpPreview *pv, const char *snap_dir, const char *token)
{
    FpHttpHandlers h = {.preview_watch = pv ? watch_cb : NULL, .preview_next = pv ? next_cb : NULL,
                        .snapshot_dir = snap_dir, .token = token, .opaque = pv};
    FpHttpServer *s = NULL;
    CHECK_OK(fp_http_server_create(&s, "127.0.0.1:0", &h));
    return s;
}

static int viewers(FpPreview *pv)
{
    FpPreviewStats st;
    CHECK_OK(fp_preview_get_stats(pv, &st));
    return st.viewers;
}

/* ---- tests ---- */

FP_TEST_TIMED(http_mjpeg_stream_sends_distinct_jpeg_parts, 30)
{
    Feeder fd;
    feeder_start(&fd);
    FpHttpServer *s = start_server(fd.pv, NULL, NULL);
    int port = fp_http_server_port(s);
    int c = open_get(port, "/api/cameras/cam1/stream.mjpg", NULL);
    Buf b = {0};
    CHECK(read_until(c, &b, "\r\n\r\n", 5));
    CHECK_EQ(status_of(&b), 200);
    CHECK_MSG(strstr(b.p, "Content-Type: multipart/x-mixed-replace; boundary=fpframe\r\n"), "headers: %s", b.p);
    /* parse parts: "--fpframe\r\nContent-Type: image/jpeg\r\nContent-Length: N\r\n\r\n" + N bytes */
    size_t off = (size_t)(strstr(b.p, "\r\n\r\n") + 4 - b.p);
    size_t parts[3] = {0}, lens[3] = {0}; /* offsets into b.p: it moves as it grows */
    int n = 0;
    while (n < 3) {
        char *head = memmem(b.p + off, b.len - off, "--fpframe\r\n", 11);
        char *end = head ? memmem(head, b.len - (size_t)(head - b.p), "\r\n\r\n", 4) : NULL;
        size_t len = 0;
        if (end) {
            CHECK(memmem(head, (size_t)(end - head), "Content-Type: image/jpeg\r\n", 26));
            char *cl = memmem(head, (size_t)(end - head), "Content-Length: ", 16);
            CHECK(cl);
            len = strtoul(cl + 16, NULL, 10);
        }
        if (!end || b.len < (size_t)(end + 4 - b.p) + len + 2) {
            CHECK_MSG(read_more(c, &b), "the stream ended after %d parts", n);
            continue;
        }
        parts[n] = (size_t)(end + 4 - b.p);
        lens[n] = len;
        CHECK(memcmp(b.p + parts[n] + len, "\r\n", 2) == 0);
        off = parts[n] + len + 2;
        n++;
    }
    int w, h;
    for (int i = 0; i < 3; i++)
        CHECK_MSG(decodes((uint8_t *)b.p + parts[i], lens[i], &w, &h) && w == 160 && h == 120,
                  "part %d does not decode as 160x120", i);
    /* the feeder alternates two pictures and moves the box: consecutive parts differ */
    CHECK_MSG(lens[0] != lens[1] || memcmp(b.p + parts[0], b.p + parts[1], lens[0]) != 0, "parts 0 and 1 are the same");
    CHECK_MSG(lens[1] != lens[2] || memcmp(b.p + parts[1], b.p + parts[2], lens[1]) != 0, "parts 1 and 2 are the same");
    CHECK_EQ(viewers(fd.pv), 1);
    close(c);
    /* the stream's end (client gone) drops the viewer */
    int64_t t0 = fp_clock_ns();
    while (viewers(fd.pv) != 0 && fp_clock_ns() - t0 < 5000000000LL)
        usleep(20000);
    CHECK_EQ(viewers(fd.pv), 0);
    free(b.p);
    fp_http_server_destroy(&s);
    feeder_stop(&fd);
}

FP_TEST_TIMED(http_frame_jpg_one_picture_404_and_503, 30)
{
    Feeder fd;
    feeder_start(&fd);
    FpHttpServer *s = start_server(fd.pv, NULL, NULL);
    int port = fp_http_server_port(s);
    Buf b;
    get(port, "/api/cameras/cam1/frame.jpg", NULL, &b);
    CHECK_EQ(status_of(&b), 200);
    CHECK(strstr(b.p, "Content-Type: image/jpeg\r\n"));
    const char *body = body_of(&b);
    int w, h;
    CHECK(decodes((const uint8_t *)body, b.len - (size_t)(body - b.p), &w, &h) && w == 160);
    free(b.p);
    get(port, "/api/cameras/nope/frame.jpg", NULL, &b);
    CHECK_EQ(status_of(&b), 404);
    free(b.p);
    get(port, "/api/cameras/nope/stream.mjpg", NULL, &b);
    CHECK_EQ(status_of(&b), 404);
    free(b.p);
    /* a known camera that gets no frame: 503 after about 2 s */
    CHECK_OK(fp_preview_set_zones(fd.pv, "idle", NULL, 0));
    int64_t t0 = fp_clock_ns();
    get(port, "/api/cameras/idle/frame.jpg", NULL, &b);
    double took = (double)(fp_clock_ns() - t0) / 1e9;
    CHECK_EQ(status_of(&b), 503);
    CHECK_MSG(took > 1.5 && took < 4, "503 after %.2f s", took);
    free(b.p);
    CHECK_EQ(viewers(fd.pv), 0);

    /* a camera with no frames: the stream is quiet, yet a client that leaves is noticed within ~1 s */
    Buf q = {0};
    int c = open_get(port, "/api/cameras/idle/stream.mjpg", NULL);
    CHECK(read_until(c, &q, "\r\n\r\n", 5));
    CHECK_EQ(status_of(&q), 200);
    CHECK_EQ(viewers(fd.pv), 1);
    close(c);
    t0 = fp_clock_ns();
    while (viewers(fd.pv) != 0 && fp_clock_ns() - t0 < 3000000000LL)
        usleep(20000);
    CHECK_MSG(viewers(fd.pv) == 0, "the quiet stream still counts its viewer %.1f s after the client left",
              (double)(fp_clock_ns() - t0) / 1e9);
    free(q.p);
    fp_http_server_destroy(&s);
    feeder_stop(&fd);
}

static FpEvent event_of(uint64_t id)
{
    return (FpEvent){.id = id, .camera_name = "cam1", .rule = "door", .rule_kind = FP_RULE_ENTER, .track_id = 7,
                     .score = 0.9f, .zone = "door", .start_ns = 1000, .end_ns = 1000};
}

FP_TEST_TIMED(http_event_stream_delivers_new_events_with_ids, 30)
{
    FpEventLog *log = NULL;
    CHECK_OK(fp_event_log_create(&log, 10));
    FpEvent e1 = event_of(1);
    CHECK(fp_event_log_add(log, &e1) == 1);
    FpHttpServer *s = start_server(NULL, NULL, NULL);
    int port = fp_http_server_port(s);
    Buf b = {0};
    /* without a log: 404 */
    get(port, "/api/events/stream", NULL, &b);
    CHECK_EQ(status_of(&b), 404);
    free(b.p);
    CHECK_OK(fp_http_server_set_event_log(s, log));

    memset(&b, 0, sizeof(b));
    int c = open_get(port, "/api/events/stream", NULL); /* from now on: not event 1 */
    CHECK(read_until(c, &b, ": stream\n\n", 5));
    CHECK_EQ(status_of(&b), 200);
    CHECK(strstr(b.p, "Content-Type: text/event-stream\r\n"));
    FpEvent e2 = event_of(2);
    CHECK(fp_event_log_add(log, &e2) == 2);
    CHECK_MSG(read_until(c, &b, "id: 2\ndata: {\"seq\":2,\"id\":2,", 5), "no event 2 in: %s", b.p);
    CHECK_MSG(!strstr(b.p, "id: 1\n"), "event 1 was before the connection: %s", b.p);
    close(c);
    free(b.p);

    /* Last-Event-ID: 0 replays from the start */
    memset(&b, 0, sizeof(b));
    c = open_get(port, "/api/events/stream", "Last-Event-ID: 0\r\n");
    CHECK_MSG(read_until(c, &b, "id: 2\n", 5), "no replay in: %s", b.p);
    CHECK(strstr(b.p, "id: 1\ndata: {\"seq\":1,"));
    close(c);
    free(b.p);
    get(port, "/api/events/stream?since=x", NULL, &b);
    CHECK_EQ(status_of(&b), 400);
    free(b.p);
    fp_http_server_destroy(&s);
    fp_event_log_destroy(&log);
}

FP_TEST_TIMED(http_token_required_except_healthz, 30)
{
    FpHttpServer *s = start_server(NULL, NULL, "s3cret-T");
    int port = fp_http_server_port(s);
    Buf b;
    get(port, "/index.txt", NULL, &b);
    CHECK_EQ(status_of(&b), 401);
    CHECK(strstr(b.p, "Content-Type: application/json\r\n"));
    CHECK(strstr(body_of(&b), "{\"error\":"));
    free(b.p);
    get(port, "/index.txt", "Authorization: Bearer wrong\r\n", &b);
    CHECK_EQ(status_of(&b), 401);
    free(b.p);
    get(port, "/index.txt?token=s3cret", NULL, &b); /* a prefix is not the token */
    CHECK_EQ(status_of(&b), 401);
    free(b.p);
    get(port, "/index.txt", "Authorization: Bearer s3cret-T\r\n", &b);
    CHECK_EQ(status_of(&b), 200);
    free(b.p);
    get(port, "/?token=s3cret-T", NULL, &b);
    CHECK_EQ(status_of(&b), 200);
    CHECK_MSG(strstr(b.p, "Set-Cookie: fp_token=s3cret-T; HttpOnly; SameSite=Strict"), "headers: %.600s", b.p);
    free(b.p);
    get(port, "/api/events?token=s3cret-T", NULL, &b); /* any path: the cookie comes with the answer */
    CHECK(strstr(b.p, "Set-Cookie: fp_token=s3cret-T;"));
    free(b.p);
    get(port, "/index.txt", "Cookie: other=1; fp_token=s3cret-T\r\n", &b);
    CHECK_EQ(status_of(&b), 200);
    free(b.p);
    get(port, "/healthz", NULL, &b);
    CHECK_EQ(status_of(&b), 200);
    free(b.p);
    fp_http_server_destroy(&s);
}

FP_TEST_TIMED(http_snapshots_served_and_traversal_404, 30)
{
    char dir[512], path[600], secret[600];
    snprintf(dir, sizeof(dir), "%s/snaps", fp_test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
    snprintf(path, sizeof(path), "%s/snap-cam1-1.jpg", dir);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    fputs("\xFF\xD8not really a jpeg\xFF\xD9", f);
    fclose(f);
    snprintf(secret, sizeof(secret), "%s/secret.jpg", fp_test_tmpdir());
    f = fopen(secret, "wb");
    CHECK(f);
    fputs("secret", f);
    fclose(f);
    FpHttpServer *s = start_server(NULL, dir, NULL);
    int port = fp_http_server_port(s);
    Buf b;
    get(port, "/snapshots/snap-cam1-1.jpg", NULL, &b);
    CHECK_EQ(status_of(&b), 200);
    CHECK(strstr(b.p, "Content-Type: image/jpeg\r\n"));
    CHECK(strcmp(body_of(&b), "\xFF\xD8not really a jpeg\xFF\xD9") == 0);
    free(b.p);
    const char *bad[] = {"/snapshots/../secret.jpg", "/snapshots/..%2Fsecret.jpg", "/snapshots/%2E%2E/secret.jpg",
                         "/snapshots/..", "/snapshots/", "/snapshots/.hidden", "/snapshots/a%20b.jpg",
                         "/snapshots/missing.jpg", "/snapshots/snap-cam1-1.jpg/x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        get(port, bad[i], NULL, &b);
        CHECK_MSG(status_of(&b) == 404, "GET %s: %d", bad[i], status_of(&b));
        CHECK(!strstr(b.p, "secret"));
        free(b.p);
    }
    fp_http_server_destroy(&s);
    /* without a folder: 404 */
    s = start_server(NULL, NULL, NULL);
    get(fp_http_server_port(s), "/snapshots/snap-cam1-1.jpg", NULL, &b);
    CHECK_EQ(status_of(&b), 404);
    free(b.p);
    fp_http_server_destroy(&s);
}

FP_TEST_TIMED(http_destroy_with_open_streams_is_prompt, 30)
{
    Feeder fd;
    feeder_start(&fd);
    FpEventLog *log = NULL;
    CHECK_OK(fp_event_log_create(&log, 10));
    FpHttpServer *s = start_server(fd.pv, NULL, NULL);
    CHECK_OK(fp_http_server_set_event_log(s, log));
    int port = fp_http_server_port(s);
    int m = open_get(port, "/api/cameras/cam1/stream.mjpg", NULL);
    int e = open_get(port, "/api/events/stream", NULL);
    Buf bm = {0}, be = {0};
    CHECK(read_until(m, &bm, "--fpframe", 5));
    CHECK(read_until(e, &be, ": stream", 5));
    int64_t t0 = fp_clock_ns();
    fp_http_server_destroy(&s);
    double took = (double)(fp_clock_ns() - t0) / 1e9;
    CHECK_MSG(took < 2.5, "destroy took %.2f s with two open streams", took);
    /* both connections are closed: recv ends */
    CHECK(read_until(m, &bm, NULL, 3));
    CHECK(read_until(e, &be, NULL, 3));
    close(m);
    close(e);
    free(bm.p);
    free(be.p);
    CHECK_EQ(viewers(fd.pv), 0);
    fp_event_log_destroy(&log);
    feeder_stop(&fd);
}

FP_TEST(event_log_next_copies_the_entry_after_a_seq)
{
    FpEventLog *log = NULL;
    CHECK_OK(fp_event_log_create(&log, 3));
    char buf[FP_EVENT_LOG_SLOT + 64];
    uint64_t seq = 99;
    CHECK_EQ(fp_event_log_next(log, 0, &seq, buf, sizeof(buf)), 0); /* empty */
    CHECK_EQ(seq, 99);
    for (uint64_t i = 1; i <= 5; i++) { /* capacity 3: 1 and 2 are overwritten */
        FpEvent e = event_of(i);
        CHECK(fp_event_log_add(log, &e) == (int64_t)i);
    }
    int n = fp_event_log_next(log, 0, &seq, buf, sizeof(buf)); /* the oldest kept: 3 */
    CHECK(n > 0 && (size_t)n == strlen(buf));
    CHECK_EQ(seq, 3);
    CHECK_MSG(strncmp(buf, "{\"seq\":3,\"id\":3,", 16) == 0 && buf[n - 1] == '}', "entry: %s", buf);
    CHECK(fp_event_log_next(log, 3, &seq, buf, sizeof(buf)) > 0 && seq == 4);
    CHECK(fp_event_log_next(log, 4, &seq, buf, sizeof(buf)) > 0 && seq == 5);
    CHECK_EQ(fp_event_log_next(log, 5, &seq, buf, sizeof(buf)), 0);
    CHECK_EQ(fp_event_log_next(log, 4, &seq, buf, 10), FP_ETOO_LARGE);
    CHECK_EQ(fp_event_log_next(NULL, 0, &seq, buf, sizeof(buf)), FP_EINVALID);
    fp_event_log_destroy(&log);
}
