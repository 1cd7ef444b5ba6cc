#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A build without hiredis (-Dredis=disabled): `framepipe camera|worker|logic` with a valid config exit 2 with a clear "built without Redis support" error, at once, without trying to connect.
#
# Usage: test_dist_disabled.py FRAMEPIPE
import os
import subprocess
import sys
import tempfile


def main():
    fp = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="fp-dist-disabled-") as d:
        cfg = os.path.join(d, "roles.yaml")
        with open(cfg, "w") as f:
            # port 9: nothing listens; a build with Redis would retry there with backoff instead of exiting
            f.write("cameras:\n  - {name: a, url: a.mp4}\nmodel: {path: m.onnx}\nredis: {url: 'redis://127.0.0.1:9'}\n")
        failed = 0
        for role in ("camera", "worker", "logic"):
            r = subprocess.run([fp, role, cfg], capture_output=True, text=True, timeout=60)
            want = f"framepipe was built without Redis support (-Dredis=disabled): no {role} role"
            ok = r.returncode == 2 and want in r.stderr
            print(f"{'ok  ' if ok else 'FAIL'} {role}: exit {r.returncode}, stderr: {r.stderr.strip()[-300:]}")
            failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
