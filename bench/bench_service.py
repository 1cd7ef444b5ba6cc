#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# POST /api/detect (raw body into a warm, batched pipeline) vs the traditional path (base64 in JSON, a process per request).
"""usage: bench_service.py FRAMEPIPE [--requests N] [--trad-requests N] [--md FILE] [--before FRAMEPIPE0]

A 1920x1080 JPEG (opencv-doc's messi5.jpg scaled up, quality 90) posted by
1 and 8 concurrent clients (keep-alive connections, each request waits for
its answer) to
  framepipe: `framepipe serve face` (POST /api/detect, the JPEG as the body);
  traditional: bench/peer_base64_server.py and, where `node` is installed,
               bench/peer_base64_server.js (JSON {"image": base64}, a fresh
               `framepipe detect face FILE` per request: the same model,
               runtime and decoder).
Runs alternate (framepipe 1, Python 1, Node.js 1, framepipe 8, Python 8, Node.js 8).
Reports requests per second, latency p50/p99 (ms, client side) and peak RSS
(framepipe: the serve process's VmHWM; traditional: the server's own peak
plus the largest child's), and allocator calls per POST /api/detect at
steady state: `framepipe serve` under bench/alloc_preload.c (LD_PRELOAD,
the library next to FRAMEPIPE's build: BUILD/bench/libfp_alloc_preload.so),
counted for 20 + N and 20 + N/5 requests (each run stopped by SIGTERM),
the difference divided by the difference in requests: 1 client (batches
of one) and 8 clients (batched). --before names a second framepipe (an
older build) measured the same way, side by side. Writes a Markdown body
for update_results.py.
"""
import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import cv2

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, timeout=60):
    t_end = time.time() + timeout
    while time.time() < t_end:
        if proc.poll() is not None:
            sys.exit(f"{proc.args} exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"nothing on port {port}")


def load(port, path, body, headers, clients, total):
    lat, errors, lock = [], [], threading.Lock()
    left = [total]

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            t0 = time.perf_counter()
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            dt = time.perf_counter() - t0
            doc = json.loads(data)
            with lock:
                if r.status != 200 or len(doc.get("detections", [])) < 1:
                    errors.append((r.status, data[:200]))
                lat.append(dt)
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        sys.exit(f"errors: {errors[:3]}")
    lat.sort()
    q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))] * 1000  # noqa: E731
    return {"rps": len(lat) / wall, "p50": q(0.5), "p99": q(0.99), "n": len(lat)}


def hwm_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def preload_of(framepipe):
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(framepipe))), "bench",
                        "libfp_alloc_preload.so")


