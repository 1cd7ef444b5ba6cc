#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fetches ONNX Runtime (C headers + Linux x86-64 libonnxruntime.so) from npm registry packages into $FP_CACHE_DIR/onnxruntime,
# unless a system install is found (pkg-config libonnxruntime, or ORT_ROOT). Idempotent; nothing is committed to the repo.
#
# Layout produced (what meson.build and FpModel look for):
#   $FP_CACHE_DIR/onnxruntime/include/onnxruntime_c_api.h (+ the other ORT headers)
#   $FP_CACHE_DIR/onnxruntime/lib/libonnxruntime.so        (ORT 1.29, com.github.asus4.onnxruntime@0.4.9, MIT)
#   $FP_CACHE_DIR/onnxruntime/VERSION
#   $FP_CACHE_DIR/pkgconfig/libonnxruntime.pc             (prefix = the directory above; how meson finds it, with
#                                                          PKG_CONFIG_PATH=$FP_CACHE_DIR/pkgconfig: scripts/test.sh sets it)
# and, for independent reference runs in the tests (ORT 1.30 through its Node.js binding):
#   $FP_CACHE_DIR/onnxruntime-node/node_modules/onnxruntime-node (onnxruntime-node@1.30.0, installed with --ignore-scripts)
set -euo pipefail
cache=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
dest=$cache/onnxruntime
log() { printf 'setup/onnxruntime: %s\n' "$*" >&2; }

ASUS4_PKG=com.github.asus4.onnxruntime@0.4.9
NODE_PKG=onnxruntime-node@1.30.0

fetch_c_api() {
  if [ -f "$dest/include/onnxruntime_c_api.h" ] && [ -f "$dest/lib/libonnxruntime.so" ] &&
     grep -qx "$ASUS4_PKG" "$dest/VERSION" 2>/dev/null; then
    log "cached in $dest"
    return
  fi
  tmp=$(mktemp -d "$cache/.ort.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  log "fetching $ASUS4_PKG from npm"
  (cd "$tmp" && npm pack --silent "$ASUS4_PKG" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" \
    --wildcards 'package/Plugins/Linux/x64/*' 'package/Plugins/iOS~/onnxruntime.xcframework/*/Headers/*'
  local hdr so
  hdr=$(find "$tmp/package/Plugins/iOS~/onnxruntime.xcframework" -name onnxruntime_c_api.h -path '*/Headers/*' | head -n1)
  so=$tmp/package/Plugins/Linux/x64/libonnxruntime.so
  [ -f "$so" ] || so=
  if [ -z "$hdr" ] || [ -z "$so" ]; then
    log "error: $ASUS4_PKG lacks onnxruntime_c_api.h or Linux x64 libonnxruntime.so"
    exit 1
  fi
  rm -rf "$tmp/out" && mkdir -p "$tmp/out/include" "$tmp/out/lib"
  cp "$(dirname "$hdr")"/*.h "$tmp/out/include/"
  cp "$so" "$tmp/out/lib/libonnxruntime.so"
  # Needed only by execution providers other than the CPU one.
  if [ -f "$(dirname "$so")/libonnxruntime_providers_shared.so" ]; then
    cp "$(dirname "$so")/libonnxruntime_providers_shared.so" "$tmp/out/lib/"
  fi
  # The library's SONAME; link with -lonnxruntime finds libonnxruntime.so, the loader its SONAME.
  local soname
  soname=$(objdump -p "$tmp/out/lib/libonnxruntime.so" 2>/dev/null | awk '/SONAME/ {print $2}' || true)
  if [ -n "$soname" ] && [ "$soname" != libonnxruntime.so ]; then
    ln -sf libonnxruntime.so "$tmp/out/lib/$soname"
  fi
  echo "$ASUS4_PKG" >"$tmp/out/VERSION"
  rm -rf "$dest"
  mv "$tmp/out" "$dest"
  log "installed into $dest (soname ${soname:-?})"
}

fetch_node_binding() {
  local nd=$cache/onnxruntime-node
  if [ -f "$nd/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" ] &&
     grep -qx "$NODE_PKG" "$nd/VERSION" 2>/dev/null; then
    log "onnxruntime-node cached in $nd"
    return
  fi
  log "installing $NODE_PKG (--ignore-scripts) into $nd"
  rm -rf "$nd" && mkdir -p "$nd"
  (cd "$nd" && echo '{"name":"fp-ort-ref","private":true}' >package.json &&
    npm install --silent --no-audit --no-fund --ignore-scripts "$NODE_PKG" >&2)
  if [ ! -f "$nd/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1" ]; then
    log "error: $NODE_PKG lacks bin/napi-v6/linux/x64/libonnxruntime.so.1"
    exit 1
  fi
  echo "$NODE_PKG" >"$nd/VERSION"
}

# Writes $cache/pkgconfig/libonnxruntime.pc for the install in $dest; rewrites it only when its text changes, so
# a cache filled by an older setup (without the .pc) gets one and a second run touches nothing.
write_pc() {
  local api version pc=$cache/pkgconfig/libonnxruntime.pc
  api=$(sed -n 's/^#define ORT_API_VERSION \([0-9][0-9]*\).*/\1/p' "$dest/include/onnxruntime_c_api.h" | head -n1)
  version=1.${api:-0}.0
  mkdir -p "$cache/pkgconfig"
  cat >"$pc.tmp" <<PC
# Written by framepipe's scripts/setup.d/20-onnxruntime.sh for the copy it fetched ($(cat "$dest/VERSION")).
prefix=$dest
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: libonnxruntime
Description: ONNX Runtime C API (framepipe's cached copy)
Version: $version
Libs: -L\${libdir} -lonnxruntime
Cflags: -I\${includedir}
PC
  if cmp -s "$pc.tmp" "$pc"; then
    rm -f "$pc.tmp"
    log "pkg-config file up to date: $pc"
  else
    mv "$pc.tmp" "$pc"
    log "wrote $pc (version $version)"
  fi
}

# pkg-config without framepipe's own .pc, to tell a system install from the cached copy.
system_pkg_config() {
  local IFS=: dirs=() d
  for d in ${PKG_CONFIG_PATH:-}; do
    [ "$d" = "$cache/pkgconfig" ] || dirs+=("$d")
  done
  PKG_CONFIG_PATH="${dirs[*]:-}" pkg-config "$@"
}

mkdir -p "$cache"
if [ -n "${ORT_ROOT:-}" ] && [ -f "$ORT_ROOT/include/onnxruntime_c_api.h" ]; then
  log "using ORT_ROOT=$ORT_ROOT (configure with -Dort_root=$ORT_ROOT)"
elif system_pkg_config --exists libonnxruntime 2>/dev/null; then
  log "using the system install (pkg-config libonnxruntime $(system_pkg_config --modversion libonnxruntime))"
else
  fetch_c_api
  write_pc
fi
if command -v npm >/dev/null 2>&1; then
  fetch_node_binding
else
  log "npm missing: skipping onnxruntime-node (the parity tests will be skipped)"
fi
