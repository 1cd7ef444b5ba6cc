#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# ByteTrack-style reference tracker for bench_track.c: numpy Kalman filter (ByteTrack's KalmanFilter) and scipy's linear_sum_assignment, timed per frame.
"""usage: bytetrack_ref.py SEQ_FILE [REPS] [WARMUP]

Reads the detections bench_track.c wrote (int32 frames, int32 max_n, int32
count[frames], float32 rows[frames][max_n][6]: x1 y1 x2 y2 score truth),
runs the tracker REPS times and prints one line:
    median_us min_us max_us id_switches truth_dets_without_id
The algorithm is the one FpTracker implements (docs/events.md), written the
way ByteTrack's Python code is (yolox/tracker/byte_tracker.py,
kalman_filter.py, matching.py): STrack objects, a vectorised multi_predict,
a per-track Kalman update with a Cholesky solve, an IoU matrix per stage and
an optimal assignment (scipy.optimize.linear_sum_assignment instead of
lap.lapjv; pairs costing more than the threshold are discarded).
 - stage 1: detections scoring >= 0.5 against every track, IoU >= 0.2;
 - stage 2: detections in [0.1, 0.5) against confirmed tracks left, IoU >= 0.5;
 - a tentative track unmatched is removed; unmatched detections >= 0.6 start
   tracks; 3 matches confirm; 30 frames (1 s at 30 fps) unmatched remove.
"""
import sys
import time

import numpy as np
import scipy.linalg
from scipy.optimize import linear_sum_assignment

STD_POS = 1.0 / 20
STD_VEL = 1.0 / 160
MAX_AGE = 30  # frames: 1 s at 30 fps (unmatched for more than 30 frame intervals: removed)
HIGH, LOW, NEW, IOU1, IOU2, MIN_HITS = 0.5, 0.1, 0.6, 0.2, 0.5, 3

_F = np.eye(8)
for _i in range(4):
    _F[_i, 4 + _i] = 1.0
_H = np.eye(4, 8)


def kf_initiate(z):
    mean = np.r_[z, np.zeros(4)]
    h = z[3]
    std = [2 * STD_POS * h, 2 * STD_POS * h, 1e-2, 2 * STD_POS * h,
           10 * STD_VEL * h, 10 * STD_VEL * h, 1e-5, 10 * STD_VEL * h]
    return mean, np.diag(np.square(std))


def kf_multi_predict(mean, cov):
    h = mean[:, 3]
    std = np.stack([STD_POS * h, STD_POS * h, 1e-2 * np.ones_like(h), STD_POS * h,
                    STD_VEL * h, STD_VEL * h, 1e-5 * np.ones_like(h), STD_VEL * h], axis=1)
    motion = np.zeros((len(mean), 8, 8))
    idx = np.arange(8)
    motion[:, idx, idx] = np.square(std)
    mean = mean @ _F.T
    cov = np.einsum("ij,njk,lk->nil", _F, cov, _F) + motion
    return mean, cov


def kf_update(mean, cov, z):
    h = mean[3]
    r = np.diag(np.square([STD_POS * h, STD_POS * h, 1e-1, STD_POS * h]))
    proj_mean = _H @ mean
    proj_cov = _H @ cov @ _H.T + r
    chol = scipy.linalg.cho_factor(proj_cov, lower=True, check_finite=False)
    gain = scipy.linalg.cho_solve(chol, (cov @ _H.T).T, check_finite=False).T
    mean = mean + (z - proj_mean) @ gain.T
    cov = cov - gain @ proj_cov @ gain.T
    return mean, cov


def to_xyah(b):
    w, h = b[2] - b[0], b[3] - b[1]
    return np.array([b[0] + w / 2, b[1] + h / 2, w / h, h])


def to_tlbr(m):
    w, h = m[2] * m[3], m[3]
    return np.array([m[0] - w / 2, m[1] - h / 2, m[0] + w / 2, m[1] + h / 2])


class STrack:
    __slots__ = ("id", "mean", "cov", "hits", "confirmed", "last_frame")

    def __init__(self, tid, box, frame):
        self.id = tid
        self.mean, self.cov = kf_initiate(to_xyah(box))
        self.hits = 1
        self.confirmed = MIN_HITS <= 1
        self.last_frame = frame


