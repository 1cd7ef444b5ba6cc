#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Network outputs benchmark: records/s through each output to a real server, and the CPU per frame `framepipe run` adds with all three outputs on vs off; writes the "outputs" section of bench/RESULTS.md.
"""usage: bench_outputs.py BUILD_DIR [--reps N] [--seconds S] [--md FILE]

BUILD_DIR is a release build (bench/bench_outputs and apps/framepipe). Starts redis-server, mosquitto and the
tests' webhook receiver (Python http.server) on free 127.0.0.1 ports, then:
  1. bench_outputs KIND frames|events N for each output: records per second (median of --reps runs, min-max);
  2. framepipe run on 4 cameras (opencv-doc Megamind.avi each, face rules that raise events), outputs off vs
     redis + mqtt + webhook on, interleaved --reps times: CPU seconds (user + sys of the process) per frame.
"""
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
CACHE = os.environ.get("FP_CACHE_DIR", os.path.expanduser("~/.cache/framepipe"))
MODEL = os.path.join(CACHE, "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
MEGAMIND = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, timeout=15):
    t_end = time.time() + timeout
    while time.time() < t_end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def med(xs):
    return statistics.median(xs), min(xs), max(xs)


def thread_cpu(pid):
    """CPU seconds per thread name (comm) of a running process, from /proc/PID/task/*/stat."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[(comm, tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def run_rusage(argv):
    """Runs argv; returns (CPU seconds user+sys of the child, wall seconds, stderr, CPU seconds by thread name)."""
    t0 = time.time()
    err_file = tempfile.TemporaryFile()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err_file)
    seen = {}
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        seen.update(thread_cpu(p.pid))  # the last reading of each thread before it ends
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    err_file.seek(0)
    err = err_file.read().decode("utf-8", "replace")
    if p.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({p.returncode}): {err[-2000:]}")
    by_name = {}
    for (comm, _), v in seen.items():
        by_name[comm] = by_name.get(comm, 0.0) + v
    return ru.ru_utime + ru.ru_stime, time.time() - t0, err, by_name


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    build = os.path.abspath(args[0])
    reps = int(args[args.index("--reps") + 1]) if "--reps" in args else 3
    cpu_seconds = int(args[args.index("--seconds") + 1]) if "--seconds" in args else 20
    md = args[args.index("--md") + 1] if "--md" in args else None
    work = tempfile.mkdtemp(prefix="bench-outputs-")
    procs = []
    try:
        rport, mport, wport = free_port(), free_port(), free_port()
        procs.append(subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                       "--appendonly", "no"], stdout=subprocess.DEVNULL))
        conf = os.path.join(work, "mosquitto.conf")
        open(conf, "w").write(f"listener {mport} 127.0.0.1\nallow_anonymous true\n")
        procs.append(subprocess.Popen(["/usr/sbin/mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(["/usr/bin/python3", os.path.join(SRC, "tests", "harness", "webhook_receiver.py"),
                                       "--port", str(wport), "--out", os.devnull], stdout=subprocess.DEVNULL))
        for p in (rport, mport, wport):
            wait_port(p)

        # 1. records per second
        where = {"redis": f"127.0.0.1:{rport}", "mqtt": f"127.0.0.1:{mport}", "webhook": f"http://127.0.0.1:{wport}/"}
        counts = {"redis": 20000, "mqtt": 20000, "webhook": 2000}
        rate = {}
        for kind in ("redis", "mqtt", "webhook"):
            for rec in ("frames", "events"):
                xs = []
                for _ in range(reps):
                    out = subprocess.run([os.path.join(build, "bench", "bench_outputs"), kind, where[kind], rec,
                                          str(counts[kind])], capture_output=True, text=True, check=True)
                    xs.append(json.loads(out.stdout)["per_s"])
                rate[(kind, rec)] = med(xs)
                print(f"{kind:8} {rec:6} {rate[(kind, rec)][0]:10.0f} /s", flush=True)

        # 2. CPU per frame, outputs off vs on: 4 cameras at 30 fps from the test RTSP server (real-time playback)
        clip = os.path.join(work, "clip30.mp4")
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", MEGAMIND, "-an", "-t",
                        str(cpu_seconds + 10), "-vf", "fps=30,scale=1280:720,format=yuv420p", "-c:v", "libx264",
                        "-preset", "veryfast", "-g", "30", clip], check=True)
        server = os.path.join(build, "tests", "ingest", "fp_rtsp_server")
        sport = free_port()
        rtsp = subprocess.Popen([server, str(sport), clip], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(rtsp)
        if b"READY" not in rtsp.stdout.readline():
            raise SystemExit("the test RTSP server did not start")
        url = f"rtsp://127.0.0.1:{sport}/clip"

        def cfg(name, outputs):
            cams = "".join(f"  - name: cam{i}\n    url: {url}\n    zones:\n"
                           f"      - {{name: right, points: [[0.5, 0], [1, 0], [1, 1], [0.5, 1]], normalized: true}}\n"
                           for i in range(4))
            text = (f"cameras:\n{cams}model: {{path: {MODEL}}}\ntracker: {{anchor: center}}\n"
                    "rules:\n  - {name: arrives, kind: enter, zone: right, class: face}\n"
                    "  - {name: goes, kind: leave, zone: right, class: face}\n"
                    f"output:\n  jsonl: /dev/null\n  spool: {work}/spool-{name}\n{outputs}")
            path = os.path.join(work, name + ".yaml")
            open(path, "w").write(text)
            return path

        off = cfg("off", "")
        on = cfg("on", f"  redis: {{url: 'redis://127.0.0.1:{rport}', maxlen: 10000}}\n"
                       f"  mqtt: {{host: 127.0.0.1, port: {mport}, qos: 1, counts: true}}\n"
                       f"  webhook: {{url: 'http://127.0.0.1:{wport}/hook'}}\n")
        summary = os.path.join(work, "summary.json")
        per = {"off": [], "on": []}
        out_threads = []
        frames = {}
        for _ in range(reps):
            for name, path in (("off", off), ("on", on)):
                cpu, wall, _, threads = run_rusage([os.path.join(build, "apps", "framepipe"), "run", "--quiet",
                                                    "--duration", str(cpu_seconds), "--summary", summary, path])
                s = json.load(open(summary))
                n = s.get("frames") or s.get("frames_processed") or sum(c.get("frames", 0) for c in s.get("cameras", []))
                frames[name] = n
                per[name].append(cpu / n * 1e3)
                if name == "on":
                    out_threads.append(sum(v for k, v in threads.items() if k.startswith("fp-out-")) / n * 1e3)
                    print("  threads (CPU s): " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(threads.items())),
                          flush=True)
                print(f"run {name:3}: {n} frames, {cpu:.2f} s CPU, {wall:.2f} s wall, {cpu / n * 1e3:.3f} ms CPU/frame",
                      flush=True)
        m_off, m_on = med(per["off"]), med(per["on"])
        added = (m_on[0] / m_off[0] - 1) * 100

        # 3. the live view: CPU of the preview thread per watched camera (640 px wide, 10 fps)
        hport = free_port()
        view = os.path.join(work, "view.yaml")
        open(view, "w").write(f"cameras:\n  - name: cam\n    url: {MEGAMIND}\n    loop: true\n"
                              f"model: {{path: {MODEL}}}\noutput:\n  http: 127.0.0.1:{hport}\n"
                              "  preview_fps: 10\n  preview_width: 640\n")
        live = {}
        for watchers in (0, 1, 4):
            xs, parts = [], []
            for _ in range(reps):
                argv = [os.path.join(build, "apps", "framepipe"), "run", "--quiet", "--duration", "10", view]
                clients = []

                def watch(k):
                    time.sleep(2)
                    out = os.path.join(work, f"w{k}.mjpg")
                    subprocess.run(["curl", "-s", "-N", "--max-time", "6", "-o", out,
                                    f"http://127.0.0.1:{hport}/api/cameras/cam/stream.mjpg"], check=False)
                    parts.append(open(out, "rb").read().count(b"Content-Type: image/jpeg"))
                for k in range(watchers):
                    clients.append(threading.Thread(target=watch, args=(k,)))
                    clients[-1].start()
                _, _, _, threads = run_rusage(argv)
                for c in clients:
                    c.join()
                xs.append(threads.get("fp-preview", 0.0) / 6.0 * 100)  # % of one core over the 6 s watched
            live[watchers] = (med(xs), statistics.median(parts) / 6.0 if parts else 0.0)
            print(f"live view, {watchers} watcher(s): preview thread {live[watchers][0][0]:.2f}% of a core, "
                  f"{live[watchers][1]:.1f} pictures/s per watcher", flush=True)

        cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
        lines = [
            "## Network outputs: records per second, and the CPU per frame they add",
            "",
            f"Machine: {cpu_model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}. "
            f"Servers on 127.0.0.1: redis-server {subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}, "
            "mosquitto (Debian 12), the tests' webhook receiver (Python http.server, one thread per request). "
            f"Median of {reps} runs (min-max). Command: `bench/bench_outputs.py build/release`.",
            "",
            "### 1. Records per second through one output (FpDelivery + transport, one connection, in order)",
            "",
            "| output | frame results/s | events/s | what one record costs |",
            "|---|---:|---:|---|",
        ]
        what = {"redis": "one XADD, waiting for its reply",
                "mqtt": "one PUBLISH at QoS 1, waiting for PUBACK (events: 2 topics)",
                "webhook": "one HTTP POST (keep-alive), waiting for the 2xx"}
        for kind in ("redis", "mqtt", "webhook"):
            f, e = rate[(kind, "frames")], rate[(kind, "events")]
            lines.append(f"| {kind} | {f[0]:,.0f} ({f[1]:,.0f}-{f[2]:,.0f}) | {e[0]:,.0f} ({e[1]:,.0f}-{e[2]:,.0f}) "
                         f"| {what[kind]} |")
        lines += [
            "",
            "### 2. CPU per frame of `framepipe run`, outputs off vs on",
            "",
            f"4 cameras at 30 fps, 1280x720 H.264 (Megamind.avi looped), each an RTSP client of the test "
            f"server (`tests/ingest/fp_rtsp_server`, real-time playback), {cpu_seconds} s per run "
            f"(~{frames['off'] // 4} frames per camera), "
            "BlazeFace front 128, enter/leave rules; on = Redis (frames + events) + MQTT (frames, events, counts) "
            "+ webhook (events). CPU = user + sys of the framepipe process (os.wait4).",
            "",
            "| outputs | ms CPU per frame | |",
            "|---|---:|---|",
            f"| off | {m_off[0]:.3f} ({m_off[1]:.3f}-{m_off[2]:.3f}) | |",
            f"| redis + mqtt + webhook | {m_on[0]:.3f} ({m_on[1]:.3f}-{m_on[2]:.3f}) | **{added:+.1f}%** "
            f"(target: under +2%) |",
            f"| of which the 3 output threads (fp-out-*) | {med(out_threads)[0]:.3f} | "
            f"{med(out_threads)[0] / m_off[0] * 100:.1f}% of the frame's CPU (libmosquitto's network thread not included) |",
            "",
            "The RTSP server runs in its own process; its CPU is not in these figures.",
            "",
            "### 3. The live view: CPU per watched camera (640 px wide, 10 fps)",
            "",
            "One camera (Megamind.avi 720x528, looped at full speed), `preview_fps: 10`, `preview_width: 640`; "
            "N clients (curl) read `/api/cameras/cam/stream.mjpg` for 6 s. CPU = the preview thread "
            "(`fp-preview`: scale, draw, JPEG-encode) over those 6 s, from /proc/PID/task/*/stat.",
            "",
            "| watchers | preview thread, % of one core | pictures/s each watcher got |",
            "|---:|---:|---:|",
        ] + [f"| {w} | {live[w][0][0]:.2f} ({live[w][0][1]:.2f}-{live[w][0][2]:.2f}) | {live[w][1]:.1f} |"
             for w in (0, 1, 4)] + [
            "",
            "Nobody watching costs nothing; watchers of one camera share its one JPEG.",
        ]
        body = "\n".join(lines) + "\n"
        print(body)
        out = md or os.path.join(work, "outputs.md")
        open(out, "w").write(body)
        if not md:
            subprocess.run([sys.executable, os.path.join(HERE, "update_results.py"), "outputs", out], check=True)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
