// SPDX-License-Identifier: MIT
// Class names: a labels-file reader and a parser for Ultralytics' "names" metadata (a Python dict or list literal).
#include "framepipe/labels.h"

#include "framepipe/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Storage: one block of NUL-terminated names plus an index array. The
 * metadata parser is a small recursive-descent reader of exactly the subset
 * Python's repr() writes for a dict of int -> str or a list of str; anything
 * else is an error with the byte offset, never a guess.
 */

#define LABELS_MAX_BYTES (1u << 20)
#define LABELS_MAX_COUNT 100000

struct FpLabels {
    int count;
    char **names; /* names[i] points into text */
    char *text;
};

void fp_labels_destroy(FpLabels **pl)
{
    if (!pl || !*pl)
        return;
    free((*pl)->names);
    free((*pl)->text);
    free(*pl);
    *pl = NULL;
}

int fp_labels_count(const FpLabels *l)
{
    return l ? l->count : 0;
}

const char *fp_labels_name(const FpLabels *l, int id)
{
    if (!l || id < 0 || id >= l->count)
        return NULL;
    return l->names[id];
}

/* ---- labels file ---- */

/*
 * Splits `buf` (len bytes, NUL-terminated, owned: freed on failure) into one
 * trimmed name per line; `what` names the source in messages.
 */
static int labels_from_lines(FpLabels **out, char *buf, size_t len, const char *what)
{
    if (memchr(buf, '\0', len)) {
        size_t at = (size_t)((char *)memchr(buf, '\0', len) - buf);
        free(buf);
        return fp_error(FP_ECORRUPT, "%s: NUL byte at offset %zu (not a text file)", what, at);
    }
    int cap = 64, count = 0, last_nonblank = -1, first_blank = -1;
    char **names = malloc((size_t)cap * sizeof(char *));
    if (!names) {
        free(buf);
        return -ENOMEM;
    }
    char *s = buf;
    int line = 0;
    while (s < buf + len) {
        char *e = strchr(s, '\n');
        char *next = e ? e + 1 : s + strlen(s);
        char *end = e ? e : next;
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        while (s < end && isspace((unsigned char)*s))
            s++;
        *end = '\0';
        line++;
        if (count == cap) {
            if (cap >= LABELS_MAX_COUNT) {
                free(names);
                free(buf);
                return fp_error(FP_ETOO_LARGE, "%s: more than %d names", what, LABELS_MAX_COUNT);
            }
            cap *= 2;
            char **nn = realloc(names, (size_t)cap * sizeof(char *));
            if (!nn) {
                free(names);
                free(buf);
                return -ENOMEM;
            }
            names = nn;
        }
        names[count] = s;
        if (*s) {
            if (first_blank >= 0) {
                free(names);
                free(buf);
                return fp_error(FP_ECORRUPT, "%s: line %d is blank but names follow it (class ids "
                                "would shift)", what, first_blank);
            }
            last_nonblank = count;
        } else if (first_blank < 0) {
            first_blank = line;
        }
        count++;
        s = next;
    }
    count = last_nonblank + 1;
    if (count == 0) {
        free(names);
        free(buf);
        return fp_error(FP_ECORRUPT, "%s: no class names", what);
    }
    FpLabels *l = calloc(1, sizeof(*l));
    if (!l) {
        free(names);
        free(buf);
        return -ENOMEM;
    }
    l->count = count;
    l->names = names;
    l->text = buf;
    *out = l;
    return 0;
}

