// SPDX-License-Identifier: MIT
// FpPipelineConfig (what a pipeline runs: cameras, model, batch, outputs), its defaults, and the YAML loader of `framepipe run` (docs/config.md).
#ifndef FRAMEPIPE_CONFIG_H
#define FRAMEPIPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "framepipe/deliver.h"
#include "framepipe/family.h"
#include "framepipe/model.h"
#include "framepipe/rules.h"
#include "framepipe/source.h"
#include "framepipe/track.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Configuration. Plain value types; the strings are owned by whoever fills
 * the struct (the YAML loader keeps them in storage it owns;
 * fp_pipeline_create copies what it keeps). Every field has a default from
 * fp_pipeline_config_init; the YAML keys are the field names (docs/config.md).
 */
#define FP_PIPELINE_MAX_CAMERAS 64

typedef struct FpCameraConfig {
    const char *name;         /* required, unique: "cam0" */
    FpSourceConfig source;    /* url, policy, fps, every_nth, loop, timeouts, hw, rtsp transport, ... */
    int roi_x, roi_y, roi_w, roi_h; /* region of interest in source pixels; roi_w == 0: whole frame */
    int64_t latency_budget_ns; /* > 0: a frame of this camera this old forces its batch out
                                  (overrides batch.latency_budget for this camera) */
    const FpZoneConfig *zones; /* this camera's zones (YAML `zones:`), n_zones of them (0..FP_RULES_MAX_ZONES);
                                  owned like the strings (a pointer, not an array: 64 cameras x 64 zones
                                  would make this struct 1.1 MB) */
    int n_zones;
    float meters_per_pixel;   /* > 0: speed rules of this camera in m/s; 0: pixels/s (default) */
} FpCameraConfig;

typedef struct FpModelSection {
    const char *path;         /* required: ONNX file */
    FpFamily family;          /* FP_FAMILY_UNKNOWN (YAML "auto", the default): from the outputs; else it must
                                 agree with them (yolov8 and yolov8-raw accept either YOLOv8 head) */
    int input_width, input_height; /* 0: from the model */
    const char *labels;       /* NULL: class names from metadata; else a labels file */
    float confidence;         /* < 0: the family's default */
    float iou;                /* < 0: the family's default */
    int max_detections;       /* 0: the family's default */
    int threads;              /* ORT intra-op threads per worker (0: default) */
    FpProvider provider;      /* FP_PROVIDER_CPU (default), CUDA, TENSORRT */
    bool provider_fallback;   /* use the CPU with a warning when the provider is missing */
    int workers;              /* inference workers, each with its own session (default 1) */
} FpModelSection;

typedef struct FpBatchSection {
    int max_batch;             /* default 8 */
    int64_t max_wait_ns;       /* emit a partial batch this long after its first frame (default 5 ms) */
    int per_camera;            /* at most this many frames of one camera per batch (default 1) */
    int64_t latency_budget_ns; /* > 0: a frame older than this forces an early batch */
} FpBatchSection;

/* What every network output (output.redis, output.mqtt, output.webhook) shares. */
typedef struct FpNetOutputSection {
    bool enabled;             /* the section is present */
    bool frames, events;      /* forward per-frame results / events (defaults: true, true; webhook: false, true) */
    int queue;                /* frames waiting in memory (default 64; the oldest is dropped beyond it) */
} FpNetOutputSection;

