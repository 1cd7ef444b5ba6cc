// SPDX-License-Identifier: MIT
// FpTracker tests: synthetic sequences with known truth (crossing, occlusion, low-score flicker, 100 objects, time-based death), config and time checks, no allocation per update, and BlazeFace on Megamind.avi.
#include "fp_alloc_count.h"
#include "fp_test.h"
#include "infer_util.h"

#include "framepipe/pipeline.h"
#include "framepipe/track.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <unistd.h>

#define FRAME_NS 33333333LL /* 30 fps */
#define MAX_OBJ 128

/*
 * Scoring against the truth, MOTA-style, from what a user reads: the id each
 * detection got (track_ids of fp_tracker_update) and the confirmed tracks.
 *  FN: a visible object whose detection is not held by a confirmed track;
 *  FP: a confirmed track holding a detection of no object;
 *  IDSW: an object whose id differs from the one it had last.
 * An id that ever names two objects is counted as `shared`.
 */
typedef struct Score {
    int fp, fn, idsw, shared, frames;
    uint64_t last_id[MAX_OBJ];
    int owner_of_id[4096]; /* object + 1 per id seen (ids stay below 4096 here) */
} Score;

static void score_frame(Score *s, FpTracker *t, const int *truth, int n, const uint64_t *ids)
{
    const FpTrack *tr;
    int nt = fp_tracker_tracks(t, &tr);
    s->frames++;
    for (int i = 0; i < n; i++) {
        int obj = truth[i];
        bool held = false;
        for (int k = 0; k < nt; k++)
            if (tr[k].det_index == i && tr[k].state == FP_TRACK_CONFIRMED) {
                held = true;
                CHECK_EQ(tr[k].id, ids[i]);
            }
        if (obj < 0) {
            s->fp += held;
            continue;
        }
        if (!held)
            s->fn++;
        if (ids[i] == 0)
            continue;
        if (s->last_id[obj] != 0 && s->last_id[obj] != ids[i])
            s->idsw++;
        s->last_id[obj] = ids[i];
        CHECK(ids[i] < 4096);
        if (s->owner_of_id[ids[i]] == 0)
            s->owner_of_id[ids[i]] = obj + 1;
        else if (s->owner_of_id[ids[i]] != obj + 1)
            s->shared++;
    }
}

static void score_print(const char *what, const Score *s)
{
    printf("%s: %d frames, FP %d, FN %d, IDSW %d, ids shared by two objects %d\n", what, s->frames, s->fp, s->fn,
           s->idsw, s->shared);
}

static FpDetection det_box(float cx, float cy, float w, float h, float score)
{
    FpDetection d;
    memset(&d, 0, sizeof(d));
    d.box = (FpBox){cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2};
    d.score = score;
    return d;
}

static FpTracker *tracker_new(void)
{
    FpTracker *t = NULL;
    CHECK_OK(fp_tracker_create(&t, NULL));
    return t;
}

FP_TEST(tracker_two_objects_crossing_keep_their_ids)
{
    FpTracker *t = tracker_new();
    static Score s;
    memset(&s, 0, sizeof(s));
    /* A walks right, B walks left, a little lower and taller; they overlap fully around frame 30. */
    for (int f = 0; f < 60; f++) {
        FpDetection d[2] = {det_box(100 + 6.0f * f, 200, 40, 80, 0.9f), det_box(460 - 6.0f * f, 210, 44, 90, 0.85f)};
        int truth[2] = {0, 1};
        if (f % 2) { /* the order of detections is no clue */
            FpDetection tmp = d[0];
            d[0] = d[1];
            d[1] = tmp;
            truth[0] = 1;
            truth[1] = 0;
        }
        uint64_t ids[2];
        CHECK_EQ(fp_tracker_update(t, d, 2, f * FRAME_NS, ids), 2);
        score_frame(&s, t, truth, 2, ids);
    }
    score_print("crossing", &s);
    CHECK_EQ(s.idsw, 0);
    CHECK_EQ(s.shared, 0);
    CHECK_EQ(s.fp, 0);
    CHECK_EQ(s.fn, 2 * 2); /* the first min_hits - 1 = 2 frames of each object: tentative */
    CHECK(s.last_id[0] != s.last_id[1]);
    fp_tracker_destroy(&t);
    CHECK(t == NULL);
}