def iou_matrix(a, b):
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    ix1 = np.maximum(a[:, None, 0], b[None, :, 0])
    iy1 = np.maximum(a[:, None, 1], b[None, :, 1])
    ix2 = np.minimum(a[:, None, 2], b[None, :, 2])
    iy2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def linear_assignment(cost, thresh):
    if cost.size == 0:
        return []
    c = np.where(cost > thresh, thresh + 1e-4, cost)
    rows, cols = linear_sum_assignment(c)
    return [(r, k) for r, k in zip(rows, cols) if cost[r, k] <= thresh]


class ByteTrackRef:
    def __init__(self):
        self.tracks = []
        self.next_id = 1
        self.frame = 0

    def update(self, boxes, scores):
        """boxes (n, 4) tlbr, scores (n,): returns the id per detection (0: none)."""
        self.frame += 1
        ids = np.zeros(len(boxes), dtype=np.int64)
        self.tracks = [t for t in self.tracks if self.frame - t.last_frame <= MAX_AGE]
        tracks = self.tracks
        for t in tracks:
            if t.confirmed and t.last_frame < self.frame - 1:  # lost: ByteTrack zeroes the height velocity
                t.mean[7] = 0.0
        if tracks:
            mean, cov = kf_multi_predict(np.array([t.mean for t in tracks]), np.array([t.cov for t in tracks]))
            for t, m, c in zip(tracks, mean, cov):
                t.mean, t.cov = m, c
        pred = np.array([to_tlbr(t.mean) for t in tracks]).reshape(-1, 4)
        high = np.flatnonzero(scores >= HIGH)
        low = np.flatnonzero((scores >= LOW) & (scores < HIGH))
        matched_t = np.zeros(len(tracks), dtype=bool)
        matched_d = np.zeros(len(boxes), dtype=bool)

        def apply(pairs, track_idx, det_idx):
            for r, k in pairs:
                ti, di = track_idx[r], det_idx[k]
                t = tracks[ti]
                t.mean, t.cov = kf_update(t.mean, t.cov, to_xyah(boxes[di]))
                t.hits += 1
                t.confirmed = t.confirmed or t.hits >= MIN_HITS
                t.last_frame = self.frame
                matched_t[ti] = matched_d[di] = True
                ids[di] = t.id

        all_t = np.arange(len(tracks))
        apply(linear_assignment(1 - iou_matrix(pred, boxes[high]), 1 - IOU1), all_t, high)
        left = np.array([i for i in all_t if not matched_t[i] and tracks[i].confirmed], dtype=np.int64)
        apply(linear_assignment(1 - iou_matrix(pred[left], boxes[low]), 1 - IOU2), left, low)
        self.tracks = [t for i, t in enumerate(tracks) if matched_t[i] or t.confirmed]
        for di in np.flatnonzero(~matched_d & (scores >= NEW)):
            t = STrack(self.next_id, boxes[di], self.frame)
            self.next_id += 1
            self.tracks.append(t)
            ids[di] = t.id
        return ids


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    raw = open(sys.argv[1], "rb").read()
    frames, max_n = np.frombuffer(raw, np.int32, 2)
    count = np.frombuffer(raw, np.int32, frames, 8)
    rows = np.frombuffer(raw, np.float32, frames * max_n * 6, 8 + 4 * frames).reshape(frames, max_n, 6)
    rows = rows.astype(np.float64)
    times = []
    for _ in range(reps):
        tr = ByteTrackRef()
        last = {}
        idsw = no_id = 0
        for f in range(frames):
            r = rows[f, :count[f]]
            boxes, scores, truth = r[:, :4].copy(), r[:, 4].copy(), r[:, 5].astype(np.int64)
            t0 = time.perf_counter()
            ids = tr.update(boxes, scores)
            t1 = time.perf_counter()
            if f >= warmup:
                times.append((t1 - t0) * 1e6)
            for obj, i in zip(truth, ids):
                if obj < 0:
                    continue
                if i == 0:
                    no_id += 1
                    continue
                if last.get(obj, i) != i:
                    idsw += 1
                last[obj] = i
    times.sort()
    print(f"{times[len(times) // 2]:.1f} {times[0]:.1f} {times[-1]:.1f} {idsw} {no_id}")


if __name__ == "__main__":
    main()
