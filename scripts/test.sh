#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite: setup, an ASan+UBSan build of all tests, a ThreadSanitizer build of the
# concurrent modules, and a release build (warnings as errors); ends with "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export FP_CACHE_DIR=${FP_CACHE_DIR:-$HOME/.cache/framepipe}
jobs=${FP_TEST_JOBS:-$(nproc)}
# meson finds ONNX Runtime through the libonnxruntime.pc that setup writes here (scripts/setup.d/20-onnxruntime.sh);
# ORT_ROOT, when set, overrides it with -Dort_root.
export PKG_CONFIG_PATH=$FP_CACHE_DIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
ort_args=()
if [ -n "${ORT_ROOT:-}" ]; then ort_args=("-Dort_root=$ORT_ROOT"); fi

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

build_failed=0
configure() { # dir, meson args...
  local dir=$1; shift
  set -- "$@" "${ort_args[@]}"
  if [ -f "$dir/build.ninja" ]; then
    meson configure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

logs=()
run_suite() { # name, dir, wrapper prefix (or ""), meson-test args...
  local name=$1 dir=$2 wrap=$3; shift 3
  echo "== $name: building"
  if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
    cat "$dir.build.log"; echo "== $name: BUILD FAILED"; build_failed=$((build_failed + 1)); return
  fi
  echo "== $name: testing"
  rm -f "$dir/meson-logs/testlog.json"
  $wrap meson test -C "$dir" --num-processes "$jobs" --print-errorlogs "$@"
  local rc=$?
  if [ -f "$dir/meson-logs/testlog.json" ]; then
    logs+=("$dir/meson-logs/testlog.json")
  elif [ $rc -ne 0 ]; then
    echo "== $name: meson test failed without a log"; build_failed=$((build_failed + 1))
  fi
}

configure build/asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug
run_suite "asan+ubsan (all tests)" build/asan ""

configure build/tsan -Dwerror=true -Db_sanitize=thread -Dtsan_only=true -Dbench=false --buildtype=debugoptimized
# TSan needs a fixed address-space layout on kernels with high mmap entropy.
# (the personality is inherited by every test process)
run_suite "tsan (concurrent modules)" build/tsan "setarch $(uname -m) -R" --suite concurrent

configure build/release -Dwerror=true --buildtype=release
echo "== release build (warnings as errors)"
if ! ninja -C build/release >build/release.build.log 2>&1; then
  cat build/release.build.log; build_failed=$((build_failed + 1))
fi

python3 - "$build_failed" "${logs[@]}" <<'PY'
import json, re, sys
build_failed = int(sys.argv[1])
passed = failed = skipped = 0
pat = re.compile(r'^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$', re.M)
for path in sys.argv[2:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = (t.get('stdout') or '') + (t.get('stderr') or '')
        m = pat.findall(out)
        ok = t.get('result') in ('OK', 'EXPECTEDFAIL')
        if m and t.get('result') not in ('TIMEOUT',):
            p, f, s = m[-1]
            passed += int(p); failed += int(f); skipped += int(s or 0)
            if not ok and int(f) == 0:
                failed += 1   # crashed after its summary (e.g. a leak report)
        elif t.get('result') == 'SKIP':
            skipped += 1
        elif ok:
            passed += 1
        else:
            failed += 1
            print(f"failed: {t.get('name')} ({t.get('result')})")
failed += build_failed
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
PY
