// SPDX-License-Identifier: MIT
// The webhook transport of FpDelivery (libcurl): one HTTP POST of each record's JSON, delivered on a 2xx answer.
//
// Design: the transport is driven by the one FpDelivery thread, so it has
// no lock. It keeps one CURL easy handle from connect to disconnect, so
// consecutive POSTs reuse the HTTP keep-alive connection; disconnect (after
// a failed send) frees the handle and its connection, and the next connect
// makes a new one. connect only prepares the handle: HTTP has no session,
// the first send opens the connection (within connect_timeout_ns).
//
// The request headers are one list: three nodes of this transport's own
// (X-Framepipe-Kind, -Camera, -Seq, rewritten for every record in buffers
// of the transport, so receivers can dedupe on camera + seq) chained before
// the fixed ones built at create (Content-Type, "Expect:" to skip
// 100-continue, the configured headers, Authorization). A send allocates
// nothing of its own beyond growing the camera buffer for a longer name.
//
// Safety: no redirects are followed and only http/https are allowed, so a
// receiver cannot bounce the bearer token elsewhere; CURLOPT_NOSIGNAL keeps
// libcurl away from signals (the DNS timeout would use SIGALRM) in a
// threaded program. Messages name the URL with its password and query
// replaced by "***" and never carry the token.
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include "fp_config.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ANSWER_MAX 160 /* bytes of a failed answer's body quoted in the message */

typedef struct WebhookTransport {
    char *url;
    char shown[512];             /* the URL for messages: password and query masked */
    long timeout_ms, connect_timeout_ms;
    struct curl_slist *fixed;    /* Content-Type, Expect, configured headers, Authorization (owned) */
    struct curl_slist nodes[3];  /* kind, camera, seq: chained before `fixed` */
    char kind_hdr[32];
    char seq_hdr[48];
    char *camera_hdr;            /* grows to the longest camera name seen */
    size_t camera_cap;
    CURL *curl;                  /* NULL while disconnected */
    char errbuf[CURL_ERROR_SIZE];
    char answer[ANSWER_MAX];     /* the start of the answer's body */
    size_t answer_len;
} WebhookTransport;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The URL with "user:password@" -> "user:***@" and "?query" -> "?***", into buf. */
static void mask_url(const char *url, char *buf, size_t cap)
{
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    size_t n = 0;
    if (colon)
        n = (size_t)snprintf(buf, cap, "%.*s:***", (int)(colon - url), url);
    const char *rest = colon ? at : url;
    const char *q = strchr(rest, '?');
    if (n < cap) {
        if (q)
            snprintf(buf + n, cap - n, "%.*s?***", (int)(q - rest), rest);
        else
            snprintf(buf + n, cap - n, "%s", rest);
    }
}

static bool has_crlf(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* Keeps the start of the answer for the message of a failed send; takes everything so curl goes on. */
static size_t on_answer(char *data, size_t size, size_t nmemb, void *opaque)
{
    WebhookTransport *w = opaque;
    size_t n = size * nmemb;
    size_t room = sizeof(w->answer) - 1 - w->answer_len;
    size_t take = n < room ? n : room;
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)data[i];
        w->answer[w->answer_len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
    }
    w->answer[w->answer_len] = '\0';
    return n;
}

/* FpTransportOps.disconnect: frees the CURL handle and with it the keep-alive connection; no-op when none. */
static void webhook_disconnect(void *t)
{
    WebhookTransport *w = t;
    if (w->curl) {
        curl_easy_cleanup(w->curl);
        w->curl = NULL;
    }
}

/*
 * FpTransportOps.connect: makes the CURL handle with every fixed option (keeps the one it has when called
 * twice). No network traffic. 0, or FP_EDEPENDENCY when libcurl cannot be set up.
 */
static int webhook_connect(void *t)
{
    WebhookTransport *w = t;
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return fp_error(FP_EDEPENDENCY, "webhook %s: libcurl's global initialisation failed: %s", w->shown,
                        curl_easy_strerror(global_rc));
    if (w->curl) /* still connected: keep the handle and its keep-alive connection */
        return 0;
    CURL *c = curl_easy_init();
    if (!c)
        return fp_error(FP_EDEPENDENCY, "webhook %s: curl_easy_init failed", w->shown);
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                    \
    do {                                                 \
        if (rc == CURLE_OK)                              \
            rc = curl_easy_setopt(c, opt, val);          \
    } while (0)
    SET(CURLOPT_URL, w->url);
    SET(CURLOPT_POST, 1L);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, w->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, w->connect_timeout_ms);
    SET(CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: CURLOPT_PROTOCOLS is deprecated */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_HTTPHEADER, &w->nodes[0]);
    SET(CURLOPT_USERAGENT, "framepipe/" FP_VERSION);
    SET(CURLOPT_WRITEFUNCTION, on_answer);
    SET(CURLOPT_WRITEDATA, w);
    SET(CURLOPT_ERRORBUFFER, w->errbuf);
