#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Independent oracle for src/imgops: the expected planes from OpenCV (cv2.blur, cv2.resize INTER_AREA) and numpy.
"""usage: oracle.py OUTDIR

Writes OUTDIR/src.gray (messi5.jpg as 8-bit grey, cv2.IMREAD_GRAYSCALE, W*H
bytes), OUTDIR/src.info ("W H"), and one OUTDIR/NAME.exp per case listed
in OUTDIR/cases.txt, one line each:

  blur NAME x y w h r          cv2.blur of the crop with ksize (2r+1, 2r+1),
                               pasted back (the rest of the plane unchanged)
  blur3 NAME x y w h r1 r2 r3  three cv2.blur passes of the crop
  pixelate NAME x y w h b      numpy: each b x b cell (aligned to the crop,
                               partial at the far edges) set to floor(mean + 0.5)
  resize NAME W H              cv2.resize(src, (W, H), interpolation=cv2.INTER_AREA)
  gauss NAME x y w h sigma     cv2.GaussianBlur of the crop, ksize 0 (for a
                               loose check of the three-box approximation)
"""
import sys

import cv2
import numpy as np

out = sys.argv[1]
src = cv2.imread("/usr/share/doc/opencv-doc/examples/data/messi5.jpg", cv2.IMREAD_GRAYSCALE)
h, w = src.shape
src.tofile(f"{out}/src.gray")
open(f"{out}/src.info", "w").write(f"{w} {h}\n")
lines = []


def paste(name, x, y, cw, ch, crop, line):
    img = src.copy()
    img[y:y + ch, x:x + cw] = crop
    img.tofile(f"{out}/{name}.exp")
    lines.append(line)


for (x, y, cw, ch, r) in [(0, 0, w, h, 1), (0, 0, w, h, 7), (200, 60, 80, 90, 5), (3, 5, 1, 40, 2),
                          (500, 300, 48, 42, 30), (10, 10, 17, 3, 4)]:
    crop = cv2.blur(src[y:y + ch, x:x + cw], (2 * r + 1, 2 * r + 1))
    paste(f"blur{len(lines)}", x, y, cw, ch, crop, f"blur blur{len(lines)} {x} {y} {cw} {ch} {r}")

for (x, y, cw, ch, rs) in [(200, 60, 80, 90, (3, 3, 4)), (0, 0, w, h, (1, 1, 2))]:
    crop = src[y:y + ch, x:x + cw]
    for r in rs:
        crop = cv2.blur(crop, (2 * r + 1, 2 * r + 1))
    n = f"blur3_{len(lines)}"
    paste(n, x, y, cw, ch, crop, f"blur3 {n} {x} {y} {cw} {ch} {rs[0]} {rs[1]} {rs[2]}")

for (x, y, cw, ch, b) in [(200, 60, 80, 90, 8), (0, 0, w, h, 16), (101, 33, 7, 5, 3), (5, 5, 30, 30, 1)]:
    crop = src[y:y + ch, x:x + cw].astype(np.int64).copy()
    for by in range(0, ch, b):
        for bx in range(0, cw, b):
            cell = crop[by:by + b, bx:bx + b]
            cell[...] = (cell.sum() * 2 + cell.size) // (2 * cell.size)
    n = f"pix{len(lines)}"
    paste(n, x, y, cw, ch, crop.astype(np.uint8), f"pixelate {n} {x} {y} {cw} {ch} {b}")

for (dw, dh) in [(274, 171), (137, 114), (200, 150), (547, 341), (548, 100), (1, 1), (333, 342)]:
    n = f"resize{dw}x{dh}"
    cv2.resize(src, (dw, dh), interpolation=cv2.INTER_AREA).tofile(f"{out}/{n}.exp")
    lines.append(f"resize {n} {dw} {dh}")

for (x, y, cw, ch, sigma) in [(150, 40, 160, 150, 4.0), (0, 0, w, h, 2.0)]:
    crop = cv2.GaussianBlur(src[y:y + ch, x:x + cw], (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    n = f"gauss{len(lines)}"
    paste(n, x, y, cw, ch, crop, f"gauss {n} {x} {y} {cw} {ch} {sigma}")

open(f"{out}/cases.txt", "w").write("\n".join(lines) + "\n")
