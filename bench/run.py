#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# framepipe's benchmark driver: the seed's claims measured side by side on this machine, tables + PNG plots.
"""usage: /usr/bin/python3 bench/run.py [--quick] [--out DIR] [options]

  --quick             fewer repetitions and frames (under 2 minutes once the clips exist)
  --out DIR           where RESULTS.md and the PNG plots go (default: bench-out)
  --build DIR         framepipe's build folder (default: build/release)
  --framepipe PATH    the framepipe binary (default: BUILD/apps/framepipe)
  --only LIST         parts to run, any of zerocopy,memory,video,latency,batching,distributed
  --reps N            repetitions per measurement (default 5, --quick 3)
  --provider P        cpu (default), cuda or tensorrt: the execution provider of the model runs
  --threads N         ORT intra-op threads of part 5 (default 0: one per core)
  --tiny              tiny inputs (320x240 frames, short clips): for the test, not for numbers
  --no-update         a full run leaves bench/RESULTS.md alone (else a full run of every part replaces
                      its section "run" there)

Parts, in this order (docs/BENCHMARKS.md explains each and shows a reference run):
  1 zerocopy   one RGB frame producer -> processing process -> JSON result back: (a) the seed's traditional
               path (base64 + JSON + HTTP POST, Node.js), (b) raw bytes over a child's stdin (Node.js),
               (c) framepipe's shared-memory ring (bench/zc_ring), (d) a raw-body POST /api/detect to
               `framepipe serve --listen 127.0.0.1:PORT MODEL` (only when that command exists)
  2 memory     1,000 1080p frames through `framepipe detect` with the pool vs FP_POOL_BYPASS=1 (malloc/free
               per buffer): peak RSS, RSS over time, allocator calls per frame (LD_PRELOAD counter
               bench/alloc_preload.c), page faults per frame, pool hit rate
  3 video      300-frame 720p / 1080p / 4K clips through face detection: per-frame time, fps, 30 fps?
  4 latency    a live-paced 1080p RTSP camera (the test RTSP server): per-stage p50/p99 from /metrics
  5 batching   images/s vs batch size 1..32 through FpModel (bench/batch_infer): the YOLOv8 test model, the
               dynamic-batch BlazeFace copy (scripts/setup.d/35-dynamic-batch.sh) and the batch-1 original
  6 distributed  capture -> result latency p50/p99 of live RTSP cameras: in-process `framepipe run` vs
               `framepipe camera` -> `worker` -> `logic` over a local redis-server (bench/bench_dist.py's Setup)

Every figure is a median over the repetitions with min-max; the programs compared in one part take
turns (the order rotates each repetition). Everything started here is stopped by pid at the end.
"""
import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench_pipeline as bp  # noqa: E402  (clip generation, process helpers, RTSP server start)

