#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Efficiency levers of issue 16, one at a time, side by side in one run: annotation off the workers, decode options.
"""usage: bench_efficiency.py [--framepipe build/release/apps/framepipe] [--reps 5] [--only annotate|decode]
                            [--md FILE] [--no-update]

Each group runs its variants interleaved (the order rotates every repetition)
and reports the median (min-max) of process wall time and CPU time (user +
system of the process), and each variant's ratio to the group's first
variant (median of the per-repetition ratios). Writes the section
"efficiency" of bench/RESULTS.md with bench/update_results.py.

Groups:
  annotate  Megamind.avi (720x528 MPEG-4, 270 frames): detect without
            --annotate; --annotate drawn and encoded on the inference worker
            (FP_ANNOTATE_QUEUE=0, the old placement, with today's YUV drawing);
            --annotate on the sink's own thread (the default).
  decode    a 1080p H.264 clip made from Megamind.avi (360 frames, 30 fps,
            B-frames, a key frame every 30 frames): the FFmpeg decode-only
            ceiling with and without -skip_loop_filter all / -skip_frame;
            framepipe detect with and without --skip-loop-filter, and
            sampling (--fps 10, --fps 1) with and without --skip-frames
            nonref / nonkey. Each option's detections are compared with the
            same run without it, frame by frame (matched by pts): frames
            whose faces all agree within 2 px (same count, every box corner
            within 2 px), and frames present in one run only.
  ceiling   the same 1080p clip: framepipe detect against the FFmpeg
            decode-only ceiling (2 decoder threads), lever by lever: the
            dynamic-batch BlazeFace copy (ORT once per batch), batch size /
            max wait (wake-ups between decoder, batcher and worker), decoder
            threads vs ORT threads on the 2 cores.
"""
import json
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DATA = "/usr/share/doc/opencv-doc/examples/data"
MODEL = os.path.expanduser("~/.cache/framepipe/models/blazeface/face_detection_front_128x128_barracuda.onnx")


