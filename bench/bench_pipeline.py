#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Benchmark of the whole pipeline: framepipe detect/run vs the FFmpeg decode ceiling and two peers (OpenCV, Node.js).
"""usage: bench_pipeline.py [options]

  --framepipe PATH      the framepipe binary (default: build/release/apps/framepipe,
                        else build/release/framepipe)
  --model PATH          BlazeFace front 128 ONNX (default: $FP_CACHE_DIR/models/blazeface/
                        face_detection_front_128x128_barracuda.onnx)
  --rtsp-server PATH    the project's test RTSP server (default: tests/ingest/fp_rtsp_server in
                        framepipe's build folder)
  --reps N              offline repetitions, interleaved (default 3)
  --threads N           ONNX Runtime intra-op threads for framepipe and both peers (default 1)
  --decoder-threads N   decoder threads for framepipe, the ffmpeg ceiling and the Node peer's
                        ffmpeg (default: nproc)
  --batch N, --workers N  passed to framepipe detect when given (else its defaults)
  --frames N            frames in each offline clip (default 360)
  --live-duration S     framepipe run --duration (default 20)
  --ref-duration S      seconds of the ffmpeg decode-only reference per live scenario (default 10)
  --cameras LIST        simultaneous live 720p cameras (default 4,8)
  --only PARTS          any of offline,live (default both)
  --md FILE             also write the Markdown section to FILE
  --no-update           do not touch bench/RESULTS.md

Writes the section "pipeline" of bench/RESULTS.md with bench/update_results.py.
Clips are generated once (ffmpeg + libx264, from OpenCV's Megamind.avi sample)
into $FP_CACHE_DIR/bench (default ~/.cache/framepipe/bench). Everything this
script starts is stopped by pid at the end; all network traffic stays on
127.0.0.1. A program that fails is reported in the tables, not fatal.
"""
import atexit
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CACHE = os.environ.get("FP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "framepipe")
MEGAMIND = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"
PYTHON = "/usr/bin/python3"
NOT_AVAILABLE = "framepipe detect not available"

STARTED = {}  # pid -> Popen of everything still running that this script started


def log(msg):
    print(f"bench_pipeline: {msg}", file=sys.stderr, flush=True)


def stop(pid):
    """Stops one process this script started (its own session: the group id is its pid) and reaps it."""
    p = STARTED.pop(pid, None)
    if p is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if p.poll() is not None:
            break
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            continue


def stop_all():
    for pid in list(STARTED):
        stop(pid)


def on_signal(signum, frame):
    stop_all()
    sys.exit(128 + signum)


def spawn(argv, **kw):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True, **kw)
    STARTED[p.pid] = p
    return p


