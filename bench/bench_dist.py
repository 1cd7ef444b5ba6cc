#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Distributed roles benchmark: in-process `framepipe run` vs camera -> worker -> logic over a local redis-server (throughput, capture->result latency, where the time goes, broker cost), JPEG vs raw frames (bytes, speed, detection agreement); writes the "distributed" section of bench/RESULTS.md.
"""usage: bench_dist.py BUILD_DIR [--reps N] [--live-seconds S] [--md FILE] [--no-update]

BUILD_DIR is a release build (apps/framepipe, tests/ingest/fp_rtsp_server). BlazeFace front 128, batch 4.
  1. files: 4 cameras, each opencv-doc's Megamind.avi (lossless policy, every frame), as fast as it goes:
     in-process run vs distributed (1 worker, 1 logic, JPEG q85) vs distributed raw, interleaved --reps times.
     Wall time from start to the last result; CPU seconds of every process involved (redis-server included).
  2. live: 4 RTSP clients of the test server (real-time playback of the same clip), --live-seconds each:
     capture -> result latency p50/p99 of the JSON lines' latency_ms.total, in-process vs distributed.
  3. agreement: every frame's detections, distributed JPEG and raw vs in-process (same count, boxes within 2 px).
"""
import json
import os
import platform
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("FP_CACHE_DIR", os.path.expanduser("~/.cache/framepipe"))
MODEL = os.path.join(CACHE, "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
CLIP = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"
CAMS = 4


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=30):
    t_end = time.time() + timeout
    while time.time() < t_end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def cpu_of(pid):
    """utime + stime seconds of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wait(argv, log):
    """Runs argv to the end: (wall s, CPU s of the child)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise SystemExit(f"{argv[:2]} exited {p.returncode}")
    return time.monotonic() - t0, ru.ru_utime + ru.ru_stime


def lines(path):
    try:
        with open(path) as f:
            return [json.loads(x) for x in f if x.endswith("\n")]
    except FileNotFoundError:
        return []


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except FileNotFoundError:
        return 0


def metrics(port):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    out = {}
    for ln in body.splitlines():
        if ln and not ln.startswith("#"):
            k, v = ln.rsplit(" ", 1)
            out[k] = float(v)
    return out


def hist_mean_ms(m, name, labels=""):
    key = name + ("{" + labels + "}" if labels else "")
    s, c = m.get(name + "_sum" + ("{" + labels + "}" if labels else ""), 0), m.get(name + "_count" + (
        "{" + labels + "}" if labels else ""), 0)
    return 1000 * s / c if c else float("nan")


