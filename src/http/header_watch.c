// SPDX-License-Identifier: MIT
// A deadline for request headers (slowloris): sockets of connections without headers in time are shut down.
#include "header_watch.h"

#include "framepipe/clock.h"
#include "framepipe/http.h"
#include "framepipe/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* One entry per open connection: FP_HTTP_MAX_CONNECTIONS, and a margin for those being refused. */
#define WATCH_SLOTS (FP_HTTP_MAX_CONNECTIONS + 16)

typedef struct Watched {
    int fd;           /* -1: free */
    int64_t since_ns; /* when the connection started */
    bool waiting;     /* its headers are not in yet */
    struct sockaddr_storage addr; /* the client's address (port ignored when compared) */
} Watched;

struct FpHeaderWatch {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    int64_t timeout_ns;
    pthread_t thread;
    Watched w[WATCH_SLOTS];
};

static int conn_fd(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    return ci ? (int)ci->connect_fd : -1;
}

/* Whether a and b are the same host (IPv4 or IPv6 address; the port is ignored). */
static bool same_host(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return false;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return false;
}

static void *watch_thread(void *arg)
{
    FpHeaderWatch *h = arg;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        int64_t now = fp_clock_ns();
        for (int i = 0; i < WATCH_SLOTS; i++) {
            Watched *w = &h->w[i];
            if (w->fd >= 0 && w->waiting && now - w->since_ns > h->timeout_ns) {
                w->waiting = false; /* once */
                shutdown(w->fd, SHUT_RDWR);
                fp_log_debug("http", "a connection sent no complete request headers in %.0f s: closed",
                             (double)h->timeout_ns / 1e9);
            }
        }
        struct timespec dl = fp_deadline_ts(250000000);
        pthread_cond_timedwait(&h->wake, &h->lock, &dl);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int fp__header_watch_create(FpHeaderWatch **out, int64_t timeout_ns)
{
    FpHeaderWatch *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    for (int i = 0; i < WATCH_SLOTS; i++)
        h->w[i].fd = -1;
    h->timeout_ns = timeout_ns;
    pthread_mutex_init(&h->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->wake, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&h->thread, NULL, watch_thread, h);
    if (rc != 0) {
        pthread_cond_destroy(&h->wake);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return -rc;
    }
    *out = h;
    return 0;
}

void fp__header_watch_destroy(FpHeaderWatch **hp)
{
    FpHeaderWatch *h = hp ? *hp : NULL;
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
    free(h);
    *hp = NULL;
}

void fp__header_watch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe)
{
    (void)socket_context;
    FpHeaderWatch *h = cls;
    int fd = conn_fd(c);
    if (fd < 0)
        return;
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < WATCH_SLOTS; i++) {
        Watched *w = &h->w[i];
        if (toe == MHD_CONNECTION_NOTIFY_STARTED && w->fd < 0) {
            *w = (Watched){.fd = fd, .since_ns = fp_clock_ns(), .waiting = true};
            const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
            if (ci && ci->client_addr) {
                socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                     : sizeof(struct sockaddr_in);
                memcpy(&w->addr, ci->client_addr, len);
            }
            break;
        }
        if (toe == MHD_CONNECTION_NOTIFY_CLOSED && w->fd == fd) {
            w->fd = -1; /* before libmicrohttpd closes the descriptor */
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
}

void fp__header_watch_done(FpHeaderWatch *h, struct MHD_Connection *c)
{
    int fd = conn_fd(c);
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < WATCH_SLOTS; i++)
        if (h->w[i].fd == fd && fd >= 0)
            h->w[i].waiting = false;
    pthread_mutex_unlock(&h->lock);
}

enum MHD_Result fp__header_watch_admit(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    FpHeaderWatch *h = cls;
    if (!addr || addrlen < (socklen_t)sizeof(struct sockaddr_in))
        return MHD_YES;
    int waiting = 0;
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < WATCH_SLOTS; i++) {
        const Watched *w = &h->w[i];
        if (w->fd >= 0 && w->waiting && same_host((const struct sockaddr *)&w->addr, addr))
            waiting++;
    }
    pthread_mutex_unlock(&h->lock);
    if (waiting < FP_HTTP_MAX_PER_IP)
        return MHD_YES;
    fp_log_debug("http", "a connection refused: %d from its address are still sending request headers", waiting);
    return MHD_NO;
}
