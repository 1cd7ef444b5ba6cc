#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The soak of bench/soak.sh: 8 looping sources in one `framepipe run`, /metrics every second, RSS/fds/threads every 10 s.
"""usage: soak.py [--minutes 30 | --quick] [--build build/release] [--warmup-frac 0.25] [--no-update] [--out DIR]

Cameras: 4 files read in a loop as fast as they decode (vtest.avi,
Megamind.avi, and H.264 MP4 copies of both) and 4 RTSP clients of
tests/ingest/fp_rtsp_server playing the H.264 Megamind copy in real time (the
stream ends with the clip and framepipe reconnects: a reconnect every ~11 s
per camera, so sockets and decoders are opened and closed all along).
BlazeFace front 128, JSON lines to /dev/null, the HTTP endpoint on a free
127.0.0.1 port. Every second: GET /metrics (failures counted). Every 10 s:
VmRSS, open fds and threads of the framepipe process from /proc. At the end:
SIGTERM (a clean drain), the exit code, and a table + RSS plot in the "soak"
section of bench/RESULTS.md (the plot: bench/soak_rss.png).

The RSS slope is a least-squares line through the samples after the warm-up
(the first --warmup-frac of the run: 25%, 50% in quick mode), in KiB per
minute. Scrapes before the first answer (the first 30 s at most: the
server starting) are not counted.
"""
import argparse
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = "/usr/share/doc/opencv-doc/examples/data"
MODEL = os.path.expanduser("~/.cache/framepipe/models/blazeface/face_detection_front_128x128_barracuda.onnx")
started = []


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(p, sig=signal.SIGTERM, wait=15):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def start_rtsp(server, mp4):
    port = free_port()
    p = subprocess.Popen([server, str(port), mp4], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    started.append(p)
    line, t_end = b"", time.monotonic() + 15
    while time.monotonic() < t_end and b"\n" not in line:
        if select.select([p.stdout], [], [], 0.2)[0]:
            line += os.read(p.stdout.fileno(), 64)
    if b"READY" not in line:
        sys.exit("soak: the RTSP test server did not start")
    return f"rtsp://127.0.0.1:{port}/clip"


def proc_sample(pid):
    with open(f"/proc/{pid}/status") as f:
        st = f.read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", st).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", st).group(1))
    anon = int(re.search(r"RssAnon:\s+(\d+)", st).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads, anon


def metrics(text):
    out = {}
    for ln in text.splitlines():
        if ln.startswith("#") or not ln.strip():
            continue
        k, _, v = ln.rpartition(" ")
        try:
            out[k] = float(v)
        except ValueError:
            pass
    return out


def slope(ts, ys):
    return slope_ci(ts, ys)[0]


def slope_ci(ts, ys):
    """Least-squares slope and the half-width of its 95% confidence interval (normal approximation)."""
    n = len(ts)
    if n < 3:
        return float("nan"), float("nan")
    mt, my = sum(ts) / n, sum(ys) / n
    den = sum((t - mt) ** 2 for t in ts)
    if not den:
        return float("nan"), float("nan")
    b = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / den
    resid = sum((y - my - b * (t - mt)) ** 2 for t, y in zip(ts, ys))
    return b, 1.96 * (resid / (n - 2) / den) ** 0.5


def plot_rss(samples, warm_s, minutes, paths):
    """RSS over the whole run, and the samples after the warm-up zoomed in with their fitted line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, az) = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100, gridspec_kw={"width_ratios": [1, 1.3]})
    ax.plot([s[0] / 60 for s in samples], [s[1] / 1024 for s in samples], marker=".", lw=1)
    ax.axvline(warm_s / 60, color="grey", ls="--", lw=0.8, label="end of warm-up")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS MiB")
    ax.set_ylim(bottom=0)
    ax.set_title(f"8 looping sources, {minutes:g} min: RSS every 10 s", fontsize=10)
    ax.legend(loc="lower right")
    after = [s for s in samples if s[0] >= warm_s]
    if len(after) > 2:
        xs, ys = [s[0] / 60 for s in after], [s[1] for s in after]
        b, ci = slope_ci(xs, ys)
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        az.plot(xs, [y / 1024 for y in ys], marker=".", lw=0.8, ls="none")
        az.plot([xs[0], xs[-1]], [(my + b * (xs[0] - mx)) / 1024, (my + b * (xs[-1] - mx)) / 1024], color="C3",
                label=f"least squares: {b:+.0f} ± {ci:.0f} KiB/min")
        az.set_xlabel("minutes")
        az.set_ylabel("RSS MiB")
        az.set_title("after the warm-up (zoomed)", fontsize=10)
        az.legend(loc="lower right")
    fig.tight_layout()
    for p in paths:
        fig.savefig(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--quick", action="store_true", help="3 minutes")
    ap.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    ap.add_argument("--warmup-frac", type=float, default=None, help="default 0.25 (quick: 0.5)")
    ap.add_argument("--no-update", action="store_true")
    ap.add_argument("--out", default=None, help="also keep samples.csv and the plot here")
    a = ap.parse_args()
    minutes = 3.0 if a.quick else a.minutes
    if a.warmup_frac is None:
        a.warmup_frac = 0.5 if a.quick else 0.25
    fp = os.path.join(a.build, "apps", "framepipe")
    server = os.path.join(a.build, "tests", "ingest", "fp_rtsp_server")
    for p in (fp, server, MODEL):
        if not os.path.exists(p):
            sys.exit(f"soak: {p} is missing (build with meson/ninja first; models: scripts/setup.sh)")
    work = tempfile.mkdtemp(prefix="fp-soak-")
    mega = os.path.join(work, "megamind-h264.mp4")
    vt = os.path.join(work, "vtest-h264.mp4")
    for src, dst in ((os.path.join(DATA, "Megamind.avi"), mega), (os.path.join(DATA, "vtest.avi"), vt)):
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", src, "-an", "-c:v", "libx264", "-g", "25",
                        "-pix_fmt", "yuv420p", dst], check=True)
    url = start_rtsp(server, mega)
    port = free_port()
    files = [os.path.join(DATA, "vtest.avi"), os.path.join(DATA, "Megamind.avi"), vt, mega]
    cams = [f"  - {{name: file{i}, url: \"{f}\", loop: yes}}" for i, f in enumerate(files)]
    cams += [f"  - {{name: rtsp{i}, url: \"{url}\"}}" for i in range(4)]
    cfg = os.path.join(work, "soak.yaml")
    with open(cfg, "w") as f:
        f.write("cameras:\n" + "\n".join(cams) + f"\nmodel: {{path: \"{MODEL}\"}}\n"
                f"output: {{jsonl: /dev/null, http: \"127.0.0.1:{port}\"}}\n")
    errlog = open(os.path.join(work, "framepipe.log"), "w")
    proc = subprocess.Popen([fp, "run", "--quiet", cfg], stdout=subprocess.DEVNULL, stderr=errlog)
    started.append(proc)
    log(f"framepipe pid {proc.pid}, {minutes:g} min, metrics on 127.0.0.1:{port}, work dir {work}")
    t0 = time.monotonic()
    end = t0 + minutes * 60
    samples, scrapes, scrape_fail, last_m, first_m = [], 0, 0, {}, None
    next_sample = t0
    load0 = os.getloadavg()[0]
    while time.monotonic() < end and proc.poll() is None:
        now = time.monotonic()
        if now >= next_sample:
            try:
                pool_kib = sum(v for k, v in last_m.items() if k.startswith("fp_pool_bytes")) / 1024
                samples.append((now - t0,) + proc_sample(proc.pid) + (pool_kib,))
            except (OSError, AttributeError):
                pass
            next_sample += 10
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                m = metrics(r.read().decode())
            scrapes += 1
            last_m = m
            if first_m is None and m.get("fp_frames_total", 0) > 0:
                first_m = (now - t0, m)
        except OSError:
            if first_m is not None or now - t0 > 30:  # not counted: the server is still starting
                scrapes += 1
                scrape_fail += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - now)))
    alive = proc.poll() is None
    try:
        pool_kib = sum(v for k, v in last_m.items() if k.startswith("fp_pool_bytes")) / 1024
        samples.append((time.monotonic() - t0,) + proc_sample(proc.pid) + (pool_kib,))
    except (OSError, AttributeError):
        pass
    rc = stop(proc, signal.SIGTERM, 30)
    for p in started:
        stop(p)
    errlog.close()
    elapsed = time.monotonic() - t0
    load1 = os.getloadavg()[0]
    if not samples:
        sys.exit("soak: no sample taken (framepipe exited at once?): see " + errlog.name)

    # samples taken before the pipeline ran (the process still loading) are not part of the curve
    samples = [s for s in samples if first_m is not None and s[0] >= first_m[0] - 10]
    warm = a.warmup_frac * minutes * 60
    after = [s for s in samples if s[0] >= warm]
    rss_slope, rss_ci = slope_ci([s[0] / 60 for s in after], [s[1] for s in after])
    half = [s for s in after if s[0] >= (warm + elapsed) / 2]
    rss_slope2, rss_ci2 = slope_ci([s[0] / 60 for s in half], [s[1] for s in half])
    fds = [s[2] for s in after] or [0]
    thr = [s[3] for s in after] or [0]
    frames = last_m.get("fp_frames_total", 0)
    hits = {k: v for k, v in last_m.items() if k.startswith("fp_pool_hit_rate")}
    skipped = sum(v for k, v in last_m.items() if k.startswith("fp_source_skipped{"))
    skipped_files = sum(v for k, v in last_m.items() if k.startswith("fp_source_skipped{source=\"file"))
    reconnects = sum(v for k, v in last_m.items() if k.startswith("fp_source_reconnects{"))
    decoded = sum(v for k, v in last_m.items() if k.startswith("fp_source_decoded{"))
    sink_err = last_m.get("fp_sink_errors_total", 0)
    per_cam = {re.search(r'camera="([^"]+)"', k).group(1): v for k, v in last_m.items()
               if k.startswith("fp_camera_processed_total{")}

    if a.out:
        os.makedirs(a.out, exist_ok=True)
    plot = os.path.join(HERE, "soak_rss.png")
    try:
        plot_rss(samples, warm, minutes, [plot] + ([os.path.join(a.out, "soak_rss.png")] if a.out else []))
        plot_md = "![RSS over the soak](soak_rss.png)"
    except ImportError:
        plot_md = "(no plot: python3-matplotlib is not installed)"

    rss = [s[1] for s in after] or [0]
    mode = "quick (3 min)" if a.quick else f"{minutes:g} min"
    L = [f"## Soak: 8 looping sources, {mode} (`bench/soak.sh`)", "",
         "`framepipe run` (release build) with BlazeFace front 128 on 4 files looped as fast as they decode "
         "(vtest.avi, Megamind.avi and H.264 copies) and 4 RTSP clients of `tests/ingest/fp_rtsp_server` (real-time "
         "H.264 Megamind, 11 s long: each camera reconnects when it ends); /metrics scraped every second, "
         "RSS / fds / threads from /proc every 10 s; warm-up = the first "
         f"{a.warmup_frac:.0%} of the run.", "",
         f"Machine: {os.cpu_count()} CPUs, shared with other jobs: load average (1 min) {load0:.2f} at the start, "
         f"{load1:.2f} at the end. Elapsed {elapsed / 60:.1f} min.", "",
         "| measure | value |", "|---|---|",
         f"| RSS slope after warm-up (least squares, 95% interval) | **{rss_slope:+.1f} ± {rss_ci:.1f} KiB/min** "
         f"({len(after)} samples) |",
         f"| RSS slope over the second half of that | {rss_slope2:+.1f} ± {rss_ci2:.1f} KiB/min ({len(half)} samples) |",
         f"| RSS after warm-up min / max / last | {min(rss) / 1024:.1f} / {max(rss) / 1024:.1f} / "
         f"{samples[-1][1] / 1024:.1f} MiB |",
         f"| open fds after warm-up min / max | {min(fds)} / {max(fds)} |",
         f"| threads after warm-up min / max | {min(thr)} / {max(thr)} (lower while RTSP cameras reconnect: their "
         "decoder threads end with the stream and start again with it) |",
         f"| pool hit rate at the end (min over pools) | {min(hits.values()) if hits else float('nan'):.4f} "
         f"({len(hits)} pools) |",
         f"| frames processed | {frames:.0f} ({frames / max(1.0, elapsed):.1f} fps over the run) |",
         f"| frames decoded (all sources) | {decoded:.0f} |",
         f"| skipped (latest policy, queue full) | {skipped:.0f} total, {skipped_files:.0f} on the files |",
         f"| reconnects (RTSP ends every 11 s) | {reconnects:.0f} |",
         f"| per camera processed | {', '.join(f'{k} {v:.0f}' for k, v in sorted(per_cam.items()))} |",
         f"| sink errors | {sink_err:.0f} |",
         f"| /metrics scrapes after the first answer (failed) | {scrapes} ({scrape_fail}) |",
         f"| framepipe alive at the end / exit code after SIGTERM | {'yes' if alive else 'NO'} / {rc} |",
         "", plot_md, ""]
    text = "\n".join(L) + "\n"
    print(text)
    if a.out:
        with open(os.path.join(a.out, "samples.csv"), "w") as f:
            f.write("t_s,rss_kib,fds,threads,rss_anon_kib,pool_kib\n" +
                    "".join(f"{s[0]:.1f},{s[1]},{s[2]},{s[3]},{s[4]},{s[5]:.0f}\n" for s in samples))
    md = os.path.join(work, "soak.md")
    with open(md, "w") as f:
        f.write(text)
    if a.out:
        shutil.copy(md, os.path.join(a.out, "soak.md"))
    if not a.no_update:
        subprocess.run([sys.executable, os.path.join(HERE, "update_results.py"), "soak", md], check=True)
    if alive and rc == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        log(f"kept {work} (framepipe.log)")
    ok = alive and rc == 0 and scrape_fail == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    try:
        main()
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
