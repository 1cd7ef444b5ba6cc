// SPDX-License-Identifier: MIT
// FpRules over scripted tracks: each rule fires exactly once when it should and never when it should not; zones, smoothing, cooldown, JSON, no allocation.
#include "fp_test.h"
#include "fp_alloc_count.h"

#include "framepipe/log.h"
#include "framepipe/rules.h"

#include <cjson/cJSON.h>
#include <math.h>

#define W 640
#define H 480
#define FRAME_NS 100000000LL /* 10 updates per second */
#define MAX_EVENTS 512

/* Events as received; the names are copied because the engine's strings go with it. */
typedef struct Sink {
    FpEvent ev[MAX_EVENTS];
    char rule[MAX_EVENTS][32];
    int n;
} Sink;

static void on_event(void *opaque, const FpEvent *ev)
{
    Sink *s = opaque;
    if (s->n < MAX_EVENTS) {
        snprintf(s->rule[s->n], sizeof(s->rule[0]), "%s", ev->rule);
        s->ev[s->n++] = *ev;
    }
}

/* A matched track whose box has its bottom centre at (cx, bottom). */
static FpTrack trk(uint64_t id, int cls, float cx, float bottom, float w, float h)
{
    FpTrack t;
    memset(&t, 0, sizeof(t));
    t.id = id;
    t.class_id = cls;
    t.state = FP_TRACK_CONFIRMED;
    t.score = 0.875f;
    t.box = (FpBox){cx - w / 2, bottom - h, cx + w / 2, bottom};
    t.det_box = t.box;
    t.det_index = 0;
    return t;
}

static FpTrack unseen(FpTrack t)
{
    t.state = FP_TRACK_LOST;
    t.det_index = -1;
    return t;
}

/* The "door" zone: the square (100, 100) - (300, 300) in pixels. */
static FpZoneConfig door(void)
{
    FpZoneConfig z = {.name = "door", .n_points = 4, .points = {{100, 100}, {300, 100}, {300, 300}, {100, 300}}};
    return z;
}

static FpRules *make(Sink *sink, const FpZoneConfig *zones, int nz, const FpRuleConfig *rules, int nr)
{
    FpRulesConfig cfg;
    fp_rules_config_init(&cfg);
    cfg.camera_name = "gate";
    cfg.camera_index = 2;
    cfg.zones = zones;
    cfg.n_zones = nz;
    cfg.rules = rules;
    cfg.n_rules = nr;
    cfg.max_tracks = 64;
    FpRules *r = NULL;
    int rc = fp_rules_create(&r, &cfg, on_event, sink);
    CHECK_MSG(rc == 0, "create: %s", fp_error_detail(rc));
    return r;
}

static void step(FpRules *r, const FpTrack *t, int n, int frame)
{
    int rc = fp_rules_update(r, t, n, W, H, frame * FRAME_NS);
    CHECK_MSG(rc >= 0, "update %d: %s", frame, fp_error_detail(rc));
}

static int count_events(const Sink *s, const char *rule, FpEventKind kind)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->rule[i], rule) == 0 && s->ev[i].kind == kind)
            n++;
    return n;
}

static const FpEvent *find_event(const Sink *s, const char *rule, FpEventKind kind)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->rule[i], rule) == 0 && s->ev[i].kind == kind)
            return &s->ev[i];
    return NULL;
}

static FpRuleConfig rule(const char *name, FpRuleKind kind, const char *zone)
{
    FpRuleConfig c;
    fp_rule_config_init(&c, kind);
    c.name = name;
    c.zone = zone;
    return c;
}

FP_TEST(enter_and_leave_fire_once)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig rules[2] = {rule("in", FP_RULE_ENTER, "door"), rule("out", FP_RULE_LEAVE, "door")};
    FpRules *r = make(&sink, &z, 1, rules, 2);
    for (int f = 0; f < 15; f++) {
        float x = f < 5 ? 50 : f < 10 ? 200 : 400;
        FpTrack t = trk(7, 0, x, 200, 40, 80);
        step(r, &t, 1, f);
    }
    CHECK_EQ(sink.n, 2);
    const FpEvent *in = find_event(&sink, "in", FP_EVENT_START), *out = find_event(&sink, "out", FP_EVENT_START);
    CHECK(in && out);
    CHECK_EQ(in->track_id, 7);
    CHECK_EQ(in->start_ns, 5 * FRAME_NS);
    CHECK_EQ(in->end_ns, 5 * FRAME_NS);
    CHECK_EQ(out->start_ns, 10 * FRAME_NS);
    CHECK(strcmp(in->zone, "door") == 0 && strcmp(in->camera_name, "gate") == 0 && in->camera_index == 2);
    CHECK(in->id < out->id);
    fp_rules_destroy(&r);
    CHECK(r == NULL);

    /* a track that walks past the zone (anchor below it) raises nothing */
    static Sink none;
    r = make(&none, &z, 1, rules, 2);
    for (int f = 0; f < 15; f++) {
        FpTrack t = trk(7, 0, 50.0f + 20.0f * (float)f, 350, 40, 80);
        step(r, &t, 1, f);
    }
    CHECK_EQ(none.n, 0);
    fp_rules_destroy(&r);
}

