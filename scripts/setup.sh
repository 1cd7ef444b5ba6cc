#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what framepipe needs on a fresh Debian 12 machine: apt packages, then the registry fetches in scripts/setup.d/.
# Idempotent: installs only what is missing; downloads are cached in $FP_CACHE_DIR (default ~/.cache/framepipe).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export FP_CACHE_DIR=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
mkdir -p "$FP_CACHE_DIR"

log() { printf 'setup: %s\n' "$*" >&2; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

mapfile -t wanted < <(grep -v '^\s*#' "$root/scripts/apt-packages.txt" | sed 's/\s*#.*//' | awk 'NF')
missing=()
for p in "${wanted[@]}"; do
  # dpkg-query exits 0 for removed-but-configured packages too; check the status text.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q >&2 || log "apt-get update failed; trying with the current lists"
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
  log "Debian packages: all ${#wanted[@]} present"
fi

# npm is needed for the registry fetches; the machine image may bring its own Node.js.
if ! command -v npm >/dev/null 2>&1; then
  log "installing Debian's nodejs and npm"
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends nodejs npm >&2
fi

# Registry fetches (ONNX Runtime, models, ...), each idempotent and cached.
for step in "$root"/scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  log "step $(basename "$step")"
  bash "$step"
done
log "done (cache: $FP_CACHE_DIR)"