#undef SET
    if (rc != CURLE_OK) {
        curl_easy_cleanup(c);
        return fp_error(FP_EDEPENDENCY, "webhook %s: setting up the request: %s", w->shown, curl_easy_strerror(rc));
    }
    w->curl = c;
    return 0;
}

/* Points the camera node at "X-Framepipe-Camera: <name>" (control characters as '_'); false when out of memory. */
static bool set_camera_header(WebhookTransport *w, const char *camera)
{
    static const char prefix[] = "X-Framepipe-Camera: ";
    size_t need = sizeof(prefix) + strlen(camera);
    if (need > w->camera_cap) {
        char *p = realloc(w->camera_hdr, need);
        if (!p)
            return false;
        w->camera_hdr = p;
        w->camera_cap = need;
    }
    memcpy(w->camera_hdr, prefix, sizeof(prefix) - 1);
    char *o = w->camera_hdr + sizeof(prefix) - 1;
    for (const char *s = camera; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        *o++ = ch < 0x20 || ch == 0x7f ? '_' : (char)ch;
    }
    *o = '\0';
    w->nodes[1].data = w->camera_hdr;
    return true;
}

/*
 * FpTransportOps.send: one POST of rec->json. 0 on a 2xx answer; FP_EIO for another status or a transfer
 * error, FP_ETIMEOUT when timeout_ns passed, -ENOMEM, FP_EIO without connect. Messages name the masked URL.
 */
static int webhook_send(void *t, const FpRecord *rec)
{
    WebhookTransport *w = t;
    if (!rec || !rec->json || !rec->camera)
        return fp_error(FP_EINVALID, "webhook %s: send: NULL record", w->shown);
    if (!w->curl)
        return fp_error(FP_EIO, "webhook %s: send: not connected", w->shown);
    snprintf(w->kind_hdr, sizeof(w->kind_hdr), "X-Framepipe-Kind: %s",
             rec->kind == FP_RECORD_EVENT ? "event" : "frame");
    snprintf(w->seq_hdr, sizeof(w->seq_hdr), "X-Framepipe-Seq: %" PRIu64, rec->seq);
    if (!set_camera_header(w, rec->camera))
        return fp_error(-ENOMEM, "webhook %s: out of memory for the camera header", w->shown);
    CURLcode rc = curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rec->len);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, rec->json);
    if (rc != CURLE_OK)
        return fp_error(FP_EDEPENDENCY, "webhook %s: setting the body: %s", w->shown, curl_easy_strerror(rc));
    w->errbuf[0] = '\0';
    w->answer[0] = '\0';
    w->answer_len = 0;
    rc = curl_easy_perform(w->curl);
    if (rc != CURLE_OK) { /* the error buffer is the more precise text; it names no header, so no token */
        const char *what = curl_easy_strerror(rc);
        bool both = w->errbuf[0] && !strstr(w->errbuf, what);
        return fp_error(rc == CURLE_OPERATION_TIMEDOUT ? FP_ETIMEOUT : FP_EIO, "webhook %s: %s%s%s%s", w->shown,
                        w->errbuf[0] ? w->errbuf : what, both ? " (" : "", both ? what : "", both ? ")" : "");
    }
    long status = 0;
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status <= 299)
        return 0;
    return fp_error(FP_EIO, "webhook %s: answered %ld%s%s%s", w->shown, status,
                    status == 401 || status == 403 ? " (check the bearer token)" : "",
                    w->answer_len ? ": " : "", w->answer);
}

/* Frees a header list after overwriting its strings (the Authorization header holds the token). */
static void free_headers(struct curl_slist *l)
{
    for (struct curl_slist *n = l; n; n = n->next) {
        volatile char *p = n->data;
        while (p && *p)
            *p++ = 0;
    }
    curl_slist_free_all(l);
}

/* FpTransportOps.destroy: disconnects and frees (the header strings, token included, are wiped); NULL: no-op. */
static void webhook_destroy(void *t)
{
    WebhookTransport *w = t;
    if (!w)
        return;
    webhook_disconnect(w);
    free_headers(w->fixed);
    free(w->camera_hdr);
    free(w->url);
    free(w);
}

