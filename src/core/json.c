// SPDX-License-Identifier: MIT
// JSON string escaping: the one escaper of framepipe (JSON lines, status and summary JSON, later events).
#include "framepipe/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not valid (RFC 3629). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Copies what fits of src[0..n) to dst at *at (cap bytes in all); *at always advances by n. */
static void emit(char *dst, size_t cap, size_t *at, const char *src, size_t n)
{
    if (*at < cap)
        memcpy(dst + *at, src, n < cap - *at ? n : cap - *at);
    *at += n;
}

size_t fp_json_escape(char *dst, size_t cap, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;
    if (!str) {
        emit(dst, cap, &at, "null", 4);
        return at;
    }
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    emit(dst, cap, &at, "\"", 1);
    size_t run = 0; /* bytes at s[i - run .. i) to copy as they are */
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            run++;
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            if (len) {
                run += len;
                i += len;
                continue;
            }
        }
        emit(dst, cap, &at, (const char *)s + i - run, run);
        run = 0;
        switch (c) {
        case '"': emit(dst, cap, &at, "\\\"", 2); break;
        case '\\': emit(dst, cap, &at, "\\\\", 2); break;
        case '\n': emit(dst, cap, &at, "\\n", 2); break;
        case '\r': emit(dst, cap, &at, "\\r", 2); break;
        case '\t': emit(dst, cap, &at, "\\t", 2); break;
        case '\b': emit(dst, cap, &at, "\\b", 2); break;
        case '\f': emit(dst, cap, &at, "\\f", 2); break;
        default:
            if (c >= 0x80) {
                emit(dst, cap, &at, "\\ufffd", 6);
            } else {
                char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                emit(dst, cap, &at, u, sizeof(u));
            }
        }
        i++;
    }
    emit(dst, cap, &at, (const char *)s + i - run, run);
    emit(dst, cap, &at, "\"", 1);
    return at;
}

int fp_json_write_string(FILE *out, const char *s)
{
    char small[512];
    size_t need = fp_json_escape(small, sizeof(small), s);
    char *buf = small;
    if (need > sizeof(small)) {
        buf = malloc(need);
        if (!buf)
            return -ENOMEM;
        fp_json_escape(buf, need, s);
    }
    size_t n = fwrite(buf, 1, need, out);
    if (buf != small)
        free(buf);
    return n == need ? 0 : -EIO;
}
