#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Independent PNG reader for tests/sink/test_annotate.c: decodes with OpenCV (cv2.imread) and answers pixel queries.
"""Usage: png_pixels.py FILE QUERY...

Prints "size W H", then one line per query:
  px:X,Y                    -> "R G B" of pixel (X, Y)
  count:X0,Y0,X1,Y1,R,G,B   -> number of pixels in [X0,X1) x [Y0,Y1) equal to (R, G, B)
Exit status 1 when the file cannot be decoded.
"""
import sys

import cv2

img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
if img is None:
    sys.exit("%s: cv2.imread cannot decode it" % sys.argv[1])
h, w = img.shape[:2]
print("size %d %d" % (w, h))
for q in sys.argv[2:]:
    kind, args = q.split(":")
    v = [int(a) for a in args.split(",")]
    if kind == "px":
        b, g, r = img[v[1], v[0]]
        print("%d %d %d" % (r, g, b))
    else:
        x0, y0, x1, y1, r, g, b = v
        region = img[y0:y1, x0:x1]
        print(int(((region[:, :, 2] == r) & (region[:, :, 1] == g) & (region[:, :, 0] == b)).sum()))
