#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The OpenCV side of bench_prep: cvtColor + resize + copyMakeBorder + blobFromImage, single thread, timed per frame.
"""usage: bench_prep_opencv.py REPS W:H:FORMAT [W:H:FORMAT...]

FORMAT is yuv420p or rgb24. The model input is 640x640 float32 NCHW RGB,
letterboxed (centred, pad 114), scaled by 1/255: the same work as
framepipe's fused kernel in bench_prep.c. Prints one JSON object per case:
{"case": "W:H:FORMAT", "times_ms": [...]}.
"""
import json
import sys
import time

import cv2
import numpy as np


def letterbox_blob(img_rgb, dst=640):
    h, w = img_rgb.shape[:2]
    s = min(dst / w, dst / h)
    cw, ch = int(np.floor(w * s + 0.5)), int(np.floor(h * s + 0.5))
    resized = cv2.resize(img_rgb, (cw, ch), interpolation=cv2.INTER_LINEAR)
    left, top = (dst - cw) // 2, (dst - ch) // 2
    padded = cv2.copyMakeBorder(resized, top, dst - ch - top, left, dst - cw - left,
                                cv2.BORDER_CONSTANT, value=(114, 114, 114))
    return cv2.dnn.blobFromImage(padded, scalefactor=1.0 / 255.0, swapRB=False)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cv2.setNumThreads(1)
    reps = int(sys.argv[1])
    rng = np.random.default_rng(1)
    for spec in sys.argv[2:]:
        w, h, fmt = spec.split(":")
        w, h = int(w), int(h)
        if fmt == "yuv420p":
            # smooth content plus noise, like bench_prep.c's synthetic frames
            frame = rng.integers(16, 236, size=(h * 3 // 2, w), dtype=np.uint8)

            def work():
                return letterbox_blob(cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_I420))
        else:
            frame = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)

            def work():
                return letterbox_blob(frame)
        for _ in range(3):
            blob = work()
        assert blob.shape == (1, 3, 640, 640) and blob.dtype == np.float32
        times = []
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            work()
            times.append((time.perf_counter_ns() - t0) / 1e6)
        print(json.dumps({"case": spec, "times_ms": times}), flush=True)


if __name__ == "__main__":
    main()