def run(argv, timeout):
    """Runs argv to completion. Returns rc, wall seconds, CPU seconds (the child and its reaped children,
    from wait4), stdout, stderr tail; rc None when it ran past timeout (then it was killed)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        try:
            p = spawn(argv, stdout=out, stderr=err)
        except OSError as e:
            return {"rc": 127, "wall": 0.0, "cpu": 0.0, "stdout": "", "stderr": f"cannot start {argv[0]}: {e}"}
        res = {}

        def reap():
            _, status, ru = os.wait4(p.pid, 0)
            res["t1"] = time.perf_counter()
            res["status"], res["ru"] = status, ru

        th = threading.Thread(target=reap, daemon=True)
        th.start()
        th.join(timeout)
        if th.is_alive():
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            th.join(10)
        STARTED.pop(p.pid, None)
        p.returncode = os.waitstatus_to_exitcode(res["status"]) if "status" in res else -9
        out.seek(0)
        err.seek(0)
        r = {"rc": p.returncode if "t1" in res and res["t1"] - t0 <= timeout else None,
             "wall": res.get("t1", time.perf_counter()) - t0,
             "cpu": (res["ru"].ru_utime + res["ru"].ru_stime) if "ru" in res else 0.0,
             "stdout": out.read().decode(errors="replace"),
             "stderr": err.read().decode(errors="replace")[-2000:]}
        return r


def last_json(text):
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                pass
    return None


def why(r):
    if r["rc"] is None:
        return "timed out"
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in r["stderr"].splitlines() if ln.strip()]
    # a program's own error line ("peer_node.js: ...", "framepipe: ...") beats a trailing stack trace
    own = [ln for ln in lines if re.match(r"(peer_\w+\.(py|js)|framepipe[\w ]*|bench_\w+|\w*Error):", ln)]
    msg = own[0] if own else lines[-1] if lines else f"exit status {r['rc']}"
    msg = msg.replace("|", "/")
    return msg[:160]


# ---------------------------------------------------------------- clips


def make_clip(w, h, frames, live):
    """A Megamind.avi-based H.264 MP4 at w x h, 30 fps, looped to `frames` frames, generated once.
    live: camera-like stream (no B-frames, 1 s GOP); else x264 veryfast defaults (B-frames), GOP 60."""
    d = os.path.join(CACHE, "bench")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, f"megamind-{w}x{h}-30fps-{frames}{'-live' if live else ''}.mp4")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return path
    if not os.path.exists(MEGAMIND):
        sys.exit(f"bench_pipeline: {MEGAMIND} missing (apt-get install opencv-doc)")
    log(f"generating {path} (once)")
    tmp = f"{path}.{os.getpid()}.tmp.mp4"
    gop = ["-g", "30", "-bf", "0"] if live else ["-g", "60"]
    r = run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "-1",
             "-i", MEGAMIND, "-an", "-vf", f"fps=30,scale={w}:{h}:flags=bicubic,setsar=1",
             "-frames:v", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", *gop,
             "-pix_fmt", "yuv420p", "-movflags", "+faststart", tmp], timeout=1800)
    if r["rc"] != 0:
        sys.exit(f"bench_pipeline: cannot generate {path}: {why(r)}")
    os.rename(tmp, path)
    return path


def count_frames(clip):
    r = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
             "stream=nb_read_packets", "-of", "csv=p=0", clip], timeout=120)
    try:
        return int(r["stdout"].strip().split(",")[0])
    except ValueError:
        sys.exit(f"bench_pipeline: ffprobe cannot count the frames of {clip}")


# ---------------------------------------------------------------- framepipe


def rel(path):
    return os.path.relpath(path, ROOT) if path and path.startswith(ROOT + "/") else path


def framepipe_status(fp):
    """None when `framepipe detect` can be run, else the reason it cannot."""
    if not fp or not os.path.isfile(fp) or not os.access(fp, os.X_OK):
        return f"{NOT_AVAILABLE}: no executable at {rel(fp)}"
    r = run([fp, "detect", "--help"], timeout=30)
    text = r["stdout"] + r["stderr"]
    if "unknown command" in text:
        return f"{NOT_AVAILABLE}: {rel(fp)} has no 'detect' command yet"
    return None


def framepipe_run_status(fp):
    if not fp or not os.path.isfile(fp) or not os.access(fp, os.X_OK):
        return f"framepipe run not available: no executable at {rel(fp)}"
    r = run([fp, "run", "--help"], timeout=30)
    if "unknown command" in r["stdout"] + r["stderr"]:
        return f"framepipe run not available: {rel(fp)} has no 'run' command yet"
    return None


# ---------------------------------------------------------------- statistics


def median(v):
    s = sorted(v)
    n = len(s)
    return (s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2) if n else None


def cell(vals, fmt="{:.1f}", bold=False):
    """median (min-max) of the successful values, or the failure."""
    ok = [v for v in vals if isinstance(v, (int, float))]
    if not ok:
        errs = [v for v in vals if isinstance(v, str) and v != "-"]
        return f"failed: {errs[0]}" if errs else "-"
    m = fmt.format(median(ok))
    if bold:
        m = f"**{m}**"
    if len(ok) == 1:
        return m
    return f"{m} ({fmt.format(min(ok))}-{fmt.format(max(ok))})"


# ---------------------------------------------------------------- offline: (a) (b) (c)


def offline(args, clips, fp_why):
    model, T, D = args.model, str(args.threads), str(args.decoder_threads)
    progs = ["ceiling", "framepipe", "opencv", "node"]
    rows = {}
    cmds = {}
    for label, clip, nframes in clips:
        res = {p: [] for p in progs}
        rows[label] = (clip, nframes, res)
        summary_path = os.path.join(tempfile.gettempdir(), f"fp-bench-summary-{os.getpid()}.json")
        argv = {
            "ceiling": ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", D, "-i", clip,
                        "-an", "-f", "null", "-"],
            "framepipe": [args.framepipe, "detect", "--quiet", "-o", "/dev/null", "--summary", summary_path,
                          "--threads", T, "--decoder-threads", D]
                         + (["--batch", str(args.batch)] if args.batch else [])
                         + (["--workers", str(args.workers)] if args.workers else []) + [model, clip],
            "opencv": [PYTHON, os.path.join(HERE, "peer_opencv.py"), "--threads", T, "-o", "/dev/null", model, clip],
            "node": ["node", os.path.join(HERE, "peer_node.js"), "--threads", T, "--decoder-threads", D,
                     "-o", "/dev/null", model, clip],
        }
        cmds[label] = argv
        for rep in range(args.reps):
            order = progs[rep % len(progs):] + progs[:rep % len(progs)]  # rotate: no program always runs first
            for prog in order:
                if prog == "framepipe" and fp_why:
                    res[prog].append({"error": fp_why})
                    continue
                if prog == "framepipe" and os.path.exists(summary_path):
                    os.unlink(summary_path)
                r = run(argv[prog], timeout=max(120, nframes))
                entry = {"wall": r["wall"], "cpu": r["cpu"]}
                if r["rc"] != 0:
                    entry["error"] = why(r)
                elif prog == "ceiling":
                    entry.update(frames=nframes, fps=nframes / r["wall"], wall_fps=nframes / r["wall"])
                else:
                    if prog == "framepipe":
                        try:
                            s = json.load(open(summary_path))
                        except (OSError, ValueError) as e:
                            s = None
                            entry["error"] = f"no --summary JSON ({e})"
                    else:
                        s = last_json(r["stdout"])
                        if s is None:
                            entry["error"] = "no JSON summary on stdout"
                    if s is not None:
                        try:
                            entry.update(frames=s["frames"], fps=float(s["fps"]),
                                         wall_fps=s["frames"] / r["wall"], p50=s["latency_ms"]["p50"],
                                         p99=s["latency_ms"]["p99"], detections=s.get("detections"),
                                         stages=s.get("stages_ms"), raw=s)
                        except (KeyError, TypeError, ValueError) as e:
                            entry["error"] = f"summary lacks {e}"
                        if "error" not in entry and entry["frames"] != nframes:
                            entry["warn"] = f"{entry['frames']} of {nframes} frames"
                res[prog].append(entry)
                shown = f"{entry['fps']:.1f} fps" if "fps" in entry else entry.get("error")
                log(f"{label} rep {rep + 1}/{args.reps}: {prog}: {shown}")
        if os.path.exists(summary_path):
            os.unlink(summary_path)
    return rows, cmds


def val(entries, key, errors=True):
    """One value per run; a failed run gives its error (or "-" with errors=False: shown once per row)."""
    return [e[key] if key in e and "error" not in e else e.get("error", "-") if errors else "-" for e in entries]


def ratio_list(a, b, key_a="fps", key_b="fps"):
    """Per-repetition ratios a/b (the runs of one repetition ran next to each other)."""
    return [x[key_a] / y[key_b] if "error" not in x and "error" not in y else "-" for x, y in zip(a, b)]


def offline_md(args, rows, cmds):
    L = []
    L.append("### Offline: one file, as fast as possible (`framepipe detect`)\n")
    L.append(f"{args.reps} repetitions per program, interleaved (the order rotates each repetition); "
             "frames per second, median (min-max). The ceiling and framepipe-vs-ceiling use process wall time "
             "(start to exit, frames / seconds) on both sides; the peer ratio uses each program's own "
             "`fps` (timed after its start-up and model load: the peers' Python/Node start-up is not "
             "counted against them). Ratios: median of the per-repetition ratios.\n")
    L.append("| clip | frames | FFmpeg decode-only ceiling | framepipe detect | framepipe / ceiling "
             "(target >= 0.9) | OpenCV peer | Node.js peer | framepipe / faster peer (target >= 3x) |")
    L.append("|---|---|---|---|---|---|---|---|")
    for label, (clip, nframes, res) in rows.items():
        ceil, fp, ocv, nd = res["ceiling"], res["framepipe"], res["opencv"], res["node"]
        r_ceil = ratio_list(fp, ceil, "wall_fps", "wall_fps")
        # the faster peer of each repetition
        faster = []
        for a, b in zip(ocv, nd):
            cand = [e for e in (a, b) if "error" not in e]
            faster.append(max(cand, key=lambda e: e["fps"]) if cand else {"error": "both peers failed"})
        r_peer = ratio_list(fp, faster)
        fast_name = "OpenCV" if median([e["fps"] for e in ocv if "error" not in e] or [0]) > \
            median([e["fps"] for e in nd if "error" not in e] or [0]) else "Node.js"
        L.append(f"| {label} | {nframes} | {cell(val(ceil, 'wall_fps'))} | {cell(val(fp, 'wall_fps'), bold=True)} "
                 f"| {cell(r_ceil, '{:.2f}x')} | {cell(val(ocv, 'fps'))} | {cell(val(nd, 'fps'))} "
                 f"| {cell(r_peer, '{:.2f}x')} (vs {fast_name}) |")
    L.append("")
    L.append("Per program: its own fps, per-frame latency (frame decoded -> JSON line written) and CPU use "
             "(user + system CPU seconds of the process and its children / wall seconds: 1.0 = one core busy); "
             "faces per frame is a sanity check that all three see the same faces.\n")
    L.append("| clip | program | own fps | latency p50 ms | latency p99 ms | CPU cores | faces / frame "
             "| peers: ms per frame in read / prep / infer / post (means) |")
    L.append("|---|---|---|---|---|---|---|---|")
    names = {"ceiling": "FFmpeg decode only", "framepipe": "framepipe detect", "opencv": "OpenCV peer",
             "node": "Node.js peer"}
    for label, (clip, nframes, res) in rows.items():
        for prog in ("framepipe", "opencv", "node", "ceiling"):
            es = res[prog]
            cpu = [e["cpu"] / e["wall"] if "error" not in e and e["wall"] > 0 else "-" for e in es]
            faces = [e["detections"] / e["frames"] if "error" not in e and e.get("detections") is not None
                     and e["frames"] else "-" for e in es]
            if prog == "ceiling":
                L.append(f"| {label} | {names[prog]} | {cell(val(es, 'fps'))} | - | - | {cell(cpu, '{:.2f}')} "
                         "| - | - |")
            else:
                L.append(f"| {label} | {names[prog]} | {cell(val(es, 'fps'))} "
                         f"| {cell(val(es, 'p50', False), '{:.2f}')} | {cell(val(es, 'p99', False), '{:.2f}')} "
                         f"| {cell(cpu, '{:.2f}')} | {cell(faces, '{:.2f}')} | {stage_cell(es)} |")
        raws = [e["raw"] for e in res["framepipe"] if "error" not in e and "raw" in e]
        if raws:
            extra = []
            for key in ("pool_hit_rate", "batch_fill", "skipped"):
                vs = [r[key] for r in raws if isinstance(r.get(key), (int, float))]
                if vs:
                    extra.append(f"{key} {cell(vs, '{:.3g}')}")
            if extra:
                L.append(f"\nframepipe detect ({label}), from its summary: {', '.join(extra)}.")
        warns = sorted({e["warn"] for p in res.values() for e in p if "warn" in e})
        if warns:
            L.append(f"\nFrame counts that differ from the clip ({label}): {', '.join(warns)}.")
    L.append("")
    L.append("Commands (one repetition, 1080p clip):\n")
    label0 = next(iter(cmds))
    L.append("```")
    for prog in ("ceiling", "framepipe", "opencv", "node"):
        L.append(" ".join(shorten(a) for a in cmds[label0][prog]))
    L.append("```")
    return L


def stage_cell(entries):
    """Median over the runs of each stage's mean ms per frame, "read / prep / infer / post"."""
    runs = [e["stages"] for e in entries if "error" not in e and isinstance(e.get("stages"), dict)]
    keys = ("read", "prep", "infer", "post")
    if not runs or not all(all(k in r for k in keys) for r in runs):
        return "-"
    return " / ".join(f"{median([r[k] for r in runs]):.2f}" for k in keys)


