#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Independent oracle for the prep kernel: builds the expected tensor with OpenCV (cvtColor, resize, copyMakeBorder, blobFromImage).
"""usage: oracle.py OUTDIR NAME key=value...

Keys: image (a file under /usr/share/doc/opencv-doc/examples/data,
"gen:WxH" for a generated picture, or "genyuv:WxH" for YUV planes drawn
directly, mostly outside the RGB gamut; YUV formats only), format (yuv420p nv12 rgb24 bgr24 gray8),
dst (WxH), resize (letterbox stretch crop), anchor (center topleft),
order (rgb bgr), norm (scale meanstd), layout (nchw nhwc), pad (0..255),
roi (x,y,w,h), crop_even (1: crop the image to even width/height).

Writes OUTDIR/NAME.src (the source frame's planes, tightly packed, in the
frame's own layout), OUTDIR/NAME.info ("W H") and OUTDIR/NAME.exp (the
expected tensor as float32 in the requested layout, before any float16/uint8
conversion). The geometry convention (stated in include/framepipe/prep.h):
content size = floor(roi * s + 0.5), s = min (letterbox) or max (crop) of
dst/roi; letterbox content placed at floor((dst - content) / 2) or at 0;
crop shows the content from floor((content - dst) / 2).
"""
import math
import sys

import cv2
import numpy as np

DATA = "/usr/share/doc/opencv-doc/examples/data"
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float64)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float64)


def generated(w, h, seed=3):
    """A synthetic RGB picture: gradients, saturated blocks, thin lines, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3), np.float64)
    img[..., 0] = 255 * xx / max(w - 1, 1)
    img[..., 1] = 255 * yy / max(h - 1, 1)
    img[..., 2] = 127 + 120 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    for _ in range(12):
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        bw, bh = rng.integers(4, max(5, w // 4)), rng.integers(4, max(5, h // 4))
        img[y0:y0 + bh, x0:x0 + bw] = rng.choice([0, 255], size=3)
    img[:, ::17] = 255
    img += rng.normal(0, 6, img.shape)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def main():
    outdir, name = sys.argv[1], sys.argv[2]
    kv = dict(a.split("=", 1) for a in sys.argv[3:])
    fmt = kv.get("format", "rgb24")
    dw, dh = (int(v) for v in kv.get("dst", "640x640").split("x"))
    resize = kv.get("resize", "letterbox")
    anchor = kv.get("anchor", "center")
    order = kv.get("order", "rgb")
    norm = kv.get("norm", "scale")
    layout = kv.get("layout", "nchw")
    pad = float(kv.get("pad", "114"))

    image = kv["image"]
    raw_yuv = None
    if image.startswith("genyuv:"):
        # YUV planes drawn directly (not from an RGB picture): smooth fields and hard edges over the
        # whole 0..255 range, so many pixels fall outside the RGB gamut and the clamping matters
        w, h = (int(v) for v in image[7:].split("x"))
        rng = np.random.default_rng(5)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        Y = 128 + 127 * np.sin(xx / 9.0 + yy / 13.0)
        Y[(xx // 32 + yy // 24) % 2 == 0] = 250
        cy, cx = np.mgrid[0:h // 2, 0:w // 2].astype(np.float64)
        U = 128 + 127 * np.cos(cx / 5.0) + rng.normal(0, 20, cx.shape)
        V = 128 + 127 * np.sin(cy / 4.0 + cx / 11.0)
        V[cx > w // 4] = 255 - V[cx > w // 4]
        q = lambda a: np.clip(a + 0.5, 0, 255).astype(np.uint8)
        raw_yuv = np.concatenate([q(Y).reshape(-1), q(U).reshape(-1), q(V).reshape(-1)]).reshape(h * 3 // 2, w)
        rgb = np.zeros((h, w, 3), np.uint8)
    elif image.startswith("gen:"):
        w, h = (int(v) for v in image[4:].split("x"))
        rgb = generated(w, h)
    else:
        bgr = cv2.imread(f"{DATA}/{image}", cv2.IMREAD_COLOR)
        assert bgr is not None, image
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if kv.get("crop_even") == "1" or fmt in ("yuv420p", "nv12"):
        rgb = rgb[: rgb.shape[0] // 2 * 2, : rgb.shape[1] // 2 * 2]
    h, w = rgb.shape[:2]

    # The source frame handed to the C kernel, and OpenCV's own RGB decoding of it.
    if fmt in ("yuv420p", "nv12"):
        i420 = raw_yuv if raw_yuv is not None else cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)  # Y, U, V
        if fmt == "yuv420p":
            src = i420
            ref_rgb = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        else:
            y = i420[:h]
            u = i420[h:h + h // 4].reshape(h // 2, w // 2)
            v = i420[h + h // 4:].reshape(h // 2, w // 2)
            uv = np.stack([u, v], axis=-1).reshape(h // 2, w)
            src = np.concatenate([y, uv], axis=0)
            ref_rgb = cv2.cvtColor(src, cv2.COLOR_YUV2RGB_NV12)
    elif fmt == "rgb24":
        src, ref_rgb = rgb, rgb
    elif fmt == "bgr24":
        src, ref_rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), rgb
    elif fmt == "gray8":
        src = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        ref_rgb = cv2.cvtColor(src, cv2.COLOR_GRAY2RGB)
    else:
        sys.exit(f"unknown format {fmt}")

    # Region of interest: a crop of the decoded picture.
    rx, ry, rw, rh = 0, 0, w, h
    if "roi" in kv:
        rx, ry, rw, rh = (int(v) for v in kv["roi"].split(","))
    roi = ref_rgb[ry:ry + rh, rx:rx + rw]

    if resize == "stretch":
        canvas = cv2.resize(roi, (dw, dh), interpolation=cv2.INTER_LINEAR)
    else:
        s = min(dw / rw, dh / rh) if resize == "letterbox" else max(dw / rw, dh / rh)
        cw, ch = int(math.floor(rw * s + 0.5)), int(math.floor(rh * s + 0.5))
        if resize == "letterbox":
            cw, ch = min(max(cw, 1), dw), min(max(ch, 1), dh)
        else:
            cw, ch = max(cw, dw), max(ch, dh)
        content = cv2.resize(roi, (cw, ch), interpolation=cv2.INTER_LINEAR)
        if resize == "letterbox":
            left = (dw - cw) // 2 if anchor == "center" else 0
            top = (dh - ch) // 2 if anchor == "center" else 0
            canvas = cv2.copyMakeBorder(content, top, dh - ch - top, left, dw - cw - left,
                                        cv2.BORDER_CONSTANT, value=(pad, pad, pad))
        else:
            left, top = (cw - dw) // 2, (ch - dh) // 2
            canvas = content[top:top + dh, left:left + dw]

    # blobFromImage: HWC uint8 -> NCHW float32, channel swap for BGR models.
    blob = cv2.dnn.blobFromImage(canvas, scalefactor=1.0 / 255.0, swapRB=(order == "bgr"))[0]
    if norm == "meanstd":
        mean, std = (MEAN, STD) if order == "rgb" else (MEAN[::-1], STD[::-1])
        blob = ((blob.astype(np.float64) - mean[:, None, None]) / std[:, None, None]).astype(np.float32)
    if layout == "nhwc":
        blob = np.ascontiguousarray(blob.transpose(1, 2, 0))

    np.ascontiguousarray(src).tofile(f"{outdir}/{name}.src")
    with open(f"{outdir}/{name}.info", "w") as f:
        f.write(f"{w} {h}\n")
    blob.astype(np.float32).tofile(f"{outdir}/{name}.exp")


if __name__ == "__main__":
    main()
