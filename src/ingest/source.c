// SPDX-License-Identifier: MIT
// FpSource: the generic part of every source: its thread, bounded latest/lossless queue, frame free list, status and reconnect with backoff.
#include "source_internal.h"

#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Design note. The source struct is shared by three parties: the handle
 * owner, the source thread and every frame still out (each SrcFrame holds a
 * reference on the source, so the free list outlives fp_source_close()).
 * One mutex guards the queue, the status and the state; the free list has
 * its own lock because frames come home from any thread. A live source
 * never ends by itself: errors and stalls lead to RECONNECTING, the backoff
 * wait is a condition-variable wait that close() interrupts.
 */

enum { M_FRAMES, M_DECODED, M_DECIMATED, M_SKIPPED, M_COPIES, M_ERRORS, M_RECONNECTS, M_QUEUED,
       M_STATE, M_COUNT };

typedef struct SrcGauge {
    FpSource *src;
    int which;
} SrcGauge;

typedef struct SrcFrame {
    FpFrame frame; /* first member: FpFrame* <-> SrcFrame* */
    struct SrcFrame *next;
} SrcFrame;

struct FpSource {
    FpSourceConfig cfg;
    char *url, *name, *hw_device, *protocols;
    const FpSourceBackend *backend;
    int live;
    FpSourcePolicy policy;

    FpPool *pool;       /* borrowed, or own_pool */
    FpPool *own_pool;   /* private pool, sized from the frames */
    size_t own_class;
    pthread_mutex_t pool_lock;

    pthread_t thread;
    int started;
    int joined;          /* the thread was joined (fp_source_stop or close) */
    pthread_mutex_t join_lock;
    atomic_int stop;
    atomic_int refs;
    _Atomic int64_t activity_ns;

    pthread_mutex_t lock;  /* queue, status, state */
    pthread_cond_t cond;   /* queue changes, finish, stop */
    FpFrame **queue;
    unsigned qcap, qhead, qlen;
    int finished;
    int final_code;
    FpSourceStatus st;

    pthread_mutex_t fl_lock;
    SrcFrame *free_list;

    FpMetrics *metrics;
    SrcGauge gauges[M_COUNT];

    void (*notify)(void *opaque); /* a frame was queued or the source finished (set before start) */
    void *notify_opaque;

    /* decimation and timing, source thread only */
    uint64_t decoded_idx;
    int64_t next_due_ns;
    int have_due;
    int64_t pts_offset_ns, last_pts_ns, frame_dur_ns;
    int have_last_pts;
    uint64_t session_frames;
    int64_t last_out_ns; /* pts of the last frame queued, after offsets */
    int have_out;
};

static void source_free(FpSource *s)
{
    SrcFrame *f = s->free_list;
    while (f) {
        SrcFrame *n = f->next;
        free(f);
        f = n;
    }
    if (s->own_pool)
        fp_pool_destroy(&s->own_pool);
    pthread_mutex_destroy(&s->pool_lock);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->fl_lock);
    pthread_mutex_destroy(&s->join_lock);
    free(s->queue);
    free(s->url);
    free(s->name);
    free(s->hw_device);
    free(s->protocols);
    free(s);
}

static void source_unref(FpSource *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        source_free(s);
}

void fp_source_config_init(FpSourceConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->open_timeout_ns = 10 * 1000000000LL;
    cfg->stall_timeout_ns = 5 * 1000000000LL;
    cfg->backoff_min_ns = 250 * 1000000LL;
    cfg->backoff_max_ns = 10 * 1000000000LL;
    cfg->pool_timeout_ns = 100 * 1000000LL;
}

const char *fp_source_state_name(FpSourceState s)
{
    switch (s) {
    case FP_SOURCE_IDLE: return "idle";
    case FP_SOURCE_OPENING: return "opening";
    case FP_SOURCE_RUNNING: return "running";
    case FP_SOURCE_RECONNECTING: return "reconnecting";
    case FP_SOURCE_ENDED: return "ended";
    case FP_SOURCE_FAILED: return "failed";
    case FP_SOURCE_STOPPED: return "stopped";
    }
    return "unknown";
}

static int has_prefix(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

static int is_image_name(const char *url)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff",
                                      ".webp", ".ppm", ".pgm", ".pnm"};
    const char *dot = strrchr(url, '.');
    if (!dot || strchr(dot, '/'))
        return 0;
    for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
        if (!strcasecmp(dot, ext[i]))
            return 1;
    return 0;
}