typedef struct FpOutputSection {
    const char *jsonl;        /* NULL: none; "-": stdout; else a file path */
    const char *annotate;     /* NULL: none; "*.mp4": an annotated video per camera; "dir/": PNG frames */
    const char *http;         /* NULL: off; "127.0.0.1:8080" */
    const char *events;       /* NULL: none; "-": stdout; else a file path: events as JSON lines (docs/events.md) */
    const char *snapshots;    /* NULL: none; else a folder: a JPEG of the frame of every event, box drawn */
    int snapshots_max_mb;     /* the snapshot folder's cap in MiB, oldest removed first (default 256) */
    /* network outputs (docs/outputs.md): each on its own thread, events spooled while it is down */
    const char *spool;        /* folder of their spools; NULL: $XDG_STATE_HOME/framepipe/spool (~/.local/state/...) */
    FpNetOutputSection redis, mqtt, webhook;
    FpRedisConfig redis_cfg;     /* output.redis: url or host/port/password/db, streams, maxlen, timeout */
    FpMqttConfig mqtt_cfg;       /* output.mqtt */
    FpWebhookConfig webhook_cfg; /* output.webhook (frames off by default) */
    double preview_fps;       /* the web view's live picture: frames per second per watched camera (default 10) */
    int preview_width;        /* ... its width in pixels (default 640; the height keeps the aspect) */
    const char *http_token;   /* NULL: none; else every HTTP request but /healthz needs it (docs/webview.md) */
} FpOutputSection;

/* YAML `tracker:`: one FpTracker per camera, plus the rules engines' smoothing (docs/events.md). */
typedef struct FpTrackerSection {
    bool enabled;             /* track (FpFrameResult.track_ids); the pipeline also tracks when rules exist */
    FpTrackerConfig tracker;  /* fp_tracker_config_init's defaults */
    int present_n, present_m; /* presence debounce of the rules (default 3 of 5) */
    float box_alpha;          /* EMA of the rules' box (default 0: off) */
    FpTrackAnchor anchor;     /* default bottom-center */
} FpTrackerSection;

/* One entry of the YAML `rules:` list. */
typedef struct FpRuleSection {
    FpRuleConfig rule;        /* name, kind, zone, class_id, durations, ...; strings owned as above */
    const char *camera;       /* NULL: the rule applies to every camera */
    const char *class_name;   /* not NULL: resolved against the model's labels by fp_pipeline_create
                                 (rule.class_id is then ignored); NULL: rule.class_id as given */
} FpRuleSection;

#define FP_PIPELINE_MAX_RULES FP_RULES_MAX_RULES

/* YAML `redis:`: the distributed roles' broker and streams (framepipe camera|worker|logic, docs/distributed.md). */
typedef struct FpDistSection {
    bool enabled;             /* the section is present (the roles refuse to start without it) */
    FpRedisConfig redis;      /* url or host/port/unix_socket/username/password/db, timeout */
    const char *frames;       /* frame stream (default "framepipe:dist:frames") */
    const char *results;      /* result stream (default "framepipe:dist:results") */
    const char *dead_letter;  /* poison messages with their reason (default "framepipe:dist:dead") */
    int maxlen;               /* XADD MAXLEN ~ of every stream (default 10000) */
    const char *worker_group; /* consumer group of the workers on `frames` (default "workers") */
    const char *logic_group;  /* consumer group of the logic role on `results` (default "logic") */
    const char *consumer;     /* this process' consumer name; NULL: "<host>-<pid>" */
    int encoding;             /* FpDistEncoding: 0 jpeg (default), 1 raw */
    int jpeg_quality;         /* 1..100 (default 85) */
    int64_t block_ns;         /* XREADGROUP BLOCK (default 100 ms) */
    int64_t claim_idle_ns;    /* XAUTOCLAIM entries pending this long in a dead consumer (default 5 s) */
    int64_t max_age_ns;       /* worker: frames captured longer ago are acked and counted late (0: off, default) */
    int64_t reorder_wait_ns;  /* logic: how long a missing sequence number holds back later results (default 10 s) */
    int max_deliveries;       /* worker: a frame whose batch's model run failed this many deliveries is dead-lettered (default 3) */
} FpDistSection;

