// SPDX-License-Identifier: MIT
// Tracking and rules inside FpPipeline: BlazeFace on a clip built here (a face picture sliding over a grey canvas along a known path), track ids on the frames, enter/dwell events in the events file.
#include "fp_test.h"

#include "framepipe/error.h"
#include "framepipe/pipeline.h"
#include "framepipe/sink.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_STR_EQ(a, b)                                                                              \
    do {                                                                                                \
        const char *a_ = (a), *b_ = (b);                                                                \
        CHECK_MSG(a_ && b_ && !strcmp(a_, b_), "%s is '%s', expected '%s'", #a, a_ ? a_ : "(null)", b_); \
    } while (0)

/*
 * The clip: frame 230 of opencv-doc's Megamind.avi (the man in close-up,
 * one frontal face) scaled to 160x120 and overlaid on a 320x240 grey canvas
 * at x = -40 + 40 t, y = 60, for t < 4 s; 25 fps, 6 s. So in frame k
 * (t = k / 25) the picture spans x in [-40 + 1.6 k, 120 + 1.6 k], y in
 * [60, 180], until frame 99; from frame 100 on the canvas is empty. Inside
 * the picture the face spans about x 55..120 (its centre 87.5 px from the
 * picture's left edge: measured once on the first frame), so the face's
 * centre crosses x = 160 (the zone's left edge) when -40 + 40 t + 87.5 = 160,
 * at t = 2.81 s (frame 70.3).
 */
#define MEGAMIND "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"
#define FRAMES 150
#define VISIBLE 100
#define FACE_CX_IN_PICTURE 87.5
#define CROSS_T 2.8125

typedef struct Seen {
    pthread_mutex_t lock;
    int frames;
    int n_dets[FRAMES];
    float cx[FRAMES][4];
    uint64_t ids[FRAMES][4];
    int null_track_ids; /* results with track_ids NULL */
    int events;
    int events_frame_mismatch; /* an event whose frame result is not of its time */
} Seen;

static int seen_frame(void *opaque, const FpFrameResult *r)
{
    Seen *s = opaque;
    pthread_mutex_lock(&s->lock);
    uint64_t k = r->frame->seq;
    if (!r->track_ids)
        s->null_track_ids++;
    if (k < FRAMES) {
        s->n_dets[k] = r->n_dets < 4 ? r->n_dets : 4;
        for (int i = 0; i < s->n_dets[k]; i++) {
            s->cx[k][i] = (r->dets[i].box.x1 + r->dets[i].box.x2) / 2;
            s->ids[k][i] = r->track_ids ? r->track_ids[i] : 0;
        }
    }
    s->frames++;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int seen_event(void *opaque, const FpEvent *ev, const FpFrameResult *r)
{
    Seen *s = opaque;
    pthread_mutex_lock(&s->lock);
    s->events++;
    /* The frame handed along is the one whose update raised the event: never before the event's times. */
    int64_t t = ev->kind == FP_EVENT_END ? ev->end_ns : ev->start_ns;
    if (!r || !r->frame || r->frame->pts_ns < t || !r->track_ids)
        s->events_frame_mismatch++;
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static const char *make_clip(void)
{
    static char clip[PATH_MAX];
    if (access(MEGAMIND, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", MEGAMIND);
    if (system("command -v ffmpeg >/dev/null 2>&1") != 0)
        fp_test_skip("the ffmpeg command is missing");
    char png[PATH_MAX], cmd[4 * PATH_MAX];
    snprintf(png, sizeof(png), "%s/face.png", fp_test_tmpdir());
    snprintf(clip, sizeof(clip), "%s/moving_face.mp4", fp_test_tmpdir());
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -i %s -vf 'select=eq(n\\,230)' -frames:v 1 %s && "
             "ffmpeg -nostdin -v error -y -f lavfi -i color=c=gray:s=320x240:r=25:d=6 -loop 1 -framerate 25 -i %s "
             "-filter_complex \"[1:v]scale=160:120[f];[0:v][f]overlay=x='-40+40*t':y=60:enable='lt(t,4)':shortest=1,"
             "format=yuv420p\" -c:v libx264 -g 25 -t 6 %s",
             MEGAMIND, png, png, clip);
    CHECK_MSG(system(cmd) == 0, "ffmpeg failed: %s", cmd);
    return clip;
}

static FpZoneConfig right_half = {
    .name = "right", .n_points = 4, .points = {{160, 0}, {320, 0}, {320, 240}, {160, 240}}, .normalized = false};

static void events_config(FpPipelineConfig *cfg, const char *model, const char *clip)
{
    fp_pipeline_config_init(cfg);
    cfg->model.path = model;
    cfg->model.threads = 1;
    cfg->cameras[0].name = "slide";
    cfg->cameras[0].source.url = clip;
    cfg->cameras[0].zones = &right_half;
    cfg->cameras[0].n_zones = 1;
    cfg->n_cameras = 1;
    cfg->tracker.enabled = true;
    cfg->tracker.anchor = FP_TRACK_ANCHOR_CENTER;
    FpRuleSection *r = &cfg->rules[0];
    fp_rule_config_init(&r->rule, FP_RULE_ENTER);
    r->rule.name = "arrives";
    r->rule.zone = "right";
    r->class_name = "face";
    r = &cfg->rules[1];
    fp_rule_config_init(&r->rule, FP_RULE_DWELL);
    r->rule.name = "stays";
    r->rule.zone = "right";
    r->rule.duration_ns = 500000000;
    r->camera = "slide";
    cfg->n_rules = 2;
}

static cJSON *events_of(const char *path, int *n)
{
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    CHECK_MSG(f != NULL, "cannot read %s", path);
    static char text[1 << 16];
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[len] = 0;
    cJSON *all = cJSON_CreateArray();
    *n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *ev = cJSON_Parse(line);
        CHECK_MSG(ev != NULL, "not JSON: %s", line);
        cJSON_AddItemToArray(all, ev);
        (*n)++;
    }
    return all;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1e30;
}

FP_TEST_TIMED(pipeline_tracks_the_sliding_face_and_raises_enter_and_dwell, 300)
{
    char model[600];
    snprintf(model, sizeof(model), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access(model, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", model);
    const char *clip = make_clip();
    static FpPipelineConfig cfg;
    events_config(&cfg, model, clip);
    char events_path[PATH_MAX];
    snprintf(events_path, sizeof(events_path), "%s/events.jsonl", fp_test_tmpdir());
    static Seen s;
    memset(&s, 0, sizeof(s));
    pthread_mutex_init(&s.lock, NULL);
    FpEventsJsonl *ej = NULL;
    FpPipeline *p = NULL;
    CHECK_OK(fp_events_jsonl_create(&ej, events_path));
    CHECK_OK(fp_pipeline_create(&p, &cfg));
    CHECK_OK(fp_pipeline_add_sink(p, seen_frame, &s));
    CHECK_OK(fp_pipeline_add_event_sink(p, fp_events_jsonl_write, ej));
    CHECK_OK(fp_pipeline_add_event_sink(p, seen_event, &s));
    CHECK_OK(fp_pipeline_start(p));
    CHECK_OK(fp_pipeline_wait(p, -1));
    FpPipelineSummary sum;
    fp_pipeline_get_summary(p, &sum);
    fp_pipeline_destroy(&p);
    CHECK_EQ(fp_events_jsonl_lines(ej), sum.events);
    fp_events_jsonl_destroy(&ej);

    CHECK_EQ(s.frames, FRAMES);
    CHECK_EQ(s.null_track_ids, 0);
    /* The face: in every visible frame one detection whose centre is inside the picture, with one id. */
    uint64_t id = 0;
    int with_face = 0;
    for (int k = 0; k < VISIBLE; k++) {
        float left = -40.f + 1.6f * (float)k, right = 120.f + 1.6f * (float)k;
        for (int i = 0; i < s.n_dets[k]; i++) {
            if (s.cx[k][i] < left || s.cx[k][i] > right)
                continue;
            with_face++;
            CHECK_MSG(s.ids[k][i] != 0, "frame %d: the face has no track id", k);
            if (!id)
                id = s.ids[k][i];
            CHECK_MSG(s.ids[k][i] == id, "frame %d: the face's id %llu, before %llu", k,
                      (unsigned long long)s.ids[k][i], (unsigned long long)id);
        }
    }
    printf("the face has track id %llu in %d of %d visible frames\n", (unsigned long long)id, with_face, VISIBLE);
    CHECK(with_face >= VISIBLE * 9 / 10);
    for (int k = VISIBLE + 2; k < FRAMES; k++)
        CHECK_MSG(s.n_dets[k] == 0, "frame %d: %d detections on the empty canvas", k, s.n_dets[k]);

    /* Events: enter once, dwell start and end; times from the construction. */
    int n = 0;
    cJSON *all = events_of(events_path, &n);
    CHECK_EQ(n, s.events);
    CHECK_EQ(s.events_frame_mismatch, 0);
    const cJSON *enter = NULL, *dstart = NULL, *dend = NULL;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, all)
    {
        char *txt = cJSON_PrintUnformatted(ev);
        printf("  %s\n", txt);
        free(txt);
        CHECK_STR_EQ(str_of(ev, "camera_name"), "slide");
        CHECK_EQ(num_of(ev, "camera"), 0);
        CHECK_STR_EQ(str_of(ev, "zone"), "right");
        CHECK_EQ(num_of(ev, "track_id"), (double)id);
        const char *rule = str_of(ev, "rule"), *kind = str_of(ev, "kind");
        CHECK(rule && kind);
        if (!strcmp(rule, "arrives")) {
            CHECK_MSG(!enter, "a second enter event");
            CHECK_STR_EQ(str_of(ev, "rule_kind"), "enter");
            CHECK_EQ(num_of(ev, "class_id"), 0); /* "face", resolved at create */
            enter = ev;
        } else {
            CHECK_STR_EQ(rule, "stays");
            CHECK_STR_EQ(str_of(ev, "rule_kind"), "dwell");
            if (!strcmp(kind, "start")) {
                CHECK_MSG(!dstart, "a second dwell start");
                dstart = ev;
            } else {
                CHECK_STR_EQ(kind, "end");
                CHECK_MSG(dstart && !dend, "a dwell end without one start before it");
                dend = ev;
            }
        }
    }
    CHECK_MSG(enter && dstart && dend, "missing events: enter %p, dwell start %p, end %p", (const void *)enter,
              (const void *)dstart, (const void *)dend);
    double t_enter = num_of(enter, "start_ns") / 1e9;
    /* the crossing at 2.81 s, +-0.2 s for the face's size estimate and the Kalman box's lag */
    CHECK_MSG(t_enter > CROSS_T - 0.2 && t_enter < CROSS_T + 0.2, "enter at %.3f s, expected %.3f s", t_enter,
              CROSS_T);
    CHECK_EQ(num_of(enter, "start_ns"), num_of(enter, "end_ns"));
    /* dwell: began when the face came in, started 0.5 s later, ended when it vanished (4 s) plus the presence
     * window (5 updates of 40 ms) */
    CHECK(fabs(num_of(dstart, "start_ns") / 1e9 - t_enter) <= 0.045);
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(dstart, "end_ns")));
    CHECK_EQ(num_of(dend, "start_ns"), num_of(dstart, "start_ns"));
    double t_end = num_of(dend, "end_ns") / 1e9;
    CHECK_MSG(t_end >= 4.0 && t_end <= 4.0 + 5 * 0.04 + 0.001, "dwell ended at %.3f s", t_end);
    CHECK(num_of(dend, "id") > num_of(dstart, "id"));
    cJSON_Delete(all);
    pthread_mutex_destroy(&s.lock);
}

FP_TEST_TIMED(pipeline_rule_with_an_unknown_class_name_fails_create_naming_it, 120)
{
    char model[600];
    snprintf(model, sizeof(model), "%s/models/blazeface/face_detection_front_128x128_barracuda.onnx",
             fp_test_cache_dir());
    if (access(model, R_OK) != 0)
        fp_test_skip("%s missing: run scripts/setup.sh", model);
    static FpPipelineConfig cfg;
    events_config(&cfg, model, "/nonexistent/never-opened.mp4");
    cfg.rules[0].class_name = "cat";
    FpPipeline *p = NULL;
    int rc = fp_pipeline_create(&p, &cfg);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK(p == NULL);
    CHECK_MSG(strstr(fp_error_detail(rc), "arrives") && strstr(fp_error_detail(rc), "'cat'"), "%s",
              fp_error_detail(rc));
}