FP_TEST(tracker_occluded_for_ten_frames_keeps_its_id)
{
    FpTracker *t = tracker_new();
    uint64_t first = 0;
    int lost_seen = 0;
    for (int f = 0; f < 60; f++) {
        FpDetection d = det_box(50 + 5.0f * f, 300 + 1.0f * f, 60, 60, 0.8f);
        bool hidden = f >= 25 && f < 35;
        uint64_t id = 0;
        int nt = fp_tracker_update(t, &d, hidden ? 0 : 1, f * FRAME_NS, &id);
        CHECK_EQ(nt, 1);
        const FpTrack *tr;
        fp_tracker_tracks(t, &tr);
        if (hidden) {
            CHECK_EQ(tr[0].state, FP_TRACK_LOST);
            CHECK_EQ(tr[0].det_index, -1);
            /* coasting: the filtered box keeps moving with the object */
            CHECK_NEAR((tr[0].box.x1 + tr[0].box.x2) / 2, 50 + 5.0f * f, 8.0);
            lost_seen++;
            continue;
        }
        CHECK(id != 0);
        if (first == 0)
            first = id;
        CHECK_MSG(id == first, "frame %d: id %" PRIu64 ", was %" PRIu64, f, id, first);
        if (f >= 2)
            CHECK_EQ(tr[0].state, FP_TRACK_CONFIRMED);
    }
    printf("occlusion: one id (%" PRIu64 ") over 60 frames, lost for %d\n", first, lost_seen);
    CHECK_EQ(lost_seen, 10);
    /* velocity in source pixels per second: 5 px/frame at 30 fps */
    const FpTrack *tr;
    fp_tracker_tracks(t, &tr);
    CHECK_NEAR(tr[0].vx, 150.0, 15.0);
    CHECK_NEAR(tr[0].vy, 30.0, 10.0);
    fp_tracker_destroy(&t);
}

FP_TEST(tracker_low_score_flicker_is_kept_by_the_second_stage)
{
    FpTracker *t = tracker_new();
    uint64_t first = 0;
    int low_matched = 0;
    for (int f = 0; f < 40; f++) {
        /* 0.3 is below high_threshold (0.5), above low_threshold (0.1); every third frame after the start */
        float score = (f > 5 && f % 3 == 0) ? 0.3f : 0.9f;
        FpDetection d[2] = {det_box(200 + 2.0f * f, 200, 50, 100, score),
                            det_box(700, 500, 50, 100, 0.3f)}; /* a lone low-score box: never a track */
        uint64_t ids[2];
        CHECK_OK(fp_tracker_update(t, d, 2, f * FRAME_NS, ids));
        CHECK_MSG(ids[0] != 0, "frame %d: score %.1f, no id", f, (double)score);
        if (first == 0)
            first = ids[0];
        CHECK_EQ(ids[0], first);
        CHECK_EQ(ids[1], 0);
        low_matched += score < 0.5f;
        const FpTrack *tr;
        CHECK_EQ(fp_tracker_tracks(t, &tr), 1);
        if (f > 5)
            CHECK_EQ(tr[0].state, FP_TRACK_CONFIRMED);
        CHECK_NEAR(tr[0].score, score, 1e-6);
    }
    printf("flicker: one id over 40 frames, %d of them matched at score 0.3 (stage 2)\n", low_matched);
    CHECK_EQ(low_matched, 12); /* frames 6, 9, ..., 39 */
    fp_tracker_destroy(&t);
}

/* 100 objects on a 10 x 10 grid, each with its own velocity and a pixel of jitter; some pass each other. */
typedef struct Crowd {
    float x[100], y[100], vx[100], vy[100], w[100], h[100];
    uint64_t rng;
} Crowd;

static float crowd_rand(Crowd *c)
{
    c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(c->rng >> 40) / 16777216.0f;
}

static void crowd_init(Crowd *c, uint64_t seed)
{
    c->rng = seed;
    for (int i = 0; i < 100; i++) {
        c->x[i] = 100 + 180.0f * (float)(i % 10);
        c->y[i] = 60 + 100.0f * (float)(i / 10);
        c->vx[i] = (crowd_rand(c) - 0.5f) * 6;
        c->vy[i] = (crowd_rand(c) - 0.5f) * 3;
        c->w[i] = 24 + 16 * crowd_rand(c);
        c->h[i] = 50 + 30 * crowd_rand(c);
    }
}