CACHE = bp.CACHE
MODEL = os.path.join(CACHE, "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
PARTS = ["zerocopy", "memory", "video", "latency", "batching", "distributed"]
SEED = {
    "zerocopy": "seed: traditional 5.23 ms (191 ops/s), zero-copy 0.85 ms (1,173 ops/s): 6.14x",
    "memory": "seed: 18.32 MB vs 2.45 MB for 1,000 operations (86.63 % less); 413 MB vs 267 MB peak for 50 "
              "images; 12 buffers for 50 images; pool hit rate 99 %+",
    "video": {"720p": (18.2, 54.95), "1080p": (28.5, 35.09), "4K": (92.3, 10.83)},
    "latency": "seed: 45 ms before, 12 ms after",
    "distributed": "seed: camera managers -> batch-inference workers -> logic workers over Redis, latency under "
                   "50 ms",
}


# ---------------------------------------------------------------- small helpers

class Progress:
    """One progress line on stderr: rewritten in place on a terminal, one line per step otherwise."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()

    def __call__(self, part, msg):
        line = f"[bench {time.monotonic() - self.t0:5.0f} s] {part}: {msg}"
        if self.tty:
            sys.stderr.write("\r\x1b[K" + line[:150])
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def done(self):
        if self.tty:
            sys.stderr.write("\n")


def med(v):
    return statistics.median(v) if v else float("nan")


def fig(v, fmt="{:.2f}", bold=False):
    """median (min-max) of a list, as a Markdown cell."""
    v = [x for x in v if x is not None and not math.isnan(x)]
    if not v:
        return "-"
    m = fmt.format(med(v))
    m = f"**{m}**" if bold else m
    return m if len(v) == 1 else f"{m} ({fmt.format(min(v))}-{fmt.format(max(v))})"


def table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def cmdline(argv):
    text = " ".join(shlex.quote(bp.rel(a)) if a.startswith(ROOT) else shlex.quote(a) for a in argv)
    return re.sub(r"/tmp/fp-bench-[a-z]+-[A-Za-z0-9_]+/", "TMP/", text.replace(CACHE, "$FP_CACHE_DIR"))


TMPDIRS = []


def tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    TMPDIRS.append(d)
    return d


def rotate(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def first_line(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def machine(args):
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        mem = f"{int(open('/proc/meminfo').readline().split()[1]) / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    fpv = first_line([args.framepipe, "version"]) if os.access(args.framepipe, os.X_OK) else "not built"
    ff = first_line(["ffmpeg", "-version"]).split(" Copyright")[0]
    node = first_line(["node", "--version"])
    return (f"{len(os.sched_getaffinity(0))} CPUs (`nproc`), {cpu}, {mem}, Linux {platform.release()}; "
            f"{fpv}; {ff}; Node.js {node}; Python {platform.python_version()}; execution provider "
            f"{args.provider}; load average (1 min) at the start: {os.getloadavg()[0]:.2f}")


# ---------------------------------------------------------------- part 1: zero-copy vs traditional

def part_zerocopy(args, out, say):
    w, h = (320, 240) if args.tiny else (1920, 1080)
    frames = {"traditional": 3 if args.tiny else (8 if args.quick else 20),
              "stdin": 5 if args.tiny else (30 if args.quick else 100),
              "ring": 5 if args.tiny else (30 if args.quick else 100)}
    warm = 1 if args.tiny else 3
    zc_ring = os.path.join(args.build, "bench", "zc_ring")
    paths = {
        "traditional": ("(a) traditional (Node.js): base64 + JSON + HTTP POST",
                        ["node", os.path.join(HERE, "zc_node.js"), "traditional"]),
        "stdin": ("(b) stdin (Node.js): raw bytes over a child's stdin",
                  ["node", os.path.join(HERE, "zc_node.js"), "stdin"]),
        "ring": ("(c) framepipe ring (C): shared-memory FpRing, read in place", [zc_ring]),
    }
    serve_note = serve_available(args)
    notes = []
    server, serve_argv = None, None
    if serve_note is None:
        frames["api"] = frames["stdin"]
        server, port, serve_argv, why_not = start_serve(args, say)
        serve_cmd = cmdline(serve_argv).replace(f"127.0.0.1:{port}", "127.0.0.1:PORT")
        if server is None:
            notes.append(f"(d) `POST /api/detect` raw body: not measured, `{serve_cmd}` did not start: "
                         f"{why_not}.")
        else:
            paths["api"] = ("(d) framepipe serve: raw body POST /api/detect (detection included)",
                            ["node", os.path.join(HERE, "zc_node.js"), "api", "--port", str(port)])
            notes.append("(d) `POST /api/detect` raw body does more than (a)-(c): framepipe serve also runs face "
                         "detection on the frame "
                         "(prep, BlazeFace, post) and answers its detections; server: `" + serve_cmd + "`.")
    else:
        notes.append(f"(d) `POST /api/detect` raw body: skipped, {serve_note}.")
    res = {k: [] for k in paths}
    fail = {}
    order = list(paths)
    for rep in range(args.reps):
        for k in rotate(order, rep):
            if k in fail:
                continue
            say("1 zero-copy", f"repetition {rep + 1}/{args.reps}: {k} ({frames[k]} frames of {w}x{h})")
            argv = paths[k][1] + ["--frames", str(frames[k]), "--warmup", str(warm), "--width", str(w),
                                  "--height", str(h)]
            r = bp.run(argv, timeout=600)
            j = bp.last_json(r["stdout"]) if r["rc"] == 0 else None
            if not j or not j.get("ms"):
                fail[k] = bp.why(r)
                continue
            res[k].append(j["ms"])
    if server is not None:
        bp.stop(server.pid)
    if "api" in fail:  # the other branch's service: reported beside the table, not as a broken path of this one
        notes.append(f"(d) failed while measured: {fail.pop('api')}.")
        paths.pop("api")
    reps_med = {k: [med(v) for v in res[k]] for k in res}
    base = med(reps_med["traditional"]) if reps_med["traditional"] else float("nan")
    rows = []
    for k, (label, argv) in paths.items():
        if k in fail:
            rows.append([label, f"failed: {fail[k]}", "-", "-", "-"])
            continue
        ms = reps_med[k]
        all_ms = sorted(x for v in res[k] for x in v)
        p99 = all_ms[min(len(all_ms) - 1, int(len(all_ms) * 0.99))] if all_ms else float("nan")
        ratios = [base / m for m in ms] if base == base else []
        rows.append([label, fig(ms, "{:.2f}", bold=True), fig([1000 / m for m in ms], "{:.0f}"),
                     f"{p99:.2f}", fig(ratios, "{:.1f}x") if ratios else "-"])
    mb = w * h * 3 / 1e6
    md = [f"One {w}x{h} RGB frame ({mb:.1f} MB) from a producer process to a processing process and a JSON "
          f"result back, one frame in flight (request/response). Every path does the same work: the producer "
          f"fills the frame (every byte written, like a decoder), the processing process computes a checksum "
          f"(the byte at every 64th offset) and answers JSON, the producer parses and checks it. Per-frame "
          f"time = fill start to parsed result; median over each repetition's frames, then median "
          f"(min-max) over {args.reps} repetitions, paths interleaved; frames per repetition: "
          + ", ".join(f"{k} {v}" for k, v in frames.items()) + f" (after {warm} warm-up).", "",
          table(["path", "ms per frame", "frames/s", "p99 ms (all frames)", "speed-up vs (a)"], rows), "",
          *[f"- {n}" for n in notes],
          f"- {SEED['zerocopy']} (the seed's frame size is not stated).", "",
          "Commands (one repetition):", "", "```",
          *[cmdline(a + ["--frames", str(frames[k]), "--warmup", str(warm), "--width", str(w), "--height",
                         str(h)]) for k, (_, a) in paths.items()], "```"]
    plot_zerocopy(out, paths, reps_med, fail, w, h)
    return "\n".join(md), ["zerocopy.png"]


def start_serve(args, say):
    """Starts `framepipe serve` on a free 127.0.0.1 port: (Popen, port, argv, None) or (None, 0, argv, why)."""
    port = bp.free_port()
    argv = [args.framepipe, "serve", "--listen", f"127.0.0.1:{port}", MODEL]
    say("1 zero-copy", "starting framepipe serve for (d)")
    with tempfile.TemporaryFile() as err:
        p = bp.spawn(argv, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return p, port, argv, None
            except OSError:
                time.sleep(0.2)
        bp.stop(p.pid)
        err.seek(0)
        tail = [ln for ln in err.read().decode(errors="replace").splitlines() if ln.strip()]
        return None, port, argv, (tail[-1][:160] if tail else "no answer on 127.0.0.1:%d within 30 s" % port)


def serve_available(args):
    """None when `framepipe serve` exists, else why (d) is skipped."""
    if not os.access(args.framepipe, os.X_OK):
        return f"no framepipe at {bp.rel(args.framepipe)}"
    r = bp.run([args.framepipe, "serve", "--help"], timeout=30)
    if r["rc"] != 0 or "unknown command" in (r["stdout"] + r["stderr"]):
        return "this framepipe has no `serve` command yet (it is being built on another branch)"
    return None


# ---------------------------------------------------------------- part 2: memory

def sample_rss(pid, samples, stop_evt, t0):
    path = f"/proc/{pid}/status"
    while not stop_evt.is_set():
        try:
            for line in open(path):
                if line.startswith("VmRSS:"):
                    samples.append((time.monotonic() - t0, int(line.split()[1]) / 1024))
                    break
        except (OSError, ValueError):
            break
        stop_evt.wait(0.02)


def run_measured(argv, env, timeout=900):
    """Runs argv with RSS sampled every 20 ms: rc, wall, rusage, samples, stderr tail."""
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env,
                             start_new_session=True)
        bp.STARTED[p.pid] = p
        samples, stop_evt = [], threading.Event()
        th = threading.Thread(target=sample_rss, args=(p.pid, samples, stop_evt, t0), daemon=True)
        th.start()
        res = {}

        def reap():
            _, status, ru = os.wait4(p.pid, 0)
            res.update(status=status, ru=ru, t1=time.monotonic())
        rt = threading.Thread(target=reap, daemon=True)
        rt.start()
        rt.join(timeout)
        if rt.is_alive():
            bp.stop(p.pid)
            rt.join(5)
        bp.STARTED.pop(p.pid, None)
        stop_evt.set()
        th.join()
        err.seek(0)
        return {"rc": os.waitstatus_to_exitcode(res["status"]) if "status" in res else None,
                "wall": res.get("t1", time.monotonic()) - t0, "ru": res.get("ru"), "samples": samples,
                "stderr": err.read().decode(errors="replace")[-2000:]}


def sanitized(binary):
    r = bp.run(["ldd", binary], timeout=30)
    return "libasan" in r["stdout"] or "libtsan" in r["stdout"]


def part_memory(args, out, say):
    if args.tiny:
        w, h, n = 320, 240, 60
    else:
        w, h, n = 1920, 1080, 300 if args.quick else 1000
    clip = bp.make_clip(w, h, n, False)
    short = max(10, n // 5)
    preload = os.path.join(args.build, "bench", "libfp_alloc_preload.so")
    count_ok = os.path.exists(preload) and not sanitized(args.framepipe)
    modes = {"pool": "framepipe pool (default)", "bypass": "FP_POOL_BYPASS=1 (malloc/free per buffer)"}
    data = {m: [] for m in modes}
    fail = {}
    curves = {}
    tmp = tmpdir("fp-bench-mem-")
    for rep in range(args.reps):
        for m in rotate(list(modes), rep):
            if m in fail:
                continue
            row = {}
            for frames in (n, short):
                say("2 memory", f"repetition {rep + 1}/{args.reps}: {m}, {frames} frames of {w}x{h}")
                summ = os.path.join(tmp, f"s-{m}-{frames}.json")
                counts = os.path.join(tmp, f"c-{m}-{frames}-{rep}.json")
                env = dict(os.environ)
                env.pop("FP_POOL_BYPASS", None)
                if m == "bypass":
                    env["FP_POOL_BYPASS"] = "1"
                if count_ok:
                    env["LD_PRELOAD"] = preload
                    env["FP_ALLOC_COUNT_OUT"] = counts
                argv = [args.framepipe, "detect", "--quiet", "-o", "/dev/null", "--summary", summ,
                        "--provider", args.provider, "--threads", "1"]
                if frames != n:
                    argv += ["--stop", f"{frames / 30:.3f}"]
                argv += [MODEL, clip]
                r = run_measured(argv, env)
                s = None
                try:
                    s = json.load(open(summ))
                except (OSError, ValueError):
                    pass
                if r["rc"] != 0 or not s:
                    fail[m] = bp.why({"rc": r["rc"], "stderr": r["stderr"]})
                    break
                c = None
                if count_ok:
                    try:
                        c = [json.loads(x) for x in open(counts)][-1]
                    except (OSError, ValueError, IndexError):
                        c = None
                row[frames] = {"frames": s["frames"], "rss": r["ru"].ru_maxrss / 1024, "minflt": r["ru"].ru_minflt,
                               "counts": c, "hit": s.get("pool_hit_rate"), "wall": r["wall"], "fps": s.get("fps")}
                if frames == n and rep == 0:
                    curves[m] = r["samples"]
                    cmd = cmdline(argv)
                    row["cmd"] = ("FP_POOL_BYPASS=1 " if m == "bypass" else "") + (
                        "LD_PRELOAD=build/release/bench/libfp_alloc_preload.so " if count_ok else "") + cmd
            if m in fail:
                continue
            a, b = row[n], row[short]
            df = a["frames"] - b["frames"]
            entry = {"rss": a["rss"], "frames": a["frames"], "hit": a["hit"], "fps": a["fps"], "cmd": row.get("cmd")}
            entry["flt_pf"] = (a["minflt"] - b["minflt"]) / df if df > 0 else float("nan")
            if a["counts"] and b["counts"] and df > 0:
                entry["alloc_pf"] = (a["counts"]["allocs"] - b["counts"]["allocs"]) / df
                entry["free_pf"] = (a["counts"]["frees"] - b["counts"]["frees"]) / df
                entry["alloc_total"] = a["counts"]["allocs"]
            data[m].append(entry)
    rows, cmds = [], []
    for m, label in modes.items():
        if m in fail:
            rows.append([label, f"failed: {fail[m]}"] + ["-"] * 6)
            continue
        e = data[m]
        g = lambda k: [x[k] for x in e if k in x]  # noqa: E731
        rows.append([label, fig(g("rss"), "{:.0f}", bold=True),
                     fig(g("alloc_pf"), "{:.2f}") if count_ok else "not counted",
                     fig(g("free_pf"), "{:.2f}") if count_ok else "not counted",
                     fig(g("alloc_total"), "{:.0f}") if count_ok else "-",
                     fig(g("flt_pf"), "{:.0f}"), fig(g("hit"), "{:.3f}"), fig(g("fps"), "{:.0f}")])
        if e and e[0].get("cmd"):
            cmds.append(e[0]["cmd"])
    md = [f"`framepipe detect` (BlazeFace front 128, 1 ORT thread) over a {n}-frame {w}x{h} H.264 clip, with "
          f"framepipe's buffer pools vs `FP_POOL_BYPASS=1`, which makes every pool allocate each buffer with "
          f"malloc (posix_memalign) and free it when the last reference goes (docs/pool.md). Allocator calls are "
          f"counted by an LD_PRELOAD library (`bench/alloc_preload.c`: malloc, calloc, realloc, posix_memalign, "
          f"aligned_alloc, memalign, mmap, free, munmap of the process and all its libraries, ONNX Runtime and "
          f"libav included). Per frame = the difference between the full run and a run stopped after "
          f"{short} frames (`--stop`), divided by the frames between them: start-up and model load cancel out. "
          f"Page faults per frame (minor faults, same difference) show the cost of a fresh buffer: glibc maps "
          f"blocks above its mmap threshold fresh from the kernel, and every page faults on first touch. Peak "
          f"RSS = the kernel's ru_maxrss. Hit rate = the frame pool's, over the whole run (from the summary). "
          f"Median (min-max) over {args.reps} repetitions, modes interleaved.", "",
          table(["mode", "peak RSS MiB", "allocations per frame", "frees per frame", f"allocations, whole run",
                 "page faults per frame", "pool hit rate", "fps"], rows), "",
          f"- {SEED['memory']}.",
          "- The RSS-over-time plot (memory_rss.png) is the first repetition of each mode, sampled every 20 ms "
          "from /proc/PID/status.",
          *(["- Allocation counts: not counted (a sanitizer build: its allocator cannot be interposed)."]
            if not count_ok else []), "", "Commands:", "", "```", *cmds, "```"]
    plot_memory(out, curves, modes)
    return "\n".join(md), ["memory_rss.png"]


# ---------------------------------------------------------------- part 3: video table

def part_video(args, out, say):
    n = 30 if args.tiny else (100 if args.quick else 300)
    sizes = [("240p", 320, 240), ("360p", 640, 360)] if args.tiny else \
        [("720p", 1280, 720), ("1080p", 1920, 1080), ("4K", 3840, 2160)]
    clips = {}
    for name, w, h in sizes:
        say("3 video", f"clip {name} ({n} frames; generated once into $FP_CACHE_DIR/bench)")
        clips[name] = bp.make_clip(w, h, n, False)
    res = {name: [] for name, _, _ in sizes}
    fail = {}
    tmp = tmpdir("fp-bench-video-")
    argv_of = {}
    for rep in range(args.reps):
        for name, w, h in rotate(sizes, rep):
            if name in fail:
                continue
            say("3 video", f"repetition {rep + 1}/{args.reps}: {name} ({n} frames)")
            summ = os.path.join(tmp, f"{name}.json")
            argv = [args.framepipe, "detect", "--quiet", "-o", "/dev/null", "--summary", summ, "--provider",
                    args.provider, MODEL, clips[name]]
            argv_of[name] = argv
            r = bp.run(argv, timeout=900)
            try:
                s = json.load(open(summ))
            except (OSError, ValueError):
                s = None
            if r["rc"] != 0 or not s or not s.get("frames"):
                fail[name] = bp.why(r)
                continue
            res[name].append({"fps": s["frames"] / r["wall"], "own_fps": s["fps"], "p50": s["latency_ms"]["p50"],
                              "p99": s["latency_ms"]["p99"], "frames": s["frames"]})
            os.unlink(summ)
    rows = []
    for name, w, h in sizes:
        seed = SEED["video"].get(name)
        seed_cells = [f"{seed[0]} ms / {seed[1]} fps" if seed else "-"]
        if name in fail:
            rows.append([f"{name} ({w}x{h})", f"failed: {fail[name]}", "-", "-", "-", "-"] + seed_cells)
            continue
        e = res[name]
        fps = [x["fps"] for x in e]
        sustained = "yes" if fps and min(fps) >= 30 else ("no" if fps and max(fps) < 30 else "at times")
        rows.append([f"{name} ({w}x{h})", fig([1000 / f for f in fps], "{:.2f}", bold=True), fig(fps, "{:.1f}"),
                     sustained, fig([x["p50"] for x in e], "{:.1f}"), fig([x["p99"] for x in e], "{:.1f}")]
                    + seed_cells)
    md = [f"`framepipe detect` (BlazeFace front 128 face detection, default threads and batching) over {n}-frame "
          f"H.264 clips generated from OpenCV's Megamind.avi sample (scaled, 30 fps), decode included, as fast as "
          f"it goes. ms per frame = process wall time (start to exit, model load included) / frames; fps its "
          f"inverse; latency = decoded -> JSON line written (from the summary). Median (min-max) over "
          f"{args.reps} repetitions, clips interleaved. 30 fps sustained: yes when every repetition's fps >= 30.",
          "", table(["clip", "ms per frame", "fps", "30 fps sustained", "latency p50 ms", "latency p99 ms",
                     "seed (its machine, not this one)"], rows), "", "Commands:", "", "```",
          *[cmdline(a) for a in argv_of.values()], "```"]
    plot_video(out, sizes, res, fail)
    return "\n".join(md), ["video.png"]


# ---------------------------------------------------------------- part 4: latency

def scrape(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return None


def histograms(text, name):
    """{stage: [(le, cumulative count), ...]} of a Prometheus histogram with a stage label."""
    out = {}
    for m in re.finditer(rf'^{name}_bucket{{([^}}]*)}} (\S+)$', text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        le = float("inf") if labels.get("le") == "+Inf" else float(labels.get("le", "nan"))
        out.setdefault(labels.get("stage", labels.get("camera", "?")), []).append((le, float(m.group(2))))
    return {k: sorted(v) for k, v in out.items()}


def quantile(buckets, q):
    """q-quantile from cumulative buckets, linear inside the bucket (the Prometheus way)."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return float("nan")
    want = q * total
    lo_le, lo_c = 0.0, 0.0
    for le, c in buckets:
        if c >= want:
            if le == float("inf"):
                return lo_le
            return lo_le + (le - lo_le) * ((want - lo_c) / (c - lo_c) if c > lo_c else 1)
        lo_le, lo_c = le, c
    return lo_le


def part_latency(args, out, say):
    w, h = (320, 240) if args.tiny else (1920, 1080)
    dur = 4 if args.tiny else (12 if args.quick else 30)
    server = os.path.join(args.build, "tests", "ingest", "fp_rtsp_server")
    clip = bp.make_clip(w, h, 150 if args.tiny else 1050, True)
    tmp = tmpdir("fp-bench-lat-")
    reps = 1 if args.tiny else max(1, args.reps // 2)
    per = []
    fail = None
    cmd = None
    for rep in range(reps):
        pid, url = bp.start_rtsp(server, clip)
        if pid is None:
            fail = url
            break
        port = bp.free_port()
        cfg = os.path.join(tmp, "live.yaml")
        with open(cfg, "w") as f:
            f.write("\n".join(cfg_lines := ["cameras:", "  - name: cam0", f"    url: {url}", "    policy: latest",
                               "model:", f"  path: {MODEL}", "  threads: 1", f"  provider: {args.provider}",
                               "batch:", "  max_batch: 1", "  max_wait: 5ms", "output:", "  jsonl: /dev/null",
                               f"  http: 127.0.0.1:{port}", ""]))
        summ = os.path.join(tmp, "summary.json")
        argv = [args.framepipe, "run", "--quiet", "--duration", str(dur), "--summary", summ, cfg]
        cmd = cmdline(argv)
        p = bp.spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        metrics = None
        t_end = time.monotonic() + dur + 30
        say("4 latency", f"repetition {rep + 1}/{reps}: live {w}x{h} RTSP camera, {dur} s")
        while time.monotonic() < t_end and p.poll() is None:
            text = scrape(f"http://127.0.0.1:{port}/metrics")
            if text and "fp_stage_latency_seconds_bucket" in text:
                metrics = text
            time.sleep(0.5)
        if p.poll() is None:
            bp.stop(p.pid)
        err = p.stderr.read().decode(errors="replace") if p.stderr else ""
        bp.STARTED.pop(p.pid, None)
        bp.stop(pid)
        if not metrics:
            fail = "no /metrics from framepipe run: " + (err.strip().splitlines() or ["?"])[-1][:160]
            break
        per.append(histograms(metrics, "fp_stage_latency_seconds"))
    stages = ["decode", "queue", "prep", "infer", "post", "output", "total"]
    rows, q = [], {}
    for st in stages:
        p50 = [quantile(x[st], 0.5) * 1e3 for x in per if st in x]
        p99 = [quantile(x[st], 0.99) * 1e3 for x in per if st in x]
        q[st] = (med(p50), med(p99))
        if p50:
            rows.append([st, fig(p50, "{:.2f}"), fig(p99, "{:.2f}")])
    if fail:
        return (f"Skipped: {fail}.", [])
    md = [f"One live-paced {w}x{h} 30 fps RTSP camera (the project's test RTSP server, gst-rtsp-server on "
          f"127.0.0.1, real-time playback), `framepipe run --duration {dur}` with policy latest, max_batch 1; "
          f"per-stage latency from framepipe's own histograms (`fp_stage_latency_seconds` on /metrics, scraped "
          f"just before the end; p50/p99 interpolated inside the histogram's buckets, so they are as coarse as "
          f"the buckets). Stages as the pipeline measures them: queue = frame decoded -> taken into a batch; "
          f"prep, infer, post = per batch; output = the sinks of one frame (JSON line written); total = decoded "
          f"-> output done, per frame; decode = the source thread's time inside libavcodec per frame (with "
          f"decoder threads, part of the work runs on libavcodec's threads: not seen), before the total's "
          f"origin. A stage's p99 and the total's come from different frames, so the stages' p99s need not "
          f"add up to the total's. Median (min-max) over {reps} run(s).", "",
          table(["stage", "p50 ms", "p99 ms"], rows), "",
          f"- {SEED['latency']} (end to end).", "", "Command and config (PORT: a free port per run):", "", "```",
          cmd or "", "```", "", "```yaml",
          *[re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", ln).replace(CACHE, "$FP_CACHE_DIR")
            for ln in cfg_lines if ln],
          "```"]
    plot_latency(out, per, stages, q, f"{w}x{h}")
    return "\n".join(md), ["latency_stages.png", "latency_cdf.png"]


# ---------------------------------------------------------------- part 5: batching

def part_batching(args, out, say):
    batches = [1, 2, 4] if args.tiny else [1, 2, 4, 8, 16, 32]
    block_ms = 30 if args.tiny else (150 if args.quick else 400)
    tool = os.path.join(args.build, "bench", "batch_infer")
    dyn = os.path.join(CACHE, "models", "blazeface-dynamic", os.path.basename(MODEL))
    models = [("YOLOv8 test model 320x320 (models/yolov8_test_320.onnx, dynamic batch)",
               os.path.join(ROOT, "models", "yolov8_test_320.onnx")),
              ("BlazeFace front 128, dynamic-batch copy (scripts/setup.d/35-dynamic-batch.sh)", dyn),
              ("BlazeFace front 128, npm original (batch fixed at 1: N items run one by one)", MODEL)]
    res = {label: {b: [] for b in batches} for label, _ in models}
    fail, argv_of = {}, {}
    for label, path in models:
        if not os.path.exists(path):
            fail[label] = f"not available: {bp.rel(path).replace(CACHE, '$FP_CACHE_DIR')} missing (run " \
                          f"scripts/setup.d/35-dynamic-batch.sh)"
    for rep in range(args.reps):
        for label, path in rotate(models, rep):
            if label in fail:
                continue
            say("5 batching", f"repetition {rep + 1}/{args.reps}: {label.split(' (')[0]}, batch "
                f"{','.join(map(str, batches))}")
            argv = [tool, "--batches", ",".join(map(str, batches)), "--blocks", "1", "--block-ms", str(block_ms),
                    "--threads", str(args.threads), "--provider", args.provider, path]
            argv_of[label] = argv
            r = bp.run(argv, timeout=600)
            j = bp.last_json(r["stdout"]) if r["rc"] == 0 else None
            if not j:
                fail[label] = bp.why(r)
                continue
            for b in batches:
                res[label][b] += j["ips"][str(b)]
    head = ["model"] + [f"batch {b}" for b in batches] + [f"best / batch 1"]
    rows = []
    for label, _ in models:
        if label in fail:
            rows.append([label, f"failed: {fail[label]}" if not fail[label].startswith("not available")
                         else fail[label]] + ["-"] * len(batches))
            continue
        r = res[label]
        b1 = med(r[1])
        best = max(batches, key=lambda b: med(r[b]))
        rows.append([label] + [fig(r[b], "{:.0f}", bold=(b == best)) for b in batches]
                    + [f"{med(r[best]) / b1:.2f}x (batch {best})"])
    thr = "one per core (ORT's default)" if args.threads == 0 else str(args.threads)
    md = [f"Images per second through FpModel (ONNX Runtime, provider {args.provider}, intra-op threads: {thr}) at "
          f"each batch size, the input a fixed pattern, no decode or pre-processing: `bench/batch_infer` loads the "
          f"model once and runs every batch size for {block_ms} ms in a rotating order, one block each per "
          f"invocation; median (min-max) over {args.reps} invocations, the models taking turns. The npm BlazeFace "
          f"declares batch 1, so FpModel runs a batch of N as N runs: that row is the sequential baseline for the "
          f"dynamic-batch copy (made at setup by `scripts/dynamic_batch.py` with python3-onnx, checked against the "
          f"original with onnxruntime-node by `scripts/verify_dynamic_batch.js`).", "",
          table(head, rows), "",
          "- seed: batching gives ~400 % throughput vs sequential, on a GPU. On a CPU a batch only amortises the "
          "per-run overhead (session call, thread-pool wake-ups) and may help or hurt cache use; a GPU needs "
          "large batches to fill its cores. "
          + ("No GPU was used for these numbers." if args.provider == "cpu" else
             f"Provider {args.provider} was asked for (FpModel fails rather than fall back)."),
          "- On a GPU: `/usr/bin/python3 bench/run.py --only batching --provider cuda` (or `tensorrt`), with an "
          "ONNX Runtime GPU build (docs/inference.md).", "", "Commands (one repetition):", "", "```",
          *[cmdline(a) for a in argv_of.values()], "```"]
    plot_batching(out, models, batches, res, fail, args.provider)
    return "\n".join(md), ["batching.png"]


def plot_batching(out, models, batches, res, fail, provider):
    plt = plt_mod()
    fig_, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, (label, _) in enumerate(models):
        if label in fail:
            continue
        r = res[label]
        m = [med(r[b]) for b in batches]
        err = [[m[i] - min(r[b]) for i, b in enumerate(batches)], [max(r[b]) - m[i] for i, b in enumerate(batches)]]
        short = label.split(" (")[0]
        ax.errorbar(batches, m, yerr=err, marker="o", capsize=3, label=short)
        ax2.plot(batches, [x / m[0] for x in m], marker="o", label=short)
    for a in (ax, ax2):
        a.set_xscale("log", base=2)
        a.set_xticks(batches, [str(b) for b in batches])
        a.set_xlabel("batch size")
        a.grid(alpha=0.3)
    ax.set_yscale("log")
    ax.set_ylabel("images per second (log scale)")
    ax.set_title(f"Inference throughput vs batch size ({provider})")
    ax2.axhline(1, color="#888", ls="--")
    ax2.set_ylabel("throughput relative to batch 1")
    ax2.set_title("What batching buys on this machine")
    ax.legend(fontsize=8)
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "batching.png"), dpi=90)
    plt.close(fig_)


