// SPDX-License-Identifier: MIT
// The distributed roles' messages: frame and result entries as Redis Stream field/value lists, encoded without allocation and parsed strictly.
//
// Both parsers read only the arrays they are given and are fuzzed as such:
// every field is looked up once, numbers are parsed from a bounded local
// copy (values are not NUL-terminated), and anything unexpected is
// FP_ECORRUPT naming the field. Detections travel packed, little-endian,
// FP_DIST_DET_BYTES each: x1 y1 x2 y2 score (float32), class_id (int32),
// n_keypoints (int32), 8 keypoints x, y (float32).
#include "framepipe/dist.h"

#include "framepipe/error.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F_V, F_CAMERA, F_EPOCH, F_SEQ, F_FRAME, F_PTS, F_CAPTURE, F_SRC, F_DST, F_TF, F_ENC, F_DATA, N_FRAME_FIELDS };
static const char *const frame_names[N_FRAME_FIELDS] = {"v",   "camera", "epoch", "seq", "frame", "pts",
                                                        "capture", "src", "dst", "tf", "enc", "data"};
enum { R_V, R_CAMERA, R_EPOCH, R_SEQ, R_FRAME, R_PTS, R_CAPTURE, R_SRC, R_WORKER, R_BATCH, R_INFER, R_DONE,
       R_N, R_DETS, N_RESULT_FIELDS };
static const char *const result_names[N_RESULT_FIELDS] = {"v",   "camera", "epoch", "seq",   "frame", "pts", "capture",
                                                          "src", "worker", "batch", "infer", "done",  "n",   "dets"};

const char *fp_dist_encoding_name(FpDistEncoding e)
{
    return e == FP_DIST_RAW ? "raw" : e == FP_DIST_JPEG ? "jpeg" : "?";
}

