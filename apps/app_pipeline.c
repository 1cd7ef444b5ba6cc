// SPDX-License-Identifier: MIT
// Runs a pipeline for `detect` and `run`: sinks from the config's outputs, HTTP endpoint, signals, progress bar, summary.
//
// Signals: the first SIGINT/SIGTERM asks for a draining stop (sources stop,
// frames already decoded still reach the outputs, exit 0); a second one
// exits at once with 130. The handler only counts; the main thread polls.
#include "app_pipeline.h"
#include "app_service.h"

#include "framepipe/clock.h"
#include "framepipe/deliver.h"
#include "framepipe/error.h"
#include "framepipe/http.h"
#include "framepipe/log.h"
#include "framepipe/preview.h"
#include "framepipe/sink.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static volatile sig_atomic_t signals_seen;

static void on_signal(int sig)
{
    (void)sig;
    if (++signals_seen >= 2)
        _exit(FP_EXIT_SIGNAL);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a closed stdout is an error the JSON sink reports, not a kill */
}

/* The network outputs `run` opened (docs/outputs.md). */
#define APP_MAX_OUTPUTS 3

typedef struct AppOutputs {
    FpDelivery *d[APP_MAX_OUTPUTS];
    int n;
} AppOutputs;

/*
 * What the HTTP handlers reach: the pipeline and the live view's preview.
 * The server runs a thread per connection, so these callbacks may run
 * concurrently; each only reads thread-safe state (the pipeline's cameras
 * json and summaries are taken under the sources' locks; FpPreview is
 * thread-safe) and keeps nothing between calls.
 */
typedef struct AppHttp {
    FpPipeline *p;
    FpPreview *preview;         /* NULL: no live view */
    const AppOutputs *outputs;  /* /api/sinks (FpDelivery's stats are thread-safe) */
} AppHttp;

/* GET /api/sinks: one object per network output (fp_delivery_write_json). */
static int http_sinks(void *opaque, FILE *out)
{
    const AppHttp *a = opaque;
    if (fputc('[', out) == EOF)
        return -EIO;
    for (int i = 0; i < a->outputs->n; i++) {
        if (i && fputc(',', out) == EOF)
            return -EIO;
        int rc = fp_delivery_write_json(a->outputs->d[i], out);
        if (rc < 0)
            return rc;
    }
    return fputc(']', out) == EOF ? -EIO : 0;
}

static int http_cameras(void *opaque, FILE *out)
{
    const AppHttp *a = opaque;
    return fp_pipeline_write_cameras_json(a->p, out);
}

static int http_preview_watch(void *opaque, const char *camera, int delta)
{
    const AppHttp *a = opaque;
    return fp_preview_watch(a->preview, camera, delta);
}

static int http_preview_next(void *opaque, const char *camera, uint64_t *seq, int64_t timeout_ns, uint8_t **buf,
                             size_t *cap, size_t *len)
{
    const AppHttp *a = opaque;
    return fp_preview_next(a->preview, camera, seq, timeout_ns, buf, cap, len);
}

/* The live view: a preview sink fed by the pipeline, every camera declared with its zones. */
static int open_preview(FpPipeline *p, const FpPipelineConfig *cfg, FpPreview **out)
{
    FpPreviewConfig pc;
    fp_preview_config_init(&pc);
    if (cfg->output.preview_fps > 0)
        pc.fps = cfg->output.preview_fps;
    if (cfg->output.preview_width > 0)
        pc.width = cfg->output.preview_width;
    int rc = fp_preview_create(out, &pc);
    for (int i = 0; rc >= 0 && i < cfg->n_cameras; i++)
        rc = fp_preview_set_zones(*out, cfg->cameras[i].name, cfg->cameras[i].zones, cfg->cameras[i].n_zones);
    if (rc >= 0)
        rc = fp_pipeline_add_sink(p, fp_preview_write, *out);
    return rc;
}