def shorten(a):
    a = a.replace(ROOT + "/", "").replace(CACHE, "$FP_CACHE_DIR")
    if re.search(r"fp-bench-summary-\d+\.json", a):
        a = "SUMMARY.json"
    return a if re.fullmatch(r"[\w@%+=:,./$-]+", a) else "'" + a + "'"


# ---------------------------------------------------------------- live: (d) (e)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_rtsp(server, clip):
    """Starts the test RTSP server on a free 127.0.0.1 port; returns (pid, url) or (None, reason)."""
    if not server or not os.access(server, os.X_OK):
        return None, f"the test RTSP server is not built ({rel(server)}; needs gst-rtsp-server)"
    port = free_port()
    p = spawn([server, str(port), clip], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = b""
    deadline = time.monotonic() + 10
    import select
    while time.monotonic() < deadline and b"\n" not in line:
        r, _, _ = select.select([p.stdout], [], [], 0.2)
        if r:
            chunk = os.read(p.stdout.fileno(), 64)
            if not chunk:
                break
            line += chunk
    if b"READY" not in line:
        stop(p.pid)
        return None, f"the RTSP server did not start on 127.0.0.1:{port}"
    return p.pid, f"rtsp://127.0.0.1:{port}/clip"


def ffmpeg_live_reference(urls, seconds, decoder_threads):
    """One ffmpeg decode-only client per camera, all at once, for `seconds`: per-camera fps and total CPU."""
    procs = []
    progress = []
    for i, url in enumerate(urls):
        pf = os.path.join(tempfile.gettempdir(), f"fp-bench-progress-{os.getpid()}-{i}.txt")
        progress.append(pf)
        argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
                "-threads", str(decoder_threads), "-i", url, "-t", str(seconds), "-an", "-progress", pf,
                "-f", "null", "-"]
        procs.append(argv)
    results = [None] * len(procs)

    def one(i):
        results[i] = run(procs[i], timeout=seconds + 30)

    ths = [threading.Thread(target=one, args=(i,)) for i in range(len(procs))]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    fps, cpu, errs = [], 0.0, []
    for r, pf in zip(results, progress):
        try:
            txt = open(pf).read()
            os.unlink(pf)
        except OSError:
            txt = ""
        frames = re.findall(r"^frame=(\d+)", txt, re.M)
        us = re.findall(r"^out_time_us=(\d+)", txt, re.M)
        if r["rc"] != 0 or not frames or not us or int(us[-1]) <= 0:
            errs.append(why(r) if r["rc"] != 0 else "no progress")
            continue
        fps.append(int(frames[-1]) / (int(us[-1]) / 1e6))
        cpu += r["cpu"]
    wall = seconds
    return {"fps": fps, "cpu_cores": cpu / wall, "errors": errs, "argv": procs[0]}


