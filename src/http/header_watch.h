// SPDX-License-Identifier: MIT
// Internal to src/http: closes connections whose request headers do not arrive in time (slowloris).
#ifndef FP_HTTP_HEADER_WATCH_H
#define FP_HTTP_HEADER_WATCH_H

#include <microhttpd.h>
#include <stdint.h>

/*
 * libmicrohttpd 0.9.75's timeout is an idle timeout: a client that sends a
 * header byte every few seconds keeps its connection (and, in the thread-
 * per-connection mode, a thread) forever. FpHeaderWatch notes when each
 * connection starts (MHD_OPTION_NOTIFY_CONNECTION) and when its headers are
 * in (the first access-handler call), and a thread of its own shuts down the
 * socket of a connection still without headers after `timeout_ns`, which
 * makes libmicrohttpd close it. libmicrohttpd reports a connection closed
 * before it closes the socket, so a descriptor is never shut down after it
 * has been reused.
 */
typedef struct FpHeaderWatch FpHeaderWatch;

/* Starts the watch and its thread. 0, -ENOMEM or -errno of pthread_create. */
int fp__header_watch_create(FpHeaderWatch **out, int64_t timeout_ns);
/* Stops the thread and frees the watch (after MHD_stop_daemon). NULL: no-op. */
void fp__header_watch_destroy(FpHeaderWatch **w);
/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the watch. */
void fp__header_watch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                             enum MHD_ConnectionNotificationCode toe);
/*
 * MHD_AcceptPolicyCallback (cls: the watch): refuses a connection from an
 * address that already has FP_HTTP_MAX_PER_IP connections still sending
 * their request headers (slowloris from one address), admits any other; many
 * busy clients behind one address (a proxy, a load test) are not limited.
 */
enum MHD_Result fp__header_watch_admit(void *cls, const struct sockaddr *addr, socklen_t addrlen);
/* The connection's request headers are in (idempotent; any connection thread). */
void fp__header_watch_done(FpHeaderWatch *w, struct MHD_Connection *c);

#endif
