// SPDX-License-Identifier: MIT
// YAML config loader (libyaml): the `framepipe run` file into an FpPipelineConfig, every problem as FILE:LINE:COL.
#include "framepipe/config.h"

#include "framepipe/error.h"
#include "framepipe/family.h"
#include "framepipe/model_names.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

/*
 * Design: two passes over the text. The first walks libyaml's events only
 * to report syntax errors, anchors/aliases (rejected: a config is read by
 * people, and an alias would let one node fill two cameras) and a second
 * document. The second loads the node tree (yaml_parser_load), whose nodes
 * carry their positions, and walks it with one table of keys per section
 * (KeyDef): the table gives the type, range, field offset and the phrase
 * used in messages, and the list of known keys for "unknown key" errors.
 * Every string the result points to is copied into the FpConfigFile's
 * string list, so the libyaml document is freed before returning.
 */

struct FpConfigFile {
    FpPipelineConfig cfg;
    char *dir;       /* base of relative paths, absolute */
    char **strings;  /* everything cfg points to (except static literals) */
    size_t n_strings, cap_strings;
};

typedef struct Ctx {
    FpConfigFile *cf;
    yaml_document_t *doc;
    const char *name;    /* the file, for messages */
    int rules_only;      /* fp_config_load_rules: tracker, zones, rules, events */
} Ctx;

/* ---- messages ---- */

static int fail_at(const Ctx *c, yaml_mark_t m, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(const Ctx *c, yaml_mark_t m, const char *where, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return fp_error(FP_ECONFIG, "%s:%zu:%zu: %s: %s", c->name, m.line + 1, m.column + 1,
                    where && where[0] ? where : "top level", what);
}

static int is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !v[0] || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* "'fast'", "an empty value", "a mapping", "a list": what a node is, for "got ..." */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (is_null(n))
        return "an empty value";
    const char *v = (const char *)n->data.scalar.value;
    size_t len = strlen(v);
    if (len > 60)
        snprintf(buf, size, "'%.57s...'", v);
    else
        snprintf(buf, size, "'%s'", v);
    return buf;
}

static int fail_expect(const Ctx *c, const yaml_node_t *n, const char *where, const char *expect)
{
    char buf[80];
    return fail_at(c, n->start_mark, where, "expected %s, got %s", expect, describe(n, buf, sizeof(buf)));
}

/* ---- owned strings and paths ---- */

static char *keep(FpConfigFile *cf, char *s)
{
    if (!s)
        return NULL;
    if (cf->n_strings == cf->cap_strings) {
        size_t cap = cf->cap_strings ? 2 * cf->cap_strings : 32;
        char **p = realloc(cf->strings, cap * sizeof(*p));
        if (!p) {
            free(s);
            return NULL;
        }
        cf->strings = p;
        cf->cap_strings = cap;
    }
    cf->strings[cf->n_strings++] = s;
    return s;
}

/* A path made absolute against `dir`: leading "./" dropped, a trailing "/" kept. NULL on ENOMEM. */
static char *join_path(const char *dir, const char *rel)
{
    while (rel[0] == '.' && rel[1] == '/') {
        rel += 2;
        while (*rel == '/')
            rel++;
    }
    if (!strcmp(rel, "."))
        rel = "";
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    size_t n = dl + 1 + strlen(rel) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    if (!rel[0])
        snprintf(out, n, "%.*s", (int)dl, dir);
    else
        snprintf(out, n, "%.*s%s%s", (int)dl, dir, dir[dl - 1] == '/' ? "" : "/", rel);
    return out;
}

/* A camera url naming a file or folder relative to the config: not "-", no scheme (rtsp:, ring:, fd:, pipe:...). */
static int is_relative_file_url(const char *url)
{
    if (!strcmp(url, "-") || url[0] == '/')
        return 0;
    if (isalpha((unsigned char)url[0])) {
        const char *p = url + 1;
        while (isalnum((unsigned char)*p) || *p == '+' || *p == '.' || *p == '-')
            p++;
        if (*p == ':')
            return 0;
    }
    return 1;
}

/* ---- scalar parsers (0 ok, -1 bad text) ---- */