def timed(argv, env=None):
    """Runs argv to its end; returns (wall s, cpu s, rc, stderr, minor page faults)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, **(env or {})), timeout=600)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.returncode, p.stderr, after.ru_minflt - before.ru_minflt


def fmt(vals, f="{:.2f}"):
    if not vals:
        return "-"
    return f"{f.format(statistics.median(vals))} ({f.format(min(vals))}-{f.format(max(vals))})"


def run_group(title, variants, reps, check=None):
    """variants: [(label, argv, env)]. Returns Markdown lines."""
    res = {v[0]: {"wall": [], "cpu": [], "flt": []} for v in variants}
    extra = {}
    for r in range(reps):
        order = variants[r % len(variants):] + variants[:r % len(variants)]
        for label, argv, env in order:
            wall, cpu, rc, err, flt = timed(argv, env)
            if rc != 0:
                sys.exit(f"{label}: exit {rc}\n{err[-2000:]}")
            res[label]["wall"].append(wall)
            res[label]["cpu"].append(cpu)
            res[label]["flt"].append(flt)
            if check:
                extra[label] = check(label, err)
        print(f"  {title}: repetition {r + 1}/{reps} done", file=sys.stderr)
    base = variants[0][0]
    lines = [f"| variant | wall s | CPU s | wall / {base} | CPU / {base} | minor faults | notes |",
             "|---|---|---|---|---|---|---|"]
    for label, _, _ in variants:
        rw = [a / b for a, b in zip(res[label]["wall"], res[base]["wall"])]
        rc = [a / b for a, b in zip(res[label]["cpu"], res[base]["cpu"])]
        lines.append(f"| {label} | {fmt(res[label]['wall'])} | {fmt(res[label]['cpu'])} | "
                     f"**{statistics.median(rw):.2f}x** | {statistics.median(rc):.2f}x | "
                     f"{statistics.median(res[label]['flt']):,.0f} | {extra.get(label, '')} |")
    return lines


def annotate_group(fp, reps, tmp):
    clip = os.path.join(DATA, "Megamind.avi")
    out = os.path.join(tmp, "ann.mp4")
    base = [fp, "detect", "--quiet", "-o", os.path.join(tmp, "out.jsonl"), MODEL, clip]
    ann = base[:3] + ["--annotate", out] + base[3:]

    def check(label, err):
        notes = [ln.split("annotate: ", 1)[1] for ln in err.splitlines() if "frames left out" in ln or
                 " frames in " in ln]
        return "; ".join(n.replace(tmp + "/", "") for n in notes)
    variants = [
        ("detect, no --annotate", base, None),
        ("--annotate on the inference worker (FP_ANNOTATE_QUEUE=0)", ann, {"FP_ANNOTATE_QUEUE": "0"}),
        ("--annotate on the sink's thread (queue of 64, default)", ann, None),
    ]
    return run_group("annotate", variants, reps, check)


def load_jsonl(path):
    out = {}
    with open(path) as f:
        for ln in f:
            r = json.loads(ln)
            out[round(r["pts"], 3)] = [d["box"] for d in r["detections"]]
    return out


def agree(ref, got):
    common = set(ref) & set(got)
    same = other_count = 0
    shifts = []
    for k in common:
        a, b = sorted(ref[k]), sorted(got[k])
        if len(a) != len(b):
            other_count += 1
            continue
        d = max([max(abs(x - y) for x, y in zip(p, q)) for p, q in zip(a, b)] or [0.0])
        shifts.append(d)
        same += d <= 2.0
    shifts.sort()
    med = shifts[len(shifts) // 2] if shifts else 0.0
    top = shifts[-1] if shifts else 0.0
    return (f"{same}/{len(common)} frames agree within 2 px, {other_count} have another number of faces "
            f"(largest box-corner shift per frame: median {med:.1f} px, max {top:.1f} px)") + (
        f"; {len(set(ref) - set(got))} frames only without the option, {len(set(got) - set(ref))} only with it"
        if set(ref) != set(got) else "")


def make_1080p(tmp):
    clip = os.path.join(tmp, "megamind-1080p.mp4")
    if os.path.exists(clip):
        return clip
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "1", "-i",
                    os.path.join(DATA, "Megamind.avi"), "-an", "-vf", "scale=1920:1080", "-r", "30", "-frames:v",
                    "360", "-c:v", "libx264", "-preset", "veryfast", "-g", "30", "-pix_fmt", "yuv420p", clip],
                   check=True)
    return clip


def decode_group(fp, reps, tmp):
    clip = make_1080p(tmp)
    ff = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "2"]
    ceiling = [
        ("FFmpeg decode-only ceiling", ff + ["-i", clip, "-f", "null", "-"], None),
        ("FFmpeg -skip_loop_filter all", ff + ["-skip_loop_filter", "all", "-i", clip, "-f", "null", "-"], None),
        ("FFmpeg -skip_frame noref", ff + ["-skip_frame", "noref", "-i", clip, "-f", "null", "-"], None),
    ]
    lines = ["#### The decode-only ceiling (FFmpeg CLI, 2 decoder threads)", ""]
    lines += run_group("ceiling", ceiling, reps)

    def det(name, extra):
        return [fp, "detect", "--quiet", "--decoder-threads", "2", "-o", os.path.join(tmp, name + ".jsonl")] + \
            extra + [MODEL, clip]
    full = [("detect", det("d0", []), None),
            ("detect --skip-loop-filter", det("d1", ["--skip-loop-filter"]), None)]
    lines += ["", "#### framepipe detect, every frame (ratio to detect without options; the ceiling's time above)",
              ""]
    lines += run_group("detect", full, reps)
    lines.append("")
    lines.append(f"--skip-loop-filter: {agree(load_jsonl(os.path.join(tmp, 'd0.jsonl')), load_jsonl(os.path.join(tmp, 'd1.jsonl')))}.")
    samp = [("detect --fps 10", det("s0", ["--fps", "10"]), None),
            ("detect --fps 10 --skip-frames nonref", det("s1", ["--fps", "10", "--skip-frames", "nonref"]), None),
            ("detect --fps 1", det("k0", ["--fps", "1"]), None),
            ("detect --fps 1 --skip-frames nonkey", det("k1", ["--fps", "1", "--skip-frames", "nonkey"]), None)]
    lines += ["", "#### Sampling below the stream rate (ratios to `--fps 10`)", ""]
    lines += run_group("sampling", samp, reps)
    lines.append("")
    for a, b, what in (("s0", "s1", "--skip-frames nonref at --fps 10"), ("k0", "k1", "--skip-frames nonkey at --fps 1")):
        lines.append(f"{what}: {agree(load_jsonl(os.path.join(tmp, a + '.jsonl')), load_jsonl(os.path.join(tmp, b + '.jsonl')))}.")
    return lines


DYN = os.path.expanduser("~/.cache/framepipe/models/blazeface-dynamic/face_detection_front_128x128_barracuda.onnx")


def ceiling_group(fp, reps, tmp):
    clip = make_1080p(tmp)
    ff = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "2", "-i", clip, "-f", "null", "-"]

    def det(extra, model=MODEL):
        return [fp, "detect", "--quiet", "-o", "/dev/null"] + extra + [model, clip]
    variants = [("FFmpeg decode-only ceiling (2 threads)", ff, None),
                ("detect --decoder-threads 2 (batch 8, model batch 1)", det(["--decoder-threads", "2"]), None),
                ("  pool without huge pages (FP_POOL_NO_HUGEPAGES=1)", det(["--decoder-threads", "2"]),
                 {"FP_POOL_NO_HUGEPAGES": "1"}),
                ("  libavdevice loaded at start as when it was linked (LD_PRELOAD)", det(["--decoder-threads", "2"]),
                 {"LD_PRELOAD": "libavdevice.so.59"})]
    if os.path.exists(DYN):
        variants.append(("  + dynamic-batch model", det(["--decoder-threads", "2"], DYN), None))
    variants += [
        ("detect, decoder threads FFmpeg's choice", det([]), None),
        ("detect --decoder-threads 1", det(["--decoder-threads", "1"]), None),
        ("detect --decoder-threads 2 --threads 2 (ORT)", det(["--decoder-threads", "2", "--threads", "2"]), None),
        ("detect --decoder-threads 2 --batch 16 --max-wait 20", det(["--decoder-threads", "2", "--batch", "16",
                                                                       "--max-wait", "20"]), None),
        ("detect --decoder-threads 2 --batch 1", det(["--decoder-threads", "2", "--batch", "1"]), None),
    ]
    lines = run_group("ceiling", variants, reps)
    lines.append("")
    lines.append("framepipe / ceiling (the target 0.9x) is the inverse of the wall ratio: ceiling time / detect time.")
    lines += ["", "#### Start-up alone: the dynamic loader and library constructors", ""]
    lines += run_group("start-up", [("ffmpeg -version", ["ffmpeg", "-version"], None),
                                    ("framepipe --version", [fp, "--version"], None),
                                    ("framepipe --version, libavdevice preloaded (as when it was linked)",
                                     [fp, "--version"], {"LD_PRELOAD": "libavdevice.so.59"})], max(reps, 9))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--framepipe", default=os.path.join(ROOT, "build/release/apps/framepipe"))
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only", choices=["annotate", "decode", "ceiling"], default=None)
    ap.add_argument("--md", default=None)
    ap.add_argument("--no-update", action="store_true")
    a = ap.parse_args()
    load = os.getloadavg()[0]
    md = ["## Efficiency levers (issue 16), one at a time, side by side (`bench/bench_efficiency.py`)", "",
          f"Machine: {os.cpu_count()} CPUs online, load average (1 min) {load:.2f} when the run started "
          "(other jobs share the machine: compare ratios within one table, not absolute times). "
          f"{a.reps} repetitions per variant, interleaved; median (min-max).", ""]
    with tempfile.TemporaryDirectory(prefix="fp-eff-") as tmp:
        if a.only in (None, "annotate"):
            md += ["### Annotation off the inference worker: `detect --annotate` on Megamind.avi (target <= 1.3x)", "",
                   "BlazeFace front 128; x264 ultrafast crf 20; boxes drawn into the encoder's yuv420p picture in both "
                   "--annotate rows (before this change: RGB round trip with swscale, x264 superfast, on the worker: "
                   "2.8 s against 0.9 s, 3.1x, from the issue).", ""]
            md += annotate_group(a.framepipe, a.reps, tmp)
            md.append("")
        if a.only in (None, "decode"):
            md += ["### Decode options that trade invisible quality for CPU (BlazeFace front 128, 1080p H.264)", "",
                   "`lowres` is not offered: H.264/HEVC decoders do not have it (only MPEG-4 part 2 / MJPEG), and it "
                   "changes the frame size the boxes are reported in.", ""]
            md += decode_group(a.framepipe, a.reps, tmp)
            md.append("")
        if a.only in (None, "ceiling"):
            md += ["### Toward 0.9x of the decode ceiling: 1080p H.264, BlazeFace front 128, lever by lever", ""]
            md += ceiling_group(a.framepipe, a.reps, tmp)
            md.append("")
    text = "\n".join(md) + "\n"
    print(text)
    path = a.md or os.path.join(tempfile.gettempdir(), "fp-efficiency.md")
    with open(path, "w") as f:
        f.write(text)
    if not a.no_update:
        subprocess.run([sys.executable, os.path.join(HERE, "update_results.py"), "efficiency", path], check=True)


if __name__ == "__main__":
    main()