FP_TEST(presence_single_frame_flicker_raises_nothing)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig rules[3] = {rule("in", FP_RULE_ENTER, "door"), rule("out", FP_RULE_LEAVE, "door"),
                             rule("stay", FP_RULE_DWELL, "door")};
    FpRules *r = make(&sink, &z, 1, rules, 3);
    /* seen once inside, then coasting unseen: never present */
    FpTrack t = trk(3, 0, 200, 200, 40, 80);
    step(r, &t, 1, 0);
    FpTrack lost = unseen(t);
    for (int f = 1; f < 8; f++)
        step(r, &lost, 1, f);
    /* a one-frame detection that vanishes at once */
    FpTrack blip = trk(4, 0, 200, 200, 40, 80);
    step(r, &blip, 1, 8);
    step(r, NULL, 0, 9);
    CHECK_EQ(sink.n, 0);

    /* a present track missing three of five updates (seen in fewer than N of M) does not leave and re-enter:
       presence ends only when it is seen in none of the last M */
    for (int f = 10; f < 30; f++) {
        FpTrack p = trk(5, 0, 200, 200, 40, 80);
        if (f == 15 || f == 16 || f == 18)
            p = unseen(p);
        step(r, &p, 1, f);
    }
    CHECK_EQ(count_events(&sink, "in", FP_EVENT_START), 1);
    CHECK_EQ(count_events(&sink, "out", FP_EVENT_START), 0);
    CHECK_EQ(count_events(&sink, "stay", FP_EVENT_START), 1);
    CHECK_EQ(count_events(&sink, "stay", FP_EVENT_END), 0);
    /* presence needs N = 3 of the last 5: entered at the third update */
    CHECK_EQ(find_event(&sink, "in", FP_EVENT_START)->start_ns, 12 * FRAME_NS);
    fp_rules_destroy(&r);
}

FP_TEST(ema_smooths_the_box)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig e = rule("in", FP_RULE_ENTER, "door");
    FpRulesConfig cfg;
    fp_rules_config_init(&cfg);
    cfg.zones = &z;
    cfg.n_zones = 1;
    cfg.rules = &e;
    cfg.n_rules = 1;
    cfg.box_alpha = 0.5f;
    FpRules *r;
    CHECK_OK(fp_rules_create(&r, &cfg, on_event, &sink));
    for (int f = 0; f < 6; f++) {
        FpTrack t = trk(6, 0, f < 5 ? 50 : 250, 200, 40, 80);
        step(r, &t, 1, f);
    }
    /* the box jumped from centre x 50 to 250: halfway with alpha 0.5 */
    CHECK_EQ(sink.n, 1);
    CHECK_NEAR(sink.ev[0].box.x1, 130, 1e-3);
    CHECK_NEAR(sink.ev[0].box.x2, 170, 1e-3);
    fp_rules_destroy(&r);
}

FP_TEST(dwell_starts_after_t_and_ends)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig d = rule("loiter", FP_RULE_DWELL, "door");
    d.duration_ns = 1000000000; /* 10 updates */
    FpRules *r = make(&sink, &z, 1, &d, 1);
    for (int f = 0; f < 40; f++) {
        FpTrack t = trk(9, 0, f < 30 ? 200 : 500, 200, 40, 80);
        step(r, &t, 1, f);
    }
    CHECK_EQ(sink.n, 2);
    const FpEvent *s = find_event(&sink, "loiter", FP_EVENT_START), *e = find_event(&sink, "loiter", FP_EVENT_END);
    CHECK(s && e);
    CHECK_EQ(s->start_ns, 2 * FRAME_NS); /* present from the third update */
    CHECK_EQ(s->end_ns, FP_EVENT_ONGOING);
    CHECK_NEAR(s->value, 1.0, 1e-9);
    CHECK_EQ(e->start_ns, 2 * FRAME_NS);
    CHECK_EQ(e->end_ns, 30 * FRAME_NS);
    CHECK_EQ(e->track_id, 9);
    fp_rules_destroy(&r);

    /* in the zone for less than T: nothing */
    static Sink none;
    r = make(&none, &z, 1, &d, 1);
    for (int f = 0; f < 30; f++) {
        FpTrack t = trk(9, 0, f < 11 ? 200 : 500, 200, 40, 80);
        step(r, &t, 1, f);
    }
    CHECK_EQ(none.n, 0);
    fp_rules_destroy(&r);
}

