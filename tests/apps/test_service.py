#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The detection service end to end: named models (`framepipe models`, `detect face`), `framepipe serve` over real HTTP, redaction.
#
# Usage: test_service.py FRAMEPIPE [CASE...]   (meson runs it with Debian's /usr/bin/python3; exit 77 = skipped)
#
# Expected boxes are not taken from framepipe: the face of opencv-doc's messi5.jpg is at (223, 96)-(260, 133)
# in source pixels (the box issue 13 states, checked by eye on the image), tolerance 8 px per side.
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

FRAMEPIPE = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else None
ONLY = sys.argv[2:]
BUILD = os.environ.get("FP_BUILD_DIR", tempfile.gettempdir())
CACHE = os.environ.get("FP_CACHE_DIR", os.path.expanduser("~/.cache/framepipe"))
BACK = os.path.join(CACHE, "models", "blazeface", "face_detection_back_256x256_barracuda.onnx")
DATA = "/usr/share/doc/opencv-doc/examples/data"
MESSI = os.path.join(DATA, "messi5.jpg")
MESSI_FACE = (223, 96, 260, 133)

WORK = tempfile.mkdtemp(prefix="service-", dir=BUILD)
procs = []


class Skip(Exception):
    pass


def log(*a):
    print(*a, flush=True)


def run(argv, check_rc=0, env=None):
    p = subprocess.run(argv, capture_output=True, timeout=300, env=env)
    if check_rc is not None and p.returncode != check_rc:
        raise AssertionError(f"{argv} exited {p.returncode} (expected {check_rc}): {p.stderr.decode()[-2000:]}")
    return p


def near_box(box, want, tol=8):
    return all(abs(a - b) <= tol for a, b in zip(box, want))


def faces_in(jsonl_text):
    frames = [json.loads(line) for line in jsonl_text.splitlines() if line.strip()]
    return frames


def case_models_lists_the_named_models_with_their_paths():
    p = run([FRAMEPIPE, "models"])
    out = p.stdout.decode()
    assert "face " in out and "face-front" in out, out
    assert "face_detection_back_256x256_barracuda.onnx" in out and "installed" in out, out
    env = dict(os.environ, FP_MODEL_DIR=os.path.join(WORK, "nowhere"), FP_CACHE_DIR=os.path.join(WORK, "nowhere"),
               HOME=os.path.join(WORK, "nowhere"))
    p = run([FRAMEPIPE, "models"], check_rc=1, env=env)
    assert "missing" in p.stdout.decode(), p.stdout
    p = run([FRAMEPIPE, "detect", "--quiet", "face", MESSI], check_rc=None, env=env)
    assert p.returncode != 0
    err = p.stderr.decode()
    assert 'model "face"' in err and "scripts/setup.sh" in err, err
    # FP_MODEL_DIR first
    d = os.path.join(WORK, "models")
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "face_detection_back_256x256_barracuda.onnx")
    if not os.path.exists(link):
        os.symlink(BACK, link)
    p = run([FRAMEPIPE, "models"], check_rc=None, env=dict(os.environ, FP_MODEL_DIR=d))
    assert link in p.stdout.decode(), p.stdout


def case_detect_face_finds_the_face_in_messi5():
    p = run([FRAMEPIPE, "detect", "--quiet", "face", MESSI])
    frames = faces_in(p.stdout.decode())
    assert len(frames) == 1, frames
    dets = frames[0]["detections"]
    assert len(dets) == 1, dets
    assert dets[0]["class"] == "face" and near_box(dets[0]["box"], MESSI_FACE), dets
    # the front 128 model (face-front) finds none there: the reason `face` is the back 256 one
    p = run([FRAMEPIPE, "detect", "--quiet", "face-front", MESSI])
    assert faces_in(p.stdout.decode())[0]["detections"] == [], p.stdout


CASES = [v for k, v in sorted(globals().items()) if k.startswith("case_")]


def main():
    if not FRAMEPIPE:
        print("usage: test_service.py FRAMEPIPE [CASE...]")
        return 2
    if not os.path.exists(BACK):
        print(f"skip: {BACK} missing (run scripts/setup.sh)")
        return 77
    if not os.path.exists(MESSI):
        print(f"skip: {MESSI} missing (opencv-doc)")
        return 77
    failed = skipped = 0
    for fn in CASES:
        name = fn.__name__[5:]
        if ONLY and name not in ONLY:
            continue
        t0 = time.time()
        try:
            fn()
            log(f"ok   {name} ({time.time() - t0:.1f} s)")
        except Skip as e:
            skipped += 1
            log(f"skip {name}: {e}")
        except Exception as e:  # noqa: BLE001 (every failure is reported, the other cases still run)
            failed += 1
            log(f"FAIL {name}: {type(e).__name__}: {e}")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait()
            procs.clear()
    log(f"work folder: {WORK}")
    if failed:
        return 1
    return 77 if skipped and skipped == len(CASES) else 0


if __name__ == "__main__":
    sys.exit(main())
