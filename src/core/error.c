// SPDX-License-Identifier: MIT
// Error code names and messages (generated from FP_ERROR_MAP) and the per-thread detail message.
#include "framepipe/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FP__ERROR_MSG(name, msg) msg,
#define FP__ERROR_NAME(name, msg) "FP_E" #name,
static const char *const fp_error_messages[] = {FP_ERROR_MAP(FP__ERROR_MSG)};
static const char *const fp_error_names[] = {FP_ERROR_MAP(FP__ERROR_NAME)};
#undef FP__ERROR_MSG
#undef FP__ERROR_NAME

static _Thread_local char detail_msg[512];
static _Thread_local int detail_code;

static int is_fp_code(int code)
{
    return code > FP__ERROR_FIRST && code < FP__ERROR_LAST;
}

const char *fp_strerror(int code)
{
    if (code >= 0)
        return "success";
    if (is_fp_code(code))
        return fp_error_messages[code - FP__ERROR_FIRST - 1];
    if (code > -4096) {
        /* strerror() is not thread-safe in general; glibc's table strings are. */
        const char *s = strerrordesc_np(-code);
        return s ? s : "unknown system error";
    }
    return "unknown error";
}

const char *fp_err_name(int code)
{
    if (code >= 0)
        return "OK";
    if (is_fp_code(code))
        return fp_error_names[code - FP__ERROR_FIRST - 1];
    if (code > -4096) {
        const char *s = strerrorname_np(-code);
        return s ? s : "EUNKNOWN";
    }
    return "FP_EUNKNOWN";
}

int fp_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail_msg, sizeof(detail_msg), fmt, ap);
    va_end(ap);
    detail_code = code;
    return code;
}

const char *fp_error_detail(int code)
{
    if (detail_msg[0] && detail_code == code)
        return detail_msg;
    return fp_strerror(code);
}

void fp_error_clear(void)
{
    detail_msg[0] = '\0';
    detail_code = 0;
}
