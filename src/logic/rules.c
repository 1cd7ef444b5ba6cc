// SPDX-License-Identifier: MIT
// FpRules: per-camera zones, debounced presence, rules over tracks, and the events they raise (issue 11).
#include "framepipe/rules.h"

#include "framepipe/error.h"
#include "framepipe/json.h"
#include "framepipe/log.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/*
 * Design: everything is sized at create. Per-track state lives in a slot
 * table of max_tracks entries (a free-slot stack hands out slots); an
 * open-addressed id -> slot index is rebuilt from the live slots at the start
 * of every update (O(max_tracks), no tombstones). Per (track, rule) state is
 * a max_tracks x n_rules array; count and absent keep one state per rule.
 *
 * Each update: rescale normalised zones and lines when the frame size
 * changed; for every input track update its seen-history, presence, box,
 * anchor, zone mask and speed history, then evaluate the track rules; slots
 * not in the input have left: they are evaluated once as "not present" (so
 * leave and end events are raised) and freed; last, count and absent.
 *
 * A situation (stateful rules) has a condition; it starts when the
 * condition has held for duration_ns and the cooldown since the last start
 * has passed, and ends when the condition stops holding (down: when the
 * box is tall again, or the track is gone). Instant rules fire on the
 * condition's false -> true edge, cooldown permitting.
 */

#define COMPONENT "rules"
#define SPEED_HISTORY 8
#define NO_TIME INT64_MIN

typedef struct Zone {
    char *name;
    int n;
    bool normalized;
    bool warned;
    float pts[FP_ZONE_MAX_POINTS][2]; /* as configured */
    float px[FP_ZONE_MAX_POINTS][2];  /* source pixels for the current frame size */
} Zone;

typedef struct Rule {
    FpRuleConfig cfg; /* name and zone point into the strings below */
    char *name;
    int zone;         /* index, -1: none */
    float line_px[2][2];
} Rule;

typedef struct Situation {
    int64_t since_ns;      /* when the condition began to hold; NO_TIME: it does not */
    int64_t last_start_ns; /* NO_TIME: never started */
    bool active;           /* start raised, end not yet */
    bool cond;             /* instant rules: the condition at the last update */
    bool flag;             /* down: seen tall; line: side known */
    int side;              /* line: last non-zero side, -1 (A) or +1 (B) */
} Situation;

typedef struct Slot {
    uint64_t id; /* 0: free */
    int class_id;
    float score;
    uint32_t seen;  /* bit i: seen i updates ago */
    int updates;    /* updates since the track appeared (capped) */
    bool present;
    bool touched;   /* in this update's input */
    FpBox box;      /* smoothed */
    float ax, ay;   /* anchor */
    float pax, pay; /* anchor at the previous update */
    bool have_prev;
    uint64_t zones; /* bit z: anchor inside zone z */
    float vx, vy;
    float hx[SPEED_HISTORY], hy[SPEED_HISTORY];
    int64_t ht[SPEED_HISTORY];
    int hn, hhead;
} Slot;

struct FpRules {
    FpRulesConfig cfg;
    char *camera_name;
    FpEventFn fn;
    void *opaque;
    Zone *zones;
    Rule *rules;
    Slot *slots;
    int *free_stack, n_free;
    int *index;          /* id -> slot, -1 empty */
    uint32_t index_mask;
    Situation *track_sit; /* [slot * n_rules + rule] */
    Situation *rule_sit;  /* [rule]: count, absent */
    int frame_w, frame_h;
    int64_t last_ns;
    bool started;
    uint64_t next_event_id;
    uint64_t dropped;
    int raised; /* events in this update */
};

static const char *const kind_names[] = {"enter", "leave", "dwell", "count", "line", "speed", "down", "absent"};

const char *fp_rule_kind_name(FpRuleKind kind)
{
    if ((unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]))
        return kind_names[kind];
    return "unknown";
}

void fp_rules_config_init(FpRulesConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_tracks = 1024;
    cfg->present_n = 3;
    cfg->present_m = 5;
    cfg->anchor = FP_TRACK_ANCHOR_BOTTOM_CENTER;
}