# ---------------------------------------------------------------- part 6: distributed

def captured(result):
    """A JSON line's capture_time (ISO 8601, UTC) in seconds."""
    import datetime
    return datetime.datetime.fromisoformat(result["capture_time"].replace("Z", "+00:00")).timestamp()


def part_distributed(args, out, say):
    """Capture -> result latency of live RTSP cameras: in-process `framepipe run` vs camera -> worker -> logic
    over a local redis-server (bench/bench_dist.py's Setup, one run of each per repetition, order rotating)."""
    import bench_dist as bd
    if not shutil.which("redis-server"):
        return "Skipped: redis-server is not installed (Debian package redis-server).", []
    w, h = (320, 240) if args.tiny else (720, 528)
    cams = 1 if args.tiny else bd.CAMS
    dur = 4 if args.tiny else (6 if args.quick else 15)  # under the clips: 5 s tiny, 35 s else
    reps = 1 if args.tiny else max(1, args.reps // 2)
    server = os.path.join(args.build, "tests", "ingest", "fp_rtsp_server")
    clip = bp.make_clip(w, h, 150 if args.tiny else 1050, True)
    work = tmpdir("fp-bench-dist-")
    S = bd.Setup(work, args.build)
    S.fp = args.framepipe
    kinds = ["in-process", "dist-jpeg"]
    lat = {k: [] for k in kinds}
    frames = {k: [] for k in kinds}
    fail = None
    pid, url = bp.start_rtsp(server, clip)
    if pid is None:
        return f"Skipped: {url}.", []
    try:
        for rep in range(reps):
            for kind in rotate(kinds, rep):
                say("6 distributed", f"repetition {rep + 1}/{reps}: {kind}, {cams} live {w}x{h} RTSP camera(s), "
                    f"{dur} s")
                res = os.path.join(work, f"{kind}-{rep}.jsonl")
                if kind == "in-process":
                    S.inprocess([url] * cams, res, duration=dur)
                else:
                    S.distributed([url] * cams, res, "jpeg", duration=dur)
                # the first second of results left out (connections, model warm-up), by capture time
                got = [x for x in bd.lines(res) if x.get("latency_ms", {}).get("total") is not None]
                t_first = min((captured(x) for x in got), default=0.0)
                ms = [x["latency_ms"]["total"] for x in got if captured(x) >= t_first + 1.0]
                if not ms:
                    fail = f"{kind}: no results after the first second"
                    break
                lat[kind].append((bd.pct(ms, 0.5), bd.pct(ms, 0.99)))
                frames[kind].append(len(ms))
            if fail:
                break
    except SystemExit as e:  # bench_dist's helpers exit with a message when a role fails
        fail = str(e)
    finally:
        S.stop_all()
        bp.stop(pid)
    if fail:
        return f"Failed: {fail}.", []
    rows = []
    for k in kinds:
        p50 = [x[0] for x in lat[k]]
        p99 = [x[1] for x in lat[k]]
        rows.append([k, fig(p50, "{:.1f}"), fig(p99, "{:.1f}"), f"{statistics.median(frames[k]):.0f}"])
    md = [f"{cams} live-paced {w}x{h} 30 fps RTSP camera(s) (the project's test RTSP server, real-time playback), "
          f"{dur} s per run, BlazeFace front 128, batch 4, policy latest. in-process: `framepipe run`; dist-jpeg: "
          f"`framepipe camera`, `worker` and `logic` (JPEG q85) over one local redis-server (no persistence), all "
          f"on this machine. Latency capture -> result: the JSON lines' `latency_ms.total` (in-process: decoded "
          f"-> output written; distributed: the camera role's decode, wall clock -> the logic role's delivery), "
          f"the first second of results (by capture time) left out; p50/p99 per run, median (min-max) over {reps} run(s).", "",
          table(["run", "p50 ms", "p99 ms", "frames"], rows), "",
          f"- {SEED['distributed']}", "",
          "Commands (bench/bench_dist.py's Setup; throughput, where the time goes and JPEG vs raw: "
          "`bench/bench_dist.py`, section \"Distributed roles\" of bench/RESULTS.md):", "", "```",
          "redis-server --port RPORT --save '' --appendonly no",
          f"{cmdline([args.framepipe, 'worker', '--http', '127.0.0.1:WPORT', 'dist-jpeg.yaml'])}",
          f"{cmdline([args.framepipe, 'logic', '--jsonl', 'OUT.jsonl', '--http', '127.0.0.1:LPORT', 'dist-jpeg.yaml'])}",
          f"{cmdline([args.framepipe, 'camera', 'dist-jpeg.yaml'])}   # SIGTERM after {dur} s",
          f"{cmdline([args.framepipe, 'run', '-q', '--duration', str(dur), 'inproc.yaml'])}",
          "```"]
    return "\n".join(md), []


# ---------------------------------------------------------------- plots

def plt_mod():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        sys.exit("bench/run.py: needs Debian's python3-matplotlib (scripts/apt-packages.txt): "
                 "apt-get install python3-matplotlib")


def plot_zerocopy(out, paths, reps_med, fail, w, h):
    plt = plt_mod()
    ks = [k for k in paths if k not in fail and reps_med[k]]
    fig_, ax = plt.subplots(figsize=(10, 4))
    ms = [med(reps_med[k]) for k in ks]
    lo = [med(reps_med[k]) - min(reps_med[k]) for k in ks]
    hi = [max(reps_med[k]) - med(reps_med[k]) for k in ks]
    ax.barh([paths[k][0].split(": ")[0].replace(" (", "\n(") for k in ks], ms, xerr=[lo, hi],
            color=[{"traditional": "#c44", "stdin": "#e93", "ring": "#2a7", "api": "#47c"}[k] for k in ks], capsize=4)
    ax.set_xscale("log")
    ax.set_xlabel("ms per frame, round trip (log scale; median, bars = min-max over repetitions)")
    ax.set_title(f"One {w}x{h} RGB frame to another process and a JSON result back (lower is better)")
    ax.set_xlim(min(ms + [1]) / 3, max(ms + [1]) * 30)
    for i, m in enumerate(ms):
        ax.text(max(ms[i] + hi[i], m) * 1.15, i, f"{m:.2f} ms, {1000 / m:.0f} frames/s", va="center")
    ax.invert_yaxis()
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "zerocopy.png"), dpi=90)
    plt.close(fig_)