static void crowd_frame(Crowd *c, int f, FpDetection *d, int *truth)
{
    for (int i = 0; i < 100; i++) {
        int k = (i * 37 + f) % 100; /* shuffled order */
        float jx = crowd_rand(c) - 0.5f, jy = crowd_rand(c) - 0.5f;
        d[k] = det_box(c->x[k] + c->vx[k] * (float)f + jx, c->y[k] + c->vy[k] * (float)f + jy, c->w[k], c->h[k],
                       0.6f + 0.4f * crowd_rand(c));
        (void)i;
        truth[k] = k;
    }
}

FP_TEST(tracker_100_objects_keep_their_ids_for_100_frames)
{
    FpTracker *t = tracker_new();
    static Crowd c;
    static Score s;
    memset(&s, 0, sizeof(s));
    crowd_init(&c, 42);
    for (int f = 0; f < 100; f++) {
        FpDetection d[100];
        int truth[100];
        uint64_t ids[100];
        crowd_frame(&c, f, d, truth);
        CHECK_EQ(fp_tracker_update(t, d, 100, f * FRAME_NS, ids), 100);
        score_frame(&s, t, truth, 100, ids);
    }
    score_print("100 objects", &s);
    CHECK_EQ(s.idsw, 0);
    CHECK_EQ(s.shared, 0);
    CHECK_EQ(s.fp, 0);
    CHECK_EQ(s.fn, 100 * 2);
    fp_tracker_destroy(&t);
}

FP_TEST(tracker_update_allocates_nothing)
{
    FpTracker *t = tracker_new();
    static Crowd c;
    crowd_init(&c, 7);
    static FpDetection d[1100];
    int truth[100];
    uint64_t ids[1100];
    unsigned long before = fp_alloc_calls();
    for (int f = 0; f < 50; f++) {
        crowd_frame(&c, f, d, truth);
        /* every tenth frame: more detections than FP_TRACKER_MAX_DETECTIONS, low-score clutter */
        int n = 100;
        if (f % 10 == 9) {
            for (int k = 100; k < 1100; k++)
                d[k] = det_box(5 + (float)(k % 40) * 47, 5 + (float)(k / 40) * 37, 20, 20, 0.15f);
            n = 1100;
        }
        CHECK_OK(fp_tracker_update(t, d, n, f * FRAME_NS, ids));
        if (f == 9)
            CHECK_EQ(fp_tracker_ignored(t), 1100 - FP_TRACKER_MAX_DETECTIONS);
    }
    unsigned long calls = fp_alloc_calls() - before;
    CHECK_MSG(calls == 0, "%lu allocator calls in 50 updates", calls);
    CHECK_EQ(fp_tracker_ignored(t), 5 * (1100 - FP_TRACKER_MAX_DETECTIONS));
    fp_tracker_destroy(&t);
}

/* One object at 30 fps for 10 frames; then the caller's gap; then the object again where it would be. */
static uint64_t id_after_gap(int64_t gap_ns, bool empty_updates)
{
    FpTracker *t = tracker_new();
    uint64_t id0 = 0, id = 0;
    int64_t ts = 0;
    for (int f = 0; f < 10; f++) {
        ts = f * FRAME_NS;
        FpDetection d = det_box(100 + 3.0f * f, 100, 40, 40, 0.9f);
        CHECK_OK(fp_tracker_update(t, &d, 1, ts, &id0));
    }
    int64_t end = ts + gap_ns;
    if (empty_updates) /* frames arrive, the object is not detected */
        for (ts += FRAME_NS; ts < end; ts += FRAME_NS)
            CHECK_OK(fp_tracker_update(t, NULL, 0, ts, NULL));
    double sec = (double)(end - 9 * FRAME_NS) / 1e9;
    FpDetection d = det_box(100 + 27.0f + (float)(90.0 * sec), 100, 40, 40, 0.9f);
    CHECK_EQ(fp_tracker_update(t, &d, 1, end, &id), 1);
    fp_tracker_destroy(&t);
    CHECK(id0 != 0 && id != 0);
    return id == id0 ? 0 : id;
}

