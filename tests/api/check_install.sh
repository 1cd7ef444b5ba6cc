#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the build into a scratch DESTDIR, builds examples/hello against the installed headers and library through pkg-config only, and runs it on a model.
# Usage: check_install.sh BUILD_DIR SOURCE_ROOT WORK_DIR B_SANITIZE   (compiler: $FP_CC)
#
# What a user does (README.md, "Using the library"): `meson install`, then
#   cc hello.c $(pkg-config --static --cflags --libs framepipe)
# Here the install goes to WORK_DIR/destdir, and PKG_CONFIG_SYSROOT_DIR=WORK_DIR/destdir makes the prefix in
# framepipe.pc point there. Nothing of the source tree is on the compile line but hello.c itself. B_SANITIZE
# is the build's b_sanitize (the installed library carries its instrumentation, so the program needs the
# same -fsanitize). Exit 77 (skipped) when the build has no ONNX Runtime to open the model with.
set -euo pipefail
build=$1 root=$2 work=$3 sanitize=$4
read -r -a cc <<<"${FP_CC:-cc}"
dest=$work/destdir
rm -rf "$work" && mkdir -p "$work"

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "FAIL: meson install"; exit 1; }
pc=$(find "$dest" -name framepipe.pc -path '*/pkgconfig/*' | head -n1)
[ -n "$pc" ] || { echo "FAIL: no framepipe.pc installed under $dest"; find "$dest" -type f; exit 1; }
echo "installed: ${pc#"$dest"}"

export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --static --cflags --libs framepipe) || { echo "FAIL: pkg-config framepipe"; exit 1; }
echo "pkg-config --static --cflags --libs framepipe: $flags"
case " $flags " in
  *" -I$dest"*) ;;
  *) echo "FAIL: the include path does not point into the install"; exit 1 ;;
esac

san=()
if [ -n "$sanitize" ] && [ "$sanitize" != none ]; then san=("-fsanitize=$sanitize"); fi
# shellcheck disable=SC2086  # $flags is a list of words
"${cc[@]}" -std=c11 -Wall -Wextra -Werror "${san[@]}" "$root/examples/hello/hello.c" $flags -o "$work/hello" ||
  { echo "FAIL: examples/hello does not build against the installed library"; exit 1; }

set +e
"$work/hello" "$root/models/yolov8_test_320.onnx" >"$work/hello.out" 2>"$work/hello.err"
rc=$?
set -e
cat "$work/hello.out" "$work/hello.err"
if [ $rc -ne 0 ] && grep -q FP_EDEPENDENCY "$work/hello.err"; then
  echo "skipped: this build has no ONNX Runtime (the example built and linked)"
  exit 77
fi
[ $rc -eq 0 ] || { echo "FAIL: hello exited with $rc"; exit 1; }
grep -q 'family yolov8, 80 classes, input 320x320' "$work/hello.out" ||
  { echo "FAIL: hello did not print the model's family, classes and input size"; exit 1; }
echo "ok: examples/hello built from the installed files and ran"
