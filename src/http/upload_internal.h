// SPDX-License-Identifier: MIT
// Between http.c and upload.c: the POST route hook of the access handler and the request-completed callback.
#ifndef FP_HTTP_UPLOAD_INTERNAL_H
#define FP_HTTP_UPLOAD_INTERNAL_H

#include <microhttpd.h>
#include <stddef.h>

#include "framepipe/http.h"

/* The access handler's answer for a POST when h->post is set (every call of that request). */
enum MHD_Result fp__http_post(struct MHD_Connection *c, const FpHttpPostHandlers *h, const char *url,
                              const char *upload_data, size_t *upload_data_size, void **con_cls);

/* MHD_OPTION_NOTIFY_COMPLETED: ends a POST request's context (calls h->end). */
void fp__http_post_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                             enum MHD_RequestTerminationCode toe);

#endif