FP_TEST(tracker_death_is_by_stream_time_not_frames)
{
    /* skipped frames (one update 0.6 s later): within max_age (1 s), same id (0 returned) */
    CHECK_EQ(id_after_gap(600000000, false), 0);
    /* 0.9 s of frames without the object: still the same id */
    CHECK_EQ(id_after_gap(900000000, true), 0);
    /* a gap longer than max_age: the track is gone, the object gets a new id */
    CHECK_EQ(id_after_gap(1200000000, false), 2);
    CHECK_EQ(id_after_gap(1200000000, true), 2);
    /* and it is gone from the list once max_age of updates passed without it */
    FpTracker *t = tracker_new();
    FpDetection d = det_box(100, 100, 40, 40, 0.9f);
    for (int f = 0; f < 5; f++)
        CHECK_EQ(fp_tracker_update(t, &d, 1, f * FRAME_NS, NULL), 1);
    CHECK_EQ(fp_tracker_update(t, NULL, 0, 4 * FRAME_NS + 999999999, NULL), 1);
    CHECK_EQ(fp_tracker_update(t, NULL, 0, 4 * FRAME_NS + 1000000000, NULL), 0);
    fp_tracker_destroy(&t);
    /* a tentative track unmatched once is removed at once */
    t = tracker_new();
    CHECK_EQ(fp_tracker_update(t, &d, 1, 0, NULL), 1);
    CHECK_EQ(fp_tracker_update(t, NULL, 0, FRAME_NS, NULL), 0);
    fp_tracker_destroy(&t);
}

FP_TEST(tracker_time_must_not_go_back)
{
    FpTracker *t = tracker_new();
    FpDetection d = det_box(100, 100, 40, 40, 0.9f);
    uint64_t id = 0;
    CHECK_EQ(fp_tracker_update(t, &d, 1, 1000, &id), 1);
    uint64_t first = id;
    id = 77;
    CHECK_EQ(fp_tracker_update(t, &d, 1, 999, &id), FP_EINVALID);
    CHECK_EQ(id, 77); /* untouched */
    CHECK(strstr(fp_error_detail(FP_EINVALID), "time") != NULL);
    const FpTrack *tr;
    CHECK_EQ(fp_tracker_tracks(t, &tr), 1);
    CHECK_EQ(tr[0].hits, 1);
    CHECK_EQ(fp_tracker_update(t, &d, 1, 1000, &id), 1); /* the same time again is fine */
    CHECK_EQ(id, first);
    CHECK_EQ(fp_tracker_update(t, NULL, 3, 2000, NULL), FP_EINVALID);
    CHECK_EQ(fp_tracker_update(t, &d, -1, 2000, NULL), FP_EINVALID);
    fp_tracker_destroy(&t);
}

FP_TEST(tracker_rejects_bad_config_naming_the_field)
{
    static const struct {
        const char *field;
        int which;
        double value;
    } bad[] = {
        {"high_threshold", 0, 1.5},  {"high_threshold", 0, NAN},  {"low_threshold", 1, -0.1},
        {"low_threshold", 1, 0.7},   {"new_track_threshold", 2, 2}, {"match_iou", 3, -1},
        {"low_match_iou", 4, 1.01},  {"min_hits", 5, 0},          {"max_age_ns", 6, 0},
        {"max_age_ns", 6, -5},       {"max_tracks", 7, 0},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FpTrackerConfig c;
        fp_tracker_config_init(&c);
        switch (bad[i].which) {
        case 0: c.high_threshold = (float)bad[i].value; break;
        case 1: c.low_threshold = (float)bad[i].value; break;
        case 2: c.new_track_threshold = (float)bad[i].value; break;
        case 3: c.match_iou = (float)bad[i].value; break;
        case 4: c.low_match_iou = (float)bad[i].value; break;
        case 5: c.min_hits = (int)bad[i].value; break;
        case 6: c.max_age_ns = (int64_t)bad[i].value; break;
        default: c.max_tracks = (int)bad[i].value; break;
        }
        FpTracker *t = (FpTracker *)&c; /* a sentinel: must stay as it is */
        int rc = fp_tracker_create(&t, &c);
        CHECK_MSG(rc == FP_EINVALID, "%s = %g: %d", bad[i].field, bad[i].value, rc);
        CHECK(t == (FpTracker *)&c);
        const char *msg = fp_error_detail(rc);
        CHECK_MSG(strstr(msg, bad[i].field) != NULL, "%s: message \"%s\"", bad[i].field, msg);
    }
    FpTrackerConfig c;
    fp_tracker_config_init(&c);
    CHECK_NEAR(c.high_threshold, 0.5, 1e-7);
    CHECK_NEAR(c.low_threshold, 0.1, 1e-7);
    CHECK_EQ(c.min_hits, 3);
    CHECK_EQ(c.max_age_ns, 1000000000);
    CHECK_EQ(c.max_tracks, 1024);
    CHECK(c.per_class);
    fp_tracker_destroy(NULL);
}

