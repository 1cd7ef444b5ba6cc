#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Peer for bench_pipeline.py: BlazeFace on a video the way a Python user would write it (cv2.VideoCapture + cv2.dnn + numpy).
"""usage: peer_opencv.py [options] MODEL CLIP

  -o FILE         JSON lines, one per frame (default /dev/null; "-" = stdout)
  --threads N     cv2.setNumThreads(N): OpenCV's own pool (dnn layers, resize); default 1
  --conf X        score threshold (default 0.5, framepipe's BlazeFace default)
  --iou X         weighted-NMS IoU threshold (default 0.3, framepipe's BlazeFace default)
  --max-frames N  stop after N frames (0: the whole clip)

The chain: cv2.VideoCapture(CLIP).read() (BGR) -> letterbox to the model's
input (cv2.resize INTER_LINEAR, centred, black padding) -> blobFromImage
(RGB, (x - 127.5) / 127.5 = [-1, 1], NCHW) transposed to the model's NHWC
[1, 128, 128, 3] -> cv2.dnn forward -> MediaPipe anchor decode (sigmoid of the
clipped logits, boxes + 6 keypoints) and weighted NMS in numpy -> boxes back
in source pixels -> one JSON line per frame. At the end prints one JSON object
on stdout: {"frames", "seconds", "fps", "latency_ms": {"p50", "p90", "p99",
"max"}, "detections", "stages_ms", ...}; latency is per frame, from
VideoCapture.read() returning the decoded frame to its JSON line written
(framepipe's "frame decoded -> JSON line written"). stages_ms: mean ms per frame in
read (VideoCapture.read: demux + decode + BGR conversion), prep (letterbox +
blob), infer (cv2.dnn forward), post (anchor decode + NMS + JSON line).
"""
import json
import math
import sys
import time

import cv2
import numpy as np

NUM_KEYPOINTS = 6


def ssd_anchors(size):
    """MediaPipe SsdAnchorsCalculator with the face_detection_front (128) / back (256) options, fixed anchor size."""
    strides = [8, 16, 16, 16] if size == 128 else [16, 32, 32, 32]
    out = []
    layer = 0
    while layer < len(strides):
        per_cell = 0
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            per_cell += 2  # aspect ratio 1.0 + the interpolated scale
            last += 1
        fm = math.ceil(size / strides[layer])
        for y in range(fm):
            for x in range(fm):
                for _ in range(per_cell):
                    out.append(((x + 0.5) / fm, (y + 0.5) / fm))
        layer = last
    return np.array(out, dtype=np.float32)