def serve_counted(framepipe, jpeg, clients, n, tmp):
    """Allocator calls of a whole `framepipe serve` run: 20 warm-up requests, then n, then SIGTERM."""
    out = os.path.join(tmp, f"alloc-{os.getpid()}-{clients}-{n}-{time.time_ns()}.jsonl")
    env = dict(os.environ, LD_PRELOAD=preload_of(framepipe), FP_ALLOC_COUNT_OUT=out)
    port = free_port()
    p = subprocess.Popen([framepipe, "serve", "--quiet", "--listen", f"127.0.0.1:{port}", "face"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, p)
    load(port, "/api/detect", jpeg, {}, clients, 20)
    load(port, "/api/detect", jpeg, {}, clients, n)
    p.send_signal(signal.SIGTERM)
    if p.wait(timeout=120) != 0:
        sys.exit(f"{framepipe} serve exited {p.returncode} under the allocation counter")
    counts = [json.loads(x) for x in open(out)][-1]
    os.unlink(out)
    return counts


def alloc_per_request(framepipe, jpeg, n, clients, tmp):
    short = max(10, n // 5)
    a = serve_counted(framepipe, jpeg, clients, n, tmp)
    b = serve_counted(framepipe, jpeg, clients, short, tmp)
    return {"allocs": (a["allocs"] - b["allocs"]) / (n - short), "frees": (a["frees"] - b["frees"]) / (n - short)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("framepipe")
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--trad-requests", type=int, default=40)
    ap.add_argument("--md", default="/tmp/service.md")
    ap.add_argument("--before", help="an older framepipe build whose allocations per request are counted too")
    ap.add_argument("--before-label", default="before", help="what --before is, for the table")
    ap.add_argument("--alloc-requests", type=int, default=200)
    a = ap.parse_args()
    img = cv2.resize(cv2.imread("/usr/share/doc/opencv-doc/examples/data/messi5.jpg"), (1920, 1080))
    jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    wrapped = json.dumps({"image": base64.b64encode(jpeg).decode()}).encode()

    fp_port, tr_port = free_port(), free_port()
    fp = subprocess.Popen([a.framepipe, "serve", "--quiet", "--listen", f"127.0.0.1:{fp_port}", "face"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tr = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "peer_base64_server.py"), str(tr_port),
                           a.framepipe, "face"])
    node = shutil.which("node")
    nd_port = free_port()
    nd = subprocess.Popen([node, os.path.join(HERE, "peer_base64_server.js"), str(nd_port), a.framepipe, "face"]) \
        if node else None
    wait_port(fp_port, fp)
    wait_port(tr_port, tr)
    if nd:
        wait_port(nd_port, nd)
    load(fp_port, "/api/detect", jpeg, {}, 8, 40)  # warm-up: pools, decoder tables
    rows = []
    for clients in (1, 8):
        f = load(fp_port, "/api/detect", jpeg, {}, clients, a.requests)
        t = load(tr_port, "/", wrapped, {"Content-Type": "application/json"}, clients, a.trad_requests)
        n = load(nd_port, "/", wrapped, {"Content-Type": "application/json"}, clients, a.trad_requests) if nd else None
        rows.append((clients, f, t, n))
        print(clients, f, t, n, flush=True)

    def stats(port):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/stats")
        return json.loads(conn.getresponse().read())
    st = stats(tr_port)
    nst = stats(nd_port) if nd else None
    fp_rss = hwm_kb(fp.pid)
    tr_rss = st["self_max_rss_kb"] + st["children_max_rss_kb"]
    for proc in (fp, tr, nd):
        if proc:
            proc.terminate()
            proc.wait()
    allocs = []
    tmp = os.environ.get("TMPDIR", "/tmp")
    builds = [("this build", a.framepipe)] + ([(a.before_label, a.before)] if a.before else [])
    if all(os.path.exists(preload_of(b)) for _, b in builds):
        for label, b in builds:
            r1 = alloc_per_request(b, jpeg, a.alloc_requests, 1, tmp)
            r8 = alloc_per_request(b, jpeg, a.alloc_requests, 8, tmp)
            allocs.append((label, r1, r8))
            print("allocations", label, r1, r8, flush=True)
    out = [
        f"1920x1080 JPEG ({len(jpeg)} B; {len(wrapped)} B as base64 in JSON), BlazeFace back 256 (`face`), CPU, "
        "release build; clients on the same machine, keep-alive, each waits for its answer. framepipe: "
        "`framepipe serve face`, the JPEG as the body of POST /api/detect. traditional: "
        "`bench/peer_base64_server.py` (Python) and `bench/peer_base64_server.js` (Node.js, the seed's language), "
        "JSON {\"image\": base64} and a fresh `framepipe detect face FILE` per "
        "request (the same model, runtime and decoder). Alternating runs; latency measured by the client. "
        "The machine (2 cores) was shared with other jobs while this ran: compare the ratios, not the "
        "absolute numbers.",
        "",
        "| clients | framepipe req/s | p50 ms | p99 ms | traditional Python req/s | p50 ms | p99 ms | "
        "traditional Node.js req/s | p50 ms | p99 ms | throughput ratio (vs Python, vs Node.js) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for clients, f, t, n in rows:
        nd_cells = (f"{n['rps']:.2f} ({n['n']}) | {n['p50']:.0f} | {n['p99']:.0f}" if n else "- | - | -")
        nd_ratio = f"{f['rps'] / n['rps']:.1f}x" if n else "-"
        out.append(f"| {clients} | **{f['rps']:.1f}** ({f['n']}) | {f['p50']:.0f} | {f['p99']:.0f} | "
                   f"{t['rps']:.2f} ({t['n']}) | {t['p50']:.0f} | {t['p99']:.0f} | {nd_cells} | "
                   f"{f['rps'] / t['rps']:.1f}x, {nd_ratio} |")
    out += ["", f"Peak RSS: framepipe serve {fp_rss // 1024} MiB (one process, whole run); traditional "
            f"{tr_rss // 1024} MiB (server {st['self_max_rss_kb'] // 1024} MiB + largest child "
            f"{st['children_max_rss_kb'] // 1024} MiB, one child per request)" +
            (f"; traditional Node.js {(nst['self_max_rss_kb'] + nst['children_max_rss_kb']) // 1024} MiB (server "
             f"{nst['self_max_rss_kb'] // 1024} MiB + largest child {nst['children_max_rss_kb'] // 1024} MiB)."
             if nst else ".")]
    if allocs:
        out += ["", f"Allocator calls per POST /api/detect at steady state (`bench/alloc_preload.c` under "
                f"`framepipe serve`: malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, mmap of the "
                f"process and every library in it, ONNX Runtime included; (20 + {a.alloc_requests}) minus "
                f"(20 + {max(10, a.alloc_requests // 5)}) requests, each run ended by SIGTERM):", "",
                "| build | allocations per request, 1 client | frees | allocations per request, 8 clients | frees |",
                "|---|---|---|---|---|"]
        for label, r1, r8 in allocs:
            out.append(f"| {label} | **{r1['allocs']:.1f}** | {r1['frees']:.1f} | **{r8['allocs']:.1f}** | "
                       f"{r8['frees']:.1f} |")
        out += ["", "Where they come from: docs/service.md (section \"Allocations per request\")."]
    else:
        out += ["", "Allocations per request: not counted (no BUILD/bench/libfp_alloc_preload.so)."]
    out += [
            "", "Re-run: `ninja -C build/release && bench/bench_service.py build/release/apps/framepipe --md "
            "/tmp/service.md && bench/update_results.py service /tmp/service.md` (`--before OLD/apps/framepipe "
            "--before-label TEXT` adds an older build's allocation counts)."]
    open(a.md, "w").write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
