// SPDX-License-Identifier: MIT
// FpHttpServer in a build without HTTP support (-Dhttp=disabled, or libmicrohttpd missing): every create fails with FP_EUNSUPPORTED.
#include "framepipe/http.h"

#include "framepipe/error.h"

#include "fp_config.h"

#include <stddef.h>

int fp_http_server_create(FpHttpServer **out, const char *listen, const FpHttpHandlers *h)
{
    (void)out;
    (void)h;
    return fp_error(FP_EUNSUPPORTED,
                    "framepipe was built without HTTP support (%s): cannot serve on %s",
                    FP_HTTP_WITHOUT, listen ? listen : FP_HTTP_DEFAULT_LISTEN);
}

int fp_http_server_port(const FpHttpServer *s)
{
    (void)s;
    return FP_EINVALID; /* no server can exist */
}

void fp_http_server_destroy(FpHttpServer **s)
{
    if (s)
        *s = NULL;
}

int fp_http_server_set_event_log(FpHttpServer *s, FpEventLog *log)
{
    (void)s;
    (void)log;
    return fp_error(FP_EUNSUPPORTED, "framepipe was built without HTTP support (%s): /api/events cannot be served",
                    FP_HTTP_WITHOUT);
}