/* Healthy unless a camera has failed for good, or every live camera is reconnecting. */
static int http_healthy(void *opaque, char *why, size_t why_len)
{
    FpPipeline *p = ((const AppHttp *)opaque)->p;
    int n = fp_pipeline_camera_count(p), live = 0, down = 0;
    why[0] = 0;
    for (int i = 0; i < n; i++) {
        FpCameraSummary cs;
        fp_pipeline_get_camera(p, i, &cs);
        if (cs.source.state == FP_SOURCE_FAILED) {
            snprintf(why, why_len, "camera %s failed: %s", cs.name, cs.source.last_error);
            return 0;
        }
        if (cs.source.live) {
            live++;
            if (cs.source.state == FP_SOURCE_RECONNECTING || cs.source.state == FP_SOURCE_OPENING)
                down++;
        }
    }
    if (live && down == live) {
        snprintf(why, why_len, "all %d live cameras are reconnecting", live);
        return 0;
    }
    return 1;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

/* v rounded to `scale` (1000: three decimals), as the summary prints it; 0 for NaN or infinity. */
static double rounded(double v, double scale)
{
    return isfinite(v) ? round(v * scale) / scale : 0.0;
}

/* A file that ended early (truncated, or a read error part-way): its frames were processed, the rest is missing. */
static bool camera_partial(const FpCameraSummary *cs)
{
    return cs->source.state == FP_SOURCE_ENDED && cs->source.last_error_code == FP_ETRUNCATED;
}

/* One camera's entry of the summary (docs/cli.md); NULL when cJSON runs out of memory. */
static cJSON *camera_summary_json(const FpCameraSummary *cs, double seconds)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    double fps = seconds > 0 ? (double)cs->processed / seconds : 0.0;
    double skip = seconds > 0 ? (double)cs->source.skipped / seconds : 0.0;
    int ok = cJSON_AddStringToObject(o, "name", cs->name) &&
             cJSON_AddNumberToObject(o, "frames", (double)cs->processed) &&
             cJSON_AddNumberToObject(o, "decoded", (double)cs->source.frames) &&
             cJSON_AddNumberToObject(o, "skipped", (double)cs->source.skipped) &&
             cJSON_AddNumberToObject(o, "reconnects", (double)cs->source.reconnects) &&
             cJSON_AddNumberToObject(o, "fps", rounded(fps, 1e3)) &&
             cJSON_AddNumberToObject(o, "skipped_fps", rounded(skip, 1e3));
    cJSON *lat = ok ? cJSON_AddObjectToObject(o, "latency_ms") : NULL;
    ok = lat && cJSON_AddNumberToObject(lat, "p50", rounded(ms(cs->latency.p50), 1e3)) &&
         cJSON_AddNumberToObject(lat, "p99", rounded(ms(cs->latency.p99), 1e3)) &&
         cJSON_AddStringToObject(o, "state", fp_source_state_name(cs->source.state)) &&
         cJSON_AddBoolToObject(o, "partial", camera_partial(cs));
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* "name": {"p50", "p99"} in ms into o; 0 when cJSON runs out of memory. */
static int add_split_json(cJSON *o, const char *name, const FpHistogramSummary *h)
{
    cJSON *q = cJSON_AddObjectToObject(o, name);
    return q && cJSON_AddNumberToObject(q, "p50", rounded(ms(h->p50), 1e3)) &&
           cJSON_AddNumberToObject(q, "p99", rounded(ms(h->p99), 1e3));
}

/* The run's summary object (docs/cli.md); NULL when cJSON runs out of memory. */
static cJSON *summary_json(FpPipeline *p, const FpPipelineSummary *s, double cpu)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    int ok = cJSON_AddNumberToObject(root, "frames", (double)s->frames) &&
             cJSON_AddNumberToObject(root, "skipped", (double)s->skipped) &&
             cJSON_AddNumberToObject(root, "detections", (double)s->detections) &&
             cJSON_AddNumberToObject(root, "events", (double)s->events) &&
             cJSON_AddNumberToObject(root, "seconds", rounded(s->seconds, 1e6)) &&
             cJSON_AddNumberToObject(root, "fps", rounded(s->fps, 1e3));
    cJSON *lat = ok ? cJSON_AddObjectToObject(root, "latency_ms") : NULL;
    ok = lat && cJSON_AddNumberToObject(lat, "p50", rounded(ms(s->latency.p50), 1e3)) &&
         cJSON_AddNumberToObject(lat, "p90", rounded(ms(s->latency.p90), 1e3)) &&
         cJSON_AddNumberToObject(lat, "p99", rounded(ms(s->latency.p99), 1e3)) &&
         cJSON_AddNumberToObject(lat, "max", rounded(ms(s->latency.max), 1e3)) &&
         add_split_json(root, "queue_ms", &s->queue) && add_split_json(root, "processing_ms", &s->processing) &&
         cJSON_AddNumberToObject(root, "pool_hit_rate", rounded(s->pool_hit_rate, 1e6)) &&
         cJSON_AddNumberToObject(root, "batch_fill", rounded(s->batch_fill, 1e4)) &&
         cJSON_AddNumberToObject(root, "cpu_seconds", rounded(cpu, 1e3));
    cJSON *cams = ok ? cJSON_AddArrayToObject(root, "cameras") : NULL;
    ok = cams != NULL;
    int n = fp_pipeline_camera_count(p);
    for (int i = 0; ok && i < n; i++) {
        FpCameraSummary cs;
        cJSON *c = fp_pipeline_get_camera(p, i, &cs) == 0 ? camera_summary_json(&cs, s->seconds) : NULL;
        ok = c && cJSON_AddItemToArray(cams, c);
        if (!ok)
            cJSON_Delete(c);
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* Writes the summary to `path` as one JSON line. 0, or a negative code with the reason on stderr. */
static int write_summary_json(FpPipeline *p, const FpPipelineSummary *sum, const char *path, double cpu)
{
    cJSON *root = summary_json(p, sum, cpu);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "framepipe: --summary %s: out of memory\n", path);
        return -ENOMEM;
    }
    FILE *out = fopen(path, "w");
    if (!out) {
        int rc = -errno;
        fprintf(stderr, "framepipe: --summary %s: %s\n", path, strerror(errno));
        cJSON_free(text);
        return rc;
    }
    fputs(text, out);
    fputc('\n', out);
    cJSON_free(text);
    int rc = ferror(out) ? -EIO : 0;
    if (fclose(out) != 0 && !rc)
        rc = -errno;
    if (rc)
        fprintf(stderr, "framepipe: --summary %s: write failed\n", path);
    return rc;
}