int fp_dist_encoding_parse(const char *name, FpDistEncoding *out)
{
    if (name && !strcmp(name, "jpeg"))
        *out = FP_DIST_JPEG;
    else if (name && !strcmp(name, "raw"))
        *out = FP_DIST_RAW;
    else
        return fp_error(FP_EINVALID, "encoding '%s': expected jpeg or raw", name ? name : "(null)");
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n < 1 || n >= FP_DIST_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* ---- encoding ---- */

static void put(FpDistFields *f, const char *name, const char *value, size_t len)
{
    f->name[f->n] = name;
    f->name_len[f->n] = strlen(name);
    f->value[f->n] = value;
    f->value_len[f->n] = len;
    f->n++;
}

/* A value formatted into the field's own text slot. */
static void putf(FpDistFields *f, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void putf(FpDistFields *f, const char *name, const char *fmt, ...)
{
    char *t = f->text[f->n];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(t, sizeof(f->text[0]), fmt, ap);
    va_end(ap);
    /* the slot fits the longest value written (8 x "%.9g" of a float: 127 bytes); never a length past it */
    if (len < 0 || (size_t)len >= sizeof(f->text[0]))
        len = 0;
    put(f, name, t, (size_t)len);
}

/* The clip rectangle lies inside the source. */
static bool clip_ok(const FpTransform *t)
{
    return t->clip_x0 >= 0 && t->clip_y0 >= 0 && t->clip_x1 <= (float)t->src_width &&
           t->clip_y1 <= (float)t->src_height && t->clip_x0 <= t->clip_x1 && t->clip_y0 <= t->clip_y1;
}

static bool transform_ok(const FpTransform *t)
{
    const float v[8] = {t->scale_x, t->scale_y, t->offset_x, t->offset_y,
                        t->clip_x0, t->clip_y0, t->clip_x1,  t->clip_y1};
    for (int i = 0; i < 8; i++)
        if (!isfinite(v[i]))
            return false;
    return t->scale_x > 0 && t->scale_y > 0 && t->src_width >= 1 && t->src_height >= 1 &&
           t->src_width <= FP_DIST_MAX_SIDE && t->src_height <= FP_DIST_MAX_SIDE && t->dst_width >= 1 &&
           t->dst_height >= 1 && t->dst_width <= FP_DIST_MAX_SIDE && t->dst_height <= FP_DIST_MAX_SIDE;
}

int fp_dist_frame_encode(const FpDistFrame *m, FpDistFields *f)
{
    if (!m || !f)
        return fp_error(FP_EINVALID, "frame message: NULL argument");
    if (!name_ok(m->camera, strlen(m->camera)))
        return fp_error(FP_EINVALID, "frame message: camera name '%s' is not [A-Za-z0-9_.-]{1,63}", m->camera);
    if (!transform_ok(&m->tf) || !clip_ok(&m->tf))
        return fp_error(FP_EINVALID, "frame message: camera %s: bad transform or sizes", m->camera);
    if (m->encoding != FP_DIST_JPEG && m->encoding != FP_DIST_RAW)
        return fp_error(FP_EINVALID, "frame message: camera %s: bad encoding %d", m->camera, (int)m->encoding);
    /* what the parser would refuse is refused here, so a sent message always parses */
    if (m->epoch < 0 || m->capture_ns < 0)
        return fp_error(FP_EINVALID, "frame message: camera %s: negative epoch or capture time", m->camera);
    if (m->encoding == FP_DIST_RAW && m->payload_len != (size_t)m->tf.dst_width * (size_t)m->tf.dst_height * 3)
        return fp_error(FP_EINVALID, "frame message: camera %s: raw payload of %zu bytes for %dx%d RGB", m->camera,
                        m->payload_len, m->tf.dst_width, m->tf.dst_height);
    if (m->encoding == FP_DIST_JPEG && (m->payload_len < 4 || !m->payload || m->payload[0] != 0xFF ||
                                        m->payload[1] != 0xD8))
        return fp_error(FP_EINVALID, "frame message: camera %s: the payload is not a JPEG", m->camera);
    const FpTransform *t = &m->tf;
    f->n = 0;
    putf(f, "v", "%d", FP_DIST_VERSION);
    put(f, "camera", m->camera, strlen(m->camera));
    putf(f, "epoch", "%" PRId64, m->epoch);
    putf(f, "seq", "%" PRIu64, m->seq);
    putf(f, "frame", "%" PRIu64, m->frame);
    putf(f, "pts", "%" PRId64, m->pts_ns);
    putf(f, "capture", "%" PRId64, m->capture_ns);
    putf(f, "src", "%dx%d", t->src_width, t->src_height);
    putf(f, "dst", "%dx%d", t->dst_width, t->dst_height);
    putf(f, "tf", "%.9g %.9g %.9g %.9g %.9g %.9g %.9g %.9g", (double)t->scale_x, (double)t->scale_y,
         (double)t->offset_x, (double)t->offset_y, (double)t->clip_x0, (double)t->clip_y0, (double)t->clip_x1,
         (double)t->clip_y1);
    put(f, "enc", fp_dist_encoding_name(m->encoding), strlen(fp_dist_encoding_name(m->encoding)));
    put(f, "data", (const char *)m->payload, m->payload_len);
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static void put_f32(uint8_t *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    put_u32(p, u);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float get_f32(const uint8_t *p)
{
    uint32_t u = get_u32(p);
    float v;
    memcpy(&v, &u, 4);
    return v;
}

static bool det_ok(const FpDetection *d, int nk)
{
    bool finite = isfinite(d->box.x1) && isfinite(d->box.y1) && isfinite(d->box.x2) && isfinite(d->box.y2) &&
                  isfinite(d->score);
    for (int k = 0; k < nk; k++)
        finite = finite && isfinite(d->keypoints[k][0]) && isfinite(d->keypoints[k][1]);
    return finite && d->box.x2 >= d->box.x1 && d->box.y2 >= d->box.y1 && d->class_id >= 0;
}

bool fp_dist_detection_ok(const FpDetection *d)
{
    return d && d->n_keypoints >= 0 && d->n_keypoints <= FP_MAX_KEYPOINTS && det_ok(d, d->n_keypoints);
}

int fp_dist_result_encode(const FpDistResult *r, const FpDetection *dets, uint8_t *buf, size_t cap,
                          FpDistFields *f)
{
    if (!r || !f || (r->n_dets > 0 && (!dets || !buf)))
        return fp_error(FP_EINVALID, "result message: NULL argument");
    if (!name_ok(r->camera, strlen(r->camera)) || !name_ok(r->worker, strlen(r->worker)))
        return fp_error(FP_EINVALID, "result message: camera '%s' or worker '%s' is not [A-Za-z0-9_.-]{1,63}",
                        r->camera, r->worker);
    if (r->n_dets < 0 || r->n_dets > FP_DIST_MAX_DETS || r->batch < 1 || r->batch > FP_DIST_MAX_DETS)
        return fp_error(FP_EINVALID, "result message: camera %s: %d detections, batch %d", r->camera, r->n_dets,
                        r->batch);
    if (r->src_width < 1 || r->src_height < 1 || r->src_width > FP_DIST_MAX_SIDE || r->src_height > FP_DIST_MAX_SIDE ||
        r->epoch < 0 || r->capture_ns < 0 || r->infer_ns < 0 || r->done_ns < 0)
        return fp_error(FP_EINVALID, "result message: camera %s: source %dx%d, or a negative epoch or time",
                        r->camera, r->src_width, r->src_height);
    size_t need = (size_t)r->n_dets * FP_DIST_DET_BYTES;
    if (need > cap)
        return fp_error(FP_ETOO_LARGE, "result message: camera %s: %d detections need %zu bytes, %zu given",
                        r->camera, r->n_dets, need, cap);
    for (int i = 0; i < r->n_dets; i++) {
        uint8_t *p = buf + (size_t)i * FP_DIST_DET_BYTES;
        const FpDetection *d = &dets[i];
        int nk = d->n_keypoints < 0 ? 0 : d->n_keypoints > FP_MAX_KEYPOINTS ? FP_MAX_KEYPOINTS : d->n_keypoints;
        if (!det_ok(d, nk)) /* what the parser would refuse is refused here, so a sent result always parses */
            return fp_error(FP_EINVALID, "result message: camera %s: detection %d is not a finite box "
                                         "(x2 >= x1, y2 >= y1) with a class >= 0", r->camera, i);
        put_f32(p, d->box.x1), put_f32(p + 4, d->box.y1), put_f32(p + 8, d->box.x2), put_f32(p + 12, d->box.y2);
        put_f32(p + 16, d->score);
        put_u32(p + 20, (uint32_t)d->class_id);
        put_u32(p + 24, (uint32_t)nk);
        for (int k = 0; k < FP_MAX_KEYPOINTS; k++) {
            put_f32(p + 28 + k * 8, k < nk ? d->keypoints[k][0] : 0.f);
            put_f32(p + 32 + k * 8, k < nk ? d->keypoints[k][1] : 0.f);
        }
    }
    f->n = 0;
    putf(f, "v", "%d", FP_DIST_VERSION);
    put(f, "camera", r->camera, strlen(r->camera));
    putf(f, "epoch", "%" PRId64, r->epoch);
    putf(f, "seq", "%" PRIu64, r->seq);
    putf(f, "frame", "%" PRIu64, r->frame);
    putf(f, "pts", "%" PRId64, r->pts_ns);
    putf(f, "capture", "%" PRId64, r->capture_ns);
    putf(f, "src", "%dx%d", r->src_width, r->src_height);
    put(f, "worker", r->worker, strlen(r->worker));
    putf(f, "batch", "%d", r->batch);
    putf(f, "infer", "%" PRId64, r->infer_ns);
    putf(f, "done", "%" PRId64, r->done_ns);
    putf(f, "n", "%d", r->n_dets);
    put(f, "dets", (const char *)buf, need);
    return 0;
}

/* ---- parsing ---- */

/* v escaped into buf (printable ASCII kept, others \xNN), cut to 40 bytes of input with "..." */
static const char *shown(const char *v, size_t n, char *buf, size_t cap)
{
    size_t w = 0;
    for (size_t i = 0; i < n && i < 40 && w + 5 < cap; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch >= 32 && ch < 127 && ch != '\'' && ch != '\\')
            buf[w++] = (char)ch;
        else
            w += (size_t)snprintf(buf + w, cap - w, "\\x%02x", ch);
    }
    if (n > 40 && w + 4 < cap)
        memcpy(buf + w, "...", 3), w += 3;
    buf[w] = 0;
    return buf;
}

typedef struct Lookup {
    const char *what; /* "frame message" / "result message" */
    const FpDistFields *f;
    int index[FP_DIST_MAX_FIELDS]; /* >= N_RESULT_FIELDS, N_FRAME_FIELDS */
} Lookup;

/* Finds each of names[0..n) exactly once and nothing else. */
static int lookup(Lookup *l, const char *const *names, int n)
{
    const FpDistFields *f = l->f;
    char sb[200];
    if (f->n < 0 || f->n > FP_DIST_MAX_FIELDS)
        return fp_error(FP_ECORRUPT, "%s: %d fields (at most %d)", l->what, f->n, FP_DIST_MAX_FIELDS);
    for (int k = 0; k < n; k++)
        l->index[k] = -1;
    for (int i = 0; i < f->n; i++) {
        if (!f->name[i] || (!f->value[i] && f->value_len[i] > 0))
            return fp_error(FP_ECORRUPT, "%s: field %d has no name or value", l->what, i);
        int k = 0;
        while (k < n && !(strlen(names[k]) == f->name_len[i] && !memcmp(names[k], f->name[i], f->name_len[i])))
            k++;
        if (k == n)
            return fp_error(FP_ECORRUPT, "%s: unknown field '%s'", l->what,
                            shown(f->name[i], f->name_len[i], sb, sizeof(sb)));
        if (l->index[k] >= 0)
            return fp_error(FP_ECORRUPT, "%s: field '%s' given twice", l->what, names[k]);
        l->index[k] = i;
    }
    for (int k = 0; k < n; k++)
        if (l->index[k] < 0)
            return fp_error(FP_ECORRUPT, "%s: field '%s' is missing", l->what, names[k]);
    return 0;
}

static int bad(const Lookup *l, const char *name, int k, const char *expect)
{
    char sb[200];
    int i = l->index[k];
    return fp_error(FP_ECORRUPT, "%s: field '%s': expected %s, got '%s'", l->what, name, expect,
                    shown(l->f->value[i], l->f->value_len[i], sb, sizeof(sb)));
}

/* The value as a NUL-terminated string in buf (false when longer than cap - 1 or containing a NUL). */
static bool text_of(const Lookup *l, int k, char *buf, size_t cap)
{
    int i = l->index[k];
    size_t n = l->f->value_len[i];
    if (n >= cap || (n && memchr(l->f->value[i], 0, n)))
        return false;
    if (n)
        memcpy(buf, l->f->value[i], n);
    buf[n] = 0;
    return true;
}

/* A decimal integer in [lo, hi]: optional '-', digits only, no leading zeros but "0". */
static int get_int(const Lookup *l, const char *const *names, int k, int64_t lo, int64_t hi, int64_t *out)
{
    char t[32];
    if (!text_of(l, k, t, sizeof(t)))
        return bad(l, names[k], k, "an integer");
    const char *d = t[0] == '-' ? t + 1 : t;
    if (!d[0] || strspn(d, "0123456789") != strlen(d) || (d[0] == '0' && d[1]) || (t[0] == '-' && !strcmp(d, "0")))
        return bad(l, names[k], k, "a decimal integer");
    errno = 0;
    long long v = strtoll(t, NULL, 10);
    if (errno || v < lo || v > hi) {
        char e[96];
        snprintf(e, sizeof(e), "an integer in %" PRId64 "..%" PRId64, lo, hi);
        return bad(l, names[k], k, e);
    }
    *out = v;
    return 0;
}

static int get_uint(const Lookup *l, const char *const *names, int k, uint64_t *out)
{
    char t[32];
    if (!text_of(l, k, t, sizeof(t)) || !t[0] || strspn(t, "0123456789") != strlen(t) || (t[0] == '0' && t[1]))
        return bad(l, names[k], k, "an unsigned decimal integer");
    errno = 0;
    unsigned long long v = strtoull(t, NULL, 10);
    if (errno)
        return bad(l, names[k], k, "an integer below 2^64");
    *out = v;
    return 0;
}

/* "WxH", each 1..FP_DIST_MAX_SIDE */
static int get_size(const Lookup *l, const char *const *names, int k, int *w, int *h)
{
    char t[32], tail;
    unsigned a, b;
    if (!text_of(l, k, t, sizeof(t)) || strspn(t, "0123456789x") != strlen(t) ||
        sscanf(t, "%5ux%5u%c", &a, &b, &tail) != 2 || t[0] == '0' || strchr(t, 'x')[1] == '0' || a < 1 ||
        b < 1 || a > FP_DIST_MAX_SIDE || b > FP_DIST_MAX_SIDE)
        return bad(l, names[k], k, "WIDTHxHEIGHT, each 1..16384");
    *w = (int)a, *h = (int)b;
    return 0;
}

static int get_name(const Lookup *l, const char *const *names, int k, char *out)
{
    int i = l->index[k];
    if (!name_ok(l->f->value[i], l->f->value_len[i]))
        return bad(l, names[k], k, "a name [A-Za-z0-9_.-]{1,63}");
    memcpy(out, l->f->value[i], l->f->value_len[i]);
    out[l->f->value_len[i]] = 0;
    return 0;
}

/* The fields both messages share: v, camera, epoch, seq, frame, pts, capture, src (same indices in both). */
static int common(const Lookup *l, const char *const *names, char *camera, int64_t *epoch, uint64_t *seq,
                  uint64_t *frame, int64_t *pts, int64_t *capture, int *sw, int *sh)
{
    int64_t v;
    int rc;
    if ((rc = get_int(l, names, F_V, FP_DIST_VERSION, FP_DIST_VERSION, &v)) < 0 ||
        (rc = get_name(l, names, F_CAMERA, camera)) < 0 ||
        (rc = get_int(l, names, F_EPOCH, 0, INT64_MAX, epoch)) < 0 || (rc = get_uint(l, names, F_SEQ, seq)) < 0 ||
        (rc = get_uint(l, names, F_FRAME, frame)) < 0 ||
        (rc = get_int(l, names, F_PTS, INT64_MIN, INT64_MAX, pts)) < 0 ||
        (rc = get_int(l, names, F_CAPTURE, 0, INT64_MAX, capture)) < 0 ||
        (rc = get_size(l, names, F_SRC, sw, sh)) < 0)
        return rc;
    return 0;
}

int fp_dist_frame_parse(const FpDistFields *f, FpDistFrame *out)
{
    if (!f || !out)
        return fp_error(FP_EINVALID, "frame message: NULL argument");
    Lookup l = {.what = "frame message", .f = f};
    const char *const *names = frame_names;
    int rc = lookup(&l, names, N_FRAME_FIELDS);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    FpTransform *t = &out->tf;
    if ((rc = common(&l, names, out->camera, &out->epoch, &out->seq, &out->frame, &out->pts_ns, &out->capture_ns,
                     &t->src_width, &t->src_height)) < 0 ||
        (rc = get_size(&l, names, F_DST, &t->dst_width, &t->dst_height)) < 0)
        return rc;
    char tt[sizeof(((FpDistFields *)0)->text[0])], tail; /* the longest tf the encoder writes fits */
    float v[8];
    if (!text_of(&l, F_TF, tt, sizeof(tt)) ||
        sscanf(tt, "%g %g %g %g %g %g %g %g%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &tail) != 8)
        return bad(&l, "tf", F_TF, "8 numbers (scale_x scale_y offset_x offset_y clip_x0 clip_y0 clip_x1 clip_y1)");
    t->scale_x = v[0], t->scale_y = v[1], t->offset_x = v[2], t->offset_y = v[3];
    t->clip_x0 = v[4], t->clip_y0 = v[5], t->clip_x1 = v[6], t->clip_y1 = v[7];
    if (!transform_ok(t) || !clip_ok(t))
        return bad(&l, "tf", F_TF, "finite numbers, scales > 0, a clip rectangle inside the source");
    char enc[8];
    if (!text_of(&l, F_ENC, enc, sizeof(enc)) || fp_dist_encoding_parse(enc, &out->encoding) < 0)
        return bad(&l, "enc", F_ENC, "jpeg or raw");
    out->payload = (const uint8_t *)f->value[l.index[F_DATA]];
    out->payload_len = f->value_len[l.index[F_DATA]];
    size_t raw = (size_t)t->dst_width * (size_t)t->dst_height * 3;
    if (out->encoding == FP_DIST_RAW && out->payload_len != raw)
        return fp_error(FP_ECORRUPT, "frame message: field 'data': raw %dx%d RGB needs %zu bytes, got %zu",
                        t->dst_width, t->dst_height, raw, out->payload_len);
    if (out->encoding == FP_DIST_JPEG &&
        (out->payload_len < 4 || out->payload[0] != 0xFF || out->payload[1] != 0xD8))
        return fp_error(FP_ECORRUPT, "frame message: field 'data': not a JPEG (%zu bytes, no FF D8 start)",
                        out->payload_len);
    return 0;
}

int fp_dist_result_parse(const FpDistFields *f, FpDistResult *out, FpDetection *dets, int cap)
{
    if (!f || !out || (cap > 0 && !dets))
        return fp_error(FP_EINVALID, "result message: NULL argument");
    Lookup l = {.what = "result message", .f = f};
    const char *const *names = result_names;
    int rc = lookup(&l, names, N_RESULT_FIELDS);
    if (rc < 0)
        return rc;
    memset(out, 0, sizeof(*out));
    int64_t batch, n;
    if ((rc = common(&l, names, out->camera, &out->epoch, &out->seq, &out->frame, &out->pts_ns, &out->capture_ns,
                     &out->src_width, &out->src_height)) < 0 ||
        (rc = get_name(&l, names, R_WORKER, out->worker)) < 0 ||
        (rc = get_int(&l, names, R_BATCH, 1, FP_DIST_MAX_DETS, &batch)) < 0 ||
        (rc = get_int(&l, names, R_INFER, 0, INT64_MAX, &out->infer_ns)) < 0 ||
        (rc = get_int(&l, names, R_DONE, 0, INT64_MAX, &out->done_ns)) < 0 ||
        (rc = get_int(&l, names, R_N, 0, FP_DIST_MAX_DETS, &n)) < 0)
        return rc;
    out->batch = (int)batch;
    if (n > cap)
        return fp_error(FP_ECORRUPT, "result message: field 'n': %d detections, room for %d", (int)n, cap);
    size_t len = f->value_len[l.index[R_DETS]];
    if (len != (size_t)n * FP_DIST_DET_BYTES)
        return fp_error(FP_ECORRUPT, "result message: field 'dets': %d detections need %zu bytes, got %zu", (int)n,
                        (size_t)n * FP_DIST_DET_BYTES, len);
    const uint8_t *p0 = (const uint8_t *)f->value[l.index[R_DETS]];
    for (int i = 0; i < (int)n; i++) {
        const uint8_t *p = p0 + (size_t)i * FP_DIST_DET_BYTES;
        FpDetection *d = &dets[i];
        memset(d, 0, sizeof(*d));
        d->box = (FpBox){get_f32(p), get_f32(p + 4), get_f32(p + 8), get_f32(p + 12)};
        d->score = get_f32(p + 16);
        d->class_id = (int)(int32_t)get_u32(p + 20);
        uint32_t nk = get_u32(p + 24);
        if (nk > FP_MAX_KEYPOINTS)
            return fp_error(FP_ECORRUPT, "result message: field 'dets': detection %d has %u keypoints (at most %d)",
                            i, nk, FP_MAX_KEYPOINTS);
        d->n_keypoints = (int)nk;
        for (uint32_t k = 0; k < nk; k++) {
            d->keypoints[k][0] = get_f32(p + 28 + k * 8);
            d->keypoints[k][1] = get_f32(p + 32 + k * 8);
        }
        if (!det_ok(d, (int)nk))
            return fp_error(FP_ECORRUPT, "result message: field 'dets': detection %d is not a finite box "
                            "(x2 >= x1, y2 >= y1) with a class >= 0", i);
    }
    out->n_dets = (int)n;
    return 0;
}