static FpSourceKind guess_kind(const char *url)
{
    struct stat sb;
    if (!strcmp(url, "-") || has_prefix(url, "fd:"))
        return FP_SOURCE_RAW;
    if (has_prefix(url, "ring:"))
        return FP_SOURCE_RING;
    if (has_prefix(url, "push:"))
        return FP_SOURCE_PUSH;
    if (!strstr(url, "://") && stat(url, &sb) == 0 && S_ISDIR(sb.st_mode))
        return FP_SOURCE_IMAGES;
    if (!strstr(url, "://") && is_image_name(url))
        return FP_SOURCE_IMAGES;
    return FP_SOURCE_LIBAV;
}

static int guess_live(const char *url)
{
    static const char *const live[] = {"rtsp://", "rtsps://", "rtmp://", "rtmps://", "udp://",
                                       "rtp://",  "srt://",   "tcp://",  "http://",  "https://",
                                       "v4l2://", "/dev/video"};
    for (size_t i = 0; i < sizeof(live) / sizeof(live[0]); i++)
        if (has_prefix(url, live[i]))
            return 1;
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int fp_source_open(FpSource **out, const FpSourceConfig *cfg, FpPool *pool)
{
    if (!out || !cfg)
        return fp_error(FP_EINVALID, "fp_source_open: out and cfg are required");
    if (!cfg->url || !cfg->url[0])
        return fp_error(FP_ECONFIG, "source config: url is empty");
    const char *label = cfg->name && cfg->name[0] ? cfg->name : cfg->url;
    if ((int)cfg->kind < FP_SOURCE_AUTO || cfg->kind > FP_SOURCE_PUSH ||
        (int)cfg->policy < FP_POLICY_DEFAULT || cfg->policy > FP_POLICY_LOSSLESS ||
        (int)cfg->live < FP_LIVE_AUTO || cfg->live > FP_LIVE_NO || (int)cfg->rtsp_transport < 0 ||
        cfg->rtsp_transport > FP_RTSP_UDP)
        return fp_error(FP_ECONFIG, "source %s: kind %d / policy %d / live %d / rtsp_transport %d out of range",
                        label, (int)cfg->kind, (int)cfg->policy, (int)cfg->live, (int)cfg->rtsp_transport);
    FpSourceKind kind = cfg->kind == FP_SOURCE_AUTO ? guess_kind(cfg->url) : cfg->kind;
    if (cfg->queue_depth > 4096)
        return fp_error(FP_ECONFIG, "source %s: queue_depth %u is out of range (1..4096)", label,
                        cfg->queue_depth);
    if (cfg->target_fps < 0 || cfg->start_s < 0 || cfg->stop_s < 0 ||
        (cfg->stop_s > 0 && cfg->stop_s <= cfg->start_s))
        return fp_error(FP_ECONFIG,
                        "source %s: target_fps %.3f / start_s %.3f / stop_s %.3f must be >= 0 "
                        "with stop_s after start_s",
                        label, cfg->target_fps, cfg->start_s, cfg->stop_s);
    if (kind == FP_SOURCE_RAW &&
        (cfg->raw_width <= 0 || cfg->raw_height <= 0 || cfg->raw_width > 32768 ||
         cfg->raw_height > 32768 || cfg->raw_format <= FP_PIX_NONE || cfg->raw_format > FP_PIX_GRAY8))
        return fp_error(FP_ECONFIG,
                        "source %s: raw frames need raw_width, raw_height (1..32768) and raw_format "
                        "(got %dx%d format %d)",
                        label, cfg->raw_width, cfg->raw_height, (int)cfg->raw_format);
    if (kind == FP_SOURCE_RING && (strncmp(cfg->url, "ring:", 5) || !cfg->url[5]))
        return fp_error(FP_ECONFIG, "source %s: a ring source's url is ring:NAME", label);
    if (kind == FP_SOURCE_PUSH && (strncmp(cfg->url, "push:", 5) || !cfg->url[5]))
        return fp_error(FP_ECONFIG, "source %s: a push source's url is push:NAME", label);
    if ((int)cfg->hw < FP_HW_NONE || cfg->hw > FP_HW_VAAPI)
        return fp_error(FP_ECONFIG, "source %s: unknown hw decode mode %d", label, (int)cfg->hw);

    FpSource *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    (void)fp_log_get_level(); /* initialise logging here, before the source threads race to */
    s->cfg = *cfg;
    s->url = strdup(cfg->url);
    s->name = strdup(label);
    s->hw_device = dup_or_null(cfg->hw_device);
    s->protocols = dup_or_null(cfg->protocols);
    s->live = cfg->live == FP_LIVE_YES  ? 1
              : cfg->live == FP_LIVE_NO ? 0
                                        : kind == FP_SOURCE_RING || (kind == FP_SOURCE_LIBAV && guess_live(cfg->url));
    s->policy = cfg->policy != FP_POLICY_DEFAULT ? cfg->policy
                : s->live                        ? FP_POLICY_LATEST
                                                 : FP_POLICY_LOSSLESS;
    /* latest keeps the queue short (the newest frame is at most one behind); lossless smooths bursts */
    s->qcap = cfg->queue_depth ? cfg->queue_depth : s->policy == FP_POLICY_LATEST ? 2 : 4;
    s->queue = calloc(s->qcap, sizeof(*s->queue));
    if (!s->url || !s->name || (cfg->hw_device && !s->hw_device) || (cfg->protocols && !s->protocols) || !s->queue) {
        free(s->url), free(s->name), free(s->hw_device), free(s->protocols), free(s->queue), free(s);
        return -ENOMEM;
    }
    s->cfg.url = s->url;
    s->cfg.name = s->name;
    s->cfg.hw_device = s->hw_device;
    s->cfg.protocols = s->protocols;
    s->cfg.queue_depth = s->qcap;
    s->cfg.kind = kind;
#define DEFAULT(field, v) if (s->cfg.field <= 0) s->cfg.field = (v)
    DEFAULT(open_timeout_ns, 10 * 1000000000LL);
    DEFAULT(stall_timeout_ns, 5 * 1000000000LL);
    DEFAULT(backoff_min_ns, 250 * 1000000LL);
    DEFAULT(backoff_max_ns, 10 * 1000000000LL);
    DEFAULT(pool_timeout_ns, 100 * 1000000LL);
    DEFAULT(raw_fps, kind == FP_SOURCE_IMAGES ? 1.0 : 25.0);
#undef DEFAULT
    if (s->cfg.backoff_max_ns < s->cfg.backoff_min_ns)
        s->cfg.backoff_max_ns = s->cfg.backoff_min_ns;
    s->backend = kind == FP_SOURCE_IMAGES ? &fp__source_images
                 : kind == FP_SOURCE_RAW  ? &fp__source_raw
                 : kind == FP_SOURCE_RING ? &fp__source_ring
                 : kind == FP_SOURCE_PUSH ? &fp__source_push
                                          : &fp__source_libav;
    s->pool = pool;
    atomic_init(&s->stop, 0);
    atomic_init(&s->refs, 1);
    atomic_init(&s->activity_ns, fp_clock_ns());
    pthread_mutex_init(&s->pool_lock, NULL);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->fl_lock, NULL);
    pthread_mutex_init(&s->join_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    s->st.state = FP_SOURCE_IDLE;
    s->st.policy = s->policy;
    s->st.live = s->live;
    /* Frame structs for the queue, the consumer's current frame and the one being decoded. */
    for (unsigned i = 0; i < s->qcap + 4; i++) {
        SrcFrame *sf = calloc(1, sizeof(*sf));
        if (!sf)
            break; /* more come on demand */
        sf->next = s->free_list;
        s->free_list = sf;
    }
    if (s->backend == &fp__source_libav || s->backend == &fp__source_images)
        fp_libav_init();
    *out = s;
    return 0;
}

const char *fp_source_name(const FpSource *src)
{
    return src->name;
}

const FpSourceConfig *fp__source_cfg(const FpSource *src)
{
    return &src->cfg;
}

int fp__source_is_live(const FpSource *src)
{
    return src->live;
}

int fp__source_stopping(const FpSource *src)
{
    return atomic_load_explicit(&((FpSource *)src)->stop, memory_order_acquire);
}

int64_t fp__source_last_activity(const FpSource *src)
{
    return atomic_load_explicit(&((FpSource *)src)->activity_ns, memory_order_relaxed);
}

void fp__source_touch(FpSource *src)
{
    atomic_store_explicit(&src->activity_ns, fp_clock_ns(), memory_order_relaxed);
}

static void set_state(FpSource *s, FpSourceState st)
{
    pthread_mutex_lock(&s->lock);
    s->st.state = st;
    pthread_mutex_unlock(&s->lock);
}

void fp__source_note_error(FpSource *src, int code, const char *msg)
{
    pthread_mutex_lock(&src->lock);
    src->st.last_error_code = code;
    snprintf(src->st.last_error, sizeof(src->st.last_error), "%s", msg);
    pthread_mutex_unlock(&src->lock);
}

void fp__source_count_copy(FpSource *src)
{
    pthread_mutex_lock(&src->lock);
    src->st.copies++;
    pthread_mutex_unlock(&src->lock);
}

void fp__source_count_decode_error(FpSource *src)
{
    pthread_mutex_lock(&src->lock);
    src->st.decode_errors++;
    pthread_mutex_unlock(&src->lock);
}

void fp__source_set_decoder(FpSource *src, const char *name, int hw_active)
{
    pthread_mutex_lock(&src->lock);
    snprintf(src->st.decoder, sizeof(src->st.decoder), "%s", name ? name : "");
    src->st.hw_active = hw_active;
    pthread_mutex_unlock(&src->lock);
}

void fp__source_set_frames_expected(FpSource *src, int64_t n)
{
    pthread_mutex_lock(&src->lock);
    src->st.frames_expected = n > 0 ? n : 0;
    pthread_mutex_unlock(&src->lock);
}

/* ---- pool ---- */

static int own_pool_for(FpSource *s, size_t size, FpPool **out)
{
    pthread_mutex_lock(&s->pool_lock);
    if (!s->own_pool || s->own_class < size) {
        /* A bigger frame (resolution change): a new pool; the old one lives until its buffers return. */
        FpPoolConfig pc = {0};
        char pname[96];
        snprintf(pname, sizeof(pname), "source-%s", s->name);
        pc.name = pname;
        pc.class_size[0] = (size + 4095) & ~(size_t)4095;
        pc.n_classes = 1;
        /* queue, consumer, in flight (decoder references grow it); at most ~64 MiB up front */
        size_t budget = ((size_t)64 << 20) / pc.class_size[0];
        pc.prealloc = s->qcap + 4;
        if (pc.prealloc > budget)
            pc.prealloc = budget > 2 ? (unsigned)budget : 2;
        /* queue + consumer + decoder references (H.264/HEVC: up to 16) + one per frame thread, twice */
        long threads = s->cfg.decoder_threads > 0 ? s->cfg.decoder_threads : sysconf(_SC_NPROCESSORS_ONLN) + 1;
        pc.max_buffers = s->qcap + 8 + 16 + 2 * (unsigned)(threads > 0 && threads < 256 ? threads : 16);
        FpPool *p = NULL;
        int rc = fp_pool_create(&p, &pc);
        if (rc < 0) {
            pthread_mutex_unlock(&s->pool_lock);
            return rc;
        }
        if (s->own_pool)
            fp_pool_destroy(&s->own_pool);
        s->own_pool = p;
        s->own_class = pc.class_size[0];
    }
    *out = s->own_pool;
    pthread_mutex_unlock(&s->pool_lock);
    return 0;
}

int fp__source_acquire(FpSource *src, size_t size, FpBuffer **out)
{
    FpPool *pool = src->pool;
    int64_t wait_start = 0;
    int warned = 0;
    for (;;) {
        if (fp__source_stopping(src))
            return fp_error(FP_EFLUSHING, "source %s: stopping", src->name);
        if (!src->pool) {
            int rc = own_pool_for(src, size, &pool);
            if (rc < 0)
                return rc;
        }
        int rc = fp_pool_acquire(pool, size, src->cfg.pool_timeout_ns, out);
        if (rc == 0)
            return 0;
        if (rc == FP_ETIMEOUT || rc == FP_EWOULD_BLOCK) {
            /* The consumer holds every buffer: back-pressure, not a stalled input. */
            fp__source_touch(src);
            int64_t now = fp_clock_ns();
            if (!wait_start)
                wait_start = now;
            if (!warned && now - wait_start > src->cfg.stall_timeout_ns) {
                FpPoolStats ps;
                fp_pool_get_stats(pool, &ps);
                pthread_mutex_lock(&src->lock);
                unsigned queued = src->qlen;
                pthread_mutex_unlock(&src->lock);
                fp_log_warn("ingest",
                            "source %s: waited %.1f s for a buffer of pool '%s' (%u in use, %u "
                            "queued here): frames are held downstream, or the pool is too small "
                            "for the decoder's references; raise its max_buffers",
                            src->name, (now - wait_start) / 1e9, fp_pool_name(pool), ps.in_use,
                            queued);
                warned = 1;
            }
            continue;
        }
        char msg[256];
        if (rc == FP_ETOO_LARGE)
            snprintf(msg, sizeof(msg),
                     "source %s: a frame needs %zu bytes, more than the largest class of pool '%s'",
                     src->name, size, fp_pool_name(pool));
        else
            snprintf(msg, sizeof(msg), "source %s: pool '%s': %s", src->name, fp_pool_name(pool),
                     fp_strerror(rc));
        fp__source_note_error(src, rc, msg);
        return fp_error(rc, "%s", msg);
    }
}

/* ---- frames ---- */

static void frame_release(FpFrame *f, void *opaque)
{
    FpSource *s = opaque;
    for (int i = 0; i < FP_FRAME_MAX_PLANES; i++)
        if (f->buf[i])
            fp_buffer_unref(&f->buf[i]);
    SrcFrame *sf = (SrcFrame *)f;
    pthread_mutex_lock(&s->fl_lock);
    sf->next = s->free_list;
    s->free_list = sf;
    pthread_mutex_unlock(&s->fl_lock);
    source_unref(s);
}

FpFrame *fp__source_frame_get(FpSource *src)
{
    pthread_mutex_lock(&src->fl_lock);
    SrcFrame *sf = src->free_list;
    if (sf)
        src->free_list = sf->next;
    pthread_mutex_unlock(&src->fl_lock);
    if (!sf) {
        sf = malloc(sizeof(*sf)); /* warm-up only: frames come back to the free list */
        if (!sf)
            return NULL;
    }
    memset(&sf->frame, 0, sizeof(sf->frame));
    sf->next = NULL;
    fp_frame_init_ref(&sf->frame, frame_release, src);
    atomic_fetch_add_explicit(&src->refs, 1, memory_order_relaxed);
    return &sf->frame;
}

/* ---- emit / queue ---- */

static int keep_by_rate(FpSource *s, const FpFrame *f)
{
    const FpSourceConfig *c = &s->cfg;
    uint64_t idx = s->decoded_idx++;
    if (c->every_nth > 1 && idx % c->every_nth)
        return 0;
    if (c->target_fps > 0) {
        int64_t step = (int64_t)(1e9 / c->target_fps);
        if (!s->have_due || f->pts_ns + step < s->next_due_ns) {
            /* first frame, or pts jumped backwards (a live restart) */
            s->have_due = 1;
            s->next_due_ns = f->pts_ns;
        }
        if (f->pts_ns + step / 100 < s->next_due_ns)
            return 0;
        s->next_due_ns += step;
        if (s->next_due_ns <= f->pts_ns)
            s->next_due_ns = f->pts_ns + step; /* fell behind (gap in the stream): do not burst */
    }
    return 1;
}

int fp__source_emit(FpSource *s, FpFrame *f)
{
    const FpSourceConfig *c = &s->cfg;
    fp__source_touch(s);
    int64_t pts = f->pts_ns;
    if (!s->live && c->stop_s > 0 && pts >= (int64_t)(c->stop_s * 1e9)) {
        fp_frame_unref(&f);
        return FP_EEND_OF_STREAM;
    }
    pthread_mutex_lock(&s->lock);
    s->st.decoded++;
    pthread_mutex_unlock(&s->lock);
    if (fp__source_stopping(s)) {
        fp_frame_unref(&f);
        return FP_EFLUSHING;
    }
    if ((!s->live && c->start_s > 0 && pts < (int64_t)(c->start_s * 1e9)) || !keep_by_rate(s, f)) {
        pthread_mutex_lock(&s->lock);
        s->st.decimated++;
        pthread_mutex_unlock(&s->lock);
        fp_frame_unref(&f);
        return 0;
    }
    if (s->live && s->session_frames == 0 && s->have_out) {
        /* A reopened live stream restarts its clock: keep pts increasing across reconnects. */
        int64_t dur = s->frame_dur_ns > 0 ? s->frame_dur_ns : 40000000;
        s->pts_offset_ns = s->last_out_ns + dur - pts;
    }
    if (s->have_last_pts && pts > s->last_pts_ns && s->session_frames)
        s->frame_dur_ns = pts - s->last_pts_ns;
    s->last_pts_ns = pts;
    s->have_last_pts = 1;
    s->session_frames++;

    f->camera = c->camera;
    f->pts_ns = pts + s->pts_offset_ns;
    s->last_out_ns = f->pts_ns;
    s->have_out = 1;
    f->capture_ns = fp_wall_ns();
    f->decoded_ns = fp_clock_ns();

    FpFrame *dropped = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->st.frames && (f->width != s->st.width || f->height != s->st.height ||
                         f->format != s->st.format)) {
        s->st.resolution_changes++;
        fp_log_info("ingest", "%s: picture changed from %dx%d %s to %dx%d %s at frame %llu", s->name,
                    s->st.width, s->st.height, fp_pixel_format_name(s->st.format), f->width,
                    f->height, fp_pixel_format_name(f->format), (unsigned long long)s->st.frames);
    }
    s->st.width = f->width;
    s->st.height = f->height;
    s->st.format = f->format;
    while (s->qlen == s->qcap) {
        if (s->policy == FP_POLICY_LATEST) {
            dropped = s->queue[s->qhead];
            s->qhead = (s->qhead + 1) % s->qcap;
            s->qlen--;
            s->st.skipped++;
            break;
        }
        if (fp__source_stopping(s))
            break;
        pthread_cond_wait(&s->cond, &s->lock);
    }
    if (fp__source_stopping(s)) {
        pthread_mutex_unlock(&s->lock);
        fp_frame_unref(&dropped);
        fp_frame_unref(&f);
        return FP_EFLUSHING;
    }
    f->seq = s->st.frames++;
    s->queue[(s->qhead + s->qlen) % s->qcap] = f;
    s->qlen++;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    fp_frame_unref(&dropped);
    fp__source_touch(s);
    if (s->notify)
        s->notify(s->notify_opaque);
    return 0;
}

