#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Writes fuzz/corpus/http: the seed inputs of fuzz/fuzz_http.c, raw bytes a client writes to one connection.

Run with Debian's python3 (python3-opencv makes the small JPEG and PNG bodies): fuzz/gen/http_seeds.py
One request per endpoint and method of `framepipe run --api` (docs/http.md, docs/service.md) for the target's
config (camera `door`, snapshot `door-1.jpg`), and the documented edge cases: an encoded NUL, traversal, a long
URL (414), huge headers (431), pipelined keep-alive requests, a chunked body, bad Content-Lengths, Expect:
100-continue, methods that answer 405, a token in each place it is read, and bytes that are not HTTP.
"""
import os

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fuzz", "corpus", "http")


def get(path, method="GET", headers=(), version="1.1"):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    return ("%s %s HTTP/%s\r\nHost: 127.0.0.1\r\n%s\r\n" % (method, path, version, h)).encode()


def post(path, body, headers=(), length=True):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    if length:
        h += "Content-Length: %d\r\n" % len(body)
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (path, h)).encode() + body


img = np.zeros((24, 32, 3), np.uint8)
cv2.rectangle(img, (8, 6), (20, 18), (200, 180, 160), -1)
jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 60])[1].tobytes()
png = cv2.imencode(".png", img)[1].tobytes()
gray = bytes(range(256))  # 16 x 16 gray pixels
chunked = b"".join(b"%x\r\n%s\r\n" % (len(jpeg[i:i + 200]), jpeg[i:i + 200]) for i in range(0, len(jpeg), 200)) + b"0\r\n\r\n"

seeds = {
    "get_index": get("/"), "get_app_js": get("/app.js"), "get_style": get("/style.css"),
    "get_index_txt": get("/index.txt"), "get_metrics": get("/metrics"), "get_healthz": get("/healthz"),
    "get_cameras": get("/api/cameras"), "get_sinks": get("/api/sinks"), "get_events": get("/api/events"),
    "get_events_since": get("/api/events?since=3"), "get_events_since_bad": get("/api/events?since=-1x"),
    "get_event_stream": get("/api/events/stream", headers=[("Last-Event-ID", "2")]),
    "get_mjpeg": get("/api/cameras/door/stream.mjpg"), "get_frame": get("/api/cameras/door/frame.jpg"),
    "get_frame_unknown": get("/api/cameras/nope/frame.jpg"), "get_frame_api": get("/api/cameras/api/frame.jpg"),
    "get_snapshot": get("/snapshots/door-1.jpg"), "get_snapshot_missing": get("/snapshots/none.jpg"),
    "get_404": get("/nothing/here"),
    "camera_name_256": get("/api/cameras/" + "c" * 256 + "/frame.jpg"),  # one past the route's name buffer
    "camera_name_255": get("/api/cameras/" + "c" * 255 + "/stream.mjpg"),
    "head_index": get("/", "HEAD"), "head_metrics": get("/metrics", "HEAD"),
    "put_405": get("/metrics", "PUT"), "delete_405": get("/api/cameras", "DELETE"),
    "options_405": get("/", "OPTIONS"), "post_metrics_404": post("/metrics", b"x"),
    "post_detect_jpeg": post("/api/detect?conf=0.3&max_det=5", jpeg, [("Content-Type", "image/jpeg")]),
    "post_detect_png": post("/api/detect?classes=face", png),
    "post_detect_raw": post("/api/detect?width=16&height=16&format=gray", gray),
    "post_detect_raw_bad": post("/api/detect?width=0&height=99999&format=nv12", gray),
    "post_redact_png": post("/api/redact?mode=pixelate&format=png", png),
    "post_redact_jpeg": post("/api/redact?mode=fill", jpeg, [("Accept", "image/png")]),
    "post_redact_badmode": post("/api/redact?mode=melt", jpeg),
    "post_chunked": post("/api/detect", chunked, [("Transfer-Encoding", "chunked")], length=False),
    "post_expect_continue": post("/api/detect", jpeg, [("Expect", "100-continue")]),
    "post_length_negative": post("/api/detect", jpeg, [("Content-Length", "-1")], length=False),
    "post_length_text": post("/api/detect", jpeg, [("Content-Length", "abc")], length=False),
    "post_length_huge": post("/api/detect", jpeg, [("Content-Length", "99999999999999999999")], length=False),
    "post_length_short": post("/api/detect", jpeg, [("Content-Length", str(len(jpeg) - 100))], length=False),
    "post_length_twice": post("/api/detect", jpeg, [("Content-Length", str(len(jpeg)))] * 2, length=False),
    "post_empty": post("/api/detect", b""),
    "post_not_picture": post("/api/detect", b"not a picture at all"),
    "nul_metrics": get("/metrics%00.txt"), "nul_healthz": get("/healthz%00anything"),
    "traversal": get("/snapshots/../run.yaml"), "traversal_encoded": get("/snapshots/%2e%2e%2frun.yaml"),
    "traversal_dot": get("/snapshots/.."), "percent_bad": get("/api/%zz/%"),
    "long_url": get("/" + "a" * 33000),
    "huge_headers": get("/metrics", headers=[("X-Pad-%d" % i, "p" * 1000) for i in range(34)]),
    "pipelined": get("/healthz") + get("/api/cameras") + get("/metrics", "HEAD") + get("/index.txt"),
    "pipelined_post": post("/api/detect", png) + get("/healthz") + post("/api/redact", jpeg),
    "http10": get("/healthz", version="1.0"), "http10_keepalive": get("/metrics", version="1.0",
                                                                      headers=[("Connection", "keep-alive")]),
    "close": get("/api/sinks", headers=[("Connection", "close")]) + get("/healthz"),
    "token_header": get("/api/cameras", headers=[("Authorization", "Bearer fuzz")]),
    "token_query": get("/?token=fuzz"), "token_cookie": get("/api/sinks", headers=[("Cookie", "fp_token=fuzz")]),
    "no_host": b"GET /healthz HTTP/1.1\r\n\r\n", "bare_lf": b"GET /metrics HTTP/1.1\nHost: x\n\n",
    "http09": b"GET /\r\n\r\n", "garbage": bytes(range(256)), "half": b"GET /metr",
}

os.makedirs(OUT, exist_ok=True)
total = 0
for name, data in seeds.items():
    with open(os.path.join(OUT, "seed_" + name), "wb") as f:
        f.write(data)
    total += len(data)
print("%d seeds, %d bytes, in %s" % (len(seeds), total, OUT))
