#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with Debian's clang: fuzz/build.sh LIBFRAMEPIPE_A OUTDIR [TARGET...]
#
# Each target is compiled with -fsanitize=fuzzer,address,undefined together with the modules it
# fuzzes (coverage-instrumented, so libFuzzer is guided by them); everything else comes from
# LIBFRAMEPIPE_A (a gcc build of the library; its own copies of those modules are not pulled in).
# Exits 77 (meson's "skipped") with a message when clang or its libFuzzer runtime is missing.
set -euo pipefail
lib=${1:?usage: fuzz/build.sh LIBFRAMEPIPE_A OUTDIR}
out=${2:?usage: fuzz/build.sh LIBFRAMEPIPE_A OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
cc=${FP_FUZZ_CC:-clang}
mkdir -p "$out"
probe=$(mktemp "$out/.probe.XXXXXX")
if ! command -v "$cc" >/dev/null ||
   ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
     "$cc" -x c -fsanitize=fuzzer,address,undefined - -o "$probe" 2>/dev/null; then
  echo "fuzz: $cc with libFuzzer (-fsanitize=fuzzer) is not available: install clang and libclang-rt-14-dev" \
       "(scripts/apt-packages.txt); skipping"
  rm -f "$probe"
  exit 77
fi
rm -f "$probe"
deps="yaml-0.1 libcjson libavformat libavcodec libavutil libavdevice libswscale libturbojpeg hiredis libcurl
      libmosquitto libmicrohttpd"
cflags="-Wall -Wextra -Werror -Wno-unused-parameter -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined
        -fno-sanitize-recover=undefined -I$root/include -I$root/src -I$root/src/ingest -I$root/src/mem -I$root/src/infer -I$root/src/http -I$root/apps
        -I$(dirname "$lib") $(pkg-config --cflags $deps)"
# src/infer includes fp_config.h (the build's, next to LIB) and ONNX Runtime's C API header (loaded with dlopen)
# (pkg-config's, else the setup's cache: src/infer/meson.build looks in the same places)
ort_inc=$(pkg-config --variable=includedir libonnxruntime 2>/dev/null || true)
[ -n "$ort_inc" ] || ort_inc=${FP_CACHE_DIR:-$HOME/.cache/framepipe}/onnxruntime/include
[ ! -f "$ort_inc/onnxruntime_c_api.h" ] || cflags="$cflags -isystem $ort_inc"
libs="$lib $(pkg-config --libs $deps) -ldl -lm -lrt -pthread"
declare -A modules=(
  [config]="src/pipeline/config.c"
  [labels]="src/infer/labels.c"
  [ring]="src/mem/ring.c"
  [rawsrc]="src/ingest/rawsrc.c src/ingest/source.c"
  [image]="src/ingest/imgsrc.c src/ingest/lavsrc.c src/ingest/source.c"
  [dist]="src/dist/codec.c"
  [imgbody]="src/ingest/imgdecode.c"
  [model]="src/infer/model.c src/infer/family.c src/infer/labels.c"
  [http]="src/http/http.c src/http/header_watch.c src/http/event_log.c src/http/upload.c apps/app_service.c
          apps/app_pipeline.c apps/app_options.c apps/cmd_run.c"
)
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${!modules[@]}")
for t in "${targets[@]}"; do
  [ -n "${modules[$t]:-}" ] || { echo "fuzz: no target '$t' (${!modules[*]})"; exit 2; }
  srcs=()
  for m in ${modules[$t]}; do srcs+=("$root/$m"); done
  objs=()
  mkdir -p "$out/obj-$t"
  for s in "${srcs[@]}"; do
    o="$out/obj-$t/$(basename "$s" .c).o"
    # shellcheck disable=SC2086
    "$cc" $cflags -fsanitize=fuzzer-no-link -c "$s" -o "$o"
    objs+=("$o")
  done
  # shellcheck disable=SC2086
  "$cc" $cflags -fsanitize=fuzzer "$root/fuzz/fuzz_$t.c" "${objs[@]}" -Wl,--start-group $libs -Wl,--end-group \
    -o "$out/fuzz_$t"
done
echo "fuzz: built ${targets[*]} into $out"
