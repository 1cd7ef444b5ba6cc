#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Dynamic-batch copies of the BlazeFace models for the batching benchmark (bench/run.py part 5): the npm models
# fix the batch at 1. scripts/dynamic_batch.py (Debian's python3-onnx) rewrites the batch axis and the batch-1
# shape constants; scripts/verify_dynamic_batch.js (onnxruntime-node from 20-onnxruntime.sh) checks that the copy
# at batch 4 gives each image the original's outputs. Idempotent: redone only when a source model or either script
# changes (their SHA-256 in STAMP).
#
#   $FP_CACHE_DIR/models/blazeface-dynamic/face_detection_{front_128x128,back_256x256}_barracuda.onnx
set -euo pipefail
cache=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
here=$(cd "$(dirname "$0")/../.." && pwd)
src=$cache/models/blazeface
dest=$cache/models/blazeface-dynamic
FILES=(face_detection_front_128x128_barracuda.onnx face_detection_back_256x256_barracuda.onnx)
log() { printf 'setup/dynamic-batch: %s\n' "$*" >&2; }

for f in "${FILES[@]}"; do
  [ -s "$src/$f" ] || { log "error: $src/$f missing (run scripts/setup.d/30-models.sh first)"; exit 1; }
done
stamp=$(cd "$src" && sha256sum "${FILES[@]}" "$here/scripts/dynamic_batch.py" "$here/scripts/verify_dynamic_batch.js" \
  | awk '{print $1}' | sha256sum | awk '{print $1}')
have_all() {
  [ "$(cat "$dest/STAMP" 2>/dev/null)" = "$stamp" ] || return 1
  for f in "${FILES[@]}"; do [ -s "$dest/$f" ] || return 1; done
}
if have_all; then
  log "dynamic-batch BlazeFace cached in $dest"
  exit 0
fi
mkdir -p "$cache/models"
tmp=$(mktemp -d "$cache/.dynbatch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for f in "${FILES[@]}"; do
  /usr/bin/python3 "$here/scripts/dynamic_batch.py" "$src/$f" "$tmp/$f" >&2
  node "$here/scripts/verify_dynamic_batch.js" "$src/$f" "$tmp/$f" 4 >&2
done
echo "$stamp" >"$tmp/STAMP"
rm -rf "$dest"
mv "$tmp" "$dest"
trap - EXIT
log "dynamic-batch BlazeFace written to $dest"
