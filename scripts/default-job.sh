#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job on the bundled default. Until the pipeline exists: the frame-memory benchmarks (ring and pool).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
b="$root/build/release"
ran=0
for prog in bench_ring bench_pool; do
  if [ -x "$b/bench/$prog" ]; then "$b/bench/$prog"; ran=1; fi
done
[ $ran -eq 1 ] || { echo "no default job built yet" >&2; exit 1; }