typedef struct FpPipelineConfig {
    FpCameraConfig cameras[FP_PIPELINE_MAX_CAMERAS];
    int n_cameras;
    FpModelSection model;
    FpBatchSection batch;
    FpOutputSection output;
    FpTrackerSection tracker;
    FpRuleSection rules[FP_PIPELINE_MAX_RULES];
    int n_rules;
    FpDistSection dist;       /* YAML `redis:` (the roles only; `framepipe run` ignores it) */
} FpPipelineConfig;

/* Fills every default; n_cameras = 0, model.path = NULL. */
void fp_pipeline_config_init(FpPipelineConfig *cfg);

/*
 * A loaded config: the FpPipelineConfig and every string it points to
 * (names, URLs, resolved paths). Immutable once loaded, so any number of
 * threads may read it; the caller may copy the FpPipelineConfig struct and
 * change fields of the copy, but the copy's strings stay owned by the
 * FpConfigFile and die with it.
 *
 * Every key is checked (unknown keys are rejected); every problem yields
 * FP_ECONFIG and a message "FILE:LINE:COL: where: what", for example
 * "cams.yaml:7:5: cameras[1].fps: expected a number > 0, got 'fast'",
 * read with fp_error_detail(FP_ECONFIG).
 */
typedef struct FpConfigFile FpConfigFile;

/*
 * Reads and validates the YAML file at `path`. Relative paths inside it
 * (model.path, model.labels, camera urls that are plain file paths,
 * output.jsonl, output.annotate) are made absolute against the directory of
 * the config file. Messages name `path` as given. Returns 0 and *out (the
 * caller owns it: fp_config_destroy), FP_ECONFIG (message as above),
 * -errno when the file cannot be read (message names the path: -ENOENT,
 * -EACCES, -EISDIR), -ENOMEM. On failure *out is untouched. Any thread.
 */
int fp_config_load(FpConfigFile **out, const char *path);

/*
 * Same as fp_config_load for `len` bytes of YAML at `text` (need not be
 * NUL-terminated; borrowed for the call only). `name` (may be NULL:
 * "<config>") stands for the file in messages. Relative paths are made
 * absolute against the current directory, read once here. Returns 0 and
 * *out (the caller owns it: fp_config_destroy), FP_ECONFIG (message as
 * above; also for empty text), FP_EINVALID (NULL out, or NULL text with
 * len > 0), -ENOENT (the current directory cannot be read), -ENOMEM. On
 * failure *out is untouched and nothing stays allocated. Any thread, but
 * not while another thread changes the current directory.
 */
int fp_config_parse(FpConfigFile **out, const char *text, size_t len, const char *name);

/*
 * Reads a rules file (`framepipe detect --rules`): a YAML mapping with only
 * the keys `tracker`, `zones` (one list, for every input), `rules` (as in a
 * config; `camera` is rejected: each rule applies to every input) and
 * `events` (a path, "-" for stdout, relative to the file's directory).
 * Into the FpPipelineConfig of fp_config_get: tracker, rules, n_rules,
 * output.events, and a stand-in cameras[0] (n_cameras 1, named
 * "(every input)") whose zones/n_zones are the file's zones; everything
 * else keeps its defaults. Same validation, messages and return codes as
 * fp_config_load; *out untouched on failure. Any thread.
 */
int fp_config_load_rules(FpConfigFile **out, const char *path);

/* The loaded config; owned by `cf`, valid until fp_config_destroy. Never NULL for a loaded file. */
const FpPipelineConfig *fp_config_get(const FpConfigFile *cf);

/* The directory relative paths were resolved against (absolute); owned by `cf`. */
const char *fp_config_dir(const FpConfigFile *cf);

/*
 * Frees the config and every string it owns; sets *cf to NULL. NULL or
 * *cf == NULL is a no-op. What fp_config_get and fp_config_dir returned, and
 * the strings of any copy of the FpPipelineConfig, die with it. Any thread,
 * once no other thread reads the config.
 */
void fp_config_destroy(FpConfigFile **cf);

#ifdef __cplusplus
}
#endif
#endif
