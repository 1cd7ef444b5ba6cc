#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# `bench/run.py --tiny --quick` end to end: it must finish and write well-formed tables and valid PNG plots. No timing.
"""usage: test_bench.py SOURCE_ROOT BUILD_ROOT

Runs the benchmark driver on tiny inputs (320x240 frames, 30-60 frame clips) with the build's own
framepipe, bench/zc_ring and RTSP test server, then checks DIR/RESULTS.md: the six parts in order, every
Markdown table rectangular with a header and a separator, no "failed:" cell, parts 1-3 measured (4 measured
or skipped with a reason, 5 measured for the models present, 6 measured or skipped with a reason: the
in-process and the distributed rows, p50 <= p99), numbers where
numbers belong, and every plot it references a valid PNG (signature, chunk CRCs, IHDR, IDAT inflating to
exactly the image's bytes).
Never checks how fast anything was.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

FAILS = []


def check(cond, msg):
    if not cond:
        FAILS.append(msg)
        print(f"FAIL: {msg}", flush=True)
    return cond


def png_problem(path):
    """None for a valid PNG, else what is wrong (checked independently of matplotlib: zlib + the spec)."""
    try:
        data = open(path, "rb").read()
    except OSError as e:
        return f"cannot read: {e}"
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return "no PNG signature"
    pos, ihdr, idat, end = 8, None, b"", False
    while pos + 12 <= len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if len(body) != n or pos + 12 + n > len(data):
            return f"chunk {kind!r} truncated"
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        if zlib.crc32(kind + body) & 0xffffffff != crc:
            return f"chunk {kind!r}: bad CRC"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            end = True
            break
        pos += 12 + n
    if not ihdr or not end:
        return "no IHDR or no IEND"
    w, h, depth, ctype = ihdr[:4]
    if w < 100 or h < 100:
        return f"{w}x{h}: too small to be a readable plot"
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(ctype)
    if channels is None or depth != 8 or ihdr[6] != 0:
        return f"unexpected colour type {ctype} / depth {depth} / interlace {ihdr[6]}"
    try:
        raw = zlib.decompress(idat)
    except zlib.error as e:
        return f"IDAT does not inflate: {e}"
    if len(raw) != h * (1 + w * channels):
        return f"IDAT inflates to {len(raw)} bytes, {w}x{h}x{channels} needs {h * (1 + w * channels)}"
    return None


def tables(text):
    """Every Markdown table in text: a list of rows, each a list of cells."""
    out, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            out.append(cur)
            cur = []
    return out


def number(cell):
    m = re.match(r"\**([0-9]+(\.[0-9]+)?)", cell)
    return float(m.group(1)) if m else None


def main():
    src, build = sys.argv[1], sys.argv[2]
    # the validator can fail: a truncated and a corrupted PNG are rejected
    with tempfile.TemporaryDirectory(prefix="fp-test-bench-") as out:
        r = subprocess.run(["/usr/bin/python3", os.path.join(src, "bench", "run.py"), "--tiny", "--quick",
                            "--out", out, "--build", build], capture_output=True, text=True, timeout=540)
        print(r.stderr[-3000:])
        if not check(r.returncode == 0, f"bench/run.py exited {r.returncode}"):
            return
        check("[bench" in r.stderr, "no progress line on stderr")
        md = open(os.path.join(out, "RESULTS.md")).read()
        heads = re.findall(r"^## (\d)\. ", md, re.M)
        check(heads == ["1", "2", "3", "4", "5", "6"], f"parts in RESULTS.md: {heads}")
        parts = dict(zip(heads, re.split(r"^## \d\. .*$", md, flags=re.M)[1:]))
        check(md.count("Machine: ") >= 6 and "CPUs" in md, "machine line missing from a part")
        for k, body in parts.items():
            ts = tables(body)
            for t in ts:
                check(len(t) >= 3, f"part {k}: a table without rows: {t}")
                check(all(len(row) == len(t[0]) for row in t), f"part {k}: a ragged table: {t}")
                check(set("".join(t[1])) <= set("-: "), f"part {k}: no separator row: {t[1]}")
                for row in t[2:]:
                    check(not any(c.startswith("failed") for c in row), f"part {k}: {row}")
            if k in "1235":
                check(len(ts) == 1, f"part {k}: {len(ts)} tables, want 1")
                check("```" in body, f"part {k}: no commands")
            elif k == "4":
                check(len(ts) == 1 or "Skipped: " in body, "part 4: neither a table nor a reason to skip")
            elif k == "6":
                # skipped only for a missing tool (redis-server, the RTSP test server); a role that fails is a failure
                skip_ok = "Skipped: " in body and ("not installed" in body or "RTSP server is not built" in body)
                if check(len(ts) == 1 or (skip_ok and not ts), f"part 6: neither a table nor a skip note: "
                         f"{body.strip().splitlines()[-1][:300]}") and ts:
                    t = ts[0]
                    check(t[0] == ["run", "p50 ms", "p99 ms", "frames"], f"part 6: header {t[0]}")
                    check([r[0] for r in t[2:]] == ["in-process", "dist-jpeg"], f"part 6: rows {t[2:]}")
                    for r in t[2:]:
                        p50, p99, n = number(r[1]), number(r[2]), number(r[3])
                        check(None not in (p50, p99, n) and 0 < p50 <= p99 and n >= 1, f"part 6: row {r}")
                    check("```" in body, "part 6: no commands")
        t1 = tables(parts.get("1", ""))
        if t1:
            labels = [row[0][:3] for row in t1[0][2:]]
            # (d) has a row only when `framepipe serve` exists and answered
            check(labels in (["(a)", "(b)", "(c)"], ["(a)", "(b)", "(c)", "(d)"]), f"part 1 rows: {labels}")
            for row in t1[0][2:]:
                ms, fps = number(row[1]), number(row[2])
                check(ms is not None and ms > 0 and fps is not None and fps > 0, f"part 1: no numbers in {row}")
            check("(d) `POST /api/detect`" in parts["1"], "part 1: no word on (d)")
        t5 = tables(parts.get("5", ""))
        if t5:
            yolo = [row for row in t5[0][2:] if row[0].startswith("YOLOv8")]
            check(len(yolo) == 1 and all(number(c) for c in yolo[0][1:-1]), f"part 5: YOLO row {yolo}")
        t3 = tables(parts.get("3", ""))
        if t3:
            for row in t3[0][2:]:
                check(number(row[1]) and number(row[2]) and row[3] in ("yes", "no", "at times"),
                      f"part 3: {row}")
        pngs = re.findall(r"!\[[^]]*\]\(([^)]+\.png)\)", md)
        check(len(pngs) >= 3, f"plots referenced: {pngs}")
        for p in pngs:
            why = png_problem(os.path.join(out, p))
            check(why is None, f"{p}: {why}")
            if why is None:
                good = open(os.path.join(out, p), "rb").read()
                bad = os.path.join(out, "broken.png")
                open(bad, "wb").write(good[:len(good) // 2])
                check(png_problem(bad) is not None, "the PNG check accepts a truncated file")
                flipped = bytearray(good)
                flipped[len(good) // 2] ^= 0xff
                open(bad, "wb").write(flipped)
                check(png_problem(bad) is not None, "the PNG check accepts a corrupted file")


if __name__ == "__main__":
    main()
    if FAILS:
        print(f"{len(FAILS)} check(s) failed")
        sys.exit(1)
    print("bench quick run: tables and plots OK")
