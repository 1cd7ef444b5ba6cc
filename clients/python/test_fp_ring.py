#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Test driver for fp_ring.py, run by tests/mem/test_ring.c against a C writer: checks the pixels of known frames.
"""usage: test_fp_ring.py RING_NAME N
       test_fp_ring.py RING_NAME restart

Protocol with the C test (stdin/stdout are pipes):
  prints "ready" once the ring is mapped;
  frames 1..N arrive one at a time: for each, checks every pixel against the
  test pattern (seq*7 + x*3 + y*5 + c*11) mod 256, checks the seqlock, and
  prints the frame number (the writer waits for it);
  then waits for "b" on stdin (the writer has written frames N+1..N+5 in a
  burst), reads once more: must be frame N+5 with 4 skipped;
  then expects end of stream. Prints "OK ..." and exits 0, else exits 1.

restart: frame 1 (rgb24 33x17, linesize 112) is acknowledged with "1"; then
  the writer is killed and a new one re-creates the name as gray8 40x20: the
  reader must see GenerationChanged once (prints "generation 2"), then frame 1
  of the new geometry with the pattern's channel 0, then end of stream.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fp_ring  # noqa: E402


def expected(seq, h, w):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((seq * 7 + x * 3 + y * 5 + c * 11) % 256).astype(np.uint8)


def check(ring, f, seq, skipped):
    img = f.image
    if f.seq != seq or f.skipped != skipped:
        sys.exit(f"frame: seq {f.seq} skipped {f.skipped}, expected {seq} / {skipped}")
    if img.shape != (17, 33, 3) or img.dtype != np.uint8 or img.strides != (112, 3, 1):
        sys.exit(f"frame {seq}: shape {img.shape} strides {img.strides}")
    if img.flags.writeable or not np.shares_memory(img, ring.buf):
        sys.exit(f"frame {seq}: not a read-only view of the mapping (a copy?)")
    if f.user != seq or f.pts_ns != seq * 1000:
        sys.exit(f"frame {seq}: user {f.user} pts {f.pts_ns}")
    bad = int(np.count_nonzero(img != expected(seq, 17, 33)))
    if bad:
        sys.exit(f"frame {seq}: {bad} bytes differ from the pattern")
    if not ring.still_valid(f):
        sys.exit(f"frame {seq}: overwritten while read (the writer should have waited)")


def restart(name):
    ring = fp_ring.RingReader(name)
    print("ready", flush=True)
    f = ring.read(timeout=20)
    if f is None:
        sys.exit("timed out waiting for frame 1")
    check(ring, f, 1, 0)
    print(1, flush=True)
    try:
        f = ring.read(timeout=20)
        sys.exit(f"expected a generation change, got {f}")
    except fp_ring.GenerationChanged:
        pass
    print(f"generation {ring.generation}", flush=True)
    if (ring.width, ring.height, ring.format) != (40, 20, fp_ring.PIX_GRAY8):
        sys.exit(f"new geometry {ring.width}x{ring.height} format {ring.format}")
    f = ring.read(timeout=20)
    if f is None:
        sys.exit("timed out waiting for the new writer's frame")
    if f.seq != 1 or f.image.shape != (20, 40) or f.image.strides != (40, 1):
        sys.exit(f"new frame {f}, strides {f.image.strides}")
    bad = int(np.count_nonzero(f.image != expected(1, 20, 40)[:, :, 0]))
    if bad or not ring.still_valid(f):
        sys.exit(f"new frame: {bad} bytes differ from the pattern")
    try:
        extra = ring.read(timeout=20)
        sys.exit(f"expected end of stream, got {extra}")
    except fp_ring.EndOfStream:
        pass
    print(f"OK generations={ring.generations}", flush=True)


def main():
    if sys.argv[2] == "restart":
        return restart(sys.argv[1])
    name, n = sys.argv[1], int(sys.argv[2])
    ring = fp_ring.RingReader(name)
    if (ring.width, ring.height, ring.format, ring.linesize[0]) != (33, 17, fp_ring.PIX_RGB24, 112):
        sys.exit(f"geometry {ring.width}x{ring.height} format {ring.format} linesize {ring.linesize}")
    print("ready", flush=True)
    for seq in range(1, n + 1):
        f = ring.read(timeout=20)
        if f is None:
            sys.exit(f"timed out waiting for frame {seq}")
        check(ring, f, seq, 0)
        print(seq, flush=True)
    if sys.stdin.read(1) != "b":
        sys.exit("no burst signal")
    f = ring.read(timeout=20)
    if f is None:
        sys.exit("timed out waiting for the burst")
    check(ring, f, n + 5, 4)
    try:
        extra = ring.read(timeout=20)
        sys.exit(f"expected end of stream, got {extra}")
    except fp_ring.EndOfStream:
        pass
    print(f"OK frames={n + 1} skipped={ring.skipped}", flush=True)


if __name__ == "__main__":
    main()
