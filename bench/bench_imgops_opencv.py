#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The OpenCV side of bench_imgops: prints "median min max" microseconds per operation, one line each.
"""usage: bench_imgops_opencv.py W H REPS"""
import sys
import time

import cv2
import numpy as np

w, h, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
cv2.setNumThreads(1)  # one thread, as framepipe's calls
yy, xx = np.mgrid[0:h, 0:w]
a = ((xx * 7 + yy * 13 + (xx * yy) % 31) & 255).astype(np.uint8)


def gauss(img):
    for r in (4, 4, 5):  # the radii of fp_imgops_gauss_radii(5.0): box sizes 9, 9, 11
        img = cv2.blur(img, (2 * r + 1, 2 * r + 1))
    return img


def pixelate(img):
    small = cv2.resize(img, (w // 16, h // 16), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


ops = [lambda: cv2.blur(a, (15, 15)), lambda: gauss(a), lambda: pixelate(a),
       lambda: cv2.resize(a, (w // 2, h // 2), interpolation=cv2.INTER_AREA)]
for op in ops:
    t = []
    for _ in range(reps):
        t0 = time.perf_counter()
        op()
        t.append((time.perf_counter() - t0) * 1e6)
    t.sort()
    print(f"{t[len(t) // 2]:.1f} {t[0]:.1f} {t[-1]:.1f}", flush=True)
