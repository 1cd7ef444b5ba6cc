#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Independent reference for the anchor tests: MediaPipe's SsdAnchorsCalculator reimplemented in Python (double precision).
"""usage: ssd_anchors_ref.py JSON_OPTIONS

Prints one anchor per line: x_center y_center width height. The options are
the fields of MediaPipe's SsdAnchorsCalculatorOptions (ssd_anchors_calculator.proto):
num_layers, min_scale, max_scale, input_size_width/height, anchor_offset_x/y,
strides, aspect_ratios, interpolated_scale_aspect_ratio,
reduce_boxes_in_lowest_layer, fixed_anchor_size.
"""
import json
import math
import sys


def scale_at(lo, hi, i, n):
    return (lo + hi) / 2 if n == 1 else lo + (hi - lo) * i / (n - 1)


def anchors(o):
    strides = o["strides"][: o["num_layers"]]
    out = []
    layer = 0
    while layer < len(strides):
        shapes = []  # (scale, aspect ratio) of every anchor in one cell, in MediaPipe's order
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            s = scale_at(o["min_scale"], o["max_scale"], last, len(strides))
            if last == 0 and o.get("reduce_boxes_in_lowest_layer", False):
                shapes += [(0.1, 1.0), (s, 2.0), (s, 0.5)]
            else:
                shapes += [(s, ar) for ar in o["aspect_ratios"]]
                interp = o.get("interpolated_scale_aspect_ratio", 1.0)
                if interp > 0:
                    nxt = 1.0 if last == len(strides) - 1 else scale_at(o["min_scale"], o["max_scale"], last + 1, len(strides))
                    shapes.append((math.sqrt(s * nxt), interp))
            last += 1
        fh = math.ceil(o["input_size_height"] / strides[layer])
        fw = math.ceil(o["input_size_width"] / strides[layer])
        for y in range(fh):
            for x in range(fw):
                for s, ar in shapes:
                    if o.get("fixed_anchor_size", False):
                        w = h = 1.0
                    else:
                        w, h = s * math.sqrt(ar), s / math.sqrt(ar)
                    out.append(((x + o["anchor_offset_x"]) / fw, (y + o["anchor_offset_y"]) / fh, w, h))
        layer = last
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for a in anchors(json.loads(sys.argv[1])):
        print("%.9f %.9f %.9f %.9f" % a)


if __name__ == "__main__":
    main()