def plot_memory(out, curves, modes):
    plt = plt_mod()
    fig_, ax = plt.subplots(figsize=(8, 4))
    for m, label in modes.items():
        s = curves.get(m)
        if s:
            ax.plot([t for t, _ in s], [r for _, r in s], label=label)
    ax.set_xlabel("time since start, s")
    ax.set_ylabel("resident memory (VmRSS), MiB")
    ax.set_title("framepipe detect: RSS over time, pool vs malloc/free per frame")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "memory_rss.png"), dpi=90)
    plt.close(fig_)


def plot_video(out, sizes, res, fail):
    plt = plt_mod()
    fig_, ax = plt.subplots(figsize=(8, 4))
    names = [n for n, _, _ in sizes if n not in fail and res[n]]
    fps = [[x["fps"] for x in res[n]] for n in names]
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], [med(f) for f in fps], 0.4,
           yerr=[[med(f) - min(f) for f in fps], [max(f) - med(f) for f in fps]], capsize=4,
           label="framepipe, this machine (median, min-max)", color="#2a7")
    seed = [SEED["video"].get(n, (0, 0))[1] for n in names]
    if any(seed):
        ax.bar([i + 0.2 for i in x], seed, 0.4, label="seed's numbers (its machine)", color="#999")
    ax.axhline(30, color="#c44", ls="--", label="30 fps")
    ax.set_xticks(list(x), names)
    ax.set_ylabel("frames per second")
    ax.set_xlabel("clip resolution")
    ax.set_title("Face detection (BlazeFace 128) on video, decode included")
    ax.legend()
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "video.png"), dpi=90)
    plt.close(fig_)