void fp_rule_config_init(FpRuleConfig *rule, FpRuleKind kind)
{
    memset(rule, 0, sizeof(*rule));
    rule->kind = kind;
    rule->class_id = -1;
    rule->down_ratio = 1.2f;
    rule->count_op = FP_COUNT_ABOVE;
    rule->direction = FP_LINE_ANY;
    if (kind == FP_RULE_DOWN)
        rule->duration_ns = 1000000000;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool needs_zone(FpRuleKind k)
{
    return k == FP_RULE_ENTER || k == FP_RULE_LEAVE || k == FP_RULE_DWELL || k == FP_RULE_COUNT || k == FP_RULE_ABSENT;
}

static bool finite2(const float p[2])
{
    return isfinite(p[0]) && isfinite(p[1]);
}

static int validate(const FpRulesConfig *cfg, const char *cam)
{
    if (cfg->n_zones < 0 || cfg->n_zones > FP_RULES_MAX_ZONES || (cfg->n_zones > 0 && !cfg->zones))
        return fp_error(FP_ECONFIG, "camera '%s': n_zones %d (0..%d, zones not NULL)", cam, cfg->n_zones,
                        FP_RULES_MAX_ZONES);
    if (cfg->n_rules < 0 || cfg->n_rules > FP_RULES_MAX_RULES || (cfg->n_rules > 0 && !cfg->rules))
        return fp_error(FP_ECONFIG, "camera '%s': n_rules %d (0..%d, rules not NULL)", cam, cfg->n_rules,
                        FP_RULES_MAX_RULES);
    if (cfg->max_tracks < 1 || cfg->max_tracks > (1 << 24))
        return fp_error(FP_ECONFIG, "camera '%s': max_tracks %d (1..%d)", cam, cfg->max_tracks, 1 << 24);
    if (cfg->present_n < 1 || cfg->present_m < cfg->present_n || cfg->present_m > FP_RULES_MAX_HISTORY)
        return fp_error(FP_ECONFIG, "camera '%s': presence %d of %d (1 <= N <= M <= %d)", cam, cfg->present_n,
                        cfg->present_m, FP_RULES_MAX_HISTORY);
    if (!(cfg->box_alpha >= 0.0f && cfg->box_alpha <= 1.0f))
        return fp_error(FP_ECONFIG, "camera '%s': box_alpha %g (0..1)", cam, (double)cfg->box_alpha);
    if ((unsigned)cfg->anchor > FP_TRACK_ANCHOR_TOP_CENTER)
        return fp_error(FP_ECONFIG, "camera '%s': unknown anchor %d", cam, (int)cfg->anchor);
    if (!(cfg->meters_per_pixel >= 0.0f && isfinite(cfg->meters_per_pixel)))
        return fp_error(FP_ECONFIG, "camera '%s': meters_per_pixel %g (>= 0)", cam, (double)cfg->meters_per_pixel);
    for (int z = 0; z < cfg->n_zones; z++) {
        const FpZoneConfig *zc = &cfg->zones[z];
        if (!zc->name || !zc->name[0])
            return fp_error(FP_ECONFIG, "camera '%s': zone %d has no name", cam, z);
        for (int o = 0; o < z; o++)
            if (strcmp(cfg->zones[o].name, zc->name) == 0)
                return fp_error(FP_ECONFIG, "camera '%s': zone '%s' named twice", cam, zc->name);
        if (zc->n_points < 3)
            return fp_error(FP_ECONFIG, "camera '%s': zone '%s' has %d points; a zone needs at least 3", cam,
                            zc->name, zc->n_points);
        if (zc->n_points > FP_ZONE_MAX_POINTS)
            return fp_error(FP_ECONFIG, "camera '%s': zone '%s' has %d points; at most %d", cam, zc->name,
                            zc->n_points, FP_ZONE_MAX_POINTS);
        for (int i = 0; i < zc->n_points; i++) {
            const float *p = zc->points[i];
            if (!finite2(p) || (zc->normalized && (p[0] < 0 || p[0] > 1 || p[1] < 0 || p[1] > 1)))
                return fp_error(FP_ECONFIG, "camera '%s': zone '%s' point %d (%g, %g) is %s", cam, zc->name, i,
                                (double)p[0], (double)p[1], zc->normalized ? "outside [0, 1]" : "not finite");
        }
    }
    for (int k = 0; k < cfg->n_rules; k++) {
        const FpRuleConfig *rc = &cfg->rules[k];
        if (!rc->name || !rc->name[0])
            return fp_error(FP_ECONFIG, "camera '%s': rule %d has no name", cam, k);
        const char *rn = rc->name;
        for (int o = 0; o < k; o++)
            if (strcmp(cfg->rules[o].name, rn) == 0)
                return fp_error(FP_ECONFIG, "camera '%s': rule '%s' named twice", cam, rn);
        if ((unsigned)rc->kind > FP_RULE_ABSENT)
            return fp_error(FP_ECONFIG, "camera '%s': rule '%s': unknown kind %d", cam, rn, (int)rc->kind);
        const char *kn = fp_rule_kind_name(rc->kind);
        if (needs_zone(rc->kind) && !rc->zone)
            return fp_error(FP_ECONFIG, "camera '%s': rule '%s' (%s) needs a zone", cam, rn, kn);
        if (rc->zone && rc->kind != FP_RULE_LINE) {
            int found = -1;
            for (int z = 0; z < cfg->n_zones; z++)
                if (strcmp(cfg->zones[z].name, rc->zone) == 0)
                    found = z;
            if (found < 0)
                return fp_error(FP_ECONFIG, "camera '%s': rule '%s': no zone '%s'", cam, rn, rc->zone);
        }
        if (rc->duration_ns < 0 || rc->cooldown_ns < 0)
            return fp_error(FP_ECONFIG, "camera '%s': rule '%s': negative duration or cooldown", cam, rn);
        if (rc->kind == FP_RULE_DOWN && !(rc->down_ratio > 1.0f && isfinite(rc->down_ratio)))
            return fp_error(FP_ECONFIG, "camera '%s': rule '%s': down_ratio %g (> 1)", cam, rn, (double)rc->down_ratio);
        if (rc->kind == FP_RULE_SPEED && !(rc->speed >= 0.0f && isfinite(rc->speed)))
            return fp_error(FP_ECONFIG, "camera '%s': rule '%s': speed %g (>= 0)", cam, rn, (double)rc->speed);
        if (rc->kind == FP_RULE_COUNT && (unsigned)rc->count_op > FP_COUNT_BELOW)
            return fp_error(FP_ECONFIG, "camera '%s': rule '%s': unknown count_op", cam, rn);
        if (rc->kind == FP_RULE_LINE) {
            if ((unsigned)rc->direction > FP_LINE_B_TO_A)
                return fp_error(FP_ECONFIG, "camera '%s': rule '%s': unknown direction", cam, rn);
            bool bad = !finite2(rc->line[0]) || !finite2(rc->line[1]) ||
                       (rc->line[0][0] == rc->line[1][0] && rc->line[0][1] == rc->line[1][1]);
            for (int i = 0; i < 2 && !bad && rc->line_normalized; i++)
                bad = rc->line[i][0] < 0 || rc->line[i][0] > 1 || rc->line[i][1] < 0 || rc->line[i][1] > 1;
            if (bad)
                return fp_error(FP_ECONFIG, "camera '%s': rule '%s': line (%g, %g)-(%g, %g) is empty, not finite "
                                "or (normalised) outside [0, 1]", cam, rn, (double)rc->line[0][0],
                                (double)rc->line[0][1], (double)rc->line[1][0], (double)rc->line[1][1]);
        }
    }
    return 0;
}

void fp_rules_destroy(FpRules **rp)
{
    if (!rp || !*rp)
        return;
    FpRules *r = *rp;
    if (r->zones)
        for (int z = 0; z < r->cfg.n_zones; z++)
            free(r->zones[z].name);
    if (r->rules)
        for (int k = 0; k < r->cfg.n_rules; k++)
            free(r->rules[k].name);
    free(r->zones);
    free(r->rules);
    free(r->slots);
    free(r->free_stack);
    free(r->index);
    free(r->track_sit);
    free(r->rule_sit);
    free(r->camera_name);
    free(r);
    *rp = NULL;
}

static void situation_reset(Situation *s)
{
    memset(s, 0, sizeof(*s));
    s->since_ns = NO_TIME;
    s->last_start_ns = NO_TIME;
}

int fp_rules_create(FpRules **out, const FpRulesConfig *cfg, FpEventFn fn, void *opaque)
{
    if (!out || !cfg || !fn)
        return fp_error(FP_EINVALID, "fp_rules_create: out, cfg and fn are required");
    const char *cam = cfg->camera_name ? cfg->camera_name : "";
    int rc = validate(cfg, cam);
    if (rc < 0)
        return rc;
    FpRules *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->cfg = *cfg;
    r->cfg.zones = NULL;
    r->cfg.rules = NULL;
    r->fn = fn;
    r->opaque = opaque;
    r->next_event_id = 1;
    size_t cap = (size_t)cfg->max_tracks, nr = (size_t)cfg->n_rules;
    uint32_t isz = 2;
    while (isz < 2 * cap)
        isz <<= 1;
    r->index_mask = isz - 1;
    r->camera_name = dup_str(cam);
    r->zones = calloc((size_t)cfg->n_zones + 1, sizeof(Zone));
    r->rules = calloc(nr + 1, sizeof(Rule));
    r->slots = calloc(cap, sizeof(Slot));
    r->free_stack = calloc(cap, sizeof(int));
    r->index = calloc(isz, sizeof(int));
    r->track_sit = calloc(cap * nr + 1, sizeof(Situation));
    r->rule_sit = calloc(nr + 1, sizeof(Situation));
    if (!r->camera_name || !r->zones || !r->rules || !r->slots || !r->free_stack || !r->index || !r->track_sit ||
        !r->rule_sit)
        goto fail;
    r->cfg.camera_name = r->camera_name;
    for (int z = 0; z < cfg->n_zones; z++) {
        Zone *zn = &r->zones[z];
        if (!(zn->name = dup_str(cfg->zones[z].name)))
            goto fail;
        zn->n = cfg->zones[z].n_points;
        zn->normalized = cfg->zones[z].normalized;
        memcpy(zn->pts, cfg->zones[z].points, sizeof(zn->pts));
        memcpy(zn->px, zn->pts, sizeof(zn->px));
    }
    r->cfg.n_zones = cfg->n_zones;
    for (int k = 0; k < cfg->n_rules; k++) {
        Rule *ru = &r->rules[k];
        ru->cfg = cfg->rules[k];
        if (!(ru->name = dup_str(cfg->rules[k].name)))
            goto fail;
        ru->cfg.name = ru->name;
        ru->zone = -1;
        if (ru->cfg.zone && ru->cfg.kind != FP_RULE_LINE)
            for (int z = 0; z < cfg->n_zones; z++)
                if (strcmp(r->zones[z].name, ru->cfg.zone) == 0)
                    ru->zone = z;
        ru->cfg.zone = ru->zone >= 0 ? r->zones[ru->zone].name : NULL;
        memcpy(ru->line_px, ru->cfg.line, sizeof(ru->line_px));
        situation_reset(&r->rule_sit[k]);
    }
    for (size_t i = 0; i < cap; i++)
        r->free_stack[r->n_free++] = (int)(cap - 1 - i);
    *out = r;
    return 0;
fail:
    fp_rules_destroy(&r);
    return -ENOMEM;
}

uint64_t fp_rules_dropped(const FpRules *r)
{
    return r ? r->dropped : 0;
}

/* ---- geometry ---- */

/* Even-odd (crossing number) test; points exactly on an edge may fall either way. */
static bool point_in_polygon(const float (*p)[2], int n, float x, float y)
{
    bool in = false;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        float xi = p[i][0], yi = p[i][1], xj = p[j][0], yj = p[j][1];
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi)
            in = !in;
    }
    return in;
}