class Setup:
    def __init__(self, work, build):
        self.work, self.fp = work, os.path.join(build, "apps", "framepipe")
        self.rtsp = os.path.join(build, "tests", "ingest", "fp_rtsp_server")
        self.log = open(os.path.join(work, "bench.log"), "ab")
        self.procs = []  # every process started here, for stop_all()

    def popen(self, argv, **kw):
        p = subprocess.Popen(argv, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        """SIGKILLs, by pid, what this Setup started and is still running (after an error)."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.procs.clear()

    def config(self, name, urls, redis_port=None, encoding="jpeg", live=False):
        t = "cameras:\n" + "".join(
            f"  - {{name: cam{i}, url: '{u}', policy: {'latest' if live else 'lossless'}}}\n" for i, u in enumerate(urls))
        t += f"model: {{path: {MODEL}}}\nbatch: {{max_batch: 4}}\n"
        if redis_port:
            t += f"redis: {{url: 'redis://127.0.0.1:{redis_port}', encoding: {encoding}, block: 20ms}}\n"
        path = os.path.join(self.work, name + ".yaml")
        with open(path, "w") as f:
            f.write(t)
        return path

    def redis(self):
        port = free_port()
        p = self.popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no"], stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(port)
        return p, port

    def inprocess(self, urls, out, duration=None):
        cfg = self.config("inproc", urls, live=duration is not None)  # live: policy latest, as the camera role
        argv = [self.fp, "run", "-q", cfg]
        if duration:
            argv[2:2] = ["--duration", str(duration)]
        with open(cfg, "a") as f:
            f.write(f"output: {{jsonl: {out}}}\n")
        return run_wait(argv, self.log)

    def distributed(self, urls, out, encoding, duration=None, frames=None):
        """(wall s from camera start to the last result, CPU s of all four processes, stats dict)"""
        redis, rport = self.redis()
        cfg = self.config(f"dist-{encoding}", urls, rport, encoding, live=duration is not None)
        wport, lport = free_port(), free_port()
        worker = self.popen([self.fp, "worker", "--http", f"127.0.0.1:{wport}", cfg], stdout=self.log,
                                  stderr=subprocess.STDOUT)
        logic = self.popen([self.fp, "logic", "--jsonl", out, "--http", f"127.0.0.1:{lport}", cfg],
                                 stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(wport), wait_port(lport)
        cpu0 = sum(cpu_of(p.pid) for p in (redis, worker, logic))
        t0 = time.monotonic()
        cam_log = os.path.join(self.work, "camera.log")
        with open(cam_log, "wb") as cl:
            cam = self.popen([self.fp, "camera", cfg], stdout=cl, stderr=subprocess.STDOUT)
            if duration:
                time.sleep(duration)
                cam.send_signal(signal.SIGTERM)
            _, status, ru = os.wait4(cam.pid, 0)
        cam_cpu = ru.ru_utime + ru.ru_stime
        text = open(cam_log).read()
        sent = int(text.split("sent ")[-1].split(" frames")[0])
        nbytes = int(text.split(" frames, ")[-1].split(" bytes")[0])
        stages = text.split("per frame: ")[-1].split(" (means)")[0]
        t_end = time.time() + 300
        while count_lines(out) < sent and time.time() < t_end:
            time.sleep(0.01)
        wall = time.monotonic() - t0
        cpu = sum(cpu_of(p.pid) for p in (redis, worker, logic)) - cpu0 + cam_cpu
        redis_cpu = cpu_of(redis.pid)
        wm, lm = metrics(wport), metrics(lport)
        for p in (worker, logic, redis):
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        batch = wm.get("fp_batch_size_sum", 0) / max(1, wm.get("fp_batch_size_count", 1)) or 1
        st = {"sent": sent, "bytes": nbytes / max(1, sent), "camera_stages": stages, "batch": batch,
              "decode_ms": hist_mean_ms(wm, "fp_dist_stage_seconds", 'stage="decode"') / batch,
              "infer_ms": hist_mean_ms(wm, "fp_dist_stage_seconds", 'stage="infer"') / batch,
              "post_ms": hist_mean_ms(wm, "fp_dist_stage_seconds", 'stage="post"') / batch,
              "transit_ms": hist_mean_ms(lm, "fp_dist_result_transit_seconds"),
              "redis_cpu_ms": 1000 * redis_cpu / max(1, sent),
              "duplicates": lm.get("fp_dist_duplicates_total", 0), "gaps": lm.get("fp_dist_gaps_total", 0)}
        return wall, cpu, st

    def start_rtsp(self):
        """The test RTSP server playing an H.264 copy of the clip (what it serves) in real time."""
        port, mp4 = free_port(), os.path.join(self.work, "megamind-h264.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", CLIP, "-c:v", "libx264", "-g", "25",
                        "-pix_fmt", "yuv420p", mp4], check=True)
        p = subprocess.Popen([self.rtsp, str(port), mp4], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        line, t_end = b"", time.monotonic() + 10
        while time.monotonic() < t_end and b"\n" not in line:
            if select.select([p.stdout], [], [], 0.2)[0]:
                line += os.read(p.stdout.fileno(), 64)
        if b"READY" not in line:
            p.kill()
            return None, None
        return p, f"rtsp://127.0.0.1:{port}/clip"


def iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy
    return ix * iy / u if u > 0 else 0.0


def agreement(ref, got):
    """(frames compared, frames whose detections agree within 2 px, frames with the same count,
    mean IoU of each detection with its best match in the reference)"""
    key = lambda r: (r["camera"], r["seq"])  # noqa: E731
    a = {key(r): r["detections"] for r in ref}
    same = count = total = 0
    ious = []
    for r in got:
        if key(r) not in a:
            continue
        total += 1
        x, y = a[key(r)], r["detections"]
        ok = len(x) == len(y)
        count += ok
        for d in y if ok else []:
            ok = ok and any(all(abs(d["box"][i] - e["box"][i]) <= 2.0 for i in range(4)) for e in x)
        for d in y:
            ious.append(max((iou(d["box"], e["box"]) for e in x), default=0.0))
        same += ok
    return total, same, count, (sum(ious) / len(ious) if ious else float("nan"))


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    build = args[0]
    reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
    live_s = float(args[args.index("--live-seconds") + 1]) if "--live-seconds" in args else 8.0
    md = args[args.index("--md") + 1] if "--md" in args else None
    work = tempfile.mkdtemp(prefix="bench-dist-")
    S = Setup(work, build)
    files = [CLIP] * CAMS
    runs = {"in-process": [], "dist-jpeg": [], "dist-raw": []}
    stats = {"dist-jpeg": [], "dist-raw": []}
    outs = {}
    for r in range(reps):
        for kind in runs:
            out = os.path.join(work, f"{kind}-{r}.jsonl")
            if kind == "in-process":
                wall, cpu = S.inprocess(files, out)
                n = count_lines(out)
            else:
                wall, cpu, st = S.distributed(files, out, kind.split("-")[1])
                n = st["sent"]
                stats[kind].append(st)
            runs[kind].append((n / wall, 1000 * cpu / n, n))
            outs[kind] = out
            print(f"rep {r} {kind}: {n} frames, {n / wall:.1f} fps, {1000 * cpu / n:.2f} ms CPU/frame", flush=True)
    ref = lines(outs["in-process"])
    agree = {k: agreement(ref, lines(outs[k])) for k in ("dist-jpeg", "dist-raw")}
    live = {}
    rtsp, url = S.start_rtsp()
    if rtsp:
        for kind in ("in-process", "dist-jpeg"):
            out = os.path.join(work, f"live-{kind}.jsonl")
            if kind == "in-process":
                S.inprocess([url] * CAMS, out, duration=live_s)
            else:
                S.distributed([url] * CAMS, out, "jpeg", duration=live_s)
            lat = [x["latency_ms"]["total"] for x in lines(out)[CAMS * 25:] if x["latency_ms"]["total"] is not None]
            live[kind] = (pct(lat, 0.5), pct(lat, 0.99), len(lat))
            print(f"live {kind}: p50 {live[kind][0]:.1f} ms p99 {live[kind][1]:.1f} ms ({live[kind][2]} frames)",
                  flush=True)
        rtsp.kill()
    md_lines = report(runs, stats, agree, live, reps, live_s)
    body = "\n".join(md_lines) + "\n"
    print(body)
    path = md or os.path.join(work, "distributed.md")
    with open(path, "w") as f:
        f.write(body)
    if "--no-update" not in args:
        subprocess.run([sys.executable, os.path.join(HERE, "update_results.py"), "distributed", path], check=True)


def report(runs, stats, agree, live, reps, live_s):
    L = ["## Distributed roles: in-process `framepipe run` vs camera -> worker -> logic over redis-server", ""]
    L.append(f"{platform.node()}: {os.cpu_count()} CPUs shared with other jobs (load average "
             f"{os.getloadavg()[0]:.1f} at the end), BlazeFace front 128, batch 4, release build; {CAMS} cameras "
             f"of opencv-doc's Megamind.avi (720x528); one worker, one logic, one redis-server (no persistence) on "
             f"the same machine. Medians of {reps} interleaved runs (min-max). `bench/bench_dist.py`.")
    L += ["", "| run | frames | fps | CPU ms/frame (all processes) |", "|---|---|---|---|"]
    base = statistics.median(x[0] for x in runs["in-process"])
    for k, v in runs.items():
        fps = [x[0] for x in v]
        cpu = [x[1] for x in v]
        L.append(f"| {k} | {v[0][2]} | {statistics.median(fps):.1f} ({min(fps):.1f}-{max(fps):.1f}); "
                 f"{statistics.median(fps) / base:.2f}x | {statistics.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) |")
    L += ["", "Where the time goes per frame (distributed, medians of the runs' means):", "",
          "| encoding | bytes/frame | camera: letterbox, encode, XADD | worker: decode+convert | model | post | "
          "result transit (worker XADD -> logic read) | redis-server CPU | batch |", "|---|---|---|---|---|---|---|---|---|"]
    for k, v in stats.items():
        m = lambda f: statistics.median(s[f] for s in v)  # noqa: E731
        L.append(f"| {k[5:]} | {m('bytes'):.0f} | {v[len(v) // 2]['camera_stages']} | {m('decode_ms'):.3f} ms | "
                 f"{m('infer_ms'):.3f} ms | {m('post_ms'):.3f} ms | {m('transit_ms'):.3f} ms | "
                 f"{m('redis_cpu_ms'):.3f} ms | {m('batch'):.2f} |")
    L += ["", "Detections vs in-process, per frame: " + "; ".join(
        f"{k[5:]}: same count {c} of {t} ({100 * c / max(1, t):.1f} %), every box within 2 px {s} "
        f"({100 * s / max(1, t):.1f} %), mean IoU with the in-process box {m:.3f}"
        for k, (t, s, c, m) in agree.items()), ""]
    if live:
        L += [f"Live ({CAMS} RTSP clients of `tests/ingest/fp_rtsp_server`, real-time playback, {live_s:.0f} s, "
              "first second per camera left out), latency capture -> result (JSON lines `latency_ms.total`; "
              "distributed: camera decode wall clock -> logic delivery):", "",
              "| run | p50 ms | p99 ms | frames |", "|---|---|---|---|"]
        for k, (p50, p99, n) in live.items():
            L.append(f"| {k} | {p50:.1f} | {p99:.1f} | {n} |")
    return L


if __name__ == "__main__":
    main()