static void print_summary(const FpPipelineSummary *sum, double cpu)
{
    const FpPipelineSummary s = *sum;
    fprintf(stderr,
            "framepipe: %" PRIu64 " frames in %.2f s (%.1f fps), %" PRIu64 " detections, %" PRIu64
            " skipped\n"
            "framepipe: latency decoded->output p50 %.2f ms, p99 %.2f ms, max %.2f ms, of which\n"
            "framepipe:   queueing (decoded->batched, waiting behind other frames) p50 %.2f ms, p99 %.2f ms\n"
            "framepipe:   processing (batched->output: prep, inference, post, outputs) p50 %.2f ms, p99 %.2f ms\n"
            "framepipe: batch fill %.2f; pool hit rate %.4f; cpu %.2f s\n",
            s.frames, s.seconds, s.fps, s.detections, s.skipped, ms(s.latency.p50), ms(s.latency.p99),
            ms(s.latency.max), ms(s.queue.p50), ms(s.queue.p99), ms(s.processing.p50), ms(s.processing.p99),
            s.batch_fill, s.pool_hit_rate, cpu);
}

/*
 * Frames the pipeline will process in all: the sum of the sources'
 * frames_expected (known once each has opened its input). 0 (unknown) while
 * a camera that has not failed does not know its count yet or never will
 * (live); failed cameras are left out.
 */
static int64_t expected_total(FpPipeline *p)
{
    int64_t total = 0;
    int n = fp_pipeline_camera_count(p);
    for (int i = 0; i < n; i++) {
        FpCameraSummary cs;
        if (fp_pipeline_get_camera(p, i, &cs) < 0 || cs.source.state == FP_SOURCE_FAILED)
            continue;
        if (cs.source.frames_expected <= 0)
            return 0;
        total += cs.source.frames_expected;
    }
    return total;
}