int fp_labels_load(FpLabels **out, const char *path)
{
    if (!out || !path)
        return fp_error(FP_EINVALID, "labels: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f)
        return fp_error(-errno, "labels file %s: %s", path, strerror(errno));
    char *buf = malloc(LABELS_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    size_t len = fread(buf, 1, LABELS_MAX_BYTES + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return fp_error(FP_EIO, "labels file %s: read error", path);
    }
    if (len > LABELS_MAX_BYTES) {
        free(buf);
        return fp_error(FP_ETOO_LARGE, "labels file %s: larger than %u bytes", path, LABELS_MAX_BYTES);
    }
    buf[len] = '\0';
    char what[600];
    snprintf(what, sizeof(what), "labels file %s", path);
    return labels_from_lines(out, buf, len, what);
}

/* ---- Ultralytics metadata: {0: 'person', ...} or ['person', ...] ---- */

typedef struct Parser {
    const char *s;
    size_t pos;
    const char *what;
} Parser;

static void skip_ws(Parser *p)
{
    while (p->s[p->pos] && isspace((unsigned char)p->s[p->pos]))
        p->pos++;
}

static int expect_err(Parser *p, const char *expected)
{
    char got = p->s[p->pos];
    if (!got)
        return fp_error(FP_ECORRUPT, "%s: expected %s at byte %zu, found the end of the text", p->what, expected,
                        p->pos);
    return fp_error(FP_ECORRUPT, "%s: expected %s at byte %zu, found '%c'", p->what, expected, p->pos,
                    isprint((unsigned char)got) ? got : '?');
}

/* Parses a quoted string into dst (which has room for strlen(s) + 1); returns its length or an error. */
static int parse_string(Parser *p, char *dst)
{
    char q = p->s[p->pos];
    if (q != '\'' && q != '"')
        return expect_err(p, "a quoted class name");
    size_t start = p->pos;
    p->pos++;
    int n = 0;
    for (;;) {
        char ch = p->s[p->pos];
        if (!ch)
            return fp_error(FP_ECORRUPT, "%s: the string opened at byte %zu is not closed", p->what, start);
        p->pos++;
        if (ch == q)
            break;
        if (ch == '\\') {
            char e = p->s[p->pos];
            size_t at = p->pos - 1;
            int hex = e == 'x' ? 2 : e == 'u' ? 4 : e == 'U' ? 8 : 0;
            if (hex) { /* \xHH, \uXXXX, \UXXXXXXXX (Python repr, JSON): written as UTF-8 */
                unsigned long cp = 0;
                for (int k = 1; k <= hex; k++) {
                    char h = p->s[p->pos + (size_t)k];
                    if (!isxdigit((unsigned char)h))
                        return fp_error(FP_ECORRUPT, "%s: bad \\%c escape at byte %zu (expected %d hex digits)",
                                        p->what, e, at, hex);
                    cp = cp * 16 + (unsigned long)(isdigit((unsigned char)h) ? h - '0' : (tolower((unsigned char)h) - 'a' + 10));
                }
                p->pos += (size_t)hex + 1;
                if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    return fp_error(FP_ECORRUPT, "%s: escape at byte %zu is not a valid character (U+%04lX)", p->what,
                                    at, cp);
                if (cp < 0x80) {
                    dst[n++] = (char)cp;
                } else if (cp < 0x800) {
                    dst[n++] = (char)(0xC0 | (cp >> 6));
                    dst[n++] = (char)(0x80 | (cp & 0x3F));
                } else if (cp < 0x10000) {
                    dst[n++] = (char)(0xE0 | (cp >> 12));
                    dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    dst[n++] = (char)(0x80 | (cp & 0x3F));
                } else {
                    dst[n++] = (char)(0xF0 | (cp >> 18));
                    dst[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
                    dst[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    dst[n++] = (char)(0x80 | (cp & 0x3F));
                }
                continue;
            }
            switch (e) {
            case '\\': case '\'': case '"': case '/': ch = e; break;
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            default:
                return fp_error(FP_ECORRUPT, "%s: unsupported escape '\\%c' at byte %zu", p->what,
                                isprint((unsigned char)e) ? e : '?', at);
            }
            p->pos++;
        }
        dst[n++] = ch;
    }
    dst[n] = '\0';
    return n;
}

static int parse_key(Parser *p, long *key)
{
    size_t start = p->pos;
    if (!isdigit((unsigned char)p->s[p->pos]))
        return expect_err(p, "a class number");
    long v = 0;
    while (isdigit((unsigned char)p->s[p->pos])) {
        v = v * 10 + (p->s[p->pos] - '0');
        if (v >= LABELS_MAX_COUNT)
            return fp_error(FP_ECORRUPT, "%s: class number at byte %zu is over %d", p->what, start,
                            LABELS_MAX_COUNT - 1);
        p->pos++;
    }
    *key = v;
    return 0;
}

int fp_labels_parse(FpLabels **out, const char *text, const char *what)
{
    if (!out || !text)
        return fp_error(FP_EINVALID, "labels: NULL metadata text");
    Parser p = {text, 0, what ? what : "class names metadata"};
    size_t len = strlen(text);
    if (len > LABELS_MAX_BYTES)
        return fp_error(FP_ETOO_LARGE, "%s: longer than %u bytes", p.what, LABELS_MAX_BYTES);
    /* names are never longer than the text: one block of len + count bytes is enough */
    char *block = malloc(2 * len + 2);
    int cap = 16;
    char **slots = calloc((size_t)cap, sizeof(char *));
    if (!block || !slots) {
        free(block);
        free(slots);
        return -ENOMEM;
    }
    size_t used = 0;
    int rc = 0, max_key = -1, items = 0;
    skip_ws(&p);
    char open = text[p.pos];
    if (open != '{' && open != '[') {
        /* not a literal: one name per line, as in a labels file */
        free(block);
        free(slots);
        char *copy = strdup(text);
        return copy ? labels_from_lines(out, copy, len, p.what) : -ENOMEM;
    }
    char close = open == '{' ? '}' : ']';
    p.pos++;
    skip_ws(&p);
    while (text[p.pos] != close) {
        long key = items;
        if (open == '{') {
            size_t kpos = p.pos;
            if ((rc = parse_key(&p, &key)) < 0)
                goto fail;
            skip_ws(&p);
            if (text[p.pos] != ':') {
                rc = expect_err(&p, "':' after the class number");
                goto fail;
            }
            p.pos++;
            skip_ws(&p);
            if (key < cap && slots[key]) {
                rc = fp_error(FP_ECORRUPT, "%s: class %ld appears twice (second at byte %zu)", p.what, key, kpos);
                goto fail;
            }
        }
        if (key >= LABELS_MAX_COUNT) {
            rc = fp_error(FP_ETOO_LARGE, "%s: more than %d names", p.what, LABELS_MAX_COUNT);
            goto fail;
        }
        while (key >= cap) {
            char **ns = realloc(slots, (size_t)cap * 2 * sizeof(char *));
            if (!ns) {
                rc = -ENOMEM;
                goto fail;
            }
            memset(ns + cap, 0, (size_t)cap * sizeof(char *));
            slots = ns;
            cap *= 2;
        }
        int n = parse_string(&p, block + used);
        if (n < 0) {
            rc = n;
            goto fail;
        }
        slots[key] = block + used;
        used += (size_t)n + 1;
        items++;
        if (key > max_key)
            max_key = (int)key;
        skip_ws(&p);
        if (text[p.pos] == ',') {
            p.pos++;
            skip_ws(&p);
        } else if (text[p.pos] != close) {
            rc = expect_err(&p, close == '}' ? "',' or '}'" : "',' or ']'");
            goto fail;
        }
    }
    p.pos++;
    skip_ws(&p);
    if (text[p.pos]) {
        rc = expect_err(&p, "the end of the text");
        goto fail;
    }
    if (items == 0) {
        rc = fp_error(FP_ECORRUPT, "%s: no class names", p.what);
        goto fail;
    }
    for (int i = 0; i <= max_key; i++) {
        if (!slots[i]) {
            rc = fp_error(FP_ECORRUPT, "%s: class %d is missing (classes must be numbered 0..%d)", p.what, i, max_key);
            goto fail;
        }
    }
    FpLabels *l = calloc(1, sizeof(*l));
    if (!l) {
        rc = -ENOMEM;
        goto fail;
    }
    l->count = max_key + 1;
    l->names = slots;
    l->text = block;
    *out = l;
    return 0;
fail:
    free(block);
    free(slots);
    return rc;
}