/* Sign of the anchor's side of the directed segment a -> b: -1 left (side A on screen), +1 right (B), 0 on it. */
static int side_of(const float l[2][2], float x, float y)
{
    double c = (double)(l[1][0] - l[0][0]) * (y - l[0][1]) - (double)(l[1][1] - l[0][1]) * (x - l[0][0]);
    return c > 0 ? 1 : c < 0 ? -1 : 0;
}

/* Does the movement (px, py) -> (x, y) cross the line through the segment at a point within the segment? */
static bool crosses_within(const float l[2][2], float px, float py, float x, float y)
{
    double ex = l[1][0] - l[0][0], ey = l[1][1] - l[0][1];
    double mx = x - px, my = y - py;
    double den = mx * ey - my * ex;
    if (den == 0)
        return false;
    /* u: position of the crossing along the segment, 0 at A-end, 1 at B-end */
    double u = (mx * (py - l[0][1]) - my * (px - l[0][0])) / den;
    return u >= 0 && u <= 1;
}

static void rescale(FpRules *r, int w, int h)
{
    for (int z = 0; z < r->cfg.n_zones; z++) {
        Zone *zn = &r->zones[z];
        for (int i = 0; i < zn->n; i++) {
            if (zn->normalized) {
                zn->px[i][0] = zn->pts[i][0] * (float)w;
                zn->px[i][1] = zn->pts[i][1] * (float)h;
            } else if (!zn->warned &&
                       (zn->pts[i][0] < 0 || zn->pts[i][0] > w || zn->pts[i][1] < 0 || zn->pts[i][1] > h)) {
                zn->warned = true;
                fp_log_warn(COMPONENT, "camera '%s': zone '%s' point %d (%g, %g) is outside the %dx%d frame",
                            r->camera_name, zn->name, i, (double)zn->pts[i][0], (double)zn->pts[i][1], w, h);
            }
        }
    }
    for (int k = 0; k < r->cfg.n_rules; k++) {
        Rule *ru = &r->rules[k];
        if (ru->cfg.kind == FP_RULE_LINE && ru->cfg.line_normalized)
            for (int i = 0; i < 2; i++) {
                ru->line_px[i][0] = ru->cfg.line[i][0] * (float)w;
                ru->line_px[i][1] = ru->cfg.line[i][1] * (float)h;
            }
    }
    r->frame_w = w;
    r->frame_h = h;
}