/* ---- thread ---- */

static void record_failure(FpSource *s, int rc)
{
    const char *detail = fp_error_detail(rc);
    char msg[256];
    if (strstr(detail, s->name))
        snprintf(msg, sizeof(msg), "%s", detail);
    else
        snprintf(msg, sizeof(msg), "source %s: %s", s->name, detail);
    fp__source_note_error(s, rc, msg);
}

/*
 * A file, image or raw input that ended without a single decoded frame is a
 * failed input, not an empty success (a zero-byte .jpg, random bytes, a PNG
 * whose header claims 60000x60000): FP_ECORRUPT naming it and the last
 * problem seen. FP_EEND_OF_STREAM when it yielded frames.
 */
static int check_yielded_frames(FpSource *s)
{
    char last[sizeof(s->st.last_error)];
    pthread_mutex_lock(&s->lock);
    uint64_t decoded = s->st.decoded;
    snprintf(last, sizeof(last), "%s", s->st.last_error);
    pthread_mutex_unlock(&s->lock);
    if (decoded > 0)
        return FP_EEND_OF_STREAM;
    const char *why = last;
    size_t nlen = strlen(s->name);
    if (!strncmp(why, "source ", 7) && !strncmp(why + 7, s->name, nlen) && !strncmp(why + 7 + nlen, ": ", 2))
        why += 7 + nlen + 2; /* the message names the source already */
    return fp_error(FP_ECORRUPT, "source %s: no frame could be decoded from %s%s%s", s->name, s->url,
                    why[0] ? "; last problem: " : "", why);
}

