#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The traditional path bench_service.py compares with: JSON {"image": base64} over HTTP, a fresh process per request.
"""usage: peer_base64_server.py PORT FRAMEPIPE MODEL

POST / with {"image": "<base64 of a JPEG/PNG>"}: decodes the base64 (a new
buffer per call), writes the picture to a temporary file and runs a fresh
`FRAMEPIPE detect --quiet MODEL FILE` for it (process start, model load,
decode, inference), then answers that JSON line. The same model, runtime and
decoder as `framepipe serve`, so the difference measured is the path:
base64 + JSON + a process per request vs a raw body into a warm, batched pipeline.
GET /stats: {"children_max_rss_kb": ..., "self_max_rss_kb": ...}.
"""
import base64
import json
import os
import resource
import subprocess
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, FRAMEPIPE, MODEL = int(sys.argv[1]), sys.argv[2], sys.argv[3]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        stats = {"children_max_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                 "self_max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        self.answer(200, json.dumps(stats).encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        doc = json.loads(self.rfile.read(n))
        picture = base64.b64decode(doc["image"])
        with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
            f.write(picture)
            f.flush()
            p = subprocess.run([FRAMEPIPE, "detect", "--quiet", MODEL, f.name], capture_output=True)
        if p.returncode != 0:
            self.answer(500, json.dumps({"error": p.stderr.decode()[-500:]}).encode())
        else:
            self.answer(200, p.stdout.strip() or b"{}")


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