def live_config(args, urls, max_batch):
    cfg = ["cameras:"]
    for i, url in enumerate(urls):
        cfg += [f"  - name: cam{i}", f"    url: {url}", "    policy: latest"]
    cfg += ["model:", f"  path: {args.model}", f"  threads: {args.threads}",
            "batch:", f"  max_batch: {max_batch}", "  max_wait: 5ms", "  per_camera: 1",
            "output:", "  jsonl: /dev/null"]
    return cfg


def live_argv(args, cfg_path, summary):
    return [args.framepipe, "run", "--duration", str(args.live_duration), "--summary", summary, cfg_path]


def framepipe_live(args, urls, label, max_batch):
    cfg = live_config(args, urls, max_batch)
    d = tempfile.mkdtemp(prefix="fp-bench-live-")
    cfg_path = os.path.join(d, f"{label}.yaml")
    with open(cfg_path, "w") as f:
        f.write("\n".join(cfg) + "\n")
    summary = os.path.join(d, "summary.json")
    argv = live_argv(args, cfg_path, summary)
    r = run(argv, timeout=args.live_duration + 60)
    out = {"argv": argv, "config": "\n".join(cfg), "wall": r["wall"], "cpu": r["cpu"]}
    if r["rc"] != 0:
        out["error"] = why(r)
    else:
        try:
            out["summary"] = json.load(open(summary))
        except (OSError, ValueError) as e:
            out["error"] = f"no --summary JSON ({e})"
    for p in (cfg_path, summary):
        if os.path.exists(p):
            os.unlink(p)
    os.rmdir(d)
    return out


