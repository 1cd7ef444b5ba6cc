// SPDX-License-Identifier: MIT
// The HTTP endpoint against clients that misuse it (issue 16): pipelined keep-alive requests, slowloris sockets.
#include "fp_test.h"

#include "framepipe/http.h"
#include "framepipe/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

/* A TCP socket from `src` (NULL: any) to 127.0.0.1:port; receive timeout `rcv_s`. -1 when refused. */
static int connect_from(const char *src, int port, int rcv_s)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct timeval tv = {.tv_sec = rcv_s};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET};
    if (src) {
        CHECK(inet_pton(AF_INET, src, &a.sin_addr) == 1);
        CHECK_MSG(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind %s: %s", src, strerror(errno));
    }
    a.sin_port = htons((uint16_t)port);
    CHECK(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr) == 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static FpHttpServer *start(FpMetrics **m)
{
    CHECK_OK(fp_metrics_create(m));
    FpHttpHandlers h = {.metrics = *m};
    FpHttpServer *s = NULL;
    CHECK_OK(fp_http_server_create(&s, "127.0.0.1:0", &h));
    return s;
}

/* Reads from fd until `count` copies of `needle` arrived, the peer closed, or the receive timeout. */
static int read_until(int fd, const char *needle, int count, char *buf, size_t cap)
{
    size_t len = 0;
    int seen = 0;
    while (len + 1 < cap) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = 0;
        seen = 0;
        for (const char *p = buf; (p = strstr(p, needle)); p++)
            seen++;
        if (seen >= count)
            break;
    }
    buf[len] = 0;
    return seen;
}

/* Fault 7: keep-alive is honoured: two pipelined requests get two answers on one connection, none says close. */
FP_TEST(http_keep_alive_answers_pipelined_requests)
{
    FpMetrics *m;
    FpHttpServer *s = start(&m);
    int fd = connect_from(NULL, fp_http_server_port(s), 30);
    CHECK(fd >= 0);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1);
    static char buf[65536];
    int n = read_until(fd, "HTTP/1.1 200 OK\r\n", 2, buf, sizeof(buf));
    CHECK_MSG(n == 2, "%d answers to 2 pipelined requests:\n%s", n, buf);
    CHECK_MSG(!strcasestr(buf, "Connection: close"), "%s", buf);
    /* and a third request on the same connection, after the first two */
    const char req3[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(send(fd, req3, sizeof(req3) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req3) - 1);
    CHECK_EQ(read_until(fd, "HTTP/1.1 200 OK\r\n", 1, buf, sizeof(buf)), 1);
    close(fd);
    fp_http_server_destroy(&s);
    fp_metrics_destroy(&m);
}

typedef struct Trickle {
    int *fds;
    int n;
    atomic_bool stop;
} Trickle;

/* Sends one more header byte on every socket each 500 ms: no socket is ever idle long enough to time out. */
static void *trickle(void *arg)
{
    Trickle *t = arg;
    while (!atomic_load(&t->stop)) {
        for (int i = 0; i < t->n; i++)
            if (t->fds[i] >= 0)
                (void)send(t->fds[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        usleep(500000);
    }
    return NULL;
}

/*
 * Fault 8: ~130 sockets from one address trickling headers do not starve
 * /healthz from another: at most FP_HTTP_MAX_PER_IP of them are served, the
 * rest are refused, and the probe is answered. (Loopback: 127.0.0.2 is the
 * attacker, 127.0.0.1 the probe.) The probe waits up to 30 s; before the
 * fix it waited as long as the trickle went on.
 */
FP_TEST_TIMED(http_slowloris_does_not_starve_healthz, 120)
{
    FpMetrics *m;
    FpHttpServer *s = start(&m);
    int port = fp_http_server_port(s);
    enum { N = 130 };
    static int fds[N];
    int open_ok = 0;
    for (int i = 0; i < N; i++) {
        fds[i] = connect_from("127.0.0.2", port, 5);
        if (fds[i] >= 0) {
            open_ok++;
            (void)send(fds[i], "GET / HTTP/1.1\r\nX-Slow: ", 24, MSG_NOSIGNAL | MSG_DONTWAIT);
        }
    }
    CHECK(open_ok > 0);
    Trickle t = {.fds = fds, .n = N};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trickle, &t) == 0);
    sleep(1); /* let the server accept them all */
    int fd = connect_from("127.0.0.1", port, 30);
    CHECK(fd >= 0);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    CHECK(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1);
    char buf[4096];
    int n = read_until(fd, "HTTP/1.1 200 OK\r\n", 1, buf, sizeof(buf));
    close(fd);
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    CHECK_MSG(n == 1, "/healthz was not answered while %d sockets trickled headers: '%s'", open_ok, buf);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    fp_http_server_destroy(&s);
    fp_metrics_destroy(&m);
}

/*
 * Fault 8, from the probe's own address: the per-address cap alone would
 * refuse the probe behind 16 trickling sockets, forever; the header deadline
 * (FP_HTTP_HEADER_TIMEOUT_S) closes them, and a probe that retries is
 * answered while the trickle goes on. It retries 30 times, 2 s apart.
 */
FP_TEST_TIMED(http_slowloris_from_the_same_address_is_cut_off, 200)
{
    FpMetrics *m;
    FpHttpServer *s = start(&m);
    int port = fp_http_server_port(s);
    enum { N = 130 };
    static int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = connect_from("127.0.0.1", port, 5);
        if (fds[i] >= 0)
            (void)send(fds[i], "GET / HTTP/1.1\r\nX-Slow: ", 24, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    Trickle t = {.fds = fds, .n = N};
    pthread_t th;
    CHECK(pthread_create(&th, NULL, trickle, &t) == 0);
    int answered = 0, tries = 0;
    char buf[4096] = "";
    for (; tries < 30 && !answered; tries++) {
        int fd = connect_from("127.0.0.1", port, 2);
        if (fd >= 0) {
            const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
            if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1)
                answered = read_until(fd, "HTTP/1.1 200 OK\r\n", 1, buf, sizeof(buf)) == 1;
            close(fd);
        }
        if (!answered)
            sleep(2);
    }
    atomic_store(&t.stop, true);
    pthread_join(th, NULL);
    CHECK_MSG(answered, "/healthz unanswered after %d tries while 130 sockets of its address trickled", tries);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    fp_http_server_destroy(&s);
    fp_metrics_destroy(&m);
}
