// SPDX-License-Identifier: MIT
// The Redis output's configuration: defaults and the "redis://", "rediss://" and "unix://" URL parser (built with or without hiredis).
//
// The parser works on one heap copy of the URL: it cuts the copy into its
// parts with NULs and decodes %XX escapes in place (a decoded part is never
// longer than its text), so every string it sets in the config points into
// that one block, which the caller frees. Messages name the URL with its
// password replaced by "***" (a URL is configuration, a password is not).
#include "framepipe/deliver.h"

#include "framepipe/error.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fp_redis_config_init(FpRedisConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 6379;
    cfg->stream_frames = "framepipe:frames";
    cfg->stream_events = "framepipe:events";
    cfg->maxlen = 100000;
    cfg->timeout_ns = 2000000000LL;
}

/* url with the password of "scheme://user:password@..." (all of a user info without ':') or "...?password=..."
 * replaced by "***", into buf. */
static const char *masked_url(const char *url, char *buf, size_t cap)
{
    const char *scheme_end = strstr(url, "://");
    const char *auth = scheme_end ? scheme_end + 3 : url;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth_end; p++)
        if (*p == '@')
            at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    const char *qpw = strstr(url, "password=");
    if (colon) {
        snprintf(buf, cap, "%.*s:***%s", (int)(colon - url), url, at);
    } else if (at) { /* "redis://secret@host": whatever it is, it may be a password */
        snprintf(buf, cap, "%.*s***%s", (int)(auth - url), url, at);
    } else if (qpw && qpw > auth_end && (qpw[-1] == '?' || qpw[-1] == '&')) {
        const char *rest = qpw + strcspn(qpw, "&#");
        snprintf(buf, cap, "%.*spassword=***%s", (int)(qpw - url), url, rest);
    } else {
        snprintf(buf, cap, "%s", url);
    }
    return buf;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes %XX escapes of s in place. false on a bad escape or an escaped NUL. */
static bool percent_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int hi = hex_value(r[1]), lo = hi < 0 ? -1 : hex_value(r[2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            return false;
        *w++ = (char)(hi * 16 + lo);
        r += 2;
    }
    *w = '\0';
    return true;
}