/* ---- id index ---- */

static uint32_t hash_id(uint64_t id)
{
    id *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(id >> 32);
}

static int index_find(const FpRules *r, uint64_t id, uint32_t *pos)
{
    uint32_t i = hash_id(id) & r->index_mask;
    while (r->index[i] >= 0) {
        if (r->slots[r->index[i]].id == id) {
            *pos = i;
            return r->index[i];
        }
        i = (i + 1) & r->index_mask;
    }
    *pos = i;
    return -1;
}

/* ---- events ---- */

static void raise_event(FpRules *r, const Rule *ru, FpEventKind kind, const Slot *s, int64_t start_ns, int64_t end_ns,
                        double value)
{
    FpEvent ev;
    memset(&ev, 0, sizeof(ev));
    ev.id = r->next_event_id++;
    ev.camera_index = r->cfg.camera_index;
    ev.camera_name = r->camera_name;
    ev.rule = ru->name;
    ev.rule_kind = ru->cfg.kind;
    ev.kind = kind;
    ev.zone = ru->zone >= 0 ? r->zones[ru->zone].name : NULL;
    ev.start_ns = start_ns;
    ev.end_ns = end_ns;
    ev.value = value;
    if (s) {
        ev.track_id = s->id;
        ev.class_id = s->class_id;
        ev.score = s->score;
        ev.box = s->box;
    } else {
        ev.class_id = ru->cfg.class_id;
    }
    r->raised++;
    r->fn(r->opaque, &ev);
}