def plot_latency(out, per, stages, q, title):
    plt = plt_mod()
    parts = [st for st in ["decode", "queue", "prep", "infer", "post", "output"] if not math.isnan(q[st][0])]
    colors = ["#7b5", "#999", "#e93", "#2a7", "#47c", "#c4c", "#c44"]
    fig_, ax = plt.subplots(figsize=(9, 4))
    for row, (label, i) in enumerate((("p50", 0), ("p99", 1))):
        left = 0.0
        for k, st in enumerate(parts):
            v = q[st][i]
            ax.barh(row, v, left=left, color=colors[k], label=st if row == 0 else None)
            left += v
        off = q["decode"][i] if not math.isnan(q["decode"][i]) else 0.0
        ax.plot([off + q["total"][i]] * 2, [row - 0.45, row + 0.45], color="black", lw=2,
                label="decode + total, measured" if row == 0 else None)
    ax.set_yticks([0, 1], ["p50", "p99"])
    ax.set_xlabel("ms (each stage's own percentile, stacked)")
    ax.set_title(f"Live {title} RTSP camera: latency per stage (p99s of stages do not add up to the total's)")
    ax.legend(ncol=4, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "latency_stages.png"), dpi=90)
    plt.close(fig_)
    fig_, ax = plt.subplots(figsize=(8, 4))
    for k, st in enumerate(stages):
        b = per[0].get(st) if per else None
        if not b or b[-1][1] <= 0:
            continue
        pts = [(le * 1e3, c / b[-1][1]) for le, c in b if le != float("inf")]
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", label=st, color=colors[k])
    # up to the first bucket where every stage has all its frames, times 2
    ends = [next((le for le, c in b if c >= b[-1][1]), float("inf")) * 1e3
            for b in per[0].values() if b and b[-1][1] > 0] if per else []
    finite = [e for e in ends if e != float("inf")]
    if finite:
        ax.set_xlim(right=max(finite) * 2)
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log scale; histogram bucket bounds)")
    ax.set_ylabel("fraction of frames (batches) at or below")
    ax.set_title(f"Live {title} RTSP camera: latency CDF per stage")
    ax.legend()
    ax.grid(alpha=0.3)
    fig_.tight_layout()
    fig_.savefig(os.path.join(out, "latency_cdf.png"), dpi=90)
    plt.close(fig_)


