#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Coverage-guided fuzzing of framepipe's untrusted-input parsers with libFuzzer (docs/fuzzing.md):
#   scripts/fuzz.sh [SECONDS] [TARGET...]    (default 60 s each; targets: config labels ring rawsrc image dist imgbody
#                                             model http)
# Builds build/release (the library the targets link) and build/fuzz, then runs each target for SECONDS on a
# working copy of its seed corpus (fuzz/corpus/T is never written); new inputs stay in build/fuzz/work/T,
# crashes in build/fuzz/crashes/T. Prints executions, coverage (cov/ft) and crashes per target.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config labels ring rawsrc image dist imgbody model http)
export PKG_CONFIG_PATH=${FP_CACHE_DIR:-$HOME/.cache/framepipe}/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
[ -f build/release/build.ninja ] || meson setup build/release -Dwerror=true --buildtype=release >/dev/null
ninja -C build/release libframepipe.a >/dev/null
rc=0
fuzz/build.sh build/release/libframepipe.a build/fuzz || rc=$?
if [ $rc -eq 77 ]; then exit 0; elif [ $rc -ne 0 ]; then exit $rc; fi
export LSAN_OPTIONS=${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$root/fuzz/lsan.supp
printf '%-8s %10s %8s %8s %8s %s\n' target execs cov ft corpus crashes
for t in "${targets[@]}"; do
  work=build/fuzz/work/$t crashes=build/fuzz/crashes/$t
  mkdir -p "$work" "$crashes"
  log=build/fuzz/$t.log
  FP_LOG=error build/fuzz/fuzz_$t -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes/" -print_final_stats=1 "$work" "fuzz/corpus/$t" >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  last=$(grep -E '#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  n=$(find "$crashes" -type f | wc -l)
  printf '%-8s %10s %8s %8s %8s %s\n' "$t" "${execs:-0}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$n"
done