def weighted_nms(boxes, scores, kps, iou_thr, max_det):
    """MediaPipe's WeightedNonMaxSuppression: each kept box is the score-weighted mean of the boxes it suppresses."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, kps = boxes[order], scores[order], kps[order]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(scores), dtype=bool)
    out = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        b = boxes[i]
        ix1 = np.maximum(b[0], boxes[:, 0])
        iy1 = np.maximum(b[1], boxes[:, 1])
        ix2 = np.minimum(b[2], boxes[:, 2])
        iy2 = np.minimum(b[3], boxes[:, 3])
        inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
        iou = inter / np.maximum(area[i] + area - inter, 1e-12)
        group = alive & (iou > iou_thr)
        group[i] = True
        w = scores[group]
        wb = (boxes[group] * w[:, None]).sum(0) / w.sum()
        wk = (kps[group] * w[:, None, None]).sum(0) / w.sum()
        out.append((wb, float(scores[i]), wk))
        alive &= ~group
        if len(out) >= max_det:
            break
    return out


class BlazeFace:
    def __init__(self, model_path, conf, iou):
        self.net = cv2.dnn.readNetFromONNX(model_path)
        self.backend = "cv2.dnn (OpenCV backend, CPU target)"
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self.outs = list(self.net.getUnconnectedOutLayersNames())
        self.size = 128 if "128" in model_path else 256
        self.anchors = ssd_anchors(self.size)
        self.conf, self.iou = conf, iou
        self.logit_thr = math.log(conf / (1.0 - conf))

    def infer(self, bgr, stages=None):
        """Letterbox + normalize + forward + decode; boxes in source pixels. stages: adds prep/infer seconds."""
        t0 = time.perf_counter()
        h, w = bgr.shape[:2]
        s = min(self.size / w, self.size / h)
        cw, ch = int(round(w * s)), int(round(h * s))
        left, top = (self.size - cw) // 2, (self.size - ch) // 2
        small = cv2.resize(bgr, (cw, ch), interpolation=cv2.INTER_LINEAR)
        boxed = cv2.copyMakeBorder(small, top, self.size - ch - top, left, self.size - cw - left,
                                   cv2.BORDER_CONSTANT, value=(0, 0, 0))
        blob = cv2.dnn.blobFromImage(boxed, 1.0 / 127.5, (self.size, self.size), (127.5, 127.5, 127.5),
                                     swapRB=True)
        self.net.setInput(np.ascontiguousarray(blob.transpose(0, 2, 3, 1)))  # NCHW -> the model's NHWC
        t1 = time.perf_counter()
        sa, sb, ra, rb = self.net.forward(self.outs)
        t2 = time.perf_counter()
        logits = np.concatenate([sa.reshape(-1), sb.reshape(-1)])
        regs = np.concatenate([ra.reshape(-1, ra.shape[-1]), rb.reshape(-1, rb.shape[-1])])
        idx = np.nonzero(np.clip(logits, -100.0, 100.0) > self.logit_thr)[0]
        dets = []
        if len(idx):
            scores = 1.0 / (1.0 + np.exp(-np.clip(logits[idx], -100.0, 100.0)))
            r = regs[idx] / self.size
            a = self.anchors[idx]
            xc, yc = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
            bw, bh = r[:, 2], r[:, 3]
            boxes = np.stack([xc - bw / 2, yc - bh / 2, xc + bw / 2, yc + bh / 2], 1) * self.size
            kps = (r[:, 4:4 + 2 * NUM_KEYPOINTS].reshape(-1, NUM_KEYPOINTS, 2) + a[:, None, :]) * self.size
            # undo the letterbox: model pixels -> source pixels
            off = np.array([left, top], dtype=np.float32)
            boxes = (boxes - np.tile(off, 2)) / s
            kps = (kps - off) / s
            boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
            boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
            for b, sc, k in weighted_nms(boxes, scores, kps, self.iou, 100):
                dets.append({"label": "face", "score": round(sc, 4), "box": [round(float(v), 1) for v in b],
                             "keypoints": [[round(float(x), 1), round(float(y), 1)] for x, y in k]})
        if stages is not None:
            stages["prep"] += t1 - t0
            stages["infer"] += t2 - t1
        return dets


def percentile(sorted_vals, q):
    if not sorted_vals:
        return None
    return sorted_vals[min(len(sorted_vals) - 1, int(math.ceil(q / 100.0 * len(sorted_vals))) - 1)]


def main():
    args = sys.argv[1:]
    opts = {"-o": "/dev/null", "--threads": "1", "--conf": "0.5", "--iou": "0.3", "--max-frames": "0"}
    pos = []
    while args:
        a = args.pop(0)
        if a in opts and args:
            opts[a] = args.pop(0)
        elif a.startswith("-"):
            sys.exit(f"peer_opencv.py: unknown option {a}\n{__doc__}")
        else:
            pos.append(a)
    if len(pos) != 2:
        sys.exit(__doc__)
    model_path, clip = pos
    cv2.setNumThreads(int(opts["--threads"]))
    try:
        bf = BlazeFace(model_path, float(opts["--conf"]), float(opts["--iou"]))
    except cv2.error as e:
        sys.exit(f"peer_opencv.py: cv2.dnn cannot load {model_path}: {e}")
    cap = cv2.VideoCapture(clip)
    if not cap.isOpened():
        sys.exit(f"peer_opencv.py: cv2.VideoCapture cannot open {clip}")
    out = sys.stdout if opts["-o"] == "-" else open(opts["-o"], "w")
    max_frames = int(opts["--max-frames"])
    lat = []
    n = ndet = 0
    stages = {"read": 0.0, "prep": 0.0, "infer": 0.0, "post": 0.0}
    t_start = time.perf_counter()
    while True:
        tr = time.perf_counter()
        ok, frame = cap.read()
        t0 = time.perf_counter()
        if not ok:
            break
        stages["read"] += t0 - tr
        before = stages["prep"] + stages["infer"]
        dets = bf.infer(frame, stages)
        out.write(json.dumps({"source": clip, "frame": n, "width": frame.shape[1], "height": frame.shape[0],
                              "detections": dets}) + "\n")
        t1 = time.perf_counter()
        stages["post"] += (t1 - t0) - (stages["prep"] + stages["infer"] - before)  # decode + NMS + JSON line
        lat.append((t1 - t0) * 1e3)
        n += 1
        ndet += len(dets)
        if max_frames and n >= max_frames:
            break
    out.flush()
    seconds = time.perf_counter() - t_start
    if n == 0:
        sys.exit(f"peer_opencv.py: no frame decoded from {clip}")
    lat.sort()
    summary = {"frames": n, "seconds": round(seconds, 4), "fps": round(n / seconds, 2), "detections": ndet,
               "latency_ms": {k: round(percentile(lat, q), 3) for k, q in (("p50", 50), ("p90", 90), ("p99", 99))},
               "stages_ms": {k: round(v / n * 1e3, 3) for k, v in stages.items()},
               "opencv": cv2.__version__, "backend": bf.backend, "threads": int(opts["--threads"])}
    summary["latency_ms"]["max"] = round(lat[-1], 3)
    if out is not sys.stdout:
        out.close()
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
