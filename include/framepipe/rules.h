// SPDX-License-Identifier: MIT
// FpRules: zones, debounced presence and rules (enter, leave, dwell, count, line, speed, down, absent) over one camera's tracks, raising FpEvents.
#ifndef FRAMEPIPE_RULES_H
#define FRAMEPIPE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepipe/geometry.h"
#include "framepipe/track.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One engine per camera. Each fp_rules_update takes the tracks of one frame
 * (from fp_tracker_tracks, or built by hand) and raises events through the
 * callback given at create, on the calling thread, before update returns.
 * docs/events.md explains each rule and proposes the YAML schema.
 *
 * Presence: a track counts for rules only while "present": it becomes
 * present when seen (det_index >= 0 or state CONFIRMED) in at least
 * present_n of its last present_m updates, and stops being present when it
 * was seen in none of its last present_m updates (or leaves the input).
 * A track's position is its anchor point on the (optionally EMA-smoothed)
 * box; it is in a zone when the anchor is inside the zone's polygon
 * (even-odd rule: self-intersecting polygons are allowed, their doubly
 * covered parts count as outside).
 */

#define FP_ZONE_MAX_POINTS 32
#define FP_RULES_MAX_ZONES 64
#define FP_RULES_MAX_RULES 64
#define FP_RULES_MAX_HISTORY 32 /* upper bound of present_m */
#define FP_EVENT_SNAPSHOT_MAX 256
/* FpEvent.end_ns of a stateful situation that has started and not ended yet. */
#define FP_EVENT_ONGOING INT64_MIN

typedef enum FpTrackAnchor {
    FP_TRACK_ANCHOR_BOTTOM_CENTER = 0, /* the feet of a person: the default */
    FP_TRACK_ANCHOR_CENTER,
    FP_TRACK_ANCHOR_TOP_CENTER,
} FpTrackAnchor;

/* A named polygon: source pixels, or normalised 0..1 of the frame (follows resolution changes). */
typedef struct FpZoneConfig {
    const char *name;   /* required, unique per engine; copied at create */
    int n_points;       /* 3..FP_ZONE_MAX_POINTS */
    float points[FP_ZONE_MAX_POINTS][2]; /* (x, y) */
    bool normalized;    /* points in [0, 1], scaled by the frame size of each update */
} FpZoneConfig;

typedef enum FpRuleKind {
    FP_RULE_ENTER = 0, /* instant: a present track's anchor comes into the zone (or it becomes present inside) */
    FP_RULE_LEAVE,     /* instant: ... goes out of it (or stops being present / vanishes inside) */
    FP_RULE_DWELL,     /* stateful: in the zone for duration_ns; ends when it is not */
    FP_RULE_COUNT,     /* stateful: present tracks of the class in the zone above/below threshold for duration_ns */
    FP_RULE_LINE,      /* instant: the anchor crosses the segment line[0] -> line[1] in `direction` */
    FP_RULE_SPEED,     /* instant: speed goes above `speed` (pixels/s, or m/s with meters_per_pixel > 0) */
    FP_RULE_DOWN,      /* stateful: the box went from tall (w/h < 1/down_ratio) to wide (> down_ratio) and stays for duration_ns; ends when tall again */
    FP_RULE_ABSENT,    /* stateful: no present track of the class in the zone for duration_ns; ends when one is */
} FpRuleKind;

typedef enum FpLineDirection {
    FP_LINE_ANY = 0,
    FP_LINE_A_TO_B, /* side A: left of the directed segment line[0] -> line[1] as seen on screen (y down); B: right */
    FP_LINE_B_TO_A,
} FpLineDirection;

typedef enum FpCountOp {
    FP_COUNT_ABOVE = 0, /* count > threshold */
    FP_COUNT_BELOW,     /* count < threshold */
} FpCountOp;

typedef struct FpRuleConfig {
    const char *name;     /* required, copied */
    FpRuleKind kind;
    const char *zone;     /* required for enter, leave, dwell, count, absent; optional (NULL: anywhere) for speed, down; unused for line */
    int class_id;         /* -1: any class (default) */
    int64_t duration_ns;  /* T of dwell, count, down, absent (default 0 for dwell/count/absent: at once; down: 1 s) */
    int64_t cooldown_ns;  /* a start is not raised again (per track; per rule for count/absent) within this time of the last one (default 0) */
    FpCountOp count_op;   /* count */
    int threshold;        /* count */
    float line[2][2];     /* line: the segment A-end (x, y), B-end (x, y) */
    bool line_normalized; /* line points in [0, 1] of the frame */
    FpLineDirection direction;
    float speed;          /* speed: threshold, pixels/s (or m/s when FpRulesConfig.meters_per_pixel > 0) */
    bool speed_from_velocity; /* speed: the track's vx/vy instead of the anchor's position history */
    float down_ratio;     /* down: > 1 (default 1.2): tall is w/h < 1/ratio, wide is w/h > ratio */
} FpRuleConfig;