/* A decimal in [lo, hi] that is the whole of s; false otherwise. */
static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* Parses the query "db=N&username=U&password=P" (unix:// URLs) into c. */
static int parse_query(char *q, FpRedisConfig *c, const char *shown)
{
    for (char *item = q; item && *item;) {
        char *next = strchr(item, '&');
        if (next)
            *next++ = '\0';
        char *eq = strchr(item, '=');
        if (!eq)
            return fp_error(FP_ECONFIG, "redis URL \"%s\": query item \"%s\" is not name=value", shown, item);
        *eq = '\0';
        char *value = eq + 1;
        if (!percent_decode(value))
            return fp_error(FP_ECONFIG, "redis URL \"%s\": bad %%-escape in the value of \"%s\"", shown, item);
        if (strcmp(item, "db") == 0) {
            long db = 0;
            if (!parse_int(value, 0, INT_MAX, &db))
                return fp_error(FP_ECONFIG, "redis URL \"%s\": db \"%s\" is not a number >= 0", shown, value);
            c->db = (int)db;
        } else if (strcmp(item, "password") == 0) {
            c->password = value;
        } else if (strcmp(item, "username") == 0) {
            c->username = value;
        } else {
            return fp_error(FP_ECONFIG, "redis URL \"%s\": unknown query item \"%s\" (db, username, password)",
                            shown, item);
        }
        item = next;
    }
    return 0;
}

/* "unix:///path[?query]": s is the copy after "unix://". */
static int parse_unix(char *s, FpRedisConfig *c, const char *shown)
{
    if (s[0] != '/')
        return fp_error(FP_ECONFIG, "redis URL \"%s\": the socket path must be absolute (unix:///path/to/redis.sock)",
                        shown);
    char *q = strchr(s, '?');
    if (q)
        *q++ = '\0';
    if (!percent_decode(s))
        return fp_error(FP_ECONFIG, "redis URL \"%s\": bad %%-escape in the socket path", shown);
    if (strcmp(s, "/") == 0)
        return fp_error(FP_ECONFIG, "redis URL \"%s\": no socket path", shown);
    c->unix_socket = s;
    return q ? parse_query(q, c, shown) : 0;
}

/* "[[user]:password@]host[:port][/db]": s is the copy after "redis://" or "rediss://". */
static int parse_tcp(char *s, FpRedisConfig *c, const char *shown)
{
    char *path = s + strcspn(s, "/?#");
    char delim = *path;
    if (delim == '?' || delim == '#')
        return fp_error(FP_ECONFIG, "redis URL \"%s\": '%c' is not allowed here (redis://[[user]:password@]host[:port][/db])",
                        shown, delim);
    if (delim == '/')
        *path++ = '\0';

    char *hostport = s;
    char *at = strrchr(s, '@'); /* the last '@': a password may hold one unescaped */
    if (at) {
        *at = '\0';
        hostport = at + 1;
        char *colon = strchr(s, ':');
        if (!colon)
            return fp_error(FP_ECONFIG,
                            "redis URL \"%s\": user info without ':' (write redis://:password@host or "
                            "redis://user:password@host)", shown);
        *colon = '\0';
        if (!percent_decode(s) || !percent_decode(colon + 1))
            return fp_error(FP_ECONFIG, "redis URL \"%s\": bad %%-escape in the user or password", shown);
        c->username = *s ? s : NULL;
        c->password = colon + 1;
        if (!*c->password)
            return fp_error(FP_ECONFIG, "redis URL \"%s\": empty password", shown);
    }

    char *port = NULL;
    if (hostport[0] == '[') { /* [IPv6]:port */
        char *rb = strchr(hostport, ']');
        if (!rb)
            return fp_error(FP_ECONFIG, "redis URL \"%s\": '[' without ']' around the IPv6 address", shown);
        *rb = '\0';
        if (rb[1] == ':')
            port = rb + 2;
        else if (rb[1])
            return fp_error(FP_ECONFIG, "redis URL \"%s\": \"%s\" after the IPv6 address", shown, rb + 1);
        hostport++;
    } else {
        char *colon = strchr(hostport, ':');
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
    }
    if (!*hostport)
        return fp_error(FP_ECONFIG, "redis URL \"%s\": no host", shown);
    c->host = hostport;
    if (port) {
        long v = 0;
        if (!parse_int(port, 1, 65535, &v))
            return fp_error(FP_ECONFIG, "redis URL \"%s\": port \"%s\" is not a number in 1-65535", shown, port);
        c->port = (int)v;
    }

    if (delim == '/' && *path) {
        long db = 0;
        if (!parse_int(path, 0, INT_MAX, &db))
            return fp_error(FP_ECONFIG, "redis URL \"%s\": \"/%s\" is not a database number (/0, /1, ...)", shown,
                            path);
        c->db = (int)db;
    }
    return 0;
}

int fp_redis_config_parse_url(FpRedisConfig *cfg, const char *url, char **storage)
{
    if (!cfg || !url || !storage)
        return fp_error(FP_EINVALID, "redis URL: NULL argument");
    char shown[512];
    masked_url(url, shown, sizeof(shown));

    FpRedisConfig c = *cfg;
    size_t skip;
    bool unix_url = false;
    if (strncmp(url, "redis://", 8) == 0) {
        skip = 8;
        c.tls = false;
    } else if (strncmp(url, "rediss://", 9) == 0) {
        skip = 9;
        c.tls = true;
    } else if (strncmp(url, "unix://", 7) == 0) {
        skip = 7;
        unix_url = true;
        c.tls = false;
    } else {
        return fp_error(FP_ECONFIG,
                        "redis URL \"%s\": unknown scheme (redis://[[user]:password@]host[:port][/db], "
                        "rediss://..., unix:///path[?db=N])", shown);
    }
    char *copy = strdup(url + skip);
    if (!copy)
        return -ENOMEM;
    c.unix_socket = NULL;
    int rc = unix_url ? parse_unix(copy, &c, shown) : parse_tcp(copy, &c, shown);
    if (rc < 0) {
        free(copy);
        return rc;
    }
    *cfg = c;
    *storage = copy;
    return 0;
}