static int parse_int(const char *s, long long *out)
{
    if (!(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+') && isdigit((unsigned char)s[1]))))
        return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* A finite decimal number; returns the end of the number in *end (text after it is the caller's). */
static int parse_number_prefix(const char *s, double *out, const char **end)
{
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!(isdigit((unsigned char)p[0]) || (p[0] == '.' && isdigit((unsigned char)p[1]))))
        return -1;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return -1;
    errno = 0;
    char *e;
    double v = strtod(s, &e);
    if (errno || !isfinite(v))
        return -1;
    *out = v;
    *end = e;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    const char *end;
    return parse_number_prefix(s, out, &end) < 0 || *end ? -1 : 0;
}

/* "250us", "5ms", "1.5s", "1m", "1h", or a bare number of seconds: seconds >= 0. */
static int parse_duration(const char *s, double *seconds)
{
    static const struct {
        const char *unit;
        double scale;
    } units[] = {{"", 1.0},  {"ns", 1e-9},  {"us", 1e-6},   {"\xc2\xb5s", 1e-6}, {"ms", 1e-3},
                 {"s", 1.0}, {"m", 60.0},   {"min", 60.0},  {"h", 3600.0}};
    double v;
    const char *unit;
    if (parse_number_prefix(s, &v, &unit) < 0 || v < 0)
        return -1;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (!strcmp(unit, units[i].unit)) {
            v *= units[i].scale;
            if (v > 1e9) /* ~31 years: keeps the ns value far from int64 overflow */
                return -1;
            *seconds = v;
            return 0;
        }
    }
    return -1;
}

static int parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* ---- key tables ---- */

typedef struct EnumName {
    const char *name;
    int value;
} EnumName;

typedef enum KeyType {
    K_STRING,  /* const char *, non-empty, copied */
    K_NAME,    /* const char *, a camera name [A-Za-z0-9_.-]{1,63} */
    K_URL,     /* const char *, a camera url; relative file paths resolved */
    K_PATH,    /* const char *, a file path, resolved; "-" kept when `allow_dash` */
    K_INT,     /* int in [min, max] */
    K_UINT,    /* unsigned in [min, max] */
    K_DOUBLE,  /* double > min (min_open) or >= min, <= max */
    K_FLOAT,   /* float, same */
    K_DUR_NS,  /* int64_t ns from a duration; > 0 when min_open */
    K_DUR_S,   /* double seconds from a duration */
    K_BOOL,    /* bool */
    K_INTBOOL, /* int 0 / 1 */
    K_ENUM,    /* an enum (int-sized) from `names` */
    K_FAMILY,  /* FpFamily: auto (FP_FAMILY_UNKNOWN) or a family fp_family_parse knows */
    K_HTTP,    /* const char *: HOST:PORT */
    K_ROI,     /* [x, y, w, h] into FpCameraConfig.roi_* */
    K_INPUT,   /* [w, h] into FpModelSection.input_* */
    K_ZONES,   /* a list of zones into FpCameraConfig.zones */
    K_POINTS,  /* [[x, y], ...] (3..FP_ZONE_MAX_POINTS) into FpZoneConfig.points */
    K_LINE,    /* [[x, y], [x, y]] into FpRuleConfig.line */
    K_CLASS,   /* an integer class id (>= -1) or a class name into FpRuleSection */
    K_SECTION, /* a nested mapping the caller reads (output.redis, ...): set_value leaves it */
} KeyType;

typedef struct KeyDef {
    const char *name;
    KeyType type;
    size_t off;
    double min, max;
    bool min_open;
    bool required;
    bool allow_dash;
    bool model_name; /* K_PATH: a name of framepipe/model_names.h ("face") is kept as it is, unless such a file exists */
    const EnumName *names; /* NULL-terminated */
    const char *expect;    /* "a number > 0": for messages */
} KeyDef;

#define MAX_KEYS 32

static const EnumName kind_names[] = {{"auto", FP_SOURCE_AUTO},     {"libav", FP_SOURCE_LIBAV},
                                      {"images", FP_SOURCE_IMAGES}, {"raw", FP_SOURCE_RAW},
                                      {"ring", FP_SOURCE_RING},     {NULL, 0}};
static const EnumName live_names[] = {{"auto", FP_LIVE_AUTO}, {"true", FP_LIVE_YES}, {"yes", FP_LIVE_YES},
                                      {"on", FP_LIVE_YES},     {"false", FP_LIVE_NO},  {"no", FP_LIVE_NO},
                                      {"off", FP_LIVE_NO},     {NULL, 0}};
static const EnumName policy_names[] = {{"default", FP_POLICY_DEFAULT}, {"latest", FP_POLICY_LATEST},
                                        {"lossless", FP_POLICY_LOSSLESS}, {NULL, 0}};
static const EnumName skip_names[] = {{"none", FP_SKIP_NONE}, {"nonref", FP_SKIP_NONREF},
                                      {"nonkey", FP_SKIP_NONKEY}, {NULL, 0}};
_Static_assert(sizeof(FpSkipFrames) == sizeof(int), "K_ENUM stores enums as int");
static const EnumName transport_names[] = {{"tcp", FP_RTSP_TCP}, {"udp", FP_RTSP_UDP}, {NULL, 0}};
static const EnumName hw_names[] = {{"none", FP_HW_NONE}, {"auto", FP_HW_AUTO}, {"cuda", FP_HW_CUDA},
                                    {"vaapi", FP_HW_VAAPI}, {NULL, 0}};
static const EnumName format_names[] = {{"yuv420p", FP_PIX_YUV420P}, {"nv12", FP_PIX_NV12},
                                        {"rgb24", FP_PIX_RGB24},     {"bgr24", FP_PIX_BGR24},
                                        {"gray8", FP_PIX_GRAY8},     {NULL, 0}};
static const EnumName provider_names[] = {{"cpu", FP_PROVIDER_CPU}, {"cuda", FP_PROVIDER_CUDA},
                                          {"tensorrt", FP_PROVIDER_TENSORRT}, {NULL, 0}};

static const EnumName anchor_names[] = {{"bottom-center", FP_TRACK_ANCHOR_BOTTOM_CENTER},
                                        {"bottom_center", FP_TRACK_ANCHOR_BOTTOM_CENTER},
                                        {"center", FP_TRACK_ANCHOR_CENTER},
                                        {"top-center", FP_TRACK_ANCHOR_TOP_CENTER},
                                        {"top_center", FP_TRACK_ANCHOR_TOP_CENTER}, {NULL, 0}};
static const EnumName rule_kind_names[] = {{"enter", FP_RULE_ENTER}, {"leave", FP_RULE_LEAVE},
                                           {"dwell", FP_RULE_DWELL}, {"count", FP_RULE_COUNT},
                                           {"line", FP_RULE_LINE},   {"speed", FP_RULE_SPEED},
                                           {"down", FP_RULE_DOWN},   {"absent", FP_RULE_ABSENT},
                                           {NULL, 0}};
static const EnumName direction_names[] = {{"any", FP_LINE_ANY},       {"a_to_b", FP_LINE_A_TO_B},
                                           {"a-to-b", FP_LINE_A_TO_B}, {"b_to_a", FP_LINE_B_TO_A},
                                           {"b-to-a", FP_LINE_B_TO_A}, {NULL, 0}};
static const EnumName op_names[] = {{"above", FP_COUNT_ABOVE}, {"below", FP_COUNT_BELOW}, {NULL, 0}};

_Static_assert(sizeof(FpTrackAnchor) == sizeof(int) && sizeof(FpRuleKind) == sizeof(int) &&
                   sizeof(FpLineDirection) == sizeof(int) && sizeof(FpCountOp) == sizeof(int),
               "K_ENUM stores enums as int");
_Static_assert(sizeof(FpSourceKind) == sizeof(int) && sizeof(FpSourcePolicy) == sizeof(int) &&
                   sizeof(FpRtspTransport) == sizeof(int) && sizeof(FpHwDecode) == sizeof(int) &&
                   sizeof(FpPixelFormat) == sizeof(int) && sizeof(FpLiveMode) == sizeof(int) &&
                   sizeof(FpProvider) == sizeof(int),
               "K_ENUM stores enums as int");

#define DUR_EXAMPLES "(e.g. 250us, 5ms, 1.5s, 1m; a bare number is seconds)"
#define CAM(f) offsetof(FpCameraConfig, f)
#define SRC(f) offsetof(FpCameraConfig, source.f)

static const KeyDef camera_keys[] = {
    {"name", K_NAME, CAM(name), .required = true, .expect = "a name of letters, digits, '_', '.', '-' (1..63)"},
    {"url", K_URL, SRC(url), .required = true,
     .expect = "a file path, URL, /dev/videoN, folder, ring:NAME or '-'"},
    {"kind", K_ENUM, SRC(kind), .names = kind_names, .expect = "one of auto, libav, images, raw, ring"},
    {"live", K_ENUM, SRC(live), .names = live_names, .expect = "one of auto, true, false"},
    {"policy", K_ENUM, SRC(policy), .names = policy_names, .expect = "one of default, latest, lossless"},
    {"queue_depth", K_UINT, SRC(queue_depth), 0, 4096, .expect = "an integer in 0..4096"},
    {"fps", K_DOUBLE, SRC(target_fps), 0, 1e6, .min_open = true, .expect = "a number > 0 and at most 1e6"},
    {"every_nth", K_UINT, SRC(every_nth), 1, 1000000, .expect = "an integer >= 1"},
    {"start", K_DUR_S, SRC(start_s), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
    {"stop", K_DUR_S, SRC(stop_s), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
    {"loop", K_INTBOOL, SRC(loop), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"rtsp_transport", K_ENUM, SRC(rtsp_transport), .names = transport_names, .expect = "one of tcp, udp"},
    {"open_timeout", K_DUR_NS, SRC(open_timeout_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"stall_timeout", K_DUR_NS, SRC(stall_timeout_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"backoff_min", K_DUR_NS, SRC(backoff_min_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"backoff_max", K_DUR_NS, SRC(backoff_max_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"pool_timeout", K_DUR_NS, SRC(pool_timeout_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"hw", K_ENUM, SRC(hw), .names = hw_names, .expect = "one of none, auto, cuda, vaapi"},
    {"hw_device", K_STRING, SRC(hw_device), .expect = "a device string (e.g. /dev/dri/renderD128 or 0)"},
    {"protocols", K_STRING, SRC(protocols), .expect = "libavformat protocols, comma-separated (e.g. file,concat)"},
    {"decoder_threads", K_INT, SRC(decoder_threads), 0, 1024, .expect = "an integer in 0..1024"},
    {"skip_loop_filter", K_INTBOOL, SRC(skip_loop_filter), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"skip_frames", K_ENUM, SRC(skip_frames), .names = skip_names, .expect = "one of none, nonref, nonkey"},
    {"raw_width", K_INT, SRC(raw_width), 1, 32768, .expect = "an integer in 1..32768"},
    {"raw_height", K_INT, SRC(raw_height), 1, 32768, .expect = "an integer in 1..32768"},
    {"raw_format", K_ENUM, SRC(raw_format), .names = format_names,
     .expect = "one of yuv420p, nv12, rgb24, bgr24, gray8"},
    {"raw_fps", K_DOUBLE, SRC(raw_fps), 0, 1e6, .min_open = true, .expect = "a number > 0 and at most 1e6"},
    {"roi", K_ROI, 0, .expect = "[x, y, w, h] with integers x, y >= 0 and w, h > 0"},
    {"latency_budget", K_DUR_NS, CAM(latency_budget_ns), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
    {"zones", K_ZONES, 0, .expect = "a list of zones (name, points, normalized)"},
    {"meters_per_pixel", K_FLOAT, CAM(meters_per_pixel), 0, 1e6, .expect = "a number from 0 to 1e6"},
};

#define ZONE(f) offsetof(FpZoneConfig, f)
static const KeyDef zone_keys[] = {
    {"name", K_NAME, ZONE(name), .required = true, .expect = "a name of letters, digits, '_', '.', '-' (1..63)"},
    {"points", K_POINTS, 0, .required = true, .expect = "a list of 3 to 32 points [x, y]"},
    {"normalized", K_BOOL, ZONE(normalized), .expect = "a boolean (true/false, yes/no, on/off)"},
};

#define TRK(f) offsetof(FpTrackerSection, f)
static const KeyDef tracker_keys[] = {
    {"enabled", K_BOOL, TRK(enabled), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"high_threshold", K_FLOAT, TRK(tracker.high_threshold), 0, 1, .expect = "a number in 0..1"},
    {"low_threshold", K_FLOAT, TRK(tracker.low_threshold), 0, 1, .expect = "a number in 0..1"},
    {"new_track_threshold", K_FLOAT, TRK(tracker.new_track_threshold), 0, 1, .expect = "a number in 0..1"},
    {"match_iou", K_FLOAT, TRK(tracker.match_iou), 0, 1, .expect = "a number in 0..1"},
    {"low_match_iou", K_FLOAT, TRK(tracker.low_match_iou), 0, 1, .expect = "a number in 0..1"},
    {"min_hits", K_INT, TRK(tracker.min_hits), 1, 1000, .expect = "an integer in 1..1000"},
    {"max_age", K_DUR_NS, TRK(tracker.max_age_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"per_class", K_BOOL, TRK(tracker.per_class), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"max_tracks", K_INT, TRK(tracker.max_tracks), 1, 1 << 24, .expect = "an integer in 1..16777216"},
    {"present_n", K_INT, TRK(present_n), 1, FP_RULES_MAX_HISTORY, .expect = "an integer in 1..32"},
    {"present_m", K_INT, TRK(present_m), 1, FP_RULES_MAX_HISTORY, .expect = "an integer in 1..32"},
    {"box_alpha", K_FLOAT, TRK(box_alpha), 0, 1, .expect = "a number in 0..1"},
    {"anchor", K_ENUM, TRK(anchor), .names = anchor_names, .expect = "one of bottom-center, center, top-center"},
};

#define RULE(f) offsetof(FpRuleSection, rule.f)
static const KeyDef rule_keys[] = {
    {"name", K_STRING, RULE(name), .required = true, .expect = "a rule name"},
    {"kind", K_ENUM, RULE(kind), .required = true, .names = rule_kind_names,
     .expect = "one of enter, leave, dwell, count, line, speed, down, absent"},
    {"camera", K_NAME, offsetof(FpRuleSection, camera), .expect = "the name of a camera"},
    {"zone", K_STRING, RULE(zone), .expect = "the name of a zone of the rule's camera"},
    {"class", K_CLASS, 0, .expect = "a class id (integer >= -1) or a class name"},
    {"duration", K_DUR_NS, RULE(duration_ns), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
    {"cooldown", K_DUR_NS, RULE(cooldown_ns), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
    {"threshold", K_INT, RULE(threshold), 0, 1000000, .expect = "an integer in 0..1000000"},
    {"op", K_ENUM, RULE(count_op), .names = op_names, .expect = "one of above, below"},
    {"line", K_LINE, 0, .expect = "two points [[x, y], [x, y]] (A-end, B-end)"},
    {"normalized", K_BOOL, RULE(line_normalized), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"direction", K_ENUM, RULE(direction), .names = direction_names, .expect = "one of a_to_b, b_to_a, any"},
    {"speed", K_FLOAT, RULE(speed), 0, 1e9, .min_open = true, .expect = "a number > 0 and at most 1e9"},
    {"from_velocity", K_BOOL, RULE(speed_from_velocity), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"ratio", K_FLOAT, RULE(down_ratio), 1, 1000, .min_open = true, .expect = "a number > 1 and at most 1000"},
};

#define MOD(f) offsetof(FpModelSection, f)
static const KeyDef model_keys[] = {
    {"path", K_PATH, MOD(path), .required = true, .model_name = true,
     .expect = "the path of an ONNX file or a model name (framepipe models)"},
    {"family", K_FAMILY, MOD(family),
     .expect = "one of auto, yolov5, yolov7, yolov8, yolov11, yolov8-raw, blazeface, ssd"},
    {"input", K_INPUT, 0, .expect = "[width, height] with integers in 1..16384"},
    {"input_width", K_INT, MOD(input_width), 1, 16384, .expect = "an integer in 1..16384"},
    {"input_height", K_INT, MOD(input_height), 1, 16384, .expect = "an integer in 1..16384"},
    {"labels", K_PATH, MOD(labels), .expect = "the path of a labels file"},
    {"confidence", K_FLOAT, MOD(confidence), 0, 1, .expect = "a number in 0..1"},
    {"iou", K_FLOAT, MOD(iou), 0, 1, .expect = "a number in 0..1"},
    {"max_detections", K_INT, MOD(max_detections), 1, 100000, .expect = "an integer in 1..100000"},
    {"threads", K_INT, MOD(threads), 0, 1024, .expect = "an integer in 0..1024"},
    {"provider", K_ENUM, MOD(provider), .names = provider_names, .expect = "one of cpu, cuda, tensorrt"},
    {"provider_fallback", K_BOOL, MOD(provider_fallback), .expect = "a boolean (true/false, yes/no, on/off)"},
    {"workers", K_INT, MOD(workers), 1, 16, .expect = "an integer in 1..16"},
};

#define BAT(f) offsetof(FpBatchSection, f)
static const KeyDef batch_keys[] = {
    {"max_batch", K_INT, BAT(max_batch), 1, 64, .expect = "an integer in 1..64"},
    {"max_wait", K_DUR_NS, BAT(max_wait_ns), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
    {"per_camera", K_INT, BAT(per_camera), 1, 64, .expect = "an integer in 1..64"},
    {"latency_budget", K_DUR_NS, BAT(latency_budget_ns), .expect = "a duration from 0 to 1e9 s " DUR_EXAMPLES},
};

#define OUT(f) offsetof(FpOutputSection, f)
static const KeyDef output_keys[] = {
    {"jsonl", K_PATH, OUT(jsonl), .allow_dash = true, .expect = "'-' (stdout) or a file path"},
    {"annotate", K_PATH, OUT(annotate), .expect = "a video path (*.mp4) or a folder (dir/)"},
    {"http", K_HTTP, OUT(http), .expect = "HOST:PORT with a port in 0..65535 (e.g. 127.0.0.1:8080)"},
    {"events", K_PATH, OUT(events), .allow_dash = true, .expect = "'-' (stdout) or a file path"},
    {"snapshots", K_PATH, OUT(snapshots), .expect = "a folder for the events' JPEG snapshots"},
    {"snapshots_max_mb", K_INT, OUT(snapshots_max_mb), 1, 1048576, .expect = "an integer in 1..1048576 (MiB)"},
    {"spool", K_PATH, OUT(spool), .expect = "a folder for the network outputs' spools"},
    {"redis", K_SECTION, 0, .expect = "a mapping (url, streams, maxlen, ...)"},
    {"mqtt", K_SECTION, 0, .expect = "a mapping (host, port, prefix, qos, ...)"},
    {"webhook", K_SECTION, 0, .expect = "a mapping (url, headers, bearer_token, timeout)"},
    {"preview_fps", K_DOUBLE, OUT(preview_fps), 0, 60, .min_open = true, .expect = "a number in (0, 60]"},
    {"preview_width", K_INT, OUT(preview_width), 16, 4096, .expect = "an integer in 16..4096 (pixels)"},
    {"http_token", K_STRING, OUT(http_token), .expect = "a non-empty token string"},
};

/* output.redis / output.mqtt / output.webhook: what they share, then the transport's own keys */
typedef struct RedisSec {
    FpNetOutputSection net;
    FpRedisConfig cfg;
    const char *url;
} RedisSec;
typedef struct MqttSec {
    FpNetOutputSection net;
    FpMqttConfig cfg;
} MqttSec;
typedef struct WebhookSec {
    FpNetOutputSection net;
    FpWebhookConfig cfg;
} WebhookSec;

#define BOOL_EXPECT "a boolean (true/false, yes/no, on/off)"
#define NET_KEYS(T)                                                                                          \
    {"frames", K_BOOL, offsetof(T, net.frames), .expect = BOOL_EXPECT},                                     \
    {"events", K_BOOL, offsetof(T, net.events), .expect = BOOL_EXPECT},                                     \
    {"queue", K_INT, offsetof(T, net.queue), 1, 1000000, .expect = "an integer in 1..1000000 (frames)"}

#define RDS(f) offsetof(RedisSec, cfg.f)
static const KeyDef redis_keys[] = {
    NET_KEYS(RedisSec),
    {"url", K_STRING, offsetof(RedisSec, url), .expect = "redis://[[user]:password@]host[:port][/db] or unix:///path"},
    {"host", K_STRING, RDS(host), .expect = "an address or host name"},
    {"port", K_INT, RDS(port), 1, 65535, .expect = "an integer in 1..65535"},
    {"unix_socket", K_PATH, RDS(unix_socket), .expect = "the path of Redis' unix socket"},
    {"username", K_STRING, RDS(username), .expect = "a user name (Redis 6 ACL)"},
    {"password", K_STRING, RDS(password), .expect = "a password"},
    {"db", K_INT, RDS(db), 0, 1000000, .expect = "an integer >= 0"},
    {"tls", K_BOOL, RDS(tls), .expect = BOOL_EXPECT},
    {"stream_frames", K_STRING, RDS(stream_frames), .expect = "a stream name"},
    {"stream_events", K_STRING, RDS(stream_events), .expect = "a stream name"},
    {"maxlen", K_INT, RDS(maxlen), 0, 2000000000, .expect = "an integer >= 0 (0: no trimming)"},
    {"timeout", K_DUR_NS, RDS(timeout_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
};
#define MQT(f) offsetof(MqttSec, cfg.f)
static const KeyDef mqtt_keys[] = {
    NET_KEYS(MqttSec),
    {"host", K_STRING, MQT(host), .expect = "an address or host name"},
    {"port", K_INT, MQT(port), 1, 65535, .expect = "an integer in 1..65535"},
    {"client_id", K_STRING, MQT(client_id), .expect = "a client id"},
    {"username", K_STRING, MQT(username), .expect = "a user name"},
    {"password", K_STRING, MQT(password), .expect = "a password"},
    {"prefix", K_STRING, MQT(prefix), .expect = "a topic prefix without + or #"},
    {"qos", K_INT, MQT(qos), 0, 2, .expect = "0, 1 or 2"},
    {"counts", K_BOOL, MQT(counts), .expect = BOOL_EXPECT},
    {"tls", K_BOOL, MQT(tls), .expect = BOOL_EXPECT},
    {"ca_file", K_PATH, MQT(ca_file), .expect = "the path of a CA bundle"},
    {"keepalive", K_INT, MQT(keepalive_s), 5, 65535, .expect = "an integer in 5..65535 (seconds)"},
    {"timeout", K_DUR_NS, MQT(timeout_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
};
#define WHK(f) offsetof(WebhookSec, cfg.f)
static const KeyDef webhook_keys[] = {
    NET_KEYS(WebhookSec),
    {"url", K_STRING, WHK(url), .required = true, .expect = "an http:// or https:// URL"},
    {"headers", K_SECTION, 0, .expect = "a mapping of header names to values"},
    {"bearer_token", K_STRING, WHK(bearer_token), .expect = "a token"},
    {"timeout", K_DUR_NS, WHK(timeout_ns), .min_open = true, .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
    {"connect_timeout", K_DUR_NS, WHK(connect_timeout_ns), .min_open = true,
     .expect = "a duration > 0 and at most 1e9 s " DUR_EXAMPLES},
};

/* the top-level `redis:` section of the distributed roles (FpDistSection) */
typedef struct DistSec {
    FpDistSection d;
    const char *url;
} DistSec;
static const EnumName dist_encoding_names[] = {{"jpeg", 0}, {"raw", 1}, {NULL, 0}};
#define DST(f) offsetof(DistSec, d.f)
static const KeyDef dist_keys[] = {
    {"url", K_STRING, offsetof(DistSec, url), .expect = "redis://[[user]:password@]host[:port][/db] or unix:///path"},
    {"host", K_STRING, DST(redis.host), .expect = "an address or host name"},
    {"port", K_INT, DST(redis.port), 1, 65535, .expect = "an integer in 1..65535"},
    {"unix_socket", K_PATH, DST(redis.unix_socket), .expect = "the path of Redis' unix socket"},
    {"username", K_STRING, DST(redis.username), .expect = "a user name (Redis 6 ACL)"},
    {"password", K_STRING, DST(redis.password), .expect = "a password"},
    {"db", K_INT, DST(redis.db), 0, 1000000, .expect = "an integer >= 0"},
    {"tls", K_BOOL, DST(redis.tls), .expect = BOOL_EXPECT},
    {"timeout", K_DUR_NS, DST(redis.timeout_ns), .min_open = true, .expect = "a duration > 0 " DUR_EXAMPLES},
    {"frames", K_STRING, DST(frames), .expect = "a stream name"},
    {"results", K_STRING, DST(results), .expect = "a stream name"},
    {"dead_letter", K_STRING, DST(dead_letter), .expect = "a stream name"},
    {"maxlen", K_INT, DST(maxlen), 1, 2000000000, .expect = "an integer >= 1 (entries)"},
    {"worker_group", K_STRING, DST(worker_group), .expect = "a consumer group name"},
    {"logic_group", K_STRING, DST(logic_group), .expect = "a consumer group name"},
    {"consumer", K_NAME, DST(consumer), .expect = "a consumer name [A-Za-z0-9_.-]{1,63}"},
    {"encoding", K_ENUM, DST(encoding), .names = dist_encoding_names, .expect = "jpeg or raw"},
    {"jpeg_quality", K_INT, DST(jpeg_quality), 1, 100, .expect = "an integer in 1..100"},
    {"block", K_DUR_NS, DST(block_ns), .min_open = true, .expect = "a duration > 0 " DUR_EXAMPLES},
    {"claim_idle", K_DUR_NS, DST(claim_idle_ns), .min_open = true, .expect = "a duration > 0 " DUR_EXAMPLES},
    {"max_age", K_DUR_NS, DST(max_age_ns), .expect = "a duration >= 0 " DUR_EXAMPLES " (0: off)"},
    {"reorder_wait", K_DUR_NS, DST(reorder_wait_ns), .min_open = true, .expect = "a duration > 0 " DUR_EXAMPLES},
    {"max_deliveries", K_INT, DST(max_deliveries), 1, 1000000, .expect = "an integer >= 1 (deliveries)"},
};

enum { TOP_CAMERAS, TOP_MODEL, TOP_BATCH, TOP_OUTPUT, TOP_TRACKER, TOP_RULES, TOP_REDIS };
static const KeyDef top_keys[] = {
    {"cameras", K_STRING, 0, .required = true, .expect = "a list of cameras"},
    {"model", K_STRING, 0, .required = true, .expect = "a mapping with at least 'path'"},
    {"batch", K_STRING, 0, .expect = "a mapping"},
    {"output", K_STRING, 0, .expect = "a mapping"},
    {"tracker", K_STRING, 0, .expect = "a mapping"},
    {"rules", K_STRING, 0, .expect = "a list of rules"},
    {"redis", K_STRING, 0, .expect = "a mapping (url, streams, groups, ...) for camera/worker/logic"},
};

#define N_KEYS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- node access ---- */

static yaml_node_t *node(const Ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

/* The scalar's text, or NULL after recording an error (not a scalar, or a NUL inside). */
static const char *scalar(const Ctx *c, const yaml_node_t *n, const char *where, const char *expect, int *rc)
{
    if (n->type != YAML_SCALAR_NODE) {
        *rc = fail_expect(c, n, where, expect);
        return NULL;
    }
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length) {
        *rc = fail_at(c, n->start_mark, where, "contains a NUL character");
        return NULL;
    }
    return v;
}

static int copy_string(const Ctx *c, const char *s, const char **field)
{
    char *k = keep(c->cf, strdup(s));
    if (!k)
        return -ENOMEM;
    *field = k;
    return 0;
}

static int set_path(const Ctx *c, const char *s, bool resolve, const char **field)
{
    if (!resolve)
        return copy_string(c, s, field);
    char *k = keep(c->cf, join_path(c->cf->dir, s));
    if (!k)
        return -ENOMEM;
    *field = k;
    return 0;
}

static int check_http(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1])
        return -1;
    if (s[0] == '[' && colon[-1] != ']')
        return -1;
    long long port;
    for (const char *p = colon + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    if (parse_int(colon + 1, &port) < 0 || port > 65535)
        return -1;
    return 0;
}

/* Reads a list of `n` integers in [lo, hi] (hi_open: positive) into out[]. */
static int int_list(const Ctx *c, const yaml_node_t *n, const char *where, const char *expect, int count,
                    const long long *lo, int *out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_expect(c, n, where, expect);
    int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len != count)
        return fail_at(c, n->start_mark, where, "expected %s, got a list of %d", expect, len);
    for (int i = 0; i < count; i++) {
        const yaml_node_t *item = node(c, n->data.sequence.items.start[i]);
        char w[96];
        snprintf(w, sizeof(w), "%s[%d]", where, i);
        int rc = 0;
        const char *s = scalar(c, item, w, expect, &rc);
        if (!s)
            return rc;
        long long v;
        if (parse_int(s, &v) < 0 || v < lo[i] || v > 1000000)
            return fail_expect(c, item, w, expect);
        out[i] = (int)v;
    }
    return 0;
}

/* Reads a list of [x, y] number pairs (min..max of them) into out[]; *count receives their number. */
static int point_list(const Ctx *c, const yaml_node_t *n, const char *where, const char *expect, int min, int max,
                      float (*out)[2], int *count)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return fail_expect(c, n, where, expect);
    int len = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (len < min || len > max)
        return fail_at(c, n->start_mark, where, "expected %s, got %d point%s", expect, len, len == 1 ? "" : "s");
    for (int i = 0; i < len; i++) {
        const yaml_node_t *pt = node(c, n->data.sequence.items.start[i]);
        char w[128];
        snprintf(w, sizeof(w), "%s[%d]", where, i);
        if (pt->type != YAML_SEQUENCE_NODE || pt->data.sequence.items.top - pt->data.sequence.items.start != 2)
            return fail_expect(c, pt, w, "a point [x, y] of two numbers");
        for (int k = 0; k < 2; k++) {
            const yaml_node_t *v = node(c, pt->data.sequence.items.start[k]);
            int rc = 0;
            const char *txt = scalar(c, v, w, "a number", &rc);
            if (!txt)
                return rc;
            double d;
            if (parse_double(txt, &d) < 0 || fabs(d) > 1e7)
                return fail_expect(c, v, w, "a number");
            out[i][k] = (float)d;
        }
    }
    *count = len;
    return 0;
}

static int read_zones(const Ctx *c, const yaml_node_t *seq, const char *where, FpCameraConfig *cam);

/* Parses one value into its field of `base`. */
static int set_value(const Ctx *c, const KeyDef *k, const yaml_node_t *n, const char *where, void *base)
{
    char *field = (char *)base + k->off;
    int rc = 0;
    if (k->type == K_ROI) {
        static const long long lo[4] = {0, 0, 1, 1};
        int v[4];
        if ((rc = int_list(c, n, where, k->expect, 4, lo, v)) < 0)
            return rc;
        FpCameraConfig *cam = base;
        cam->roi_x = v[0], cam->roi_y = v[1], cam->roi_w = v[2], cam->roi_h = v[3];
        return 0;
    }
    if (k->type == K_INPUT) {
        static const long long lo[2] = {1, 1};
        int v[2];
        if ((rc = int_list(c, n, where, k->expect, 2, lo, v)) < 0)
            return rc;
        if (v[0] > 16384 || v[1] > 16384)
            return fail_at(c, n->start_mark, where, "expected %s, got %dx%d", k->expect, v[0], v[1]);
        FpModelSection *m = base;
        m->input_width = v[0], m->input_height = v[1];
        return 0;
    }
    if (k->type == K_SECTION)
        return 0;
    if (k->type == K_ZONES)
        return read_zones(c, n, where, base);
    if (k->type == K_POINTS) {
        FpZoneConfig *z = base;
        return point_list(c, n, where, k->expect, 3, FP_ZONE_MAX_POINTS, z->points, &z->n_points);
    }
    if (k->type == K_LINE) {
        FpRuleSection *r = base;
        int count = 0;
        return point_list(c, n, where, k->expect, 2, 2, r->rule.line, &count);
    }
    const char *s = scalar(c, n, where, k->expect, &rc);
    if (!s)
        return rc;
    switch (k->type) {
    case K_STRING:
        if (!s[0])
            return fail_expect(c, n, where, k->expect);
        return copy_string(c, s, (const char **)field);
    case K_NAME: {
        size_t len = strlen(s);
        static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
        if (len < 1 || len > 63 || strspn(s, allowed) != len)
            return fail_expect(c, n, where, k->expect);
        return copy_string(c, s, (const char **)field);
    }
    case K_URL:
        if (!s[0])
            return fail_expect(c, n, where, k->expect);
        return set_path(c, s, is_relative_file_url(s), (const char **)field);
    case K_PATH:
        if (!s[0] || (!k->allow_dash && !strcmp(s, "-")))
            return fail_expect(c, n, where, k->expect);
        if (k->model_name && !strchr(s, '/')) {
            int n_names;
            const FpModelName *names = fp_model_names(&n_names);
            char *joined = join_path(c->cf->dir, s);
            struct stat st;
            bool file = joined && stat(joined, &st) == 0;
            free(joined);
            for (int i = 0; i < n_names && !file; i++)
                if (!strcmp(s, names[i].name))
                    return copy_string(c, s, (const char **)field); /* resolved by the pipeline */
        }
        return set_path(c, s, s[0] != '/' && strcmp(s, "-") != 0, (const char **)field);
    case K_INT:
    case K_UINT: {
        long long v;
        if (parse_int(s, &v) < 0 || v < (long long)k->min || v > (long long)k->max)
            return fail_expect(c, n, where, k->expect);
        if (k->type == K_INT)
            *(int *)field = (int)v;
        else
            *(unsigned *)field = (unsigned)v;
        return 0;
    }
    case K_DOUBLE:
    case K_FLOAT: {
        double v;
        if (parse_double(s, &v) < 0 || v < k->min || (k->min_open && v == k->min) || v > k->max)
            return fail_expect(c, n, where, k->expect);
        if (k->type == K_DOUBLE)
            *(double *)field = v;
        else
            *(float *)field = (float)v;
        return 0;
    }
    case K_DUR_NS:
    case K_DUR_S: {
        double v;
        if (parse_duration(s, &v) < 0 || (k->min_open && v <= 0))
            return fail_expect(c, n, where, k->expect);
        if (k->type == K_DUR_S) {
            *(double *)field = v;
        } else {
            int64_t ns = (int64_t)llround(v * 1e9);
            if (k->min_open && ns <= 0)
                return fail_expect(c, n, where, k->expect);
            *(int64_t *)field = ns;
        }
        return 0;
    }
    case K_BOOL:
    case K_INTBOOL: {
        bool b;
        if (parse_bool(s, &b) < 0)
            return fail_expect(c, n, where, k->expect);
        if (k->type == K_BOOL)
            *(bool *)field = b;
        else
            *(int *)field = b;
        return 0;
    }
    case K_ENUM:
        for (const EnumName *e = k->names; e->name; e++) {
            if (!strcasecmp(s, e->name)) {
                memcpy(field, &e->value, sizeof(int));
                return 0;
            }
        }
        return fail_expect(c, n, where, k->expect);
    case K_FAMILY: {
        FpFamily fam = FP_FAMILY_UNKNOWN;
        if (strcasecmp(s, "auto") != 0 && fp_family_parse(s, &fam) < 0)
            return fail_expect(c, n, where, k->expect);
        *(FpFamily *)field = fam;
        return 0;
    }
    case K_HTTP:
        if (check_http(s) < 0)
            return fail_expect(c, n, where, k->expect);
        return copy_string(c, s, (const char **)field);
    case K_CLASS: {
        FpRuleSection *r = base;
        long long v;
        if (parse_int(s, &v) == 0) {
            if (v < -1 || v > 1000000)
                return fail_expect(c, n, where, k->expect);
            r->rule.class_id = (int)v;
            r->class_name = NULL;
            return 0;
        }
        if (!s[0])
            return fail_expect(c, n, where, k->expect);
        return copy_string(c, s, &r->class_name);
    }
    case K_ROI:
    case K_INPUT:
    case K_ZONES:
    case K_POINTS:
    case K_LINE:
    case K_SECTION:
        break;
    }
    return fp_error(FP_EINTERNAL, "config: key type %d", (int)k->type);
}

/* Edit distance, for "did you mean"; small strings only. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return SIZE_MAX;
    size_t row[41];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t sub = diag + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            size_t best = up + 1 < row[j - 1] + 1 ? up + 1 : row[j - 1] + 1;
            row[j] = sub < best ? sub : best;
            diag = up;
        }
    }
    return row[lb];
}

static int fail_unknown_key(const Ctx *c, const yaml_node_t *key, const char *where, const KeyDef *defs,
                            size_t n)
{
    const char *name = (const char *)key->data.scalar.value;
    char known[360] = "", hint[96] = "";
    size_t used = 0, best = 3;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", defs[i].name);
        if (w > 0 && (size_t)w < sizeof(known) - used)
            used += (size_t)w;
        size_t d = distance(name, defs[i].name);
        if (d < best) {
            best = d;
            snprintf(hint, sizeof(hint), "did you mean '%s'? ", defs[i].name);
        }
    }
    char buf[80];
    return fail_at(c, key->start_mark, where, "unknown key %s (%sknown: %s)", describe(key, buf, sizeof(buf)),
                   hint, known);
}

/*
 * Reads the mapping `map` against `defs`, writing into `base`. vals[i] is
 * set to the value node of defs[i] when present (null values included);
 * required keys must be present and not null. A null `map` reads as empty.
 */
static int read_mapping(const Ctx *c, const yaml_node_t *map, const char *where, const KeyDef *defs, size_t n,
                        void *base, const yaml_node_t **vals)
{
    for (size_t i = 0; i < n; i++)
        vals[i] = NULL;
    if (map->type != YAML_MAPPING_NODE && !is_null(map))
        return fail_expect(c, map, where, "a mapping");
    if (map->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
            const yaml_node_t *key = node(c, p->key), *val = node(c, p->value);
            if (key->type != YAML_SCALAR_NODE)
                return fail_at(c, key->start_mark, where, "a key must be a plain name, got %s",
                               key->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
            const char *kname = (const char *)key->data.scalar.value;
            size_t i = 0;
            while (i < n && strcmp(defs[i].name, kname) != 0)
                i++;
            if (i == n)
                return fail_unknown_key(c, key, where, defs, n);
            if (vals[i])
                return fail_at(c, key->start_mark, where, "duplicate key '%s' (first at line %zu)", kname,
                               vals[i]->start_mark.line + 1);
            vals[i] = val;
            char w[128];
            if (snprintf(w, sizeof(w), "%s%s%s", where, where[0] ? "." : "", kname) >= (int)sizeof(w))
                w[sizeof(w) - 4] = w[sizeof(w) - 3] = w[sizeof(w) - 2] = '.'; /* a cut key path says so */
            if (is_null(val)) {
                if (defs[i].required)
                    return fail_expect(c, val, w, defs[i].expect ? defs[i].expect : "a value");
                continue;
            }
            if (base) {
                int rc = set_value(c, &defs[i], val, w, base);
                if (rc < 0)
                    return rc;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (defs[i].required && !vals[i])
            return fail_at(c, map->start_mark, where, "missing required key '%s'", defs[i].name);
    return 0;
}

static size_t key_index(const KeyDef *defs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i].name, name))
            return i;
    return n;
}

/*
 * A redis url (output.redis.url, redis.url) into cfg: host, port, socket from the url; password, username,
 * db and tls from it unless given as keys next to it (vals, by keys). Both url and host/port: an error.
 */
static int apply_redis_url(const Ctx *c, const KeyDef *keys, size_t n_keys, const yaml_node_t **vals,
                           const char *where, const char *url, FpRedisConfig *cfg)
{
    const yaml_node_t *u = vals[key_index(keys, n_keys, "url")];
    if (vals[key_index(keys, n_keys, "host")] || vals[key_index(keys, n_keys, "port")])
        return fail_at(c, u->start_mark, where, "give either url or host/port, not both");
    char *storage = NULL;
    FpRedisConfig parsed = *cfg;
    if (fp_redis_config_parse_url(&parsed, url, &storage) < 0) {
        free(storage);
        return fail_at(c, u->start_mark, where, "%s", fp_error_detail(FP_ECONFIG));
    }
    if (storage && !keep(c->cf, storage))
        return -ENOMEM;
    /* keys given next to the url win over it */
    if (!vals[key_index(keys, n_keys, "password")])
        cfg->password = parsed.password;
    if (!vals[key_index(keys, n_keys, "username")])
        cfg->username = parsed.username;
    if (!vals[key_index(keys, n_keys, "db")])
        cfg->db = parsed.db;
    if (!vals[key_index(keys, n_keys, "tls")])
        cfg->tls = parsed.tls;
    cfg->host = parsed.host;
    cfg->port = parsed.port;
    cfg->unix_socket = parsed.unix_socket;
    return 0;
}

/* output.redis, output.mqtt, output.webhook (sub: the output mapping's value nodes, by output_keys). */
static int read_net_outputs(const Ctx *c, const yaml_node_t **sub, FpOutputSection *out)
{
    const yaml_node_t *vals[MAX_KEYS];
    const yaml_node_t *n;
    int rc;
    if ((n = sub[key_index(output_keys, N_KEYS(output_keys), "redis")]) && !is_null(n)) {
        RedisSec r = {.net = out->redis, .cfg = out->redis_cfg};
        if ((rc = read_mapping(c, n, "output.redis", redis_keys, N_KEYS(redis_keys), &r, vals)) < 0)
            return rc;
        if (r.url && (rc = apply_redis_url(c, redis_keys, N_KEYS(redis_keys), vals, "output.redis.url", r.url,
                                           &r.cfg)) < 0)
            return rc;
        r.net.enabled = true;
        out->redis = r.net;
        out->redis_cfg = r.cfg;
    }
    if ((n = sub[key_index(output_keys, N_KEYS(output_keys), "mqtt")]) && !is_null(n)) {
        MqttSec m = {.net = out->mqtt, .cfg = out->mqtt_cfg};
        if ((rc = read_mapping(c, n, "output.mqtt", mqtt_keys, N_KEYS(mqtt_keys), &m, vals)) < 0)
            return rc;
        if (m.cfg.prefix && strpbrk(m.cfg.prefix, "+#"))
            return fail_expect(c, vals[key_index(mqtt_keys, N_KEYS(mqtt_keys), "prefix")], "output.mqtt.prefix",
                               "a topic prefix without + or #");
        m.net.enabled = true;
        out->mqtt = m.net;
        out->mqtt_cfg = m.cfg;
    }
    if ((n = sub[key_index(output_keys, N_KEYS(output_keys), "webhook")]) && !is_null(n)) {
        WebhookSec w = {.net = out->webhook, .cfg = out->webhook_cfg};
        if ((rc = read_mapping(c, n, "output.webhook", webhook_keys, N_KEYS(webhook_keys), &w, vals)) < 0)
            return rc;
        const yaml_node_t *u = vals[key_index(webhook_keys, N_KEYS(webhook_keys), "url")];
        if (strncmp(w.cfg.url, "http://", 7) != 0 && strncmp(w.cfg.url, "https://", 8) != 0)
            return fail_expect(c, u, "output.webhook.url", "an http:// or https:// URL");
        const yaml_node_t *h = vals[key_index(webhook_keys, N_KEYS(webhook_keys), "headers")];
        if (h && !is_null(h)) {
            if (h->type != YAML_MAPPING_NODE)
                return fail_expect(c, h, "output.webhook.headers", "a mapping of header names to values");
            for (yaml_node_pair_t *p = h->data.mapping.pairs.start; p < h->data.mapping.pairs.top; p++) {
                const yaml_node_t *k = node(c, p->key), *v = node(c, p->value);
                if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE)
                    return fail_expect(c, k->type != YAML_SCALAR_NODE ? k : v, "output.webhook.headers",
                                       "Name: value pairs of plain text");
                const char *name = (const char *)k->data.scalar.value, *val = (const char *)v->data.scalar.value;
                size_t nl = strlen(name);
                if (nl == 0 || strcspn(name, ": \t\r\n") != nl || strpbrk(val, "\r\n"))
                    return fail_at(c, k->start_mark, "output.webhook.headers",
                                   "a header name without ':', spaces or line breaks, and a one-line value");
                if (w.cfg.n_headers == FP_WEBHOOK_MAX_HEADERS)
                    return fail_at(c, k->start_mark, "output.webhook.headers", "at most %d headers",
                                   FP_WEBHOOK_MAX_HEADERS);
                char *line = NULL;
                if (asprintf(&line, "%s: %s", name, val) < 0 || !keep(c->cf, line))
                    return -ENOMEM;
                w.cfg.headers[w.cfg.n_headers++] = line;
            }
        }
        w.net.enabled = true;
        out->webhook = w.net;
        out->webhook_cfg = w.cfg;
    }
    return 0;
}

static int read_camera(const Ctx *c, const yaml_node_t *map, int index, FpCameraConfig *cam)
{
    char where[32];
    snprintf(where, sizeof(where), "cameras[%d]", index);
    const yaml_node_t *vals[MAX_KEYS];
    int rc = read_mapping(c, map, where, camera_keys, N_KEYS(camera_keys), cam, vals);
    if (rc < 0)
        return rc;
    FpSourceConfig *s = &cam->source;
    s->name = cam->name;
    s->camera = index;
#define VAL(key) vals[key_index(camera_keys, N_KEYS(camera_keys), key)]
    char w[64];
    if (s->stop_s > 0 && s->stop_s <= s->start_s) {
        snprintf(w, sizeof(w), "%s.stop", where);
        return fail_at(c, VAL("stop")->start_mark, w, "stop (%gs) must come after start (%gs)", s->stop_s,
                       s->start_s);
    }
    if (s->backoff_max_ns < s->backoff_min_ns) {
        const yaml_node_t *at = VAL("backoff_max") ? VAL("backoff_max") : VAL("backoff_min");
        snprintf(w, sizeof(w), "%s.%s", where, VAL("backoff_max") ? "backoff_max" : "backoff_min");
        return fail_at(c, at->start_mark, w, "backoff_max (%.3fs) is below backoff_min (%.3fs)",
                       (double)s->backoff_max_ns / 1e9, (double)s->backoff_min_ns / 1e9);
    }
    int raw = s->kind == FP_SOURCE_RAW ||
              (s->kind == FP_SOURCE_AUTO && (!strcmp(s->url, "-") || !strncasecmp(s->url, "fd:", 3)));
    if (raw && (!s->raw_width || !s->raw_height || s->raw_format == FP_PIX_NONE))
        return fail_at(c, map->start_mark, where,
                       "raw frames ('%s') need raw_width, raw_height and raw_format", s->url);
    if (s->kind == FP_SOURCE_RING && (strncmp(s->url, "ring:", 5) != 0 || !s->url[5])) {
        snprintf(w, sizeof(w), "%s.url", where);
        return fail_at(c, VAL("url")->start_mark, w, "a ring source's url is ring:NAME, got '%s'", s->url);
    }
#undef VAL
    return 0;
}

static int read_cameras(const Ctx *c, const yaml_node_t *seq, FpPipelineConfig *cfg)
{
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_expect(c, seq, "cameras", "a list of cameras");
    yaml_node_item_t *items = seq->data.sequence.items.start;
    int n = (int)(seq->data.sequence.items.top - items);
    if (n == 0)
        return fail_at(c, seq->start_mark, "cameras", "expected at least one camera, got an empty list");
    if (n > FP_PIPELINE_MAX_CAMERAS)
        return fail_at(c, node(c, items[FP_PIPELINE_MAX_CAMERAS])->start_mark, "cameras",
                       "too many cameras: %d (at most %d)", n, FP_PIPELINE_MAX_CAMERAS);
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = node(c, items[i]);
        int rc = read_camera(c, item, i, &cfg->cameras[i]);
        if (rc < 0)
            return rc;
        for (int j = 0; j < i; j++) {
            if (!strcmp(cfg->cameras[j].name, cfg->cameras[i].name)) {
                char w[32];
                snprintf(w, sizeof(w), "cameras[%d].name", i);
                const yaml_node_t *first = node(c, items[j]);
                const yaml_node_t *at = item;
                for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top; p++)
                    if (!strcmp((const char *)node(c, p->key)->data.scalar.value, "name"))
                        at = node(c, p->value);
                return fail_at(c, at->start_mark, w, "duplicate camera name '%s' (also cameras[%d], line %zu)",
                               cfg->cameras[i].name, j, first->start_mark.line + 1);
            }
        }
        cfg->n_cameras = i + 1;
    }
    return 0;
}

/*
 * A camera's `zones:` list. `normalized` absent: the zone is normalised when
 * every coordinate is within [0, 1] (a pixel zone that small would be
 * smaller than one pixel), else it is in source pixels.
 */
static int read_zones(const Ctx *c, const yaml_node_t *seq, const char *where, FpCameraConfig *cam)
{
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_expect(c, seq, where, "a list of zones (name, points, normalized)");
    yaml_node_item_t *items = seq->data.sequence.items.start;
    int n = (int)(seq->data.sequence.items.top - items);
    if (n > FP_RULES_MAX_ZONES)
        return fail_at(c, node(c, items[FP_RULES_MAX_ZONES])->start_mark, where, "too many zones: %d (at most %d)",
                       n, FP_RULES_MAX_ZONES);
    FpZoneConfig *zones = n ? calloc((size_t)n, sizeof(*zones)) : NULL;
    if (n && !keep(c->cf, (char *)zones))
        return fp_error(-ENOMEM, "%s: out of memory", c->name);
    cam->zones = zones;
    cam->n_zones = 0;
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = node(c, items[i]), *vals[MAX_KEYS];
        char w[128];
        snprintf(w, sizeof(w), "%s[%d]", where, i);
        FpZoneConfig *z = &zones[i];
        int rc = read_mapping(c, item, w, zone_keys, N_KEYS(zone_keys), z, vals);
        if (rc < 0)
            return rc;
        int in_unit = 1;
        for (int k = 0; k < z->n_points; k++)
            for (int d = 0; d < 2; d++)
                in_unit &= z->points[k][d] >= 0.f && z->points[k][d] <= 1.f;
        const yaml_node_t *norm = vals[key_index(zone_keys, N_KEYS(zone_keys), "normalized")];
        if (!norm || is_null(norm))
            z->normalized = in_unit;
        else if (z->normalized && !in_unit) {
            char wp[160];
            snprintf(wp, sizeof(wp), "%s.points", w);
            return fail_at(c, vals[key_index(zone_keys, N_KEYS(zone_keys), "points")]->start_mark, wp,
                           "a normalized zone's points must be within [0, 1]");
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(zones[j].name, z->name)) {
                char wn[160];
                snprintf(wn, sizeof(wn), "%s.name", w);
                return fail_at(c, vals[key_index(zone_keys, N_KEYS(zone_keys), "name")]->start_mark, wn,
                               "duplicate zone name '%s' (also %s[%d])", z->name, where, j);
            }
        }
        cam->n_zones = i + 1;
    }
    return 0;
}

static int camera_has_zone(const FpCameraConfig *cam, const char *zone)
{
    for (int i = 0; i < cam->n_zones; i++)
        if (!strcmp(cam->zones[i].name, zone))
            return 1;
    return 0;
}

static const yaml_node_t *mapping_value(const Ctx *c, const yaml_node_t *map, const char *key)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node(c, p->key);
        if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return node(c, p->value);
    }
    return NULL;
}

/* One rule: defaults of its kind, then its keys, then what its kind needs and what its camera has. */
static int read_rule(const Ctx *c, const yaml_node_t *map, int index, FpPipelineConfig *cfg)
{
    char where[32];
    snprintf(where, sizeof(where), "rules[%d]", index);
    FpRuleSection *r = &cfg->rules[index];
    memset(r, 0, sizeof(*r));
    const yaml_node_t *kind = mapping_value(c, map, "kind");
    FpRuleKind k = FP_RULE_ENTER;
    if (kind && kind->type == YAML_SCALAR_NODE)
        for (const EnumName *e = rule_kind_names; e->name; e++)
            if (!strcasecmp((const char *)kind->data.scalar.value, e->name))
                k = (FpRuleKind)e->value;
    fp_rule_config_init(&r->rule, k);
    const yaml_node_t *vals[MAX_KEYS];
    int rc = read_mapping(c, map, where, rule_keys, N_KEYS(rule_keys), r, vals);
    if (rc < 0)
        return rc;
#define VAL(key) vals[key_index(rule_keys, N_KEYS(rule_keys), key)]
#define HAS(key) (VAL(key) && !is_null(VAL(key)))
    char w[64];
    for (int j = 0; j < index; j++) {
        if (!strcmp(cfg->rules[j].rule.name, r->rule.name)) {
            snprintf(w, sizeof(w), "%s.name", where);
            return fail_at(c, VAL("name")->start_mark, w, "duplicate rule name '%s' (also rules[%d])", r->rule.name,
                           j);
        }
    }
    const FpCameraConfig *cam = NULL;
    if (r->camera && c->rules_only) {
        snprintf(w, sizeof(w), "%s.camera", where);
        return fail_at(c, VAL("camera")->start_mark, w, "a rules file applies every rule to every input: "
                                                      "remove 'camera'");
    }
    if (r->camera) {
        for (int i = 0; i < cfg->n_cameras && !cam; i++)
            if (!strcmp(cfg->cameras[i].name, r->camera))
                cam = &cfg->cameras[i];
        if (!cam) {
            snprintf(w, sizeof(w), "%s.camera", where);
            return fail_at(c, VAL("camera")->start_mark, w, "no camera is named '%s'", r->camera);
        }
    }
    int needs_zone = k == FP_RULE_ENTER || k == FP_RULE_LEAVE || k == FP_RULE_DWELL || k == FP_RULE_COUNT ||
                     k == FP_RULE_ABSENT;
    const char *kname = fp_rule_kind_name(k);
    if (needs_zone && !r->rule.zone)
        return fail_at(c, map->start_mark, where, "a %s rule needs 'zone'", kname);
    if (k == FP_RULE_LINE && r->rule.zone) {
        snprintf(w, sizeof(w), "%s.zone", where);
        return fail_at(c, VAL("zone")->start_mark, w, "a line rule takes no zone (it has 'line')");
    }
    if (r->rule.zone) {
        snprintf(w, sizeof(w), "%s.zone", where);
        for (int i = 0; i < cfg->n_cameras; i++) {
            const FpCameraConfig *ci = &cfg->cameras[i];
            if ((!cam || ci == cam) && !camera_has_zone(ci, r->rule.zone))
                return fail_at(c, VAL("zone")->start_mark, w, "camera '%s' has no zone '%s'%s", ci->name,
                               r->rule.zone, cam ? "" : " (a rule without 'camera' applies to every camera)");
        }
    }
    if (k == FP_RULE_COUNT && !HAS("threshold"))
        return fail_at(c, map->start_mark, where, "a count rule needs 'threshold' (and 'op': above or below)");
    if (k == FP_RULE_LINE) {
        if (!HAS("line"))
            return fail_at(c, map->start_mark, where, "a line rule needs 'line: [[x, y], [x, y]]'");
        if (!HAS("normalized")) {
            int in_unit = 1;
            for (int e = 0; e < 2; e++)
                for (int d = 0; d < 2; d++)
                    in_unit &= r->rule.line[e][d] >= 0.f && r->rule.line[e][d] <= 1.f;
            r->rule.line_normalized = in_unit;
        }
    }
    if (k == FP_RULE_SPEED && !HAS("speed"))
        return fail_at(c, map->start_mark, where, "a speed rule needs 'speed'");
    static const char *const only_for[][2] = {{"threshold", "count"}, {"op", "count"},         {"line", "line"},
                                              {"direction", "line"},  {"normalized", "line"},  {"speed", "speed"},
                                              {"from_velocity", "speed"}, {"ratio", "down"}};
    for (size_t i = 0; i < sizeof(only_for) / sizeof(only_for[0]); i++) {
        if (HAS(only_for[i][0]) && strcmp(only_for[i][1], kname) != 0) {
            snprintf(w, sizeof(w), "%s.%s", where, only_for[i][0]);
            return fail_at(c, VAL(only_for[i][0])->start_mark, w, "only a %s rule takes '%s' (this one is %s)",
                           only_for[i][1], only_for[i][0], kname);
        }
    }
#undef HAS
#undef VAL
    return 0;
}

static int read_rules(const Ctx *c, const yaml_node_t *seq, FpPipelineConfig *cfg)
{
    if (is_null(seq))
        return 0;
    if (seq->type != YAML_SEQUENCE_NODE)
        return fail_expect(c, seq, "rules", "a list of rules");
    yaml_node_item_t *items = seq->data.sequence.items.start;
    int n = (int)(seq->data.sequence.items.top - items);
    if (n > FP_PIPELINE_MAX_RULES)
        return fail_at(c, node(c, items[FP_PIPELINE_MAX_RULES])->start_mark, "rules", "too many rules: %d (at most %d)",
                       n, FP_PIPELINE_MAX_RULES);
    for (int i = 0; i < n; i++) {
        int rc = read_rule(c, node(c, items[i]), i, cfg);
        if (rc < 0)
            return rc;
        cfg->n_rules = i + 1;
    }
    return 0;
}

/* `tracker:`; `enabled` absent: on when there are rules (call after read_rules). */
static int read_tracker(const Ctx *c, const yaml_node_t *map, FpPipelineConfig *cfg)
{
    const yaml_node_t *vals[MAX_KEYS];
    FpTrackerSection *t = &cfg->tracker;
    t->enabled = cfg->n_rules > 0;
    if (!map)
        return 0;
    int rc = read_mapping(c, map, "tracker", tracker_keys, N_KEYS(tracker_keys), t, vals);
    if (rc < 0)
        return rc;
#define VAL(key) vals[key_index(tracker_keys, N_KEYS(tracker_keys), key)]
    if (!VAL("enabled") || is_null(VAL("enabled")))
        t->enabled = cfg->n_rules > 0;
    else if (!t->enabled && cfg->n_rules > 0)
        return fail_at(c, VAL("enabled")->start_mark, "tracker.enabled",
                       "the %d rule(s) need the tracker: remove 'enabled: false' or the rules", cfg->n_rules);
    if (t->tracker.low_threshold > t->tracker.high_threshold) {
        const yaml_node_t *at = VAL("low_threshold") ? VAL("low_threshold") : VAL("high_threshold");
        return fail_at(c, at->start_mark, VAL("low_threshold") ? "tracker.low_threshold" : "tracker.high_threshold",
                       "low_threshold (%g) is above high_threshold (%g)", t->tracker.low_threshold,
                       t->tracker.high_threshold);
    }
    if (t->present_n > t->present_m) {
        const yaml_node_t *at = VAL("present_n") ? VAL("present_n") : VAL("present_m");
        return fail_at(c, at->start_mark, VAL("present_n") ? "tracker.present_n" : "tracker.present_m",
                       "present_n (%d) is above present_m (%d)", t->present_n, t->present_m);
    }
#undef VAL
    return 0;
}

enum { RTOP_TRACKER, RTOP_ZONES, RTOP_RULES, RTOP_EVENTS };
static const KeyDef rules_top_keys[] = {
    {"tracker", K_STRING, 0, .expect = "a mapping"},
    {"zones", K_STRING, 0, .expect = "a list of zones"},
    {"rules", K_STRING, 0, .expect = "a list of rules"},
    {"events", K_PATH, offsetof(FpPipelineConfig, output.events), .allow_dash = true,
     .expect = "'-' (stdout) or a file path"},
};

/* A rules file: its zones go to a stand-in camera 0 (every input), its rules may not name a camera. */
static int read_rules_root(const Ctx *c, const yaml_node_t *root, FpPipelineConfig *cfg)
{
    const yaml_node_t *vals[MAX_KEYS];
    if (root->type != YAML_MAPPING_NODE)
        return fail_expect(c, root, "", "a mapping with tracker, zones, rules, events");
    int rc = read_mapping(c, root, "", rules_top_keys, N_KEYS(rules_top_keys), NULL, vals);
    if (rc < 0)
        return rc;
    cfg->n_cameras = 1;
    cfg->cameras[0].name = "(every input)";
    if (vals[RTOP_EVENTS] && !is_null(vals[RTOP_EVENTS]) &&
        (rc = set_value(c, &rules_top_keys[RTOP_EVENTS], vals[RTOP_EVENTS], "events", cfg)) < 0)
        return rc;
    if (vals[RTOP_ZONES] && !is_null(vals[RTOP_ZONES]) &&
        (rc = read_zones(c, vals[RTOP_ZONES], "zones", &cfg->cameras[0])) < 0)
        return rc;
    if (vals[RTOP_RULES] && (rc = read_rules(c, vals[RTOP_RULES], cfg)) < 0)
        return rc;
    return read_tracker(c, vals[RTOP_TRACKER], cfg);
}

/* The top-level `redis:` section (the distributed roles). */
static int read_dist(const Ctx *c, const yaml_node_t *n, FpDistSection *out)
{
    const yaml_node_t *vals[MAX_KEYS];
    DistSec r = {.d = *out};
    int rc = read_mapping(c, n, "redis", dist_keys, N_KEYS(dist_keys), &r, vals);
    if (rc < 0)
        return rc;
    if (r.url && (rc = apply_redis_url(c, dist_keys, N_KEYS(dist_keys), vals, "redis.url", r.url, &r.d.redis)) < 0)
        return rc;
    r.d.enabled = true;
    *out = r.d;
    return 0;
}

static int read_root(const Ctx *c, const yaml_node_t *root, FpPipelineConfig *cfg)
{
    if (c->rules_only)
        return read_rules_root(c, root, cfg);
    const yaml_node_t *vals[MAX_KEYS], *sub[MAX_KEYS];
    if (root->type != YAML_MAPPING_NODE)
        return fail_expect(c, root, "", "a mapping with cameras and model");
    int rc = read_mapping(c, root, "", top_keys, N_KEYS(top_keys), NULL, vals);
    if (rc < 0)
        return rc;
    /* model first: a missing model path reads better before camera details */
    if ((rc = read_mapping(c, vals[TOP_MODEL], "model", model_keys, N_KEYS(model_keys), &cfg->model, sub)) < 0)
        return rc;
    size_t in = key_index(model_keys, N_KEYS(model_keys), "input");
    size_t iw = key_index(model_keys, N_KEYS(model_keys), "input_width");
    size_t ih = key_index(model_keys, N_KEYS(model_keys), "input_height");
    if (sub[in] && !is_null(sub[in]) && (sub[iw] || sub[ih]))
        return fail_at(c, (sub[iw] ? sub[iw] : sub[ih])->start_mark,
                       sub[iw] ? "model.input_width" : "model.input_height",
                       "give either input: [w, h] or input_width/input_height, not both");
    if (vals[TOP_BATCH] &&
        (rc = read_mapping(c, vals[TOP_BATCH], "batch", batch_keys, N_KEYS(batch_keys), &cfg->batch, sub)) < 0)
        return rc;
    if (vals[TOP_OUTPUT] &&
        (rc = read_mapping(c, vals[TOP_OUTPUT], "output", output_keys, N_KEYS(output_keys), &cfg->output, sub)) < 0)
        return rc;
    if (vals[TOP_OUTPUT] && (rc = read_net_outputs(c, sub, &cfg->output)) < 0)
        return rc;
    if ((rc = read_cameras(c, vals[TOP_CAMERAS], cfg)) < 0)
        return rc;
    if (vals[TOP_RULES] && (rc = read_rules(c, vals[TOP_RULES], cfg)) < 0)
        return rc;
    if (vals[TOP_REDIS] && !is_null(vals[TOP_REDIS]) && (rc = read_dist(c, vals[TOP_REDIS], &cfg->dist)) < 0)
        return rc;
    return read_tracker(c, vals[TOP_TRACKER], cfg);
}

/* ---- the YAML passes ---- */

static void mark_of_offset(const char *text, size_t len, size_t offset, yaml_mark_t *m)
{
    m->line = 0, m->column = 0, m->index = offset;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n')
            m->line++, m->column = 0;
        else
            m->column++;
    }
}

static int syntax_error(const Ctx *c, const yaml_parser_t *p, const char *text, size_t len)
{
    yaml_mark_t m = p->problem_mark;
    if (p->error == YAML_READER_ERROR) {
        mark_of_offset(text, len, p->problem_offset, &m);
        return fail_at(c, m, "YAML", "%s (byte %zu)", p->problem ? p->problem : "unreadable text",
                       p->problem_offset);
    }
    if (p->error == YAML_MEMORY_ERROR)
        return fp_error(-ENOMEM, "%s: out of memory while parsing", c->name);
    if (p->context)
        return fail_at(c, m, "YAML syntax error", "%s (%s at line %zu)", p->problem ? p->problem : "error",
                       p->context, p->context_mark.line + 1);
    return fail_at(c, m, "YAML syntax error", "%s", p->problem ? p->problem : "error");
}

/*
 * Pass 1: syntax, anchors and aliases, tags, nesting, a single document.
 * The depth cap ends the scan of a hostile file early: libyaml's scanner
 * costs O(depth) per token, so unbounded nesting is quadratic.
 */
#define FP_CONFIG_MAX_DEPTH 64
static int scan_events(const Ctx *c, const char *text, size_t len)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0, docs = 0, depth = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = syntax_error(c, &p, text, len);
            break;
        }
        const yaml_char_t *anchor = NULL, *tag = NULL;
        if (ev.type == YAML_SCALAR_EVENT)
            anchor = ev.data.scalar.anchor, tag = ev.data.scalar.tag;
        else if (ev.type == YAML_SEQUENCE_START_EVENT)
            anchor = ev.data.sequence_start.anchor, tag = ev.data.sequence_start.tag, depth++;
        else if (ev.type == YAML_MAPPING_START_EVENT)
            anchor = ev.data.mapping_start.anchor, tag = ev.data.mapping_start.tag, depth++;
        else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
            depth--;
        if (depth > FP_CONFIG_MAX_DEPTH)
            rc = fail_at(c, ev.start_mark, "YAML", "nested deeper than %d levels (a config needs a few)",
                         FP_CONFIG_MAX_DEPTH);
        else if (tag && strcmp((const char *)tag, YAML_STR_TAG) != 0)
            rc = fail_at(c, ev.start_mark, "YAML", "tags (%s%s) are not supported: write the value without one",
                         !strncmp((const char *)tag, "tag:yaml.org,2002:", 18) ? "!!" : "",
                         !strncmp((const char *)tag, "tag:yaml.org,2002:", 18) ? (const char *)tag + 18
                                                                                : (const char *)tag);
        else if (ev.type == YAML_ALIAS_EVENT)
            rc = fail_at(c, ev.start_mark, "YAML", "aliases (*%s) are not supported: write the value out",
                         (const char *)ev.data.alias.anchor);
        else if (anchor)
            rc = fail_at(c, ev.start_mark, "YAML", "anchors (&%s) are not supported", (const char *)anchor);
        else if (ev.type == YAML_DOCUMENT_START_EVENT && ++docs > 1)
            rc = fail_at(c, ev.start_mark, "YAML", "more than one document (a config is one document)");
        int end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (rc < 0 || end)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static int parse_into(FpConfigFile *cf, const char *text, size_t len, const char *name, int rules_only)
{
    Ctx c = {.cf = cf, .name = name, .rules_only = rules_only};
    int rc = scan_events(&c, text, len);
    if (rc < 0)
        return rc;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        rc = syntax_error(&c, &p, text, len);
        yaml_parser_delete(&p);
        return rc;
    }
    c.doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        yaml_mark_t m = {0, 0, 0}; /* the whole file is at fault: its start */
        rc = fail_at(&c, m, "", "the config is empty (expected a mapping with cameras and model)");
    } else {
        rc = read_root(&c, root, &cf->cfg);
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

/* ---- public ---- */

void fp_pipeline_config_init(FpPipelineConfig *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    for (int i = 0; i < FP_PIPELINE_MAX_CAMERAS; i++) {
        fp_source_config_init(&cfg->cameras[i].source);
        cfg->cameras[i].source.camera = i;
    }
    cfg->model.family = FP_FAMILY_UNKNOWN;
    cfg->model.confidence = -1.0f;
    cfg->model.iou = -1.0f;
    cfg->model.max_detections = 0;
    cfg->model.threads = 0;
    cfg->model.provider = FP_PROVIDER_CPU;
    cfg->model.provider_fallback = false;
    cfg->model.workers = 1;
    cfg->batch.max_batch = 8;
    cfg->batch.max_wait_ns = 5 * 1000000LL;
    cfg->batch.per_camera = 1;
    cfg->batch.latency_budget_ns = 0;
    cfg->output.snapshots_max_mb = 256;
    FpNetOutputSection net = {.enabled = false, .frames = true, .events = true, .queue = 64};
    cfg->output.redis = cfg->output.mqtt = cfg->output.webhook = net;
    cfg->output.webhook.frames = false;
    fp_redis_config_init(&cfg->output.redis_cfg);
    fp_mqtt_config_init(&cfg->output.mqtt_cfg);
    fp_webhook_config_init(&cfg->output.webhook_cfg);
    fp_redis_config_init(&cfg->dist.redis);
    cfg->dist.frames = "framepipe:dist:frames";
    cfg->dist.results = "framepipe:dist:results";
    cfg->dist.dead_letter = "framepipe:dist:dead";
    cfg->dist.maxlen = 10000;
    cfg->dist.worker_group = "workers";
    cfg->dist.logic_group = "logic";
    cfg->dist.jpeg_quality = 85;
    cfg->dist.block_ns = 100 * 1000000LL;
    cfg->dist.claim_idle_ns = 5 * 1000000000LL;
    cfg->dist.reorder_wait_ns = 10 * 1000000000LL;
    cfg->dist.max_deliveries = 3;
    cfg->output.preview_fps = 10.0;
    cfg->output.preview_width = 640;
    cfg->tracker.enabled = false;
    fp_tracker_config_init(&cfg->tracker.tracker);
    FpRulesConfig rc;
    fp_rules_config_init(&rc);
    cfg->tracker.present_n = rc.present_n;
    cfg->tracker.present_m = rc.present_m;
    cfg->tracker.box_alpha = rc.box_alpha;
    cfg->tracker.anchor = rc.anchor;
}

void fp_config_destroy(FpConfigFile **cf)
{
    if (!cf || !*cf)
        return;
    for (size_t i = 0; i < (*cf)->n_strings; i++)
        free((*cf)->strings[i]);
    free((*cf)->strings);
    free((*cf)->dir);
    free(*cf);
    *cf = NULL;
}

static char *current_dir(void)
{
    return getcwd(NULL, 0);
}

static int create(FpConfigFile **out, const char *text, size_t len, const char *name, char *dir, int rules_only)
{
    FpConfigFile *cf = calloc(1, sizeof(*cf));
    if (!cf) {
        free(dir);
        return fp_error(-ENOMEM, "%s: out of memory", name);
    }
    cf->dir = dir;
    fp_pipeline_config_init(&cf->cfg);
    int rc = parse_into(cf, text, len, name, rules_only);
    if (rc < 0) {
        fp_config_destroy(&cf);
        return rc;
    }
    *out = cf;
    return 0;
}

int fp_config_parse(FpConfigFile **out, const char *text, size_t len, const char *name)
{
    if (!name)
        name = "<config>";
    if (!out || (!text && len))
        return fp_error(FP_EINVALID, "fp_config_parse: out and text are required");
    char *dir = current_dir();
    if (!dir)
        return fp_error(-ENOENT, "%s: cannot read the current directory to resolve paths", name);
    return create(out, text ? text : "", len, name, dir, 0);
}

/* The config file's directory, absolute. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return current_dir();
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *d = strndup(path, n);
    if (!d || d[0] == '/')
        return d;
    char *cwd = current_dir();
    char *abs = cwd ? join_path(cwd, d) : NULL;
    free(cwd);
    free(d);
    return abs;
}

static int load(FpConfigFile **out, const char *path, int rules_only)
{
    if (!out || !path || !path[0])
        return fp_error(FP_EINVALID, "fp_config_load: out and a path are required");
    FILE *f = fopen(path, "rb");
    if (!f)
        return fp_error(-errno, "%s: cannot open the config: %s", path, strerror(errno));
    struct stat sb;
    int st = fstat(fileno(f), &sb);
    if (st < 0 || !S_ISREG(sb.st_mode)) {
        int err = st < 0 ? errno : S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
        fclose(f);
        return fp_error(-err, "%s: cannot read the config: %s", path, strerror(err));
    }
    if (sb.st_size > 16 << 20) {
        fclose(f);
        return fp_error(FP_ECONFIG, "%s: the config is too large (%lld bytes; at most 16 MiB)", path,
                        (long long)sb.st_size);
    }
    size_t size = (size_t)sb.st_size;
    char *text = malloc(size + 1);
    if (!text) {
        fclose(f);
        return fp_error(-ENOMEM, "%s: out of memory", path);
    }
    size_t got = fread(text, 1, size, f);
    int read_err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (read_err) {
        free(text);
        return fp_error(-read_err, "%s: cannot read the config: %s", path, strerror(read_err));
    }
    char *dir = dir_of(path);
    if (!dir) {
        free(text);
        return fp_error(-ENOMEM, "%s: cannot resolve the config's directory", path);
    }
    int rc = create(out, text, got, path, dir, rules_only);
    free(text);
    return rc;
}

int fp_config_load(FpConfigFile **out, const char *path)
{
    return load(out, path, 0);
}

int fp_config_load_rules(FpConfigFile **out, const char *path)
{
    return load(out, path, 1);
}

const FpPipelineConfig *fp_config_get(const FpConfigFile *cf)
{
    return cf ? &cf->cfg : NULL;
}

const char *fp_config_dir(const FpConfigFile *cf)
{
    return cf ? cf->dir : NULL;
}