FP_TEST(count_above_threshold_for_t)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig c = rule("crowd", FP_RULE_COUNT, "door");
    c.count_op = FP_COUNT_ABOVE;
    c.threshold = 1;
    c.class_id = 0;
    c.duration_ns = 500000000;
    FpRules *r = make(&sink, &z, 1, &c, 1);
    for (int f = 0; f < 30; f++) {
        FpTrack t[3] = {trk(1, 0, 150, 200, 40, 80), trk(2, 0, f < 20 ? 250 : 500, 200, 40, 80),
                        trk(3, 1, 200, 250, 40, 80)}; /* track 3: another class, inside */
        step(r, t, 3, f);
    }
    CHECK_EQ(sink.n, 2);
    const FpEvent *s = find_event(&sink, "crowd", FP_EVENT_START), *e = find_event(&sink, "crowd", FP_EVENT_END);
    CHECK(s && e);
    CHECK_EQ(s->track_id, 0);
    CHECK_EQ(s->class_id, 0);
    CHECK_NEAR(s->value, 2, 0);
    CHECK_EQ(s->start_ns, 2 * FRAME_NS);
    CHECK_EQ(e->end_ns, 20 * FRAME_NS);
    CHECK_NEAR(e->value, 1, 0);
    fp_rules_destroy(&r);

    /* two tracks inside for less than T (after presence): nothing */
    static Sink none;
    r = make(&none, &z, 1, &c, 1);
    for (int f = 0; f < 20; f++) {
        FpTrack t[2] = {trk(1, 0, 150, 200, 40, 80), trk(2, 0, f < 6 ? 250 : 500, 200, 40, 80)};
        step(r, t, 2, f);
    }
    CHECK_EQ(none.n, 0);
    fp_rules_destroy(&r);
}

/* Moves a track from (x, y0) to (x, y1) in 10 steps; returns the number of events. */
static int cross(const FpRuleConfig *rules, int n, float x, float y0, float y1, Sink *sink)
{
    FpRules *r = make(sink, NULL, 0, rules, n);
    for (int f = 0; f <= 12; f++) {
        float y = f < 3 ? y0 : y0 + (y1 - y0) * (float)(f - 2) / 10.0f;
        if (y0 < y1 ? y > y1 : y < y1)
            y = y1;
        FpTrack t = trk(11, 0, x, y, 40, 80);
        step(r, &t, 1, f);
    }
    fp_rules_destroy(&r);
    return sink->n;
}

FP_TEST(line_crossing_direction)
{
    /* horizontal line left -> right at y = 240: side A is above it (left of the direction, y down), B below */
    FpRuleConfig rules[3] = {rule("down_ab", FP_RULE_LINE, NULL), rule("up_ba", FP_RULE_LINE, NULL),
                             rule("any", FP_RULE_LINE, NULL)};
    for (int i = 0; i < 3; i++) {
        rules[i].line[0][0] = 0;
        rules[i].line[0][1] = 240;
        rules[i].line[1][0] = 640;
        rules[i].line[1][1] = 240;
    }
    rules[0].direction = FP_LINE_A_TO_B;
    rules[1].direction = FP_LINE_B_TO_A;
    static Sink down, up, outside;
    CHECK_EQ(cross(rules, 3, 320, 150, 350, &down), 2);
    CHECK_EQ(count_events(&down, "down_ab", FP_EVENT_START), 1);
    CHECK_EQ(count_events(&down, "any", FP_EVENT_START), 1);
    CHECK_EQ(cross(rules, 3, 320, 350, 150, &up), 2);
    CHECK_EQ(count_events(&up, "up_ba", FP_EVENT_START), 1);
    CHECK_EQ(count_events(&up, "any", FP_EVENT_START), 1);
    /* crossing the line's extension, beyond the segment's end: nothing */
    FpRuleConfig shortline = rules[2];
    shortline.line[1][0] = 100;
    CHECK_EQ(cross(&shortline, 1, 320, 150, 350, &outside), 0);
    /* normalised: the same line as 0..1 fractions */
    static Sink norm;
    FpRuleConfig nl = rules[0];
    nl.line_normalized = true;
    nl.line[0][0] = 0;
    nl.line[0][1] = 0.5f;
    nl.line[1][0] = 1;
    nl.line[1][1] = 0.5f;
    CHECK_EQ(cross(&nl, 1, 320, 150, 350, &norm), 1);
}