typedef struct FpRulesConfig {
    const char *camera_name;  /* copied; NULL: "" */
    int camera_index;
    const FpZoneConfig *zones; /* borrowed for create, copied */
    int n_zones;              /* 0..FP_RULES_MAX_ZONES */
    const FpRuleConfig *rules; /* borrowed for create, copied */
    int n_rules;              /* 0..FP_RULES_MAX_RULES */
    int max_tracks;           /* capacity of the per-track table (default 1024) */
    int present_n, present_m; /* presence debounce: seen in N of the last M updates (default 3 of 5; 1 <= N <= M <= 32) */
    float box_alpha;          /* EMA of the box: s = alpha * box + (1 - alpha) * s; 0: off (default), 1: the same as off */
    FpTrackAnchor anchor;          /* default FP_TRACK_ANCHOR_BOTTOM_CENTER */
    float meters_per_pixel;   /* > 0: speeds in m/s; 0: pixels/s (default) */
} FpRulesConfig;

typedef enum FpEventKind {
    FP_EVENT_START = 0, /* instant events are all starts (start_ns == end_ns) */
    FP_EVENT_END,
} FpEventKind;

typedef struct FpEvent {
    uint64_t id;            /* from 1, increasing, unique per engine */
    int camera_index;
    const char *camera_name; /* owned by the engine */
    const char *rule;       /* rule name, owned by the engine */
    FpRuleKind rule_kind;
    FpEventKind kind;
    uint64_t track_id;      /* 0 for count and absent */
    int class_id;           /* the track's class; the rule's class filter for count/absent */
    float score;            /* the track's score; 0 for count/absent */
    double value;           /* count: the count; speed: the speed; dwell/down/absent: seconds since the situation began; else 0 */
    const char *zone;       /* owned by the engine; NULL for rules without a zone */
    int64_t start_ns;       /* stream time the situation began (instant: the time of the event) */
    int64_t end_ns;         /* stream time it ended; FP_EVENT_ONGOING for a start of a stateful rule */
    FpBox box;              /* the track's (smoothed) box; zeros for count/absent */
    char snapshot[FP_EVENT_SNAPSHOT_MAX]; /* empty; filled later by the pipeline */
} FpEvent;

/* Receives one event, borrowed for the call (strings stay valid while the engine lives). Called inside fp_rules_update. */
typedef void (*FpEventFn)(void *opaque, const FpEvent *ev);

typedef struct FpRules FpRules;

/* Fills *cfg with the defaults above (no zones, no rules). Any thread. */
void fp_rules_config_init(FpRulesConfig *cfg);

/* Fills *rule with the defaults for `kind` (name NULL: set it). Any thread. */
void fp_rule_config_init(FpRuleConfig *rule, FpRuleKind kind);

/* "enter", "leave", "dwell", "count", "line", "speed", "down", "absent"; "unknown" otherwise. Static. Any thread. */
const char *fp_rule_kind_name(FpRuleKind kind);

/*
 * Creates an engine; everything is allocated here (cfg->max_tracks tracks
 * times the rules), so updates allocate nothing. cfg is copied; fn(opaque,
 * ev) receives every event (fn required). Returns 0, FP_EINVALID (out, cfg
 * or fn NULL) or FP_ECONFIG with a message naming the camera and the zone
 * or rule (a zone with fewer than 3 or more than FP_ZONE_MAX_POINTS points,
 * a normalised point outside [0, 1], a missing or duplicate name, a rule's
 * unknown or missing zone, a bad duration, ratio, line, N/M or alpha), or
 * -ENOMEM; *out untouched on failure.
 */
int fp_rules_create(FpRules **out, const FpRulesConfig *cfg, FpEventFn fn, void *opaque);

/* Frees the engine (no events are raised); sets *r to NULL. NULL or *r == NULL: no-op. */
void fp_rules_destroy(FpRules **r);

/*
 * Advances the engine to stream time t_ns (non-decreasing) with the n tracks
 * of one frame of frame_w x frame_h source pixels, borrowed for the call.
 * A track id missing from `tracks` that was there before has left: its
 * situations end (leave, dwell/down end events). Repeated ids after the
 * first are ignored; new tracks that find the table full are ignored
 * (counted in fp_rules_dropped). Pixel zones with a point outside the frame
 * log one warning per zone. Events go to the callback in the order raised.
 * Returns the number of events raised, or FP_EINVALID (r NULL, tracks NULL
 * with n > 0, n < 0, frame size < 1, t_ns earlier than the last update:
 * nothing changes). No allocation. One thread at a time per engine.
 */
int fp_rules_update(FpRules *r, const FpTrack *tracks, int n, int frame_w, int frame_h, int64_t t_ns);

/* Tracks ignored because the table was full, since create. */
uint64_t fp_rules_dropped(const FpRules *r);

/*
 * Writes ev as one JSON object (no newline) into buf[0 .. cap) with a NUL
 * when it fits. Returns the length of the whole object without the NUL, as
 * snprintf does: when it is >= cap, buf holds a truncated prefix (NUL
 * terminated when cap > 0) and the caller retries with a larger buffer.
 * Fields: docs/events.md "## Events". Never allocates; any thread.
 */
size_t fp_event_to_json(const FpEvent *ev, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
