#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The regression guard of one fuzz target (a meson test, fuzz/meson.build): fuzz/regress.sh LIB OUTDIR TARGET RUNS
# Builds the target with clang's libFuzzer against LIB (this build's libframepipe.a), then runs it over its seed
# corpus (fuzz/corpus/TARGET: every input once, crashes found earlier included) and RUNS more mutations from a
# fixed seed. Not timed. Exits 77 (skipped, with the reason) when clang's libFuzzer is not installed.
set -uo pipefail
lib=$1 out=$2 target=$3 runs=$4
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/fuzz/build.sh" "$lib" "$out" "$target"
rc=$?
[ $rc -eq 0 ] || exit $rc
work=$(mktemp -d "$out/work-$target.XXXXXX")
trap 'rm -rf "$work"' EXIT
# ONNX Runtime's process-lifetime allocations (fuzz_model, fuzz_http) are not framepipe's leaks
export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$root/fuzz/lsan.supp
FP_LOG=error "$out/fuzz_$target" -runs="$runs" -seed=1 -timeout=60 -rss_limit_mb=2048 -error_exitcode=1 \
  -artifact_prefix="$work/" "$work" "$root/fuzz/corpus/$target" 2>&1 | grep -v '^#[0-9]' | tail -20
exit "${PIPESTATUS[0]}"