FP_TEST(speed_above_threshold)
{
    FpRuleConfig s = rule("fast", FP_RULE_SPEED, NULL);
    s.speed = 100; /* pixels/s */
    static Sink fast, slow;
    FpRules *r = make(&fast, NULL, 0, &s, 1);
    for (int f = 0; f < 12; f++) {
        FpTrack t = trk(5, 0, 20.0f + 50.0f * (float)f, 400, 40, 80); /* 500 px/s */
        step(r, &t, 1, f);
    }
    CHECK_EQ(fast.n, 1);
    CHECK_NEAR(fast.ev[0].value, 500, 1);
    CHECK_EQ(fast.ev[0].start_ns, 2 * FRAME_NS);
    fp_rules_destroy(&r);
    r = make(&slow, NULL, 0, &s, 1);
    for (int f = 0; f < 12; f++) {
        FpTrack t = trk(5, 0, 20.0f + 2.0f * (float)f, 400, 40, 80); /* 20 px/s */
        step(r, &t, 1, f);
    }
    CHECK_EQ(slow.n, 0);
    fp_rules_destroy(&r);

    /* m/s with a scale of 1 cm per pixel: 500 px/s is 5 m/s */
    FpRulesConfig cfg;
    fp_rules_config_init(&cfg);
    cfg.meters_per_pixel = 0.01f;
    s.speed = 4;
    cfg.rules = &s;
    cfg.n_rules = 1;
    static Sink ms;
    CHECK_OK(fp_rules_create(&r, &cfg, on_event, &ms));
    for (int f = 0; f < 12; f++) {
        FpTrack t = trk(5, 0, 20.0f + 50.0f * (float)f, 400, 40, 80);
        step(r, &t, 1, f);
    }
    CHECK_EQ(ms.n, 1);
    CHECK_NEAR(ms.ev[0].value, 5, 0.01);
    fp_rules_destroy(&r);
}

/* A box 40x80 (1:2) for 5 updates, then 80x40 (2:1) for `wide` updates, then tall again until frame 40. */
static void fall(Sink *sink, int wide, float first_w, float first_h)
{
    FpRuleConfig d = rule("fallen", FP_RULE_DOWN, NULL);
    d.duration_ns = 1000000000;
    FpRules *r = make(sink, NULL, 0, &d, 1);
    for (int f = 0; f < 40; f++) {
        bool is_wide = f >= 5 && f < 5 + wide;
        FpTrack t = is_wide ? trk(21, 0, 300, 300, 80, 40) : trk(21, 0, 300, 300, first_w, first_h);
        step(r, &t, 1, f);
    }
    fp_rules_destroy(&r);
}

FP_TEST(down_fires_after_t_and_ends_on_getting_up)
{
    static Sink held, brief, always_wide;
    fall(&held, 15, 40, 80);
    CHECK_EQ(held.n, 2);
    const FpEvent *s = find_event(&held, "fallen", FP_EVENT_START), *e = find_event(&held, "fallen", FP_EVENT_END);
    CHECK(s && e);
    CHECK_EQ(s->start_ns, 5 * FRAME_NS);
    CHECK_EQ(s->end_ns, FP_EVENT_ONGOING);
    CHECK_EQ(s->id, 1);
    CHECK_EQ(e->start_ns, 5 * FRAME_NS);
    CHECK_EQ(e->end_ns, 20 * FRAME_NS); /* tall again at frame 20 */
    CHECK_EQ(e->track_id, 21);
    /* wide for 0.5 s only: nothing */
    fall(&brief, 5, 40, 80);
    CHECK_EQ(brief.n, 0);
    /* never tall (a car, a dog): wide all along raises nothing */
    fall(&always_wide, 15, 80, 40);
    CHECK_EQ(always_wide.n, 0);
}