static bool cooled(const Rule *ru, const Situation *st, int64_t t)
{
    return st->last_start_ns == NO_TIME || t - st->last_start_ns >= ru->cfg.cooldown_ns;
}

static double seconds(int64_t ns)
{
    return (double)ns / 1e9;
}

/* A stateful situation with condition `cond` at time t; s NULL for count/absent. */
static void situation_step(FpRules *r, const Rule *ru, Situation *st, bool cond, const Slot *s, int64_t t,
                           double value)
{
    if (!cond) {
        if (st->active)
            raise_event(r, ru, FP_EVENT_END, s, st->since_ns, t,
                        ru->cfg.kind == FP_RULE_COUNT ? value : seconds(t - st->since_ns));
        st->active = false;
        st->since_ns = NO_TIME;
        return;
    }
    if (st->since_ns == NO_TIME)
        st->since_ns = t;
    if (!st->active && t - st->since_ns >= ru->cfg.duration_ns && cooled(ru, st, t)) {
        st->active = true;
        st->last_start_ns = t;
        raise_event(r, ru, FP_EVENT_START, s, st->since_ns, FP_EVENT_ONGOING,
                    ru->cfg.kind == FP_RULE_COUNT ? value : seconds(t - st->since_ns));
    }
}

static void instant_step(FpRules *r, const Rule *ru, Situation *st, bool cond, const Slot *s, int64_t t, double value)
{
    if (cond && !st->cond && cooled(ru, st, t)) {
        st->last_start_ns = t;
        raise_event(r, ru, FP_EVENT_START, s, t, t, value);
    }
    st->cond = cond;
}