def live(args, clip1080, clip720, run_why):
    scenarios = [("1 x 1080p30", clip1080, 1)] + [(f"{n} x 720p30", clip720, n) for n in args.cameras]
    out = []
    for label, clip, n in scenarios:
        entry = {"label": label, "n": n}
        pid, url = start_rtsp(args.rtsp_server, clip)
        if pid is None:
            entry["error"] = url
            out.append(entry)
            log(f"{label}: {url}")
            continue
        try:
            urls = [url] * n  # each RTSP client gets its own real-time pipeline of the clip
            entry["ref"] = ffmpeg_live_reference(urls, args.ref_duration, args.decoder_threads)
            log(f"{label}: ffmpeg reference {['%.1f' % f for f in entry['ref']['fps']]} fps, "
                f"{entry['ref']['cpu_cores']:.2f} cores")
            entry["cmd"] = (live_argv(args, "CONFIG.yaml", "SUMMARY.json"), live_config(args, urls, n))
            if run_why:
                entry["error"] = run_why
            else:
                entry["fp"] = framepipe_live(args, urls, label.replace(" ", ""), max_batch=n)
                log(f"{label}: framepipe {entry['fp'].get('error') or 'done'}")
        finally:
            stop(pid)
        out.append(entry)
    return out


def live_md(args, results):
    L = ["### Live: real-time RTSP cameras (`framepipe run`)\n"]
    L.append(f"Each camera is an RTSP client of the project's test server (`tests/ingest/fp_rtsp_server`, "
             f"gst-rtsp-server on 127.0.0.1, real-time playback of the clip, one pipeline per client, no "
             f"B-frames, 1 s GOP); `framepipe run --duration {args.live_duration}` with policy `latest`, "
             f"max_batch = number of cameras, max_wait 5 ms, per_camera 1, {args.threads} ORT thread(s). "
             f"Latency: frame decoded -> JSON line written (targets for one 1080p camera: p50 < 8 ms, "
             f"p99 < 12 ms). Skipped = frames the latest policy dropped because the pipeline was busy. CPU "
             f"cores = framepipe's cpu_seconds / seconds (1.0 = one core busy); the test server's own CPU is "
             f"not counted but shares the machine. Reference: the same number of `ffmpeg` CLI clients "
             f"decoding the same streams for {args.ref_duration} s (decode only, `-threads "
             f"{args.decoder_threads}`), i.e. the cost of decoding alone.\n")
    L.append("| cameras | processed fps per camera, median (min-max over cameras) | skipped fps per camera "
             "| latency p50 ms | latency p99 ms | CPU cores (framepipe) | ffmpeg decode-only: fps per camera "
             "| ffmpeg decode-only: CPU cores |")
    L.append("|---|---|---|---|---|---|---|---|")
    cmd_lines, config = [], []
    for e in results:
        ref = e.get("ref")
        ref_fps = cell(ref["fps"]) if ref and ref["fps"] else (
            f"failed: {ref['errors'][0]}" if ref and ref["errors"] else "-")
        ref_cpu = f"{ref['cpu_cores']:.2f}" if ref and ref["fps"] else "-"
        fp = e.get("fp")
        if "error" in e or (fp and "error" in fp):
            msg = e.get("error") or fp["error"]
            L.append(f"| {e['label']} | {msg} | - | - | - | - | {ref_fps} | {ref_cpu} |")
        else:
            s = fp["summary"]
            secs = float(s.get("seconds") or fp["wall"])
            cams = s.get("cameras") or []
            pf = [float(c.get("fps", c.get("frames", 0) / secs)) for c in cams]
            sk = [c.get("skipped", 0) / secs for c in cams]
            lat = s.get("latency_ms", {})
            cpu = s.get("cpu_seconds")
            cores = f"{cpu / secs:.2f}" if isinstance(cpu, (int, float)) else f"{fp['cpu'] / fp['wall']:.2f} (wait4)"
            num = lambda v: f"{v:.2f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
            L.append(f"| {e['label']} | {cell(pf)} | {cell(sk)} | {num(lat.get('p50'))} | {num(lat.get('p99'))} "
                     f"| {cores} | {ref_fps} | {ref_cpu} |")
        if "cmd" in e and not cmd_lines:
            argv, cfg = e["cmd"]
            cmd_lines = [" ".join(shorten(a) for a in argv)]
            config = [c.replace(ROOT + "/", "").replace(CACHE, "$FP_CACHE_DIR") for c in cfg]
    if results and results[0].get("ref"):
        ref_cmd = " ".join("PROGRESS.txt" if "fp-bench-progress-" in a else shorten(a)
                           for a in results[0]["ref"]["argv"])
        cmd_lines.append(ref_cmd + "   # reference: one per camera, all at once")
    L.append("")
    if cmd_lines:
        port = re.compile(r"rtsp://127\.0\.0\.1:\d+/")
        L.append("Commands (1080p scenario; the RTSP server's port is picked free per run):\n")
        L.append("```")
        L += [port.sub("rtsp://127.0.0.1:PORT/", c) for c in cmd_lines]
        L.append("```")
        if config:
            L.append("\nCONFIG.yaml (1080p scenario; the multi-camera ones list cam0..camN-1, max_batch N):\n")
            L += ["```yaml", *[port.sub("rtsp://127.0.0.1:PORT/", c) for c in config], "```"]
    return L