/* Waits up to ns unless stopping; returns 1 when stopping. */
static int backoff_wait(FpSource *s, int64_t ns)
{
    struct timespec dl = fp_deadline_ts(ns);
    pthread_mutex_lock(&s->lock);
    while (!fp__source_stopping(s)) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&s->lock);
    return fp__source_stopping(s);
}

static int run_session(FpSource *s)
{
    void *priv = NULL;
    set_state(s, FP_SOURCE_OPENING);
    fp__source_touch(s);
    int rc = s->backend->open(s, &priv);
    if (rc < 0) {
        if (rc != FP_EFLUSHING)
            record_failure(s, rc);
        return rc;
    }
    set_state(s, FP_SOURCE_RUNNING);
    s->session_frames = 0;
    uint64_t loops = 0;
    for (;;) {
        rc = s->backend->pump(s, priv);
        if (rc == 0)
            continue;
        if (rc == FP_EEND_OF_STREAM && s->cfg.loop && !s->live && s->backend->rewind &&
            !fp__source_stopping(s)) {
            if (s->session_frames == 0) {
                rc = fp_error(FP_ECORRUPT, "source %s: nothing decodable to loop over", s->name);
                break;
            }
            /* pts keep increasing across loops: the next round starts one frame after this one. */
            int64_t start = (int64_t)(s->cfg.start_s * 1e9);
            int64_t dur = s->frame_dur_ns > 0 ? s->frame_dur_ns : 40000000;
            s->pts_offset_ns += s->last_pts_ns - start + dur;
            s->have_last_pts = 0;
            s->session_frames = 0;
            loops++;
            fp_log_debug("ingest", "%s: loop %llu", s->name, (unsigned long long)loops);
            rc = s->backend->rewind(s, priv);
            if (rc == 0)
                continue;
        }
        break;
    }
    if (rc == FP_EEND_OF_STREAM && !s->live && !fp__source_stopping(s))
        rc = check_yielded_frames(s);
    int err = rc;
    if (rc < 0 && rc != FP_EEND_OF_STREAM && rc != FP_EFLUSHING)
        record_failure(s, rc); /* before close() can overwrite the thread's error detail */
    s->backend->close(s, &priv);
    return err;
}

