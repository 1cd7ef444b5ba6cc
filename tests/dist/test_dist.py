#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The camera, worker and logic roles against a real redis-server on 127.0.0.1: 4 cameras, 2 workers, 1 logic give exactly one result per (camera, sequence), in order; a SIGKILLed worker's frames are claimed; a Redis restart (AOF) loses nothing; poison goes to the dead-letter stream; bad settings are clear errors; a face entering a zone raises, through the logic role, the events `framepipe run` raises with the same config, once; frames whose model run keeps failing are dead-lettered after redis.max_deliveries.
#
# Usage: test_dist.py FRAMEPIPE [CASE...]   (meson runs it with Debian's /usr/bin/python3; exit 77 = skipped)
#
# The clips are made here (numpy frames piped into ffmpeg's lossless FFV1): each frame carries its number and
# its camera's index as black/white 32-pixel blocks, which the test reads back from the JPEGs in the frame
# stream (decoded by OpenCV, mapped through the message's own transform) to check that every message carries
# the picture it claims to. The logic role's JSON lines are the results; Redis is read with a small RESP client.
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from fp_cases import Skip, free_port, log, run_cases, stop  # noqa: E402 (after the path it is found in)

FRAMEPIPE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
BUILD = os.environ.get("FP_BUILD_DIR", tempfile.gettempdir())
CACHE = os.environ.get("FP_CACHE_DIR", os.path.expanduser("~/.cache/framepipe"))
MODEL = os.path.join(CACHE, "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
REDIS = "/usr/bin/redis-server"
MEGAMIND = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"
W, H, BLOCK, BITS = 320, 240, 32, 10

WORK = tempfile.mkdtemp(prefix="dist-", dir=BUILD)
procs = []






def wait_until(what, fn, timeout=90.0, procs_alive=()):
    t_end = time.time() + timeout
    while time.time() < t_end:
        for p in procs_alive:
            if p.poll() is not None:
                raise AssertionError(f"{p.args[1]} exited ({p.returncode}) while waiting for {what}")
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_port(port, proc=None, timeout=60.0):
    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            return False
    wait_until(f"127.0.0.1:{port}", up, timeout, (proc,) if proc else ())


def spawn(argv, name):
    f = open(os.path.join(WORK, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT)
    procs.append(p)
    return p




def slurp(name):
    with open(os.path.join(WORK, name + ".log"), "rb") as f:
        return f.read().decode("utf-8", "replace")


# ---- a tiny RESP client (binary safe) ----

class Redis:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")

    def __call__(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        return self.read()

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b":":
            return int(rest)
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise AssertionError(f"redis error: {rest.decode()}")
        raise AssertionError(f"redis: unexpected {line!r}")

    def close(self):
        self.s.close()


def entries(port, stream):
    r = Redis(port)
    out = [(i.decode(), dict(zip(f[0::2], f[1::2]))) for i, f in r("XRANGE", stream, "-", "+")]
    r.close()
    return out


def start_redis(port, data_dir, extra=()):
    if not os.path.exists(REDIS):
        raise Skip(f"{REDIS} missing (Debian package redis-server)")
    os.makedirs(data_dir, exist_ok=True)
    p = spawn([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
               "--appendfsync", "always", "--dir", data_dir, *extra], f"redis-{port}")
    wait_port(port, p)
    return p


# ---- clips and configs ----

def clip(cam, frames):
    """A lossless clip whose frame n shows n (BITS blocks) and the camera index (2 blocks) on a grey field."""
    path = os.path.join(BUILD, f"dist-cam{cam}-{frames}.mkv")
    if os.path.exists(path):
        return path
    try:
        import numpy as np
    except ImportError:
        raise Skip("python3-numpy missing")
    tmp = path + ".tmp.mkv"
    ff = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "gray",
                           "-s", f"{W}x{H}", "-r", "25", "-i", "-", "-c:v", "ffv1", "-pix_fmt", "gray", tmp],
                          stdin=subprocess.PIPE)
    for n in range(frames):
        img = np.full((H, W), 128, np.uint8)
        for b in range(BITS):
            img[0:BLOCK, b * BLOCK:(b + 1) * BLOCK] = 255 if (n >> b) & 1 else 0
        for b in range(2):
            img[H - BLOCK:H, b * BLOCK:(b + 1) * BLOCK] = 255 if (cam >> b) & 1 else 0
        ff.stdin.write(img.tobytes())
    ff.stdin.close()
    assert ff.wait() == 0, "ffmpeg failed"
    os.rename(tmp, path)
    return path


def config(name, redis_port, cams, frames, extra_redis="", password=None, output=""):
    text = "cameras:\n"
    for c in range(cams):
        text += f"  - {{name: cam{c}, url: {clip(c, frames)}, policy: lossless}}\n"
    text += f"model: {{path: {MODEL}}}\nbatch: {{max_batch: 4}}\n"
    text += f"redis:\n  url: redis://127.0.0.1:{redis_port}\n  claim_idle: 1s\n  block: 50ms\n"
    if password:
        text += f"  password: {password}\n"
    text += extra_redis
    text += output
    path = os.path.join(WORK, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def metric(port, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def results(path):
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out


def check_exactly_once(res, cams, frames):
    by = {}
    for r in res:
        by.setdefault(r["camera"], []).append(r["seq"])
        assert (r["width"], r["height"]) == (W, H), r
    assert sorted(by) == [f"cam{c}" for c in range(cams)], sorted(by)
    for cam, seqs in by.items():
        assert seqs == list(range(frames)), f"{cam}: {len(seqs)} results, first differences " \
            f"{[(i, s) for i, s in enumerate(seqs) if s != i][:5]}"


def check_frame_pictures(port, stream="framepipe:dist:frames", at_least=1):
    """The JPEG of each frame message shows the frame number and camera its fields name."""
    import cv2
    import numpy as np
    checked = 0
    for _id, f in entries(port, stream):
        if b"tf" not in f:
            continue
        img = cv2.imdecode(np.frombuffer(f[b"data"], np.uint8), cv2.IMREAD_GRAYSCALE)
        sx, sy, ox, oy = [float(v) for v in f[b"tf"].split()[:4]]

        def bit(x, y):
            return int(img[int(y * sy + oy), int(x * sx + ox)] > 128)
        n = sum(bit(b * BLOCK + BLOCK / 2, BLOCK / 2) << b for b in range(BITS))
        cam = sum(bit(b * BLOCK + BLOCK / 2, H - BLOCK / 2) << b for b in range(2))
        assert n == int(f[b"frame"]) and f"cam{cam}" == f[b"camera"].decode(), \
            (n, cam, f[b"frame"], f[b"camera"])
        checked += 1
    assert checked >= at_least, checked


def role(kind, cfg, name, *args):
    return spawn([FRAMEPIPE, kind, *args, cfg], name)


def workers_and_logic(cfg, n_workers=2):
    ws, ports = [], []
    for i in range(n_workers):
        port = free_port()
        ws.append(role("worker", cfg, f"worker{i}", "--consumer", f"w{i}", "--http", f"127.0.0.1:{port}"))
        ports.append(port)
    lport = free_port()
    out = os.path.join(WORK, os.path.basename(cfg) + ".results.jsonl")
    lg = role("logic", cfg, "logic", "--jsonl", out, "--http", f"127.0.0.1:{lport}")
    for p, w in zip(ports, ws):
        wait_port(p, w)
    wait_port(lport, lg)
    return ws, ports, lg, lport, out


# ---- cases ----

def case_four_cameras_two_workers_exactly_once_in_order():
    rport, cams, frames = free_port(), 4, 40
    start_redis(rport, os.path.join(WORK, "r1"))
    # the logic role's network outputs are run's: every result also goes to output.redis' frame stream
    cfg = config("plain", rport, cams, frames, output=f"output:\n  spool: {WORK}/spool\n  redis: "
                 f"{{url: 'redis://127.0.0.1:{rport}', stream_frames: 'out:frames', events: false}}\n")
    ws, wports, lg, lport, out = workers_and_logic(cfg)
    cam = role("camera", cfg, "camera")
    assert cam.wait(120) == 0, slurp("camera")[-2000:]
    wait_until("every result", lambda: len(results(out)) >= cams * frames, 120, (lg, *ws))
    time.sleep(0.5)  # a duplicate would come now
    check_exactly_once(results(out), cams, frames)
    check_frame_pictures(rport, at_least=cams * frames)
    assert sum(metric(p, "fp_dist_frames_total") for p in wports) >= cams * frames
    assert metric(lport, "fp_dist_results_delivered_total") == cams * frames
    out_frames = wait_until("output.redis got every result", lambda: (lambda e: e if len(e) >= cams * frames else None)(
        entries(rport, "out:frames")), 30, (lg,))
    assert len(out_frames) == cams * frames, len(out_frames)
    # a result sent again (a worker that died between XADD and XACK does that): dropped, counted, acknowledged
    sent = entries(rport, "framepipe:dist:results")
    r = Redis(rport)
    for _id, f in (sent[0], sent[len(sent) // 2], sent[-1]):
        r("XADD", "framepipe:dist:results", "*", *[x for kv in f.items() for x in kv])
    r.close()
    wait_until("3 duplicates dropped", lambda: metric(lport, "fp_dist_duplicates_total") >= 3, 30, (lg,))
    time.sleep(0.3)
    check_exactly_once(results(out), cams, frames)
    assert metric(lport, "fp_dist_results_delivered_total") == cams * frames
    for p in ws + [lg]:
        assert stop(p) == 0


def pending_of(port, consumer):
    r = Redis(port)
    rows = r("XPENDING", "framepipe:dist:frames", "workers", "-", "+", "100", consumer)
    r.close()
    return len(rows)


def case_sigkill_worker_its_frames_are_claimed_exactly_once():
    rport, cams, frames = free_port(), 4, 80
    start_redis(rport, os.path.join(WORK, "r2"))
    cfg = config("kill", rport, cams, frames)
    ws, wports, lg, lport, out = workers_and_logic(cfg)
    cam = role("camera", cfg, "camera")
    # catch w0 holding frames it has read and not acknowledged (stopped, not yet killed), then kill it
    victim, survivor = ws[0], wports[1]
    wait_until("w0 working", lambda: metric(wports[0], "fp_dist_frames_total") > 0, 120, (victim,))
    for _ in range(2000):
        victim.send_signal(signal.SIGSTOP)
        if pending_of(rport, "w0") > 0:
            break
        victim.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    held = pending_of(rport, "w0")
    assert held > 0, "w0 never held a frame"
    victim.kill()
    victim.wait()
    assert cam.wait(120) == 0, slurp("camera")[-2000:]
    wait_until("every result", lambda: len(results(out)) >= cams * frames, 120, (lg, ws[1]))
    time.sleep(0.5)
    check_exactly_once(results(out), cams, frames)
    assert metric(survivor, "fp_dist_claimed_total") >= held, (metric(survivor, "fp_dist_claimed_total"), held)
    assert pending_of(rport, "w0") == 0
    for p in (ws[1], lg):
        assert stop(p) == 0


def case_redis_restart_with_aof_loses_nothing():
    rport, cams, frames = free_port(), 4, 150
    data = os.path.join(WORK, "r3")
    redis = start_redis(rport, data)
    # batches of one frame: the workers are surely still busy when Redis goes away
    cfg = config("restart", rport, cams, frames).replace(".yaml", "")
    with open(cfg + ".yaml") as f:
        text = f.read().replace("max_batch: 4", "max_batch: 1")
    cfg += "-b1.yaml"
    with open(cfg, "w") as f:
        f.write(text)
    ws, wports, lg, lport, out = workers_and_logic(cfg)
    for w in ws:
        w.send_signal(signal.SIGSTOP)
    cam = role("camera", cfg, "camera")
    assert cam.wait(120) == 0, slurp("camera")[-2000:]
    for w in ws:
        w.send_signal(signal.SIGCONT)
    wait_until("some results", lambda: len(results(out)) >= 8, 120, (lg, *ws))
    for w in ws:
        w.send_signal(signal.SIGSTOP)
    done_before = len(results(out))
    assert done_before < cams * frames, f"all {done_before} results came before Redis was stopped"
    rc = stop(redis)
    assert rc == 0, f"redis-server exited {rc}"
    for w in ws:
        w.send_signal(signal.SIGCONT)
    wait_until("the roles retrying", lambda: slurp("logic").count("retrying in") >= 2, 60, (lg, *ws))
    redis = start_redis(rport, data)
    wait_until("every result", lambda: len(results(out)) >= cams * frames, 120, (lg, *ws))
    time.sleep(1.0)
    check_exactly_once(results(out), cams, frames)
    reconnects = [metric(p, "fp_dist_reconnects_total") for p in wports + [lport]]
    assert all(n >= 1 for n in reconnects), reconnects
    log(f"  {done_before} of {cams * frames} results before the restart; reconnects {reconnects}")
    for p in ws + [lg]:
        assert stop(p) == 0


def case_poison_goes_to_the_dead_letter_stream():
    import numpy as np
    rport, frames = free_port(), 10
    start_redis(rport, os.path.join(WORK, "r4"))
    cfg = config("poison", rport, 1, frames)
    ws, wports, lg, lport, out = workers_and_logic(cfg, n_workers=1)
    r = Redis(rport)
    base = [b"v", b"1", b"camera", b"bad", b"epoch", b"1", b"seq", b"0", b"frame", b"0", b"pts", b"0",
            b"capture", str(time.time_ns()).encode(), b"src", b"320x240", b"tf", b"0.4 0.4 0 16 0 0 320 240"]
    r("XADD", "framepipe:dist:frames", "*", b"v", b"1", b"camera", b"bad")  # fields missing
    r("XADD", "framepipe:dist:frames", "*", *base, b"dst", b"128x128", b"enc", b"jpeg", b"data",
      b"\xff\xd8\xff\xe0 not a jpeg")
    raw = np.zeros(64 * 64 * 3, np.uint8).tobytes()
    r("XADD", "framepipe:dist:frames", "*", *base, b"dst", b"64x64", b"enc", b"raw", b"data", raw)
    r("XADD", "framepipe:dist:results", "*", b"v", b"1", b"camera", b"bad", b"n", b"x")  # a poison result
    r.close()
    cam = role("camera", cfg, "camera")
    assert cam.wait(120) == 0, slurp("camera")[-2000:]
    wait_until("the good frames' results", lambda: len(results(out)) >= frames, 120, (lg, *ws))
    dead = wait_until("4 dead letters", lambda: (lambda e: e if len(e) >= 4 else None)(
        entries(rport, "framepipe:dist:dead")), 60)
    reasons = sorted(f[b"reason"].decode() for _i, f in dead)
    log("  dead-letter reasons:", reasons)
    assert len(dead) == 4, reasons
    assert any("field 'dst' is missing" in x or "is missing" in x for x in reasons), reasons
    assert any("bad JPEG" in x for x in reasons), reasons
    assert any("frame is 64x64, the model's input is 128x128" in x for x in reasons), reasons
    assert any(x.startswith("result message") for x in reasons), reasons
    assert metric(wports[0], "fp_dist_dead_lettered_total") == 3
    assert metric(lport, "fp_dist_dead_lettered_total") == 1
    # XPENDING as the worker reports it (refreshed every second): nothing left unacknowledged
    wait_until("no pending frames", lambda: metric(wports[0], "fp_dist_group_pending") == 0, 30, (ws[0],))
    check_exactly_once(results(out), 1, frames)
    for p in ws + [lg]:
        assert stop(p) == 0


def run_expect(argv, code, timeout=60):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == code, (argv, p.returncode, p.stderr[-2000:])
    return p.stderr


def case_bad_settings_are_clear_errors():
    # no redis: section -> exit 2
    cfg = config("nosection", 1, 1, 5)
    with open(cfg) as f:
        text = f.read()
    text = text[:text.index("redis:")]
    with open(cfg, "w") as f:
        f.write(text)
    for kind in ("camera", "worker", "logic"):
        err = run_expect([FRAMEPIPE, kind, cfg], 2)
        assert "no redis: section" in err, err
    # a bad key in it -> exit 2, FILE:LINE:COL
    cfg = config("badkey", 1, 1, 5, extra_redis="  claim_idel: 1s\n")
    err = run_expect([FRAMEPIPE, "worker", cfg], 2)
    assert "badkey.yaml:" in err and "claim_idel" in err, err
    # unreachable: retries with backoff (still alive, logging), --give-up makes it exit 1
    dead = free_port()
    cfg = config("unreachable", dead, 1, 5)
    err = run_expect([FRAMEPIPE, "logic", "--give-up", "1", cfg], 1)
    assert f"127.0.0.1:{dead}" in err and "refused" in err.lower(), err
    p = role("worker", cfg, "retrying")
    wait_until("a retry line", lambda: slurp("retrying").count("retrying in") >= 3, 60, (p,))
    assert stop(p) == 0, slurp("retrying")[-2000:]
    # a wrong password -> exit 2 naming the setting, at once (no retry)
    rport = free_port()
    start_redis(rport, os.path.join(WORK, "r5"), ("--requirepass", "right"))
    cfg = config("password", rport, 1, 5, password="wrong")
    for kind in ("camera", "worker", "logic"):
        err = run_expect([FRAMEPIPE, kind, cfg], 2)
        assert "AUTH refused" in err and "redis.password" in err, err
    cfg = config("nopassword", rport, 1, 5)
    err = run_expect([FRAMEPIPE, "worker", cfg], 2)
    assert "NOAUTH" in err, err


def slide_clip():
    """Frame 230 of Megamind.avi (one face) sliding across a grey 320x240 canvas (tests/apps/test_outputs.py's
    clip), three times: the face enters the right half and leaves it (or vanishes) once per pass, 150 frames."""
    path = os.path.join(BUILD, "dist-slide3.mkv")
    if os.path.exists(path):
        return path
    if not os.path.exists(MEGAMIND):
        raise Skip(f"{MEGAMIND} missing (opencv-doc)")
    png = os.path.join(WORK, "face.png")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", MEGAMIND, "-vf", r"select=eq(n\,230)",
                    "-frames:v", "1", png], check=True)
    tmp = path + ".tmp.mkv"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25:d=6",
                    "-loop", "1", "-framerate", "25", "-i", png, "-filter_complex",
                    "[1:v]scale=160:120[f];[0:v][f]overlay=x='-40+200*mod(t,2)':y=60:enable='lt(mod(t,2),1.6)':"
                    "shortest=1,format=yuv420p", "-c:v", "ffv1", "-t", "6", tmp], check=True)
    os.rename(tmp, path)
    return path


def event_keys(path):
    out = []
    for r in results(path):
        out.append((r["rule"], r["camera_name"], r["track_id"], r["kind"]))
    return out


def case_zone_event_through_logic_same_as_run():
    """A face moving into a zone (raw frames): the logic role raises the events `framepipe run` raises with the same config
    (rule, camera, track, kind), each exactly once, in its events JSON lines and on output.redis' event stream."""
    rport = free_port()
    start_redis(rport, os.path.join(WORK, "r6"))
    text = (
        "cameras:\n"
        f"  - name: slide\n    url: {slide_clip()}\n    policy: lossless\n"
        "    zones:\n      - {name: right, points: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
        f"model: {{path: {MODEL}}}\nbatch: {{max_batch: 4}}\n"
        "tracker: {anchor: center}\n"
        "rules:\n"
        "  - {name: arrives, kind: enter, zone: right, class: face}\n"
        "  - {name: goes, kind: leave, zone: right, class: face}\n"
        f"redis:\n  url: redis://127.0.0.1:{rport}\n  claim_idle: 1s\n  block: 50ms\n"
        # raw frames: the worker sees the in-process pictures but for the uint8 rounding of the letterbox (JPEG
        # q85 raises a second, 0.5-0.6 box beside this face on some frames: another track, other events)
        "  encoding: raw\n"
    )
    paths = {}
    for kind in ("run", "dist"):
        ev = os.path.join(WORK, f"zone-{kind}-events.jsonl")
        out = (f"output:\n  jsonl: {WORK}/zone-{kind}.jsonl\n  events: {ev}\n  spool: {WORK}/zone-{kind}-spool\n")
        if kind == "dist":
            out += (f"  redis: {{url: 'redis://127.0.0.1:{rport}', stream_events: 'out:events', frames: false}}\n")
        paths[kind] = os.path.join(WORK, f"zone-{kind}.yaml")
        with open(paths[kind], "w") as f:
            f.write(text + out)
    run = spawn([FRAMEPIPE, "run", "-q", paths["run"]], "zone-run")
    assert run.wait(300) == 0, slurp("zone-run")[-2000:]
    want = event_keys(os.path.join(WORK, "zone-run-events.jsonl"))
    assert any(k[0] == "arrives" for k in want) and any(k[0] == "goes" for k in want), want
    assert len(want) >= 4, want  # three passes: at least two arrivals and two departures

    cfg = paths["dist"]
    ws, wports, lg, lport, out = workers_and_logic(cfg, n_workers=1)
    cam = role("camera", cfg, "camera")
    assert cam.wait(120) == 0, slurp("camera")[-2000:]
    frames = len(results(os.path.join(WORK, "zone-run.jsonl")))
    wait_until("every result", lambda: len(results(out)) >= frames, 120, (lg, *ws))
    ev = os.path.join(WORK, "zone-dist-events.jsonl")
    wait_until("the events", lambda: len(event_keys(ev)) >= len(want), 30, (lg,))
    time.sleep(0.5)  # a second copy would come now
    got = event_keys(ev)
    assert got == want, f"logic role: {got}\nframepipe run: {want}"
    streamed = wait_until("output.redis' events", lambda: (lambda e: e if len(e) >= len(want) else None)(
        entries(rport, "out:events")), 30, (lg,))
    time.sleep(0.3)
    streamed = entries(rport, "out:events")
    keys = []
    for _id, f in streamed:
        assert f[b"kind"] == b"event", f
        e = json.loads(f[b"data"])
        keys.append((e["rule"], e["camera_name"], e["track_id"], e["kind"]))
    assert keys == want, f"output.redis: {keys}\nframepipe run: {want}"
    assert metric(lport, "fp_events_total") == len(want)
    for p in ws + [lg]:
        assert stop(p) == 0


def failing_model(path):
    """A YOLOv8-shaped model (images [B, 3, 64, 64] -> output0 [B, 5, 84], one class) whose run fails when a
    picture is bright: output0 = Gather(zeros [1, 5, 84], floor(2 * max pixel)), an index out of bounds once
    a pixel is 0.5 or more (pixel / 255; the letterbox pad 114 is below). Dark pictures give no detection."""
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        raise Skip("python3-onnx missing")
    g = helper.make_graph(
        [helper.make_node("ReduceMax", ["images"], ["m"], axes=[1, 2, 3], keepdims=0),
         helper.make_node("Mul", ["m", "two"], ["m2"]),
         helper.make_node("Floor", ["m2"], ["f"]),
         helper.make_node("Cast", ["f"], ["idx"], to=TensorProto.INT64),
         helper.make_node("Gather", ["table", "idx"], ["output0"], axis=0)],
        "fails_on_bright",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 64, 64])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, ["batch", 5, 84])],
        [helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
         helper.make_tensor("table", TensorProto.FLOAT, [1, 5, 84], [0.0] * 420)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return path


def flat_clip(name, colour, frames):
    path = os.path.join(WORK, name + ".mkv")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c={colour}:s={W}x{H}:r=25", "-frames:v", str(frames), "-c:v", "ffv1", path], check=True)
    return path


def case_failing_model_runs_dead_letter_after_max_deliveries():
    """A batch whose model run fails is not retried forever: each frame is claimed again until it has been
    delivered redis.max_deliveries times, then it is in the dead-letter stream with the model's error; the
    worker goes on (frames after them get their results)."""
    rport = free_port()
    start_redis(rport, os.path.join(WORK, "r7"))
    model = failing_model(os.path.join(WORK, "fails_on_bright.onnx"))
    bright, dark = flat_clip("bright", "white", 6), flat_clip("dark", "0x202020", 6)
    text = (f"cameras:\n  - {{name: bright, url: {bright}, policy: lossless}}\n"
            f"  - {{name: dark, url: {dark}, policy: lossless}}\n"
            f"model: {{path: {model}}}\nbatch: {{max_batch: 4}}\n"
            f"redis:\n  url: redis://127.0.0.1:{rport}\n  claim_idle: 400ms\n  block: 50ms\n  max_deliveries: 2\n")
    cfg = os.path.join(WORK, "failing.yaml")
    with open(cfg, "w") as f:
        f.write(text)
    bright_only = os.path.join(WORK, "failing-bright.yaml")
    with open(bright_only, "w") as f:
        f.write(text.replace(f"  - {{name: dark, url: {dark}, policy: lossless}}\n", ""))
    dark_only = os.path.join(WORK, "failing-dark.yaml")
    with open(dark_only, "w") as f:
        f.write(text.replace(f"  - {{name: bright, url: {bright}, policy: lossless}}\n", ""))
    ws, wports, lg, lport, out = workers_and_logic(cfg, n_workers=1)
    cam = role("camera", bright_only, "camera-bright")
    assert cam.wait(120) == 0, slurp("camera-bright")[-2000:]
    dead = wait_until("6 dead-lettered frames", lambda: (lambda e: e if len(e) >= 6 else None)(
        entries(rport, "framepipe:dist:dead")), 120, (ws[0],))
    for _id, f in dead:
        reason = f[b"reason"].decode()
        assert "model run failed in each of 2 deliveries" in reason, reason
        assert "Gather" in reason or "out of" in reason or "bounds" in reason, reason  # ORT's own message
    assert metric(wports[0], "fp_dist_model_failures_total") >= 2, metric(wports[0], "fp_dist_model_failures_total")
    assert metric(wports[0], "fp_dist_dead_lettered_total") == 6
    r = Redis(rport)
    assert r("XPENDING", "framepipe:dist:frames", "workers")[0] == 0
    r.close()
    # the worker goes on: dark frames get their results
    cam = role("camera", dark_only, "camera-dark")
    assert cam.wait(120) == 0, slurp("camera-dark")[-2000:]
    wait_until("the dark camera's results", lambda: len([x for x in results(out) if x["camera"] == "dark"]) >= 6,
               120, (lg, *ws))
    assert [x["seq"] for x in results(out) if x["camera"] == "dark"] == list(range(6))
    time.sleep(0.5)
    assert len(entries(rport, "framepipe:dist:dead")) == 6
    for p in ws + [lg]:
        assert stop(p) == 0


if __name__ == "__main__":
    sys.exit(run_cases("test_dist.py", globals(), procs, WORK, [(MODEL, "run scripts/setup.sh")]))
