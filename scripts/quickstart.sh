#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's first command: set everything up, build, and run the main job on the bundled default.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
if [ -f build/release/build.ninja ]; then
  meson configure build/release --buildtype=release >/dev/null
else
  meson setup build/release --buildtype=release >/dev/null
fi
ninja -C build/release >/dev/null
exec bash scripts/default-job.sh