# ---------------------------------------------------------------- main

SKIPPED = {}
TITLES = {"zerocopy": "1. Zero-copy vs traditional: one frame to another process and a result back",
          "memory": "2. Memory: pool vs malloc/free per frame", "video": "3. Video: face detection per resolution",
          "latency": "4. Latency per stage: a live RTSP camera", "batching": "5. Batching",
          "distributed": "6. Distributed"}


def parse_args(argv):
    ap = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default="bench-out")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--framepipe")
    ap.add_argument("--only", default=",".join(PARTS))
    ap.add_argument("--reps", type=int)
    ap.add_argument("--provider", default="cpu", choices=["cpu", "cuda", "tensorrt"])
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--no-update", action="store_true")
    a = ap.parse_args(argv)
    a.build = os.path.abspath(a.build)
    a.framepipe = os.path.abspath(a.framepipe or os.path.join(a.build, "apps", "framepipe"))
    a.only = [p.strip() for p in a.only.split(",") if p.strip()]
    bad = [p for p in a.only if p not in PARTS]
    if bad:
        ap.error(f"--only '{bad[0]}': want any of {','.join(PARTS)}")
    if a.reps is None:
        a.reps = 2 if a.tiny else (3 if a.quick else 5)
    if a.reps < 1:
        ap.error(f"--reps '{a.reps}': want 1 or more")
    return a


