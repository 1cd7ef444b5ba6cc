#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: set everything up, build, and run the main job on the bundled default.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export FP_CACHE_DIR=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
bash scripts/setup.sh
# meson finds ONNX Runtime through the libonnxruntime.pc that setup writes here.
export PKG_CONFIG_PATH=$FP_CACHE_DIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
ort_args=()
if [ -n "${ORT_ROOT:-}" ]; then ort_args=("-Dort_root=$ORT_ROOT"); fi
if [ -f build/release/build.ninja ]; then
  meson configure build/release --buildtype=release "${ort_args[@]}" >/dev/null
else
  meson setup build/release --buildtype=release "${ort_args[@]}" >/dev/null
fi
ninja -C build/release >/dev/null
exec bash scripts/default-job.sh