FP_TEST(tracker_full_counts_dropped_and_per_class_separates)
{
    FpTrackerConfig c;
    fp_tracker_config_init(&c);
    c.max_tracks = 2;
    FpTracker *t = NULL;
    CHECK_OK(fp_tracker_create(&t, &c));
    FpDetection d[3] = {det_box(100, 100, 40, 40, 0.9f), det_box(300, 100, 40, 40, 0.9f),
                        det_box(500, 100, 40, 40, 0.9f)};
    uint64_t ids[3];
    CHECK_EQ(fp_tracker_update(t, d, 3, 0, ids), 2);
    CHECK_EQ(fp_tracker_dropped(t), 1);
    CHECK_EQ((ids[0] != 0) + (ids[1] != 0) + (ids[2] != 0), 2);
    fp_tracker_destroy(&t);
    /* per_class: a box of another class at the same place is another object */
    CHECK_OK(fp_tracker_create(&t, NULL));
    CHECK_EQ(fp_tracker_update(t, d, 1, 0, ids), 1);
    d[0].class_id = 1;
    CHECK_EQ(fp_tracker_update(t, d, 1, FRAME_NS, &ids[1]), 1); /* the class-0 tentative track went, a new one came */
    CHECK(ids[1] != ids[0]);
    fp_tracker_destroy(&t);
    c.max_tracks = 16;
    c.per_class = false;
    CHECK_OK(fp_tracker_create(&t, &c));
    d[0].class_id = 0;
    CHECK_EQ(fp_tracker_update(t, d, 1, 0, ids), 1);
    d[0].class_id = 1;
    CHECK_EQ(fp_tracker_update(t, d, 1, FRAME_NS, &ids[1]), 1);
    CHECK_EQ(ids[1], ids[0]);
    fp_tracker_destroy(&t);
}

/*
 * Optimal, not greedy, assignment. Two still tracks of 100 x 100 boxes: A at
 * x 0, B at x 42.6. Then detections d1 at x 17.6 (IoU 0.7 with A, 0.6 with B)
 * and d2 at x -33.3 (IoU 0.5 with A, 0.14 with B: below match_iou 0.2).
 * Best-IoU-first gives d1 to A and leaves B without a match; the optimum
 * (A-d2, B-d1) matches both. IoU of a shift s of 100-wide boxes: (100-s)/(100+s).
 */
FP_TEST(tracker_assignment_is_optimal_not_greedy)
{
    FpTracker *t = tracker_new();
    FpDetection still[2] = {det_box(50, 50, 100, 100, 0.9f), det_box(92.6f, 50, 100, 100, 0.9f)};
    uint64_t ids[2], a = 0, b = 0;
    for (int f = 0; f < 5; f++) {
        CHECK_EQ(fp_tracker_update(t, still, 2, f * FRAME_NS, ids), 2);
        if (f == 0) {
            a = ids[0];
            b = ids[1];
        }
        CHECK_EQ(ids[0], a);
        CHECK_EQ(ids[1], b);
    }
    FpDetection moved[2] = {det_box(67.6f, 50, 100, 100, 0.9f), det_box(16.7f, 50, 100, 100, 0.9f)};
    CHECK_EQ(fp_tracker_update(t, moved, 2, 5 * FRAME_NS, ids), 2);
    CHECK_MSG(ids[0] == b && ids[1] == a, "d1 -> %" PRIu64 ", d2 -> %" PRIu64 " (A %" PRIu64 ", B %" PRIu64 ")",
              ids[0], ids[1], a, b);
    fp_tracker_destroy(&t);
}

/* ---- BlazeFace on Megamind.avi through FpPipeline ---- */

