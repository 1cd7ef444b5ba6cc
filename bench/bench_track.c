// SPDX-License-Identifier: MIT
// Tracker benchmark: framepipe's FpTracker vs a Python ByteTrack-style reference (numpy + scipy) on the same synthetic sequences of 100 and 1,000 objects.
#include "framepipe/error.h"
#include "framepipe/rules.h"
#include "framepipe/track.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The sequences: N objects start on a grid over a frame sized for them,
 * move at their own constant velocity (bouncing off the frame edges), with
 * a pixel of jitter per frame; 3% of detections are missed, 12% score low
 * (0.2-0.5: only ByteTrack's second stage takes them) and N/20 low-score
 * clutter boxes per frame belong to no object. The same file is read by
 * bytetrack_ref.py, so both trackers see identical detections.
 *
 * Timed: fp_tracker_update per frame (CLOCK_MONOTONIC around the call, one
 * thread) and, in Python, the reference's update per frame
 * (time.perf_counter). Reported: per-frame median (min-max) after 10 warm-up
 * frames, over all repetitions; plus ID switches and detections of objects
 * left without an id, from both, against the truth (a sanity check that both
 * are doing the job, not a tuned accuracy benchmark).
 */

#define FRAME_NS 33333333LL
#define WARMUP 10

typedef struct Seq {
    int n_obj, frames, max_n;
    int *count;        /* [frames] */
    float *rows;       /* [frames][max_n][6]: x1 y1 x2 y2 score truth (-1 clutter) */
} Seq;

static uint64_t rng_state;

static double rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static Seq make_seq(int n_obj, int frames, uint64_t seed)
{
    Seq s = {n_obj, frames, n_obj + n_obj / 20, NULL, NULL};
    rng_state = seed;
    int cols = (int)ceil(sqrt(n_obj * 16.0 / 9.0)), rws = (n_obj + cols - 1) / cols;
    double cw = 96, ch = 96, W = cols * cw, H = rws * ch;
    double *x = malloc(sizeof(double) * (size_t)n_obj * 6);
    double *y = x + n_obj, *vx = y + n_obj, *vy = vx + n_obj, *w = vy + n_obj, *h = w + n_obj;
    for (int i = 0; i < n_obj; i++) {
        x[i] = (i % cols + 0.5) * cw;
        y[i] = (i / cols + 0.5) * ch;
        vx[i] = (rnd() - 0.5) * 4;
        vy[i] = (rnd() - 0.5) * 2;
        w[i] = 20 + 16 * rnd();
        h[i] = 40 + 30 * rnd();
    }
    s.count = calloc((size_t)frames, sizeof(int));
    s.rows = calloc((size_t)frames * (size_t)s.max_n * 6, sizeof(float));
    for (int f = 0; f < frames; f++) {
        float *r = s.rows + (size_t)f * (size_t)s.max_n * 6;
        int n = 0;
        for (int i = 0; i < n_obj; i++) {
            x[i] += vx[i];
            y[i] += vy[i];
            if (x[i] < w[i] || x[i] > W - w[i])
                vx[i] = -vx[i];
            if (y[i] < h[i] || y[i] > H - h[i])
                vy[i] = -vy[i];
            double jx = rnd() - 0.5, jy = rnd() - 0.5, u = rnd(), sc = rnd();
            if (u < 0.03)
                continue;
            double score = u < 0.15 ? 0.2 + 0.3 * sc : 0.6 + 0.4 * sc;
            float *d = r + n++ * 6;
            d[0] = (float)(x[i] + jx - w[i] / 2);
            d[1] = (float)(y[i] + jy - h[i] / 2);
            d[2] = (float)(x[i] + jx + w[i] / 2);
            d[3] = (float)(y[i] + jy + h[i] / 2);
            d[4] = (float)score;
            d[5] = (float)i;
        }
        for (int k = 0; k < n_obj / 20; k++) {
            float *d = r + n++ * 6;
            double cx = W * rnd(), cy = H * rnd();
            d[0] = (float)(cx - 12);
            d[1] = (float)(cy - 20);
            d[2] = (float)(cx + 12);
            d[3] = (float)(cy + 20);
            d[4] = (float)(0.15 + 0.3 * rnd());
            d[5] = -1.0f;
        }
        s.count[f] = n;
    }
    free(x);
    return s;
}

static int write_seq(const Seq *s, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int hdr[2] = {s->frames, s->max_n};
    fwrite(hdr, sizeof(int), 2, f);
    fwrite(s->count, sizeof(int), (size_t)s->frames, f);
    fwrite(s->rows, sizeof(float), (size_t)s->frames * (size_t)s->max_n * 6, f);
    return fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct Result {
    double med_us, min_us, max_us;
    long idsw, no_id;
    int ok;
} Result;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static Result run_framepipe(const Seq *s, int reps)
{
    Result res = {0};
    size_t nt = (size_t)reps * (size_t)(s->frames - WARMUP);
    double *times = malloc(sizeof(double) * nt);
    FpDetection *dets = calloc((size_t)s->max_n, sizeof(FpDetection));
    uint64_t *ids = calloc((size_t)s->max_n, sizeof(uint64_t));
    uint64_t *last = calloc((size_t)s->n_obj, sizeof(uint64_t));
    size_t k = 0;
    for (int rep = 0; rep < reps; rep++) {
        FpTrackerConfig cfg;
        fp_tracker_config_init(&cfg);
        cfg.max_tracks = 2 * s->n_obj + 64;
        FpTracker *t = NULL;
        int rc = fp_tracker_create(&t, &cfg);
        if (rc < 0) {
            fprintf(stderr, "fp_tracker_create: %s\n", fp_error_detail(rc));
            exit(1);
        }
        memset(last, 0, sizeof(uint64_t) * (size_t)s->n_obj);
        res.idsw = res.no_id = 0;
        for (int f = 0; f < s->frames; f++) {
            const float *r = s->rows + (size_t)f * (size_t)s->max_n * 6;
            int n = s->count[f];
            for (int i = 0; i < n; i++) {
                dets[i].box = (FpBox){r[i * 6], r[i * 6 + 1], r[i * 6 + 2], r[i * 6 + 3]};
                dets[i].score = r[i * 6 + 4];
            }
            int64_t t0 = now_ns();
            rc = fp_tracker_update(t, dets, n, f * FRAME_NS, ids);
            int64_t t1 = now_ns();
            if (rc < 0) {
                fprintf(stderr, "fp_tracker_update: %s\n", fp_error_detail(rc));
                exit(1);
            }
            if (f >= WARMUP)
                times[k++] = (double)(t1 - t0) / 1000.0;
            for (int i = 0; i < n; i++) {
                int obj = (int)r[i * 6 + 5];
                if (obj < 0)
                    continue;
                if (ids[i] == 0) {
                    res.no_id++;
                    continue;
                }
                if (last[obj] && last[obj] != ids[i])
                    res.idsw++;
                last[obj] = ids[i];
            }
        }
        fp_tracker_destroy(&t);
    }
    qsort(times, k, sizeof(double), cmp_double);
    res.med_us = times[k / 2];
    res.min_us = times[0];
    res.max_us = times[k - 1];
    res.ok = 1;
    free(times);
    free(dets);
    free(ids);
    free(last);
    return res;
}

/* Counts events (the rules' callback). */
static void count_event(void *opaque, const FpEvent *ev)
{
    (void)ev;
    (*(uint64_t *)opaque)++;
}

/*
 * Tracker + rules per frame: the same sequence through fp_tracker_update and then fp_rules_update with 10
 * rules (every kind, on two normalised zones covering the left and the right half and a vertical line in
 * the middle), both timed together. Returns the median (min-max) like run_framepipe; *events counts what
 * the rules raised (a sanity check that they run).
 */
static Result run_with_rules(const Seq *s, int reps, uint64_t *events)
{
    Result res = {0};
    size_t nt = (size_t)reps * (size_t)(s->frames - WARMUP);
    double *times = malloc(sizeof(double) * nt);
    FpDetection *dets = calloc((size_t)s->max_n, sizeof(FpDetection));
    FpZoneConfig zones[2] = {
        {.name = "left", .n_points = 4, .points = {{0, 0}, {0.5f, 0}, {0.5f, 1}, {0, 1}}, .normalized = true},
        {.name = "right", .n_points = 4, .points = {{0.5f, 0}, {1, 0}, {1, 1}, {0.5f, 1}}, .normalized = true},
    };
    static const FpRuleKind kinds[10] = {FP_RULE_ENTER, FP_RULE_LEAVE, FP_RULE_DWELL, FP_RULE_COUNT, FP_RULE_LINE,
                                         FP_RULE_SPEED, FP_RULE_DOWN,  FP_RULE_ABSENT, FP_RULE_ENTER, FP_RULE_DWELL};
    static const char *const names[10] = {"enter-l", "leave-l", "dwell-l", "count-r", "line",
                                          "speed",   "down",    "absent-r", "enter-r", "dwell-r"};
    FpRuleConfig rules[10];
    for (int i = 0; i < 10; i++) {
        fp_rule_config_init(&rules[i], kinds[i]);
        rules[i].name = names[i];
        rules[i].zone = i >= 7 || i == 3 ? "right" : (i == 4 || i == 5 || i == 6) ? NULL : "left";
        rules[i].duration_ns = 500000000LL;
        rules[i].threshold = 10;
        rules[i].speed = 100.0f;
        rules[i].line[0][0] = rules[i].line[1][0] = 0.5f;
        rules[i].line[0][1] = 0.0f;
        rules[i].line[1][1] = 1.0f;
        rules[i].line_normalized = true;
    }
    int fw = 0, fh = 0; /* the frame: the bounding box of the sequence's boxes */
    for (int f = 0; f < s->frames; f++)
        for (int i = 0; i < s->count[f]; i++) {
            const float *r = s->rows + ((size_t)f * (size_t)s->max_n + (size_t)i) * 6;
            fw = r[2] > fw ? (int)r[2] + 1 : fw;
            fh = r[3] > fh ? (int)r[3] + 1 : fh;
        }
    size_t k = 0;
    *events = 0;
    for (int rep = 0; rep < reps; rep++) {
        FpTrackerConfig cfg;
        fp_tracker_config_init(&cfg);
        cfg.max_tracks = 2 * s->n_obj + 64;
        FpRulesConfig rc_cfg;
        fp_rules_config_init(&rc_cfg);
        rc_cfg.camera_name = "bench";
        rc_cfg.zones = zones;
        rc_cfg.n_zones = 2;
        rc_cfg.rules = rules;
        rc_cfg.n_rules = 10;
        rc_cfg.max_tracks = cfg.max_tracks;
        FpTracker *t = NULL;
        FpRules *rr = NULL;
        int rc = fp_tracker_create(&t, &cfg);
        if (rc < 0 || (rc = fp_rules_create(&rr, &rc_cfg, count_event, events)) < 0) {
            fprintf(stderr, "bench_track: %s\n", fp_error_detail(rc));
            exit(1);
        }
        for (int f = 0; f < s->frames; f++) {
            const float *r = s->rows + (size_t)f * (size_t)s->max_n * 6;
            int n = s->count[f];
            for (int i = 0; i < n; i++) {
                dets[i].box = (FpBox){r[i * 6], r[i * 6 + 1], r[i * 6 + 2], r[i * 6 + 3]};
                dets[i].score = r[i * 6 + 4];
            }
            int64_t t0 = now_ns();
            rc = fp_tracker_update(t, dets, n, f * FRAME_NS, NULL);
            const FpTrack *tracks = NULL;
            int nt_ = rc < 0 ? rc : fp_tracker_tracks(t, &tracks);
            if (nt_ >= 0)
                rc = fp_rules_update(rr, tracks, nt_, fw, fh, f * FRAME_NS);
            int64_t t1 = now_ns();
            if (rc < 0 || nt_ < 0) {
                fprintf(stderr, "bench_track: %s\n", fp_error_detail(rc < 0 ? rc : nt_));
                exit(1);
            }
            if (f >= WARMUP)
                times[k++] = (double)(t1 - t0) / 1000.0;
        }
        fp_rules_destroy(&rr);
        fp_tracker_destroy(&t);
    }
    qsort(times, k, sizeof(double), cmp_double);
    res.med_us = times[k / 2];
    res.min_us = times[0];
    res.max_us = times[k - 1];
    res.ok = 1;
    free(times);
    free(dets);
    return res;
}

static Result run_python(const char *python, const char *ref, const char *path, int reps)
{
    Result res = {0};
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s %s %s %d %d", python, ref, path, reps, WARMUP);
    FILE *p = popen(cmd, "r");
    if (!p)
        return res;
    if (fscanf(p, "%lf %lf %lf %ld %ld", &res.med_us, &res.min_us, &res.max_us, &res.idsw, &res.no_id) == 5)
        res.ok = 1;
    if (pclose(p) != 0)
        res.ok = 0;
    return res;
}

int main(int argc, char **argv)
{
    const char *md = NULL, *python = "/usr/bin/python3";
    const char *ref = FP_BENCH_SOURCE_DIR "/bench/bytetrack_ref.py";
    int no_python = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--md") && i + 1 < argc)
            md = argv[++i];
        else if (!strcmp(argv[i], "--python") && i + 1 < argc)
            python = argv[++i];
        else if (!strcmp(argv[i], "--no-python"))
            no_python = 1;
        else {
            fprintf(stderr, "usage: bench_track [--md FILE] [--python PATH] [--no-python]\n");
            return 2;
        }
    }
    static const struct {
        int n, frames, reps, py_reps;
        double target_us;
    } cases[2] = {{100, 300, 5, 2, 50.0}, {1000, 150, 3, 1, 1000.0}};
    Result with_rules[2];
    uint64_t rule_events[2];
    char body[12288];
    int len = snprintf(body, sizeof(body),
                       "## Tracker (and rules): FpTracker vs a Python ByteTrack-style reference\n\n"
                       "`taskset -c 1 build/release/bench/bench_track --md /tmp/track.md && bench/update_results.py "
                       "track /tmp/track.md` (pinned to one core of a 2-core machine shared with other builds: "
                       "the max column catches their interference). Synthetic objects moving at constant velocity with jitter, 3%% missed, "
                       "12%% low-score (second stage), N/20 low-score clutter boxes per frame; the same "
                       "detections for both (bench_track.c writes them, bench/bytetrack_ref.py reads them: numpy "
                       "Kalman + scipy `linear_sum_assignment`, ByteTrack's two stages and thresholds). Time "
                       "per `update` call, one thread, after %d warm-up frames: median (min-max) in "
                       "microseconds. The first table is the tracker alone; the second adds the rules engine. ID switches "
                       "and truth detections left without an id are counted against the generator's truth "
                       "for both: objects here pass through each other with boxes of similar size, so switches are "
                       "expected; equal counts say the two implement the same algorithm.\n\n"
                       "| objects | frames x reps | framepipe us/frame | reference us/frame | reference / framepipe "
                       "| target | framepipe IDSW / no id | reference IDSW / no id |\n"
                       "|---|---|---|---|---|---|---|---|\n",
                       WARMUP);
    for (int c = 0; c < 2; c++) {
        Seq s = make_seq(cases[c].n, cases[c].frames, 1234 + (uint64_t)c);
        char path[256];
        snprintf(path, sizeof(path), "/tmp/fp_bench_track_%d.bin", cases[c].n);
        if (write_seq(&s, path) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            return 1;
        }
        Result fp = run_framepipe(&s, cases[c].reps);
        with_rules[c] = run_with_rules(&s, cases[c].reps, &rule_events[c]);
        Result py = {0};
        if (!no_python)
            py = run_python(python, ref, path, cases[c].py_reps);
        remove(path);
        printf("%d objects: framepipe %.1f us (%.1f-%.1f), IDSW %ld, no id %ld", cases[c].n, fp.med_us, fp.min_us,
               fp.max_us, fp.idsw, fp.no_id);
        char pycell[128] = "not run", ratio[64] = "-", pyq[64] = "-";
        if (py.ok) {
            printf("; reference %.1f us (%.1f-%.1f), IDSW %ld, no id %ld; ratio %.1fx", py.med_us, py.min_us,
                   py.max_us, py.idsw, py.no_id, py.med_us / fp.med_us);
            snprintf(pycell, sizeof(pycell), "%.0f (%.0f-%.0f)", py.med_us, py.min_us, py.max_us);
            snprintf(ratio, sizeof(ratio), "%.0fx", py.med_us / fp.med_us);
            snprintf(pyq, sizeof(pyq), "%ld / %ld", py.idsw, py.no_id);
        }
        printf("\n");
        len += snprintf(body + len, sizeof(body) - (size_t)len,
                        "| %d | %d x %d | %.1f (%.1f-%.1f) | %s | %s | < %.0f us: %s | %ld / %ld | %s |\n",
                        cases[c].n, cases[c].frames, cases[c].reps, fp.med_us, fp.min_us, fp.max_us, pycell, ratio,
                        cases[c].target_us, fp.med_us < cases[c].target_us ? "met" : "missed", fp.idsw, fp.no_id,
                        pyq);
        free(s.count);
        free(s.rows);
    }
    len += snprintf(body + len, sizeof(body) - (size_t)len,
                    "\nTracker + rules (the issue's targets): the same sequences through `fp_tracker_update` then "
                    "`fp_rules_update` with 10 rules (enter, leave, dwell, count, line, speed, down, absent, and a "
                    "second enter and dwell; two zones, a line), timed together per frame:\n\n"
                    "| objects | framepipe tracker + 10 rules us/frame | target | events raised |\n|---|---|---|---|\n");
    for (int c = 0; c < 2; c++) {
        printf("%d objects, tracker + 10 rules: %.1f us (%.1f-%.1f), %" PRIu64 " events\n", cases[c].n,
               with_rules[c].med_us, with_rules[c].min_us, with_rules[c].max_us, rule_events[c]);
        len += snprintf(body + len, sizeof(body) - (size_t)len, "| %d | %.1f (%.1f-%.1f) | < %.0f us: %s | %" PRIu64 " |\n",
                        cases[c].n, with_rules[c].med_us, with_rules[c].min_us, with_rules[c].max_us,
                        cases[c].target_us, with_rules[c].med_us < cases[c].target_us ? "met" : "missed",
                        rule_events[c]);
    }
    if (md) {
        FILE *f = fopen(md, "w");
        if (!f) {
            perror(md);
            return 1;
        }
        fputs(body, f);
        fclose(f);
    }
    return 0;
}