static double slot_speed(const FpRules *r, const Rule *ru, const Slot *s)
{
    double v = 0;
    if (ru->cfg.speed_from_velocity) {
        v = hypot(s->vx, s->vy);
    } else if (s->hn >= 2) {
        int newest = (s->hhead + SPEED_HISTORY - 1) % SPEED_HISTORY;
        int oldest = (s->hhead + SPEED_HISTORY - s->hn) % SPEED_HISTORY;
        int64_t dt = s->ht[newest] - s->ht[oldest];
        if (dt > 0)
            v = hypot(s->hx[newest] - s->hx[oldest], s->hy[newest] - s->hy[oldest]) / seconds(dt);
    }
    if (r->cfg.meters_per_pixel > 0)
        v *= r->cfg.meters_per_pixel;
    return v;
}

/* Evaluates the track rules for one slot; `gone`: the track has left the input (everything ends). */
static void eval_track(FpRules *r, int si, bool gone, int64_t t)
{
    Slot *s = &r->slots[si];
    for (int k = 0; k < r->cfg.n_rules; k++) {
        const Rule *ru = &r->rules[k];
        Situation *st = &r->track_sit[(size_t)si * (size_t)r->cfg.n_rules + (size_t)k];
        if (ru->cfg.kind == FP_RULE_COUNT || ru->cfg.kind == FP_RULE_ABSENT)
            continue;
        bool cls = ru->cfg.class_id < 0 || ru->cfg.class_id == s->class_id;
        bool live = !gone && s->present && cls;
        bool in_zone = ru->zone < 0 || (s->zones >> ru->zone & 1u);
        switch (ru->cfg.kind) {
        case FP_RULE_ENTER:
            instant_step(r, ru, st, live && in_zone, s, t, 0);
            break;
        case FP_RULE_LEAVE:
            /* the condition is "in the zone"; leave fires on its true -> false edge */
            if (st->cond && !(live && in_zone) && cooled(ru, st, t)) {
                st->last_start_ns = t;
                raise_event(r, ru, FP_EVENT_START, s, t, t, 0);
            }
            st->cond = live && in_zone;
            break;
        case FP_RULE_DWELL:
            situation_step(r, ru, st, live && in_zone, s, t, 0);
            break;
        case FP_RULE_LINE: {
            if (gone || !cls)
                break;
            int side = side_of(ru->line_px, s->ax, s->ay);
            if (side == 0)
                break;
            if (st->flag && side != st->side && s->present && s->have_prev &&
                crosses_within(ru->line_px, s->pax, s->pay, s->ax, s->ay)) {
                bool a_to_b = st->side < 0 && side > 0;
                FpLineDirection d = ru->cfg.direction;
                if ((d == FP_LINE_ANY || (d == FP_LINE_A_TO_B) == a_to_b) && cooled(ru, st, t)) {
                    st->last_start_ns = t;
                    raise_event(r, ru, FP_EVENT_START, s, t, t, 0);
                }
            }
            st->flag = true;
            st->side = side;
            break;
        }
        case FP_RULE_SPEED: {
            double v = live && in_zone ? slot_speed(r, ru, s) : 0;
            instant_step(r, ru, st, live && in_zone && v > ru->cfg.speed, s, t, v);
            break;
        }
        case FP_RULE_DOWN: {
            float w = s->box.x2 - s->box.x1, h = s->box.y2 - s->box.y1;
            float aspect = h > 0 ? w / h : 0;
            bool tall = h > 0 && aspect < 1.0f / ru->cfg.down_ratio;
            bool wide = h > 0 && aspect > ru->cfg.down_ratio;
            bool cond;
            if (!live || !in_zone || tall)
                cond = false;
            else if (st->active)
                cond = true; /* stays down until tall again (hysteresis over the band between) */
            else
                cond = wide && st->flag;
            if (tall && !gone)
                st->flag = true;
            situation_step(r, ru, st, cond, s, t, 0);
            break;
        }
        default:
            break;
        }
    }
}

static void anchor_of(const FpRules *r, const FpBox *b, float *x, float *y)
{
    *x = 0.5f * (b->x1 + b->x2);
    switch (r->cfg.anchor) {
    case FP_TRACK_ANCHOR_CENTER:
        *y = 0.5f * (b->y1 + b->y2);
        break;
    case FP_TRACK_ANCHOR_TOP_CENTER:
        *y = b->y1;
        break;
    default:
        *y = b->y2;
        break;
    }
}