FP_TEST(absent_starts_and_ends)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig a = rule("guard_missing", FP_RULE_ABSENT, "door");
    a.class_id = 1;
    a.duration_ns = 1000000000;
    FpRules *r = make(&sink, &z, 1, &a, 1);
    for (int f = 0; f < 50; f++) {
        /* the guard is there for frames 0..9, gone 10..29, back from 30; a class 0 track inside all along */
        FpTrack t[2] = {trk(30, 0, 200, 200, 40, 80), trk(31 + (f >= 30), 1, 200, 200, 40, 80)};
        step(r, t, (f >= 10 && f < 30) ? 1 : 2, f);
    }
    CHECK_EQ(sink.n, 2);
    const FpEvent *s = find_event(&sink, "guard_missing", FP_EVENT_START);
    const FpEvent *e = find_event(&sink, "guard_missing", FP_EVENT_END);
    CHECK(s && e);
    CHECK_EQ(s->track_id, 0);
    CHECK_EQ(s->class_id, 1);
    CHECK_EQ(s->start_ns, 10 * FRAME_NS);
    CHECK_EQ(e->end_ns, 32 * FRAME_NS); /* present again at the third update */
    fp_rules_destroy(&r);

    /* the guard steps out for less than T: nothing */
    static Sink none;
    r = make(&none, &z, 1, &a, 1);
    for (int f = 0; f < 40; f++) {
        FpTrack t = trk(31, 1, (f >= 10 && f < 15) ? 500 : 200, 200, 40, 80);
        step(r, &t, 1, f);
    }
    CHECK_EQ(none.n, 0);
    fp_rules_destroy(&r);
}

/* The track walks in and out of the door zone every 10 updates, 40 updates in all. */
static int enters_with_cooldown(int64_t cooldown_ns, Sink *sink)
{
    FpZoneConfig z = door();
    FpRuleConfig e = rule("in", FP_RULE_ENTER, "door");
    e.cooldown_ns = cooldown_ns;
    FpRules *r = make(sink, &z, 1, &e, 1);
    for (int f = 0; f < 40; f++) {
        FpTrack t = trk(8, 0, (f / 5) % 2 ? 200 : 50, 200, 40, 80);
        step(r, &t, 1, f);
    }
    fp_rules_destroy(&r);
    return sink->n;
}

FP_TEST(cooldown_is_honoured)
{
    static Sink a, b, c;
    CHECK_EQ(enters_with_cooldown(0, &a), 4); /* frames 5, 15, 25, 35 */
    CHECK_EQ(enters_with_cooldown(3500000000LL, &b), 1); /* 15, 25, 35 are within 3.5 s of 5 */
    CHECK_EQ(enters_with_cooldown(2000000000LL, &c), 2); /* 5 and 25 (exactly 2 s later); 35 is 1 s after 25 */
    CHECK_EQ(c.ev[1].start_ns, 25 * FRAME_NS);
}

FP_TEST(class_filter)
{
    static Sink sink;
    FpZoneConfig z = door();
    FpRuleConfig e = rule("people_in", FP_RULE_ENTER, "door");
    e.class_id = 0;
    FpRules *r = make(&sink, &z, 1, &e, 1);
    for (int f = 0; f < 10; f++) {
        FpTrack t[2] = {trk(1, 2, f < 5 ? 50 : 200, 200, 40, 80), trk(2, 0, f < 5 ? 50 : 200, 200, 40, 80)};
        step(r, t, 2, f);
    }
    CHECK_EQ(sink.n, 1);
    CHECK_EQ(sink.ev[0].track_id, 2);
    fp_rules_destroy(&r);
}

FP_TEST(normalized_zone_follows_resolution_change)
{
    static Sink sink;
    FpZoneConfig z = {.name = "lot", .n_points = 4, .normalized = true,
                      .points = {{0.25f, 0.25f}, {0.5f, 0.25f}, {0.5f, 0.5f}, {0.25f, 0.5f}}};
    FpRuleConfig rules[2] = {rule("in", FP_RULE_ENTER, "lot"), rule("out", FP_RULE_LEAVE, "lot")};
    FpRules *r = make(&sink, &z, 1, rules, 2);
    for (int f = 0; f < 15; f++) {
        /* 640x480: the zone is 160..320 x 120..240; 1280x960 from frame 5: 320..640 x 240..480 */
        int w = f < 5 ? 640 : 1280, h = f < 5 ? 480 : 960;
        FpTrack t = f < 10 ? trk(4, 0, 200, 180, 20, 40) : trk(4, 0, 400, 360, 20, 40);
        CHECK(fp_rules_update(r, &t, 1, w, h, f * FRAME_NS) >= 0);
    }
    CHECK_EQ(sink.n, 3);
    CHECK(strcmp(sink.ev[0].rule, "in") == 0 && sink.ev[0].start_ns == 2 * FRAME_NS);
    CHECK(strcmp(sink.ev[1].rule, "out") == 0 && sink.ev[1].start_ns == 5 * FRAME_NS);
    CHECK(strcmp(sink.ev[2].rule, "in") == 0 && sink.ev[2].start_ns == 10 * FRAME_NS);
    fp_rules_destroy(&r);
}

