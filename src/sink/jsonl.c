// SPDX-License-Identifier: MIT
// JSON lines sink: one hand-formatted, strictly valid JSON object per processed frame, one write(2) per line.
#include "framepipe/sink.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/json.h"
#include "framepipe/log.h"
#include "sink_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design: a line is formatted into one buffer owned by the sink and written
 * with write(2) under the sink's mutex, so lines from several workers never
 * interleave and a consumer reading a pipe sees each line as soon as it is
 * written (there is no stdio buffer to flush). The buffer starts large
 * enough for hundreds of detections and doubles only when a frame does not
 * fit (formatting then restarts), so after warm-up nothing is allocated.
 *
 * Numbers are formatted by hand: integer arithmetic for timestamps and
 * latencies (exact, independent of the C locale's decimal point), rounding
 * to a fixed number of decimals for floats, and `null` for NaN and
 * infinities so the line is always valid JSON. Strings are escaped per
 * RFC 8259; bytes that are not valid UTF-8 become U+FFFD.
 *
 * SIGPIPE: when the output is a pipe or a socket, SIGPIPE is blocked for the
 * calling thread around the write and a SIGPIPE raised by it is consumed, so
 * a closed reader gives -EPIPE instead of killing the process.
 */

#define JSONL_INITIAL_CAP (64u * 1024u)
#define JSONL_MAX_CAP (64u * 1024u * 1024u)

struct FpJsonlSink {
    pthread_mutex_t lock;
    FpLineOut out; /* the file or stdout; SIGPIPE-safe writes */
    char *path;
    char *buf;
    size_t cap;
    _Atomic uint64_t lines;
    _Atomic bool gone; /* a write found the reader gone (-EPIPE) */
};

/* ---- bounded appender ---- */

typedef struct Out {
    char *buf;
    size_t len, cap;
    bool full; /* something did not fit: the line must be formatted again in a larger buffer */
} Out;

static void put(Out *o, const char *s, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void put_str(Out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_char(Out *o, char c)
{
    put(o, &c, 1);
}

static void put_u64(Out *o, uint64_t v)
{
    char tmp[24];
    int i = (int)sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(o, tmp + i, sizeof(tmp) - (size_t)i);
}

static void put_i64(Out *o, int64_t v)
{
    if (v < 0) {
        put_char(o, '-');
        put_u64(o, 0 - (uint64_t)v);
    } else {
        put_u64(o, (uint64_t)v);
    }
}

/* `digits` decimal digits of v (zero-padded). */
static void put_digits(Out *o, uint64_t v, int digits)
{
    char tmp[24];
    for (int i = digits - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + v % 10);
        v /= 10;
    }
    put(o, tmp, (size_t)digits);
}

/* A signed integer count of 10^-decimals units, as a decimal number. */
static void put_scaled(Out *o, bool negative, uint64_t units, int decimals)
{
    uint64_t p = 1;
    for (int i = 0; i < decimals; i++)
        p *= 10;
    if (negative && units != 0)
        put_char(o, '-');
    put_u64(o, units / p);
    if (decimals > 0) {
        put_char(o, '.');
        put_digits(o, units % p, decimals);
    }
}

/* A float rounded to `decimals` (<= 4) decimals; null for NaN/inf. */
static void put_real(Out *o, double v, int decimals)
{
    if (!isfinite(v)) {
        put_str(o, "null");
        return;
    }
    if (fabs(v) < 1e14) {
        double scale = 1.0;
        for (int i = 0; i < decimals; i++)
            scale *= 10.0;
        long long units = llround(v * scale);
        put_scaled(o, units < 0, units < 0 ? 0 - (uint64_t)units : (uint64_t)units, decimals);
        return;
    }
    /* Absurd magnitudes (a float reaches 3.4e38): an integer, still exact JSON. */
    char tmp[400];
    int n = snprintf(tmp, sizeof(tmp), "%.0f", v);
    if (n > 0 && (size_t)n < sizeof(tmp))
        put(o, tmp, (size_t)n);
    else
        put_str(o, "null");
}

/* Nanoseconds as a decimal count of `unit_ns` units with `decimals` decimals (rounded to the last one). */
static void put_ns(Out *o, int64_t ns, uint64_t unit_ns, int decimals)
{
    uint64_t step = unit_ns;
    for (int i = 0; i < decimals; i++)
        step /= 10; /* ns per last digit */
    bool neg = ns < 0;
    uint64_t u = neg ? 0 - (uint64_t)ns : (uint64_t)ns;
    put_scaled(o, neg, (u + step / 2) / step, decimals);
}

/* A JSON string literal of str (NULL: null), escaped by core's fp_json_escape. */
static void put_json_string(Out *o, const char *str)
{
    if (o->full)
        return;
    size_t n = fp_json_escape(o->buf + o->len, o->cap - o->len, str);
    if (n > o->cap - o->len)
        o->full = true;
    else
        o->len += n;
}

/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" for ns since the epoch (UTC, proleptic Gregorian; civil_from_days of H. Hinnant). */
static void put_utc(Out *o, int64_t ns)
{
    int64_t us = ns >= 0 ? ns / 1000 : -((-ns + 999) / 1000);
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t sod = secs - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    if (y < 0 || y > 9999) { /* out of ISO 8601's 4-digit range: unknown rather than mis-printed */
        put_str(o, "null");
        return;
    }
    put_char(o, '"');
    put_digits(o, (uint64_t)y, 4);
    put_char(o, '-');
    put_digits(o, (uint64_t)m, 2);
    put_char(o, '-');
    put_digits(o, (uint64_t)d, 2);
    put_char(o, 'T');
    put_digits(o, (uint64_t)(sod / 3600), 2);
    put_char(o, ':');
    put_digits(o, (uint64_t)(sod / 60 % 60), 2);
    put_char(o, ':');
    put_digits(o, (uint64_t)(sod % 60), 2);
    put_char(o, '.');
    put_digits(o, (uint64_t)frac, 6);
    put_str(o, "Z\"");
}

/* The whole line for r, newline included, into o (o->full when it did not fit). */
static void format_line(Out *o, const FpFrameResult *r, int64_t now_ns)
{
    const FpFrame *f = r->frame;
    put_str(o, "{\"camera\":");
    put_json_string(o, r->camera_name);
    put_str(o, ",\"camera_id\":");
    put_i64(o, f->camera);
    put_str(o, ",\"seq\":");
    put_u64(o, f->seq);
    put_str(o, ",\"pts\":");
    put_ns(o, f->pts_ns, 1000000000u, 6);
    put_str(o, ",\"capture_time\":");
    if (f->capture_ns != 0)
        put_utc(o, f->capture_ns);
    else
        put_str(o, "null");
    put_str(o, ",\"width\":");
    put_i64(o, f->width);
    put_str(o, ",\"height\":");
    put_i64(o, f->height);
    put_str(o, ",\"batch\":");
    put_i64(o, r->batch_size);
    put_str(o, ",\"latency_ms\":{\"queue\":");
    put_ns(o, r->queue_ns, 1000000u, 3);
    put_str(o, ",\"prep\":");
    put_ns(o, r->prep_ns, 1000000u, 3);
    put_str(o, ",\"infer\":");
    put_ns(o, r->infer_ns, 1000000u, 3);
    put_str(o, ",\"post\":");
    put_ns(o, r->post_ns, 1000000u, 3);
    put_str(o, ",\"total\":");
    if (f->decoded_ns > 0)
        put_ns(o, now_ns - f->decoded_ns, 1000000u, 3);
    else
        put_str(o, "null");
    put_str(o, "},\"detections\":[");
    int nk_model = r->n_keypoints < 0 ? 0 : r->n_keypoints > FP_MAX_KEYPOINTS ? FP_MAX_KEYPOINTS : r->n_keypoints;
    for (int i = 0; i < r->n_dets && !o->full; i++) {
        const FpDetection *d = &r->dets[i];
        if (i)
            put_char(o, ',');
        put_str(o, "{\"class_id\":");
        put_i64(o, d->class_id);
        put_str(o, ",\"class\":");
        const char *name = NULL;
        if (r->class_names && d->class_id >= 0 && d->class_id < r->n_classes)
            name = r->class_names[d->class_id];
        put_json_string(o, name);
        if (r->track_ids) {
            put_str(o, ",\"track_id\":");
            if (r->track_ids[i])
                put_u64(o, r->track_ids[i]);
            else
                put_str(o, "null"); /* tracking is on, this detection has no track (e.g. a low score) */
        }
        put_str(o, ",\"score\":");
        put_real(o, d->score, 4);
        put_str(o, ",\"box\":[");
        put_real(o, d->box.x1, 1);
        put_char(o, ',');
        put_real(o, d->box.y1, 1);
        put_char(o, ',');
        put_real(o, d->box.x2, 1);
        put_char(o, ',');
        put_real(o, d->box.y2, 1);
        put_char(o, ']');
        if (nk_model > 0) {
            int nk = d->n_keypoints < 0 ? 0 : d->n_keypoints > nk_model ? nk_model : d->n_keypoints;
            put_str(o, ",\"keypoints\":[");
            for (int k = 0; k < nk; k++) {
                if (k)
                    put_char(o, ',');
                put_char(o, '[');
                put_real(o, d->keypoints[k][0], 1);
                put_char(o, ',');
                put_real(o, d->keypoints[k][1], 1);
                put_char(o, ']');
            }
            put_char(o, ']');
        }
        put_char(o, '}');
    }
    put_str(o, "]}\n");
}

bool fp__frame_json(const FpFrameResult *r, int64_t now_ns, char *buf, size_t cap, size_t *len)
{
    Out o = {buf, 0, cap, false};
    format_line(&o, r, now_ns);
    if (o.full || o.len == 0)
        return false;
    o.len--; /* the newline */
    if (o.len >= cap)
        return false;
    buf[o.len] = '\0';
    *len = o.len;
    return true;
}

/* ---- output ---- */

int fp_jsonl_sink_write(void *sink, const FpFrameResult *r)
{
    FpJsonlSink *s = sink;
    if (!s || !r || !r->frame || r->n_dets < 0 || (r->n_dets > 0 && !r->dets))
        return fp_error(FP_EINVALID, "jsonl sink %s: invalid frame result", s ? s->path : "(null)");
    pthread_mutex_lock(&s->lock);
    int64_t now = fp_clock_ns();
    Out o;
    int rc = 0;
    for (;;) {
        o = (Out){s->buf, 0, s->cap, false};
        format_line(&o, r, now);
        if (!o.full)
            break;
        if (s->cap >= JSONL_MAX_CAP) {
            rc = fp_error(FP_ETOO_LARGE, "jsonl sink %s: a line of camera %s (%d detections) exceeds %u bytes",
                          s->path, r->camera_name ? r->camera_name : "?", r->n_dets, JSONL_MAX_CAP);
            goto out;
        }
        char *bigger = realloc(s->buf, s->cap * 2);
        if (!bigger) {
            rc = fp_error(-ENOMEM, "jsonl sink %s: out of memory for a %zu-byte line", s->path, s->cap * 2);
            goto out;
        }
        s->buf = bigger;
        s->cap *= 2;
    }
    rc = fp__line_out_write(&s->out, o.buf, o.len);
    if (rc == -EPIPE)
        atomic_store(&s->gone, true);
    if (rc < 0)
        rc = fp_error(rc, "jsonl sink: cannot write to %s: %s", s->path, fp_strerror(rc));
    else
        atomic_fetch_add_explicit(&s->lines, 1, memory_order_relaxed);
out:
    pthread_mutex_unlock(&s->lock);
    return rc;
}

bool fp_jsonl_sink_gone(const FpJsonlSink *s)
{
    return s && atomic_load(&((FpJsonlSink *)s)->gone);
}

uint64_t fp_jsonl_sink_lines(const FpJsonlSink *s)
{
    return s ? atomic_load_explicit(&((FpJsonlSink *)s)->lines, memory_order_relaxed) : 0;
}

int fp_jsonl_sink_create(FpJsonlSink **out, const char *path)
{
    if (!out || !path || !path[0])
        return fp_error(FP_EINVALID, "jsonl sink: no output path given");
    FpJsonlSink *s = calloc(1, sizeof(*s));
    if (!s)
        return fp_error(-ENOMEM, "jsonl sink %s: out of memory", path);
    s->path = strdup(path);
    s->cap = JSONL_INITIAL_CAP;
    s->buf = malloc(s->cap);
    if (!s->path || !s->buf) {
        free(s->path);
        free(s->buf);
        free(s);
        return fp_error(-ENOMEM, "jsonl sink %s: out of memory", path);
    }
    int rc = fp__line_out_open(&s->out, path, false);
    if (rc < 0) {
        free(s->path);
        free(s->buf);
        free(s);
        return fp_error(rc, "jsonl sink: cannot open %s: %s", path, fp_strerror(rc));
    }
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->lines, 0);
    *out = s;
    return 0;
}

void fp_jsonl_sink_destroy(FpJsonlSink **ps)
{
    if (!ps || !*ps)
        return;
    FpJsonlSink *s = *ps;
    int rc = fp__line_out_close(&s->out);
    if (rc < 0)
        fp_log_error("sink", "jsonl sink: closing %s: %s", s->path, fp_strerror(rc));
    pthread_mutex_destroy(&s->lock);
    free(s->buf);
    free(s->path);
    free(s);
    *ps = NULL;
}
