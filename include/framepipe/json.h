// SPDX-License-Identifier: MIT
// JSON string escaping (RFC 8259, invalid UTF-8 as U+FFFD), shared by the per-frame writer and the status writers.
#ifndef FRAMEPIPE_JSON_H
#define FRAMEPIPE_JSON_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes the JSON string literal of `s` (quotes included; NULL gives
 * `null`) into dst[0 .. cap): control characters as \n, \t, ... or \u00XX,
 * quotes and backslashes escaped, bytes that are not valid UTF-8 (RFC 3629:
 * no overlongs, no surrogates, <= U+10FFFF) as \ufffd. Returns the length of
 * the whole literal; when that is > cap, dst holds a truncated prefix and the
 * caller retries with a larger buffer (at most 6 * strlen(s) + 2 bytes are
 * ever needed). Writes no NUL terminator; never allocates; any thread.
 */
size_t fp_json_escape(char *dst, size_t cap, const char *s);

/*
 * Writes the JSON string literal of `s` (as fp_json_escape) to `out`. For
 * status and summary writers, not a per-frame path: a string of over 80
 * bytes costs one allocation. Returns 0, -EIO (short write) or -ENOMEM.
 * Any thread (stdio locks `out`).
 */
int fp_json_write_string(FILE *out, const char *s);

#ifdef __cplusplus
}
#endif
#endif