static int warnings;
static void count_warnings(void *opaque, FpLogLevel level, const char *component, const char *message)
{
    (void)opaque;
    (void)component;
    if (level == FP_LOG_WARN && strstr(message, "'far'") && strstr(message, "outside"))
        warnings++;
}

FP_TEST(pixel_zone_outside_frame_warns_once)
{
    static Sink sink;
    FpZoneConfig z = {.name = "far", .n_points = 3, .points = {{0, 0}, {900, 0}, {0, 100}}};
    fp_log_set_callback(count_warnings, NULL);
    FpRules *r = make(&sink, &z, 1, NULL, 0);
    for (int f = 0; f < 5; f++)
        CHECK(fp_rules_update(r, NULL, 0, f < 3 ? 640 : 320, 480, f * FRAME_NS) == 0);
    fp_log_set_callback(NULL, NULL);
    CHECK_EQ(warnings, 1);
    fp_rules_destroy(&r);
}

FP_TEST(self_intersecting_zone_is_even_odd_and_anchor_is_configurable)
{
    /* a bow tie (0,0)-(200,200)-(200,0)-(0,200): its two triangles are inside, the top and bottom wedges not */
    static Sink sink;
    FpZoneConfig z = {.name = "bow", .n_points = 4, .points = {{0, 0}, {200, 200}, {200, 0}, {0, 200}}};
    FpRuleConfig e = rule("in", FP_RULE_ENTER, "bow");
    FpRulesConfig cfg;
    fp_rules_config_init(&cfg);
    cfg.zones = &z;
    cfg.n_zones = 1;
    cfg.rules = &e;
    cfg.n_rules = 1;
    cfg.anchor = FP_TRACK_ANCHOR_CENTER;
    FpRules *r;
    CHECK_OK(fp_rules_create(&r, &cfg, on_event, &sink));
    FpTrack top = trk(1, 0, 100, 60, 10, 40);   /* centre (100, 40): the top wedge, outside */
    FpTrack left = trk(2, 0, 30, 120, 10, 40);  /* centre (30, 100): the left triangle, inside */
    FpTrack t[2] = {top, left};
    for (int f = 0; f < 5; f++)
        step(r, t, 2, f);
    CHECK_EQ(sink.n, 1);
    CHECK_EQ(sink.ev[0].track_id, 2);
    fp_rules_destroy(&r);
}

