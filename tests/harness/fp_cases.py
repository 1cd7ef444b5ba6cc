# SPDX-License-Identifier: MIT
"""The case runner and process helpers shared by the Python tests that drive whole framepipe programs
(tests/apps/test_outputs.py, test_service.py, tests/dist/test_dist.py).

A test script defines functions `case_<name>()`, keeps the processes it starts in a list, and ends with
`sys.exit(run_cases(...))`: every case runs (or only those named on the command line), a failure is
reported and the other cases still run, each case's leftover processes are killed, and the exit code is
what meson expects (0 passed, 1 a case failed, 77 every case skipped or a requirement missing).
"""
import os
import signal
import socket
import subprocess
import sys
import time


class Skip(Exception):
    """Raised by a case that cannot run here (a missing tool or file); counted as skipped."""


def log(*a):
    print(*a, flush=True)


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc=None, timeout=60.0):
    """Waits until something accepts on 127.0.0.1:port; fails at once when proc exits first."""
    t_end = time.time() + timeout
    while time.time() < t_end:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process {proc.args[0]} exited ({proc.returncode}) before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(p, sig=signal.SIGTERM, timeout=30.0):
    """Sends sig to a running process and waits up to timeout, then kills it. Returns its exit code."""
    if p.poll() is None:
        if sig != signal.SIGCONT:
            try:
                p.send_signal(signal.SIGCONT)  # a case may have left it stopped (SIGSTOP)
            except ProcessLookupError:
                pass
        p.send_signal(sig)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


def run_cases(script, namespace, procs, work, needs=()):
    """Runs the case_* functions of namespace (a script's globals()) in name order.

    script: the script's name for the usage line; argv[1] must be an executable (the framepipe
    binary), argv[2:] optional case names. procs: the list the script's spawn() appends to; whatever
    is left in it after a case is killed. needs: (path, why) pairs that must exist, else exit 77.
    """
    exe = sys.argv[1] if len(sys.argv) > 1 else None
    if not exe or not os.access(exe, os.X_OK):
        print(f"usage: {script} FRAMEPIPE [CASE...]", file=sys.stderr)
        return 2
    for path, why in needs:
        if not os.path.exists(path):
            print(f"skip: {path} missing ({why})")
            return 77
    only = sys.argv[2:]
    cases = [v for k, v in sorted(namespace.items()) if k.startswith("case_") and callable(v)]
    failed = skipped = ran = 0
    for fn in cases:
        name = fn.__name__[5:]
        if only and name not in only:
            continue
        ran += 1
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
                stop(p, signal.SIGKILL, 5)
            procs.clear()
    log(f"work folder: {work}")
    if failed:
        return 1
    return 77 if skipped and skipped == ran else 0