static void observe(FpRules *r, Slot *s, const FpTrack *tr, bool fresh, int64_t t)
{
    uint32_t mmask = r->cfg.present_m >= 32 ? 0xffffffffu : ((1u << r->cfg.present_m) - 1u);
    bool seen = tr->det_index >= 0 || tr->state == FP_TRACK_CONFIRMED;
    s->seen = ((s->seen << 1) | (seen ? 1u : 0u)) & mmask;
    int count = __builtin_popcount(s->seen);
    if (!s->present && count >= r->cfg.present_n)
        s->present = true;
    else if (s->present && count == 0)
        s->present = false;
    s->class_id = tr->class_id;
    s->score = tr->score;
    s->vx = tr->vx;
    s->vy = tr->vy;
    float a = r->cfg.box_alpha;
    if (fresh || a <= 0.0f || a >= 1.0f) {
        s->box = tr->box;
    } else {
        s->box.x1 = a * tr->box.x1 + (1 - a) * s->box.x1;
        s->box.y1 = a * tr->box.y1 + (1 - a) * s->box.y1;
        s->box.x2 = a * tr->box.x2 + (1 - a) * s->box.x2;
        s->box.y2 = a * tr->box.y2 + (1 - a) * s->box.y2;
    }
    s->pax = s->ax;
    s->pay = s->ay;
    s->have_prev = !fresh;
    anchor_of(r, &s->box, &s->ax, &s->ay);
    s->zones = 0;
    for (int z = 0; z < r->cfg.n_zones; z++)
        if (point_in_polygon((const float(*)[2])r->zones[z].px, r->zones[z].n, s->ax, s->ay))
            s->zones |= 1ull << z;
    if (seen) {
        s->hx[s->hhead] = s->ax;
        s->hy[s->hhead] = s->ay;
        s->ht[s->hhead] = t;
        s->hhead = (s->hhead + 1) % SPEED_HISTORY;
        if (s->hn < SPEED_HISTORY)
            s->hn++;
    }
}

int fp_rules_update(FpRules *r, const FpTrack *tracks, int n, int frame_w, int frame_h, int64_t t_ns)
{
    if (!r || n < 0 || (n > 0 && !tracks) || frame_w < 1 || frame_h < 1)
        return fp_error(FP_EINVALID, "fp_rules_update: bad arguments (n %d, frame %dx%d)", n, frame_w, frame_h);
    if (r->started && t_ns < r->last_ns)
        return fp_error(FP_EINVALID, "camera '%s': time %lld is earlier than the last update's %lld", r->camera_name,
                        (long long)t_ns, (long long)r->last_ns);
    if (!r->started || frame_w != r->frame_w || frame_h != r->frame_h)
        rescale(r, frame_w, frame_h);
    r->started = true;
    r->last_ns = t_ns;
    r->raised = 0;
    size_t cap = (size_t)r->cfg.max_tracks, nr = (size_t)r->cfg.n_rules;

    memset(r->index, 0xff, sizeof(int) * (r->index_mask + 1u));
    for (size_t i = 0; i < cap; i++) {
        r->slots[i].touched = false;
        if (r->slots[i].id) {
            uint32_t pos;
            (void)index_find(r, r->slots[i].id, &pos);
            r->index[pos] = (int)i;
        }
    }
    for (int i = 0; i < n; i++) {
        const FpTrack *tr = &tracks[i];
        if (tr->id == 0)
            continue;
        uint32_t pos;
        int si = index_find(r, tr->id, &pos);
        bool fresh = false;
        if (si < 0) {
            if (r->n_free == 0) {
                r->dropped++;
                continue;
            }
            si = r->free_stack[--r->n_free];
            Slot *s = &r->slots[si];
            memset(s, 0, sizeof(*s));
            s->id = tr->id;
            r->index[pos] = si;
            for (size_t k = 0; k < nr; k++)
                situation_reset(&r->track_sit[(size_t)si * nr + k]);
            fresh = true;
        } else if (r->slots[si].touched) {
            continue; /* a repeated id */
        }
        Slot *s = &r->slots[si];
        s->touched = true;
        observe(r, s, tr, fresh, t_ns);
        eval_track(r, si, false, t_ns);
    }
    for (size_t i = 0; i < cap; i++) {
        Slot *s = &r->slots[i];
        if (s->id && !s->touched) {
            eval_track(r, (int)i, true, t_ns);
            s->id = 0;
            r->free_stack[r->n_free++] = (int)i;
        }
    }
    for (size_t k = 0; k < nr; k++) {
        const Rule *ru = &r->rules[k];
        if (ru->cfg.kind != FP_RULE_COUNT && ru->cfg.kind != FP_RULE_ABSENT)
            continue;
        int count = 0;
        for (size_t i = 0; i < cap; i++) {
            const Slot *s = &r->slots[i];
            if (s->id && s->present && (s->zones >> ru->zone & 1u) &&
                (ru->cfg.class_id < 0 || ru->cfg.class_id == s->class_id))
                count++;
        }
        bool cond;
        if (ru->cfg.kind == FP_RULE_ABSENT)
            cond = count == 0;
        else if (ru->cfg.count_op == FP_COUNT_ABOVE)
            cond = count > ru->cfg.threshold;
        else
            cond = count < ru->cfg.threshold;
        situation_step(r, ru, &r->rule_sit[k], cond, NULL, t_ns, (double)count);
    }
    return r->raised;
}