FP_TEST(bad_configs_are_rejected_naming_the_input)
{
    static Sink sink;
    FpZoneConfig z = {.name = "tiny", .n_points = 2, .points = {{0, 0}, {10, 10}}};
    FpRulesConfig cfg;
    fp_rules_config_init(&cfg);
    cfg.camera_name = "cam7";
    cfg.zones = &z;
    cfg.n_zones = 1;
    FpRules *r = (FpRules *)&sink; /* must stay untouched */
    int rc = fp_rules_create(&r, &cfg, on_event, &sink);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK(r == (FpRules *)&sink);
    CHECK(strstr(fp_error_detail(rc), "'tiny'") && strstr(fp_error_detail(rc), "cam7"));

    FpZoneConfig ok = door();
    FpRuleConfig e = rule("in", FP_RULE_ENTER, "nowhere");
    cfg.zones = &ok;
    cfg.rules = &e;
    cfg.n_rules = 1;
    rc = fp_rules_create(&r, &cfg, on_event, &sink);
    CHECK_EQ(rc, FP_ECONFIG);
    CHECK(strstr(fp_error_detail(rc), "'nowhere'"));

    FpZoneConfig norm = {.name = "n", .n_points = 3, .normalized = true, .points = {{0, 0}, {1.5f, 0}, {0, 1}}};
    cfg.zones = &norm;
    cfg.rules = NULL;
    cfg.n_rules = 0;
    CHECK_EQ(fp_rules_create(&r, &cfg, on_event, &sink), FP_ECONFIG);
    cfg.zones = NULL;
    cfg.n_zones = 0;
    CHECK_EQ(fp_rules_create(&r, &cfg, NULL, &sink), FP_EINVALID);
    cfg.present_n = 6;
    CHECK_EQ(fp_rules_create(&r, &cfg, on_event, &sink), FP_ECONFIG);
    CHECK(r == (FpRules *)&sink);

    /* updates: time going back and bad sizes are refused */
    fp_rules_config_init(&cfg);
    CHECK_OK(fp_rules_create(&r, &cfg, on_event, &sink));
    CHECK_EQ(fp_rules_update(r, NULL, 0, W, H, 100), 0);
    CHECK_EQ(fp_rules_update(r, NULL, 0, W, H, 99), FP_EINVALID);
    CHECK_EQ(fp_rules_update(r, NULL, 0, 0, H, 200), FP_EINVALID);
    CHECK_EQ(fp_rules_update(r, NULL, 1, W, H, 200), FP_EINVALID);
    fp_rules_destroy(&r);
    fp_rules_destroy(&r);
    fp_rules_destroy(NULL);
}

FP_TEST(event_json_round_trips_through_cjson)
{
    FpEvent ev;
    memset(&ev, 0, sizeof(ev));
    ev.id = 12345678901234ull;
    ev.camera_index = 3;
    ev.camera_name = "gate \"north\"";
    ev.rule = "loiter";
    ev.rule_kind = FP_RULE_DWELL;
    ev.kind = FP_EVENT_END;
    ev.track_id = 42;
    ev.class_id = 0;
    ev.score = 0.8125f;
    ev.value = 12.5;
    ev.zone = "door";
    ev.start_ns = 1000000000123LL;
    ev.end_ns = 1012500000123LL;
    ev.box = (FpBox){10.25f, 20.5f, 110.75f, 220};
    strcpy(ev.snapshot, "");
    char buf[1024];
    size_t n = fp_event_to_json(&ev, buf, sizeof(buf));
    CHECK(n > 0 && n < sizeof(buf) && strlen(buf) == n);
    cJSON *j = cJSON_Parse(buf);
    CHECK_MSG(j != NULL, "not JSON: %s", buf);
    CHECK_EQ(cJSON_GetObjectItem(j, "id")->valuedouble, 12345678901234.0);
    CHECK_EQ(cJSON_GetObjectItem(j, "camera")->valueint, 3);
    CHECK(strcmp(cJSON_GetObjectItem(j, "camera_name")->valuestring, "gate \"north\"") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(j, "rule")->valuestring, "loiter") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(j, "rule_kind")->valuestring, "dwell") == 0);
    CHECK(strcmp(cJSON_GetObjectItem(j, "kind")->valuestring, "end") == 0);
    CHECK_EQ(cJSON_GetObjectItem(j, "track_id")->valueint, 42);
    CHECK_EQ(cJSON_GetObjectItem(j, "class_id")->valueint, 0);
    CHECK_NEAR(cJSON_GetObjectItem(j, "score")->valuedouble, 0.8125, 1e-9);
    CHECK_NEAR(cJSON_GetObjectItem(j, "value")->valuedouble, 12.5, 1e-9);
    CHECK(strcmp(cJSON_GetObjectItem(j, "zone")->valuestring, "door") == 0);
    CHECK_EQ(cJSON_GetObjectItem(j, "start_ns")->valuedouble, 1000000000123.0);
    CHECK_EQ(cJSON_GetObjectItem(j, "end_ns")->valuedouble, 1012500000123.0);
    cJSON *box = cJSON_GetObjectItem(j, "box");
    CHECK(cJSON_IsArray(box) && cJSON_GetArraySize(box) == 4);
    CHECK_NEAR(cJSON_GetArrayItem(box, 0)->valuedouble, 10.25, 1e-9);
    CHECK_NEAR(cJSON_GetArrayItem(box, 1)->valuedouble, 20.5, 1e-9);
    CHECK_NEAR(cJSON_GetArrayItem(box, 2)->valuedouble, 110.75, 1e-9);
    CHECK_NEAR(cJSON_GetArrayItem(box, 3)->valuedouble, 220, 1e-9);
    CHECK(strcmp(cJSON_GetObjectItem(j, "snapshot")->valuestring, "") == 0);
    CHECK_EQ(cJSON_GetArraySize(j), 15);
    cJSON_Delete(j);

    /* no zone and an ongoing start: nulls; a short buffer gets a NUL-terminated prefix and the full length */
    ev.zone = NULL;
    ev.kind = FP_EVENT_START;
    ev.end_ns = FP_EVENT_ONGOING;
    n = fp_event_to_json(&ev, buf, sizeof(buf));
    j = cJSON_Parse(buf);
    CHECK(j && cJSON_IsNull(cJSON_GetObjectItem(j, "zone")) && cJSON_IsNull(cJSON_GetObjectItem(j, "end_ns")));
    CHECK(strcmp(cJSON_GetObjectItem(j, "kind")->valuestring, "start") == 0);
    cJSON_Delete(j);
    char small[20];
    CHECK_EQ(fp_event_to_json(&ev, small, sizeof(small)), n);
    CHECK_EQ(strlen(small), sizeof(small) - 1);
    CHECK(memcmp(small, buf, sizeof(small) - 1) == 0);
    char *exact = malloc(n + 1);
    CHECK_EQ(fp_event_to_json(&ev, exact, n + 1), n);
    CHECK(strcmp(exact, buf) == 0);
    free(exact);
    CHECK_EQ(fp_event_to_json(&ev, NULL, 0), n);
}