static void draw_progress(FpPipeline *p, int with_total, int64_t t0)
{
    FpPipelineSummary s;
    fp_pipeline_get_summary(p, &s);
    int64_t total = with_total ? expected_total(p) : 0;
    double el = (double)(fp_clock_ns() - t0) / 1e9;
    double fps = el > 0 ? (double)s.frames / el : 0;
    if (total > 0) {
        double f = (double)s.frames / (double)total;
        if (f > 1)
            f = 1;
        int w = 30, fill = (int)(f * w);
        char bar[32];
        for (int i = 0; i < w; i++)
            bar[i] = i < fill ? '#' : '-';
        bar[w] = 0;
        double eta = fps > 0 ? (double)(total - (int64_t)s.frames) / fps : 0;
        if (eta < 0)
            eta = 0;
        fprintf(stderr, "\r[%s] %3.0f%% %" PRIu64 "/%" PRId64 " frames %.1f fps ETA %.0fs ", bar,
                f * 100, s.frames, total, fps, eta);
    } else {
        fprintf(stderr, "\r%" PRIu64 " frames %.1f fps ", s.frames, fps);
    }
}

/* s with control characters as \n, \r, \t or \xHH: a file name cannot start a line of its own. */
static void put_escaped(FILE *out, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            fputc(*p, out);
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            fprintf(out, "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
        else
            fprintf(out, "\\x%02x", *p);
    }
}

/* "framepipe: MSG\n" on stderr, MSG's control characters escaped. */
static void print_error(const char *msg)
{
    fputs("framepipe: ", stderr);
    put_escaped(stderr, msg);
    fputc('\n', stderr);
}

/*
 * Exit code from how the cameras ended: an input that failed (not stopped,
 * not at its end) is 1, and so is a partial one (docs/cli.md).
 */
static int cameras_exit_code(FpPipeline *p)
{
    int n = fp_pipeline_camera_count(p), code = FP_EXIT_OK;
    for (int i = 0; i < n; i++) {
        FpCameraSummary cs;
        fp_pipeline_get_camera(p, i, &cs);
        if (camera_partial(&cs)) {
            char msg[1024];
            snprintf(msg, sizeof(msg), "input %s is partial: %s", cs.name, cs.source.last_error);
            print_error(msg);
            code = FP_EXIT_INPUT;
        }
        if (cs.source.state == FP_SOURCE_FAILED) {
            char msg[1024];
            snprintf(msg, sizeof(msg), "input %s failed: %s", cs.name, cs.source.last_error);
            print_error(msg);
            code = FP_EXIT_INPUT;
        }
    }
    return code;
}

/*
 * True when every output the run has failed for good: the JSON lines and
 * events outputs that are configured have lost their reader (a closed pipe:
 * `detect ... | head -1`) and there is nothing else to serve (no annotation,
 * no network output, no HTTP endpoint). Then decoding on is work for nobody.
 */
static bool outputs_gone(const FpJsonlSink *jsonl, const FpEventsJsonl *events, const FpAnnotateSink *annotate,
                         const AppOutputs *outputs, const FpHttpServer *http)
{
    if ((!jsonl && !events) || annotate || outputs->n || http)
        return false;
    return (!jsonl || fp_jsonl_sink_gone(jsonl)) && (!events || fp_events_jsonl_gone(events));
}

/* FpEventSinkFn: the recent events /api/events serves. */
static int http_event(void *opaque, const FpEvent *ev, const FpFrameResult *r)
{
    (void)r;
    int64_t rc = fp_event_log_add(opaque, ev);
    return rc < 0 ? (int)rc : 0;
}

/* With rules and an HTTP server: the log of recent events behind /api/events, fed as an event sink. */
static int open_event_log(FpPipeline *p, const FpPipelineConfig *cfg, FpHttpServer *http, FpEventLog **log)
{
    if (!http || cfg->n_rules == 0)
        return 0;
    int rc = fp_event_log_create(log, 100);
    if (rc < 0 || (rc = fp_pipeline_add_event_sink(p, http_event, *log)) < 0)
        return rc;
    return fp_http_server_set_event_log(http, *log);
}

/* ---- network outputs (docs/outputs.md) ---- */

/* Creates the transport of network output `i` (0 redis, 1 mqtt, 2 webhook) when it is configured: 1 and ops, t;
 * 0 when it is not, or a negative code with a message (a configuration the transport refuses). */
