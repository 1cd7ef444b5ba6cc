#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# `framepipe run` with its network outputs against real servers on 127.0.0.1 (redis-server, mosquitto, a webhook receiver): events arrive complete, in order and exactly once across a server outage, a SIGKILL of framepipe replays the spool, bad settings are clear errors.
#
# Usage: test_outputs.py FRAMEPIPE [CASE...]   (meson runs it with Debian's /usr/bin/python3; exit 77 = skipped)
#
# The clip: frame 230 of opencv-doc's Megamind.avi (one face) sliding across a grey 320x240 canvas in 1.6 s of
# every 2 s, looped and processed as fast as the machine goes: the `enter` and `leave` rules of a zone on the
# right half raise about two events per loop. The events JSON lines file framepipe writes next to the outputs is
# the reference: every output must deliver exactly that list of events, in that order, once.
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
from fp_cases import Skip, free_port, log, run_cases, stop, wait_port  # noqa: E402 (after the path it is found in)

FRAMEPIPE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
SRC = os.environ.get("FP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("FP_BUILD_DIR", tempfile.gettempdir())
CACHE = os.environ.get("FP_CACHE_DIR", os.path.expanduser("~/.cache/framepipe"))
MODEL = os.path.join(CACHE, "models", "blazeface", "face_detection_front_128x128_barracuda.onnx")
MEGAMIND = "/usr/share/doc/opencv-doc/examples/data/Megamind.avi"
RECEIVER = os.path.join(SRC, "tests", "harness", "webhook_receiver.py")

WORK = tempfile.mkdtemp(prefix="outputs-", dir=BUILD)
procs = []








def spawn(argv, name, stdout=None):
    log_file = open(os.path.join(WORK, name + ".log"), "ab")
    p = subprocess.Popen(argv, stdout=stdout or log_file, stderr=log_file if stdout else subprocess.STDOUT)
    procs.append(p)
    return p




def slurp(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def clip():
    path = os.path.join(BUILD, "outputs-slide2.mp4")
    if os.path.exists(path):
        return path
    if not os.path.exists(MEGAMIND):
        raise Skip(f"{MEGAMIND} missing (opencv-doc)")
    png = os.path.join(WORK, "face.png")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", MEGAMIND, "-vf", r"select=eq(n\,230)",
                    "-frames:v", "1", png], check=True)
    tmp = path + ".tmp.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=gray:s=320x240:r=25:d=2",
                    "-loop", "1", "-framerate", "25", "-i", png, "-filter_complex",
                    "[1:v]scale=160:120[f];[0:v][f]overlay=x='-40+200*t':y=60:enable='lt(t,1.6)':shortest=1,"
                    "format=yuv420p", "-c:v", "libx264", "-g", "25", "-t", "2", tmp], check=True)
    os.rename(tmp, path)
    return path


def config(name, outputs, http_port=None, duration_loop=True):
    """Writes a run config with the sliding clip, the rules and `outputs` (YAML text under output:)."""
    ev = os.path.join(WORK, name + "-events.jsonl")
    spool = os.path.join(WORK, name + "-spool")
    text = (
        "cameras:\n"
        f"  - name: slide\n    url: {clip()}\n    loop: {'true' if duration_loop else 'false'}\n"
        "    zones:\n      - {name: right, points: [[160, 0], [320, 0], [320, 240], [160, 240]]}\n"
        f"model: {{path: {MODEL}}}\n"
        "tracker: {anchor: center}\n"
        "rules:\n"
        "  - {name: arrives, kind: enter, zone: right, class: face}\n"
        "  - {name: goes, kind: leave, zone: right, class: face}\n"
        "output:\n"
        "  jsonl: /dev/null\n"
        f"  events: {ev}\n"
        f"  spool: {spool}\n"
        + (f"  http: 127.0.0.1:{http_port}\n" if http_port else "")
        + outputs
    )
    path = os.path.join(WORK, name + ".yaml")
    with open(path, "w") as f:
        f.write(text)
    return path, ev, spool


