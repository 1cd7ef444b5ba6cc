#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Independent reference for the raw YOLOv8 head: numpy DFL decode (Ultralytics' DFL + dist2bbox + make_anchors) of a float32 file.
"""usage: yolo_raw_ref.py TENSOR.f32 CHANNELS N REG_MAX INPUT CONF

Reads one slot [CHANNELS, N] of float32, decodes every anchor whose best
class probability > CONF, and prints "score class x1 y1 x2 y2" lines sorted
by descending score (ties: anchor order), boxes in input pixels.
"""
import sys

import numpy as np


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    path, ch, n, reg_max, size, conf = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), \
        int(sys.argv[5]), float(sys.argv[6])
    x = np.fromfile(path, dtype=np.float32).astype(np.float64).reshape(ch, n)
    # anchors: cell centres of the stride 8, 16, 32 grids, row-major, finest first
    pts, strides = [], []
    for s in (8, 16, 32):
        g = -(-size // s)
        ys, xs = np.meshgrid(np.arange(g) + 0.5, np.arange(g) + 0.5, indexing="ij")
        pts.append(np.stack([xs.ravel(), ys.ravel()], 1))
        strides.append(np.full(g * g, float(s)))
    pts, strides = np.concatenate(pts), np.concatenate(strides)
    assert len(pts) == n, (len(pts), n)
    box = x[: 4 * reg_max].reshape(4, reg_max, n)          # side, bin, anchor
    e = np.exp(box - box.max(axis=1, keepdims=True))
    dist = (e * np.arange(reg_max)[None, :, None]).sum(1) / e.sum(1)  # l, t, r, b per anchor
    x1y1 = (pts - dist[:2].T) * strides[:, None]
    x2y2 = (pts + dist[2:].T) * strides[:, None]
    prob = 1.0 / (1.0 + np.exp(-x[4 * reg_max:]))
    cls = prob.argmax(0)
    score = prob.max(0)
    keep = np.nonzero(score > conf)[0]
    order = keep[np.argsort(-score[keep], kind="stable")]
    for i in order:
        print("%.9g %d %.9g %.9g %.9g %.9g" % (score[i], cls[i], x1y1[i, 0], x1y1[i, 1], x2y2[i, 0], x2y2[i, 1]))


if __name__ == "__main__":
    main()