def main():
    args = parse_args(sys.argv[1:])
    signal.signal(signal.SIGINT, bp.on_signal)
    signal.signal(signal.SIGTERM, bp.on_signal)
    if not os.access(args.framepipe, os.X_OK):
        sys.exit(f"bench/run.py: no framepipe at {args.framepipe} (build it: meson setup build/release "
                 f"--buildtype=release && ninja -C build/release)")
    if not os.path.exists(MODEL):
        sys.exit(f"bench/run.py: model {MODEL} missing (scripts/setup.sh fetches it)")
    plt_mod()
    os.makedirs(args.out, exist_ok=True)
    say = Progress()
    mach = machine(args)
    invocation = "/usr/bin/python3 bench/run.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    sections, pngs = [], []
    fns = {"zerocopy": part_zerocopy, "memory": part_memory, "video": part_video, "latency": part_latency,
           "batching": part_batching, "distributed": part_distributed}
    t0 = time.monotonic()
    for part in PARTS:
        if part not in args.only:
            continue
        if part in fns:
            body, files = fns[part](args, args.out, say)
            pngs += files
        else:
            body, files = SKIPPED[part], []
        text = f"## {TITLES[part]}\n\nMachine: {mach}.\n\n{body}\n" + "".join(
            f"\n![{f}]({f})\n" for f in files)
        sections.append(text)
        print(text, flush=True)
    say.done()
    head = (f"# framepipe bench\n\nWritten by `{invocation}` in {time.monotonic() - t0:.0f} s"
            f"{' (--quick)' if args.quick else ''}. Machine: {mach}. Each figure: median (min-max) over "
            f"repetitions; the programs compared in a part take turns in one invocation.\n")
    with open(os.path.join(args.out, "RESULTS.md"), "w") as f:
        f.write(head + "\n" + "\n".join(sections))
    print(f"bench/run.py: wrote {os.path.join(args.out, 'RESULTS.md')} and {len(pngs)} PNG plot(s): "
          + ", ".join(pngs), file=sys.stderr)
    if not (args.quick or args.tiny or args.no_update) and args.only == PARTS:
        # a full run also replaces its section of bench/RESULTS.md: the tables, the plots stay in --out
        body = f"## The seed's claims (`bench/run.py`; plots: docs/BENCHMARKS.md)\n\n" + head.split("\n", 2)[2] \
            + "\n" + "\n".join(re.sub(r"^## ", "### ", ln, flags=re.M) for ln in sections)
        body = re.sub(r"\n!\[[^]]*\]\([^)]*\)\n", "\n", body)
        path = os.path.join(tmpdir("fp-bench-md-"), "run.md")
        with open(path, "w") as f:
            f.write(body)
        subprocess.run([sys.executable, os.path.join(HERE, "update_results.py"), "run", path], check=False)
    bp.stop_all()
    for d in TMPDIRS:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