def events_of(path):
    out = []
    for line in slurp(path).splitlines():
        out.append(json.loads(line))
    return out


def metric(port, name):
    """Sum of a metric's series on /metrics (0 when absent)."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def fps_over(port, seconds):
    a = metric(port, "fp_frames_total")
    time.sleep(seconds)
    return (metric(port, "fp_frames_total") - a) / seconds


def start_redis(port, data_dir):
    if not os.path.exists("/usr/bin/redis-server"):
        raise Skip("/usr/bin/redis-server missing (Debian package redis-server)")
    os.makedirs(data_dir, exist_ok=True)
    p = spawn(["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "yes", "--appendfsync", "always", "--dir", data_dir], f"redis-{port}")
    wait_port(port, p)
    return p


def redis_events(port, stream="framepipe:events"):
    """(camera, id) of every entry of the stream, in stream order, with the data checked against its fields."""
    out = subprocess.run(["redis-cli", "-p", str(port), "--json", "XRANGE", stream, "-", "+"], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0 or out.stdout.startswith("("):
        # redis-cli of Debian 12 (7.0) has --json; fall back to the raw protocol through a tiny reader
        return redis_events_raw(port, stream)
    entries = json.loads(out.stdout)
    got = []
    for _id, fields in entries:
        f = dict(zip(fields[0::2], fields[1::2])) if isinstance(fields, list) else fields
        data = json.loads(f["data"])
        assert f["kind"] == "event", f
        assert f["camera"] == data["camera_name"], f
        assert int(f["seq"]) == data["id"], f
        got.append((data["camera_name"], data["id"]))
    return got


def redis_events_raw(port, stream):
    s = socket.create_connection(("127.0.0.1", port))
    args = [b"XRANGE", stream.encode(), b"-", b"+"]
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    buf = s.makefile("rb")

    def read():
        line = buf.readline()
        t, rest = line[:1], line[1:-2]
        if t == b"*":
            return [read() for _ in range(int(rest))]
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            d = buf.read(n + 2)[:-2]
            return d.decode()
        if t in (b"+", b":"):
            return rest.decode()
        raise AssertionError(f"redis: {line!r}")

    entries = read()
    s.close()
    got = []
    for _id, fields in entries:
        f = dict(zip(fields[0::2], fields[1::2]))
        data = json.loads(f["data"])
        assert f["kind"] == "event" and int(f["seq"]) == data["id"], f
        got.append((data["camera_name"], data["id"]))
    return got


def check_same_events(reference, got, what, outages=1):
    """
    Every raised event arrives, in the order raised. Delivery is at-least-once (docs/outputs.md,
    "Duplicates"): a record whose acknowledgement was lost in an outage is sent again, so each outage may
    repeat the record(s) in flight then, right after their first copy. Anything else is a failure.
    """
    ref = [(e["camera_name"], e["id"]) for e in reference]
    seen, first, repeats = [], {}, []
    for i, g in enumerate(got):
        if g in first:
            repeats.append((g, first[g], i))
        else:
            first[g] = i
            seen.append(g)
    if seen != ref:
        missing = [r for r in ref if r not in first]
        raise AssertionError(f"{what}: {len(got)} events delivered, {len(ref)} raised; {len(repeats)} duplicates, "
                             f"missing {missing[:10]}; first difference at "
                             f"{next((i for i, (a, b) in enumerate(zip(seen, ref)) if a != b), min(len(seen), len(ref)))}")
    # in flight during an outage: at most one record per topic/stream path (an MQTT event has two topics)
    assert len(repeats) <= 2 * outages, f"{what}: {len(repeats)} duplicates for {outages} outage(s): {repeats[:10]}"
    for g, a, b in repeats:
        assert b - a <= 4, f"{what}: event {g} delivered at {a} and again at {b}, not a resend of an in-flight record"
    if repeats:
        log(f"  {what}: {len(repeats)} event(s) delivered twice (acknowledgement lost in the outage): {repeats}")


def spool_empty(spool_dir, kind):
    p = os.path.join(spool_dir, kind + ".spool")
    return not os.path.exists(p) or os.path.getsize(p) == 0


def run_for(cfg, seconds, name, http_port=None):
    p = spawn([FRAMEPIPE, "run", "--quiet", "--duration", str(seconds), cfg], name)
    if http_port:
        wait_port(http_port, p)
    return p


def finish(p, name, timeout=60):
    rc = p.wait(timeout)
    assert rc == 0, f"framepipe exited {rc}: {slurp(os.path.join(WORK, name + '.log'))[-2000:]}"


# ---- cases ------------------------------------------------------------------------------------------------------

def case_redis_outage_spools_and_delivers_every_event_in_order():
    rport, hport = free_port(), free_port()
    redis = start_redis(rport, os.path.join(WORK, "redis-data"))
    cfg, ev, spool = config("redis-outage", f"  redis: {{url: 'redis://127.0.0.1:{rport}', maxlen: 0}}\n", hport)
    fp = run_for(cfg, 16, "redis-outage", hport)
    time.sleep(2)
    fps_up = fps_over(hport, 2)
    stop(redis)  # SIGTERM: the server goes away mid-run
    down = fps_over(hport, 3)
    spooled = metric(hport, "framepipe_output_spooled_total")
    connected = metric(hport, "framepipe_output_connected")
    redis = start_redis(rport, os.path.join(WORK, "redis-data"))
    finish(fp, "redis-outage")
    log(f"  fps with redis up {fps_up:.0f}, down {down:.0f}; {spooled:.0f} events spooled while down")
    assert connected == 0, "the output still says connected while redis is down"
    assert spooled > 0, "no event was spooled while redis was down"
    assert down >= 0.5 * fps_up, f"detection slowed down while redis was down: {down:.0f} vs {fps_up:.0f} fps"
    ref = events_of(ev)
    assert len(ref) >= 10, f"only {len(ref)} events raised"
    check_same_events(ref, redis_events(rport), "redis")
    assert spool_empty(spool, "redis"), "the spool is not empty after the replay"
    frames = subprocess.run(["redis-cli", "-p", str(rport), "XLEN", "framepipe:frames"], capture_output=True,
                            text=True).stdout.strip()
    assert int(frames) > 100, f"only {frames} frame results in framepipe:frames"
    stop(redis)


def case_sigkill_with_events_spooled_replays_them_on_next_start():
    rport, hport = free_port(), free_port()
    cfg, ev, spool = config("kill", f"  redis: {{url: 'redis://127.0.0.1:{rport}', frames: false}}\n", hport)
    fp = run_for(cfg, 60, "kill", hport)  # redis is not running: every event goes to the spool
    t_end = time.time() + 30
    while time.time() < t_end and metric(hport, "framepipe_output_spooled_total") < 10:
        time.sleep(0.2)
    # stop raising events (SIGSTOP), let the output spool what is queued, then kill -9
    fp.send_signal(signal.SIGSTOP)
    raised = len(events_of(ev))
    fp.send_signal(signal.SIGCONT)
    t_end = time.time() + 10
    while time.time() < t_end and metric(hport, "framepipe_output_spooled_total") < raised:
        time.sleep(0.05)
    fp.send_signal(signal.SIGKILL)
    fp.wait()
    ref = events_of(ev)
    assert not spool_empty(spool, "redis"), "nothing in the spool after the kill"
    redis = start_redis(rport, os.path.join(WORK, "redis-kill"))
    # the next start (a clip without events: loop off, and the stream is read from the replay)
    cfg2, ev2, _ = config("kill", f"  redis: {{url: 'redis://127.0.0.1:{rport}', frames: false}}\n", None,
                          duration_loop=False)
    os.replace(ev, ev + ".first")
    p2 = run_for(cfg2, 30, "kill-2")
    finish(p2, "kill-2")
    got = redis_events(rport)
    second = events_of(ev2)
    # the first run's events (at least those spooled before the kill) come first, in order, once, then the second run's
    first_part = got[: len(got) - len(second)]
    ref_ids = [(e["camera_name"], e["id"]) for e in ref]
    assert len(first_part) >= 10, f"only {len(first_part)} events replayed"
    assert first_part == ref_ids[: len(first_part)], f"replayed {first_part[:5]}... expected {ref_ids[:5]}..."
    log(f"  {len(first_part)} of {len(ref)} events raised before the kill were replayed on the next start")
    assert spool_empty(spool, "redis")
    stop(redis)


def start_mosquitto(port, data_dir):
    if not os.path.exists("/usr/sbin/mosquitto"):
        raise Skip("/usr/sbin/mosquitto missing (Debian package mosquitto)")
    os.makedirs(data_dir, exist_ok=True)
    conf = os.path.join(data_dir, "mosquitto.conf")
    with open(conf, "w") as f:
        # run as root, mosquitto would switch to the user mosquitto, which cannot write our folder
        user = "user root\n" if os.geteuid() == 0 else ""
        f.write(f"{user}listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                f"persistence_location {data_dir}/\nautosave_interval 1\n")
    p = spawn(["/usr/sbin/mosquitto", "-c", conf], f"mosquitto-{port}")
    wait_port(port, p)
    return p


def case_mqtt_outage_spools_and_delivers_every_event_in_order():
    if not os.path.exists("/usr/bin/mosquitto_sub"):
        raise Skip("/usr/bin/mosquitto_sub missing (Debian package mosquitto-clients)")
    mport, hport = free_port(), free_port()
    data = os.path.join(WORK, "mqtt-data")
    broker = start_mosquitto(mport, data)
    got_path = os.path.join(WORK, "mqtt-events.txt")
    # a persistent session (-c, fixed id, QoS 1): the broker keeps what arrives while the subscriber reconnects
    sub = spawn(["/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", str(mport), "-c", "-i", "fp-test-sub", "-q", "1",
                 "-t", "framepipe/events", "-t", "framepipe/availability", "-v"], "mqtt-sub",
                stdout=open(got_path, "wb"))
    time.sleep(0.5)
    cfg, ev, spool = config("mqtt-outage", f"  mqtt: {{host: 127.0.0.1, port: {mport}, qos: 1, frames: false}}\n",
                            hport)
    fp = run_for(cfg, 14, "mqtt-outage", hport)
    time.sleep(2)
    fps_up = fps_over(hport, 2)
    stop(broker)
    down = fps_over(hport, 3)
    spooled = metric(hport, "framepipe_output_spooled_total")
    broker = start_mosquitto(mport, data)
    finish(fp, "mqtt-outage")
    time.sleep(2)
    stop(sub)
    log(f"  fps with mosquitto up {fps_up:.0f}, down {down:.0f}; {spooled:.0f} events spooled while down")
    assert spooled > 0
    assert down >= 0.5 * fps_up, f"detection slowed down while mosquitto was down: {down:.0f} vs {fps_up:.0f}"
    got, avail = [], []
    for line in slurp(got_path).splitlines():
        topic, _, payload = line.partition(" ")
        if topic == "framepipe/availability":
            avail.append(payload)
            continue
        data_ = json.loads(payload)
        got.append((data_["camera_name"], data_["id"]))
    check_same_events(events_of(ev), got, "mqtt")
    assert avail and avail[0] == "online" and avail[-1] == "offline", f"availability {avail}"
    assert spool_empty(spool, "mqtt")
    stop(broker)


def start_receiver(port, log_path):
    if not os.path.exists(RECEIVER):
        raise Skip(f"{RECEIVER} missing")
    p = spawn(["/usr/bin/python3", RECEIVER, "--port", str(port), "--out", log_path, "--hang-seconds", "2"],
              f"receiver-{port}")
    wait_port(port, p)
    return p


def receiver_mode(port, mode):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/_mode", data=mode.encode(), method="POST")
    urllib.request.urlopen(req, timeout=5).read()


def case_webhook_failing_and_hanging_then_every_event_in_order():
    wport, hport = free_port(), free_port()
    got_path = os.path.join(WORK, "webhook.jsonl")
    recv = start_receiver(wport, got_path)
    cfg, ev, spool = config("webhook", f"  webhook: {{url: 'http://127.0.0.1:{wport}/hook', bearer_token: s3cret, "
                                       f"timeout: 500ms, headers: {{X-Site: north}}}}\n", hport)
    fp = run_for(cfg, 16, "webhook", hport)
    time.sleep(2)
    fps_up = fps_over(hport, 2)
    receiver_mode(wport, "fail")
    down = fps_over(hport, 2)
    receiver_mode(wport, "hang")
    hang = fps_over(hport, 2)
    spooled = metric(hport, "framepipe_output_spooled_total")
    receiver_mode(wport, "ok")
    finish(fp, "webhook")
    stop(recv)
    log(f"  fps with the webhook up {fps_up:.0f}, failing {down:.0f}, hanging {hang:.0f}; {spooled:.0f} spooled")
    assert spooled > 0
    assert min(down, hang) >= 0.5 * fps_up, "detection slowed down while the webhook failed"
    got = []
    for line in slurp(got_path).splitlines():
        r = json.loads(line)
        # answered 2xx in time; in "hang" mode the answer comes after framepipe gave up (a failed delivery)
        if not (200 <= r["answered"] < 300) or r.get("mode") == "hang":
            continue
        assert r["headers"].get("authorization") == "Bearer s3cret", r["headers"]
        assert r["headers"].get("x-site") == "north", r["headers"]
        body = json.loads(r["body"])
        got.append((body["camera_name"], body["id"]))
    check_same_events(events_of(ev), got, "webhook", outages=2)
    assert spool_empty(spool, "webhook")


def case_bad_settings_are_clear_errors_never_a_stall():
    # TLS with Debian's hiredis (0.14, no TLS): refused at --check
    cfg, _, _ = config("bad-tls", "  redis: {url: 'rediss://127.0.0.1:6390'}\n")
    r = subprocess.run([FRAMEPIPE, "run", "--check", cfg], capture_output=True, text=True)
    assert r.returncode == 2 and "TLS" in r.stderr, (r.returncode, r.stderr)
    # an unknown output kind
    cfg, _, _ = config("bad-kind", "  kafka: {url: 'x'}\n")
    r = subprocess.run([FRAMEPIPE, "run", "--check", cfg], capture_output=True, text=True)
    assert r.returncode == 2 and "kafka" in r.stderr and ":" in r.stderr, (r.returncode, r.stderr)
    # wrong password and an unreachable port: the run goes on, the error is logged and counted
    rport, hport = free_port(), free_port()
    if not os.path.exists("/usr/bin/redis-server"):
        raise Skip("/usr/bin/redis-server missing")
    redis = spawn(["/usr/bin/redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                   "--requirepass", "right"], "redis-pass")
    wait_port(rport, redis)
    dead = free_port()
    cfg, ev, spool = config("bad-pass", f"  redis: {{url: 'redis://:wrong@127.0.0.1:{rport}'}}\n"
                                        f"  mqtt: {{host: 127.0.0.1, port: {dead}}}\n", hport)
    fp = run_for(cfg, 6, "bad-pass", hport)
    time.sleep(3)
    fps = fps_over(hport, 1)
    failed = metric(hport, "framepipe_output_failed_total")
    finish(fp, "bad-pass")
    text = slurp(os.path.join(WORK, "bad-pass.log"))
    assert fps > 10, f"the pipeline stalled: {fps:.0f} fps"
    assert failed >= 2, f"failed_total {failed}"
    assert f"127.0.0.1:{rport}" in text and ("WRONGPASS" in text or "invalid password" in text), text[-3000:]
    assert f"127.0.0.1:{dead}" in text and "refused" in text.lower(), text[-3000:]
    stop(redis)


if __name__ == "__main__":
    sys.exit(run_cases("test_outputs.py", globals(), procs, WORK, [(MODEL, "run scripts/setup.sh")]))