static void *source_thread(void *arg)
{
    FpSource *s = arg;
    unsigned attempt = 0;
    int final = FP_EEND_OF_STREAM;
    FpSourceState end_state = FP_SOURCE_ENDED;
    while (!fp__source_stopping(s)) {
        uint64_t before;
        pthread_mutex_lock(&s->lock);
        before = s->st.frames;
        pthread_mutex_unlock(&s->lock);
        int rc = run_session(s);
        if (fp__source_stopping(s))
            break;
        if (!s->live) {
            if (rc == FP_EEND_OF_STREAM || rc == 0) {
                fp_log_info("ingest", "%s: end of file after %llu frames", s->name,
                            (unsigned long long)s->st.frames);
            } else {
                pthread_mutex_lock(&s->lock);
                fp_log_error("ingest", "%s", s->st.last_error);
                pthread_mutex_unlock(&s->lock);
                final = rc;
                end_state = FP_SOURCE_FAILED;
            }
            break;
        }
        /* Live: never give up. A session that delivered frames resets the backoff. */
        pthread_mutex_lock(&s->lock);
        if (s->st.frames > before)
            attempt = 0;
        if (rc == FP_EEND_OF_STREAM || rc == 0) {
            const char *detail = fp_error_detail(FP_EEND_OF_STREAM);
            s->st.last_error_code = FP_EEND_OF_STREAM;
            if (rc == FP_EEND_OF_STREAM && strstr(detail, s->name))
                snprintf(s->st.last_error, sizeof(s->st.last_error), "%s", detail);
            else
                snprintf(s->st.last_error, sizeof(s->st.last_error), "source %s: the stream ended",
                         s->name);
        }
        int64_t delay = s->cfg.backoff_min_ns;
        for (unsigned i = 0; i < attempt && delay < s->cfg.backoff_max_ns; i++)
            delay *= 2;
        if (delay > s->cfg.backoff_max_ns)
            delay = s->cfg.backoff_max_ns;
        attempt++;
        s->st.state = FP_SOURCE_RECONNECTING;
        fp_log_warn("ingest", "%s; reconnecting in %.2f s (attempt %u)", s->st.last_error,
                    delay / 1e9, attempt);
        pthread_mutex_unlock(&s->lock);
        if (backoff_wait(s, delay))
            break;
        pthread_mutex_lock(&s->lock);
        s->st.reconnects++;
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_lock(&s->lock);
    if (fp__source_stopping(s)) {
        end_state = FP_SOURCE_STOPPED;
        final = FP_EFLUSHING;
    }
    s->st.state = end_state;
    s->finished = 1;
    s->final_code = final;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (s->notify)
        s->notify(s->notify_opaque);
    return NULL;
}

int fp_source_set_notify(FpSource *src, void (*fn)(void *opaque), void *opaque)
{
    if (!src)
        return fp_error(FP_EINVALID, "fp_source_set_notify: no source");
    if (src->started)
        return fp_error(FP_EINVALID, "source %s: notify must be set before start", src->name);
    src->notify = fn;
    src->notify_opaque = opaque;
    return 0;
}

int fp_source_start(FpSource *src)
{
    if (!src)
        return fp_error(FP_EINVALID, "fp_source_start: no source");
    if (src->started)
        return fp_error(FP_EINVALID, "source %s: already started", src->name);
    int rc = pthread_create(&src->thread, NULL, source_thread, src);
    if (rc)
        return fp_error(-rc, "source %s: cannot start its thread: %s", src->name, strerror(rc));
    pthread_mutex_lock(&src->lock); /* a consumer may already wait in fp_source_next (reads it locked) */
    src->started = 1;
    pthread_mutex_unlock(&src->lock);
    return 0;
}

static int next_locked(FpSource *src, FpFrame **out, int64_t timeout_ns);

int fp_source_next(FpSource *src, FpFrame **out, int64_t timeout_ns)
{
    /* A reference for the call: fp_source_close() may run meanwhile and drop the handle's. */
    atomic_fetch_add_explicit(&src->refs, 1, memory_order_relaxed);
    int rc = next_locked(src, out, timeout_ns);
    source_unref(src);
    return rc;
}

static int next_locked(FpSource *src, FpFrame **out, int64_t timeout_ns)
{
    struct timespec dl = fp_deadline_ts(timeout_ns);
    pthread_mutex_lock(&src->lock);
    for (;;) {
        if (src->qlen) {
            *out = src->queue[src->qhead];
            src->qhead = (src->qhead + 1) % src->qcap;
            src->qlen--;
            pthread_cond_broadcast(&src->cond);
            pthread_mutex_unlock(&src->lock);
            return 0;
        }
        if (src->finished || (!src->started)) {
            int code = src->finished ? src->final_code : FP_EINVALID;
            char msg[256];
            snprintf(msg, sizeof(msg), "%s",
                     !src->finished                    ? "source not started"
                     : code == FP_EEND_OF_STREAM       ? "end of stream"
                     : src->st.last_error[0]           ? src->st.last_error
                                                       : fp_strerror(code));
            pthread_mutex_unlock(&src->lock);
            return fp_error(code, "source %s: %s", src->name, msg);
        }
        if (timeout_ns == 0) {
            pthread_mutex_unlock(&src->lock);
            return FP_ETIMEOUT;
        }
        if (timeout_ns < 0) {
            pthread_cond_wait(&src->cond, &src->lock);
        } else if (pthread_cond_timedwait(&src->cond, &src->lock, &dl) == ETIMEDOUT && !src->qlen &&
                   !src->finished) {
            pthread_mutex_unlock(&src->lock);
            return FP_ETIMEOUT;
        }
    }
}

void fp_source_get_status(FpSource *src, FpSourceStatus *out)
{
    pthread_mutex_lock(&src->lock);
    *out = src->st;
    out->queued = src->qlen;
    pthread_mutex_unlock(&src->lock);
}

static double gauge_read(void *opaque)
{
    SrcGauge *g = opaque;
    FpSourceStatus st;
    fp_source_get_status(g->src, &st);
    switch (g->which) {
    case M_FRAMES: return (double)st.frames;
    case M_DECODED: return (double)st.decoded;
    case M_DECIMATED: return (double)st.decimated;
    case M_SKIPPED: return (double)st.skipped;
    case M_COPIES: return (double)st.copies;
    case M_ERRORS: return (double)st.decode_errors;
    case M_RECONNECTS: return (double)st.reconnects;
    case M_QUEUED: return (double)st.queued;
    default: return (double)st.state;
    }
}

int fp_source_add_metrics(FpSource *src, FpMetrics *m)
{
    static const struct {
        const char *name, *help;
    } defs[M_COUNT] = {
        {"fp_source_frames", "frames handed to the source's queue"},
        {"fp_source_decoded", "frames out of the decoder"},
        {"fp_source_decimated", "decoded frames dropped by fps / every-Nth / start time"},
        {"fp_source_skipped", "frames dropped by the latest policy"},
        {"fp_source_copies", "frames copied or converted into pool memory (0 on the zero-copy path)"},
        {"fp_source_decode_errors", "decoder error reports (corrupt data)"},
        {"fp_source_reconnects", "reopen attempts after an error or stall"},
        {"fp_source_queued", "frames waiting for the consumer"},
        {"fp_source_state", "0 idle 1 opening 2 running 3 reconnecting 4 ended 5 failed 6 stopped"},
    };
    if (!src || !m || src->metrics)
        return fp_error(FP_EINVALID, "source %s: metrics already registered (or no registry)",
                        src ? src->name : "?");
    char labels[200], clean[96];
    size_t j = 0;
    for (const char *p = src->name; *p && j < sizeof(clean) - 1; p++)
        clean[j++] = (*p == '"' || *p == '\\' || *p == '\n') ? '_' : *p;
    clean[j] = 0;
    snprintf(labels, sizeof(labels), "source=\"%s\",camera=\"%d\"", clean, src->cfg.camera);
    for (int i = 0; i < M_COUNT; i++) {
        src->gauges[i].src = src;
        src->gauges[i].which = i;
        int rc = fp_metrics_add_gauge(m, defs[i].name, labels, defs[i].help, gauge_read,
                                      &src->gauges[i], src);
        if (rc < 0) {
            fp_metrics_remove_owner(m, src);
            return rc;
        }
    }
    src->metrics = m;
    return 0;
}

int fp_source_get_pool_stats(FpSource *src, FpPoolStats *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&src->pool_lock);
    FpPool *pool = src->own_pool ? src->own_pool : src->pool;
    if (pool)
        fp_pool_get_stats(pool, out);
    pthread_mutex_unlock(&src->pool_lock);
    return pool ? 0 : FP_ENOT_FOUND;
}

/* Raises the stop flag and joins the thread once, whoever asks first. */
static void stop_thread(FpSource *s)
{
    pthread_mutex_lock(&s->lock);
    atomic_store_explicit(&s->stop, 1, memory_order_release);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    pthread_mutex_lock(&s->join_lock);
    if (s->started && !s->joined) {
        pthread_join(s->thread, NULL);
        s->joined = 1;
    }
    pthread_mutex_unlock(&s->join_lock);
}

void fp_source_stop(FpSource *src)
{
    if (src)
        stop_thread(src);
}

void fp_source_close(FpSource **psrc)
{
    FpSource *s = psrc ? *psrc : NULL;
    if (!s)
        return;
    *psrc = NULL;
    if (s->metrics)
        fp_metrics_remove_owner(s->metrics, s);
    stop_thread(s);
    for (;;) {
        FpFrame *f = NULL;
        pthread_mutex_lock(&s->lock);
        if (s->qlen) {
            f = s->queue[s->qhead];
            s->qhead = (s->qhead + 1) % s->qcap;
            s->qlen--;
        }
        pthread_mutex_unlock(&s->lock);
        if (!f)
            break;
        fp_frame_unref(&f);
    }
    source_unref(s);
}
