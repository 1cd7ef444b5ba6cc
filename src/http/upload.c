// SPDX-License-Identifier: MIT
// POST requests with a body for the app's routes (/api/detect, /api/redact): libmicrohttpd's upload callbacks, piece by piece.
#include "framepipe/http.h"
#include "upload_internal.h"

#include <stdlib.h>
#include <string.h>

/*
 * libmicrohttpd calls the access handler several times for a request with
 * a body: once with the headers (*con_cls NULL), then once per piece of
 * the body (*upload_data_size > 0, which we set to 0 once consumed), then
 * once more with nothing left. An answer queued on the first call is sent
 * without reading the body (libmicrohttpd skips "100 Continue" and closes
 * the connection): that is how 413 comes before any byte of a huge body.
 */

#define POST_MAGIC 0x46505354u /* "FPST" */

struct FpHttpPost {
    unsigned magic;
    struct MHD_Connection *c;
    const char *url;
    const FpHttpPostHandlers *h;
    void *ctx;
    int failed;
    FpHttpReply err;
};

const char *fp_http_post_path(const FpHttpPost *r)
{
    return r->url;
}

const char *fp_http_post_arg(const FpHttpPost *r, const char *key)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, key);
}

const char *fp_http_post_header(const FpHttpPost *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

int64_t fp_http_post_length(const FpHttpPost *r)
{
    const char *v = MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v || !*v)
        return -1;
    char *end;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? -1 : (int64_t)n;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, const FpHttpReply *rep)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rep->len, (void *)(uintptr_t)rep->body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    enum MHD_Result ok = MHD_YES;
    char ra[24];
    snprintf(ra, sizeof(ra), "%d", rep->retry_after_s);
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rep->type ? rep->type : "application/json") !=
            MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        (rep->retry_after_s > 0 && MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra) != MHD_YES))
        ok = MHD_NO;
    if (ok == MHD_YES)
        ok = MHD_queue_response(c, rep->status ? rep->status : 500, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result fp__http_post(struct MHD_Connection *c, const FpHttpPostHandlers *h, const char *url,
                              const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    FpHttpPost *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->magic = POST_MAGIC;
        r->c = c;
        r->url = url;
        r->h = h;
        FpHttpReply rep = {0};
        if (h->begin(h->opaque, r, &r->ctx, &rep) != 1) {
            free(r);
            return send_reply(c, &rep);
        }
        *con_cls = r;
        return MHD_YES;
    }
    r->c = c;
    r->url = url;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!r->failed && h->body(r->ctx, (const uint8_t *)upload_data, n, &r->err) < 0) {
            r->failed = 1;
            return send_reply(c, &r->err);
        }
        return MHD_YES;
    }
    if (r->failed)
        return MHD_YES; /* answered already */
    FpHttpReply rep = {0};
    h->finish(r->ctx, r, &rep);
    return send_reply(c, &rep);
}

void fp__http_post_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    FpHttpPost *r = con_cls ? *con_cls : NULL;
    if (!r || r->magic != POST_MAGIC)
        return;
    r->h->end(r->ctx);
    r->magic = 0;
    free(r);
    *con_cls = NULL;
}