static const FpTransportOps webhook_ops = {
    .kind = "webhook",
    .connect = webhook_connect,
    .send = webhook_send,
    .disconnect = webhook_disconnect,
    .destroy = webhook_destroy,
};

/* Appends s to *l; false when out of memory (*l keeps what it had). */
static bool append(struct curl_slist **l, const char *s)
{
    struct curl_slist *n = curl_slist_append(*l, s);
    if (!n)
        return false;
    *l = n;
    return true;
}

static long ns_to_ms(int64_t ns)
{
    int64_t ms = (ns + 999999) / 1000000;
    return ms > 86400000 ? 86400000L : (long)ms;
}

int fp_webhook_transport_create(const FpTransportOps **ops, void **t, const FpWebhookConfig *cfg)
{
    if (!ops || !t || !cfg)
        return fp_error(FP_EINVALID, "webhook: NULL argument");
    if (!cfg->url || !cfg->url[0])
        return fp_error(FP_ECONFIG, "webhook: no url");
    char shown[512];
    mask_url(cfg->url, shown, sizeof(shown));
    if (strncasecmp(cfg->url, "http://", 7) != 0 && strncasecmp(cfg->url, "https://", 8) != 0)
        return fp_error(FP_ECONFIG, "webhook url \"%s\": the scheme must be http:// or https://", shown);
    for (const char *p = cfg->url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return fp_error(FP_ECONFIG, "webhook url \"%s\": a space or control character in the URL", shown);
    if (cfg->n_headers < 0 || cfg->n_headers > FP_WEBHOOK_MAX_HEADERS)
        return fp_error(FP_ECONFIG, "webhook %s: %d headers (0-%d)", shown, cfg->n_headers, FP_WEBHOOK_MAX_HEADERS);
    for (int i = 0; i < cfg->n_headers; i++) {
        const char *h = cfg->headers[i];
        if (!h || !strchr(h, ':') || h[0] == ':')
            return fp_error(FP_ECONFIG, "webhook %s: header %d \"%s\" is not \"Name: value\"", shown, i + 1,
                            h ? h : "(null)");
        if (has_crlf(h))
            return fp_error(FP_ECONFIG, "webhook %s: header %d has a CR or LF in it", shown, i + 1);
    }
    if (cfg->bearer_token && (has_crlf(cfg->bearer_token) || !cfg->bearer_token[0]))
        return fp_error(FP_ECONFIG, "webhook %s: the bearer token is empty or has a CR or LF in it", shown);
    if (cfg->timeout_ns <= 0 || cfg->connect_timeout_ns <= 0)
        return fp_error(FP_ECONFIG, "webhook %s: timeouts must be > 0", shown);

    WebhookTransport *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->url = strdup(cfg->url);
    bool ok = w->url && append(&w->fixed, "Content-Type: application/json") && append(&w->fixed, "Expect:");
    for (int i = 0; ok && i < cfg->n_headers; i++)
        ok = append(&w->fixed, cfg->headers[i]);
    if (ok && cfg->bearer_token) {
        size_t n = strlen("Authorization: Bearer ") + strlen(cfg->bearer_token) + 1;
        char *auth = malloc(n);
        ok = auth != NULL;
        if (ok) {
            snprintf(auth, n, "Authorization: Bearer %s", cfg->bearer_token);
            ok = append(&w->fixed, auth);
            volatile char *p = auth;
            while (*p)
                *p++ = 0;
            free(auth);
        }
    }
    if (!ok) {
        webhook_destroy(w);
        return -ENOMEM;
    }
    snprintf(w->shown, sizeof(w->shown), "%s", shown);
    w->timeout_ms = ns_to_ms(cfg->timeout_ns);
    w->connect_timeout_ms = ns_to_ms(cfg->connect_timeout_ns);
    snprintf(w->kind_hdr, sizeof(w->kind_hdr), "X-Framepipe-Kind: frame");
    snprintf(w->seq_hdr, sizeof(w->seq_hdr), "X-Framepipe-Seq: 0");
    w->nodes[0] = (struct curl_slist){.data = w->kind_hdr, .next = &w->nodes[1]};
    /* the camera node's data is set by every send before the request goes out */
    w->nodes[1] = (struct curl_slist){.data = w->kind_hdr, .next = &w->nodes[2]};
    w->nodes[2] = (struct curl_slist){.data = w->seq_hdr, .next = w->fixed};
    *ops = &webhook_ops;
    *t = w;
    return 0;
}
