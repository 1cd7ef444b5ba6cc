#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A webhook receiver for tests (stdlib only): records each POST as one JSON line and answers as its mode says.
"""Usage: webhook_receiver.py --port N --out FILE [--token T] [--hang-seconds S]

Listens on 127.0.0.1:N (HTTP/1.1, keep-alive) and prints "listening" once
bound. Every POST other than the control one is appended to FILE, before it
is answered, as one JSON object per line:

  {"path": ..., "answered": 200, "remote_port": 43210, "headers": {"name": value, ...}, "body": "..."}

with header names in lower case and the body decoded as UTF-8.

Control: POST /_mode with the body
  ok     answer 200 (the start)
  fail   answer 500
  hang   sleep --hang-seconds (default 5) before answering 200
  401    answer 401
With --token T, a request whose Authorization is not "Bearer T" is answered
401 in every mode.
"""
import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
state = {"mode": "ok"}


def make_handler(out, token, hang_seconds):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall

        def log_message(self, fmt, *args):  # quiet: the test reads the JSON lines
            pass

        def answer(self, status, text):
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            if self.path == "/_mode":
                mode = body.decode().strip()
                if mode not in ("ok", "fail", "hang", "401"):
                    self.answer(400, "unknown mode\n")
                    return
                with lock:
                    state["mode"] = mode
                self.answer(200, "mode " + mode + "\n")
                return
            with lock:
                mode = state["mode"]
            if token is not None and self.headers.get("Authorization") != "Bearer " + token:
                status, text = 401, "bad token\n"
            elif mode == "fail":
                status, text = 500, "receiver told to fail\n"
            elif mode == "401":
                status, text = 401, "unauthorised\n"
            else:
                status, text = 200, "ok\n"
            record = {
                "path": self.path,
                "answered": status,
                "mode": mode,
                "remote_port": self.client_address[1],
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", errors="replace"),
            }
            with lock:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                out.flush()
            if mode == "hang":
                time.sleep(hang_seconds)
            try:
                self.answer(status, text)
            except OSError:  # the client gave up (hang)
                pass

    return Handler


def main():
    ap = argparse.ArgumentParser(description="webhook receiver for tests")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--token")
    ap.add_argument("--hang-seconds", type=float, default=5.0)
    a = ap.parse_args()
    with open(a.out, "a", encoding="utf-8") as out:
        server = ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(out, a.token, a.hang_seconds))
        server.daemon_threads = True
        print("listening", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