# ---------------------------------------------------------------- main


def machine_info():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def first_line(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.SubprocessError):
            return "?"
    ff = first_line(["ffmpeg", "-version"]).split(" Copyright")[0]
    cv = first_line([PYTHON, "-c", "import cv2, numpy; print(cv2.__version__, numpy.__version__)"])
    node = first_line(["node", "--version"])
    try:
        ortn = json.load(open(os.path.join(CACHE, "onnxruntime-node", "node_modules", "onnxruntime-node",
                                           "package.json")))["version"]
    except (OSError, ValueError, KeyError):
        ortn = "missing"
    return (f"Machine: {os.cpu_count()} CPUs online (`nproc`: {len(os.sched_getaffinity(0))}), {cpu}, "
            f"Linux {platform.release()}; {ff}; OpenCV/numpy {cv} (Debian python3); Node.js {node} with "
            f"onnxruntime-node {ortn}. Load average (1 min) when the run started: {os.getloadavg()[0]:.2f}.")


def parse_args(argv):
    class A:
        pass
    a = A()
    nproc = len(os.sched_getaffinity(0))
    a.framepipe = None
    a.model = os.path.join(CACHE, "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
    a.rtsp_server = None
    a.reps, a.threads, a.decoder_threads, a.batch, a.workers = 3, 1, nproc, 0, 0
    a.frames, a.live_duration, a.ref_duration, a.cameras = 360, 20, 10, [4, 8]
    a.only, a.md, a.update = {"offline", "live"}, None, True
    conv = {"--framepipe": ("framepipe", str), "--model": ("model", str), "--rtsp-server": ("rtsp_server", str),
            "--reps": ("reps", int), "--threads": ("threads", int), "--decoder-threads": ("decoder_threads", int),
            "--batch": ("batch", int), "--workers": ("workers", int), "--frames": ("frames", int),
            "--live-duration": ("live_duration", int), "--ref-duration": ("ref_duration", int),
            "--cameras": ("cameras", lambda s: [int(x) for x in s.split(",") if x]),
            "--only": ("only", lambda s: set(s.split(","))), "--md": ("md", str)}
    i = 0
    while i < len(argv):
        o = argv[i]
        if o in ("-h", "--help"):
            print(__doc__)
            sys.exit(0)
        if o == "--no-update":
            a.update = False
            i += 1
            continue
        if o not in conv or i + 1 >= len(argv):
            sys.exit(f"bench_pipeline: unknown option or missing value: {o}\n{__doc__}")
        name, f = conv[o]
        try:
            setattr(a, name, f(argv[i + 1]))
        except ValueError:
            sys.exit(f"bench_pipeline: bad value for {o}: {argv[i + 1]}")
        i += 2
    if not a.only <= {"offline", "live"}:
        sys.exit(f"bench_pipeline: --only takes offline,live (got {','.join(sorted(a.only))})")
    if a.framepipe is None:
        cands = [os.path.join(ROOT, "build", "release", "apps", "framepipe"),
                 os.path.join(ROOT, "build", "release", "framepipe")]
        a.framepipe = next((c for c in cands if os.access(c, os.X_OK)), cands[0])
    a.framepipe = os.path.abspath(a.framepipe)
    if a.rtsp_server is None:
        # framepipe's build folder: the binary is at <build>/apps/framepipe or <build>/framepipe
        d = os.path.dirname(a.framepipe)
        for b in (d, os.path.dirname(d), os.path.join(ROOT, "build", "release")):
            c = os.path.join(b, "tests", "ingest", "fp_rtsp_server")
            if os.access(c, os.X_OK):
                a.rtsp_server = c
                break
    if not os.path.isfile(a.model):
        sys.exit(f"bench_pipeline: model {a.model} missing (scripts/setup.d/30-models.sh)")
    return a


def main():
    args = parse_args(sys.argv[1:])
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    fp_why = framepipe_status(args.framepipe)
    run_why = framepipe_run_status(args.framepipe)
    if fp_why:
        log(fp_why)
    body = ["## Pipeline: framepipe vs the FFmpeg decode ceiling and two peers (BlazeFace front 128)\n"]
    body.append(f"`bench/bench_pipeline.py`: the whole chain decode -> letterbox 128x128 -> BlazeFace "
                f"(`{os.path.basename(args.model)}`) -> anchor decode + weighted NMS -> JSON lines, on H.264 "
                f"clips made from OpenCV's `Megamind.avi` sample (faces; scaled to 1920x1080 / 1280x720, 30 fps, "
                f"looped). Peers, what a user would otherwise write: `bench/peer_opencv.py` "
                f"(cv2.VideoCapture + cv2.dnn + numpy) and `bench/peer_node.js` (an `ffmpeg` child doing decode + "
                f"letterbox to rgb24, onnxruntime-node, decode + NMS in JS). Threads: ORT intra-op "
                f"{args.threads} for framepipe and both peers; decoder {args.decoder_threads} for framepipe, the "
                f"FFmpeg ceiling and the Node peer's ffmpeg (OpenCV 4.6's VideoCapture picks its own decoder "
                f"threads, one per CPU, and cannot be told otherwise).\n")
    body.append(machine_info() + "\n")
    if fp_why:
        body.append(f"**{fp_why}**: its rows say so; re-run this script once it exists.\n")
    if "offline" in args.only:
        clips = []
        for label, (w, h) in (("1080p", (1920, 1080)), ("720p", (1280, 720))):
            c = make_clip(w, h, args.frames, live=False)
            clips.append((f"{label} H.264", c, count_frames(c)))
        rows, cmds = offline(args, clips, fp_why)
        body += offline_md(args, rows, cmds)
        body.append("")
    if "live" in args.only:
        need = (max(args.live_duration, 20) + 15) * 30  # the clip outlasts the run; one cached clip for <= 20 s
        c1080 = make_clip(1920, 1080, need, live=True)
        c720 = make_clip(1280, 720, need, live=True)
        body += live_md(args, live(args, c1080, c720, run_why))
        body.append("")
    body.append("What the numbers mean: the FFmpeg row is the best any program can do on this machine with this "
                "many decoder threads, since every frame must be decoded; framepipe / ceiling says how much of "
                "that the rest of the pipeline (prep, inference, decode, JSON) costs on top, while sharing the "
                "same cores. The peers pay per frame for copies between libraries (BGR/RGB arrays, blobs, "
                "transposes, JS arrays), per-frame allocations, and run decode, prep and inference one after the "
                "other; framepipe / faster peer is the gain of doing the same work without them. Live, throughput is capped by the "
                "cameras (30 fps each): what matters is the latency, whether frames are skipped, and how "
                "much CPU is left; compare framepipe's CPU with the decode-only reference to see what the "
                "pipeline adds. On a machine shared with other jobs the ranges widen; compare medians only "
                "where the ranges are tight.\n\n"
                "Where the limits are on a small machine: when the decoder alone keeps every core busy (the "
                "ceiling's CPU column near the core count), the model's and pre-processing's CPU time can only "
                "come out of the decoder's share, so framepipe / ceiling is bounded by decode CPU / (decode CPU + "
                "model CPU) however little the pipeline adds; and framepipe / faster peer can never exceed "
                "ceiling / peer fps. Both bounds follow from the CPU columns above.\n")
    rerun = ("Re-run: `bench/bench_pipeline.py [--framepipe build/release/apps/framepipe] [--reps 3] "
             "[--threads 1] [--decoder-threads N]` (writes this section; `--only offline` or `--only live` for "
             "one half).")
    body.append(rerun)
    text = "\n".join(body) + "\n"
    if args.md:
        with open(args.md, "w") as f:
            f.write(text)
    if args.update:
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
            f.write(text)
            tmp = f.name
        try:
            subprocess.run([PYTHON, os.path.join(HERE, "update_results.py"), "pipeline", tmp], check=True)
        finally:
            os.unlink(tmp)
        log("wrote the 'pipeline' section of bench/RESULTS.md")
    else:
        sys.stdout.write(text)
    stop_all()


if __name__ == "__main__":
    main()