static uint64_t last_id;
static int id_errors, seen_events;
static void check_ids(void *opaque, const FpEvent *ev)
{
    (void)opaque;
    if (ev->id <= last_id)
        id_errors++;
    last_id = ev->id;
    seen_events++;
}

FP_TEST(updates_allocate_nothing_and_ids_increase)
{
    FpZoneConfig zs[2] = {door(), {.name = "all", .n_points = 4, .normalized = true,
                                   .points = {{0, 0}, {1, 0}, {1, 1}, {0, 1}}}};
    FpRuleConfig rules[8] = {rule("in", FP_RULE_ENTER, "door"), rule("out", FP_RULE_LEAVE, "door"),
                             rule("stay", FP_RULE_DWELL, "door"), rule("crowd", FP_RULE_COUNT, "door"),
                             rule("line", FP_RULE_LINE, NULL),    rule("fast", FP_RULE_SPEED, NULL),
                             rule("fallen", FP_RULE_DOWN, "all"), rule("empty", FP_RULE_ABSENT, "door")};
    rules[2].duration_ns = 300000000;
    rules[3].threshold = 3;
    rules[4].line[0][0] = 200;
    rules[4].line[1][0] = 200;
    rules[4].line[1][1] = 480;
    rules[5].speed = 200;
    rules[6].duration_ns = 200000000;
    rules[7].duration_ns = 200000000;
    FpRulesConfig cfg;
    fp_rules_config_init(&cfg);
    cfg.zones = zs;
    cfg.n_zones = 2;
    cfg.rules = rules;
    cfg.n_rules = 8;
    cfg.box_alpha = 0.5f;
    FpRules *r;
    CHECK_OK(fp_rules_create(&r, &cfg, check_ids, NULL));
    static FpTrack t[64];
    unsigned long before = 0;
    for (int f = 0; f < 400; f++) {
        if (f == 100)
            before = fp_alloc_calls();
        int n = 0;
        for (int i = 0; i < 64; i++) {
            /* tracks come and go, walk across the door and the line, some fall */
            uint64_t id = (uint64_t)(i + 1 + 64 * ((f + i * 7) / 60));
            if ((f + i) % 13 == 0)
                continue;
            float x = (float)((f * (i % 5 + 1) * 3 + i * 37) % 640);
            bool wide = i % 4 == 0 && (f / 20) % 2;
            t[n] = wide ? trk(id, i % 3, x, 250, 80, 40) : trk(id, i % 3, x, 250, 40, 80);
            if ((f + i) % 7 == 0)
                t[n] = unseen(t[n]);
            n++;
        }
        CHECK(fp_rules_update(r, t, n, W, H, f * FRAME_NS) >= 0);
    }
    unsigned long calls = fp_alloc_calls() - before;
    CHECK_MSG(calls == 0, "%lu allocator calls in 300 updates", calls);
    CHECK_EQ(id_errors, 0);
    CHECK_MSG(seen_events > 50, "only %d events: the load does not exercise the rules", seen_events);
    fp_rules_destroy(&r);
}