#define MEGAMIND "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"
#define MM_FRAMES 300
#define MM_DETS 16

typedef struct Collected {
    pthread_mutex_t lock;
    int n_dets[MM_FRAMES];
    int64_t pts[MM_FRAMES];
    bool seen[MM_FRAMES];
    FpDetection dets[MM_FRAMES][MM_DETS];
} Collected;

static int collect(void *opaque, const FpFrameResult *r)
{
    Collected *c = opaque;
    uint64_t k = r->frame->seq;
    if (k >= MM_FRAMES)
        return 0;
    pthread_mutex_lock(&c->lock);
    c->seen[k] = true;
    c->pts[k] = r->frame->pts_ns;
    c->n_dets[k] = r->n_dets < MM_DETS ? r->n_dets : MM_DETS;
    memcpy(c->dets[k], r->dets, sizeof(FpDetection) * (size_t)c->n_dets[k]);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/*
 * The shots, frame indices from 0, found by looking at the frames (ffmpeg's
 * scene score located the cuts; frames around each were extracted to PNG and
 * viewed): 0 is black; 1-97 the woman at the table; 98-153 the man facing
 * her; 154-199 the woman again; 200-269 the man in close-up. The ranges
 * below leave two frames of margin at each cut.
 */
static const int shots[4][2] = {{3, 95}, {100, 151}, {156, 197}, {202, 269}};

FP_TEST_TIMED(tracker_megamind_main_face_keeps_one_id_per_shot, 300)
{
    const char *model = test_blazeface(128);
    if (access(model, R_OK) != 0)
        fp_test_skip("%s missing (scripts/setup.d/30-models.sh)", model);
    if (access(MEGAMIND, R_OK) != 0)
        fp_test_skip("%s missing (opencv-doc)", MEGAMIND);
    static Collected col;
    memset(&col, 0, sizeof(col));
    pthread_mutex_init(&col.lock, NULL);
    static FpPipelineConfig cfg;
    fp_pipeline_config_init(&cfg);
    cfg.model.path = model;
    cfg.model.threads = 1;
    cfg.cameras[0].name = "megamind";
    cfg.cameras[0].source.url = MEGAMIND;
    cfg.n_cameras = 1;
    FpPipeline *p = NULL;
    CHECK_OK(fp_pipeline_create(&p, &cfg));
    CHECK_OK(fp_pipeline_add_sink(p, collect, &col));
    CHECK_OK(fp_pipeline_start(p));
    CHECK_OK(fp_pipeline_wait(p, -1));
    fp_pipeline_destroy(&p);
    pthread_mutex_destroy(&col.lock);

    FpTracker *t = tracker_new();
    uint64_t main_id[MM_FRAMES] = {0};
    int frames = 0;
    for (int k = 0; k < MM_FRAMES && col.seen[k]; k++, frames++) {
        uint64_t ids[MM_DETS];
        CHECK_OK(fp_tracker_update(t, col.dets[k], col.n_dets[k], col.pts[k], ids));
        float best = 0;
        for (int i = 0; i < col.n_dets[k]; i++) {
            const FpBox *b = &col.dets[k][i].box;
            float area = (b->x2 - b->x1) * (b->y2 - b->y1);
            if (area > best) {
                best = area;
                main_id[k] = ids[i];
            }
        }
    }
    CHECK_EQ(frames, 270);
    int total_ids = 0;
    for (int s = 0; s < 4; s++) {
        uint64_t id = 0;
        int with_id = 0, switches = 0;
        for (int k = shots[s][0]; k <= shots[s][1]; k++) {
            if (main_id[k] == 0)
                continue;
            with_id++;
            if (id != 0 && main_id[k] != id)
                switches++;
            id = main_id[k];
        }
        int len = shots[s][1] - shots[s][0] + 1;
        printf("megamind shot %d (frames %d-%d): largest face tracked in %d of %d frames, last id %" PRIu64
               ", ID switches %d\n", s, shots[s][0], shots[s][1], with_id, len, id, switches);
        CHECK_EQ(switches, 0);
        CHECK_MSG(with_id >= len * 8 / 10, "shot %d: the face has an id in only %d of %d frames", s, with_id, len);
        total_ids++;
    }
    CHECK_EQ(total_ids, 4);
    fp_tracker_destroy(&t);
}
