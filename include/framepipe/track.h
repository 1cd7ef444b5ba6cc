// SPDX-License-Identifier: MIT
// FpTracker: stable track ids per object per camera (ByteTrack-style association over a Kalman motion model).
#ifndef FRAMEPIPE_TRACK_H
#define FRAMEPIPE_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "framepipe/detect.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * One tracker per camera. Each update takes the frame's detections (source
 * pixels) and its timestamp; tracks are matched in two stages (detections
 * scoring >= high_threshold first, then those in [low_threshold,
 * high_threshold) against the tracks left unmatched), by IoU against each
 * track's predicted box (constant-velocity Kalman filter on centre x, centre
 * y, aspect w/h, height). A track is born tentative from an unmatched
 * high-score detection, confirmed after `min_hits` matches, and removed when
 * it has not been matched for `max_age_ns` of stream time (time, not frames:
 * frames a `latest` queue skipped do not age a track faster).
 */

/*
 * Most detections one update looks at (those scoring >= low_threshold with a
 * finite, non-empty box). Beyond it the best-scoring ones are kept and the
 * rest are ignored and counted (fp_tracker_ignored): the buffers of the
 * assignment are allocated for this many at create.
 */
#define FP_TRACKER_MAX_DETECTIONS 1024

typedef struct FpTrackerConfig {
    float high_threshold;     /* first-stage detections (default 0.5) */
    float low_threshold;      /* second-stage floor; lower scores are ignored (default 0.1) */
    float new_track_threshold;/* an unmatched detection at least this good starts a track (default 0.6) */
    float match_iou;          /* first stage: least IoU with the predicted box to match (default 0.2) */
    float low_match_iou;      /* second stage (default 0.5) */
    int min_hits;             /* matches before a track is confirmed (default 3) */
    int64_t max_age_ns;       /* unmatched this long: removed (default 1 s) */
    bool per_class;           /* match only detections of the track's class (default true) */
    int max_tracks;           /* capacity, allocated at create (default 1024) */
} FpTrackerConfig;

typedef enum FpTrackState {
    FP_TRACK_TENTATIVE = 0, /* fewer than min_hits matches so far */
    FP_TRACK_CONFIRMED,     /* matched in this update */
    FP_TRACK_LOST,          /* confirmed, not matched in this update, not yet max_age old */
} FpTrackState;

/* A track as of the last update. Plain value type. */
typedef struct FpTrack {
    uint64_t id;           /* stable, unique per tracker, from 1; 0 never names a track */
    int class_id;
    FpTrackState state;
    float score;           /* score of the last matched detection */
    FpBox box;             /* the filtered box (Kalman state), source pixels */
    FpBox det_box;         /* the last matched detection's box */
    float vx, vy;          /* centre velocity, source pixels per second */
    int n_keypoints;       /* of the last matched detection */
    float keypoints[FP_MAX_KEYPOINTS][2];
    int64_t first_ns;      /* stream time of the first and the last match */
    int64_t last_ns;
    int hits;              /* matches so far */
    int det_index;         /* index of the detection matched in this update, -1 when none */
} FpTrack;

typedef struct FpTracker FpTracker;

/* Fills *cfg with the defaults above. Any thread. */
void fp_tracker_config_init(FpTrackerConfig *cfg);

/*
 * Creates a tracker; every buffer is allocated here for cfg->max_tracks
 * tracks (cfg NULL: defaults; copied), so updates allocate nothing.
 * Returns 0, FP_EINVALID (a threshold outside [0, 1], low > high,
 * min_hits < 1, max_age_ns <= 0, max_tracks outside [1, 2^24]: message names
 * the field) or -ENOMEM; *out untouched on failure.
 */
int fp_tracker_create(FpTracker **out, const FpTrackerConfig *cfg);

/* Frees the tracker; sets *t to NULL. NULL or *t == NULL: no-op. */
void fp_tracker_destroy(FpTracker **t);

/*
 * Advances the tracker to stream time t_ns (non-decreasing; an earlier time
 * is FP_EINVALID and changes nothing) with the n detections of that frame.
 * When track_ids is not NULL, track_ids[i] receives the id of the track
 * detection i was matched to or started (0: none, e.g. a low score with no
 * track, one beyond FP_TRACKER_MAX_DETECTIONS, a non-finite or empty box:
 * those are ignored). Returns the number of tracks after the update (see
 * fp_tracker_tracks), or FP_EINVALID (t NULL, n < 0, dets NULL with n > 0,
 * time going back: nothing changed). When the tracker is full, detections
 * that would start a track are left without one (counted in
 * fp_tracker_dropped). No allocation. One thread at a time per tracker.
 */
int fp_tracker_update(FpTracker *t, const FpDetection *dets, int n, int64_t t_ns, uint64_t *track_ids);

/*
 * The tracks after the last update (tentative, confirmed and lost), in no
 * particular order, valid until the next update or destroy; *out is set to
 * the array, the return is the count. Owned by the tracker.
 */
int fp_tracker_tracks(const FpTracker *t, const FpTrack **out);

/* Detections that found the tracker full since create. The thread that calls fp_tracker_update. */
uint64_t fp_tracker_dropped(const FpTracker *t);

/*
 * Detections ignored since create because an update had more than
 * FP_TRACKER_MAX_DETECTIONS usable ones (the lowest-scoring). The thread
 * that calls fp_tracker_update.
 */
uint64_t fp_tracker_ignored(const FpTracker *t);

#ifdef __cplusplus
}
#endif
#endif