static int open_transport(const FpOutputSection *o, int i, const FpNetOutputSection **net,
                          const FpTransportOps **ops, void **t)
{
    int rc;
    switch (i) {
    case 0:
        *net = &o->redis;
        rc = o->redis.enabled ? fp_redis_transport_create(ops, t, &o->redis_cfg) : 0;
        break;
    case 1:
        *net = &o->mqtt;
        rc = o->mqtt.enabled ? fp_mqtt_transport_create(ops, t, &o->mqtt_cfg) : 0;
        break;
    default:
        *net = &o->webhook;
        rc = o->webhook.enabled ? fp_webhook_transport_create(ops, t, &o->webhook_cfg) : 0;
        break;
    }
    return rc < 0 ? rc : (*net)->enabled ? 1 : 0;
}

int fp_app_check_outputs(const FpPipelineConfig *cfg)
{
    for (int i = 0; i < APP_MAX_OUTPUTS; i++) {
        const FpNetOutputSection *net;
        const FpTransportOps *ops;
        void *t = NULL;
        int rc = open_transport(&cfg->output, i, &net, &ops, &t);
        if (rc < 0)
            return rc;
        if (rc > 0)
            ops->destroy(t);
    }
    return 0;
}

/* mkdir -p of `dir` (0700 for the folders it creates). 0 or -errno. */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* The spools' folder: output.spool, else $XDG_STATE_HOME/framepipe/spool, else ~/.local/state/framepipe/spool. */
static int spool_dir(const FpOutputSection *o, char *buf, size_t len)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (o->spool)
        n = snprintf(buf, len, "%s", o->spool);
    else if (state && state[0] == '/')
        n = snprintf(buf, len, "%s/framepipe/spool", state);
    else if (home && home[0])
        n = snprintf(buf, len, "%s/.local/state/framepipe/spool", home);
    else
        return fp_error(FP_ECONFIG, "outputs: no spool folder: set output.spool (HOME and XDG_STATE_HOME are unset)");
    if (n < 0 || (size_t)n >= len)
        return fp_error(FP_ECONFIG, "outputs: the spool folder's path is too long");
    int rc = make_dirs(buf);
    if (rc < 0)
        return fp_error(rc, "outputs: cannot create the spool folder %s: %s", buf, fp_strerror(rc));
    return 0;
}

int fp_app_open_deliveries(const FpPipelineConfig *cfg, FpMetrics *metrics, FpDelivery **d, int *n,
                           FpAppAddDelivery add, void *target)
{
    char dir[4096] = "";
    for (int i = 0; i < APP_MAX_OUTPUTS; i++) {
        const FpNetOutputSection *net;
        const FpTransportOps *ops;
        void *t = NULL;
        int rc = open_transport(&cfg->output, i, &net, &ops, &t);
        if (rc < 0)
            return rc;
        if (rc == 0)
            continue;
        if (!dir[0] && (rc = spool_dir(&cfg->output, dir, sizeof(dir))) < 0) {
            ops->destroy(t);
            return rc;
        }
        char spool[4200];
        snprintf(spool, sizeof(spool), "%s/%s.spool", dir, ops->kind);
        FpDeliveryConfig dc;
        fp_delivery_config_init(&dc);
        dc.frames = net->frames;
        dc.events = net->events;
        dc.frame_queue = net->queue;
        dc.spool_path = spool;
        rc = fp_delivery_create(&d[*n], ops, t, &dc);
        if (rc < 0)
            return rc;
        FpDelivery *dv = d[(*n)++];
        if ((rc = fp_delivery_register_metrics(dv, metrics)) < 0 || (rc = add(target, dv, net->frames, net->events)) < 0)
            return rc;
        fp_log_info("app", "output %s: %s%s%s, spool %s", fp_delivery_name(dv), net->frames ? "frames" : "",
                    net->frames && net->events ? " and " : "", net->events ? "events" : "", spool);
    }
    return 0;
}

static int add_to_pipeline(void *target, FpDelivery *d, bool frames, bool events)
{
    FpPipeline *p = target;
    int rc = 0;
    if ((frames && (rc = fp_pipeline_add_sink(p, fp_delivery_frame, d)) < 0) ||
        (events && (rc = fp_pipeline_add_event_sink(p, fp_delivery_event, d)) < 0))
        return rc;
    return 0;
}

/* Starts every configured network output and registers it with the pipeline (frames and/or events) and its metrics. */
static int open_outputs(FpPipeline *p, const FpPipelineConfig *cfg, AppOutputs *o)
{
    return fp_app_open_deliveries(cfg, fp_pipeline_metrics(p), o->d, &o->n, add_to_pipeline, p);
}