/* ---- JSON ---- */

typedef struct Out {
    char *buf;
    size_t len, cap;
} Out;

static void put(Out *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_str(Out *o, const char *s)
{
    put(o, s, strlen(s));
}

static void put_fmt_i64(Out *o, int64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

static void put_u64(Out *o, uint64_t u)
{
    char tmp[24];
    char *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* A finite number with up to `decimals` decimals (trailing zeros dropped), or null. */
static void put_real(Out *o, double v, int decimals)
{
    if (!isfinite(v) || fabs(v) >= 1e15) {
        put_str(o, "null");
        return;
    }
    double scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    double rounded = round(fabs(v) * scale);
    uint64_t units = (uint64_t)rounded, s = (uint64_t)scale;
    if (v < 0 && units)
        put(o, "-", 1);
    put_u64(o, units / s);
    uint64_t frac = units % s;
    if (frac) {
        char digits[16];
        int nd = decimals;
        for (int i = nd - 1; i >= 0; i--) {
            digits[i] = (char)('0' + frac % 10);
            frac /= 10;
        }
        while (nd > 0 && digits[nd - 1] == '0')
            nd--;
        put(o, ".", 1);
        put(o, digits, (size_t)nd);
    }
}

static void put_json_string(Out *o, const char *s)
{
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    size_t need = fp_json_escape(room ? o->buf + o->len : NULL, room, s);
    o->len += need;
}

size_t fp_event_to_json(const FpEvent *ev, char *buf, size_t cap)
{
    /* one byte is kept for the NUL */
    Out o = {buf, 0, cap ? cap - 1 : 0};
    put_str(&o, "{\"id\":");
    put_u64(&o, ev->id);
    put_str(&o, ",\"camera\":");
    put_fmt_i64(&o, ev->camera_index);
    put_str(&o, ",\"camera_name\":");
    put_json_string(&o, ev->camera_name);
    put_str(&o, ",\"rule\":");
    put_json_string(&o, ev->rule);
    put_str(&o, ",\"rule_kind\":\"");
    put_str(&o, fp_rule_kind_name(ev->rule_kind));
    put_str(&o, ev->kind == FP_EVENT_END ? "\",\"kind\":\"end\"" : "\",\"kind\":\"start\"");
    put_str(&o, ",\"track_id\":");
    put_u64(&o, ev->track_id);
    put_str(&o, ",\"class_id\":");
    put_fmt_i64(&o, ev->class_id);
    put_str(&o, ",\"score\":");
    put_real(&o, ev->score, 4);
    put_str(&o, ",\"value\":");
    put_real(&o, ev->value, 3);
    put_str(&o, ",\"zone\":");
    put_json_string(&o, ev->zone);
    put_str(&o, ",\"start_ns\":");
    put_fmt_i64(&o, ev->start_ns);
    put_str(&o, ",\"end_ns\":");
    if (ev->end_ns == FP_EVENT_ONGOING)
        put_str(&o, "null");
    else
        put_fmt_i64(&o, ev->end_ns);
    put_str(&o, ",\"box\":[");
    put_real(&o, ev->box.x1, 2);
    put(&o, ",", 1);
    put_real(&o, ev->box.y1, 2);
    put(&o, ",", 1);
    put_real(&o, ev->box.x2, 2);
    put(&o, ",", 1);
    put_real(&o, ev->box.y2, 2);
    put_str(&o, "],\"snapshot\":");
    char snap[FP_EVENT_SNAPSHOT_MAX];
    memcpy(snap, ev->snapshot, sizeof(snap));
    snap[sizeof(snap) - 1] = '\0';
    put_json_string(&o, snap);
    put(&o, "}", 1);
    if (cap)
        buf[o.len < cap ? o.len : cap - 1] = '\0';
    return o.len;
}
