#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A/B of two framepipe builds: `framepipe detect` on the same clips, runs interleaved, fps and the median ratio of pairs.
"""usage: ab_detect.py OLD_FRAMEPIPE NEW_FRAMEPIPE REPS CLIP...

Runs `framepipe detect --quiet -o /dev/null --threads 1 --decoder-threads 2`
with the BlazeFace front 128 model ($FP_CACHE_DIR/models/blazeface) on each
clip, REPS times per binary, alternating which binary goes first, and prints
per clip: fps (frames / process wall time) median (min-max) of each, the
median (min-max) of the per-pair ratios new/old, and the p50 latency from
the summaries. Used for the "arch-ab" section of RESULTS.md (old = a build
of the commit before a change, new = the tree after it).
"""
import json
import os
import statistics as st
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    bins = {'old': sys.argv[1], 'new': sys.argv[2]}
    reps, clips = int(sys.argv[3]), sys.argv[4:]
    cache = os.environ.get('FP_CACHE_DIR', os.path.expanduser('~/.cache/framepipe'))
    model = os.path.join(cache, 'models/blazeface/face_detection_front_128x128_barracuda.onnx')
    fps = {(v, c): [] for v in bins for c in clips}
    p50 = {(v, c): [] for v in bins for c in clips}
    with tempfile.TemporaryDirectory() as tmp:
        summary = os.path.join(tmp, 'summary.json')
        for r in range(reps):
            for c in clips:
                for v in (['old', 'new'] if r % 2 == 0 else ['new', 'old']):
                    t = time.monotonic()
                    subprocess.run([bins[v], 'detect', '--quiet', '-o', '/dev/null', '--summary', summary,
                                    '--threads', '1', '--decoder-threads', '2', model, c],
                                   check=True, stderr=subprocess.DEVNULL)
                    wall = time.monotonic() - t
                    s = json.load(open(summary))
                    fps[(v, c)].append(s['frames'] / wall)
                    p50[(v, c)].append(s['latency_ms']['p50'])
    for c in clips:
        o, n = fps[('old', c)], fps[('new', c)]
        ratios = [b / a for a, b in zip(o, n)]
        print(f"- {os.path.basename(c)}: old {st.median(o):.1f} fps ({min(o):.1f}-{max(o):.1f}), "
              f"new {st.median(n):.1f} fps ({min(n):.1f}-{max(n):.1f}), new/old median of pairs "
              f"{st.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f}); p50 latency ms old "
              f"{st.median(p50[('old', c)]):.2f} new {st.median(p50[('new', c)]):.2f}")


if __name__ == '__main__':
    main()