void fp_app_close_deliveries(FpDelivery **d, int *n)
{
    for (int i = 0; i < *n; i++) {
        FpDeliveryStats st;
        fp_delivery_get_stats(d[i], &st);
        fp_log_debug("app", "output %s: %" PRIu64 " frames and %" PRIu64 " events sent, %" PRIu64 " dropped, %" PRIu64
                     " spooled", fp_delivery_name(d[i]), st.sent_frames, st.sent_events, st.dropped, st.spooled);
        fp_delivery_destroy(&d[i]);
    }
    *n = 0;
}

/* Stops the outputs (each delivers what is queued for up to 2 s, then spools the events left). */
static void close_outputs(AppOutputs *o)
{
    fp_app_close_deliveries(o->d, &o->n);
}

/* detect --redact: the detections' boxes redacted in the frame's own pixels, for the sinks after it (the
 * annotation). One lock: sinks run on every worker, the scratch is one. */
typedef struct AppRedact {
    int mode;
    const char *skip_camera; /* run --api: the posted pictures' camera, left as posted (docs/service.md) */
    pthread_mutex_t lock;
    FpImgScratch scratch;
} AppRedact;

static int redact_write(void *opaque, const FpFrameResult *r)
{
    AppRedact *a = opaque;
    if (a->skip_camera && r->camera_name && !strcmp(r->camera_name, a->skip_camera))
        return 0;
    pthread_mutex_lock(&a->lock);
    int rc = fp_app_redact((FpFrame *)(uintptr_t)r->frame, r->dets, r->n_dets, a->mode, &a->scratch);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int fp_app_run_pipeline(const FpAppRun *run)
{
    const FpPipelineConfig *cfg = run->cfg;
    FpPipeline *p = NULL;
    FpJsonlSink *jsonl = NULL;
    FpEventsJsonl *events = NULL;
    FpAnnotateSink *annotate = NULL;
    FpHttpServer *http = NULL;
    FpEventLog *event_log = NULL;
    AppOutputs outputs = {0};
    FpPreview *preview = NULL;
    AppHttp app_http = {0};
    AppRedact redact = {.mode = run->redact, .skip_camera = run->service ? FP_APP_SERVICE_CAMERA : NULL,
                        .lock = PTHREAD_MUTEX_INITIALIZER};
    int code = FP_EXIT_OK, started = 0;

    int rc = fp_pipeline_create(&p, cfg);
    if (rc < 0) {
        print_error(fp_error_detail(rc));
        return rc == FP_ECONFIG || rc == FP_EINVALID ? FP_EXIT_USAGE
               : rc == FP_EMODEL || rc == FP_EDEPENDENCY || rc == FP_EUNSUPPORTED || rc == -ENOENT ||
                       rc == -EACCES
                   ? FP_EXIT_MODEL
                   : FP_EXIT_INPUT;
    }
    if (cfg->output.jsonl) {
        rc = fp_jsonl_sink_create(&jsonl, cfg->output.jsonl);
        if (rc < 0 || (rc = fp_pipeline_add_sink(p, fp_jsonl_sink_write, jsonl)) < 0)
            goto out_error;
    }
    if (cfg->output.events) {
        rc = fp_events_jsonl_create(&events, cfg->output.events);
        if (rc < 0 || (rc = fp_pipeline_add_event_sink(p, fp_events_jsonl_write, events)) < 0)
            goto out_error;
    }
    if (run->redact && (rc = fp_pipeline_add_sink(p, redact_write, &redact)) < 0) /* before the annotation */
        goto out_error;
    if (cfg->output.annotate) {
        rc = fp_annotate_sink_create(&annotate, cfg->output.annotate, 30.0);
        if (rc >= 0 && run->redact)
            fp_annotate_sink_set_draw(annotate, false);
        if (rc >= 0) { /* drawn and encoded on the sink's own thread, off the inference workers */
            const char *q = getenv("FP_ANNOTATE_QUEUE"); /* docs/annotate.md: 0 = on the workers (benchmarks) */
            rc = fp_annotate_sink_set_queue(annotate, q && q[0] ? atoi(q) : 64);
        }
        if (rc < 0 || (rc = fp_pipeline_add_sink(p, fp_annotate_sink_write, annotate)) < 0)
            goto out_error;
    }
    if ((rc = open_outputs(p, cfg, &outputs)) < 0)
        goto out_error;
    if (cfg->output.http) {
        if ((rc = open_preview(p, cfg, &preview)) < 0)
            goto out_error;
        if (run->service && (rc = fp_app_service_attach(run->service, p)) < 0) /* the last sink */
            goto out_error;
        app_http = (AppHttp){.p = p, .preview = preview, .outputs = &outputs};
        FpHttpHandlers h = {
            .metrics = fp_pipeline_metrics(p),
            .write_cameras = http_cameras,
            .healthy = http_healthy,
            .write_sinks = http_sinks,
            .preview_watch = http_preview_watch,
            .preview_next = http_preview_next,
            .snapshot_dir = cfg->output.snapshots,
            .token = run->http_token ? run->http_token : cfg->output.http_token,
            .post = run->service ? fp_app_service_post(run->service) : NULL,
            .opaque = &app_http,
        };
        rc = fp_http_server_create(&http, cfg->output.http, &h);
        if (rc < 0 || (rc = open_event_log(p, cfg, http, &event_log)) < 0)
            goto out_error;
    }
    install_signals();
    started = 1;
    rc = fp_pipeline_start(p);
    if (rc < 0)
        goto out_error;
    int64_t t0 = fp_clock_ns();
    int progress = run->progress && isatty(STDERR_FILENO);
    int drained = 0, gone = 0;
    for (;;) {
        rc = fp_pipeline_wait(p, 200000000);
        if (rc == 0)
            break;
        if (progress)
            draw_progress(p, run->progress_total, t0);
        if (!gone && outputs_gone(jsonl, events, annotate, &outputs, http)) {
            print_error("every output has failed for good (its reader went away); stopping");
            gone = drained = 1;
            fp_pipeline_stop(p, true);
        }
        int timeup = run->duration_s > 0 && (double)(fp_clock_ns() - t0) / 1e9 >= run->duration_s;
        if ((signals_seen || timeup) && !drained) {
            if (signals_seen)
                fp_log_info("app", "signal: draining (a second signal exits at once)");
            drained = 1;
            fp_pipeline_stop(p, true);
        }
    }
    fp_pipeline_stop(p, true);
    if (progress) {
        draw_progress(p, run->progress_total, t0);
        fputc('\n', stderr);
    }
    code = gone ? FP_EXIT_INPUT : drained ? FP_EXIT_OK : cameras_exit_code(p);
    if (annotate && (rc = fp_annotate_sink_close(annotate)) < 0) {
        fprintf(stderr, "framepipe: %s\n", fp_error_detail(rc));
        code = FP_EXIT_INPUT;
    }
    FpPipelineSummary sum;
    fp_pipeline_get_summary(p, &sum);
    if (sum.sink_errors) {
        fprintf(stderr, "framepipe: %" PRIu64 " results could not be written (see the first error above)\n",
                sum.sink_errors);
        code = FP_EXIT_INPUT;
    }
    double cpu = cpu_seconds();
    if (!run->quiet)
        print_summary(&sum, cpu);
    if (run->summary_path && write_summary_json(p, &sum, run->summary_path, cpu) < 0)
        code = FP_EXIT_INPUT;
    goto out;
out_error:
    /* an output that cannot be opened (path, listen address) is a usage error; a failed start is not */
    print_error(fp_error_detail(rc));
    code = started ? FP_EXIT_INPUT : FP_EXIT_USAGE;
out:
    fp_pipeline_stop(p, false);    /* no sink call runs after this */
    fp_app_service_shutdown(run->service); /* its waiting requests answer 503 now */
    fp_http_server_destroy(&http); /* no preview_next/watch call runs after this */
    fp_preview_destroy(&preview);  /* drops its frame references: before the pipeline's pool goes */
    fp_annotate_sink_destroy(&annotate); /* its queue's frame references too */
    close_outputs(&outputs);
    fp_pipeline_destroy(&p);
    fp_event_log_destroy(&event_log);
    fp_jsonl_sink_destroy(&jsonl);
    fp_events_jsonl_destroy(&events);
    fp_img_scratch_deinit(&redact.scratch);
    return code;
}
