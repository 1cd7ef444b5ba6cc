// SPDX-License-Identifier: MIT
// The POST request accessors in a build without libmicrohttpd: never called (no server runs), present so programs link.
#include "framepipe/http.h"

const char *fp_http_post_path(const FpHttpPost *r)
{
    (void)r;
    return NULL;
}

const char *fp_http_post_arg(const FpHttpPost *r, const char *key)
{
    (void)r, (void)key;
    return NULL;
}

const char *fp_http_post_header(const FpHttpPost *r, const char *name)
{
    (void)r, (void)name;
    return NULL;
}

int64_t fp_http_post_length(const FpHttpPost *r)
{
    (void)r;
    return -1;
}
