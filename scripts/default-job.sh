#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job on the bundled default: BlazeFace face detection on opencv-doc's Megamind.avi, with JSON lines,
# an annotated video and a summary (frames, fps, latency p50/p99, skipped frames, pool hit rate).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
exe="$root/build/release/apps/framepipe"
model="$cache/models/blazeface/face_detection_front_128x128_barracuda.onnx"
video=/usr/share/doc/opencv-doc/examples/data/Megamind.avi
out="$root/build/default-job"
mkdir -p "$out"
for f in "$exe" "$model" "$video"; do
  [ -e "$f" ] || { echo "default job: $f is missing (run scripts/quickstart.sh)" >&2; exit 1; }
done

echo "framepipe detect: BlazeFace (front, 128x128) on $video"
"$exe" detect -o "$out/megamind.jsonl" --annotate "$out/megamind-annotated.mp4" \
  --summary "$out/summary.json" "$model" "$video"

echo
echo "First results (JSON lines, docs/jsonl.md):"
grep -m 3 '"class":"face"' "$out/megamind.jsonl" | cut -c1-300
echo
/usr/bin/python3 - "$out/summary.json" "$out/megamind.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
faces = sum(1 for line in open(sys.argv[2]) if '"class":"face"' in line)
print(f"Summary: {s['frames']} frames, {s['fps']:.1f} fps, {s['detections']} faces "
      f"({faces} frames with a face), latency decoded->JSON p50 {s['latency_ms']['p50']:.2f} ms "
      f"p99 {s['latency_ms']['p99']:.2f} ms, skipped {s['skipped']}, pool hit rate {s['pool_hit_rate']:.4f}")
PY
echo "Outputs: $out/megamind.jsonl, $out/megamind-annotated.mp4 (boxes and keypoints drawn), $out/summary.json"
